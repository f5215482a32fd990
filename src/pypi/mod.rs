//! The package index client: PyPI's simple API (PEP 691 JSON, PEP 503 HTML).
//!
//! Async, since it is where the network is; commands enter it with one `block_on`.

use std::time::Duration;

use pep508_rs::PackageName;

/// The index used when neither the manifest nor the environment names one.
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple";

#[derive(Debug, thiserror::Error)]
pub enum PypiError {
    #[error("could not reach the package index at `{url}`")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the package index answered `{status}` for `{url}`")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
}

/// A client for one simple-API index.
#[derive(Debug, Clone)]
pub struct IndexClient {
    http: reqwest::Client,
    index_url: String,
}

impl IndexClient {
    /// A client for `index_url` (e.g. `https://pypi.org/simple`).
    pub fn new(index_url: &str) -> Result<Self, PypiError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("mlpack/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|source| PypiError::Unreachable {
                url: index_url.to_string(),
                source,
            })?;
        Ok(Self {
            http,
            index_url: index_url.trim_end_matches('/').to_string(),
        })
    }

    /// The index to use: `UV_INDEX_URL`, then `PIP_INDEX_URL`, then PyPI; a manifest's
    /// `index-url` (passed as `configured`) wins over all of them.
    pub fn index_url(configured: Option<&str>) -> String {
        configured
            .map(str::to_string)
            .or_else(|| std::env::var("UV_INDEX_URL").ok())
            .or_else(|| std::env::var("PIP_INDEX_URL").ok())
            .unwrap_or_else(|| DEFAULT_INDEX_URL.to_string())
    }

    /// Whether the index has a project of exactly this (normalized) name.
    pub async fn project_exists(&self, name: &PackageName) -> Result<bool, PypiError> {
        let url = format!("{}/{name}/", self.index_url);
        let response = self
            .http
            .head(&url)
            .header(
                reqwest::header::ACCEPT,
                "application/vnd.pypi.simple.v1+json, text/html;q=0.1",
            )
            .send()
            .await
            .map_err(|source| PypiError::Unreachable {
                url: url.clone(),
                source,
            })?;
        match response.status() {
            status if status.is_success() => Ok(true),
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            status => Err(PypiError::Status { url, status }),
        }
    }
}
