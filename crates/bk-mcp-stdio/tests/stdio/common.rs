//! Shared set-up for the end-to-end tests: start the real `bk-mcp-stdio`
//! binary as a child process speaking MCP over stdio, pointed at a wiremock
//! Buildkite API and a temporary log cache, with its stderr captured.
//!
//! Every await that talks to the child is bounded ([`within`]), so a hang
//! fails in seconds with what was being awaited and the child's stderr.

use std::future::Future;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::task::JoinHandle;
use wiremock::matchers::header;
use wiremock::{MockServer, ResponseTemplate};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_bk-mcp-stdio");

/// The token the server is started with (unless a test says otherwise).
pub const TOKEN: &str = "bkua_e2eStdioToken0123456789abcdefghij";

/// Longest any single step (start, one request, shutdown) may take.
pub const STEP: Duration = Duration::from_secs(20);

/// Awaits `future` for at most [`STEP`], panicking with `what` otherwise.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    within_for(STEP, what, future).await
}

/// Awaits `future` for at most `limit`, panicking with `what` otherwise.
pub async fn within_for<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?}: {what}"),
    }
}

/// How to start the server: arguments, environment, token.
#[derive(Debug, Clone)]
pub struct Launch {
    args: Vec<String>,
    env: Vec<(String, String)>,
    token: Option<String>,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            args: Vec::new(),
            env: Vec::new(),
            token: Some(TOKEN.to_owned()),
        }
    }
}

impl Launch {
    /// The default launch: the test token, every toolset.
    pub fn new() -> Self {
        Launch::default()
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

    /// Starts without any token.
    pub fn no_token(mut self) -> Self {
        self.token = None;
        self
    }

    /// Starts with this token (in `BUILDKITE_API_TOKEN`).
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Starts the server against `api` with a no-op client handler.
    pub async fn start(self, api: &MockServer) -> Server<()> {
        self.start_with(api, ()).await
    }

    /// Starts the server against `api`, with `handler` as the MCP client.
    pub async fn start_with<H: ClientHandler>(self, api: &MockServer, handler: H) -> Server<H> {
        let cache = tempfile::tempdir().unwrap();
        let command = tokio::process::Command::new(BIN).configure(|c| {
            // Nothing from the developer's environment leaks in.
            c.env_clear();
            // Tests count requests: the token's scopes are read at start only
            // where a test asks for it (BK_MCP_LIST_ALL_TOOLS=false).
            c.env("BK_MCP_LIST_ALL_TOOLS", "true");
            c.args(&self.args);
            c.env("BUILDKITE_BASE_URL", api.uri());
            c.env("BKLOG_CACHE_URL", cache.path());
            c.env("HOME", cache.path());
            if let Some(token) = &self.token {
                c.env("BUILDKITE_API_TOKEN", token);
            }
            for (name, value) in &self.env {
                c.env(name, value);
            }
        });
        let (transport, stderr) = TokioChildProcess::builder(command)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr_task = {
            let log = Arc::clone(&log);
            let mut stderr = stderr.expect("stderr is piped");
            tokio::spawn(async move {
                let mut chunk = vec![0_u8; 8192];
                loop {
                    match stderr.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => log
                            .lock()
                            .unwrap()
                            .push_str(&String::from_utf8_lossy(&chunk[..n])),
                    }
                }
            })
        };
        let client = match within("the MCP handshake", handler.serve(transport)).await {
            Ok(client) => client,
            Err(error) => {
                // Give the child a moment to write why it stopped.
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "the server did not start: {error}\nstderr:\n{}",
                    log.lock().unwrap()
                )
            }
        };
        Server {
            client,
            log,
            stderr_task,
            _cache: cache,
        }
    }
}

/// A running server and the MCP client connected to it.
pub struct Server<H: ClientHandler = ()> {
    /// The MCP client (derefs to its `Peer`).
    pub client: RunningService<RoleClient, H>,
    log: Arc<Mutex<String>>,
    stderr_task: JoinHandle<()>,
    _cache: tempfile::TempDir,
}

impl<H: ClientHandler> std::fmt::Debug for Server<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl<H: ClientHandler> Server<H> {
    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The tools as they went over the wire (camelCase JSON).
    pub async fn tools(&self) -> Vec<Value> {
        let tools = within("tools/list", self.client.list_all_tools())
            .await
            .unwrap_or_else(|e| panic!("tools/list failed: {e}\nstderr:\n{}", self.stderr()));
        tools
            .iter()
            .map(|t| serde_json::to_value(t).unwrap())
            .collect()
    }

