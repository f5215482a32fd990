//! The network's plumbing, shared by the package index (`pypi`), Debian mirrors (`debian`) and
//! registries (`oci::registry`): one async runtime, started by the command that needs it and
//! passed down, and one HTTP client configuration (user agent, timeouts, `SSL_CERT_FILE`;
//! proxies from `HTTPS_PROXY`/`NO_PROXY`, as reqwest reads them).
//!
//! Only those three modules are async; the rest of mlpack enters them through
//! [`Network::block_on`]. The runtime shuts down in the background when dropped, so a stray
//! prefetch cannot hang the exit.

use std::future::Future;
use std::time::Duration;

use crate::certificates::CertificateError;
use crate::error::Diagnostic;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one read may stall: per read, not for the whole transfer, since a large wheel or
/// blob may take minutes to download.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The async runtime (current-thread: the network is I/O-bound, and CPU work runs on rayon or
/// tokio's blocking pool).
#[derive(Debug)]
pub struct Network {
    runtime: Option<tokio::runtime::Runtime>,
}

/// The runtime could not start.
#[derive(Debug, thiserror::Error)]
#[error("could not start the async runtime")]
pub struct StartError(#[source] std::io::Error);

impl Diagnostic for StartError {}

impl Network {
    pub fn start() -> Result<Self, StartError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StartError)?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Run `future` to its end on this thread, driving the runtime (and with it the requests
    /// other threads make through [`Network::handle`]).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime().block_on(future)
    }

    /// For a thread of its own (the resolver's) that blocks on requests while this thread
    /// drives the runtime in [`Network::block_on`].
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime().handle()
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime is only taken when the network is dropped")
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Failures of an idempotent request worth another try: the connection, not the request, was
/// the problem (refused, reset, timed out, or a body cut short). Shared by every client so a
/// flaky mirror fails no one client more easily than another.
pub fn is_transient(error: &reqwest::Error) -> bool {
    error.is_connect() || error.is_timeout() || error.is_request() || error.is_body()
}

/// The HTTP client settings every client starts from: mlpack's user agent, the connect
/// timeout, a per-read timeout unless `read_timeout` is `None` (uploads, whose answer comes
/// only after the body), and the extra CA certificates of `SSL_CERT_FILE`.
pub fn client_builder(
    read_timeout: Option<Duration>,
) -> Result<reqwest::ClientBuilder, CertificateError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("mlpack/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT);
    if let Some(timeout) = read_timeout {
        builder = builder.read_timeout(timeout);
    }
    let extra_roots = crate::certificates::ssl_cert_file()?;
    if !extra_roots.is_empty() {
        builder = builder.tls_certs_merge(extra_roots);
    }
    Ok(builder)
}

/// Runs blocking work (file I/O, hashing, parsing, the store's lock) on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        // A blocking task can't be cancelled, only panic: pass the panic on to the caller.
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}
