//! docker-archive: the format of `docker save` that `docker load` reads, back to Docker 1.10.
//!
//! Layout (moby's `image/tarexport`, <https://github.com/moby/moby/blob/v20.10.24/image/tarexport/load.go>):
//! `manifest.json` (`[{"Config", "RepoTags", "Layers"}]`), the config as `<config-hex>.json`,
//! each layer as `<diffid-hex>/layer.tar`, and the legacy `repositories` file. `docker load`
//! decompresses each `layer.tar` it is given (`archive.DecompressStream`) and checks it
//! against the config's `rootfs.diff_ids`. Layers go gzip-compressed by default: Docker 20.10
//! (Debian 12's) reads gzip but no zstd, and gzip keeps the archive near the store's size; the
//! copy is made as for a push ([`super::super::convert`]: reproducible, kept for the next
//! push). `Compression::None` writes them as `docker save` does, uncompressed.
use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::Path;

use serde::Serialize;

use super::super::convert::recompressed_image;
use super::super::digest::{DiffId, Digest, digest_reader};
use super::super::error::OciError;
use super::super::reference::ImageReference;
use super::super::resolve::ResolvedImage;
use super::super::store::Store;
use super::ArchiveWriter;
use crate::compression::Compression;
use crate::error::FromIo;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Write `image` to `out` as a docker-archive whose one image is named `tag` (`iris` means
/// `iris:latest`), its layers compressed as `compression` (`None`: uncompressed).
pub fn export_docker_archive(
    store: &Store,
    image: &ResolvedImage,
    tag: &str,
    out: &Path,
    compression: Compression,
) -> Result<(), OciError> {
    let tag = ImageReference::parse_name(tag)?;
    let config_digest = image.config_digest()?;
    let config = store.read_blob(&config_digest)?;
    let image = match compression {
        Compression::None => image.clone(),
        compressed => recompressed_image(store, image, compressed)?,
    };
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
        archive.add_dir(&format!("{}/", diff_id.hex()))?;
        if compression == Compression::None {
            add_uncompressed(&mut archive, store, descriptor, diff_id, &layer_path)?;
        } else {
            add_blob(&mut archive, store, descriptor, &layer_path)?;
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

/// The layer's blob as it is, checked against its digest on the way.
fn add_blob(
    archive: &mut ArchiveWriter,
    store: &Store,
    descriptor: &oci_spec::image::Descriptor,
    layer_path: &str,
) -> Result<(), OciError> {
    let digest = Digest::from_oci(descriptor.digest())?;
    let path = store.blob_path(&digest);
    let file = store.open_blob(&digest)?;
    let actual = archive.add_stream(layer_path, descriptor.size(), file.file(), &path)?;
    if actual != digest {
        return Err(OciError::BlobCorrupted {
            digest,
            path,
            actual,
        });
    }
    Ok(())
}

/// The layer decompressed, checked against its diffID before a byte of it is written (the
/// first pass also gives the size the tar header needs) and again while it is streamed.
fn add_uncompressed(
    archive: &mut ArchiveWriter,
    store: &Store,
    descriptor: &oci_spec::image::Descriptor,
    diff_id: &DiffId,
    layer_path: &str,
) -> Result<(), OciError> {
    let digest = Digest::from_oci(descriptor.digest())?;
    let blob_path = store.blob_path(&digest);
    let mismatch = |actual| OciError::DiffIdMismatch {
        digest: digest.clone(),
        expected: diff_id.clone(),
        actual: DiffId::new(actual),
    };
    let (actual, size) = digest_reader(&mut store.open_layer(descriptor)?)
        .map_err(|source| OciError::io("decompress", &blob_path, source))?;
    if actual != *diff_id.digest() {
        return Err(mismatch(actual));
    }
    let streamed =
        archive.add_stream(layer_path, size, store.open_layer(descriptor)?, &blob_path)?;
    if streamed != actual {
        return Err(mismatch(streamed));
    }
    Ok(())
}

fn to_json(value: &impl Serialize, out: &Path) -> Result<Vec<u8>, OciError> {
    serde_json::to_vec(value).map_err(|source| OciError::Write {
        path: out.to_path_buf(),
        source: io::Error::other(source),
    })
}
