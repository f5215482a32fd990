//! `IndexClient`: the files of a project (the simple API, through the HTTP cache) and whether
//! a project exists. The metadata of a file is in `metadata.rs`.
//!
//! Each answer is asked for once per client: concurrent calls for the same project share one
//! request (a `OnceCell` per key), and results live as long as the client.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pep508_rs::PackageName;
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, AGE, CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, LAST_MODIFIED,
};
use tokio::sync::OnceCell;
use url::Url;

use super::auth::{Auth, redact};
use super::cache::{self, CachedPage, DiskCache, Storage};
use super::exclude_newer::ExcludeNewer;
use super::http::{Counters, Fetched, RequestStats, Transport, status_error};
use super::simple::{self, PageFormat};
use super::{DEFAULT_INDEX_URL, ProjectFiles, PypiError, SharedMetadata, SharedProject};

/// Settings for an [`IndexClient`].
#[derive(Debug, Clone)]
pub struct IndexClientBuilder {
    cache_dir: Option<PathBuf>,
    offline: bool,
    exclude_newer: Option<String>,
    concurrency: usize,
    base_dir: Option<PathBuf>,
}

impl Default for IndexClientBuilder {
    fn default() -> Self {
        Self {
            cache_dir: None,
            offline: false,
            exclude_newer: None,
            concurrency: 32,
            base_dir: None,
        }
    }
}

impl IndexClientBuilder {
    /// Where the HTTP cache lives. Default: `$XDG_CACHE_HOME/mlpack`, else `~/.cache/mlpack`.
    #[must_use]
    pub fn cache_dir(mut self, dir: PathBuf) -> Self {
        self.cache_dir = Some(dir);
        self
    }

    /// Use only the cache, however old; what it lacks is `PypiError::Offline`. Default: off.
    #[must_use]
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Drop files uploaded after `cutoff`: an RFC 3339 timestamp, or `YYYY-MM-DD` for files
    /// uploaded before that day (UTC). Files without an upload time are kept. Default: none.
    #[must_use]
    pub fn exclude_newer(mut self, cutoff: Option<String>) -> Self {
        self.exclude_newer = cutoff;
        self
    }

    /// What relative paths in direct references (`mylib @ ./libs/mylib`) are relative to: the
    /// project. Default: the working directory.
    #[must_use]
    pub fn base_dir(mut self, dir: PathBuf) -> Self {
        self.base_dir = Some(dir);
        self
    }

    /// How many requests may be in flight at once (at least 1). Default: 32.
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Checks the settings, reads `~/.netrc` and `SSL_CERT_FILE`, and sets up the client.
    pub fn build(self) -> Result<IndexClient, PypiError> {
        let cache_dir = match self.cache_dir {
            Some(dir) => dir,
            None => crate::dirs::cache_dir()?,
        };
        let exclude_newer = self
            .exclude_newer
            .as_deref()
            .map(ExcludeNewer::parse)
            .transpose()?;
        let transport = Transport::new(http_client()?, self.concurrency, Auth::from_environment()?);
        Ok(IndexClient {
            inner: Arc::new(Inner {
                transport,
                cache: DiskCache::new(cache_dir),
                offline: self.offline,
                exclude_newer,
                projects: Mutex::new(HashMap::new()),
                metadata: Mutex::new(HashMap::new()),
                sdists: Mutex::new(HashMap::new()),
                metadata_hosts: Mutex::new(HashMap::new()),
                base_dir: self.base_dir.unwrap_or_else(|| PathBuf::from(".")),
            }),
        })
    }
}

fn http_client() -> Result<reqwest::Client, PypiError> {
    crate::network::client_builder(Some(crate::network::READ_TIMEOUT))
        .map_err(certificates_error)?
        .build()
        .map_err(|source| PypiError::Client { source })
}

fn certificates_error(error: crate::certificates::CertificateError) -> PypiError {
    PypiError::Certificates {
        path: error.path,
        message: error.message,
    }
}

/// A client for simple-API indexes, cheap to clone (all clones share requests and caches).
#[derive(Clone)]
pub struct IndexClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) cache: DiskCache,
    pub(crate) offline: bool,
    exclude_newer: Option<ExcludeNewer>,
    projects: Cells<(String, PackageName), SharedProject>,
    pub(crate) metadata: Cells<String, SharedMetadata>,
    pub(crate) sdists: Cells<String, Arc<super::SdistInfo>>,
    /// Per host, whether a `.metadata` request has been answered (`true`) or, with none
    /// answered yet, refused with 404 (`false`). See `metadata.rs`.
    pub(crate) metadata_hosts: Mutex<HashMap<String, bool>>,
    /// What relative direct references are relative to.
    pub(crate) base_dir: PathBuf,
}

