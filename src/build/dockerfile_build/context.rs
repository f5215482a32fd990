//! The build context as `COPY` and `ADD` see it: the directory less what `.dockerignore`
//! leaves out, sources found by path or glob, and the content hash a copy is cached by
//! (not the mtime). A file is hashed once per build, and not again in later builds while
//! its size, mtime, ctime and inode are unchanged (remembered in
//! `$XDG_CACHE_HOME/mlpack/context-hashes-v1.json`), so a cached build of a large context
//! reads only metadata.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::dockerfile::IgnoreRules;
use crate::dockerfile::ignore::{clean, is_glob, path_matches};

use super::super::BuildError;
use crate::error::FromIo;

/// A file, directory or link of the context.
#[derive(Debug, Clone)]
pub(super) struct ContextEntry {
    /// Relative to the context, `/`-separated; empty for the context itself.
    pub(super) relative: String,
    pub(super) path: PathBuf,
    pub(super) metadata: std::fs::Metadata,
}

pub(super) struct BuildContext {
    root: PathBuf,
    ignore: IgnoreRules,
    /// Path -> (the file's stamp, its sha256).
    hashes: RefCell<HashMap<PathBuf, (String, String)>>,
    /// Where the hashes are kept between builds.
    saved: PathBuf,
}

impl BuildContext {
    /// `cache_dir` keeps the hashes between builds.
    pub(super) fn open(root: &Path, cache_dir: &Path) -> Result<Self, BuildError> {
        let ignore_file = root.join(".dockerignore");
        let ignore = match fs_err::read_to_string(&ignore_file) {
            Ok(text) => IgnoreRules::parse(&text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => IgnoreRules::default(),
            Err(error) => return Err(BuildError::io("read", &ignore_file, error)),
        };
        let saved = cache_dir.join("context-hashes-v1.json");
        let hashes = fs_err::read(&saved)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        // Absolute, so the saved hashes of two projects' `./main.py` never meet.
        let root =
            fs_err::canonicalize(root).map_err(|source| BuildError::io("read", root, source))?;
        Ok(Self {
            root,
            ignore,
            hashes: RefCell::new(hashes),
            saved,
        })
    }

    /// Keep the hashes for the next build; a failure only costs hashing again.
    pub(super) fn save(&self) {
        if let Ok(bytes) = serde_json::to_vec(&*self.hashes.borrow()) {
            let _ = crate::atomic_file::write(
                &self.saved,
                &bytes,
                crate::atomic_file::Durability::Cached,
            );
        }
    }

    /// What `source` names in the context: the path itself, or what its glob matches.
    pub(super) fn find(&self, source: &str) -> Result<Vec<ContextEntry>, BuildError> {
        let components = clean(source);
        if is_glob(source) {
            let mut found = Vec::new();
            for entry in self.walk("")? {
                if path_matches(&components, &clean(&entry.relative)) {
                    found.push(entry);
                }
            }
            return Ok(found);
        }
        let relative = components.join("/");
        if !relative.is_empty() && self.ignore.excludes(&relative) {
            return Ok(Vec::new());
        }
        let path = self.root.join(&relative);
        // A source that is a link is followed, as Docker does; a dangling one is the link.
        match fs_err::metadata(&path).or_else(|_| fs_err::symlink_metadata(&path)) {
            Ok(metadata) => Ok(vec![ContextEntry {
                relative,
                path,
                metadata,
            }]),
            Err(_) => Ok(Vec::new()),
        }
    }

    /// Everything below the context directory `relative` that the ignore rules keep,
    /// sorted by path, parents first.
    pub(super) fn walk(&self, relative: &str) -> Result<Vec<ContextEntry>, BuildError> {
        let mut entries = Vec::new();
        self.walk_into(relative, &mut entries)?;
        Ok(entries)
    }

    fn walk_into(&self, relative: &str, entries: &mut Vec<ContextEntry>) -> Result<(), BuildError> {
        let dir = self.root.join(relative);
        let mut names: Vec<String> = Vec::new();
        for item in fs_err::read_dir(&dir).map_err(|source| BuildError::io("list", &dir, source))? {
            let item = item.map_err(|source| BuildError::io("list", &dir, source))?;
            names.push(item.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        for name in names {
            let child = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            let path = self.root.join(&child);
            let metadata = fs_err::symlink_metadata(&path)
                .map_err(|source| BuildError::io("read", &path, source))?;
            let excluded = self.ignore.excludes(&child);
            let is_dir = metadata.is_dir();
            if !excluded {
                entries.push(ContextEntry {
                    relative: child.clone(),
                    path,
                    metadata,
                });
            }
            if is_dir && (!excluded || self.ignore.may_include_below(&child)) {
                self.walk_into(&child, entries)?;
            }
        }
        Ok(())
    }

    /// A line per entry for a cache key: its path (relative to `base`), kind, mode and
    /// content hash (a file's) or target (a link's).
    pub(super) fn describe(&self, entry: &ContextEntry, base: &str) -> Result<String, BuildError> {
        use std::os::unix::fs::PermissionsExt;
        let relative = entry
            .relative
            .strip_prefix(base)
            .unwrap_or(&entry.relative)
            .trim_start_matches('/');
        let mode = entry.metadata.permissions().mode() & 0o7777;
        let kind = entry.metadata.file_type();
        Ok(if kind.is_dir() {
            format!("dir {relative} {mode:o}")
        } else if kind.is_symlink() {
            let target = fs_err::read_link(&entry.path)
                .map_err(|source| BuildError::io("read", &entry.path, source))?;
            format!("link {relative} {}", target.display())
        } else {
            format!(
                "file {relative} {mode:o} {}",
                self.sha256(&entry.path, &entry.metadata)?
            )
        })
    }

    fn sha256(&self, path: &Path, metadata: &std::fs::Metadata) -> Result<String, BuildError> {
        use std::os::unix::fs::MetadataExt;
        let stamp = format!(
            "{} {}.{} {}.{} {}",
            metadata.len(),
            metadata.mtime(),
            metadata.mtime_nsec(),
            metadata.ctime(),
            metadata.ctime_nsec(),
            metadata.ino()
        );
        if let Some((known, hash)) = self.hashes.borrow().get(path)
            && *known == stamp
        {
            return Ok(hash.clone());
        }
        let hash = crate::sha256::file_sha256(path)
            .map_err(|source| BuildError::io("read", path, source))?;
        self.hashes
            .borrow_mut()
            .insert(path.to_path_buf(), (stamp, hash.clone()));
        Ok(hash)
    }
}
