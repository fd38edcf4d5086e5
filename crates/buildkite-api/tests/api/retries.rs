//! Retry behaviour: 429 waits for the reset, 5xx and broken connections retry
//! safe requests only, and the budget bounds the total time.

use std::time::{Duration, Instant};

use buildkite_api::{Client, CreateBuildBody, Error, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{TOKEN, api, fixture_text, json};

fn rate_limited() -> ResponseTemplate {
    json(429, "error_429.json")
        .insert_header("RateLimit-Remaining", "0")
        .insert_header("RateLimit-Reset", "0")
}

#[tokio::test]
async fn rate_limit_then_success() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(rate_limited())
        .up_to_n_times(1)
        .expect(1)
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json(200, "user.json").insert_header("RateLimit-Remaining", "199"))
        .expect(1)
        .mount(&api.server)
        .await;

    let user = api.client.current_user().await.unwrap();
    assert_eq!(user.name, "Sam Kim");
    let last = api.client.last_rate_limit();
    assert_eq!(last.organization.and_then(|w| w.remaining), Some(199));
}

#[tokio::test]
async fn writes_are_retried_after_429() {
    let api = api().await;
    let build_path = "/v2/organizations/acme/pipelines/app/builds";
    Mock::given(method("POST"))
        .and(path(build_path))
        .respond_with(rate_limited())
        .up_to_n_times(1)
        .mount(&api.server)
        .await;
    Mock::given(method("POST"))
        .and(path(build_path))
        .respond_with(json(201, "build.json"))
        .expect(1)
        .mount(&api.server)
        .await;
    let body = CreateBuildBody {
        commit: "HEAD".into(),
        branch: "main".into(),
        ..CreateBuildBody::default()
    };
    let build = api.client.create_build("acme", "app", &body).await.unwrap();
    assert_eq!(build.number, 42);
    let requests = api.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].body, requests[1].body,
        "the body is re-sent intact"
    );
}

#[tokio::test]
async fn writes_are_not_retried_after_503() {
    let api = api().await;
    Mock::given(method("PUT"))
        .and(path(
            "/v2/organizations/acme/pipelines/app/builds/42/rebuild",
        ))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&api.server)
        .await;
    let error = api
        .client
        .rebuild_build("acme", "app", 42)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Server { .. }), "{error:?}");
}

#[tokio::test]
async fn reads_are_retried_after_503_then_succeed() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .expect(2)
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json(200, "user.json"))
        .expect(1)
        .mount(&api.server)
        .await;
    assert!(api.client.current_user().await.is_ok());
}

#[tokio::test]
async fn repeated_503_stops_when_the_budget_ends() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&api.server)
        .await;
    let budget = Duration::from_millis(600);
    let client = Client::builder()
        .base_url(api.server.uri())
        .token(TOKEN)
        .retry_policy(RetryPolicy {
            max_retries: 1000,
            budget,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(100),
        })
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.current_user().await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error, Error::Server { .. }), "{error:?}");
    // No wait starts that would end after the budget: the call ends within
    // the budget plus one (fast) request.
    assert!(
        elapsed < budget + Duration::from_millis(400),
        "took {elapsed:?}"
    );
    let attempts = api.server.received_requests().await.unwrap().len();
    assert!(attempts >= 4, "only {attempts} attempts in the budget");
}

#[tokio::test]
async fn max_retries_bounds_attempts() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(ResponseTemplate::new(504))
        .expect(4) // the first attempt and 3 retries (fast_retries)
        .mount(&api.server)
        .await;
    assert!(api.client.current_user().await.is_err());
}

#[tokio::test]
async fn a_reset_beyond_the_budget_fails_at_once() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(
            json(429, "error_429.json")
                .insert_header("RateLimit-Remaining", "0")
                .insert_header("RateLimit-Reset", "60"),
        )
        .expect(1)
        .mount(&api.server)
        .await;
    let started = Instant::now();
    let error = api.client.current_user().await.unwrap_err();
    assert!(matches!(error, Error::RateLimited { .. }));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn no_retry_policy_fails_on_first_429() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(rate_limited())
        .expect(1)
        .mount(&api.server)
        .await;
    let client = Client::builder()
        .base_url(api.server.uri())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    assert!(matches!(
        client.current_user().await.unwrap_err(),
        Error::RateLimited { .. }
    ));
}

/// A server whose first connection is closed without an answer, and whose
/// second gets a real response: a connection reset, then recovery.
async fn flaky_server() -> (String, tokio::task::JoinHandle<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}/", listener.local_addr().unwrap());
    let body = fixture_text("user.json");
    let handle = tokio::spawn(async move {
        let mut served = 0;
        for connection in 0..2 {
            let Ok((mut socket, _)) = listener.accept().await else {
                break;
            };
            let mut buffer = vec![0u8; 8192];
            let _ = socket.read(&mut buffer).await;
            served += 1;
            if connection == 0 {
                drop(socket); // reset: no response at all
                continue;
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                body.len(),
                body
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
        served
    });
    (address, handle)
}

#[tokio::test]
async fn a_reset_connection_is_retried_for_reads() {
    let (address, server) = flaky_server().await;
    let client = Client::builder()
        .base_url(address)
        .retry_policy(crate::common::fast_retries())
        .build()
        .unwrap();
    let user = client.current_user().await.unwrap();
    assert_eq!(user.email, "sam@example.com");
    assert_eq!(server.await.unwrap(), 2);
}

#[tokio::test]
async fn a_reset_connection_is_not_retried_for_writes() {
    let (address, server) = flaky_server().await;
    let client = Client::builder()
        .base_url(address)
        .retry_policy(crate::common::fast_retries())
        .build()
        .unwrap();
    let error = client.rebuild_build("acme", "app", 1).await.unwrap_err();
    // Sent, then cut off: it may have run, and is never sent again.
    assert!(matches!(error, Error::MaybeApplied { .. }), "{error:?}");
    server.abort();
}
