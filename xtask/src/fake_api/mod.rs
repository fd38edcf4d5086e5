//! The fake Buildkite REST API on 127.0.0.1 that the demo, the benchmarks,
//! the conformance run and xtask's tests run the real servers against: one
//! router over one data model.
//!
//! [`Data`] is what it serves: a tree of files mirroring the REST API
//! (`GET /a/b` answers `a/b.json`), filled from
//! - the demo organisation's tree `examples/demo/org/` ([`Data::tree`]):
//!   `cargo xtask demo --record` and `bench-api` run against it;
//! - `buildkite-api`'s test fixtures ([`Data::fixtures`]: the user, build
//!   `acme/app#42` and its annotations), for `bench-mcp` and `conformance`;
//! - jobs with generated logs ([`Data::add_generated_build`]), for
//!   `bench-scale`.
//!
//! What each path answers is in `routes` (the tree's convention, also in
//! `examples/demo/README.md`). Around every answer, as [`Setup`] says:
//!
//! - A request needs an `Authorization: Bearer …` header that [`Accept`]
//!   takes, else 401; the storage URLs `/_artifacts/…` need none.
//! - `HEAD` answers `GET`'s status and headers without the body. Another
//!   method answers 405 on a path `GET` answers, else 404: the servers
//!   under test only read.
//! - [`Setup::delay`] passes before every answer, as a real API's latency.
//! - With [`Setup::faults`], a share of the answers are the faults a real
//!   API shows (5xx, 429, a reset, a truncated or unreadable body, a
//!   redirect loop, a stall), drawn from a seed (see `faults`); counted by
//!   kind ([`FakeApi::fault_counts`]).
//! - Every request is counted ([`FakeApi::hits`]); a miss (any 4xx: a bad
//!   token, an unknown path or query parameter, another method) is counted
//!   ([`FakeApi::refused`]) and kept with why ([`FakeApi::unanswered`]), so
//!   a recording never silently lacks an answer; each `GET` of a job's log
//!   counts as a download of it ([`FakeApi::log_downloads`]); with
//!   [`Setup::record`] every request is kept ([`FakeApi::take`]), so a
//!   caller can check what the server under test asked upstream.
//!
//! | module | concern |
//! |---|---|
//! | `data` | the data model, and filling it |
//! | `routes` | paths to answers: builds, jobs, artifacts, storage, plain files |
//! | `lists` | list endpoints: each kind's filters, numbered and cursor paging |
//! | `logs` | job logs: raw and JSON forms |
//! | `query` | query strings, the parameters a route takes, globs |
//! | `faults` | injected faults: the plan, the draws, the faulty answers |
//!
//! The data never changes while served, so a successful answer is kept and
//! served again for the same request: a load test measures the server
//! under test, not this one.

mod data;
mod faults;
mod lists;
mod logs;
mod query;
mod routes;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

pub use data::Data;
pub use faults::{Fault, FaultCounts, FaultPlan};
use query::Query;

/// Where the data's own URLs point (the links lists write use it too).
const API: &str = "https://api.buildkite.com";

/// Which `Authorization` header the fake API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Only `Bearer <this token>`.
    Token(&'static str),
    /// Any `Bearer …` (the caller checks the tokens in the record).
    AnyBearer,
}

