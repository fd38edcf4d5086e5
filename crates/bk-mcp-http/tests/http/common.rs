//! Shared set-up for the end-to-end tests: the real `bk-mcp-http` binary
//! started on a free port against a wiremock Buildkite API, an rmcp client
//! for MCP-level tests, raw HTTP for status codes, and helpers to read what
//! the mock API received.

use std::collections::HashMap;
use std::future::Future;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ServiceError, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};
use wiremock::{MockServer, ResponseTemplate};

/// The fixed token most tests give the server.
pub const TOKEN: &str = "bkua_e2efixed0123456789abcdefghijkl";

/// The challenge every 401 carries.
pub const CHALLENGE: &str = r#"Bearer realm="buildkite""#;

/// How long any single await may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// An MCP client over Streamable HTTP (the no-op client handler).
pub type Client = RunningService<RoleClient, ()>;

/// Awaits `future`, failing the test if it takes longer than [`WAIT`].
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {WAIT:?}"))
}

/// A server to start: the binary, its arguments and environment.
#[derive(Debug)]
pub struct Launch {
    args: Vec<String>,
    env: Vec<(String, String)>,
    cache: tempfile::TempDir,
}

/// A server pointed at `api`, with a temporary log cache and no token.
pub fn launch(api: &MockServer) -> Launch {
    let cache = tempfile::tempdir().expect("a temporary cache directory");
    let env = vec![
        ("BUILDKITE_BASE_URL".to_owned(), api.uri()),
        (
            "BKLOG_CACHE_URL".to_owned(),
            cache.path().display().to_string(),
        ),
    ];
    Launch {
        args: vec!["--listen".into(), "127.0.0.1:0".into()],
        env,
        cache,
    }
}

impl Launch {
    /// Gives the server a fixed API token (through `BUILDKITE_API_TOKEN`).
    pub fn token(self, token: &str) -> Self {
        self.env("BUILDKITE_API_TOKEN", token)
    }

    /// Adds command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bk-mcp-http"));
        // Nothing from the developer's environment (tokens, DEBUG, RUST_LOG)
        // leaks in.
        command
            .env_clear()
            // Tests count requests: the token's scopes are read at start only
            // where a test asks for it (BK_MCP_LIST_ALL_TOOLS=false).
            .env("BK_MCP_LIST_ALL_TOOLS", "true")
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Starts the server and waits for its `listening on` line.
    pub async fn start(self) -> Server {
        let mut child = self.command().spawn().expect("bk-mcp-http starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut reader = BufReader::new(stderr).lines();
        let port = within("the listening line", async {
            loop {
                let Some(line) = reader.next_line().await.expect("stderr is readable") else {
                    let seen = lines.lock().expect("lines").join("\n");
                    panic!("bk-mcp-http exited before listening; stderr:\n{seen}");
                };
                lines.lock().expect("lines").push(line.clone());
                if let Some(port) = listening_port(&line) {
                    break port;
                }
            }
        })
        .await;
        let collector = tokio::spawn(collect(reader, Arc::clone(&lines)));
        Server {
            child,
            port,
            lines,
            collector: Some(collector),
            _cache: self.cache,
        }
    }

    /// Runs the binary expecting it to stop by itself (bad configuration):
    /// its exit status and stderr lines.
    pub async fn run_to_exit(self) -> (ExitStatus, Vec<String>) {
        let output = within("bk-mcp-http to exit", self.command().output())
            .await
            .expect("bk-mcp-http runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        (output.status, stderr.lines().map(str::to_owned).collect())
    }
}

/// The port in `... listening on http://127.0.0.1:PORT/mcp ...`.
fn listening_port(line: &str) -> Option<u16> {
    let rest = line.split("listening on http://127.0.0.1:").nth(1)?;
    let (port, tail) = rest.split_once('/')?;
    tail.starts_with("mcp").then(|| port.parse().ok())?
}

async fn collect(
    mut reader: tokio::io::Lines<BufReader<ChildStderr>>,
    lines: Arc<Mutex<Vec<String>>>,
) {
    while let Ok(Some(line)) = reader.next_line().await {
        lines.lock().expect("lines").push(line);
    }
}

/// A running `bk-mcp-http`, killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
    collector: Option<tokio::task::JoinHandle<()>>,
    _cache: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- bk-mcp-http stderr ---");
            for line in self.stderr() {
                eprintln!("{line}");
            }
        }
    }
}

