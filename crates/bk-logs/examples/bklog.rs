//! `bklog`: ingest a local Buildkite log file and query it, for debugging
//! and benchmarks.
//!
//! ```sh
//! cargo run --release -p bk-logs --example bklog -- FILE info
//! cargo run --release -p bk-logs --example bklog -- FILE tail 50
//! cargo run --release -p bk-logs --example bklog -- FILE read 1000 20
//! cargo run --release -p bk-logs --example bklog -- FILE search '(?i)error' -C 2 --limit 10
//! cargo run --release -p bk-logs --example bklog -- FILE groups
//! ```
//!
//! Options: `--cache DIR` (default: a `bklog` folder in the system temp
//! directory), `--force` (re-ingest), `--stats` (time and peak memory on
//! stderr). Search also takes `-A N`, `-B N`, `--reverse`, `--invert`,
//! `--case-sensitive`, `--seek N` and `--group`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use bk_logs::{EntryKey, LogCache, SearchQuery};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bklog: {message}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str = "usage: bklog FILE (info | tail N | read SEEK LIMIT | search PATTERN [options] | groups | group INDEX) [--cache DIR] [--force] [--stats]";

fn flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}

fn value<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("{name} needs a value")),
    }
}

fn number(args: &[String], index: usize, what: &str) -> Result<u64, String> {
    args.get(index)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{what} must be a number\n{USAGE}"))
}

fn print_json(value: &impl serde::Serialize) -> Result<(), String> {
    println!(
        "{}",
        serde_json::to_string(value).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn run(args: &[String]) -> Result<(), String> {
    let (Some(file), Some(command)) = (args.first(), args.get(1)) else {
        return Err(USAGE.to_owned());
    };
    let started = Instant::now();
    let cache_dir: PathBuf =
        value(args, "--cache")?.unwrap_or_else(|| std::env::temp_dir().join("bklog"));
    let cache = LogCache::new(cache_dir, 8 << 30).map_err(|e| e.to_string())?;
    let metadata = std::fs::metadata(file).map_err(|e| format!("{file}: {e}"))?;
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let canonical = std::fs::canonicalize(file).map_err(|e| format!("{file}: {e}"))?;
    let key = EntryKey::new(
        "local",
        format!("{}:{}:{modified}", canonical.display(), metadata.len()),
    );
    let cached = if flag(args, "--force") {
        None
    } else {
        cache.open(&key).map_err(|e| e.to_string())?
    };
    let log = match cached {
        Some(log) => log,
        None => {
            let reader = std::fs::File::open(file).map_err(|e| format!("{file}: {e}"))?;
            let ingest_started = Instant::now();
            let log = cache
                .ingest_reader(&key, reader, None, true)
                .map_err(|e| e.to_string())?;
            if flag(args, "--stats") {
                eprintln!(
                    "ingested in {:.1} ms",
                    ingest_started.elapsed().as_secs_f64() * 1000.0
                );
            }
            log
        }
    };
    match command.as_str() {
        "info" => print_json(&log.info())?,
        "groups" => print_json(&log.groups().map_err(|e| e.to_string())?)?,
        "group" => {
            let index = number(args, 2, "INDEX")? as usize;
            print_json(
                &log.read_group(index, usize::MAX)
                    .map_err(|e| e.to_string())?,
            )?;
        }
        "tail" => {
            let n = number(args, 2, "N")? as usize;
            print_json(
                &log.tail(n, flag(args, "--group"))
                    .map_err(|e| e.to_string())?,
            )?;
        }
        "read" => {
            let seek = number(args, 2, "SEEK")?;
            let limit = number(args, 3, "LIMIT")? as usize;
            print_json(
                &log.read(seek, limit, flag(args, "--group"))
                    .map_err(|e| e.to_string())?,
            )?;
        }
        "search" => {
            let pattern = args.get(2).ok_or_else(|| USAGE.to_owned())?.clone();
            let context: Option<usize> = value(args, "-C")?;
            let query = SearchQuery {
                pattern,
                case_sensitive: flag(args, "--case-sensitive"),
                invert: flag(args, "--invert"),
                before: value(args, "-B")?.or(context).unwrap_or(0),
                after: value(args, "-A")?.or(context).unwrap_or(0),
                reverse: flag(args, "--reverse"),
                seek_start: value(args, "--seek")?,
                limit: value(args, "--limit")?,
                with_group: flag(args, "--group"),
            };
            print_json(&log.search(&query).map_err(|e| e.to_string())?)?;
        }
        other => return Err(format!("unknown command {other:?}\n{USAGE}")),
    }
    if flag(args, "--stats") {
        eprintln!(
            "total {:.1} ms, peak RSS {}",
            started.elapsed().as_secs_f64() * 1000.0,
            peak_rss().unwrap_or_else(|| "unknown".into())
        );
    }
    Ok(())
}

fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_owned())
}
