//! The official MCP clients: the TypeScript SDK v2
//! (`xtask/conformance/ts_client_check.mjs`) and the Python SDK
//! (`mcp_client_check.py`), each over stdio and over HTTP, each in both
//! eras (2025-11-25 through `initialize`, 2026-07-28 through
//! `server/discover`). The scripts share their arguments and output; the
//! Python one's docstring describes the checks.
//!
//! Each era of a run talks to two servers: the demo (`bk-mcp-stdio --demo`,
//! which the script starts, or one `bk-mcp-http --demo`) for `tools/list`
//! and the failure summary of `acme/web` #1234, and an API server backed by
//! the shared fake Buildkite API (`bk-mcp-stdio` started by the script with
//! the session's token, or one `bk-mcp-http --passthrough-http-header
//! Authorization` that gets it from the client) for `current_user` and
//! `wait_for_build` on [`RUNNING_BUILD`], which the fake API serves running.
//! Every session uses its own token (`<prefix>_<era without dashes>`), so
//! the fake API's record shows what each asked upstream and with which
//! token.
//!
//! The four runs (two clients, two transports) go in parallel, each its two
//! eras concurrently: the 2025-11-25 bounded waits (about 40 s each) then
//! overlap. One line per client, transport and era.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use super::command::{Finished, Output, run_timed, scrub_env};
use super::suite::{LEGACY, MODERN};
use super::{Context, Tally, read_json, tail};
use crate::fake_api::{Accept, Data, FakeApi, Request, Setup};

/// The scripts' own overall limit, in seconds (below [`RUN_LIMIT`]).
const CLIENT_TIMEOUT_SECS: &str = "100";
/// Limit for one client run.
const RUN_LIMIT: Duration = Duration::from_secs(150);
/// The build the fake API serves as running: `org/pipeline/number`.
const RUNNING_BUILD: &str = "acme/app/43";
/// The jobs the demo's failure summary of `acme/web` #1234 must name (see
/// `examples/demo/README.md`: failed, failed, timed out).
const FAILING_JOBS: [&str; 3] = [":rspec: RSpec", ":eslint: Lint", ":capybara: System specs"];
const ERAS: [&str; 2] = [LEGACY, MODERN];

/// One client run: which SDK, over which transport, and its token prefix.
#[derive(Debug)]
struct ClientRun {
    sdk: String,
    transport: &'static str,
    prefix: String,
    command: Command,
}

impl ClientRun {
    fn token(&self, era: &str) -> String {
        token(&self.prefix, era)
    }
}

/// The token a script uses for one era's API session.
fn token(prefix: &str, era: &str) -> String {
    format!("{prefix}_{}", era.replace('-', ""))
}

