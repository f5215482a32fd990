//! Scratch space in the store, and what a killed process leaves of it. Layers are staged in
//! temp trees (`tmp/build-*`, `tmp/package-*`) and unpacked in others (`layers/.tmp-*`), and
//! blobs are written to temp files inside a tree of the writing process (`tmp/files-*`) before
//! they are renamed into `blobs/`. A process killed with SIGKILL removes none of them, so each
//! tree is owned through a `flock(2)` on its `owner` file that its maker holds for the tree's
//! whole life and the kernel drops when the process dies, however it dies. A tree that no live
//! process owns is stale: [`Store::open`](super::Store::open) deletes those in `tmp/`, `mlpack
//! prune` those in `layers/` too, and `mlpack doctor` reports them.
//!
//! A tree is `<parent>/<prefix><random>/` holding `owner` (the lock, with the owner's PID in
//! it for people) and `tree/` (what the caller stages). The `owner` file is locked before it
//! gets that name, so no cleaner ever sees it unlocked while its maker lives. A directory with
//! no `owner` (a tree in the instant of its making, or one left by an older mlpack) is stale
//! once untouched for [`UNOWNED_GRACE`].

use std::fs::TryLockError;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long an entry with no lock to test is left alone.
pub const UNOWNED_GRACE: Duration = Duration::from_hours(1);
/// A tree's lock file, once locked.
const OWNER_FILE: &str = "owner";
/// A tree's lock file while it is being locked.
const PENDING_OWNER_FILE: &str = ".owner-pending";
/// The caller's directory inside a tree.
const TREE_DIR: &str = "tree";

/// A directory to stage files in, owned by this process and removed when dropped (unless its
/// content was moved away with [`TempTree::persist`]), with anything left from a kill removed
/// by the next cleaner.
#[derive(Debug)]
pub struct TempTree {
    /// `<parent>/<prefix><random>`.
    dir: PathBuf,
    /// `<dir>/tree`.
    tree: PathBuf,
    /// Holds the `flock` on `<dir>/owner`.
    _owner: fs_err::File,
    /// The process that made it: a child forked from it must not remove it.
    creator: u32,
}

impl TempTree {
    /// A new, empty tree in `parent`, named `<prefix><random>`.
    pub fn new_in(parent: &Path, prefix: &str) -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(parent)?
            .keep();
        match Self::own(&dir) {
            Ok(owner) => Ok(Self {
                tree: dir.join(TREE_DIR),
                dir,
                _owner: owner,
                creator: std::process::id(),
            }),
            Err(error) => {
                let _ = remove_tree(&dir);
                Err(error)
            }
        }
    }

    /// Lock the new `owner` file, name it, and make the caller's directory.
    fn own(dir: &Path) -> io::Result<fs_err::File> {
        let pending = dir.join(PENDING_OWNER_FILE);
        let mut owner = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&pending)?;
        owner.try_lock().map_err(|error| match error {
            TryLockError::Error(error) => error,
            TryLockError::WouldBlock => io::Error::from(io::ErrorKind::WouldBlock),
        })?;
        writeln!(owner, "{}", std::process::id())?;
        fs_err::rename(&pending, dir.join(OWNER_FILE))?;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir.join(TREE_DIR))?;
        Ok(owner)
    }

    /// The directory to stage files in.
    pub fn path(&self) -> &Path {
        &self.tree
    }

    /// Move the staged directory to `target` (on the same file system); the rest of the
    /// tree is removed when `self` is dropped. On failure the whole tree is removed.
    pub fn persist(self, target: &Path) -> io::Result<()> {
        fs_err::rename(&self.tree, target)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        // Best effort: what is left is stale once this process is gone, and removed then.
        if std::process::id() == self.creator {
            let _ = remove_tree(&self.dir);
        }
    }
}

/// Something a killed process left: a temp tree no live process owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub path: PathBuf,
    /// The bytes of its files.
    pub bytes: u64,
}

/// The trees in `parent` whose names start with `prefix` and that no live process owns. With
/// `remove`, each is deleted while its lock is held (so that two cleaners never race over
/// it), and only those deleted are returned.
pub fn leftovers(parent: &Path, prefix: &str, remove: bool) -> io::Result<Vec<Leftover>> {
    let entries = match fs_err::read_dir(parent) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if !metadata.is_dir() || !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let path = entry.path();
        // Holds the dead owner's lock until the tree is deleted.
        let Owner::Dead(_lock) = owner(&path, &metadata) else {
            continue;
        };
        let bytes = tree_size(&path);
        if remove {
            match remove_tree(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            }
        }
        found.push(Leftover { path, bytes });
    }
    Ok(found)
}

