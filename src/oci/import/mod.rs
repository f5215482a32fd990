//! Images into the store from the single files other tools write: an oci-archive (a tar of an
//! OCI image layout, from `mlpack export --format oci`, skopeo or `docker save` of Docker 25
//! and later) or a docker-archive (`docker save`, `mlpack export`), as `docker load` reads
//! them.
//!
//! In order: 1. the input is made a seekable, uncompressed tar (stdin, a pipe or a gzip, zstd
//! or xz archive is first copied, decompressed, into a temp file of the store); 2. its
//! entries are listed, never extracted ([`archive`]); 3. it is an OCI layout when it has
//! `oci-layout` and `index.json` (Docker 25 writes those and `manifest.json`: the index wins),
//! else a docker-archive when it has `manifest.json`; 4. every blob is streamed into the
//! store and checked against the digest (and size) it is named by; 5. only once every image
//! of the archive is whole is any name tagged, so a bad archive leaves no name pointing at a
//! partial image (blobs already written stay until `mlpack prune`).
//!
//! The store's lock is held throughout, so a concurrent `mlpack prune` cannot remove blobs
//! that are written but not yet tagged.

mod archive;
mod docker;
mod oci;

use std::io::{self, BufReader, Read};
use std::path::Path;

use oci_spec::image::Descriptor;
use tempfile::NamedTempFile;

use self::archive::Archive;
use super::digest::Digest;
use super::error::OciError;
use super::reference::{ImageReference, ReferenceError};
use super::store::{INDEX_FILE, OCI_LAYOUT_FILE, Store};
use crate::compression::{Compression, MAGIC_LEN};
use crate::error::FromIo;

/// The docker-archive's table of images.
const DOCKER_MANIFEST_FILE: &str = "manifest.json";

/// An image [`import_archive`] loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The manifest's digest; `mlpack run` finds the image by it, named or not.
    pub digest: Digest,
    /// The names it was tagged with (`busybox:latest`); empty when the archive names none.
    pub references: Vec<ImageReference>,
}

/// One image of an archive, its blobs in the store, ready to be tagged.
struct Imported {
    /// The manifest descriptor to tag (no annotations; the platform where known).
    descriptor: Descriptor,
    /// Checked names.
    references: Vec<ImageReference>,
}

/// Load every image of the archive at `path` into `store` and tag it with the names the
/// archive gives it.
pub fn import_archive(store: &Store, path: &Path) -> Result<Vec<LoadedImage>, OciError> {
    let file = fs_err::File::open(path).map_err(|source| OciError::io("open", path, source))?;
    let metadata = file
        .metadata()
        .map_err(|source| OciError::io("read", path, source))?;
    if metadata.is_dir() {
        return Err(OciError::InvalidArchive {
            path: path.to_path_buf(),
            message: "it is a directory, not a tar file".to_string(),
        });
    }
    let _lock = store.lock()?;
    let file = file.into_file();
    if metadata.is_file() {
        let mut head = [0; MAGIC_LEN];
        let read = std::os::unix::fs::FileExt::read_at(&file, &mut head, 0)
            .map_err(|source| OciError::io("read", path, source))?;
        if Compression::detect(&head[..read]) == Compression::None {
            return import(store, &Archive::read(file, path)?);
        }
    }
    import_spooled(store, file, path)
}

/// [`import_archive`] for an archive read from a stream (stdin); `label` names it in
/// messages. The stream is first copied into a temp file of the store.
pub fn import_archive_from(
    store: &Store,
    reader: impl Read,
    label: &Path,
) -> Result<Vec<LoadedImage>, OciError> {
    let _lock = store.lock()?;
    import_spooled(store, reader, label)
}

/// Copy `reader`, decompressed, into a temp file of the store and import that.
fn import_spooled(
    store: &Store,
    reader: impl Read,
    label: &Path,
) -> Result<Vec<LoadedImage>, OciError> {
    let temp = spool(store, reader, label)?;
    let file = temp
        .reopen()
        .map_err(|source| OciError::io("read", temp.path(), source))?;
    import(store, &Archive::read(file, label)?)
}

