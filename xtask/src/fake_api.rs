//! A zero-latency fake Buildkite REST API on 127.0.0.1, serving the
//! realistic fixtures of `buildkite-api` from memory. `bench-mcp` runs its
//! servers against it, and `conformance` runs the Python client's
//! `current_user` against it.
//!
//! - `GET /v2/user`: `user.json` (what `current_user` reads);
//! - `GET /v2/organizations/{org}/pipelines/{pipeline}/builds/{number}`:
//!   `build.json`, and `.../annotations`: `annotations.json` (what
//!   `get_build` reads);
//! - with [`Setup::logs`], any job of those builds: `GET …/jobs/{id}` (a
//!   finished job) and `GET`/`HEAD …/jobs/{id}/log` (a generated log, the
//!   same bytes for the same id), each log download counted per job
//!   ([`FakeApi::log_downloads`]), after the configured latency;
//! - anything else: 404 (another method on those paths: 405).
//!
//! A known route answers 401 unless the request carries the bearer token
//! [`Accept`] asks for. Every request is counted; with
//! [`Setup::record`] it is also kept ([`FakeApi::take`]), so a caller can
//! check exactly what the server under test asked upstream.
//!
//! The demo's realistic fixture API is a different thing:
//! `crate::demo::fixture_api`.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request as HttpRequest, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Which `Authorization` header the fake API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Only `Bearer <this token>`.
    Token(&'static str),
    /// Any `Bearer …` (the caller checks the tokens in the record).
    AnyBearer,
}

/// How to start a [`FakeApi`].
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    /// The directory with `user.json`, `build.json` and `annotations.json`.
    pub fixtures: &'a Path,
    pub accept: Accept,
    /// Whether to keep every request for [`FakeApi::take`] (off for load
    /// tests: only counted then).
    pub record: bool,
    /// Serve jobs and their logs, as `bench-scale` needs.
    pub logs: Option<LogRoutes>,
}

/// How the fake API serves job logs.
#[derive(Debug, Clone, Copy)]
pub struct LogRoutes {
    /// About how large each generated log is.
    pub bytes: u64,
    /// Latency added to every job and log answer, as a real API has.
    pub delay: std::time::Duration,
}

/// One request the fake API received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path and query, as sent.
    pub target: String,
    pub authorization: Option<String>,
}

impl Request {
    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.target)
    }
}

/// A running fake API; it runs until its Tokio runtime stops.
#[derive(Debug)]
pub struct FakeApi {
    /// `http://127.0.0.1:PORT` (the server's `BUILDKITE_BASE_URL`).
    pub url: String,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    accept: Accept,
    user: Bytes,
    build: Bytes,
    annotations: Bytes,
    hits: AtomicU64,
    refused: AtomicU64,
    /// `None` unless [`Setup::record`].
    requests: Option<Mutex<Vec<Request>>>,
    logs: Option<LogRoutes>,
    /// Generated logs by job id.
    generated: Mutex<std::collections::HashMap<String, Bytes>>,
    /// Log downloads (`GET …/log`) by job id.
    downloads: Mutex<std::collections::HashMap<String, u64>>,
}

