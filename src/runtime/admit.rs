//! Images that come from outside (`mlpack load`, `mlpack pull`) are unpacked before the
//! command ends, as Docker's `load` and `pull` unpack them: a layer the unpacker refuses (an
//! entry with `..`, an absolute path, a write through a symlink, a hard link that leaves the
//! image; see [`super::layers`]) is refused at the door rather than at the first `run`, and
//! the store is put back as it was, with no name, blob or unpacked layer of the image left.
//! A pull unpacks each layer as soon as its blob is stored, while the rest download.

use std::collections::BTreeSet;

use super::error::RuntimeError;
use super::layers::LayerCache;
use crate::error::{Diagnostic, FromIo};
use crate::network::Network;
use crate::oci::registry::{self, PullReport, RegistryError, TransferProgress};
use crate::oci::{Digest, ImageReference, Store, StoreLock, StoreSnapshot, remove_tree};

/// The store as it was before images were brought in, held under the store lock until
/// [`Admission::check`].
#[derive(Debug)]
#[must_use = "`check` unpacks what was brought in, or puts the store back"]
pub struct Admission {
    store: Store,
    cache: LayerCache,
    snapshot: StoreSnapshot,
    /// The names in `layers/` before.
    layers: BTreeSet<String>,
    _lock: StoreLock,
}

impl Admission {
    /// Take the store lock and remember the store as it is.
    pub fn begin(store: &Store) -> Result<Self, RuntimeError> {
        let lock = store.lock()?;
        let cache = LayerCache::for_store(store);
        Ok(Self {
            snapshot: store.snapshot()?,
            layers: names(&cache)?,
            store: store.clone(),
            cache,
            _lock: lock,
        })
    }

    /// Unpack each image brought in, `(name for messages, manifest digest)`; when one is
    /// refused, put the store back and say why.
    pub fn check(self, images: &[(String, Digest)]) -> Result<(), RuntimeError> {
        for (name, digest) in images {
            let unpacked = self
                .store
                .resolve(digest.as_str())
                .map_err(RuntimeError::from)
                .and_then(|image| Ok(self.cache.ensure_image(&self.store, &image)?));
            if let Err(error) = unpacked {
                self.restore()?;
                return Err(RuntimeError::Refused {
                    image: name.clone(),
                    source: Box::new(error),
                });
            }
        }
        Ok(())
    }

    fn restore(&self) -> Result<(), RuntimeError> {
        self.store.restore(&self.snapshot)?;
        self.remove_new_layers()
    }

    /// Remove the layers unpacked since [`Self::begin`].
    fn remove_new_layers(&self) -> Result<(), RuntimeError> {
        for name in names(&self.cache)?.difference(&self.layers) {
            let path = self.cache.root().join(name);
            remove_tree(&path).map_err(|source| RuntimeError::io("remove", &path, source))?;
        }
        Ok(())
    }
}

/// The unpacked layers' directory names.
fn names(cache: &LayerCache) -> Result<BTreeSet<String>, RuntimeError> {
    let root = cache.root();
    let entries = match fs_err::read_dir(root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(source) => return Err(RuntimeError::io("list", root, source)),
    };
    let mut names = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|source| RuntimeError::io("list", root, source))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.len() == 64 {
            names.insert(name);
        }
    }
    Ok(names)
}

/// `mlpack pull REFERENCE`: the image pulled into the store under its store name and
/// admitted (unpacked) in one step, under the store lock; a layer refused leaves the store as
/// it was. `platform` is `(os, architecture)` with Go's names.
pub fn pull_admitted(
    network: &Network,
    store: &Store,
    reference: &str,
    platform: (&str, &str),
    progress: &dyn TransferProgress,
) -> Result<(ImageReference, PullReport), PullError> {
    let source = registry::remote_reference(reference)?;
    let client = registry::client_for(source.registry())?;
    let local_name = source.store_name();
    let admission = Admission::begin(store)?;
    // Each layer is unpacked as soon as its blob is in, while the later ones download; the
    // check below then finds them unpacked.
    let pulled = admission
        .cache
        .unpack_as_handed(store, usize::MAX, |hand_over| {
            network.block_on(registry::pull_each(
                &client,
                store,
                &source,
                platform,
                &local_name,
                progress,
                hand_over,
            ))
        });
    let report = match pulled {
        Ok(report) => report,
        Err(error) => {
            // The blobs stay, for the next pull to resume; the layers unpacked from them go,
            // as nothing names them.
            let _ = admission.remove_new_layers();
            return Err(error.into());
        }
    };
    admission.check(&[(local_name.to_string(), report.manifest_digest.clone())])?;
    // As Docker's `RepoDigests`: the digest the registry named (the index's, for one).
    let named = report
        .index_digest
        .as_ref()
        .unwrap_or(&report.manifest_digest);
    store
        .record_repo_digest(&report.manifest_digest, &local_name.repo_digest(named))
        .map_err(RuntimeError::from)?;
    Ok((local_name, report))
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

impl Diagnostic for PullError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Registry(error) => error.hints(),
            Self::Runtime(error) => error.hints(),
        }
    }

    fn is_user_error(&self) -> bool {
        match self {
            Self::Registry(error) => error.is_user_error(),
            Self::Runtime(error) => error.is_user_error(),
        }
    }
}
