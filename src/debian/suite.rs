//! Which Debian release, architecture and mirror a base comes from, and where their files sit on
//! the mirror ([Debian repository format]: `dists/<codename>/…` and `pool/…`).
//!
//! [Debian repository format]: https://wiki.debian.org/DebianRepository/Format

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DebianError;
use crate::arch::Arch;

/// The mirror used when the manifest names none.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// The releases mlpack builds bases from: codename and major version.
const RELEASES: &[(&str, &str)] = &[("bookworm", "12"), ("trixie", "13")];

/// A Debian release on one mirror, for one architecture: everything that names its index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Suite {
    /// The archive root, without a trailing `/`, like [`DEFAULT_MIRROR`].
    pub mirror: String,
    /// `bookworm` or `trixie`.
    pub codename: String,
    /// Its Debian name (`amd64`) names the index files.
    pub arch: Arch,
    /// An archive of older pool files to fall back to when the mirror no longer has a pinned
    /// `.deb` (a point release replaced it): Debian's snapshot archive at a time, like
    /// `https://snapshot.debian.org/archive/debian/20261101T000000Z`, or any mirror laid out
    /// the same way.
    pub snapshot: Option<String>,
}

impl Suite {
    /// The suite for a base image name: `debian:bookworm` or `debian:12` is bookworm,
    /// `debian:trixie` or `debian:13` is trixie. `mirror` defaults to [`DEFAULT_MIRROR`].
    pub fn for_image(image: &str, mirror: Option<&str>, arch: Arch) -> Result<Self, DebianError> {
        let codename = image
            .strip_prefix("debian:")
            .and_then(|tag| {
                RELEASES
                    .iter()
                    .find(|(codename, version)| tag == *codename || tag == *version)
            })
            .map(|(codename, _)| (*codename).to_string())
            .ok_or_else(|| DebianError::UnsupportedBase {
                image: image.to_string(),
                supported: RELEASES
                    .iter()
                    .map(|(codename, version)| format!("`debian:{codename}` (`debian:{version}`)"))
                    .collect::<Vec<_>>()
                    .join(" and "),
            })?;
        let mirror = normalize_mirror(mirror.unwrap_or(DEFAULT_MIRROR))?;
        Ok(Self {
            mirror,
            codename,
            arch,
            snapshot: None,
        })
    }

    /// The multiarch triplet of the architecture: where its libraries live
    /// (`usr/lib/x86_64-linux-gnu`).
    pub fn triplet(&self) -> &'static str {
        self.arch.triplet()
    }

    /// The URL of `path` under the release's `dists/<codename>/` directory.
    pub(crate) fn dists_url(&self, path: &str) -> String {
        format!("{}/dists/{}/{path}", self.mirror, self.codename)
    }

    /// The URL of a pool file (a `Filename` from the index).
    pub(crate) fn pool_url(&self, filename: &str) -> String {
        format!("{}/{}", self.mirror, filename.trim_start_matches('/'))
    }

    /// The same pool file in the snapshot archive, when one is set.
    pub(crate) fn snapshot_url(&self, filename: &str) -> Option<String> {
        self.snapshot.as_ref().map(|snapshot| {
            format!(
                "{}/{}",
                snapshot.trim_end_matches('/'),
                filename.trim_start_matches('/')
            )
        })
    }

    /// A file-name-safe key for this suite's cache directory: codename, architecture and the
    /// first 16 hex digits of the mirror URL's sha256, since two mirrors may differ in time.
    pub(crate) fn cache_key(&self) -> String {
        let mirror = crate::sha256::sha256_hex(self.mirror.as_bytes());
        format!("{}-{}-{}", self.codename, self.arch.debian(), &mirror[..16])
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Debian `{}` ({})", self.codename, self.arch.debian())
    }
}

/// An `http` or `https` URL without credentials, query or trailing `/`.
fn normalize_mirror(mirror: &str) -> Result<String, DebianError> {
    let invalid = |message: &str| DebianError::InvalidMirror {
        mirror: mirror.to_string(),
        message: message.to_string(),
    };
    let url = url::Url::parse(mirror).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("only `http` and `https` mirrors are supported"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a mirror URL has no query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Diagnostic;

    #[test]
    fn images() {
        for (image, codename) in [
            ("debian:bookworm", "bookworm"),
            ("debian:12", "bookworm"),
            ("debian:trixie", "trixie"),
            ("debian:13", "trixie"),
        ] {
            let suite = Suite::for_image(image, None, Arch::X86_64).unwrap();
            assert_eq!(suite.codename, codename);
            assert_eq!(suite.arch, Arch::X86_64);
            assert_eq!(suite.mirror, DEFAULT_MIRROR);
        }
        let suite = Suite::for_image(
            "debian:12",
            Some("https://mirror.example/debian/"),
            Arch::Aarch64,
        )
        .unwrap();
        assert_eq!(
            suite.dists_url("InRelease"),
            "https://mirror.example/debian/dists/bookworm/InRelease"
        );
        assert_eq!(
            suite.pool_url("pool/main/b/bash/bash_5.2.15-2+b7_arm64.deb"),
            "https://mirror.example/debian/pool/main/b/bash/bash_5.2.15-2+b7_arm64.deb"
        );
    }

    #[test]
    fn unsupported() {
        let error = Suite::for_image("ubuntu:24.04", None, Arch::X86_64).unwrap_err();
        insta::assert_snapshot!(error, @"mlpack cannot build the base `ubuntu:24.04` from Debian packages: it builds `debian:bookworm` (`debian:12`) and `debian:trixie` (`debian:13`)");
        insta::assert_snapshot!(error.hints().join("\n"), @"use `debian:bookworm` (12) or `debian:trixie` (13), or pull the base from a registry instead");
        let error =
            Suite::for_image("debian:bookworm", Some("ftp://x/debian"), Arch::X86_64).unwrap_err();
        insta::assert_snapshot!(error, @"invalid Debian mirror URL `ftp://x/debian`: only `http` and `https` mirrors are supported");
    }
}
