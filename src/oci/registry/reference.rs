//! `RemoteReference`: an image in a registry, as `docker pull` reads one
//! (`localhost:5000/iris:latest`, `python:3.11-slim`, `ghcr.io/org/x@sha256:…`).
//!
//! Grammar: <https://github.com/distribution/reference/blob/main/reference.go>; names in URLs:
//! <https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pulling-manifests>.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::super::digest::Digest;
use super::super::error::OciError;
use super::super::reference::normalize_reference;
use super::MLPACK_INSECURE_REGISTRIES;
use super::error::RegistryError;

/// Docker Hub's name in references.
pub(crate) const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's registry API answers.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
const DEFAULT_TAG: &str = "latest";

/// An image in a registry: `registry/repository`, with a tag, a digest or both.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteReference {
    /// `host[:port]`; `docker.io` for Docker Hub.
    pub registry: String,
    /// The repository inside the registry; Docker Hub's short names get `library/`.
    pub repository: String,
    /// The tag; `latest` when the reference named neither a tag nor a digest.
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl RemoteReference {
    /// The host (and port) the registry API answers on: `registry-1.docker.io` for Docker Hub.
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }

    /// Whether the registry is reached over plain HTTP: `localhost`, `127.0.0.0/8` and `::1`
    /// (as Docker treats them), or listed in `MLPACK_INSECURE_REGISTRIES`.
    pub fn is_insecure(&self) -> bool {
        is_insecure_registry(
            &self.registry,
            std::env::var(MLPACK_INSECURE_REGISTRIES).ok().as_deref(),
        )
    }

    /// What names the manifest in its URL: the digest if there is one, else the tag.
    /// The name the image gets in the store: this reference with its tag, or, when it names
    /// only a digest, a tag made from the digest (`repo:sha256-0123456789ab`), since a name in
    /// the store carries no digest.
    pub fn store_name(&self) -> String {
        let tag = match (&self.tag, &self.digest) {
            (Some(tag), _) => tag.clone(),
            (None, Some(digest)) => format!("sha256-{}", &digest.hex()[..12]),
            (None, None) => "latest".to_string(),
        };
        format!("{}/{}:{tag}", self.registry, self.repository)
    }

    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }
}

impl FromStr for RemoteReference {
    type Err = RegistryError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| RegistryError::InvalidReference {
            reference: input.to_string(),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(invalid("it is empty"));
        }
        if input.contains("://") {
            return Err(invalid(
                "a reference has no scheme (`registry.example.com/iris:v1`, not `https://…`)",
            ));
        }
        let (name, digest) = match input.split_once('@') {
            Some((name, digest)) => {
                let digest = Digest::from_str(digest).map_err(|error| match error {
                    OciError::InvalidDigest { reason, .. } => {
                        invalid(&format!("the digest is not valid: {reason}"))
                    }
                    other => invalid(&other.to_string()),
                })?;
                (name, Some(digest))
            }
            None => (input, None),
        };
        let (name, tag) = split_tag(name);
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if looks_like_registry(first) => (first, rest),
            _ => (DOCKER_HUB, name),
        };
        if !valid_registry(registry) {
            return Err(invalid("the registry is not a valid `host[:port]`"));
        }
        let registry = match registry {
            "index.docker.io" => DOCKER_HUB,
            other => other,
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        if repository.is_empty() {
            return Err(invalid("the repository name is empty"));
        }
        // The store's grammar check covers the repository and tag; the placeholder host keeps
        // a first component with a `.` from being read as a host.
        let check = format!(
            "registry.invalid/{repository}:{}",
            tag.unwrap_or(DEFAULT_TAG)
        );
        normalize_reference(&check).map_err(|error| match error {
            OciError::InvalidReference { reason, .. } => invalid(reason),
            other => invalid(&other.to_string()),
        })?;
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_string()),
        };
        Ok(Self {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }
}

impl fmt::Display for RemoteReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Where `registry`'s API answers.
pub(crate) fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

/// Whether `registry` is reached over plain HTTP, given `MLPACK_INSECURE_REGISTRIES`'s value:
/// comma-separated `host[:port]` entries; one without a port covers every port of the host.
pub(crate) fn is_insecure_registry(registry: &str, listed: Option<&str>) -> bool {
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

/// `host[:port]` split in two; `[::1]:5000` gives `::1`.
fn split_port(registry: &str) -> (&str, Option<&str>) {
    if let Some(rest) = registry.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host, after.strip_prefix(':'));
    }
    match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    }
}

/// Split at the last `:` after the last `/` (`localhost:5000/iris` has no tag).
fn split_tag(name: &str) -> (&str, Option<&str>) {
    let after_slash = name.rfind('/').map_or(0, |slash| slash + 1);
    match name[after_slash..].rfind(':') {
        Some(colon) => {
            let colon = after_slash + colon;
            (&name[..colon], Some(&name[colon + 1..]))
        }
        None => (name, None),
    }
}