/// Starts the fake API and the HTTP servers, runs both clients over both
/// transports in parallel, and records one line per client, transport and
/// era, then one for the fake API's record as a whole.
pub(super) fn run(
    ctx: &Context,
    ts_version: &str,
    python: &Path,
    py_version: &str,
    tally: &mut Tally,
) {
    let user_fixture = ctx.fixtures.join("user.json");
    let name = read_json(&user_fixture).and_then(|user| {
        user["name"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no \"name\" in the fixture".to_owned())
    });
    let name = match name {
        Ok(name) => name,
        Err(error) => return tally.record(false, &user_fixture.display().to_string(), &error),
    };
    // The fake API runs on this runtime's worker while this thread waits
    // for the clients and servers.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return tally.record(false, "fake Buildkite API", &error.to_string()),
    };
    let data = match fake_data(&ctx.fixtures) {
        Ok(data) => data,
        Err(error) => return tally.record(false, "fake Buildkite API", &error),
    };
    let api = runtime.block_on(FakeApi::start(Setup {
        data,
        accept: Accept::AnyBearer,
        record: true,
        delay: Duration::ZERO,
        faults: None,
    }));
    let api = match api {
        Ok(api) => api,
        Err(error) => return tally.record(false, "fake Buildkite API", &error),
    };
    let demo = ctx.start_http("bk-mcp-http-demo.log", &["--demo"], &[]);
    let passthrough = ctx.start_http(
        "bk-mcp-http-passthrough.log",
        &["--passthrough-http-header", "Authorization"],
        &[("BUILDKITE_BASE_URL", &api.url)],
    );
    let (demo, passthrough) = match (demo, passthrough) {
        (Ok(demo), Ok(passthrough)) => (demo, passthrough),
        (Err(error), _) => return tally.record(false, "bk-mcp-http --demo", &error),
        (_, Err(error)) => {
            return tally.record(false, "bk-mcp-http (Authorization passthrough)", &error);
        }
    };
    println!(
        "==> TypeScript client (@modelcontextprotocol/client {ts_version}) and Python client (mcp {py_version}), over stdio and HTTP, eras {LEGACY} and {MODERN}"
    );
    println!(
        "    demo: bk-mcp-stdio --demo, and bk-mcp-http --demo at {}; API servers: bk-mcp-stdio, and bk-mcp-http at {} with Authorization passthrough; fake Buildkite API at {}",
        demo.url, passthrough.url, api.url
    );

    let mut runs = Vec::new();
    for (sdk, slug) in [
        (format!("TypeScript client {ts_version}"), "typescript"),
        (format!("Python client {py_version}"), "python"),
    ] {
        for transport in ["stdio", "http"] {
            let prefix = format!("bkua_conformance_{slug}_{transport}");
            let mut command = if slug == "typescript" {
                let mut node = ctx.npx();
                node.args(["node", "ts_client_check.mjs"]);
                node
            } else {
                let mut python = Command::new(python);
                python
                    .arg("mcp_client_check.py")
                    .env("PYTHONDONTWRITEBYTECODE", "1")
                    .env("PYTHONUNBUFFERED", "1");
                python
            };
            scrub_env(&mut command);
            command.current_dir(&ctx.dir).args([
                "--timeout",
                CLIENT_TIMEOUT_SECS,
                "--token-prefix",
                &prefix,
                "--expect-user",
                &name,
                "--running-build",
                RUNNING_BUILD,
            ]);
            for job in FAILING_JOBS {
                command.args(["--expect-job", job]);
            }
            if transport == "stdio" {
                command
                    .arg("stdio")
                    .arg("--env")
                    .arg(format!("BUILDKITE_BASE_URL={}", api.url))
                    .arg("--env")
                    .arg(format!("BKLOG_CACHE_URL={}", ctx.log_cache().display()))
                    .arg("--env")
                    .arg("NO_COLOR=1")
                    .arg("--")
                    .arg(&ctx.stdio_bin);
            } else {
                command.args([
                    "http",
                    "--demo-url",
                    &demo.url,
                    "--api-url",
                    &passthrough.url,
                ]);
            }
            runs.push(ClientRun {
                sdk: sdk.clone(),
                transport,
                prefix,
                command,
            });
        }
    }

    let finished: Vec<Result<Finished, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter_mut()
            .map(|run| {
                let command = &mut run.command;
                scope.spawn(move || run_timed(command, RUN_LIMIT, Output::Capture))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the client thread panicked".to_owned()))
            })
            .collect()
    });
    drop((demo, passthrough));
    let seen = api.take();

    for (run, done) in runs.iter().zip(&finished) {
        let slug = run.prefix.trim_start_matches("bkua_conformance_");
        let log = ctx.work.join(format!("client-{slug}.log"));
        let reports = match done {
            Ok(done) => {
                let _ = std::fs::write(&log, format!("{}{}", done.stdout, done.stderr));
                parse_reports(&done.stdout)
            }
            Err(error) => {
                let _ = std::fs::write(&log, error);
                Vec::new()
            }
        };
        for era in ERAS {
            let label = format!("{}, {}, {era}", run.sdk, run.transport);
            let upstream = check_upstream(&seen, &run.token(era));
            let (ok, mut detail) = judge_era(&reports, era, &upstream);
            if !reports.iter().any(|r| r.era == era) {
                let why = match done {
                    Ok(done) => format!("{}: {}", done.describe(), tail(&done.stderr, 6)),
                    Err(error) => error.clone(),
                };
                detail = format!("no results for this era ({why}); see {}", log.display());
            }
            tally.record(ok, &label, &detail);
        }
    }

    let tokens: Vec<String> = runs
        .iter()
        .flat_map(|run| ERAS.map(|era| format!("Bearer {}", run.token(era))))
        .collect();
    let strays: Vec<String> = seen
        .iter()
        .filter(|r| !r.authorization.as_ref().is_some_and(|a| tokens.contains(a)))
        .map(ToString::to_string)
        .collect();
    tally.record(
        strays.is_empty(),
        "fake Buildkite API",
        &if strays.is_empty() {
            format!("{} requests, each with one session's own token", seen.len())
        } else {
            format!("requests without a session's token: {strays:?}")
        },
    );
}

