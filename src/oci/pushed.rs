//! What became of a local image in registries: `$MLPACK_HOME/pushed/<manifest hex>.json`.
//!
//! A push sends gzip layers by default while the store keeps zstd, so the manifest a
//! registry holds has another digest than the local one. Each record keeps, per local
//! manifest, the manifests made from it for a push (by compression, so the next push of the
//! unchanged image reuses them instead of compressing again) and the digests registries hold
//! it under, in Docker's `RepoDigests` form (`localhost:5000/team/iris@sha256:…`). Records
//! are small and advisory: a recompressed manifest is used only while all its blobs are in
//! the store (`mlpack prune` removes them like any unnamed blob), and a record whose image is
//! gone is dropped by `prune`.

use std::collections::BTreeMap;
use std::io;

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::error::OciError;
use super::store::Store;
use crate::compression::Compression;
use crate::error::FromIo;

/// The records' directory under the store root.
const PUSHED_DIR: &str = "pushed";

/// What was pushed of one local image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRecord {
    /// The manifests made for pushes, by the compression of their layers (`gzip`).
    #[serde(default)]
    pub recompressed: BTreeMap<String, Digest>,
    /// `registry/repository@digest` for each place the image is known to be, sorted.
    #[serde(default)]
    pub repo_digests: Vec<String>,
}

impl Store {
    /// The record of the local manifest `local`; empty when nothing was pushed from it (or
    /// its record cannot be read: it is only a cache and a list to show).
    pub fn push_record(&self, local: &Digest) -> PushRecord {
        fs_err::read(self.push_record_path(local))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// The manifest made from `local` with layers in `compression` for an earlier push, if
    /// it and every blob it names are still in the store.
    pub(crate) fn recompressed_manifest(
        &self,
        local: &Digest,
        compression: Compression,
    ) -> Option<Digest> {
        let digest = self
            .push_record(local)
            .recompressed
            .get(compression.name())?
            .clone();
        let manifest: oci_spec::image::ImageManifest = self.parse(&digest).ok()?;
        let mut blobs = manifest.layers().iter().chain([manifest.config()]);
        blobs
            .all(|blob| Digest::from_oci(blob.digest()).is_ok_and(|blob| self.has_blob(&blob)))
            .then_some(digest)
    }

    /// Remember that `local`'s layers in `compression` make the manifest `pushed`.
    pub(crate) fn record_recompressed(
        &self,
        local: &Digest,
        compression: Compression,
        pushed: &Digest,
    ) -> Result<(), OciError> {
        self.update_push_record(local, |record| {
            record
                .recompressed
                .insert(compression.name().to_string(), pushed.clone());
        })
    }

    /// Remember that a registry holds `local` as `repo_digest`
    /// (`registry/repository@sha256:…`).
    pub fn record_repo_digest(&self, local: &Digest, repo_digest: &str) -> Result<(), OciError> {
        self.update_push_record(local, |record| {
            if let Err(at) = record
                .repo_digests
                .binary_search_by(|known| known.as_str().cmp(repo_digest))
            {
                record.repo_digests.insert(at, repo_digest.to_string());
            }
        })
    }

    /// Remove the records of images whose manifest is no longer in the store.
    pub(crate) fn remove_stale_push_records(&self) -> Result<(), OciError> {
        let dir = self.root().join(PUSHED_DIR);
        let entries = match fs_err::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(OciError::io("list", &dir, source)),
        };
        for entry in entries {
            let path = entry
                .map_err(|source| OciError::io("list", &dir, source))?
                .path();
            let local = path
                .file_stem()
                .and_then(|stem| stem.to_str())
                .and_then(|hex| Digest::from_sha256_hex(hex).ok());
            if local.is_some_and(|local| !self.has_blob(&local)) {
                fs_err::remove_file(&path)
                    .map_err(|source| OciError::io("remove", &path, source))?;
            }
        }
        Ok(())
    }

    fn update_push_record(
        &self,
        local: &Digest,
        change: impl FnOnce(&mut PushRecord),
    ) -> Result<(), OciError> {
        let _lock = self.lock()?;
        let mut record = self.push_record(local);
        change(&mut record);
        let path = self.push_record_path(local);
        let dir = self.root().join(PUSHED_DIR);
        fs_err::create_dir_all(&dir)
            .map_err(|source| OciError::io("create the directory", &dir, source))?;
        let mut json =
            serde_json::to_vec_pretty(&record).map_err(|source| OciError::InvalidJson {
                what: format!("`{}`", path.display()),
                source,
            })?;
        json.push(b'\n');
        self.write_file_atomic(&path, &json)
    }

    fn push_record_path(&self, local: &Digest) -> std::path::PathBuf {
        self.root()
            .join(PUSHED_DIR)
            .join(format!("{}.json", local.hex()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::convert::recompressed_image;
    use super::super::tests::{new_store, tagged_image};
    use super::*;

    /// The gzip copy is reused while whole, made again with the same bytes once `prune`
    /// took it, and the record goes with its image.
    #[test]
    fn a_recompressed_copy_is_reused_remade_identically_and_forgotten_with_its_image() {
        let (_dir, store) = new_store();
        tagged_image(&store, "iris", "print('iris')\n");
        let image = store.resolve("iris").unwrap();
        let local = image.manifest_digest().unwrap();
        let copy = recompressed_image(&store, &image, Compression::Gzip).unwrap();
        let digest = copy.manifest_digest().unwrap();
        assert_ne!(digest, local);
        assert_eq!(
            store.recompressed_manifest(&local, Compression::Gzip),
            Some(digest.clone())
        );
        for repo_digest in ["b.io/x@sha256:1", "a.io/x@sha256:2", "b.io/x@sha256:1"] {
            store.record_repo_digest(&local, repo_digest).unwrap();
        }
        assert_eq!(
            store.push_record(&local).repo_digests,
            ["a.io/x@sha256:2", "b.io/x@sha256:1"]
        );

        store.prune(&[]).unwrap();
        assert_eq!(store.recompressed_manifest(&local, Compression::Gzip), None);
        let again = recompressed_image(&store, &image, Compression::Gzip).unwrap();
        assert_eq!(again.manifest_digest().unwrap(), digest);
        assert_eq!(again.manifest, copy.manifest);

        store.untag("iris").unwrap();
        store.prune(&[]).unwrap();
        assert_eq!(store.push_record(&local), PushRecord::default());
        assert!(
            !store
                .root()
                .join(PUSHED_DIR)
                .join(format!("{}.json", local.hex()))
                .exists()
        );
    }
}
