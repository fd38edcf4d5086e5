//! The conformance suite, `--suite all`, against `bk-mcp-http` (stateless
//! and `--stateful`) and `bk-mcp-stdio` (through a [`Bridge`]), judged
//! scenario by scenario from each `checks.json` against
//! [`SCENARIOS`] and [`EXCEPTIONS`].
//!
//! Each server gets two passes of the suite: `--suite all`, where a
//! scenario runs at its own wire (2025-11-25 unless it only exists at
//! 2026-07-28 or in an extension), then `--suite all --spec-version
//! 2026-07-28`, of which only the scenarios of both eras are judged (the
//! others ran at that wire already). A scenario passes when no check
//! fails, leaving aside checks that do not apply; a known failure must
//! still fail somewhere, else the run says to remove it. Warnings are
//! reported and pass.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::bridge::{Bridge, Launch};
use super::command::{Output, run_timed};
use super::{
    COMMAND_TIMEOUT, Context, EXCEPTIONS, Kind, SCENARIOS, Scenario, Scope, Tally, Transport,
    read_json, tail,
};
use crate::server_process::ServerProcess;

/// The newer era, and the one `--spec-version` selects for the second pass.
pub(super) const MODERN: &str = "2026-07-28";
/// The era the suite runs the other scenarios at.
pub(super) const LEGACY: &str = "2025-11-25";
/// Limit for one pass of the suite (about 3 s when all is well; a hung
/// scenario costs its own `--timeout`).
const PASS_TIMEOUT: Duration = Duration::from_secs(300);
/// The suite's own limit per scenario, in milliseconds.
const SCENARIO_TIMEOUT_MS: &str = "20000";

/// A scenario as `conformance list --server` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Listed {
    pub(super) name: String,
    /// The spec versions it applies to (or `extension`).
    pub(super) tags: Vec<String>,
}

impl Listed {
    /// The wire it runs at without `--spec-version`: the newest dated
    /// release, unless it only exists at 2026-07-28 or in an extension.
    fn default_era(&self) -> &'static str {
        if self.tags.iter().any(|t| t != MODERN && t != "extension") {
            LEGACY
        } else {
            MODERN
        }
    }

    /// The eras it is judged at: its default one, and 2026-07-28 too when
    /// it applies there.
    fn eras(&self) -> Vec<&'static str> {
        let default = self.default_era();
        let mut eras = vec![default];
        if default != MODERN && self.tags.iter().any(|t| t == MODERN) {
            eras.push(MODERN);
        }
        eras
    }
}

/// A server the suite runs against; stopped when dropped.
#[derive(Debug)]
enum Target {
    Http(ServerProcess),
    Stdio(Bridge),
}

impl Target {
    fn url(&self) -> &str {
        match self {
            Target::Http(server) => &server.url,
            Target::Stdio(bridge) => &bridge.url,
        }
    }
}

/// Checks the suite's scenario list against [`SCENARIOS`], then runs the
/// suite (or the one scenario `only`) against each server and judges it.
pub(super) fn run(ctx: &Context, suite_version: &str, only: Option<&str>, tally: &mut Tally) {
    println!("==> conformance suite {suite_version}: scenario list");
    let listed = match listed_scenarios(ctx) {
        Ok(listed) => listed,
        Err(error) => {
            tally.record(false, "conformance list --server", &error);
            return;
        }
    };
    for problem in table_problems(&listed) {
        tally.record(false, "scenario table", &problem);
    }

    for transport in Transport::ALL {
        let scenarios: Vec<&Scenario> = SCENARIOS
            .iter()
            .filter(|s| s.scope.covers(transport) && only.is_none_or(|name| name == s.name))
            .collect();
        if scenarios.is_empty() {
            continue;
        }
        let target = match start(ctx, transport) {
            Ok(target) => target,
            Err(error) => {
                tally.record(false, &format!("bk-mcp ({})", transport.label()), &error);
                continue;
            }
        };
        println!(
            "==> conformance suite {suite_version} against {} (no token) at {}",
            transport.label(),
            target.url()
        );
        let dir = ctx.work.join(format!("suite-{}", transport.slug()));
        let default_pass = run_pass(ctx, target.url(), only, None, &dir.join("all"));
        let modern_pass = run_pass(ctx, target.url(), only, Some(MODERN), &dir.join(MODERN));
        if let Target::Stdio(bridge) = &target {
            println!(
                "    (the bridge started {} bk-mcp-stdio processes)",
                bridge.started()
            );
        }
        drop(target);
        for scenario in scenarios {
            let Some(entry) = listed.iter().find(|l| l.name == scenario.name) else {
                continue; // reported by table_problems
            };
            let mut runs = Vec::new();
            for era in entry.eras() {
                let pass = if era == MODERN && entry.default_era() != MODERN {
                    &modern_pass
                } else {
                    &default_pass
                };
                let checks = match pass {
                    Ok(results) => results.get(scenario.name).cloned().ok_or_else(|| {
                        "the suite wrote no checks.json for it (see output.log)".to_owned()
                    }),
                    Err(error) => Err(error.clone()),
                };
                runs.push((era, checks));
            }
            let (ok, detail) = judge(scenario.name, transport, &runs);
            tally.record(
                ok,
                &format!("{} ({})", scenario.name, transport.label()),
                &detail,
            );
        }
    }

    if only.is_none() {
        let skipped: Vec<&Scenario> = SCENARIOS
            .iter()
            .filter(|s| s.scope == Scope::Nowhere)
            .collect();
        println!(
            "==> not applicable to bk-mcp, not judged ({} scenarios; see xtask/conformance/README.md):",
            skipped.len()
        );
        for scenario in skipped {
            println!("  n/a   {}: {}", scenario.name, scenario.why);
        }
        println!("==> checks of applicable scenarios not judged, or known failures of the server:");
        for exception in EXCEPTIONS {
            let kind = match exception.kind {
                Kind::NotApplicable => "n/a  ",
                Kind::KnownFailure => "known",
            };
            println!(
                "  {kind} {} / {} ({}): {}",
                exception.scenario,
                exception.check,
                exception.scope.word(),
                exception.why
            );
        }
    }
}

