//! Faults a real API shows, and what the client makes of them: announced
//! waits honoured, local errors never sent or retried, bounded echoes,
//! writes whose outcome is unknown said to be so, and a stalled API cut off
//! within the retry budget.

use std::time::{Duration, Instant};

use buildkite_api::{Client, Error, RetryPolicy};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{TOKEN, api, json};

const REBUILD: &str = "/v2/organizations/acme/pipelines/app/builds/1/rebuild";

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

#[tokio::test]
async fn a_503_waits_as_long_as_retry_after_says() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json(200, "user.json"))
        .mount(&api.server)
        .await;
    let started = Instant::now();
    api.client.current_user().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}, before the second Retry-After asked for",
        started.elapsed()
    );
    assert_eq!(requests(&api.server).await, 2);
}

#[tokio::test]
async fn a_503_asking_for_longer_than_the_budget_fails_at_once_saying_when_to_retry() {
    let api = api().await; // a 5 s budget
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "120"))
        .mount(&api.server)
        .await;
    let started = Instant::now();
    let error = api.client.current_user().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, Error::Server { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("retry in 120 s"), "{text}");
    assert_eq!(requests(&api.server).await, 1);
}

#[tokio::test]
async fn a_huge_argument_is_refused_before_sending_and_echoed_in_part() {
    let api = api().await;
    let slug = "p".repeat(2 << 20);
    let started = Instant::now();
    let error = api.client.get_pipeline("acme", &slug).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(error, Error::InvalidArgument(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.len() < 600, "{} characters: {text:.300}", text.len());
    assert!(text.contains("too long") && text.contains("cut"), "{text}");
    assert_eq!(requests(&api.server).await, 0, "nothing was sent");
}

#[tokio::test]
async fn a_write_answered_with_an_empty_success_may_have_been_applied() {
    let api = api().await;
    Mock::given(method("PUT"))
        .and(path(REBUILD))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api.server)
        .await;
    let error = api
        .client
        .rebuild_build("acme", "app", 1)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::MaybeApplied { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("empty body"), "{text}");
    assert!(text.contains("may have been applied"), "{text}");
    assert_eq!(requests(&api.server).await, 1, "never re-sent");
}

#[tokio::test]
async fn a_write_answered_with_unreadable_json_may_have_been_applied() {
    let api = api().await;
    Mock::given(method("PUT"))
        .and(path(REBUILD))
        .respond_with(ResponseTemplate::new(201).set_body_raw("<html>OK</html>", "text/html"))
        .mount(&api.server)
        .await;
    let error = api
        .client
        .rebuild_build("acme", "app", 1)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::MaybeApplied { .. }), "{error:?}");
    assert!(
        error.to_string().contains("not the expected JSON"),
        "{error}"
    );
}

#[tokio::test]
async fn a_redirect_answering_a_write_is_not_followed_and_says_where_it_pointed() {
    let api = api().await;
    Mock::given(method("PUT"))
        .and(path(REBUILD))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", "/v2/somewhere/else?x=1"),
        )
        .mount(&api.server)
        .await;
    let error = api
        .client
        .rebuild_build("acme", "app", 1)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::MaybeApplied { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("/v2/somewhere/else"), "{text}");
    assert!(text.contains("302"), "{text}");
    assert_eq!(
        requests(&api.server).await,
        1,
        "the redirect was not followed"
    );
}

#[tokio::test]
async fn a_write_that_times_out_after_sending_may_have_been_applied() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(REBUILD))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = client.rebuild_build("acme", "app", 1).await.unwrap_err();
    assert!(matches!(error, Error::MaybeApplied { .. }), "{error:?}");
    assert!(error.to_string().contains("timed out"), "{error}");
    assert_eq!(requests(&server).await, 1);
}

/// A stalled API: the attempt is cut at the retry budget, though the
/// per-attempt timeout is a minute. A call takes at most the budget plus
/// one second (the least an attempt gets).
#[tokio::test]
async fn a_stalled_api_is_cut_off_within_the_retry_budget() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json(200, "user.json").set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let budget = Duration::from_secs(2);
    let client = Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        .request_timeout(Duration::from_secs(60))
        .retry_policy(RetryPolicy {
            budget,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.current_user().await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: buildkite_api::TransportKind::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(took < budget + Duration::from_secs(2), "took {took:?}");
}
