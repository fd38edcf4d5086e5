//! The `pipelines` toolset: pipelines and schedules.

use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{authorized, harness, json};

const PIPELINE: &str = "/v2/organizations/acme/pipelines/app";
const SCHEDULES: &str = "/v2/organizations/acme/pipelines/app/schedules";
const SCHEDULE_ID: &str = "b3a1e9f2-7c4d-4f1a-9e6c-2d8a5f7b1c3d";

// --- get_pipeline ----------------------------------------------------------

#[tokio::test]
async fn get_pipeline_defaults_to_every_field() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(PIPELINE))
        .and(authorized())
        .respond_with(json(200, "pipeline.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let pipeline = h
        .ok(
            "get_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "app"}),
        )
        .await;
    assert_eq!(h.requests().await, [format!("GET {PIPELINE}")]);
    // Unknown API fields survive at full.
    assert_eq!(pipeline["future_field"]["nested"], json!([1, 2]));
    assert_eq!(
        pipeline["configuration"],
        "steps:\n  - command: make test\n"
    );
    let keys: Vec<&str> = pipeline
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .take(3)
        .collect();
    assert_eq!(keys, ["id", "slug", "name"]);
    insta::assert_json_snapshot!(pipeline);
}

#[tokio::test]
async fn get_pipeline_summary_and_detailed() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(PIPELINE))
        .respond_with(json(200, "pipeline.json"))
        .expect(2)
        .mount(&h.server)
        .await;
    let summary = h
        .ok(
            "get_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "app", "detail_level": "summary"}),
        )
        .await;
    let detailed = h
        .ok(
            "get_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "app", "detail_level": "detailed"}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [format!("GET {PIPELINE}"), format!("GET {PIPELINE}")]
    );
    assert!(summary.get("configuration").is_none());
    assert_eq!(detailed["steps_count"], 0);
    insta::assert_json_snapshot!(json!({"summary": summary, "detailed": detailed}));
}

#[tokio::test]
async fn get_pipeline_errors() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/nope"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "get_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "nope"}),
        )
        .await;
    assert!(
        error.starts_with(
            "Could not get the pipeline: GET /v2/organizations/acme/pipelines/nope: 404 Not Found"
        ),
        "{error}"
    );
    assert!(error.contains("Check the slugs"), "{error}");

    let error = h
        .err(
            "get_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "app", "detail_level": "everything"}),
        )
        .await;
    assert!(
        error.contains("`detail_level`: unknown value `everything`"),
        "{error}"
    );
    let error = h
        .err(
            "get_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": ""}),
        )
        .await;
    assert_eq!(error, "invalid argument `pipeline_slug`: must not be empty");
    assert_eq!(h.requests().await.len(), 1);
}

// --- list_pipelines --------------------------------------------------------

