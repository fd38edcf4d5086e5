//! The `builds` toolset: builds, jobs, step uploads, waiting, and
//! resolve_url.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bk_tools::ProgressSink;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{Harness, authorized, fixture, harness, json};

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const JOB_ID: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const BUILD_QUERY: &str = "exclude_jobs=true&exclude_pipeline=true&include_test_engine=true";
const ANNOTATIONS_QUERY: &str = "scope=all&omit_body=true&page=1&per_page=100";

fn build_args() -> Value {
    json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"})
}

fn job_args() -> Value {
    json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": JOB_ID})
}

/// A JSON response with a fixture changed by `edit`.
fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> ResponseTemplate {
    let mut value = fixture(name);
    edit(&mut value);
    ResponseTemplate::new(200).set_body_json(value)
}

/// A build fixture in another state.
fn build_in(state: &str) -> ResponseTemplate {
    edited("build.json", |b| {
        b["state"] = json!(state);
        if !matches!(state, "passed" | "failed" | "canceled") {
            b["finished_at"] = Value::Null;
        }
    })
}

async fn mount(h: &Harness, verb: &str, route: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(route))
        .and(authorized())
        .respond_with(response)
        .mount(&h.server)
        .await;
}

async fn sorted_requests(h: &Harness) -> Vec<String> {
    let mut requests = h.requests().await;
    requests.sort();
    requests
}

// ---------------------------------------------------------------- list_builds

#[tokio::test]
async fn list_builds_of_a_pipeline_sends_every_filter() {
    let h = harness().await;
    let next = format!(
        "<{}/v2/organizations/acme/pipelines/app/builds?page=3&per_page=3>; rel=\"next\"",
        h.server.uri()
    );
    mount(
        &h,
        "GET",
        "/v2/organizations/acme/pipelines/app/builds",
        json(200, "builds.json").insert_header("link", next.as_str()),
    )
    .await;
    let page = h
        .ok(
            "list_builds",
            json!({
                "org_slug": "acme", "pipeline_slug": "app", "branch": "main", "state": "failed",
                "commit": "abc123", "creator": "3d3c3bf0-7d58-4afe-8fe7-b3017d5504de",
                "created_from": "2026-08-11T00:00:00Z", "finished_from": "2026-08-11 10:00:00 UTC",
                "meta_data": {"release": "1.2"}, "page": 2, "per_page": 3
            }),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [
            "GET /v2/organizations/acme/pipelines/app/builds?branch%5B%5D=main&state%5B%5D=failed&commit=abc123&creator=3d3c3bf0-7d58-4afe-8fe7-b3017d5504de&created_from=2026-08-11T00%3A00%3A00.000Z&finished_from=2026-08-11T10%3A00%3A00.000Z&exclude_jobs=true&exclude_pipeline=true&meta_data%5Brelease%5D=1.2&page=2&per_page=3"
        ]
    );
    assert_eq!(page["next_page"], 3);
    assert_eq!(page["items"][2]["message"], "Fix flaky test");
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_builds_organization_wide_says_which_pipeline_and_defaults_to_30() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        "/v2/organizations/acme/builds",
        json(200, "builds.json"),
    )
    .await;
    let page = h
        .ok(
            "list_builds",
            json!({"org_slug": "acme", "pipeline_slug": " ", "detail_level": "detailed"}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [
            "GET /v2/organizations/acme/builds?exclude_jobs=true&exclude_pipeline=true&page=1&per_page=30"
        ]
    );
    assert_eq!(page["items"][0]["pipeline_slug"], "app");
    assert_eq!(page["has_more"], false);
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_builds_full_keeps_every_field_but_nulls() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        "/v2/organizations/acme/pipelines/app/builds",
        json(200, "builds.json"),
    )
    .await;
    let page = h
        .ok(
            "list_builds",
            json!({"org_slug": "acme", "pipeline_slug": "app", "detail_level": "full"}),
        )
        .await;
    let first = page["items"][0].as_object().unwrap();
    assert_eq!(
        first.keys().take(3).collect::<Vec<_>>(),
        ["id", "number", "state"]
    );
    assert_eq!(first["env"], json!({"DEPLOY_ENV": "staging"}));
    assert_eq!(first["graphql_id"], fixture("builds.json")[0]["graphql_id"]);
    assert!(!first.contains_key("finished_at") && !first.contains_key("creator"));
}

#[tokio::test]
async fn list_builds_errors() {
    let h = harness().await;
    let error = h
        .err(
            "list_builds",
            json!({"org_slug": "acme", "created_from": "yesterday"}),
        )
        .await;
    assert!(
        error.starts_with("invalid argument `created_from`: must be an ISO 8601 time"),
        "{error}"
    );
    let error = h
        .err("list_builds", json!({"org_slug": "acme", "state": "done"}))
        .await;
    assert!(
        error.contains("`state`: unknown value `done`") && error.contains("not_run"),
        "{error}"
    );
    assert!(h.requests().await.is_empty());

    mount(
        &h,
        "GET",
        "/v2/organizations/acme/builds",
        json(403, "error_403_scope.json"),
    )
    .await;
    let error = h.err("list_builds", json!({"org_slug": "acme"})).await;
    assert!(
        error.starts_with(
            "Could not get the organization's builds: GET /v2/organizations/acme/builds?"
        ) && error.contains("403 Forbidden")
            && error.contains("needs the token scope read_builds"),
        "{error}"
    );
}

