//! The MCP surface of the real binary: initialize, tools/list, prompts,
//! resources, the operator's selection (read-only, toolsets, allow-list),
//! running without a token, and a token Buildkite refuses.

use std::collections::BTreeSet;

use crate::common::{
    self, Launch, TOKEN, assert_all_sent_token, authorized, fixture, json_response, requests,
    spec_entries, spec_tools, within,
};
use rmcp::model::{
    GetPromptRequestParams, GetSkillRequestParams, ReadResourceRequestParams, SkillResources,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Words in backticks.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Checks the instructions name no tool outside `listed`, and returns the
/// tool names they mention.
fn instruction_tools(instructions: &str, listed: &[String]) -> BTreeSet<String> {
    let every: BTreeSet<String> = spec_entries().into_iter().map(|t| t.name).collect();
    let mentioned: BTreeSet<String> = backticked(instructions)
        .into_iter()
        .filter(|w| every.contains(*w))
        .map(str::to_owned)
        .collect();
    for name in &mentioned {
        assert!(
            listed.contains(name),
            "the instructions name `{name}`, which is not listed:\n{instructions}"
        );
    }
    mentioned
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn initialize_names_the_server_and_its_capabilities() {
    let api = MockServer::start().await;
    let server = Launch::new().start(&api).await;
    let info = server.client.peer_info().expect("initialize result");
    let info = serde_json::to_value(&*info).unwrap();
    assert_eq!(info["serverInfo"]["name"], "bk-mcp", "{info}");
    assert_eq!(
        info["serverInfo"]["version"],
        env!("CARGO_PKG_VERSION"),
        "{info}"
    );
    for capability in ["tools", "prompts", "resources"] {
        assert!(
            info["capabilities"][capability].is_object(),
            "{capability}: {info}"
        );
    }
    let instructions = info["instructions"].as_str().expect("instructions");
    assert!(
        instructions.starts_with("This server gives access to Buildkite CI"),
        "{instructions}"
    );
    let listed = server.tool_names().await;
    let mentioned = instruction_tools(instructions, &listed);
    assert_eq!(
        mentioned,
        set(&[
            "get_build_failure_summary",
            "list_organizations",
            "list_skills",
            "load_skill",
            "read_logs",
            "resolve_url",
            "search_logs",
            "tail_logs",
            "user_token_organization"
        ]),
        "{instructions}"
    );
    assert!(requests(&api).await.is_empty(), "initialize calls no API");
    let stderr = server.shutdown().await;
    assert!(stderr.contains("serving MCP over stdio"), "{stderr}");
}

#[tokio::test]
async fn tools_list_has_every_tool_described_with_schema_and_hints() {
    let api = MockServer::start().await;
    let server = Launch::new().start(&api).await;
    let tools = server.tools().await;
    assert_eq!(tools.len(), common::all_tool_count());
    let spec = spec_tools();
    let names: BTreeSet<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), common::all_tool_count(), "duplicate names");
    assert_eq!(
        names,
        spec.iter()
            .map(|t| t.name.as_str())
            .collect::<BTreeSet<_>>()
    );
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        let entry = spec.iter().find(|t| t.name == name).unwrap();
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 20),
            "{name}: {tool}"
        );
        assert!(
            tool["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}"
        );
        let schema = &tool["inputSchema"];
        assert_eq!(schema["type"], "object", "{name}: {schema}");
        assert_eq!(schema["additionalProperties"], false, "{name}: {schema}");
        assert!(schema["properties"].is_object(), "{name}: {schema}");
        // No outputSchema, so no structuredContent either (ARCHITECTURE.md).
        assert!(tool.get("outputSchema").is_none(), "{name}");
        // The hints as sent: readOnlyHint always; the write hints only on
        // writes (MCP defines them only there); openWorldHint only when
        // false (MCP's default is true). The title only at the top.
        let hints = &tool["annotations"];
        assert_eq!(hints["readOnlyHint"], entry.read_only, "{name}: {hints}");
        if entry.read_only {
            assert!(hints.get("destructiveHint").is_none(), "{name}: {hints}");
            assert!(hints.get("idempotentHint").is_none(), "{name}: {hints}");
        } else {
            assert_eq!(
                hints["destructiveHint"], entry.destructive,
                "{name}: {hints}"
            );
            assert!(hints["idempotentHint"].is_boolean(), "{name}: {hints}");
        }
        assert!(
            hints.get("openWorldHint").is_none() || hints["openWorldHint"] == false,
            "{name}: {hints}"
        );
        assert!(hints.get("title").is_none(), "{name}: {hints}");
    }
    let read_only = tools
        .iter()
        .filter(|t| t["annotations"]["readOnlyHint"] == true)
        .count();
    assert_eq!(read_only, common::read_only_tool_count());
    let get_build = tools.iter().find(|t| t["name"] == "get_build").unwrap();
    assert_eq!(
        get_build["inputSchema"]["required"],
        json!(["org_slug", "pipeline_slug", "build_number"])
    );
    assert_eq!(get_build["annotations"]["readOnlyHint"], true);
    let cancel = tools.iter().find(|t| t["name"] == "cancel_build").unwrap();
    assert_eq!(cancel["annotations"]["readOnlyHint"], false);
    assert_eq!(cancel["annotations"]["destructiveHint"], true);
    assert!(requests(&api).await.is_empty());
}

