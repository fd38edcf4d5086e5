//! Runs `bk-mcp-http` behind a reverse proxy that authenticates its own
//! users and passes each one's Buildkite token through.
//!
//! ```sh
//! # 1. The MCP server, with no token of its own: every request brings one.
//! cargo run -p bk-mcp-http -- --listen 127.0.0.1:3000 --passthrough-http-header Authorization
//!
//! # 2. The proxy, with a JSON list of users (see examples/README.md).
//! cargo run --example reverse_proxy -- --users users.json \
//!     --listen 127.0.0.1:8080 --upstream http://127.0.0.1:3000
//!
//! # 3. A user's MCP client talks to the proxy with their key.
//! curl -s http://127.0.0.1:8080/mcp -H 'X-Api-Key: alice-…' \
//!     -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
//!     -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"current_user","arguments":{}}}'
//! ```
//!
//! Users come from `--users FILE`, or `BK_PROXY_USERS_FILE`, or the JSON
//! itself in `BK_PROXY_USERS`: `[{"name": "alice", "api_key": "…",
//! "buildkite_token": "bkua_…", "read_only": false}, …]`.

use std::future::IntoFuture;
use std::process::ExitCode;

use bk_examples::proxy::{self, ProxyConfig, Users};

const USAGE: &str = "usage: reverse_proxy [--users FILE] [--listen ADDR] [--upstream URL]
  --users FILE     users as JSON (or BK_PROXY_USERS_FILE, or the JSON in BK_PROXY_USERS)
  --listen ADDR    where the proxy listens (default 127.0.0.1:8080, or BK_PROXY_LISTEN)
  --upstream URL   bk-mcp-http's origin (default http://127.0.0.1:3000, or BK_PROXY_UPSTREAM)";

/// What the command line and environment asked for.
#[derive(Debug)]
struct Options {
    users: Users,
    listen: String,
    upstream: String,
}

fn parse_args() -> Result<Options, String> {
    let mut users_file = std::env::var("BK_PROXY_USERS_FILE").ok();
    let mut listen =
        std::env::var("BK_PROXY_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let mut upstream =
        std::env::var("BK_PROXY_UPSTREAM").unwrap_or_else(|_| "http://127.0.0.1:3000".to_owned());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--users" => users_file = Some(value("--users")?),
            "--listen" => listen = value("--listen")?,
            "--upstream" => upstream = value("--upstream")?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let json = match users_file.filter(|path| !path.trim().is_empty()) {
        Some(path) => std::fs::read_to_string(&path).map_err(|e| format!("--users {path}: {e}"))?,
        None => std::env::var("BK_PROXY_USERS").map_err(
            |_| "no users: pass --users FILE (or set BK_PROXY_USERS_FILE or BK_PROXY_USERS)",
        )?,
    };
    Ok(Options {
        users: Users::from_json(&json)?,
        listen,
        upstream,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let user_count = options.users.len();
    let mut config = ProxyConfig::new(options.upstream.clone(), options.users);
    config.log_requests = true;
    let router = match proxy::router(config) {
        Ok(router) => router,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", options.listen);
            return ExitCode::FAILURE;
        }
    };
    let address = listener
        .local_addr()
        .map_or(options.listen.clone(), |a| a.to_string());
    eprintln!(
        "proxying http://{address}/mcp to {} for {user_count} user(s); Ctrl-C stops",
        options.upstream
    );
    // Ctrl-C stops at once: an open event stream would hold a graceful
    // shutdown forever.
    tokio::select! {
        served = axum::serve(listener, router).into_future() => match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        },
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
    }
}
