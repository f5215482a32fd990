//! Garbage collection: delete the blobs that neither `index.json` nor a GC root reaches.
//!
//! Reachability follows descriptors as the image spec defines them: an index's `manifests[]`
//! (<https://github.com/opencontainers/image-spec/blob/v1.1.0/image-index.md>), a manifest's
//! `config` and `layers[]` (<https://github.com/opencontainers/image-spec/blob/v1.1.0/manifest.md>).
//! The roots beyond `index.json` (the images containers and recorded runs use) are the
//! caller's to find, and the unpacked `layers/` directories belong to the runtime: the report
//! hands back the live images' diffIDs for it to prune those itself.

use std::collections::BTreeSet;
use std::io;
use std::str::FromStr;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};

use super::digest::{DiffId, Digest};
use super::error::OciError;
use super::store::{PARTIAL_PREFIX, Store, TEMP_PREFIX};
use crate::error::FromIo;

pub(super) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(super) const DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";

/// What [`Store::prune`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub blobs_removed: usize,
    /// Bytes of blobs, stale temp files and partial downloads removed.
    pub bytes_freed: u64,
    /// Stale temp files and partial downloads removed.
    pub temp_files_removed: usize,
    /// Every image kept, once each.
    pub live_images: Vec<LiveImage>,
}

/// An image [`Store::prune`] kept, for those who keep caches of images to prune theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveImage {
    pub manifest: Digest,
    /// The layers' (compressed) digests, bottom first.
    pub layers: Vec<Digest>,
    /// The layers' diffIDs, bottom first (the `layers/` directories to keep are named by
    /// these and by their chain IDs).
    pub diff_ids: Vec<DiffId>,
}

impl Store {
    /// Delete every blob that neither an entry of `index.json` nor one of the image manifests
    /// `roots` reaches, and every temp file left by an interrupted write. Takes the store
    /// lock, so it waits for a build in another process to finish; a write in progress in
    /// this process, on another thread, would lose its temp file, so don't prune while
    /// writing. A caller that finds `roots` under the store lock holds it around this call,
    /// so that no new root appears in between.
    pub fn prune(&self, roots: &[Digest]) -> Result<PruneReport, OciError> {
        let _lock = self.lock()?;
        let mut live = BTreeSet::new();
        let mut report = PruneReport::default();
        for entry in self.read_index()?.manifests() {
            self.mark(entry, &mut live, &mut report.live_images)?;
        }
        for root in roots {
            // Docker's schema 2 manifest has the OCI manifest's shape: one media type fits both.
            let descriptor = Descriptor::new(MediaType::ImageManifest, 0, root.to_oci());
            self.mark(&descriptor, &mut live, &mut report.live_images)?;
        }
        self.remove_dead_blobs(&live, &mut report)?;
        self.remove_stale_push_records()?;
        self.remove_temp_files(&mut report)?;
        Ok(report)
    }

    /// Add `descriptor`'s blob and everything it reaches to `live`.
    fn mark(
        &self,
        descriptor: &Descriptor,
        live: &mut BTreeSet<Digest>,
        images: &mut Vec<LiveImage>,
    ) -> Result<(), OciError> {
        let Ok(digest) = Digest::from_oci(descriptor.digest()) else {
            // Another algorithm: not in `blobs/sha256/`, so nothing to keep.
            return Ok(());
        };
        if !live.insert(digest.clone()) || !self.has_blob(&digest) {
            return Ok(());
        }
        let media_type = descriptor.media_type().to_string();
        if matches!(descriptor.media_type(), MediaType::ImageManifest)
            || media_type == DOCKER_MANIFEST
        {
            let manifest: ImageManifest = self.parse(&digest)?;
            let config = manifest.config();
            if let Ok(config_digest) = Digest::from_oci(config.digest()) {
                live.insert(config_digest.clone());
                if self.has_blob(&config_digest) {
                    let config: ImageConfiguration = self.parse(&config_digest)?;
                    let diff_ids = config.rootfs().diff_ids().iter();
                    images.push(LiveImage {
                        manifest: digest.clone(),
                        layers: manifest
                            .layers()
                            .iter()
                            .filter_map(|layer| Digest::from_oci(layer.digest()).ok())
                            .collect(),
                        diff_ids: diff_ids
                            .filter_map(|id| DiffId::from_str(id).ok())
                            .collect(),
                    });
                }
            }
            for layer in manifest.layers() {
                self.mark(layer, live, images)?;
            }
        } else if matches!(descriptor.media_type(), MediaType::ImageIndex)
            || media_type == DOCKER_MANIFEST_LIST
        {
            let index: ImageIndex = self.parse(&digest)?;
            for manifest in index.manifests() {
                self.mark(manifest, live, images)?;
            }
        }
        Ok(())
    }

    pub(super) fn parse<T: serde::de::DeserializeOwned>(
        &self,
        digest: &Digest,
    ) -> Result<T, OciError> {
        let bytes = self.read_blob(digest)?;
        serde_json::from_slice(&bytes).map_err(|source| OciError::InvalidJson {
            what: format!("blob `{digest}`"),
            source,
        })
    }

    fn remove_dead_blobs(
        &self,
        live: &BTreeSet<Digest>,
        report: &mut PruneReport,
    ) -> Result<(), OciError> {
        let dir = self.blobs_dir();
        for item in fs_err::read_dir(&dir).map_err(|source| OciError::io("list", &dir, source))? {
            let item = item.map_err(|source| OciError::io("list", &dir, source))?;
            let name = item.file_name();
            let Some(digest) = name
                .to_str()
                .and_then(|hex| Digest::from_sha256_hex(hex).ok())
            else {
                continue;
            };
            if !live.contains(&digest) {
                report.bytes_freed += remove_file(&item.path())?;
                report.blobs_removed += 1;
            }
        }
        Ok(())
    }

    /// Temp files an older mlpack wrote straight into `tmp/`, and the partial downloads of
    /// interrupted pulls (a pull holds the store lock, so none is in progress). Temp trees
    /// are [`Store::leftovers`]'s.
    fn remove_temp_files(&self, report: &mut PruneReport) -> Result<(), OciError> {
        let dir = self.temp_dir();
        for item in fs_err::read_dir(&dir).map_err(|source| OciError::io("list", &dir, source))? {
            let item = item.map_err(|source| OciError::io("list", &dir, source))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let is_file = item.file_type().is_ok_and(|kind| kind.is_file());
            if is_file && (name.starts_with(TEMP_PREFIX) || name.starts_with(PARTIAL_PREFIX)) {
                report.bytes_freed += remove_file(&item.path())?;
                report.temp_files_removed += 1;
            }
        }
        Ok(())
    }
}

/// Remove a file, returning its size; a file already gone counts as 0 bytes.
fn remove_file(path: &std::path::Path) -> Result<u64, OciError> {
    let size = fs_err::symlink_metadata(path).map_or(0, |metadata| metadata.len());
    match fs_err::remove_file(path) {
        Ok(()) => Ok(size),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(source) => Err(OciError::io("remove", path, source)),
    }
}