/// The skills extension (SEP-2640): the guides `list_skills` names are
/// also skills, each a `SKILL.md` whose bytes match its manifest.
#[tokio::test]
async fn the_guides_are_skills_for_clients_that_load_them() {
    let api = MockServer::start().await;
    let server = Launch::new().start(&api).await;
    let client = &server.client;
    let info = client.peer_info().expect("initialize result");
    assert!(info.capabilities.supports_skills(), "{info:?}");

    let listed = within("skills/list", client.list_skills(None))
        .await
        .unwrap();
    let names: Vec<&str> = listed.skills.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["debug-logs-guide"]);
    let skill = &listed.skills[0];
    assert_eq!(skill.uri, "buildkite://skills/debug-logs-guide/SKILL.md");
    let got = within(
        "skills/get",
        client.get_skill(GetSkillRequestParams::new(skill.uri.clone())),
    )
    .await
    .unwrap();
    assert_eq!(&got.skill, skill);

    let read = within(
        "resources/read",
        client.read_resource(ReadResourceRequestParams::new(skill.uri.clone())),
    )
    .await
    .unwrap();
    let contents = serde_json::to_value(&read.contents[0]).unwrap();
    let text = contents["text"].as_str().expect("text");
    assert!(
        text.starts_with("---\nname: debug-logs-guide\ndescription: "),
        "{text}"
    );
    assert!(text.contains("tail_logs"), "the guide itself");
    let SkillResources::Files(files) = &skill.resources else {
        panic!("a fixed manifest")
    };
    files[0].verify(text.as_bytes()).unwrap();

    // The same guide through the tool, for clients without the extension.
    let loaded = server
        .call("load_skill", json!({"skill_name": "debug-logs-guide"}))
        .await
        .1;
    assert!(loaded.contains("tail_logs"), "{loaded}");

    let missing = client
        .get_skill(GetSkillRequestParams::new(
            "buildkite://skills/nope/SKILL.md",
        ))
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("skills/list"), "{missing}");
    assert!(requests(&api).await.is_empty(), "skills call no API");
}

