//! Containers on user networks. An endpoint (address, aliases, veth names) is recorded when
//! a container joins (`run --network NAME`, `network connect`) and kept until it leaves
//! (`network disconnect`, `rm`), so its address is reserved across restarts. The veth pair
//! exists only while the container runs: the supervisor plugs it in after cloning init
//! into its network namespace and before letting init go on, and pulls it out when init has
//! exited (the kernel would also remove it with the namespace, but not at once).
//!
//! Names resolve through `/etc/hosts`, rewritten in place (the file is bind-mounted, so the
//! inode must stay) in every container on a network whenever a container joins or leaves
//! it. No resolver process has to stay alive beside the containers, which have no daemon,
//! and every libc and busybox reads the file; see the README for what this leaves out.

use std::net::Ipv4Addr;
use std::os::fd::AsFd as _;

use nix::unistd::Pid;

use super::bridge::{check_name, check_root, ensure_bridge};
use super::error::NetworkError;
use super::netlink::{Netlink, NetlinkError, in_namespace};
use super::record::{Endpoint, Network, Networks};
use crate::error::FromIo;
use crate::oci::Store;
use crate::runtime::config::NetworkMode;
use crate::runtime::container::{Container, Containers};

/// A container's place on a network, as asked: `--network NAME --network-alias A --ip IP`
/// or `network connect --alias A --ip IP NAME CONTAINER`.
#[derive(Debug, Clone, Default)]
pub struct Attachment {
    pub network: String,
    pub aliases: Vec<String>,
    pub ip: Option<Ipv4Addr>,
}

/// Check attachments before the container is created: the networks exist, the aliases are
/// names, the addresses are free.
pub(crate) fn check_attachments(
    store: &Store,
    attachments: &[Attachment],
) -> Result<(), NetworkError> {
    if attachments.is_empty() {
        return Ok(());
    }
    check_root()?;
    let networks = Networks::lock(store)?;
    for attachment in attachments {
        let network = networks.find(&attachment.network)?;
        check_request(&network, attachment)?;
    }
    Ok(())
}

fn check_request(network: &Network, attachment: &Attachment) -> Result<(), NetworkError> {
    for alias in &attachment.aliases {
        check_name(alias).map_err(|_| {
            NetworkError::invalid(
                "network alias",
                alias,
                "use letters, digits, `_`, `.` and `-`",
            )
        })?;
    }
    let Some(address) = attachment.ip else {
        return Ok(());
    };
    if let Some(reason) = network.subnet.refuse(address) {
        return Err(NetworkError::invalid(
            "address",
            &address.to_string(),
            reason,
        ));
    }
    if let Some(endpoint) = network
        .endpoints
        .values()
        .find(|endpoint| endpoint.address == address)
    {
        return Err(NetworkError::AddressInUse {
            address: address.to_string(),
            network: network.name.clone(),
            container: endpoint.container.clone(),
        });
    }
    Ok(())
}

/// Record a new container's endpoints (`run --network NAME`).
pub(crate) fn join(
    containers: &Containers,
    container: &Container,
    attachments: &[Attachment],
) -> Result<(), NetworkError> {
    if attachments.is_empty() {
        return Ok(());
    }
    let networks = Networks::lock(containers.store())?;
    for attachment in attachments {
        let mut network = networks.find(&attachment.network)?;
        add_endpoint(&networks, &mut network, container, attachment)?;
    }
    refresh_hosts(containers, &networks.list()?);
    Ok(())
}

/// `network connect`: record the endpoint and, if the container runs, plug it in now.
pub fn connect(
    containers: &Containers,
    container: &Container,
    attachment: &Attachment,
) -> Result<Endpoint, NetworkError> {
    if container.config.network == NetworkMode::Host {
        return Err(NetworkError::HostNetwork {
            container: container.config.name.clone(),
            network: attachment.network.clone(),
        });
    }
    check_root()?;
    let networks = Networks::lock(containers.store())?;
    let mut network = networks.find(&attachment.network)?;
    let endpoint = add_endpoint(&networks, &mut network, container, attachment)?;
    if let Some(init) = container
        .state
        .init
        .as_ref()
        .filter(|_| container.is_running())
        && let Err(error) = plug(&mut Netlink::open()?, &network, &endpoint, init.as_pid())
    {
        network.endpoints.remove(container.id().as_str());
        networks.save(&network)?;
        return Err(error);
    }
    refresh_hosts(containers, &networks.list()?);
    Ok(endpoint)
}

