//! The on-disk HTTP cache, under the client's cache directory:
//!
//! - `simple-v1/<index>/<name>.json`: a project's parsed files, with the validators (`ETag`,
//!   `Last-Modified`) and freshness (`Cache-Control: max-age`, less `Age`) of the answer that
//!   brought them. `<index>` is the first 16 hex digits of the sha256 of the index URL
//!   (without credentials).
//! - `metadata-v1/<sha256>.metadata` (or `url-<sha256 of URL>.metadata` for a file the index
//!   gave no hash for): a file's raw core metadata. A file's metadata never changes, so it is
//!   never revalidated.
//!
//! Writes are atomic (a temporary file renamed into place), so a reader never sees half a
//! file. A file that can't be read or parsed is treated as missing: the cache can always be
//! rebuilt from the network, so it is never the cause of an error.

use crate::atomic_file::{self, Durability};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};

use super::{DistFile, ProjectFiles, PypiError};

/// A cached project page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CachedPage {
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
    /// Seconds since the Unix epoch when the answer was received (or last revalidated).
    pub(crate) fetched_at: u64,
    /// How long, from `fetched_at`, the page may be used without asking the index again.
    pub(crate) max_age: Option<u64>,
    pub(crate) project: ProjectFiles,
}

impl CachedPage {
    pub(crate) fn is_fresh(&self, now: u64) -> bool {
        self.max_age
            .is_some_and(|max_age| now < self.fetched_at.saturating_add(max_age))
    }
}

/// What an answer's caching headers allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Storage {
    /// `no-store`: use the answer, keep nothing.
    NoStore,
    /// Keep it, fresh for `max_age` seconds; `None` means revalidate on every use.
    Keep { max_age: Option<u64> },
}

/// Reads `Cache-Control` and `Age` per RFC 9111 §4.2.1 and §4.2.3, as far as indexes use them:
/// `max-age`, `no-cache` and `no-store`.
pub(crate) fn storage(cache_control: Option<&str>, age: Option<&str>) -> Storage {
    let mut max_age = None;
    for directive in cache_control.unwrap_or_default().split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" {
            return Storage::NoStore;
        }
        if directive == "no-cache" {
            max_age = Some(0);
        } else if let Some(seconds) = directive.strip_prefix("max-age=")
            && max_age != Some(0)
        {
            max_age = seconds.trim_matches('"').parse::<u64>().ok();
        }
    }
    let age = age
        .and_then(|age| age.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Storage::Keep {
        max_age: max_age.map(|max_age| max_age.saturating_sub(age)),
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Lowercase hex sha256 of `bytes`.
pub(crate) use crate::sha256::{hex, sha256_hex};

#[derive(Debug, Clone)]
pub(crate) struct DiskCache {
    root: PathBuf,
}

impl DiskCache {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Where `name`'s page from `index` (without credentials) is kept.
    pub(crate) fn page_path(&self, index: &str, name: &PackageName) -> PathBuf {
        let index_key = &sha256_hex(index.as_bytes())[..16];
        self.root
            .join("simple-v1")
            .join(index_key)
            .join(format!("{name}.json"))
    }

    /// Where the core metadata of `file` is kept.
    pub(crate) fn metadata_path(&self, file: &DistFile) -> PathBuf {
        self.root
            .join("metadata-v1")
            .join(format!("{}.metadata", file_key(file)))
    }

    /// Where the names of the files in the wheel `file` are kept, one a line.
    pub(crate) fn wheel_files_path(&self, file: &DistFile) -> PathBuf {
        self.root
            .join("wheel-files-v1")
            .join(format!("{}.txt", file_key(file)))
    }
}

/// A file's sha256 when the index gives one, else a digest of its URL: what never changes.
fn file_key(file: &DistFile) -> String {
    match &file.sha256 {
        Some(sha256) if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) => {
            sha256.clone()
        }
        _ => format!("url-{}", sha256_hex(file.url.as_bytes())),
    }
}

/// The cached page at `path`, if there is a readable one.
pub(crate) fn read_page(path: &Path) -> Option<CachedPage> {
    let bytes = fs_err::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(crate) fn write_page(path: &Path, page: &CachedPage) -> Result<(), PypiError> {
    let bytes = serde_json::to_vec(page).map_err(|error| PypiError::Cache {
        path: path.to_path_buf(),
        source: std::io::Error::other(error),
    })?;
    write_atomic(path, &bytes)
}

pub(crate) fn read_metadata(path: &Path) -> Option<Vec<u8>> {
    fs_err::read(path).ok()
}

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed over it.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PypiError> {
    let cache_error = |source| PypiError::Cache {
        path: path.to_path_buf(),
        source,
    };
    let directory = path.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(directory).map_err(cache_error)?;
    atomic_file::write(path, bytes, Durability::Cached).map_err(cache_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control() {
        let keep = |max_age| Storage::Keep { max_age };
        assert_eq!(storage(Some("max-age=600, public"), None), keep(Some(600)));
        assert_eq!(storage(Some("max-age=600"), Some("100")), keep(Some(500)));
        assert_eq!(storage(Some("max-age=600"), Some("900")), keep(Some(0)));
        assert_eq!(storage(Some("no-cache, max-age=600"), None), keep(Some(0)));
        assert_eq!(
            storage(Some("max-age=600, no-store"), None),
            Storage::NoStore
        );
        assert_eq!(storage(None, None), keep(None));
    }

    #[test]
    fn unreadable_cache_files_are_missing() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("page.json");
        assert!(read_page(&path).is_none());
        fs_err::write(&path, b"{ truncated").unwrap();
        assert!(read_page(&path).is_none());
    }

    #[test]
    fn hex_digest() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