/// `buildkite-api`'s fixtures (the user, build `acme/app#42`), and build
/// [`RUNNING_BUILD`]: #42 again, running.
fn fake_data(fixtures: &Path) -> Result<Data, String> {
    let mut data = Data::fixtures(fixtures)?;
    let mut build = read_json(&fixtures.join("build.json"))?;
    let (org, rest) = RUNNING_BUILD.split_once('/').ok_or("RUNNING_BUILD")?;
    let (pipeline, number) = rest.split_once('/').ok_or("RUNNING_BUILD")?;
    let number: u64 = number.parse().map_err(|_| "RUNNING_BUILD")?;
    build["number"] = json!(number);
    build["state"] = json!("running");
    build["finished_at"] = Value::Null;
    if let Some(jobs) = build["jobs"].as_array_mut() {
        for job in jobs {
            job["state"] = json!("running");
            job["finished_at"] = Value::Null;
        }
    }
    data.insert_json(
        &format!("v2/organizations/{org}/pipelines/{pipeline}/builds/{number}.json"),
        build,
    );
    Ok(data)
}

/// One line a script printed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Report {
    era: String,
    check: String,
    ok: bool,
    detail: String,
}

/// The JSON lines of a script's stdout (anything else is ignored).
fn parse_reports(stdout: &str) -> Vec<Report> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|report| {
            Some(Report {
                era: report["era"].as_str()?.to_owned(),
                check: report["check"].as_str()?.to_owned(),
                ok: report["ok"] == true,
                detail: report["detail"].as_str().unwrap_or("").to_owned(),
            })
        })
        .collect()
}

/// What the fake API saw with one session's token: it must have asked for
/// the user and the running build. Ok with a summary, or why not.
fn check_upstream(seen: &[Request], token: &str) -> Result<String, String> {
    let wanted = format!("Bearer {token}");
    let mine: Vec<&Request> = seen
        .iter()
        .filter(|r| r.authorization.as_deref() == Some(wanted.as_str()))
        .collect();
    let (org, rest) = RUNNING_BUILD.split_once('/').unwrap_or_default();
    let (pipeline, number) = rest.split_once('/').unwrap_or_default();
    let build = format!("/v2/organizations/{org}/pipelines/{pipeline}/builds/{number}");
    let asked = |path: &str| mine.iter().any(|r| r.method == "GET" && r.path() == path);
    let missing: Vec<&str> = ["/v2/user", build.as_str()]
        .into_iter()
        .filter(|path| !asked(path))
        .collect();
    if missing.is_empty() {
        Ok(format!("fake API: {} requests with its token", mine.len()))
    } else {
        let requests: Vec<String> = mine.iter().map(ToString::to_string).collect();
        Err(format!(
            "fake API: no GET {} with {token}; its requests: {requests:?}",
            missing.join(", GET ")
        ))
    }
}

