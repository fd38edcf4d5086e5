//! The `clusters` toolset.

use bk_tools::{Registry, Toolset};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{authorized, harness, json};

const CLUSTER: &str = "/v2/organizations/acme/clusters/42f1a7da-812d-4430-93d8-1cc7c33a6bcf";
const CLUSTER_ID: &str = "42f1a7da-812d-4430-93d8-1cc7c33a6bcf";
const QUEUE_ID: &str = "01885682-55a7-44f5-84f3-0402fb452e66";

fn queue_path(suffix: &str) -> String {
    format!("{CLUSTER}/queues/{QUEUE_ID}{suffix}")
}

fn queue_args() -> Value {
    json!({"org_slug": "acme", "cluster_id": CLUSTER_ID, "queue_id": QUEUE_ID})
}

/// Checks a toolset's tools against the spec (tests/fixtures/tools.json):
/// names, read-only and destructive flags, scopes, every listed
/// parameter's name, type and required-ness (added parameters must be
/// optional), and a description for every parameter. Shared by the
/// clusters, agents and annotations tests.
pub(crate) fn assert_toolset_matches_spec(toolset: Toolset) {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/tools.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let registry = Registry::new();
    let entries: Vec<&Value> = ["parity", "additions"]
        .iter()
        .flat_map(|k| spec[*k].as_array().unwrap())
        .filter(|t| t["toolset"] == toolset.name())
        .collect();
    assert!(!entries.is_empty());
    let ours: Vec<&str> = registry
        .all_tools()
        .iter()
        .filter(|t| t.meta().toolset == toolset)
        .map(|t| t.meta().name)
        .collect();
    assert_eq!(ours.len(), entries.len(), "{ours:?}");
    for entry in entries {
        let name = entry["name"].as_str().unwrap();
        let tool = registry
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let meta = tool.meta();
        let hints = meta.annotations();
        assert_eq!(json!(hints.read_only_hint), entry["read_only"], "{name}");
        assert_eq!(
            json!(hints.destructive_hint),
            entry["destructive"],
            "{name}"
        );
        assert_eq!(json!(meta.scopes), entry["scopes"], "{name}");
        let schema = tool.input_schema();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        let mut spec_required = Vec::new();
        for param in entry["params"].as_array().unwrap() {
            let pname = param["name"].as_str().unwrap();
            let property = &schema["properties"][pname];
            assert_eq!(
                property["type"], param["type"],
                "{name}.{pname}: {property}"
            );
            assert!(
                is_described(pname, property),
                "{name}.{pname} has no description"
            );
            if param["required"] == true {
                spec_required.push(pname);
            }
        }
        let mut sorted = required.clone();
        sorted.sort_unstable();
        spec_required.sort_unstable();
        assert_eq!(sorted, spec_required, "{name}: required parameters");
        for (pname, property) in schema["properties"].as_object().unwrap() {
            assert!(
                is_described(pname, property),
                "{name}.{pname} has no description"
            );
        }
    }
}

/// Whether a parameter's description, if it has one, says something: a
/// parameter whose name, type and enum say it all has none (see
/// `surface::schemas_are_strict_and_descriptions_lean`).
fn is_described(_pname: &str, property: &Value) -> bool {
    property
        .get("description")
        .is_none_or(|d| d.as_str().is_some_and(|d| d.len() >= 8))
}

#[test]
fn tools_match_the_spec() {
    assert_toolset_matches_spec(Toolset::Clusters);
    let registry = Registry::new();
    let schema = registry.get("update_cluster_queue").unwrap().input_schema();
    assert_eq!(
        schema["properties"]["retry_agent_affinity"]["enum"],
        json!(["prefer-warmest", "prefer-different"])
    );
}

#[tokio::test]
async fn get_cluster_returns_it_whole_ids_first() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(CLUSTER))
        .and(authorized())
        .respond_with(json(200, "cluster.json"))
        .mount(&h.server)
        .await;
    let cluster = h
        .ok(
            "get_cluster",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID}),
        )
        .await;
    assert_eq!(h.requests().await, [format!("GET {CLUSTER}")]);
    let keys: Vec<&String> = cluster.as_object().unwrap().keys().take(4).collect();
    assert_eq!(keys, ["id", "name", "description", "default_queue_id"]);
    assert_eq!(cluster["maintainers"], json!({"users": [], "teams": []}));
    insta::assert_json_snapshot!(cluster);
}

