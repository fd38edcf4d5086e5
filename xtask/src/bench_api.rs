//! `cargo xtask bench-api [--http-bin PATH] [--agents N,…]`: what each tool
//! costs in Buildkite API requests, on the demo organisation's red build
//! `acme/web#1234`, and what an organization's budget of 200 requests a
//! minute buys a team.
//!
//! The server runs against the fake API serving the demo's tree through a
//! counting proxy on 127.0.0.1 (the proxy is this file's):
//!
//! 1. Per tool, on a fresh server: the requests of a cold call, then of the
//!    same call again (warm), then again once the read cache's TTL is over
//!    (later: the TTL is cut to 2 s here; a finished build's settled reads
//!    and the log access checks still hold, as they do for a minute).
//! 2. N agents at once, each with its own token (passed through), run
//!    investigations (`get_build_failure_summary` then
//!    `triage_build_failures`) back to back, each investigation as a new
//!    caller (so each pays its own requests: the read cache, per caller,
//!    helps only within one investigation, and the build's logs, once on
//!    disk, cost each new caller an access check), while the proxy enforces a
//!    budget of 200 requests per minute with the real `RateLimit-*` headers
//!    and answers 429 past it. The budget's window is cut to 6 s (20
//!    requests per window: the same rate), so a run takes seconds. It
//!    reports complete investigations per minute and the 429s.
//!
//! `--http-bin` measures another build of `bk-mcp-http` (an older commit's,
//! for a before/after comparison) with the same calls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::fake_api::{Accept, Data, FakeApi, Setup};
use crate::server_process::ServerProcess;

/// The demo's red build.
const BUILD: (&str, &str, &str) = ("acme", "web", "1234");
/// The budget's window: a tenth of the real one, with a tenth of its requests.
const WINDOW: Duration = Duration::from_secs(6);
/// Requests per window: 200 a minute.
const LIMIT: u64 = 20;
/// How many windows each budget run starts investigations in.
const WINDOWS: u32 = 5;

struct Options {
    http_bin: Option<PathBuf>,
    agents: Vec<usize>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            http_bin: None,
            agents: vec![1, 3, 5],
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--http-bin" => {
                    options.http_bin =
                        Some(PathBuf::from(args.next().ok_or("--http-bin needs a path")?));
                }
                "--agents" => {
                    let list = args.next().ok_or("--agents needs a list, e.g. 1,3,5")?;
                    options.agents = list
                        .split(',')
                        .map(|n| {
                            n.trim()
                                .parse::<usize>()
                                .map_err(|e| format!("--agents {n:?}: {e}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                other => return Err(format!("bench-api: unknown argument {other:?}")),
            }
        }
        Ok(options)
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let binary = match &options.http_bin {
        Some(bin) => bin.clone(),
        None => build_http_binary()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    runtime.block_on(bench(&binary, &options))
}

/// `cargo build -p bk-mcp-http` (debug: requests are counted, not timed).
fn build_http_binary() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = crate::workspace_root();
    eprintln!("==> cargo build -p bk-mcp-http");
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "-p", "bk-mcp-http"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("the build failed ({status})"));
    }
    Ok(crate::target_dir(&cargo, &root)?
        .join("debug")
        .join("bk-mcp-http"))
}

/// One tool call of the benchmark.
struct ToolCall {
    name: &'static str,
    arguments: Value,
}

fn calls(job: &str) -> Vec<ToolCall> {
    let (org, pipeline, number) = BUILD;
    let build = json!({"org_slug": org, "pipeline_slug": pipeline, "build_number": number});
    let with = |extra: Value| {
        let mut arguments = build.clone();
        if let (Some(target), Some(extra)) = (arguments.as_object_mut(), extra.as_object()) {
            target.extend(extra.clone());
        }
        arguments
    };
    vec![
        ToolCall {
            name: "get_build_failure_summary",
            arguments: build.clone(),
        },
        ToolCall {
            name: "triage_build_failures",
            arguments: build.clone(),
        },
        ToolCall {
            name: "compare_builds",
            arguments: build.clone(),
        },
        ToolCall {
            name: "tail_logs",
            arguments: with(json!({"job_id": job, "tail": 20})),
        },
        ToolCall {
            name: "search_logs",
            arguments: with(json!({"job_id": job, "pattern": "Error"})),
        },
        ToolCall {
            name: "read_logs",
            arguments: with(json!({"job_id": job, "limit": 50})),
        },
        ToolCall {
            name: "get_build",
            arguments: build.clone(),
        },
        ToolCall {
            name: "list_annotations",
            arguments: build,
        },
    ]
}

