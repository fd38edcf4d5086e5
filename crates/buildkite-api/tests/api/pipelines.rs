//! Pipelines, their source-provider webhook, and pipeline schedules.

use std::collections::BTreeMap;

use buildkite_api::{
    CreatePipelineBody, Error, ListPipelinesParams, PageParams, PipelineScheduleBody,
    UpdatePipelineBody,
};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{api, authorized, fixture, json, only_request_body, only_request_query, pairs};

const SCHEDULE_ID: &str = "b3a1e9f2-7c4d-4f1a-9e6c-2d8a5f7b1c3d";

#[tokio::test]
async fn list_pipelines_sends_name_and_repository_filters_and_paging() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines"))
        .and(query_param("name", "My App"))
        .and(query_param("repository", "git@github.com:acme/app.git"))
        .and(query_param("page", "2"))
        .and(query_param("per_page", "50"))
        .and(authorized())
        .respond_with(json(200, "pipelines.json").insert_header(
            "link",
            r#"<https://api.buildkite.com/v2/organizations/acme/pipelines?page=1&per_page=50>; rel="prev", <https://api.buildkite.com/v2/organizations/acme/pipelines?page=3&per_page=50>; rel="next""#,
        ))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_pipelines(
            "acme",
            &ListPipelinesParams {
                name: Some("My App".into()),
                repository: Some("git@github.com:acme/app.git".into()),
                page: Some(2),
                per_page: Some(50),
            },
        )
        .await
        .unwrap();

    assert_eq!(
        only_request_query(&api.server).await,
        pairs(&[
            ("name", "My App"),
            ("page", "2"),
            ("per_page", "50"),
            ("repository", "git@github.com:acme/app.git"),
        ])
    );
    let slugs: Vec<_> = page.items.iter().map(|p| p.slug.as_str()).collect();
    assert_eq!(slugs, ["app", "docs"]);
    assert_eq!(page.next_page, Some(3));
    assert_eq!(page.prev_page, Some(1));
    // One legacy and one ISO timestamp in the same list.
    assert_eq!(
        page.items[0].created_at.unwrap().to_string(),
        "2013-09-03T13:24:38.000Z"
    );
    assert_eq!(
        page.items[1].created_at.unwrap().to_string(),
        "2021-04-12T08:30:17.645Z"
    );
    assert_eq!(
        page.items[1].tags.as_deref(),
        Some(&["docs".to_owned(), "frontend".to_owned()][..])
    );
}

#[tokio::test]
async fn list_pipelines_without_filters_sends_no_query() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines"))
        .and(authorized())
        .respond_with(json(200, "pipelines.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_pipelines("acme", &ListPipelinesParams::default())
        .await
        .unwrap();

    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.next_page, None);
}