#[tokio::test]
async fn get_cluster_404_and_bad_arguments() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/clusters/nope"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(r#"{"message":"Not Found"}"#, "application/json"),
        )
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "get_cluster",
            json!({"org_slug": "acme", "cluster_id": "nope"}),
        )
        .await;
    assert!(
        error.starts_with(
            "Could not get the cluster: GET /v2/organizations/acme/clusters/nope: 404 Not Found"
        ),
        "{error}"
    );
    assert!(error.contains("Check the slugs and ids"), "{error}");

    let error = h.err("get_cluster", json!({"org_slug": "acme"})).await;
    assert_eq!(error, "invalid argument `cluster_id`: is required");
    let error = h
        .err(
            "get_cluster",
            json!({"org_slug": "acme", "cluster_id": " "}),
        )
        .await;
    assert_eq!(error, "invalid argument `cluster_id`: must not be empty");
    assert_eq!(h.requests().await.len(), 1, "bad arguments send nothing");
}

#[tokio::test]
async fn list_clusters_pages_and_drops_api_urls() {
    let h = harness().await;
    let next = format!(
        "<{}/v2/organizations/acme/clusters?page=3&per_page=1>; rel=\"next\"",
        h.server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/clusters"))
        .and(query_param("page", "2"))
        .respond_with(json(200, "clusters.json").insert_header("link", next.as_str()))
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/clusters"))
        .and(query_param("page", "1"))
        .respond_with(json(200, "clusters.json"))
        .mount(&h.server)
        .await;
    let page = h
        .ok(
            "list_clusters",
            json!({"org_slug": "acme", "page": 2, "per_page": 1}),
        )
        .await;
    let default = h.ok("list_clusters", json!({"org_slug": "acme"})).await;
    assert_eq!(
        h.requests().await,
        [
            "GET /v2/organizations/acme/clusters?page=2&per_page=1",
            "GET /v2/organizations/acme/clusters?page=1&per_page=30",
        ]
    );
    assert_eq!(page["next_page"], 3);
    assert_eq!(page["has_more"], true);
    assert_eq!(default["has_more"], false);
    let item = page["items"][0].as_object().unwrap();
    for gone in ["url", "queues_url", "default_queue_url", "graphql_id"] {
        assert!(!item.contains_key(gone), "{gone}");
    }
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_clusters_403_names_the_scope_and_bad_page_is_refused() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/clusters"))
        .respond_with(json(403, "error_403_scope.json"))
        .mount(&h.server)
        .await;
    let error = h.err("list_clusters", json!({"org_slug": "acme"})).await;
    assert!(error.contains("403 Forbidden"), "{error}");
    assert!(
        error.contains("needs the token scope read_clusters"),
        "{error}"
    );
    let error = h
        .err("list_clusters", json!({"org_slug": "acme", "per_page": 0}))
        .await;
    assert!(
        error.starts_with("invalid argument `per_page`: must be between 1 and 100"),
        "{error}"
    );
    assert_eq!(h.requests().await.len(), 1);
}

#[tokio::test]
async fn create_cluster_posts_the_fields_given() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/clusters"))
        .respond_with(json(201, "cluster.json"))
        .mount(&h.server)
        .await;
    let cluster = h
        .ok(
            "create_cluster",
            json!({"org_slug": "acme", "name": "Open Source", "description": "OSS builds", "color": "#FFE0F1"}),
        )
        .await;
    assert_eq!(h.requests().await, ["POST /v2/organizations/acme/clusters"]);
    assert_eq!(
        h.last_body().await,
        json!({"name": "Open Source", "description": "OSS builds", "color": "#FFE0F1"})
    );
    assert_eq!(cluster["id"], CLUSTER_ID);
    insta::assert_json_snapshot!(cluster);
}

