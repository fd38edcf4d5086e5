//! The MCP surface of the real binary: initialize, the tool list, one call
//! per toolset against a mock API (asserting the exact upstream request),
//! stateful sessions and the per-call time limit.

use std::time::{Duration, Instant};

use crate::common::{
    self, TOKEN, authorizations, bearer, call, call_ok, expected_names, fixture, initialize_body,
    json_fixture, launch, list_body, registry_tools, requests, rpc_message, spec_tools, text,
    tool_names,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const JOB_ID: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const SUITE: &str = "/v2/analytics/organizations/acme/suites/rspec";
const TEST_ID: &str = "01867216-8478-7fde-a55a-0300f88bb49b";

/// A job log as the API returns it (from bk-tools' logs tests): markers,
/// CRLF, ANSI colour, a `\r` redraw; 14 rows.
const LOG: &[u8] = b"\x1b_bk;t=1745322209921\x07~~~ Preparing working directory\r\n\
\x1b_bk;t=1745322209922\x07\x1b[90m$\x1b[0m git fetch origin\r\n\
\x1b_bk;t=1745322209950\x07Receiving objects:  10% (1/10)\rReceiving objects:  60% (6/10)\rReceiving objects: 100% (10/10), done.\r\r\n\
\x1b_bk;t=1745322210000\x07--- :rspec: Running tests\r\n\
\x1b_bk;t=1745322210100\x07test_login ... \x1b[32mok\x1b[0m\r\n\
\x1b_bk;t=1745322210200\x07test_logout ... \x1b[31mFAILED\x1b[0m\r\n\
\x1b_bk;t=1745322210300\x07  expected 200, got 500\r\n\
\x1b_bk;t=1745322210400\x07test_signup ... \x1b[32mok\x1b[0m\r\n\
\x1b_bk;t=1745322210500\x07test_reset ... \x1b[31mFAILED\x1b[0m\r\n\
\x1b_bk;t=1745322210600\x07  timeout after 30s\r\n\
\x1b_bk;t=1745322210700\x07+++ :boom: Summary\r\n\
\x1b_bk;t=1745322210800\x07\x1b[1;31m2 failed\x1b[0m, 2 passed\r\n\
plain line without a timestamp\n\
\x1b_bk;t=1745322210900\x07\x1b[1mExited with status 1\x1b[0m\r\n";

fn authorized() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", bearer(TOKEN).as_str())
}

async fn mount_get(api: &MockServer, route: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(route))
        .and(authorized())
        .respond_with(response)
        .mount(api)
        .await;
}

/// Mounts one successful route per toolset.
async fn mount_api(api: &MockServer) {
    mount_get(
        api,
        "/v2/organizations/acme/clusters",
        json_fixture(200, "clusters.json"),
    )
    .await;
    mount_get(
        api,
        "/v2/organizations/acme/agents",
        json_fixture(200, "agents.json"),
    )
    .await;
    mount_get(
        api,
        "/v2/organizations/acme/pipelines/app",
        json_fixture(200, "pipeline.json"),
    )
    .await;
    mount_get(
        api,
        "/v2/organizations/acme/pipelines/app/builds",
        json_fixture(200, "builds.json"),
    )
    .await;
    mount_get(
        api,
        &format!("{BUILD}/artifacts"),
        json_fixture(200, "artifacts.json"),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(format!("{SUITE}/tests/{TEST_ID}")))
        .and(header("buildkite-version", "2026-08-01"))
        .and(authorized())
        .respond_with(json_fixture(200, "test.json"))
        .mount(api)
        .await;
    // Logs: the access check (on a cached log), the job, the raw log.
    let job_path = format!("{BUILD}/jobs/{JOB_ID}");
    Mock::given(method("HEAD"))
        .and(path(format!("{job_path}/log")))
        .and(authorized())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-length", LOG.len().to_string().as_str()),
        )
        .mount(api)
        .await;
    let mut job = fixture("job.json");
    job["state"] = json!("failed");
    mount_get(
        api,
        &job_path,
        ResponseTemplate::new(200).set_body_json(job),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(format!("{job_path}/log")))
        .and(header("accept", "text/plain"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_raw(LOG.to_vec(), "text/plain"))
        .mount(api)
        .await;
    mount_get(
        api,
        &format!("{BUILD}/annotations"),
        json_fixture(200, "annotations.json"),
    )
    .await;
    mount_get(api, "/v2/user", json_fixture(200, "user.json")).await;
}

/// The requests the API received since the last look.
struct Seen {
    count: usize,
}

