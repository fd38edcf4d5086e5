//! Building the binaries a benchmark or the soak runs: cargo builds whose
//! executables are read from cargo's JSON messages, and the hand-over from
//! a debug xtask to a release one.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What [`release_http_server`] did.
#[derive(Debug)]
pub enum Release {
    /// Run the task here, with this release `bk-mcp-http`.
    Run(PathBuf),
    /// A release xtask ran the task (this one is a debug build).
    HandedOver,
}

/// The release `bk-mcp-http` for `task`: `given` (`--http-bin`), else
/// built now. A debug xtask then hands the task over to a release one,
/// passing `--http-bin`: a debug load generator would measure itself.
pub fn release_http_server(
    task: &str,
    args: &[String],
    given: Option<&Path>,
) -> Result<Release, String> {
    let http_bin = match given {
        Some(bin) => bin.to_path_buf(),
        None => executable(&cargo_build_release(&["bk-mcp-http"])?, "bk-mcp-http")?,
    };
    if cfg!(debug_assertions) {
        let mut extra = args.to_vec();
        extra.extend(["--http-bin".to_owned(), http_bin.display().to_string()]);
        run_in_release(task, &extra)?;
        return Ok(Release::HandedOver);
    }
    Ok(Release::Run(http_bin))
}

/// Runs `cargo xtask TASK ARGS` as a release build of xtask: a debug load
/// generator (or fake API) would measure itself.
pub fn run_in_release(task: &str, args: &[String]) -> Result<(), String> {
    let xtask = executable(&cargo_build_release(&["xtask"])?, "xtask")?;
    let status = Command::new(&xtask)
        .arg(task)
        .args(args)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", xtask.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{task} failed ({status})"))
    }
}

/// `cargo build --release -p …`, returning (target name, executable) pairs.
pub fn cargo_build_release(packages: &[&str]) -> Result<Vec<(String, PathBuf)>, String> {
    cargo_build(packages, true)
}

/// `cargo build [--release] -p …`, returning (target name, executable)
/// pairs; cargo's progress shows on stderr.
pub fn cargo_build(packages: &[&str], release: bool) -> Result<Vec<(String, PathBuf)>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.arg("build");
    if release {
        command.arg("--release");
    }
    command.arg("--message-format=json-render-diagnostics");
    for package in packages {
        command.args(["-p", package]);
    }
    eprintln!(
        "==> cargo build{} -p {}",
        if release { " --release" } else { "" },
        packages.join(" -p ")
    );
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    let stdout = child.stdout.take().ok_or("cargo's stdout is not piped")?;
    let mut built = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading cargo's output: {e}"))?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && let (Some(name), Some(path)) = (
                message["target"]["name"].as_str(),
                message["executable"].as_str(),
            )
        {
            built.push((name.to_owned(), PathBuf::from(path)));
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo: {e}"))?;
    if !status.success() {
        return Err(format!("the build failed ({status})"));
    }
    Ok(built)
}

/// The executable cargo reported for the target `name`.
pub fn executable(built: &[(String, PathBuf)], name: &str) -> Result<PathBuf, String> {
    built
        .iter()
        .find(|(target, _)| target == name)
        .map(|(_, path)| path.clone())
        .ok_or_else(|| format!("cargo did not report the {name} executable"))
}
