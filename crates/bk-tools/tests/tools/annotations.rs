//! The `annotations` toolset.

use bk_tools::{Registry, Toolset};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{authorized, harness, json};

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const JOB_ID: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";

fn build_args() -> Value {
    json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"})
}

fn with(mut args: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        args[k] = v.clone();
    }
    args
}

#[test]
fn tools_match_the_spec() {
    crate::clusters::assert_toolset_matches_spec(Toolset::Annotations);
    let registry = Registry::new();
    let create = registry.get("create_annotation").unwrap().input_schema();
    assert_eq!(
        create["properties"]["scope"]["enum"],
        json!(["build", "job"])
    );
    assert_eq!(
        create["properties"]["style"]["enum"],
        json!(["success", "info", "warning", "error"])
    );
    assert_eq!(create["properties"]["priority"]["minimum"], 1);
    assert_eq!(create["properties"]["priority"]["maximum"], 10);
    let list = registry.get("list_annotations").unwrap().input_schema();
    assert_eq!(
        list["properties"]["scope"]["enum"],
        json!(["build", "job", "all"])
    );
}

#[tokio::test]
async fn list_build_annotations() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("{BUILD}/annotations")))
        .and(authorized())
        .respond_with(json(200, "annotations.json"))
        .mount(&h.server)
        .await;
    let page = h.ok("list_annotations", build_args()).await;
    assert_eq!(
        h.requests().await,
        [format!("GET {BUILD}/annotations?page=1&per_page=30")]
    );
    assert!(
        page["items"][0].get("job_id").is_none(),
        "null job_id left out"
    );
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_annotations_scopes_paging_and_omit_body() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("{BUILD}/annotations")))
        .respond_with(json(200, "annotations.json"))
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{BUILD}/jobs/{JOB_ID}/annotations")))
        .respond_with(json(200, "annotations.json"))
        .mount(&h.server)
        .await;
    let job = h
        .ok(
            "list_annotations",
            with(
                build_args(),
                json!({"scope": "job", "job_id": JOB_ID, "page": 2, "per_page": 10}),
            ),
        )
        .await;
    assert_eq!(job["page"], 2);
    h.ok(
        "list_annotations",
        with(build_args(), json!({"scope": "all", "omit_body": true})),
    )
    .await;
    h.ok(
        "list_annotations",
        with(build_args(), json!({"scope": "build", "omit_body": false})),
    )
    .await;
    h.ok(
        "list_annotations",
        with(build_args(), json!({"build_number": "#42"})),
    )
    .await;
    assert_eq!(
        h.requests().await,
        [
            format!("GET {BUILD}/jobs/{JOB_ID}/annotations?page=2&per_page=10"),
            format!("GET {BUILD}/annotations?scope=all&omit_body=true&page=1&per_page=30"),
            format!("GET {BUILD}/annotations?page=1&per_page=30"),
            format!("GET {BUILD}/annotations?page=1&per_page=30"),
        ]
    );
}

#[tokio::test]
async fn list_annotations_cleans_body_html() {
    let h = harness().await;
    let body = json!([{
        "id": "a1",
        "context": "evil",
        "style": "info",
        "scope": "build",
        "job_id": null,
        "priority": 3,
        "body_html": "<p onclick=\"steal()\">Hi <b>there</b></p><script>alert(1)</script><img src=x onerror=alert(1)><details><summary>more</summary>Vec&lt;String&gt;</details><style>p{}</style>",
        "created_at": "2026-08-11T10:17:38.775Z",
        "updated_at": "2026-08-11T10:17:39.396Z"
    }]);
    Mock::given(method("GET"))
        .and(path(format!("{BUILD}/annotations")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&h.server)
        .await;
    let page = h.ok("list_annotations", build_args()).await;
    assert_eq!(
        page["items"][0]["body_html"],
        "<p>Hi <b>there</b></p><img src=\"x\"><details><summary>more</summary>Vec&lt;String&gt;</details>"
    );
}

#[tokio::test]
async fn list_annotations_errors() {
    let h = harness().await;
    let error = h
        .err(
            "list_annotations",
            with(build_args(), json!({"scope": "job"})),
        )
        .await;
    assert_eq!(
        error,
        "invalid argument `job_id`: is required when scope is \"job\": give the job's UUID (list_jobs gives it)"
    );
    for scope in [json!("build"), json!("all"), Value::Null] {
        let mut args = with(build_args(), json!({"job_id": JOB_ID}));
        if !scope.is_null() {
            args["scope"] = scope;
        }
        let error = h.err("list_annotations", args).await;
        assert!(
            error.starts_with("invalid argument `job_id`: only applies with scope \"job\""),
            "{error}"
        );
    }
    let error = h
        .err(
            "list_annotations",
            with(build_args(), json!({"scope": "job", "job_id": ""})),
        )
        .await;
    assert_eq!(error, "invalid argument `job_id`: must not be empty");
    let error = h
        .err(
            "list_annotations",
            with(build_args(), json!({"scope": "step"})),
        )
        .await;
    assert!(
        error.starts_with(
            "invalid argument `scope`: unknown value `step`, expected one of `build`, `job`, `all`"
        ),
        "{error}"
    );
    let error = h
        .err(
            "list_annotations",
            with(
                build_args(),
                json!({"build_number": "01890cf1-6e2a-4e2c-8bd6-4f1d2b3c4d5e"}),
            ),
        )
        .await;
    assert!(error.contains("looks like a build UUID"), "{error}");
    assert!(h.requests().await.is_empty(), "nothing is sent");

    Mock::given(method("GET"))
        .and(path(format!("{BUILD}/jobs/{JOB_ID}/annotations")))
        .respond_with(json(404, "error_404_job.json"))
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "list_annotations",
            with(build_args(), json!({"scope": "job", "job_id": JOB_ID})),
        )
        .await;
    assert!(
        error.starts_with(&format!(
            "Could not get the job's annotations: GET {BUILD}/jobs/{JOB_ID}/annotations?page=1&per_page=30: 404 Not Found: No job found."
        )),
        "{error}"
    );
}