impl Server {
    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every stderr line so far.
    pub fn stderr(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// The `listening on` line.
    pub fn listening_line(&self) -> String {
        self.stderr()
            .into_iter()
            .find(|l| l.contains("listening on"))
            .expect("the listening line")
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("the server is running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {pid}: {status}");
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("kill the server");
    }

    /// Waits for the process to exit.
    pub async fn wait(&mut self) -> ExitStatus {
        within("bk-mcp-http to exit", self.child.wait())
            .await
            .expect("wait")
    }

    /// Sends SIGTERM, waits for the exit and for the last stderr line: the
    /// exit status and every stderr line.
    pub async fn stop(&mut self) -> (ExitStatus, Vec<String>) {
        self.terminate();
        self.finish().await
    }

    /// Waits for the process to exit and for its last stderr line: the exit
    /// status and every stderr line.
    pub async fn finish(&mut self) -> (ExitStatus, Vec<String>) {
        let status = self.wait().await;
        if let Some(collector) = self.collector.take() {
            within("the end of stderr", collector)
                .await
                .expect("the stderr reader");
        }
        (status, self.stderr())
    }

    /// An MCP client on `path` (initialized), with a bearer token and extra
    /// headers.
    pub async fn client(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Client {
        self.try_client(path, token, headers)
            .await
            .unwrap_or_else(|e| panic!("MCP client on {path}: {e}"))
    }

    /// Like [`Server::client`], returning the initialization error.
    pub async fn try_client(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Client, rmcp::service::ClientInitializeError> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.url(path))
            .max_concurrent_requests(128)
            .custom_headers(header_map(headers));
        if let Some(token) = token {
            config = config.auth_header(token);
        }
        within(
            "MCP initialize",
            ().serve(StreamableHttpClientTransport::from_config(config)),
        )
        .await
    }

    /// A raw JSON POST to `path` with the headers MCP requires plus `headers`.
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        self.post_bytes(path, serde_json::to_vec(body).expect("JSON"), headers)
            .await
    }

    /// A raw POST of `body` to `path`.
    pub async fn post_bytes(
        &self,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = http_client()
            .post(self.url(path))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        within("raw POST", request.send())
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// A raw GET of `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        within("raw GET", http_client().get(self.url(path)).send())
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}

/// A plain HTTP client (no proxy, no pooling surprises).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

fn header_map(headers: &[(&str, &str)]) -> HashMap<HeaderName, HeaderValue> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            )
        })
        .collect()
}

// ----------------------------------------------------------------- MCP

/// The JSON-RPC body of an `initialize` request.
pub fn initialize_body() -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "1"}
        }
    })
}

/// The JSON-RPC body of a `tools/list` request.
pub fn list_body() -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
}

/// The JSON-RPC body of a `tools/call` request.
pub fn call_body(name: &str, arguments: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments}
    })
}

/// The JSON-RPC message of a raw response, whether sent as JSON or as SSE.
pub async fn rpc_message(response: reqwest::Response) -> Value {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = within("response body", response.text())
        .await
        .expect("body");
    assert!(status.is_success(), "HTTP {status}: {text}");
    if content_type.starts_with("text/event-stream") {
        let message = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .find(|m| m.get("result").is_some() || m.get("error").is_some());
        message.unwrap_or_else(|| panic!("no JSON-RPC answer in the stream: {text}"))
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }
}

/// Calls a tool through the client (transport errors fail the test; MCP
/// errors are returned).
pub async fn call(
    client: &Client,
    name: &str,
    arguments: Value,
) -> Result<CallToolResult, ServiceError> {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    within(
        name,
        client.call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(arguments)),
    )
    .await
}

