//! The store: `$MLPACK_HOME`, which is itself an OCI image layout, so `skopeo`, `umoci` and
//! `oras` read it as it is.
//!
//! Spec: <https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md>. The
//! layout is `oci-layout`, `index.json` and `blobs/sha256/<hex>`; mlpack adds `tmp/` (blobs
//! being written, renamed into `blobs/` once whole; staging trees) and `.lock`. Every write is
//! a temp file renamed into place, so a killed process leaves at most a stray temp tree in
//! `tmp/` (which the next [`Store::open`] removes, see [`super::temp`]), never a partial blob
//! or `index.json`.
//!
//! `tmp/`, `layers/` (each image layer unpacked once) and `containers/` (each container's
//! upper dir) hold trees as images and containers made them, setuid-root binaries and all:
//! they are `0700`, so that no other user of the host can run such a binary or reach a
//! container's files, as Docker keeps `/var/lib/docker` `0710`.

use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tempfile::NamedTempFile;

use super::digest::{Digest, DigestWriter};
use super::error::OciError;
use super::temp::{self, Leftover, TempTree};
use crate::error::{FromIo, IoError};

/// Environment variable naming the store directory.
pub const MLPACK_HOME: &str = "MLPACK_HOME";

pub(crate) const OCI_LAYOUT_FILE: &str = "oci-layout";
pub(crate) const INDEX_FILE: &str = "index.json";
pub(crate) const OCI_LAYOUT_JSON: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const BLOBS_DIR: &str = "blobs/sha256";
const TEMP_DIR: &str = "tmp";
/// Directories only the store's owner may enter.
const PRIVATE_DIRS: [&str; 3] = [TEMP_DIR, "layers", "containers"];
const LOCK_FILE: &str = ".lock";
pub(crate) const TEMP_PREFIX: &str = ".tmp-";
/// A pull's download in `tmp/`, kept when it fails so that the next pull resumes it.
pub(crate) const PARTIAL_PREFIX: &str = "partial-";
/// The tree in `tmp/` that holds one process's temp files.
const FILES_TREE_PREFIX: &str = "files-";

/// `$MLPACK_HOME`, else `$XDG_DATA_HOME/mlpack` (when absolute, as the XDG spec requires),
/// else `~/.local/share/mlpack`.
pub fn default_root() -> Result<PathBuf, OciError> {
    if let Some(home) = std::env::var_os(MLPACK_HOME).filter(|home| !home.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from)
        && xdg.is_absolute()
    {
        return Ok(xdg.join("mlpack"));
    }
    std::env::home_dir()
        .filter(|home| !home.as_os_str().is_empty())
        .map(|home| home.join(".local").join("share").join("mlpack"))
        .ok_or(OciError::NoStoreDir)
}

/// Create `dir` with mode `0700`, or take group's and others' access away from one that a
/// store made before had created `0755`. Another user's store is left as it is: only its
/// owner may change it.
fn create_private_dir(dir: &Path) -> Result<(), OciError> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => return Err(OciError::io("create the directory", dir, source)),
    }
    let metadata = fs_err::metadata(dir).map_err(|source| OciError::io("inspect", dir, source))?;
    if metadata.mode() & 0o077 != 0 && metadata.uid() == nix::unistd::geteuid().as_raw() {
        fs_err::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|source| OciError::io("restrict the permissions of", dir, source))?;
    }
    Ok(())
}

/// An OCI image layout on disk, holding every image mlpack built or pulled.
///
/// Blob writes need no lock: they are atomic and content-addressed. A sequence that must not
/// interleave with another process holds [`Store::lock`] throughout: a build, from its first
/// blob to its [`Store::tag`], so that a concurrent [`Store::prune`] cannot delete its
/// not-yet-tagged blobs. `tag`, `untag` and `prune` take the lock themselves; it is re-entrant
/// within one `Store` (and its clones), so holding it around them is fine.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    held_lock: Arc<Mutex<Weak<LockFile>>>,
    /// This process's tree for temp files, made when first needed.
    files: Arc<Mutex<Option<TempTree>>>,
}

/// The store's exclusive lock (`flock` on `<root>/.lock`), released when the last clone of it
/// is dropped.
#[derive(Debug, Clone)]
#[must_use = "the lock is released when this is dropped"]
pub struct StoreLock {
    _file: Arc<LockFile>,
}

/// A directory of records in the store (`networks/`, `volumes/`), created when missing and
/// held under its own exclusive `flock` on `<dir>/.lock` until dropped, apart from the
/// store's lock.
#[derive(Debug)]
#[must_use = "the lock is released when this is dropped"]
pub struct DirLock {
    root: PathBuf,
    _file: fs_err::File,
}

