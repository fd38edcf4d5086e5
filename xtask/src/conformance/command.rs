//! External commands with a time limit: each runs in its own process group,
//! which is killed as a whole when the limit passes (npx starts node
//! underneath, pip its own children).

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::server_process::signal;

/// What to do with a command's stdout and stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    Capture,
    Inherit,
}

/// How a command ended.
#[derive(Debug)]
pub(super) struct Finished {
    pub(super) status: Option<ExitStatus>,
    pub(super) timed_out: bool,
    limit: Duration,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Finished {
    pub(super) fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }

    pub(super) fn describe(&self) -> String {
        match self.status {
            _ if self.timed_out => format!("timed out after {} s", self.limit.as_secs()),
            Some(status) => status.to_string(),
            None => "no exit status".to_owned(),
        }
    }
}

/// Runs `command` in its own process group and kills the whole group if it
/// takes longer than `limit` (npx starts node underneath).
pub(super) fn run_timed(
    command: &mut Command,
    limit: Duration,
    output: Output,
) -> Result<Finished, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    command.stdin(Stdio::null());
    if output == Output::Capture {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    own_process_group(command);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let stdout = child.stdout.take().map(read_in_background);
    let stderr = child.stderr.take().map(read_in_background);
    let deadline = Instant::now() + limit;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                signal(&format!("-{}", child.id()), "KILL");
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    // A grandchild that outlives the command could hold the pipes open.
    let collect = |reader: Option<mpsc::Receiver<String>>| {
        reader
            .and_then(|r| r.recv_timeout(Duration::from_secs(5)).ok())
            .unwrap_or_default()
    };
    Ok(Finished {
        status,
        timed_out,
        limit,
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}

#[cfg(unix)]
fn own_process_group(command: &mut Command) {
    std::os::unix::process::CommandExt::process_group(command, 0);
}

#[cfg(not(unix))]
fn own_process_group(_command: &mut Command) {}

/// Removes the servers' settings from a command's environment, so a token or
/// toolset filter in the developer's shell cannot change what is tested.
pub(super) fn scrub_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if ["BUILDKITE_", "BK_MCP_", "BKLOG_"]
            .iter()
            .any(|prefix| key_text.starts_with(prefix))
            || key_text == "HTTP_LISTEN_ADDR"
            || key_text == "DEBUG"
        {
            command.env_remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server_process::running;

    /// Whether `pid` is gone within 3 s (a killed process stays a zombie
    /// until its new parent reaps it).
    fn gone(pid: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(3);
        while running(pid) {
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
        true
    }

    #[test]
    fn a_command_over_its_limit_is_killed_with_its_children() {
        let started = Instant::now();
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30 & echo $!; wait"]);
        let done = run_timed(&mut command, Duration::from_millis(300), Output::Capture).unwrap();
        assert!(done.timed_out && !done.success(), "{done:?}");
        assert_eq!(done.describe(), "timed out after 0 s");
        assert!(started.elapsed() < Duration::from_secs(10));
        let grandchild = done.stdout.trim();
        assert!(!grandchild.is_empty());
        assert!(gone(grandchild), "sleep {grandchild} survived");

        let mut quick = Command::new("sh");
        quick.args(["-c", "echo out; echo err >&2; exit 3"]);
        let done = run_timed(&mut quick, Duration::from_secs(10), Output::Capture).unwrap();
        assert_eq!(
            (done.stdout.as_str(), done.stderr.as_str()),
            ("out\n", "err\n")
        );
        assert_eq!(done.status.and_then(|s| s.code()), Some(3));
        assert!(
            run_timed(
                &mut Command::new("/nonexistent/tool"),
                Duration::from_secs(10),
                Output::Capture
            )
            .is_err()
        );
    }
}
