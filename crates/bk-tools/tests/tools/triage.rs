//! `triage_build_failures`: one verdict per failed job and test, against
//! the default branch's recent builds and Test Engine.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{Harness, authorized, fixture, harness, harness_with};

const PIPELINE: &str = "/v2/organizations/acme/pipelines/web";
const BUILD_UUID: &str = "0190aaaa-0000-4000-8000-000000000500";

fn job(id: &str, key: &str, state: &str) -> Value {
    let mut job = fixture("job.json");
    job["id"] = json!(id);
    job["step_key"] = json!(key);
    job["name"] = json!(format!(":{key}: {key}"));
    job["state"] = json!(state);
    job
}

fn build(number: u64, branch: &str, state: &str, jobs: Vec<Value>) -> Value {
    let mut build = fixture("build.json");
    build["id"] = json!(format!("0190aaaa-0000-4000-8000-000000000{number:03}"));
    build["number"] = json!(number);
    build["branch"] = json!(branch);
    build["state"] = json!(state);
    build["web_url"] = json!(format!("https://buildkite.com/acme/web/builds/{number}"));
    build["jobs"] = Value::Array(jobs);
    build
}

async fn mock(h: &Harness, mock: wiremock::MockBuilder, body: Value) {
    mock.and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&h.server)
        .await;
}

fn failure(test_id: &str, name: &str) -> Value {
    json!({"execution_id": format!("e-{test_id}"), "test_id": test_id, "test_name": name,
           "failure_reason": "expected true, got false", "location": format!("./spec/{test_id}_spec.rb:3"),
           "test_execution_url": format!("https://buildkite.com/organizations/acme/analytics/suites/rspec/tests/{test_id}?execution_id=e-{test_id}")})
}

fn test(id: &str, reliability: f64, passed: u64) -> Value {
    json!({"id": id, "name": id, "reliability": reliability,
           "executions_count_by_result": {"passed": passed, "failed": 1}})
}

pub(crate) async fn scenario(h: &Harness) {
    // Build 500 on feature/a: lint and unit failed, e2e failed then passed
    // on retry, deploy failed (it alternates on main). Its jobs, retried
    // attempts included, come with it.
    let mut flaky_attempt = job("j-e2e-1", "e2e", "failed");
    flaky_attempt["retried"] = json!(true);
    flaky_attempt["retried_in_job_id"] = json!("j-e2e-2");
    let mut retry = job("j-e2e-2", "e2e", "passed");
    retry["retries_count"] = json!(1);
    retry["retry_type"] = json!("automatic");
    retry["retry_source"] = json!({"job_id": "j-e2e-1", "retry_type": "automatic"});
    let mut red = build(
        500,
        "feature/a",
        "failed",
        vec![
            job("j-lint", "lint", "failed"),
            job("j-unit", "unit", "failed"),
            flaky_attempt,
            retry,
            job("j-deploy", "deploy", "failed"),
        ],
    );
    red["id"] = json!(BUILD_UUID);
    red["test_engine"] =
        json!({"runs": [{"id": "run-500", "suite": {"id": "s", "slug": "rspec"}}]});
    mock(
        h,
        Mock::given(method("GET"))
            .and(path(format!("{PIPELINE}/builds/500")))
            .and(query_param("include_retried_jobs", "true")),
        red,
    )
    .await;
    mock(
        h,
        Mock::given(method("GET")).and(path(PIPELINE)),
        fixture("pipeline.json"),
    )
    .await;
    // main's history, newest first: unit fails since 498; deploy alternates.
    let history: Vec<Value> = (490..=499)
        .rev()
        .map(|n| {
            let unit = if n >= 498 { "failed" } else { "passed" };
            let deploy = if n % 3 == 0 { "failed" } else { "passed" };
            build(
                n,
                "main",
                if unit == "failed" { "failed" } else { "passed" },
                vec![
                    job(&format!("h-lint-{n}"), "lint", "passed"),
                    job(&format!("h-unit-{n}"), "unit", unit),
                    job(&format!("h-deploy-{n}"), "deploy", deploy),
                ],
            )
        })
        .collect();
    mock(
        h,
        Mock::given(method("GET"))
            .and(path(format!("{PIPELINE}/builds")))
            .and(query_param("branch[]", "main"))
            .and(query_param("per_page", "11")),
        Value::Array(history.clone()),
    )
    .await;
    mock(
        h,
        Mock::given(method("GET"))
            .and(path(format!("{PIPELINE}/builds")))
            .and(query_param("branch[]", "main"))
            .and(query_param("per_page", "2")),
        Value::Array(history[..2].to_vec()),
    )
    .await;
    let mut latest = build(499, "main", "failed", vec![]);
    latest["test_engine"] =
        json!({"runs": [{"id": "run-499", "suite": {"id": "s", "slug": "rspec"}}]});
    mock(
        h,
        Mock::given(method("GET")).and(path(format!("{PIPELINE}/builds/499"))),
        latest,
    )
    .await;
    let runs = "/v2/analytics/organizations/acme/suites/rspec/runs";
    mock(
        h,
        Mock::given(method("GET")).and(path(format!("{runs}/run-500/failed_executions"))),
        json!([
            failure("t-new", "Checkout works"),
            failure("t-old", "Search sorts"),
            failure("t-flaky", "Upload retries")
        ]),
    )
    .await;
    mock(
        h,
        Mock::given(method("GET")).and(path(format!("{runs}/run-499/failed_executions"))),
        json!([failure("t-old", "Search sorts")]),
    )
    .await;
    mock(
        h,
        Mock::given(method("GET")).and(path(format!(
            "/v2/analytics/organizations/acme/builds/{BUILD_UUID}/tests"
        ))),
        json!([
            test("t-new", 1.0, 0),
            test("t-old", 1.0, 0),
            test("t-flaky", 0.92, 1)
        ]),
    )
    .await;
}

