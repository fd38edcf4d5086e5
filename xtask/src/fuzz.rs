//! `cargo xtask fuzz [--smoke] [--runs N] [TARGET…]`: builds the cargo-fuzz
//! targets in `fuzz/` (their own workspace) and runs each in turn.
//!
//! - `--smoke` (the default): each target for [`SMOKE_SECONDS`]; CI runs this.
//! - `--runs N`: each target for N executions (the reliability runs use
//!   10,000,000).
//!
//! Targets build with `cargo fuzz build -s none` on the stable toolchain
//! (`RUSTC_BOOTSTRAP=1`; no sanitizer: the code under test is safe Rust).
//! Each run reads and grows `fuzz/corpus/<target>/`, also reads
//! `fuzz/seeds/<target>/` when it exists, and writes libFuzzer's whole
//! output to `fuzz/artifacts/<target>/fuzz.log` (follow it with `tail -f`),
//! where a crashing input goes too. The end is a table of executions,
//! seconds, executions per second and crashes per target; any crash fails
//! the task, after every target has run. Without cargo-fuzz the task says
//! so and how to install it, and fails only under `CI=true`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::workspace_root;

/// The fuzz targets, as `fuzz/Cargo.toml` declares them.
pub const TARGETS: &[&str] = &[
    "parser",
    "har_replay",
    "link_header",
    "stdio_framing",
    "tool_args",
];

/// How long `--smoke` runs each target.
pub const SMOKE_SECONDS: u64 = 60;

/// One input taking longer than this is a failure (a hang).
const TIMEOUT_SECONDS: u64 = 10;

/// The install command CI runs, and the one to give a developer.
pub const INSTALL: &str = "cargo install cargo-fuzz --locked";

/// How long each target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    Seconds(u64),
    Runs(u64),
}

impl Budget {
    fn flag(self) -> String {
        match self {
            Budget::Seconds(seconds) => format!("-max_total_time={seconds}"),
            Budget::Runs(runs) => format!("-runs={runs}"),
        }
    }
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq)]
struct Outcome {
    executions: u64,
    seconds: f64,
    per_second: f64,
    crashes: Vec<String>,
}

/// Parses the arguments: the budget and the targets (all when none named).
fn parse_args(args: &[String]) -> Result<(Budget, Vec<&'static str>), String> {
    let mut budget = None;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--smoke" => budget = Some(Budget::Seconds(SMOKE_SECONDS)),
            "--runs" => {
                let runs = args
                    .next()
                    .and_then(|n| n.replace(['_', ','], "").parse::<u64>().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--runs takes a positive number of executions")?;
                budget = Some(Budget::Runs(runs));
            }
            other if other.starts_with('-') => {
                return Err(format!(
                    "unknown option {other:?}; usage: cargo xtask fuzz [--smoke] [--runs N] [TARGET…]"
                ));
            }
            name => {
                let target = TARGETS.iter().find(|t| **t == name).ok_or_else(|| {
                    format!(
                        "no fuzz target {name:?}; the targets: {}",
                        TARGETS.join(", ")
                    )
                })?;
                if !targets.contains(target) {
                    targets.push(*target);
                }
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    Ok((budget.unwrap_or(Budget::Seconds(SMOKE_SECONDS)), targets))
}

/// Runs the task.
pub fn run(args: &[String]) -> Result<(), String> {
    let (budget, targets) = parse_args(args)?;
    let root = workspace_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    if !installed(&cargo) {
        let message = format!(
            "\n!!! cargo-fuzz is not installed: the fuzz targets did NOT run.\n!!! Install it with: {INSTALL}\n"
        );
        eprintln!("{message}");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            return Err("cargo-fuzz is missing (CI=true)".to_owned());
        }
        return Ok(());
    }
    let started = Instant::now();
    let mut build = fuzz_command(&cargo, &root);
    build.args(["build", "-s", "none"]);
    if targets.len() == 1 {
        build.args(&targets);
    }
    let status = build
        .status()
        .map_err(|e| format!("could not run cargo fuzz build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo fuzz build failed ({status})"));
    }
    println!(
        "fuzz targets built in {:.0} s; each runs {}",
        started.elapsed().as_secs_f64(),
        match budget {
            Budget::Seconds(s) => format!("{s} s"),
            Budget::Runs(n) => format!("{} executions", thousands(n)),
        }
    );
    let mut rows = Vec::new();
    for target in &targets {
        let outcome = run_target(&cargo, &root, target, budget)?;
        println!(
            "{target}: {} executions in {:.0} s ({} crashes)",
            thousands(outcome.executions),
            outcome.seconds,
            outcome.crashes.len()
        );
        rows.push((*target, outcome));
    }
    println!("\n{}", table(&rows));
    println!("(whole task: {:.0} s)", started.elapsed().as_secs_f64());
    let crashed: Vec<String> = rows
        .iter()
        .flat_map(|(target, outcome)| {
            outcome.crashes.iter().map(move |crash| {
                format!("  {target}: {crash}\n    reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run -s none {target} {crash}")
            })
        })
        .collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzzing found crashes:\n{}", crashed.join("\n")))
    }
}

