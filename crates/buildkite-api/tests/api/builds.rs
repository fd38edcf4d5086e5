//! Builds: pipeline and organization lists with filters, get, create,
//! cancel and rebuild.

use std::collections::BTreeMap;

use buildkite_api::{
    BuildAuthor, BuildState, CreateBuildBody, GetBuildParams, JobState, ListBuildsParams,
    NewBuildAuthor, Timestamp,
};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{api, authorized, fixture, json, only_request_body, only_request_query, pairs};

const BUILD_42_ID: &str = "89c02425-7712-4ee5-a694-c94b56b4d54c";
const J1: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";

#[tokio::test]
async fn list_pipeline_builds_sends_every_filter() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds"))
        .and(query_param("branch[]", "main"))
        .and(query_param("branch[]", "release/2026.08"))
        .and(query_param("state[]", "failed"))
        .and(query_param("state[]", "running"))
        .and(query_param("commit", "1c3214fcceb2c14579a2c3c50cd78f1442fd8936"))
        .and(query_param("creator", "3d3c3bf0-7d58-4afe-8fe7-b3017d5504de"))
        .and(query_param("created_from", "2026-08-01T00:00:00.000Z"))
        .and(query_param("meta_data[release-version]", "2026.8.1"))
        .and(query_param("exclude_jobs", "true"))
        .and(query_param("page", "2"))
        .and(query_param("per_page", "3"))
        .and(authorized())
        .respond_with(json(200, "builds.json").insert_header(
            "link",
            r#"<https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds?page=3&per_page=3>; rel="next", <https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds?page=7&per_page=3>; rel="last""#,
        ))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListBuildsParams {
        branch: vec!["main".into(), "release/2026.08".into()],
        state: vec![BuildState::Failed, BuildState::Running],
        commit: Some("1c3214fcceb2c14579a2c3c50cd78f1442fd8936".into()),
        creator: Some("3d3c3bf0-7d58-4afe-8fe7-b3017d5504de".into()),
        created_from: Some(Timestamp::parse("2026-08-01T00:00:00Z").unwrap()),
        meta_data: BTreeMap::from([("release-version".into(), "2026.8.1".into())]),
        exclude_jobs: Some(true),
        page: Some(2),
        per_page: Some(3),
        ..Default::default()
    };
    let page = api
        .client
        .list_pipeline_builds("acme", "app", &params)
        .await
        .unwrap();

    assert_eq!(
        only_request_query(&api.server).await,
        pairs(&[
            ("branch[]", "main"),
            ("branch[]", "release/2026.08"),
            ("commit", "1c3214fcceb2c14579a2c3c50cd78f1442fd8936"),
            ("created_from", "2026-08-01T00:00:00.000Z"),
            ("creator", "3d3c3bf0-7d58-4afe-8fe7-b3017d5504de"),
            ("exclude_jobs", "true"),
            ("meta_data[release-version]", "2026.8.1"),
            ("page", "2"),
            ("per_page", "3"),
            ("state[]", "failed"),
            ("state[]", "running"),
        ])
    );
    let numbers: Vec<_> = page.items.iter().map(|b| b.number).collect();
    assert_eq!(numbers, [44, 43, 42]);
    let states: Vec<_> = page.items.iter().map(|b| b.state.clone()).collect();
    assert_eq!(
        states,
        [BuildState::Running, BuildState::Passed, BuildState::Failed]
    );
    assert_eq!(page.next_page, Some(3));
    assert_eq!(page.last_page, Some(7));
    assert_eq!(
        page.items[1].meta_data.as_ref().unwrap()["release-version"],
        json!("2026.8.1")
    );
}

#[tokio::test]
async fn list_organization_builds_sends_time_and_inclusion_filters() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/builds"))
        .and(query_param("state[]", "finished"))
        .and(query_param("created_to", "2026-08-12T00:00:00.000Z"))
        .and(query_param("finished_from", "2026-08-11T10:00:00.500Z"))
        .and(query_param("exclude_pipeline", "true"))
        .and(query_param("include_retried_jobs", "false"))
        .and(authorized())
        .respond_with(json(200, "builds.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListBuildsParams {
        state: vec![BuildState::Finished],
        // A legacy-format timestamp is still sent as ISO 8601.
        created_to: Timestamp::parse("2026-08-12 00:00:00 UTC"),
        finished_from: Timestamp::parse("2026-08-11T12:00:00.5+02:00"),
        exclude_pipeline: Some(true),
        include_retried_jobs: Some(false),
        ..Default::default()
    };
    let page = api
        .client
        .list_organization_builds("acme", &params)
        .await
        .unwrap();

    assert_eq!(
        only_request_query(&api.server).await,
        pairs(&[
            ("created_to", "2026-08-12T00:00:00.000Z"),
            ("exclude_pipeline", "true"),
            ("finished_from", "2026-08-11T10:00:00.500Z"),
            ("include_retried_jobs", "false"),
            ("state[]", "finished"),
        ])
    );
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.items[0].id, "0198f5c8-1e4a-4b7d-8c2f-9a0b1c2d3e4f");
    assert_eq!(
        page.items[0].pipeline.as_ref().unwrap().slug.as_deref(),
        Some("app")
    );
    assert_eq!(page.next_page, None);
}