#[tokio::test]
async fn prompts_and_the_debug_logs_guide_resource() {
    let api = MockServer::start().await;
    let server = Launch::new().start(&api).await;
    let client = &server.client;

    let prompts = within("prompts/list", client.list_all_prompts())
        .await
        .unwrap();
    let prompts: Vec<Value> = prompts
        .iter()
        .map(|p| serde_json::to_value(p).unwrap())
        .collect();
    let names: Vec<&str> = prompts
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user_token_organization_prompt", "report_issue"]);
    assert!(prompts.iter().all(|p| p["description"].is_string()));

    let prompt = within(
        "prompts/get",
        client.get_prompt(GetPromptRequestParams::new(
            "user_token_organization_prompt",
        )),
    )
    .await
    .unwrap();
    let prompt = serde_json::to_value(&prompt).unwrap();
    assert_eq!(
        prompt["description"],
        "Look up the organization of the token before working with pipelines"
    );
    assert_eq!(prompt["messages"].as_array().unwrap().len(), 1, "{prompt}");
    assert_eq!(prompt["messages"][0]["role"], "user");
    let text = prompt["messages"][0]["content"]["text"].as_str().unwrap();
    assert!(
        text.contains("call the user_token_organization tool"),
        "{text}"
    );

    let error = within(
        "prompts/get of an unknown prompt",
        client.get_prompt(GetPromptRequestParams::new("nope")),
    )
    .await
    .unwrap_err();
    let rmcp::ServiceError::McpError(error) = error else {
        panic!("{error}")
    };
    assert_eq!(error.code.0, -32602);
    assert!(error.message.contains("report_issue"), "{}", error.message);

    let resources = within("resources/list", client.list_all_resources())
        .await
        .unwrap();
    let resources: Vec<Value> = resources
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    let guide = resources
        .iter()
        .find(|r| r["uri"] == "buildkite://debug-logs-guide")
        .unwrap_or_else(|| panic!("{resources:?}"));
    assert_eq!(guide["mimeType"], "text/markdown");
    assert!(guide["name"].as_str().is_some_and(|n| !n.is_empty()));

    let read = within(
        "resources/read",
        client.read_resource(ReadResourceRequestParams::new(
            "buildkite://debug-logs-guide",
        )),
    )
    .await
    .unwrap();
    let read = serde_json::to_value(&read).unwrap();
    let contents = read["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 1);
    assert_eq!(contents[0]["uri"], "buildkite://debug-logs-guide");
    assert_eq!(contents[0]["mimeType"], "text/markdown");
    let text = contents[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("# Debugging a failed Buildkite build"),
        "{text}"
    );
    assert!(text.contains("tail_logs"), "{text}");

    let error = within(
        "resources/read of an unknown resource",
        client.read_resource(ReadResourceRequestParams::new("buildkite://nope")),
    )
    .await
    .unwrap_err();
    let rmcp::ServiceError::McpError(error) = error else {
        panic!("{error}")
    };
    assert_eq!(error.code.0, -32002);
    assert_eq!(
        error.data,
        Some(json!({"uri": "buildkite://nope"})),
        "{error:?}"
    );
    assert!(requests(&api).await.is_empty());
}

/// Read-only mode from the flag, the variable, and after `stdio`: no tool
/// that changes anything is listed or callable, and nothing reaches the API.
#[tokio::test]
async fn read_only_lists_and_calls_no_write_tool() {
    let writes: BTreeSet<String> = spec_tools()
        .into_iter()
        .filter(|t| !t.read_only)
        .map(|t| t.name)
        .collect();
    assert_eq!(writes.len(), 16);
    for launch in [
        Launch::new().args(&["--read-only"]),
        Launch::new().env("BUILDKITE_READ_ONLY", "true"),
        Launch::new().args(&["stdio", "--read-only"]),
    ] {
        let api = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(json_response(201, "build.json"))
            .mount(&api)
            .await;
        let server = launch.clone().start(&api).await;
        let tools = server.tools().await;
        assert_eq!(tools.len(), common::read_only_tool_count(), "{launch:?}");
        for tool in &tools {
            let name = tool["name"].as_str().unwrap();
            assert!(!writes.contains(name), "{launch:?} lists {name}");
            assert_eq!(tool["annotations"]["readOnlyHint"], true, "{name}");
        }
        let instructions = server
            .client
            .peer_info()
            .unwrap()
            .instructions
            .clone()
            .unwrap();
        let names: Vec<String> = tools
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        instruction_tools(&instructions, &names);
        assert!(
            !instructions.contains("Annotations with scope"),
            "the create_annotation hint needs a write tool: {instructions}"
        );

        for (name, args) in [
            (
                "create_build",
                json!({"org_slug": "acme", "pipeline_slug": "app", "commit": "HEAD", "branch": "main"}),
            ),
            (
                "cancel_build",
                json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}),
            ),
        ] {
            let refused = server.try_call(name, args).await;
            match refused {
                Err(rmcp::ServiceError::McpError(error)) => {
                    assert_eq!(error.code.0, -32602, "{launch:?}: {error:?}");
                    assert!(
                        error.message.contains(name) && error.message.contains("read-only"),
                        "{launch:?}: {}",
                        error.message
                    );
                }
                Ok(result) => assert_eq!(result.is_error, Some(true), "{launch:?}: {result:?}"),
                Err(other) => panic!("{launch:?}: {other}"),
            }
        }
        assert!(
            requests(&api).await.is_empty(),
            "{launch:?}: a refused write reached the API"
        );
        // Reading still works.
        Mock::given(method("GET"))
            .and(path("/v2/user"))
            .and(authorized())
            .respond_with(json_response(200, "user.json"))
            .mount(&api)
            .await;
        let user = server.ok("current_user", json!({})).await;
        assert_eq!(user["name"], "Sam Kim");
        assert_eq!(requests(&api).await, ["GET /v2/user"]);
        server.shutdown().await;
    }
}

