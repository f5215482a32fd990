//! oci-archive: a tar of an OCI image layout, as `mlpack export --format oci`, `skopeo copy
//! … oci-archive:FILE` and `docker save` (Docker 25 and later) write it.
//!
//! Spec: <https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md>. Each
//! entry of `index.json` is an image; its blobs are `blobs/sha256/<hex>` and are copied as
//! they are, each checked against its descriptor's size and digest ("the content SHOULD NOT
//! be trusted" otherwise, descriptor.md), so the store gets the same manifest digest.
//!
//! Names: 1. `io.containerd.image.name` (Docker 25 writes the full name there, and only the
//! tag in the next one), shortened as Docker shows it (`docker.io/library/busybox` is
//! `busybox`); 2. `org.opencontainers.image.ref.name` (mlpack and skopeo write `name:tag`);
//! 3. none: the image is loaded by digest. An entry that is an image index (a multi-platform
//! image) loads the manifest for this machine's platform under the index's names.

use std::collections::HashMap;

use oci_spec::image::{
    Arch, Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType, Os, Platform,
};

use super::super::digest::Digest;
use super::super::error::OciError;
use super::super::reference::{ImageReference, REF_NAME_ANNOTATION};
use super::super::store::{INDEX_FILE, OCI_LAYOUT_FILE, Store};
use super::archive::{Archive, parse_json};
use super::{Imported, familiar_name};
use crate::compression::Compression;

/// The annotation containerd and Docker 25+ put the image's full name in.
const CONTAINERD_NAME_ANNOTATION: &str = "io.containerd.image.name";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

pub(super) fn import(store: &Store, archive: &Archive) -> Result<Vec<Imported>, OciError> {
    check_layout_version(archive)?;
    let (index, _): (ImageIndex, _) = archive.read_json(INDEX_FILE, "the OCI layout")?;
    if index.manifests().is_empty() {
        return Err(OciError::InvalidArchive {
            path: archive.path().to_path_buf(),
            message: format!("its `{INDEX_FILE}` lists no images"),
        });
    }
    // Every name is checked before the first blob is written.
    let planned = index
        .manifests()
        .iter()
        .map(|entry| Ok((entry, references(archive, entry)?)))
        .collect::<Result<Vec<_>, OciError>>()?;
    let mut written: HashMap<Digest, Descriptor> = HashMap::new();
    let mut imported = Vec::new();
    for (entry, references) in planned {
        let manifest = select_manifest(archive, entry)?;
        let digest = blob_digest(archive, &manifest)?;
        if !written.contains_key(&digest) {
            let descriptor = import_manifest(store, archive, &manifest)?;
            written.insert(digest.clone(), descriptor);
        }
        imported.push(Imported {
            descriptor: written[&digest].clone(),
            references,
        });
    }
    Ok(imported)
}

fn check_layout_version(archive: &Archive) -> Result<(), OciError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Layout {
        image_layout_version: String,
    }
    let (layout, _): (Layout, _) = archive.read_json(OCI_LAYOUT_FILE, "the OCI layout")?;
    if !layout.image_layout_version.starts_with("1.") {
        return Err(OciError::InvalidArchive {
            path: archive.path().to_path_buf(),
            message: format!(
                "its OCI layout version is `{}`; mlpack reads version 1",
                layout.image_layout_version
            ),
        });
    }
    Ok(())
}

/// The name `entry` gives its image, checked; none for an unnamed entry.
fn references(archive: &Archive, entry: &Descriptor) -> Result<Vec<ImageReference>, OciError> {
    let annotations = entry.annotations().clone().unwrap_or_default();
    let reference = match annotations.get(CONTAINERD_NAME_ANNOTATION) {
        Some(name) => familiar_name(name),
        None => match annotations.get(REF_NAME_ANNOTATION) {
            Some(name) => ImageReference::parse_name(name),
            None => return Ok(Vec::new()),
        },
    };
    let reference = reference.map_err(|error| OciError::InvalidArchive {
        path: archive.path().to_path_buf(),
        message: format!("`{INDEX_FILE}` names an image badly: {error}"),
    })?;
    Ok(vec![reference])
}

fn is_manifest(descriptor: &Descriptor) -> bool {
    matches!(descriptor.media_type(), MediaType::ImageManifest)
        || descriptor.media_type().to_string() == DOCKER_MANIFEST
}

/// The image manifest `entry` stands for: itself, or, for an image index, the manifest for
/// this machine's platform.
fn select_manifest(archive: &Archive, entry: &Descriptor) -> Result<Descriptor, OciError> {
    if is_manifest(entry) {
        return Ok(entry.clone());
    }
    let media_type = entry.media_type().to_string();
    if !matches!(entry.media_type(), MediaType::ImageIndex) && media_type != DOCKER_MANIFEST_LIST {
        return Err(OciError::InvalidArchive {
            path: archive.path().to_path_buf(),
            message: format!(
                "`{INDEX_FILE}` lists `{}` with media type `{media_type}`, which is not an image",
                entry.digest()
            ),
        });
    }
    let name = blob_name(archive, entry)?;
    let bytes = read_blob(archive, entry, &format!("`{INDEX_FILE}`"))?;
    let nested: ImageIndex = parse_json(archive, &name, &bytes)?;
    let (os, architecture) = (Os::default(), Arch::default());
    let for_host = |descriptor: &&Descriptor| {
        descriptor.platform().as_ref().is_some_and(|platform| {
            *platform.os() == os && *platform.architecture() == architecture
        })
    };
    let manifests: Vec<&Descriptor> = nested
        .manifests()
        .iter()
        .filter(|d| is_manifest(d))
        .collect();
    if let Some(manifest) = manifests.iter().copied().find(for_host) {
        return Ok(manifest.clone());
    }
    let platforms: Vec<String> = manifests
        .iter()
        .filter_map(|manifest| manifest.platform().as_ref())
        .map(|platform| format!("{}/{}", platform.os(), platform.architecture()))
        .collect();
    Err(OciError::InvalidArchive {
        path: archive.path().to_path_buf(),
        message: format!(
            "the image index `{name}` has no image for {os}/{architecture}, only for: {}",
            platforms.join(", ")
        ),
    })
}

