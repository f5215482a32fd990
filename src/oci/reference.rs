//! Image references: `[registry/]repository[:tag][@digest]`, parsed once into
//! [`ImageReference`] (`iris`, `localhost:5000/team/iris:v1`, `ghcr.io/org/x@sha256:…`).
//!
//! Grammar: <https://github.com/distribution/reference/blob/main/reference.go>: lowercase path
//! components joined by `/`, the first of which may be a registry host with a port. Checking it
//! when tagging means a later `docker load` of an exported archive accepts the name. Docker Hub
//! names are written short (`python` is `docker.io/library/python`); [`ImageReference::normalized`]
//! spells them out as registries are addressed
//! (<https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pulling-manifests>).

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::digest::Digest;
use crate::error::Diagnostic;

/// The annotation holding an image's name in `index.json`
/// (<https://github.com/opencontainers/image-spec/blob/v1.1.0/annotations.md>).
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// Docker Hub's name in references.
pub(crate) const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's older name, which means the same registry.
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// Where Docker Hub keeps its official images, which references name without it.
const DOCKER_HUB_OFFICIAL: &str = "library/";
const DEFAULT_TAG: &str = "latest";
/// The distribution grammar's limit on `[registry/]repository`.
const NAME_MAX: usize = 255;

/// An image reference, as written: an optional registry, a repository, an optional tag and an
/// optional digest. Its `Display` gives back what was parsed; nothing is filled in until asked
/// ([`with_default_tag`](Self::with_default_tag), [`normalized`](Self::normalized)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    /// `host[:port]`; `None` for a Docker Hub name written without it.
    registry: Option<String>,
    /// The repository as written (`python`, `team/iris`).
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a reference does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference `{reference}`: {reason}")]
pub struct ReferenceError {
    pub reference: String,
    pub reason: String,
}

impl Diagnostic for ReferenceError {
    fn hints(&self) -> Vec<String> {
        vec![
            "write it like `name:tag` in lowercase (`iris:latest`, `registry.example.com/team/iris:v1`)"
                .to_string(),
        ]
    }

    fn is_user_error(&self) -> bool {
        true
    }
}

impl ImageReference {
    /// A name to tag an image with in the store: `latest` added when it has no tag, and no
    /// digest, since a name in the store points at whatever it was last given.
    pub fn parse_name(text: &str) -> Result<Self, ReferenceError> {
        Self::from_str(text)?.into_name()
    }

    /// This reference as a name to tag with (see [`parse_name`](Self::parse_name)).
    pub fn into_name(self) -> Result<Self, ReferenceError> {
        if self.digest.is_some() {
            return Err(ReferenceError {
                reference: self.to_string(),
                reason: "a name to tag cannot carry a digest (`@sha256:…`)".to_string(),
            });
        }
        Ok(self.with_default_tag())
    }

    /// The registry's `host[:port]`: `docker.io` for Docker Hub, however it was written.
    pub fn registry(&self) -> &str {
        match self.registry.as_deref() {
            None | Some(DOCKER_HUB_LEGACY) => DOCKER_HUB,
            Some(registry) => registry,
        }
    }

