//! Pushing images from the store to a registry and pulling them into it, with the registry's
//! token or basic authentication and the credentials of `mlpack login` or `docker login`.
//!
//! Specs: the OCI distribution spec (<https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md>)
//! and Docker's token authentication (<https://distribution.github.io/distribution/spec/auth/token/>).

use super::reference::ImageReference;

mod auth;
mod client;
mod credentials;
mod error;
mod host;
mod manifest;
mod mirrors;
mod progress;
mod pull;
mod push;

pub use self::client::RegistryClient;
pub use self::credentials::{CredentialStore, Credentials, SavedCredentials};
pub use self::error::{ConnectFailure, RegistryError};
pub use self::host::is_insecure;
pub use self::mirrors::{DOCKER_DAEMON_CONFIG, configured as configured_mirrors};
pub use self::progress::{NoProgress, TransferProgress};
pub use self::pull::{LayerStored, PullReport, pull, pull_each};
pub use self::push::{PushReport, push};

/// A client for `registry` with the saved credentials (mlpack's, then Docker's), over plain
/// HTTP where [`is_insecure`] allows it, and with its configured mirrors
/// ([`configured_mirrors`]) for pulls: each with its own host's credentials, over plain HTTP
/// when its URL says `http://` or [`is_insecure`] allows it.
pub fn client_for(registry: &str) -> Result<RegistryClient, RegistryError> {
    let store = CredentialStore::open()?;
    let mirrors = configured_mirrors(registry)?
        .iter()
        .map(|mirror| {
            let host = mirror.host();
            let insecure = mirror.is_http() || is_insecure(&host);
            RegistryClient::new(&host, insecure, store.get(&host)?)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let client = RegistryClient::new(registry, is_insecure(registry), store.get(registry)?)?;
    Ok(client.with_mirrors(mirrors))
}

/// `text` as `docker pull` reads it, spelled out ([`ImageReference::normalized`]): what
/// `pull`, `push` and registry bases take.
pub fn remote_reference(text: &str) -> Result<ImageReference, RegistryError> {
    Ok(text.parse::<ImageReference>()?.normalized())
}

/// Environment variable listing registries reached over plain HTTP besides `localhost`:
/// comma-separated `host[:port]` (a host without a port covers all its ports).
pub const MLPACK_INSECURE_REGISTRIES: &str = "MLPACK_INSECURE_REGISTRIES";
