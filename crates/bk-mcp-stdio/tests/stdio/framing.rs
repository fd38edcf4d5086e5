//! Raw lines a hostile or broken client may send over stdio: each gets the
//! JSON-RPC answer it needs, and the process keeps serving.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};
use wiremock::MockServer;

use crate::common::{self, TOKEN, within};

/// The server over raw pipes, after `initialize`.
struct Raw {
    _child: tokio::process::Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    _cache: tempfile::TempDir,
}

impl Raw {
    async fn start(api: &MockServer) -> Self {
        let cache = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(common::BIN)
            .env_clear()
            .env("BK_MCP_LIST_ALL_TOOLS", "true")
            .env("HOME", cache.path())
            .env("BKLOG_CACHE_URL", cache.path())
            .env("BUILDKITE_BASE_URL", api.uri())
            .env("BUILDKITE_API_TOKEN", TOKEN)
            .arg("stdio")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut raw = Raw {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
            _child: child,
            _cache: cache,
        };
        let init = raw
            .ask(
                json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "0"}}})
                .to_string()
                .as_bytes(),
            )
            .await;
        assert_eq!(init["id"], 0, "{init}");
        raw.send(br#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#)
            .await;
        raw
    }

    async fn send(&mut self, line: &[u8]) {
        self.stdin.write_all(line).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Sends one line and reads the next answer.
    async fn ask(&mut self, line: &[u8]) -> Value {
        self.send(line).await;
        let answer = within("an answer line", self.stdout.next_line())
            .await
            .unwrap()
            .expect("an answer, not the end of stdout");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"))
    }

    /// Checks the server still answers a normal request.
    async fn still_serves(&mut self, id: u64) {
        let pong = self
            .ask(format!(r#"{{"jsonrpc": "2.0", "id": {id}, "method": "ping"}}"#).as_bytes())
            .await;
        assert_eq!(pong["id"], id, "{pong}");
        assert!(pong["result"].is_object(), "{pong}");
    }
}

fn assert_error(answer: &Value, code: i64, id: Value) {
    assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
    assert_eq!(answer["error"]["code"], code, "{answer}");
    assert_eq!(answer["id"], id, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.trim().is_empty(), "{answer}");
}

#[tokio::test]
async fn a_line_that_is_not_json_gets_a_parse_error_and_the_server_goes_on() {
    let api = MockServer::start().await;
    let mut raw = Raw::start(&api).await;
    let answer = raw.ask(br#"{"jsonrpc": "2.0", "id": 1, "method": "#).await;
    assert_error(&answer, -32700, Value::Null);
    raw.still_serves(2).await;
}

#[tokio::test]
async fn a_line_with_invalid_utf8_gets_a_parse_error_and_the_server_goes_on() {
    let api = MockServer::start().await;
    let mut raw = Raw::start(&api).await;
    let answer = raw
        .ask(b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"p\xffing\"}")
        .await;
    assert_error(&answer, -32700, Value::Null);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("UTF-8"),
        "{answer}"
    );
    raw.still_serves(2).await;
}

#[tokio::test]
async fn tool_arguments_given_as_a_string_are_invalid_params() {
    let api = MockServer::start().await;
    let mut raw = Raw::start(&api).await;
    let answer = raw
        .ask(
            json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                "params": {"name": "get_build", "arguments": "{\"org_slug\": \"acme\"}"}})
            .to_string()
            .as_bytes(),
        )
        .await;
    assert_error(&answer, -32602, json!(5));
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("tools/call"), "{message}");
    raw.still_serves(6).await;
    // No request reached the API.
    assert!(common::requests(&api).await.is_empty());
}

#[tokio::test]
async fn a_message_without_a_method_gets_invalid_request_with_its_id() {
    let api = MockServer::start().await;
    let mut raw = Raw::start(&api).await;
    let answer = raw
        .ask(br#"{"jsonrpc": "2.0", "id": "abc", "params": {}}"#)
        .await;
    assert_error(&answer, -32600, json!("abc"));
    let answer = raw
        .ask(br#"[{"jsonrpc": "2.0", "id": 9, "method": "ping"}]"#)
        .await;
    assert_error(&answer, -32600, Value::Null);
    raw.still_serves(10).await;
}