/// Whether `cargo fuzz` runs.
fn installed(cargo: &str) -> bool {
    Command::new(cargo)
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn fuzz_command(cargo: &str, root: &Path) -> Command {
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .arg("fuzz")
        .env("RUSTC_BOOTSTRAP", "1");
    command
}

/// Runs one target, its output to its log; then reads the log.
fn run_target(cargo: &str, root: &Path, target: &str, budget: Budget) -> Result<Outcome, String> {
    let fuzz = root.join("fuzz");
    let corpus = fuzz.join("corpus").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let log_path = artifacts.join("fuzz.log");
    let log = File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    println!("==> fuzz {target} (output: {})", relative(root, &log_path));
    let mut command = fuzz_command(cargo, root);
    command.args(["run", "-s", "none", target]).arg(&corpus);
    let seeds = fuzz.join("seeds").join(target);
    if seeds.is_dir() {
        // Read, never written: new inputs go to the first directory.
        command.arg(&seeds);
    }
    command.args([
        "--".to_owned(),
        budget.flag(),
        format!("-timeout={TIMEOUT_SECONDS}"),
        "-print_final_stats=1".to_owned(),
    ]);
    let started = Instant::now();
    let status = command
        .stdout(log)
        .stderr(log_err)
        .status()
        .map_err(|e| format!("could not run cargo fuzz run: {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log_path).map_err(|e| e.to_string())?;
    let mut outcome = read_log(&text, wall);
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        eprintln!(
            "{target} failed ({status}); the end of its log:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        if outcome.crashes.is_empty() {
            outcome.crashes.push(format!(
                "(exited {status}; see {})",
                relative(root, &log_path)
            ));
        }
    }
    Ok(outcome)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .map_or_else(|_| path.to_path_buf(), PathBuf::from)
        .display()
        .to_string()
}

/// The numbers of a libFuzzer log: executions (`stat::number_of_executed_units`,
/// else the last `#N` or `Done N runs` line) and the inputs written for
/// failures; seconds are `wall` (the run, start-up and corpus included:
/// libFuzzer counts whole seconds), and executions per second follow.
fn read_log(text: &str, wall: f64) -> Outcome {
    let mut outcome = Outcome::default();
    let mut last_count = 0;
    for line in text.lines() {
        let line = line.trim();
        if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            outcome.executions = n.trim().parse().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("Done ")
            && let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse().ok())
        {
            // `Done 1234 runs in 61 second(s)`
            last_count = n;
        } else if let Some(rest) = line.strip_prefix('#')
            && let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse().ok())
        {
            last_count = n;
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            let path = path.trim();
            let name = Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // A slow unit is noted, not a failure.
            if !name.starts_with("slow-unit-") {
                outcome.crashes.push(path.to_owned());
            }
        }
    }
    if outcome.executions == 0 {
        outcome.executions = last_count;
    }
    outcome.seconds = wall;
    outcome.per_second = outcome.executions as f64 / wall.max(0.001);
    outcome
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn table(rows: &[(&str, Outcome)]) -> String {
    let mut out = format!(
        "{:<16} {:>14} {:>9} {:>10} {:>8}\n",
        "target", "executions", "seconds", "exec/s", "crashes"
    );
    for (target, outcome) in rows {
        out.push_str(&format!(
            "{:<16} {:>14} {:>9.0} {:>10} {:>8}\n",
            target,
            thousands(outcome.executions),
            outcome.seconds,
            thousands(outcome.per_second.round() as u64),
            outcome.crashes.len()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn arguments_choose_the_budget_and_the_targets() {
        assert_eq!(
            parse_args(&[]).unwrap(),
            (Budget::Seconds(SMOKE_SECONDS), TARGETS.to_vec())
        );
        assert_eq!(
            parse_args(&strings(&["--runs", "10_000_000", "parser", "tool_args"])).unwrap(),
            (Budget::Runs(10_000_000), vec!["parser", "tool_args"])
        );
        assert!(parse_args(&strings(&["--runs", "0"])).is_err());
        assert!(parse_args(&strings(&["no_such_target"])).is_err());
        assert!(parse_args(&strings(&["--fast"])).is_err());
        assert_eq!(Budget::Runs(5).flag(), "-runs=5");
        assert_eq!(Budget::Seconds(60).flag(), "-max_total_time=60");
    }

    #[test]
    fn a_finished_run_is_read_from_its_final_stats() {
        let log = "INFO: Seed: 1\n#2\tINITED cov: 619 ft: 620 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                   #365870\tDONE   cov: 2013 ft: 9229 corp: 1620/54Kb lim: 149 exec/s: 14071 rss: 34Mb\n\
                   Done 365870 runs in 26 second(s)\n\
                   stat::number_of_executed_units: 365870\n\
                   stat::average_exec_per_sec:     14071\n\
                   stat::new_units_added:          3275\n";
        let outcome = read_log(log, 26.0);
        assert_eq!(outcome.executions, 365_870);
        assert_eq!(outcome.seconds, 26.0);
        assert_eq!(outcome.per_second.round(), 14_072.0);
        assert!(outcome.crashes.is_empty());
    }

    #[test]
    fn a_crash_is_counted_and_a_slow_unit_is_not() {
        let log = "#1024\tpulse  cov: 1 ft: 1 corp: 1/1b exec/s: 512 rss: 30Mb\n\
                   Slowest unit: 3 s:\nartifact_prefix='a/'; Test unit written to a/slow-unit-abc\n\
                   ==1== ERROR: libFuzzer: deadly signal\n\
                   artifact_prefix='a/'; Test unit written to a/crash-055b41\n\
                   stat::number_of_executed_units: 1100\n";
        let outcome = read_log(log, 3.0);
        assert_eq!(outcome.executions, 1_100);
        assert_eq!(outcome.crashes, vec!["a/crash-055b41".to_owned()]);
        assert_eq!(outcome.seconds, 3.0);
        let no_stats = read_log("#4096\tNEW cov: 3\n#4000\tREDUCE cov: 3\n", 2.0);
        assert_eq!(no_stats.executions, 4_000);
        assert_eq!(no_stats.per_second, 2_000.0);
    }

    #[test]
    fn the_table_has_a_row_per_target() {
        let outcome = Outcome {
            executions: 10_000_000,
            seconds: 712.0,
            per_second: 14_044.9,
            crashes: Vec::new(),
        };
        let table = table(&[("parser", outcome)]);
        assert!(table.starts_with("target "), "{table}");
        assert!(table.contains("10,000,000"), "{table}");
        assert!(table.contains("14,045"), "{table}");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
    }

    #[test]
    fn every_target_is_a_bin_of_the_fuzz_crate() {
        let manifest = std::fs::read_to_string(workspace_root().join("fuzz/Cargo.toml"))
            .expect("fuzz/Cargo.toml");
        let bins: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.trim().strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .skip(1) // the package's own name
            .collect();
        assert_eq!(
            bins, TARGETS,
            "fuzz/Cargo.toml's [[bin]]s and TARGETS differ"
        );
        for target in TARGETS {
            let source = workspace_root().join(format!("fuzz/fuzz_targets/{target}.rs"));
            let text = std::fs::read_to_string(&source).expect("the target's source");
            assert!(
                text.starts_with("//!"),
                "{} needs a //! doc",
                source.display()
            );
        }
    }
}
