//! One successful call through the real binary per toolset that has tools,
//! each against a realistic mock: the exact upstream requests (method, path,
//! query, bearer token) and the useful fields of the result.

use crate::common::{
    Launch, Server, TOKEN, assert_all_sent_token, authorized, fixture, json_response, requests,
    within,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const JOB_ID: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";

fn build_args() -> Value {
    json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"})
}

/// Mounts `GET route` answering `response` to the test token only.
async fn get(api: &MockServer, route: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(route))
        .and(authorized())
        .respond_with(response)
        .mount(api)
        .await;
}

async fn start(api: &MockServer) -> Server {
    Launch::new().start(api).await
}

#[tokio::test]
async fn clusters_list_clusters() {
    let api = MockServer::start().await;
    get(
        &api,
        "/v2/organizations/acme/clusters",
        json_response(200, "clusters.json"),
    )
    .await;
    let server = start(&api).await;
    let page = server
        .ok("list_clusters", json!({"org_slug": "acme"}))
        .await;
    assert_eq!(
        requests(&api).await,
        ["GET /v2/organizations/acme/clusters?page=1&per_page=30"]
    );
    assert_all_sent_token(&api, TOKEN).await;
    let first = &page["items"][0];
    assert_eq!(
        first["id"], "42f1a7da-812d-4430-93d8-1cc7c33a6bcf",
        "{page}"
    );
    assert_eq!(first["name"], "Open Source");
    assert_eq!(
        first["default_queue_id"],
        "01885682-55a7-44f5-84f3-0402fb452e66"
    );
    assert!(first.get("url").is_none(), "API URLs are dropped: {first}");
    assert_eq!(page["has_more"], false);
}

#[tokio::test]
async fn agents_list_agents() {
    let api = MockServer::start().await;
    get(
        &api,
        "/v2/organizations/acme/agents",
        json_response(200, "agents.json"),
    )
    .await;
    let server = start(&api).await;
    let page = server.ok("list_agents", json!({"org_slug": "acme"})).await;
    assert_eq!(
        requests(&api).await,
        ["GET /v2/organizations/acme/agents?page=1&per_page=30"]
    );
    assert_all_sent_token(&api, TOKEN).await;
    assert_eq!(page["items"][0]["name"], "ci-1", "{page}");
    assert_eq!(page["items"][0]["hostname"], "ci-1.internal");
    assert!(page["items"][0].get("job").is_none(), "idle agent: {page}");
    assert_eq!(page["items"][1]["job"]["state"], "running", "{page}");
}

#[tokio::test]
async fn pipelines_get_pipeline() {
    let api = MockServer::start().await;
    get(
        &api,
        "/v2/organizations/acme/pipelines/app",
        json_response(200, "pipeline.json"),
    )
    .await;
    let server = start(&api).await;
    let pipeline = server
        .ok(
            "get_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "app"}),
        )
        .await;
    assert_eq!(
        requests(&api).await,
        ["GET /v2/organizations/acme/pipelines/app"]
    );
    assert_all_sent_token(&api, TOKEN).await;
    assert_eq!(pipeline["id"], "849411f9-9e6d-4739-a0d8-e247088e9b52");
    assert_eq!(pipeline["slug"], "app");
    assert_eq!(pipeline["repository"], "git@github.com:acme/app.git");
    assert_eq!(
        pipeline["configuration"],
        "steps:\n  - command: make test\n"
    );
}

#[tokio::test]
async fn builds_get_build() {
    let api = MockServer::start().await;
    get(&api, BUILD, json_response(200, "build.json")).await;
    get(
        &api,
        &format!("{BUILD}/annotations"),
        json_response(200, "annotations.json"),
    )
    .await;
    let server = start(&api).await;
    let build = server.ok("get_build", build_args()).await;
    let mut sent = requests(&api).await;
    sent.sort();
    assert_eq!(
        sent,
        [
            format!("GET {BUILD}/annotations?scope=all&omit_body=true&page=1&per_page=100"),
            format!("GET {BUILD}?exclude_jobs=true&exclude_pipeline=true&include_test_engine=true"),
        ]
    );
    assert_all_sent_token(&api, TOKEN).await;
    assert_eq!(build["number"], 42, "{build}");
    assert_eq!(build["state"], "failed");
    assert_eq!(build["commit"], "1c3214fcceb2c14579a2c3c50cd78f1442fd8936");
    assert_eq!(build["job_state_counts"]["states"]["failed"], 1, "{build}");
    assert!(build.get("env").is_none(), "no env in get_build: {build}");
}