/// Copy the manifest `descriptor` names, its layers and config into the store; returns the
/// descriptor to tag.
fn import_manifest(
    store: &Store,
    archive: &Archive,
    descriptor: &Descriptor,
) -> Result<Descriptor, OciError> {
    let name = blob_name(archive, descriptor)?;
    let bytes = read_blob(archive, descriptor, &format!("`{INDEX_FILE}`"))?;
    let manifest: ImageManifest = parse_json(archive, &name, &bytes)?;
    let by_manifest = format!("the manifest `{name}`");
    let config_name = blob_name(archive, manifest.config())?;
    let config_bytes = read_blob(archive, manifest.config(), &by_manifest)?;
    let config: ImageConfiguration = parse_json(archive, &config_name, &config_bytes)?;
    let diff_ids = config.rootfs().diff_ids().len();
    if diff_ids != manifest.layers().len() {
        return Err(OciError::InvalidArchive {
            path: archive.path().to_path_buf(),
            message: format!(
                "the manifest `{name}` lists {} layers, but its config `{config_name}` lists {diff_ids} diffIDs",
                manifest.layers().len()
            ),
        });
    }
    for layer in manifest.layers() {
        import_layer(store, archive, layer, &by_manifest)?;
    }
    // The manifest last: once it is in the store, so is everything it names.
    store.write_blob(&config_bytes)?;
    let digest = store.write_blob(&bytes)?;
    let mut tagged = Descriptor::new(
        descriptor.media_type().clone(),
        bytes.len() as u64,
        digest.to_oci(),
    );
    let mut platform = Platform::default();
    platform.set_os(config.os().clone());
    platform.set_architecture(config.architecture().clone());
    tagged.set_platform(Some(platform));
    Ok(tagged)
}

/// Stream a layer blob into the store, checking its size and digest. A blob the store has
/// already is not copied again: it was checked when it was written.
fn import_layer(
    store: &Store,
    archive: &Archive,
    layer: &Descriptor,
    referenced_by: &str,
) -> Result<(), OciError> {
    let name = blob_name(archive, layer)?;
    let media_type = layer.media_type().to_string();
    if Compression::from_layer_media_type(&media_type).is_none() {
        return Err(OciError::InvalidArchive {
            path: archive.path().to_path_buf(),
            message: format!(
                "the layer `{name}` has media type `{media_type}`, which mlpack cannot read"
            ),
        });
    }
    let entry = archive.entry(&name, referenced_by)?;
    check_size(archive, &name, layer.size(), entry.size)?;
    let expected = blob_digest(archive, layer)?;
    if store.has_blob(&expected) {
        return Ok(());
    }
    let (actual, _) = store.write_blob_from(&mut entry.reader())?;
    check_digest(archive, &name, &expected, &actual)
}

/// A small blob's bytes, checked against its descriptor.
fn read_blob(
    archive: &Archive,
    descriptor: &Descriptor,
    referenced_by: &str,
) -> Result<Vec<u8>, OciError> {
    let name = blob_name(archive, descriptor)?;
    let entry = archive.entry(&name, referenced_by)?;
    check_size(archive, &name, descriptor.size(), entry.size)?;
    let bytes = entry.read_document()?;
    check_digest(
        archive,
        &name,
        &blob_digest(archive, descriptor)?,
        &Digest::of(&bytes),
    )?;
    Ok(bytes)
}

fn blob_digest(archive: &Archive, descriptor: &Descriptor) -> Result<Digest, OciError> {
    Digest::from_oci(descriptor.digest()).map_err(|error| OciError::InvalidArchive {
        path: archive.path().to_path_buf(),
        message: error.to_string(),
    })
}

/// `blobs/sha256/<hex>`: where the layout keeps the blob `descriptor` names.
fn blob_name(archive: &Archive, descriptor: &Descriptor) -> Result<String, OciError> {
    Ok(format!(
        "blobs/sha256/{}",
        blob_digest(archive, descriptor)?.hex()
    ))
}

fn check_size(archive: &Archive, name: &str, expected: u64, actual: u64) -> Result<(), OciError> {
    if expected == actual {
        return Ok(());
    }
    Err(OciError::ArchiveEntryMismatch {
        path: archive.path().to_path_buf(),
        entry: name.to_string(),
        what: "the size its descriptor gives",
        expected: expected.to_string(),
        actual: actual.to_string(),
    })
}

fn check_digest(
    archive: &Archive,
    name: &str,
    expected: &Digest,
    actual: &Digest,
) -> Result<(), OciError> {
    if expected == actual {
        return Ok(());
    }
    Err(OciError::ArchiveEntryMismatch {
        path: archive.path().to_path_buf(),
        entry: name.to_string(),
        what: "its digest",
        expected: expected.to_string(),
        actual: actual.to_string(),
    })
}
