//! Jobs: the cursor-paged list, get, retry, unblock and environment, through
//! the build and organization-scoped.

use buildkite_api::{Error, JobRef, JobState, ListJobsParams, UnblockJobBody};
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};

use crate::common::{
    api, authorized, json, only_request_body, only_request_query, pairs, sorted_query,
};

const J1: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const J1_BUILD_PATH: &str =
    "/v2/organizations/acme/pipelines/app/builds/42/jobs/b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const J1_ORG_PATH: &str = "/v2/organizations/acme/jobs/b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const RETRIED_ID: &str = "0198f2fa-8d13-4b5c-9e27-41a6c0f3b8d5";
const BLOCK_ID: &str = "0198f6d2-8f1e-4a7b-9c3d-2e5f6a7b8c9d";
const CURSOR: &str = "eyJpZCI6Mn0";

#[tokio::test]
async fn list_jobs_sends_filters_and_reads_the_next_cursor() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds/42/jobs"))
        .and(query_param("state[]", "failed"))
        .and(query_param("state[]", "timed_out"))
        .and(query_param("step_key", "build"))
        .and(query_param("group_key", "tests"))
        .and(query_param("include_retried_jobs", "false"))
        .and(query_param("per_page", "2"))
        .and(query_param_is_missing("after"))
        .and(authorized())
        .respond_with(json(200, "jobs_page1.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListJobsParams {
        state: vec![JobState::Failed, JobState::TimedOut],
        step_key: Some("build".into()),
        group_key: Some("tests".into()),
        include_retried_jobs: Some(false),
        per_page: Some(2),
        ..Default::default()
    };
    let page = api
        .client
        .list_jobs("acme", "app", 42, &params)
        .await
        .unwrap();

    assert_eq!(
        only_request_query(&api.server).await,
        pairs(&[
            ("group_key", "tests"),
            ("include_retried_jobs", "false"),
            ("per_page", "2"),
            ("state[]", "failed"),
            ("state[]", "timed_out"),
            ("step_key", "build"),
        ])
    );
    let ids: Vec<_> = page.items.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, [J1, "0198f2f3-64a2-4a8e-8b78-0d9157a0e35f"]);
    assert_eq!(page.items[0].state, Some(JobState::Failed));
    assert!(page.has_more());
    assert_eq!(page.next_cursor().as_deref(), Some(CURSOR));
    assert_eq!(page.prev_cursor(), None);
}

#[tokio::test]
async fn list_jobs_second_page_uses_the_after_cursor_and_ends() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds/42/jobs"))
        .and(query_param_is_missing("after"))
        .and(authorized())
        .respond_with(json(200, "jobs_page1.json"))
        .expect(1)
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds/42/jobs"))
        .and(query_param("after", CURSOR))
        .and(query_param("per_page", "2"))
        .and(authorized())
        .respond_with(json(200, "jobs_page2.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let mut params = ListJobsParams {
        per_page: Some(2),
        ..Default::default()
    };
    let first = api
        .client
        .list_jobs("acme", "app", 42, &params)
        .await
        .unwrap();
    params.after = first.next_cursor();
    let second = api
        .client
        .list_jobs("acme", "app", 42, &params)
        .await
        .unwrap();

    let requests = api.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        sorted_query(&requests[1].url),
        pairs(&[("after", CURSOR), ("per_page", "2")])
    );
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].kind, "waiter");
    assert_eq!(second.items[0].id, "0198f2f4-2c71-4e9b-a05d-3f8e1b6c7d92");
    assert!(!second.has_more());
    assert_eq!(second.next_cursor(), None);
}

#[tokio::test]
async fn list_jobs_with_after_and_before_sends_nothing() {
    let api = api().await;
    let params = ListJobsParams {
        after: Some(CURSOR.into()),
        before: Some("eyJpZCI6MX0".into()),
        ..Default::default()
    };
    let err = api
        .client
        .list_jobs("acme", "app", 42, &params)
        .await
        .unwrap_err();

    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m.contains("after") && m.contains("before")),
        "{err:?}"
    );
    assert!(
        api.server.received_requests().await.unwrap().is_empty(),
        "a request was sent"
    );
}

