//! [`Client`] and its [`ClientBuilder`].

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::credentials::ApiToken;
use crate::error::{Error, Result};
use crate::har::Traffic;
use crate::har::{HarRecorder, HarReplay};
use crate::pacing::Pacer;
use crate::pacing::SharedBudget;
use crate::rate_limit::RateLimit;
#[cfg(doc)]
use crate::read_cache::DEFAULT_READ_CACHE_TTL;
use crate::read_cache::{
    CallScope, CredentialId, DEFAULT_READ_CACHE_BYTES, DEFAULT_SETTLED_READ_TTL, ReadCache,
};
use crate::retry::RetryPolicy;

/// The API root used when no base URL is given.
pub const DEFAULT_BASE_URL: &str = "https://api.buildkite.com/";

/// The `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("bk-mcp/", env!("CARGO_PKG_VERSION"));

/// An async client for the Buildkite REST API.
///
/// Cloning is cheap: clones share one connection pool and configuration.
/// A client without a token is valid; calls then go out unauthenticated (and
/// the API answers 401), which lets tools list themselves before a token
/// exists. [`Client::with_token`] gives a clone that acts with another token,
/// for servers that forward each caller's own credentials.
///
/// ```no_run
/// use buildkite_api::{Client, ListBuildsParams, BuildState};
///
/// # async fn run() -> buildkite_api::Result<()> {
/// let client = Client::builder()
///     .token(std::env::var("BUILDKITE_API_TOKEN").unwrap_or_default())
///     .build()?;
/// let params = ListBuildsParams {
///     state: vec![BuildState::Failed],
///     branch: vec!["main".into()],
///     ..Default::default()
/// };
/// let page = client.list_pipeline_builds("acme", "app", &params).await?;
/// for build in &page.items {
///     println!("#{} {}", build.number, build.web_url.as_deref().unwrap_or(""));
/// }
/// if let Some(next) = page.next_page {
///     println!("more on page {next}");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// The token this handle acts with (the builder's, or a per-caller one).
    pub(crate) token: Option<ApiToken>,
    /// Headers added to this handle's requests to the API origin only.
    pub(crate) call_headers: Arc<HeaderMap>,
    /// The tool this handle calls for, recorded on each call's span.
    pub(crate) tool: Option<Arc<str>>,
    /// The tool call this handle belongs to: its request count and reads.
    pub(crate) scope: Option<Arc<CallScope>>,
    /// Skip the shared read cache (a call's `force_refresh`).
    pub(crate) fresh: bool,
    /// The version of the settled thing this handle reads, if it reads one
    /// ([`Client::settled_reads`]).
    pub(crate) settled: Option<Arc<str>>,
    /// Who calls, beyond the credentials: an MCP session, say. Callers
    /// share the organization's rate limit fairly ([`Client::for_caller`]).
    pub(crate) caller: Option<Arc<str>>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base_url: Url,
    pub(crate) default_headers: HeaderMap,
    pub(crate) retry: RetryPolicy,
    pub(crate) request_timeout: Duration,
    pub(crate) last_rate_limit: Mutex<RateLimit>,
    pub(crate) traffic: Traffic,
    pub(crate) reads: ReadCache,
    pub(crate) pacer: Pacer,
    /// The replicas' shared view of each organization's window, if any.
    pub(crate) shared_budget: Option<Arc<dyn SharedBudget>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url.as_str())
            .field("has_token", &self.token.is_some())
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client for the public API with the given token and all defaults.
    pub fn new(token: impl AsRef<str>) -> Result<Self> {
        ClientBuilder::default().token(token).build()
    }

    /// A handle that acts with `token` instead of the configured one
    /// (`None` sends no `Authorization` at all). It shares the connection pool,
    /// so it is cheap enough to make per request.
    pub fn with_token(&self, token: Option<ApiToken>) -> Client {
        Client {
            token,
            ..self.clone()
        }
    }

    /// A handle for one tool call: labelled with `tool` in its tracing
    /// spans, counting its requests ([`Client::requests_sent`]), and
    /// remembering its reads so no URL is fetched twice in the call.
    pub fn for_call(&self, tool: &str) -> Client {
        Client {
            tool: Some(Arc::from(tool)),
            scope: Some(Arc::new(CallScope::new())),
            ..self.clone()
        }
    }

    /// As [`Client::for_call`], for a call that must answer by
    /// `deadline`: waits for the organization's rate limit never run past
    /// it (the request fails unsent instead, and the call can answer with
    /// what it has).
    pub fn for_call_until(&self, tool: &str, deadline: std::time::Instant) -> Client {
        Client {
            tool: Some(Arc::from(tool)),
            scope: Some(Arc::new(CallScope::until(deadline))),
            ..self.clone()
        }
    }

    /// Whether this handle belongs to a tool call ([`Client::for_call`]).
    pub fn in_call(&self) -> bool {
        self.scope.is_some()
    }

    /// Requests this handle's call has sent (each attempt and redirect hop
    /// counts); 0 outside a call ([`Client::for_call`]).
    pub fn requests_sent(&self) -> u64 {
        self.scope.as_ref().map_or(0, |scope| scope.requests())
    }

    /// If the organization's rate limit stopped a request of this handle's
    /// call ([`Client::for_call`]): how long until the window resets. A tool
    /// that returns what it has says so, and when to try again.
    pub fn rate_limited(&self) -> Option<Duration> {
        self.scope.as_ref().and_then(|scope| scope.rate_limited())
    }

    /// A handle that reads fresh data: the shared read cache is skipped (and
    /// refreshed), as a tool's `force_refresh` asks.
    pub fn fresh_reads(&self) -> Client {
        Client {
            fresh: true,
            ..self.clone()
        }
    }

    /// A handle for reads of something that has stopped changing, such as
    /// a finished build's annotations and Test Engine results. `version`
    /// names the state read (the build's id and finish time, say): answers
    /// are kept the longer settled TTL under it, and a new version (a
    /// retried job finishing) never gets an old answer.
    pub fn settled_reads(&self, version: &str) -> Client {
        Client {
            settled: Some(Arc::from(version)),
            ..self.clone()
        }
    }

    /// A handle for one caller among many that share this client's
    /// credentials (an MCP session, say): when the organization's rate
    /// limit runs short, each caller gets a fair share of what is left.
    /// Callers with different credentials are told apart without it.
    pub fn for_caller(&self, caller: &str) -> Client {
        Client {
            caller: Some(Arc::from(caller)),
            ..self.clone()
        }
    }

    /// Who calls, for fair shares of the rate limit: the credentials and
    /// the caller's label.
    pub(crate) fn caller_key(&self) -> crate::pacing::CallerKey {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.credential_id().hash(&mut hasher);
        self.caller.hash(&mut hasher);
        hasher.finish()
    }

    /// Who this handle acts as, for caches: a keyed hash of its token and
    /// per-caller headers, never the token itself.
    pub fn credential_id(&self) -> CredentialId {
        let authorization = self.token.as_ref().map(ApiToken::authorization);
        let mut parts: Vec<&[u8]> = authorization
            .as_ref()
            .map(HeaderValue::as_bytes)
            .into_iter()
            .collect();
        for (name, value) in self.call_headers.iter() {
            parts.push(name.as_str().as_bytes());
            parts.push(value.as_bytes());
        }
        CredentialId::of(parts.into_iter())
    }

    /// Who this handle acts as, the same in every process that knows `key`:
    /// SHA-256 over `key`, then its token and per-caller headers, each with
    /// its length. For binding state a client carries between replicas to
    /// the credentials it was made for; the token cannot be read back.
    pub fn credential_digest(&self, key: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        let authorization = self.token.as_ref().map(ApiToken::authorization);
        let mut hasher = sha2::Sha256::new();
        let mut part = |bytes: &[u8]| {
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        };
        part(key);
        part(
            authorization
                .as_ref()
                .map_or(&[][..], HeaderValue::as_bytes),
        );
        for (name, value) in self.call_headers.iter() {
            part(name.as_str().as_bytes());
            part(value.as_bytes());
        }
        hasher.finalize().into()
    }

    /// A handle whose calls are labelled with `tool` in their tracing spans
    /// (`buildkite.api`, field `tool`).
    pub fn for_tool(&self, tool: &str) -> Client {
        Client {
            tool: Some(Arc::from(tool)),
            ..self.clone()
        }
    }

    /// Whether this client answers from a HAR recording instead of the API.
    pub fn is_replaying(&self) -> bool {
        matches!(self.inner.traffic, Traffic::Replay(_))
    }

    /// A handle that adds `headers` to every request to the API's origin
    /// (never to artifact storage), on top of the client's default headers.
    pub fn with_headers(&self, headers: HeaderMap) -> Client {
        let mut merged = (*self.call_headers).clone();
        for (name, value) in headers.iter() {
            merged.insert(name.clone(), value.clone());
        }
        Client {
            call_headers: Arc::new(merged),
            ..self.clone()
        }
    }

    /// Whether this handle sends a token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The API root, e.g. `https://api.buildkite.com/`.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The rate-limit headers of the most recent response any handle of this
    /// client received.
    pub fn last_rate_limit(&self) -> RateLimit {
        self.inner
            .last_rate_limit
            .lock()
            .map(|guard| *guard)
            .unwrap_or_default()
    }
}