#[tokio::test]
async fn create_cluster_errors() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/clusters"))
        .respond_with(
            ResponseTemplate::new(422).set_body_raw(
                r#"{"message":"Validation Failed","errors":[{"field":"name","code":"has already been taken"}]}"#,
                "application/json",
            ),
        )
        .mount(&h.server)
        .await;
    let error = h
        .err("create_cluster", json!({"org_slug": "acme", "name": "Dup"}))
        .await;
    assert!(
        error.contains("POST /v2/organizations/acme/clusters: 422"),
        "{error}"
    );
    assert!(error.contains("has already been taken"), "{error}");
    assert!(error.contains("fix the fields it names"), "{error}");

    let error = h.err("create_cluster", json!({"org_slug": "acme"})).await;
    assert_eq!(error, "invalid argument `name`: is required");
    let error = h
        .err("create_cluster", json!({"org_slug": "acme", "name": ""}))
        .await;
    assert_eq!(error, "invalid argument `name`: must not be empty");
    let error = h
        .err(
            "create_cluster",
            json!({"org_slug": "acme", "name": "x", "maintainers": []}),
        )
        .await;
    assert!(
        error.starts_with("invalid argument `maintainers`: is not an argument of this tool"),
        "{error}"
    );
    assert_eq!(h.requests().await.len(), 1);
}

#[tokio::test]
async fn update_cluster_patches_only_the_fields_given() {
    let h = harness().await;
    Mock::given(method("PATCH"))
        .and(path(CLUSTER))
        .respond_with(json(200, "cluster.json"))
        .mount(&h.server)
        .await;
    let cluster = h
        .ok(
            "update_cluster",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID, "description": "OSS builds", "default_queue_id": QUEUE_ID}),
        )
        .await;
    assert_eq!(h.requests().await, [format!("PATCH {CLUSTER}")]);
    assert_eq!(
        h.last_body().await,
        json!({"description": "OSS builds", "default_queue_id": QUEUE_ID})
    );
    insta::assert_json_snapshot!(cluster);
}

#[tokio::test]
async fn update_cluster_errors() {
    let h = harness().await;
    let error = h
        .err(
            "update_cluster",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID}),
        )
        .await;
    assert_eq!(
        error,
        "invalid argument `arguments`: nothing to change: give at least one of name, description, emoji, color, default_queue_id"
    );
    let error = h
        .err(
            "update_cluster",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID, "name": " "}),
        )
        .await;
    assert_eq!(error, "invalid argument `name`: must not be empty");
    assert!(h.requests().await.is_empty(), "nothing is sent");

    Mock::given(method("PATCH"))
        .and(path(CLUSTER))
        .respond_with(json(403, "error_403_scope.json"))
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "update_cluster",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID, "emoji": ":rocket:"}),
        )
        .await;
    assert!(
        error.contains("needs the token scope write_clusters"),
        "{error}"
    );
    assert_eq!(h.requests().await, [format!("PATCH {CLUSTER}")]);
}

#[tokio::test]
async fn get_cluster_queue_returns_it_whole() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(queue_path("")))
        .respond_with(json(200, "cluster_queue.json"))
        .mount(&h.server)
        .await;
    let queue = h.ok("get_cluster_queue", queue_args()).await;
    assert_eq!(h.requests().await, [format!("GET {}", queue_path(""))]);
    let keys: Vec<&String> = queue.as_object().unwrap().keys().take(4).collect();
    assert_eq!(keys, ["id", "key", "dispatch_paused", "description"]);
    insta::assert_json_snapshot!(queue);
}

#[tokio::test]
async fn get_cluster_queue_errors() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(queue_path("")))
        .respond_with(json(401, "error_401.json"))
        .mount(&h.server)
        .await;
    let result = h.call("get_cluster_queue", queue_args()).await;
    assert!(result.is_error && result.unauthorized, "{}", result.text);
    assert!(result.text.contains("401 Unauthorized"), "{}", result.text);
    let error = h
        .err(
            "get_cluster_queue",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID}),
        )
        .await;
    assert_eq!(error, "invalid argument `queue_id`: is required");
    assert_eq!(h.requests().await.len(), 1);
}

