//! Shared set-up: a mock server, a client pointed at it, and fixtures.

use std::time::Duration;

use buildkite_api::{Client, RetryPolicy};
use serde_json::Value;
use wiremock::matchers::header;
use wiremock::{MockServer, ResponseTemplate};

/// The token every test client sends.
pub const TOKEN: &str = "bkua_test_0123456789abcdef";

/// A mock API and a client for it.
pub struct Api {
    pub server: MockServer,
    pub client: Client,
}

/// A retry policy that keeps tests fast but still exercises retries.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        budget: Duration::from_secs(5),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    }
}

/// Starts a mock server and a client with [`TOKEN`] and fast retries.
pub async fn api() -> Api {
    let server = MockServer::start().await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        .retry_policy(fast_retries())
        .build()
        .expect("client builds");
    Api { server, client }
}

/// A fixture file's text.
pub fn fixture_text(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// A fixture file as JSON.
pub fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A JSON response with a fixture as body.
pub fn json(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture_text(name), "application/json")
}

/// Matches requests that carry the test token.
pub fn authorized() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {TOKEN}").as_str())
}

/// The JSON body of the only request the server received.
pub async fn only_request_body(server: &MockServer) -> Value {
    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1, "expected exactly one request");
    serde_json::from_slice(&requests[0].body).expect("request body is JSON")
}

/// The decoded query pairs of a URL, sorted.
pub fn sorted_query(url: &url::Url) -> Vec<(String, String)> {
    let mut query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    query.sort();
    query
}

/// The decoded query pairs of the only request the server received, sorted.
pub async fn only_request_query(server: &MockServer) -> Vec<(String, String)> {
    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1, "expected exactly one request");
    sorted_query(&requests[0].url)
}

/// Expected query pairs, sorted like [`sorted_query`].
pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

/// Matches a request whose query holds exactly these pairs, in any order.
pub struct ExactQuery(Vec<(String, String)>);

impl wiremock::Match for ExactQuery {
    fn matches(&self, request: &wiremock::Request) -> bool {
        sorted_query(&request.url) == self.0
    }
}

/// An [`ExactQuery`] matcher.
pub fn exact_query(expected: &[(&str, &str)]) -> ExactQuery {
    ExactQuery(pairs(expected))
}
