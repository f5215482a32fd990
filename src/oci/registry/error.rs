//! What can go wrong while talking to a registry or reading credentials. Every message names
//! the registry, repository, digest or path it is about; URLs are shown without their query
//! (upload locations and redirects carry signed state), and no password or token appears.
//!
//! Error codes: <https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#error-codes>.

use std::path::PathBuf;

use reqwest::StatusCode;

use super::super::digest::Digest;
use super::super::error::OciError;
use super::super::reference::ReferenceError;
use super::MLPACK_INSECURE_REGISTRIES;
use crate::error::{Diagnostic, IoError};

/// Why a connection to a registry failed, as far as the error tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// Nothing listens at the address.
    Refused,
    /// The host name does not resolve.
    UnknownHost,
    /// Anything else: a timeout, or TLS failing (as it does against a plain-HTTP server).
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid registry reference `{reference}`: {reason}")]
    InvalidReference { reference: String, reason: String },

    /// No connection: an unknown host, a refused connection, or TLS to a plain-HTTP server.
    #[error("could not connect to the registry `{registry}` at `{url}`")]
    Connect {
        registry: String,
        url: String,
        /// Whether plain HTTP was used.
        insecure: bool,
        failure: ConnectFailure,
        #[source]
        source: reqwest::Error,
    },

    /// The connection broke or timed out during a request, after retries.
    #[error("a request to the registry `{registry}` failed (`{url}`)")]
    Transfer {
        registry: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// The registry answered 401 even after the client authenticated as it asked.
    #[error("{}", unauthorized_message(registry, repository.as_deref(), *with_credentials))]
    Unauthorized {
        registry: String,
        repository: Option<String>,
        with_credentials: bool,
    },

    /// The registry answered 403: the credentials work, but not for this.
    #[error(
        "the registry `{registry}` denied access{}",
        repository.as_ref().map(|repository| format!(" to `{registry}/{repository}`")).unwrap_or_default()
    )]
    Forbidden {
        registry: String,
        repository: Option<String>,
        /// `pull from` or `push to`, for the hint.
        action: &'static str,
    },

    #[error("no {} in `{registry}/{repository}`", describe_reference(reference))]
    ManifestNotFound {
        registry: String,
        repository: String,
        reference: String,
    },

    #[error("`{registry}/{repository}` has no blob `{digest}`, though its manifest names it")]
    BlobNotFound {
        registry: String,
        repository: String,
        digest: Digest,
    },

    #[error("the registry `{registry}` is limiting requests (`429 Too Many Requests` for `{url}`)")]
    TooManyRequests { registry: String, url: String },

    /// Any other unsuccessful answer; `message` is the registry's own error text, if any.
    #[error(
        "the registry `{registry}` answered `{status}` to `{method} {url}`{}",
        message.as_ref().map(|message| format!(": {message}")).unwrap_or_default()
    )]
    Status {
        registry: String,
        method: String,
        url: String,
        status: StatusCode,
        message: Option<String>,
    },

    /// The registry answered in a way the spec does not allow (no `Location`, bad JSON).
    #[error("the registry `{registry}` sent an unreadable answer: {message}")]
    Protocol { registry: String, message: String },

    #[error(
        "the manifest `{reference}` from `{registry}` is larger than {limit} bytes, more than any image manifest needs"
    )]
    ManifestTooLarge {
        registry: String,
        reference: String,
        limit: u64,
    },

    /// Downloaded content does not hash to the digest it was asked for; nothing was stored.
    #[error("{what} from the registry `{registry}` hashes to `{actual}`, not `{expected}`")]
    DigestMismatch {
        registry: String,
        /// `` blob `sha256:…` `` or `` the manifest `python:3.11` ``.
        what: String,
        expected: Digest,
        actual: Digest,
    },

    #[error(
        "blob `{digest}` from the registry `{registry}` has {actual} bytes, but its manifest says {expected}"
    )]
    SizeMismatch {
        registry: String,
        digest: Digest,
        expected: u64,
        actual: u64,
    },

    #[error(
        "`{reference}` has no image for `{platform}`{}",
        if available.is_empty() { String::new() } else { format!("; it has `{}`", available.join("`, `")) }
    )]
    NoMatchingPlatform {
        reference: String,
        platform: String,
        available: Vec<String>,
    },

    #[error("`{reference}` is a `{media_type}`, which mlpack cannot pull")]
    UnsupportedManifest {
        reference: String,
        media_type: String,
    },

    #[error("the manifest `{reference}` is not valid: {message}")]
    InvalidManifest { reference: String, message: String },

    /// A push names a digest that is not the image's.
    #[error("`{reference}` names the digest `{expected}`, but the image's manifest is `{actual}`")]
    TargetDigest {
        reference: String,
        expected: Digest,
        actual: Digest,
    },

    /// A client for one registry was asked to reach another (a bug in the caller).
    #[error("a client for the registry `{client}` cannot reach `{reference}`")]
    WrongRegistry { client: String, reference: String },

    #[error(transparent)]
    Store(#[from] OciError),

    #[error(transparent)]
    Io(#[from] IoError),

    #[error("could not read credentials from `{path}`: {message}")]
    CredentialFile { path: PathBuf, message: String },

    #[error("the credential helper `{program}` failed for `{registry}`: {message}")]
    CredentialHelper {
        program: String,
        registry: String,
        message: String,
    },

    #[error("invalid credentials for `{registry}`: {reason}")]
    InvalidCredentials {
        registry: String,
        reason: &'static str,
    },

    #[error("no config directory: neither `XDG_CONFIG_HOME` nor `HOME` is set")]
    NoConfigDir,

    #[error("could not read certificates from `{path}` (named by `SSL_CERT_FILE`): {message}")]
    Certificates { path: PathBuf, message: String },

    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    #[error("`{}` is not a valid Docker daemon configuration: {message}", path.display())]
    DaemonConfig { path: PathBuf, message: String },

    /// Every mirror failed, then the registry itself: each mirror's error, and the
    /// registry's as the cause.
    #[error(
        "the pull from `{registry}` failed on each of its mirrors and on the registry itself\n{}",
        mirror_failures(failures)
    )]
    AfterMirrors {
        registry: String,
        #[source]
        error: Box<RegistryError>,
        /// The mirror's URL and what it answered.
        failures: Vec<(String, String)>,
    },

    #[error("could not set up the HTTP client")]
    Client {
        #[source]
        source: reqwest::Error,
    },
}

