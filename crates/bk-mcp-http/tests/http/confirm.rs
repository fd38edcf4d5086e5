//! Confirming destructive calls for MCP 2026-07-28 clients over HTTP: the
//! first call answers input-required, with a sealed `requestState`; the
//! client calls again with the user's answer and that state, on any replica
//! sharing BK_MCP_STATE_KEY. Nothing reaches Buildkite before that.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{Server, TOKEN, bearer, fixture, launch, requests, rpc_message};

const VERSION: &str = "2026-07-28";
const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const KEY: &str = "a secret the replicas share";

/// `tools/call cancel_build` as a 2026-07-28 client that can elicit sends
/// it, with `extra` params (the answer and the state of a second round).
fn cancel(extra: Value) -> Value {
    let mut params = json!({
        "name": "cancel_build",
        "arguments": {"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": VERSION,
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
            "io.modelcontextprotocol/clientInfo": {"name": "confirm-test", "version": "1"}
        }
    });
    if let (Value::Object(params), Value::Object(extra)) = (&mut params, extra) {
        params.extend(extra);
    }
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params})
}

async fn call(server: &Server, body: &Value) -> Value {
    let auth = bearer(TOKEN);
    rpc_message(
        server
            .post(
                "/mcp",
                body,
                &[
                    ("authorization", auth.as_str()),
                    ("mcp-protocol-version", VERSION),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "cancel_build"),
                    ("mcp-param-org", "acme"),
                    ("mcp-param-pipeline", "app"),
                ],
            )
            .await,
    )
    .await
}

fn answer(typed: &str, state: &str) -> Value {
    json!({
        "inputResponses": {"confirm": {"action": "accept", "content": {"confirm": typed}}},
        "requestState": state
    })
}

#[tokio::test]
async fn a_2026_client_confirms_on_a_second_round_served_by_any_replica() {
    let api = MockServer::start().await;
    let mut build = fixture("build.json");
    build["state"] = json!("canceling");
    Mock::given(method("PUT"))
        .and(path(format!("{BUILD}/cancel")))
        .respond_with(ResponseTemplate::new(200).set_body_json(build))
        .mount(&api)
        .await;
    let first = launch(&api)
        .token(TOKEN)
        .env("BK_MCP_STATE_KEY", KEY)
        .start()
        .await;
    let second = launch(&api)
        .token(TOKEN)
        .env("BK_MCP_STATE_KEY", KEY)
        .start()
        .await;
    let stranger = launch(&api)
        .token(TOKEN)
        .env("BK_MCP_STATE_KEY", "another key")
        .start()
        .await;

    let asked = call(&first, &cancel(json!({}))).await;
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    let request = &result["inputRequests"]["confirm"];
    assert_eq!(request["method"], "elicitation/create", "{asked}");
    let message = request["params"]["message"].as_str().unwrap_or_default();
    assert!(message.ends_with("type the build number: 42"), "{message}");
    let state = result["requestState"]
        .as_str()
        .expect("a request state")
        .to_owned();
    assert!(
        !state.contains("42") && !state.contains(TOKEN),
        "sealed: {state}"
    );
    assert!(
        requests(&api).await.is_empty(),
        "nothing sent before the answer"
    );

    // A wrong answer, a state made for other arguments, and a replica with
    // another key are refused; nothing is sent.
    let wrong = call(&second, &cancel(answer("41", &state))).await;
    assert_eq!(wrong["result"]["isError"], true, "{wrong}");
    assert!(wrong.to_string().contains("does not match"), "{wrong}");
    let mut other_build = cancel(answer("42", &state));
    other_build["params"]["arguments"]["build_number"] = json!("43");
    let moved = call(&second, &other_build).await;
    assert!(
        moved.to_string().contains("not valid for this call"),
        "{moved}"
    );
    let foreign = call(&stranger, &cancel(answer("42", &state))).await;
    assert!(
        foreign.to_string().contains("BK_MCP_STATE_KEY"),
        "{foreign}"
    );
    assert!(requests(&api).await.is_empty());

    // The right answer, on another replica than the one that asked.
    let done = call(&second, &cancel(answer("42", &state))).await;
    assert_eq!(done["result"]["isError"], false, "{done}");
    assert_eq!(requests(&api).await, [format!("PUT {BUILD}/cancel")]);
}

/// Before 2026-07-28, a stateless HTTP request cannot carry a question
/// back to its client: `auto` lets the call run, `always` refuses it.
#[tokio::test]
async fn a_stateless_2025_client_cannot_be_asked() {
    let api = MockServer::start().await;
    let mut build = fixture("build.json");
    build["state"] = json!("canceling");
    Mock::given(method("PUT"))
        .and(path(format!("{BUILD}/cancel")))
        .respond_with(ResponseTemplate::new(200).set_body_json(build))
        .mount(&api)
        .await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "cancel_build",
        "arguments": {"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}
    }});
    let auth = bearer(TOKEN);
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];

    let strict = launch(&api)
        .token(TOKEN)
        .args(&["--confirm-destructive", "always"])
        .start()
        .await;
    let refused = rpc_message(strict.post("/mcp", &body, &headers).await).await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(
        refused.to_string().contains("cannot ask its user"),
        "{refused}"
    );
    assert!(requests(&api).await.is_empty());

    let default = launch(&api).token(TOKEN).start().await;
    let done = rpc_message(default.post("/mcp", &body, &headers).await).await;
    assert_eq!(done["result"]["isError"], false, "{done}");
    assert_eq!(requests(&api).await, [format!("PUT {BUILD}/cancel")]);
}