// ------------------------------------------------------------------ get_build

#[tokio::test]
async fn get_build_gives_counts_test_runs_and_annotations() {
    let h = harness().await;
    mount(&h, "GET", BUILD, json(200, "build.json")).await;
    let next = format!(
        "<{}{BUILD}/annotations?page=2&per_page=100>; rel=\"next\"",
        h.server.uri()
    );
    mount(
        &h,
        "GET",
        &format!("{BUILD}/annotations"),
        json(200, "annotations.json").insert_header("link", next.as_str()),
    )
    .await;
    let build = h.ok("get_build", build_args()).await;
    assert_eq!(
        sorted_requests(&h).await,
        [
            format!("GET {BUILD}/annotations?{ANNOTATIONS_QUERY}"),
            format!("GET {BUILD}?{BUILD_QUERY}"),
        ]
    );
    assert_eq!(build["job_state_counts"]["states"]["failed"], 1);
    assert_eq!(build["annotations_truncated"], true);
    assert!(build.get("jobs").is_none() && build.get("env").is_none());
    insta::assert_json_snapshot!(build);
}

#[tokio::test]
async fn get_build_lists_jobs_of_one_state() {
    let h = harness().await;
    mount(&h, "GET", BUILD, json(200, "build.json")).await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/annotations"),
        json(200, "annotations.json"),
    )
    .await;
    let mut args = build_args();
    args["detail_level"] = json!("summary");
    args["job_state"] = json!("failed");
    args["include_agent"] = json!(true);
    let build = h.ok("get_build", args).await;
    assert_eq!(
        sorted_requests(&h).await,
        [
            format!("GET {BUILD}/annotations?{ANNOTATIONS_QUERY}"),
            format!(
                "GET {BUILD}?exclude_pipeline=true&include_test_engine=true&job_states%5B%5D=failed"
            ),
        ]
    );
    assert_eq!(build["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(build["jobs"][0]["agent"]["hostname"], "ci-1");
    assert!(build.get("annotations_truncated").is_none());
    insta::assert_json_snapshot!(build);
}

#[tokio::test]
async fn get_build_full_has_every_field_but_env() {
    let h = harness().await;
    mount(&h, "GET", BUILD, json(200, "build.json")).await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/annotations"),
        json(200, "annotations.json"),
    )
    .await;
    let mut args = build_args();
    args["detail_level"] = json!("full");
    let build = h.ok("get_build", args).await;
    assert!(build.get("env").is_none() && build.get("jobs").is_none());
    assert_eq!(build["graphql_id"], fixture("build.json")["graphql_id"]);
    assert_eq!(build["test_engine"]["runs"][0]["suite"]["slug"], "rspec");
    assert_eq!(build["pipeline"]["slug"], "app");
    assert_eq!(build["annotations"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn get_build_reports_an_annotation_failure_but_keeps_the_build() {
    let h = harness().await;
    mount(&h, "GET", BUILD, json(200, "build.json")).await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/annotations"),
        ResponseTemplate::new(500).set_body_string("{\"message\":\"boom\"}"),
    )
    .await;
    let build = h.ok("get_build", build_args()).await;
    assert_eq!(build["state"], "failed");
    let error = build["annotations_error"].as_str().unwrap();
    assert!(
        error.starts_with("Could not get the build's annotations") && error.contains("500"),
        "{error}"
    );
    assert!(build.get("annotations").is_none());
}

#[tokio::test]
async fn get_build_errors() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        BUILD,
        ResponseTemplate::new(404).set_body_string("{\"message\":\"Not Found\"}"),
    )
    .await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/annotations"),
        json(401, "error_401.json"),
    )
    .await;
    let error = h.err("get_build", build_args()).await;
    assert!(
        error.starts_with(
            "Could not get the build: GET /v2/organizations/acme/pipelines/app/builds/42?"
        ) && error.contains("404 Not Found")
            && error.contains("not its UUID"),
        "{error}"
    );

    let h = harness().await;
    mount(&h, "GET", BUILD, json(200, "build.json")).await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/annotations"),
        json(401, "error_401.json"),
    )
    .await;
    let result = h.call("get_build", build_args()).await;
    assert!(result.is_error && result.unauthorized, "{}", result.text);

    let mut args = build_args();
    args["build_number"] = json!("89c02425-7712-4ee5-a694-c94b56b4d54c");
    let error = h.err("get_build", args).await;
    assert!(error.contains("looks like a build UUID"), "{error}");
    let mut args = build_args();
    args["job_state"] = json!("exploded");
    let error = h.err("get_build", args).await;
    assert!(error.contains("`job_state`: unknown value"), "{error}");
}

