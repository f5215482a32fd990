//! Dataset fingerprints: the sha256 of a sorted list of `(relative path, file sha256)`, so
//! the same files give the same fingerprint wherever they live. File hashes are cached in
//! `$XDG_CACHE_HOME/mlpack/fingerprints.json` by absolute path, size, mtime and inode: a file
//! whose four agree is not read again (the check `make` and `rsync` trust).
//!
//! A fingerprint covers what the container sees through the dataset's bind mount, and nothing
//! else. The dataset's own path is resolved on the host (that directory is what is mounted),
//! but nothing inside it is followed: a symlink is fingerprinted as a link (its target
//! string), as the container sees it. A link whose target leads out of the dataset (absolute,
//! or `..` past its top) is refused: in the container it would resolve against the image's
//! file system, not the host files it names, so the fingerprint could not say what the job
//! reads. A dangling link inside the dataset is fine: the job sees it dangle too. FIFOs,
//! sockets and devices are fingerprinted by kind and never opened (a FIFO would block).

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::io;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::atomic_file::{self, Durability};
use crate::error::Diagnostic;

/// A dataset's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub sha256: String,
    /// Regular files, and their total size.
    pub files: u64,
    pub bytes: u64,
    /// Symlinks, fingerprinted by their target string.
    pub links: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CachedFile {
    size: u64,
    mtime_ns: i128,
    inode: u64,
    sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    #[error("could not read `{}` to fingerprint it", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "`{}` in the dataset `{}` is a symlink to `{}`, which leads out of the dataset: in the container it would not reach those files",
        link.display(),
        dataset.display(),
        target.display()
    )]
    LinkLeavesDataset {
        dataset: PathBuf,
        /// Relative to the dataset.
        link: PathBuf,
        target: PathBuf,
    },
}

impl FingerprintError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl Diagnostic for FingerprintError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::LinkLeavesDataset { .. } => vec![
                "make the link relative and inside the dataset, copy the files in, or mount the link's target as its own `[[datasets]]` entry".to_string(),
            ],
            Self::Io { .. } => Vec::new(),
        }
    }
}

/// One entry of a dataset, as the container sees it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Entry {
    File,
    Link(PathBuf),
    /// A FIFO, socket or device: its kind.
    Special(&'static str),
}

/// The cache's file name in its directory.
const CACHE_FILE: &str = "fingerprints.json";

/// File hashes from earlier runs.
#[derive(Debug)]
pub struct FingerprintCache {
    path: PathBuf,
    files: BTreeMap<PathBuf, CachedFile>,
    /// Files actually read (not taken from the cache) since opening.
    pub hashed: u64,
}

impl FingerprintCache {
    /// The cache in `dir`; a missing or unreadable cache starts empty.
    pub fn open(dir: &Path) -> Self {
        let path = dir.join(CACHE_FILE);
        let files = fs_err::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            path,
            files,
            hashed: 0,
        }
    }

    /// Fingerprint the file or directory at `root`, which must be a resolved path (the one
    /// bind-mounted): nothing under it is followed.
    pub fn fingerprint(&mut self, root: &Path) -> Result<Fingerprint, FingerprintError> {
        let mut entries = Vec::new();
        collect(root, Path::new(""), &mut entries)?;
        entries.sort();
        let mut total = Sha256::new();
        let (mut files, mut bytes, mut links) = (0, 0, 0);
        for (relative, entry) in &entries {
            // A regular file's line is what it was before links were told apart, so records
            // of datasets without links keep their fingerprints.
            let summary = match entry {
                Entry::File => {
                    let (sha256, size) = self.file_sha256(&root.join(relative))?;
                    files += 1;
                    bytes += size;
                    sha256
                }
                Entry::Link(target) => {
                    check_link(root, relative, target)?;
                    links += 1;
                    format!("-> {}", target.display())
                }
                Entry::Special(kind) => format!("({kind})"),
            };
            total.update(relative.to_string_lossy().as_bytes());
            total.update(b"\0");
            total.update(summary.as_bytes());
            total.update(b"\n");
        }
        Ok(Fingerprint {
            sha256: crate::sha256::hex(&total.finalize()),
            files,
            bytes,
            links,
        })
    }

    /// `path` is a regular file reached without links, so it is its own cache key.
    fn file_sha256(&mut self, path: &Path) -> Result<(String, u64), FingerprintError> {
        let file = super::outputs::open_regular(path)
            .map_err(|error| FingerprintError::io(path, error))?;
        let metadata = file
            .metadata()
            .map_err(|error| FingerprintError::io(path, error))?;
        let current = CachedFile {
            size: metadata.size(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000
                + i128::from(metadata.mtime_nsec()),
            inode: metadata.ino(),
            sha256: String::new(),
        };
        if let Some(cached) = self.files.get(path)
            && cached.size == current.size
            && cached.mtime_ns == current.mtime_ns
            && cached.inode == current.inode
        {
            return Ok((cached.sha256.clone(), cached.size));
        }
        let sha256 = crate::sha256::reader_sha256(&mut &file)
            .map_err(|error| FingerprintError::io(path, error))?;
        self.hashed += 1;
        self.files.insert(
            path.to_path_buf(),
            CachedFile {
                sha256: sha256.clone(),
                ..current
            },
        );
        Ok((sha256, metadata.size()))
    }

    /// A cache in `dir` holding this one's hashes of the files under `roots`: what a cluster
    /// run's node 0 checks its datasets with, so that it reads no file the submission hashed
    /// and that has not changed since, whatever its own cache holds.
    #[must_use]
    pub fn subset(&self, roots: &[&Path], dir: &Path) -> Self {
        Self {
            path: dir.join(CACHE_FILE),
            files: self
                .files
                .iter()
                .filter(|(path, _)| roots.iter().any(|root| path.starts_with(root)))
                .map(|(path, file)| (path.clone(), file.clone()))
                .collect(),
            hashed: 0,
        }
    }

    /// Write the cache back (atomically); failures only cost a re-hash next time.
    pub fn save(&self) {
        let Some(dir) = self.path.parent() else {
            return;
        };
        let _ = fs_err::create_dir_all(dir);
        let Ok(bytes) = serde_json::to_vec(&self.files) else {
            return;
        };
        let _ = atomic_file::write(&self.path, &bytes, Durability::Cached);
    }
}