impl fmt::Debug for IndexClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IndexClient")
            .field("cache_dir", &self.inner.cache.root())
            .field("offline", &self.inner.offline)
            .field("exclude_newer", &self.inner.exclude_newer)
            .finish_non_exhaustive()
    }
}

impl IndexClient {
    pub fn builder() -> IndexClientBuilder {
        IndexClientBuilder::default()
    }

    /// The index to use: a manifest's `index-url` (passed as `configured`), else
    /// `UV_INDEX_URL`, else `PIP_INDEX_URL`, else PyPI.
    pub fn index_url(configured: Option<&str>) -> String {
        configured
            .map(str::to_string)
            .or_else(|| std::env::var("UV_INDEX_URL").ok())
            .or_else(|| std::env::var("PIP_INDEX_URL").ok())
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_INDEX_URL.to_string())
    }

    /// Requests made so far by this client and its clones.
    pub fn stats(&self) -> RequestStats {
        self.inner.transport.counters.snapshot()
    }

    /// All files of `name` on `index` (a simple-API base URL like `https://pypi.org/simple`;
    /// credentials in it are used for its host and kept out of the result). Files uploaded
    /// after the `exclude_newer` cutoff are left out. `ProjectFiles::index` is `index` without
    /// credentials or trailing slash.
    pub async fn project(
        &self,
        index: &str,
        name: &PackageName,
    ) -> Result<SharedProject, PypiError> {
        let index = self.register_index(index)?;
        let cell = shared_cell(&self.inner.projects, (index.clone(), name.clone()));
        cell.get_or_try_init(|| async {
            let mut project = self.fetch_project(&index, name).await?;
            if let Some(cutoff) = self.inner.exclude_newer {
                project.files.retain(|file| cutoff.keeps(file));
            }
            Ok(Arc::new(project))
        })
        .await
        .cloned()
    }

    /// Whether `index` has a project called `name`.
    pub async fn project_exists(&self, index: &str, name: &PackageName) -> Result<bool, PypiError> {
        match self.project(index, name).await {
            Ok(_) => Ok(true),
            Err(PypiError::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Checks `index`, remembers its credentials, and returns it without them or a trailing `/`.
    fn register_index(&self, index: &str) -> Result<String, PypiError> {
        let trimmed = index.trim().trim_end_matches('/');
        let url = Url::parse(trimmed).map_err(|error| PypiError::InvalidUrl {
            url: redact(trimmed),
            message: error.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PypiError::InvalidUrl {
                url: redact(trimmed),
                message: "only `http` and `https` indexes are supported".to_string(),
            });
        }
        let stripped = self.inner.transport.auth.take_from_url(&url);
        Ok(stripped.as_str().trim_end_matches('/').to_string())
    }

    /// The page from the disk cache when offline or fresh, else from the index (revalidating
    /// a stale cached copy), and stored for next time.
    async fn fetch_project(
        &self,
        index: &str,
        name: &PackageName,
    ) -> Result<ProjectFiles, PypiError> {
        let page_url =
            Url::parse(&format!("{index}/{name}/")).map_err(|error| PypiError::InvalidUrl {
                url: index.to_string(),
                message: error.to_string(),
            })?;
        let path = self.inner.cache.page_path(index, name);
        let cached = blocking({
            let path = path.clone();
            move || cache::read_page(&path)
        })
        .await;
        if self.inner.offline {
            return cached
                .map(|page| page.project)
                .ok_or_else(|| PypiError::Offline {
                    what: format!("`{name}`"),
                    url: page_url.to_string(),
                });
        }
        if let Some(page) = &cached
            && page.is_fresh(cache::now())
        {
            return Ok(cached.expect("checked above").project);
        }

        let mut answer = self.request_page(&page_url, cached.as_ref()).await?;
        let Storage::Keep { max_age } =
            cache::storage(answer.header(CACHE_CONTROL), answer.header(AGE))
        else {
            return self.parse_answer(&mut answer, &page_url, name, index).await;
        };
        let (project, old_etag, old_last_modified) = match answer.status {
            StatusCode::NOT_MODIFIED => {
                Counters::bump(&self.inner.transport.counters.revalidations);
                let Some(page) = cached else {
                    return Err(PypiError::Malformed {
                        url: page_url.to_string(),
                        message: "`304 Not Modified` to a request that had no validators"
                            .to_string(),
                    });
                };
                (page.project, page.etag, page.last_modified)
            }
            _ => (
                self.parse_answer(&mut answer, &page_url, name, index)
                    .await?,
                None,
                None,
            ),
        };
        // A 304 may leave out validators that did not change; the old ones still hold then.
        let page = CachedPage {
            etag: answer.header(ETAG).map(str::to_string).or(old_etag),
            last_modified: answer
                .header(LAST_MODIFIED)
                .map(str::to_string)
                .or(old_last_modified),
            fetched_at: cache::now(),
            max_age,
            project,
        };
        blocking(move || cache::write_page(&path, &page).map(|()| page.project)).await
    }

    /// GET a project page, conditional on the validators of `cached` when there is one.
    async fn request_page(
        &self,
        page_url: &Url,
        cached: Option<&CachedPage>,
    ) -> Result<Fetched, PypiError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(simple::ACCEPT));
        if let Some(page) = cached {
            let validators = [
                (IF_NONE_MATCH, page.etag.as_deref()),
                (IF_MODIFIED_SINCE, page.last_modified.as_deref()),
            ];
            for (header, value) in validators {
                if let Some(value) = value.and_then(|value| HeaderValue::from_str(value).ok()) {
                    headers.insert(header, value);
                }
            }
        }
        Counters::bump(&self.inner.transport.counters.project_pages);
        self.inner.transport.get_bytes(page_url, headers).await
    }

    /// The files in a successful answer; 404 is `NotFound`, anything else unsuccessful is
    /// `Status`.
    async fn parse_answer(
        &self,
        answer: &mut Fetched,
        page_url: &Url,
        name: &PackageName,
        index: &str,
    ) -> Result<ProjectFiles, PypiError> {
        match answer.status {
            status if status.is_success() => {}
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                return Err(PypiError::NotFound {
                    name: name.clone(),
                    index: index.to_string(),
                });
            }
            status => return Err(status_error(page_url, status)),
        }
        let format = PageFormat::detect(answer.header(CONTENT_TYPE), &answer.body);
        // The page may be megabytes (`torch` lists thousands of files): parse off the executor.
        let body = std::mem::take(&mut answer.body);
        let final_url = answer.final_url.clone();
        let (name, index) = (name.clone(), index.to_string());
        blocking(move || simple::parse_page(format, &body, &final_url, &name, &index))
            .await
            .map_err(|message| PypiError::Malformed {
                url: redact(answer.final_url.as_str()),
                message,
            })
    }
}