/// The same write reaches the API when the server is not read-only, so the
/// refusal above is the mode's doing.
#[tokio::test]
async fn a_write_tool_reaches_the_api_when_not_read_only() {
    let api = MockServer::start().await;
    let mut build = fixture("build.json");
    build["state"] = json!("scheduled");
    build["finished_at"] = Value::Null;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines/app/builds"))
        .and(authorized())
        .and(body_json(
            json!({"commit": "HEAD", "branch": "main", "message": "Deploy"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(build))
        .expect(1)
        .mount(&api)
        .await;
    let server = Launch::new().start(&api).await;
    let created = server
        .ok(
            "create_build",
            json!({"org_slug": "acme", "pipeline_slug": "app", "commit": "HEAD", "branch": "main", "message": "Deploy"}),
        )
        .await;
    assert_eq!(created["number"], 42, "{created}");
    assert_eq!(created["state"], "scheduled", "{created}");
    assert_eq!(
        requests(&api).await,
        ["POST /v2/organizations/acme/pipelines/app/builds"]
    );
    assert_all_sent_token(&api, TOKEN).await;
}

#[tokio::test]
async fn enabled_toolsets_narrow_the_list_calls_and_instructions() {
    let expected: BTreeSet<String> = spec_tools()
        .into_iter()
        .filter(|t| t.toolset == "builds" || t.toolset == "logs")
        .map(|t| t.name)
        .collect();
    assert_eq!(expected.len(), 18);
    for launch in [
        Launch::new().args(&["--enabled-toolsets", "builds,logs"]),
        Launch::new().env("BUILDKITE_TOOLSETS", "logs, builds"),
    ] {
        let api = MockServer::start().await;
        let server = launch.clone().start(&api).await;
        let names = server.tool_names().await;
        assert_eq!(
            names.iter().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{launch:?}"
        );
        let instructions = server
            .client
            .peer_info()
            .unwrap()
            .instructions
            .clone()
            .unwrap();
        let mentioned = instruction_tools(&instructions, &names);
        assert!(mentioned.contains("tail_logs") && mentioned.contains("resolve_url"));
        for absent in ["user_token_organization", "list_skills", "load_skill"] {
            assert!(!instructions.contains(absent), "{absent}: {instructions}");
        }
        let error = server
            .try_call("list_clusters", json!({"org_slug": "acme"}))
            .await
            .unwrap_err();
        let rmcp::ServiceError::McpError(error) = error else {
            panic!("{error}")
        };
        assert_eq!(error.code.0, -32602);
        assert!(
            error.message.contains("list_clusters") && error.message.contains("not enabled"),
            "{}",
            error.message
        );
        assert!(requests(&api).await.is_empty());
        server.shutdown().await;
    }
}

#[tokio::test]
async fn a_tools_allow_list_leaves_only_those_tools() {
    let api = MockServer::start().await;
    let server = Launch::new()
        .args(&["--tools", "get_build"])
        .start(&api)
        .await;
    assert_eq!(server.tool_names().await, ["get_build"]);
    let error = server
        .try_call(
            "get_job",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": "b63254c0-3271-4a98-8270-7cfbd6c2f14e"}),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not enabled"), "{error}");
    let error = server
        .try_call("no_such_tool", json!({}))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("unknown tool"), "{error}");
    assert!(requests(&api).await.is_empty());
}

/// The instructions name no tool an allow-list left out. (They are chosen
/// per toolset, so `--tools get_build` still gets the `resolve_url` hint,
/// and `--tools tail_logs` the `search_logs`/`read_logs` one.)
#[tokio::test]
async fn instructions_name_only_allowed_tools() {
    for allowed in ["get_build", "tail_logs", "list_skills", "current_user"] {
        let api = MockServer::start().await;
        let server = Launch::new().args(&["--tools", allowed]).start(&api).await;
        let listed = server.tool_names().await;
        assert_eq!(listed, [allowed]);
        let instructions = server
            .client
            .peer_info()
            .unwrap()
            .instructions
            .clone()
            .unwrap();
        instruction_tools(&instructions, &listed);
        server.shutdown().await;
    }
}

#[tokio::test]
async fn without_a_token_tools_are_listed_but_api_calls_explain_and_send_nothing() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, "build.json"))
        .mount(&api)
        .await;
    let server = Launch::new().no_token().start(&api).await;
    assert_eq!(server.tools().await.len(), common::all_tool_count());
    let error = server
        .err(
            "get_build",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}),
        )
        .await;
    assert!(
        error.starts_with(
            "no Buildkite API token is configured on this server: set BUILDKITE_API_TOKEN"
        ),
        "{error}"
    );
    // Over stdio nothing can send a token per request: no mention of one.
    assert!(!error.contains("Authorization"), "{error}");
    let error = server.err("current_user", json!({})).await;
    assert!(
        error.contains("no Buildkite API token is configured"),
        "{error}"
    );
    assert!(
        requests(&api).await.is_empty(),
        "a call without a token reached the API"
    );

    // The skills toolset needs no API.
    let skills = server.ok("list_skills", json!({})).await;
    assert_eq!(skills["skills"][0]["name"], "debug-logs-guide", "{skills}");
    let (result, guide) = server
        .call("load_skill", json!({"skill_name": "debug-logs-guide"}))
        .await;
    assert_eq!(result.is_error, Some(false));
    assert!(
        guide.starts_with("# Debugging a failed Buildkite build"),
        "{guide}"
    );
    assert!(requests(&api).await.is_empty());
    let stderr = server.shutdown().await;
    assert!(stderr.contains("no API token configured"), "{stderr}");
}