fn import(store: &Store, archive: &Archive) -> Result<Vec<LoadedImage>, OciError> {
    let images = if archive.has(OCI_LAYOUT_FILE) && archive.has(INDEX_FILE) {
        oci::import(store, archive)?
    } else if archive.has(DOCKER_MANIFEST_FILE) {
        docker::import(store, archive)?
    } else {
        return Err(OciError::InvalidArchive {
            path: archive.path().to_path_buf(),
            message: format!(
                "it has neither `{DOCKER_MANIFEST_FILE}` (a docker-archive) nor `{OCI_LAYOUT_FILE}` and `{INDEX_FILE}` (an OCI image layout)"
            ),
        });
    };
    let mut loaded: Vec<LoadedImage> = Vec::new();
    for image in images {
        for reference in &image.references {
            store.tag(reference, &image.descriptor)?;
        }
        let digest = Digest::from_oci(image.descriptor.digest())?;
        match loaded.iter_mut().find(|done| done.digest == digest) {
            Some(done) => done.references.extend(image.references),
            None => loaded.push(LoadedImage {
                digest,
                references: image.references,
            }),
        }
    }
    for image in &mut loaded {
        let mut seen = std::collections::HashSet::new();
        image
            .references
            .retain(|reference| seen.insert(reference.clone()));
    }
    Ok(loaded)
}

/// A name an archive gives an image, checked, as Docker shows it: `docker.io/library/busybox:1`
/// is `busybox:1`.
fn familiar_name(name: &str) -> Result<ImageReference, ReferenceError> {
    name.parse::<ImageReference>()?.familiar().into_name()
}

/// A layer's media type from its first bytes, `None` for an uncompressed tar: the layer is
/// stored as it comes, so it must be compressed as the store's layers are; `Err` names the
/// compression when it is not.
fn compressed_layer_media_type(head: &[u8]) -> Result<Option<&'static str>, &'static str> {
    match Compression::detect(head) {
        Compression::None => Ok(None),
        compression => compression
            .layer_media_type()
            .map(Some)
            .ok_or(compression.name()),
    }
}

/// `reader`, decompressed if it is a compressed tar, in a new temp file of the store.
fn spool(store: &Store, reader: impl Read, label: &Path) -> Result<NamedTempFile, OciError> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut head = Vec::new();
    // Enough bytes to tell the compression, even from a pipe that gives them one at a time.
    while head.len() < MAGIC_LEN {
        let buffered = io::BufRead::fill_buf(&mut reader)
            .map_err(|source| OciError::io("read", label, source))?;
        if buffered.is_empty() {
            break;
        }
        let take = buffered.len().min(MAGIC_LEN - head.len());
        head.extend_from_slice(&buffered[..take]);
        io::BufRead::consume(&mut reader, take);
    }
    let compression = Compression::detect(&head);
    if compression == Compression::Bzip2 {
        return Err(OciError::InvalidArchive {
            path: label.to_path_buf(),
            message: "it is compressed with bzip2; decompress it first (`bunzip2 -k`)".to_string(),
        });
    }
    let input = io::Cursor::new(head).chain(reader);
    let mut decoded = compression
        .reader(input)
        .map_err(|source| OciError::io("read", label, source))?;
    let temp = store.temp_file()?;
    let mut writer = io::BufWriter::with_capacity(1 << 20, temp.as_file());
    io::copy(&mut decoded, &mut writer).map_err(|source| OciError::io("read", label, source))?;
    io::Write::flush(&mut writer).map_err(|source| OciError::Write {
        path: temp.path().to_path_buf(),
        source,
    })?;
    drop(writer);
    Ok(temp)
}

#[cfg(test)]
mod tests;