impl From<ReferenceError> for RegistryError {
    fn from(error: ReferenceError) -> Self {
        Self::InvalidReference {
            reference: error.reference,
            reason: error.reason,
        }
    }
}

impl RegistryError {
    /// Whether a mirror that failed so should be passed over for the next mirror or the
    /// registry: anything it answered or failed to answer, but not the local store failing.
    pub(crate) fn passes_mirror(&self) -> bool {
        !matches!(self, Self::Store(_) | Self::Io(_))
    }

    /// Whether trying again may help: a broken connection or an overloaded server.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Transfer { .. } => true,
            Self::Connect { source, .. } => source.is_timeout(),
            Self::Status { status, .. } => matches!(
                *status,
                StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
                    | StatusCode::INTERNAL_SERVER_ERROR
            ),
            _ => false,
        }
    }
}

impl Diagnostic for RegistryError {
    /// Whether the user named something wrong (a reference, a tag, a platform) or lacks
    /// access, rather than the network, the registry or the disk failing.
    fn is_user_error(&self) -> bool {
        match self {
            Self::InvalidReference { .. }
            | Self::Unauthorized { .. }
            | Self::Forbidden { .. }
            | Self::ManifestNotFound { .. }
            | Self::NoMatchingPlatform { .. }
            | Self::TargetDigest { .. }
            | Self::CredentialFile { .. }
            | Self::InvalidCredentials { .. }
            | Self::DaemonConfig { .. } => true,
            Self::Store(error) => error.is_user_error(),
            Self::Config(error) => error.is_user_error(),
            Self::AfterMirrors { error, .. } => error.is_user_error(),
            _ => false,
        }
    }