// ------------------------------------------------- get_build_test_engine_runs

#[tokio::test]
async fn get_build_test_engine_runs_lists_runs() {
    let h = harness().await;
    mount(&h, "GET", BUILD, json(200, "build.json")).await;
    let runs = h.ok("get_build_test_engine_runs", build_args()).await;
    assert_eq!(h.requests().await, [format!("GET {BUILD}?{BUILD_QUERY}")]);
    insta::assert_json_snapshot!(runs);
}

#[tokio::test]
async fn get_build_test_engine_runs_is_empty_not_null_without_test_engine() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        BUILD,
        edited("build.json", |b| {
            b.as_object_mut().unwrap().remove("test_engine");
        }),
    )
    .await;
    assert_eq!(
        h.ok("get_build_test_engine_runs", build_args()).await,
        json!([])
    );
    let h = harness().await;
    mount(
        &h,
        "GET",
        BUILD,
        json(404, "error_404_job.json").set_body_string("{\"message\":\"No build found\"}"),
    )
    .await;
    let error = h.err("get_build_test_engine_runs", build_args()).await;
    assert!(error.contains("404 Not Found: No build found"), "{error}");
}

// -------------------------------------------------------------- step uploads

#[tokio::test]
async fn list_step_uploads_filters_and_pages_by_cursor() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/step-uploads"),
        edited("step_uploads.json", |p| {
            p["links"]["next"] = json!("https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42/step-uploads?after=c2&per_page=1");
            p["links"]["prev"] = json!("https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42/step-uploads?before=c0&per_page=1");
        }),
    )
    .await;
    let mut args = build_args();
    args["source_job_id"] = json!("0198f2f3-64a2-4a8e-8b78-0d9157a0e35f");
    args["per_page"] = json!(1);
    args["after"] = json!("c1");
    let page = h.ok("list_step_uploads", args).await;
    assert_eq!(
        h.requests().await,
        [format!(
            "GET {BUILD}/step-uploads?filter%5Bsource_job_id%5D=0198f2f3-64a2-4a8e-8b78-0d9157a0e35f&per_page=1&after=c1"
        )]
    );
    assert_eq!(page["next_cursor"], "c2");
    assert_eq!(page["prev_cursor"], "c0");
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_step_uploads_errors() {
    let h = harness().await;
    let mut args = build_args();
    args["after"] = json!("a");
    args["before"] = json!("b");
    let error = h.err("list_step_uploads", args).await;
    assert!(
        error.starts_with("invalid argument `before`: cannot be given together with `after`"),
        "{error}"
    );
    assert!(h.requests().await.is_empty());
    mount(
        &h,
        "GET",
        &format!("{BUILD}/step-uploads"),
        ResponseTemplate::new(410).set_body_string("{\"message\":\"Step uploads have expired\"}"),
    )
    .await;
    let error = h.err("list_step_uploads", build_args()).await;
    assert!(
        error.contains("410") && error.contains("kept for 30 days"),
        "{error}"
    );
}

#[tokio::test]
async fn get_step_upload_gives_the_yaml() {
    let h = harness().await;
    let uuid = "0198f2f4-1c33-4e0a-9d5e-3a4a5b6c7d8e";
    mount(
        &h,
        "GET",
        &format!("{BUILD}/step-uploads/{uuid}"),
        json(200, "step_upload.json"),
    )
    .await;
    let mut args = build_args();
    args["upload_uuid"] = json!(uuid);
    let upload = h.ok("get_step_upload", args.clone()).await;
    assert_eq!(
        h.requests().await,
        [format!("GET {BUILD}/step-uploads/{uuid}")]
    );
    assert!(
        upload["definition_yaml"]
            .as_str()
            .unwrap()
            .contains("trigger: app-deploy")
    );
    insta::assert_json_snapshot!(upload);

    let h = harness().await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/step-uploads/{uuid}"),
        ResponseTemplate::new(410).set_body_string("{\"message\":\"Gone\"}"),
    )
    .await;
    let error = h.err("get_step_upload", args.clone()).await;
    assert!(
        error.starts_with("Could not get the step upload") && error.contains("kept for 30 days"),
        "{error}"
    );
    args["upload_uuid"] = json!("");
    let error = h.err("get_step_upload", args).await;
    assert_eq!(error, "invalid argument `upload_uuid`: must not be empty");
}

// ------------------------------------------------------------- wait_for_build

#[derive(Default)]
struct Progress(Mutex<Vec<String>>);

impl ProgressSink for Progress {
    fn progress(&self, progress: f64, total: Option<f64>, message: &str) {
        assert!(progress >= 0.0 && total.is_some());
        self.0.lock().unwrap().push(message.to_owned());
    }
}

