//! `cargo xtask demo`: builds the stdio server, starts it in demo mode (the
//! bundled `acme` organisation, answered from `examples/demo/demo.har`) and
//! plays an investigation as an MCP client would, printing a transcript.
//!
//! - `cargo xtask demo`: initialize, tools/list, then the `investigation`
//!   steps of `examples/demo/tour.json`.
//! - `--all`: every step, `explore` ones too; fails if any step fails (CI
//!   runs this, so the recording always covers the tour).
//! - `--full`: print results whole instead of abbreviated.
//! - `--record`: records `examples/demo/demo.har` anew from the fixture tree
//!   `examples/demo/org/` (served by [`crate::fake_api`]), then replays it and checks
//!   every step gives the same result. The tour is played twice in one
//!   server, with `--log-access-recheck 0`: the second time every log it
//!   reads is cached, so the access check (`HEAD …/log`) a cached log needs
//!   is recorded too, and a demo session can read a log again after the
//!   access re-check period.

mod client;
pub(crate) mod logs;
pub(crate) mod tour;
mod transcript;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use client::StdioClient;
use tour::TourStep;

use crate::fake_api::{Accept, Data, FakeApi, Setup};

/// What the command line asked for.
#[derive(Debug, Default)]
struct Options {
    all: bool,
    full: bool,
    record: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options::default();
        for arg in args {
            match arg.as_str() {
                "--all" => options.all = true,
                "--full" => options.full = true,
                "--record" => options.record = true,
                other => {
                    return Err(format!(
                        "demo: unknown option {other:?} (use --all, --full or --record)"
                    ));
                }
            }
        }
        Ok(options)
    }
}

/// Runs the demo task.
pub fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let root = crate::workspace_root();
    let tour = tour::read_tour(&root.join("examples/demo/tour.json"))?;
    let binary = build_server(&root)?;
    if options.record {
        return record(&root, &binary, &tour);
    }
    let steps: Vec<&TourStep> = tour
        .iter()
        .filter(|step| options.all || step.part == "investigation")
        .collect();
    let mut printer = transcript::Printer::new(options.full);
    let results = play(&binary, &["--demo".to_owned()], &steps, &mut printer)?;
    let failed: Vec<&str> = results
        .iter()
        .zip(&steps)
        .filter(|(result, _)| result.is_error)
        .map(|(_, step)| step.tool.as_str())
        .collect();
    printer.finish(steps.len(), &failed);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "demo: {} step(s) failed: {}",
            failed.len(),
            failed.join(", ")
        ))
    }
}

/// The result of one tool call.
#[derive(Debug)]
struct Outcome {
    text: String,
    is_error: bool,
}

/// The text of a tool result's content blocks, one per line.
pub(crate) fn result_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Starts `binary` with `args` and plays `steps`, printing as it goes.
fn play(
    binary: &Path,
    args: &[String],
    steps: &[&TourStep],
    printer: &mut transcript::Printer,
) -> Result<Vec<Outcome>, String> {
    let cache = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mut command = Command::new(binary);
    // Nothing from the developer's environment (a real token above all).
    command
        .env_clear()
        .env("HOME", cache.path())
        .env("BKLOG_CACHE_URL", cache.path())
        .env("RUST_LOG", "warn")
        .args(args);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let mut client = StdioClient::start(command)?;

    printer.request(
        "initialize",
        &json!({"clientInfo": {"name": "cargo xtask demo"}}),
    );
    let init = client.request(
        "initialize",
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "cargo-xtask-demo", "version": env!("CARGO_PKG_VERSION")},
        }),
        |_| {},
    )?;
    printer.initialized(&init);
    client.notify("notifications/initialized", json!({}))?;

    printer.request("tools/list", &json!({}));
    let listed = client.request("tools/list", json!({}), |_| {})?;
    printer.tools(&listed);

    let mut outcomes = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        printer.step(index + 1, steps.len(), step);
        let token = format!("step-{}", index + 1);
        let result = client.request(
            "tools/call",
            json!({
                "name": step.tool,
                "arguments": step.arguments,
                "_meta": {"progressToken": token},
            }),
            |notification| printer.notification(notification),
        )?;
        let text = result_text(&result);
        let is_error = result["isError"].as_bool().unwrap_or(false) || text.trim().is_empty();
        printer.result(&text, is_error);
        outcomes.push(Outcome { text, is_error });
    }
    Ok(outcomes)
}