#[tokio::test]
async fn every_failure_gets_a_verdict_with_evidence() {
    let h = harness().await;
    scenario(&h).await;
    let out = h
        .ok(
            "triage_build_failures",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "500"}),
        )
        .await;
    assert_eq!(out["default_branch"], "main");
    assert_eq!(out["history"].as_array().unwrap().len(), 10);
    let verdicts: Vec<(String, String, String)> = out["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["step_key"]
                    .as_str()
                    .or(v["name"].as_str())
                    .unwrap()
                    .to_owned(),
                v["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |kind: &str, name: &str, verdict: &str| {
        (kind.to_owned(), name.to_owned(), verdict.to_owned())
    };
    assert_eq!(
        verdicts,
        [
            expect("job", "e2e", "flaky"),
            expect("job", "lint", "new"),
            expect("job", "unit", "pre-existing"),
            expect("job", "deploy", "flaky"),
            expect("test", "Checkout works", "new"),
            expect("test", "Search sorts", "pre-existing"),
            expect("test", "Upload retries", "flaky"),
        ]
    );
    assert_eq!(
        out["counts"],
        json!({"new": 2, "pre-existing": 2, "flaky": 3})
    );
    let by_key = |key: &str| {
        out["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["step_key"] == key || v["name"] == key)
            .unwrap()
            .clone()
    };
    let unit = by_key("unit");
    assert!(
        unit["recommendation"]
            .as_str()
            .unwrap()
            .contains("since build #498"),
        "{unit}"
    );
    assert_eq!(unit["evidence"][0]["build_number"], 499);
    assert_eq!(
        unit["evidence"][0]["web_url"],
        "https://buildkite.com/acme/web/builds/499"
    );
    assert!(
        by_key("deploy")["why"]
            .as_str()
            .unwrap()
            .contains("failed in 3 and passed in 7")
    );
    assert!(
        by_key("Upload retries")["why"]
            .as_str()
            .unwrap()
            .contains("92%")
    );
    assert_eq!(by_key("Search sorts")["evidence"][0]["build_number"], 499);
    for verdict in out["verdicts"].as_array().unwrap() {
        assert!(
            !verdict["recommendation"].as_str().unwrap().is_empty(),
            "{verdict}"
        );
    }
    // Bounded calls: the build comes with its jobs (retried attempts
    // included, for flaky jobs), then its pipeline (for the default branch);
    // then, together, the default branch's history in one list, and the
    // tests: this build's failures and tests, and the default branch's
    // latest build's failures; and since a job was retried, the failed
    // tests of each job that stayed failed. No job list, no job and no log
    // is read.
    let requests = h.requests().await;
    let analytics = "/v2/analytics/organizations/acme";
    let main = format!("GET {PIPELINE}/builds?branch%5B%5D=main&state%5B%5D=finished");
    assert_eq!(
        requests[..2],
        [
            format!("GET {PIPELINE}/builds/500?include_retried_jobs=true&include_test_engine=true"),
            format!("GET {PIPELINE}"),
        ]
    );
    let mut rest = requests[2..].to_vec();
    rest.sort();
    let mut expected = vec![
        format!("{main}&exclude_pipeline=true&per_page=11"),
        format!("GET {analytics}/suites/rspec/runs/run-500/failed_executions?page=1&per_page=100"),
        format!("GET {analytics}/builds/{BUILD_UUID}/tests?per_page=100"),
        // e2e was retried: the tests of each job that stayed failed.
        format!(
            "GET {analytics}/builds/{BUILD_UUID}/tests?tags=build.job_id%3Aj-lint%2Cresult%3A%5Efailed&per_page=100"
        ),
        format!(
            "GET {analytics}/builds/{BUILD_UUID}/tests?tags=build.job_id%3Aj-unit%2Cresult%3A%5Efailed&per_page=100"
        ),
        format!(
            "GET {analytics}/builds/{BUILD_UUID}/tests?tags=build.job_id%3Aj-deploy%2Cresult%3A%5Efailed&per_page=100"
        ),
        format!("{main}&exclude_jobs=true&exclude_pipeline=true&per_page=2"),
        format!(
            "GET {PIPELINE}/builds/499?exclude_jobs=true&exclude_pipeline=true&include_test_engine=true"
        ),
        format!("GET {analytics}/suites/rspec/runs/run-499/failed_executions?page=1&per_page=100"),
    ];
    expected.sort();
    assert_eq!(rest, expected, "{requests:#?}");
}

/// With the read cache on (the server's default): a triage repeated at
/// once sends nothing; after the ordinary TTL, the finished build's Test
/// Engine results are settled reads and are not sent again, while the
/// build, the pipeline and the default branch's history are.
#[tokio::test]
async fn a_repeated_triage_sends_only_what_may_have_changed() {
    // A TTL long enough that a loaded machine still repeats within it.
    let ttl = Duration::from_secs(3);
    let h = harness_with(bk_logs::EngineOptions::default(), ttl).await;
    scenario(&h).await;
    let args = json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "500"});
    let first = h.ok("triage_build_failures", args.clone()).await;
    let cold = h.requests().await.len();
    assert_eq!(cold, 11, "{:#?}", h.requests().await);

    let again = h.call("triage_build_failures", args.clone()).await;
    assert_eq!(
        again.api_requests, 0,
        "at once: everything from the read cache"
    );
    assert_eq!(serde_json::from_str::<Value>(&again.text).unwrap(), first);

    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    h.ok("triage_build_failures", args).await;
    let mut later = h.requests().await[cold..].to_vec();
    later.sort();
    let main = format!("GET {PIPELINE}/builds?branch%5B%5D=main&state%5B%5D=finished");
    let mut expected = vec![
        format!("GET {PIPELINE}/builds/500?include_retried_jobs=true&include_test_engine=true"),
        format!("GET {PIPELINE}"),
        format!("{main}&exclude_pipeline=true&per_page=11"),
        format!("{main}&exclude_jobs=true&exclude_pipeline=true&per_page=2"),
        format!(
            "GET {PIPELINE}/builds/499?exclude_jobs=true&exclude_pipeline=true&include_test_engine=true"
        ),
        "GET /v2/analytics/organizations/acme/suites/rspec/runs/run-499/failed_executions?page=1&per_page=100".to_owned(),
    ];
    expected.sort();
    assert_eq!(later, expected);
}