#[tokio::test]
async fn wait_for_build_polls_until_finished_and_reports_progress() {
    let mut h = harness().await;
    let progress = Arc::new(Progress::default());
    h.ctx.progress = Some(progress.clone());
    h.ctx.limits.wait_for_build_timeout = Duration::from_secs(5);
    Mock::given(method("GET"))
        .and(path(BUILD))
        .respond_with(build_in("running"))
        .up_to_n_times(2)
        .mount(&h.server)
        .await;
    mount(&h, "GET", BUILD, json(200, "build.json")).await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/annotations"),
        json(200, "annotations.json"),
    )
    .await;
    let result = h.ok("wait_for_build", build_args()).await;
    let poll = format!("GET {BUILD}?{BUILD_QUERY}");
    assert_eq!(
        h.requests().await,
        [
            poll.clone(),
            poll.clone(),
            poll,
            format!("GET {BUILD}/annotations?{ANNOTATIONS_QUERY}")
        ]
    );
    let messages = progress.0.lock().unwrap().clone();
    assert_eq!(messages.len(), 3);
    assert!(
        messages[0].starts_with("build #42 is running after")
            && messages[2].starts_with("build #42 is failed"),
        "{messages:?}"
    );
    assert_eq!(result["finished"], true);
    assert_eq!(result["build_elapsed_seconds"], 179);
    let mut result = result;
    let waited = result
        .as_object_mut()
        .unwrap()
        .shift_remove("waited_seconds");
    assert!(waited.unwrap().as_u64().unwrap() < 5);
    insta::assert_json_snapshot!(result);
}

#[tokio::test]
async fn wait_for_build_stops_at_the_limit_while_running() {
    let h = harness().await;
    mount(&h, "GET", BUILD, build_in("running")).await;
    let mut result = h.ok("wait_for_build", build_args()).await;
    let requests = h.requests().await;
    assert!(requests.len() >= 2, "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| *r == format!("GET {BUILD}?{BUILD_QUERY}"))
    );
    assert!(result["build_elapsed_seconds"].as_i64().unwrap() > 0);
    result
        .as_object_mut()
        .unwrap()
        .shift_remove("build_elapsed_seconds");
    let waited = result
        .as_object_mut()
        .unwrap()
        .shift_remove("waited_seconds");
    assert!(waited.unwrap().as_u64().unwrap() < 5);
    insta::assert_json_snapshot!(result);
}

#[tokio::test]
async fn wait_for_build_treats_a_blocked_build_as_done() {
    let h = harness().await;
    mount(&h, "GET", BUILD, build_in("blocked")).await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/annotations"),
        json(200, "annotations.json"),
    )
    .await;
    let result = h.ok("wait_for_build", build_args()).await;
    assert_eq!(result["finished"], true);
    assert_eq!(result["state"], "blocked");
    assert!(result["note"].as_str().unwrap().contains("unblock_job"));
    assert_eq!(result["build"]["state"], "blocked");
    assert_eq!(h.requests().await.len(), 2);
}

#[tokio::test]
async fn wait_for_build_keeps_the_last_state_when_a_later_poll_fails() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(BUILD))
        .respond_with(build_in("running"))
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    mount(
        &h,
        "GET",
        BUILD,
        ResponseTemplate::new(503).set_body_string("{\"message\":\"down\"}"),
    )
    .await;
    let result = h.ok("wait_for_build", build_args()).await;
    assert_eq!(result["finished"], false);
    assert_eq!(result["state"], "running");
    let error = result["error"].as_str().unwrap();
    assert!(
        error.starts_with("Could not get the build") && error.contains("503"),
        "{error}"
    );
    assert!(result.get("build").is_none());
}

#[tokio::test]
async fn wait_for_build_errors_on_a_failed_first_poll_and_any_401() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        BUILD,
        ResponseTemplate::new(404).set_body_string("{\"message\":\"Not Found\"}"),
    )
    .await;
    let error = h.err("wait_for_build", build_args()).await;
    assert!(error.contains("404 Not Found"), "{error}");

    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(BUILD))
        .respond_with(build_in("running"))
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    mount(&h, "GET", BUILD, json(401, "error_401.json")).await;
    let result = h.call("wait_for_build", build_args()).await;
    assert!(result.is_error && result.unauthorized, "{}", result.text);
}

