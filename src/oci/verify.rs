//! Store integrity: re-hash every blob in `blobs/sha256/` and compare it with its file name,
//! and find the blobs that the images in `index.json` name but the store lacks.
//!
//! A blob's name is its sha256 (<https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md#blobs>),
//! so a blob whose bytes hash to something else was damaged after it was written. References
//! are followed as [`Store::prune`] follows them: an index's `manifests[]`, a manifest's
//! `config` and `layers[]`; a manifest whose descriptor sizes disagree with its blobs is
//! reported as invalid. The unpacked `layers/<diffid>/` directories belong to the runtime and
//! are not looked at.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufReader};
use std::path::PathBuf;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};
use rayon::prelude::*;

use super::digest::{Digest, digest_reader};
use super::error::OciError;
use super::index::ref_name;
use super::prune::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST};
use super::store::Store;
use crate::error::FromIo;

/// Read size for hashing: large enough that a multi-gigabyte layer costs few syscalls, small
/// enough that one buffer per rayon thread is nothing.
const HASH_BUFFER: usize = 1 << 20;

/// What [`Store::verify`] (or [`Store::repair`]) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCheck {
    /// Blobs re-hashed, and their total size.
    pub blobs_checked: usize,
    pub bytes_checked: u64,
    /// Entries of `index.json`.
    pub images: usize,
    /// Problems, corrupt and unreadable blobs first, each list sorted by digest.
    pub problems: Vec<BlobProblem>,
}

impl StoreCheck {
    /// The problems that [`Store::repair`] removes.
    pub fn corrupt(&self) -> impl Iterator<Item = &BlobProblem> {
        self.problems
            .iter()
            .filter(|problem| matches!(problem.kind, ProblemKind::Corrupt { .. }))
    }
}

/// One blob that is damaged, unreadable, or missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobProblem {
    pub digest: Digest,
    pub path: PathBuf,
    pub kind: ProblemKind,
    /// The images that use the blob: their names, or `@sha256:…` for an unnamed entry.
    pub images: BTreeSet<String>,
    /// Whether [`Store::repair`] deleted it.
    pub removed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// Its bytes hash to `actual`, not to its name.
    Corrupt { actual: Digest },
    /// It could not be read: `message` says why (permissions, an I/O error).
    Unreadable { message: String },
    /// It hashes correctly but, named as a manifest or index, is not one.
    Invalid { message: String },
    /// An image uses it and the store does not have it.
    Missing,
}

/// What hashing one blob file gave.
enum Hashed {
    Intact(u64),
    Corrupt(Digest, u64),
    Unreadable(String),
    /// Removed between listing and hashing (a concurrent prune): not a problem.
    Gone,
}

impl Store {
    /// Re-hash every blob (in parallel, streaming each file) and check that every blob the
    /// images use is present. Takes no lock: blobs appear whole by rename, so a concurrent
    /// build cannot make a blob look corrupt; and `index.json` is read before the blobs are
    /// listed, so an image tagged meanwhile (its blobs written after the listing) is not
    /// taken for one with missing blobs.
    pub fn verify(&self) -> Result<StoreCheck, OciError> {
        let index = self.read_index()?;
        let hashed = self.hash_blobs()?;
        let mut check = StoreCheck {
            blobs_checked: hashed.len(),
            images: index.manifests().len(),
            ..StoreCheck::default()
        };
        let mut users = Users::default();
        for entry in index.manifests() {
            let image = ref_name(entry)
                .map_or_else(|| format!("@{}", entry.digest().as_ref()), str::to_string);
            self.walk(entry, &image, &hashed, &mut users);
        }
        for (digest, result) in &hashed {
            let kind = match result {
                Hashed::Intact(size) => {
                    check.bytes_checked += size;
                    continue;
                }
                Hashed::Corrupt(actual, size) => {
                    check.bytes_checked += size;
                    ProblemKind::Corrupt {
                        actual: actual.clone(),
                    }
                }
                Hashed::Unreadable(message) => ProblemKind::Unreadable {
                    message: message.clone(),
                },
                Hashed::Gone => continue,
            };
            check.problems.push(self.problem(digest, kind, &users));
        }
        for (digest, message) in &users.invalid {
            check.problems.push(self.problem(
                digest,
                ProblemKind::Invalid {
                    message: message.clone(),
                },
                &users,
            ));
        }
        for digest in users.images.keys() {
            if !hashed.contains_key(digest) {
                check
                    .problems
                    .push(self.problem(digest, ProblemKind::Missing, &users));
            }
        }
        Ok(check)
    }

