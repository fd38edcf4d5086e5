//! A reverse proxy for `bk-mcp-http` that authenticates its own users and
//! passes each one's Buildkite token through.
//!
//! `bk-mcp-http --passthrough-http-header Authorization` has no token of its
//! own: every request must bring `Authorization: Bearer <Buildkite token>`.
//! This proxy sits in front of it, so that users authenticate to the proxy
//! (an `X-Api-Key` header, or HTTP basic auth with their name and key), and
//! the proxy adds the Buildkite token it holds for that user:
//!
//! - a request without credentials, or with unknown ones, gets 401 and never
//!   reaches the server;
//! - the client's own `Authorization` (and `X-Api-Key`, `Proxy-Authorization`,
//!   cookies and hop-by-hop headers) is never forwarded; `Authorization:
//!   Bearer <the user's token>` replaces it;
//! - a user marked `read_only` gets `X-Buildkite-Read-Only: true`, which the
//!   server honours as a narrowing of its tools (a request can narrow, never
//!   widen);
//! - `/mcp` and `/mcp/…` (POST, GET, DELETE; the path and query are kept) are
//!   forwarded; responses, Server-Sent Events included, are streamed back as
//!   they arrive, not buffered.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use serde_json::Value;

/// Header a client may authenticate with instead of basic auth.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The server's header for read-only requests.
pub const READ_ONLY_HEADER: &str = "x-buildkite-read-only";

/// One user of the proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Name (the basic-auth user name; also logged).
    pub name: String,
    api_key: String,
    buildkite_token: String,
    /// Only tools that change nothing.
    pub read_only: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl User {
    /// A user who authenticates with `api_key` and acts on Buildkite with
    /// `buildkite_token`.
    pub fn new(
        name: impl Into<String>,
        api_key: impl Into<String>,
        buildkite_token: impl Into<String>,
    ) -> Self {
        User {
            name: name.into(),
            api_key: api_key.into(),
            buildkite_token: buildkite_token.into(),
            read_only: false,
        }
    }

    /// The same user, limited to read-only tools.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }
}

/// The proxy's users.
#[derive(Debug, Clone, Default)]
pub struct Users(Vec<User>);

impl Users {
    /// Users from a list; names and API keys must be unique and nothing
    /// empty.
    pub fn new(users: Vec<User>) -> Result<Self, String> {
        for (index, user) in users.iter().enumerate() {
            if user.name.trim().is_empty() || user.name.contains(':') {
                return Err(format!("user {}: a name is needed, without ':'", index + 1));
            }
            if user.api_key.len() < 16 {
                return Err(format!(
                    "user {:?}: the api_key must have at least 16 characters",
                    user.name
                ));
            }
            if user.buildkite_token.trim().is_empty()
                || HeaderValue::from_str(&format!("Bearer {}", user.buildkite_token)).is_err()
            {
                return Err(format!(
                    "user {:?}: buildkite_token is empty or not a valid header value",
                    user.name
                ));
            }
            if let Some(other) = users[..index]
                .iter()
                .find(|other| other.name == user.name || other.api_key == user.api_key)
            {
                return Err(format!(
                    "users {:?} and {:?} share a name or an api_key",
                    other.name, user.name
                ));
            }
        }
        Ok(Users(users))
    }

    /// Users from JSON: `[{"name", "api_key", "buildkite_token",
    /// "read_only"?}, …]`.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("users are not JSON: {e}"))?;
        let list = value
            .as_array()
            .ok_or("users must be a JSON array of {name, api_key, buildkite_token, read_only}")?;
        let mut users = Vec::with_capacity(list.len());
        for (index, entry) in list.iter().enumerate() {
            let text = |name: &str| {
                entry[name]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("user {}: {name} must be a string", index + 1))
            };
            let mut user = User::new(text("name")?, text("api_key")?, text("buildkite_token")?);
            user.read_only = match &entry["read_only"] {
                Value::Null => false,
                Value::Bool(flag) => *flag,
                _ => {
                    return Err(format!(
                        "user {}: read_only must be true or false",
                        index + 1
                    ));
                }
            };
            users.push(user);
        }
        Users::new(users)
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The user a request's credentials name: `X-Api-Key: <key>`, or
    /// `Authorization: Basic base64(<name>:<key>)`. Every user is compared,
    /// in constant time, whatever matches.
    pub fn authenticate(&self, headers: &HeaderMap) -> Option<&User> {
        let (name, key) = credentials(headers)?;
        let mut found = None;
        for user in &self.0 {
            let key_matches = constant_time_eq(user.api_key.as_bytes(), key.as_bytes());
            let name_matches = name
                .as_deref()
                .is_none_or(|name| constant_time_eq(user.name.as_bytes(), name.as_bytes()));
            if key_matches && name_matches && found.is_none() {
                found = Some(user);
            }
        }
        found
    }
}

