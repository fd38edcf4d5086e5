//! Confirming destructive calls over stdio (MCP 2025-11-25): a client that
//! supports elicitation is asked to type the target before the call runs;
//! a wrong answer or a refusal sends nothing to Buildkite.

use std::sync::{Arc, Mutex};

use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    Implementation,
};
use rmcp::service::RequestContext;
use rmcp::{ClientHandler, ErrorData, RoleClient};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{Launch, authorized, fixture, json_response, requests};

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const CLUSTER: &str = "/v2/organizations/acme/clusters/42f1a7da-812d-4430-93d8-1cc7c33a6bcf";
const QUEUE_ID: &str = "01885682-55a7-44f5-84f3-0402fb452e66";

/// A client whose user types `typed`, or declines when it is `None`; it
/// keeps every message it was shown.
#[derive(Debug, Clone)]
struct User {
    typed: Option<&'static str>,
    shown: Arc<Mutex<Vec<String>>>,
}

impl User {
    fn typing(typed: Option<&'static str>) -> User {
        User {
            typed,
            shown: Arc::default(),
        }
    }

    fn shown(&self) -> Vec<String> {
        self.shown.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl ClientHandler for User {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request
            && let Ok(mut shown) = self.shown.lock()
        {
            shown.push(message.clone());
        }
        let result = match self.typed {
            Some(typed) => json!({"action": "accept", "content": {"confirm": typed}}),
            None => json!({"action": serde_json::to_value(ElicitationAction::Decline).unwrap()}),
        };
        Ok(serde_json::from_value(result).expect("an elicitation result"))
    }

    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities =
            serde_json::from_value(json!({"elicitation": {"form": {}}})).expect("capabilities");
        ClientConfig::new(
            capabilities,
            Implementation::new("confirming-client", "1.0.0"),
        )
    }
}

async fn cancellable(api: &MockServer) {
    let mut build = fixture("build.json");
    build["state"] = json!("canceling");
    Mock::given(method("PUT"))
        .and(path(format!("{BUILD}/cancel")))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(build))
        .mount(api)
        .await;
}

fn cancel() -> Value {
    json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"})
}

#[tokio::test]
async fn the_user_types_the_build_number_and_only_then_it_is_canceled() {
    let api = MockServer::start().await;
    cancellable(&api).await;

    let user = User::typing(Some("42"));
    let server = Launch::new().start_with(&api, user.clone()).await;
    let canceled = server.ok("cancel_build", cancel()).await;
    assert_eq!(canceled["state"], "canceling", "{canceled}");
    assert_eq!(requests(&api).await, [format!("PUT {BUILD}/cancel")]);
    // A build number given as a JSON number is asked for the same way.
    server
        .ok(
            "cancel_build",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": 42}),
        )
        .await;
    assert_eq!(requests(&api).await.len(), 2);
    let shown = user.shown();
    assert_eq!(shown.len(), 2);
    assert_eq!(shown[0], shown[1]);
    assert!(
        shown[0].contains("cancel_build in acme/app")
            && shown[0].ends_with("type the build number: 42"),
        "{shown:?}"
    );
}

#[tokio::test]
async fn a_wrong_number_or_a_refusal_changes_nothing() {
    for (typed, expected) in [
        (Some("41"), "does not match"),
        (None, "did not confirm cancel_build (they chose to decline)"),
    ] {
        let api = MockServer::start().await;
        cancellable(&api).await;
        let server = Launch::new().start_with(&api, User::typing(typed)).await;
        let error = server.err("cancel_build", cancel()).await;
        assert!(
            error.contains(expected) && error.contains("nothing was changed"),
            "{typed:?}: {error}"
        );
        assert!(requests(&api).await.is_empty(), "{typed:?}: nothing sent");
    }
}

#[tokio::test]
async fn a_queue_is_confirmed_by_its_key_read_from_the_api() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{CLUSTER}/queues/{QUEUE_ID}")))
        .and(authorized())
        .respond_with(json_response(200, "cluster_queue.json"))
        .mount(&api)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/queues/{QUEUE_ID}/pause_dispatch")))
        .and(authorized())
        .respond_with(json_response(200, "cluster_queue_paused.json"))
        .mount(&api)
        .await;
    let user = User::typing(Some("default"));
    let server = Launch::new().start_with(&api, user.clone()).await;
    server
        .ok(
            "pause_cluster_queue_dispatch",
            json!({"org_slug": "acme", "cluster_id": "42f1a7da-812d-4430-93d8-1cc7c33a6bcf", "queue_id": QUEUE_ID}),
        )
        .await;
    assert!(
        user.shown()[0].ends_with("type the queue key: default"),
        "{:?}",
        user.shown()
    );
    assert_eq!(
        requests(&api).await,
        [
            format!("GET {CLUSTER}/queues/{QUEUE_ID}"),
            format!("POST {CLUSTER}/queues/{QUEUE_ID}/pause_dispatch")
        ]
    );
}

#[tokio::test]
async fn always_refuses_a_client_that_cannot_ask_and_never_does_not_ask() {
    let api = MockServer::start().await;
    cancellable(&api).await;
    let server = Launch::new()
        .args(&["--confirm-destructive=always"])
        .start(&api)
        .await;
    let error = server.err("cancel_build", cancel()).await;
    assert!(
        error.contains("--confirm-destructive=always")
            && error.contains("does not support elicitation"),
        "{error}"
    );
    assert!(requests(&api).await.is_empty());

    let user = User::typing(Some("wrong"));
    let server = Launch::new()
        .env("BK_MCP_CONFIRM_DESTRUCTIVE", "never")
        .start_with(&api, user.clone())
        .await;
    server.ok("cancel_build", cancel()).await;
    assert!(user.shown().is_empty(), "never asks");
    assert_eq!(requests(&api).await, [format!("PUT {BUILD}/cancel")]);
}