#[tokio::test]
async fn create_build_annotation_posts_the_fields_given() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path(format!("{BUILD}/annotations")))
        .respond_with(json(201, "annotation.json"))
        .mount(&h.server)
        .await;
    let annotation = h
        .ok(
            "create_annotation",
            with(
                build_args(),
                json!({"body": "3 tests failed", "style": "error", "context": "rspec", "priority": 3}),
            ),
        )
        .await;
    assert_eq!(h.requests().await, [format!("POST {BUILD}/annotations")]);
    assert_eq!(
        h.last_body().await,
        json!({"body": "3 tests failed", "style": "error", "context": "rspec", "priority": 3})
    );
    insta::assert_json_snapshot!(annotation);
}

#[tokio::test]
async fn create_job_annotation_appends() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path(format!("{BUILD}/jobs/{JOB_ID}/annotations")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(crate::common::fixture("annotations.json")[1].clone()),
        )
        .mount(&h.server)
        .await;
    let annotation = h
        .ok(
            "create_annotation",
            with(
                build_args(),
                json!({"scope": "job", "job_id": JOB_ID, "body": "Coverage dropped", "append": true}),
            ),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [format!("POST {BUILD}/jobs/{JOB_ID}/annotations")]
    );
    assert_eq!(
        h.last_body().await,
        json!({"body": "Coverage dropped", "append": true})
    );
    insta::assert_json_snapshot!(annotation);
}

#[tokio::test]
async fn create_annotation_errors() {
    let h = harness().await;
    let cases = [
        (
            json!({"body": "x", "scope": "job"}),
            "invalid argument `job_id`: is required when scope is \"job\"",
        ),
        (
            json!({"body": "x", "job_id": JOB_ID}),
            "invalid argument `job_id`: only applies with scope \"job\"",
        ),
        (
            json!({"body": "x", "scope": "build", "job_id": JOB_ID}),
            "invalid argument `job_id`: only applies with scope \"job\"",
        ),
        (
            json!({"body": "x", "scope": "all"}),
            "invalid argument `scope`: unknown value `all`, expected `build` or `job`",
        ),
        (json!({}), "invalid argument `body`: is required"),
        (
            json!({"body": "  "}),
            "invalid argument `body`: must not be empty",
        ),
        (
            json!({"body": "x", "priority": 11}),
            "invalid argument `priority`: must be between 1 and 10 (got 11)",
        ),
        (
            json!({"body": "x", "priority": 0}),
            "invalid argument `priority`: must be between 1 and 10 (got 0)",
        ),
        (
            json!({"body": "x", "style": "danger"}),
            "invalid argument `style`: unknown value `danger`, expected one of `success`, `info`, `warning`, `error`",
        ),
        (
            json!({"body": "x", "append": "yes"}),
            "invalid argument `append`: invalid type",
        ),
    ];
    for (extra, expected) in cases {
        let error = h
            .err("create_annotation", with(build_args(), extra.clone()))
            .await;
        assert!(error.starts_with(expected), "{extra}: {error}");
    }
    assert!(h.requests().await.is_empty(), "nothing is sent");

    Mock::given(method("POST"))
        .and(path(format!("{BUILD}/annotations")))
        .respond_with(json(403, "error_403_scope.json"))
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "create_annotation",
            with(build_args(), json!({"body": "x"})),
        )
        .await;
    assert!(
        error.starts_with(&format!(
            "Could not get the new build annotation: POST {BUILD}/annotations: 403 Forbidden"
        )),
        "{error}"
    );
    assert!(
        error.contains("needs the token scope write_builds"),
        "{error}"
    );
}
