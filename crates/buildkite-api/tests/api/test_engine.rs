//! Test Engine: suites, runs, failed executions and tests.

use buildkite_api::{ListFailedExecutionsParams, ListTestRunsParams, ListTestsParams, PageParams};
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{header, method, path};

use crate::common::{api, authorized, exact_query, json};

const ANALYTICS: &str = "/v2/analytics/organizations/acme";
const RUN: &str = "64374307-12ab-4b13-a3f3-6a408f644ea2";
const TEST: &str = "01867216-8478-7fde-a55a-0300f88bb49b";
const BUILD_UUID: &str = "89c02425-7712-4ee5-a694-c94b56b4d54c";

fn suite_path(rest: &str) -> String {
    format!("{ANALYTICS}/suites/rspec{rest}")
}

#[tokio::test]
async fn list_test_suites_with_paging() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/analytics/organizations/acme/suites"))
        .and(exact_query(&[("page", "2"), ("per_page", "5")]))
        .and(authorized())
        .respond_with(json(200, "test_suites.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_test_suites("acme", &PageParams::new(2, 5))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].slug, "rspec");
    assert_eq!(page.items[0].default_branch.as_deref(), Some("main"));
}

#[tokio::test]
async fn list_pipeline_test_suites_escapes_the_pipeline_and_pages() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(format!("{ANALYTICS}/pipelines/web%2Fapp/suites")))
        .and(exact_query(&[("page", "1"), ("per_page", "30")]))
        .and(authorized())
        .respond_with(json(200, "test_suites.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_pipeline_test_suites("acme", "web/app", &PageParams::new(1, 30))
        .await
        .unwrap();
    assert_eq!(page.items[0].slug, "rspec");
    let error = api
        .client
        .list_pipeline_test_suites("acme", "", &PageParams::new(1, 30))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("pipeline slug"), "{error}");
}

#[tokio::test]
async fn get_test_suite_by_slug() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(suite_path("")))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(json(200, "test_suite.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let suite = api.client.get_test_suite("acme", "rspec").await.unwrap();
    assert_eq!(suite.id, "3e979a94-a479-4a6e-ab8d-8b6607ffb62c");
    assert_eq!(suite.name.as_deref(), Some("RSpec"));
    assert_eq!(suite.extra["emoji"], json!("🍋"));
}

#[tokio::test]
async fn list_test_runs_filtered_by_build() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(suite_path("/runs")))
        .and(exact_query(&[("build_id", BUILD_UUID), ("per_page", "10")]))
        .and(authorized())
        .respond_with(json(200, "test_runs.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListTestRunsParams {
        build_id: Some(BUILD_UUID.into()),
        per_page: Some(10),
        ..Default::default()
    };
    let page = api
        .client
        .list_test_runs("acme", "rspec", &params)
        .await
        .unwrap();
    let results: Vec<_> = page
        .items
        .iter()
        .map(|r| r.result.as_deref().unwrap())
        .collect();
    assert_eq!(results, ["pending", "failed"]);
    assert_eq!(page.items[1].build_id.as_deref(), Some(BUILD_UUID));
}

#[tokio::test]
async fn get_test_run_by_id() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(suite_path(&format!("/runs/{RUN}"))))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(json(200, "test_run.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let run = api.client.get_test_run("acme", "rspec", RUN).await.unwrap();
    assert_eq!(run.id, RUN);
    assert_eq!(run.state.as_deref(), Some("finished"));
    assert_eq!(
        run.commit_sha.as_deref(),
        Some("1c3214fcceb2c14579a2c3c50cd78f1442fd8936")
    );
    assert_eq!(
        run.created_at.unwrap().to_string(),
        "2026-08-11T10:15:40.118Z"
    );
}

#[tokio::test]
async fn list_failed_executions_with_expanded_failures() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(suite_path(&format!("/runs/{RUN}/failed_executions"))))
        .and(exact_query(&[
            ("include_failure_expanded", "true"),
            ("page", "1"),
            ("per_page", "50"),
        ]))
        .and(authorized())
        .respond_with(json(200, "failed_executions.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListFailedExecutionsParams {
        include_failure_expanded: Some(true),
        page: Some(1),
        per_page: Some(50),
    };
    let page = api
        .client
        .list_failed_executions("acme", "rspec", RUN, &params)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].failure_expanded, None);
    assert_eq!(page.items[0].test_id.as_deref(), Some(TEST));
    let second = &page.items[1];
    assert_eq!(second.execution_id, "60f0e64c-ae4b-870e-b41f-5431205caf06");
    assert_eq!(second.duration, Some(3.79073));
    let expanded = second.failure_expanded.as_ref().unwrap();
    assert_eq!(expanded.len(), 1);
    assert_eq!(
        expanded[0]["expanded"],
        json!(["expected: 1", "     got: 2"])
    );
    assert_eq!(second.extra["tags"], json!({ "language.name": "ruby" }));
}

