//! Child processes (always killed when dropped, also on errors and panics)
//! and what `/proc` says about them.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Kills and reaps the child when dropped.
#[derive(Debug)]
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

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

/// A running `bk-mcp-http`.
#[derive(Debug)]
pub struct HttpServer {
    guard: Guard,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// From spawn to the "listening on" log line.
    pub startup: Duration,
    /// Everything it wrote on stderr.
    log: Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    /// Starts the server on a free port and waits for its "listening on" line.
    pub fn start(binary: &Path, env: &[(OsString, OsString)]) -> Result<HttpServer, String> {
        let start = Instant::now();
        let child = Command::new(binary)
            .args(["--listen", "127.0.0.1:0"])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut guard = Guard(child);
        let stderr = guard
            .0
            .stderr
            .take()
            .ok_or("the server's stderr is not piped")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn({
            let log = Arc::clone(&log);
            move || drain(stderr, &log, &sender)
        });
        let url = match receiver.recv_timeout(Duration::from_secs(15)) {
            Ok(url) => url,
            Err(_) => {
                drop(guard);
                let log = log.lock().map(|l| l.join("\n")).unwrap_or_default();
                return Err(format!(
                    "bk-mcp-http did not say where it listens within 15 s; its stderr:\n{log}"
                ));
            }
        };
        Ok(HttpServer {
            guard,
            url,
            startup: start.elapsed(),
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.guard.0.id()
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.guard.0.try_wait(), Ok(None))
    }

    /// The stderr lines written so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Reads stderr to the end (so the pipe never fills), sending the URL from
/// the "listening on" line.
fn drain(stderr: impl Read, log: &Mutex<Vec<String>>, sender: &mpsc::Sender<String>) {
    let mut sent = false;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if !sent && let Some(url) = listening_url(&line) {
            let _ = sender.send(url);
            sent = true;
        }
        if let Ok(mut log) = log.lock() {
            log.push(line);
        }
    }
}

/// `http://127.0.0.1:PORT/mcp` from a `listening on http://…/mcp` log line
/// (text or JSON, with or without colours).
fn listening_url(line: &str) -> Option<String> {
    let rest = &line[line.find("listening on http://")? + "listening on ".len()..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\\' | '\u{1b}'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
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
    fn finds_the_url_in_text_and_json_lines() {
        let text = "2025-01-01T00:00:00.000000Z  INFO listening on http://127.0.0.1:43111/mcp version=\"0.1.0\" tools=56";
        assert_eq!(
            listening_url(text).as_deref(),
            Some("http://127.0.0.1:43111/mcp")
        );
        let json = r#"{"fields":{"message":"listening on http://127.0.0.1:8080/mcp","tools":56}}"#;
        assert_eq!(
            listening_url(json).as_deref(),
            Some("http://127.0.0.1:8080/mcp")
        );
        let ansi = "\u{1b}[32m INFO\u{1b}[0m listening on http://127.0.0.1:9/mcp\u{1b}[0m";
        assert_eq!(
            listening_url(ansi).as_deref(),
            Some("http://127.0.0.1:9/mcp")
        );
        assert_eq!(listening_url("INFO stopped"), None);
    }

    #[test]
    fn reads_its_own_memory_and_cpu() {
        let pid = std::process::id();
        let memory = memory(pid).unwrap();
        assert!(memory.rss_kib > 0 && memory.hwm_kib >= memory.rss_kib);
        assert!(cpu_time(pid).is_ok());
    }
}
