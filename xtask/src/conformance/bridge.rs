//! An HTTP front for `bk-mcp-stdio`: the suite only reaches servers by URL
//! (`conformance server --url`), so this is how it drives the stdio binary.
//!
//! The bridge is deliberately thin, so that what the suite checks is what
//! the stdio server wrote:
//!
//! - An `initialize` POST starts a new `bk-mcp-stdio` (one process is one
//!   stdio session) and is answered with an `Mcp-Session-Id`; later POSTs
//!   with that header go to that process, a `DELETE` with it stops it, and
//!   an unknown one gets 404. POSTs without the header (the 2026-07-28
//!   stateless requests) share one process, started on first use.
//! - A request is written to the process as one line with a bridge-wide id
//!   (concurrent clients may reuse ids); the answer gets the client's id
//!   back, exactly as sent (number or string). Whatever the server wrote
//!   before it for that request (progress by token; other notifications
//!   and server requests to the oldest request in flight) comes first, and
//!   then the answer is an SSE body of all of them; a lone answer is plain
//!   JSON. Nothing is streamed: a server request that needs the client's
//!   reply before the answer waits out [`ANSWER_TIMEOUT`] (no scenario that
//!   applies over stdio makes one).
//! - Notifications and the client's replies are written as they are and
//!   answered 202. A body that is not a JSON object gets the bridge's own
//!   400, GET the bridge's 405: those, HTTP status codes and headers are the
//!   bridge's, which is why scenarios about HTTP itself do not apply here.
//!
//! Every process's stderr goes to one log file; all are killed when the
//! [`Bridge`] is dropped.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::mpsc;

use super::command::scrub_env;

/// How long a request waits for the stdio server's answer.
pub(super) const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
const SESSION_HEADER: &str = "mcp-session-id";

/// How to start one stdio server: the program, its arguments and extra
/// environment (the servers' settings from the caller's shell are removed),
/// and the file its stderr is appended to.
#[derive(Debug, Clone)]
pub(super) struct Launch {
    pub(super) program: PathBuf,
    pub(super) args: Vec<String>,
    pub(super) env: Vec<(String, String)>,
    pub(super) log: PathBuf,
}

/// A running bridge on 127.0.0.1; dropping it stops it and every process
/// it started.
#[derive(Debug)]
pub(super) struct Bridge {
    /// `http://127.0.0.1:PORT/mcp`.
    pub(super) url: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Bridge {
    /// Starts the bridge on a free port, on a runtime of its own.
    pub(super) fn start(launch: Launch) -> Result<Bridge, String> {
        let log = File::create(&launch.log)
            .map_err(|e| format!("bridge: {}: {e}", launch.log.display()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("bridge: {e}"))?;
        let shared = Arc::new(Shared {
            launch,
            log,
            sessions: Mutex::default(),
            stateless: tokio::sync::Mutex::default(),
            next_session: AtomicU64::new(1),
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| format!("bridge: cannot listen on 127.0.0.1: {e}"))?;
        let address = listener.local_addr().map_err(|e| format!("bridge: {e}"))?;
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        runtime.spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("bridge: {error}");
            }
        });
        Ok(Bridge {
            url: format!("http://{address}/mcp"),
            shared,
            runtime: Some(runtime),
        })
    }

    /// How many stdio processes it has started so far.
    pub(super) fn started(&self) -> u64 {
        self.shared.next_session.load(Ordering::Relaxed) - 1
            + u64::from(self.shared.stateless.try_lock().is_ok_and(|s| s.is_some()))
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        runtime.block_on(async move {
            let mut servers: Vec<Arc<Server>> =
                lock(&shared.sessions).drain().map(|(_, s)| s).collect();
            servers.extend(shared.stateless.lock().await.take());
            for server in servers {
                server.stop().await;
            }
        });
        runtime.shutdown_timeout(Duration::from_secs(2));
    }
}

#[derive(Debug)]
struct Shared {
    launch: Launch,
    log: File,
    /// Processes by session id.
    sessions: Mutex<HashMap<String, Arc<Server>>>,
    /// The process for requests without a session.
    stateless: tokio::sync::Mutex<Option<Arc<Server>>>,
    next_session: AtomicU64,
}