impl DirLock {
    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The open lock file; closing it releases the `flock`.
#[derive(Debug)]
struct LockFile(#[expect(dead_code, reason = "held for its open file description")] fs_err::File);

impl Store {
    /// Open the store at `root`, creating an empty layout there if it has none, and removing
    /// the temp trees that processes killed before they could left in `tmp/`.
    pub fn open(root: &Path) -> Result<Self, OciError> {
        let store = Self::at(root);
        let blobs = store.root.join(BLOBS_DIR);
        fs_err::create_dir_all(&blobs)
            .map_err(|source| OciError::io("create the directory", &blobs, source))?;
        for name in PRIVATE_DIRS {
            create_private_dir(&store.root.join(name))?;
        }
        let layout = store.root.join(OCI_LAYOUT_FILE);
        let index = store.root.join(INDEX_FILE);
        if !layout.exists() || !index.exists() {
            // Under the lock, so two processes opening a new store cannot both write an empty
            // `index.json`, the second over the first's freshly tagged image.
            let _lock = store.lock()?;
            if !layout.exists() {
                store.write_file_atomic(&layout, OCI_LAYOUT_JSON)?;
            }
            if !index.exists() {
                store.write_index(&super::index::empty_index())?;
            }
        }
        store.check_layout_version(&layout)?;
        // Best effort: a tree that cannot be removed stays, and `mlpack doctor` reports it.
        let _ = store.leftovers(true);
        Ok(store)
    }

    /// Open an existing store without changing anything in it, for `mlpack doctor`, which
    /// reports what [`Store::open`] would clean up.
    pub fn inspect(root: &Path) -> Result<Self, OciError> {
        let store = Self::at(root);
        store.check_layout_version(&store.root.join(OCI_LAYOUT_FILE))?;
        Ok(store)
    }

    fn at(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            held_lock: Arc::new(Mutex::new(Weak::new())),
            files: Arc::new(Mutex::new(None)),
        }
    }

    /// The temp trees in `tmp/` that no live process owns: listed, or removed (`remove`) and
    /// listed. See [`super::temp`].
    pub fn leftovers(&self, remove: bool) -> Result<Vec<Leftover>, OciError> {
        let dir = self.temp_dir();
        temp::leftovers(&dir, "", remove)
            .map_err(|source| OciError::io("clean up temp trees in", dir, source))
    }

    /// A new staging tree in `tmp/`, named `<prefix><random>`, on the file system of
    /// `blobs/`; removed when dropped, and by the next [`Store::open`] if this process is
    /// killed first.
    pub fn temp_tree(&self, prefix: &str) -> Result<TempTree, OciError> {
        let dir = self.temp_dir();
        TempTree::new_in(&dir, prefix)
            .map_err(|source| OciError::io("create a temp tree in", dir, source))
    }

    /// Open the store at [`default_root`].
    pub fn open_default() -> Result<Self, OciError> {
        Self::open(&default_root()?)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Take the store's exclusive lock, waiting for another process to release it. Re-entrant:
    /// while a lock from this store (or a clone) is alive, this returns another handle to it.
    pub fn lock(&self) -> Result<StoreLock, OciError> {
        let mut held = self
            .held_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = held.upgrade() {
            return Ok(StoreLock { _file: file });
        }
        let path = self.root.join(LOCK_FILE);
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| OciError::io("open the lock file", &path, source))?;
        file.lock()
            .map_err(|source| OciError::io("lock", &path, source))?;
        let file = Arc::new(LockFile(file));
        *held = Arc::downgrade(&file);
        Ok(StoreLock { _file: file })
    }

    /// Create `<root>/<name>/` if missing and take its [`DirLock`], waiting for another
    /// process to release it.
    pub fn lock_dir(&self, name: &str) -> Result<DirLock, IoError> {
        let root = self.root.join(name);
        fs_err::create_dir_all(&root).map_err(|source| IoError::new("create", &root, source))?;
        let path = root.join(LOCK_FILE);
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| IoError::new("open", &path, source))?;
        file.lock()
            .map_err(|source| IoError::new("lock", &path, source))?;
        Ok(DirLock { root, _file: file })
    }

