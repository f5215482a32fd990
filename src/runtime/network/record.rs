//! User networks on disk: `$MLPACK_HOME/networks/<name>.json` holds a network's subnet, its
//! bridge, whether it may reach outside, and its endpoints (the containers on it, with their
//! addresses and aliases): the IPAM record and the source of every container's `/etc/hosts`.
//! Every change happens under `networks/.lock`, so two `mlpack run`s never take one address.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::NetworkError;
use super::ipam::Subnet;
use crate::atomic_file::{self, Durability};
use crate::error::FromIo;
use crate::oci::{DirLock, Store};

const NETWORKS_DIR: &str = "networks";

/// A user network: a Linux bridge and the addresses handed out on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: String,
    pub subnet: Subnet,
    /// The bridge's name on the host (`mlpk-` and ten hex digits of the ID).
    pub bridge: String,
    /// Whether containers get a default route through the bridge, masqueraded by nftables.
    pub egress: bool,
    /// RFC 3339.
    pub created: String,
    /// By container ID.
    pub endpoints: BTreeMap<String, Endpoint>,
}

/// One container on a network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    /// The container's name, resolvable on the network.
    pub container: String,
    pub address: Ipv4Addr,
    /// More names for it on this network (`--network-alias`, `connect --alias`).
    pub aliases: Vec<String>,
    /// The host end of its veth pair.
    pub host_link: String,
    /// Its interface inside the container (`eth0`, `eth1`, …).
    pub interface: String,
}

impl Network {
    pub fn gateway(&self) -> Ipv4Addr {
        self.subnet.gateway()
    }

    /// The containers' names and aliases on this network, as `/etc/hosts` lines.
    pub(crate) fn hosts_lines(&self) -> String {
        let mut lines = String::new();
        for endpoint in self.endpoints.values() {
            let names: Vec<&str> = std::iter::once(endpoint.container.as_str())
                .chain(endpoint.aliases.iter().map(String::as_str))
                .collect();
            let _ = writeln!(lines, "{}\t{}", endpoint.address, names.join(" "));
        }
        lines
    }
}

/// The networks directory, locked for the life of the value.
pub(crate) struct Networks {
    root: PathBuf,
    _lock: DirLock,
}

impl Networks {
    /// Open and lock `networks/` in `store`.
    pub(crate) fn lock(store: &Store) -> Result<Self, NetworkError> {
        let lock = store.lock_dir(NETWORKS_DIR)?;
        Ok(Self {
            root: lock.root().to_path_buf(),
            _lock: lock,
        })
    }

    /// [`Self::lock`], or `None` when no network was ever created in `store` (so commands
    /// that only look leave no `networks/` behind).
    pub(crate) fn lock_if_any(store: &Store) -> Result<Option<Self>, NetworkError> {
        if store.root().join(NETWORKS_DIR).is_dir() {
            Self::lock(store).map(Some)
        } else {
            Ok(None)
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.json"))
    }

    /// Every network, by name.
    pub(crate) fn list(&self) -> Result<Vec<Network>, NetworkError> {
        let entries = fs_err::read_dir(&self.root)
            .map_err(|source| NetworkError::io("list", &self.root, source))?;
        let mut networks = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| NetworkError::io("list", &self.root, source))?
                .path();
            if path
                .extension()
                .is_some_and(|extension| extension == "json")
            {
                networks.push(read(&path)?);
            }
        }
        networks.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(networks)
    }

    /// The network named `name` (or whose ID starts with it).
    pub(crate) fn find(&self, name: &str) -> Result<Network, NetworkError> {
        let path = self.path(name);
        // A name with a `/` is no network's, and must not reach outside `networks/`.
        if !name.contains('/') && path.is_file() {
            return read(&path);
        }
        let mut by_id = self
            .list()?
            .into_iter()
            .filter(|network| !name.is_empty() && network.id.starts_with(name));
        match (by_id.next(), by_id.next()) {
            (Some(network), None) => Ok(network),
            _ => Err(NetworkError::NotFound {
                name: name.to_string(),
            }),
        }
    }

    pub(crate) fn save(&self, network: &Network) -> Result<(), NetworkError> {
        let path = self.path(&network.name);
        let bytes = serde_json::to_vec_pretty(network).map_err(|source| NetworkError::Record {
            path: path.clone(),
            source,
        })?;
        atomic_file::write(&path, &bytes, Durability::Cached)
            .map_err(|source| NetworkError::io("write", &path, source))
    }

    pub(crate) fn delete(&self, network: &Network) -> Result<(), NetworkError> {
        let path = self.path(&network.name);
        fs_err::remove_file(&path).map_err(|source| NetworkError::io("remove", &path, source))
    }
}

fn read(path: &Path) -> Result<Network, NetworkError> {
    let bytes = fs_err::read(path).map_err(|source| NetworkError::io("read", path, source))?;
    serde_json::from_slice(&bytes).map_err(|source| NetworkError::Record {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines_list_names_then_aliases() {
        let endpoint = |container: &str, last: u8, aliases: &[&str]| Endpoint {
            container: container.to_string(),
            address: Ipv4Addr::new(10, 90, 0, last),
            aliases: aliases.iter().map(|alias| (*alias).to_string()).collect(),
            host_link: String::new(),
            interface: "eth0".to_string(),
        };
        let network = Network {
            name: "lab".to_string(),
            id: "0".repeat(64),
            subnet: "10.90.0.0/24".parse().unwrap(),
            bridge: "mlpk-0000000000".to_string(),
            egress: false,
            created: String::new(),
            endpoints: BTreeMap::from([
                ("a".to_string(), endpoint("web", 2, &["www", "api"])),
                ("b".to_string(), endpoint("db", 3, &[])),
            ]),
        };
        insta::assert_snapshot!(network.hosts_lines(), @"
        10.90.0.2	web www api
        10.90.0.3	db
        ");
    }
}