impl FakeApi {
    /// Starts the fake API on the current Tokio runtime.
    pub async fn start(setup: Setup<'_>) -> Result<FakeApi, String> {
        let read = |name: &str| -> Result<Bytes, String> {
            let path = setup.fixtures.join(name);
            std::fs::read(&path)
                .map(Bytes::from)
                .map_err(|e| format!("{}: {e}", path.display()))
        };
        let shared = Arc::new(Shared {
            accept: setup.accept,
            user: read("user.json")?,
            build: read("build.json")?,
            annotations: read("annotations.json")?,
            hits: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            requests: setup.record.then(Mutex::default),
            logs: setup.logs,
            generated: Mutex::default(),
            downloads: Mutex::default(),
        });
        let build = "/v2/organizations/{org}/pipelines/{pipeline}/builds/{number}";
        let router = Router::new()
            .route("/v2/user", get(user))
            .route(build, get(build_handler))
            .route(&format!("{build}/annotations"), get(annotations))
            .route(&format!("{build}/jobs/{{job}}"), get(job_handler))
            .route(
                &format!("{build}/jobs/{{job}}/log"),
                get(log_handler).head(log_size),
            )
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(Arc::clone(&shared), count))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("fake API: cannot listen on 127.0.0.1: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("fake API: {error}");
            }
        });
        Ok(FakeApi {
            url: format!("http://{address}"),
            shared,
        })
    }

    /// Requests answered so far (any status).
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::Relaxed)
    }

    /// Requests refused (any 4xx: bad token, unknown path) so far.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Log downloads so far, by job id.
    pub fn log_downloads(&self) -> std::collections::HashMap<String, u64> {
        self.shared
            .downloads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The requests recorded so far, emptying the record (always empty
    /// unless started with [`Setup::record`]).
    pub fn take(&self) -> Vec<Request> {
        self.shared.requests.as_ref().map_or_else(Vec::new, |r| {
            std::mem::take(&mut *r.lock().unwrap_or_else(|e| e.into_inner()))
        })
    }
}

/// Counts (and records) every request, whichever handler answers it.
async fn count(State(shared): State<Arc<Shared>>, request: HttpRequest, next: Next) -> Response {
    shared.hits.fetch_add(1, Ordering::Relaxed);
    if let Some(requests) = &shared.requests {
        let seen = Request {
            method: request.method().to_string(),
            target: request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().path().to_owned(), ToString::to_string),
            authorization: request
                .headers()
                .get(header::AUTHORIZATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        };
        requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(seen);
    }
    let response = next.run(request).await;
    if response.status().is_client_error() {
        shared.refused.fetch_add(1, Ordering::Relaxed);
    }
    response
}

impl Shared {
    fn reply(&self, headers: &HeaderMap, body: &Bytes) -> Response {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let authorized = match self.accept {
            Accept::Token(token) => bearer == Some(token),
            Accept::AnyBearer => bearer.is_some(),
        };
        if !authorized {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"message":"Authentication required. Please supply a valid API Access Token: https://buildkite.com/docs/apis/rest-api#authentication"}"#,
            )
                .into_response();
        }
        (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body.clone(),
        )
            .into_response()
    }
}

async fn user(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.reply(&headers, &shared.user)
}

async fn build_handler(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.reply(&headers, &shared.build)
}

async fn annotations(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.reply(&headers, &shared.annotations)
}

impl Shared {
    /// The log of `job`, generated on first use; `None` without log routes.
    async fn log_of(&self, job: &str) -> Option<Bytes> {
        let routes = self.logs?;
        tokio::time::sleep(routes.delay).await;
        let mut generated = self.generated.lock().unwrap_or_else(|e| e.into_inner());
        let log = generated.entry(job.to_owned()).or_insert_with(|| {
            let seed = job
                .bytes()
                .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            let mut out = Vec::new();
            // Writing to memory cannot fail.
            let _ = bk_loggen::generate(&mut out, routes.bytes, seed);
            Bytes::from(out)
        });
        Some(log.clone())
    }
}

async fn job_handler(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let Some(routes) = shared.logs else {
        return not_found().await;
    };
    tokio::time::sleep(routes.delay).await;
    let job = params
        .iter()
        .find(|(k, _)| k == "job")
        .map_or("", |(_, v)| v.as_str());
    let body = serde_json::json!({
        "id": job, "type": "script", "name": ":rspec: specs", "step_key": "specs",
        "state": "failed", "exit_status": 1,
        "created_at": "2026-12-07T10:00:00.000Z", "started_at": "2026-12-07T10:00:05.000Z",
        "finished_at": "2026-12-07T10:03:00.000Z"
    });
    shared.reply(&headers, &Bytes::from(body.to_string()))
}

/// The job's log, for a caller the API accepts; else the answer to send.
async fn log_for(
    shared: &Shared,
    params: &[(String, String)],
    headers: &HeaderMap,
) -> Result<(String, Bytes), Response> {
    let job = params
        .iter()
        .find(|(k, _)| k == "job")
        .map_or("", |(_, v)| v.as_str());
    let Some(log) = shared.log_of(job).await else {
        return Err(not_found().await);
    };
    let refused = shared.reply(headers, &Bytes::new());
    if refused.status() != StatusCode::OK {
        return Err(refused);
    }
    Ok((job.to_owned(), log))
}

