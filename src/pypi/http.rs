//! One HTTP request with the client's policies: a bounded number in flight, credentials for the
//! host, and retries (3 attempts, short backoff) on connection failures and 5xx answers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use tokio::sync::{Semaphore, SemaphorePermit};
use url::Url;

use super::PypiError;
use super::auth::{Auth, redact};

/// Network requests made so far, by kind. Each counts one request as sent by the caller,
/// whatever its answer; retries of it are not counted again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestStats {
    /// Project pages asked for, conditional ones included.
    pub project_pages: u64,
    /// How many of `project_pages` were answered `304 Not Modified`.
    pub revalidations: u64,
    /// `{url}.metadata` files asked for (PEP 658), speculative ones included.
    pub metadata: u64,
    /// Requests with a `Range` header, into a wheel.
    pub range_requests: u64,
    /// Whole files received: a plain download, or a `200` answer to a range request.
    pub downloads: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) project_pages: AtomicU64,
    pub(crate) revalidations: AtomicU64,
    pub(crate) metadata: AtomicU64,
    pub(crate) range_requests: AtomicU64,
    pub(crate) downloads: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RequestStats {
        RequestStats {
            project_pages: self.project_pages.load(Ordering::Relaxed),
            revalidations: self.revalidations.load(Ordering::Relaxed),
            metadata: self.metadata.load(Ordering::Relaxed),
            range_requests: self.range_requests.load(Ordering::Relaxed),
            downloads: self.downloads.load(Ordering::Relaxed),
        }
    }
}

const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// An answer, with the permit that lets its body be read: the bound covers whole transfers,
/// not only the time to the headers.
pub(crate) struct Answer<'a> {
    pub(crate) response: Response,
    _permit: SemaphorePermit<'a>,
}

#[derive(Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
    permits: Semaphore,
    pub(crate) auth: Auth,
    pub(crate) counters: Counters,
}

impl Transport {
    pub(crate) fn new(client: reqwest::Client, concurrency: usize, auth: Auth) -> Self {
        Self {
            client,
            // Zero would wait forever; one request at a time is the least that works.
            permits: Semaphore::new(concurrency.max(1)),
            auth,
            counters: Counters::default(),
        }
    }

    /// GET `url` with `headers`, retrying connection failures and 5xx. A 5xx on the last
    /// attempt is returned as an answer, for the caller to turn into `PypiError::Status`.
    pub(crate) async fn get(&self, url: &Url, headers: HeaderMap) -> Result<Answer<'_>, PypiError> {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let permit = self
                .permits
                .acquire()
                .await
                .expect("the request semaphore is never closed");
            let mut request = self.client.get(url.clone()).headers(headers.clone());
            if let Some(credentials) = self.auth.for_url(url) {
                request = request.basic_auth(credentials.username, credentials.password);
            }
            let last = attempt == ATTEMPTS;
            match request.send().await {
                Ok(response) if response.status().is_server_error() && !last => {}
                Ok(response) => {
                    return Ok(Answer {
                        response,
                        _permit: permit,
                    });
                }
                Err(error) if crate::network::is_transient(&error) && !last => {}
                Err(source) => {
                    return Err(PypiError::Unreachable {
                        url: redact(url.as_str()),
                        source,
                    });
                }
            }
            drop(permit);
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        unreachable!("the last attempt always returns")
    }

    /// GET `url` and read the whole body, retrying a body cut short as well.
    pub(crate) async fn get_bytes(
        &self,
        url: &Url,
        headers: HeaderMap,
    ) -> Result<Fetched, PypiError> {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let answer = self.get(url, headers.clone()).await?;
            let response = answer.response;
            let status = response.status();
            let final_url = response.url().clone();
            let response_headers = response.headers().clone();
            match response.bytes().await {
                Ok(body) => {
                    return Ok(Fetched {
                        status,
                        final_url,
                        headers: response_headers,
                        body: body.into(),
                    });
                }
                Err(error) if crate::network::is_transient(&error) && attempt < ATTEMPTS => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err(source) => {
                    return Err(PypiError::Unreachable {
                        url: redact(url.as_str()),
                        source,
                    });
                }
            }
        }
        unreachable!("the last attempt always returns")
    }
}

/// A whole answer, body included.
pub(crate) struct Fetched {
    pub(crate) status: StatusCode,
    /// After redirects: relative file URLs are resolved against it.
    pub(crate) final_url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Fetched {
    pub(crate) fn header(&self, name: reqwest::header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// The status as an error, for answers the caller has no use for.
pub(crate) fn status_error(url: &Url, status: StatusCode) -> PypiError {
    PypiError::Status {
        url: redact(url.as_str()),
        status,
    }
}