#[tokio::test]
async fn artifacts_list_artifacts_for_build() {
    let api = MockServer::start().await;
    get(
        &api,
        &format!("{BUILD}/artifacts"),
        json_response(200, "artifacts.json"),
    )
    .await;
    let server = start(&api).await;
    let page = server.ok("list_artifacts_for_build", build_args()).await;
    assert_eq!(
        requests(&api).await,
        [format!("GET {BUILD}/artifacts?page=1&per_page=30")]
    );
    assert_all_sent_token(&api, TOKEN).await;
    let first = &page["items"][0];
    assert_eq!(
        first["id"], "76365070-34d5-4104-8b91-952780f8029f",
        "{page}"
    );
    assert_eq!(first["path"], "logs/test.log");
    assert_eq!(first["job_id"], JOB_ID);
    assert!(first.get("download_url").is_none(), "{first}");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn tests_list_test_suites() {
    let api = MockServer::start().await;
    get(
        &api,
        "/v2/analytics/organizations/acme/suites",
        json_response(200, "test_suites.json"),
    )
    .await;
    let server = start(&api).await;
    let page = server
        .ok("list_test_suites", json!({"org_slug": "acme"}))
        .await;
    assert_eq!(
        requests(&api).await,
        ["GET /v2/analytics/organizations/acme/suites?page=1&per_page=30"]
    );
    assert_all_sent_token(&api, TOKEN).await;
    assert_eq!(page["items"][0]["slug"], "rspec", "{page}");
    assert_eq!(page["items"][0]["name"], "RSpec");
}

/// A raw job log as the API serves it: timestamp markers, ANSI colour, a
/// `\r` progress redraw, CRLF line ends.
const LOG: &[u8] = b"\x1b_bk;t=1745322209921\x07~~~ Preparing working directory\r\n\
\x1b_bk;t=1745322209950\x07Receiving objects:  10% (1/10)\rReceiving objects: 100% (10/10), done.\r\n\
\x1b_bk;t=1745322210000\x07--- :rspec: Running tests\r\n\
\x1b_bk;t=1745322210200\x07test_logout ... \x1b[31mFAILED\x1b[0m\r\n\
\x1b_bk;t=1745322210300\x07  expected 200, got 500\r\n\
\x1b_bk;t=1745322210900\x07\x1b[1mExited with status 1\x1b[0m\r\n";

#[tokio::test]
async fn logs_tail_logs() {
    let api = MockServer::start().await;
    let job_path = format!("{BUILD}/jobs/{JOB_ID}");
    Mock::given(method("HEAD"))
        .and(path(format!("{job_path}/log")))
        .and(authorized())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-length", LOG.len().to_string().as_str()),
        )
        .mount(&api)
        .await;
    get(&api, &job_path, json_response(200, "job.json")).await;
    Mock::given(method("GET"))
        .and(path(format!("{job_path}/log")))
        .and(header("accept", "text/plain"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_raw(LOG.to_vec(), "text/plain"))
        .mount(&api)
        .await;
    // Access is checked on every cached read (by default a check is reused
    // for a minute), so the second call below sends one.
    let server = Launch::new()
        .args(&["--log-access-recheck", "0"])
        .start(&api)
        .await;
    let args = json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": JOB_ID, "tail": 3});
    let (result, text) = server.call("tail_logs", args.clone()).await;
    let tail: Value = serde_json::from_str(&text).unwrap();
    // 3 of 6 rows: the whole log is linked, for the client to read.
    let link = result.content[1]
        .as_resource_link()
        .expect("a resource link");
    let uri = format!("buildkite://logs/acme/app/42/{JOB_ID}");
    assert_eq!(link.uri, uri);
    assert_eq!(link.mime_type.as_deref(), Some("text/plain"));
    // The job's state (how long to cache its log), then the log: the
    // download is its own access check.
    assert_eq!(
        requests(&api).await,
        [format!("GET {job_path}"), format!("GET {job_path}/log")]
    );
    assert_eq!(tail["total_rows"], 6, "{tail}");
    let entries = tail["entries"].as_array().unwrap();
    let text: Vec<&str> = entries.iter().map(|e| e["c"].as_str().unwrap()).collect();
    assert_eq!(
        text,
        [
            "test_logout ... FAILED",
            "  expected 200, got 500",
            "Exited with status 1"
        ]
    );
    assert_eq!(entries[0]["rn"], 3);
    assert_eq!(entries[2]["ts"], 1_745_322_210_900_i64);

    // Served from the log cache (a finished job): only the access check.
    let again = server.ok("tail_logs", args).await;
    assert_eq!(again["entries"], tail["entries"]);
    assert_eq!(requests(&api).await.len(), 3);
    assert_eq!(requests(&api).await[2], format!("HEAD {job_path}/log"));
    assert_all_sent_token(&api, TOKEN).await;
    // The link reads the whole log from the cache, after the caller's own
    // access check.
    let read = within(
        "resources/read",
        server
            .client
            .read_resource(rmcp::model::ReadResourceRequestParams::new(uri.clone())),
    )
    .await
    .unwrap();
    let whole = serde_json::to_value(&read.contents[0]).unwrap();
    let lines: Vec<&str> = whole["text"].as_str().unwrap().lines().collect();
    assert_eq!(lines.len(), 6, "{whole}");
    assert_eq!(lines[5], "Exited with status 1");
    assert_eq!(requests(&api).await.len(), 4);
    assert_eq!(requests(&api).await[3], format!("HEAD {job_path}/log"));
    let stats = server.ok("read_logs", json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": JOB_ID, "seek": 1, "limit": 1})).await;
    assert_eq!(
        stats["entries"][0]["c"], "Receiving objects: 100% (10/10), done.",
        "the progress redraw resolves to its last frame: {stats}"
    );
}

#[tokio::test]
async fn annotations_list_annotations() {
    let api = MockServer::start().await;
    get(
        &api,
        &format!("{BUILD}/annotations"),
        json_response(200, "annotations.json"),
    )
    .await;
    let server = start(&api).await;
    let page = server.ok("list_annotations", build_args()).await;
    assert_eq!(
        requests(&api).await,
        [format!("GET {BUILD}/annotations?page=1&per_page=30")]
    );
    assert_all_sent_token(&api, TOKEN).await;
    let first = &page["items"][0];
    assert_eq!(first["context"], "rspec", "{page}");
    assert_eq!(first["style"], "error");
    assert!(
        first["body_html"]
            .as_str()
            .unwrap()
            .contains("3 tests failed"),
        "{first}"
    );
}

#[tokio::test]
async fn user_current_user() {
    let api = MockServer::start().await;
    get(&api, "/v2/user", json_response(200, "user.json")).await;
    let server = start(&api).await;
    let user = server.ok("current_user", json!({})).await;
    assert_eq!(requests(&api).await, ["GET /v2/user"]);
    assert_all_sent_token(&api, TOKEN).await;
    let expected = fixture("user.json");
    assert_eq!(
        user,
        json!({
            "id": expected["id"],
            "name": "Sam Kim",
            "email": "sam@example.com",
            "created_at": expected["created_at"],
        })
    );
}

#[tokio::test]
async fn skills_list_and_load() {
    let api = MockServer::start().await;
    let server = start(&api).await;
    let skills = server.ok("list_skills", json!({"query": "debug"})).await;
    let list = skills["skills"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{skills}");
    assert_eq!(list[0]["name"], "debug-logs-guide");
    let (result, guide) = server
        .call("load_skill", json!({"skill_name": "debug-logs-guide"}))
        .await;
    assert_eq!(result.is_error, Some(false));
    assert!(
        guide.starts_with("# Debugging a failed Buildkite build"),
        "{guide}"
    );
    let error = server
        .err("load_skill", json!({"skill_name": "nope"}))
        .await;
    assert_eq!(
        error,
        "invalid argument `skill_name`: unknown skill \"nope\"; valid skills: debug-logs-guide"
    );
    assert!(requests(&api).await.is_empty(), "skills need no API");
}

#[tokio::test]
async fn investigations_get_build_failure_summary() {
    let api = MockServer::start().await;
    // The build with every job, retried attempts included: the failed
    // job, and an earlier attempt of the passed one that failed (flaky).
    let mut build = fixture("build.json");
    let passed = build["jobs"][1].clone();
    assert_eq!(passed["state"], "passed");
    let mut attempt = passed.clone();
    attempt["id"] = json!("0198f2f3-0000-4a8e-8b78-0d9157a0e35f");
    attempt["state"] = json!("failed");
    attempt["retried"] = json!(true);
    attempt["retried_in_job_id"] = passed["id"].clone();
    build["jobs"].as_array_mut().unwrap().push(attempt);
    get(&api, BUILD, ResponseTemplate::new(200).set_body_json(build)).await;
    get(
        &api,
        &format!("{BUILD}/annotations"),
        json_response(200, "annotations.json"),
    )
    .await;
    let server = start(&api).await;
    let mut args = build_args();
    args["include_logs"] = json!(false);
    args["include_failed_tests"] = json!(false);
    let summary = server.ok("get_build_failure_summary", args).await;
    let mut received = requests(&api).await;
    received.sort();
    // The build (its jobs inline) and the annotations: no job lists.
    assert_eq!(
        received,
        [
            format!("GET {BUILD}/annotations?scope=all&page=1&per_page=100"),
            format!(
                "GET {BUILD}?exclude_pipeline=true&include_retried_jobs=true&include_test_engine=true"
            ),
        ]
    );
    assert_all_sent_token(&api, TOKEN).await;
    assert_eq!(summary["jobs"][0]["id"], JOB_ID, "{summary}");
    assert_eq!(summary["jobs"][0]["state"], "failed");
    assert_eq!(summary["jobs"].as_array().unwrap().len(), 1, "{summary}");
    assert_eq!(
        summary["flaky_jobs"][0]["id"], "0198f2f3-0000-4a8e-8b78-0d9157a0e35f",
        "{summary}"
    );
    assert_eq!(summary["annotations"][0]["style"], "error");
    assert!(
        summary["annotations"][0]["text"]
            .as_str()
            .unwrap()
            .contains("3 tests failed"),
        "{summary}"
    );
    assert!(summary["content_bytes"].as_u64().unwrap() > 0);
}
