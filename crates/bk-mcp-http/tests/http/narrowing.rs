//! Which tools a caller gets: the operator's read-only mode, and per-request
//! narrowing by path and headers, which may only remove tools.

use crate::common::{
    self, TOKEN, call, call_ok, expected_names, initialize_body, json_fixture, launch, list_body,
    requests, tool_names,
};
use rmcp::ServiceError;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

/// A route, the request's headers, and the tools expected.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a Vec<String>);

const BUILD_ARGS: &str = r#"{"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}"#;

fn build_args() -> serde_json::Value {
    serde_json::from_str(BUILD_ARGS).expect("JSON")
}

/// Asserts a call was refused as unavailable (an MCP error, not a result).
fn assert_unavailable(result: Result<rmcp::model::CallToolResult, ServiceError>, why: &str) {
    match result {
        Err(ServiceError::McpError(error)) => {
            assert_eq!(error.code.0, -32602, "{error:?}");
            assert!(error.message.contains("is not available"), "{error:?}");
            assert!(error.message.contains(why), "{error:?}");
        }
        other => panic!("expected the call to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn read_only_server_neither_lists_nor_runs_write_tools() {
    let api = MockServer::start().await;
    let server = launch(&api)
        .token(TOKEN)
        .args(&["--read-only"])
        .start()
        .await;
    assert!(
        server.listening_line().contains("read_only=true"),
        "{:?}",
        server.stderr()
    );
    let client = server.client("/mcp", None, &[]).await;
    let names = tool_names(&client).await;
    assert_eq!(names, expected_names(|t| t.read_only));
    assert!(names.len() >= 40, "{names:?}");
    for write in [
        "create_build",
        "cancel_build",
        "create_annotation",
        "update_pipeline",
    ] {
        assert!(!names.iter().any(|n| n == write), "{write} listed");
    }
    assert_unavailable(
        call(&client, "create_build", {
            let mut args = build_args();
            args.as_object_mut().expect("object").remove("build_number");
            args["commit"] = json!("HEAD");
            args["branch"] = json!("main");
            args
        })
        .await,
        "read-only",
    );
    assert_unavailable(
        call(&client, "cancel_build", build_args()).await,
        "read-only",
    );
    // A request cannot turn it off either.
    let response = server
        .post("/mcp", &list_body(), &[("X-Buildkite-Read-Only", "false")])
        .await;
    assert_eq!(response.status(), 403);
    assert!(requests(&api).await.is_empty(), "nothing reached the API");
}

#[tokio::test]
async fn paths_and_headers_narrow_the_tool_list() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/v2/organizations/acme/pipelines/app/builds/42/annotations",
        ))
        .respond_with(json_fixture(200, "annotations.json"))
        .mount(&api)
        .await;
    let server = launch(&api).token(TOKEN).start().await;

    let all = expected_names(|_| true);
    let read_only = expected_names(|t| t.read_only);
    let builds = expected_names(|t| t.toolset == "builds");
    let builds_read_only = expected_names(|t| t.toolset == "builds" && t.read_only);
    let logs = expected_names(|t| t.toolset == "logs");
    let builds_logs = expected_names(|t| t.toolset == "builds" || t.toolset == "logs");
    let builds_logs_read_only =
        expected_names(|t| (t.toolset == "builds" || t.toolset == "logs") && t.read_only);
    assert!(all.len() >= 56);
    assert_eq!(builds.len(), 15);
    assert_eq!(builds_read_only.len(), 10);
    assert_eq!(logs, ["read_logs", "search_logs", "tail_logs"]);

    let cases: [Case<'_>; 13] = [
        ("/mcp", &[], &all),
        ("/mcp/", &[], &all),
        ("/mcp/readonly", &[], &read_only),
        ("/mcp/x/builds", &[], &builds),
        ("/mcp/x/builds/readonly", &[], &builds_read_only),
        ("/mcp", &[("X-Buildkite-Toolsets", "logs")], &logs),
        ("/mcp", &[("X-Buildkite-Read-Only", "true")], &read_only),
        ("/mcp", &[("X-Buildkite-Readonly", "true")], &read_only),
        (
            "/mcp/x/builds",
            &[("X-Buildkite-Readonly", "yes")],
            &builds_read_only,
        ),
        ("/mcp/x/builds,logs", &[], &builds_logs),
        ("/mcp/x/builds%2Clogs/readonly", &[], &builds_logs_read_only),
        (
            "/mcp",
            &[("X-Buildkite-Toolsets", "builds, logs")],
            &builds_logs,
        ),
        // The path and the header intersect.
        (
            "/mcp/x/builds,logs",
            &[("X-Buildkite-Toolsets", "logs,user")],
            &logs,
        ),
    ];
    for (route, headers, expected) in cases {
        let client = server.client(route, None, headers).await;
        assert_eq!(
            &tool_names(&client).await,
            expected,
            "{route} with {headers:?}"
        );
        client.cancel().await.expect("client closes");
    }

    // Narrowed-away tools cannot be called; what remains can.
    let client = server.client("/mcp/x/builds", None, &[]).await;
    assert_unavailable(
        call(&client, "list_annotations", build_args()).await,
        "not enabled",
    );
    let client = server
        .client("/mcp", None, &[("X-Buildkite-Toolsets", "logs")])
        .await;
    assert_unavailable(
        call(&client, "current_user", json!({})).await,
        "not enabled",
    );
    let client = server.client("/mcp/readonly", None, &[]).await;
    assert_unavailable(
        call(&client, "cancel_build", build_args()).await,
        "read-only",
    );
    let client = server
        .client("/mcp", None, &[("X-Buildkite-Read-Only", "1")])
        .await;
    assert_unavailable(
        call(&client, "rebuild_build", build_args()).await,
        "read-only",
    );
    assert!(requests(&api).await.is_empty(), "nothing reached the API");

    let client = server
        .client("/mcp/x/annotations/readonly", None, &[])
        .await;
    let page = call_ok(&client, "list_annotations", build_args()).await;
    assert_eq!(page["items"][0]["context"], "rspec");
    assert_eq!(
        requests(&api).await,
        ["GET /v2/organizations/acme/pipelines/app/builds/42/annotations?page=1&per_page=30"]
    );
}

