//! The workspace's one generator of realistic Buildkite job logs, for
//! benchmarks, tests and the demo (not published).
//!
//! - [`Log`]: a log written line by line as the agent writes it: a
//!   `\x1b_bk;t=<ms>\x07` timestamp marker opening every line, `\r\n`
//!   endings, commands, `\r` progress redraws, the agent's closing error.
//!   A line's time is either given (a scripted story, such as the demo's)
//!   or a seeded 0–39 ms after the one before (the same seed, the same
//!   bytes).
//! - [`generate`]: a seeded log of any size (megabytes to gigabytes,
//!   streamed), with what real logs have in realistic proportions: colour,
//!   groups, progress redraws with their own markers, tracebacks, very long
//!   lines, errors.
//!
//! Stories (the demo organisation's jobs, the failure-summary benchmark's
//! red build) write their logs with [`Log`]; this crate holds no story.

mod filler;

use std::cell::RefCell;
use std::fmt::Write as _;

pub use filler::generate;

/// ANSI grey, as the agent colours the `$` before a command.
pub const GREY: &str = "\x1b[90m";
/// ANSI red.
pub const RED: &str = "\x1b[31m";
/// ANSI bold red, as the agent's closing error is.
pub const BOLD_RED: &str = "\x1b[1;31m";
/// ANSI green.
pub const GREEN: &str = "\x1b[32m";
/// ANSI yellow.
pub const YELLOW: &str = "\x1b[33m";
/// ANSI reset.
pub const RESET: &str = "\x1b[0m";

/// Appends the agent's timestamp marker for `ms` (Unix milliseconds).
fn marker(out: &mut Vec<u8>, ms: u64) {
    out.extend_from_slice(b"\x1b_bk;t=");
    out.extend_from_slice(ms.to_string().as_bytes());
    out.push(0x07);
}

/// A raw job log being written: every line opens with a timestamp marker
/// and ends with `\r\n`.
///
/// The random draws take `&self`, so a line can be formatted from them in
/// the call that writes it: `log.line(&format!("{}", log.below(9)))`.
#[derive(Debug)]
pub struct Log {
    out: Vec<u8>,
    /// The last line's time, in Unix milliseconds.
    at: u64,
    rng: RefCell<fastrand::Rng>,
}

impl Log {
    /// A log whose first line is at `start_ms` (Unix milliseconds) or, for
    /// lines without a given time, up to 39 ms after it; `seed` drives
    /// every random choice.
    pub fn new(start_ms: u64, seed: u64) -> Log {
        Log {
            out: Vec::with_capacity(64 * 1024),
            at: start_ms,
            rng: RefCell::new(fastrand::Rng::with_seed(seed)),
        }
    }

    /// A line `after_ms` after the one before (or after the start).
    pub fn line_after(&mut self, after_ms: u64, text: &str) {
        self.at += after_ms;
        marker(&mut self.out, self.at);
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// A line 0–39 ms (seeded) after the one before.
    pub fn line(&mut self, text: &str) {
        let after = self.below(40);
        self.line_after(after, text);
    }

    /// A command as the agent echoes it (`$ command`), `after_ms` after the
    /// line before.
    pub fn cmd_after(&mut self, after_ms: u64, command: &str) {
        self.line_after(after_ms, &format!("{GREY}${RESET} {command}"));
    }

    /// A command as the agent echoes it, 0–39 ms (seeded) after the line
    /// before.
    pub fn cmd(&mut self, command: &str) {
        let after = self.below(40);
        self.cmd_after(after, command);
    }

    /// A progress counter redrawn with `\r` on one line, as git and docker
    /// print it: `label:   0% (0/total)\r…label: 100% (total/total)suffix`.
    pub fn progress(&mut self, label: &str, total: u64, suffix: &str) {
        let mut text = String::new();
        for pct in [0, 4, 11, 19, 27, 38, 46, 55, 63, 71, 80, 88, 95, 100] {
            let _ = write!(text, "{label}: {pct:>3}% ({}/{total})\r", total * pct / 100);
        }
        let _ = write!(text, "{label}: 100% ({total}/{total}){suffix}");
        self.line(&text);
    }

    /// What the agent prints when the command fails with `status`.
    pub fn agent_error(&mut self, status: i32) {
        self.line(&format!(
            "{BOLD_RED}🚨 Error: The command exited with status {status}{RESET}"
        ));
        self.line("^^^ +++");
        self.line(&format!("user command error: exit status {status}"));
    }

    /// A seeded random number below `n` (0 when `n` is 0).
    pub fn below(&self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        self.rng.borrow_mut().u64(..n)
    }

    /// A seeded random 64-bit number.
    pub fn next(&self) -> u64 {
        self.rng.borrow_mut().u64(..)
    }

    /// A seeded random item of `items` (`""` when there is none).
    pub fn pick<'a>(&self, items: &[&'a str]) -> &'a str {
        if items.is_empty() {
            return "";
        }
        let index = self.rng.borrow_mut().usize(..items.len());
        items[index]
    }

    /// The log's bytes so far.
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }

    /// The finished log.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_markers_given_times_and_crlf() {
        let mut log = Log::new(1_000, 7);
        log.line_after(0, "~~~ Preparing");
        log.cmd_after(5, "make");
        assert_eq!(
            log.bytes(),
            b"\x1b_bk;t=1000\x07~~~ Preparing\r\n\x1b_bk;t=1005\x07\x1b[90m$\x1b[0m make\r\n"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_log() {
        let write = |seed| {
            let mut log = Log::new(0, seed);
            for _ in 0..50 {
                let text = format!("{} {}", log.pick(&["a", "b", "c"]), log.below(1000));
                log.line(&text);
            }
            log.progress("Receiving objects", 120, ", done.");
            log.agent_error(1);
            log.into_bytes()
        };
        assert_eq!(write(3), write(3));
        assert_ne!(write(3), write(4));
    }

    #[test]
    fn random_times_never_go_back() {
        let mut log = Log::new(500, 1);
        for _ in 0..100 {
            log.line("x");
        }
        let text = String::from_utf8_lossy(log.bytes()).into_owned();
        let times: Vec<u64> = text
            .split("\x1b_bk;t=")
            .filter_map(|rest| rest.split('\x07').next()?.parse().ok())
            .collect();
        assert_eq!(times.len(), 100);
        assert!(times.windows(2).all(|w| w[0] <= w[1] && w[1] - w[0] < 40));
        assert!(times[0] >= 500);
    }

    #[test]
    fn empty_choices_do_not_panic() {
        let log = Log::new(0, 0);
        assert_eq!(log.below(0), 0);
        assert_eq!(log.pick(&[]), "");
    }
}