#[tokio::test]
async fn list_pipelines_caps_per_page_at_100() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines"))
        .and(query_param("per_page", "100"))
        .and(authorized())
        .respond_with(json(200, "pipelines.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    api.client
        .list_pipelines(
            "acme",
            &ListPipelinesParams {
                per_page: Some(500),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(
        only_request_query(&api.server).await,
        pairs(&[("per_page", "100")])
    );
}

#[tokio::test]
async fn get_pipeline_decodes_fields_and_keeps_unknown_ones() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app"))
        .and(authorized())
        .respond_with(json(200, "pipeline.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let pipeline = api.client.get_pipeline("acme", "app").await.unwrap();

    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(pipeline.id, "849411f9-9e6d-4739-a0d8-e247088e9b52");
    assert_eq!(pipeline.name, "App");
    assert_eq!(pipeline.default_branch.as_deref(), Some("main"));
    assert_eq!(
        pipeline.cluster_id.as_deref(),
        Some("42f1a7da-812d-4430-93d8-1cc7c33a6bcf")
    );
    assert_eq!(pipeline.running_builds_count, Some(1));
    assert_eq!(
        pipeline.created_at.unwrap().to_string(),
        "2013-09-03T13:24:38.000Z"
    );
    let provider = pipeline.provider.as_ref().unwrap();
    assert_eq!(provider.id.as_deref(), Some("github"));
    assert_eq!(
        provider.settings.as_ref().unwrap()["trigger_mode"],
        json!("code")
    );
    assert_eq!(pipeline.extra["emoji"], json!(":rocket:"));
    assert_eq!(pipeline.extra["future_field"], json!({"nested": [1, 2]}));
}

#[tokio::test]
async fn create_pipeline_posts_only_the_given_fields_and_reads_201() {
    let api = api().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines"))
        .and(header("content-type", "application/json"))
        .and(authorized())
        .respond_with(json(201, "pipeline.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let body = CreatePipelineBody {
        name: "App".into(),
        repository: "git@github.com:acme/app.git".into(),
        configuration: "steps:\n  - command: make test\n".into(),
        cluster_id: Some("42f1a7da-812d-4430-93d8-1cc7c33a6bcf".into()),
        tags: Some(vec!["web".into()]),
        env: Some(BTreeMap::from([("RAILS_ENV".into(), "test".into())])),
        skip_queued_branch_builds: Some(false),
        ..Default::default()
    };
    let pipeline = api.client.create_pipeline("acme", &body).await.unwrap();

    assert_eq!(
        only_request_body(&api.server).await,
        json!({
            "name": "App",
            "repository": "git@github.com:acme/app.git",
            "configuration": "steps:\n  - command: make test\n",
            "cluster_id": "42f1a7da-812d-4430-93d8-1cc7c33a6bcf",
            "tags": ["web"],
            "env": {"RAILS_ENV": "test"},
            "skip_queued_branch_builds": false
        })
    );
    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(pipeline.slug, "app");
    assert_eq!(pipeline.id, "849411f9-9e6d-4739-a0d8-e247088e9b52");
}

#[tokio::test]
async fn create_pipeline_with_blank_configuration_sends_nothing() {
    let api = api().await;
    for configuration in ["", "  \n\t  "] {
        let body = CreatePipelineBody {
            name: "App".into(),
            repository: "git@github.com:acme/app.git".into(),
            configuration: configuration.into(),
            ..Default::default()
        };
        let err = api.client.create_pipeline("acme", &body).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("configuration")),
            "{configuration:?} gave {err:?}"
        );
    }
    assert!(
        api.server.received_requests().await.unwrap().is_empty(),
        "a request was sent"
    );
}

#[tokio::test]
async fn update_pipeline_patches_only_the_set_fields() {
    let api = api().await;
    let mut updated = fixture("pipeline.json");
    updated["description"] = json!("The main app");
    updated["default_branch"] = json!("trunk");
    Mock::given(method("PATCH"))
        .and(path("/v2/organizations/acme/pipelines/app"))
        .and(header("content-type", "application/json"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(updated))
        .expect(1)
        .mount(&api.server)
        .await;

    let pipeline = api
        .client
        .update_pipeline(
            "acme",
            "app",
            &UpdatePipelineBody {
                description: Some("The main app".into()),
                default_branch: Some("trunk".into()),
                cancel_running_branch_builds: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(
        only_request_body(&api.server).await,
        json!({
            "description": "The main app",
            "default_branch": "trunk",
            "cancel_running_branch_builds": true
        })
    );
    assert_eq!(pipeline.description.as_deref(), Some("The main app"));
    assert_eq!(pipeline.default_branch.as_deref(), Some("trunk"));
}

#[tokio::test]
async fn create_pipeline_webhook_posts_to_webhook_path() {
    let api = api().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines/app/webhook"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "webhook_url": "https://webhook.buildkite.com/deliver/3f9a1c7e5b2d8e4f6a0c9b1d",
            "provider": "github"
        })))
        .expect(1)
        .mount(&api.server)
        .await;

    let webhook = api
        .client
        .create_pipeline_webhook("acme", "app")
        .await
        .unwrap();

    let requests = api.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].body.is_empty(), "the webhook call has no body");
    assert_eq!(requests[0].url.query(), None);
    assert_eq!(
        webhook.webhook_url.as_deref(),
        Some("https://webhook.buildkite.com/deliver/3f9a1c7e5b2d8e4f6a0c9b1d")
    );
    assert_eq!(webhook.extra["provider"], json!("github"));
}