    fn hints(&self) -> Vec<String> {
        match self {
            Self::InvalidReference { .. } => vec![
                "write it like `registry.example.com/team/iris:v1`, `localhost:5000/iris` or `python:3.11-slim`"
                    .to_string(),
            ],
            Self::Connect {
                registry,
                insecure,
                failure,
                ..
            } => vec![match (failure, insecure) {
                (ConnectFailure::Refused, _) => {
                    format!("check that a registry is running and listening at `{registry}`")
                }
                (ConnectFailure::UnknownHost, _) => {
                    format!("check the registry's name `{registry}` and the network")
                }
                (ConnectFailure::Other, true) => format!(
                    "check the network, and that `{registry}` serves plain HTTP (it is reached without TLS)"
                ),
                (ConnectFailure::Other, false) => format!(
                    "check the network; if `{registry}` serves plain HTTP, list it in `{MLPACK_INSECURE_REGISTRIES}`"
                ),
            }],
            Self::Transfer { .. } => vec!["check the network and try again".to_string()],
            Self::Unauthorized {
                registry,
                with_credentials: false,
                ..
            } => vec![format!(
                "log in with `mlpack login {registry}`, and check the repository's name"
            )],
            Self::Unauthorized {
                registry,
                repository: None,
                ..
            } => vec![format!(
                "check the user name and password (or token), and log in again with `mlpack login {registry}`"
            )],
            Self::Unauthorized { registry, .. } => vec![format!(
                "check the repository's name and that the account may use it, or log in again with `mlpack login {registry}`"
            )],
            Self::Forbidden {
                registry,
                repository: Some(repository),
                action,
            } => vec![format!(
                "check that the account may {action} `{registry}/{repository}`, or log in as another with `mlpack login {registry}`"
            )],
            Self::Forbidden { registry, .. } => vec![format!(
                "check that the account may use `{registry}`, or log in as another with `mlpack login {registry}`"
            )],
            Self::ManifestNotFound { .. } => vec!["check the repository's name and the tag".to_string()],
            Self::TooManyRequests { registry, .. } if registry == "docker.io" => vec![
                "Docker Hub limits anonymous pulls; log in with `mlpack login docker.io`, or wait".to_string(),
            ],
            Self::TooManyRequests { .. } => vec!["wait a while and try again".to_string()],
            Self::DigestMismatch { .. } | Self::SizeMismatch { .. } => vec![
                "try again; if it happens again, the registry or a proxy in between serves damaged data"
                    .to_string(),
            ],
            Self::NoMatchingPlatform { platform, .. } => vec![format!(
                "use an image built for `{platform}`, or a multi-platform one"
            )],
            Self::TargetDigest { .. } => {
                vec!["push by tag, or name the image's own digest".to_string()]
            }
            Self::Store(error) => error.hints(),
            Self::Config(error) => error.hints(),
            Self::DaemonConfig { path, .. } => vec![format!(
                "fix `registry-mirrors` in `{}`: a list of URLs like `https://mirror.example`",
                path.display()
            )],
            Self::AfterMirrors { error, .. } => {
                let mut hints = error.hints();
                hints.push(format!(
                    "check the mirrors in `{}` or `{}`",
                    crate::dirs::config_dir().map_or_else(
                        || crate::config::CONFIG_FILE.to_string(),
                        |dir| dir.join(crate::config::CONFIG_FILE).display().to_string()
                    ),
                    super::mirrors::DOCKER_DAEMON_CONFIG
                ));
                hints
            }
            Self::CredentialFile { path, .. } => vec![format!(
                "fix `{}`, or log in again with `mlpack login`",
                path.display()
            )],
            Self::CredentialHelper { program, .. } => vec![format!(
                "check that `{program} get` works, or remove it from Docker's `config.json`"
            )],
            Self::NoConfigDir => {
                vec!["set `XDG_CONFIG_HOME` to the directory for mlpack's settings".to_string()]
            }
            Self::Certificates { .. } => vec![
                "point `SSL_CERT_FILE` at a PEM file of CA certificates, or unset it".to_string(),
            ],
            _ => Vec::new(),
        }
    }
}

fn unauthorized_message(
    registry: &str,
    repository: Option<&str>,
    with_credentials: bool,
) -> String {
    match (repository, with_credentials) {
        (None, true) => format!("the registry `{registry}` did not accept the credentials"),
        (None, false) => format!("the registry `{registry}` requires authentication"),
        (Some(repository), true) => format!(
            "the registry `{registry}` did not accept the credentials for `{registry}/{repository}`"
        ),
        (Some(repository), false) => format!(
            "the registry `{registry}` requires authentication for `{registry}/{repository}`"
        ),
    }
}