#[tokio::test]
async fn wait_for_build_stops_when_cancelled() {
    /// Cancels the call as soon as the first poll reports progress.
    struct CancelOnProgress(tokio_util::sync::CancellationToken);
    impl ProgressSink for CancelOnProgress {
        fn progress(&self, _: f64, _: Option<f64>, _: &str) {
            self.0.cancel();
        }
    }
    let mut h = harness().await;
    h.ctx.limits.wait_for_build_timeout = Duration::from_secs(30);
    h.ctx.progress = Some(Arc::new(CancelOnProgress(h.ctx.cancel.clone())));
    mount(&h, "GET", BUILD, build_in("running")).await;
    // Called directly: the registry would race the call against the token.
    let tool = h.registry.get("wait_for_build").unwrap().clone();
    let started = std::time::Instant::now();
    let output = tool.call(&h.ctx, build_args()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let result = output.value().unwrap();
    assert_eq!(result["finished"], false);
    assert_eq!(result["state"], "running");
    assert_eq!(result["error"], "the wait was cancelled");
    assert_eq!(h.requests().await.len(), 1);

    let error = tool.call(&h.ctx, build_args()).await.unwrap_err();
    assert_eq!(error.to_string(), "the wait was cancelled");
}

// --------------------------------------------------------------- create_build

#[tokio::test]
async fn create_build_maps_environment_and_metadata() {
    let h = harness().await;
    mount(
        &h,
        "POST",
        "/v2/organizations/acme/pipelines/app/builds",
        build_in("scheduled"),
    )
    .await;
    let build = h
        .ok(
            "create_build",
            json!({
                "org_slug": "acme", "pipeline_slug": "app", "commit": "HEAD", "branch": "main",
                "message": "Deploy", "ignore_branch_filters": true, "clean_checkout": true,
                "environment": [{"key": "DEPLOY_ENV", "value": "staging"}, {"key": "EMPTY", "value": ""}],
                "metadata": [{"key": "release", "value": "1.2"}],
                "author": {"name": "Sam Kim", "email": "sam@example.com"}
            }),
        )
        .await;
    assert_eq!(
        h.requests().await,
        ["POST /v2/organizations/acme/pipelines/app/builds"]
    );
    assert_eq!(
        h.last_body().await,
        json!({
            "commit": "HEAD", "branch": "main", "message": "Deploy",
            "author": {"name": "Sam Kim", "email": "sam@example.com"},
            "env": {"DEPLOY_ENV": "staging", "EMPTY": ""},
            "meta_data": {"release": "1.2"},
            "clean_checkout": true,
            "ignore_pipeline_branch_filters": true
        })
    );
    insta::assert_json_snapshot!(build);
}

#[tokio::test]
async fn create_build_minimal_body_and_errors() {
    let h = harness().await;
    mount(
        &h,
        "POST",
        "/v2/organizations/acme/pipelines/app/builds",
        build_in("scheduled"),
    )
    .await;
    let base = json!({"org_slug": "acme", "pipeline_slug": "app", "commit": "abc", "branch": "main", "message": "m"});
    h.ok("create_build", base.clone()).await;
    assert_eq!(
        h.last_body().await,
        json!({"commit": "abc", "branch": "main", "message": "m"})
    );

    let mut args = base.clone();
    args["environment"] = json!([{"key": "A", "value": "1"}, {"key": "A", "value": "2"}]);
    let error = h.err("create_build", args).await;
    assert_eq!(
        error,
        "invalid argument `environment`: key \"A\" appears more than once; give each key once"
    );
    let mut args = base.clone();
    args["metadata"] = json!([{"key": "a", "val": "1"}]);
    let error = h.err("create_build", args).await;
    assert!(
        error.starts_with("invalid argument `metadata[0].val`"),
        "{error}"
    );
    let mut args = base.clone();
    args["environment"] = json!({"A": "1"});
    let error = h.err("create_build", args).await;
    assert!(
        error.starts_with("invalid argument `environment`: invalid type: map"),
        "{error}"
    );
    let mut args = base.clone();
    args.as_object_mut().unwrap().remove("message");
    let error = h.err("create_build", args).await;
    assert_eq!(error, "invalid argument `message`: is required");
    assert_eq!(h.requests().await.len(), 1);

    let h = harness().await;
    mount(
        &h,
        "POST",
        "/v2/organizations/acme/pipelines/app/builds",
        json(422, "error_422_validation.json"),
    )
    .await;
    let error = h.err("create_build", base).await;
    assert!(
        error.starts_with("Could not get a new build created: POST /v2/organizations/acme/pipelines/app/builds: 422")
            && error.contains("fix the fields it names"),
        "{error}"
    );
}

// ------------------------------------------------------ cancel / rebuild build

#[tokio::test]
async fn cancel_build_returns_the_compact_build() {
    let h = harness().await;
    mount(&h, "PUT", &format!("{BUILD}/cancel"), build_in("canceling")).await;
    let build = h.ok("cancel_build", build_args()).await;
    assert_eq!(h.requests().await, [format!("PUT {BUILD}/cancel")]);
    insta::assert_json_snapshot!(build);

    let h = harness().await;
    mount(
        &h,
        "PUT",
        &format!("{BUILD}/cancel"),
        ResponseTemplate::new(422).set_body_string(
            "{\"message\":\"Build can't be canceled because it's already finished\"}",
        ),
    )
    .await;
    let error = h.err("cancel_build", build_args()).await;
    assert!(
        error.contains("422") && error.contains("already finished"),
        "{error}"
    );
}

#[tokio::test]
async fn rebuild_build_returns_the_new_build() {
    let h = harness().await;
    mount(
        &h,
        "PUT",
        &format!("{BUILD}/rebuild"),
        edited("build.json", |b| {
            b["number"] = json!(43);
            b["state"] = json!("scheduled");
            b["web_url"] = json!("https://buildkite.com/acme/app/builds/43");
        }),
    )
    .await;
    let build = h.ok("rebuild_build", build_args()).await;
    assert_eq!(h.requests().await, [format!("PUT {BUILD}/rebuild")]);
    assert_eq!(build["number"], 43);
    assert_eq!(build["rebuilt_from"], 42);
    insta::assert_json_snapshot!(build);

    let h = harness().await;
    mount(
        &h,
        "PUT",
        &format!("{BUILD}/rebuild"),
        json(403, "error_403_scope.json"),
    )
    .await;
    let error = h.err("rebuild_build", build_args()).await;
    assert!(
        error.contains("needs the token scope write_builds"),
        "{error}"
    );
}

// ------------------------------------------------------------------ list_jobs

#[tokio::test]
async fn list_jobs_filters_and_gives_a_cursor() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/jobs"),
        json(200, "jobs_page1.json"),
    )
    .await;
    let mut args = build_args();
    args["state"] = json!("failed, Broken,,passed");
    args["step_key"] = json!("build");
    args["group_key"] = json!("checks");
    args["include_retried_jobs"] = json!(false);
    args["per_page"] = json!(2);
    let page = h.ok("list_jobs", args).await;
    assert_eq!(
        h.requests().await,
        [format!(
            "GET {BUILD}/jobs?state%5B%5D=failed&state%5B%5D=broken&state%5B%5D=passed&step_key=build&group_key=checks&include_retried_jobs=false&per_page=2"
        )]
    );
    assert_eq!(page["next_cursor"], "eyJpZCI6Mn0");
    assert_eq!(page["has_more"], true);
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_jobs_detailed_next_page() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/jobs"),
        json(200, "jobs_page1.json"),
    )
    .await;
    let mut args = build_args();
    args["after"] = json!("eyJpZCI6Mn0");
    args["detail_level"] = json!("detailed");
    let page = h.ok("list_jobs", args).await;
    assert_eq!(
        h.requests().await,
        [format!("GET {BUILD}/jobs?after=eyJpZCI6Mn0")]
    );
    assert_eq!(
        page["items"][0]["agent"],
        json!({"id": "0b461f65-e7be-4c80-888a-ef11d81fd971", "name": "ci-1"})
    );
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_jobs_trimmed_to_the_budget_says_how_to_get_the_rest() {
    let mut h = harness().await;
    h.ctx.limits.response_budget = 900;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/jobs"),
        json(200, "jobs_page1.json"),
    )
    .await;
    let mut args = build_args();
    args["after"] = json!("c1");
    args["detail_level"] = json!("detailed");
    let page = h.ok("list_jobs", args).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["truncated"]["items_dropped"], 1);
    assert_eq!(page["truncated"]["next"]["per_page"], 1);
    assert_eq!(page["truncated"]["next"]["after"], "c1");
    assert!(
        page.get("next_cursor").is_none(),
        "the page's next_cursor would skip the dropped job"
    );
    assert_eq!(page["has_more"], true);
}