async fn log_handler(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let (job, log) = match log_for(&shared, &params, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    *shared
        .downloads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(job)
        .or_default() += 1;
    ([(header::CONTENT_TYPE, "text/plain")], log).into_response()
}

async fn log_size(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    match log_for(&shared, &params, &headers).await {
        Ok((_, log)) => (
            [(header::CONTENT_LENGTH, log.len().to_string())],
            Bytes::new(),
        )
            .into_response(),
        Err(response) => response,
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"message":"Not Found"}"#,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/buildkite-api/tests/fixtures")
    }

    async fn send(
        method: reqwest::Method,
        url: String,
        authorization: Option<&str>,
    ) -> (u16, String) {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut request = client.request(method, url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn any_bearer_answers_the_fixtures_and_records_every_request() {
        let dir = fixtures();
        let api = FakeApi::start(Setup {
            fixtures: &dir,
            accept: Accept::AnyBearer,
            record: true,
            logs: None,
        })
        .await
        .unwrap();
        let user = std::fs::read_to_string(dir.join("user.json")).unwrap();
        let build = std::fs::read_to_string(dir.join("build.json")).unwrap();
        let get = reqwest::Method::GET;

        let ok = send(
            get.clone(),
            format!("{}/v2/user", api.url),
            Some("Bearer t1"),
        )
        .await;
        assert_eq!(ok, (200, user));
        let path = "/v2/organizations/acme/pipelines/app/builds/42";
        let got = send(get.clone(), format!("{}{path}", api.url), Some("Bearer t2")).await;
        assert_eq!(got, (200, build));
        let denied = send(get.clone(), format!("{}/v2/user?x=1", api.url), None).await;
        assert_eq!(denied.0, 401, "{denied:?}");
        let basic = send(get, format!("{}/v2/user", api.url), Some("Basic eA==")).await;
        assert_eq!(basic.0, 401, "{basic:?}");
        let missing = send(
            reqwest::Method::POST,
            format!("{}/v2/other", api.url),
            Some("Bearer t1"),
        )
        .await;
        assert_eq!(missing, (404, r#"{"message":"Not Found"}"#.to_owned()));
        let wrong_method = send(
            reqwest::Method::DELETE,
            format!("{}/v2/user", api.url),
            None,
        )
        .await;
        assert_eq!(wrong_method.0, 405);

        assert_eq!((api.hits(), api.refused()), (6, 4));
        let seen = api.take();
        let shown: Vec<String> = seen.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "GET /v2/user",
                &format!("GET {path}"),
                "GET /v2/user?x=1",
                "GET /v2/user",
                "POST /v2/other",
                "DELETE /v2/user"
            ]
        );
        let auth: Vec<Option<&str>> = seen.iter().map(|r| r.authorization.as_deref()).collect();
        assert_eq!(
            auth,
            [
                Some("Bearer t1"),
                Some("Bearer t2"),
                None,
                Some("Basic eA=="),
                Some("Bearer t1"),
                None
            ]
        );
        assert_eq!(seen[2].path(), "/v2/user");
        assert!(api.take().is_empty());
    }

    #[tokio::test]
    async fn a_fixed_token_refuses_others_and_counts_without_recording() {
        let dir = fixtures();
        let api = FakeApi::start(Setup {
            fixtures: &dir,
            accept: Accept::Token("right"),
            record: false,
            logs: None,
        })
        .await
        .unwrap();
        let annotations = std::fs::read_to_string(dir.join("annotations.json")).unwrap();
        let url = format!(
            "{}/v2/organizations/acme/pipelines/app/builds/42/annotations",
            api.url
        );
        let get = reqwest::Method::GET;
        assert_eq!(
            send(get.clone(), url.clone(), Some("Bearer right")).await,
            (200, annotations)
        );
        let wrong = send(get.clone(), url, Some("Bearer wrong")).await;
        assert_eq!(wrong.0, 401, "{wrong:?}");
        assert!(wrong.1.contains("Authentication required"), "{wrong:?}");
        assert_eq!(
            send(get, format!("{}/v2/user", api.url), Some("Bearer right"))
                .await
                .0,
            200
        );
        assert_eq!((api.hits(), api.refused()), (3, 1));
        assert!(api.take().is_empty());
    }
}