#[tokio::test]
async fn get_job_through_its_build() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(J1_BUILD_PATH))
        .and(authorized())
        .respond_with(json(200, "job.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let job = api
        .client
        .get_job(&JobRef::in_build("acme", "app", 42, J1))
        .await
        .unwrap();

    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(job.id, J1);
    assert_eq!(job.kind, "script");
    assert_eq!(job.state, Some(JobState::Failed));
    assert_eq!(job.exit_status, Some(1));
    assert_eq!(job.display_name(), Some(":package: Build"));
    assert_eq!(
        job.agent.as_ref().unwrap().hostname.as_deref(),
        Some("ci-1")
    );
    assert_eq!(
        job.agent_query_rules,
        Some(vec!["queue=default".to_owned()])
    );
    assert_eq!(
        job.finished_at.unwrap().to_string(),
        "2026-08-11T10:17:40.417Z"
    );
}

#[tokio::test]
async fn get_job_organization_scoped() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(J1_ORG_PATH))
        .and(authorized())
        .respond_with(json(200, "job.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let job_ref = JobRef::in_organization("acme", J1);
    assert_eq!(job_ref.job_id(), J1);
    let job = api.client.get_job(&job_ref).await.unwrap();

    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(job.id, J1);
    assert_eq!(job.step_key.as_deref(), Some("build"));
}

#[tokio::test]
async fn retry_job_through_its_build_returns_the_new_job() {
    let api = api().await;
    Mock::given(method("PUT"))
        .and(path(format!("{J1_BUILD_PATH}/retry")))
        .and(authorized())
        .respond_with(json(200, "job_retried.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let job = api
        .client
        .retry_job(&JobRef::in_build("acme", "app", 42, J1))
        .await
        .unwrap();

    let requests = api.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].body.is_empty(), "retry sends no body");
    assert_eq!(requests[0].url.query(), None);
    assert_eq!(job.id, RETRIED_ID);
    assert_ne!(job.id, J1);
    assert_eq!(job.state, Some(JobState::Scheduled));
    assert_eq!(job.retries_count, Some(1));
    assert_eq!(job.retry_type.as_deref(), Some("manual"));
    assert_eq!(job.extra["retry_source"]["job_id"], json!(J1));
}

#[tokio::test]
async fn retry_job_organization_scoped() {
    let api = api().await;
    Mock::given(method("PUT"))
        .and(path(format!("{J1_ORG_PATH}/retry")))
        .and(authorized())
        .respond_with(json(200, "job_retried.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let job = api
        .client
        .retry_job(&JobRef::in_organization("acme", J1))
        .await
        .unwrap();

    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(job.id, RETRIED_ID);
}

#[tokio::test]
async fn unblock_job_puts_field_values() {
    let api = api().await;
    Mock::given(method("PUT"))
        .and(path(format!(
            "/v2/organizations/acme/pipelines/app/builds/45/jobs/{BLOCK_ID}/unblock"
        )))
        .and(header("content-type", "application/json"))
        .and(authorized())
        .respond_with(json(200, "job_unblocked.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let mut fields = serde_json::Map::new();
    fields.insert("release".into(), json!("v1"));
    let body = UnblockJobBody {
        fields: Some(fields),
        unblocker: None,
    };
    let job = api
        .client
        .unblock_job(&JobRef::in_build("acme", "app", 45, BLOCK_ID), &body)
        .await
        .unwrap();

    assert_eq!(
        only_request_body(&api.server).await,
        json!({"fields": {"release": "v1"}})
    );
    assert_eq!(job.id, BLOCK_ID);
    assert_eq!(job.kind, "manual");
    assert_eq!(job.state, Some(JobState::Unblocked));
    assert_eq!(job.unblockable, Some(true));
    assert_eq!(
        job.unblocked_by.as_ref().unwrap().name.as_deref(),
        Some("Sam Kim")
    );
    assert_eq!(
        job.unblocked_at.unwrap().to_string(),
        "2026-08-12T09:52:37.846Z"
    );
}

#[tokio::test]
async fn get_job_env_reads_every_variable() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(format!("{J1_BUILD_PATH}/env")))
        .and(authorized())
        .respond_with(json(200, "job_env.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let env = api
        .client
        .get_job_env(&JobRef::in_build("acme", "app", 42, J1))
        .await
        .unwrap();

    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(env.env.len(), 9);
    assert_eq!(env.env["BUILDKITE_BUILD_NUMBER"], "42");
    assert_eq!(env.env["BUILDKITE_JOB_ID"], J1);
    assert_eq!(env.env["NPM_TOKEN"], "npm_abcdefghijklmnop");
}

#[tokio::test]
async fn get_job_env_organization_scoped() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(format!("{J1_ORG_PATH}/env")))
        .and(authorized())
        .respond_with(json(200, "job_env.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let env = api
        .client
        .get_job_env(&JobRef::in_organization("acme", J1))
        .await
        .unwrap();

    assert_eq!(env.env["BUILDKITE_PIPELINE_SLUG"], "app");
}