/// Whether a tree's maker is alive.
enum Owner {
    /// Alive, or too recent to tell.
    Alive,
    /// Gone: the lock it held, now this process's (none for a tree without an `owner`).
    Dead(Option<fs_err::File>),
}

/// Who owns the tree `dir`: a tree without an `owner` file is dead once `metadata` says it
/// is older than [`UNOWNED_GRACE`].
fn owner(dir: &Path, metadata: &std::fs::Metadata) -> Owner {
    match fs_err::File::open(dir.join(OWNER_FILE)) {
        Ok(file) => match file.try_lock() {
            Ok(()) => Owner::Dead(Some(file)),
            Err(_) => Owner::Alive,
        },
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let age = metadata
                .modified()
                .ok()
                .and_then(|modified| SystemTime::now().duration_since(modified).ok());
            if age.is_some_and(|age| age > UNOWNED_GRACE) {
                Owner::Dead(None)
            } else {
                Owner::Alive
            }
        }
        Err(_) => Owner::Alive,
    }
}

/// The bytes of the files under `path` (or of `path`, a file), never following a symlink.
pub fn tree_size(path: &Path) -> u64 {
    let Ok(metadata) = fs_err::symlink_metadata(path) else {
        return 0;
    };
    if !metadata.is_dir() {
        return metadata.len();
    }
    fs_err::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| tree_size(&entry.path()))
        .sum()
}

/// Remove `path` and everything under it, never following a symlink. A directory is first
/// made writable by its owner: unpacked and staged directories may have a mode like 0555. An
/// entry already gone (another cleaner) is no error, except `path` itself.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let metadata = fs_err::symlink_metadata(path)?;
    if !metadata.is_dir() {
        return fs_err::remove_file(path);
    }
    if metadata.permissions().mode() & 0o700 != 0o700 {
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    for entry in fs_err::read_dir(path)? {
        match remove_tree(&entry?.path()) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    fs_err::remove_dir(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree as a killed process leaves it: an `owner` file nobody locks.
    fn dead_tree(parent: &Path, name: &str) -> PathBuf {
        let dir = parent.join(name);
        fs_err::create_dir_all(dir.join(TREE_DIR).join("readonly")).unwrap();
        fs_err::write(dir.join(OWNER_FILE), "4242\n").unwrap();
        fs_err::write(dir.join(TREE_DIR).join("readonly/file"), "12345").unwrap();
        fs_err::set_permissions(
            dir.join(TREE_DIR).join("readonly"),
            std::fs::Permissions::from_mode(0o555),
        )
        .unwrap();
        dir
    }

    #[test]
    fn live_trees_are_kept_and_dead_ones_removed() {
        let parent = tempfile::tempdir().unwrap();
        let live = TempTree::new_in(parent.path(), "build-").unwrap();
        fs_err::write(live.path().join("file"), "x").unwrap();
        let dead = dead_tree(parent.path(), "build-dead");
        // No owner file, and young: maybe a tree being made.
        let young = parent.path().join("build-young");
        fs_err::create_dir(&young).unwrap();
        let other = dead_tree(parent.path(), "other-dead");

        let found = leftovers(parent.path(), "build-", false).unwrap();
        assert_eq!(
            found,
            [Leftover {
                path: dead.clone(),
                bytes: 5 + 5
            }]
        );
        assert!(dead.exists(), "only listed");
        assert_eq!(leftovers(parent.path(), "build-", true).unwrap(), found);
        assert!(!dead.exists());
        assert!(live.path().join("file").exists());
        assert!(young.exists() && other.exists());

        let dir = live.dir.clone();
        drop(live);
        assert!(!dir.exists());
    }

    #[test]
    fn a_persisted_tree_leaves_only_its_content() {
        let parent = tempfile::tempdir().unwrap();
        let tree = TempTree::new_in(parent.path(), ".tmp-").unwrap();
        fs_err::write(tree.path().join("file"), "x").unwrap();
        let target = parent.path().join("layer");
        tree.persist(&target).unwrap();
        let names: Vec<_> = fs_err::read_dir(parent.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["layer"]);
        assert!(target.join("file").is_file());
    }
}