/// Configures a [`Client`].
///
/// ```
/// use std::time::Duration;
/// use buildkite_api::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .token("bkua_example")
///     .base_url("https://buildkite-proxy.internal/api/")
///     .header("X-Request-Source", "docs")
///     .connect_timeout(Duration::from_secs(5))
///     .retry_policy(RetryPolicy { budget: Duration::from_secs(10), ..RetryPolicy::default() })
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url().as_str(), "https://buildkite-proxy.internal/api/");
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    token: Option<String>,
    base_url: String,
    user_agent: String,
    headers: Vec<(String, String)>,
    connect_timeout: Duration,
    request_timeout: Duration,
    read_timeout: Duration,
    retry: RetryPolicy,
    traffic: Traffic,
    read_cache_ttl: Duration,
    settled_read_ttl: Duration,
    read_cache_bytes: u64,
    shared_budget: Option<Arc<dyn SharedBudget>>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            token: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            user_agent: USER_AGENT.to_owned(),
            headers: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            traffic: Traffic::Live,
            // Off unless asked for: a library caller's repeated reads go out
            // as written. bk-mcp turns it on (DEFAULT_READ_CACHE_TTL).
            read_cache_ttl: Duration::ZERO,
            settled_read_ttl: DEFAULT_SETTLED_READ_TTL,
            read_cache_bytes: DEFAULT_READ_CACHE_BYTES,
            shared_budget: None,
        }
    }
}