/// How to start a [`FakeApi`].
#[derive(Debug)]
pub struct Setup {
    /// What it serves.
    pub data: Data,
    pub accept: Accept,
    /// Whether to keep every request for [`FakeApi::take`] (off for load
    /// tests: only counted then).
    pub record: bool,
    /// Latency added to every answer, as a real API has.
    pub delay: Duration,
    /// Faults to inject into the answers (`None`: every answer is right).
    pub faults: Option<FaultPlan>,
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

/// A running fake API. It stops when dropped.
#[derive(Debug)]
pub struct FakeApi {
    /// `http://127.0.0.1:PORT` (the server's `BUILDKITE_BASE_URL`).
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    data: Data,
    accept: Accept,
    delay: Duration,
    /// Set by [`Setup::faults`].
    faults: Option<faults::Injector>,
    hits: AtomicU64,
    refused: AtomicU64,
    /// `None` unless [`Setup::record`].
    requests: Option<Mutex<Vec<Request>>>,
    /// `METHOD /path?query: why` of every miss.
    unanswered: Mutex<Vec<String>>,
    /// Log downloads (`GET` of a job's log) by job id.
    downloads: Mutex<HashMap<String, u64>>,
    /// Successful answers by what they depend on (see [`memo_key`]).
    answered: Mutex<HashMap<String, Reply>>,
}

impl FakeApi {
    /// Starts the fake API on a free port of 127.0.0.1, on the current
    /// Tokio runtime.
    pub async fn start(setup: Setup) -> Result<FakeApi, String> {
        let faults = setup
            .faults
            .map(faults::Injector::new)
            .transpose()
            .map_err(|e| format!("fake API: {e}"))?;
        let shared = Arc::new(Shared {
            data: setup.data,
            accept: setup.accept,
            delay: setup.delay,
            faults,
            hits: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            requests: setup.record.then(Mutex::default),
            unanswered: Mutex::default(),
            downloads: Mutex::default(),
            answered: Mutex::default(),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("fake API: cannot listen on 127.0.0.1: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("fake API: {error}");
            }
        });
        Ok(FakeApi {
            url: format!("http://{address}"),
            shared,
            server,
        })
    }

    /// Requests answered so far (any status).
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::Relaxed)
    }

    /// Requests refused (any 4xx) so far.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// `METHOD /path?query: why` of each request refused so far (unknown
    /// path or query parameter, missing token, another method).
    pub fn unanswered(&self) -> Vec<String> {
        lock(&self.shared.unanswered).clone()
    }

    /// Faults drawn and injected so far (none without [`Setup::faults`]).
    pub fn fault_counts(&self) -> FaultCounts {
        self.shared
            .faults
            .as_ref()
            .map_or_else(FaultCounts::default, faults::Injector::counts)
    }

    /// Log downloads so far, by job id.
    pub fn log_downloads(&self) -> HashMap<String, u64> {
        lock(&self.shared.downloads).clone()
    }

    /// The requests recorded so far, emptying the record (always empty
    /// unless started with [`Setup::record`]).
    pub fn take(&self) -> Vec<Request> {
        self.shared
            .requests
            .as_ref()
            .map_or_else(Vec::new, |r| std::mem::take(&mut *lock(r)))
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------- answers

/// An answer: status, headers and body (dropped for `HEAD`).
#[derive(Debug, Clone)]
struct Reply {
    status: StatusCode,
    headers: Vec<(header::HeaderName, String)>,
    body: Bytes,
    /// The job whose log this is: a `GET` of it counts as a download.
    log_of: Option<String>,
}

impl Reply {
    fn json(value: &Value) -> Reply {
        Reply::json_bytes(Bytes::from(serde_json::to_vec(value).unwrap_or_default()))
    }

    /// A JSON answer already serialised.
    fn json_bytes(body: Bytes) -> Reply {
        Reply::bytes("application/json; charset=utf-8", body)
    }

    fn bytes(content_type: &str, body: Bytes) -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: vec![(header::CONTENT_TYPE, content_type.into())],
            body,
            log_of: None,
        }
    }
}

/// Why a request got no answer.
#[derive(Debug)]
struct Miss {
    status: StatusCode,
    /// What the answer's `{"message": …}` says.
    message: String,
    /// What [`FakeApi::unanswered`] says.
    why: String,
}

fn not_found(why: impl Into<String>) -> Miss {
    Miss {
        status: StatusCode::NOT_FOUND,
        message: "Not Found".into(),
        why: why.into(),
    }
}

type Answer = Result<Reply, Miss>;

/// One request, as the routes see it.
#[derive(Debug)]
struct Call<'a> {
    path: &'a str,
    query: Query,
    headers: &'a HeaderMap,
    /// `http://127.0.0.1:PORT`, for redirects back to this server.
    origin: &'a str,
}

