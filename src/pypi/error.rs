//! What can go wrong while talking to an index. Every message names the project, file, URL or
//! path it is about; URLs are shown with their password masked (see `auth::redact`).

use std::path::PathBuf;

use pep508_rs::PackageName;

use crate::error::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum PypiError {
    /// The index has no project of this name (HTTP 404 on its page).
    #[error("`{name}` was not found on the package index `{index}`")]
    NotFound { name: PackageName, index: String },

    /// The request failed before any answer came, after retries.
    #[error("could not reach the package index at `{url}`")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    /// An answer other than success (after retries, for 5xx).
    #[error("the package index answered `{status}` for `{url}`")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },

    /// The index answered, but with something this client cannot read.
    #[error("the package index sent an unreadable answer for `{url}`: {message}")]
    Malformed { url: String, message: String },

    /// `--offline`, and the cache lacks what was asked for. `what` is already quoted
    /// (`` `torch` ``, or `` the metadata of `six-1.17.0-py2.py3-none-any.whl` ``).
    #[error("{what} is not in the cache (`{url}`)")]
    Offline { what: String, url: String },

    /// A downloaded file's sha256 differs from the one the index published.
    #[error("the sha256 of `{url}` is `{actual}`, but the index says `{expected}`")]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },

    /// Metadata was asked of something that is not a wheel (an sdist): it would need a build.
    #[error("`{filename}` is not a wheel, so its metadata cannot be read without building it")]
    NotAWheel { filename: String },

    /// A direct reference's file whose sha256 is not the one its URL (`#sha256=`) or the lock
    /// names.
    #[error("the sha256 of `{url}` is `{actual}`, but the requirement says `{expected}`")]
    DirectHashMismatch {
        url: String,
        expected: String,
        actual: String,
    },

    /// An sdist that cannot be read as one (not a `.tar.gz` or `.zip`, bad `pyproject.toml`).
    #[error("the sdist `{filename}` cannot be read: {message}")]
    InvalidSdist { filename: String, message: String },

    /// The core metadata of a file is wrong; `line` is 1-based within the `METADATA` file.
    #[error("invalid metadata in `{filename}` at line {line}: {message}")]
    InvalidMetadata {
        filename: String,
        line: usize,
        message: String,
    },

    #[error(
        "invalid exclude-newer value `{value}`: expected an RFC 3339 timestamp (`2024-06-01T00:00:00Z`) or a date (`2024-06-01`)"
    )]
    InvalidExcludeNewer { value: String },

    #[error("invalid index URL `{url}`: {message}")]
    InvalidUrl { url: String, message: String },

    #[error("could not set up the HTTP client")]
    Client {
        #[source]
        source: reqwest::Error,
    },

    #[error("could not read certificates from `{path}` (named by `SSL_CERT_FILE`): {message}")]
    Certificates { path: PathBuf, message: String },

    #[error("could not read `{path}`: {message}")]
    Netrc { path: PathBuf, message: String },

    #[error(transparent)]
    NoCacheDir(#[from] crate::dirs::NoCacheDir),

    /// Writing to the cache failed (reading never fails: a bad cache file is refetched).
    #[error("could not write to the cache at `{path}`")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Diagnostic for PypiError {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Offline { .. } => {
                vec!["run without `--offline` to fetch it from the index".to_string()]
            }
            Self::Unreachable { .. } => vec![
                "check the network and the index URL (`index-url` in `mlpack.toml`, `UV_INDEX_URL` or `PIP_INDEX_URL`)"
                    .to_string(),
            ],
            Self::Status { status, .. }
                if *status == reqwest::StatusCode::UNAUTHORIZED
                    || *status == reqwest::StatusCode::FORBIDDEN =>
            {
                vec![
                    "put credentials in the index URL (`https://user:password@host/simple`) or in `~/.netrc`"
                        .to_string(),
                ]
            }
            Self::DirectHashMismatch { .. } => vec![
                "check that the file is the one you meant, then put its sha256 in the URL (`#sha256=…`)".to_string(),
            ],
            Self::HashMismatch { .. } => vec![
                "the file changed on the index since it was listed; retry, and report it to the index if it persists"
                    .to_string(),
            ],
            Self::InvalidExcludeNewer { .. } => vec!["write it like `2024-06-01`".to_string()],
            Self::Certificates { .. } => vec![
                "point `SSL_CERT_FILE` at a PEM file of CA certificates, or unset it".to_string(),
            ],
            Self::NoCacheDir(error) => vec![error.hint()],
            _ => Vec::new(),
        }
    }
}
