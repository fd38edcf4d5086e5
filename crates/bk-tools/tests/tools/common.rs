//! Shared set-up: a mock API, a tool context pointed at it, and helpers to
//! call tools through the registry (so results are shaped as in production).

// Shared by every toolset module; not every module uses every helper.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bk_tools::{CallResult, Registry, Selection, ToolContext};
use buildkite_api::{ApiToken, Client, RetryPolicy};
use serde_json::Value;
use wiremock::matchers::header;
use wiremock::{MockServer, ResponseTemplate};

/// The token the test client sends.
pub const TOKEN: &str = "bkua_tooltest0123456789abcdefghij";

/// A mock API and everything needed to call tools against it.
pub struct Harness {
    pub server: MockServer,
    pub ctx: ToolContext,
    pub registry: Registry,
    _cache: tempfile::TempDir,
}

/// Starts a mock API and a context for it (fast retries, a temporary log
/// cache, no read cache: every call reaches the mock).
pub async fn harness() -> Harness {
    harness_with(bk_logs::EngineOptions::default(), Duration::ZERO).await
}

/// As [`harness`], with the log engine's `options` and the client's read
/// cache kept for `read_cache_ttl` (zero: off).
pub async fn harness_with(options: bk_logs::EngineOptions, read_cache_ttl: Duration) -> Harness {
    let server = MockServer::start().await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        // Each call reaches the mock; the tests of the read cache turn it on.
        .read_cache_ttl(read_cache_ttl)
        .retry_policy(RetryPolicy {
            max_retries: 1,
            budget: Duration::from_secs(2),
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
        })
        .build()
        .unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = bk_logs::LogCache::new(cache_dir.path(), 1 << 30).unwrap();
    let logs = Arc::new(bk_logs::Engine::new(cache, options));
    let mut ctx = ToolContext::new(client, logs);
    ctx.limits.wait_for_build_interval = Duration::from_millis(20);
    ctx.limits.wait_for_build_timeout = Duration::from_millis(300);
    Harness {
        server,
        ctx,
        registry: Registry::new(),
        _cache: cache_dir,
    }
}

impl Harness {
    /// Calls a tool (every tool enabled).
    pub async fn call(&self, name: &str, args: Value) -> CallResult {
        self.registry
            .call(&Selection::all(), &self.ctx, name, args)
            .await
    }

    /// Calls a tool as another caller: the same server, log cache and read
    /// cache, with `token` instead of [`TOKEN`].
    pub async fn call_as(&self, token: &str, name: &str, args: Value) -> CallResult {
        let ctx = ToolContext {
            client: self
                .ctx
                .client
                .with_token(Some(ApiToken::new(token).unwrap())),
            ..self.ctx.clone()
        };
        self.registry
            .call(&Selection::all(), &ctx, name, args)
            .await
    }

    /// Calls a tool that must succeed, and parses its JSON result.
    pub async fn ok(&self, name: &str, args: Value) -> Value {
        let result = self.call(name, args).await;
        assert!(!result.is_error, "{name} failed: {}", result.text);
        serde_json::from_str(&result.text)
            .unwrap_or_else(|e| panic!("{name} did not return JSON ({e}): {}", result.text))
    }

    /// Calls a tool that must fail, and returns its error text.
    pub async fn err(&self, name: &str, args: Value) -> String {
        let result = self.call(name, args).await;
        assert!(
            result.is_error,
            "{name} should have failed: {}",
            result.text
        );
        assert!(!result.text.trim().is_empty(), "{name}: empty error text");
        result.text
    }

    /// `METHOD path?query` of every request the API received, in order.
    pub async fn requests(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| match r.url.query() {
                Some(query) => format!("{} {}?{}", r.method, r.url.path(), query),
                None => format!("{} {}", r.method, r.url.path()),
            })
            .collect()
    }

    /// The token each request the API received carried, in order (empty
    /// for none).
    pub async fn tokens(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| {
                r.headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    /// The JSON body of the last request the API received.
    pub async fn last_body(&self) -> Value {
        let requests = self.server.received_requests().await.unwrap();
        serde_json::from_slice(&requests.last().unwrap().body).unwrap()
    }
}

/// A fixture's text, from the REST client's realistic response fixtures.
pub fn fixture_text(name: &str) -> String {
    let path = format!(
        "{}/../buildkite-api/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// A fixture as JSON.
pub fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).unwrap()
}

/// A JSON response with a fixture as body.
pub fn json(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture_text(name), "application/json")
}

/// Matches requests carrying the test token.
pub fn authorized() -> wiremock::matchers::HeaderExactMatcher {
    authorized_as(TOKEN)
}

/// Matches requests carrying `token`.
pub fn authorized_as(token: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {token}").as_str())
}