/// When the rate limit stops the Test Engine reads, the triage still gives
/// the jobs' verdicts, and says the limit cut it short and when to retry.
#[tokio::test]
async fn a_rate_limit_mid_triage_gives_the_job_verdicts_and_when_to_retry() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/analytics/organizations/acme/builds/{BUILD_UUID}/tests"
        )))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("ratelimit-limit", "200")
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", "30")
                .set_body_json(json!({"message": "You have exceeded your API rate limit"})),
        )
        .with_priority(1)
        .mount(&h.server)
        .await;
    scenario(&h).await;
    let out = h
        .ok(
            "triage_build_failures",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "500"}),
        )
        .await;
    assert!(
        out["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["kind"] == "job"),
        "{out}"
    );
    assert!(out["warnings"].to_string().contains("rate limit"), "{out}");
    let retry = out["rate_limited"]["retry_after_seconds"]
        .as_u64()
        .unwrap_or_default();
    assert!((25..=30).contains(&retry), "{out}");
}

#[tokio::test]
async fn history_is_bounded_and_checked() {
    let h = harness().await;
    for bad in [json!(0), json!(31), json!("ten")] {
        let err = h
            .err(
                "triage_build_failures",
                json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "500", "history_builds": bad}),
            )
            .await;
        assert!(err.contains("history_builds"), "{err}");
    }
    assert!(h.requests().await.is_empty());
}

