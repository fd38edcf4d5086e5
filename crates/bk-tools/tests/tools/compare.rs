//! `compare_builds`: a failed build on a feature branch against the last
//! passed build of that branch, with job logs and Test Engine failures.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{Harness, authorized, fixture, harness};

const PIPELINE: &str = "/v2/organizations/acme/pipelines/web";

/// A job of `kind` "script" with a step key (or none), state and id.
fn job(id: &str, key: Option<&str>, name: &str, state: &str) -> Value {
    let mut job = fixture("job.json");
    job["id"] = json!(id);
    job["step_key"] = json!(key);
    job["name"] = json!(name);
    job["label"] = json!(name);
    job["state"] = json!(state);
    job
}

/// A build numbered `number` on `branch` in `state`, with `jobs` and
/// Test Engine runs `runs` (run id, suite slug).
fn build(number: u64, branch: &str, state: &str, jobs: Vec<Value>, runs: &[(&str, &str)]) -> Value {
    let mut build = fixture("build.json");
    build["id"] = json!(format!("0190aaaa-0000-4000-8000-00000000{number:04}"));
    build["number"] = json!(number);
    build["branch"] = json!(branch);
    build["state"] = json!(state);
    build["commit"] = json!(format!("{number:040x}"));
    build["message"] = json!(format!("Change number {number}\n\nDetails"));
    build["jobs"] = Value::Array(jobs);
    build["test_engine"] = json!({
        "runs": runs.iter().map(|(id, suite)| json!({"id": id, "suite": {"id": "s", "slug": suite}})).collect::<Vec<_>>()
    });
    build
}

async fn serve_build(h: &Harness, build: &Value) {
    let number = build["number"].as_u64().unwrap();
    Mock::given(method("GET"))
        .and(path(format!("{PIPELINE}/builds/{number}")))
        .and(query_param("include_test_engine", "true"))
        .and(query_param("include_retried_jobs", "true"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(build))
        .mount(&h.server)
        .await;
}

/// Serves a job's log. Only the log: the job's state comes with its build.
async fn serve_log(h: &Harness, number: u64, job_id: &str, log: &str) {
    Mock::given(method("GET"))
        .and(path(format!(
            "{PIPELINE}/builds/{number}/jobs/{job_id}/log"
        )))
        .and(authorized())
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(log.as_bytes().to_vec(), "text/plain"),
        )
        .mount(&h.server)
        .await;
}

async fn serve_failures(h: &Harness, suite: &str, run: &str, failures: Value) {
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/analytics/organizations/acme/suites/{suite}/runs/{run}/failed_executions"
        )))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(failures))
        .mount(&h.server)
        .await;
}

fn failure(test_id: &str, name: &str, reason: &str) -> Value {
    json!({"execution_id": format!("e-{test_id}"), "test_id": test_id, "test_name": name,
           "failure_reason": reason, "location": format!("./spec/{test_id}_spec.rb:10")})
}

