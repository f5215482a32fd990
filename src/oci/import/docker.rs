//! docker-archive: the format of `docker save` (and `mlpack export`), as `docker load` reads
//! it.
//!
//! Layout (moby's `image/tarexport`, <https://github.com/moby/moby/blob/v20.10.24/image/tarexport/load.go>):
//! `manifest.json` (`[{"Config", "RepoTags", "Layers"}]`) names, per image, the config
//! (`<hex>.json`, or `blobs/sha256/<hex>` from Docker 25) and each layer (`<id>/layer.tar`,
//! uncompressed or gzip). There is no manifest and no layer digest, so the checks are: the
//! config must hash to the digest its file name carries, and each layer, uncompressed, to
//! the config's `rootfs.diff_ids` entry. mlpack then writes an OCI manifest for the image, and
//! tags it with each `RepoTags` name, shortened as Docker shows it (skopeo writes
//! `docker.io/library/busybox:latest`, which is `busybox:latest`).
//!
//! Layers are stored byte for byte as the archive holds them, so `docker save`'s uncompressed
//! ones as `application/vnd.oci.image.layer.v1.tar`, with digest = diffID (as `skopeo copy
//! docker-archive: oci:` stores them). One pass, no recompression, and loading the same
//! archive twice gives the same manifest digest; the cost is disk space.

use std::collections::HashMap;
use std::str::FromStr;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageManifestBuilder, MediaType, Platform};
use serde::Deserialize;

use super::super::digest::{DiffId, Digest, digest_reader};
use super::super::error::OciError;
use super::super::json::to_canonical_json;
use super::super::reference::ImageReference;
use super::super::store::Store;
use super::archive::{Archive, parse_json};
use super::{DOCKER_MANIFEST_FILE, Imported, compressed_layer_media_type, familiar_name};
use crate::compression::MEDIA_TYPE_LAYER_TAR;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    /// `null` for an image saved by ID.
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// One image of `manifest.json`, checked but not yet written.
struct Planned {
    references: Vec<ImageReference>,
    config_bytes: Vec<u8>,
    config: ImageConfiguration,
    /// Layer entry names with their diffIDs, bottom first.
    layers: Vec<(String, DiffId)>,
}

pub(super) fn import(store: &Store, archive: &Archive) -> Result<Vec<Imported>, OciError> {
    let (entries, _): (Vec<ManifestEntry>, _) =
        archive.read_json(DOCKER_MANIFEST_FILE, "a docker-archive")?;
    if entries.is_empty() {
        return Err(invalid(
            archive,
            format!("`{DOCKER_MANIFEST_FILE}` lists no images"),
        ));
    }
    // Names, configs and layer counts are checked before the first blob is written.
    let planned = entries
        .iter()
        .map(|entry| plan(archive, entry))
        .collect::<Result<Vec<_>, OciError>>()?;
    let mut layers_written: HashMap<String, Descriptor> = HashMap::new();
    let mut imported = Vec::new();
    for image in planned {
        let mut layers = Vec::new();
        for (name, diff_id) in &image.layers {
            let descriptor = match layers_written.get(name) {
                Some(descriptor) => descriptor.clone(),
                None => import_layer(store, archive, name, diff_id)?,
            };
            layers_written.insert(name.clone(), descriptor.clone());
            layers.push(descriptor);
        }
        let descriptor = write_manifest(store, &image, layers)?;
        imported.push(Imported {
            descriptor,
            references: image.references,
        });
    }
    Ok(imported)
}

