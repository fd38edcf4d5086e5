//! The command line of the real binary: `tools`, `config <client>`,
//! `check`, `--version`, and bad usage (exit status 2, one line on stderr).

use std::process::{Output, Stdio};

use crate::common::{self, BIN, json_response, requests, within};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer};

/// A token that must never be printed.
const SECRET: &str = "bkua_CliS3cr3tNeverPrinted0123456789ab";

/// Runs the binary with `args` and exactly `env` (nothing inherited),
/// stdin closed, and returns its output.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(BIN);
    command
        .env_clear()
        .env("HOME", cache.path())
        .env("BKLOG_CACHE_URL", cache.path())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    within(&format!("bk-mcp-stdio {args:?}"), command.output())
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn assert_status(output: &Output, status: i32) {
    assert_eq!(
        output.status.code(),
        Some(status),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// The tool list printed by `tools`.
fn printed_tools(output: &Output) -> Vec<Value> {
    assert_status(output, 0);
    let list: Value = serde_json::from_str(&stdout(output)).unwrap();
    list["tools"].as_array().unwrap().clone()
}

#[tokio::test]
async fn tools_prints_the_enabled_tools_as_json_without_a_token() {
    let all = run(&["tools"], &[]).await;
    let tools = printed_tools(&all);
    assert_eq!(tools.len(), common::all_tool_count());
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        assert_eq!(tool["inputSchema"]["type"], "object", "{name}");
        assert!(
            tool["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}"
        );
        assert!(tool["annotations"]["readOnlyHint"].is_boolean(), "{name}");
    }
    assert!(tools.iter().any(|t| t["name"] == "create_build"));
    assert_eq!(stderr(&all), "", "no token is needed to list tools");

    let read_only = printed_tools(&run(&["tools", "--read-only"], &[]).await);
    assert_eq!(read_only.len(), common::read_only_tool_count());
    assert!(
        read_only
            .iter()
            .all(|t| t["annotations"]["readOnlyHint"] == true)
    );

    let narrowed = printed_tools(
        &run(
            &["tools"],
            &[
                ("BUILDKITE_TOOLSETS", "builds,logs"),
                ("BUILDKITE_READ_ONLY", "true"),
            ],
        )
        .await,
    );
    let names: Vec<&str> = narrowed
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 13, "{names:?}");
    assert!(names.contains(&"tail_logs") && names.contains(&"get_build"));
    assert!(!names.contains(&"cancel_build") && !names.contains(&"list_clusters"));

    let one = printed_tools(&run(&["--tools", "get_build,tail_logs", "tools"], &[]).await);
    let names: Vec<&str> = one.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"get_build") && names.contains(&"tail_logs"));

    // Exclusions win over --tools and the toolsets, from the flag or the variable.
    let fewer = printed_tools(
        &run(
            &[
                "--tools",
                "get_build,tail_logs",
                "--exclude-tools",
                "tail_logs",
                "tools",
            ],
            &[],
        )
        .await,
    );
    let names: Vec<&str> = fewer.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["get_build"]);
    let fewer = printed_tools(
        &run(
            &["tools"],
            &[("BUILDKITE_EXCLUDE_TOOLS", "cancel_build, rebuild_build")],
        )
        .await,
    );
    let names: Vec<&str> = fewer.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), crate::common::all_tool_count() - 2);
    assert!(!names.contains(&"cancel_build") && !names.contains(&"rebuild_build"));
}

