//! oci-archive: a tar of an OCI image layout holding one image, as `skopeo copy
//! oci-archive:FILE`, `podman load` and `umoci` read it.
//!
//! Spec: <https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md>. The
//! archive holds `oci-layout`, an `index.json` with one manifest named `tag` (annotation
//! `org.opencontainers.image.ref.name`), and the manifest, config and layer blobs, each copied
//! from the store and checked against its digest on the way.
//!
//! Layers go as stored (zstd by default), so the manifest digest is the store's. Tools that
//! predate zstd layers (`umoci` 0.4, `skopeo` 1.9 when it converts to a docker-archive)
//! refuse them; [`export_oci_archive_with_compression`] recompresses the layers (gzip for
//! those), which changes the layer and manifest digests but not the config or the diffIDs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::super::convert::{Recompressed, recompress_layers};
use super::super::digest::Digest;
use super::super::error::OciError;
use super::super::index::empty_index;
use super::super::json::to_canonical_json;
use super::super::reference::{ImageReference, REF_NAME_ANNOTATION};
use super::super::resolve::ResolvedImage;
use super::super::store::{INDEX_FILE, OCI_LAYOUT_FILE, OCI_LAYOUT_JSON, Store};
use super::ArchiveWriter;
use crate::compression::Compression;
use crate::error::FromIo;

/// Where a blob of the archive comes from.
enum BlobSource {
    /// As it is in the store.
    Store,
    /// A recompressed layer, in a temp file of the store.
    Temp(NamedTempFile),
    /// A rewritten manifest.
    Bytes(Vec<u8>),
}

/// Write `image` to `out` as an oci-archive whose one image is named `tag` (`iris` means
/// `iris:latest`), with its layers as stored.
pub fn export_oci_archive(
    store: &Store,
    image: &ResolvedImage,
    tag: &str,
    out: &Path,
) -> Result<(), OciError> {
    export(store, image, tag, out, None)
}

/// [`export_oci_archive`], with every layer not already compressed this way recompressed
/// (`Gzip` for `umoci` 0.4 and other tools that cannot read zstd).
pub fn export_oci_archive_with_compression(
    store: &Store,
    image: &ResolvedImage,
    tag: &str,
    out: &Path,
    compression: Compression,
) -> Result<(), OciError> {
    export(store, image, tag, out, Some(compression))
}

fn export(
    store: &Store,
    image: &ResolvedImage,
    tag: &str,
    out: &Path,
    compression: Option<Compression>,
) -> Result<(), OciError> {
    let tag = ImageReference::parse_name(tag)?.to_string();
    let mut blobs: BTreeMap<Digest, BlobSource> = BTreeMap::new();
    blobs.insert(image.config_digest()?, BlobSource::Store);

    let recompressed = match compression {
        Some(compression) => recompress_layers(store, image, compression)?,
        None => Recompressed {
            manifest: None,
            blobs: Vec::new(),
        },
    };
    for (digest, temp) in recompressed.blobs {
        blobs.insert(digest, BlobSource::Temp(temp));
    }
    let mut entry = image.manifest_descriptor.clone();
    let layers = match recompressed.manifest {
        None => {
            blobs.insert(image.manifest_digest()?, BlobSource::Store);
            image.manifest.layers().clone()
        }
        Some((manifest, bytes)) => {
            let digest = Digest::of(&bytes);
            entry.set_digest(digest.to_oci());
            entry.set_size(bytes.len() as u64);
            blobs.insert(digest, BlobSource::Bytes(bytes));
            manifest.layers().clone()
        }
    };
    for layer in &layers {
        // The recompressed ones are in temp files already.
        blobs
            .entry(Digest::from_oci(layer.digest())?)
            .or_insert(BlobSource::Store);
    }
    entry.set_annotations(Some([(REF_NAME_ANNOTATION.to_string(), tag)].into()));
    let mut index = empty_index();
    index.set_manifests(vec![entry]);
    let index_json = to_canonical_json(&index, "the archive's `index.json`")?;

    let mut archive = ArchiveWriter::create(out)?;
    archive.add_bytes(OCI_LAYOUT_FILE, OCI_LAYOUT_JSON)?;
    archive.add_bytes(INDEX_FILE, &index_json)?;
    archive.add_dir("blobs/")?;
    archive.add_dir("blobs/sha256/")?;
    for (digest, source) in &blobs {
        let name = format!("blobs/sha256/{}", digest.hex());
        let (path, actual) = match source {
            BlobSource::Bytes(bytes) => {
                archive.add_bytes(&name, bytes)?;
                continue;
            }
            BlobSource::Store => {
                let path = store.blob_path(digest);
                let file = store.open_blob(digest)?;
                (
                    path.clone(),
                    add_file(&mut archive, &name, file.file(), &path)?,
                )
            }
            BlobSource::Temp(temp) => {
                let path = temp.path().to_path_buf();
                let file = temp
                    .reopen()
                    .map_err(|source| OciError::io("read", &path, source))?;
                (path.clone(), add_file(&mut archive, &name, &file, &path)?)
            }
        };
        if actual != *digest {
            return Err(OciError::BlobCorrupted {
                digest: digest.clone(),
                path,
                actual,
            });
        }
    }
    archive.finish()
}

/// Stream a whole file into the archive; returns the digest of what was read.
fn add_file(
    archive: &mut ArchiveWriter,
    name: &str,
    file: &std::fs::File,
    path: &PathBuf,
) -> Result<Digest, OciError> {
    let size = file
        .metadata()
        .map_err(|source| OciError::io("read", path, source))?
        .len();
    archive.add_stream(name, size, file, path)
}