#[tokio::test]
async fn list_pipeline_schedules_sends_paging() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/schedules"))
        .and(query_param("page", "1"))
        .and(query_param("per_page", "10"))
        .and(authorized())
        .respond_with(json(200, "pipeline_schedules.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_pipeline_schedules("acme", "app", &PageParams::new(1, 10))
        .await
        .unwrap();

    assert_eq!(
        only_request_query(&api.server).await,
        pairs(&[("page", "1"), ("per_page", "10")])
    );
    let cronlines: Vec<_> = page.items.iter().map(|s| s.cronline.as_str()).collect();
    assert_eq!(cronlines, ["@daily", "0 6 * * 1 Europe/Berlin"]);
    let weekly = &page.items[1];
    assert_eq!(weekly.enabled, Some(false));
    assert_eq!(weekly.next_build_at, None);
    assert_eq!(
        weekly.failed_at.unwrap().to_string(),
        "2026-08-10T04:00:02.311Z"
    );
    assert_eq!(
        weekly.failed_message.as_deref(),
        Some("Branch release/2026.08 could not be found")
    );
    assert_eq!(page.next_page, None);
}

#[tokio::test]
async fn get_pipeline_schedule_by_id() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/organizations/acme/pipelines/app/schedules/{SCHEDULE_ID}"
        )))
        .and(authorized())
        .respond_with(json(200, "pipeline_schedule.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let schedule = api
        .client
        .get_pipeline_schedule("acme", "app", SCHEDULE_ID)
        .await
        .unwrap();

    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(schedule.id, SCHEDULE_ID);
    assert_eq!(schedule.cronline, "@daily");
    assert_eq!(schedule.label.as_deref(), Some("Nightly"));
    assert_eq!(
        schedule.next_build_at.unwrap().to_string(),
        "2026-08-12T00:00:00.000Z"
    );
    assert_eq!(
        schedule.created_by.unwrap().name.as_deref(),
        Some("Sam Kim")
    );
    assert_eq!(schedule.extra["pipeline"]["slug"], json!("app"));
}

#[tokio::test]
async fn create_pipeline_schedule_posts_exact_body() {
    let api = api().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines/app/schedules"))
        .and(header("content-type", "application/json"))
        .and(authorized())
        .respond_with(json(201, "pipeline_schedule.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let schedule = api
        .client
        .create_pipeline_schedule(
            "acme",
            "app",
            &PipelineScheduleBody {
                cronline: Some("@daily".into()),
                label: Some("Nightly".into()),
                message: Some("Nightly build".into()),
                branch: Some("main".into()),
                env: Some(BTreeMap::from([("DEPLOY_ENV".into(), "staging".into())])),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(
        only_request_body(&api.server).await,
        json!({
            "cronline": "@daily",
            "label": "Nightly",
            "message": "Nightly build",
            "branch": "main",
            "env": {"DEPLOY_ENV": "staging"}
        })
    );
    assert_eq!(schedule.id, SCHEDULE_ID);
    assert_eq!(schedule.enabled, Some(true));
}

#[tokio::test]
async fn create_pipeline_schedule_without_cronline_sends_nothing() {
    let api = api().await;
    for cronline in [None, Some(""), Some("   ")] {
        let body = PipelineScheduleBody {
            cronline: cronline.map(str::to_owned),
            label: Some("Nightly".into()),
            ..Default::default()
        };
        let err = api
            .client
            .create_pipeline_schedule("acme", "app", &body)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("cronline")),
            "{cronline:?} gave {err:?}"
        );
    }
    assert!(
        api.server.received_requests().await.unwrap().is_empty(),
        "a request was sent"
    );
}

#[tokio::test]
async fn update_pipeline_schedule_patches_only_the_set_fields() {
    let api = api().await;
    let mut disabled = fixture("pipeline_schedule.json");
    disabled["enabled"] = json!(false);
    disabled["next_build_at"] = json!(null);
    Mock::given(method("PATCH"))
        .and(path(format!(
            "/v2/organizations/acme/pipelines/app/schedules/{SCHEDULE_ID}"
        )))
        .and(header("content-type", "application/json"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(disabled))
        .expect(1)
        .mount(&api.server)
        .await;

    // Updates need no cronline.
    let schedule = api
        .client
        .update_pipeline_schedule(
            "acme",
            "app",
            SCHEDULE_ID,
            &PipelineScheduleBody {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(
        only_request_body(&api.server).await,
        json!({"enabled": false})
    );
    assert_eq!(schedule.enabled, Some(false));
    assert_eq!(schedule.next_build_at, None);
}