#[tokio::test]
async fn list_jobs_full_and_the_last_page() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/jobs"),
        json(200, "jobs_page2.json"),
    )
    .await;
    let mut args = build_args();
    args["detail_level"] = json!("full");
    args["include_agent"] = json!(true);
    let page = h.ok("list_jobs", args).await;
    assert_eq!(page["has_more"], false);
    assert!(page.get("next_cursor").is_none());
    let waiter = page["items"][0].as_object().unwrap();
    assert_eq!(waiter["type"], "waiter");
    assert_eq!(
        waiter["graphql_id"],
        fixture("jobs_page2.json")["items"][0]["graphql_id"]
    );
    assert!(waiter.values().all(|v| !v.is_null()));
}

#[tokio::test]
async fn list_jobs_errors() {
    let h = harness().await;
    let mut args = build_args();
    args["state"] = json!("failed,exploded");
    let error = h.err("list_jobs", args).await;
    assert!(
        error.starts_with(
            "invalid argument `state`: unknown job state \"exploded\"; give one or more of pending,"
        ) && error.contains("timed_out"),
        "{error}"
    );
    let mut args = build_args();
    args["after"] = json!("a");
    args["before"] = json!("b");
    let error = h.err("list_jobs", args).await;
    assert!(error.starts_with("invalid argument `before`"), "{error}");
    let mut args = build_args();
    args["detail_level"] = json!("everything");
    let error = h.err("list_jobs", args).await;
    assert!(error.contains("`detail_level`: unknown value"), "{error}");
    assert!(h.requests().await.is_empty());

    mount(
        &h,
        "GET",
        &format!("{BUILD}/jobs"),
        json(429, "error_429.json").insert_header("retry-after", "0"),
    )
    .await;
    let error = h.err("list_jobs", build_args()).await;
    assert!(
        error.starts_with("Could not get the build's jobs") && error.contains("429"),
        "{error}"
    );
}

// -------------------------------------------------------------------- get_job

