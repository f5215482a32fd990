//! Container networking. `host` shares the host's stack; `none` is a namespace with only
//! loopback; a user network (`network create`) is a Linux bridge with one veth pair per
//! running container, addresses from its subnet recorded in the store, names in each
//! container's `/etc/hosts`, no way out unless created with `--egress`, and ports published
//! on the host by the supervisor. Links and addresses go through netlink (`netlink`),
//! outbound rules through nftables (`egress`).
//!
//! Kernel interfaces: `rtnetlink(7)`, `veth(4)`, `network_namespaces(7)`; the commands and
//! their defaults follow `docker network` (<https://docs.docker.com/reference/cli/docker/network/>).

mod bridge;
mod egress;
mod endpoint;
mod error;
mod ipam;
mod loopback;
mod netlink;
mod ports;
mod record;

pub use self::bridge::{
    NetworkRequest, create_network, find_network, list_networks, prune_networks, remove_network,
};
pub use self::endpoint::{Attachment, connect, disconnect, endpoints_of};
pub(crate) use self::endpoint::{check_attachments, forget, hosts_for, join, plug_all, unplug_all};
pub use self::error::NetworkError;
pub use self::ipam::Subnet;
pub(crate) use self::loopback::loopback_up;
pub(crate) use self::ports::Listeners;
pub use self::ports::PublishedPort;
pub use self::record::{Endpoint, Network};