impl ClientBuilder {
    /// The API token. An empty string means no token.
    pub fn token(mut self, token: impl AsRef<str>) -> Self {
        let token = token.as_ref().trim();
        self.token = (!token.is_empty()).then(|| token.to_owned());
        self
    }

    /// The API root. A path prefix is kept: `https://proxy/bk` sends
    /// `GET https://proxy/bk/v2/user`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Replaces the `User-Agent` (default `bk-mcp/<version>`).
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// Adds a header to every request sent to the API origin.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Time allowed to establish a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one whole JSON request (default 60 s). Log and
    /// artifact streams are bounded by the read timeout instead.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Longest pause allowed between two reads of a response (default 60 s).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// How long read answers are reused, per caller, and turns on the
    /// coalescing of identical concurrent reads (default zero: both off;
    /// [`DEFAULT_READ_CACHE_TTL`] is what the MCP server uses).
    pub fn read_cache_ttl(mut self, ttl: Duration) -> Self {
        self.read_cache_ttl = ttl;
        self
    }

    /// How long settled read answers are reused ([`Client::settled_reads`];
    /// default [`DEFAULT_SETTLED_READ_TTL`], never less than the read cache
    /// TTL). Only while the read cache is on.
    pub fn settled_read_ttl(mut self, ttl: Duration) -> Self {
        self.settled_read_ttl = ttl;
        self
    }

    /// Bound on the read answers kept, in bytes (default 64 MiB).
    pub fn read_cache_bytes(mut self, bytes: u64) -> Self {
        self.read_cache_bytes = bytes;
        self
    }

    /// Shares each organization's rate-limit window with the other
    /// replicas of a service (see [`SharedBudget`]), so together they pace
    /// to one budget instead of each spending it all.
    pub fn shared_budget(mut self, budget: Arc<dyn SharedBudget>) -> Self {
        self.shared_budget = Some(budget);
        self
    }

    /// How failed requests are retried.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Also writes every exchange to a HAR 1.2 file (see [`crate::har`]).
    /// Replaces an earlier [`replay`](Self::replay).
    pub fn record(mut self, recorder: HarRecorder) -> Self {
        self.traffic = Traffic::Record(recorder);
        self
    }