/// `X-MCP-Exclude-Tools` only removes tools; an unknown name is a 400 that
/// lists the valid ones.
#[tokio::test]
async fn a_request_can_exclude_tools_by_name() {
    let api = MockServer::start().await;
    let server = launch(&api)
        .token(TOKEN)
        .args(&["--enabled-toolsets", "builds"])
        .start()
        .await;
    let client = server
        .client(
            "/mcp",
            None,
            &[("X-MCP-Exclude-Tools", "cancel_build,rebuild_build")],
        )
        .await;
    let mut expected = expected_names(|t| t.toolset == "builds");
    expected.retain(|n| n != "cancel_build" && n != "rebuild_build");
    assert_eq!(tool_names(&client).await, expected);
    let response = server
        .post(
            "/mcp",
            &list_body(),
            &[("X-MCP-Exclude-Tools", "cancel_bild")],
        )
        .await;
    assert_eq!(response.status(), 400);
    let message = response.text().await.expect("body");
    assert!(
        message.contains("unknown tool \"cancel_bild\"")
            && message.contains("valid tools: access_token"),
        "{message}"
    );
}

#[tokio::test]
async fn widening_is_refused_and_bad_selections_are_400() {
    let api = MockServer::start().await;
    let server = launch(&api)
        .token(TOKEN)
        .args(&["--enabled-toolsets", "builds", "--read-only"])
        .start()
        .await;

    // What the operator allows still works.
    let client = server
        .client("/mcp", None, &[("X-Buildkite-Toolsets", "builds")])
        .await;
    assert_eq!(
        tool_names(&client).await,
        expected_names(|t| t.toolset == "builds" && t.read_only)
    );
    let response = server
        .post("/mcp", &list_body(), &[("X-Buildkite-Read-Only", "true")])
        .await;
    assert_eq!(response.status(), 200);

    for (route, headers) in [
        ("/mcp", [("X-Buildkite-Toolsets", "pipelines")]),
        ("/mcp", [("X-Buildkite-Toolsets", "builds,pipelines")]),
        ("/mcp", [("X-Buildkite-Read-Only", "false")]),
        ("/mcp", [("X-Buildkite-Readonly", "off")]),
        ("/mcp/x/pipelines", [("X-Unrelated", "1")]),
    ] {
        for body in [initialize_body(), list_body()] {
            let response = server.post(route, &body, &headers).await;
            assert_eq!(response.status(), 403, "{route} {headers:?}");
            let message = response.text().await.expect("body");
            assert!(!message.is_empty());
        }
    }
    let response = server
        .post(
            "/mcp",
            &list_body(),
            &[("X-Buildkite-Toolsets", "pipelines")],
        )
        .await;
    let message = response.text().await.expect("body");
    assert!(
        message.contains("pipelines") && message.contains("enabled toolsets: builds"),
        "{message}"
    );

    // Unknown names: 400, listing the valid ones.
    for (route, headers) in [
        ("/mcp", [("X-Buildkite-Toolsets", "bilds")]),
        ("/mcp/x/bilds", [("X-Unrelated", "1")]),
    ] {
        let response = server.post(route, &list_body(), &headers).await;
        assert_eq!(response.status(), 400, "{route} {headers:?}");
        let message = response.text().await.expect("body");
        assert!(message.contains("bilds"), "{message}");
        for valid in [
            "clusters",
            "agents",
            "pipelines",
            "builds",
            "artifacts",
            "tests",
            "logs",
            "annotations",
            "user",
            "skills",
        ] {
            assert!(message.contains(valid), "{valid} not in {message}");
        }
    }
    let response = server
        .post("/mcp", &list_body(), &[("X-Buildkite-Read-Only", "maybe")])
        .await;
    assert_eq!(response.status(), 400);

    // Unknown paths.
    for route in [
        "/mcp/nope",
        "/mcp/x",
        "/mcp/x/builds/write",
        "/mcp/readonly/x",
    ] {
        let response = server.post(route, &list_body(), &[]).await;
        assert_eq!(response.status(), 404, "{route}");
    }
    assert!(requests(&api).await.is_empty());
}

