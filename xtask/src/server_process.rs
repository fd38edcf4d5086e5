//! Child processes that are always stopped when dropped (also on errors and
//! panics), and `bk-mcp-http` started on a free port: the URL comes from its
//! `listening on http://127.0.0.1:PORT/mcp` log line.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// How long a dropped child gets after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A child process, stopped when dropped: SIGTERM, then SIGKILL if it is
/// still running after [`STOP_GRACE`]; reaped either way.
#[derive(Debug)]
pub struct Guard(pub Child);

impl Guard {
    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.alive() {
            let _ = self.0.wait();
            return;
        }
        signal(&self.0.id().to_string(), "TERM");
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if !self.alive() {
                let _ = self.0.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `signal` (`TERM`, `KILL`, …) to `target`: a pid, or `-PGID` for a
/// whole process group (std can only SIGKILL one process).
pub fn signal(target: &str, signal: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), "--", target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A running server that logged where it listens.
#[derive(Debug)]
pub struct ServerProcess {
    guard: Guard,
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    /// From spawn to the `listening on` log line.
    pub startup: Duration,
    /// Everything it wrote on stderr so far.
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Spawns `command` (stdin and stdout to null, stderr read here) and
    /// waits up to `timeout` for its `listening on http://…/mcp` line. Every
    /// stderr line is kept ([`ServerProcess::log`]) and, with `log_file`,
    /// also written there. The caller sets the program, its arguments
    /// (`--listen 127.0.0.1:0`) and its environment.
    pub fn start(
        command: &mut Command,
        log_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<ServerProcess, String> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut file = log_file
            .map(|path| std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display())))
            .transpose()?;
        let start = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let mut guard = Guard(child);
        let stderr = guard.0.stderr.take().ok_or("stderr is not piped")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn({
            let log = Arc::clone(&log);
            move || drain(stderr, &log, file.as_mut(), &sender)
        });
        let see_file = log_file.map_or_else(String::new, |p| format!("; see {}", p.display()));
        let url = match receiver.recv_timeout(timeout) {
            Ok(url) => url,
            // The reader is done: stderr closed, so the server has exited.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = guard.0.wait().map(|s| s.to_string());
                return Err(format!(
                    "{program} exited before listening ({}): {}{see_file}",
                    status.unwrap_or_else(|e| e.to_string()),
                    last_lines(&log, 5)
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "{program} logged no `listening on` line within {} s: {}{see_file}",
                    timeout.as_secs(),
                    last_lines(&log, 5)
                ));
            }
        };
        Ok(ServerProcess {
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
        self.guard.alive()
    }

    /// The stderr lines written so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// Reads stderr to the end (so the pipe never fills), keeping every line
/// (and writing it to `file`), and sends the URL of the first `listening on`
/// line.
fn drain(
    stderr: impl Read,
    log: &Mutex<Vec<String>>,
    mut file: Option<&mut std::fs::File>,
    sender: &mpsc::Sender<String>,
) {
    let mut sent = false;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if let Some(file) = file.as_mut() {
            let _ = writeln!(file, "{line}");
        }
        let url = (!sent).then(|| listening_url(&line)).flatten();
        if let Ok(mut log) = log.lock() {
            log.push(line);
        }
        if let Some(url) = url {
            let _ = sender.send(url);
            sent = true;
        }
    }
}

/// The last `count` non-empty lines of the log, joined with ` | `.
fn last_lines(log: &Mutex<Vec<String>>, count: usize) -> String {
    let log = log.lock().map(|l| l.clone()).unwrap_or_default();
    let kept: Vec<&str> = log
        .iter()
        .map(String::as_str)
        .filter(|l| !l.trim().is_empty())
        .collect();
    kept[kept.len().saturating_sub(count)..].join(" | ")
}

/// `http://127.0.0.1:PORT/mcp` from bk-mcp-http's `listening on http://…/mcp`
/// log line (text or JSON log format, with or without colours).
fn listening_url(line: &str) -> Option<String> {
    let rest = &line[line.find("listening on http://")? + "listening on ".len()..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\\' | '\u{1b}'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// Whether a process `pid` exists (`kill -0`; a zombie counts).
#[cfg(test)]
pub fn running(pid: &str) -> bool {
    Command::new("kill")
        .args(["-0", pid])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_url_in_text_and_json_lines() {
        let text = "2026-11-29T18:31:47.269933Z  INFO listening on http://127.0.0.1:34539/mcp version=\"0.1.0\" tools=56";
        assert_eq!(
            listening_url(text).as_deref(),
            Some("http://127.0.0.1:34539/mcp")
        );
        let json = r#"{"level":"INFO","fields":{"message":"listening on http://127.0.0.1:80/mcp","tools":56}}"#;
        assert_eq!(
            listening_url(json).as_deref(),
            Some("http://127.0.0.1:80/mcp")
        );
        let escaped = r#"{"message":"listening on http://127.0.0.1:81/mcp\n"}"#;
        assert_eq!(
            listening_url(escaped).as_deref(),
            Some("http://127.0.0.1:81/mcp")
        );
        let coloured = "\u{1b}[32m INFO\u{1b}[0m listening on http://127.0.0.1:9/mcp\u{1b}[0m";
        assert_eq!(
            listening_url(coloured).as_deref(),
            Some("http://127.0.0.1:9/mcp")
        );
        assert_eq!(listening_url("WARN no API token configured"), None);
    }

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn a_server_is_found_by_its_listening_line_and_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let script = "echo 'WARN no token' >&2; echo 'INFO listening on http://127.0.0.1:1/mcp tools=1' >&2; echo 'INFO later' >&2; exec sleep 30";
        let mut server =
            ServerProcess::start(&mut sh(script), Some(&log), Duration::from_secs(10)).unwrap();
        assert_eq!(server.url, "http://127.0.0.1:1/mcp");
        let pid = server.pid().to_string();
        assert!(server.alive() && running(&pid));
        let deadline = Instant::now() + Duration::from_secs(3);
        while server.log().len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            server.log(),
            [
                "WARN no token",
                "INFO listening on http://127.0.0.1:1/mcp tools=1",
                "INFO later"
            ]
        );
        let started = Instant::now();
        drop(server);
        // Reaped by the guard, so the pid is gone at once (no zombie), and
        // `sleep` died of SIGTERM rather than waiting for the SIGKILL.
        assert!(!running(&pid), "server {pid} still running");
        assert!(started.elapsed() < STOP_GRACE);
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "WARN no token\nINFO listening on http://127.0.0.1:1/mcp tools=1\nINFO later\n"
        );
    }

    #[test]
    fn a_server_that_exits_or_stays_silent_is_an_error() {
        let error = ServerProcess::start(
            &mut sh("echo 'bad config' >&2; exit 2"),
            None,
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(
            error.contains("exited before listening") && error.contains("bad config"),
            "{error}"
        );

        let started = Instant::now();
        let error = ServerProcess::start(
            &mut sh("echo starting >&2; exec sleep 30"),
            None,
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(
            error.contains("no `listening on` line within 0 s: starting"),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}