/// A failed build 1234 on feature/login: `test` failed (it passed in the
/// base 1230), a new `e2e` job failed, `lint` passed in both.
async fn scenario(h: &Harness) {
    let failed = build(
        1234,
        "feature/login",
        "failed",
        vec![
            job(
                "b0000000-0000-4000-8000-000000000001",
                Some("lint"),
                "Lint",
                "passed",
            ),
            job(
                "b0000000-0000-4000-8000-000000000002",
                Some("test"),
                "Unit tests",
                "failed",
            ),
            job(
                "b0000000-0000-4000-8000-000000000003",
                None,
                "E2E",
                "failed",
            ),
        ],
        &[("run-new", "rspec")],
    );
    let base = build(
        1230,
        "feature/login",
        "passed",
        vec![
            job(
                "a0000000-0000-4000-8000-000000000001",
                Some("lint"),
                "Lint",
                "passed",
            ),
            job(
                "a0000000-0000-4000-8000-000000000002",
                Some("test"),
                "Unit tests",
                "passed",
            ),
        ],
        &[("run-old", "rspec")],
    );
    serve_build(h, &failed).await;
    serve_build(h, &base).await;
    // The branch's passed builds, newest first: 1236 is newer and skipped.
    let passed = json!([
        build(1236, "feature/login", "passed", vec![], &[]),
        build(1230, "feature/login", "passed", vec![], &[]),
    ]);
    Mock::given(method("GET"))
        .and(path(format!("{PIPELINE}/builds")))
        .and(query_param("state[]", "passed"))
        .respond_with(ResponseTemplate::new(200).set_body_json(passed))
        .mount(&h.server)
        .await;
    let all: Vec<Value> = (1229..=1236)
        .rev()
        .map(|n| {
            build(
                n,
                "feature/login",
                if n == 1234 { "failed" } else { "passed" },
                vec![],
                &[],
            )
        })
        .collect();
    Mock::given(method("GET"))
        .and(path(format!("{PIPELINE}/builds")))
        .and(query_param("per_page", "30"))
        .respond_with(ResponseTemplate::new(200).set_body_json(Value::Array(all)))
        .mount(&h.server)
        .await;
    serve_log(
        h,
        1234,
        "b0000000-0000-4000-8000-000000000002",
        "\x1b_bk;t=1745322209921\x07Warning: connect ECONNREFUSED 127.0.0.1:5432, retrying in 2s\n\
         \x1b_bk;t=1745322209922\x07Error: cache miss at 2025-04-22T10:01:02Z for /tmp/cache-91ab/x\n\
         \x1b_bk;t=1745322209923\x07\x1b[31mFAILED\x1b[0m spec/login_spec.rb:14 expected 302, got 500\n\
         \x1b_bk;t=1745322209924\x07🚨 Error: The command exited with status 1\n",
    )
    .await;
    serve_log(
        h,
        1230,
        "a0000000-0000-4000-8000-000000000002",
        "\x1b_bk;t=1745000000000\x07Error: cache miss at 2025-04-18T08:00:00Z for /tmp/cache-77cd/x\n\
         \x1b_bk;t=1745000000001\x07all 120 examples passed, 0 failures\n",
    )
    .await;
    serve_log(
        h,
        1234,
        "b0000000-0000-4000-8000-000000000003",
        "\x1b_bk;t=1745322209990\x07panic: runtime error: nil map\n",
    )
    .await;
    serve_failures(
        h,
        "rspec",
        "run-new",
        json!([
            failure("t-login", "Login redirects", "expected 302, got 500"),
            failure("t-flaky", "Search is fast", "timed out after 5s"),
        ]),
    )
    .await;
    serve_failures(
        h,
        "rspec",
        "run-old",
        json!([failure("t-flaky", "Search is fast", "timed out after 6s")]),
    )
    .await;
}