#[tokio::test]
async fn list_pipelines_filters_and_pages_in_summary() {
    let h = harness().await;
    let next = format!(
        "<{}/v2/organizations/acme/pipelines?page=3&per_page=2>; rel=\"next\"",
        h.server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines"))
        .respond_with(json(200, "pipelines.json").insert_header("link", next.as_str()))
        .expect(1)
        .mount(&h.server)
        .await;
    let page = h
        .ok(
            "list_pipelines",
            json!({"org_slug": "acme", "name": "a p", "repository": "acme/", "page": 2, "per_page": 2}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        ["GET /v2/organizations/acme/pipelines?name=a+p&repository=acme%2F&page=2&per_page=2"]
    );
    assert_eq!(page["next_page"], 3);
    assert_eq!(page["has_more"], true);
    assert!(page["items"][0].get("configuration").is_none());
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_pipelines_detailed_counts_steps_and_defaults_to_30_per_page() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines"))
        .respond_with(json(200, "pipelines.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let page = h
        .ok(
            "list_pipelines",
            json!({"org_slug": "acme", "detail_level": "detailed", "name": " "}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        ["GET /v2/organizations/acme/pipelines?page=1&per_page=30"]
    );
    assert_eq!(page["items"][1]["steps_count"], 1);
    assert_eq!(page["has_more"], false);
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_pipelines_errors() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines"))
        .respond_with(json(403, "error_403_scope.json"))
        .mount(&h.server)
        .await;
    let error = h.err("list_pipelines", json!({"org_slug": "acme"})).await;
    assert!(error.contains("403 Forbidden"), "{error}");
    assert!(
        error.contains("needs the token scope read_pipelines"),
        "{error}"
    );
    let error = h
        .err(
            "list_pipelines",
            json!({"org_slug": "acme", "per_page": 101}),
        )
        .await;
    assert!(
        error.contains("`per_page`: must be between 1 and 100"),
        "{error}"
    );
    let error = h
        .err("list_pipelines", json!({"org_slug": "acme", "page": 0}))
        .await;
    assert!(error.contains("`page`: must be between 1"), "{error}");
    let error = h.err("list_pipelines", json!({})).await;
    assert_eq!(error, "invalid argument `org_slug`: is required");
    assert_eq!(h.requests().await.len(), 1);
}

// --- create_pipeline -------------------------------------------------------

fn create_args() -> Value {
    json!({
        "org_slug": "acme",
        "name": "App",
        "repository_url": "git@github.com:acme/app.git",
        "cluster_id": "42f1a7da-812d-4430-93d8-1cc7c33a6bcf",
        "configuration": "steps:\n  - command: make test\n",
    })
}

#[tokio::test]
async fn create_pipeline_sends_only_what_was_given() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines"))
        .and(authorized())
        .respond_with(json(201, "pipeline.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let result = h.ok("create_pipeline", create_args()).await;
    assert_eq!(
        h.requests().await,
        ["POST /v2/organizations/acme/pipelines"]
    );
    assert_eq!(
        h.last_body().await,
        json!({
            "name": "App",
            "repository": "git@github.com:acme/app.git",
            "configuration": "steps:\n  - command: make test\n",
            "cluster_id": "42f1a7da-812d-4430-93d8-1cc7c33a6bcf",
        })
    );
    assert_eq!(result["pipeline"]["slug"], "app");
    assert!(result.get("webhook").is_none());
}

#[tokio::test]
async fn create_pipeline_with_every_field_and_a_webhook() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines"))
        .respond_with(json(201, "pipeline.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{PIPELINE}/webhook")))
        .and(authorized())
        .respond_with(
            ResponseTemplate::new(201).set_body_json(
                json!({"webhook_url": "https://webhook.buildkite.com/deliver/abc123"}),
            ),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    let mut args = create_args();
    let extra = json!({
        "description": "The app",
        "default_branch": "main",
        "skip_queued_branch_builds": true,
        "cancel_running_branch_builds": false,
        "tags": [" backend ", "deploy"],
        "create_webhook": true,
        "env": {"NODE_ENV": "test"},
        "visibility": "public",
        "team_uuids": ["5f8e2a17-c4d9-4b36-a1e0-9d7c3b2f6e48"],
        "provider_settings": {"trigger_mode": "code", "build_pull_requests": true},
    });
    args.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let result = h.ok("create_pipeline", args).await;
    assert_eq!(
        h.requests().await,
        [
            "POST /v2/organizations/acme/pipelines".to_owned(),
            format!("POST {PIPELINE}/webhook"),
        ]
    );
    let requests = h.server.received_requests().await.unwrap();
    let create_body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        create_body,
        json!({
            "name": "App",
            "repository": "git@github.com:acme/app.git",
            "configuration": "steps:\n  - command: make test\n",
            "cluster_id": "42f1a7da-812d-4430-93d8-1cc7c33a6bcf",
            "default_branch": "main",
            "description": "The app",
            "tags": ["backend", "deploy"],
            "env": {"NODE_ENV": "test"},
            "provider_settings": {"trigger_mode": "code", "build_pull_requests": true},
            "skip_queued_branch_builds": true,
            "cancel_running_branch_builds": false,
            "team_uuids": ["5f8e2a17-c4d9-4b36-a1e0-9d7c3b2f6e48"],
            "visibility": "public",
        })
    );
    assert_eq!(result["webhook"]["created"], true);
    insta::assert_json_snapshot!(result);
}

#[tokio::test]
async fn create_pipeline_reports_a_webhook_failure_without_failing() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines"))
        .respond_with(json(201, "pipeline.json"))
        .mount(&h.server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{PIPELINE}/webhook")))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"message": "The pipeline's repository provider does not support webhooks"}),
        ))
        .expect(1)
        .mount(&h.server)
        .await;
    let mut args = create_args();
    args["create_webhook"] = json!(true);
    let result = h.ok("create_pipeline", args).await;
    assert_eq!(
        h.requests().await,
        [
            "POST /v2/organizations/acme/pipelines".to_owned(),
            format!("POST {PIPELINE}/webhook"),
        ]
    );
    assert_eq!(
        result["pipeline"]["id"],
        "849411f9-9e6d-4739-a0d8-e247088e9b52"
    );
    insta::assert_json_snapshot!(result["webhook"]);
}

#[tokio::test]
async fn create_pipeline_errors() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines"))
        .respond_with(json(422, "error_422_validation.json"))
        .mount(&h.server)
        .await;
    let error = h.err("create_pipeline", create_args()).await;
    assert!(
        error.contains(
            "POST /v2/organizations/acme/pipelines: 422 Unprocessable Entity: Validation Failed"
        ),
        "{error}"
    );
    assert!(
        error.contains("configuration: Step configuration is missing"),
        "{error}"
    );
    assert!(error.contains("fix the fields it names"), "{error}");
    assert_eq!(h.requests().await.len(), 1);

    for (param, value, expected) in [
        (
            "configuration",
            json!("  \n"),
            "invalid argument `configuration`: must not be empty",
        ),
        (
            "name",
            json!(""),
            "invalid argument `name`: must not be empty",
        ),
        (
            "tags",
            json!(["ok", " "]),
            "invalid argument `tags`: tags must not be empty strings",
        ),
        (
            "visibility",
            json!("secret"),
            "invalid argument `visibility`: unknown value `secret`",
        ),
        (
            "env",
            json!({"A": 1}),
            "invalid argument `env.A`: invalid type",
        ),
    ] {
        let mut args = create_args();
        args[param] = value;
        let error = h.err("create_pipeline", args).await;
        assert!(error.starts_with(expected), "{param}: {error}");
    }
    for required in ["cluster_id", "repository_url", "configuration"] {
        let mut args = create_args();
        args.as_object_mut().unwrap().remove(required);
        let error = h.err("create_pipeline", args).await;
        assert_eq!(error, format!("invalid argument `{required}`: is required"));
    }
    let mut args = create_args();
    args["repository"] = json!("x");
    let error = h.err("create_pipeline", args).await;
    assert!(
        error.starts_with("invalid argument `repository`: is not an argument of this tool"),
        "{error}"
    );
    assert_eq!(
        h.requests().await.len(),
        1,
        "validation errors call nothing"
    );
}

// --- update_pipeline -------------------------------------------------------

#[tokio::test]
async fn update_pipeline_patches_only_the_given_fields() {
    let h = harness().await;
    Mock::given(method("PATCH"))
        .and(path(PIPELINE))
        .and(authorized())
        .respond_with(json(200, "pipeline.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let result = h
        .ok(
            "update_pipeline",
            json!({
                "org_slug": "acme",
                "pipeline_slug": "app",
                "repository_url": "git@github.com:acme/app2.git",
                "description": "",
                "tags": [],
                "cancel_running_branch_builds": true,
            }),
        )
        .await;
    assert_eq!(h.requests().await, [format!("PATCH {PIPELINE}")]);
    assert_eq!(
        h.last_body().await,
        json!({
            "repository": "git@github.com:acme/app2.git",
            "description": "",
            "tags": [],
            "cancel_running_branch_builds": true,
        })
    );
    assert_eq!(
        result["updated_fields"],
        json!([
            "repository_url",
            "description",
            "tags",
            "cancel_running_branch_builds"
        ])
    );
    assert_eq!(result["pipeline"]["slug"], "app");
    insta::assert_json_snapshot!(result);
    let mut pipeline_keys = result["pipeline"].as_object().unwrap().keys();
    assert_eq!(pipeline_keys.next().map(String::as_str), Some("id"));
}

#[tokio::test]
async fn update_pipeline_errors() {
    let h = harness().await;
    let error = h
        .err(
            "update_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "app"}),
        )
        .await;
    assert!(
        error.starts_with(
            "invalid argument `arguments`: nothing to change: give at least one of name"
        ),
        "{error}"
    );
    let error = h
        .err(
            "update_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "app", "name": " "}),
        )
        .await;
    assert_eq!(error, "invalid argument `name`: must not be empty");
    assert!(h.requests().await.is_empty());

    Mock::given(method("PATCH"))
        .and(path(PIPELINE))
        .respond_with(json(403, "error_403_scope.json"))
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "update_pipeline",
            json!({"org_slug": "acme", "pipeline_slug": "app", "default_branch": "trunk"}),
        )
        .await;
    assert!(
        error.contains(&format!("PATCH {PIPELINE}: 403 Forbidden")),
        "{error}"
    );
    assert!(
        error.contains("needs the token scope write_pipelines"),
        "{error}"
    );
    assert_eq!(h.last_body().await, json!({"default_branch": "trunk"}));
}

// --- schedules -------------------------------------------------------------

#[tokio::test]
async fn list_pipeline_schedules_pages() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(SCHEDULES))
        .and(authorized())
        .respond_with(json(200, "pipeline_schedules.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let page = h
        .ok(
            "list_pipeline_schedules",
            json!({"org_slug": "acme", "pipeline_slug": "app"}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [format!("GET {SCHEDULES}?page=1&per_page=30")]
    );
    assert_eq!(page["items"][1]["enabled"], false);
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_pipeline_schedules_errors() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(SCHEDULES))
        .respond_with(json(403, "error_403_scope.json"))
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "list_pipeline_schedules",
            json!({"org_slug": "acme", "pipeline_slug": "app", "page": 2, "per_page": 5}),
        )
        .await;
    assert!(
        error.contains(&format!("GET {SCHEDULES}?page=2&per_page=5: 403 Forbidden")),
        "{error}"
    );
    assert!(error.contains("read_pipelines"), "{error}");
    let error = h
        .err("list_pipeline_schedules", json!({"org_slug": "acme"}))
        .await;
    assert_eq!(error, "invalid argument `pipeline_slug`: is required");
}

#[tokio::test]
async fn get_pipeline_schedule_returns_every_field() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("{SCHEDULES}/{SCHEDULE_ID}")))
        .respond_with(json(200, "pipeline_schedule.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let schedule = h
        .ok(
            "get_pipeline_schedule",
            json!({"org_slug": "acme", "pipeline_slug": "app", "schedule_id": SCHEDULE_ID}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [format!("GET {SCHEDULES}/{SCHEDULE_ID}")]
    );
    insta::assert_json_snapshot!(schedule);
}

#[tokio::test]
async fn get_pipeline_schedule_errors() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("{SCHEDULES}/missing")))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "No schedule found"})),
        )
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "get_pipeline_schedule",
            json!({"org_slug": "acme", "pipeline_slug": "app", "schedule_id": "missing"}),
        )
        .await;
    assert!(
        error.starts_with(&format!(
            "Could not get the pipeline schedule: GET {SCHEDULES}/missing: 404 Not Found: No schedule found"
        )),
        "{error}"
    );
    let error = h
        .err(
            "get_pipeline_schedule",
            json!({"org_slug": "acme", "pipeline_slug": "app", "schedule_id": " "}),
        )
        .await;
    assert_eq!(error, "invalid argument `schedule_id`: must not be empty");
}