/// `network disconnect`: pull the veth out (if it is there) and forget the endpoint.
pub fn disconnect(
    containers: &Containers,
    container: &Container,
    network: &str,
) -> Result<(), NetworkError> {
    let networks = Networks::lock(containers.store())?;
    let mut network = networks.find(network)?;
    let Some(endpoint) = network.endpoints.remove(container.id().as_str()) else {
        return Err(NetworkError::NotConnected {
            container: container.config.name.clone(),
            network: network.name,
        });
    };
    Netlink::open()?.delete_link(&endpoint.host_link)?;
    networks.save(&network)?;
    refresh_hosts(containers, &networks.list()?);
    write_hosts(container, &networks.list()?);
    Ok(())
}

/// A new endpoint for `container` on `network`, saved.
fn add_endpoint(
    networks: &Networks,
    network: &mut Network,
    container: &Container,
    attachment: &Attachment,
) -> Result<Endpoint, NetworkError> {
    if network.endpoints.contains_key(container.id().as_str()) {
        return Err(NetworkError::AlreadyConnected {
            container: container.config.name.clone(),
            network: network.name.clone(),
        });
    }
    check_request(network, attachment)?;
    let taken: Vec<Ipv4Addr> = network
        .endpoints
        .values()
        .map(|endpoint| endpoint.address)
        .collect();
    let address = match attachment.ip {
        Some(address) => address,
        None => network
            .subnet
            .first_free(&taken)
            .ok_or_else(|| NetworkError::Full {
                network: network.name.clone(),
                subnet: network.subnet.to_string(),
            })?,
    };
    let interfaces: Vec<String> = networks
        .list()?
        .into_iter()
        .filter_map(|other| {
            other
                .endpoints
                .get(container.id().as_str())
                .map(|endpoint| endpoint.interface.clone())
        })
        .collect();
    // One more name than there are interfaces: one of them is free.
    let interface = (0..=interfaces.len())
        .map(|n| format!("eth{n}"))
        .find(|name| !interfaces.contains(name))
        .unwrap_or_default();
    let hash =
        crate::sha256::sha256_hex(format!("{}/{}", container.id().as_str(), network.id).as_bytes());
    let endpoint = Endpoint {
        container: container.config.name.clone(),
        address,
        aliases: attachment.aliases.clone(),
        host_link: format!("mlv{}", &hash[..12]),
        interface,
    };
    network
        .endpoints
        .insert(container.id().as_str().to_string(), endpoint.clone());
    networks.save(network)?;
    Ok(endpoint)
}

/// Plug in every endpoint of a container whose init is `pid` (the supervisor, before init
/// goes on).
pub(crate) fn plug_all(store: &Store, container_id: &str, pid: Pid) -> Result<(), NetworkError> {
    let Some(networks) = Networks::lock_if_any(store)? else {
        return Ok(());
    };
    let mut netlink = None;
    for network in networks.list()? {
        if let Some(endpoint) = network.endpoints.get(container_id) {
            let netlink = match &mut netlink {
                Some(netlink) => netlink,
                None => netlink.insert(Netlink::open()?),
            };
            plug(netlink, &network, endpoint, pid)?;
        }
    }
    Ok(())
}

/// The veth pair, its host end on the bridge, its other end in the container configured.
fn plug(
    netlink: &mut Netlink,
    network: &Network,
    endpoint: &Endpoint,
    pid: Pid,
) -> Result<(), NetworkError> {
    let bridge = ensure_bridge(netlink, network)?;
    // Left by a supervisor that was killed, if the kernel has not removed it yet.
    netlink.delete_link(&endpoint.host_link)?;
    let pid_number = u32::try_from(pid.as_raw()).unwrap_or_default();
    netlink.create_veth(&endpoint.host_link, bridge, &endpoint.interface, pid_number)?;
    let path = format!("/proc/{pid}/ns/net");
    let namespace =
        fs_err::File::open(&path).map_err(|source| NetworkError::io("open", &path, source))?;
    let gateway = network.egress.then(|| network.gateway());
    in_namespace(namespace.as_fd(), || {
        configure(
            &endpoint.interface,
            endpoint.address,
            network.subnet.prefix(),
            gateway,
        )
    })
    .map_err(|message| NetworkError::Setup { message })??;
    Ok(())
}

