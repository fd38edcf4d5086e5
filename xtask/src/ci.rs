//! `cargo xtask ci`: every check CI makes, in one list. `.ci/run` installs
//! what the checks need (Debian packages) and then runs this; a developer
//! runs the same list the same way.
//!
//! The steps, cheapest first: format, clippy, the README's test command,
//! `docs/tools.md` up to date, the demo's whole tour, the OpenTelemetry
//! export, the official MCP conformance suite and TypeScript and Python
//! clients, a 20 s
//! soak (8 clients against a fake API injecting faults, debug builds; any
//! missed target fails it), rustdoc, packaging the library crates, and a
//! minute of each fuzz target
//! (installing cargo-fuzz first when it is missing). Every cargo step of
//! the workspace is `--locked`. The last lines give the test totals, the
//! disk left and the size of `target/`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::workspace_root;

/// What a step does.
enum Action {
    /// `cargo` with these arguments and environment variables.
    Cargo(
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
    ),
    /// The README's test command, with the totals counted.
    Tests,
    /// The demo's whole tour: only its last line unless it fails.
    Demo,
    /// Installs the pinned conformance tools, then runs them.
    Conformance,
    /// A short soak of the debug HTTP server (`cargo xtask soak`).
    Soak,
    /// Packages the library crates, built together from a clean slate.
    Package,
    /// Installs cargo-fuzz when it is missing, then `cargo xtask fuzz --smoke`.
    Fuzz,
}

/// One check.
struct Step {
    name: &'static str,
    action: Action,
}

/// The library crates that are published, in dependency order.
const PACKAGED: &[&str] = &["buildkite-api", "bk-logs", "bk-fleet", "bk-tools", "bk-mcp"];

/// The arguments of CI's soak.
const SOAK_SMOKE: [&str; 5] = ["--seconds", "20", "--clients", "8", "--debug"];

/// The CI checks, cheapest first.
const STEPS: &[Step] = &[
    Step {
        name: "format",
        action: Action::Cargo(&["fmt", "--all", "--check"], &[]),
    },
    Step {
        name: "clippy",
        action: Action::Cargo(
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        ),
    },
    Step {
        name: "tests (the README's test command)",
        action: Action::Tests,
    },
    Step {
        name: "docs/tools.md matches the tool registry",
        action: Action::Cargo(
            &[
                "run", "--quiet", "--locked", "-p", "xtask", "--", "docs", "--check",
            ],
            &[],
        ),
    },
    Step {
        name: "the demo plays every tour step (the README's first command)",
        action: Action::Demo,
    },
    Step {
        name: "OpenTelemetry export, end to end",
        action: Action::Cargo(
            &[
                "test",
                "-p",
                "bk-mcp-stdio",
                "--features",
                "otel",
                "--test",
                "stdio",
                "--locked",
                "otel::",
            ],
            &[],
        ),
    },
    Step {
        name: "official MCP conformance suite and TypeScript and Python clients",
        action: Action::Conformance,
    },
    Step {
        name: "soak: 20 s, 8 clients, faults in the API's answers (debug builds)",
        action: Action::Soak,
    },
    Step {
        name: "rustdoc (warnings are errors)",
        action: Action::Cargo(
            &["doc", "--workspace", "--no-deps", "--locked"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        ),
    },
    Step {
        name: "package the library crates",
        action: Action::Package,
    },
    Step {
        name: "fuzz targets, a minute each",
        action: Action::Fuzz,
    },
];

/// Runs every step; stops at the first that fails.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(unknown) = args.first() {
        return Err(format!("ci takes no arguments (got {unknown:?})"));
    }
    let root = workspace_root();
    let mut totals = None;
    for step in STEPS {
        println!("==> {}", step.name);
        flush();
        match &step.action {
            Action::Cargo(args, env) => cargo(&root, args, env)?,
            Action::Tests => totals = Some(tests(&root)?),
            Action::Demo => demo(&root)?,
            Action::Conformance => conformance(&root)?,
            Action::Soak => crate::soak::run(&SOAK_SMOKE.map(str::to_owned))?,
            Action::Package => package(&root)?,
            Action::Fuzz => fuzz(&root)?,
        }
    }
    let target = target_dir(&root);
    println!(
        "==> all checks passed (disk: {}; target: {})",
        first_line(
            Command::new("df")
                .args(["-h", "--output=avail,size"])
                .arg(&target),
            1
        )
        .map_or_else(
            || "?".to_owned(),
            |line| line
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" free of ")
        ),
        first_line(Command::new("du").arg("-sh").arg(&target), 0)
            .and_then(|line| line.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "?".to_owned()),
    );
    if let Some((passed, failed)) = totals {
        println!("tests: {passed} passed, {failed} failed");
    }
    Ok(())
}