/// The first component names a registry when it has a `.` or a port, is `localhost`, or is
/// an IPv6 address in brackets.
fn looks_like_registry(component: &str) -> bool {
    component.contains('.')
        || component.contains(':')
        || component.starts_with('[')
        || component == "localhost"
}

/// `host[:port]`: DNS labels, an IPv4 address, or an IPv6 address in brackets.
pub(crate) fn valid_registry(registry: &str) -> bool {
    let (host, port) = split_port(registry);
    let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0));
    let host_ok = if registry.starts_with('[') {
        host.parse::<Ipv6Addr>().is_ok()
    } else {
        host.parse::<Ipv4Addr>().is_ok()
            || (!host.is_empty()
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                }))
    };
    port_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;

    type Parts<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

    fn parse(input: &str) -> (String, String, Option<String>, Option<String>) {
        let reference: RemoteReference = input.parse().unwrap();
        (
            reference.registry,
            reference.repository,
            reference.tag,
            reference.digest.map(|digest| digest.to_string()),
        )
    }

    #[test]
    fn parses_references() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let table: &[(&str, Parts<'_>)] = &[
            (
                "localhost:5000/iris:latest",
                ("localhost:5000", "iris", Some("latest"), None),
            ),
            (
                "localhost/iris",
                ("localhost", "iris", Some("latest"), None),
            ),
            (
                "python:3.11-slim",
                ("docker.io", "library/python", Some("3.11-slim"), None),
            ),
            (
                "python",
                ("docker.io", "library/python", Some("latest"), None),
            ),
            (
                "someone/tool:v1",
                ("docker.io", "someone/tool", Some("v1"), None),
            ),
            (
                "docker.io/python",
                ("docker.io", "library/python", Some("latest"), None),
            ),
            (
                "index.docker.io/library/python:3",
                ("docker.io", "library/python", Some("3"), None),
            ),
            ("ghcr.io/org/x", ("ghcr.io", "org/x", Some("latest"), None)),
            (
                "registry.example.com:443/a/b/c:1.0",
                ("registry.example.com:443", "a/b/c", Some("1.0"), None),
            ),
            (
                "[::1]:5000/iris",
                ("[::1]:5000", "iris", Some("latest"), None),
            ),
        ];
        for (input, (registry, repository, tag, digest)) in table {
            assert_eq!(
                parse(input),
                (
                    registry.to_string(),
                    repository.to_string(),
                    tag.map(str::to_string),
                    digest.map(str::to_string)
                ),
                "{input}"
            );
        }
        assert_eq!(
            parse(&format!("127.0.0.1:5000/team/iris@{digest}")),
            (
                "127.0.0.1:5000".to_string(),
                "team/iris".to_string(),
                None,
                Some(digest.clone())
            )
        );
        assert_eq!(
            parse(&format!("python:3.11@{digest}")),
            (
                "docker.io".to_string(),
                "library/python".to_string(),
                Some("3.11".to_string()),
                Some(digest.clone())
            )
        );
    }

    #[test]
    fn shows_and_addresses_references() {
        let digest = format!("sha256:{}", "cd".repeat(32));
        let reference: RemoteReference = "python:3.11-slim".parse().unwrap();
        assert_eq!(reference.to_string(), "docker.io/library/python:3.11-slim");
        assert_eq!(reference.api_host(), "registry-1.docker.io");
        assert_eq!(reference.reference(), "3.11-slim");
        let pinned: RemoteReference = format!("localhost:5000/iris:v1@{digest}").parse().unwrap();
        assert_eq!(
            pinned.to_string(),
            format!("localhost:5000/iris:v1@{digest}")
        );
        assert_eq!(pinned.api_host(), "localhost:5000");
        assert_eq!(pinned.reference(), digest);
        let round_trip: RemoteReference = pinned.to_string().parse().unwrap();
        assert_eq!(round_trip, pinned);
    }

    #[test]
    fn rejects_bad_references() {
        let table = [
            ("", "it is empty"),
            (
                "https://ghcr.io/org/x",
                "a reference has no scheme (`registry.example.com/iris:v1`, not `https://…`)",
            ),
            (
                "Iris",
                "each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes",
            ),
            (
                "ghcr.io/org/x:-bad",
                "the tag is up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`",
            ),
            (
                "iris@sha256:00",
                "the digest is not valid: a sha256 digest has 64 hex digits",
            ),
            (
                "localhost:99999/iris",
                "the registry is not a valid `host[:port]`",
            ),
            (
                "bad_host.com/iris",
                "the registry is not a valid `host[:port]`",
            ),
            ("ghcr.io/", "the repository name is empty"),
            (
                "ghcr.io//x",
                "each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes",
            ),
        ];
        for (input, reason) in table {
            let error = input.parse::<RemoteReference>().unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("invalid registry reference `{input}`: {reason}"),
                "{input}"
            );
            assert!(error.is_user_error());
        }
    }

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