/// Test Engine's per-job answers for the scenario: of the jobs that stayed
/// failed, only unit failed tests (t-new and t-old); t-flaky failed in the
/// e2e attempt that a retry rescued. The build-wide list is made to lag:
/// t-flaky's passing execution is not in it yet.
pub(crate) async fn rescued_by_retry(h: &Harness) {
    let tests = format!("/v2/analytics/organizations/acme/builds/{BUILD_UUID}/tests");
    for (job, failed) in [
        (
            "j-unit",
            json!([test("t-new", 1.0, 0), test("t-old", 1.0, 0)]),
        ),
        ("j-lint", json!([])),
        ("j-deploy", json!([])),
    ] {
        Mock::given(method("GET"))
            .and(path(&tests))
            .and(query_param(
                "tags",
                format!("build.job_id:{job},result:^failed"),
            ))
            .and(authorized())
            .respond_with(ResponseTemplate::new(200).set_body_json(failed))
            .with_priority(1)
            .mount(&h.server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(&tests))
        .and(wiremock::matchers::query_param_is_missing("tags"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            test("t-new", 1.0, 0),
            test("t-old", 1.0, 0),
            test("t-flaky", 1.0, 0)
        ])))
        .with_priority(1)
        .mount(&h.server)
        .await;
}

#[tokio::test]
async fn a_test_a_retry_rescued_is_flaky_even_before_its_pass_is_ingested() {
    let h = harness().await;
    scenario(&h).await;
    rescued_by_retry(&h).await;
    let out = h
        .ok(
            "triage_build_failures",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "500"}),
        )
        .await;
    let verdict = out["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "Upload retries")
        .unwrap();
    assert_eq!(verdict["verdict"], "flaky", "{verdict}");
    assert!(
        verdict["why"].as_str().unwrap().contains("retried"),
        "{verdict}"
    );
    let new: Vec<&str> = out["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["kind"] == "test" && v["verdict"] != "flaky")
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(new, ["Checkout works", "Search sorts"]);
    // One query per job that stayed failed (lint, unit, deploy), tagged.
    let asked: Vec<String> = h
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "tags")
                .map(|(_, v)| v.into_owned())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        asked,
        [
            "build.job_id:j-deploy,result:^failed",
            "build.job_id:j-lint,result:^failed",
            "build.job_id:j-unit,result:^failed"
        ]
    );
}

/// The failure summary and the comparison agree with the triage: a test a
/// retry rescued is never a failure.
#[tokio::test]
async fn the_summary_and_the_comparison_never_report_a_rescued_test_as_failed() {
    let h = harness().await;
    scenario(&h).await;
    rescued_by_retry(&h).await;
    let summary = h
        .ok(
            "get_build_failure_summary",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "500",
                   "include_logs": false, "include_annotations": false}),
        )
        .await;
    let failed: Vec<&str> = summary["failed_tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|group| group["tests"].as_array().unwrap())
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["Checkout works", "Search sorts"], "{summary}");
    assert_eq!(summary["failed_test_count"], 2);
    assert_eq!(summary["flaky_tests"][0]["name"], "Upload retries");

    let compared = h
        .ok(
            "compare_builds",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "500",
                   "base_build_number": "499"}),
        )
        .await;
    let tests = &compared["tests"];
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        !names(&tests["new_failures"]).contains(&"Upload retries".to_owned()),
        "{compared}"
    );
    assert_eq!(
        names(&tests["rescued_by_retry"]),
        ["Upload retries"],
        "{compared}"
    );
    // The retried attempt is no job of the build as it stands.
    assert!(
        compared["job_changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|change| change["job_id"] != "j-e2e-1"),
        "{compared}"
    );
}

/// When Test Engine cannot say which tests failed in the jobs that stayed
/// failed, the summary falls back to "it also passed in this build", and
/// says why.
#[tokio::test]
async fn without_the_per_job_answer_the_summary_says_so_and_falls_back() {
    let h = harness().await;
    scenario(&h).await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/analytics/organizations/acme/builds/{BUILD_UUID}/tests"
        )))
        .and(query_param("tags", "build.job_id:j-unit,result:^failed"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .with_priority(1)
        .mount(&h.server)
        .await;
    let summary = h
        .ok(
            "get_build_failure_summary",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "500",
                   "include_logs": false, "include_annotations": false}),
        )
        .await;
    let warnings = summary["warnings"].to_string();
    assert!(
        warnings.contains("could not tell tests rescued by a retry") && warnings.contains("500"),
        "{summary}"
    );
    // The build-wide list says t-flaky also passed: still not a failure.
    assert_eq!(
        summary["flaky_tests"][0]["name"], "Upload retries",
        "{summary}"
    );
    assert_eq!(summary["failed_test_count"], 2);
}