#[tokio::test]
async fn config_prints_client_snippets_without_the_token() {
    let env = [("BUILDKITE_API_TOKEN", SECRET)];
    let output = run(&["config", "claude-desktop"], &env).await;
    assert_status(&output, 0);
    let config: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let server = &config["mcpServers"]["buildkite"];
    assert_eq!(server["command"], BIN, "{config}");
    assert_eq!(server["args"], serde_json::json!(["stdio"]), "{config}");
    assert_eq!(
        server["env"]["BUILDKITE_API_TOKEN"],
        "<your Buildkite API token>"
    );
    assert!(stderr(&output).contains("claude_desktop_config.json"));

    let output = run(
        &[
            "--read-only",
            "--enabled-toolsets",
            "builds,logs",
            "config",
            "claude-desktop",
        ],
        &env,
    )
    .await;
    assert_status(&output, 0);
    let config: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        config["mcpServers"]["buildkite"]["args"],
        serde_json::json!(["stdio", "--read-only", "--enabled-toolsets=builds,logs"])
    );

    for client in [
        "claude-desktop",
        "claude-code",
        "cursor",
        "vscode",
        "windsurf",
        "zed",
        "goose",
    ] {
        let output = run(&["config", client], &env).await;
        assert_status(&output, 0);
        let (out, err) = (stdout(&output), stderr(&output));
        assert!(
            !out.contains(SECRET) && !err.contains(SECRET),
            "{client}: {out}{err}"
        );
        assert!(out.contains(BIN), "{client}: {out}");
        if out.starts_with('{') {
            serde_json::from_str::<Value>(&out)
                .unwrap_or_else(|e| panic!("{client}: invalid JSON ({e}): {out}"));
        }
    }
}

#[tokio::test]
async fn version_and_help_exit_zero() {
    let output = run(&["--version"], &[]).await;
    assert_status(&output, 0);
    assert_eq!(
        stdout(&output),
        format!("bk-mcp-stdio {}\n", env!("CARGO_PKG_VERSION"))
    );
    let output = run(&["--help"], &[]).await;
    assert_status(&output, 0);
    let help = stdout(&output);
    for word in [
        "stdio",
        "tools",
        "check",
        "config",
        "--read-only",
        "--enabled-toolsets",
    ] {
        assert!(help.contains(word), "{word}: {help}");
    }
}

/// Arguments, environment, and a piece of the expected error line.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[tokio::test]
async fn bad_usage_exits_2_with_one_line() {
    let token = [("BUILDKITE_API_TOKEN", SECRET)];
    let cases: &[Case<'_>] = &[
        (&["--bogus"], &token, "--bogus"),
        (&["frobnicate"], &token, "frobnicate"),
        (&["stdio", "--bogus"], &token, "--bogus"),
        (
            &["--enabled-toolsets", "nope"],
            &token,
            "unknown toolset \"nope\"",
        ),
        (
            &["--enabled-toolsets", "builds,nope", "tools"],
            &[],
            "valid toolsets:",
        ),
        (&[], &[("BUILDKITE_TOOLSETS", "nope")], "BUILDKITE_TOOLSETS"),
        (&["--tools", "get_bild"], &token, "get_bild"),
        (
            &["--exclude-tools", "cancel_bild", "tools"],
            &[],
            "BUILDKITE_EXCLUDE_TOOLS: unknown tool \"cancel_bild\"; valid tools: access_token",
        ),
        (&["--read-only=maybe"], &token, "maybe"),
        (
            &[],
            &[
                ("BUILDKITE_READ_ONLY", "maybe"),
                ("BUILDKITE_API_TOKEN", SECRET),
            ],
            "maybe",
        ),
        (&["config", "emacs"], &token, "emacs"),
        (
            &["--http-header", "Authorization: Bearer x"],
            &token,
            "BUILDKITE_HTTP_HEADERS",
        ),
        (
            &["--http-header", "no colon"],
            &token,
            "is not `Name: value`",
        ),
        (&["--cache-url", "ftp://bucket/x"], &token, "ftp://"),
        (&["--redis-url", "http://h:1"], &token, "BK_MCP_REDIS_URL"),
        (
            &["--response-budget", "10"],
            &token,
            "BK_MCP_RESPONSE_BUDGET",
        ),
        (
            &[],
            &[("BUILDKITE_API_TOKEN", "bkua_CliS3cr3t has a space")],
            "BUILDKITE_API_TOKEN",
        ),
        (&["check"], &[], "check needs a token"),
        (
            &[
                "--api-token",
                SECRET,
                "--api-token-from-1password",
                "op://v/i/f",
            ],
            &[],
            "not both",
        ),
        (
            &["--record", "/tmp/a.har", "--replay", "/tmp/b.har"],
            &token,
            "cannot use both --record (BUILDKITE_RECORD) and --replay",
        ),
        (
            &["--demo", "--record", "/tmp/a.har"],
            &[],
            "--demo (BK_MCP_DEMO) replays the bundled recording",
        ),
        (
            &["--replay", "/nonexistent/traffic.har"],
            &[],
            "--replay / BUILDKITE_REPLAY: invalid client configuration: cannot read the HAR file /nonexistent/traffic.har",
        ),
        (
            &[],
            &[
                ("BUILDKITE_RECORD", "/nonexistent/dir/traffic.har"),
                ("BUILDKITE_API_TOKEN", SECRET),
            ],
            "--record / BUILDKITE_RECORD: invalid client configuration: cannot write the HAR recording /nonexistent/dir/traffic.har",
        ),
    ];
    for (args, env, needle) in cases {
        let output = run(args, env).await;
        let err = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?} {env:?}: stdout {} stderr {err}",
            stdout(&output)
        );
        assert_eq!(err.lines().count(), 1, "{args:?} {env:?}: {err}");
        assert!(err.starts_with("bk-mcp-stdio: "), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?} {env:?}: {err}");
        assert!(
            !err.contains("S3cr3t"),
            "{args:?}: the token was printed: {err}"
        );
        assert_eq!(stdout(&output), "", "{args:?}");
    }
}