    /// [`Store::verify`] under the store's lock, then delete the corrupt blobs (marked
    /// `removed`). Holding the lock keeps a build in another process from tagging an image
    /// whose blob is deleted under it. Unreadable and missing blobs are left to the user.
    pub fn repair(&self) -> Result<StoreCheck, OciError> {
        let _lock = self.lock()?;
        let mut check = self.verify()?;
        for problem in &mut check.problems {
            if matches!(problem.kind, ProblemKind::Corrupt { .. }) {
                match fs_err::remove_file(&problem.path) {
                    Ok(()) => {}
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => return Err(OciError::io("remove", &problem.path, source)),
                }
                problem.removed = true;
            }
        }
        Ok(check)
    }

    /// Every blob file named like a sha256 digest, hashed on rayon's pool. Files with other
    /// names are not blobs mlpack wrote, and are left out (as `prune` leaves them).
    fn hash_blobs(&self) -> Result<BTreeMap<Digest, Hashed>, OciError> {
        let dir = self.blobs_dir();
        let mut blobs = Vec::new();
        for item in fs_err::read_dir(&dir).map_err(|source| OciError::io("list", &dir, source))? {
            let item = item.map_err(|source| OciError::io("list", &dir, source))?;
            if let Some(digest) = item
                .file_name()
                .to_str()
                .and_then(|hex| Digest::from_sha256_hex(hex).ok())
            {
                blobs.push(digest);
            }
        }
        Ok(blobs
            .into_par_iter()
            .map(|digest| {
                let hashed = self.hash_blob(&digest);
                (digest, hashed)
            })
            .collect())
    }

    fn hash_blob(&self, digest: &Digest) -> Hashed {
        let path = self.blob_path(digest);
        // `fs_err` names the path in open and read errors alike.
        let result = fs_err::File::open(&path)
            .and_then(|file| digest_reader(&mut BufReader::with_capacity(HASH_BUFFER, file)));
        match result {
            Ok((actual, size)) if actual == *digest => Hashed::Intact(size),
            Ok((actual, size)) => Hashed::Corrupt(actual, size),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Hashed::Gone,
            Err(error) => Hashed::Unreadable(error.to_string()),
        }
    }

    /// Record that `image` uses `descriptor`'s blob and, for an intact manifest or index,
    /// everything it names. A damaged or absent manifest cannot be followed further.
    fn walk(
        &self,
        descriptor: &Descriptor,
        image: &str,
        hashed: &BTreeMap<Digest, Hashed>,
        users: &mut Users,
    ) {
        let Ok(digest) = Digest::from_oci(descriptor.digest()) else {
            // Another algorithm: not in `blobs/sha256/`, so nothing to check.
            return;
        };
        let first_visit = users
            .images
            .entry(digest.clone())
            .or_default()
            .insert(image.to_string());
        if !first_visit || !matches!(hashed.get(&digest), Some(Hashed::Intact(_))) {
            return;
        }
        let media_type = descriptor.media_type().to_string();
        if matches!(descriptor.media_type(), MediaType::ImageManifest)
            || media_type == DOCKER_MANIFEST
        {
            match self.parse::<ImageManifest>(&digest) {
                Ok(manifest) => {
                    sizes_match(&digest, &manifest, hashed, users);
                    self.walk(manifest.config(), image, hashed, users);
                    for layer in manifest.layers() {
                        self.walk(layer, image, hashed, users);
                    }
                }
                Err(error) => users.invalid(digest, &error),
            }
        } else if matches!(descriptor.media_type(), MediaType::ImageIndex)
            || media_type == DOCKER_MANIFEST_LIST
        {
            match self.parse::<ImageIndex>(&digest) {
                Ok(index) => {
                    for manifest in index.manifests() {
                        self.walk(manifest, image, hashed, users);
                    }
                }
                Err(error) => users.invalid(digest, &error),
            }
        }
    }

    fn problem(&self, digest: &Digest, kind: ProblemKind, users: &Users) -> BlobProblem {
        BlobProblem {
            path: self.blob_path(digest),
            images: users.images.get(digest).cloned().unwrap_or_default(),
            digest: digest.clone(),
            kind,
            removed: false,
        }
    }
}

