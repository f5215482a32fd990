//! `RegistryClient`: HTTP to one registry, answering its 401 challenges (a bearer token per
//! set of scopes, or basic credentials) and retrying reads that fail on the way.
//!
//! Specs: <https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#api> and
//! <https://distribution.github.io/distribution/spec/auth/token/>.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, Request, RequestBuilder, Response, StatusCode};
use url::Url;

use super::super::reference::{ImageReference, valid_registry};
use super::auth::{self, AuthState, Challenge};
use super::credentials::Credentials;
use super::error::{ConnectFailure, RegistryError};
use super::host::api_host;

/// Tries for a read (`GET`, `HEAD`) whose connection fails or whose server is overloaded.
const ATTEMPTS: u32 = 3;
/// The largest token-server answer or error body read.
const MAX_SMALL_BODY: usize = 1 << 20;

/// What a request may do, for its token: the repository and the scopes it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    pub(crate) repository: Option<String>,
    pub(crate) scopes: Vec<String>,
    /// `pull from` or `push to`, for messages.
    pub(crate) action: &'static str,
}

impl Access {
    /// No repository: `GET /v2/`.
    pub(crate) fn registry() -> Self {
        Self {
            repository: None,
            scopes: Vec::new(),
            action: "use",
        }
    }

    pub(crate) fn pull(repository: &str) -> Self {
        Self {
            repository: Some(repository.to_string()),
            scopes: vec![auth::pull_scope(repository)],
            action: "pull from",
        }
    }

    pub(crate) fn push(repository: &str) -> Self {
        Self {
            repository: Some(repository.to_string()),
            scopes: vec![auth::push_scope(repository)],
            action: "push to",
        }
    }

    /// Push to `repository`, mounting blobs from `from` (which needs pull access there).
    pub(crate) fn push_mounting(repository: &str, from: &str) -> Self {
        let mut access = Self::push(repository);
        access.scopes.push(auth::pull_scope(from));
        access.scopes = auth::scope_set(&access.scopes);
        access
    }
}

/// A client for one registry, cheap to clone: clones share connections and tokens.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
    /// Clients for the registry's mirrors, which pulls try first, in order.
    mirrors: Arc<[RegistryClient]>,
}

