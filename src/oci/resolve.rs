//! Finding an image in the store from what a user typed: a name, a digest or a digest prefix.
//!
//! In order: 1. a name in `index.json` (`iris` means `iris:latest`); 2. a full manifest
//! digest (`sha256:<64 hex>`), named in `index.json` or only present as a blob; 3. a prefix
//! of at least 12 hex digits (with or without `sha256:`) of exactly one manifest named in
//! `index.json`. Manifests are the OCI image manifest
//! (<https://github.com/opencontainers/image-spec/blob/v1.1.0/manifest.md>) or Docker's
//! schema 2, which has the same shape.

use std::str::FromStr;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageManifest, MediaType};

use super::digest::{DiffId, Digest};
use super::error::OciError;
use super::image::HistoryEntry;
use super::index::{ref_name, without_ref_name};
use super::reference::with_default_tag;
use super::store::Store;

/// The shortest digest prefix accepted, as `docker` shows image IDs.
pub const MIN_DIGEST_PREFIX: usize = 12;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// An image found in the store, with its manifest and config read and checked.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The name it was found by or is known by, if it has one.
    pub reference: Option<String>,
    pub manifest_descriptor: Descriptor,
    pub manifest: ImageManifest,
    pub config: ImageConfiguration,
}

impl ResolvedImage {
    pub fn manifest_digest(&self) -> Result<Digest, OciError> {
        Digest::from_oci(self.manifest_descriptor.digest())
    }

    /// The config's history, as mlpack writes it into a derived image's config.
    pub fn history(&self) -> Vec<HistoryEntry> {
        self.config
            .history()
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|entry| HistoryEntry {
                created_by: entry.created_by().clone().unwrap_or_default(),
                comment: entry.comment().clone().unwrap_or_default(),
                empty_layer: entry.empty_layer().unwrap_or(false),
            })
            .collect()
    }

    pub fn config_digest(&self) -> Result<Digest, OciError> {
        Digest::from_oci(self.manifest.config().digest())
    }

    /// The config's `rootfs.diff_ids`, bottom layer first.
    pub fn diff_ids(&self) -> Result<Vec<DiffId>, OciError> {
        self.config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|diff_id| DiffId::from_str(diff_id))
            .collect()
    }

    /// The layer descriptors paired with their diffIDs, bottom first.
    pub fn layers(&self) -> Result<Vec<(Descriptor, DiffId)>, OciError> {
        let diff_ids = self.diff_ids()?;
        if diff_ids.len() != self.manifest.layers().len() {
            return Err(OciError::InvalidImageSpec {
                message: format!(
                    "manifest `{}` lists {} layers, but its config lists {} diffIDs",
                    self.manifest_descriptor.digest(),
                    self.manifest.layers().len(),
                    diff_ids.len()
                ),
            });
        }
        Ok(self
            .manifest
            .layers()
            .iter()
            .cloned()
            .zip(diff_ids)
            .collect())
    }
}