/// Report `manifest` as invalid where a descriptor's size is not its intact blob's (a damaged
/// blob is reported as such, not blamed on the manifest).
fn sizes_match(
    digest: &Digest,
    manifest: &ImageManifest,
    hashed: &BTreeMap<Digest, Hashed>,
    users: &mut Users,
) {
    let config = std::iter::once(("config", manifest.config()));
    let layers = manifest.layers().iter().map(|layer| ("layer", layer));
    for (what, descriptor) in config.chain(layers) {
        let Ok(blob) = Digest::from_oci(descriptor.digest()) else {
            continue;
        };
        if let Some(Hashed::Intact(size)) = hashed.get(&blob)
            && *size != descriptor.size()
        {
            let error = OciError::DescriptorSize {
                image: digest.clone(),
                what,
                digest: blob,
                expected: descriptor.size(),
                actual: *size,
            };
            users.invalid(digest.clone(), &error);
        }
    }
}

/// Which images use each blob, and the manifests that could not be parsed.
#[derive(Default)]
struct Users {
    images: BTreeMap<Digest, BTreeSet<String>>,
    invalid: BTreeMap<Digest, String>,
}

impl Users {
    fn invalid(&mut self, digest: Digest, error: &OciError) {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        self.invalid.insert(digest, message);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::oci::{HistoryEntry, ImageSpec, LayerWriter, write_image};

    /// A store with one tagged one-layer image; returns it with the layer's digest.
    fn store_with_image(root: &std::path::Path) -> (Store, Digest) {
        let store = Store::open(&root.join("store")).unwrap();
        let tree = root.join("tree");
        fs_err::create_dir_all(&tree).unwrap();
        fs_err::write(tree.join("hello.txt"), "hello\n").unwrap();
        let layer = LayerWriter::new().write_dir(&store, &tree).unwrap();
        let layer_digest = layer.digest.clone();
        let descriptor = write_image(
            &store,
            &ImageSpec {
                cmd: vec!["true".to_string()],
                history: vec![HistoryEntry {
                    created_by: "test".to_string(),
                    comment: String::new(),
                    empty_layer: false,
                }],
                ..ImageSpec::new(vec![layer], "amd64", "2000-01-01T00:00:00Z".to_string())
            },
        )
        .unwrap();
        store.tag(&"tiny:1".parse().unwrap(), &descriptor).unwrap();
        (store, layer_digest)
    }

    fn damage(store: &Store, digest: &Digest) {
        let path = store.blob_path(digest);
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        fs_err::write(&path, "not the layer").unwrap();
    }

    #[test]
    fn an_intact_store_has_no_problems() {
        let temp = tempfile::tempdir().unwrap();
        let (store, _) = store_with_image(temp.path());
        let check = store.verify().unwrap();
        assert_eq!(check.problems, Vec::new());
        assert_eq!((check.blobs_checked, check.images), (3, 1));
        assert!(check.bytes_checked > 0);
    }

    #[test]
    fn finds_repairs_and_then_reports_missing() {
        let temp = tempfile::tempdir().unwrap();
        let (store, layer) = store_with_image(temp.path());
        damage(&store, &layer);
        let check = store.verify().unwrap();
        let [problem] = check.problems.as_slice() else {
            panic!("{check:?}");
        };
        assert_eq!(problem.digest, layer);
        assert_eq!(
            problem.kind,
            ProblemKind::Corrupt {
                actual: Digest::of(b"not the layer")
            }
        );
        assert_eq!(problem.images, BTreeSet::from(["tiny:1".to_string()]));
        assert!(!problem.removed);

        let repaired = store.repair().unwrap();
        assert_eq!(repaired.corrupt().filter(|p| p.removed).count(), 1);
        assert!(!store.has_blob(&layer));

        let after = store.verify().unwrap();
        let [missing] = after.problems.as_slice() else {
            panic!("{after:?}");
        };
        assert_eq!(
            (&missing.digest, &missing.kind),
            (&layer, &ProblemKind::Missing)
        );
        assert_eq!(missing.images, BTreeSet::from(["tiny:1".to_string()]));
    }

    #[test]
    fn a_corrupt_manifest_is_reported_with_its_image() {
        let temp = tempfile::tempdir().unwrap();
        let (store, _) = store_with_image(temp.path());
        let (_, descriptor) = store.images().unwrap().remove(0);
        let manifest = Digest::from_oci(descriptor.digest()).unwrap();
        damage(&store, &manifest);
        let check = store.verify().unwrap();
        let [problem] = check.problems.as_slice() else {
            panic!("{check:?}");
        };
        assert_eq!(problem.digest, manifest);
        assert_eq!(problem.images, BTreeSet::from(["tiny:1".to_string()]));
    }
}
