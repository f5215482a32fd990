//! docker-archive: the format of `docker save` that `docker load` reads, back to Docker 1.10.
//!
//! Layout (moby's `image/tarexport`, <https://github.com/moby/moby/blob/v20.10.24/image/tarexport/load.go>):
//! `manifest.json` (`[{"Config", "RepoTags", "Layers"}]`), the config as `<config-hex>.json`,
//! each layer as an uncompressed `<diffid-hex>/layer.tar`, and the legacy `repositories`
//! file. Layers are written uncompressed because Docker 20.10 (Debian 12's) cannot read zstd;
//! `docker load` checks each `layer.tar` against the config's `rootfs.diff_ids`, and so does
//! this writer before it writes a byte of it.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::Path;

use serde::Serialize;

use super::super::digest::{DiffId, Digest, digest_reader};
use super::super::error::OciError;
use super::super::reference::ImageReference;
use super::super::resolve::ResolvedImage;
use super::super::store::Store;
use super::ArchiveWriter;
use crate::error::FromIo;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Write `image` to `out` as a docker-archive whose one image is named `tag` (`iris` means
/// `iris:latest`).
pub fn export_docker_archive(
    store: &Store,
    image: &ResolvedImage,
    tag: &str,
    out: &Path,
) -> Result<(), OciError> {
    let tag = ImageReference::parse_name(tag)?;
    let config_digest = image.config_digest()?;
    let config = store.read_blob(&config_digest)?;
    let layers = image.layers()?;

    let mut archive = ArchiveWriter::create(out)?;
    let mut written = HashSet::new();
    let mut layer_paths = Vec::new();
    for (descriptor, diff_id) in &layers {
        let layer_path = format!("{}/layer.tar", diff_id.hex());
        layer_paths.push(layer_path.clone());
        if !written.insert(diff_id.clone()) {
            continue;
        }
        let digest = Digest::from_oci(descriptor.digest())?;
        let blob_path = store.blob_path(&digest);
        // First pass: the uncompressed size the tar header needs, and the diffID check.
        let (actual, size) = digest_reader(&mut store.open_layer(descriptor)?)
            .map_err(|source| OciError::io("decompress", &blob_path, source))?;
        if actual != *diff_id.digest() {
            return Err(OciError::DiffIdMismatch {
                digest,
                expected: diff_id.clone(),
                actual: DiffId::new(actual),
            });
        }
        // Second pass: stream it into the archive.
        archive.add_dir(&format!("{}/", diff_id.hex()))?;
        let streamed =
            archive.add_stream(&layer_path, size, store.open_layer(descriptor)?, &blob_path)?;
        if streamed != actual {
            return Err(OciError::DiffIdMismatch {
                digest,
                expected: diff_id.clone(),
                actual: DiffId::new(streamed),
            });
        }
    }
    archive.add_bytes(&format!("{}.json", config_digest.hex()), &config)?;

    let manifest = [ManifestEntry {
        config: format!("{}.json", config_digest.hex()),
        repo_tags: vec![tag.to_string()],
        layers: layer_paths.clone(),
    }];
    archive.add_bytes("manifest.json", &to_json(&manifest, out)?)?;

    // `{"name": {"tag": "<top layer id>"}}`, read only by loaders without `manifest.json`.
    if let Some(top) = layer_paths.last() {
        let top_id = top.trim_end_matches("/layer.tar").to_string();
        let repositories = BTreeMap::from([(
            tag.name(),
            BTreeMap::from([(tag.tag().unwrap_or("latest").to_string(), top_id)]),
        )]);
        archive.add_bytes("repositories", &to_json(&repositories, out)?)?;
    }
    archive.finish()
}

fn to_json(value: &impl Serialize, out: &Path) -> Result<Vec<u8>, OciError> {
    serde_json::to_vec(value).map_err(|source| OciError::Write {
        path: out.to_path_buf(),
        source: io::Error::other(source),
    })
}
