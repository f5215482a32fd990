//! The merged file tree of a stage's layers, for what `COPY` must know of it: whether the
//! destination is a directory already, the owners of the parents it passes through,
//! `--chown` names from `/etc/passwd`, and `COPY --from`'s sources. The layers are unpacked
//! into the runtime's layer cache (the container that runs the next `RUN` uses them), and
//! paths are looked up as overlayfs merges them ([`crate::fs_tree::MergedView`]).

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::fs_tree::{Found, MergedView, whiteout};
use crate::oci::{ImageSpec, Layer};

use super::super::{BuildError, Builder};

pub(super) struct LowerTree {
    /// Unpacked layer directories, topmost first.
    dirs: Vec<PathBuf>,
}

impl LowerTree {
    /// The tree of `layers`, unpacked.
    pub(super) fn open(builder: &Builder<'_>, layers: &[Layer]) -> Result<Self, BuildError> {
        if layers.is_empty() {
            return Ok(Self { dirs: Vec::new() });
        }
        let spec = ImageSpec::new(
            layers.to_vec(),
            crate::arch::Arch::host().oci(),
            super::super::config::created(None, None)?,
        );
        let descriptor = crate::oci::write_image(builder.store, &spec)?;
        let image = builder.store.resolve(descriptor.digest().as_ref())?;
        let cache = crate::runtime::LayerCache::for_store(builder.store);
        let mut dirs = cache
            .ensure_image(builder.store, &image)
            .map_err(crate::runtime::RuntimeError::from)?;
        dirs.reverse();
        Ok(Self { dirs })
    }

    /// The real path of what `path` (absolute in the image) names, not followed.
    pub(super) fn find(&self, path: &str) -> Option<PathBuf> {
        let components = crate::dockerfile::ignore::clean(path);
        if components.is_empty() {
            return self.dirs.first().cloned();
        }
        match MergedView::new(&self.dirs).find(&components) {
            Ok(Found::Entry { path, .. }) => Some(path),
            _ => None,
        }
    }

    /// Its metadata, if `path` exists (a symlink's own).
    pub(super) fn metadata(&self, path: &str) -> Option<std::fs::Metadata> {
        fs_err::symlink_metadata(self.find(path)?).ok()
    }

    pub(super) fn is_dir(&self, path: &str) -> bool {
        self.metadata(path)
            .is_some_and(|metadata| metadata.is_dir())
    }

    /// The names in the directory `path`, merged over the layers.
    pub(super) fn list(&self, path: &str) -> Vec<String> {
        let components = crate::dockerfile::ignore::clean(path);
        let mut names = BTreeSet::new();
        let mut hidden = BTreeSet::new();
        for dir in &self.dirs {
            let mut real = dir.clone();
            real.extend(&components);
            let Ok(metadata) = fs_err::symlink_metadata(&real) else {
                continue;
            };
            if !metadata.is_dir() {
                break;
            }
            for item in fs_err::read_dir(&real).into_iter().flatten().flatten() {
                let name = item.file_name().to_string_lossy().into_owned();
                let whited_out = item
                    .metadata()
                    .is_ok_and(|metadata| whiteout::is_overlay_whiteout(&metadata));
                if whited_out {
                    hidden.insert(name);
                } else if !hidden.contains(&name) {
                    names.insert(name);
                }
            }
            if whiteout::is_opaque(&real).unwrap_or(false) {
                break;
            }
        }
        names.into_iter().collect()
    }

    /// The paths a glob (`/dist/*.whl`; `*`, `?` and classes within a component) matches,
    /// sorted.
    pub(super) fn glob(&self, pattern: &str) -> Vec<String> {
        let mut found = vec![String::new()];
        for component in crate::dockerfile::ignore::clean(pattern) {
            let mut next = Vec::new();
            for dir in &found {
                if crate::dockerfile::ignore::is_glob(&component) {
                    next.extend(
                        self.list(if dir.is_empty() { "/" } else { dir })
                            .into_iter()
                            .filter(|name| {
                                crate::dockerfile::ignore::component_matches(&component, name)
                            })
                            .map(|name| format!("{dir}/{name}")),
                    );
                } else {
                    next.push(format!("{dir}/{component}"));
                }
            }
            found = next;
        }
        found.retain(|path| !path.is_empty() && self.find(path).is_some());
        found
    }

    /// A user's or group's id from the tree's `/etc/passwd` or `/etc/group` (`file`).
    pub(super) fn id_of(&self, file: &str, name: &str) -> Option<u32> {
        if let Ok(id) = name.parse() {
            return Some(id);
        }
        let text = fs_err::read_to_string(self.find(file)?).ok()?;
        text.lines().find_map(|line| {
            let mut fields = line.split(':');
            (fields.next() == Some(name))
                .then(|| fields.nth(1)?.parse().ok())
                .flatten()
        })
    }

    /// The primary group of the user `name` (numeric or from `/etc/passwd`).
    pub(super) fn group_of_user(&self, name: &str) -> Option<u32> {
        let text = fs_err::read_to_string(self.find("/etc/passwd")?).ok()?;
        text.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 3 && (fields[0] == name || fields[2] == name))
                .then(|| fields[3].parse().ok())
                .flatten()
        })
    }
}
