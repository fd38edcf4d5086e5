//! No log line ever carries the API token: the real binary at debug level
//! (text and JSON), and with `RUST_LOG=trace`, through successful calls, a
//! 401, log downloads and an extra `--http-header`, with stderr read whole
//! after the server has exited.

use crate::common::{Launch, assert_all_sent_token, fixture, json_response, requests};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A distinctive token: any log line holding it (or its middle) fails.
const SECRET: &str = "bkua_S3cr3tDoNotLogE2e9f8e7d6c5b4a3210";
const SECRET_CORE: &str = "S3cr3tDoNotLog";

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const JOB_ID: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const LOG: &[u8] = b"\x1b_bk;t=1745322209921\x07~~~ Running\r\n\x1b_bk;t=1745322210900\x07\x1b[31mExited with status 1\x1b[0m\r\n";

/// Mounts the API: `/v2/user` and the job log answer (only with the
/// secret token and the extra header), the build answers 401.
async fn mount(api: &MockServer) {
    let bearer = format!("Bearer {SECRET}");
    let job_path = format!("{BUILD}/jobs/{JOB_ID}");
    for (verb, route, response) in [
        (
            "GET",
            "/v2/user".to_owned(),
            json_response(200, "user.json"),
        ),
        (
            "HEAD",
            format!("{job_path}/log"),
            ResponseTemplate::new(200)
                .insert_header("content-length", LOG.len().to_string().as_str()),
        ),
        (
            "GET",
            job_path.clone(),
            ResponseTemplate::new(200).set_body_json(fixture("job.json")),
        ),
        (
            "GET",
            format!("{job_path}/log"),
            ResponseTemplate::new(200).set_body_raw(LOG.to_vec(), "text/plain"),
        ),
    ] {
        Mock::given(method(verb))
            .and(path(route))
            .and(header("authorization", bearer.as_str()))
            .and(header("x-request-source", "bk-mcp-e2e"))
            .respond_with(response)
            .mount(api)
            .await;
    }
    for route in [BUILD.to_owned(), format!("{BUILD}/annotations")] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(json_response(401, "error_401.json"))
            .mount(api)
            .await;
    }
}

/// Runs the calls and returns the server's whole stderr. With
/// `secret_argument`, one call also carries the token as an argument (our
/// own log levels never log arguments; `RUST_LOG=debug` makes rmcp log
/// every request, so that run leaves it out).
async fn exercise(launch: Launch, secret_argument: bool) -> String {
    let api = MockServer::start().await;
    mount(&api).await;
    // Access is checked on every cached read (not reused for a minute), so
    // the second tail sends the access check with the token too.
    let server = launch
        .token(SECRET)
        .args(&["--http-header", "X-Request-Source: bk-mcp-e2e"])
        .env("BKLOG_ACCESS_RECHECK", "0")
        .start(&api)
        .await;
    let user = server.ok("current_user", json!({})).await;
    assert_eq!(user["name"], "Sam Kim");
    let error = server
        .err(
            "get_build",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}),
        )
        .await;
    assert!(error.contains("401 Unauthorized"), "{error}");
    let job =
        json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": JOB_ID});
    let tail = server.ok("tail_logs", job.clone()).await;
    assert_eq!(tail["entries"][1]["c"], "Exited with status 1", "{tail}");
    server.ok("tail_logs", job).await;
    server
        .err("get_pipeline", json!({"org_slug": "acme"}))
        .await;
    server.ok("list_skills", json!({})).await;
    if secret_argument {
        let found = server.ok("list_skills", json!({"query": SECRET})).await;
        assert_eq!(found["skills"], json!([]), "{found}");
    }

    // The user; the build and its annotations (refused); the job and its
    // log; the access check on the cached log.
    let sent = requests(&api).await;
    assert_eq!(
        sent.iter().filter(|r| r.starts_with("HEAD ")).count(),
        1,
        "{sent:?}"
    );
    assert_eq!(sent.len(), 6, "{sent:?}");
    assert_all_sent_token(&api, SECRET).await;
    for request in api.received_requests().await.unwrap() {
        assert_eq!(
            request.headers.get("x-request-source").unwrap(),
            "bk-mcp-e2e",
            "{}",
            request.url
        );
    }
    server.shutdown().await
}

fn assert_no_secret(stderr: &str) {
    assert!(!stderr.trim().is_empty(), "nothing was logged");
    for (n, line) in stderr.lines().enumerate() {
        assert!(
            !line.contains(SECRET) && !line.contains(SECRET_CORE),
            "stderr line {} holds the token: {line}",
            n + 1
        );
    }
}

#[tokio::test]
async fn debug_text_logs_hold_no_token() {
    let stderr = exercise(Launch::new().args(&["--debug"]), true).await;
    assert_no_secret(&stderr);
    // Debug level was on, and the 401 was logged.
    assert!(stderr.contains("tool call finished"), "{stderr}");
    assert!(stderr.contains("HTTP 401"), "{stderr}");
}

#[tokio::test]
async fn debug_json_logs_hold_no_token() {
    let stderr = exercise(
        Launch::new()
            .env("DEBUG", "true")
            .env("BK_MCP_LOG_FORMAT", "json"),
        true,
    )
    .await;
    assert_no_secret(&stderr);
    let mut lines = 0;
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        lines += 1;
    }
    assert!(lines >= 6, "{stderr}");
    assert!(stderr.contains("tool call finished"), "{stderr}");
}

#[tokio::test]
async fn trace_logs_hold_no_token() {
    let stderr = exercise(Launch::new().env("RUST_LOG", "trace"), false).await;
    assert_no_secret(&stderr);
    // Trace level was on, down to the HTTP client.
    assert!(
        stderr.contains("TRACE") && stderr.contains("connecting to 127.0.0.1"),
        "{stderr}"
    );
}
