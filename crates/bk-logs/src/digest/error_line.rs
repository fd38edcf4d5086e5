//! Which log lines are errors: the pattern a candidate must match, the
//! look-alikes that are not (`0 failed`, `--ignore-errors`, passing tests,
//! package managers' progress), and the agent's generic exit lines, which
//! count only when nothing more specific exists.

use std::sync::OnceLock;

use regex::Regex;

use crate::query::LogRow;

/// The pattern a candidate error line must match (case-insensitive).
pub const ERROR_PATTERN: &str = r"(?i)(?-u:\b)(error|errors|failed|failure|failures|fatal|panic|panicked|exception|traceback|segmentation fault|timed out|timeout|killed|aborted|cannot|could not|unable to|not found|denied)(?-u:\b)|exit(ed)?( with)? (status|code) [1-9]|^[ \t]*E[ \t]{2,}|(?-i:(?-u:\b)FAIL(ED)?(?-u:\b))|(?-u:\b)error\[E\d+\]|(?-u:\b)ERR!|(?-i:(?-u:\b)[A-Z][A-Za-z0-9]*(?:Error|Exception)(?-u:\b))";

pub(super) fn error_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(ERROR_PATTERN).expect("ERROR_PATTERN is valid"))
}

/// Lines that mention errors without reporting one (`no errors`,
/// `--ignore-errors`, `error_log`, `Cache not found`).
fn benign_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)(?-u:\b)(no|zero) (errors?|failures?|tests? failed)(?-u:\b)|ignore-errors|if-no-files-found:\s*error|(?-u:\b)error(_|-)?(log|level|handler|reporting|page)s?(?-u:\b)|(?-u:\b)on[-_]?failure(?-u:\b)|^cache not found|^no cache found")
            .expect("benign pattern is valid")
    })
}

/// Lines that report a pass: test runners' ticks and `ok`s, and package
/// managers' progress (`Compiling error-chain`, `Collecting pytest-timeout`).
fn passing_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(✓|✔|√|PASS |ok |ok$|(Compiling|Collecting|Downloading|Downloaded|Installing|Checking|Fresh|Requirement already satisfied:?) )|\.\.\. ok$|\bPASSED\b")
            .expect("passing pattern is valid")
    })
}

/// Counts of failures and errors on a line (`3 failed`, `Errors: 0`).
fn counts_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)(?-u:\b)(\d+) (?:tests? )?(?:failed|failures?|errors?|failing)(?-u:\b)|(?-u:\b)(?:failed|failures?|errors?)[=:] *(\d+)(?-u:\b)")
            .expect("counts pattern is valid")
    })
}

/// Exception and error class names (`TypeError:`, `java.lang.NullPointerException`).
fn exception_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?-u:\b)[A-Z][A-Za-z0-9]*(?:Error|Exception)(?-u:\b)")
            .expect("exception pattern is valid")
    })
}

/// Whether a line's failure counts say something failed: `Some(true)` for
/// `1 failures, 0 errors`, `Some(false)` for `0 failed`, `None` when the
/// line has no counts.
fn counts_say_failed(line: &str) -> Option<bool> {
    let mut any = None;
    for caps in counts_regex().captures_iter(line) {
        let count = caps
            .get(1)
            .or_else(|| caps.get(2))
            .and_then(|m| m.as_str().parse::<u64>().ok())
            .unwrap_or(0);
        any = Some(any.unwrap_or(false) || count > 0);
    }
    any
}

/// The agent's generic lines about the command's exit, which are true but
/// say nothing about why.
fn generic_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)^\W*(🚨\s*)?(error: )?(the )?(user )?command exited with status \d+|^\W*user command error|^\^\^\^ \+\+\+|^\s*exit status \d+\s*$|^\W*exited with (status|code) \d+\W*$|^\s*FAIL\s*$|^error command failed with exit code \d+|^npm err! (code|errno) |^make(\[\d+\])?: \*\*\* .*error \d+|^\W*(failed examples|failures|failed tests|failing tests|summary of all failing tests)\s*:?\s*$")
            .expect("generic pattern is valid")
    })
}

/// How strongly a line looks like the cause of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The agent's generic exit line.
    Generic,
    /// A specific error line.
    Specific,
}

/// Classifies a line: `None` if it is not an error line.
pub fn classify(line: &str) -> Option<ErrorKind> {
    let line = line.trim();
    if passing_regex().is_match(line) {
        return None;
    }
    // Counts decide when there are any: `1 failures, 0 errors` is a
    // failure, `12 passed; 0 failed` is not.
    match counts_say_failed(line) {
        Some(false) => return None,
        Some(true) => {}
        None => {
            let exception = exception_regex().is_match(line);
            if !exception && (!error_regex().is_match(line) || benign_regex().is_match(line)) {
                return None;
            }
        }
    }
    if generic_regex().is_match(line) {
        Some(ErrorKind::Generic)
    } else {
        Some(ErrorKind::Specific)
    }
}

