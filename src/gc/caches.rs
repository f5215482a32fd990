//! The bytecode caches `mlpack train` mounts ([`crate::train::pycache`]), pruned with the
//! images they belong to: a cache stays while an image the store keeps has it, or while a
//! container mounts it. The cache directory is the user's and may serve several stores
//! (`MLPACK_HOME`s): pruning one removes the bytecode of images only another has, which their
//! next run compiles again.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use super::error::GcError;
use crate::error::FromIo;
use crate::oci::{LiveImage, remove_tree, tree_size};
use crate::runtime::Container;
use crate::train::pycache;

/// Remove the bytecode caches under `cache` that no image of `images` has and no container
/// of `containers` mounts; returns how many went and their bytes.
pub(super) fn prune(
    cache: &Path,
    images: &[LiveImage],
    containers: &[Container],
) -> Result<(usize, u64), GcError> {
    let mut keep: BTreeSet<PathBuf> = BTreeSet::new();
    for image in images {
        let layers: Vec<String> = image.layers.iter().map(ToString::to_string).collect();
        let (libraries, code) = pycache::dirs(cache, image.manifest.as_str(), &layers);
        keep.extend([libraries, code]);
    }
    let mounted = containers
        .iter()
        .flat_map(|container| &container.config.mounts)
        .map(|mount| mount.source.clone());
    keep.extend(mounted);
    let keep: BTreeSet<PathBuf> = keep.iter().map(|path| canonical(path)).collect();
    let (mut removed, mut bytes) = (0, 0);
    for dir in [pycache::LIBRARIES_DIR, pycache::CODE_DIR] {
        let dir = cache.join(dir);
        let entries = match fs_err::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(GcError::io("list", &dir, source)),
        };
        for entry in entries {
            let path = entry
                .map_err(|source| GcError::io("list", &dir, source))?
                .path();
            if keep.contains(&canonical(&path)) {
                continue;
            }
            let size = tree_size(&path);
            match remove_tree(&path) {
                Ok(()) => (removed, bytes) = (removed + 1, bytes + size),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(GcError::io("remove", &path, source)),
            }
        }
    }
    Ok((removed, bytes))
}

/// `path` with symlinks resolved where it exists, so that a cache reached through a linked
/// `XDG_CACHE_HOME` still matches a container's mount of it.
fn canonical(path: &Path) -> PathBuf {
    fs_err::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