impl Seen {
    async fn new_requests(&mut self, api: &MockServer) -> Vec<String> {
        let all = requests(api).await;
        let new = all[self.count..].to_vec();
        self.count = all.len();
        new
    }
}

#[tokio::test]
async fn initialize_list_and_one_call_per_toolset() {
    let api = MockServer::start().await;
    mount_api(&api).await;
    let server = launch(&api).token(TOKEN).start().await;

    // initialize over raw HTTP: stateless, so no session id.
    let response = server.post("/mcp", &initialize_body(), &[]).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("mcp-session-id").is_none(),
        "stateless by default"
    );
    let init = rpc_message(response).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "bk-mcp");
    assert_eq!(
        init["result"]["serverInfo"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );

    let client = server.client("/mcp", None, &[]).await;
    let info = client.peer_info().expect("server info");
    let implementation = info.server_info.as_ref().expect("server_info");
    assert_eq!(implementation.name, "bk-mcp");
    let instructions = info.instructions.as_deref().unwrap_or_default();
    assert!(instructions.contains("tail_logs"), "{instructions}");

    // tools/list: every tool of the registry (56 at least: the spec's parity
    // and additions), with its read-only hint as the spec says.
    let tools = common::within("tools/list", client.list_all_tools())
        .await
        .expect("tools/list");
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    let expected = expected_names(|_| true);
    assert_eq!(names, expected);
    assert!(tools.len() >= 56, "{}", tools.len());
    assert_eq!(
        tools
            .iter()
            .filter(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(false))
            .count(),
        16,
        "the write tools"
    );
    let spec = spec_tools();
    for tool in &tools {
        let entry = spec
            .iter()
            .find(|s| s.name == tool.name)
            .unwrap_or_else(|| panic!("{} is not in the spec", tool.name));
        let hints = tool.annotations.as_ref().expect("annotations");
        assert_eq!(hints.read_only_hint, Some(entry.read_only), "{}", tool.name);
        assert_eq!(
            tool.input_schema.get("type"),
            Some(&json!("object")),
            "{}",
            tool.name
        );
    }
    for tool in registry_tools() {
        let entry = spec
            .iter()
            .find(|s| s.name == tool.name)
            .expect("in the spec");
        assert_eq!(tool.toolset, entry.toolset, "{}", tool.name);
    }
    // Every spec tool is served, but those of toolsets still being written.
    for entry in spec.iter().filter(|s| s.toolset != "investigations") {
        assert!(names.contains(&entry.name), "{} is not served", entry.name);
    }
    assert_eq!(
        registry_tools()
            .iter()
            .filter(|t| t.toolset != "investigations")
            .count(),
        57
    );
    // Raw tools/list agrees.
    let listed = rpc_message(server.post("/mcp", &list_body(), &[]).await).await;
    assert_eq!(
        listed["result"]["tools"].as_array().map(Vec::len),
        Some(expected.len())
    );
    assert!(requests(&api).await.is_empty(), "listing calls no API");

    let mut seen = Seen { count: 0 };

    // clusters
    let page = call_ok(&client, "list_clusters", json!({"org_slug": "acme"})).await;
    assert_eq!(
        seen.new_requests(&api).await,
        ["GET /v2/organizations/acme/clusters?page=1&per_page=30"]
    );
    assert_eq!(page["items"][0]["name"], "Open Source");
    assert_eq!(
        page["items"][0]["id"],
        "42f1a7da-812d-4430-93d8-1cc7c33a6bcf"
    );

    // agents
    let page = call_ok(&client, "list_agents", json!({"org_slug": "acme"})).await;
    assert_eq!(
        seen.new_requests(&api).await,
        ["GET /v2/organizations/acme/agents?page=1&per_page=30"]
    );
    assert_eq!(page["items"][0]["name"], "ci-1");
    assert_eq!(page["items"][1]["job"]["name"], ":package: Build");

    // pipelines
    let pipeline = call_ok(
        &client,
        "get_pipeline",
        json!({"org_slug": "acme", "pipeline_slug": "app"}),
    )
    .await;
    assert_eq!(
        seen.new_requests(&api).await,
        ["GET /v2/organizations/acme/pipelines/app"]
    );
    assert_eq!(pipeline["slug"], "app");
    assert_eq!(pipeline["name"], "App");

    // builds
    let page = call_ok(
        &client,
        "list_builds",
        json!({"org_slug": "acme", "pipeline_slug": "app", "branch": "main", "per_page": 3}),
    )
    .await;
    assert_eq!(
        seen.new_requests(&api).await,
        [
            "GET /v2/organizations/acme/pipelines/app/builds?branch%5B%5D=main&exclude_jobs=true&exclude_pipeline=true&page=1&per_page=3"
        ]
    );
    let numbers: Vec<&Value> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|b| &b["number"])
        .collect();
    assert_eq!(numbers, [&json!(44), &json!(43), &json!(42)]);

    // artifacts
    let page = call_ok(
        &client,
        "list_artifacts_for_build",
        json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}),
    )
    .await;
    assert_eq!(
        seen.new_requests(&api).await,
        [format!("GET {BUILD}/artifacts?page=1&per_page=30")]
    );
    assert_eq!(page["items"][0]["filename"], "test.log");
    assert_eq!(page["items"][1]["filename"], "app.tar.gz");

    // tests
    let test = call_ok(
        &client,
        "get_test",
        json!({"org_slug": "acme", "test_suite_slug": "rspec", "test_id": TEST_ID}),
    )
    .await;
    assert_eq!(
        seen.new_requests(&api).await,
        [format!("GET {SUITE}/tests/{TEST_ID}")]
    );
    assert_eq!(test["id"], TEST_ID);
    assert_eq!(test["name"], "is correctly formatted");

    // logs
    let job_path = format!("{BUILD}/jobs/{JOB_ID}");
    let tail = call_ok(
        &client,
        "tail_logs",
        json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": JOB_ID, "tail": 2}),
    )
    .await;
    // The job's state, then the log (the download is its own access check).
    assert_eq!(
        seen.new_requests(&api).await,
        [format!("GET {job_path}"), format!("GET {job_path}/log")]
    );
    assert_eq!(tail["total_rows"], 14);
    let rows: Vec<&Value> = tail["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|r| &r["c"])
        .collect();
    assert_eq!(
        rows,
        [
            &json!("plain line without a timestamp"),
            &json!("Exited with status 1")
        ]
    );

    // annotations
    let page = call_ok(
        &client,
        "list_annotations",
        json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}),
    )
    .await;
    assert_eq!(
        seen.new_requests(&api).await,
        [format!("GET {BUILD}/annotations?page=1&per_page=30")]
    );
    assert_eq!(page["items"][0]["context"], "rspec");

    // user
    let user = call_ok(&client, "current_user", json!({})).await;
    assert_eq!(seen.new_requests(&api).await, ["GET /v2/user"]);
    assert_eq!(user["name"], "Sam Kim");
    assert_eq!(user["email"], "sam@example.com");

    // skills: local, no API call.
    let skills = call_ok(&client, "list_skills", json!({})).await;
    assert!(seen.new_requests(&api).await.is_empty());
    assert_eq!(skills["skills"][0]["name"], "debug-logs-guide");

    // Every request carried the server's token, once.
    let auth = authorizations(&api).await;
    assert_eq!(auth.len(), 10);
    assert!(auth.iter().all(|a| *a == [bearer(TOKEN)]), "{auth:?}");

    // A bad argument is an error result that names it, and sends nothing.
    let result = call(&client, "get_pipeline", json!({"org_slug": "acme"}))
        .await
        .expect("an error result");
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text(&result),
        "invalid argument `pipeline_slug`: is required"
    );
    assert!(seen.new_requests(&api).await.is_empty());
    client.cancel().await.expect("client closes");
}

