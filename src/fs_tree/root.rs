//! A root directory being built, with paths resolved inside it the way `chroot` would see
//! them, without ever letting the kernel follow a symlink: each component is checked with
//! `lstat`, symlinks are resolved by this code (an absolute target starts again at the root),
//! and a path that climbs above the root is refused. Unpacked packages may hold any symlink,
//! so everything that writes into a root (`debian`'s extraction, dpkg database and offline
//! maintainer-script work, and `runtime`'s unpacking of image layers) goes through here.

use std::io;
use std::path::{Path, PathBuf};

use fs_err::os::unix::fs::OpenOptionsExt as _;

use super::path_walk::{PathWalk, Step};

/// Why a path in the root could not be used.
#[derive(Debug)]
pub(crate) enum RootError {
    /// The path is unsafe or of the wrong kind; the text says why.
    Refused(String),
    Io(io::Error),
}

impl From<io::Error> for RootError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// A root directory, canonicalized so that real paths under it can be compared with it.
#[derive(Debug, Clone)]
pub(crate) struct Root {
    path: PathBuf,
}

impl Root {
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        Ok(Self {
            path: fs_err::canonicalize(path)?,
        })
    }

    /// The real directory inside the root that `components` (relative to the root) name,
    /// resolving symlinks inside the root. With `create`, missing directories that
    /// `components` itself names are created (mode 0755); a missing directory reached through
    /// a symlink is an error.
    pub(crate) fn directory<S: AsRef<str>>(
        &self,
        components: &[S],
        create: bool,
    ) -> Result<PathBuf, RootError> {
        let mut real = self.path.clone();
        let mut depth = 0_usize;
        let mut walk = PathWalk::new(components);
        while let Some(step) = walk.next_step() {
            let Step::Name { name, named, .. } = step else {
                if depth == 0 {
                    return Err(RootError::Refused(
                        "a symlink on its path leads outside the root".to_string(),
                    ));
                }
                real.pop();
                depth -= 1;
                continue;
            };
            let next = real.join(&name);
            match fs_err::symlink_metadata(&next) {
                Ok(metadata) if metadata.is_dir() => {
                    real = next;
                    depth += 1;
                }
                Ok(metadata) if metadata.file_type().is_symlink() => {
                    let target = fs_err::read_link(&next)?;
                    let target = target.to_str().ok_or_else(|| {
                        RootError::Refused(format!(
                            "`{}` has a target that is not UTF-8",
                            next.display()
                        ))
                    })?;
                    if walk
                        .follow(target)
                        .map_err(|error| RootError::Refused(error.to_string()))?
                    {
                        real.clone_from(&self.path);
                        depth = 0;
                    }
                }
                Ok(_) => {
                    return Err(RootError::Refused(format!(
                        "`{}` on its path is not a directory",
                        next.display()
                    )));
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound && create && named => {
                    fs_err::create_dir(&next)?;
                    set_mode(&next, 0o755)?;
                    real = next;
                    depth += 1;
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(RootError::Refused(format!(
                        "a symlink on its path leads to `{}`, which does not exist",
                        next.display()
                    )));
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(real)
    }

    /// How many components below the root a real directory (from [`Root::directory`]) is.
    pub(crate) fn depth(&self, real: &Path) -> usize {
        real.strip_prefix(&self.path)
            .map_or(0, |inside| inside.components().count())
    }

    /// The real path of `relative` (`etc/passwd`): its parent resolved inside the root (and
    /// created with `create`), its last component not followed.
    pub(crate) fn entry(&self, relative: &str, create: bool) -> Result<PathBuf, RootError> {
        let components: Vec<&str> = relative
            .split('/')
            .filter(|part| !part.is_empty())
            .collect();
        let Some((name, parents)) = components.split_last() else {
            return Err(RootError::Refused("the root itself".to_string()));
        };
        Ok(self.directory(parents, create)?.join(name))
    }

    /// Whether `relative` exists (as anything, a dangling symlink included).
    pub(crate) fn exists(&self, relative: &str) -> bool {
        self.entry(relative, false)
            .is_ok_and(|path| fs_err::symlink_metadata(path).is_ok())
    }

    /// The contents of the regular file `relative`, or `None` if there is none.
    pub(crate) fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, RootError> {
        let Ok(path) = self.entry(relative, false) else {
            return Ok(None);
        };
        match fs_err::symlink_metadata(&path) {
            Ok(metadata) if metadata.is_file() => Ok(Some(fs_err::read(&path)?)),
            _ => Ok(None),
        }
    }

    /// Writes a regular file, replacing a file or symlink there (never writing through it).
    pub(crate) fn write(
        &self,
        relative: &str,
        contents: &[u8],
        mode: u32,
    ) -> Result<(), RootError> {
        let path = self.entry(relative, true)?;
        let mut file = create_file(&path, mode)?;
        io::Write::write_all(&mut file, contents)?;
        Ok(())
    }

    /// Creates a symlink, replacing a file or symlink there.
    pub(crate) fn symlink(&self, relative: &str, target: &str) -> Result<(), RootError> {
        let path = self.entry(relative, true)?;
        clear(&path)?;
        fs_err::os::unix::fs::symlink(target, &path)?;
        Ok(())
    }

    /// Creates a directory (and its missing parents) if nothing is there, with `mode`.
    pub(crate) fn create_directory(&self, relative: &str, mode: u32) -> Result<(), RootError> {
        let path = self.entry(relative, true)?;
        if fs_err::symlink_metadata(&path).is_err() {
            fs_err::create_dir(&path)?;
            set_mode(&path, mode)?;
        }
        Ok(())
    }

    /// The regular files under the directory `relative` (recursively, not following
    /// symlinks), as paths relative to it, sorted bytewise.
    pub(crate) fn files_under(&self, relative: &str) -> Result<Vec<String>, RootError> {
        let Ok(top) = self.entry(relative, false) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        let mut pending = vec![(top, String::new())];
        while let Some((directory, prefix)) = pending.pop() {
            let Ok(entries) = fs_err::read_dir(&directory) else {
                continue;
            };
            for entry in entries {
                let entry = entry?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let path = format!("{prefix}{name}");
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    pending.push((entry.path(), format!("{path}/")));
                } else if kind.is_file() {
                    found.push(path);
                }
            }
        }
        found.sort();
        Ok(found)
    }
}

/// Removes a file or symlink at `path` without following it; a directory there is refused.
pub(crate) fn clear(path: &Path) -> Result<(), RootError> {
    match fs_err::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => Err(RootError::Refused(format!(
            "`{}` is a directory, but a non-directory goes there",
            path.display()
        ))),
        // A file or a symlink: removing it never touches what a symlink points to. One
        // that a writer beside this one removed first is gone all the same.
        Ok(_) => match fs_err::remove_file(path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        },
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Creates a new regular file at `path` with exactly `mode` (no umask), after clearing what
/// was there. `O_EXCL` makes the kernel refuse rather than follow a symlink that appeared
/// meanwhile. Writers side by side in one tree may create the same path
/// (`nvidia/__init__.py` is in every `nvidia-*` wheel) between the clearing and the
/// creation: then it clears again, and the later writer wins. The file is opened for reading
/// too, so a writer can read back what it wrote.
pub(crate) fn create_file(path: &Path, mode: u32) -> Result<fs_err::File, RootError> {
    let mut attempts = 0;
    let file = loop {
        clear(path)?;
        let created = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(file) => break file,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempts < 3 => {
                attempts += 1;
            }
            Err(error) => return Err(error.into()),
        }
    };
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
    Ok(file)
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs_err::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_the_root() {
        let directory = tempfile::tempdir().unwrap();
        let root_path = directory.path().join("root");
        fs_err::create_dir_all(root_path.join("usr/bin")).unwrap();
        fs_err::os::unix::fs::symlink("usr/bin", root_path.join("bin")).unwrap();
        fs_err::os::unix::fs::symlink("/usr", root_path.join("absolute")).unwrap();
        fs_err::os::unix::fs::symlink("..", root_path.join("up")).unwrap();
        let root = Root::open(&root_path).unwrap();
        let real = root.directory(&["bin"], false).unwrap();
        assert_eq!(real, root.path.join("usr/bin"));
        assert_eq!(root.depth(&real), 2);
        assert_eq!(
            root.directory(&["absolute", "bin"], false).unwrap(),
            root.path.join("usr/bin")
        );
        assert!(matches!(
            root.directory(&["up", "x"], true),
            Err(RootError::Refused(_))
        ));
        assert!(matches!(
            root.directory(&["usr", "bin", "..", "..", ".."], false),
            Err(RootError::Refused(_))
        ));
        root.write("etc/x/file", b"data", 0o640).unwrap();
        assert_eq!(root.read("etc/x/file").unwrap().unwrap(), b"data");
        assert_eq!(root.files_under("etc").unwrap(), ["x/file"]);
        root.symlink("etc/link", "x/file").unwrap();
        assert!(root.exists("etc/link"));
        assert_eq!(root.read("etc/link").unwrap(), None);
    }
}