#[tokio::test]
async fn list_tests_sends_every_filter_and_the_version_header() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(suite_path("/tests")))
        .and(exact_query(&[
            ("period", "7days"),
            ("min_timestamp", "2026-08-01T00:00:00Z"),
            ("max_timestamp", "2026-08-08T00:00:00Z"),
            ("labels", "flaky,slow"),
            ("branch", "main"),
            ("owners", "platform,web"),
            ("state", "flaky"),
            ("tags", "language.name:ruby"),
            ("sort_by", "reliability"),
            ("order", "asc"),
            ("page", "2"),
            ("per_page", "30"),
        ]))
        .and(header("buildkite-version", "2026-08-01"))
        .and(authorized())
        .respond_with(json(200, "tests.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListTestsParams {
        period: Some("7days".into()),
        min_timestamp: Some("2026-08-01T00:00:00Z".into()),
        max_timestamp: Some("2026-08-08T00:00:00Z".into()),
        labels: Some("flaky,slow".into()),
        branch: Some("main".into()),
        owners: Some("platform,web".into()),
        state: Some("flaky".into()),
        tags: Some("language.name:ruby".into()),
        sort_by: Some("reliability".into()),
        order: Some("asc".into()),
        page: Some(2),
        per_page: Some(30),
    };
    let page = api
        .client
        .list_tests("acme", "rspec", &params)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].reliability, Some(0.98));
    assert_eq!(
        page.items[0].labels.as_deref(),
        Some(&["flaky".to_owned()][..])
    );
    assert_eq!(page.items[0].extra["duration_avg"], json!(0.213));
    // No executions in the period: reliability is null.
    assert_eq!(page.items[1].reliability, None);
    assert_eq!(page.items[1].executions_count, Some(4));
    assert_eq!(
        page.items[1]
            .executions_count_by_result
            .as_ref()
            .unwrap()
            .get("skipped"),
        Some(&4)
    );

    let requests = api.server.received_requests().await.unwrap();
    let versions: Vec<_> = requests[0]
        .headers
        .get_all("buildkite-version")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(versions, ["2026-08-01"], "exactly one version header");
}

#[tokio::test]
async fn get_test_sends_the_version_header() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(suite_path(&format!("/tests/{TEST}"))))
        .and(exact_query(&[]))
        .and(header("buildkite-version", "2026-08-01"))
        .and(authorized())
        .respond_with(json(200, "test.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let test = api.client.get_test("acme", "rspec", TEST).await.unwrap();
    assert_eq!(test.id, TEST);
    assert_eq!(test.scope.as_deref(), Some("User#email"));
    assert_eq!(test.reliability, Some(0.98));
    assert_eq!(test.executions_count, Some(112));
}

#[tokio::test]
async fn list_build_tests_by_build_uuid() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/analytics/organizations/acme/builds/{BUILD_UUID}/tests"
        )))
        .and(exact_query(&[("state", "failed"), ("per_page", "100")]))
        .and(header("buildkite-version", "2026-08-01"))
        .and(authorized())
        .respond_with(json(200, "tests.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListTestsParams {
        state: Some("failed".into()),
        per_page: Some(100),
        ..Default::default()
    };
    let page = api
        .client
        .list_build_tests("acme", BUILD_UUID, &params)
        .await
        .unwrap();
    let names: Vec<_> = page
        .items
        .iter()
        .map(|t| t.name.as_deref().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "is correctly formatted",
            "is valid with legacy SSO attributes"
        ]
    );
    assert_eq!(page.items[1].reliability, None);
}