/// One answer per key, filled once by whichever caller comes first.
pub(crate) type Cells<K, V> = Mutex<HashMap<K, Arc<OnceCell<V>>>>;

/// The cell for `key`, shared by every caller asking for the same thing.
pub(crate) fn shared_cell<K: Eq + Hash, V>(cells: &Cells<K, V>, key: K) -> Arc<OnceCell<V>> {
    cells
        .lock()
        .expect("the request map lock is never poisoned")
        .entry(key)
        .or_default()
        .clone()
}

pub(crate) use crate::network::blocking;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_files() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("bundle.pem");
        fs_err::write(&path, "not a certificate\n").unwrap();
        let error = certificates_error(crate::certificates::read_certificates(&path).unwrap_err());
        assert_eq!(
            error.to_string(),
            format!(
                "could not read certificates from `{}` (named by `SSL_CERT_FILE`): no PEM certificates in it",
                path.display()
            )
        );
        let missing = certificates_error(
            crate::certificates::read_certificates(&directory.path().join("missing.pem"))
                .unwrap_err(),
        );
        assert!(matches!(missing, PypiError::Certificates { .. }));
    }

    #[test]
    fn index_urls_must_be_http() {
        let client = IndexClient::builder()
            .cache_dir(PathBuf::from("/nonexistent"))
            .build()
            .unwrap();
        let error = client
            .register_index("ftp://user:pw@example.com/simple")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid index URL `ftp://user:****@example.com/simple`: only `http` and `https` indexes are supported"
        );
        assert_eq!(
            client
                .register_index("https://u:p@example.com/simple/")
                .unwrap(),
            "https://example.com/simple"
        );
    }
}
