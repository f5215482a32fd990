//! What can go wrong in the store, the layer writer and the exporters. Every message names the
//! path, digest or reference it is about, so it reads well without a log around it.

use std::path::PathBuf;

use super::digest::{DiffId, Digest};
use super::reference::ReferenceError;
use crate::error::{Diagnostic, IoError};

#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// A file system operation failed.
    #[error(transparent)]
    Io(#[from] IoError),

    #[error("invalid digest `{value}`: {reason}")]
    InvalidDigest { value: String, reason: &'static str },

    #[error("blob `{digest}` is not in the store (`{path}`)")]
    BlobNotFound { digest: Digest, path: PathBuf },

    /// A blob's bytes no longer hash to its name: the file was damaged after it was written.
    #[error("blob `{path}` is corrupted: its content hashes to `{actual}`, not `{digest}`")]
    BlobCorrupted {
        digest: Digest,
        path: PathBuf,
        actual: Digest,
    },

    /// A manifest's descriptor gives a size its blob in the store does not have: the manifest
    /// is wrong, or the blob was damaged (`mlpack doctor` tells which).
    #[error(
        "image `{image}` says its {what} `{digest}` is {expected} bytes, but that blob is {actual} bytes"
    )]
    DescriptorSize {
        image: Digest,
        /// `config` or `layer`.
        what: &'static str,
        digest: Digest,
        expected: u64,
        actual: u64,
    },

    /// A layer's uncompressed content does not hash to the diffID its image config names.
    #[error(
        "layer `{digest}` decompresses to content with diffID `{actual}`, but the image config says `{expected}`"
    )]
    DiffIdMismatch {
        digest: Digest,
        expected: DiffId,
        actual: DiffId,
    },

    /// A JSON document (`what` is a path or a blob digest) could not be read.
    #[error("invalid JSON in {what}")]
    InvalidJson {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("`{path}` is not an OCI image layout: {message}")]
    InvalidLayout { path: PathBuf, message: String },

    #[error("no store directory: none of `MLPACK_HOME`, `XDG_DATA_HOME` and `HOME` is set")]
    NoStoreDir,

    #[error("no image `{reference}` in the store")]
    ImageNotFound {
        reference: String,
        /// The reference names the store has, for the hint.
        available: Vec<String>,
    },

    #[error("`{reference}` matches more than one image: `{}`", matches.join("`, `"))]
    AmbiguousReference {
        reference: String,
        matches: Vec<String>,
    },

    #[error(transparent)]
    InvalidReference(#[from] ReferenceError),

    /// A descriptor's media type is not one this code can follow (`what` names the blob).
    #[error("`{what}` has media type `{media_type}`, which mlpack cannot read here")]
    UnsupportedMediaType { what: String, media_type: String },

    /// The layer tree holds something a tar archive cannot carry (a socket).
    #[error("`{path}` is a {kind}, which cannot be put in a layer")]
    UnsupportedFileType { path: PathBuf, kind: &'static str },

    #[error("the layer root `{path}` is not a directory")]
    NotADirectory { path: PathBuf },

    /// A file changed size while it was being written into a layer.
    #[error(
        "`{path}` changed while it was being written into a layer ({expected} bytes, then {actual})"
    )]
    FileChanged {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },

    #[error("invalid `SOURCE_DATE_EPOCH` value `{value}`: expected a whole number of seconds")]
    InvalidSourceDateEpoch { value: String },

    #[error("invalid image: {message}")]
    InvalidImageSpec { message: String },

    /// A file given to `mlpack load` is not a tar of a docker-archive or of an OCI image
    /// layout, or what it holds is not what those formats say.
    #[error("`{path}` is not an image archive mlpack can load: {message}")]
    InvalidArchive { path: PathBuf, message: String },

    /// An entry of an archive being loaded is named outside the archive (`/etc/passwd`,
    /// `../x`), or is a link that points outside it.
    #[error("`{path}` has an entry `{entry}` that points outside the archive")]
    UnsafeArchiveEntry { path: PathBuf, entry: String },

    /// A document in an archive names an entry the archive does not have.
    #[error("`{path}` has no entry `{entry}`, which {referenced_by} names")]
    ArchiveEntryMissing {
        path: PathBuf,
        entry: String,
        referenced_by: String,
    },

    /// An entry's content is not what the document naming it says (`what`: "the digest in
    /// its descriptor"): the archive was damaged or changed after it was written.
    #[error("`{entry}` in `{path}` does not match {what}: expected `{expected}`, found `{actual}`")]
    ArchiveEntryMismatch {
        path: PathBuf,
        entry: String,
        what: &'static str,
        expected: String,
        actual: String,
    },

    /// A compressed layer in an archive does not decompress (a gzip checksum or zstd frame
    /// that fails): the archive was damaged or changed after it was written.
    #[error("`{entry}` in `{path}` does not decompress")]
    ArchiveEntryDamaged {
        path: PathBuf,
        entry: String,
        #[source]
        source: std::io::Error,
    },

    /// Writing a layer, archive or JSON document into `path` failed part-way.
    #[error("could not write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for OciError {
    /// Whether the user named something wrong (an image, a reference, a setting), rather than
    /// the store or the disk failing.
    fn is_user_error(&self) -> bool {
        matches!(
            self,
            Self::ImageNotFound { .. }
                | Self::AmbiguousReference { .. }
                | Self::InvalidReference(_)
                | Self::InvalidSourceDateEpoch { .. }
                | Self::UnsupportedFileType { .. }
                | Self::InvalidArchive { .. }
                | Self::UnsafeArchiveEntry { .. }
                | Self::ArchiveEntryMissing { .. }
                | Self::ArchiveEntryMismatch { .. }
                | Self::ArchiveEntryDamaged { .. }
        )
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::BlobCorrupted { .. } => vec![
                "`mlpack doctor --repair` removes it (and every other corrupt blob); then rebuild or pull the image that uses it, and check the disk if it happens again"
                    .to_string(),
            ],
            Self::DescriptorSize { .. } => vec![
                "`mlpack doctor` says whether the blob is damaged; if not, the image's manifest is wrong: remove the image (`mlpack rmi`) and pull or load it again"
                    .to_string(),
            ],
            Self::BlobNotFound { .. } => {
                vec!["rebuild or pull the image: the store lost part of it".to_string()]
            }
            Self::NoStoreDir => {
                vec!["set `MLPACK_HOME` to the directory for images and layers".to_string()]
            }
            Self::ImageNotFound {
                reference,
                available,
            } => vec![image_not_found_hint(reference, available)],
            Self::AmbiguousReference { .. } => {
                vec!["give more of the digest, or the image's name".to_string()]
            }
            Self::InvalidReference(error) => error.hints(),
            Self::InvalidSourceDateEpoch { .. } => vec![
                "set `SOURCE_DATE_EPOCH` to seconds since 1970 (`git log -1 --format=%ct`), or unset it"
                    .to_string(),
            ],
            Self::FileChanged { .. } => {
                vec!["make sure nothing writes to the tree while mlpack builds".to_string()]
            }
            Self::InvalidLayout { path, .. } => vec![format!(
                "point `MLPACK_HOME` at another directory, or move `{}` away",
                path.display()
            )],
            Self::InvalidArchive { .. } => vec![
                "`mlpack load` reads the tar files `docker save`, `mlpack export` and `skopeo copy … oci-archive:FILE` write, plain or compressed with gzip, zstd or xz"
                    .to_string(),
            ],
            Self::UnsafeArchiveEntry { .. } => vec![
                "`docker save` and `mlpack export` never write such entries: check where the archive came from"
                    .to_string(),
            ],
            Self::ArchiveEntryMissing { .. } => {
                vec!["the archive is incomplete: save or export the image again".to_string()]
            }
            Self::ArchiveEntryMismatch { .. } | Self::ArchiveEntryDamaged { .. } => vec![
                "the archive was damaged or changed after it was written: save or export the image again; nothing from it was tagged"
                    .to_string(),
            ],
            _ => Vec::new(),
        }
    }
}

fn image_not_found_hint(reference: &str, available: &[String]) -> String {
    if available.is_empty() {
        return "the store has no images yet; build one first".to_string();
    }
    let closest = available
        .iter()
        .map(|name| (strsim::jaro_winkler(reference, name), name))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let listed = available
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match closest {
        Some((_, name)) => format!("did you mean `{name}`? The store has: {listed}"),
        None => format!("the store has: {listed}"),
    }
}
