//! Agents: the filtered list and get.

use buildkite_api::{Error, JobState, ListAgentsParams, StatusCode};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{api, authorized, exact_query, json};

const AGENT: &str = "0b461f65-e7be-4c80-888a-ef11d81fd971";

#[tokio::test]
async fn list_agents_sends_every_filter() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/agents"))
        .and(exact_query(&[
            ("name", "ci-"),
            ("hostname", "ci-1.internal"),
            ("version", "3.80.0"),
            ("cluster_queue_id", "01885682-55a7-44f5-84f3-0402fb452e66"),
            ("page", "3"),
            ("per_page", "20"),
        ]))
        .and(authorized())
        .respond_with(json(200, "agents.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListAgentsParams {
        name: Some("ci-".into()),
        hostname: Some("ci-1.internal".into()),
        version: Some("3.80.0".into()),
        cluster_queue_id: Some("01885682-55a7-44f5-84f3-0402fb452e66".into()),
        page: Some(3),
        per_page: Some(20),
    };
    let page = api.client.list_agents("acme", &params).await.unwrap();
    let names: Vec<_> = page.items.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["ci-1", "ci-2"]);
    assert_eq!(
        page.items[0].meta_data.as_deref(),
        Some(&["queue=default".to_owned(), "os=linux".to_owned()][..])
    );
}

#[tokio::test]
async fn list_agents_without_filters_sends_no_query() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/agents"))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(json(200, "agents.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_agents("acme", &ListAgentsParams::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
}

#[tokio::test]
async fn an_agent_running_a_job_decodes_the_job() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/agents"))
        .and(authorized())
        .respond_with(json(200, "agents.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_agents("acme", &ListAgentsParams::default())
        .await
        .unwrap();
    assert!(page.items[0].job.is_none());
    let job = page.items[1].job.as_deref().expect("ci-2 runs a job");
    assert_eq!(job.id, "0198f5c8-4a6f-4c9e-b2d1-8e7f3a0b5c19");
    assert_eq!(job.kind, "script");
    assert_eq!(job.state, Some(JobState::Running));
    assert_eq!(job.step_key.as_deref(), Some("build"));
    assert_eq!(job.command.as_deref(), Some("make dist test"));
    assert_eq!(
        job.agent.as_ref().unwrap().name.as_deref(),
        Some("ci-2"),
        "the nested agent summary decodes too"
    );
    assert_eq!(
        job.started_at.unwrap().to_string(),
        "2026-08-12T00:00:06.000Z"
    );
}

#[tokio::test]
async fn get_agent_by_id() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/organizations/acme/agents/{AGENT}")))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(json(200, "agent.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let agent = api.client.get_agent("acme", AGENT).await.unwrap();
    assert_eq!(agent.id, AGENT);
    assert_eq!(agent.hostname.as_deref(), Some("ci-1.internal"));
    assert_eq!(agent.connection_state.as_deref(), Some("connected"));
    assert_eq!(agent.creator, None);
    assert_eq!(agent.priority, None);
    assert_eq!(
        agent.last_job_finished_at.unwrap().to_string(),
        "2026-08-11T14:06:48.225Z"
    );
}

#[tokio::test]
async fn missing_agent_is_not_found_with_message_and_path() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/agents/gone-agent"))
        .and(authorized())
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({ "message": "No agent found" })),
        )
        .expect(1)
        .mount(&api.server)
        .await;

    let err = api
        .client
        .get_agent("acme", "gone-agent")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref message, .. } if message == "No agent found"),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(
        err.request().unwrap().path,
        "/v2/organizations/acme/agents/gone-agent"
    );
    let text = err.to_string();
    assert!(text.contains("No agent found"), "{text}");
    assert!(
        text.contains("GET /v2/organizations/acme/agents/gone-agent"),
        "{text}"
    );
    assert!(!text.contains(crate::common::TOKEN), "{text}");
}
