//! The `agents` toolset.

use bk_tools::Toolset;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{authorized, harness, json};

const AGENT_ID: &str = "0b461f65-e7be-4c80-888a-ef11d81fd971";

#[test]
fn tools_match_the_spec() {
    crate::clusters::assert_toolset_matches_spec(Toolset::Agents);
    let registry = bk_tools::Registry::new();
    for name in ["list_agents", "get_agent"] {
        let schema = registry.get(name).unwrap().input_schema();
        assert_eq!(
            schema["properties"]["detail_level"]["enum"],
            json!(["summary", "detailed", "full"]),
            "{name}"
        );
    }
}

async fn mount_agents(h: &crate::common::Harness) {
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/agents"))
        .and(authorized())
        .respond_with(json(200, "agents.json"))
        .mount(&h.server)
        .await;
}

#[tokio::test]
async fn list_agents_summary_by_default() {
    let h = harness().await;
    mount_agents(&h).await;
    let page = h.ok("list_agents", json!({"org_slug": "acme"})).await;
    assert_eq!(
        h.requests().await,
        ["GET /v2/organizations/acme/agents?page=1&per_page=30"]
    );
    // The idle agent has no job; the busy one shows what it runs.
    assert!(page["items"][0].get("job").is_none());
    assert_eq!(
        page["items"][1]["job"],
        json!({"id": "0198f5c8-4a6f-4c9e-b2d1-8e7f3a0b5c19", "type": "script", "name": ":package: Build", "state": "running"})
    );
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_agents_filters_pages_and_detail() {
    let h = harness().await;
    mount_agents(&h).await;
    let page = h
        .ok(
            "list_agents",
            json!({"org_slug": "acme", "name": "ci", "hostname": "ci-2.internal", "version": "3.80.0", "page": 2, "per_page": 5, "detail_level": "detailed"}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [
            "GET /v2/organizations/acme/agents?name=ci&hostname=ci-2.internal&version=3.80.0&page=2&per_page=5"
        ]
    );
    assert_eq!(page["page"], 2);
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_agents_full_keeps_every_field() {
    let h = harness().await;
    mount_agents(&h).await;
    let page = h
        .ok(
            "list_agents",
            json!({"org_slug": "acme", "detail_level": "full"}),
        )
        .await;
    let busy = &page["items"][1];
    assert_eq!(
        busy["graphql_id"],
        crate::common::fixture("agents.json")[1]["graphql_id"]
    );
    assert_eq!(busy["job"]["command"], "make dist test");
    assert_eq!(
        busy["job"]["cluster_queue_id"],
        "01885682-55a7-44f5-84f3-0402fb452e66"
    );
    assert_eq!(
        page["items"][0].as_object().unwrap().len(),
        crate::common::fixture("agents.json")[0]
            .as_object()
            .unwrap()
            .len(),
        "every API field"
    );
}

#[tokio::test]
async fn list_agents_errors() {
    let h = harness().await;
    let error = h
        .err(
            "list_agents",
            json!({"org_slug": "acme", "detail_level": "everything"}),
        )
        .await;
    assert_eq!(
        error,
        "invalid argument `detail_level`: unknown value `everything`, expected one of `summary`, `detailed`, `full`"
    );
    let error = h
        .err("list_agents", json!({"org_slug": "acme", "per_page": 101}))
        .await;
    assert!(
        error.starts_with("invalid argument `per_page`: must be between 1 and 100"),
        "{error}"
    );
    let error = h
        .err(
            "list_agents",
            json!({"org_slug": "acme", "queue": "default"}),
        )
        .await;
    assert!(
        error.starts_with("invalid argument `queue`: is not an argument of this tool"),
        "{error}"
    );
    let error = h.err("list_agents", json!({})).await;
    assert_eq!(error, "invalid argument `org_slug`: is required");
    assert!(h.requests().await.is_empty());

    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/agents"))
        .respond_with(json(403, "error_403_scope.json"))
        .mount(&h.server)
        .await;
    let error = h.err("list_agents", json!({"org_slug": "acme"})).await;
    assert!(
        error.starts_with(
            "Could not get the agents: GET /v2/organizations/acme/agents?page=1&per_page=30: 403 Forbidden"
        ),
        "{error}"
    );
    assert!(
        error.contains("needs the token scope read_agents"),
        "{error}"
    );
}

#[tokio::test]
async fn get_agent_full_by_default() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/organizations/acme/agents/{AGENT_ID}")))
        .respond_with(json(200, "agent.json"))
        .mount(&h.server)
        .await;
    let agent = h
        .ok(
            "get_agent",
            json!({"org_slug": "acme", "agent_id": AGENT_ID}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [format!("GET /v2/organizations/acme/agents/{AGENT_ID}")]
    );
    let keys: Vec<&String> = agent.as_object().unwrap().keys().take(3).collect();
    assert_eq!(keys, ["id", "name", "connection_state"]);
    insta::assert_json_snapshot!(agent);
}

#[tokio::test]
async fn get_agent_summary_and_detailed() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/organizations/acme/agents/{AGENT_ID}")))
        .respond_with(json(200, "agent.json"))
        .mount(&h.server)
        .await;
    let summary = h
        .ok(
            "get_agent",
            json!({"org_slug": "acme", "agent_id": AGENT_ID, "detail_level": "summary"}),
        )
        .await;
    let detailed = h
        .ok(
            "get_agent",
            json!({"org_slug": "acme", "agent_id": AGENT_ID, "detail_level": "detailed"}),
        )
        .await;
    assert_eq!(h.requests().await.len(), 2);
    insta::assert_json_snapshot!("get_agent_summary", summary);
    insta::assert_json_snapshot!("get_agent_detailed", detailed);
}

#[tokio::test]
async fn get_agent_errors() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/agents/gone"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(r#"{"message":"No agent found"}"#, "application/json"),
        )
        .mount(&h.server)
        .await;
    let error = h
        .err("get_agent", json!({"org_slug": "acme", "agent_id": "gone"}))
        .await;
    assert!(
        error.starts_with("Could not get the agent: GET /v2/organizations/acme/agents/gone: 404 Not Found: No agent found."),
        "{error}"
    );
    let error = h
        .err("get_agent", json!({"org_slug": "acme", "agent_id": ""}))
        .await;
    assert_eq!(error, "invalid argument `agent_id`: must not be empty");
    let error = h
        .err(
            "get_agent",
            json!({"org_slug": "acme", "agent_id": AGENT_ID, "detail_level": "FULL"}),
        )
        .await;
    assert!(
        error.starts_with("invalid argument `detail_level`"),
        "{error}"
    );
    assert_eq!(h.requests().await.len(), 1);
}
