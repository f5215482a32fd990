//! What can go wrong with user networks, published ports and their kernel objects.

use std::path::PathBuf;

use super::netlink::NetlinkError;
use crate::error::{Diagnostic, IoError};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(transparent)]
    Io(#[from] IoError),

    #[error(transparent)]
    Netlink(#[from] NetlinkError),

    #[error("no network `{name}`")]
    NotFound { name: String },

    #[error("a network named `{name}` already exists")]
    Exists { name: String },

    #[error("invalid {what} `{value}`: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },

    #[error("the subnet {subnet} overlaps {other}")]
    Overlap { subnet: String, other: String },

    #[error("no free subnet is left in 10.89.0.0/16")]
    NoSubnet,

    #[error("network `{network}` has no free address left in {subnet}")]
    Full { network: String, subnet: String },

    #[error(
        "the address {address} is already used on network `{network}` by container `{container}`"
    )]
    AddressInUse {
        address: String,
        network: String,
        container: String,
    },

    #[error("network `{network}` has containers: {containers}")]
    InUse { network: String, containers: String },

    #[error("container `{container}` is already on network `{network}`")]
    AlreadyConnected { container: String, network: String },

    #[error("container `{container}` is not on network `{network}`")]
    NotConnected { container: String, network: String },

    #[error("container `{container}` uses the host's network; it cannot join `{network}`")]
    HostNetwork { container: String, network: String },

    #[error("user networks need root: a bridge and veth pairs are created on the host")]
    Rootless,

    #[error("could not set up the container's network: {message}")]
    Setup { message: String },

    #[error("could not publish {address}: {source}")]
    Publish {
        address: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`nft` failed to {action}: {message}")]
    Nftables { action: String, message: String },

    #[error("invalid network record `{path}`")]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl NetworkError {
    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

impl Diagnostic for NetworkError {
    fn is_user_error(&self) -> bool {
        !matches!(
            self,
            Self::Io(_)
                | Self::Netlink(_)
                | Self::Setup { .. }
                | Self::Nftables { .. }
                | Self::Record { .. }
        )
    }

    fn hints(&self) -> Vec<String> {
        let hint = match self {
            Self::NotFound { .. } => "`mlpack network ls` lists the networks".to_string(),
            Self::Exists { name } => {
                format!("remove it with `mlpack network rm {name}`, or pick another name")
            }
            Self::Overlap { .. } | Self::NoSubnet => {
                "give a free range with `--subnet`, like `--subnet 10.90.0.0/24`".to_string()
            }
            Self::Full { .. } => {
                "remove stopped containers from it, or create a network with a larger `--subnet`"
                    .to_string()
            }
            Self::AddressInUse { .. } => "leave out `--ip` to get a free address".to_string(),
            Self::InUse { network, .. } => format!(
                "remove those containers, or take them off with `mlpack network disconnect {network} CONTAINER`"
            ),
            Self::HostNetwork { .. } => {
                "create the container with `--network NAME` or `--network none`".to_string()
            }
            Self::Rootless => "run `mlpack` as root, or use `--network host` or `none`".to_string(),
            Self::Publish { .. } => "pick another host port, or free that one".to_string(),
            _ => return Vec::new(),
        };
        vec![hint]
    }
}