    /// Answers every request from a HAR recording instead of the network
    /// (see [`crate::har`]); no token is needed. Replaces an earlier
    /// [`record`](Self::record).
    pub fn replay(mut self, replay: HarReplay) -> Self {
        self.traffic = Traffic::Replay(replay);
        self
    }

    /// Validates the settings and builds the client.
    pub fn build(self) -> Result<Client> {
        let base_url = parse_base_url(&self.base_url)?;
        let token = self.token.map(ApiToken::new).transpose()?;
        let mut default_headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let header_name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| Error::Config(format!("{name:?} is not a valid header name")))?;
            if header_name == reqwest::header::AUTHORIZATION {
                return Err(Error::Config(
                    "set the token with `token`, not as an Authorization header".into(),
                ));
            }
            let mut header_value = HeaderValue::from_str(value.trim()).map_err(|_| {
                Error::Config(format!(
                    "the value of header {name:?} is not a valid header value"
                ))
            })?;
            header_value.set_sensitive(true);
            default_headers.append(header_name, header_value);
        }
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::Config("the user agent is not a valid header value".into()))?;
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            // Redirects are followed by hand so credentials never leave the
            // API's origin (an artifact download redirects to object storage).
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                Error::Config(format!(
                    "could not set up the HTTP client (TLS needs the system's root certificates, e.g. /etc/ssl/certs): {}",
                    crate::response::error_chain(e)
                ))
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                default_headers,
                retry: self.retry,
                request_timeout: self.request_timeout,
                last_rate_limit: Mutex::new(RateLimit::default()),
                traffic: self.traffic,
                reads: ReadCache::new(
                    self.read_cache_ttl,
                    self.settled_read_ttl,
                    self.read_cache_bytes,
                ),
                pacer: Pacer::default(),
                shared_budget: self.shared_budget,
            }),
            token,
            call_headers: Arc::new(HeaderMap::new()),
            tool: None,
            scope: None,
            fresh: false,
            settled: None,
            caller: None,
        })
    }
}

fn parse_base_url(raw: &str) -> Result<Url> {
    let raw = raw.trim();
    let mut url = Url::parse(raw)
        .map_err(|e| Error::Config(format!("base URL {raw:?} is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Config(format!(
            "base URL {raw:?} must be an http or https URL with a host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "base URL {raw:?} must not have a query or fragment"
        )));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_credential_digest_is_stable_per_key_and_token_and_differs_otherwise() {
        let client = |token: &str| Client::builder().token(token).build().unwrap();
        let (a, b) = (client("bkua_aaaa"), client("bkua_bbbb"));
        assert_eq!(
            a.credential_digest(b"k"),
            client("bkua_aaaa").credential_digest(b"k")
        );
        assert_ne!(a.credential_digest(b"k"), b.credential_digest(b"k"));
        assert_ne!(a.credential_digest(b"k"), a.credential_digest(b"other"));
        let digest = a.credential_digest(b"k");
        assert!(!digest.windows(4).any(|w| w == b"aaaa"), "no token bytes");
    }
    use super::*;

    #[test]
    fn base_url_keeps_its_prefix_and_gains_a_slash() {
        let client = Client::builder()
            .base_url("http://127.0.0.1:9/buildkite")
            .build()
            .unwrap();
        assert_eq!(client.base_url().as_str(), "http://127.0.0.1:9/buildkite/");
    }

    #[test]
    fn bad_base_urls_are_config_errors() {
        for bad in ["", "not a url", "ftp://x/", "https://x/?q=1", "mailto:a@b"] {
            let err = Client::builder().base_url(bad).build().unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn bad_headers_are_config_errors() {
        let err = Client::builder()
            .header("bad name", "v")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        let err = Client::builder()
            .header("X-Ok", "line\nbreak")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)));
        let err = Client::builder()
            .header("Authorization", "Bearer x")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("token"));
    }

    #[test]
    fn debug_shows_no_token() {
        let client = Client::new("bkua_topsecret").unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
        assert!(debug.contains("has_token: true"));
    }

    #[test]
    fn client_without_token_is_valid() {
        let client = Client::builder().token("").build().unwrap();
        assert!(!client.has_token());
        let scoped = client.with_token(Some(ApiToken::new("t").unwrap()));
        assert!(scoped.has_token());
        assert!(!client.has_token());
    }
}