/// One stdio server process.
#[derive(Debug)]
struct Server {
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    child: tokio::sync::Mutex<Child>,
    routes: Arc<Mutex<Routes>>,
    next_id: AtomicU64,
}

/// Where the server's messages go.
#[derive(Debug, Default)]
struct Routes {
    /// Requests in flight by the id the server got: the client's id, and
    /// the channel to the waiting POST (with whether a message is its answer).
    pending: BTreeMap<u64, (Value, mpsc::UnboundedSender<(Value, bool)>)>,
    /// Progress tokens (as JSON text) of requests in flight.
    progress: HashMap<String, u64>,
}

impl Server {
    fn spawn(shared: &Shared) -> Result<Arc<Server>, String> {
        let launch = &shared.launch;
        let mut command = std::process::Command::new(&launch.program);
        scrub_env(&mut command);
        let stderr = shared.log.try_clone().map_err(|e| e.to_string())?;
        command
            .args(&launch.args)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut command = tokio::process::Command::from(command);
        command.kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", launch.program.display()))?;
        let stdin = child.stdin.take().ok_or("stdin is not piped")?;
        let stdout = child.stdout.take().ok_or("stdout is not piped")?;
        let routes = Arc::new(Mutex::new(Routes::default()));
        tokio::spawn(read_answers(stdout, Arc::clone(&routes)));
        Ok(Arc::new(Server {
            stdin: tokio::sync::Mutex::new(Some(stdin)),
            child: tokio::sync::Mutex::new(child),
            routes,
            next_id: AtomicU64::new(1),
        }))
    }