#[tokio::test]
async fn get_job_within_its_build() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/jobs/{JOB_ID}"),
        json(200, "job.json"),
    )
    .await;
    let mut args = job_args();
    args["build_number"] = json!("#42");
    let job = h.ok("get_job", args).await;
    assert_eq!(h.requests().await, [format!("GET {BUILD}/jobs/{JOB_ID}")]);
    assert_eq!(
        job["agent"],
        json!({"id": "0b461f65-e7be-4c80-888a-ef11d81fd971", "name": "ci-1"})
    );
    insta::assert_json_snapshot!(job);
}

#[tokio::test]
async fn get_job_by_id_alone() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        &format!("/v2/organizations/acme/jobs/{JOB_ID}"),
        json(200, "job.json"),
    )
    .await;
    let job = h
        .ok(
            "get_job",
            json!({"org_slug": "acme", "job_id": JOB_ID, "detail_level": "summary", "include_agent": true, "pipeline_slug": ""}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [format!("GET /v2/organizations/acme/jobs/{JOB_ID}")]
    );
    insta::assert_json_snapshot!(job);
}

#[tokio::test]
async fn get_job_errors() {
    let h = harness().await;
    let error = h
        .err(
            "get_job",
            json!({"org_slug": "acme", "job_id": JOB_ID, "pipeline_slug": "app"}),
        )
        .await;
    assert!(
        error.starts_with("invalid argument `build_number`: is required with pipeline_slug"),
        "{error}"
    );
    let error = h
        .err(
            "get_job",
            json!({"org_slug": "acme", "job_id": JOB_ID, "build_number": "42"}),
        )
        .await;
    assert!(
        error.starts_with("invalid argument `pipeline_slug`: is required with build_number"),
        "{error}"
    );
    assert!(h.requests().await.is_empty());
    mount(
        &h,
        "GET",
        &format!("/v2/organizations/acme/jobs/{JOB_ID}"),
        json(404, "error_404_job.json"),
    )
    .await;
    let error = h
        .err("get_job", json!({"org_slug": "acme", "job_id": JOB_ID}))
        .await;
    assert!(
        error.starts_with("Could not get the job:")
            && error.contains("404 Not Found: No job found"),
        "{error}"
    );
}

// ------------------------------------------------------- unblock / retry job

#[tokio::test]
async fn unblock_job_sends_the_fields() {
    let h = harness().await;
    mount(
        &h,
        "PUT",
        &format!("{BUILD}/jobs/{JOB_ID}/unblock"),
        json(200, "job_unblocked.json"),
    )
    .await;
    let mut args = job_args();
    args["fields"] = json!({"release-name": "v1.2", "notes": ""});
    let job = h.ok("unblock_job", args).await;
    assert_eq!(
        h.requests().await,
        [format!("PUT {BUILD}/jobs/{JOB_ID}/unblock")]
    );
    assert_eq!(
        h.last_body().await,
        json!({"fields": {"notes": "", "release-name": "v1.2"}})
    );
    assert_eq!(job["state"], "unblocked");
    insta::assert_json_snapshot!(job);

    h.ok("unblock_job", job_args()).await;
    assert_eq!(h.last_body().await, json!({}));

    let mut args = job_args();
    args["fields"] = json!({"count": 3});
    let error = h.err("unblock_job", args).await;
    assert!(
        error.starts_with("invalid argument `fields.count`"),
        "{error}"
    );
}

#[tokio::test]
async fn unblock_job_that_is_not_blocked_is_a_clear_error() {
    let h = harness().await;
    mount(
        &h,
        "PUT",
        &format!("{BUILD}/jobs/{JOB_ID}/unblock"),
        ResponseTemplate::new(422).set_body_string("{\"message\":\"This job can't be unblocked\"}"),
    )
    .await;
    let error = h.err("unblock_job", job_args()).await;
    assert!(
        error.starts_with("Could not get the job unblocked")
            && error.contains("422")
            && error.contains("can't be unblocked"),
        "{error}"
    );
}

#[tokio::test]
async fn retry_job_returns_the_new_job() {
    let h = harness().await;
    mount(
        &h,
        "PUT",
        &format!("{BUILD}/jobs/{JOB_ID}/retry"),
        json(200, "job_retried.json"),
    )
    .await;
    let job = h.ok("retry_job", job_args()).await;
    assert_eq!(
        h.requests().await,
        [format!("PUT {BUILD}/jobs/{JOB_ID}/retry")]
    );
    assert_eq!(job["retry_of"], JOB_ID);
    assert_ne!(job["id"], JOB_ID);
    insta::assert_json_snapshot!(job);

    let h = harness().await;
    mount(
        &h,
        "PUT",
        &format!("{BUILD}/jobs/{JOB_ID}/retry"),
        ResponseTemplate::new(422)
            .set_body_string("{\"message\":\"Only failed jobs can be retried\"}"),
    )
    .await;
    let error = h.err("retry_job", job_args()).await;
    assert!(
        error.contains("422") && error.contains("Only failed jobs"),
        "{error}"
    );
    let mut args = job_args();
    args["job_id"] = json!(" ");
    let error = h.err("retry_job", args).await;
    assert_eq!(error, "invalid argument `job_id`: must not be empty");
}