/// A missing argument is named on the one line. (clap puts the argument's
/// name on the line after "the following required arguments were not
/// provided:", and only the first line is kept.)
#[tokio::test]
async fn a_missing_argument_is_named() {
    let output = run(&["config"], &[]).await;
    assert_status(&output, 2);
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("<CLIENT>"), "{err}");
}

#[tokio::test]
async fn switches_take_values_only_after_equals_and_empty_means_off() {
    // `--read-only` before a subcommand does not swallow it.
    let tools = printed_tools(&run(&["--read-only", "tools"], &[]).await);
    assert_eq!(tools.len(), common::read_only_tool_count());
    let tools = printed_tools(&run(&["--read-only=off", "tools"], &[]).await);
    assert_eq!(tools.len(), common::all_tool_count());
    let tools = printed_tools(&run(&["tools"], &[("BUILDKITE_READ_ONLY", "")]).await);
    assert_eq!(
        tools.len(),
        common::all_tool_count(),
        "an empty variable means off"
    );
    let tools = printed_tools(&run(&["tools"], &[("BUILDKITE_READ_ONLY", "1")]).await);
    assert_eq!(tools.len(), common::read_only_tool_count());
    // DEBUG belongs to other tools too: any value turns debug on, none fails.
    let tools = printed_tools(&run(&["tools"], &[("DEBUG", "express:*")]).await);
    assert_eq!(tools.len(), common::all_tool_count());
}

/// Mounts `GET /v2/access-token` for the secret token.
async fn access_token_api(status: u16, fixture: &str) -> MockServer {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/access-token"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(json_response(status, fixture))
        .expect(1)
        .mount(&api)
        .await;
    api
}

async fn check(api: &MockServer, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.push("check");
    let uri = api.uri();
    let output = run(
        &all,
        &[
            ("BUILDKITE_API_TOKEN", SECRET),
            ("BUILDKITE_BASE_URL", uri.as_str()),
        ],
    )
    .await;
    assert_eq!(requests(api).await, ["GET /v2/access-token"]);
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(
        !out.contains("S3cr3t") && !err.contains("S3cr3t"),
        "{out}{err}"
    );
    output
}