/// Every entry under `root/relative`, not following links; a file `root` gives one entry with
/// an empty relative path.
fn collect(
    root: &Path,
    relative: &Path,
    entries: &mut Vec<(PathBuf, Entry)>,
) -> Result<(), FingerprintError> {
    let path = root.join(relative);
    let kind = fs_err::symlink_metadata(&path)
        .map_err(|error| FingerprintError::io(&path, error))?
        .file_type();
    let entry = if kind.is_dir() {
        let listing =
            fs_err::read_dir(&path).map_err(|error| FingerprintError::io(&path, error))?;
        for item in listing {
            let item = item.map_err(|error| FingerprintError::io(&path, error))?;
            collect(root, &relative.join(item.file_name()), entries)?;
        }
        return Ok(());
    } else if kind.is_file() {
        Entry::File
    } else if kind.is_symlink() {
        Entry::Link(fs_err::read_link(&path).map_err(|error| FingerprintError::io(&path, error))?)
    } else if kind.is_fifo() {
        Entry::Special("fifo")
    } else if kind.is_socket() {
        Entry::Special("socket")
    } else if kind.is_char_device() {
        Entry::Special("character device")
    } else {
        Entry::Special("block device")
    };
    entries.push((relative.to_path_buf(), entry));
    Ok(())
}

/// How many links one resolution may pass through, as Linux allows (`MAXSYMLINKS`).
const MAX_LINK_HOPS: usize = 40;