#[tokio::test]
async fn list_cluster_queues_pages() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("{CLUSTER}/queues")))
        .respond_with(json(200, "cluster_queues.json"))
        .mount(&h.server)
        .await;
    let page = h
        .ok(
            "list_cluster_queues",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID, "per_page": 50}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [format!("GET {CLUSTER}/queues?page=1&per_page=50")]
    );
    assert_eq!(page["items"][1]["key"], "macos");
    assert_eq!(page["has_more"], false);
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_cluster_queues_5xx_is_retried_then_explained() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("{CLUSTER}/queues")))
        .respond_with(ResponseTemplate::new(503).set_body_string("unavailable"))
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "list_cluster_queues",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID}),
        )
        .await;
    assert!(error.contains("503"), "{error}");
    assert!(error.contains("retry shortly"), "{error}");
    let error = h
        .err(
            "list_cluster_queues",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID, "page": 0}),
        )
        .await;
    assert!(error.starts_with("invalid argument `page`"), "{error}");
    let expected = format!("GET {CLUSTER}/queues?page=1&per_page=30");
    assert_eq!(h.requests().await, [expected.clone(), expected]);
}

#[tokio::test]
async fn create_cluster_queue_posts_key_description_and_affinity() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/queues")))
        .and(body_json(json!({"key": "default", "description": "Default queue", "retry_agent_affinity": "prefer-warmest"})))
        .respond_with(json(201, "cluster_queue.json"))
        .mount(&h.server)
        .await;
    let queue = h
        .ok(
            "create_cluster_queue",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID, "key": "default", "description": "Default queue", "retry_agent_affinity": "prefer-warmest"}),
        )
        .await;
    assert_eq!(h.requests().await, [format!("POST {CLUSTER}/queues")]);
    assert_eq!(
        h.last_body().await,
        json!({"key": "default", "description": "Default queue", "retry_agent_affinity": "prefer-warmest"})
    );
    insta::assert_json_snapshot!(queue);
}

#[tokio::test]
async fn create_cluster_queue_errors() {
    let h = harness().await;
    let error = h
        .err(
            "create_cluster_queue",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID, "key": "k", "retry_agent_affinity": "prefer_warmest"}),
        )
        .await;
    assert!(
        error.starts_with("invalid argument `retry_agent_affinity`: unknown value `prefer_warmest`, expected `prefer-warmest` or `prefer-different`"),
        "{error}"
    );
    let error = h
        .err(
            "create_cluster_queue",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID}),
        )
        .await;
    assert_eq!(error, "invalid argument `key`: is required");
    assert!(h.requests().await.is_empty());

    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/queues")))
        .respond_with(json(422, "error_422_validation.json"))
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "create_cluster_queue",
            json!({"org_slug": "acme", "cluster_id": CLUSTER_ID, "key": "default"}),
        )
        .await;
    assert!(
        error.starts_with("Could not get the new cluster queue: POST"),
        "{error}"
    );
    assert!(error.contains("422 Unprocessable Entity"), "{error}");
    assert_eq!(h.last_body().await, json!({"key": "default"}));
}

#[tokio::test]
async fn update_cluster_queue_patches_only_the_fields_given() {
    let h = harness().await;
    Mock::given(method("PATCH"))
        .and(path(queue_path("")))
        .respond_with(json(200, "cluster_queue.json"))
        .mount(&h.server)
        .await;
    let mut args = queue_args();
    args["retry_agent_affinity"] = json!("prefer-different");
    let queue = h.ok("update_cluster_queue", args).await;
    assert_eq!(h.requests().await, [format!("PATCH {}", queue_path(""))]);
    assert_eq!(
        h.last_body().await,
        json!({"retry_agent_affinity": "prefer-different"})
    );
    insta::assert_json_snapshot!(queue);
}

#[tokio::test]
async fn update_cluster_queue_errors() {
    let h = harness().await;
    let error = h.err("update_cluster_queue", queue_args()).await;
    assert_eq!(
        error,
        "invalid argument `arguments`: nothing to change: give at least one of description, retry_agent_affinity"
    );
    let mut args = queue_args();
    args["key"] = json!("renamed");
    let error = h.err("update_cluster_queue", args).await;
    assert!(
        error.starts_with("invalid argument `key`: is not an argument of this tool"),
        "{error}"
    );
    let mut args = queue_args();
    args["retry_agent_affinity"] = json!("closest");
    let error = h.err("update_cluster_queue", args).await;
    assert!(
        error.starts_with("invalid argument `retry_agent_affinity`: unknown value `closest`"),
        "{error}"
    );
    assert!(h.requests().await.is_empty(), "nothing is sent");

    Mock::given(method("PATCH"))
        .and(path(queue_path("")))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(r#"{"message":"Not Found"}"#, "application/json"),
        )
        .mount(&h.server)
        .await;
    let mut args = queue_args();
    args["description"] = json!("");
    let error = h.err("update_cluster_queue", args).await;
    assert!(error.contains("404 Not Found"), "{error}");
    assert_eq!(h.last_body().await, json!({"description": ""}));
}