/// Differences between the suite's list and [`SCENARIOS`].
fn table_problems(listed: &[Listed]) -> Vec<String> {
    let mut problems = Vec::new();
    for entry in listed {
        if !SCENARIOS.iter().any(|s| s.name == entry.name) {
            problems.push(format!(
                "{}: the suite has a scenario that is not classified: add it to SCENARIOS in xtask/src/conformance.rs and to xtask/conformance/README.md",
                entry.name
            ));
        }
    }
    for scenario in SCENARIOS {
        if !listed.iter().any(|l| l.name == scenario.name) {
            problems.push(format!(
                "{}: listed in SCENARIOS but the suite no longer has it: remove it",
                scenario.name
            ));
        }
    }
    problems
}

/// Starts the server for `transport`: bk-mcp-http with no token, or the
/// bridge in front of bk-mcp-stdio with no token.
fn start(ctx: &Context, transport: Transport) -> Result<Target, String> {
    match transport {
        Transport::Stateless => ctx
            .start_http("bk-mcp-http-stateless.log", &[], &[])
            .map(Target::Http),
        Transport::Stateful => ctx
            .start_http("bk-mcp-http-stateful.log", &["--stateful"], &[])
            .map(Target::Http),
        Transport::Stdio => Bridge::start(Launch {
            program: ctx.stdio_bin.clone(),
            args: Vec::new(),
            env: vec![
                (
                    "BKLOG_CACHE_URL".to_owned(),
                    ctx.log_cache().display().to_string(),
                ),
                ("NO_COLOR".to_owned(), "1".to_owned()),
            ],
            log: ctx.work.join("bk-mcp-stdio-suite.log"),
        })
        .map(Target::Stdio),
    }
}

/// Scenarios and their tags from `conformance list --server`.
fn listed_scenarios(ctx: &Context) -> Result<Vec<Listed>, String> {
    let mut list = ctx.npx();
    list.args(["conformance", "list", "--server"]);
    let done = run_timed(&mut list, COMMAND_TIMEOUT, Output::Capture)?;
    if !done.success() {
        return Err(done.describe());
    }
    let listed = parse_scenario_list(&done.stdout);
    if listed.is_empty() {
        return Err(format!("no scenarios in: {}", tail(&done.stdout, 5)));
    }
    Ok(listed)
}

/// Lines like `  - server-initialize [2025-06-18,2025-11-25]`.
fn parse_scenario_list(text: &str) -> Vec<Listed> {
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix("- "))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            let name = words.next()?.to_owned();
            let tags = words
                .next()
                .and_then(|t| t.strip_prefix('[')?.strip_suffix(']'))
                .map(|t| t.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            Some(Listed { name, tags })
        })
        .collect()
}

