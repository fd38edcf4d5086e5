//! Developer tasks, run as `cargo xtask <task>`.
//!
//! - `ci`: every check CI makes, in one list (`.ci/run` installs what they
//!   need, then runs it; see `ci`).
//! - `gen-log <path> [--size 100MiB] [--seed 42]`: writes a realistic
//!   generated job log (see `bk_loggen::generate`).
//! - `bench-logs [--size 100MiB]`: generates a log and runs the log-engine
//!   benchmark on it, in release mode, with ripgrep as the reference.
//! - `conformance`: the official MCP conformance suite against bk-mcp
//!   (stateless and stateful HTTP, and stdio), and the official TypeScript
//!   and Python MCP clients over both transports in both protocol eras.
//! - `bench-mcp`: the MCP frontends' benchmark (cold start, HTTP throughput
//!   and latency, memory, soak), against a local zero-latency fake API.
//! - `demo`: builds the stdio server and plays an investigation of the bundled
//!   demo organisation as an MCP client would, printing a transcript.
//! - `demo-logs <org dir>`: writes the demo organisation's scripted job logs
//!   (`examples/demo/generate.py` runs it; see `demo::logs`).
//! - `docs [--check]`: writes `docs/tools.md` from the tool registry (with
//!   `--check`, fails when the file is stale).
//! - `fuzz [--smoke] [--runs N] [TARGET…]`: builds and runs the cargo-fuzz
//!   targets in `fuzz/` (see `fuzz`).
//! - `soak [--minutes N | --seconds N] [--clients N] [--fault-rate F]
//!   [--seed N] [--debug]`: concurrent MCP clients over HTTP against a fake API that
//!   injects faults, checking answers, error causes, panics and memory
//!   (see `soak`).

mod bench_api;
mod bench_mcp;
mod bench_scale;
mod ci;
mod conformance;
mod demo;
mod docs;
mod fake_api;
mod fuzz;
mod server_process;
mod soak;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("gen-log") => gen_log(&args[1..]),
        Some("bench-logs") => bench_logs(&args[1..]),
        Some("conformance") => conformance::run(&args[1..]),
        Some("bench-api") => bench_api::run(&args[1..]),
        Some("bench-mcp") => bench_mcp::run(&args[1..]),
        Some("bench-scale") => bench_scale::run(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("demo-logs") => demo::logs::run(&args[1..]),
        Some("docs") => docs::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("soak") => soak::run(&args[1..]),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  ci                                   every CI check: format, clippy, tests, docs, demo, otel, conformance, soak, rustdoc, package, fuzz
  gen-log <path> [--size N] [--seed N] write a generated job log (size like 100MiB, 1GiB)
  bench-logs [--size N]                benchmark the log engine (release build, needs rg)
  conformance                          MCP conformance suite and TypeScript and Python clients against the binaries
  bench-api [--agents 1,3,5]           API requests per tool (cold, warm) on the demo build, and investigations per minute under a 200/min budget
  bench-mcp                            benchmark the MCP frontends (release build)
  bench-scale [--quick]                1 replica vs 3 sharing a real S3 gateway and Redis (release build)
  demo [--record]                      play an investigation of the bundled demo organisation
  demo-logs <org dir>                  write the demo's scripted job logs (described on stdin; generate.py runs it)
  docs [--check]                       write docs/tools.md from the tool registry (--check: fail if stale)
  fuzz [--smoke] [--runs N] [TARGET…]  build and run the cargo-fuzz targets (--smoke: 60 s each, the default)
  soak [--minutes N | --seconds N] [--clients N] [--fault-rate F] [--seed N] [--debug]
                                       MCP clients over HTTP against a fake API injecting faults (default 30 min, 32 clients, 5% per fault)";

/// Reads `--name value` from `args`.
fn option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// `text` as a positive whole number (`_` may group its digits), the
/// value of the option `name`; the error ends with `usage`.
fn positive_number(name: &str, text: &str, usage: &str) -> Result<u64, String> {
    text.replace('_', "")
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{name}: {text:?} is not a positive number\n\n{usage}"))
}

/// Parses sizes such as `100MiB`, `1GiB`, `512KiB` or plain bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let multiplier = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?}: use KiB, MiB or GiB")),
    };
    number
        .parse::<u64>()
        .map(|n| n * multiplier)
        .map_err(|_| format!("invalid size {text:?}"))
}

fn gen_log(args: &[String]) -> Result<(), String> {
    let path = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .ok_or_else(|| USAGE.to_owned())?;
    let size = parse_size(option(args, "--size").unwrap_or("100MiB"))?;
    let seed = option(args, "--seed")
        .unwrap_or("42")
        .parse()
        .map_err(|_| "--seed takes a number".to_owned())?;
    write_log(Path::new(path), size, seed)
}

fn write_log(path: &Path, size: u64, seed: u64) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let written = bk_loggen::generate(&mut out, size, seed).map_err(|e| e.to_string())?;
    std::io::Write::flush(&mut out).map_err(|e| e.to_string())?;
    eprintln!("wrote {written} bytes to {}", path.display());
    Ok(())
}

fn bench_logs(args: &[String]) -> Result<(), String> {
    let size = parse_size(option(args, "--size").unwrap_or("100MiB"))?;
    let dir = PathBuf::from("target/bench-logs");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let log = dir.join(format!("generated-{size}.log"));
    if !log.exists() {
        write_log(&log, size, 42)?;
    }
    let log = log.canonicalize().map_err(|e| e.to_string())?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["bench", "-p", "bk-logs", "--bench", "engine"])
        .env("BKLOGS_BENCH_LOG", &log)
        .status()
        .map_err(|e| format!("could not run cargo bench: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the benchmark failed ({status})"))
    }
}

/// The workspace root (xtask's parent directory).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The cargo target directory (honours `CARGO_TARGET_DIR` and cargo's
/// configuration), from `cargo metadata`.
fn target_dir(cargo: &str, root: &Path) -> Result<PathBuf, String> {
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo metadata failed ({})", output.status));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| "cargo metadata has no target_directory".to_owned())
}
