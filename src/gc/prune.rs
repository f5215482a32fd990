//! `mlpack prune`: under the store lock, find the roots (the containers' images and the
//! recorded runs' images, less the run roots that let go), then delete what neither they nor
//! `index.json` need: blobs, unpacked layers, bytecode caches, builds' old logs (and, when
//! asked, build steps' cache mounts), partial downloads and the temp trees of killed processes.

use std::collections::BTreeSet;

use serde::Serialize;

use super::error::GcError;
use super::{caches, containers_with_images, roots};
use crate::oci::{DiffId, LiveImage, Store, chain_ids};
use crate::runtime::{Container, LayerCache};

/// What `mlpack prune` was asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneOptions {
    /// Drop every recorded run's root, so that images only runs need go too.
    pub runs: bool,
    /// Remove the named volumes no container mounts (Docker's `system prune --volumes`).
    pub volumes: bool,
    /// Also empty the build steps' `cache` mounts (`docker builder prune`).
    pub build_cache: bool,
}

/// What [`prune`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub blobs_removed: usize,
    /// Unpacked layers (`layers/<hex>/`) no kept image or container has.
    pub layers_removed: usize,
    /// Bytecode caches (`pycache/`, `pycache-code/`) of images that are gone.
    pub caches_removed: usize,
    /// Logs of builds (steps, failed sdists) older than an hour.
    pub build_logs_removed: usize,
    /// Build steps' cache-mount directories (with `--build-cache`).
    pub build_caches_removed: usize,
    /// Temp trees of killed processes, stale temp files and partial downloads.
    pub temp_removed: usize,
    /// Run roots removed: all of them with `--runs`, else those whose record was deleted.
    pub run_roots_removed: usize,
    /// Named volumes removed (with `--volumes`).
    pub volumes_removed: usize,
    /// Bytes of everything removed.
    pub bytes_freed: u64,
}

/// Delete what no name, container or recorded run needs.
pub fn prune(store: &Store, options: PruneOptions) -> Result<PruneReport, GcError> {
    // Held throughout, so that no container or name appears between finding the roots and
    // deleting what they do not reach.
    let lock = store.lock()?;
    let (containers, mut roots): (Vec<Container>, Vec<_>) =
        containers_with_images(store)?.into_iter().unzip();
    let (runs, run_roots_removed) = roots::sweep(store, options.runs)?;
    roots.extend(runs.into_iter().map(|root| root.image));
    let blobs = store.prune(&roots)?;
    let mut report = PruneReport {
        blobs_removed: blobs.blobs_removed,
        temp_removed: blobs.temp_files_removed,
        run_roots_removed,
        bytes_freed: blobs.bytes_freed,
        ..PruneReport::default()
    };
    let layers = LayerCache::for_store(store);
    let (removed, bytes) = layers.prune(&layer_dirs(&blobs.live_images, &containers))?;
    report.layers_removed = removed;
    report.bytes_freed += bytes;
    if let Ok(cache) = crate::dirs::cache_dir() {
        let (removed, bytes) = caches::prune(&cache, &blobs.live_images, &containers)?;
        report.caches_removed = removed;
        let (logs, logs_bytes) = caches::prune_build_logs(&cache)?;
        report.build_logs_removed = logs;
        report.bytes_freed += bytes + logs_bytes;
        if options.build_cache {
            let (removed, bytes) = caches::prune_cache_mounts(&cache, &containers)?;
            report.build_caches_removed = removed;
            report.bytes_freed += bytes;
        }
    }
    if options.volumes {
        let containers = crate::runtime::Containers::open(store)?;
        report.volumes_removed = crate::runtime::volume::prune_volumes(&containers, &lock)
            .map_err(crate::runtime::RuntimeError::from)?
            .len();
    }
    let leftovers = [store.leftovers(true)?, layers.leftovers(true)?].concat();
    report.temp_removed += leftovers.len();
    report.bytes_freed += leftovers.iter().map(|leftover| leftover.bytes).sum::<u64>();
    Ok(report)
}

/// The `layers/` directory names (hex) to keep: every kept image's and container's layers,
/// by diffID and by chain ID (a layer unpacked against the layers below it).
fn layer_dirs(images: &[LiveImage], containers: &[Container]) -> BTreeSet<String> {
    let from_containers = containers.iter().map(|container| {
        let layers = &container.config.image.layers;
        layers.iter().filter_map(|id| id.parse().ok()).collect()
    });
    let stacks: Vec<Vec<DiffId>> = images
        .iter()
        .map(|image| image.diff_ids.clone())
        .chain(from_containers)
        .collect();
    let mut keep = BTreeSet::new();
    for stack in &stacks {
        keep.extend(stack.iter().map(|diff_id| diff_id.hex().to_string()));
        keep.extend(chain_ids(stack).iter().map(|chain| chain.hex().to_string()));
    }
    keep
}
