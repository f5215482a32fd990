//! `index.json`: the store's list of named images.
//!
//! Spec: <https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md#indexjson-file>
//! and <https://github.com/opencontainers/image-spec/blob/v1.1.0/image-index.md>. Each image
//! is one `manifests[]` descriptor whose `org.opencontainers.image.ref.name` annotation holds
//! its full name (`iris:latest`), the form `skopeo inspect oci:$MLPACK_HOME:iris:latest`
//! looks up. Entries are kept sorted by name, so the file's bytes depend only on its content.

use std::collections::HashMap;

use oci_spec::image::{Descriptor, ImageIndex, MediaType};

use super::digest::Digest;
use super::error::OciError;
use super::json::to_canonical_json;
use super::reference::{ImageReference, REF_NAME_ANNOTATION, with_default_tag};
use super::store::{INDEX_FILE, Store};
use crate::error::FromIo;

/// An index with no manifests.
pub(crate) fn empty_index() -> ImageIndex {
    let mut index = ImageIndex::default();
    index.set_media_type(Some(MediaType::ImageIndex));
    index
}

/// The `org.opencontainers.image.ref.name` annotation of a descriptor, if it has one.
pub fn ref_name(descriptor: &Descriptor) -> Option<&str> {
    descriptor
        .annotations()
        .as_ref()?
        .get(REF_NAME_ANNOTATION)
        .map(String::as_str)
}

impl Store {
    /// Name `manifest` `name` (`iris` means `iris:latest`; a digest is refused), replacing an
    /// image of that name. The manifest must be in the store. Returns the name as written.
    pub fn tag(
        &self,
        name: &ImageReference,
        manifest: &Descriptor,
    ) -> Result<ImageReference, OciError> {
        let name = name.clone().into_name()?;
        let reference = name.to_string();
        let digest = Digest::from_oci(manifest.digest())?;
        if !self.has_blob(&digest) {
            return Err(OciError::BlobNotFound {
                path: self.blob_path(&digest),
                digest,
            });
        }
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let mut manifests: Vec<Descriptor> = index
            .manifests()
            .iter()
            .filter(|entry| ref_name(entry) != Some(reference.as_str()))
            .cloned()
            .collect();
        let mut entry = manifest.clone();
        let mut annotations = entry.annotations().clone().unwrap_or_default();
        annotations.insert(REF_NAME_ANNOTATION.to_string(), reference);
        entry.set_annotations(Some(annotations));
        manifests.push(entry);
        sort_entries(&mut manifests);
        index.set_manifests(manifests);
        self.write_index(&index)?;
        Ok(name)
    }

    /// Remove the name `reference`; returns the descriptor it named, if it existed. The blobs
    /// stay until [`Store::prune`].
    pub fn untag(&self, reference: &str) -> Result<Option<Descriptor>, OciError> {
        let reference = with_default_tag(reference);
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let (removed, kept): (Vec<Descriptor>, Vec<Descriptor>) = index
            .manifests()
            .iter()
            .cloned()
            .partition(|entry| ref_name(entry) == Some(reference.as_str()));
        if removed.is_empty() {
            return Ok(None);
        }
        index.set_manifests(kept);
        self.write_index(&index)?;
        Ok(removed.into_iter().next().map(without_ref_name))
    }

    /// Every named image: `(name, manifest descriptor)`, sorted by name.
    pub fn images(&self) -> Result<Vec<(String, Descriptor)>, OciError> {
        let mut images: Vec<(String, Descriptor)> = self
            .read_index()?
            .manifests()
            .iter()
            .filter_map(|entry| {
                Some((
                    ref_name(entry)?.to_string(),
                    without_ref_name(entry.clone()),
                ))
            })
            .collect();
        images.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(images)
    }

    /// `index.json` as it is on disk.
    pub fn read_index(&self) -> Result<ImageIndex, OciError> {
        let path = self.root().join(INDEX_FILE);
        let bytes =
            fs_err::read(&path).map_err(|source| OciError::io("read", path.clone(), source))?;
        serde_json::from_slice(&bytes).map_err(|source| OciError::InvalidJson {
            what: format!("`{}`", path.display()),
            source,
        })
    }

    pub(crate) fn write_index(&self, index: &ImageIndex) -> Result<(), OciError> {
        let path = self.root().join(INDEX_FILE);
        let bytes = to_canonical_json(index, &format!("`{}`", path.display()))?;
        self.write_file_atomic(&path, &bytes)
    }
}

/// By name, then digest; unnamed entries (written by other tools) last.
fn sort_entries(manifests: &mut [Descriptor]) {
    manifests.sort_by(|a, b| {
        let key = |d: &Descriptor| {
            (
                ref_name(d).is_none(),
                ref_name(d).map(str::to_string),
                d.digest().to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
}

/// The descriptor without the store's naming annotation (keeping any other annotations).
pub(crate) fn without_ref_name(mut descriptor: Descriptor) -> Descriptor {
    let annotations: Option<HashMap<String, String>> =
        descriptor
            .annotations()
            .clone()
            .and_then(|mut annotations| {
                annotations.remove(REF_NAME_ANNOTATION);
                (!annotations.is_empty()).then_some(annotations)
            });
    descriptor.set_annotations(annotations);
    descriptor
}
