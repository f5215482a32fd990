//! `TransferProgress`: how a push or pull reports each blob it moves, for progress bars.
//!
//! Blobs are the config and layers of
//! <https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pushing-blobs>.

/// Receives the progress of each blob (named by its digest, `sha256:…`) of a push or pull.
///
/// Every blob gets [`start`](Self::start), then [`advance`](Self::advance) for each piece
/// sent or received, then [`finish`](Self::finish) on success. A blob that needs no transfer
/// (already in the registry or the store) gets `start` and `finish` only. A resumed download
/// first advances by the bytes it already had. Transfers run concurrently, so calls for
/// different blobs interleave.
pub trait TransferProgress: Sync {
    /// The blob of `size` bytes is next.
    fn start(&self, digest: &str, size: u64);
    /// `bytes` more bytes of the blob were sent or received.
    fn advance(&self, digest: &str, bytes: u64);
    /// The blob is done.
    fn finish(&self, digest: &str);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl TransferProgress for NoProgress {
    fn start(&self, _digest: &str, _size: u64) {}
    fn advance(&self, _digest: &str, _bytes: u64) {}
    fn finish(&self, _digest: &str) {}
}