/// The text of a tool result.
pub fn text(result: &CallToolResult) -> &str {
    // One text block, then any links to content not inlined.
    assert!(
        !result.content.is_empty()
            && result.content[1..]
                .iter()
                .all(|block| block.as_resource_link().is_some()),
        "{result:?}"
    );
    &result.content[0]
        .as_text()
        .unwrap_or_else(|| panic!("not text: {result:?}"))
        .text
}

/// Calls a tool that must succeed, and parses its JSON result.
pub async fn call_ok(client: &Client, name: &str, arguments: Value) -> Value {
    let result = call(client, name, arguments)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_ne!(
        result.is_error,
        Some(true),
        "{name} failed: {}",
        text(&result)
    );
    serde_json::from_str(text(&result))
        .unwrap_or_else(|e| panic!("{name} did not return JSON ({e}): {}", text(&result)))
}

/// The names of the tools the client sees, sorted.
pub async fn tool_names(client: &Client) -> Vec<String> {
    let tools = within("tools/list", client.list_all_tools())
        .await
        .expect("tools/list");
    let mut names: Vec<String> = tools.into_iter().map(|t| t.name.into_owned()).collect();
    names.sort();
    names
}

// ----------------------------------------------------------------- tools

/// One tool: its name, toolset and whether it only reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolInfo {
    pub name: String,
    pub toolset: String,
    pub read_only: bool,
}

/// Every tool the binary has (bk-tools' registry, which it serves).
pub fn registry_tools() -> Vec<ToolInfo> {
    bk_tools::Registry::new()
        .all_tools()
        .iter()
        .map(|tool| {
            let meta = tool.meta();
            ToolInfo {
                name: meta.name.to_owned(),
                toolset: meta.toolset.name().to_owned(),
                read_only: meta.annotations().read_only_hint,
            }
        })
        .collect()
}

/// Sorted names of the registry's tools that pass `keep`: what a caller
/// with that selection must see.
pub fn expected_names(keep: impl Fn(&ToolInfo) -> bool) -> Vec<String> {
    let mut names: Vec<String> = registry_tools()
        .into_iter()
        .filter(|t| keep(t))
        .map(|t| t.name)
        .collect();
    names.sort();
    names
}

/// The tool surface spec (crates/bk-tools/tests/fixtures/tools.json):
/// parity and additions.
pub fn spec_tools() -> Vec<ToolInfo> {
    let path = format!(
        "{}/../bk-tools/tests/fixtures/tools.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("tools.json"))
        .expect("tools.json is JSON");
    ["parity", "additions"]
        .iter()
        .flat_map(|k| spec[*k].as_array().expect("a list").clone())
        .map(|t| ToolInfo {
            name: t["name"].as_str().expect("name").to_owned(),
            toolset: t["toolset"].as_str().expect("toolset").to_owned(),
            read_only: t["read_only"].as_bool().expect("read_only"),
        })
        .collect()
}

// ----------------------------------------------------------------- mock API

/// A fixture's text, from the REST client's realistic response fixtures.
pub fn fixture_text(name: &str) -> String {
    let path = format!(
        "{}/../buildkite-api/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// A fixture as JSON.
pub fn fixture(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).expect("fixture JSON")
}

/// A JSON response with a fixture as body.
pub fn json_fixture(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture_text(name), "application/json")
}

/// `METHOD path?query` of every request the API received, in order.
pub async fn requests(api: &MockServer) -> Vec<String> {
    api.received_requests()
        .await
        .expect("request recording")
        .iter()
        .map(|r| match r.url.query() {
            Some(query) => format!("{} {}?{}", r.method, r.url.path(), query),
            None => format!("{} {}", r.method, r.url.path()),
        })
        .collect()
}

/// Every `Authorization` value of every request the API received, one list
/// per request.
pub async fn authorizations(api: &MockServer) -> Vec<Vec<String>> {
    api.received_requests()
        .await
        .expect("request recording")
        .iter()
        .map(|r| {
            r.headers
                .get_all("authorization")
                .iter()
                .map(|v| v.to_str().expect("ASCII").to_owned())
                .collect()
        })
        .collect()
}

/// `Bearer <token>`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