fn flush() {
    let _ = std::io::stdout().flush();
}

fn cargo_command(root: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(root);
    command
}

/// Runs `cargo args` with `env`; an error names the command.
fn cargo(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let status = cargo_command(root)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}

/// `cargo test --workspace --locked`, its output passed through and the
/// totals of every test binary and doc-test run counted.
fn tests(root: &Path) -> Result<(u64, u64), String> {
    let mut child = cargo_command(root)
        .args(["test", "--workspace", "--locked"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run cargo test: {e}"))?;
    let (mut passed, mut failed) = (0, 0);
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading cargo test's output: {e}"))?;
            println!("{line}");
            if let Some(result) = line.strip_prefix("test result: ") {
                passed += count_before(result, "passed");
                failed += count_before(result, "failed");
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok((passed, failed))
    } else {
        Err(format!(
            "`cargo test --workspace` failed ({status}): {passed} passed, {failed} failed"
        ))
    }
}

/// The number just before `word` in a `test result:` line
/// (`ok. 12 passed; 0 failed; …`).
fn count_before(result: &str, word: &str) -> u64 {
    let words: Vec<&str> = result.split_whitespace().collect();
    words
        .iter()
        .position(|w| w.trim_end_matches(';') == word)
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| words.get(i))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The demo's whole tour, quietly: its last line, or everything on failure.
fn demo(root: &Path) -> Result<(), String> {
    let output = cargo_command(root)
        .args([
            "run", "--quiet", "--locked", "-p", "xtask", "--", "demo", "--all",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run the demo: {e}"))?;
    let transcript = String::from_utf8_lossy(&output.stdout);
    if output.status.success() {
        println!("{}", transcript.lines().last().unwrap_or("(no output)"));
        Ok(())
    } else {
        println!("{transcript}");
        Err(format!("the demo failed ({})", output.status))
    }
}

/// Installs the pinned tools inside `xtask/conformance` (`node_modules/`,
/// `.venv/`), as on a clean machine, with npm's and pip's download caches
/// in the target directory; then runs the suite.
fn conformance(root: &Path) -> Result<(), String> {
    let dir = root.join("xtask/conformance");
    let cache = target_dir(root).join("conformance-cache");
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let run = |command: &mut Command, what: &str| -> Result<(), String> {
        let status = command
            .status()
            .map_err(|e| format!("could not run {what}: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{what} failed ({status})"))
        }
    };
    run(
        Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .env("npm_config_cache", cache.join("npm"))
            .env("npm_config_update_notifier", "false"),
        "npm ci (the conformance suite)",
    )?;
    run(
        Command::new("python3")
            .args(["-m", "venv", "--clear", ".venv"])
            .current_dir(&dir),
        "python3 -m venv",
    )?;
    run(
        Command::new(dir.join(".venv/bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-r",
                "requirements.txt",
            ])
            .current_dir(&dir)
            .env("PIP_CACHE_DIR", cache.join("pip")),
        "pip install (the Python MCP client)",
    )?;
    crate::conformance::run(&[])
}

/// Installs cargo-fuzz when `cargo fuzz` does not run, then fuzzes each
/// target for a minute.
fn fuzz(root: &Path) -> Result<(), String> {
    let installed = cargo_command(root)
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        println!("{}", crate::fuzz::INSTALL);
        let args: Vec<&str> = crate::fuzz::INSTALL.split_whitespace().skip(1).collect();
        cargo(root, &args, &[])?;
    }
    crate::fuzz::run(&["--smoke".to_owned()])
}

/// Packages the library crates; cargo verifies each against the others
/// through a temporary registry.
///
/// Cargo takes what it unpacked and built from an earlier run's registry
/// (same versions) as unchanged, so on a machine that packaged before it
/// would verify stale code: those sources go first, with the fingerprints of
/// what was built from them. The packaged crates are built outside this
/// workspace, without its profile: no debug info there either, and their
/// build goes afterwards.
fn package(root: &Path) -> Result<(), String> {
    let target = target_dir(root);
    remove(&target.join("package"))?;
    let cargo_home = std::env::var_os("CARGO_HOME").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"),
        PathBuf::from,
    );
    let is_ours = |name: &str| {
        PACKAGED.iter().any(|krate| {
            name.strip_prefix(krate)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
        })
    };
    for registry in read_dir(&cargo_home.join("registry/src")) {
        if !file_name(&registry).starts_with('-') {
            continue;
        }
        for unpacked in read_dir(&registry) {
            if is_ours(&file_name(&unpacked)) {
                remove(&unpacked)?;
            }
        }
    }
    let deps = target.join("debug/deps");
    let fingerprints = target.join("debug/.fingerprint");
    for dep in read_dir(&deps) {
        if dep.extension().is_none_or(|ext| ext != "d") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&dep) else {
            continue;
        };
        // A path `…/registry/src/-<registry>/<crate>-<version>/…`.
        let parts: Vec<&str> = text.split(['/', ' ', '\n']).collect();
        let built_from_registry = parts
            .windows(2)
            .any(|pair| pair[0].starts_with('-') && is_ours(pair[1]));
        if !built_from_registry {
            continue;
        }
        let stem = file_name(&dep);
        let Some(hash) = stem
            .trim_end_matches(".d")
            .rsplit('-')
            .next()
            .map(str::to_owned)
        else {
            continue;
        };
        for fingerprint in read_dir(&fingerprints) {
            if file_name(&fingerprint).ends_with(&format!("-{hash}")) {
                remove(&fingerprint)?;
            }
        }
    }
    let mut args = vec!["package"];
    for krate in PACKAGED {
        args.extend(["-p", krate]);
    }
    args.extend(["--locked", "--allow-dirty"]);
    cargo(root, &args, &[("CARGO_PROFILE_DEV_DEBUG", "0")])?;
    remove(&target.join("package"))
}

/// The target directory: `CARGO_TARGET_DIR`, else `target/` at the root.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn read_dir(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes a file or directory tree; a missing one is fine.
fn remove(path: &Path) -> Result<(), String> {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Line `index` of what `command` prints, if it runs.
fn first_line(command: &mut Command, index: usize) -> Option<String> {
    let output = command.stderr(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines().nth(index).map(|line| line.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_totals_are_read_from_result_lines() {
        let line =
            "ok. 192 passed; 3 failed; 1 ignored; 0 measured; 0 filtered out; finished in 7.52s";
        assert_eq!(count_before(line, "passed"), 192);
        assert_eq!(count_before(line, "failed"), 3);
        assert_eq!(count_before("FAILED. garbled", "passed"), 0);
    }

    #[test]
    fn every_packaged_crate_is_a_workspace_member() {
        let root = workspace_root();
        for krate in PACKAGED {
            let manifest = root.join("crates").join(krate).join("Cargo.toml");
            assert!(manifest.exists(), "{} is missing", manifest.display());
        }
    }
}
