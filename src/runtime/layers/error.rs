//! What can go wrong unpacking a layer into the cache.

use std::io;
use std::path::{Path, PathBuf};

use crate::oci::{DiffId, Digest, OciError};

/// What can go wrong unpacking a layer. Each message names the layer's digest, and the entry
/// where there is one.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// Reading the blob from the store failed (missing, unknown media type).
    #[error(transparent)]
    Store(#[from] OciError),

    /// A file system operation failed; `action` is a verb phrase.
    #[error("could not {action} `{path}`")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

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

impl LayerError {
    /// A suggestion for the user, without the `hint: ` prefix, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Store(error) => error.hint(),
            Self::Unreadable { .. } | Self::DiffIdMismatch { .. } => Some(
                "the store's copy is damaged; remove the image with `mlpack rmi` and build or pull it again"
                    .to_string(),
            ),
            Self::UnsafeEntry { .. } => Some(
                "mlpack refuses layers that could write outside their own directory; use an image from a source you trust"
                    .to_string(),
            ),
            Self::UnsupportedEntry { .. } => Some(
                "rebuild the image so that its layers hold only files, directories, links, device nodes and FIFOs"
                    .to_string(),
            ),
            Self::Io { .. } => None,
        }
    }

    /// Whether the image the user chose is at fault, rather than the store or the disk.
    pub fn is_user_error(&self) -> bool {
        match self {
            Self::Store(error) => error.is_user_error(),
            Self::UnsafeEntry { .. } | Self::UnsupportedEntry { .. } => true,
            Self::Io { .. } | Self::Unreadable { .. } | Self::DiffIdMismatch { .. } => false,
        }
    }
}

pub(super) fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LayerError {
    let path = path.to_path_buf();
    move |source| LayerError::Io {
        action,
        path,
        source,
    }
}