struct Inner {
    registry: String,
    base: Url,
    insecure: bool,
    /// For requests without a body: reads time out when they stall.
    api: reqwest::Client,
    /// For requests with a body: no read timeout (the answer comes only once the body is
    /// sent), a total timeout per request instead.
    transfer: reqwest::Client,
    credentials: Option<Credentials>,
    auth: AuthState,
    /// Held while a token is fetched, so that concurrent requests needing the same token
    /// (four blob uploads starting at once) ask the token server once.
    token_fetch: tokio::sync::Mutex<()>,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("registry", &self.inner.registry)
            .field("base", &self.inner.base.as_str())
            .field("credentials", &self.inner.credentials)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client for `registry` (`host[:port]`, `docker.io` for Docker Hub), over plain HTTP
    /// when `insecure` (see [`is_insecure`](super::is_insecure)), else HTTPS with the platform's
    /// certificates plus those in `SSL_CERT_FILE`.
    pub fn new(
        registry: &str,
        insecure: bool,
        credentials: Option<Credentials>,
    ) -> Result<Self, RegistryError> {
        if !valid_registry(registry) {
            return Err(RegistryError::InvalidReference {
                reference: registry.to_string(),
                reason: "the registry is not a valid `host[:port]`".to_string(),
            });
        }
        let scheme = if insecure { "http" } else { "https" };
        let base = Url::parse(&format!("{scheme}://{}/", api_host(registry))).map_err(|error| {
            RegistryError::InvalidReference {
                reference: registry.to_string(),
                reason: error.to_string(),
            }
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                registry: registry.to_string(),
                base,
                insecure,
                api: http_client(Some(crate::network::READ_TIMEOUT))?,
                transfer: http_client(None)?,
                credentials,
                auth: AuthState::default(),
                token_fetch: tokio::sync::Mutex::new(()),
            }),
            mirrors: Arc::new([]),
        })
    }

    /// This client, with pulls trying `mirrors` (clients for each mirror's host) first.
    #[must_use]
    pub fn with_mirrors(mut self, mirrors: Vec<RegistryClient>) -> Self {
        self.mirrors = mirrors.into();
        self
    }

    /// The mirrors pulls try before the registry.
    pub(crate) fn mirrors(&self) -> &[RegistryClient] {
        &self.mirrors
    }

    /// The URL requests go to, as shown in messages.
    pub(crate) fn base_url(&self) -> &str {
        self.inner.base.as_str().trim_end_matches('/')
    }

    /// The registry, as given to [`RegistryClient::new`].
    pub fn registry(&self) -> &str {
        &self.inner.registry
    }

    /// `GET /v2/`, authenticating as the registry asks: `Ok` when the credentials (or
    /// anonymous access, without credentials) are accepted. For `mlpack login`.
    pub async fn check(&self) -> Result<(), RegistryError> {
        let access = Access::registry();
        let url = self.url("v2/")?;
        let request = build_request(self.get(url))?;
        let response = self.send(request, &access).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(self.status_error(&Method::GET, response, &access).await)
        }
    }

    /// Refuse a reference to another registry than this client's.
    pub(crate) fn check_reference(&self, reference: &ImageReference) -> Result<(), RegistryError> {
        if reference.registry() == self.inner.registry {
            Ok(())
        } else {
            Err(RegistryError::WrongRegistry {
                client: self.inner.registry.clone(),
                reference: reference.to_string(),
            })
        }
    }

    /// `path` (like `v2/team/iris/manifests/v1`) on the registry.
    pub(crate) fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.inner
            .base
            .join(path)
            .map_err(|error| self.protocol(format!("`{path}` is not a URL path: {error}")))
    }

    /// A request without a body.
    pub(crate) fn get(&self, url: Url) -> RequestBuilder {
        self.inner.api.get(url)
    }

    pub(crate) fn head(&self, url: Url) -> RequestBuilder {
        self.inner.api.head(url)
    }

    /// A request carrying `body`, with a total timeout that allows for a slow uplink
    /// (64 KiB/s) on top of a minute.
    pub(crate) fn with_body(&self, method: Method, url: Url, body: Vec<u8>) -> RequestBuilder {
        let seconds = 60 + body.len() as u64 / (64 << 10);
        self.inner
            .transfer
            .request(method, url)
            .timeout(Duration::from_secs(seconds))
            .header(reqwest::header::CONTENT_LENGTH, body.len())
            .body(body)
    }

    /// Send `request` with the authorization `access` needs. On 401, answer the challenge
    /// (fetch a token, or use basic credentials) and send it once more; a second 401 is
    /// [`RegistryError::Unauthorized`]. Other statuses are the caller's to read.
    pub(crate) async fn send(
        &self,
        request: Request,
        access: &Access,
    ) -> Result<Response, RegistryError> {
        let retry = request.try_clone();
        let sent = self.known_authorization(access).await?;
        let response = self.execute(self.authorize(request, sent.clone())).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(retry) = retry else {
            return Err(self.unauthorized(access));
        };
        let authorization = self
            .answer_challenge(&response, access, sent.as_ref())
            .await?;
        drop(response);
        let response = self
            .execute(self.authorize(retry, Some(authorization)))
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(self.unauthorized(access));
        }
        Ok(response)
    }

    /// The `Location` of an answer, resolved against the URL it answered.
    pub(crate) fn location(&self, response: &Response) -> Result<Url, RegistryError> {
        let value = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| {
                self.protocol(format!(
                    "its `{}` answer to `{}` has no `Location`",
                    response.status(),
                    display_url(response.url())
                ))
            })?;
        response.url().join(value).map_err(|error| {
            self.protocol(format!("its `Location` `{value}` is not a URL: {error}"))
        })
    }

    /// The error for an unsuccessful answer to `method`, with the registry's own message if
    /// it sent one.
    pub(crate) async fn status_error(
        &self,
        method: &Method,
        response: Response,
        access: &Access,
    ) -> RegistryError {
        let status = response.status();
        let url = display_url(response.url());
        let registry = self.inner.registry.clone();
        match status {
            StatusCode::UNAUTHORIZED => self.unauthorized(access),
            StatusCode::FORBIDDEN => RegistryError::Forbidden {
                registry,
                repository: access.repository.clone(),
                action: access.action,
            },
            StatusCode::TOO_MANY_REQUESTS => RegistryError::TooManyRequests { registry, url },
            _ => {
                let body = read_limited(response, MAX_SMALL_BODY)
                    .await
                    .unwrap_or_default();
                RegistryError::Status {
                    registry,
                    method: method.to_string(),
                    url,
                    status,
                    message: error_message(&body),
                }
            }
        }
    }

    pub(crate) fn protocol(&self, message: String) -> RegistryError {
        RegistryError::Protocol {
            registry: self.inner.registry.clone(),
            message,
        }
    }

    /// The error for a request that got no answer.
    pub(crate) fn request_error(&self, url: &Url, source: reqwest::Error) -> RegistryError {
        let registry = self.inner.registry.clone();
        let url = display_url(url);
        if source.is_connect() {
            RegistryError::Connect {
                registry,
                url,
                insecure: self.inner.insecure,
                failure: connect_failure(&source),
                source,
            }
        } else {
            RegistryError::Transfer {
                registry,
                url,
                source,
            }
        }
    }

    /// One request, tried again after a pause when a read (`GET`, `HEAD`) times out or
    /// meets an overloaded server (502, 503, 504). A refused connection or an unknown host
    /// fails at once.
    async fn execute(&self, request: Request) -> Result<Response, RegistryError> {
        let client = if request.body().is_some() {
            &self.inner.transfer
        } else {
            &self.inner.api
        };
        let idempotent = matches!(*request.method(), Method::GET | Method::HEAD);
        let mut attempt = 1;
        let mut request = request;
        loop {
            let next = if idempotent && attempt < ATTEMPTS {
                request.try_clone()
            } else {
                None
            };
            let url = request.url().clone();
            let result = client.execute(request).await;
            let Some(again) = next else {
                return result.map_err(|error| self.request_error(&url, error));
            };
            match result {
                Ok(response)
                    if !matches!(
                        response.status(),
                        StatusCode::BAD_GATEWAY
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT
                    ) =>
                {
                    return Ok(response);
                }
                Ok(_) => {}
                Err(error) if error.is_timeout() => {}
                Err(error) => return Err(self.request_error(&url, error)),
            }
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            attempt += 1;
            request = again;
        }
    }

    /// `request` with `authorization`, which is only sent to the registry itself (not to a
    /// storage host an upload `Location` or a redirect points at).
    fn authorize(&self, mut request: Request, authorization: Option<HeaderValue>) -> Request {
        if let Some(value) = authorization
            && request.url().origin() == self.inner.base.origin()
        {
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        request
    }

    /// The authorization to send before any challenge: what the registry asked for last
    /// time (a token for these scopes, fetched now if need be, or basic credentials).
    async fn known_authorization(
        &self,
        access: &Access,
    ) -> Result<Option<HeaderValue>, RegistryError> {
        match self.inner.auth.challenge() {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.basic()),
            Some(Challenge::Bearer { realm, service, .. }) => {
                if let Some(token) = self.inner.auth.token(&access.scopes) {
                    return Ok(Some(bearer(&token)));
                }
                let _fetching = self.inner.token_fetch.lock().await;
                if let Some(token) = self.inner.auth.token(&access.scopes) {
                    return Ok(Some(bearer(&token)));
                }
                let token = self
                    .fetch_token(&realm, service.as_deref(), &access.scopes, access)
                    .await?;
                self.inner.auth.set_token(&access.scopes, token.clone());
                Ok(Some(bearer(&token)))
            }
        }
    }

    /// Read a 401's challenge and get what it asks for. `sent` is the authorization the
    /// refused request carried: a token another request got since then is tried first.
    async fn answer_challenge(
        &self,
        response: &Response,
        access: &Access,
        sent: Option<&HeaderValue>,
    ) -> Result<HeaderValue, RegistryError> {
        let values = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok());
        match Challenge::from_headers(values) {
            None => Err(self.unauthorized(access)),
            Some(Challenge::Basic) => {
                self.inner.auth.set_challenge(Challenge::Basic);
                self.basic().ok_or_else(|| self.unauthorized(access))
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scopes,
            }) => {
                let _fetching = self.inner.token_fetch.lock().await;
                if let Some(token) = self.inner.auth.token(&access.scopes) {
                    let fresh = bearer(&token);
                    if sent != Some(&fresh) {
                        return Ok(fresh);
                    }
                }
                let wanted = auth::scope_set(access.scopes.iter().chain(&scopes));
                let token = self
                    .fetch_token(&realm, service.as_deref(), &wanted, access)
                    .await?;
                self.inner.auth.set_token(&access.scopes, token.clone());
                self.inner.auth.set_challenge(Challenge::Bearer {
                    realm,
                    service,
                    scopes: Vec::new(),
                });
                Ok(bearer(&token))
            }
        }
    }

    /// A token from the token server `realm` for `scopes`, with basic credentials if there
    /// are any (only over HTTPS, or to a plain-HTTP registry's own realm).
    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        access: &Access,
    ) -> Result<String, RegistryError> {
        let mut url = Url::parse(realm).map_err(|error| {
            self.protocol(format!("its token realm `{realm}` is not a URL: {error}"))
        })?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(self.protocol(format!("its token realm `{realm}` is not an HTTP URL")));
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = service {
                query.append_pair("service", service);
            }
            for scope in scopes {
                query.append_pair("scope", scope);
            }
        }
        let mut builder = self.get(url.clone());
        if (url.scheme() == "https" || self.inner.insecure)
            && let Some(value) = self.basic()
        {
            builder = builder.header(AUTHORIZATION, value);
        }
        let request = build_request(builder)?;
        let response = self.execute(request).await?;
        match response.status() {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(self.unauthorized(access));
            }
            status if status.is_success() => {}
            _ => return Err(self.status_error(&Method::GET, response, access).await),
        }
        let body = read_limited(response, MAX_SMALL_BODY)
            .await
            .map_err(|error| match error {
                ReadError::TooLarge => self.protocol(format!(
                    "its token server `{}` sent more than {MAX_SMALL_BODY} bytes",
                    display_url(&url)
                )),
                ReadError::Http(source) => self.request_error(&url, source),
            })?;
        auth::token_from_answer(&body).ok_or_else(|| {
            self.protocol(format!(
                "its token server `{}` answered without a token",
                display_url(&url)
            ))
        })
    }

    fn basic(&self) -> Option<HeaderValue> {
        let credentials = self.inner.credentials.as_ref()?;
        let mut value = HeaderValue::from_str(&credentials.basic_authorization()).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    fn unauthorized(&self, access: &Access) -> RegistryError {
        RegistryError::Unauthorized {
            registry: self.inner.registry.clone(),
            repository: access.repository.clone(),
            with_credentials: self.inner.credentials.is_some(),
        }
    }
}