/// Runs one pass of the suite into `out` (`--suite all`, or the scenario
/// `only`) and returns each scenario's checks, by name.
fn run_pass(
    ctx: &Context,
    url: &str,
    only: Option<&str>,
    era: Option<&str>,
    out: &Path,
) -> Result<HashMap<String, Value>, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut command = ctx.npx();
    command.args(["conformance", "server", "--url", url]);
    match only {
        Some(name) => command.args(["--scenario", name]),
        None => command.args(["--suite", "all"]),
    };
    if let Some(era) = era {
        command.args(["--spec-version", era]);
    }
    command
        .args(["--timeout", SCENARIO_TIMEOUT_MS, "-o"])
        .arg(out);
    let done = run_timed(&mut command, PASS_TIMEOUT, Output::Capture)?;
    let log = out.join("output.log");
    let _ = std::fs::write(&log, format!("{}{}", done.stdout, done.stderr));
    if done.timed_out {
        return Err(format!("{}; see {}", done.describe(), log.display()));
    }
    // The suite exits non-zero when any scenario fails, including those
    // that do not apply: the verdict comes from the checks.
    let results = read_results(out)?;
    if results.is_empty() {
        return Err(format!(
            "no results ({}): {}",
            done.describe(),
            tail(&format!("{}{}", done.stdout, done.stderr), 5)
        ));
    }
    Ok(results)
}

/// `server-<scenario>-<time>/checks.json` under `out`, by scenario.
fn read_results(out: &Path) -> Result<HashMap<String, Value>, String> {
    let entries = std::fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut results = HashMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(scenario) = scenario_of_dir(&name) else {
            continue;
        };
        let checks = entry.path().join("checks.json");
        if checks.is_file() {
            results.insert(scenario.to_owned(), read_json(&checks)?);
        }
    }
    Ok(results)
}

/// `tools-list` from `server-tools-list-2026-12-08T00-24-15-950Z`.
fn scenario_of_dir(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("server-")?;
    // `-YYYY-MM-DDTHH-MM-SS-mmmZ`
    let cut = rest.len().checked_sub(25)?;
    let stamp = &rest[cut..];
    let shaped = stamp.starts_with('-') && stamp.ends_with('Z') && stamp.as_bytes()[11] == b'T';
    (shaped && cut > 0).then(|| &rest[..cut])
}

/// What one run of a scenario showed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    /// Checks that failed and are not excused: `id: reason`.
    failures: Vec<String>,
    /// Known failures that failed, by check pattern.
    known: Vec<&'static str>,
    /// Failed checks that do not apply here.
    not_applicable: usize,
    /// Warned checks' ids.
    warnings: Vec<String>,
    /// Every check.
    count: usize,
}

/// Sorts one run's checks by status and [`EXCEPTIONS`].
fn outcome(scenario: &str, transport: Transport, checks: &Value) -> Outcome {
    let mut outcome = Outcome::default();
    let checks = checks.as_array().map_or(&[][..], Vec::as_slice);
    outcome.count = checks.len();
    for check in checks {
        let id = check["id"].as_str().unwrap_or("?");
        match check["status"].as_str().unwrap_or("") {
            "FAILURE" => {
                let exception = EXCEPTIONS
                    .iter()
                    .find(|e| e.matches(scenario, id, transport));
                match exception.map(|e| (e.kind, e.check)) {
                    Some((Kind::NotApplicable, _)) => outcome.not_applicable += 1,
                    Some((Kind::KnownFailure, pattern)) => outcome.known.push(pattern),
                    None => {
                        let reason = check["errorMessage"]
                            .as_str()
                            .or_else(|| check["details"]["message"].as_str())
                            .or_else(|| check["description"].as_str())
                            .unwrap_or("");
                        outcome.failures.push(format!("{id}: {reason}"));
                    }
                }
            }
            "WARNING" => outcome.warnings.push(id.to_owned()),
            _ => {}
        }
    }
    outcome
}