/// One line per mirror that failed before the registry was tried.
fn mirror_failures(failures: &[(String, String)]) -> String {
    failures
        .iter()
        .map(|(mirror, error)| format!("  the mirror `{mirror}`: {error}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `` tag `v1` `` or `` manifest `sha256:…` ``.
fn describe_reference(reference: &str) -> String {
    if reference.starts_with("sha256:") {
        format!("manifest `{reference}`")
    } else {
        format!("tag `{reference}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message and hint as the CLI prints them.
    fn shown(error: &RegistryError) -> String {
        match error.hints().as_slice() {
            [hint] => format!("{error}\n\nhint: {hint}"),
            _ => error.to_string(),
        }
    }

    #[test]
    fn messages_and_hints() {
        let digest = |n: u8| Digest::of(&[n]);
        let table = [
            (
                RegistryError::Unauthorized {
                    registry: "ghcr.io".to_string(),
                    repository: Some("org/iris".to_string()),
                    with_credentials: false,
                },
                "the registry `ghcr.io` requires authentication for `ghcr.io/org/iris`\n\nhint: log in with `mlpack login ghcr.io`, and check the repository's name",
            ),
            (
                RegistryError::Unauthorized {
                    registry: "ghcr.io".to_string(),
                    repository: None,
                    with_credentials: true,
                },
                "the registry `ghcr.io` did not accept the credentials\n\nhint: check the user name and password (or token), and log in again with `mlpack login ghcr.io`",
            ),
            (
                RegistryError::Forbidden {
                    registry: "ghcr.io".to_string(),
                    repository: Some("org/iris".to_string()),
                    action: "push to",
                },
                "the registry `ghcr.io` denied access to `ghcr.io/org/iris`\n\nhint: check that the account may push to `ghcr.io/org/iris`, or log in as another with `mlpack login ghcr.io`",
            ),
            (
                RegistryError::ManifestNotFound {
                    registry: "localhost:5000".to_string(),
                    repository: "iris".to_string(),
                    reference: "v2".to_string(),
                },
                "no tag `v2` in `localhost:5000/iris`\n\nhint: check the repository's name and the tag",
            ),
            (
                RegistryError::ManifestNotFound {
                    registry: "localhost:5000".to_string(),
                    repository: "iris".to_string(),
                    reference: digest(1).to_string(),
                },
                &format!(
                    "no manifest `{}` in `localhost:5000/iris`\n\nhint: check the repository's name and the tag",
                    digest(1)
                ),
            ),
            (
                RegistryError::TooManyRequests {
                    registry: "docker.io".to_string(),
                    url: "https://registry-1.docker.io/v2/library/python/manifests/3.11"
                        .to_string(),
                },
                "the registry `docker.io` is limiting requests (`429 Too Many Requests` for `https://registry-1.docker.io/v2/library/python/manifests/3.11`)\n\nhint: Docker Hub limits anonymous pulls; log in with `mlpack login docker.io`, or wait",
            ),
            (
                RegistryError::Status {
                    registry: "localhost:5000".to_string(),
                    method: "PUT".to_string(),
                    url: "http://localhost:5000/v2/iris/manifests/v1".to_string(),
                    status: StatusCode::BAD_REQUEST,
                    message: Some("blob unknown to registry (BLOB_UNKNOWN)".to_string()),
                },
                "the registry `localhost:5000` answered `400 Bad Request` to `PUT http://localhost:5000/v2/iris/manifests/v1`: blob unknown to registry (BLOB_UNKNOWN)",
            ),
            (
                RegistryError::DigestMismatch {
                    registry: "ghcr.io".to_string(),
                    what: format!("blob `{}`", digest(1)),
                    expected: digest(1),
                    actual: digest(2),
                },
                &format!(
                    "blob `{}` from the registry `ghcr.io` hashes to `{}`, not `{}`\n\nhint: try again; if it happens again, the registry or a proxy in between serves damaged data",
                    digest(1),
                    digest(2),
                    digest(1)
                ),
            ),
            (
                RegistryError::NoMatchingPlatform {
                    reference: "docker.io/library/x:1".to_string(),
                    platform: "linux/arm64".to_string(),
                    available: vec!["linux/amd64".to_string(), "linux/s390x".to_string()],
                },
                "`docker.io/library/x:1` has no image for `linux/arm64`; it has `linux/amd64`, `linux/s390x`\n\nhint: use an image built for `linux/arm64`, or a multi-platform one",
            ),
            (
                RegistryError::ManifestTooLarge {
                    registry: "ghcr.io".to_string(),
                    reference: "ghcr.io/org/x:1".to_string(),
                    limit: 4 << 20,
                },
                "the manifest `ghcr.io/org/x:1` from `ghcr.io` is larger than 4194304 bytes, more than any image manifest needs",
            ),
        ];
        for (error, expected) in &table {
            assert_eq!(shown(error), *expected);
        }
        assert!(table[0].0.is_user_error());
        assert!(!table[6].0.is_user_error());
        assert!(!table[6].0.is_transient());
    }
}
