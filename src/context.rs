//! What commands share beyond their project: the store (`$MLPACK_HOME`) and the network (one
//! async runtime). The CLI makes one `Context` per command and passes it down; each is opened
//! at most once, and only when first needed, so `mlpack lock` with a fresh lock touches
//! neither.

use std::cell::OnceCell;

use crate::network::{Network, StartError};
use crate::oci::{OciError, Store};

#[derive(Debug, Default)]
pub struct Context {
    store: OnceCell<Store>,
    network: OnceCell<Network>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// The store at `$MLPACK_HOME` (see [`crate::oci::default_root`]): the one place it is
    /// opened.
    pub fn store(&self) -> Result<&Store, OciError> {
        if let Some(store) = self.store.get() {
            return Ok(store);
        }
        let store = Store::open_default()?;
        Ok(self.store.get_or_init(|| store))
    }

    /// The async runtime: the one place it is started.
    pub fn network(&self) -> Result<&Network, StartError> {
        if let Some(network) = self.network.get() {
            return Ok(network);
        }
        let network = Network::start()?;
        Ok(self.network.get_or_init(|| network))
    }
}
