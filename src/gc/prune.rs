//! `mlpack prune`: under the store lock, find the roots (the containers' images and the
//! recorded runs' images, less the run roots that let go), then delete every blob that
//! neither they nor `index.json` reach.

use serde::Serialize;

use super::error::GcError;
use super::{containers_with_images, roots};
use crate::oci::Store;

/// What `mlpack prune` was asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneOptions {
    /// Drop every recorded run's root, so that images only runs need go too.
    pub runs: bool,
}

/// What [`prune`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub blobs_removed: usize,
    /// Run roots removed: all of them with `--runs`, else those whose record was deleted.
    pub run_roots_removed: usize,
    pub bytes_freed: u64,
}

/// Delete what no name, container or recorded run needs.
pub fn prune(store: &Store, options: PruneOptions) -> Result<PruneReport, GcError> {
    // Held throughout, so that no container or name appears between finding the roots and
    // deleting what they do not reach.
    let _lock = store.lock()?;
    let mut roots: Vec<_> = containers_with_images(store)?
        .into_iter()
        .map(|(_, digest)| digest)
        .collect();
    let (runs, run_roots_removed) = roots::sweep(store, options.runs)?;
    roots.extend(runs.into_iter().map(|root| root.image));
    let blobs = store.prune(&roots)?;
    Ok(PruneReport {
        blobs_removed: blobs.blobs_removed,
        run_roots_removed,
        bytes_freed: blobs.bytes_freed,
    })
}
