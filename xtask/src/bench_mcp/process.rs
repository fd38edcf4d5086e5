//! The servers' environment, a stdio cold start, and what `/proc` says
//! about a process.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::server_process::{Guard, ServerProcess};

/// The environment the servers run with: nothing inherited but `PATH` and
/// `HOME` (no proxy variables, no `RUST_LOG`, no stray `BUILDKITE_*`).
pub fn environment(extra: &[(&str, String)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = ["PATH", "HOME"]
        .iter()
        .filter_map(|name| std::env::var_os(name).map(|v| (OsString::from(name), v)))
        .collect();
    env.extend(
        extra
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
    env
}

/// Starts `bk-mcp-http` on a free port with only `env`, and waits for its
/// "listening on" line; with `log_file`, its stderr is written there too.
pub fn http_server(
    binary: &Path,
    env: &[(OsString, OsString)],
    log_file: Option<&Path>,
) -> Result<ServerProcess, String> {
    let mut command = Command::new(binary);
    command
        .args(["--listen", "127.0.0.1:0"])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)));
    ServerProcess::start(&mut command, log_file, Duration::from_secs(15))
}

/// Memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Peak resident set size (`VmHWM`).
    pub hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` from `/proc/<pid>/status`.
pub fn memory(pid: u32) -> Result<Memory, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let field = |name: &str| -> Result<u64, String> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| format!("{path}: no {name}"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// User + system CPU time the process has used (all its threads, living
/// or exited), from `/proc/<pid>/stat`. Assumes the usual 100 clock ticks
/// per second, so the resolution is 10 ms.
pub fn cpu_time(pid: u32) -> Result<Duration, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // Fields after the command name, which is in parentheses: state is
    // field 3, utime 14 and stime 15.
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| format!("{path}: unexpected format"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64, String> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{path}: unexpected format"))
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_millis(total * 10))
}

/// The `initialize` request a client sends first.
const INITIALIZE: &str = concat!(
    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","#,
    r#""capabilities":{},"clientInfo":{"name":"bench-mcp","version":"0.1.0"}}}"#,
    "\n"
);

/// One cold start of the stdio server.
#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    /// From spawn to the complete initialize response line.
    pub to_initialize: Duration,
    /// Whether it exited by itself within 2 s of stdin closing.
    pub exited_on_eof: bool,
}

/// Spawns the stdio server, writes `initialize` and times the response.
pub fn stdio_cold_start(binary: &Path, env: &[(OsString, OsString)]) -> Result<ColdStart, String> {
    let start = Instant::now();
    let child = Command::new(binary)
        .arg("stdio")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut guard = Guard(child);
    let mut stdin = guard.0.stdin.take().ok_or("stdin is not piped")?;
    let stdout = guard.0.stdout.take().ok_or("stdout is not piped")?;
    stdin
        .write_all(INITIALIZE.as_bytes())
        .and_then(|()| stdin.flush())
        .map_err(|e| format!("writing initialize: {e}"))?;
    // Read on a thread so a server that never answers cannot hang us: on
    // timeout the guard kills it, which ends the read.
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let result = BufReader::new(stdout).read_line(&mut line).map(|_| line);
        let _ = sender.send((result, Instant::now()));
    });
    let (line, at) = receiver
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| "no initialize response within 10 s".to_owned())?;
    let line = line.map_err(|e| format!("reading the initialize response: {e}"))?;
    let to_initialize = at - start;
    let response: serde_json::Value = serde_json::from_str(&line)
        .map_err(|e| format!("the initialize response is not JSON ({e}): {line:?}"))?;
    if response["id"] != 1 || !response["result"]["serverInfo"].is_object() {
        return Err(format!("unexpected initialize response: {line}"));
    }
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(2);
    let exited_on_eof = loop {
        match guard.0.try_wait() {
            Ok(Some(_)) => break true,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => break false,
        }
    };
    Ok(ColdStart {
        to_initialize,
        exited_on_eof,
    })
}

/// Spawns `/bin/true` and waits for it: the floor of process creation here.
pub fn spawn_true() -> Result<Duration, String> {
    let start = Instant::now();
    let status = Command::new("/bin/true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run /bin/true: {e}"))?;
    if !status.success() {
        return Err(format!("/bin/true failed ({status})"));
    }
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_memory_and_cpu() {
        let pid = std::process::id();
        let memory = memory(pid).unwrap();
        assert!(memory.rss_kib > 0 && memory.hwm_kib >= memory.rss_kib);
        assert!(cpu_time(pid).is_ok());
    }
}