#[tokio::test]
async fn without_a_token_calls_answer_an_error_result() {
    let api = MockServer::start().await;
    let server = launch(&api).start().await;
    let client = server.client("/mcp", None, &[]).await;
    assert_eq!(tool_names(&client).await, expected_names(|_| true));
    let result = call(&client, "current_user", json!({}))
        .await
        .expect("an error result");
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).starts_with("no Buildkite API token is configured"),
        "{}",
        text(&result)
    );
    // Skills need no token.
    let skills = call_ok(&client, "list_skills", json!({})).await;
    assert!(skills["skills"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(requests(&api).await.is_empty());
}

#[tokio::test]
async fn stateful_mode_keeps_a_session() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/clusters"))
        .and(query_param("page", "1"))
        .and(authorized())
        .respond_with(json_fixture(200, "clusters.json"))
        .mount(&api)
        .await;
    let server = launch(&api)
        .token(TOKEN)
        .args(&["--stateful"])
        .start()
        .await;

    let response = server.post("/mcp", &initialize_body(), &[]).await;
    assert_eq!(response.status(), 200);
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("an Mcp-Session-Id");
    assert!(!session.is_empty());
    let init = rpc_message(response).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "bk-mcp");
    // Without the session, a tools/list is refused.
    let refused = server.post("/mcp", &list_body(), &[]).await;
    assert!(refused.status().is_client_error(), "{}", refused.status());

    let client = server.client("/mcp", None, &[]).await;
    assert_eq!(tool_names(&client).await, expected_names(|_| true));
    let page = call_ok(&client, "list_clusters", json!({"org_slug": "acme"})).await;
    assert_eq!(page["items"][0]["name"], "Open Source");
    // Again on the same session: answered from the API read cache (same
    // token, within its 15 s).
    let page = call_ok(&client, "list_clusters", json!({"org_slug": "acme"})).await;
    assert_eq!(page["items"][0]["name"], "Open Source");
    assert_eq!(
        requests(&api).await,
        ["GET /v2/organizations/acme/clusters?page=1&per_page=30"]
    );
    client.cancel().await.expect("client closes");
}

