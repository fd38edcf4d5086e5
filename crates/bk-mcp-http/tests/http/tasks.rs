//! `wait_for_build` as a task for MCP 2026-07-28 clients that declare the
//! tasks extension: the call answers a task at once, and `tasks/get` on any
//! replica sharing BK_MCP_STATE_KEY looks at the build once per poll.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{Server, TOKEN, bearer, fixture, launch, requests, rpc_message};

const VERSION: &str = "2026-07-28";
const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const KEY: &str = "replicas share this";

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": {
            "extensions": {"io.modelcontextprotocol/tasks": {}}
        },
        "io.modelcontextprotocol/clientInfo": {"name": "tasks-test", "version": "1"}
    })
}

async fn send(server: &Server, token: &str, method: &str, name: &str, params: Value) -> Value {
    let mut params = params;
    params["_meta"] = meta();
    let body = json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": params});
    let auth = bearer(token);
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("mcp-protocol-version", VERSION),
        ("mcp-method", method),
        ("mcp-name", name),
    ];
    if method == "tools/call" {
        headers.extend([("mcp-param-org", "acme"), ("mcp-param-pipeline", "app")]);
    }
    rpc_message(server.post("/mcp", &body, &headers).await).await
}

fn build_in(state: &str) -> ResponseTemplate {
    let mut build = fixture("build.json");
    build["state"] = json!(state);
    if state == "running" {
        build["finished_at"] = Value::Null;
    }
    ResponseTemplate::new(200).set_body_json(build)
}

#[tokio::test]
async fn a_build_is_waited_for_as_a_task_that_any_replica_answers() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(BUILD))
        .respond_with(build_in("running"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path(BUILD))
        .respond_with(build_in("passed"))
        .with_priority(2)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{BUILD}/annotations")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&api)
        .await;
    // Each caller brings its own token (passthrough): a task is its own.
    let replica = || {
        launch(&api)
            .args(&["--passthrough-http-header", "Authorization"])
            .env("BK_MCP_STATE_KEY", KEY)
            .start()
    };
    let (first, second) = (replica().await, replica().await);

    let arguments = json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"});
    let started = send(
        &first,
        TOKEN,
        "tools/call",
        "wait_for_build",
        json!({"name": "wait_for_build", "arguments": arguments}),
    )
    .await;
    // The task's fields are the result's own (CreateTaskResult flattens it).
    let task = &started["result"];
    assert_eq!(started["result"]["resultType"], "task", "{started}");
    assert_eq!(task["status"], "working", "{started}");
    assert!(task["pollIntervalMs"].as_u64().is_some_and(|ms| ms > 0));
    let id = task["taskId"].as_str().expect("a task id").to_owned();
    assert!(
        requests(&api).await.is_empty(),
        "starting a task calls nothing"
    );

    // Polled on the other replica: running, then finished.
    let get = |server: &'static str| {
        let (id, first, second) = (id.clone(), &first, &second);
        async move {
            let server = if server == "first" { first } else { second };
            send(server, TOKEN, "tasks/get", &id, json!({"taskId": id})).await
        }
    };
    let working = get("second").await;
    assert_eq!(working["result"]["status"], "working", "{working}");
    assert_eq!(
        working["result"]["statusMessage"], "build acme/app#42 is running",
        "{working}"
    );
    let done = get("second").await;
    assert_eq!(done["result"]["status"], "completed", "{done}");
    let text = done["result"]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    let answer: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    assert_eq!(answer["finished"], true, "{done}");
    assert_eq!(answer["state"], "passed", "{done}");
    let polls = requests(&api)
        .await
        .iter()
        .filter(|r| r.starts_with(&format!("GET {BUILD}?")))
        .count();
    assert_eq!(polls, 2, "one look at the build per tasks/get");

    // Another caller cannot poll it; after a cancel, nothing is polled.
    let stranger = send(
        &first,
        "bkua_someone_else_0123456789",
        "tasks/get",
        &id,
        json!({"taskId": id}),
    )
    .await;
    assert!(
        stranger["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no such task")),
        "{stranger}"
    );
    let cancel = send(&first, TOKEN, "tasks/cancel", &id, json!({"taskId": id})).await;
    assert!(cancel.get("error").is_none(), "{cancel}");
    let before = requests(&api).await.len();
    let cancelled = get("first").await;
    assert_eq!(cancelled["result"]["status"], "cancelled", "{cancelled}");
    assert_eq!(
        requests(&api).await.len(),
        before,
        "a cancelled task polls nothing"
    );
}