#[tokio::test]
async fn initialize_instructions_follow_the_request_selection() {
    let api = MockServer::start().await;
    let server = launch(&api).token(TOKEN).start().await;
    let instructions = |client: &common::Client| {
        client
            .peer_info()
            .and_then(|i| i.instructions.clone())
            .expect("instructions")
    };
    let all = server.client("/mcp", None, &[]).await;
    let text = instructions(&all);
    assert!(
        text.contains("resolve_url")
            && text.contains("tail_logs")
            && text.contains("user_token_organization"),
        "{text}"
    );
    let builds = server.client("/mcp/x/builds", None, &[]).await;
    let text = instructions(&builds);
    assert!(text.contains("resolve_url"), "{text}");
    assert!(
        !text.contains("tail_logs")
            && !text.contains("user_token_organization")
            && !text.contains("list_skills"),
        "{text}"
    );
    let logs = server
        .client("/mcp", None, &[("X-Buildkite-Toolsets", "logs")])
        .await;
    let text = instructions(&logs);
    assert!(
        text.contains("tail_logs") && !text.contains("resolve_url"),
        "{text}"
    );
}

/// RFC 9110 section 5.3: a list header sent twice means the same as one
/// comma-joined header (a proxy may merge them). The server intersects
/// repeated `X-Buildkite-Toolsets` headers instead, so `builds` + `logs`
/// sent as two lines gives no tools, and as one line gives both toolsets.
#[tokio::test]
async fn repeated_toolsets_headers_mean_the_same_as_one_list() {
    let api = MockServer::start().await;
    let server = launch(&api).token(TOKEN).start().await;
    let count = |message: serde_json::Value| {
        message["result"]["tools"]
            .as_array()
            .map(Vec::len)
            .expect("a tool list")
    };
    let joined = common::rpc_message(
        server
            .post(
                "/mcp",
                &list_body(),
                &[("X-Buildkite-Toolsets", "builds,logs")],
            )
            .await,
    )
    .await;
    let repeated = common::rpc_message(
        server
            .post(
                "/mcp",
                &list_body(),
                &[
                    ("X-Buildkite-Toolsets", "builds"),
                    ("X-Buildkite-Toolsets", "logs"),
                ],
            )
            .await,
    )
    .await;
    let both = expected_names(|t| t.toolset == "builds" || t.toolset == "logs").len();
    assert_eq!(count(joined), both);
    assert_eq!(count(repeated), both);
}