fn bearer(token: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-token"));
    value.set_sensitive(true);
    value
}

/// Why a connection failed, from the error's causes: an I/O error saying the connection was
/// refused, or the resolver's `dns error` (hyper-util's wording; nothing typed reaches here).
fn connect_failure(error: &reqwest::Error) -> ConnectFailure {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return ConnectFailure::Refused;
        }
        if cause.to_string().starts_with("dns error") {
            return ConnectFailure::UnknownHost;
        }
        source = cause.source();
    }
    ConnectFailure::Other
}

/// The request a builder describes.
pub(crate) fn build_request(builder: RequestBuilder) -> Result<Request, RegistryError> {
    builder
        .build()
        .map_err(|source| RegistryError::Client { source })
}

/// A URL as messages show it: without credentials, query or fragment (upload locations and
/// storage redirects carry signed state there).
pub(crate) fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Why a body could not be read whole.
#[derive(Debug)]
pub(crate) enum ReadError {
    TooLarge,
    Http(reqwest::Error),
}

/// The body of `response`, if it has at most `limit` bytes.
pub(crate) async fn read_limited(
    mut response: Response,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Http)? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The registry's error text from a body in the spec's shape,
/// `{"errors":[{"code":"…","message":"…"}]}`, else the body if it is one short line.
fn error_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(errors) = serde_json::from_slice::<Errors>(body) {
        let text = errors
            .errors
            .iter()
            .map(
                |entry| match (entry.code.is_empty(), entry.message.is_empty()) {
                    (false, false) => format!("{} ({})", entry.message, entry.code),
                    (true, false) => entry.message.clone(),
                    _ => entry.code.clone(),
                },
            )
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return (!text.is_empty()).then_some(text);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    (!text.is_empty() && text.len() <= 200 && !text.contains('\n') && !text.starts_with('<'))
        .then(|| text.to_string())
}

