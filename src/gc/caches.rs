//! The caches beside the store that `prune` sweeps. The bytecode caches `mlpack train`
//! mounts ([`crate::train::pycache`]) go with the images they belong to: a cache stays while
//! an image the store keeps has it, or while a container mounts it. The cache directory is the user's and may serve several stores
//! (`MLPACK_HOME`s): pruning one removes the bytecode of images only another has, which their
//! next run compiles again. Builds' logs go once an hour old; build steps' cache mounts only
//! with `--build-cache`.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::error::GcError;
use crate::build;
use crate::error::FromIo;
use crate::oci::{LiveImage, remove_tree, tree_size};
use crate::runtime::Container;
use crate::train::pycache;

/// How long a build's log is kept at least.
const LOG_GRACE: Duration = Duration::from_hours(1);

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
    let mut keep: BTreeSet<PathBuf> = keep.iter().map(|path| canonical(path)).collect();
    keep.extend(mounted(containers));
    let (mut removed, mut bytes) = (0, 0);
    for dir in [pycache::LIBRARIES_DIR, pycache::CODE_DIR] {
        let (count, size) =
            remove_entries(&cache.join(dir), |path| !keep.contains(&canonical(path)))?;
        (removed, bytes) = (removed + count, bytes + size);
    }
    Ok((removed, bytes))
}

/// Remove the logs of builds (`[build] run` steps, Dockerfile `RUN`s, failed sdists) older
/// than an hour: a log younger than that may be the one the error just printed names.
pub(super) fn prune_build_logs(cache: &Path) -> Result<(usize, u64), GcError> {
    let cutoff = SystemTime::now() - LOG_GRACE;
    let (mut removed, mut bytes) = (0, 0);
    for dir in [build::STEP_LOGS_DIR, build::SDIST_LOGS_DIR] {
        let (count, size) = remove_entries(&cache.join(dir), |path| {
            fs_err::symlink_metadata(path)
                .and_then(|metadata| metadata.modified())
                .is_ok_and(|modified| modified < cutoff)
        })?;
        (removed, bytes) = (removed + count, bytes + size);
    }
    Ok((removed, bytes))
}

/// Empty the build steps' `cache` mounts (as `docker builder prune` drops `BuildKit`'s),
/// except those a container mounts: a build running now keeps its cache.
pub(super) fn prune_cache_mounts(
    cache: &Path,
    containers: &[Container],
) -> Result<(usize, u64), GcError> {
    let mounted = mounted(containers);
    remove_entries(&cache.join(build::CACHE_MOUNTS_DIR), |path| {
        !mounted.contains(&canonical(path))
    })
}

/// The host paths `containers` bind-mount, links resolved: what a container uses stays.
fn mounted(containers: &[Container]) -> BTreeSet<PathBuf> {
    containers
        .iter()
        .flat_map(|container| &container.config.mounts)
        .map(|mount| canonical(&mount.source))
        .collect()
}

/// Remove each entry of `dir` that `remove` picks (none when `dir` is missing); returns how
/// many went and their bytes.
fn remove_entries(dir: &Path, remove: impl Fn(&Path) -> bool) -> Result<(usize, u64), GcError> {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(source) => return Err(GcError::io("list", dir, source)),
    };
    let (mut removed, mut bytes) = (0, 0);
    for entry in entries {
        let path = entry
            .map_err(|source| GcError::io("list", dir, source))?
            .path();
        if !remove(&path) {
            continue;
        }
        let size = tree_size(&path);
        match remove_tree(&path) {
            Ok(()) => (removed, bytes) = (removed + 1, bytes + size),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(GcError::io("remove", &path, source)),
        }
    }
    Ok((removed, bytes))
}

/// `path` with symlinks resolved where it exists, so that a cache reached through a linked
/// `XDG_CACHE_HOME` still matches a container's mount of it.
fn canonical(path: &Path) -> PathBuf {
    fs_err::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
