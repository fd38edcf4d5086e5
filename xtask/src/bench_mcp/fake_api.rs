//! A zero-latency fake Buildkite REST API on 127.0.0.1, serving the
//! realistic fixtures of `buildkite-api` from memory.
//!
//! - `GET /v2/user`: `user.json` (what `current_user` reads);
//! - `GET /v2/organizations/{org}/pipelines/{pipeline}/builds/{number}`:
//!   `build.json`, and `.../annotations`: `annotations.json` (what
//!   `get_build` reads).
//!
//! Every request must carry `Authorization: Bearer <TOKEN>` (else 401), and
//! is counted, so the benchmark can check how many upstream calls each tool
//! call made.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The token the server is started with, and the fake API expects.
pub const TOKEN: &str = "bkua_benchmark0000000000000000000000000000";

/// A running fake API.
#[derive(Debug)]
pub struct FakeApi {
    /// `http://127.0.0.1:PORT` (the server's `BUILDKITE_BASE_URL`).
    pub url: String,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    user: Bytes,
    build: Bytes,
    annotations: Bytes,
    hits: AtomicU64,
    refused: AtomicU64,
}

impl FakeApi {
    /// Starts the fake API on the current Tokio runtime.
    pub async fn start(fixtures: &Path) -> Result<FakeApi, String> {
        let read = |name: &str| -> Result<Bytes, String> {
            let path = fixtures.join(name);
            std::fs::read(&path)
                .map(Bytes::from)
                .map_err(|e| format!("{}: {e}", path.display()))
        };
        let shared = Arc::new(Shared {
            user: read("user.json")?,
            build: read("build.json")?,
            annotations: read("annotations.json")?,
            hits: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let build = "/v2/organizations/{org}/pipelines/{pipeline}/builds/{number}";
        let router = Router::new()
            .route("/v2/user", get(user))
            .route(build, get(build_handler))
            .route(&format!("{build}/annotations"), get(annotations))
            .fallback(not_found)
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

    /// Requests refused (bad token or unknown path) so far.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }
}

impl Shared {
    fn reply(&self, headers: &HeaderMap, body: &Bytes) -> Response {
        self.hits.fetch_add(1, Ordering::Relaxed);
        let authorized = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            == Some(TOKEN);
        if !authorized {
            self.refused.fetch_add(1, Ordering::Relaxed);
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

async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    shared.hits.fetch_add(1, Ordering::Relaxed);
    shared.refused.fetch_add(1, Ordering::Relaxed);
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"message":"Not Found"}"#,
    )
        .into_response()
}
