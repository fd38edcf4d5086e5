//! A minimal MCP client over a child process's stdin and stdout
//! (newline-delimited JSON-RPC), enough to play a scripted session.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::server_process::Guard;

/// Longest wait for any one response.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);

/// A running stdio server and the pipe to it.
#[derive(Debug)]
pub struct StdioClient {
    _child: Guard,
    stdin: ChildStdin,
    messages: mpsc::Receiver<Value>,
    next_id: u64,
}

impl StdioClient {
    /// Starts `command` with piped stdin/stdout (stderr is inherited so the
    /// server's own log shows when something goes wrong).
    pub fn start(mut command: Command) -> Result<Self, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start the server: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin pipe")?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(message) => {
                        if sender.send(message).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("(not JSON-RPC on stdout: {line})"),
                }
            }
        });
        Ok(StdioClient {
            _child: Guard(child),
            stdin,
            messages,
            next_id: 1,
        })
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) -> Result<(), String> {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
    }

    /// Sends a request and waits for its response, passing every
    /// notification that arrives meanwhile to `on_notification`. Returns the
    /// `result`, or the JSON-RPC error as text.
    pub fn request(
        &mut self,
        method: &str,
        params: Value,
        mut on_notification: impl FnMut(&Value),
    ) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            let message = self
                .messages
                .recv_timeout(RESPONSE_TIMEOUT)
                .map_err(|_| format!("{method}: no response from the server"))?;
            if message.get("id") == Some(&json!(id)) {
                if let Some(error) = message.get("error") {
                    return Err(format!("{method}: JSON-RPC error {error}"));
                }
                return Ok(message.get("result").cloned().unwrap_or(Value::Null));
            }
            if message.get("method").is_some() && message.get("id").is_none() {
                on_notification(&message);
            }
        }
    }

    fn send(&mut self, message: &Value) -> Result<(), String> {
        let mut line = message.to_string();
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("the server closed its input: {e}"))
    }
}