#[tokio::test]
async fn a_call_past_the_request_timeout_is_stopped_with_an_error() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json_fixture(200, "user.json").set_delay(Duration::from_secs(3)))
        .mount(&api)
        .await;
    let server = launch(&api)
        .token(TOKEN)
        .args(&["--request-timeout", "1"])
        .start()
        .await;
    let client = server.client("/mcp", None, &[]).await;
    let started = Instant::now();
    let result = call(&client, "current_user", json!({}))
        .await
        .expect("an error result");
    let elapsed = started.elapsed();
    assert_eq!(result.is_error, Some(true));
    assert!(
        text(&result).starts_with("the call did not finish within 1 s"),
        "{}",
        text(&result)
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
    assert_eq!(requests(&api).await, ["GET /v2/user"]);
}

/// The `api.requests` the `mcp.request` span of each finished call of
/// `tool` recorded, in order, from the server's JSON debug log (waiting
/// until `calls` of them are there).
async fn api_requests_recorded(server: &common::Server, tool: &str, calls: usize) -> Vec<u64> {
    common::within("the calls' debug lines", async {
        loop {
            let recorded: Vec<u64> = server
                .stderr()
                .iter()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .filter(|line| {
                    line["fields"]["message"] == "tool call finished"
                        && line["span"]["name"] == "mcp.request"
                        && line["span"]["mcp.tool_name"] == tool
                })
                .map(|line| {
                    line["span"]["api.requests"]
                        .as_u64()
                        .unwrap_or_else(|| panic!("no api.requests on the span: {line}"))
                })
                .collect();
            if recorded.len() >= calls {
                break recorded;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

#[tokio::test]
async fn investigations_get_build_failure_summary() {
    let api = MockServer::start().await;
    // The build, every job inline (build.json's failed job among them).
    mount_get(&api, BUILD, json_fixture(200, "build.json")).await;
    mount_get(
        &api,
        &format!("{BUILD}/annotations"),
        json_fixture(200, "annotations.json"),
    )
    .await;
    let server = launch(&api)
        .token(TOKEN)
        .args(&["--debug", "--log-format", "json"])
        .start()
        .await;
    let client = server.client("/mcp", None, &[]).await;
    let summary = call_ok(
        &client,
        "get_build_failure_summary",
        json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42",
               "include_logs": false, "include_failed_tests": false}),
    )
    .await;
    let mut received = requests(&api).await;
    received.sort();
    assert_eq!(
        received,
        [
            format!("GET {BUILD}/annotations?scope=all&page=1&per_page=100"),
            format!(
                "GET {BUILD}?exclude_pipeline=true&include_retried_jobs=true&include_test_engine=true"
            ),
        ]
    );
    assert_eq!(summary["jobs"][0]["id"], JOB_ID, "{summary}");
    assert_eq!(summary["annotations"][0]["style"], "error");
    let auth = authorizations(&api).await;
    assert!(auth.iter().all(|a| *a == [bearer(TOKEN)]), "{auth:?}");
    // The call's span counts the requests it sent: what the API received.
    assert_eq!(
        api_requests_recorded(&server, "get_build_failure_summary", 1).await,
        [received.len() as u64]
    );
    client.cancel().await.expect("client closes");
}

#[tokio::test]
async fn the_demo_is_served_over_http_without_token_or_api() {
    let api = MockServer::start().await;
    let server = launch(&api).args(&["--demo"]).start().await;
    let client = server.client("/mcp/readonly", None, &[]).await;
    let summary = call_ok(
        &client,
        "get_build_failure_summary",
        json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234"}),
    )
    .await;
    assert_eq!(summary["build"]["number"], 1234);
    assert_eq!(summary["build"]["state"], "failed");
    assert_eq!(summary["flaky_jobs"][0]["step_key"], "docker-build");
    let user = call_ok(&client, "current_user", json!({})).await;
    assert!(user["name"].is_string(), "{user}");
    assert_eq!(requests(&api).await, Vec::<String>::new());
}
