//! The conformance suite: every applicable scenario against `bk-mcp-http`,
//! stateless and `--stateful`, judged from each scenario's `checks.json`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::command::{Output, run_timed};
use super::{COMMAND_TIMEOUT, Context, SCENARIOS, Scenario, Tally, read_json, tail};

/// Checks the suite's scenario list against [`SCENARIOS`], then runs the
/// applicable ones against a stateless and a stateful server.
pub(super) fn run(ctx: &Context, suite_version: &str, tally: &mut Tally) {
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
        let log = format!("bk-mcp-http-{mode}.log");
        let server = match ctx.start_http(&log, extra.as_slice(), &[]) {
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
fn find_checks(out: &Path) -> Result<Value, String> {
    let entries = std::fs::read_dir(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let path = entries
        .flatten()
        .map(|e| e.path().join("checks.json"))
        .find(|p| p.is_file())
        .ok_or("the suite wrote no checks.json")?;
    read_json(&path)
}

/// Failed and warned checks (`id: reason`) and the number of checks.
fn judge_checks(checks: &Value) -> (Vec<String>, Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    let checks = checks.as_array().map_or(&[][..], Vec::as_slice);
    for check in checks {
        let status = check["status"].as_str().unwrap_or("");
        let id = check["id"].as_str().unwrap_or("?");
        let reason = check["errorMessage"]
            .as_str()
            .or_else(|| check["details"]["message"].as_str())
            .or_else(|| check["description"].as_str())
            .unwrap_or("");
        match status {
            "FAILURE" => failures.push(format!("{id}: {reason}")),
            "WARNING" => warnings.push(format!("{id}: {reason}")),
            _ => {}
        }
    }
    (failures, warnings, checks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_checks_json() {
        let text = r#"[
          {"id": "ping", "status": "SUCCESS", "description": "Server responds to ping", "details": {"n": -1.5e2, "ok": true, "x": null}},
          {"id": "tools-list", "status": "FAILURE", "errorMessage": "tool \"a\\b\" has no description \u00e9\ud83d\ude00", "specReferences": []},
          {"id": "sse", "status": "WARNING", "details": {"message": "no session ID"}},
          {"id": "dns", "status": "WARNING", "description": "Host checked"},
          {"status": "FAILURE"}
        ]"#;
        let checks: Value = serde_json::from_str(text).unwrap();
        let (failures, warnings, count) = judge_checks(&checks);
        assert_eq!(
            failures,
            ["tools-list: tool \"a\\b\" has no description é😀", "?: "]
        );
        assert_eq!(warnings, ["sse: no session ID", "dns: Host checked"]);
        assert_eq!(count, 5);
        assert_eq!(judge_checks(&Value::Null), (vec![], vec![], 0));
    }

    #[test]
    fn parses_the_scenario_list() {
        let listing = "Server scenarios (test against a server):\n  - server-initialize [2025-06-18,2025-11-25]\n  - dns-rebinding-protection [2025-11-25]\n";
        assert_eq!(
            parse_scenario_list(listing),
            ["server-initialize", "dns-rebinding-protection"]
        );
    }
}