#[tokio::test]
async fn list_builds_without_filters_sends_no_query() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/builds"))
        .and(authorized())
        .respond_with(json(200, "builds.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    api.client
        .list_organization_builds("acme", &ListBuildsParams::default())
        .await
        .unwrap();

    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
}

#[tokio::test]
async fn list_builds_caps_per_page_at_100() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds"))
        .and(query_param("per_page", "100"))
        .and(query_param("page", "1"))
        .and(authorized())
        .respond_with(json(200, "builds.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListBuildsParams {
        page: Some(1),
        per_page: Some(250),
        ..Default::default()
    };
    api.client
        .list_pipeline_builds("acme", "app", &params)
        .await
        .unwrap();

    assert_eq!(
        only_request_query(&api.server).await,
        pairs(&[("page", "1"), ("per_page", "100")])
    );
}

#[tokio::test]
async fn build_author_absent_email_or_person() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds"))
        .and(authorized())
        .respond_with(json(200, "builds.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_pipeline_builds("acme", "app", &ListBuildsParams::default())
        .await
        .unwrap();
    let [b44, b43, b42] = &page.items[..] else {
        panic!("expected three builds, got {}", page.items.len());
    };

    assert_eq!((b44.number, &b44.author), (44, &None));
    assert_eq!(b43.number, 43);
    assert_eq!(
        b43.author,
        Some(BuildAuthor::Email("sam@example.com".into()))
    );
    assert_eq!(b42.number, 42);
    assert_eq!(
        b42.author,
        Some(BuildAuthor::Person {
            username: Some("sam".into()),
            name: Some("Sam Kim".into()),
            email: Some("sam@example.com".into()),
        })
    );
    assert_eq!(b42.author.as_ref().unwrap().display_name(), Some("Sam Kim"));
    assert_eq!(
        b43.author.as_ref().unwrap().display_name(),
        Some("sam@example.com")
    );
    // Build 44 was created by a schedule: no creator either.
    assert_eq!(b44.creator, None);
    assert_eq!(b44.source.as_deref(), Some("schedule"));
}

#[tokio::test]
async fn get_build_with_test_engine_and_job_state_filter() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds/42"))
        .and(query_param("include_test_engine", "true"))
        .and(query_param("job_states[]", "failed"))
        .and(authorized())
        .respond_with(json(200, "build.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = GetBuildParams {
        include_test_engine: Some(true),
        job_states: vec![JobState::Failed],
        ..Default::default()
    };
    let build = api
        .client
        .get_build("acme", "app", 42, &params)
        .await
        .unwrap();

    assert_eq!(
        only_request_query(&api.server).await,
        pairs(&[("include_test_engine", "true"), ("job_states[]", "failed")])
    );
    assert_eq!(build.id, BUILD_42_ID);
    assert_eq!(build.number, 42);
    assert_eq!(build.state, BuildState::Failed);
    assert_eq!(
        build.failing_at.unwrap().to_string(),
        "2026-08-11T10:17:40.417Z"
    );

    // Jobs of every kind decode.
    let kinds: Vec<_> = build.jobs.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds, ["script", "script", "waiter", "trigger"]);
    let j1 = &build.jobs[0];
    assert_eq!(j1.id, J1);
    assert_eq!(j1.state, Some(JobState::Failed));
    assert_eq!(j1.exit_status, Some(1));
    assert_eq!(j1.agent.as_ref().unwrap().name.as_deref(), Some("ci-1"));
    let trigger = &build.jobs[3];
    assert_eq!(trigger.is_async, Some(true));
    assert_eq!(trigger.triggered_build.as_ref().unwrap().number, Some(1187));

    let counts = build.job_state_counts.as_ref().unwrap();
    assert_eq!(counts.total, 4);
    assert_eq!(
        counts.states,
        BTreeMap::from([("failed".to_owned(), 1), ("passed".to_owned(), 3)])
    );

    let runs = &build.test_engine.as_ref().unwrap().runs;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, "64374307-12ab-4b13-a3f3-6a408f644ea2");
    let suite = runs[0].suite.as_ref().unwrap();
    assert_eq!(suite.slug.as_deref(), Some("rspec"));
    assert_eq!(
        suite.id.as_deref(),
        Some("3e979a94-a479-4a6e-ab8d-8b6607ffb62c")
    );
}

