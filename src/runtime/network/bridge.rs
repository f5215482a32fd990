//! A user network's lifetime: `network create` makes its bridge (and, with `--egress`, gives
//! the bridge the gateway address and installs its masquerading rules); `network rm` and
//! `prune` undo exactly that, once no container is on it. The bridge is created again on a
//! container's start when the host lost it (a reboot).

use super::egress;
use super::error::NetworkError;
use super::ipam::Subnet;
use super::netlink::Netlink;
use super::record::{Network, Networks};
use crate::error::FromIo;
use crate::oci::Store;

/// What `network create` was asked.
#[derive(Debug, Clone, Default)]
pub struct NetworkRequest {
    pub name: String,
    pub subnet: Option<Subnet>,
    /// Let containers reach beyond the bridge (masqueraded); off by default.
    pub egress: bool,
}

/// Names that mean something else to `--network`.
const RESERVED: [&str; 4] = ["host", "none", "bridge", "default"];

/// `network create`: the record, the bridge, the rules.
pub fn create_network(store: &Store, request: &NetworkRequest) -> Result<Network, NetworkError> {
    check_name(&request.name)?;
    check_root()?;
    let networks = Networks::lock(store)?;
    if networks
        .find(&request.name)
        .is_ok_and(|found| found.name == request.name)
    {
        return Err(NetworkError::Exists {
            name: request.name.clone(),
        });
    }
    let mut netlink = Netlink::open()?;
    let taken: Vec<(Subnet, String)> = networks
        .list()?
        .into_iter()
        .map(|network| (network.subnet, format!("network `{}`", network.name)))
        .chain(netlink.addresses()?.into_iter().map(|(address, prefix)| {
            (
                Subnet::of(address, prefix),
                format!("the host's address {address}/{prefix}"),
            )
        }))
        .collect();
    let subnet = match request.subnet {
        Some(subnet) => {
            if let Some((_, other)) = taken.iter().find(|(used, _)| used.overlaps(subnet)) {
                return Err(NetworkError::Overlap {
                    subnet: subnet.to_string(),
                    other: other.clone(),
                });
            }
            subnet
        }
        None => Subnet::automatic(&taken.iter().map(|(used, _)| *used).collect::<Vec<_>>())
            .ok_or(NetworkError::NoSubnet)?,
    };
    // Made like a container's ID: 64 hex digits from the kernel's random source.
    let id = crate::runtime::container_id::ContainerId::generate()
        .map_err(|error| NetworkError::Setup {
            message: error.to_string(),
        })?
        .to_string();
    let network = Network {
        name: request.name.clone(),
        bridge: format!("mlpk-{}", &id[..10]),
        id,
        subnet,
        egress: request.egress,
        created: jiff::Timestamp::now().to_string(),
        endpoints: std::collections::BTreeMap::new(),
    };
    networks.save(&network)?;
    if let Err(error) = ensure_bridge(&mut netlink, &network) {
        let _ = teardown(&mut netlink, &network);
        let _ = networks.delete(&network);
        return Err(error);
    }
    Ok(network)
}

/// The bridge's index, creating it (and its address and rules) when it is missing.
pub(crate) fn ensure_bridge(netlink: &mut Netlink, network: &Network) -> Result<u32, NetworkError> {
    let index = if let Some(index) = netlink.link_index(&network.bridge)? {
        index
    } else {
        let index = netlink.create_bridge(&network.bridge)?;
        disable_ipv6(&network.bridge)?;
        index
    };
    // Only a network with egress has an address on the host: an internal one is a bridge
    // the host cannot route to or from, so its containers reach each other and nothing else.
    if network.egress {
        netlink.add_address(index, network.gateway(), network.subnet.prefix())?;
        egress::install(network)?;
    }
    Ok(index)
}

/// No IPv6 on the bridge: left on, the kernel gives it a link-local address, through which
/// containers on an internal network could reach services listening on the host.
fn disable_ipv6(bridge: &str) -> Result<(), NetworkError> {
    let path = format!("/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6");
    match fs_err::write(&path, "1") {
        // A kernel without IPv6 has no such file, and nothing to disable.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        result => result.map_err(|source| NetworkError::io("write", &path, source)),
    }
}

/// Remove the bridge and the rules; what is already gone is no error.
fn teardown(netlink: &mut Netlink, network: &Network) -> Result<(), NetworkError> {
    netlink.delete_link(&network.bridge)?;
    if network.egress {
        egress::remove(network)?;
    }
    Ok(())
}

/// `network rm`: refused while containers are on it.
pub fn remove_network(store: &Store, name: &str) -> Result<Network, NetworkError> {
    let networks = Networks::lock(store)?;
    let network = networks.find(name)?;
    if !network.endpoints.is_empty() {
        return Err(NetworkError::InUse {
            network: network.name.clone(),
            containers: network
                .endpoints
                .values()
                .map(|endpoint| endpoint.container.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    teardown(&mut Netlink::open()?, &network)?;
    networks.delete(&network)?;
    Ok(network)
}

/// `network prune`: every network with no container on it; their names.
pub fn prune_networks(store: &Store) -> Result<Vec<String>, NetworkError> {
    let networks = Networks::lock(store)?;
    let mut netlink = Netlink::open()?;
    let mut removed = Vec::new();
    for network in networks.list()? {
        if network.endpoints.is_empty() {
            teardown(&mut netlink, &network)?;
            networks.delete(&network)?;
            removed.push(network.name);
        }
    }
    Ok(removed)
}

/// Every network, by name.
pub fn list_networks(store: &Store) -> Result<Vec<Network>, NetworkError> {
    Networks::lock(store)?.list()
}

/// One network, by name or ID prefix.
pub fn find_network(store: &Store, name: &str) -> Result<Network, NetworkError> {
    Networks::lock(store)?.find(name)
}

/// Docker's rule for names, as for containers, and not one `--network` reads otherwise.
pub(crate) fn check_name(name: &str) -> Result<(), NetworkError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        return Err(NetworkError::invalid(
            "network name",
            name,
            "use letters, digits, `_`, `.` and `-`, starting with a letter or digit",
        ));
    }
    if RESERVED.contains(&name) {
        return Err(NetworkError::invalid(
            "network name",
            name,
            "it is one of `--network`'s own values (host, none, bridge, default)",
        ));
    }
    Ok(())
}

pub(crate) fn check_root() -> Result<(), NetworkError> {
    if nix::unistd::Uid::effective().is_root() {
        Ok(())
    } else {
        Err(NetworkError::Rootless)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic as _;

    #[test]
    fn names() {
        assert!(check_name("lab-1.a_b").is_ok());
        insta::assert_snapshot!(check_name("host").unwrap_err(), @"invalid network name `host`: it is one of `--network`'s own values (host, none, bridge, default)");
        insta::assert_snapshot!(check_name("../x").unwrap_err(), @"invalid network name `../x`: use letters, digits, `_`, `.` and `-`, starting with a letter or digit");
        let in_use = NetworkError::InUse {
            network: "lab".to_string(),
            containers: "web, db".to_string(),
        };
        insta::assert_snapshot!(format!("{in_use}\nhint: {}", in_use.hints().join("\n")), @"
        network `lab` has containers: web, db
        hint: remove those containers, or take them off with `mlpack network disconnect lab CONTAINER`
        ");
    }
}