    /// The names of the listed tools, in order.
    pub async fn tool_names(&self) -> Vec<String> {
        self.tools()
            .await
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Calls a tool; a JSON-RPC error comes back as `Err`.
    pub async fn try_call(
        &self,
        name: &str,
        args: Value,
    ) -> Result<CallToolResult, rmcp::ServiceError> {
        let Value::Object(args) = args else {
            panic!("arguments must be an object: {args}")
        };
        let params = CallToolRequestParams::new(name.to_owned()).with_arguments(args);
        within(&format!("tools/call {name}"), self.client.call_tool(params)).await
    }

    /// Calls a tool that must answer a result (not a JSON-RPC error), and
    /// returns it with its single text content.
    pub async fn call(&self, name: &str, args: Value) -> (CallToolResult, String) {
        let result = self
            .try_call(name, args)
            .await
            .unwrap_or_else(|e| panic!("{name}: JSON-RPC error {e}\nstderr:\n{}", self.stderr()));
        // One text block, then any links to content not inlined.
        assert!(!result.content.is_empty(), "{name}: {result:?}");
        assert!(
            result.content[1..]
                .iter()
                .all(|block| block.as_resource_link().is_some()),
            "{name}: {result:?}"
        );
        // Results are text only: no structuredContent (ARCHITECTURE.md).
        assert!(
            result.structured_content.is_none(),
            "{name}: structuredContent {result:?}"
        );
        let text = result.content[0]
            .as_text()
            .unwrap_or_else(|| panic!("{name}: not text: {result:?}"))
            .text
            .clone();
        (result, text)
    }

    /// Calls a tool that must succeed, and parses its JSON result.
    pub async fn ok(&self, name: &str, args: Value) -> Value {
        let (result, text) = self.call(name, args).await;
        assert_eq!(result.is_error, Some(false), "{name} failed: {text}");
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{name} did not return JSON ({e}): {text}"))
    }

    /// Calls a tool that must fail with an error result, and returns its text.
    pub async fn err(&self, name: &str, args: Value) -> String {
        let (result, text) = self.call(name, args).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "{name} should have failed: {text}"
        );
        assert!(!text.trim().is_empty(), "{name}: empty error text");
        text
    }

    /// Closes stdin, waits for the server to exit, and returns everything it
    /// wrote to stderr.
    pub async fn shutdown(self) -> String {
        let Server {
            client,
            log,
            stderr_task,
            _cache,
        } = self;
        within("closing the client", client.cancel()).await.unwrap();
        within("the end of the server's stderr", stderr_task)
            .await
            .unwrap();
        log.lock().unwrap().clone()
    }
}

/// `METHOD path?query` of every request the API received, in order.
pub async fn requests(api: &MockServer) -> Vec<String> {
    api.received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| match r.url.query() {
            Some(query) => format!("{} {}?{}", r.method, r.url.path(), query),
            None => format!("{} {}", r.method, r.url.path()),
        })
        .collect()
}

/// Checks that every request the API received carried exactly one
/// `Authorization: Bearer <token>` header and our user agent.
pub async fn assert_all_sent_token(api: &MockServer, token: &str) {
    let received = api.received_requests().await.unwrap();
    assert!(!received.is_empty(), "no request reached the API");
    for request in &received {
        let auth: Vec<_> = request.headers.get_all("authorization").iter().collect();
        assert_eq!(
            auth,
            [format!("Bearer {token}").as_str()],
            "{} {}",
            request.method,
            request.url
        );
        let agent = request
            .headers
            .get("user-agent")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert!(
            agent.starts_with(&format!("bk-mcp/{} (", env!("CARGO_PKG_VERSION"))),
            "user agent {agent:?}"
        );
    }
}

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
    serde_json::from_str(&fixture_text(name)).unwrap()
}

/// A JSON response with a fixture as body.
pub fn json_response(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture_text(name), "application/json")
}

/// Matches requests carrying the test token.
pub fn authorized() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {TOKEN}").as_str())
}

/// One tool of the spec (crates/bk-tools/tests/fixtures/tools.json).
#[derive(Debug, Clone)]
pub struct SpecTool {
    pub name: String,
    pub toolset: String,
    pub read_only: bool,
    pub destructive: bool,
}

/// The tools of the spec that exist (all but those of NOT_WRITTEN_YET).
/// In spec order.
pub fn spec_tools() -> Vec<SpecTool> {
    spec_entries()
        .into_iter()
        .filter(|t| !NOT_WRITTEN_YET.contains(&t.name.as_str()))
        .collect()
}

/// Tools the spec lists that the investigations issue has not delivered yet.
pub const NOT_WRITTEN_YET: &[&str] = &[];

/// Every tool the spec describes, including those not written yet.
pub fn spec_entries() -> Vec<SpecTool> {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../bk-tools/tests/fixtures/tools.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    ["parity", "additions"]
        .iter()
        .flat_map(|k| spec[*k].as_array().unwrap().iter())
        .map(|t| SpecTool {
            name: t["name"].as_str().unwrap().to_owned(),
            toolset: t["toolset"].as_str().unwrap().to_owned(),
            read_only: t["read_only"].as_bool().unwrap(),
            destructive: t["destructive"].as_bool().unwrap(),
        })
        .collect()
}

/// How many tools the registry has (every one is listed by default).
pub fn all_tool_count() -> usize {
    bk_tools::Registry::new().all_tools().len()
}

/// How many of them change nothing (listed in read-only mode).
pub fn read_only_tool_count() -> usize {
    bk_tools::Registry::new()
        .all_tools()
        .iter()
        .filter(|t| t.meta().access == bk_tools::Access::Read)
        .count()
}