/// A reqwest client as every registry request uses: rustls with the platform's roots plus
/// `SSL_CERT_FILE`, no transparent decompression (blobs are hashed as sent).
fn http_client(read_timeout: Option<Duration>) -> Result<reqwest::Client, RegistryError> {
    crate::network::client_builder(read_timeout)
        .map_err(|error| RegistryError::Certificates {
            path: error.path,
            message: error.message,
        })?
        .no_gzip()
        .build()
        .map_err(|source| RegistryError::Client { source })
}

pub(crate) use crate::network::blocking;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_error_bodies() {
        assert_eq!(
            error_message(
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#
            )
            .as_deref(),
            Some("manifest unknown (MANIFEST_UNKNOWN)")
        );
        assert_eq!(
            error_message(br#"{"errors":[{"code":"DENIED"},{"message":"m"}]}"#).as_deref(),
            Some("DENIED; m")
        );
        assert_eq!(
            error_message(b"request body too large\n").as_deref(),
            Some("request body too large")
        );
        assert_eq!(error_message(b"<html>\n<body>413</body></html>"), None);
        assert_eq!(error_message(b""), None);
    }

    #[test]
    fn urls_in_messages_lose_their_secrets() {
        let url =
            Url::parse("https://u:p@storage.example.com/upload/1?_state=abc&X-Amz-Signature=s#f")
                .unwrap();
        assert_eq!(display_url(&url), "https://storage.example.com/upload/1");
    }

    #[test]
    fn clients_for_registries() {
        let client = RegistryClient::new("docker.io", false, None).unwrap();
        assert_eq!(
            client.url("v2/").unwrap().as_str(),
            "https://registry-1.docker.io/v2/"
        );
        let local = RegistryClient::new("localhost:5000", true, None).unwrap();
        assert_eq!(
            local.url("v2/team/iris/manifests/v1").unwrap().as_str(),
            "http://localhost:5000/v2/team/iris/manifests/v1"
        );
        let error = RegistryClient::new("bad host", false, None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid registry reference `bad host`: the registry is not a valid `host[:port]`"
        );
        let other = "ghcr.io/org/x"
            .parse::<ImageReference>()
            .unwrap()
            .normalized();
        assert_eq!(
            local.check_reference(&other).unwrap_err().to_string(),
            "a client for the registry `localhost:5000` cannot reach `ghcr.io/org/x:latest`"
        );
        let shown = format!(
            "{:?}",
            RegistryClient::new(
                "ghcr.io",
                false,
                Some(Credentials {
                    username: "u".to_string(),
                    password: "hunter2".to_string()
                })
            )
            .unwrap()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn access_scopes() {
        assert_eq!(
            Access::push_mounting("team/iris", "library/python").scopes,
            vec![
                "repository:library/python:pull".to_string(),
                "repository:team/iris:pull,push".to_string()
            ]
        );
        assert!(Access::registry().scopes.is_empty());
    }
}