    /// Where the blob with `digest` lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join(BLOBS_DIR).join(digest.hex())
    }

    /// Whether the blob is present. Blobs only appear by rename once fully written, so a
    /// present blob is whole (though not re-hashed here: see [`Store::read_blob`]).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Read a (small, JSON) blob whole, checking that it still hashes to its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, OciError> {
        let path = self.blob_path(digest);
        let bytes = match fs_err::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(OciError::BlobNotFound {
                    digest: digest.clone(),
                    path,
                });
            }
            Err(source) => return Err(OciError::io("read", path, source)),
        };
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(OciError::BlobCorrupted {
                digest: digest.clone(),
                path,
                actual,
            });
        }
        Ok(bytes)
    }

    /// Open a blob for streaming; the caller checks its digest if it needs to.
    pub fn open_blob(&self, digest: &Digest) -> Result<fs_err::File, OciError> {
        let path = self.blob_path(digest);
        fs_err::File::open(&path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                OciError::BlobNotFound {
                    digest: digest.clone(),
                    path,
                }
            } else {
                OciError::io("open", path, source)
            }
        })
    }

    /// Store `bytes` as a blob and return its digest; writing an existing blob is a no-op.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest, OciError> {
        let digest = Digest::of(bytes);
        if self.has_blob(&digest) {
            return Ok(digest);
        }
        let mut temp = self.temp_file()?;
        temp.write_all(bytes)
            .map_err(|source| OciError::io("write", temp.path(), source))?;
        self.persist_blob(temp, &digest)?;
        Ok(digest)
    }

    /// Stream `reader` into a blob; returns its digest and size. For blobs too big to hold in
    /// memory (a pulled layer): the caller compares the digest with the one it expected.
    pub fn write_blob_from(&self, reader: &mut impl Read) -> Result<(Digest, u64), OciError> {
        let temp = self.temp_file()?;
        let mut writer = DigestWriter::new(io::BufWriter::new(temp.as_file()));
        io::copy(reader, &mut writer).map_err(|source| OciError::Write {
            path: temp.path().to_path_buf(),
            source,
        })?;
        let (buffered, digest, size) = writer.finish();
        buffered.into_inner().map_err(|error| OciError::Write {
            path: temp.path().to_path_buf(),
            source: error.into_error(),
        })?;
        self.persist_blob(temp, &digest)?;
        Ok((digest, size))
    }

    /// A new temp file in this process's tree in `tmp/`, on the same file system as `blobs/`
    /// so it can be renamed there. Removed when dropped unless persisted, and with the tree
    /// if this process is killed.
    pub fn temp_file(&self) -> Result<NamedTempFile, OciError> {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let tree = match &mut *files {
            Some(tree) => tree,
            empty => empty.insert(self.temp_tree(FILES_TREE_PREFIX)?),
        };
        tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(tree.path())
            .map_err(|source| OciError::io("create a temp file in", tree.path(), source))
    }

    /// `<root>/tmp/`: for temp trees and files that must share a file system with `blobs/`,
    /// and for pulls' resumable `partial-*` downloads.
    pub fn temp_dir(&self) -> PathBuf {
        self.root.join(TEMP_DIR)
    }

    pub(crate) fn blobs_dir(&self) -> PathBuf {
        self.root.join(BLOBS_DIR)
    }

    /// Move a fully written temp file to `blobs/sha256/<hex>`, read-only. If the blob already
    /// exists (another writer won), the temp file is dropped.
    pub(crate) fn persist_blob(
        &self,
        temp: NamedTempFile,
        digest: &Digest,
    ) -> Result<(), OciError> {
        let path = self.blob_path(digest);
        if path.is_file() {
            return Ok(());
        }
        let file = temp.as_file();
        file.set_permissions(std::fs::Permissions::from_mode(0o444))
            .and_then(|()| file.sync_all())
            .map_err(|source| OciError::io("write", temp.path(), source))?;
        temp.persist(&path)
            .map_err(|error| OciError::io("move a new blob to", &path, error.error))?;
        sync_dir(&self.blobs_dir())
    }

    /// Replace `path` (inside the store) with `bytes` in one rename.
    pub(crate) fn write_file_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), OciError> {
        let mut temp = self.temp_file()?;
        temp.write_all(bytes)
            .and_then(|()| {
                temp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(0o644))
            })
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|source| OciError::io("write", temp.path(), source))?;
        temp.persist(path)
            .map_err(|error| OciError::io("replace", path, error.error))?;
        sync_dir(path.parent().unwrap_or(&self.root))
    }

    fn check_layout_version(&self, layout: &Path) -> Result<(), OciError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Layout {
            image_layout_version: String,
        }
        let invalid = |message: String| OciError::InvalidLayout {
            path: self.root.clone(),
            message,
        };
        let bytes = fs_err::read(layout).map_err(|source| OciError::io("read", layout, source))?;
        let parsed: Layout = serde_json::from_slice(&bytes)
            .map_err(|error| invalid(format!("`{}` is not valid: {error}", layout.display())))?;
        if !parsed.image_layout_version.starts_with("1.") {
            return Err(invalid(format!(
                "its layout version is `{}`; mlpack reads version 1",
                parsed.image_layout_version
            )));
        }
        Ok(())
    }
}

/// Make a rename inside `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), OciError> {
    fs_err::File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| OciError::io("sync", dir, source))
}
