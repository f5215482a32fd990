//! What can go wrong while building a Debian base. Every message names the suite, URL, package,
//! `.deb` or archive entry it is about, and [`DebianError::hint`] says what to do where that
//! helps.

use std::path::PathBuf;

use crate::error::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum DebianError {
    /// The base image is not one mlpack builds from Debian packages.
    #[error("mlpack cannot build the base `{image}` from Debian packages: it builds {supported}")]
    UnsupportedBase { image: String, supported: String },

    #[error("invalid Debian mirror URL `{mirror}`: {message}")]
    InvalidMirror { mirror: String, message: String },

    /// The request failed before any answer came, after retries.
    #[error("could not fetch `{url}`")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// An answer other than success, after retries for 5xx.
    #[error("the Debian mirror answered `{status}` for `{url}`")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },

    /// `InRelease` is not signed by any of the Debian archive keys shipped with mlpack.
    #[error(
        "the signature of `{url}` does not verify against the Debian archive keys shipped with mlpack: {reason}"
    )]
    BadSignature { url: String, reason: String },

    /// The signed `Release` text is not what was asked for, or is malformed.
    #[error("the signed release file `{url}` is unusable: {message}")]
    BadRelease { url: String, message: String },

    /// A file's size or sha256 differs from what the signed `Release` file (for indexes) or the
    /// `Packages` index (for `.deb`s) says.
    #[error(
        "`{url}` is {actual_size} bytes with sha256 `{actual_sha256}`, but {authority} says {expected_size} bytes with sha256 `{expected_sha256}`"
    )]
    HashMismatch {
        url: String,
        authority: String,
        expected_size: u64,
        expected_sha256: String,
        actual_size: u64,
        actual_sha256: String,
    },

    /// A verified index could not be decompressed or parsed. `line` is 1-based.
    #[error("`{url}` line {line}: {message}")]
    BadIndex {
        url: String,
        line: usize,
        message: String,
    },

    /// A root named a package the index does not have (nor provides).
    #[error("there is no package `{name}` in {suite}")]
    UnknownPackage {
        name: String,
        suite: String,
        suggestion: Option<String>,
    },

    /// A `.deb` the lock pins that the mirror (and the snapshot archive, when set) no longer
    /// carries.
    #[error("the pinned Debian package `{name}` {version} is no longer on the mirror (`{url}` is gone){}", snapshot.as_ref().map(|url| format!(", nor at `{url}`")).unwrap_or_default())]
    PinnedFileGone {
        name: String,
        version: String,
        url: String,
        snapshot: Option<String>,
    },

    /// A root pinned a version the index does not have.
    #[error("{suite} has no `{name}` version `{version}`; it has {available}")]
    PinNotFound {
        name: String,
        version: String,
        available: String,
        suite: String,
    },

    /// A root could not be parsed (`name` or `name=version`).
    #[error("invalid Debian package request `{request}`: {message}")]
    InvalidRequest { request: String, message: String },

    /// A dependency no package satisfies. `chain` runs from a root to the package whose field
    /// names `dependency`.
    #[error("cannot satisfy `{dependency}`, needed by {}: {reason}", chain_text(.chain))]
    Unsatisfiable {
        chain: Vec<String>,
        dependency: String,
        reason: String,
    },

    /// A `.deb` that is not a valid Debian binary package (see deb(5)).
    #[error("`{deb}` is not a valid Debian package: {message}")]
    BadDeb { deb: PathBuf, message: String },

    /// An archive entry that would write outside the root, or that mlpack refuses to create.
    #[error("refusing entry `{entry}` of package `{package}` (`{deb}`): {reason}")]
    UnsafeEntry {
        package: String,
        deb: PathBuf,
        entry: String,
        reason: String,
    },

    /// A path in the root being built that mlpack refuses to write, such as one reached through
    /// a symlink that leads outside the root.
    #[error("refusing to write `{path}` in the root: {reason}")]
    UnsafeRoot { path: String, reason: String },

    /// The HTTP client could not be set up.
    #[error("could not set up the HTTP client for Debian mirrors")]
    Client {
        #[source]
        source: reqwest::Error,
    },

    #[error("could not read certificates from `{}` (named by `SSL_CERT_FILE`): {message}", path.display())]
    Certificates { path: PathBuf, message: String },

    /// Reading or writing a file failed; `fs-err` puts the path in the message.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn chain_text(chain: &[String]) -> String {
    chain
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(" → ")
}

impl Diagnostic for DebianError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::UnsupportedBase { .. } => vec![
                "use `debian:bookworm` (12) or `debian:trixie` (13), or pull the base from a registry instead"
                    .to_string(),
            ],
            Self::Certificates { .. } => vec![
                "point `SSL_CERT_FILE` at a PEM file of CA certificates, or unset it".to_string(),
            ],
            Self::InvalidMirror { .. } => {
                vec!["write the mirror like `http://deb.debian.org/debian`".to_string()]
            }
            Self::Unreachable { url, .. } | Self::Status { url, .. } => vec![format!(
                "check the network, and that `{}` is a Debian mirror that carries this suite",
                mirror_of(url)
            )],
            Self::BadSignature { .. } => vec![
                "the mirror served a tampered, truncated or foreign `InRelease`; retry, or use another mirror such as `http://deb.debian.org/debian`"
                    .to_string(),
            ],
            Self::HashMismatch { .. } => vec![
                "the mirror may be in the middle of an update, or a proxy altered the file; retry in a few minutes"
                    .to_string(),
            ],
            Self::UnknownPackage {
                suggestion: Some(suggestion),
                ..
            } => vec![format!("did you mean `{suggestion}`?")],
            Self::PinnedFileGone { .. } => vec![
                "a Debian point release replaced it; set `[base] snapshot` to a snapshot of the archive from when the lock was made (like `https://snapshot.debian.org/archive/debian/20261101T000000Z`), or run `mlpack lock --upgrade` and `mlpack build` to pin the current versions"
                    .to_string(),
            ],
            Self::PinNotFound { name, .. } => vec![format!(
                "the mirror only carries the suite's current versions; pin one of those, or drop the pin on `{name}`"
            )],
            Self::Unsatisfiable { .. } => vec![
                "the mirror may be in the middle of an update (retry later), or a pinned version is too old for what depends on it"
                    .to_string(),
            ],
            _ => Vec::new(),
        }
    }
}

/// The mirror part of a URL under `dists/` or `pool/`, for hints.
fn mirror_of(url: &str) -> &str {
    ["/dists/", "/pool/"]
        .iter()
        .find_map(|marker| url.find(marker).map(|at| &url[..at]))
        .unwrap_or(url)
}