impl Store {
    /// Find an image by name, digest or digest prefix (see the module docs for the order).
    pub fn resolve(&self, reference: &str) -> Result<ResolvedImage, OciError> {
        let index = self.read_index()?;
        let entries = index.manifests();

        let name = with_default_tag(reference);
        // `python:3.11` is also the image `mlpack pull python:3.11` stored under its full
        // name, `docker.io/library/python:3.11`, as Docker finds it.
        let full_name = reference
            .parse::<super::ImageReference>()
            .ok()
            .filter(|parsed| parsed.digest().is_none())
            .map(|parsed| parsed.normalized().to_string());
        for name in std::iter::once(name).chain(full_name) {
            if let Some(entry) = entries
                .iter()
                .find(|entry| ref_name(entry) == Some(name.as_str()))
            {
                return self.load(Some(name), entry.clone());
            }
        }

        let named_as = |digest: &str| {
            entries
                .iter()
                .find(|entry| entry.digest().as_ref() == digest)
                .map(|entry| (ref_name(entry).map(str::to_string), entry.clone()))
        };
        if let Ok(digest) = Digest::from_str(reference) {
            if let Some((name, entry)) = named_as(digest.as_str()) {
                return self.load(name, entry);
            }
            if self.has_blob(&digest) {
                let bytes = self.read_blob(&digest)?;
                let descriptor = Descriptor::new(
                    MediaType::ImageManifest,
                    bytes.len() as u64,
                    digest.to_oci(),
                );
                return self.load(None, descriptor);
            }
        }

        let prefix = reference.strip_prefix("sha256:").unwrap_or(reference);
        if prefix.len() >= MIN_DIGEST_PREFIX && prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            let prefix = prefix.to_ascii_lowercase();
            let mut matches: Vec<String> = entries
                .iter()
                .map(|entry| entry.digest().to_string())
                .filter(|digest| digest["sha256:".len().min(digest.len())..].starts_with(&prefix))
                .collect();
            matches.sort();
            matches.dedup();
            match matches.as_slice() {
                [digest] => {
                    let (name, entry) = named_as(digest).expect("the digest came from the index");
                    return self.load(name, entry);
                }
                [] => {}
                _ => {
                    return Err(OciError::AmbiguousReference {
                        reference: reference.to_string(),
                        matches,
                    });
                }
            }
        }

        let mut available: Vec<String> = entries
            .iter()
            .filter_map(|entry| ref_name(entry).map(str::to_string))
            .collect();
        available.sort();
        Err(OciError::ImageNotFound {
            reference: reference.to_string(),
            available,
        })
    }

    /// Read and check the manifest and config a descriptor points to.
    fn load(
        &self,
        reference: Option<String>,
        descriptor: Descriptor,
    ) -> Result<ResolvedImage, OciError> {
        let digest = Digest::from_oci(descriptor.digest())?;
        let media_type = descriptor.media_type().to_string();
        if !matches!(descriptor.media_type(), MediaType::ImageManifest)
            && media_type != DOCKER_MANIFEST
        {
            return Err(OciError::UnsupportedMediaType {
                what: format!("image {digest}"),
                media_type,
            });
        }
        let manifest: ImageManifest = parse_blob(self, &digest)?;
        self.check_sizes(&digest, &manifest)?;
        let config_digest = Digest::from_oci(manifest.config().digest())?;
        let config: ImageConfiguration = parse_blob(self, &config_digest)?;
        Ok(ResolvedImage {
            reference,
            manifest_descriptor: without_ref_name(descriptor),
            manifest,
            config,
        })
    }
}

impl Store {
    /// The config's and the layers' descriptor sizes against their blobs in the store ("the
    /// size of the referenced content ... MUST be verified", image-spec `descriptor.md`):
    /// a manifest that lies about them would have `images` add up its lies, and a pull trust
    /// them. A blob the store lacks is [`OciError::BlobNotFound`] when it is needed.
    pub(crate) fn check_sizes(
        &self,
        image: &Digest,
        manifest: &ImageManifest,
    ) -> Result<(), OciError> {
        let config = std::iter::once(("config", manifest.config()));
        for (what, descriptor) in
            config.chain(manifest.layers().iter().map(|layer| ("layer", layer)))
        {
            let digest = Digest::from_oci(descriptor.digest())?;
            let Ok(metadata) = fs_err::metadata(self.blob_path(&digest)) else {
                continue;
            };
            if metadata.len() != descriptor.size() {
                return Err(OciError::DescriptorSize {
                    image: image.clone(),
                    what,
                    digest,
                    expected: descriptor.size(),
                    actual: metadata.len(),
                });
            }
        }
        Ok(())
    }
}

fn parse_blob<T: serde::de::DeserializeOwned>(
    store: &Store,
    digest: &Digest,
) -> Result<T, OciError> {
    let bytes = store.read_blob(digest)?;
    serde_json::from_slice(&bytes).map_err(|source| OciError::InvalidJson {
        what: format!("blob `{digest}`"),
        source,
    })
}