fn plan(archive: &Archive, entry: &ManifestEntry) -> Result<Planned, OciError> {
    let references = entry
        .repo_tags
        .iter()
        .flatten()
        .map(|tag| {
            familiar_name(tag).map_err(|error| {
                invalid(
                    archive,
                    format!("`{DOCKER_MANIFEST_FILE}` names an image badly: {error}"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config_entry = archive.entry(&entry.config, &format!("`{DOCKER_MANIFEST_FILE}`"))?;
    let config_bytes = config_entry.read_document()?;
    if let Some(expected) = digest_in_name(&entry.config) {
        let actual = Digest::of(&config_bytes);
        if actual != expected {
            return Err(OciError::ArchiveEntryMismatch {
                path: archive.path().to_path_buf(),
                entry: entry.config.clone(),
                what: "the digest in its name",
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
    }
    let config: ImageConfiguration = parse_json(archive, &entry.config, &config_bytes)?;
    let diff_ids = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|diff_id| {
            DiffId::from_str(diff_id).map_err(|error| {
                invalid(archive, format!("the config `{}`: {error}", entry.config))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if diff_ids.len() != entry.layers.len() {
        return Err(invalid(
            archive,
            format!(
                "`{DOCKER_MANIFEST_FILE}` lists {} layers for `{}`, but that config lists {} diffIDs",
                entry.layers.len(),
                entry.config,
                diff_ids.len()
            ),
        ));
    }
    Ok(Planned {
        references,
        config_bytes,
        config,
        layers: entry.layers.iter().cloned().zip(diff_ids).collect(),
    })
}

/// The digest a config's file name carries: `<hex>.json` (`docker save` before 25) or
/// `blobs/sha256/<hex>` (25 and later). Another name carries none.
fn digest_in_name(name: &str) -> Option<Digest> {
    let file = name.rsplit('/').next()?;
    Digest::from_sha256_hex(file.strip_suffix(".json").unwrap_or(file)).ok()
}

/// Stream a layer into the store as it is and check it against `diff_id`; its descriptor.
fn import_layer(
    store: &Store,
    archive: &Archive,
    name: &str,
    diff_id: &DiffId,
) -> Result<Descriptor, OciError> {
    let entry = archive.entry(name, &format!("`{DOCKER_MANIFEST_FILE}`"))?;
    let compression = compressed_layer_media_type(&entry.head()?).map_err(|kind| {
        invalid(
            archive,
            format!("the layer `{name}` is compressed with {kind}; mlpack reads uncompressed, gzip and zstd layers"),
        )
    })?;
    let mismatch = |actual: &Digest| OciError::ArchiveEntryMismatch {
        path: archive.path().to_path_buf(),
        entry: name.to_string(),
        what: "the diffID its image config lists",
        expected: diff_id.to_string(),
        actual: actual.to_string(),
    };
    let Some(media_type) = compression else {
        // Uncompressed: the blob's digest is its diffID, and a blob the store has was checked
        // when it was written.
        if !store.has_blob(diff_id.digest()) {
            let (actual, _) = store.write_blob_from(&mut entry.reader())?;
            if actual != *diff_id.digest() {
                return Err(mismatch(&actual));
            }
        }
        return Ok(Descriptor::new(
            MediaType::from(MEDIA_TYPE_LAYER_TAR),
            entry.size,
            diff_id.digest().to_oci(),
        ));
    };
    let (digest, size) = store.write_blob_from(&mut entry.reader())?;
    let descriptor = Descriptor::new(MediaType::from(media_type), size, digest.to_oci());
    let (actual, _) = digest_reader(&mut store.open_layer(&descriptor)?).map_err(|source| {
        OciError::ArchiveEntryDamaged {
            path: archive.path().to_path_buf(),
            entry: name.to_string(),
            source,
        }
    })?;
    if actual != *diff_id.digest() {
        return Err(mismatch(&actual));
    }
    Ok(descriptor)
}

/// Write the config and an OCI manifest for it and `layers`; the descriptor to tag.
fn write_manifest(
    store: &Store,
    image: &Planned,
    layers: Vec<Descriptor>,
) -> Result<Descriptor, OciError> {
    let config_digest = store.write_blob(&image.config_bytes)?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2_u32)
        .media_type(MediaType::ImageManifest)
        .config(Descriptor::new(
            MediaType::ImageConfig,
            image.config_bytes.len() as u64,
            config_digest.to_oci(),
        ))
        .layers(layers)
        .build()
        .map_err(|error| OciError::InvalidImageSpec {
            message: format!("could not build the manifest: {error}"),
        })?;
    let bytes = to_canonical_json(&manifest, "the loaded image's manifest")?;
    let digest = store.write_blob(&bytes)?;
    let mut platform = Platform::default();
    platform.set_os(image.config.os().clone());
    platform.set_architecture(image.config.architecture().clone());
    let mut descriptor = Descriptor::new(
        MediaType::ImageManifest,
        bytes.len() as u64,
        digest.to_oci(),
    );
    descriptor.set_platform(Some(platform));
    Ok(descriptor)
}

fn invalid(archive: &Archive, message: String) -> OciError {
    OciError::InvalidArchive {
        path: archive.path().to_path_buf(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_name_may_carry_its_digest() {
        let hex = "ab".repeat(32);
        let digest = Digest::from_sha256_hex(&hex).unwrap();
        assert_eq!(digest_in_name(&format!("{hex}.json")), Some(digest.clone()));
        assert_eq!(digest_in_name(&format!("blobs/sha256/{hex}")), Some(digest));
        assert_eq!(digest_in_name("config.json"), None);
        assert_eq!(digest_in_name(&format!("{}.json", "AB".repeat(32))), None);
    }
}
