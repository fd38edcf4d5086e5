//! [`generate`]: a seeded log of any size, streamed. It is what
//! `cargo xtask gen-log` and `bench-logs` write and what the fake Buildkite
//! API serves for generated jobs.
//!
//! The output has what real logs have, in realistic proportions: a
//! timestamp marker on every line, ANSI colour on about a quarter of the
//! lines, group headers (`~~~`, `---`, `+++`) every few hundred lines, git
//! and download progress redraws (`\r` frames with their own markers),
//! `\r\r\n` endings, indented tracebacks, occasional very long lines, and
//! a sprinkling of errors and failures. The same seed gives the same bytes.

use std::io::{self, Write};

use crate::marker;

/// Writes about `target_bytes` of log to `out` (whole lines: a little
/// more), and returns how many bytes it wrote.
pub fn generate(out: &mut impl Write, target_bytes: u64, seed: u64) -> io::Result<u64> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut ts: u64 = 1_745_322_209_921;
    let mut written: u64 = 0;
    let mut line = Vec::with_capacity(64 * 1024);
    let mut step = 0u32;
    while written < target_bytes {
        line.clear();
        ts += rng.u64(0..40);
        marker(&mut line, ts);
        let roll = rng.u32(0..10_000);
        match roll {
            0..=14 => {
                step += 1;
                let prefix = ["~~~ ", "--- ", "+++ "][rng.usize(0..3)];
                write!(
                    line,
                    "{prefix}:package: Step {step}: {}",
                    WORDS[rng.usize(0..WORDS.len())]
                )?;
            }
            15..=40 => progress(&mut line, &mut rng, &mut ts)?,
            41..=46 => {
                write!(
                    line,
                    "\x1b[31mERROR\x1b[0m: {} failed with exit code {}",
                    WORDS[rng.usize(0..WORDS.len())],
                    rng.u8(1..4)
                )?;
            }
            47..=52 => write!(
                line,
                "test_{}_{} ... FAILED",
                WORDS[rng.usize(0..WORDS.len())],
                rng.u32(0..9999)
            )?,
            53..=120 => write!(
                line,
                "    at {}.{} ({}:{})",
                CLASSES[rng.usize(0..CLASSES.len())],
                WORDS[rng.usize(0..WORDS.len())],
                FILES[rng.usize(0..FILES.len())],
                rng.u32(1..900)
            )?,
            121..=123 => {
                // A very long line: minified output, a JSON blob.
                let len = rng.usize(4_000..40_000);
                for _ in 0..len / 8 {
                    write!(line, "{:08x}", rng.u32(..))?;
                }
            }
            124..=140 => {} // an empty line
            141..=2600 => {
                write!(
                    line,
                    "\x1b[90m{}\x1b[0m \x1b[32m{}\x1b[0m {} {}",
                    CLASSES[rng.usize(0..CLASSES.len())],
                    WORDS[rng.usize(0..WORDS.len())],
                    FILES[rng.usize(0..FILES.len())],
                    rng.u32(..)
                )?;
            }
            _ => {
                let words = rng.usize(3..14);
                for i in 0..words {
                    if i > 0 {
                        line.push(b' ');
                    }
                    line.extend_from_slice(WORDS[rng.usize(0..WORDS.len())].as_bytes());
                }
            }
        }
        line.extend_from_slice(if rng.u8(0..4) == 0 {
            b"\r\r\n"
        } else {
            b"\r\n"
        });
        out.write_all(&line)?;
        written += line.len() as u64;
    }
    Ok(written)
}

/// A git-style progress line: many `\r` frames, each with its own marker.
fn progress(line: &mut Vec<u8>, rng: &mut fastrand::Rng, ts: &mut u64) -> io::Result<()> {
    let total = rng.u32(50..5000);
    let frames = rng.u32(5..40);
    for frame in 0..=frames {
        let done = total * frame / frames;
        write!(
            line,
            "Receiving objects: {:3}% ({done}/{total})",
            100 * frame / frames
        )?;
        if frame < frames {
            line.extend_from_slice(b"\x1b[K");
            *ts += rng.u64(0..5);
            marker(line, *ts);
            line.push(b'\r');
        } else {
            line.extend_from_slice(b", done.");
        }
    }
    Ok(())
}

const WORDS: &[&str] = &[
    "compiling",
    "linking",
    "resolving",
    "downloading",
    "installing",
    "running",
    "checking",
    "bundle",
    "webpack",
    "cargo",
    "rspec",
    "pytest",
    "jest",
    "docker",
    "layer",
    "cache",
    "hit",
    "miss",
    "artifact",
    "upload",
    "dependency",
    "module",
    "warning:",
    "deprecated",
    "passed",
    "ok",
    "skipped",
    "retrying",
    "connection",
    "timeout",
    "assert",
    "expected",
    "got",
    "Vec<String>",
    "<stdin>",
    "a && b",
    "done",
];
const CLASSES: &[&str] = &[
    "UserService",
    "OrderController",
    "PaymentGateway",
    "CacheLayer",
    "Scheduler",
    "HttpClient",
];
const FILES: &[&str] = &[
    "src/main.rs",
    "app/models/user.rb",
    "lib/api/client.ts",
    "tests/test_api.py",
    "pkg/server/handler.go",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_of_about_the_size_asked() {
        let log = |seed| {
            let mut out = Vec::new();
            let written = generate(&mut out, 200_000, seed).expect("memory");
            assert_eq!(written, out.len() as u64);
            out
        };
        let one = log(42);
        assert!(one.len() >= 200_000 && one.len() < 300_000, "{}", one.len());
        assert_eq!(one, log(42));
        assert_ne!(one, log(43));
        let text = String::from_utf8_lossy(&one);
        assert!(text.lines().all(|line| line.starts_with("\x1b_bk;t=")));
        assert!(
            ["~~~ ", "--- ", "+++ "]
                .iter()
                .any(|group| text.contains(group))
        );
    }
}
