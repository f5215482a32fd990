//! Paths looked up in the merged view of unpacked layers, as overlayfs resolves them
//! (<https://docs.kernel.org/filesystems/overlayfs.html>, "Directories", "whiteouts and
//! opaque directories"), for hard links whose target a lower layer holds: Docker applies a
//! layer on the merged view of the layers below it, so such a link is valid there.
//!
//! The rules, one component at a time: the topmost layer with an entry decides what it is;
//! a whiteout (a 0:0 character device) means nothing is there; a directory merges with the
//! directories at the same path in the layers below it, down to the first layer whose entry
//! there is not a directory or the first opaque directory; a symlink is resolved in the
//! merged view (an absolute target starts again at the root; one that climbs above it is
//! refused). The kernel never follows a symlink here: a layer takes part below a directory
//! only once `lstat` has shown it holds a real directory at every step.

use std::path::PathBuf;

use super::path_walk::{PathWalk, Step};
use super::whiteout;

/// Layer directories, topmost first.
pub(crate) struct MergedView<'a> {
    layers: &'a [PathBuf],
}

/// What a path names in the merged view.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// The entry (not followed, if a symlink): the index of the layer that holds it, and its
    /// real path there.
    Entry { layer: usize, path: PathBuf },
    /// Nothing: missing, whited out, or under something that is not a directory.
    Nothing,
}

impl<'a> MergedView<'a> {
    pub(crate) fn new(layers: &'a [PathBuf]) -> Self {
        Self { layers }
    }

    /// Look up `components` (relative to the root, without `.` or `..` of their own; a
    /// symlink's may have them). `Err` says why the path is refused.
    pub(crate) fn find<S: AsRef<str>>(&self, components: &[S]) -> Result<Found, String> {
        let mut walk = PathWalk::new(components);
        let all: Vec<usize> = (0..self.layers.len()).collect();
        // The real directories so far, and the layers that have a real directory there.
        let mut resolved: Vec<String> = Vec::new();
        let mut active = all.clone();
        while let Some(step) = walk.next_step() {
            let Step::Name { name, last, .. } = step else {
                if resolved.pop().is_none() {
                    return Err("a symlink on its path leads outside the image".to_string());
                }
                active = self.layers_at(&resolved, &all);
                continue;
            };
            resolved.push(name);
            let Some((top, metadata)) = self.topmost(&resolved, &active) else {
                return Ok(Found::Nothing);
            };
            if whiteout::is_overlay_whiteout(&metadata) {
                return Ok(Found::Nothing);
            }
            if last {
                let path = self.real(top, &resolved);
                return Ok(Found::Entry { layer: top, path });
            }
            let kind = metadata.file_type();
            if kind.is_symlink() {
                let link = self.real(top, &resolved);
                let target = fs_err::read_link(&link).map_err(|error| error.to_string())?;
                let target = target.to_str().ok_or_else(|| {
                    format!("`{}` has a target that is not UTF-8", link.display())
                })?;
                resolved.pop();
                if walk.follow(target).map_err(|error| error.to_string())? {
                    resolved.clear();
                }
                active = self.layers_at(&resolved, &all);
            } else if kind.is_dir() {
                active = self.merged_below(top, &resolved, &active);
            } else {
                return Ok(Found::Nothing);
            }
        }
        Err("it names the image's root".to_string())
    }

    /// The topmost of `active` with an entry at `resolved`, and that entry's metadata.
    fn topmost(&self, resolved: &[String], active: &[usize]) -> Option<(usize, std::fs::Metadata)> {
        active.iter().find_map(|&layer| {
            let metadata = fs_err::symlink_metadata(self.real(layer, resolved)).ok()?;
            Some((layer, metadata))
        })
    }