#[tokio::test]
async fn pause_sends_the_note_and_returns_the_paused_queue() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path(queue_path("/pause_dispatch")))
        .respond_with(json(200, "cluster_queue_paused.json"))
        .mount(&h.server)
        .await;
    let mut args = queue_args();
    args["note"] = json!("Investigating");
    let queue = h.ok("pause_cluster_queue_dispatch", args).await;
    assert_eq!(
        h.requests().await,
        [format!("POST {}", queue_path("/pause_dispatch"))]
    );
    assert_eq!(
        h.last_body().await,
        json!({"dispatch_paused_note": "Investigating"})
    );
    assert_eq!(queue["dispatch_paused"], true);
    insta::assert_json_snapshot!(queue);

    // Without a note, the body is empty.
    h.ok("pause_cluster_queue_dispatch", queue_args()).await;
    assert_eq!(h.last_body().await, json!({}));
}

#[tokio::test]
async fn pause_an_already_paused_queue_says_so() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path(queue_path("/pause_dispatch")))
        .respond_with(ResponseTemplate::new(422).set_body_raw(
            r#"{"message":"Cluster queue is already paused"}"#,
            "application/json",
        ))
        .mount(&h.server)
        .await;
    let error = h.err("pause_cluster_queue_dispatch", queue_args()).await;
    assert!(
        error.starts_with("Could not pause the queue's dispatch: POST"),
        "{error}"
    );
    assert!(
        error.contains("422 Unprocessable Entity: Cluster queue is already paused"),
        "{error}"
    );
    assert!(error.contains("probably paused already"), "{error}");
    let mut args = queue_args();
    args["note"] = json!(5);
    let error = h.err("pause_cluster_queue_dispatch", args).await;
    assert!(
        error.starts_with("invalid argument `note`: invalid type"),
        "{error}"
    );
    assert_eq!(h.requests().await.len(), 1);
}

#[tokio::test]
async fn resume_confirms_and_returns_the_queue() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path(queue_path("/resume_dispatch")))
        .respond_with(json(200, "cluster_queue.json"))
        .mount(&h.server)
        .await;
    let result = h.ok("resume_cluster_queue_dispatch", queue_args()).await;
    assert_eq!(
        h.requests().await,
        [format!("POST {}", queue_path("/resume_dispatch"))]
    );
    let received = h.server.received_requests().await.unwrap();
    assert!(received[0].body.is_empty(), "resume sends no body");
    assert_eq!(result["queue"]["dispatch_paused"], false);
    insta::assert_json_snapshot!(result);
}

#[tokio::test]
async fn resume_a_running_queue_says_so_and_403_names_the_scope() {
    let h = harness().await;
    Mock::given(method("POST"))
        .and(path(queue_path("/resume_dispatch")))
        .respond_with(ResponseTemplate::new(422).set_body_raw(
            r#"{"message":"Cluster queue is not paused"}"#,
            "application/json",
        ))
        .mount(&h.server)
        .await;
    let error = h.err("resume_cluster_queue_dispatch", queue_args()).await;
    assert!(error.contains("probably not paused"), "{error}");
    assert!(error.contains("get_cluster_queue"), "{error}");

    let h = harness().await;
    Mock::given(method("POST"))
        .and(path(queue_path("/resume_dispatch")))
        .respond_with(json(403, "error_403_scope.json"))
        .mount(&h.server)
        .await;
    let error = h.err("resume_cluster_queue_dispatch", queue_args()).await;
    assert!(
        error.starts_with("Could not get the cluster queue: POST"),
        "{error}"
    );
    assert!(
        error.contains("needs the token scope write_clusters"),
        "{error}"
    );
    let error = h
        .err(
            "resume_cluster_queue_dispatch",
            json!({"org_slug": "acme", "queue_id": QUEUE_ID}),
        )
        .await;
    assert_eq!(error, "invalid argument `cluster_id`: is required");
    assert_eq!(h.requests().await.len(), 1);
}
