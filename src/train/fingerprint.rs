//! Dataset fingerprints: the sha256 of a sorted list of `(relative path, file sha256)`, so
//! the same files give the same fingerprint wherever they live. File hashes are cached in
//! `$XDG_CACHE_HOME/mlpack/fingerprints.json` by absolute path, size, mtime and inode: a file
//! whose four agree is not read again (the check `make` and `rsync` trust).

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A dataset's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub sha256: String,
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CachedFile {
    size: u64,
    mtime_ns: i128,
    inode: u64,
    sha256: String,
}

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
        let path = dir.join("fingerprints.json");
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

    /// Fingerprint the file or directory at `root`.
    pub fn fingerprint(&mut self, root: &Path) -> io::Result<Fingerprint> {
        let mut files = Vec::new();
        collect(root, root, &mut files)?;
        files.sort();
        let mut total = Sha256::new();
        let mut bytes = 0;
        for relative in &files {
            let path = if relative.as_os_str().is_empty() {
                root.to_path_buf()
            } else {
                root.join(relative)
            };
            let (sha256, size) = self.file_sha256(&path)?;
            bytes += size;
            total.update(relative.to_string_lossy().as_bytes());
            total.update(b"\0");
            total.update(sha256.as_bytes());
            total.update(b"\n");
        }
        Ok(Fingerprint {
            sha256: crate::sha256::hex(&total.finalize()),
            files: files.len() as u64,
            bytes,
        })
    }

    fn file_sha256(&mut self, path: &Path) -> io::Result<(String, u64)> {
        let metadata = fs_err::metadata(path)?;
        let key = fs_err::canonicalize(path)?;
        let current = CachedFile {
            size: metadata.size(),
            mtime_ns: i128::from(metadata.mtime()) * 1_000_000_000
                + i128::from(metadata.mtime_nsec()),
            inode: metadata.ino(),
            sha256: String::new(),
        };
        if let Some(cached) = self.files.get(&key)
            && cached.size == current.size
            && cached.mtime_ns == current.mtime_ns
            && cached.inode == current.inode
        {
            return Ok((cached.sha256.clone(), cached.size));
        }
        let sha256 = crate::sha256::file_sha256(path)?;
        self.hashed += 1;
        self.files.insert(
            key,
            CachedFile {
                sha256: sha256.clone(),
                ..current
            },
        );
        Ok((sha256, metadata.size()))
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
        let temp = self.path.with_extension("json.tmp");
        if fs_err::write(&temp, bytes).is_ok() {
            let _ = fs_err::rename(&temp, &self.path);
        }
    }
}

/// Every regular file under `dir` (following symlinks, as the container's bind mount does),
/// relative to `root`; a file `root` gives one empty relative path.
fn collect(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    let metadata = fs_err::metadata(dir)?;
    if !metadata.is_dir() {
        files.push(dir.strip_prefix(root).unwrap_or(dir).to_path_buf());
        return Ok(());
    }
    for entry in fs_err::read_dir(dir)? {
        let path = entry?.path();
        collect(root, &path, files)?;
    }
    Ok(())
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
        assert_eq!((first.files, first.bytes), (2, 8));
        cache.save();

        let mut cache = FingerprintCache::open(&temp.path().join("cache"));
        assert_eq!(cache.fingerprint(&a).unwrap(), first);
        assert_eq!(cache.hashed, 0, "every file came from the cache");
        fs_err::write(a.join("x.csv"), "1,3\n").unwrap();
        assert_ne!(cache.fingerprint(&a).unwrap(), first);
        assert_eq!(cache.hashed, 1);
    }
}
