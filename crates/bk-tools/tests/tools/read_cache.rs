//! The client's shared read cache, on (the MCP server's default TTL; the
//! other tests' harness has it off): a read tool's answers are reused per
//! caller within the TTL, identical reads in flight are sent once,
//! `force_refresh` reads afresh, and a write is seen by the reads after it.

use std::time::Duration;

use buildkite_api::DEFAULT_READ_CACHE_TTL;
use futures_util::future::join_all;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{Harness, TOKEN, authorized, fixture_text, harness, harness_with};

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const JOB_PATH: &str =
    "/v2/organizations/acme/pipelines/app/builds/42/jobs/b63254c0-3271-4a98-8270-7cfbd6c2f14e";
/// Another caller's token.
const OTHER: &str = "bkua_othercaller0123456789abcdefgh";

fn build_args() -> Value {
    json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"})
}

/// The two reads of `get_build`, sorted.
fn get_build_requests() -> Vec<String> {
    vec![
        format!("GET {BUILD}/annotations?scope=all&omit_body=true&page=1&per_page=100"),
        format!("GET {BUILD}?exclude_jobs=true&exclude_pipeline=true&include_test_engine=true"),
    ]
}

/// A harness whose client keeps read answers for the default TTL.
async fn cached_harness() -> Harness {
    harness_with(bk_logs::EngineOptions::default(), DEFAULT_READ_CACHE_TTL).await
}

/// Serves the build and its annotations to any token, after `delay`.
async fn serve_build(h: &Harness, delay: Duration) {
    for (at, fixture) in [
        (BUILD.to_owned(), "build.json"),
        (format!("{BUILD}/annotations"), "annotations.json"),
    ] {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(fixture_text(fixture), "application/json")
                    .set_delay(delay),
            )
            .mount(&h.server)
            .await;
    }
}

async fn sorted_requests(h: &Harness) -> Vec<String> {
    let mut requests = h.requests().await;
    requests.sort();
    requests
}

#[tokio::test]
async fn a_read_is_sent_once_per_caller_within_the_ttl() {
    let h = cached_harness().await;
    serve_build(&h, Duration::ZERO).await;
    let first = h.call("get_build", build_args()).await;
    assert!(!first.is_error, "{}", first.text);
    assert_eq!(first.api_requests, 2);
    assert_eq!(sorted_requests(&h).await, get_build_requests());

    // The same caller within the TTL: the same answer, no request.
    let again = h.call("get_build", build_args()).await;
    assert_eq!(again.text, first.text);
    assert_eq!(again.api_requests, 0);
    assert_eq!(h.requests().await.len(), 2);

    // Another caller: its own requests, with its own token (never an answer
    // fetched with someone else's), then its own cached answers.
    for sent in [2, 0] {
        let other = h.call_as(OTHER, "get_build", build_args()).await;
        assert_eq!(other.text, first.text);
        assert_eq!(other.api_requests, sent);
    }
    let mut twice = [get_build_requests(), get_build_requests()].concat();
    twice.sort();
    assert_eq!(sorted_requests(&h).await, twice);
    let mut tokens = h.tokens().await;
    tokens.sort();
    assert_eq!(tokens, [OTHER, OTHER, TOKEN, TOKEN]);
}

#[tokio::test]
async fn identical_calls_in_flight_send_each_read_once() {
    let h = cached_harness().await;
    serve_build(&h, Duration::from_millis(200)).await;
    let calls = (0..10).map(|_| h.call("get_build", build_args()));
    let results = join_all(calls).await;
    for result in &results {
        assert!(!result.is_error, "{}", result.text);
        assert_eq!(result.text, results[0].text);
    }
    // One request per URL, for the ten calls.
    assert_eq!(sorted_requests(&h).await, get_build_requests());
    let sent: u64 = results.iter().map(|r| r.api_requests).sum();
    assert_eq!(sent, 2);

    // With the read cache off (the other tests' harness), nothing is
    // shared: each call sends its own.
    let h = harness().await;
    serve_build(&h, Duration::from_millis(200)).await;
    let calls = (0..10).map(|_| h.call("get_build", build_args()));
    let results = join_all(calls).await;
    assert!(results.iter().all(|r| !r.is_error && r.api_requests == 2));
    let mut each = (0..10)
        .flat_map(|_| get_build_requests())
        .collect::<Vec<_>>();
    each.sort();
    assert_eq!(sorted_requests(&h).await, each);
}

#[tokio::test]
async fn force_refresh_skips_the_read_cache() {
    let h = cached_harness().await;
    Mock::given(method("GET"))
        .and(path(JOB_PATH))
        .and(authorized())
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture_text("job.json"), "application/json"),
        )
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            b"\x1b_bk;t=1745322209921\x07hello\r\n".to_vec(),
            "text/plain",
        ))
        .mount(&h.server)
        .await;
    let args = |extra: Value| {
        let mut args = json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": "b63254c0-3271-4a98-8270-7cfbd6c2f14e"});
        for (key, value) in extra.as_object().unwrap() {
            args[key] = value.clone();
        }
        args
    };
    let (job, log) = (format!("GET {JOB_PATH}"), format!("GET {JOB_PATH}/log"));
    let read = h.ok("read_logs", args(json!({}))).await;
    assert_eq!(read["entries"][0]["c"], "hello");
    assert_eq!(h.requests().await, [job.clone(), log.clone()]);
    // Cached: no request.
    h.ok("read_logs", args(json!({}))).await;
    assert_eq!(h.requests().await.len(), 2);
    // Refreshed: the job's state and the log again, the state not from the
    // read cache (still within its TTL).
    let refreshed = h
        .call("read_logs", args(json!({"force_refresh": true})))
        .await;
    assert!(!refreshed.is_error, "{}", refreshed.text);
    assert_eq!(refreshed.api_requests, 2);
    assert_eq!(h.requests().await, [job.clone(), log.clone(), job, log]);
}

#[tokio::test]
async fn a_write_is_seen_by_the_reads_after_it() {
    let h = cached_harness().await;
    serve_build(&h, Duration::ZERO).await;
    let before = h.ok("get_build", build_args()).await;
    assert_eq!(before["state"], "failed");
    // Canceled: the API answers so from now on.
    let mut canceled: Value = serde_json::from_str(&fixture_text("build.json")).unwrap();
    canceled["state"] = json!("canceled");
    for verb in ["PUT", "GET"] {
        Mock::given(method(verb))
            .and(path(if verb == "PUT" {
                format!("{BUILD}/cancel")
            } else {
                BUILD.to_owned()
            }))
            .respond_with(ResponseTemplate::new(200).set_body_json(&canceled))
            .with_priority(1)
            .mount(&h.server)
            .await;
    }
    let cancel = h.ok("cancel_build", build_args()).await;
    assert_eq!(cancel["state"], "canceled");
    // Within the TTL, but after the write: read again, not the answer kept
    // from before it.
    let after = h.call("get_build", build_args()).await;
    assert!(!after.is_error, "{}", after.text);
    assert_eq!(after.api_requests, 2);
    let after: Value = serde_json::from_str(&after.text).unwrap();
    assert_eq!(after["state"], "canceled");
    let mut expected = get_build_requests();
    expected.push(format!("PUT {BUILD}/cancel"));
    expected.extend(get_build_requests());
    let mut requests = h.requests().await;
    assert_eq!(requests.len(), expected.len(), "{requests:#?}");
    requests[..2].sort();
    requests[3..].sort();
    assert_eq!(requests, expected);
}