#[tokio::test]
async fn check_passes_when_the_scopes_cover_the_enabled_tools() {
    let api = access_token_api(200, "access_token.json").await;
    let output = check(
        &api,
        &[
            "--read-only",
            "--enabled-toolsets",
            "logs,artifacts,pipelines",
        ],
    )
    .await;
    assert_status(&output, 0);
    assert_eq!(
        stdout(&output),
        "Token c7e2a0d4-58b1-4f3e-9a6d-2e8f1b7c3a95 (MCP) has scopes: read_artifacts read_build_logs read_builds read_pipelines read_user\n\
         All 10 enabled tools have the scopes they need.\n"
    );
}

#[tokio::test]
async fn check_lists_the_tools_that_lack_a_scope() {
    let api = access_token_api(200, "access_token.json").await;
    let output = check(
        &api,
        &["--read-only", "--enabled-toolsets", "builds,clusters"],
    )
    .await;
    assert_status(&output, 1);
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        "5 of 14 enabled tools need a scope the token lacks, so they are not listed (--list-all-tools lists them):",
        "{out}"
    );
    let mut listed: Vec<&str> = lines[2..7].to_vec();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            "  get_cluster: needs read_clusters",
            "  get_cluster_queue: needs read_clusters",
            "  get_job_env: needs read_job_env",
            "  list_cluster_queues: needs read_clusters",
            "  list_clusters: needs read_clusters",
        ],
        "{out}"
    );
    assert!(
        lines[7].starts_with("Next: add read_clusters read_job_env to the token"),
        "{out}"
    );
    assert_eq!(lines.len(), 8, "{out}");
}

#[tokio::test]
async fn check_reports_a_refused_token() {
    let api = access_token_api(401, "error_401.json").await;
    let output = check(&api, &[]).await;
    assert_status(&output, 1);
    let out = stdout(&output);
    assert!(
        out.starts_with("Could not read the token's scopes: GET /v2/access-token: 401"),
        "{out}"
    );
    assert!(
        out.contains("Next: the token is invalid, expired or revoked"),
        "{out}"
    );
}

/// `bk-mcp-stdio tools | head -1` must not panic when the reader goes away
/// (`print!` panics on a closed pipe).
#[tokio::test]
async fn tools_into_a_closed_pipe_does_not_panic() {
    let cache = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .env_clear()
        .env("HOME", cache.path())
        .arg("tools")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The list (tens of KiB) cannot fit the pipe once nobody reads it.
    drop(child.stdout.take());
    let output = within("tools into a closed pipe", child.wait_with_output())
        .await
        .unwrap();
    let err = stderr(&output);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(output.status.code(), Some(101), "{err}");
}

/// With a token, `tools` leaves out the tools it has no scope for and says
/// which, and the scope each needs; `--list-all-tools` lists them all and
/// reads nothing.
#[tokio::test]
async fn tools_leaves_out_what_the_token_cannot_run_and_says_so() {
    let api = access_token_api(200, "access_token.json").await;
    let uri = api.uri();
    let env = [
        ("BUILDKITE_API_TOKEN", SECRET),
        ("BUILDKITE_BASE_URL", uri.as_str()),
    ];
    let output = run(&["--enabled-toolsets", "builds,clusters", "tools"], &env).await;
    assert_status(&output, 0);
    let printed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let names: Vec<&str> = printed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"get_build") && !names.contains(&"list_clusters"));
    assert!(
        !names.contains(&"cancel_build"),
        "write_builds is not granted"
    );
    let left = printed["left_out"].as_array().expect("left_out");
    assert!(
        left.contains(&serde_json::json!({"name": "list_clusters", "needs": ["read_clusters"]})),
        "{left:?}"
    );
    assert_eq!(requests(&api).await, ["GET /v2/access-token"]);

    let all = printed_tools(
        &run(
            &[
                "--enabled-toolsets",
                "builds,clusters",
                "--list-all-tools",
                "tools",
            ],
            &env,
        )
        .await,
    );
    assert_eq!(all.len(), names.len() + left.len(), "{names:?} {left:?}");
    assert_eq!(
        requests(&api).await.len(),
        1,
        "--list-all-tools reads no scopes"
    );
}