    async fn write(&self, message: &Value) -> Result<(), String> {
        let mut line = message.to_string();
        line.push('\n');
        let mut stdin = self.stdin.lock().await;
        let stdin = stdin.as_mut().ok_or("the stdio server was stopped")?;
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("cannot write to the stdio server: {e}"))?;
        stdin
            .flush()
            .await
            .map_err(|e| format!("cannot write to the stdio server: {e}"))
    }

    /// Closes stdin (the server's cue to exit), then kills it if it is
    /// still running a second later.
    async fn stop(&self) {
        drop(self.stdin.lock().await.take());
        let mut child = self.child.lock().await;
        if tokio::time::timeout(Duration::from_secs(1), child.wait())
            .await
            .is_err()
        {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Sends a request and collects what the server writes for it, up to
    /// and including its answer (`None` on a timeout or a closed server).
    async fn request(&self, mut message: Value) -> Result<(Vec<Value>, bool), String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, mut receiver) = mpsc::unbounded_channel();
        {
            let mut routes = lock(&self.routes);
            routes.pending.insert(id, (message["id"].take(), sender));
            if let Some(token) = message.pointer("/params/_meta/progressToken") {
                routes.progress.insert(token.to_string(), id);
            }
        }
        message["id"] = json!(id);
        if let Err(error) = self.write(&message).await {
            forget(&self.routes, id);
            return Err(error);
        }
        let mut messages = Vec::new();
        let answered = tokio::time::timeout(ANSWER_TIMEOUT, async {
            while let Some((message, last)) = receiver.recv().await {
                messages.push(message);
                if last {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        forget(&self.routes, id);
        Ok((messages, answered))
    }
}

/// Drops a request's routes.
fn forget(routes: &Mutex<Routes>, id: u64) {
    let mut routes = lock(routes);
    routes.pending.remove(&id);
    routes.progress.retain(|_, pending| *pending != id);
}

/// Reads the server's stdout line by line and routes each message; at the
/// end, every waiting request learns the server is gone.
async fn read_answers(stdout: ChildStdout, routes: Arc<Mutex<Routes>>) {
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Ok(message) = serde_json::from_str::<Value>(&line) {
            route(&routes, message);
        }
    }
    lock(&routes).pending.clear();
}

/// Sends one message from the server to the request it belongs to: an
/// answer by its id (with the client's id put back; one with a null id,
/// a parse error, answers the oldest request), progress by its token, anything
/// else to the oldest request in flight. With no request in flight it is
/// dropped: the bridge has no stream for unrelated messages.
fn route(routes: &Mutex<Routes>, mut message: Value) {
    let mut routes = lock(routes);
    let is_answer = message.get("method").is_none()
        && (message.get("result").is_some() || message.get("error").is_some());
    if is_answer {
        let id = match message.get("id") {
            Some(Value::Null) => routes.pending.keys().next().copied(),
            Some(id) => id.as_u64().filter(|id| routes.pending.contains_key(id)),
            None => None,
        };
        if let Some((original, sender)) = id.and_then(|id| routes.pending.remove(&id)) {
            if !message["id"].is_null() {
                message["id"] = original;
            }
            let _ = sender.send((message, true));
        }
        return;
    }
    let by_token = message
        .pointer("/params/progressToken")
        .and_then(|token| routes.progress.get(&token.to_string()).copied());
    let id = by_token.or_else(|| routes.pending.keys().next().copied());
    if let Some((_, sender)) = id.and_then(|id| routes.pending.get(&id)) {
        let _ = sender.send((message, false));
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match method {
        Method::POST => post(&shared, session, &body).await,
        Method::DELETE => {
            let Some(session) = session else {
                return reply(
                    StatusCode::BAD_REQUEST,
                    "text/plain",
                    "no Mcp-Session-Id".into(),
                );
            };
            let server = lock(&shared.sessions).remove(&session);
            match server {
                Some(server) => {
                    server.stop().await;
                    reply(StatusCode::OK, "text/plain", String::new())
                }
                None => reply(
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    "no such session".into(),
                ),
            }
        }
        _ => {
            let mut response = reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "the stdio bridge takes POST and DELETE".into(),
            );
            if let Ok(allow) = "POST, DELETE".parse() {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            response
        }
    }
}

async fn post(shared: &Shared, session: Option<String>, body: &[u8]) -> Response {
    let message = match serde_json::from_slice::<Value>(body) {
        Ok(message @ Value::Object(_)) => message,
        _ => {
            let error = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "the stdio bridge takes one JSON-RPC message, a JSON object"}});
            return reply(
                StatusCode::BAD_REQUEST,
                "application/json",
                error.to_string(),
            );
        }
    };
    let mut new_session = None;
    let server = if let Some(session) = &session {
        let server = lock(&shared.sessions).get(session).cloned();
        match server {
            Some(server) => server,
            None => {
                let error = json!({"jsonrpc": "2.0", "id": message.get("id").cloned().unwrap_or(Value::Null), "error": {"code": -32001, "message": "session not found"}});
                return reply(StatusCode::NOT_FOUND, "application/json", error.to_string());
            }
        }
    } else if message["method"] == "initialize" {
        let server = match Server::spawn(shared) {
            Ok(server) => server,
            Err(error) => return bridge_error(&message, &error),
        };
        let id = shared
            .next_session
            .fetch_add(1, Ordering::Relaxed)
            .to_string();
        lock(&shared.sessions).insert(id.clone(), Arc::clone(&server));
        new_session = Some(id);
        server
    } else {
        let mut stateless = shared.stateless.lock().await;
        if let Some(server) = stateless.as_ref() {
            Arc::clone(server)
        } else {
            let server = match Server::spawn(shared) {
                Ok(server) => server,
                Err(error) => return bridge_error(&message, &error),
            };
            *stateless = Some(Arc::clone(&server));
            server
        }
    };

    let is_request =
        message.get("method").is_some() && message.get("id").is_some_and(|id| !id.is_null());
    if !is_request {
        return match server.write(&message).await {
            Ok(()) => reply(StatusCode::ACCEPTED, "text/plain", String::new()),
            Err(error) => bridge_error(&message, &error),
        };
    }
    let original = message["id"].clone();
    let (messages, answered) = match server.request(message).await {
        Ok(done) => done,
        Err(error) => return bridge_error(&json!({"id": original}), &error),
    };
    if !answered {
        let error = format!(
            "the stdio server did not answer within {} s (or exited)",
            ANSWER_TIMEOUT.as_secs()
        );
        return bridge_error(&json!({"id": original}), &error);
    }
    let mut response = if let [only] = messages.as_slice() {
        reply(StatusCode::OK, "application/json", only.to_string())
    } else {
        let events: String = messages
            .iter()
            .map(|m| format!("event: message\ndata: {m}\n\n"))
            .collect();
        reply(StatusCode::OK, "text/event-stream", events)
    };
    if let Some(id) = new_session.and_then(|id| id.parse().ok()) {
        response.headers_mut().insert(SESSION_HEADER, id);
    }
    response
}

