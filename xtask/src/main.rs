//! Developer tasks, run as `cargo xtask <task>`.
//!
//! - `ci`: the checks `.ci/run` makes (format, clippy, tests, docs, package).

use std::process::{Command, ExitCode};

/// One check: a name and the cargo invocation that performs it.
struct Step {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

/// The CI checks, cheapest first.
const CI_STEPS: &[Step] = &[
    Step {
        name: "format",
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        name: "tests",
        args: &["test", "--workspace"],
        env: &[],
    },
    Step {
        name: "docs",
        args: &["doc", "--workspace", "--no-deps"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
    Step {
        name: "package buildkite-api",
        args: &["package", "-p", "buildkite-api", "--allow-dirty"],
        env: &[],
    },
];

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("ci") => run_all(CI_STEPS),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  ci    format, clippy, tests, docs and packaging checks"
            );
            ExitCode::from(2)
        }
    }
}

fn run_all(steps: &[Step]) -> ExitCode {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    for step in steps {
        eprintln!("==> {}: cargo {}", step.name, step.args.join(" "));
        let status = Command::new(&cargo)
            .args(step.args)
            .envs(step.env.iter().copied())
            .status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!("==> {} failed ({status})", step.name);
                return ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!("==> {}: could not run cargo: {error}", step.name);
                return ExitCode::FAILURE;
            }
        }
    }
    eprintln!("==> all checks passed");
    ExitCode::SUCCESS
}