/// The verdict on one era of a run, and its line: on success the main
/// checks' details, else every failed check.
fn judge_era(reports: &[Report], era: &str, upstream: &Result<String, String>) -> (bool, String) {
    let mine: Vec<&Report> = reports.iter().filter(|r| r.era == era).collect();
    let wait = if era == MODERN {
        "wait_for_build as a task"
    } else {
        "wait_for_build"
    };
    let absent: Vec<&str> = [
        "tools/list",
        "get_build_failure_summary",
        "current_user",
        wait,
    ]
    .into_iter()
    .filter(|check| !mine.iter().any(|r| r.check == *check))
    .collect();
    let failed: Vec<String> = mine
        .iter()
        .filter(|r| !r.ok)
        .map(|r| format!("{}: {}", r.check, r.detail))
        .chain((!absent.is_empty()).then(|| format!("no result for {}", absent.join(", "))))
        .chain(upstream.as_ref().err().cloned())
        .collect();
    if !failed.is_empty() {
        return (false, failed.join("; "));
    }
    let shown = [
        "initialize (demo)",
        "server/discover (demo)",
        "tools/list",
        "get_build_failure_summary",
        "wait_for_build",
        "wait_for_build as a task",
    ];
    let mut parts: Vec<String> = mine
        .iter()
        .filter(|r| shown.contains(&r.check.as_str()))
        .map(|r| match r.check.as_str() {
            "get_build_failure_summary" => format!("failure summary {}", r.detail),
            "wait_for_build" => format!("wait_for_build: {}", r.detail),
            "wait_for_build as a task" => format!("task: {}", r.detail),
            _ => r.detail.clone(),
        })
        .collect();
    parts.push(format!("{} checks", mine.len()));
    if let Ok(summary) = upstream {
        parts.push(summary.clone());
    }
    (!mine.is_empty(), parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, authorization: Option<&str>) -> Request {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            authorization: authorization.map(str::to_owned),
        }
    }

    #[test]
    fn upstream_needs_the_user_and_the_build_with_the_sessions_token() {
        let token = token("bkua_x", MODERN);
        assert_eq!(token, "bkua_x_20260728");
        let bearer = format!("Bearer {token}");
        let user = request("GET", "/v2/user", Some(&bearer));
        let build = request(
            "GET",
            "/v2/organizations/acme/pipelines/app/builds/43?exclude_jobs=true",
            Some(&bearer),
        );
        assert_eq!(
            check_upstream(&[user.clone(), build.clone()], &token),
            Ok("fake API: 2 requests with its token".to_owned())
        );
        let error = check_upstream(std::slice::from_ref(&user), &token).unwrap_err();
        assert!(
            error.contains("no GET /v2/organizations/acme/pipelines/app/builds/43"),
            "{error}"
        );
        let other = request("GET", "/v2/user", Some("Bearer bkua_y"));
        assert!(check_upstream(&[other, build], &token).is_err());
        let post = request("POST", "/v2/user", Some(&bearer));
        assert!(check_upstream(&[post], &token).is_err());
    }

    #[test]
    fn judges_an_era_from_the_scripts_lines() {
        let stdout = r#"noise
{"era": "2025-11-25", "check": "initialize (demo)", "ok": true, "detail": "initialize → 2025-11-25"}
{"era": "2026-07-28", "check": "server/discover (demo)", "ok": true, "detail": "server/discover → 2026-07-28"}
{"era": "2025-11-25", "check": "tools/list", "ok": true, "detail": "60 tools"}
{"era": "2025-11-25", "check": "wait_for_build", "ok": false, "detail": "isError: 404"}
{"check": "no era", "ok": true}
"#;
        let mut reports = parse_reports(stdout);
        assert_eq!(reports.len(), 4);
        let fine = Ok("fake API: 2 requests with its token".to_owned());
        let (ok, detail) = judge_era(&reports, LEGACY, &Err("fake API: nothing".to_owned()));
        assert!(!ok);
        assert_eq!(
            detail,
            "wait_for_build: isError: 404; no result for get_build_failure_summary, current_user; fake API: nothing"
        );
        // An era must report each of its main checks.
        let (ok, detail) = judge_era(&reports, MODERN, &fine);
        assert!(!ok);
        assert_eq!(
            detail,
            "no result for tools/list, get_build_failure_summary, current_user, wait_for_build as a task"
        );
        for check in [
            "tools/list",
            "get_build_failure_summary",
            "current_user",
            "wait_for_build as a task",
        ] {
            reports.push(Report {
                era: MODERN.to_owned(),
                check: check.to_owned(),
                ok: true,
                detail: format!("{check} ok"),
            });
        }
        let (ok, detail) = judge_era(&reports, MODERN, &fine);
        assert!(ok, "{detail}");
        assert_eq!(
            detail,
            "server/discover → 2026-07-28; tools/list ok; failure summary get_build_failure_summary ok; task: wait_for_build as a task ok; 5 checks; fake API: 2 requests with its token"
        );
        assert!(!judge_era(&[], LEGACY, &fine).0);
    }

    #[test]
    fn the_fake_api_serves_the_running_build() {
        let fixtures =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/buildkite-api/tests/fixtures");
        let data = fake_data(&fixtures).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let api = FakeApi::start(Setup {
                data,
                accept: Accept::AnyBearer,
                record: false,
                delay: Duration::ZERO,
                faults: None,
            })
            .await
            .unwrap();
            let answer = reqwest::Client::new()
                .get(format!(
                    "{}/v2/organizations/acme/pipelines/app/builds/43?exclude_jobs=true&exclude_pipeline=true&include_test_engine=true",
                    api.url
                ))
                .bearer_auth("bkua_x")
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            let build: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
            assert_eq!((build["number"].as_u64(), build["state"].as_str()), (Some(43), Some("running")));
        });
    }
}
