//! Writing files into the staging tree without ever leaving it.
//!
//! The tree may already hold what the base image or earlier wheels put there, symlinks included
//! (`/usr/local/lib → …`). A symlink met on the way is never followed: every parent directory is
//! checked with `lstat` and must be a real directory, missing ones are created as real
//! directories, and files are created with `O_EXCL`, which does not follow a symlink either. A
//! file or symlink already at the destination is replaced (the later wheel wins, as with pip).
//!
//! Everything created is remembered, so a failed install can take it back. Several installs may
//! write into one tree at once (one thread per wheel): a directory or file that appears between
//! the check and the write is checked again.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::error::WheelError;

/// The staging tree of one install: image paths (`/usr/local/bin/tool`) are joined under `root`.
pub(crate) struct StagingTree<'a> {
    root: PathBuf,
    wheel: &'a str,
    /// Image directories already checked to be real directories (or created).
    directories: HashSet<String>,
    created_directories: Vec<PathBuf>,
    created_files: Vec<PathBuf>,
}

impl<'a> StagingTree<'a> {
    /// A tree at `root`, which is created if missing.
    pub(crate) fn new(root: &Path, wheel: &'a str) -> Result<Self, WheelError> {
        fs_err::create_dir_all(root).map_err(|source| WheelError::Write {
            wheel: wheel.to_string(),
            source,
        })?;
        Ok(Self {
            root: root.to_path_buf(),
            wheel,
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
    ) -> Result<fs_err::File, WheelError> {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let mut host = self.directory(parent)?;
        host.push(name);
        // Another install into the same tree, running beside this one, may create the same
        // path (`nvidia/__init__.py` is in every `nvidia-*` wheel) between the removal and the
        // creation: then try again, and the later writer wins.
        let mut attempts = 0;
        let file = loop {
            match fs_err::symlink_metadata(&host) {
                Ok(metadata) if metadata.is_dir() => {
                    return Err(self
                        .unsafe_destination(path, "is a directory, and a file would replace it"));
                }
                // A file or a symlink: removing it never touches what a symlink points to.
                Ok(_) => match fs_err::remove_file(&host) {
                    Err(error) if error.kind() != io::ErrorKind::NotFound => {
                        return Err(self.write_error(error));
                    }
                    _ => {}
                },
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(self.write_error(source)),
            }
            match fs_err::File::create_new(&host) {
                Ok(file) => break file,
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempts < 3 => {
                    attempts += 1;
                }
                Err(source) => return Err(self.write_error(source)),
            }
        };
        self.created_files.push(host);
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|source| self.write_error(source))?;
        Ok(file)
    }

    /// Writes `contents` as a new file at `path`; see [`Self::create_file`].
    pub(crate) fn write_file(
        &mut self,
        path: &str,
        mode: u32,
        contents: &[u8],
    ) -> Result<(), WheelError> {
        use std::io::Write as _;
        let mut file = self.create_file(path, mode)?;
        file.write_all(contents)
            .map_err(|source| self.write_error(source))
    }

    /// The host path of the image directory `path` (normalized, `""` for the root), after
    /// checking each component is a real directory and creating missing ones (mode 0755).
    fn directory(&mut self, path: &str) -> Result<PathBuf, WheelError> {
        let mut host = self.root.clone();
        let mut image = String::new();
        for component in path.split('/').filter(|part| !part.is_empty()) {
            host.push(component);
            image.push('/');
            image.push_str(component);
            if self.directories.contains(&image) {
                continue;
            }
            match fs_err::symlink_metadata(&host) {
                Ok(metadata) if metadata.is_dir() => {}
                Ok(metadata) if metadata.is_symlink() => {
                    return Err(self.unsafe_destination(&image, "is a symlink"));
                }
                Ok(_) => return Err(self.unsafe_destination(&image, "is not a directory")),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    match fs_err::create_dir(&host) {
                        Ok(()) => {
                            self.created_directories.push(host.clone());
                            fs_err::set_permissions(&host, std::fs::Permissions::from_mode(0o755))
                                .map_err(|source| self.write_error(source))?;
                        }
                        // Made by an install running beside this one; check what it is.
                        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                            let metadata = fs_err::symlink_metadata(&host)
                                .map_err(|source| self.write_error(source))?;
                            if !metadata.is_dir() {
                                return Err(self.unsafe_destination(&image, "is not a directory"));
                            }
                        }
                        Err(source) => return Err(self.write_error(source)),
                    }
                }
                Err(source) => return Err(self.write_error(source)),
            }
            self.directories.insert(image.clone());
        }
        Ok(host)
    }

    /// Removes what this tree created: files first, then directories, newest first. Best
    /// effort: the caller is already reporting an error, and discards the tree anyway.
    pub(crate) fn rollback(self) {
        for file in &self.created_files {
            let _ = fs_err::remove_file(file);
        }
        for directory in self.created_directories.iter().rev() {
            let _ = fs_err::remove_dir(directory);
        }
    }

    fn unsafe_destination(&self, path: &str, reason: &str) -> WheelError {
        WheelError::UnsafeDestination {
            wheel: self.wheel.to_string(),
            path: path.to_string(),
            reason: reason.to_string(),
        }
    }

    fn write_error(&self, source: io::Error) -> WheelError {
        WheelError::Write {
            wheel: self.wheel.to_string(),
            source,
        }
    }
}
