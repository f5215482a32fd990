//! The manifests a pull meets: OCI index and image manifest, Docker's manifest list and
//! schema 2 manifest; which kind a body is, and which index entry fits a platform.
//!
//! Specs: <https://github.com/opencontainers/image-spec/blob/v1.1.0/image-index.md>,
//! <https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pulling-manifests>
//! and Docker's <https://distribution.github.io/distribution/spec/manifest-v2-2/>.

use crate::arch::{Arch, oci_architecture};
use serde::Deserialize;

pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The `Accept` header of a manifest request: every kind this client can follow.
pub(crate) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// The largest manifest accepted. The distribution spec lets registries refuse manifests over
/// 4 MiB, and an image with thousands of layers stays far below it.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// What a manifest body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ManifestKind {
    /// An OCI index or Docker manifest list: one manifest per platform.
    Index,
    /// An OCI image manifest or Docker schema 2 manifest.
    Image,
}

impl ManifestKind {
    pub(crate) fn of(media_type: &str) -> Option<Self> {
        match media_type {
            OCI_INDEX | DOCKER_LIST => Some(Self::Index),
            OCI_MANIFEST | DOCKER_MANIFEST => Some(Self::Image),
            _ => None,
        }
    }
}

/// A manifest's media type: its own `mediaType` field, else the `Content-Type` it came with
/// (without parameters), else its shape (`manifests` is an index, `config` an image; the OCI
/// spec lets both leave `mediaType` out).
pub(crate) fn media_type_of(content_type: Option<&str>, body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Shape {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        config: Option<serde_json::Value>,
    }
    let shape: Option<Shape> = serde_json::from_slice(body).ok();
    if let Some(media_type) = shape.as_ref().and_then(|shape| shape.media_type.clone()) {
        return Some(media_type);
    }
    let content_type = content_type
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .filter(|value| ManifestKind::of(value).is_some());
    if let Some(content_type) = content_type {
        return Some(content_type.to_string());
    }
    let shape = shape?;
    if shape.manifests.is_some() {
        Some(OCI_INDEX.to_string())
    } else if shape.config.is_some() {
        Some(OCI_MANIFEST.to_string())
    } else {
        None
    }
}

/// An index entry: which manifest serves a platform.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IndexEntry {
    #[serde(default)]
    pub(crate) media_type: Option<String>,
    pub(crate) digest: String,
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) platform: Option<EntryPlatform>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct EntryPlatform {
    pub(crate) os: String,
    pub(crate) architecture: String,
    #[serde(default)]
    pub(crate) variant: Option<String>,
}

impl EntryPlatform {
    fn matches(&self, os: &str, architecture: &str) -> bool {
        // Variants only matter on arm: `arm64` images are `v8` (or leave it out); later
        // variants (`v9`) may use instructions a v8 machine lacks.
        let variant = architecture
            .parse::<Arch>()
            .ok()
            .and_then(Arch::oci_variant);
        self.os == os
            && self.architecture == architecture
            && variant.is_none_or(|runs| self.variant.as_deref().is_none_or(|v| v == runs))
    }

    fn name(&self) -> String {
        match &self.variant {
            Some(variant) => format!("{}/{}/{variant}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// Which entry of an index serves a platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlatformMatch {
    Found(IndexEntry),
    /// None does; these are the platforms the index has (attestations left out).
    Missing(Vec<String>),
}

/// The index entry for `os`/`architecture`: the first that matches. `Err` is a parse error.
pub(crate) fn select_platform(
    body: &[u8],
    os: &str,
    architecture: &str,
) -> Result<PlatformMatch, String> {
    #[derive(Deserialize)]
    struct Index {
        manifests: Vec<IndexEntry>,
    }
    let index: Index = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let architecture = oci_architecture(architecture);
    if let Some(entry) = index.manifests.iter().find(|entry| {
        entry
            .platform
            .as_ref()
            .is_some_and(|platform| platform.matches(os, architecture))
            && entry
                .media_type
                .as_deref()
                .is_none_or(|media_type| ManifestKind::of(media_type) == Some(ManifestKind::Image))
    }) {
        return Ok(PlatformMatch::Found(entry.clone()));
    }
    let mut available: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|entry| entry.platform.as_ref())
        // Build attestations are listed as `unknown/unknown`.
        .filter(|platform| platform.os != "unknown")
        .map(EntryPlatform::name)
        .collect();
    available.sort();
    available.dedup();
    Ok(PlatformMatch::Missing(available))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Vec<u8> {
        let digest = |n: u8| format!("sha256:{}", format!("{n:02x}").repeat(32));
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [
                {"mediaType": DOCKER_MANIFEST, "digest": digest(1), "size": 10,
                 "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": DOCKER_MANIFEST, "digest": digest(2), "size": 20,
                 "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
                {"mediaType": DOCKER_MANIFEST, "digest": digest(3), "size": 30,
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v9"}},
                {"mediaType": DOCKER_MANIFEST, "digest": digest(4), "size": 40,
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {"mediaType": OCI_MANIFEST, "digest": digest(5), "size": 50,
                 "platform": {"os": "unknown", "architecture": "unknown"}},
            ]
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn selects_the_platform() {
        let body = index();
        let size = |architecture| match select_platform(&body, "linux", architecture).unwrap() {
            PlatformMatch::Found(entry) => {
                assert_eq!(entry.media_type.as_deref(), Some(DOCKER_MANIFEST));
                entry.size
            }
            PlatformMatch::Missing(available) => panic!("{available:?}"),
        };
        assert_eq!(size("amd64"), 10);
        assert_eq!(size("x86_64"), 10);
        assert_eq!(size("arm64"), 40);
        assert_eq!(
            select_platform(&body, "windows", "amd64").unwrap(),
            PlatformMatch::Missing(vec![
                "linux/amd64".to_string(),
                "linux/arm/v7".to_string(),
                "linux/arm64/v8".to_string(),
                "linux/arm64/v9".to_string(),
            ])
        );
        assert!(select_platform(b"{}", "linux", "amd64").is_err());
    }

    #[test]
    fn finds_media_types() {
        assert_eq!(media_type_of(None, &index()).as_deref(), Some(DOCKER_LIST));
        assert_eq!(
            media_type_of(
                Some("application/vnd.oci.image.index.v1+json; charset=utf-8"),
                b"{}"
            )
            .as_deref(),
            Some(OCI_INDEX)
        );
        assert_eq!(
            media_type_of(Some("application/json"), br#"{"config":{}}"#).as_deref(),
            Some(OCI_MANIFEST)
        );
        assert_eq!(
            media_type_of(
                Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
                br#"{"schemaVersion":1}"#
            ),
            None
        );
        assert_eq!(ManifestKind::of(DOCKER_LIST), Some(ManifestKind::Index));
        assert_eq!(ManifestKind::of(OCI_MANIFEST), Some(ManifestKind::Image));
        assert_eq!(ManifestKind::of("application/json"), None);
    }
}