/// The (optional name and) key a request authenticates with.
fn credentials(headers: &HeaderMap) -> Option<(Option<String>, String)> {
    let mut keys = headers.get_all(API_KEY_HEADER).iter();
    if let Some(key) = keys.next() {
        // Two keys are ambiguous: refuse rather than pick one.
        if keys.next().is_some() {
            return None;
        }
        return Some((None, key.to_str().ok()?.trim().to_owned()));
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (name, key) = decoded.split_once(':')?;
    Some((Some(name.to_owned()), key.to_owned()))
}

/// Byte equality whose time depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where and how to proxy.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The server's origin, e.g. `http://127.0.0.1:3000` (a trailing `/mcp`
    /// is accepted and dropped: the request's own path is appended).
    pub upstream: String,
    /// Who may use it.
    pub users: Users,
    /// Largest request body forwarded (413 above).
    pub max_body_bytes: usize,
    /// Print one line per request on stderr (user, method, path, status).
    pub log_requests: bool,
}

impl ProxyConfig {
    /// A configuration with a 4 MiB body limit and no request log.
    pub fn new(upstream: impl Into<String>, users: Users) -> Self {
        ProxyConfig {
            upstream: upstream.into(),
            users,
            max_body_bytes: 4 << 20,
            log_requests: false,
        }
    }
}

struct Proxy {
    upstream: String,
    users: Users,
    client: reqwest::Client,
    max_body_bytes: usize,
    log_requests: bool,
}

/// The proxy's routes: `/mcp` and `/mcp/{*rest}` forwarded, `/health`
/// answered locally.
pub fn router(config: ProxyConfig) -> Result<Router, String> {
    let upstream = config.upstream.trim().trim_end_matches('/');
    let upstream = upstream.strip_suffix("/mcp").unwrap_or(upstream).to_owned();
    let url = reqwest::Url::parse(&upstream).map_err(|e| format!("upstream {upstream:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
        return Err(format!(
            "upstream {upstream:?}: use an http(s) origin, e.g. http://127.0.0.1:3000"
        ));
    }
    if config.users.is_empty() {
        return Err("no users: the proxy would refuse every request".into());
    }
    let client = reqwest::Client::builder()
        // Bodies pass through as they are (compressed or not), redirects go
        // back to the client, and only a connection has a time limit: an
        // event stream may stay open as long as the client wants.
        .no_gzip()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let state = Arc::new(Proxy {
        upstream,
        users: config.users,
        client,
        max_body_bytes: config.max_body_bytes,
        log_requests: config.log_requests,
    });
    Ok(Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/mcp", any(forward))
        .route("/mcp/{*rest}", any(forward))
        .with_state(state))
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1),
/// and those the proxy sets itself.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Credentials meant for the proxy, never forwarded.
const CREDENTIALS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    API_KEY_HEADER,
    "cookie",
];

/// `headers` without hop-by-hop headers (those `Connection` names too).
fn end_to_end(headers: &HeaderMap, also_drop: &[&str]) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let lower = name.as_str();
        if HOP_BY_HOP.contains(&lower)
            || also_drop.contains(&lower)
            || named.iter().any(|n| n == lower)
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/mcp".to_owned(), |p| p.as_str().to_owned());
    // `/mcp/../ready` would reach another path once the upstream URL is
    // normalised: only plain segments are forwarded.
    if has_dot_segment(request.uri().path()) {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    }
    let Some(user) = proxy.users.authenticate(request.headers()) else {
        if proxy.log_requests {
            eprintln!("-        {method} {} -> 401", request.uri().path());
        }
        let mut response = plain(
            StatusCode::UNAUTHORIZED,
            "missing or unknown credentials: send X-Api-Key, or basic auth with your name and key\n",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"bk-mcp\", charset=\"UTF-8\""),
        );
        return response;
    };
    let response = send(&proxy, user, request, &path).await;
    if proxy.log_requests {
        eprintln!(
            "{:<8} {method} {} -> {}",
            user.name,
            path.split('?').next().unwrap_or(&path),
            response.status().as_u16()
        );
    }
    response
}

/// Whether a path has a `.` or `..` segment, percent-encoded or not.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    })
}

async fn send(proxy: &Proxy, user: &User, request: Request, path: &str) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, proxy.max_body_bytes).await {
        Ok(body) => body,
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n"),
    };
    let mut headers = end_to_end(&parts.headers, CREDENTIALS);
    let mut bearer = match HeaderValue::from_str(&format!("Bearer {}", user.buildkite_token)) {
        Ok(value) => value,
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "bad token configured\n"),
    };
    bearer.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, bearer);
    if user.read_only {
        headers.insert(
            HeaderName::from_static(READ_ONLY_HEADER),
            HeaderValue::from_static("true"),
        );
    }
    let mut upstream = proxy
        .client
        .request(parts.method.clone(), format!("{}{path}", proxy.upstream))
        .headers(headers);
    if !body.is_empty() || parts.method == Method::POST {
        upstream = upstream.body(body);
    }
    let response = match upstream.send().await {
        Ok(response) => response,
        Err(_) => return plain(StatusCode::BAD_GATEWAY, "the MCP server did not answer\n"),
    };
    let status = response.status();
    let headers = end_to_end(response.headers(), &[]);
    let mut out = Response::new(Body::from_stream(chunks(response)));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