/// The verdict on a scenario for one server from its runs (one per era,
/// each its checks or why there are none) and a one-line detail.
fn judge(
    scenario: &str,
    transport: Transport,
    runs: &[(&str, Result<Value, String>)],
) -> (bool, String) {
    let mut ok = true;
    let mut parts = Vec::new();
    let mut known_seen: Vec<&'static str> = Vec::new();
    for (era, checks) in runs {
        let checks = match checks {
            Ok(checks) => checks,
            Err(error) => {
                ok = false;
                parts.push(format!("{era}: {error}"));
                continue;
            }
        };
        let outcome = outcome(scenario, transport, checks);
        known_seen.extend(&outcome.known);
        let mut part = format!("{era}: ");
        if outcome.failures.is_empty() {
            let plural = if outcome.count == 1 { "" } else { "s" };
            let _ = write!(part, "{} check{plural}", outcome.count);
        } else {
            ok = false;
            part.push_str(&outcome.failures.join("; "));
        }
        let mut notes = Vec::new();
        if outcome.not_applicable > 0 {
            notes.push(format!("{} n/a", outcome.not_applicable));
        }
        if !outcome.known.is_empty() {
            notes.push(format!("{} known failures", outcome.known.len()));
        }
        if !outcome.warnings.is_empty() {
            notes.push(format!("warnings: {}", outcome.warnings.join(", ")));
        }
        if !notes.is_empty() {
            let _ = write!(part, " ({})", notes.join("; "));
        }
        parts.push(part);
    }
    let ran = runs.iter().any(|(_, checks)| checks.is_ok());
    for exception in EXCEPTIONS.iter().filter(|e| {
        e.kind == Kind::KnownFailure && e.scenario == scenario && e.scope.covers(transport)
    }) {
        if ran && !known_seen.contains(&exception.check) {
            ok = false;
            parts.push(format!(
                "{} no longer fails: remove it from EXCEPTIONS in xtask/src/conformance.rs and from xtask/conformance/README.md",
                exception.check
            ));
        }
    }
    (ok, parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn parses_the_scenario_list() {
        let listing = "Server scenarios (test against a server):\n  - server-initialize [2025-06-18,2025-11-25]\n  - server-stateless [2026-07-28]\n  - tools-list [2025-06-18,2025-11-25,2026-07-28]\n  - sep-2640-skills-manifest [extension]\n";
        let listed = parse_scenario_list(listing);
        let names: Vec<&str> = listed.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "server-initialize",
                "server-stateless",
                "tools-list",
                "sep-2640-skills-manifest"
            ]
        );
        let eras: Vec<Vec<&str>> = listed.iter().map(Listed::eras).collect();
        assert_eq!(
            eras,
            [
                vec![LEGACY],
                vec![MODERN],
                vec![LEGACY, MODERN],
                vec![MODERN]
            ]
        );
    }

    #[test]
    fn finds_the_scenario_of_a_result_directory() {
        assert_eq!(
            scenario_of_dir("server-tools-list-2026-12-08T00-24-15-950Z"),
            Some("tools-list")
        );
        assert_eq!(
            scenario_of_dir("server-sep-2164-resource-not-found-2026-12-08T00-24-15-950Z"),
            Some("sep-2164-resource-not-found")
        );
        assert_eq!(scenario_of_dir("output.log"), None);
        assert_eq!(scenario_of_dir("server--2026-12-08T00-24-15-950Z"), None);
        assert_eq!(scenario_of_dir("server-x"), None);
    }

    #[test]
    fn judges_checks_with_the_exceptions() {
        let text = r#"[
          {"id": "sep-2575-server-implements-discover", "status": "SUCCESS"},
          {"id": "sep-2575-server-rejects-undeclared-capability", "status": "FAILURE", "errorMessage": "Not testable: fixture"},
          {"id": "sep-2575-http-server-meta-invalid-400", "status": "FAILURE", "errorMessage": "status 200"},
          {"id": "wire", "status": "WARNING", "details": {"message": "hm"}},
          {"id": "skip", "status": "SKIPPED"}
        ]"#;
        // On HTTP, the meta check is a real failure; the rest is excused.
        let http = outcome("server-stateless", Transport::Stateless, &checks(text));
        assert_eq!(
            http.failures,
            ["sep-2575-http-server-meta-invalid-400: status 200"]
        );
        assert_eq!(
            (http.not_applicable, http.known.len(), http.count),
            (1, 0, 5)
        );
        assert_eq!(http.warnings, ["wire"]);
        // Over stdio, HTTP status checks are the bridge's.
        let stdio = outcome("server-stateless", Transport::Stdio, &checks(text));
        assert!(stdio.failures.is_empty(), "{:?}", stdio.failures);
        assert_eq!((stdio.not_applicable, stdio.known.len()), (2, 0));

        let (ok, detail) = judge(
            "server-stateless",
            Transport::Stdio,
            &[(MODERN, Ok(checks(text)))],
        );
        assert!(ok, "{detail}");
        assert_eq!(detail, "2026-07-28: 5 checks (2 n/a; warnings: wire)");
        let (ok, detail) = judge(
            "server-stateless",
            Transport::Stateful,
            &[(MODERN, Ok(checks(text)))],
        );
        assert!(!ok);
        assert!(detail.contains("meta-invalid-400: status 200"), "{detail}");

        // A missing result fails, and says why.
        let (ok, detail) = judge(
            "ping",
            Transport::Stdio,
            &[
                (LEGACY, Ok(checks("[]"))),
                (MODERN, Err("no checks.json".to_owned())),
            ],
        );
        assert!(!ok);
        assert_eq!(detail, "2025-11-25: 0 checks; 2026-07-28: no checks.json");
        assert_eq!(
            outcome("x", Transport::Stdio, &Value::Null),
            Outcome::default()
        );
    }
}
