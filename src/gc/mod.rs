//! What the store must keep, and `mlpack prune`'s sweep of the rest. An image is kept while a
//! name in `index.json`, a container in any state, or a recorded training run needs it: its
//! manifest, config and layer blobs. These are the GC roots: `index.json` is the store's,
//! containers are found in `containers/`, and `mlpack train` records each run's image under
//! `roots/runs/` ([`RunRoot`]).
//!
//! `rmi` refuses to remove the last name of an image a container uses (Docker's rule; `-f`
//! only removes the name), and `rmi`, `prune` and container creation each hold the store lock
//! while they look at the roots, so none of them acts on what another is changing.

mod caches;
mod error;
mod prune;
mod remove;
mod roots;

pub use self::error::GcError;
pub use self::prune::{PruneOptions, PruneReport, prune};
pub use self::remove::{RemovedImage, remove_image};
pub use self::roots::RunRoot;

use std::str::FromStr;

use crate::oci::{Digest, Store};
use crate::runtime::{Container, Containers};

/// Every container of the store, with the manifest digest of its image.
fn containers_with_images(store: &Store) -> Result<Vec<(Container, Digest)>, GcError> {
    let containers = Containers::open(store)?.list()?;
    Ok(containers
        .into_iter()
        // A config without a valid digest names no blob mlpack could keep.
        .filter_map(|container| {
            let digest = Digest::from_str(&container.config.image.digest).ok()?;
            Some((container, digest))
        })
        .collect())
}