    /// The layers of `active`, from `top` down, whose directory at `resolved` merges with
    /// `top`'s: each holds a real directory there, and none above it in the merge is opaque.
    fn merged_below(&self, top: usize, resolved: &[String], active: &[usize]) -> Vec<usize> {
        let mut merged = Vec::new();
        for &layer in active.iter().filter(|&&layer| layer >= top) {
            let path = self.real(layer, resolved);
            match fs_err::symlink_metadata(&path) {
                Ok(metadata) if metadata.is_dir() => {
                    merged.push(layer);
                    // Unreadable xattrs read as none, as overlayfs would see none.
                    if whiteout::is_opaque(&path).unwrap_or(false) {
                        break;
                    }
                }
                // A file, symlink or whiteout hides this directory from the layers below.
                Ok(_) => break,
                Err(_) => {}
            }
        }
        merged
    }

    /// The layers of `candidates` that reach `resolved` as a merged directory, walking it
    /// again from the root (after a symlink or `..` changed the path).
    fn layers_at(&self, resolved: &[String], candidates: &[usize]) -> Vec<usize> {
        let mut active = candidates.to_vec();
        for depth in 1..=resolved.len() {
            let prefix = &resolved[..depth];
            let Some((top, metadata)) = self.topmost(prefix, &active) else {
                return Vec::new();
            };
            if !metadata.is_dir() {
                return Vec::new();
            }
            active = self.merged_below(top, prefix, &active);
        }
        active
    }

    fn real(&self, layer: usize, resolved: &[String]) -> PathBuf {
        let mut path = self.layers[layer].clone();
        path.extend(resolved);
        path
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn components(path: &str) -> Vec<String> {
        path.split('/').map(str::to_string).collect()
    }

    #[test]
    fn finds_what_a_container_would_see() {
        let temp = tempfile::tempdir().unwrap();
        let [upper, lower] = ["upper", "lower"].map(|name| temp.path().join(name));
        for (layer, files) in [
            (
                &lower,
                &["usr/bin/tool", "usr/lib/hidden", "etc/gone", "opaque/old"][..],
            ),
            (&upper, &["usr/bin/new", "opaque/fresh"][..]),
        ] {
            for file in files {
                let path = layer.join(file);
                fs_err::create_dir_all(path.parent().unwrap()).unwrap();
                fs_err::write(path, file).unwrap();
            }
        }
        std::os::unix::fs::symlink("usr/bin", lower.join("bin")).unwrap();
        std::os::unix::fs::symlink("/etc/../..", upper.join("up")).unwrap();
        // `usr/lib` is a file in the upper layer: it hides the lower directory.
        fs_err::write(upper.join("usr/lib"), "").unwrap();
        fs_err::create_dir(upper.join("etc")).unwrap();
        whiteout::make_overlay_whiteout(&upper.join("etc/gone"))
            .unwrap_or_else(|_| panic!("whiteouts need Linux 5.8"));
        whiteout::mark_opaque(&upper.join("opaque"), nix::unistd::geteuid().is_root()).unwrap();

        let layers = [upper.clone(), lower.clone()];
        let view = MergedView::new(&layers);
        let entry = |layer: usize, path: &Path| {
            Ok(Found::Entry {
                layer,
                path: path.to_path_buf(),
            })
        };
        assert_eq!(
            view.find(&components("usr/bin/tool")),
            entry(1, &lower.join("usr/bin/tool"))
        );
        assert_eq!(
            view.find(&components("usr/bin/new")),
            entry(0, &upper.join("usr/bin/new"))
        );
        assert_eq!(
            view.find(&components("bin/tool")),
            entry(1, &lower.join("usr/bin/tool"))
        );
        assert_eq!(view.find(&components("bin")), entry(1, &lower.join("bin")));
        assert_eq!(view.find(&components("usr/lib/hidden")), Ok(Found::Nothing));
        assert_eq!(view.find(&components("etc/gone")), Ok(Found::Nothing));
        assert_eq!(view.find(&components("opaque/old")), Ok(Found::Nothing));
        assert_eq!(
            view.find(&components("opaque/fresh")),
            entry(0, &upper.join("opaque/fresh"))
        );
        assert_eq!(view.find(&components("missing")), Ok(Found::Nothing));
        assert!(view.find(&components("up/x")).is_err());
    }
}
