//! A staging tree written without ever leaving it, for the wheel installer.
//!
//! The tree may already hold what the base image or earlier wheels put there, symlinks included
//! (`/usr/local/lib → …`). Unlike a [`Root`](super::Root), a symlink met on the way is never
//! followed, not even inside the tree: every parent directory is checked with `lstat` and must
//! be a real directory, and missing ones are created as real directories. Files are created as
//! [`create_file`](super::create_file) creates them: a file or symlink already at the
//! destination is replaced (the later wheel wins, as with pip), a directory is refused.
//!
//! Everything created is remembered, so a failed install can take it back. Several installs may
//! write into one tree at once (one thread per wheel): a directory or file that appears between
//! the check and the write is checked again.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::root::{RootError, create_file};

/// Why writing into a [`StagingTree`] failed.
#[derive(Debug)]
pub(crate) enum StagingError {
    /// Writing at the image path `path` would go through something that is not a real
    /// directory, or would replace a directory; `reason` says which.
    Unsafe {
        path: String,
        reason: &'static str,
    },
    Io(io::Error),
}

/// Why a write is refused ([`StagingError::Unsafe`]'s `reason`), the same whether an install
/// or a [`merge`] meets it.
const SYMLINK: &str = "is a symlink";
const NOT_A_DIRECTORY: &str = "is not a directory";
const DIRECTORY: &str = "is a directory, and a file would replace it";

/// The staging tree of one install: image paths (`/usr/local/bin/tool`) are joined under `root`.
pub(crate) struct StagingTree {
    root: PathBuf,
    /// Image directories already checked to be real directories (or created).
    directories: HashSet<String>,
    created_directories: Vec<PathBuf>,
    created_files: Vec<PathBuf>,
}

/// Moves the tree at `from` into the staging tree at `into`, as installing the same files
/// into it would have placed them: what `into` lacks is renamed in whole (a directory with
/// all it holds), directories present in both are merged, and a file or symlink replaces a
/// file or symlink (the later wheel wins). A file over a directory, or a directory over
/// anything but a real directory, is refused, as [`StagingTree`] refuses it. `from` is left
/// empty or partly moved; the caller removes it.
pub(crate) fn merge(from: &Path, into: &Path) -> Result<(), StagingError> {
    merge_at(from, into, "")
}

fn merge_at(from: &Path, into: &Path, image: &str) -> Result<(), StagingError> {
    for entry in fs_err::read_dir(from).map_err(StagingError::Io)? {
        let entry = entry.map_err(StagingError::Io)?;
        let name = entry.file_name();
        let path = format!("{image}/{}", name.to_string_lossy());
        let target = into.join(&name);
        let is_dir = entry.file_type().map_err(StagingError::Io)?.is_dir();
        let unsafe_at = |reason| StagingError::Unsafe {
            path: path.clone(),
            reason,
        };
        match fs_err::symlink_metadata(&target) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(StagingError::Io(error)),
            Ok(there) if is_dir && there.is_dir() => {
                merge_at(&entry.path(), &target, &path)?;
                continue;
            }
            Ok(there) if is_dir && there.is_symlink() => return Err(unsafe_at(SYMLINK)),
            Ok(_) if is_dir => return Err(unsafe_at(NOT_A_DIRECTORY)),
            Ok(there) if there.is_dir() => {
                return Err(unsafe_at(DIRECTORY));
            }
            Ok(_) => {}
        }
        fs_err::rename(entry.path(), &target).map_err(StagingError::Io)?;
    }
    Ok(())
}

impl StagingTree {
    /// A tree at `root`, which is created if missing.
    pub(crate) fn new(root: &Path) -> io::Result<Self> {
        fs_err::create_dir_all(root)?;
        Ok(Self {
            root: root.to_path_buf(),
            directories: HashSet::new(),
            created_directories: Vec::new(),
            created_files: Vec::new(),
        })
    }

    /// Creates the file at the normalized image path `path` with exactly `mode` (no umask),
    /// replacing a file or symlink that is there.
    pub(crate) fn create_file(
        &mut self,
        path: &str,
        mode: u32,
    ) -> Result<fs_err::File, StagingError> {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let mut host = self.directory(parent)?;
        host.push(name);
        let file = create_file(&host, mode).map_err(|error| match error {
            // The one thing `create_file` refuses.
            RootError::Refused(_) => StagingError::Unsafe {
                path: path.to_string(),
                reason: DIRECTORY,
            },
            RootError::Io(error) => StagingError::Io(error),
        })?;
        self.created_files.push(host);
        Ok(file)
    }

    /// Writes `contents` as a new file at `path`; see [`Self::create_file`].
    pub(crate) fn write_file(
        &mut self,
        path: &str,
        mode: u32,
        contents: &[u8],
    ) -> Result<(), StagingError> {
        use std::io::Write as _;
        let mut file = self.create_file(path, mode)?;
        file.write_all(contents).map_err(StagingError::Io)
    }

    /// The host path of the image directory `path` (normalized, `""` for the root), after
    /// checking each component is a real directory and creating missing ones (mode 0755).
    fn directory(&mut self, path: &str) -> Result<PathBuf, StagingError> {
        let mut host = self.root.clone();
        let mut image = String::new();
        for component in path.split('/').filter(|part| !part.is_empty()) {
            host.push(component);
            image.push('/');
            image.push_str(component);
            if self.directories.contains(&image) {
                continue;
            }
            let not_a_directory = |reason| StagingError::Unsafe {
                path: image.clone(),
                reason,
            };
            match fs_err::symlink_metadata(&host) {
                Ok(metadata) if metadata.is_dir() => {}
                Ok(metadata) if metadata.is_symlink() => {
                    return Err(not_a_directory(SYMLINK));
                }
                Ok(_) => return Err(not_a_directory(NOT_A_DIRECTORY)),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    match fs_err::create_dir(&host) {
                        Ok(()) => {
                            self.created_directories.push(host.clone());
                            fs_err::set_permissions(&host, std::fs::Permissions::from_mode(0o755))
                                .map_err(StagingError::Io)?;
                        }
                        // Made by an install running beside this one; check what it is.
                        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                            let metadata =
                                fs_err::symlink_metadata(&host).map_err(StagingError::Io)?;
                            if !metadata.is_dir() {
                                return Err(not_a_directory(NOT_A_DIRECTORY));
                            }
                        }
                        Err(source) => return Err(StagingError::Io(source)),
                    }
                }
                Err(source) => return Err(StagingError::Io(source)),
            }
            self.directories.insert(image.clone());
        }
        Ok(host)
    }

    /// Removes what `trees` (several writers on one root, say) created: every tree's files
    /// first, then every tree's directories, each below another before it, since one
    /// tree's directory may hold what another wrote into it. Best effort: the caller is
    /// already reporting an error, and discards the trees anyway.
    pub(crate) fn rollback(trees: impl IntoIterator<Item = Self>) {
        let mut directories = Vec::new();
        for tree in trees {
            for file in &tree.created_files {
                let _ = fs_err::remove_file(file);
            }
            directories.extend(tree.created_directories);
        }
        // A directory sorts after the directories it is in.
        directories.sort_unstable_by(|a, b| b.cmp(a));
        for directory in &directories {
            let _ = fs_err::remove_dir(directory);
        }
    }
}
