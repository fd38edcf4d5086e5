//! Developer tasks, run as `cargo xtask <task>`.
//!
//! - `ci`: the checks `.ci/run` makes (format, clippy, tests, docs, package).

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("ci") => run_all(&ci_steps()),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  ci    format, clippy, tests, docs and packaging checks"
            );
            ExitCode::from(2)
        }
    }
}

/// The CI checks, in order: cheapest first.
fn ci_steps() -> Vec<(
    &'static str,
    Vec<&'static str>,
    Vec<(&'static str, &'static str)>,
)> {
    vec![
        ("format", vec!["fmt", "--all", "--check"], vec![]),
        (
            "clippy",
            vec![
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            vec![],
        ),
        ("tests", vec!["test", "--workspace"], vec![]),
        (
            "docs",
            vec!["doc", "--workspace", "--no-deps"],
            vec![("RUSTDOCFLAGS", "-D warnings")],
        ),
        (
            "package buildkite-api",
            vec!["package", "-p", "buildkite-api", "--allow-dirty"],
            vec![],
        ),
    ]
}

fn run_all(steps: &[(&str, Vec<&str>, Vec<(&str, &str)>)]) -> ExitCode {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    for (name, args, env) in steps {
        eprintln!("==> {name}: cargo {}", args.join(" "));
        let status = Command::new(&cargo)
            .args(args)
            .envs(env.iter().copied())
            .status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!("==> {name} failed ({status})");
                return ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!("==> {name}: could not run cargo: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!("==> all checks passed");
    ExitCode::SUCCESS
}