    /// The repository inside the registry: Docker Hub's one-part names get `library/`.
    pub fn repository(&self) -> Cow<'_, str> {
        if self.registry() == DOCKER_HUB && !self.path.contains('/') {
            Cow::Owned(format!("{DOCKER_HUB_OFFICIAL}{}", self.path))
        } else {
            Cow::Borrowed(&self.path)
        }
    }

    /// `[registry/]repository` as written, without tag or digest (`localhost:5000/team/iris`).
    pub fn name(&self) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{}", self.path),
            None => self.path.clone(),
        }
    }

    /// The repository's last part, the image's short name (`iris` in `ghcr.io/team/iris:v1`).
    pub fn repository_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// This name with `tag`, and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        if !valid_tag(tag) {
            return Err(ReferenceError {
                reference: format!("{}:{tag}", self.name()),
                reason: TAG_RULE.to_string(),
            });
        }
        Ok(Self {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// This reference pinned to `digest`, its tag kept for the reader.
    #[must_use]
    pub fn with_digest(self, digest: Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self
        }
    }

    /// `latest` as the tag when the reference names neither a tag nor a digest.
    #[must_use]
    pub fn with_default_tag(self) -> Self {
        match (&self.tag, &self.digest) {
            (None, None) => Self {
                tag: Some(DEFAULT_TAG.to_string()),
                ..self
            },
            _ => self,
        }
    }

    /// Spelled out as `docker pull` reads it: the registry always written, Docker Hub's
    /// `library/` added, `latest` when there is neither tag nor digest
    /// (`python` is `docker.io/library/python:latest`).
    #[must_use]
    pub fn normalized(&self) -> Self {
        Self {
            registry: Some(self.registry().to_string()),
            path: self.repository().into_owned(),
            ..self.clone()
        }
        .with_default_tag()
    }

    /// `repository@digest` as Docker's `RepoDigests` lists it: the familiar name (no
    /// `docker.io/library/`), no tag.
    pub fn repo_digest(&self, digest: &super::Digest) -> String {
        format!("{}@{digest}", self.familiar().name())
    }

    /// As Docker shows it: Docker Hub's registry and `library/` left out
    /// (`docker.io/library/busybox:1` is `busybox:1`).
    #[must_use]
    pub fn familiar(&self) -> Self {
        if self.registry() != DOCKER_HUB {
            return self.clone();
        }
        let path = self
            .path
            .strip_prefix(DOCKER_HUB_OFFICIAL)
            .unwrap_or(&self.path);
        Self {
            registry: None,
            path: path.to_string(),
            ..self.clone()
        }
    }

    /// The name a pulled image gets in the store: the normalized reference with its tag, or,
    /// when it names only a digest, a tag made from the digest (`repo:sha256-0123456789ab`),
    /// since a name in the store carries no digest.
    #[must_use]
    pub fn store_name(&self) -> Self {
        let tag = match (&self.tag, &self.digest) {
            (Some(tag), _) => tag.clone(),
            (None, Some(digest)) => format!("sha256-{}", &digest.hex()[..12]),
            (None, None) => DEFAULT_TAG.to_string(),
        };
        Self {
            tag: Some(tag),
            digest: None,
            ..self.normalized()
        }
    }

    /// What names the manifest in a registry URL: the digest if there is one, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }
}

impl FromStr for ImageReference {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| ReferenceError {
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
                    super::OciError::InvalidDigest { reason, .. } => {
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
            Some((first, rest)) if looks_like_registry(first) => (Some(first), rest),
            _ => (None, name),
        };
        if registry.is_some_and(|registry| !valid_registry(registry)) {
            return Err(invalid("the registry is not a valid `host[:port]`"));
        }
        if path.is_empty() {
            return Err(invalid("the repository name is empty"));
        }
        if name.len() > NAME_MAX {
            return Err(invalid("the name is longer than 255 characters"));
        }
        if !path.split('/').all(valid_path_component) {
            return Err(invalid(
                "each part of the name is lowercase letters and digits, joined by `.`, `_`, `__` or dashes",
            ));
        }
        if tag.is_some_and(|tag| !valid_tag(tag)) {
            return Err(invalid(TAG_RULE));
        }
        Ok(Self {
            registry: registry.map(str::to_string),
            path: path.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// As its text, like `"localhost:5000/iris:v1"`.
impl Serialize for ImageReference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Through [`FromStr`], so that no unchecked reference is read.
impl<'de> Deserialize<'de> for ImageReference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `reference` with `:latest` added when it has no tag; no checks, for looking up names that
/// may not parse (a store never holds one, so the look-up just finds nothing).
pub(crate) fn with_default_tag(reference: &str) -> String {
    match split_tag(reference) {
        (_, Some(_)) => reference.to_string(),
        (name, None) => format!("{name}:{DEFAULT_TAG}"),
    }
}

/// Split at the last `:` that comes after the last `/` (`localhost:5000/iris` has no tag).
fn split_tag(reference: &str) -> (&str, Option<&str>) {
    let after_slash = reference.rfind('/').map_or(0, |slash| slash + 1);
    match reference[after_slash..].rfind(':') {
        Some(colon) => {
            let colon = after_slash + colon;
            (&reference[..colon], Some(&reference[colon + 1..]))
        }
        None => (reference, None),
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

/// `host[:port]` split in two; `[::1]:5000` gives `::1`.
pub(crate) fn split_port(registry: &str) -> (&str, Option<&str>) {
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

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut index = 0;
    while index < bytes.len() {
        if alnum(bytes[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && !alnum(bytes[index]) {
            index += 1;
        }
        let separator = &component[start..index];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

const TAG_RULE: &str =
    "the tag is up to 128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`";

/// `[\w][\w.-]{0,127}`
fn valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    tag.len() <= 128
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests;