/// The response body, chunk by chunk as it arrives.
fn chunks(
    response: reqwest::Response,
) -> impl futures_util::Stream<Item = Result<Bytes, reqwest::Error>> + Send + 'static {
    futures_util::stream::unfold(Some(response), |state| async move {
        let mut response = state?;
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
            Ok(None) => None,
            Err(error) => Some((Err(error), None)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Users {
        Users::new(vec![
            User::new("alice", "alice-key-0123456789", "bkua_alice"),
            User::new("bob", "bob-key-0123456789ab", "bkua_bob").read_only(),
        ])
        .expect("valid users")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    fn basic(name: &str, key: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{name}:{key}"))
        )
    }

    #[test]
    fn users_authenticate_by_key_or_basic_auth() {
        let users = users();
        let name = |h: &HeaderMap| users.authenticate(h).map(|u| u.name.clone());
        assert_eq!(
            name(&headers(&[("x-api-key", "alice-key-0123456789")])),
            Some("alice".into())
        );
        assert_eq!(
            name(&headers(&[(
                "authorization",
                &basic("bob", "bob-key-0123456789ab")
            )])),
            Some("bob".into())
        );
        // Someone else's key under your name, a Bearer token, nothing, two keys.
        assert_eq!(
            name(&headers(&[(
                "authorization",
                &basic("bob", "alice-key-0123456789")
            )])),
            None
        );
        assert_eq!(
            name(&headers(&[(
                "authorization",
                "Bearer alice-key-0123456789"
            )])),
            None
        );
        assert_eq!(name(&HeaderMap::new()), None);
        assert_eq!(
            name(&headers(&[
                ("x-api-key", "alice-key-0123456789"),
                ("x-api-key", "bob-key-0123456789ab")
            ])),
            None
        );
    }

    #[test]
    fn users_load_from_json_and_are_checked() {
        let users = Users::from_json(
            r#"[{"name": "alice", "api_key": "alice-key-0123456789", "buildkite_token": "bkua_a"},
                {"name": "bob", "api_key": "bob-key-0123456789ab", "buildkite_token": "bkua_b", "read_only": true}]"#,
        )
        .expect("valid");
        assert_eq!(users.len(), 2);
        assert!(users.0[1].read_only);
        assert!(
            !format!("{users:?}").contains("bkua_"),
            "secrets stay out of Debug"
        );
        for bad in [
            "{}",
            r#"[{"name": "a", "api_key": "short", "buildkite_token": "t"}]"#,
            r#"[{"name": "a", "api_key": "alice-key-0123456789", "buildkite_token": ""}]"#,
            r#"[{"name": "a:b", "api_key": "alice-key-0123456789", "buildkite_token": "t"}]"#,
            r#"[{"name": "a", "api_key": "alice-key-0123456789", "buildkite_token": "t"},
                {"name": "b", "api_key": "alice-key-0123456789", "buildkite_token": "u"}]"#,
            r#"[{"name": "a", "api_key": "alice-key-0123456789", "buildkite_token": "t", "read_only": "yes"}]"#,
        ] {
            assert!(Users::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hop_by_hop_and_named_headers_are_dropped() {
        let map = headers(&[
            ("connection", "close, x-private"),
            ("x-private", "1"),
            ("transfer-encoding", "chunked"),
            ("authorization", "Bearer mine"),
            ("mcp-session-id", "s-1"),
            ("accept", "application/json, text/event-stream"),
        ]);
        let kept = end_to_end(&map, CREDENTIALS);
        let names: Vec<&str> = kept.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, vec!["mcp-session-id", "accept"]);
    }

    #[test]
    fn dot_segments_are_not_forwarded() {
        for path in ["/mcp/../ready", "/mcp/%2e%2e/x", "/mcp/./x", "/mcp/%2E/x"] {
            assert!(has_dot_segment(path), "{path}");
        }
        for path in ["/mcp", "/mcp/x/builds,logs/readonly", "/mcp/a..b"] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }

    #[test]
    fn router_checks_its_configuration() {
        assert!(router(ProxyConfig::new("ftp://x", users())).is_err());
        assert!(router(ProxyConfig::new("http://127.0.0.1:3000", Users::default())).is_err());
        assert!(router(ProxyConfig::new("http://127.0.0.1:3000/mcp", users())).is_ok());
    }
}