#[tokio::test]
async fn create_pipeline_schedule_posts_the_fields() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path(SCHEDULES))
        .and(authorized())
        .and(body_json(json!({
            "cronline": "@daily",
            "label": "Nightly",
            "message": "Nightly build",
            "commit": "HEAD",
            "branch": "main",
            "env": {"DEPLOY_ENV": "staging"},
            "enabled": true,
        })))
        .respond_with(json(201, "pipeline_schedule.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let schedule = h
        .ok(
            "create_pipeline_schedule",
            json!({
                "org_slug": "acme",
                "pipeline_slug": "app",
                "cronline": " @daily ",
                "label": "Nightly",
                "message": "Nightly build",
                "commit": "HEAD",
                "branch": "main",
                "env": {"DEPLOY_ENV": "staging"},
                "enabled": true,
            }),
        )
        .await;
    assert_eq!(h.requests().await, [format!("POST {SCHEDULES}")]);
    assert_eq!(
        h.last_body().await,
        json!({
            "cronline": "@daily",
            "label": "Nightly",
            "message": "Nightly build",
            "commit": "HEAD",
            "branch": "main",
            "env": {"DEPLOY_ENV": "staging"},
            "enabled": true,
        })
    );
    insta::assert_json_snapshot!(schedule);
}

#[tokio::test]
async fn create_pipeline_schedule_errors() {
    let h = harness().await;
    let base = json!({"org_slug": "acme", "pipeline_slug": "app"});
    let error = h.err("create_pipeline_schedule", base.clone()).await;
    assert_eq!(error, "invalid argument `cronline`: is required");
    let mut args = base.clone();
    args["cronline"] = json!("");
    let error = h.err("create_pipeline_schedule", args).await;
    assert_eq!(error, "invalid argument `cronline`: must not be empty");
    let mut args = base.clone();
    args["cronline"] = json!("@daily");
    args["env"] = json!(["A=1"]);
    let error = h.err("create_pipeline_schedule", args).await;
    assert!(
        error.starts_with("invalid argument `env`: invalid type"),
        "{error}"
    );
    assert!(h.requests().await.is_empty());

    Mock::given(method("POST"))
        .and(path(SCHEDULES))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Validation Failed",
            "errors": [{"field": "cronline", "code": "is not a valid cron expression"}],
        })))
        .mount(&h.server)
        .await;
    let mut args = base;
    args["cronline"] = json!("every day");
    let error = h.err("create_pipeline_schedule", args).await;
    assert!(
        error.contains("422 Unprocessable Entity: Validation Failed")
            && error.contains("cronline: is not a valid cron expression"),
        "{error}"
    );
}

