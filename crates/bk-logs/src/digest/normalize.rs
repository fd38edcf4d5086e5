//! Error lines made comparable across builds: what changes from run to
//! run (timestamps, ids, durations, temporary paths, ports) replaced by
//! placeholders, so a new error can be told from an old one.

use std::sync::OnceLock;

use regex::Regex;

/// Makes an error line comparable across builds: timestamps, UUIDs, long
/// hex ids, durations and temporary paths are replaced by placeholders and
/// whitespace is collapsed. Line numbers and messages are kept.
pub fn normalize(line: &str) -> String {
    static BEFORE_HEX: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    static HEX: OnceLock<Regex> = OnceLock::new();
    static AFTER_HEX: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let rules = |list: &[(&str, &'static str)]| -> Vec<(Regex, &'static str)> {
        list.iter()
            .map(|(p, r)| (Regex::new(p).expect("normalize rules are valid"), *r))
            .collect()
    };
    let before = BEFORE_HEX.get_or_init(|| {
        rules(&[
            (
                r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?",
                "<ts>",
            ),
            (r"\b\d{2}:\d{2}:\d{2}(\.\d+)?\b", "<time>"),
            (
                r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
                "<id>",
            ),
        ])
    });
    // Hex ids (commit SHAs, object ids): 0x…, or 7+ hex characters with
    // both a digit and a letter, so `spec/a1.rb`, `e2e` and `ed25519` stay.
    let hex = HEX.get_or_init(|| {
        Regex::new(r"(?i)\b(0x[0-9a-f]+|[0-9a-f]{7,})\b").expect("hex rule is valid")
    });
    let after = AFTER_HEX.get_or_init(|| {
        rules(&[
            (
                r"(?:/private)?/(?:tmp|var/folders|var/tmp)/[^\s:'\x22)]+|(?i)[a-z]:\\(?:windows\\temp|users\\[^\\]+\\appdata\\local\\temp)\\[^\s:'\x22)]+",
                "<tmp>",
            ),
            // The agent's checkout directory: /builds/<agent-name>/org/pipeline.
            (r"/builds/[^/\s]+/", "/builds/<agent>/"),
            (
                r"\b((?:\d{1,3}\.){3}\d{1,3}|localhost|\[::1\]):\d{2,5}\b",
                "$1:<port>",
            ),
            (r"(?i)\b(\d+h)?(\d+m)?\d+(\.\d+)?s\b|\b\d+h\d+m\b", "<dur>"),
            (
                r"(?i)\b\d+(\.\d+)?\s?(ms|msec|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)\b",
                "<dur>",
            ),
            (r"\s+", " "),
        ])
    });
    let apply = |text: String, list: &[(Regex, &'static str)]| {
        list.iter().fold(text, |text, (regex, replacement)| {
            match regex.replace_all(&text, *replacement) {
                std::borrow::Cow::Owned(replaced) => replaced,
                std::borrow::Cow::Borrowed(_) => text,
            }
        })
    };
    let text = apply(line.trim().to_owned(), before);
    let text = hex
        .replace_all(&text, |caps: &regex::Captures<'_>| {
            let word = &caps[0];
            let prefixed = word.len() > 2 && word[..2].eq_ignore_ascii_case("0x");
            let mixed = word.bytes().any(|b| b.is_ascii_digit())
                && word.bytes().any(|b| b.is_ascii_alphabetic());
            if prefixed || mixed {
                "<hex>".to_owned()
            } else {
                word.to_owned()
            }
        })
        .into_owned();
    apply(text, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_hides_what_changes_between_builds() {
        let a = normalize(
            "2024-05-01T10:00:01.123Z FAILED test_upload (1.52s) /tmp/pytest-of-ci/pytest-12/x.txt id=3f2a9c1e-1111-2222-3333-444455556666 sha 9f86d081884c",
        );
        let b = normalize(
            "2024-06-02T11:22:33Z  FAILED test_upload (0.4s) /tmp/pytest-of-ci/pytest-99/x.txt id=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee sha 1a2b3c4d5e6f",
        );
        assert_eq!(a, b);
        assert!(a.contains("FAILED test_upload"), "{a}");
        assert_ne!(
            normalize("error in spec/a1_spec.rb"),
            normalize("error in spec/b2_spec.rb")
        );
        assert_eq!(normalize("e2e a1b2c3 failed"), "e2e a1b2c3 failed");
        assert_eq!(
            normalize(
                "refused 127.0.0.1:54321 in /var/lib/buildkite-agent/builds/ip-10-0-1-23-1/acme/web after 1m30s"
            ),
            normalize(
                "refused 127.0.0.1:40001 in /var/lib/buildkite-agent/builds/ci-7/acme/web after 2m5s"
            )
        );
        // Line numbers are kept: a different location is a different error.
        assert_ne!(
            normalize("src/lib.rs:10: error"),
            normalize("src/lib.rs:12: error")
        );
    }
}