/// The bridge's own 502, as a JSON-RPC error for the request's id.
fn bridge_error(message: &Value, error: &str) -> Response {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32603, "message": format!("stdio bridge: {error}")}});
    reply(
        StatusCode::BAD_GATEWAY,
        "application/json",
        body.to_string(),
    )
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stdio "server" that answers every request line with a result
    /// (sed turns `"method":"…"` into `"result":{}`), ignores
    /// notifications, and first writes a progress notification for `slow`.
    fn echo_bridge(dir: &std::path::Path) -> Bridge {
        let script = r#"while IFS= read -r line; do
  case "$line" in
    *'"method":"slow"'*) printf '%s\n' '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t1","progress":1}}' ;;
  esac
  case "$line" in
    *'"id"'*) printf '%s\n' "$line" | sed -e 's/"method":"[^"]*"/"result":{}/' ;;
  esac
done"#;
        Bridge::start(Launch {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: Vec::new(),
            log: dir.join("bridge.log"),
        })
        .unwrap()
    }

    #[test]
    fn bridges_requests_sessions_and_notifications() {
        let dir = tempfile::tempdir().unwrap();
        let bridge = echo_bridge(dir.path());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = bridge.url.clone();
        runtime.block_on(async move {
            let http = reqwest::Client::new();
            let post = |body: Value, session: Option<String>| {
                let mut request = http.post(&url).body(body.to_string());
                if let Some(session) = session {
                    request = request.header(SESSION_HEADER, session);
                }
                request.send()
            };

            // A string id comes back as sent, from the stateless process.
            let answer = post(json!({"jsonrpc": "2.0", "id": "a-1", "method": "ping"}), None)
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            assert!(answer.headers().get(SESSION_HEADER).is_none());
            let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
            assert_eq!(body, json!({"jsonrpc": "2.0", "id": "a-1", "result": {}}));

            // initialize starts a session; its requests keep their ids.
            let answer = post(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize"}), None)
                .await
                .unwrap();
            let session = answer.headers()[SESSION_HEADER].to_str().unwrap().to_owned();
            let body: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
            assert_eq!(body["id"], 0);
            let note = post(
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                Some(session.clone()),
            )
            .await
            .unwrap();
            assert_eq!(note.status(), 202);

            // Progress for a request comes before its answer, as SSE.
            let answer = post(
                json!({"jsonrpc": "2.0", "id": 7, "method": "slow", "params": {"_meta": {"progressToken": "t1"}}}),
                Some(session.clone()),
            )
            .await
            .unwrap();
            assert_eq!(answer.headers()[header::CONTENT_TYPE], "text/event-stream");
            let text = answer.text().await.unwrap();
            let events: Vec<Value> = text
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(events.len(), 2, "{text}");
            assert_eq!(events[0]["method"], "notifications/progress");
            assert_eq!(events[1]["id"], 7);

            // DELETE ends the session; then it is unknown.
            let deleted = http
                .delete(&url)
                .header(SESSION_HEADER, &session)
                .send()
                .await
                .unwrap();
            assert_eq!(deleted.status(), 200);
            let gone = post(json!({"jsonrpc": "2.0", "id": 8, "method": "ping"}), Some(session))
                .await
                .unwrap();
            assert_eq!(gone.status(), 404);

            let bad = http.post(&url).body("[1]").send().await.unwrap();
            assert_eq!(bad.status(), 400);
            assert_eq!(http.get(&url).send().await.unwrap().status(), 405);
        });
        assert_eq!(bridge.started(), 2);
    }
}