async fn bench(binary: &Path, options: &Options) -> Result<(), String> {
    let tree = crate::workspace_root().join("examples/demo/org");
    let api = FakeApi::start(Setup {
        data: Data::tree(&tree)?,
        accept: Accept::AnyBearer,
        record: false,
        delay: Duration::ZERO,
        faults: None,
    })
    .await?;
    let proxy = CountingProxy::start(api.url.clone()).await?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;

    // A failed job of the red build with a log, for the log tools.
    let server = start_server(binary, &proxy.url, &scratch.path().join("probe"))?;
    let summary = call(
        &client,
        &server.url,
        "bkua_bench_probe",
        "get_build_failure_summary",
        &calls("")[0].arguments,
    )
    .await?;
    let job = summary["jobs"]
        .as_array()
        .and_then(|jobs| {
            jobs.iter().find(|j| {
                j.get("log").is_some() || j.get("digest").is_some() || j.get("error_line").is_some()
            })
        })
        .or_else(|| summary["jobs"].as_array().and_then(|jobs| jobs.first()))
        .and_then(|j| j["id"].as_str())
        .ok_or("the demo build's failure summary lists no job")?
        .to_owned();
    drop(server);

    println!();
    println!(
        "bench-api: {} on the demo build {}/{}#{}",
        binary.display(),
        BUILD.0,
        BUILD.1,
        BUILD.2
    );
    println!();
    println!(
        "{:<28} {:>6} {:>6} {:>6}   cold requests",
        "tool", "cold", "warm", "later"
    );
    for (index, tool) in calls(&job).iter().enumerate() {
        let server = start_server_with(
            binary,
            &proxy.url,
            &scratch.path().join(format!("tool-{index}")),
            &[("BK_MCP_API_CACHE_TTL", "2")],
        )?;
        let token = format!("bkua_bench_tool_{index}");
        proxy.reset();
        call(&client, &server.url, &token, tool.name, &tool.arguments).await?;
        let cold = proxy.take();
        call(&client, &server.url, &token, tool.name, &tool.arguments).await?;
        let warm = proxy.take();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        call(&client, &server.url, &token, tool.name, &tool.arguments).await?;
        let later = proxy.take();
        println!(
            "{:<28} {:>6} {:>6} {:>6}   {}",
            tool.name,
            cold.len(),
            warm.len(),
            later.len(),
            summarise(&cold)
        );
    }

    println!();
    println!(
        "budget: 200 requests a minute ({LIMIT} per {} s window), 429 past it; each agent has its own token",
        WINDOW.as_secs()
    );
    println!(
        "{:<8} {:>26} {:>8} {:>10}",
        "agents", "investigations per minute", "429s", "failed"
    );
    for &agents in &options.agents {
        let server = start_server(
            binary,
            &proxy.url,
            &scratch.path().join(format!("budget-{agents}")),
        )?;
        proxy.set_budget(Some(LIMIT));
        let started = Instant::now();
        let outcome = budget_run(&client, &server.url, agents).await;
        let minutes = started.elapsed().as_secs_f64() / 60.0;
        let rejected = proxy.rejected();
        proxy.set_budget(None);
        println!(
            "{:<8} {:>26.1} {:>8} {:>10}",
            agents,
            outcome.completed as f64 / minutes,
            rejected,
            outcome.failed
        );
        for sample in outcome.errors.iter().take(2) {
            println!("    error: {sample}");
        }
    }
    Ok(())
}

struct BudgetOutcome {
    completed: u64,
    failed: u64,
    errors: Vec<String>,
}

/// `agents` agents investigating back to back for [`WINDOWS`] windows.
async fn budget_run(client: &reqwest::Client, url: &str, agents: usize) -> BudgetOutcome {
    let deadline = Instant::now() + WINDOW * WINDOWS;
    let build = calls("")[0].arguments.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for agent in 0..agents {
        let (client, url, build) = (client.clone(), url.to_owned(), build.clone());
        tasks.spawn(async move {
            let (mut completed, mut failed, mut errors) = (0, 0, Vec::new());
            let mut round = 0;
            while Instant::now() < deadline {
                // A new caller each time, and no read cache: each
                // investigation pays its own requests, as a different
                // person's (or a later) look at a build would.
                round += 1;
                let token = format!("bkua_bench_agent_{agent}_{round}");
                let summary =
                    call(&client, &url, &token, "get_build_failure_summary", &build).await;
                let triage = match summary {
                    Ok(_) => call(&client, &url, &token, "triage_build_failures", &build).await,
                    Err(error) => Err(error),
                };
                match triage {
                    Ok(_) => completed += 1,
                    Err(error) => {
                        failed += 1;
                        errors.push(error);
                    }
                }
            }
            (completed, failed, errors)
        });
    }
    let mut outcome = BudgetOutcome {
        completed: 0,
        failed: 0,
        errors: Vec::new(),
    };
    while let Some(Ok((completed, failed, errors))) = tasks.join_next().await {
        outcome.completed += completed;
        outcome.failed += failed;
        outcome.errors.extend(errors);
    }
    outcome
}

/// `METHOD path` lines, grouped with counts: `GET …/log ×3`.
fn summarise(requests: &[String]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for request in requests {
        let (method, rest) = request.split_once(' ').unwrap_or(("", request));
        let path = rest.split('?').next().unwrap_or(rest);
        let short = path
            .rsplit('/')
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("/");
        *counts.entry(format!("{method} …/{short}")).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(line, n)| if n > 1 { format!("{line} ×{n}") } else { line })
        .collect::<Vec<_>>()
        .join(", ")
}