#[tokio::test]
async fn update_pipeline_schedule_patches_only_the_given_fields() {
    let h = harness().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{SCHEDULES}/{SCHEDULE_ID}")))
        .and(authorized())
        .respond_with(json(200, "pipeline_schedule.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let result = h
        .ok(
            "update_pipeline_schedule",
            json!({
                "org_slug": "acme",
                "pipeline_slug": "app",
                "schedule_id": SCHEDULE_ID,
                "enabled": false,
                "env": {},
            }),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [format!("PATCH {SCHEDULES}/{SCHEDULE_ID}")]
    );
    assert_eq!(h.last_body().await, json!({"env": {}, "enabled": false}));
    assert_eq!(result["updated_fields"], json!(["env", "enabled"]));
    insta::assert_json_snapshot!(result);
}

#[tokio::test]
async fn update_pipeline_schedule_errors() {
    let h = harness().await;
    let base = json!({"org_slug": "acme", "pipeline_slug": "app", "schedule_id": SCHEDULE_ID});
    let error = h.err("update_pipeline_schedule", base.clone()).await;
    assert!(
        error.starts_with(
            "invalid argument `arguments`: nothing to change: give at least one of cronline"
        ),
        "{error}"
    );
    let mut args = base.clone();
    args["cronline"] = json!("");
    let error = h.err("update_pipeline_schedule", args).await;
    assert_eq!(error, "invalid argument `cronline`: must not be empty");
    let mut args = base.clone();
    args["enabled"] = json!("no");
    let error = h.err("update_pipeline_schedule", args).await;
    assert!(
        error.starts_with("invalid argument `enabled`: invalid type"),
        "{error}"
    );
    assert!(h.requests().await.is_empty());

    Mock::given(method("PATCH"))
        .and(path(format!("{SCHEDULES}/{SCHEDULE_ID}")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&h.server)
        .await;
    let mut args = base;
    args["label"] = json!("Renamed");
    let error = h.err("update_pipeline_schedule", args).await;
    assert!(
        error.starts_with(&format!(
            "Could not get the updated pipeline schedule: PATCH {SCHEDULES}/{SCHEDULE_ID}: 404 Not Found"
        )),
        "{error}"
    );
    assert_eq!(h.last_body().await, json!({"label": "Renamed"}));
}