/// Records the HAR from the fixture tree, then replays it and compares.
fn record(root: &Path, binary: &Path, tour: &[TourStep]) -> Result<(), String> {
    let har = root.join("examples/demo/demo.har");
    let tree = root.join("examples/demo/org");
    eprintln!("==> recording {} from {}", har.display(), tree.display());
    // Twice, checking access on every cached read: the second pass reads
    // each log from the log cache after its access check, so the recording
    // holds a `HEAD …/log` for every log the tour reads. A demo session
    // needs it to read a log again once the access re-check period is over.
    let twice: Vec<&TourStep> = tour.iter().chain(tour).collect();
    let recorded = play_against_fixtures(
        binary,
        &tree,
        &twice,
        &[
            "--record".to_owned(),
            har.display().to_string(),
            "--log-access-recheck".to_owned(),
            "0".to_owned(),
        ],
    )?;
    let entries = normalise_recording(&har)?;
    eprintln!("==> {entries} API exchanges recorded; replaying to check");

    // The replay too: the first pass must give the recorded results, the
    // second must find every access check in the recording.
    let replayed = play(
        binary,
        &[
            "--replay".to_owned(),
            har.display().to_string(),
            "--log-access-recheck".to_owned(),
            "0".to_owned(),
        ],
        &twice,
        &mut transcript::Printer::quiet(),
    )?;
    let mut differences = Vec::new();
    for ((step, live), replay) in tour.iter().zip(&recorded).zip(&replayed) {
        if comparable(&without_local_origin(&live.text)) != comparable(&replay.text)
            || replay.is_error
        {
            differences.push(step.tool.clone());
        }
    }
    for (step, replay) in tour.iter().zip(&replayed[tour.len()..]) {
        if replay.is_error {
            differences.push(format!("{} (played again: {})", step.tool, replay.text));
        }
    }
    if differences.is_empty() {
        eprintln!(
            "==> all {} steps replay exactly as recorded, and again from the log cache",
            tour.len()
        );
        Ok(())
    } else {
        Err(format!(
            "demo: these steps replay differently from the recording: {}",
            differences.join(", ")
        ))
    }
}

/// Plays `steps` through `binary` against the fake API serving `tree`
/// (with `extra_args`, e.g. `--record FILE`). Fails if a step fails or the
/// fake API could not answer a request.
fn play_against_fixtures(
    binary: &Path,
    tree: &Path,
    steps: &[&TourStep],
    extra_args: &[String],
) -> Result<Vec<Outcome>, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let api = runtime.block_on(FakeApi::start(Setup {
        data: Data::tree(tree)?,
        accept: Accept::AnyBearer,
        record: false,
        delay: std::time::Duration::ZERO,
        faults: None,
    }))?;
    let cache = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mut args = vec![
        "--api-token".to_owned(),
        "demo".to_owned(),
        "--base-url".to_owned(),
        format!("{}/", api.url),
        "--cache-url".to_owned(),
        cache.path().display().to_string(),
    ];
    args.extend(extra_args.iter().cloned());
    let outcomes = play(binary, &args, steps, &mut transcript::Printer::quiet())?;
    let mut problems: Vec<String> = steps
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| outcome.is_error)
        .map(|(step, outcome)| format!("step `{}` ({}): {}", step.title, step.tool, outcome.text))
        .collect();
    problems.extend(
        api.unanswered()
            .into_iter()
            .map(|miss| format!("the fixtures cannot answer {miss}")),
    );
    if problems.is_empty() {
        Ok(outcomes)
    } else {
        Err(problems.join("\n"))
    }
}

/// The origin the demo's URLs show instead of the fake API's.
const DEMO_ORIGIN: &str = "https://api.buildkite.com";