#[tokio::test]
async fn a_token_buildkite_refuses_is_reported_as_such() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .and(authorized())
        .respond_with(json_response(401, "error_401.json"))
        .mount(&api)
        .await;
    let server = Launch::new().start(&api).await;
    let error = server.err("current_user", json!({})).await;
    assert!(error.contains("GET /v2/user: 401 Unauthorized"), "{error}");
    assert!(
        error.contains("The API token is missing, invalid, expired or revoked"),
        "{error}"
    );
    assert!(!error.contains(TOKEN), "{error}");
    // A 401 is not retried.
    assert_eq!(requests(&api).await, ["GET /v2/user"]);
    assert_all_sent_token(&api, TOKEN).await;
    // The server is still usable.
    let skills = server.ok("list_skills", json!({"query": "logs"})).await;
    assert_eq!(skills["skills"].as_array().unwrap().len(), 1);
    let stderr = server.shutdown().await;
    assert!(
        stderr.contains("Buildkite refused the API token (HTTP 401)"),
        "{stderr}"
    );
}

/// Over the raw pipe: stdout carries only JSON-RPC messages, one per line
/// (logs go to stderr, even at debug level), and closing stdin ends the
/// server promptly with status 0.
#[tokio::test]
async fn stdout_is_only_json_rpc_and_eof_ends_the_server() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let api = MockServer::start().await;
    let cache = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(common::BIN)
        .env_clear()
        .env("BK_MCP_LIST_ALL_TOOLS", "true")
        .env("HOME", cache.path())
        .env("BKLOG_CACHE_URL", cache.path())
        .env("BUILDKITE_BASE_URL", api.uri())
        .env("BUILDKITE_API_TOKEN", TOKEN)
        .args(["stdio", "--debug"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "list_skills", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
            "params": {"name": "get_build", "arguments": {"org_slug": "acme"}}}),
    ];
    let mut answers = Vec::new();
    for message in messages {
        let id = message.get("id").cloned();
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
        if id.is_none() {
            continue;
        }
        let line = within("a response line", stdout.next_line())
            .await
            .unwrap()
            .expect("a line");
        let answer: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(answer["jsonrpc"], "2.0", "{line}");
        assert_eq!(answer["id"], id.unwrap(), "{line}");
        answers.push(answer);
    }
    assert_eq!(answers[0]["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(answers[0]["result"]["serverInfo"]["name"], "bk-mcp");
    assert_eq!(
        answers[1]["result"]["tools"].as_array().unwrap().len(),
        common::all_tool_count()
    );
    assert_eq!(answers[2]["result"]["isError"], false, "{}", answers[2]);
    // A bad argument is a tool error naming the parameter, not a protocol error.
    let bad = &answers[3]["result"];
    assert_eq!(bad["isError"], true, "{}", answers[3]);
    let text = bad["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("pipeline_slug") || text.contains("build_number"),
        "{text}"
    );

    drop(stdin);
    let started = std::time::Instant::now();
    let status = common::within_for(
        std::time::Duration::from_secs(3),
        "the server to exit after stdin closed",
        child.wait(),
    )
    .await
    .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // Nothing but the answers was written to stdout.
    let rest = within("the end of stdout", stdout.next_line())
        .await
        .unwrap();
    assert_eq!(rest, None, "stray stdout");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("tool call finished"), "{stderr}");
    assert!(requests(&api).await.is_empty());
}