// ---------------------------------------------------------------- get_job_env

#[tokio::test]
async fn get_job_env_redacts_secret_variables() {
    let h = harness().await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/jobs/{JOB_ID}/env"),
        json(200, "job_env.json"),
    )
    .await;
    let env = h.ok("get_job_env", job_args()).await;
    assert_eq!(
        h.requests().await,
        [format!("GET {BUILD}/jobs/{JOB_ID}/env")]
    );
    assert_eq!(env["env"]["NPM_TOKEN"], "[REDACTED]");
    assert_eq!(env["redacted"], 1);
    insta::assert_json_snapshot!(env);
}

#[tokio::test]
async fn get_job_env_without_redaction_and_errors() {
    let mut h = harness().await;
    h.ctx.limits.redact_secrets = false;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/jobs/{JOB_ID}/env"),
        json(200, "job_env.json"),
    )
    .await;
    let env = h.ok("get_job_env", job_args()).await;
    assert_eq!(env["env"]["NPM_TOKEN"], "npm_abcdefghijklmnop");
    assert!(env.get("redacted").is_none());

    let h = harness().await;
    mount(
        &h,
        "GET",
        &format!("{BUILD}/jobs/{JOB_ID}/env"),
        json(403, "error_403_scope.json"),
    )
    .await;
    let error = h.err("get_job_env", job_args()).await;
    assert!(
        error.contains("needs the token scope read_job_env"),
        "{error}"
    );
}

// ---------------------------------------------------------------- resolve_url

#[tokio::test]
async fn resolve_url_gives_ids_and_the_next_call_without_calling_the_api() {
    let h = harness().await;
    let job = h
        .ok(
            "resolve_url",
            json!({"url": format!("https://buildkite.com/acme/app/builds/42#{JOB_ID}")}),
        )
        .await;
    insta::assert_json_snapshot!(job);
    let run = h
        .ok(
            "resolve_url",
            json!({"url": "https://buildkite.com/organizations/acme/analytics/suites/rspec/runs/64374307-12ab-4b13-a3f3-6a408f644ea2"}),
        )
        .await;
    assert_eq!(run["kind"], "test_run");
    assert_eq!(run["next"]["tool"], "get_test_run");
    assert!(h.requests().await.is_empty());
}

#[tokio::test]
async fn resolve_url_explains_what_it_understands() {
    let h = harness().await;
    let error = h
        .err(
            "resolve_url",
            json!({"url": "https://github.com/acme/app/pull/1"}),
        )
        .await;
    assert!(
        error.starts_with("invalid argument `url`: github.com is not a Buildkite host")
            && error.contains("understood forms: https://buildkite.com/<org>,"),
        "{error}"
    );
    let error = h.err("resolve_url", json!({"url": ""})).await;
    assert_eq!(error, "invalid argument `url`: must not be empty");
}

// -------------------------------------------------------------------- schemas

#[test]
fn schemas_use_enums_and_typed_arrays() {
    let registry = bk_tools::Registry::new();
    let schema = |name: &str| registry.get(name).unwrap().input_schema().clone();
    let list_builds = schema("list_builds");
    let states = list_builds["properties"]["state"]["enum"]
        .as_array()
        .unwrap();
    assert!(states.contains(&json!("not_run")) && !states.contains(&Value::Null));
    assert_eq!(list_builds["properties"]["state"]["type"], "string");
    let create = schema("create_build");
    let environment = &create["properties"]["environment"];
    assert_eq!(environment["type"], "array");
    assert_eq!(environment["items"]["required"], json!(["key", "value"]));
    assert_eq!(environment["items"]["additionalProperties"], false);
    assert_eq!(
        create["required"],
        json!(["org_slug", "pipeline_slug", "commit", "branch", "message"])
    );
    let unblock = schema("unblock_job");
    assert_eq!(unblock["properties"]["fields"]["type"], "object");
    assert_eq!(
        unblock["properties"]["fields"]["additionalProperties"]["type"],
        "string"
    );
    let get_build = schema("get_build");
    assert_eq!(get_build["properties"]["job_state"]["type"], "string");
    assert_eq!(schema("resolve_url")["required"], json!(["url"]));
}

#[tokio::test]
async fn wait_for_build_bounds_even_its_first_poll() {
    let h = harness().await;
    Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(BUILD))
        .respond_with(json(200, "build.json").set_delay(std::time::Duration::from_secs(30)))
        .mount(&h.server)
        .await;
    let started = std::time::Instant::now();
    let result = h.call("wait_for_build", build_args()).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(result.is_error, "{}", result.text);
    // Cut by the wait limit, or by the client's retry budget (2 s here),
    // whichever ends first: either way the error says why.
    assert!(
        result.text.contains("did not answer") || result.text.contains("timed out"),
        "{}",
        result.text
    );
}