/// Makes a fresh recording reproducible: the fake API's address (its
/// port changes every run) becomes [`DEMO_ORIGIN`], times and `Date`
/// headers are fixed, entries are sorted, and an exchange identical to the
/// one before it is dropped (the fixtures never change, so a repeat adds
/// nothing to a replay, and whether a read is repeated or answered from the
/// server's read cache depends on timing), so re-recording unchanged
/// fixtures changes nothing.
/// Returns the number of entries.
fn normalise_recording(har: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(har).map_err(|e| format!("{}: {e}", har.display()))?;
    let mut recording: Value = serde_json::from_str(&without_local_origin(&text))
        .map_err(|e| format!("{}: {e}", har.display()))?;
    let entries = recording["log"]["entries"]
        .as_array_mut()
        .ok_or_else(|| format!("{}: no entries", har.display()))?;
    for entry in entries.iter_mut() {
        entry["startedDateTime"] = json!("2026-08-14T10:00:00.000Z");
        entry["time"] = json!(0);
        entry["timings"] = json!({"send": 0, "wait": 0, "receive": 0});
        if let Some(headers) = entry["response"]["headers"].as_array_mut() {
            headers.retain(|h| {
                !h["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("date"))
            });
        }
    }
    // Concurrent calls arrive in any order: sorting by request (stable, so
    // repeats of one request keep the order they are served in) makes the
    // file the same on every run.
    entries.sort_by_cached_key(|entry| {
        let request = &entry["request"];
        format!(
            "{} {} {}",
            request["url"].as_str().unwrap_or(""),
            request["method"].as_str().unwrap_or(""),
            request["postData"]["text"].as_str().unwrap_or("")
        )
    });
    entries.dedup();
    let count = entries.len();
    // One entry per line, as the recorder writes them, so a re-recording's
    // diff shows which exchanges changed.
    let creator = serde_json::to_string(&recording["log"]["creator"]).map_err(|e| e.to_string())?;
    let mut out = format!("{{\"log\":{{\"version\":\"1.2\",\"creator\":{creator},\"entries\":[\n");
    let lines: Vec<String> = recording["log"]["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(Value::to_string)
        .collect();
    out.push_str(&lines.join(",\n"));
    out.push_str("\n]}}\n");
    std::fs::write(har, out).map_err(|e| format!("{}: {e}", har.display()))?;
    Ok(count)
}

/// A result without what changes from run to run (query timings).
fn comparable(text: &str) -> String {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("query_time_ms");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut value) => {
            strip(&mut value);
            value.to_string()
        }
        Err(_) => text.to_owned(),
    }
}

/// `text` with every `http://127.0.0.1:PORT` replaced by [`DEMO_ORIGIN`].
fn without_local_origin(text: &str) -> String {
    const LOCAL: &str = "http://127.0.0.1:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(LOCAL) {
        out.push_str(&rest[..at]);
        let after = &rest[at + LOCAL.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            out.push_str(LOCAL);
        } else {
            out.push_str(DEMO_ORIGIN);
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// Builds the stdio server (debug profile) and returns its path.
fn build_server(root: &Path) -> Result<PathBuf, String> {
    let cargo = cargo();
    eprintln!("==> cargo build -p bk-mcp-stdio");
    let status = Command::new(&cargo)
        .args(["build", "--quiet", "-p", "bk-mcp-stdio"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build -p bk-mcp-stdio failed ({status})"));
    }
    stdio_binary(&cargo, root)
}

/// Where cargo puts the debug stdio server.
fn stdio_binary(cargo: &str, root: &Path) -> Result<PathBuf, String> {
    Ok(crate::target_dir(cargo, root)?
        .join("debug")
        .join("bk-mcp-stdio"))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole tour against the fixtures, through the stdio binary that
    /// `cargo test --workspace` builds: every step succeeds and every request
    /// is one the fixtures answer. When a tool starts making other requests,
    /// this fails: extend the fixtures and re-record (`cargo xtask demo --record`).
    #[test]
    fn the_tour_plays_against_the_fixtures() {
        let root = crate::workspace_root();
        let binary = stdio_binary(&cargo(), &root).unwrap();
        assert!(
            binary.exists(),
            "{} is missing: run `cargo build -p bk-mcp-stdio` (cargo test --workspace builds it)",
            binary.display()
        );
        let tour = tour::read_tour(&root.join("examples/demo/tour.json")).unwrap();
        let steps: Vec<&TourStep> = tour.iter().collect();
        let outcomes = play_against_fixtures(&binary, &root.join("examples/demo/org"), &steps, &[])
            .unwrap_or_else(|problems| panic!("{problems}"));
        assert_eq!(outcomes.len(), tour.len());
    }

    #[test]
    fn the_fixture_origin_becomes_the_demo_origin() {
        assert_eq!(
            without_local_origin("a http://127.0.0.1:40123/v2/x b http://127.0.0.1:/y"),
            "a https://api.buildkite.com/v2/x b http://127.0.0.1:/y"
        );
    }
}