/// Refuse the link at `root/link` (target `target`) if resolving it, as the kernel would,
/// passes above `root` or starts from `/`: the check `openat2(RESOLVE_BENEATH)` makes.
/// Links met on the way are followed inside the dataset; from a component that does not
/// exist on, the rest is taken lexically (strict where the link dangles).
fn check_link(root: &Path, link: &Path, target: &Path) -> Result<(), FingerprintError> {
    let leaves = || FingerprintError::LinkLeavesDataset {
        dataset: root.to_path_buf(),
        link: link.to_path_buf(),
        target: target.to_path_buf(),
    };
    let mut resolved: PathBuf = link.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut pending: VecDeque<Option<OsString>> = VecDeque::new();
    let mut next = Some(target.to_path_buf());
    let (mut hops, mut missing) = (0, false);
    loop {
        if let Some(target) = next.take() {
            // `None` is `..`; `.` and empty components change nothing.
            let mut steps = Vec::new();
            for component in target.components() {
                match component {
                    Component::Normal(name) => steps.push(Some(name.to_os_string())),
                    Component::ParentDir => steps.push(None),
                    Component::CurDir => {}
                    Component::RootDir | Component::Prefix(_) => return Err(leaves()),
                }
            }
            for step in steps.into_iter().rev() {
                pending.push_front(step);
            }
        }
        let Some(step) = pending.pop_front() else {
            return Ok(());
        };
        let Some(name) = step else {
            if !resolved.pop() {
                return Err(leaves());
            }
            continue;
        };
        resolved.push(name);
        if missing {
            continue;
        }
        let here = root.join(&resolved);
        match fs_err::symlink_metadata(&here) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    // A loop: the kernel answers ELOOP, in the container as well.
                    return Ok(());
                }
                resolved.pop();
                next = Some(
                    fs_err::read_link(&here).map_err(|error| FingerprintError::io(&here, error))?,
                );
            }
            Ok(_) => {}
            Err(_) => missing = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_files_same_fingerprint_and_unchanged_files_are_not_reread() {
        let temp = tempfile::tempdir().unwrap();
        let (a, b) = (temp.path().join("a"), temp.path().join("b"));
        for dir in [&a, &b] {
            fs_err::create_dir_all(dir.join("sub")).unwrap();
            fs_err::write(dir.join("x.csv"), "1,2\n").unwrap();
            fs_err::write(dir.join("sub/y.csv"), "3,4\n").unwrap();
        }
        let mut cache = FingerprintCache::open(&temp.path().join("cache"));
        let first = cache.fingerprint(&a).unwrap();
        assert_eq!(first, cache.fingerprint(&b).unwrap());
        assert_eq!((first.files, first.bytes, first.links), (2, 8, 0));
        cache.save();

        let mut cache = FingerprintCache::open(&temp.path().join("cache"));
        assert_eq!(cache.fingerprint(&a).unwrap(), first);
        assert_eq!(cache.hashed, 0, "every file came from the cache");
        fs_err::write(a.join("x.csv"), "1,3\n").unwrap();
        assert_ne!(cache.fingerprint(&a).unwrap(), first);
        assert_eq!(cache.hashed, 1);
    }

    #[test]
    fn a_subset_answers_for_the_files_under_its_roots_without_reading_them() {
        let temp = tempfile::tempdir().unwrap();
        let (data, other) = (temp.path().join("data"), temp.path().join("data2"));
        for dir in [&data, &other] {
            fs_err::create_dir_all(dir).unwrap();
            fs_err::write(dir.join("x.csv"), "1,2\n").unwrap();
        }
        let mut cache = FingerprintCache::open(&temp.path().join("cache"));
        let fingerprint = cache.fingerprint(&data).unwrap();
        cache.fingerprint(&other).unwrap();
        let run = temp.path().join("run");
        cache.subset(&[&data], &run).save();

        let mut subset = FingerprintCache::open(&run);
        assert_eq!(subset.files.len(), 1, "only the files under the roots");
        assert_eq!(subset.fingerprint(&data).unwrap(), fingerprint);
        assert_eq!(subset.hashed, 0, "no file was read");
        fs_err::write(data.join("x.csv"), "1,2,3\n").unwrap();
        assert_ne!(subset.fingerprint(&data).unwrap(), fingerprint);
        assert_eq!(subset.hashed, 1, "a changed file is read");
    }

    #[test]
    fn links_are_fingerprinted_as_links_and_never_followed() {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("data");
        fs_err::create_dir_all(data.join("sub")).unwrap();
        fs_err::write(data.join("x.csv"), "1,2\n").unwrap();
        let mut cache = FingerprintCache::open(&temp.path().join("cache"));
        let plain = cache.fingerprint(&data).unwrap();

        std::os::unix::fs::symlink("missing.csv", data.join("dangling")).unwrap();
        std::os::unix::fs::symlink("../x.csv", data.join("sub/up")).unwrap();
        nix::unistd::mkfifo(&data.join("pipe"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let linked = cache.fingerprint(&data).unwrap();
        assert_eq!((linked.files, linked.bytes, linked.links), (1, 4, 2));
        assert_ne!(linked.sha256, plain.sha256);

        // The link's target string is what counts, not the file it leads to.
        fs_err::remove_file(data.join("sub/up")).unwrap();
        std::os::unix::fs::symlink("../x.csv/.", data.join("sub/up")).unwrap();
        assert_ne!(cache.fingerprint(&data).unwrap(), linked);
    }

    #[test]
    fn a_link_out_of_the_dataset_is_refused_naming_it() {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("data");
        fs_err::create_dir_all(data.join("sub")).unwrap();
        let mut cache = FingerprintCache::open(&temp.path().join("cache"));
        let refused = |cache: &mut FingerprintCache, target: &str| {
            let link = data.join("sub/link");
            let _ = fs_err::remove_file(&link);
            std::os::unix::fs::symlink(target, &link).unwrap();
            cache.fingerprint(&data).err().map(|error| {
                error
                    .to_string()
                    .replace(&data.display().to_string(), "[DATA]")
            })
        };
        insta::assert_snapshot!(refused(&mut cache, "/etc").unwrap(), @"`sub/link` in the dataset `[DATA]` is a symlink to `/etc`, which leads out of the dataset: in the container it would not reach those files");
        assert!(refused(&mut cache, "../../outside").is_some());
        assert!(refused(&mut cache, "../sub/../../x").is_some());
        assert!(refused(&mut cache, "missing/../../../x").is_some());
        assert_eq!(refused(&mut cache, "../sub/./x"), None);
        assert_eq!(refused(&mut cache, "missing/../.."), None);

        // Through another link: `here -> .` then `here/..` is the dataset's parent.
        std::os::unix::fs::symlink(".", data.join("here")).unwrap();
        std::os::unix::fs::symlink("here/..", data.join("up")).unwrap();
        assert!(cache.fingerprint(&data).is_err());
        fs_err::remove_file(data.join("up")).unwrap();
        // A loop stays inside: it dangles in the container too.
        std::os::unix::fs::symlink("loop", data.join("loop")).unwrap();
        assert_eq!(refused(&mut cache, "../loop"), None);
    }
}