/// Picks the error row among candidates given newest first: the newest
/// specific error, else the newest generic one.
pub fn pick_error<'a>(candidates: impl IntoIterator<Item = &'a LogRow>) -> Option<&'a LogRow> {
    let mut generic = None;
    for row in candidates {
        match classify(&row.content) {
            Some(ErrorKind::Specific) => return Some(row),
            Some(ErrorKind::Generic) if generic.is_none() => generic = Some(row),
            _ => {}
        }
    }
    generic
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(texts: &[&str]) -> Vec<LogRow> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| LogRow {
                ts: Some(1_000 + i as i64),
                content: (*t).to_owned(),
                row: i as u64,
                group: None,
            })
            .collect()
    }

    #[test]
    fn classify_tells_errors_from_look_alikes() {
        for error in [
            "error[E0308]: mismatched types",
            "FAILED tests/test_api.py::test_login - AssertionError",
            "thread 'main' panicked at src/lib.rs:10:5",
            "Traceback (most recent call last):",
            "E       assert 1 == 2",
            "Error: Process completed with exit code 2",
            "--- FAIL: TestParse (0.00s)",
        ] {
            assert_eq!(classify(error), Some(ErrorKind::Specific), "{error}");
        }
        for benign in [
            "test result: ok. 12 passed; 0 failed; 0 ignored",
            "Ran 30 tests, no errors",
            "errors: 0, warnings: 2",
            "cargo test --no-fail-fast",
            "Compiling serde v1.0.200",
            "",
        ] {
            assert_eq!(classify(benign), None, "{benign}");
        }
        assert_eq!(
            classify("🚨 Error: The command exited with status 1"),
            Some(ErrorKind::Generic)
        );
        assert_eq!(classify("^^^ +++ failed"), Some(ErrorKind::Generic));
        assert_eq!(classify("Exited with status 1"), Some(ErrorKind::Generic));
        // Headers of a test runner's closing summary name no error.
        for header in [
            "Failed examples:",
            "Failures:",
            "failures:",
            "Failed tests:",
        ] {
            assert_eq!(classify(header), Some(ErrorKind::Generic), "{header}");
        }
    }

    #[test]
    fn classify_handles_common_ci_output() {
        for error in [
            "AssertionError: expected 1 to equal 2",
            "TypeError: errorHandler is not a function",
            "Exception in thread \"main\" java.lang.NullPointerException",
            "Finished in 1.2s, 10 runs, 12 assertions, 1 failures, 0 errors",
            "[ERROR] Tests run: 42, Failures: 1, Errors: 0, Skipped: 0 <<< FAILURE!",
            "--- FAIL: TestParse (0.00s)",
            "FAIL\tgithub.com/acme/app/parse\t0.012s",
        ] {
            assert_eq!(classify(error), Some(ErrorKind::Specific), "{error}");
        }
        for passing in [
            "test parse::error ... ok",
            "Collecting pytest-timeout",
            "Compiling error-chain v0.12.4",
            "PASS src/errors.test.js",
            "ok  \tgithub.com/acme/app/errors\t0.01s",
            "✓ handles network failure (12 ms)",
            "✓ returns 404 when not found",
            "Cache not found for key: v1-deps",
            "Tests run: 42, Failures: 0, Errors: 0, Skipped: 0",
        ] {
            assert_eq!(classify(passing), None, "{passing}");
        }
        for generic in [
            "FAIL",
            "error Command failed with exit code 1.",
            "npm ERR! code ELIFECYCLE",
        ] {
            assert_eq!(classify(generic), Some(ErrorKind::Generic), "{generic}");
        }
    }

    #[test]
    fn pick_error_prefers_the_newest_specific_error() {
        let log = rows(&[
            "error: could not compile `app`",
            "assertion failed: left == right",
            "🚨 Error: The command exited with status 1",
        ]);
        let newest_first: Vec<_> = log.iter().rev().collect();
        assert_eq!(pick_error(newest_first).unwrap().row, 1);
        let only_generic = rows(&["ok", "🚨 Error: The command exited with status 1"]);
        assert_eq!(pick_error(only_generic.iter().rev()).unwrap().row, 1);
        assert!(pick_error(rows(&["all good", "0 failed"]).iter().rev()).is_none());
    }
}
