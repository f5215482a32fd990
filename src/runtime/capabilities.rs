//! The capabilities a container's command keeps: Docker's default set
//! (<https://github.com/moby/moby/blob/v27.0.0/oci/caps/defaults.go>), less `CAP_NET_RAW`
//! when the container shares the host's network. Docker keeps it there too, but then a raw
//! or packet socket sees every packet of the host, loopback included: another user's
//! password sent to a local service, say. With its own network namespace (`--network none`)
//! the container keeps Docker's set: its sockets see only its own traffic.

use caps::Capability;

use super::config::NetworkMode;

/// Docker's default capability set.
const DOCKER_DEFAULT: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// The set for a container on `network`.
pub(crate) fn for_network(network: NetworkMode) -> Vec<Capability> {
    DOCKER_DEFAULT
        .into_iter()
        .filter(|cap| network != NetworkMode::Host || *cap != Capability::CAP_NET_RAW)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_raw_only_in_a_network_of_its_own() {
        assert_eq!(for_network(NetworkMode::None).len(), 14);
        let host = for_network(NetworkMode::Host);
        assert_eq!(host.len(), 13);
        assert!(!host.contains(&Capability::CAP_NET_RAW));
    }
}