#[tokio::test]
async fn compare_builds_finds_the_base_and_what_is_new() {
    let h = harness().await;
    scenario(&h).await;
    let out = h
        .ok(
            "compare_builds",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234"}),
        )
        .await;
    assert_eq!(out["build"]["number"], 1234);
    assert_eq!(out["base"]["number"], 1230);
    assert_eq!(
        out["base_reason"],
        "the most recent passed build on branch feature/login before this one"
    );
    let between: Vec<u64> = out["builds_between"]["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["number"].as_u64().unwrap())
        .collect();
    assert_eq!(between, [1234, 1233, 1232, 1231]);
    assert!(out["builds_between"].get("truncated").is_none());

    let changes = out["job_changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[0]["step_key"], "test");
    assert_eq!(
        (
            changes[0]["base_state"].as_str(),
            changes[0]["state"].as_str()
        ),
        (Some("passed"), Some("failed"))
    );
    assert_eq!(changes[1]["name"], "E2E");
    assert_eq!(changes[1]["change"], "not in the base build");

    let errors = out["new_error_lines"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    let unit = &errors[0];
    assert_eq!(unit["base_job_id"], "a0000000-0000-4000-8000-000000000002");
    let lines: Vec<&str> = unit["new_error_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["c"].as_str().unwrap())
        .collect();
    // The cache-miss line is in the base too (other time, other temp dir);
    // the retried connection is a warning, not an error line.
    assert_eq!(
        lines,
        [
            "FAILED spec/login_spec.rb:14 expected 302, got 500",
            "🚨 Error: The command exited with status 1"
        ]
    );
    assert_eq!(errors[1]["name"], "E2E");
    assert!(
        errors[1]["note"]
            .as_str()
            .unwrap()
            .contains("no matching job")
    );

    let tests = &out["tests"];
    assert_eq!(tests["new_failures"][0]["name"], "Login redirects");
    assert_eq!(tests["new_failures"].as_array().unwrap().len(), 1);
    assert_eq!(tests["already_failing"][0]["name"], "Search is fast");

    // Cold: both builds (with their jobs, so each log is one request), the
    // base search and the builds between, both runs' failures, and the logs
    // of the jobs that failed and of their base jobs; not the passed jobs'.
    let build = |number| {
        format!("GET {PIPELINE}/builds/{number}?include_retried_jobs=true&include_test_engine=true")
    };
    let log = |number, job| format!("GET {PIPELINE}/builds/{number}/jobs/{job}/log");
    let failures = |run| {
        format!(
            "GET /v2/analytics/organizations/acme/suites/rspec/runs/{run}/failed_executions?page=1&per_page=100"
        )
    };
    let warm = vec![
        build(1234),
        format!(
            "GET {PIPELINE}/builds?branch%5B%5D=feature%2Flogin&state%5B%5D=passed&exclude_jobs=true&exclude_pipeline=true&per_page=20"
        ),
        build(1230),
        format!(
            "GET {PIPELINE}/builds?branch%5B%5D=feature%2Flogin&exclude_jobs=true&exclude_pipeline=true&per_page=30"
        ),
        failures("run-new"),
        failures("run-old"),
    ];
    let mut cold = warm.clone();
    cold.extend([
        log(1234, "b0000000-0000-4000-8000-000000000002"),
        log(1230, "a0000000-0000-4000-8000-000000000002"),
        log(1234, "b0000000-0000-4000-8000-000000000003"),
    ]);
    let requests = h.requests().await;
    assert_eq!(
        requests.first(),
        Some(&build(1234)),
        "the build comes first"
    );
    assert_eq!(sorted(requests), sorted(cold.clone()));

    // Warm, right after: the same answer, the logs from the cache.
    let again = h
        .ok(
            "compare_builds",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234"}),
        )
        .await;
    assert_eq!(again, out);
    let requests = h.requests().await;
    assert_eq!(requests[cold.len()], build(1234), "the build comes first");
    assert_eq!(sorted(requests[cold.len()..].to_vec()), sorted(warm));
}

fn sorted(mut requests: Vec<String>) -> Vec<String> {
    requests.sort();
    requests
}

#[tokio::test]
async fn compare_builds_takes_a_given_base_and_explains_a_missing_one() {
    let h = harness().await;
    scenario(&h).await;
    let out = h
        .ok(
            "compare_builds",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234", "base_build_number": "1230", "max_jobs": 1}),
        )
        .await;
    assert_eq!(out["base_reason"], "build 1230 was given as the base");
    assert_eq!(out["new_error_lines"].as_array().unwrap().len(), 1);
    assert!(
        !h.requests()
            .await
            .iter()
            .any(|r| r.contains("state%5B%5D=passed"))
    );

    let err = h
        .err("compare_builds", json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234", "max_jobs": 0}))
        .await;
    assert!(err.contains("max_jobs"), "{err}");
}

#[tokio::test]
async fn compare_builds_falls_back_to_the_default_branch_or_says_what_to_do() {
    let h = harness().await;
    let failed = build(
        77,
        "feature/new",
        "failed",
        vec![job(
            "c0000000-0000-4000-8000-000000000001",
            Some("test"),
            "Tests",
            "failed",
        )],
        &[],
    );
    serve_build(&h, &failed).await;
    // No passed build on the feature branch; the default branch has one.
    Mock::given(method("GET"))
        .and(path(format!("{PIPELINE}/builds")))
        .and(query_param("branch[]", "feature/new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&h.server)
        .await;
    // The build's pipeline reference has no default branch: it is read.
    assert!(failed["pipeline"].get("default_branch").is_none());
    Mock::given(method("GET"))
        .and(path(PIPELINE))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pipeline.json")))
        .mount(&h.server)
        .await;
    let default_branch = fixture("pipeline.json")["default_branch"]
        .as_str()
        .unwrap()
        .to_owned();
    Mock::given(method("GET"))
        .and(path(format!("{PIPELINE}/builds")))
        .and(query_param("branch[]", default_branch.as_str()))
        .and(query_param("per_page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([build(
            70,
            &default_branch,
            "passed",
            vec![],
            &[]
        )])))
        .mount(&h.server)
        .await;
    let base = build(
        70,
        &default_branch,
        "passed",
        vec![job(
            "c0000000-0000-4000-8000-000000000070",
            Some("test"),
            "Tests",
            "passed",
        )],
        &[],
    );
    serve_build(&h, &base).await;
    serve_log(
        &h,
        77,
        "c0000000-0000-4000-8000-000000000001",
        "error: boom\n",
    )
    .await;
    serve_log(&h, 70, "c0000000-0000-4000-8000-000000000070", "ok\n").await;
    let out = h
        .ok(
            "compare_builds",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "77"}),
        )
        .await;
    assert_eq!(out["base"]["number"], 70);
    assert_eq!(
        out["base_reason"],
        format!("the latest passed build on the default branch {default_branch}")
    );
    assert!(out.get("builds_between").is_none(), "different branches");
    assert_eq!(
        out["new_error_lines"][0]["new_error_lines"][0]["c"],
        "error: boom"
    );

    // Nothing passed anywhere: the error says how to go on.
    let h = harness().await;
    serve_build(&h, &failed).await;
    Mock::given(method("GET"))
        .and(path(PIPELINE))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("pipeline.json")))
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{PIPELINE}/builds")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&h.server)
        .await;
    let err = h
        .err(
            "compare_builds",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "77"}),
        )
        .await;
    assert!(
        err.contains("no passed build") && err.contains("base_build_number"),
        "{err}"
    );
}