fn start_server(binary: &Path, api: &str, cache: &Path) -> Result<ServerProcess, String> {
    start_server_with(binary, api, cache, &[])
}

/// As [`start_server`], with more environment variables.
fn start_server_with(
    binary: &Path,
    api: &str,
    cache: &Path,
    env: &[(&str, &str)],
) -> Result<ServerProcess, String> {
    let mut command = Command::new(binary);
    command
        .args([
            "--listen",
            "127.0.0.1:0",
            "--passthrough-http-header",
            "Authorization",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("BUILDKITE_BASE_URL", api)
        .env("BKLOG_CACHE_URL", cache)
        .env("BK_MCP_REQUEST_TIMEOUT", "120")
        .envs(env.iter().copied());
    ServerProcess::start(&mut command, None, Duration::from_secs(20))
}

/// Calls a tool over stateless HTTP as `token`; its result as JSON.
async fn call(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
    arguments: &Value,
) -> Result<Value, String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}});
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {token}"))
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("{name}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{name}: HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        ));
    }
    let message: Value = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?
    } else {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| m.get("result").is_some() || m.get("error").is_some())
            .ok_or_else(|| format!("{name}: no answer in the stream"))?
    };
    let result = &message["result"];
    let content = result["content"][0]["text"].as_str().unwrap_or_default();
    if result["isError"] == json!(true) || message.get("error").is_some() {
        return Err(format!(
            "{name}: {}",
            content.chars().take(300).collect::<String>()
        ));
    }
    Ok(serde_json::from_str(content).unwrap_or(Value::Null))
}

/// A proxy that counts every request, and optionally enforces a budget.
struct CountingProxy {
    url: String,
    shared: Arc<ProxyState>,
}

struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    seen: Mutex<Vec<String>>,
    /// Requests per window, when a budget is enforced.
    limit: Mutex<Option<u64>>,
    window: Mutex<(Instant, u64)>,
    rejected: AtomicU64,
}

impl CountingProxy {
    async fn start(upstream: String) -> Result<CountingProxy, String> {
        let shared = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string())?,
            seen: Mutex::default(),
            limit: Mutex::new(None),
            window: Mutex::new((Instant::now(), 0)),
            rejected: AtomicU64::new(0),
        });
        let router = Router::new()
            .fallback(forward)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("proxy: {e}"))?;
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(CountingProxy {
            url: format!("http://{address}/"),
            shared,
        })
    }

    fn reset(&self) {
        lock(&self.shared.seen).clear();
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.shared.seen))
    }

    fn set_budget(&self, limit: Option<u64>) {
        *lock(&self.shared.limit) = limit;
        *lock(&self.shared.window) = (Instant::now(), 0);
        self.shared.rejected.store(0, Ordering::Relaxed);
        self.reset();
    }

    fn rejected(&self) -> u64 {
        self.shared.rejected.load(Ordering::Relaxed)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn forward(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_owned(), ToString::to_string);
    lock(&state.seen).push(format!("{} {target}", request.method()));
    // The budget: the window's count, its remaining and reset.
    let budget = (*lock(&state.limit)).map(|limit| {
        let mut window = lock(&state.window);
        if window.0.elapsed() >= WINDOW {
            *window = (Instant::now(), 0);
        }
        window.1 += 1;
        let used = window.1;
        let reset = WINDOW.saturating_sub(window.0.elapsed()).as_secs().max(1);
        (limit, used, reset)
    });
    let headers = |response: &mut Response| {
        if let Some((limit, used, reset)) = budget {
            let set = |response: &mut Response, name: &'static str, value: u64| {
                if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
                    response.headers_mut().insert(name, value);
                }
            };
            set(response, "ratelimit-limit", limit);
            set(response, "ratelimit-remaining", limit.saturating_sub(used));
            set(response, "ratelimit-reset", reset);
        }
    };
    if let Some((limit, used, _)) = budget
        && used > limit
    {
        state.rejected.fetch_add(1, Ordering::Relaxed);
        let mut response = Response::new(Body::from(
            r#"{"message":"You have exceeded your API rate limit"}"#,
        ));
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        headers(&mut response);
        return response;
    }
    let method = request.method().clone();
    let mut upstream = state
        .client
        .request(method, format!("{}{target}", state.upstream));
    for (name, value) in request.headers() {
        if name != "host" {
            upstream = upstream.header(name, value);
        }
    }
    let body = axum::body::to_bytes(request.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    let answer = match upstream.body(body).send().await {
        Ok(answer) => answer,
        Err(error) => {
            let mut response = Response::new(Body::from(format!("proxy: {error}")));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            return response;
        }
    };
    let status = answer.status();
    let answer_headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in &answer_headers {
        if name != "transfer-encoding" && name != "connection" {
            response.headers_mut().insert(name, value.clone());
        }
    }
    headers(&mut response);
    response
}
