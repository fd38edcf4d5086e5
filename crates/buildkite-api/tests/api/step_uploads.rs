//! Step uploads: the cursor-paged list, get with the uploaded YAML, and the
//! 410 for builds older than 30 days.

use buildkite_api::{Error, ListStepUploadsParams, StatusCode};
use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{api, authorized, fixture, json, only_request_query, pairs, sorted_query};

const UPLOADS_PATH: &str = "/v2/organizations/acme/pipelines/app/builds/42/step-uploads";
const UPLOAD_ID: &str = "0198f2f4-1c33-4e0a-9d5e-3a4a5b6c7d8e";
const SOURCE_JOB: &str = "0198f2f3-64a2-4a8e-8b78-0d9157a0e35f";

#[tokio::test]
async fn list_step_uploads_filters_by_source_job() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(UPLOADS_PATH))
        .and(query_param("filter[source_job_id]", SOURCE_JOB))
        .and(query_param("per_page", "30"))
        .and(authorized())
        .respond_with(json(200, "step_uploads.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListStepUploadsParams {
        source_job_id: Some(SOURCE_JOB.into()),
        per_page: Some(30),
        ..Default::default()
    };
    let page = api
        .client
        .list_step_uploads("acme", "app", 42, &params)
        .await
        .unwrap();

    assert_eq!(
        only_request_query(&api.server).await,
        pairs(&[("filter[source_job_id]", SOURCE_JOB), ("per_page", "30")])
    );
    assert_eq!(page.items.len(), 1);
    let upload = &page.items[0];
    assert_eq!(upload.uuid, UPLOAD_ID);
    assert_eq!(upload.state.as_deref(), Some("applied"));
    assert_eq!(upload.source_job_id.as_deref(), Some(SOURCE_JOB));
    assert_eq!(upload.created_jobs_count, Some(2));
    assert_eq!(
        upload.processed_at.unwrap().to_string(),
        "2026-08-11T10:15:33.000Z"
    );
    // The list leaves out the YAML.
    assert_eq!(upload.definition_yaml, None);
    assert!(!page.has_more());
    assert_eq!(page.next_cursor(), None);
}

#[tokio::test]
async fn list_step_uploads_follows_the_after_cursor() {
    let api = api().await;
    let mut first = fixture("step_uploads.json");
    first["links"]["next"] = json!(format!(
        "https://api.buildkite.com{UPLOADS_PATH}?after=eyJpZCI6MX0&per_page=1"
    ));
    Mock::given(method("GET"))
        .and(path(UPLOADS_PATH))
        .and(query_param_is_missing("after"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .expect(1)
        .mount(&api.server)
        .await;
    let mut second = fixture("step_uploads.json");
    second["items"][0]["uuid"] = json!("0198f2f9-0000-4e0a-9d5e-3a4a5b6c7d8f");
    Mock::given(method("GET"))
        .and(path(UPLOADS_PATH))
        .and(query_param("after", "eyJpZCI6MX0"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(second))
        .expect(1)
        .mount(&api.server)
        .await;

    let mut params = ListStepUploadsParams {
        per_page: Some(1),
        ..Default::default()
    };
    let page1 = api
        .client
        .list_step_uploads("acme", "app", 42, &params)
        .await
        .unwrap();
    assert_eq!(page1.next_cursor().as_deref(), Some("eyJpZCI6MX0"));
    params.after = page1.next_cursor();
    let page2 = api
        .client
        .list_step_uploads("acme", "app", 42, &params)
        .await
        .unwrap();

    let requests = api.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(sorted_query(&requests[0].url), pairs(&[("per_page", "1")]));
    assert_eq!(
        sorted_query(&requests[1].url),
        pairs(&[("after", "eyJpZCI6MX0"), ("per_page", "1")])
    );
    assert_eq!(page1.items[0].uuid, UPLOAD_ID);
    assert_eq!(page2.items[0].uuid, "0198f2f9-0000-4e0a-9d5e-3a4a5b6c7d8f");
    assert!(!page2.has_more());
}

#[tokio::test]
async fn list_step_uploads_with_after_and_before_sends_nothing() {
    let api = api().await;
    let params = ListStepUploadsParams {
        after: Some("eyJpZCI6Mn0".into()),
        before: Some("eyJpZCI6MX0".into()),
        ..Default::default()
    };
    let err = api
        .client
        .list_step_uploads("acme", "app", 42, &params)
        .await
        .unwrap_err();

    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(
        api.server.received_requests().await.unwrap().is_empty(),
        "a request was sent"
    );
}

#[tokio::test]
async fn get_step_upload_decodes_the_definition() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(format!("{UPLOADS_PATH}/{UPLOAD_ID}")))
        .and(authorized())
        .respond_with(json(200, "step_upload.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let upload = api
        .client
        .get_step_upload("acme", "app", 42, UPLOAD_ID)
        .await
        .unwrap();

    assert_eq!(only_request_query(&api.server).await, pairs(&[]));
    assert_eq!(upload.uuid, UPLOAD_ID);
    assert_eq!(upload.definition_bytes, Some(142));
    assert_eq!(upload.definition_yaml_omitted, Some(false));
    assert_eq!(
        upload.definition_yaml.as_deref(),
        Some(
            "---\nsteps:\n- wait: ~\n  continue_on_failure: true\n- trigger: app-deploy\n  label: \":rocket: Deploy preview\"\n  key: deploy-preview\n  async: true\n"
        )
    );
    assert_eq!(upload.replace_existing_steps, Some(false));
    assert!(upload.extra.contains_key("graphql_id"));
}

#[tokio::test]
async fn step_uploads_of_an_old_build_are_gone() {
    let api = api().await;
    let message = "Step uploads are only available for builds created in the last 30 days";
    Mock::given(method("GET"))
        .and(path(UPLOADS_PATH))
        .and(authorized())
        .respond_with(ResponseTemplate::new(410).set_body_json(json!({ "message": message })))
        .expect(1)
        .mount(&api.server)
        .await;

    let err = api
        .client
        .list_step_uploads("acme", "app", 42, &ListStepUploadsParams::default())
        .await
        .unwrap_err();

    assert!(matches!(err, Error::Gone { .. }), "{err:?}");
    assert_eq!(err.status(), Some(StatusCode::GONE));
    assert_eq!(err.api_message(), Some(message));
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(text.contains("410"), "{text}");
    assert!(text.contains(message), "{text}");
    assert_eq!(text, format!("GET {UPLOADS_PATH}: 410 Gone: {message}"));
}
