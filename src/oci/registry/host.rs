//! Registry hosts: where a registry's API answers (Docker Hub's is not `docker.io`) and which
//! registries are reached over plain HTTP, as Docker decides it.
//!
//! Docker's rules: <https://docs.docker.com/reference/cli/dockerd/#insecure-registries>.

use std::net::IpAddr;

use super::super::reference::{DOCKER_HUB, split_port};
use super::MLPACK_INSECURE_REGISTRIES;

/// Where Docker Hub's registry API answers.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Where `registry`'s API answers: `registry-1.docker.io` for Docker Hub.
pub(crate) fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

/// Whether `registry` (`host[:port]`) is reached over plain HTTP: `localhost`, `127.0.0.0/8`
/// and `::1` (as Docker treats them), or listed in `MLPACK_INSECURE_REGISTRIES`.
pub fn is_insecure(registry: &str) -> bool {
    is_insecure_registry(
        registry,
        std::env::var(MLPACK_INSECURE_REGISTRIES).ok().as_deref(),
    )
}

/// Whether `registry` is reached over plain HTTP, given `MLPACK_INSECURE_REGISTRIES`'s value:
/// comma-separated `host[:port]` entries; one without a port covers every port of the host.
fn is_insecure_registry(registry: &str, listed: Option<&str>) -> bool {
    let (host, _) = split_port(registry);
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback());
    loopback
        || listed
            .into_iter()
            .flat_map(|list| list.split(','))
            .any(|entry| {
                let entry = entry.trim();
                let entry = entry.strip_prefix("http://").unwrap_or(entry);
                let entry = entry.trim_end_matches('/');
                !entry.is_empty()
                    && (entry.eq_ignore_ascii_case(registry)
                        || (split_port(entry).1.is_none() && entry.eq_ignore_ascii_case(host)))
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_registries() {
        for (registry, listed, insecure) in [
            ("localhost:5000", None, true),
            ("localhost", None, true),
            ("127.0.0.1:5000", None, true),
            ("127.1.2.3", None, true),
            ("[::1]:5000", None, true),
            ("ghcr.io", None, false),
            ("10.0.0.5:5000", None, false),
            ("10.0.0.5:5000", Some("10.0.0.5:5000"), true),
            ("10.0.0.5:5000", Some("registry.lan, 10.0.0.5"), true),
            ("10.0.0.5:5000", Some("10.0.0.5:6000"), false),
            ("registry.lan", Some(" http://registry.lan/ ,x"), true),
            ("registry.lan:8080", Some(""), false),
        ] {
            assert_eq!(
                is_insecure_registry(registry, listed),
                insecure,
                "{registry} with {listed:?}"
            );
        }
    }
}
