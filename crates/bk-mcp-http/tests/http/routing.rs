//! Routing headers (MCP 2026-07-28, SEP-2243): a 2026-07-28 client sees
//! `org_slug` and `pipeline_slug` annotated with `x-mcp-header`, sends them
//! as `Mcp-Param-Org` and `Mcp-Param-Pipeline`, and a header that disagrees
//! with the arguments is refused before any request upstream. Older clients
//! see the list as it was.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{TOKEN, bearer, fixture, launch, list_body, requests, rpc_message};

const VERSION: &str = "2026-07-28";

/// A 2026-07-28 request: the protocol version and client capabilities in
/// `_meta`, as that revision puts them on every request.
fn request(method: &str, params: Value) -> Value {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "routing-test", "version": "1"}
    });
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

#[tokio::test]
async fn a_2026_client_routes_by_org_and_pipeline_and_a_mismatch_is_refused() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app/builds/42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("build.json")))
        .mount(&api)
        .await;
    let server = launch(&api).token(TOKEN).start().await;
    let auth = bearer(TOKEN);

    let list = request("tools/list", json!({}));
    let listed = rpc_message(
        server
            .post(
                "/mcp",
                &list,
                &[
                    ("authorization", auth.as_str()),
                    ("mcp-protocol-version", VERSION),
                    ("mcp-method", "tools/list"),
                ],
            )
            .await,
    )
    .await;
    let get_build = listed["result"]["tools"]
        .as_array()
        .and_then(|tools| tools.iter().find(|t| t["name"] == "get_build"))
        .unwrap_or_else(|| panic!("{listed}"))
        .clone();
    let properties = &get_build["inputSchema"]["properties"];
    assert_eq!(properties["org_slug"]["x-mcp-header"], "Org", "{get_build}");
    assert_eq!(properties["pipeline_slug"]["x-mcp-header"], "Pipeline");
    assert!(properties["build_number"].get("x-mcp-header").is_none());

    let arguments = json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"});
    let call = request(
        "tools/call",
        json!({"name": "get_build", "arguments": arguments}),
    );
    let send = |org: &'static str| {
        let (server, call, auth) = (&server, call.clone(), auth.clone());
        async move {
            server
                .post(
                    "/mcp",
                    &call,
                    &[
                        ("authorization", auth.as_str()),
                        ("mcp-protocol-version", VERSION),
                        ("mcp-method", "tools/call"),
                        ("mcp-name", "get_build"),
                        ("mcp-param-org", org),
                        ("mcp-param-pipeline", "app"),
                    ],
                )
                .await
        }
    };
    let answered = rpc_message(send("acme").await).await;
    assert_eq!(answered["result"]["isError"], false, "{answered}");
    let sent = requests(&api).await.len();
    assert!(sent > 0);

    // A header routing to another organization than the body names.
    let refused = send("globex").await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap_or_default();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Org")),
        "{body}"
    );
    assert_eq!(requests(&api).await.len(), sent, "nothing sent upstream");

    // An older client's list is unchanged.
    let older = rpc_message(
        server
            .post(
                "/mcp",
                &list_body(),
                &[
                    ("authorization", auth.as_str()),
                    ("mcp-protocol-version", "2025-06-18"),
                ],
            )
            .await,
    )
    .await;
    let text = older.to_string();
    assert!(!text.contains("x-mcp-header"), "{text}");
}