/// Inside the container's namespace: the address, the link up, and the default route when
/// the network has egress. An internal network gets no default route at all, so anything
/// outside its subnet is unreachable rather than dropped somewhere on the way.
fn configure(
    interface: &str,
    address: Ipv4Addr,
    prefix: u8,
    gateway: Option<Ipv4Addr>,
) -> Result<(), NetlinkError> {
    let mut netlink = Netlink::open()?;
    let index = netlink.link_index(interface)?.unwrap_or_default();
    netlink.add_address(index, address, prefix)?;
    netlink.set_up(index, interface)?;
    if let Some(gateway) = gateway {
        netlink.add_default_route(gateway)?;
    }
    Ok(())
}

/// Pull out a container's veth pairs after its init exited; the endpoints stay.
pub(crate) fn unplug_all(store: &Store, container_id: &str) {
    let Ok(Some(networks)) = Networks::lock_if_any(store) else {
        return;
    };
    let Ok(mut netlink) = Netlink::open() else {
        return;
    };
    for network in networks.list().unwrap_or_default() {
        if let Some(endpoint) = network.endpoints.get(container_id) {
            let _ = netlink.delete_link(&endpoint.host_link);
        }
    }
}

/// A container is being removed: pull out its veths, release its addresses, and drop its
/// names from the other containers' `/etc/hosts`.
pub(crate) fn forget(containers: &Containers, container_id: &str) -> Result<(), NetworkError> {
    let Some(networks) = Networks::lock_if_any(containers.store())? else {
        return Ok(());
    };
    let mut changed = false;
    for mut network in networks.list()? {
        if let Some(endpoint) = network.endpoints.remove(container_id) {
            Netlink::open()?.delete_link(&endpoint.host_link)?;
            networks.save(&network)?;
            changed = true;
        }
    }
    if changed {
        refresh_hosts(containers, &networks.list()?);
    }
    Ok(())
}

/// The `/etc/hosts` lines of every network `container_id` is on.
pub(crate) fn hosts_lines(networks: &[Network], container_id: &str) -> String {
    let mut lines = String::new();
    for network in networks
        .iter()
        .filter(|network| network.endpoints.contains_key(container_id))
    {
        for line in network.hosts_lines().lines() {
            if !lines.lines().any(|existing| existing == line) {
                lines.push_str(line);
                lines.push('\n');
            }
        }
    }
    lines
}

/// The network lines for a container's `/etc/hosts`, read under the lock.
pub(crate) fn hosts_for(store: &Store, container_id: &str) -> Result<String, NetworkError> {
    let Some(networks) = Networks::lock_if_any(store)? else {
        return Ok(String::new());
    };
    Ok(hosts_lines(&networks.list()?, container_id))
}

/// Rewrite the `/etc/hosts` of every container on any network. A container that cannot be
/// read (being removed) is skipped: its file goes with it.
fn refresh_hosts(containers: &Containers, networks: &[Network]) {
    let mut ids: Vec<&String> = networks
        .iter()
        .flat_map(|network| network.endpoints.keys())
        .collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        if let Ok(container) = containers.find(id) {
            write_hosts(&container, networks);
        }
    }
}

/// Write one container's `/etc/hosts` in place, if it has been started once (before that,
/// its start writes it).
fn write_hosts(container: &Container, networks: &[Network]) {
    let path = container.dir.join("hosts");
    if path.exists() {
        let text = crate::runtime::launch::hosts_text(
            &container.config,
            &hosts_lines(networks, container.id().as_str()),
        );
        let _ = fs_err::write(&path, text);
    }
}

/// A container's networks and its endpoint on each, for `ps` and `inspect`.
pub fn endpoints_of(
    store: &Store,
    container_id: &str,
) -> Result<Vec<(String, Endpoint)>, NetworkError> {
    let Some(networks) = Networks::lock_if_any(store)? else {
        return Ok(Vec::new());
    };
    Ok(networks
        .list()?
        .into_iter()
        .filter_map(|network| {
            let endpoint = network.endpoints.get(container_id)?.clone();
            Some((network.name, endpoint))
        })
        .collect())
}
