//! OCI images without Docker: digests, reproducible layers, image config and manifest, the
//! store (an OCI image layout), and export to archives other tools load.
//!
//! Specs: the OCI image spec v1.1 (<https://github.com/opencontainers/image-spec/tree/v1.1.0>)
//! for layers, config, manifest, index and layout; Docker's `docker save` format for
//! docker-archive. This module knows nothing about Python.

mod convert;
mod derive;
mod digest;
mod error;
mod export;
mod image;
mod import;
mod index;
mod json;
mod layer;
mod prune;
mod pushed;
mod reference;
pub mod registry;
mod reproducible_tar;
mod resolve;
mod snapshot;
mod store;
mod temp;
#[cfg(test)]
mod tests;
mod verify;

pub use self::convert::recompressed_image;
pub use self::derive::{Derivation, created_now, derive_image};
pub use self::digest::{DiffId, Digest, chain_ids};
pub use self::error::OciError;
pub use self::export::{
    export_docker_archive, export_oci_archive, export_oci_archive_with_compression,
};
pub use self::image::{HistoryEntry, ImageSpec, write_image, write_image_with};
pub use self::import::{LoadedImage, import_archive, import_archive_from};
pub use self::index::ref_name;
pub use self::layer::{DEFAULT_MTIME, Layer, LayerWriter, SOURCE_DATE_EPOCH, source_date_epoch};
pub use self::prune::{LiveImage, PruneReport};
pub use self::pushed::PushRecord;
pub use self::reference::{ImageReference, REF_NAME_ANNOTATION, ReferenceError};
pub use self::resolve::{MIN_DIGEST_PREFIX, ResolvedImage};
pub use self::snapshot::StoreSnapshot;
pub use self::store::{DirLock, MLPACK_HOME, Store, StoreLock, default_root};
pub use self::temp::{Leftover, TempTree, UNOWNED_GRACE, leftovers, remove_tree, tree_size};
pub use self::verify::{BlobProblem, ProblemKind, StoreCheck};
/// The `oci-spec` types this module's API uses.
pub use oci_spec::image::{Descriptor, ImageConfiguration, ImageManifest};