/// The token's scopes are read once at start, and `tools/list` leaves out
/// the tools it has no scope for. If they cannot be read, every tool is
/// listed and the log says why.
#[tokio::test]
async fn tools_the_token_cannot_run_are_not_listed() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/access-token"))
        .and(authorized())
        .respond_with(json_response(200, "access_token.json"))
        .expect(1)
        .mount(&api)
        .await;
    let server = Launch::new()
        .env("BK_MCP_LIST_ALL_TOOLS", "false")
        .start(&api)
        .await;
    let listed = server.tool_names().await;
    assert!(listed.contains(&"get_build".to_owned()), "{listed:?}");
    assert!(listed.contains(&"tail_logs".to_owned()), "{listed:?}");
    for absent in [
        "cancel_build",
        "list_clusters",
        "get_job_env",
        "create_pipeline",
    ] {
        assert!(!listed.contains(&absent.to_owned()), "{absent}: {listed:?}");
    }
    assert!(listed.len() < common::all_tool_count());
    let stderr = server.shutdown().await;
    assert!(
        stderr.contains("list_clusters (needs read_clusters)"),
        "{stderr}"
    );

    // Scopes that cannot be read hide nothing.
    let broken = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/access-token"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&broken)
        .await;
    let server = Launch::new()
        .env("BK_MCP_LIST_ALL_TOOLS", "false")
        .start(&broken)
        .await;
    assert_eq!(server.tool_names().await.len(), common::all_tool_count());
    let stderr = server.shutdown().await;
    assert!(
        stderr.contains("could not read the token's scopes"),
        "{stderr}"
    );
}

/// A stalled scopes read delays the start by at most 5 s, then hides
/// nothing.
#[tokio::test]
async fn a_stalled_scopes_read_delays_the_start_by_at_most_five_seconds() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/access-token"))
        .respond_with(
            json_response(200, "access_token.json").set_delay(std::time::Duration::from_secs(60)),
        )
        .mount(&api)
        .await;
    let started = std::time::Instant::now();
    let server = Launch::new()
        .env("BK_MCP_LIST_ALL_TOOLS", "false")
        .start(&api)
        .await;
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(12), "{took:?}");
    assert_eq!(server.tool_names().await.len(), common::all_tool_count());
    let stderr = server.shutdown().await;
    assert!(stderr.contains("did not arrive in time"), "{stderr}");
}