#[tokio::test]
async fn get_build_sends_every_flag_when_set() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds/42"))
        .and(authorized())
        .respond_with(json(200, "build.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = GetBuildParams {
        exclude_jobs: Some(false),
        exclude_pipeline: Some(true),
        include_retried_jobs: Some(true),
        include_test_engine: None,
        job_states: vec![JobState::Failed, JobState::TimedOut],
    };
    api.client
        .get_build("acme", "app", 42, &params)
        .await
        .unwrap();

    assert_eq!(
        only_request_query(&api.server).await,
        pairs(&[
            ("exclude_jobs", "false"),
            ("exclude_pipeline", "true"),
            ("include_retried_jobs", "true"),
            ("job_states[]", "failed"),
            ("job_states[]", "timed_out"),
        ])
    );
}

#[tokio::test]
async fn get_build_without_options_sends_no_query() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds/42"))
        .and(authorized())
        .respond_with(json(200, "build.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let build = api
        .client
        .get_build("acme", "app", 42, &GetBuildParams::default())
        .await
        .unwrap();

    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(build.number, 42);
}

#[tokio::test]
async fn create_build_posts_exact_body_and_reads_201() {
    let api = api().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines/app/builds"))
        .and(header("content-type", "application/json"))
        .and(authorized())
        .respond_with(json(201, "build.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let body = CreateBuildBody {
        commit: "HEAD".into(),
        branch: "main".into(),
        message: Some("Fix flaky test".into()),
        author: Some(NewBuildAuthor {
            name: "Sam Kim".into(),
            email: "sam@example.com".into(),
        }),
        env: Some(BTreeMap::from([("DEPLOY_ENV".into(), "staging".into())])),
        meta_data: Some(BTreeMap::from([(
            "release-version".into(),
            "2026.8.1".into(),
        )])),
        clean_checkout: Some(true),
        pull_request_id: Some(1287),
        ..Default::default()
    };
    let build = api.client.create_build("acme", "app", &body).await.unwrap();

    assert_eq!(
        only_request_body(&api.server).await,
        json!({
            "commit": "HEAD",
            "branch": "main",
            "message": "Fix flaky test",
            "author": {"name": "Sam Kim", "email": "sam@example.com"},
            "env": {"DEPLOY_ENV": "staging"},
            "meta_data": {"release-version": "2026.8.1"},
            "clean_checkout": true,
            "pull_request_id": 1287
        })
    );
    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(build.id, BUILD_42_ID);
    assert_eq!(build.number, 42);
    assert_eq!(
        build.web_url.as_deref(),
        Some("https://buildkite.com/acme/app/builds/42")
    );
}

#[tokio::test]
async fn create_build_with_only_required_fields() {
    let api = api().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines/app/builds"))
        .and(authorized())
        .respond_with(json(201, "build.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let body = CreateBuildBody {
        commit: "HEAD".into(),
        branch: "main".into(),
        ..Default::default()
    };
    api.client.create_build("acme", "app", &body).await.unwrap();

    assert_eq!(
        only_request_body(&api.server).await,
        json!({"commit": "HEAD", "branch": "main"})
    );
}

#[tokio::test]
async fn cancel_build_puts_to_cancel() {
    let api = api().await;
    let mut canceled = fixture("build.json");
    canceled["state"] = json!("canceled");
    canceled["cancel_reason"] = json!("Superseded by #43");
    Mock::given(method("PUT"))
        .and(path(
            "/v2/organizations/acme/pipelines/app/builds/42/cancel",
        ))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(canceled))
        .expect(1)
        .mount(&api.server)
        .await;

    let build = api.client.cancel_build("acme", "app", 42).await.unwrap();

    let requests = api.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].body.is_empty(), "cancel sends no body");
    assert_eq!(requests[0].url.query(), None);
    assert_eq!(build.number, 42);
    assert_eq!(build.state, BuildState::Canceled);
    assert!(build.state.is_terminal());
    assert_eq!(build.cancel_reason.as_deref(), Some("Superseded by #43"));
}

#[tokio::test]
async fn rebuild_build_returns_the_new_build() {
    let api = api().await;
    let mut rebuilt = fixture("build.json");
    rebuilt["id"] = json!("0198f7e1-2a3b-4c5d-8e9f-0a1b2c3d4e5f");
    rebuilt["number"] = json!(45);
    rebuilt["state"] = json!("scheduled");
    rebuilt["source"] = json!("api");
    rebuilt["rebuilt_from"] = json!({
        "id": BUILD_42_ID,
        "number": 42,
        "url": "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42",
        "web_url": "https://buildkite.com/acme/app/builds/42"
    });
    Mock::given(method("PUT"))
        .and(path(
            "/v2/organizations/acme/pipelines/app/builds/42/rebuild",
        ))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(rebuilt))
        .expect(1)
        .mount(&api.server)
        .await;

    let build = api.client.rebuild_build("acme", "app", 42).await.unwrap();

    let requests = api.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].body.is_empty(), "rebuild sends no body");
    assert_eq!(requests[0].url.query(), None);
    assert_eq!(build.number, 45);
    assert_eq!(build.state, BuildState::Scheduled);
    let from = build.rebuilt_from.as_ref().unwrap();
    assert_eq!(from.number, Some(42));
    assert_eq!(from.id.as_deref(), Some(BUILD_42_ID));
}
