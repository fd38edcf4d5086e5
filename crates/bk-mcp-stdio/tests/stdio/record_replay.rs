//! `--record`, `--replay` and `--demo` through the real binary: a session is
//! recorded against a mock API, then replayed with no token and no API.

use crate::common::{Launch, TOKEN, json_response, requests};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

const PIPELINE: &str = "/v2/organizations/acme/pipelines/app";
const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";

async fn mock_api() -> MockServer {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PIPELINE))
        .respond_with(json_response(200, "pipeline.json"))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path(BUILD))
        .respond_with(json_response(200, "build.json"))
        .mount(&api)
        .await;
    api
}

#[tokio::test]
async fn a_recorded_session_replays_without_token_or_api() {
    let dir = tempfile::tempdir().unwrap();
    let har = dir.path().join("session.har");
    let har_arg = har.to_str().unwrap();

    // Record: the calls reach the API and land in the file.
    let api = mock_api().await;
    let server = Launch::new().args(&["--record", har_arg]).start(&api).await;
    let pipeline = server
        .ok(
            "get_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "app"}),
        )
        .await;
    let build = server
        .ok(
            "get_build",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}),
        )
        .await;
    server.shutdown().await;
    let sent = requests(&api).await;
    assert!(!sent.is_empty());
    let text = std::fs::read_to_string(&har).unwrap();
    assert!(!text.contains(TOKEN), "the token was recorded");
    let recording: Value = serde_json::from_str(&text).unwrap();
    let entries = recording["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), sent.len(), "one entry per API request");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&har).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Replay: no token, and an API that must not be called.
    let silent = MockServer::start().await;
    let server = Launch::new()
        .no_token()
        .args(&["--replay", har_arg])
        .start(&silent)
        .await;
    let replayed_pipeline = server
        .ok(
            "get_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "app"}),
        )
        .await;
    let replayed_build = server
        .ok(
            "get_build",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}),
        )
        .await;
    assert_eq!(replayed_pipeline, pipeline);
    assert_eq!(replayed_build, build);

    // A call the recording lacks fails with the call and what to do.
    let error = server
        .err(
            "get_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "other"}),
        )
        .await;
    assert!(
        error.contains("GET /v2/organizations/acme/pipelines/other: replay: the HAR file has no response for this request"),
        "{error}"
    );
    assert!(error.contains("answers from a recording"), "{error}");
    // The library says what failed; the server adds what its user can do.
    assert!(
        error.contains("--demo") && error.contains("tour.json"),
        "{error}"
    );
    server.shutdown().await;
    assert_eq!(requests(&silent).await, Vec::<String>::new());
}

#[tokio::test]
async fn the_demo_investigates_a_red_build_without_token_or_api() {
    let silent = MockServer::start().await;
    let server = Launch::new()
        .no_token()
        .args(&["--demo"])
        .start(&silent)
        .await;
    let summary = server
        .ok(
            "get_build_failure_summary",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234"}),
        )
        .await;
    let jobs: Vec<(String, String)> = summary["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| {
            (
                job["step_key"].as_str().unwrap().to_owned(),
                job["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("rspec", "failed"),
        ("eslint", "failed"),
        ("system-specs", "timed_out"),
        ("deploy-preview", "broken"),
    ];
    for (key, state) in expected {
        assert!(
            jobs.contains(&(key.to_owned(), state.to_owned())),
            "{key} {state} in {jobs:?}"
        );
    }
    assert_eq!(summary["flaky_jobs"][0]["step_key"], "docker-build");
    let triage = server
        .ok(
            "triage_build_failures",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234"}),
        )
        .await;
    for verdict in ["new", "pre-existing", "flaky"] {
        assert!(
            triage["counts"][verdict].as_u64() > Some(0),
            "{verdict}: {triage}"
        );
    }
    server.shutdown().await;
    assert_eq!(requests(&silent).await, Vec::<String>::new());
}