async fn handle(State(shared): State<Arc<Shared>>, request: axum::extract::Request) -> Response {
    shared.hits.fetch_add(1, Ordering::Relaxed);
    let method = request.method().clone();
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    if let Some(requests) = &shared.requests {
        lock(requests).push(Request {
            method: method.to_string(),
            target: target.clone(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        });
    }
    let origin = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map_or_else(String::new, |host| format!("http://{host}"));
    if shared.faults.is_some()
        && let Some(hop) = faults::loop_hop(uri.path(), &target, &origin)
    {
        return hop;
    }
    let fault = shared
        .faults
        .as_ref()
        .filter(|_| !routes::is_storage(uri.path()))
        .and_then(faults::Injector::draw);
    if !shared.delay.is_zero() {
        tokio::time::sleep(shared.delay).await;
    }
    let call = Call {
        path: uri.path(),
        query: Query::parse(uri.query().unwrap_or("")),
        headers: &headers,
        origin: &origin,
    };
    let reply = match shared.respond(&method, &target, &call) {
        Ok(reply) => reply,
        Err(miss) => {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            lock(&shared.unanswered).push(format!("{method} {target}: {}", miss.why));
            let mut reply = Reply::json(&json!({ "message": miss.message }));
            reply.status = miss.status;
            reply
        }
    };
    if let (Some(injector), Some(fault)) = (&shared.faults, fault) {
        let request = faults::Target {
            method: &method,
            target: &target,
            origin: &origin,
        };
        if let Some(faulty) = injector.inject(fault, &reply, &request).await {
            return faulty;
        }
    }
    if let (&Method::GET, Some(job)) = (&method, &reply.log_of) {
        *lock(&shared.downloads).entry(job.clone()).or_default() += 1;
    }
    let mut builder = Response::builder()
        .status(reply.status)
        .header(header::CONTENT_LENGTH, reply.body.len());
    for (name, value) in &reply.headers {
        builder = builder.header(name, value);
    }
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(reply.body)
    };
    let mut response = builder.body(body).unwrap_or_else(|_| {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
    });
    if let Some(injector) = &shared.faults {
        injector.report_window(response.headers_mut());
    }
    response
}

impl Shared {
    fn respond(&self, method: &Method, target: &str, call: &Call<'_>) -> Answer {
        if method != Method::GET && method != Method::HEAD {
            return Err(match routes::answer(&self.data, call) {
                Ok(_) => Miss {
                    status: StatusCode::METHOD_NOT_ALLOWED,
                    message: "Method Not Allowed".into(),
                    why: "the fake API only answers GET and HEAD".into(),
                },
                Err(miss) => not_found(miss.why),
            });
        }
        if !routes::is_storage(call.path) && !self.authorized(call.headers) {
            return Err(Miss {
                status: StatusCode::UNAUTHORIZED,
                message: "Authentication required. Please supply a valid API Access Token: https://buildkite.com/docs/apis/rest-api#authentication".into(),
                why: "no bearer token the fake API accepts".into(),
            });
        }
        let key = memo_key(target, call);
        if let Some(reply) = lock(&self.answered).get(&key) {
            return Ok(reply.clone());
        }
        let reply = routes::answer(&self.data, call)?;
        lock(&self.answered).insert(key, reply.clone());
        Ok(reply)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match self.accept {
            Accept::Token(token) => bearer == Some(token),
            Accept::AnyBearer => bearer.is_some_and(|token| !token.is_empty()),
        }
    }
}

/// What an answer depends on: the target, the headers routes read
/// (`Accept` for logs, `Buildkite-Version` for tests) and the origin
/// (redirects point back at it).
fn memo_key(target: &str, call: &Call<'_>) -> String {
    let header = |name: &str| {
        call.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    format!(
        "{target}\n{}\n{}\n{}",
        header("accept"),
        header("buildkite-version"),
        call.origin
    )
}
