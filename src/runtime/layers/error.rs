//! What can go wrong unpacking a layer into the cache.

use std::io;
use std::path::Path;

use crate::error::{Diagnostic, FromIo, IoError};
use crate::oci::{DiffId, Digest, OciError};

/// What can go wrong unpacking a layer. Each message names the layer's digest, and the entry
/// where there is one.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// Reading the blob from the store failed (missing, unknown media type).
    #[error(transparent)]
    Store(#[from] OciError),

    /// A file system operation failed.
    #[error(transparent)]
    Io(#[from] IoError),

    /// The blob did not decompress, or is not a tar archive.
    #[error("layer `{digest}` could not be read as a tar archive")]
    Unreadable {
        digest: Digest,
        #[source]
        source: io::Error,
    },

    /// An entry would write outside the layer's directory, or cannot be placed as asked.
    #[error("layer `{digest}` has an unsafe entry `{entry}`: {reason}")]
    UnsafeEntry {
        digest: Digest,
        entry: String,
        reason: String,
    },

    #[error(
        "layer `{digest}` has an entry `{entry}` of tar type {kind}, which mlpack cannot unpack"
    )]
    UnsupportedEntry {
        digest: Digest,
        entry: String,
        kind: String,
    },

    /// The uncompressed layer does not hash to the diffID its image config names.
    #[error(
        "layer `{digest}` unpacks to content with diffID `{actual}`, but the image config says `{expected}`"
    )]
    DiffIdMismatch {
        digest: Digest,
        expected: DiffId,
        actual: DiffId,
    },
}

impl Diagnostic for LayerError {
    /// Whether the image the user chose is at fault, rather than the store or the disk.
    fn is_user_error(&self) -> bool {
        match self {
            Self::Store(error) => error.is_user_error(),
            Self::UnsafeEntry { .. } | Self::UnsupportedEntry { .. } => true,
            Self::Io(_) | Self::Unreadable { .. } | Self::DiffIdMismatch { .. } => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::Store(error) => error.hints(),
            Self::Unreadable { .. } | Self::DiffIdMismatch { .. } => vec![
                "the store's copy is damaged; remove the image with `mlpack rmi` and build or pull it again"
                    .to_string(),
            ],
            Self::UnsafeEntry { .. } => vec![
                "mlpack refuses layers that could write outside their own directory; use an image from a source you trust"
                    .to_string(),
            ],
            Self::UnsupportedEntry { .. } => vec![
                "rebuild the image so that its layers hold only files, directories, links, device nodes and FIFOs"
                    .to_string(),
            ],
            Self::Io(_) => Vec::new(),
        }
    }
}

pub(super) fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LayerError {
    let path = path.to_path_buf();
    move |source| LayerError::io(action, path, source)
}
