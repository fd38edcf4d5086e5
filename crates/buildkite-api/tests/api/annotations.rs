//! Build and job annotations: lists and creation.

use buildkite_api::{AnnotationStyle, CreateAnnotationBody, Error, JobRef, ListAnnotationsParams};
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{body_json, header, method, path};

use crate::common::{api, authorized, exact_query, json, only_request_body};

const JOB: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const BUILD_ANNOTATIONS: &str = "/v2/organizations/acme/pipelines/app/builds/42/annotations";

fn job_annotations_path() -> String {
    format!("/v2/organizations/acme/pipelines/app/builds/42/jobs/{JOB}/annotations")
}

#[tokio::test]
async fn list_build_annotations_with_scope_omit_body_and_paging() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(BUILD_ANNOTATIONS))
        .and(exact_query(&[
            ("scope", "all"),
            ("omit_body", "true"),
            ("page", "2"),
            ("per_page", "25"),
        ]))
        .and(authorized())
        .respond_with(json(200, "annotations.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListAnnotationsParams {
        scope: Some("all".into()),
        omit_body: Some(true),
        page: Some(2),
        per_page: Some(25),
    };
    let page = api
        .client
        .list_build_annotations("acme", "app", 42, &params)
        .await
        .unwrap();
    let contexts: Vec<_> = page
        .items
        .iter()
        .map(|a| a.context.as_deref().unwrap())
        .collect();
    assert_eq!(contexts, ["rspec", "coverage"]);
    assert_eq!(page.items[0].style, Some(AnnotationStyle::Error));
    assert_eq!(page.items[1].style, Some(AnnotationStyle::Warning));
    assert_eq!(page.items[1].scope.as_deref(), Some("job"));
    assert_eq!(page.items[1].job_id.as_deref(), Some(JOB));
    assert_eq!(page.items[1].priority, Some(5));
}

#[tokio::test]
async fn list_job_annotations_path() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(job_annotations_path()))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(json(200, "annotations.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let job = JobRef::in_build("acme", "app", 42, JOB);
    let page = api
        .client
        .list_job_annotations(&job, &ListAnnotationsParams::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].id, "de0d4ab5-6360-467a-a34b-e5ef5db5320d");
    assert_eq!(
        page.items[0].created_at.unwrap().to_string(),
        "2026-08-11T10:17:38.775Z"
    );
}

#[tokio::test]
async fn list_job_annotations_organization_scoped() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/v2/organizations/acme/jobs/{JOB}/annotations"
        )))
        .and(exact_query(&[("omit_body", "false")]))
        .and(authorized())
        .respond_with(json(200, "annotations.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListAnnotationsParams {
        omit_body: Some(false),
        ..Default::default()
    };
    let page = api
        .client
        .list_job_annotations(&JobRef::in_organization("acme", JOB), &params)
        .await
        .unwrap();
    assert!(
        page.items[0]
            .body_html
            .as_deref()
            .unwrap()
            .contains("3 tests failed")
    );
}

#[tokio::test]
async fn create_build_annotation_sends_every_field() {
    let api = api().await;
    let expected = json!({
        "body": "**3 tests failed**",
        "style": "error",
        "context": "rspec",
        "priority": 7,
        "append": true,
    });
    Mock::given(method("POST"))
        .and(path(BUILD_ANNOTATIONS))
        .and(exact_query(&[]))
        .and(authorized())
        .and(header("content-type", "application/json"))
        .and(body_json(&expected))
        .respond_with(json(201, "annotation.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let body = CreateAnnotationBody {
        body: "**3 tests failed**".into(),
        style: Some(AnnotationStyle::Error),
        context: Some("rspec".into()),
        priority: Some(7),
        append: Some(true),
    };
    let annotation = api
        .client
        .create_build_annotation("acme", "app", 42, &body)
        .await
        .unwrap();
    assert_eq!(annotation.id, "de0d4ab5-6360-467a-a34b-e5ef5db5320d");
    assert_eq!(annotation.style, Some(AnnotationStyle::Error));
    assert_eq!(only_request_body(&api.server).await, expected);
}

#[tokio::test]
async fn create_job_annotation_sends_only_set_fields() {
    let api = api().await;
    let expected = json!({ "body": "Coverage dropped", "style": "warning" });
    Mock::given(method("POST"))
        .and(path(job_annotations_path()))
        .and(exact_query(&[]))
        .and(authorized())
        .and(body_json(&expected))
        .respond_with(json(201, "annotation.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let body = CreateAnnotationBody {
        body: "Coverage dropped".into(),
        style: Some(AnnotationStyle::Warning),
        ..Default::default()
    };
    let job = JobRef::in_build("acme", "app", 42, JOB);
    let annotation = api.client.create_job_annotation(&job, &body).await.unwrap();
    assert_eq!(annotation.context.as_deref(), Some("rspec"));
    assert_eq!(only_request_body(&api.server).await, expected);
}

#[tokio::test]
async fn create_job_annotation_organization_scoped() {
    let api = api().await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v2/organizations/acme/jobs/{JOB}/annotations"
        )))
        .and(authorized())
        .and(body_json(json!({ "body": "hi" })))
        .respond_with(json(201, "annotation.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let body = CreateAnnotationBody {
        body: "hi".into(),
        ..Default::default()
    };
    let annotation = api
        .client
        .create_job_annotation(&JobRef::in_organization("acme", JOB), &body)
        .await
        .unwrap();
    assert_eq!(annotation.priority, Some(3));
}

#[tokio::test]
async fn empty_annotation_body_is_rejected_before_sending() {
    let api = api().await;
    for text in ["", "  \n\t"] {
        let body = CreateAnnotationBody {
            body: text.into(),
            context: Some("rspec".into()),
            ..Default::default()
        };
        let err = api
            .client
            .create_build_annotation("acme", "app", 42, &body)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("body")),
            "{text:?} gave {err:?}"
        );
        let job = JobRef::in_organization("acme", JOB);
        let err = api
            .client
            .create_job_annotation(&job, &body)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(_)),
            "{text:?} gave {err:?}"
        );
    }
    assert!(api.server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn priority_out_of_range_is_rejected_before_sending() {
    let api = api().await;
    for priority in [0, 11, 255] {
        let body = CreateAnnotationBody {
            body: "text".into(),
            priority: Some(priority),
            ..Default::default()
        };
        let err = api
            .client
            .create_build_annotation("acme", "app", 42, &body)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("priority")),
            "priority {priority} gave {err:?}"
        );
    }
    assert!(api.server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn priority_bounds_one_and_ten_are_sent() {
    let api = api().await;
    for priority in [1, 10] {
        Mock::given(method("POST"))
            .and(path(BUILD_ANNOTATIONS))
            .and(authorized())
            .and(body_json(json!({ "body": "text", "priority": priority })))
            .respond_with(json(201, "annotation.json"))
            .expect(1)
            .mount(&api.server)
            .await;
    }
    for priority in [1, 10] {
        let body = CreateAnnotationBody {
            body: "text".into(),
            priority: Some(priority),
            ..Default::default()
        };
        api.client
            .create_build_annotation("acme", "app", 42, &body)
            .await
            .unwrap();
    }
}
