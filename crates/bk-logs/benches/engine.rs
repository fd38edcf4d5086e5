//! Log-engine benchmark. Run it with `cargo xtask bench-logs`, which
//! generates a realistic log and points `BKLOGS_BENCH_LOG` at it.
//!
//! Prints each figure and its ratio against a reference run in the same
//! process: ripgrep (`rg -c`) on the same visible text for search, and a
//! plain `memchr` line count for parsing. Machines are noisy, so each figure
//! is the best of several runs. `BKLOGS_BENCH_PARSE_ONLY=1` stops after the
//! parse figures, for profiling the parser.

#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bk_logs::parse::{Parser, ParserOptions, Row};
use bk_logs::{EntryKey, LogCache, SearchQuery};

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f();
        best = best.min(start.elapsed());
        last = Some(value);
    }
    (best, last.unwrap())
}

fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn gib_per_s(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / (1u64 << 30) as f64 / time.as_secs_f64()
}

fn ms(time: Duration) -> f64 {
    time.as_secs_f64() * 1000.0
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let Ok(path) = std::env::var("BKLOGS_BENCH_LOG") else {
        eprintln!("engine bench: set BKLOGS_BENCH_LOG, or run `cargo xtask bench-logs`; skipping");
        return;
    };
    let raw = std::fs::read(&path).unwrap();
    let raw_len = raw.len() as u64;
    println!("log: {path} ({:.1} MiB)", raw_len as f64 / (1 << 20) as f64);

    // Reference for parsing: counting lines with memchr, the floor for any
    // line-oriented parser.
    let (t_lines, lines) = best_of(5, || memchr::memchr_iter(b'\n', &raw).count());
    // Parse only: rows produced and dropped.
    let (t_parse, rows) = best_of(5, || {
        let mut count = 0u64;
        let mut sink = |_: &Row<'_>| {
            count += 1;
            Ok(())
        };
        let mut parser = Parser::new(ParserOptions::default());
        parser.feed(&raw, &mut sink).unwrap();
        parser.finish(&mut sink).unwrap();
        count
    });
    assert_eq!(rows as usize, lines + usize::from(!raw.ends_with(b"\n")));
    drop(raw);
    let parse_only = std::env::var_os("BKLOGS_BENCH_PARSE_ONLY").is_some();
    println!(
        "parse:             {:8.1} ms  {:5.2} GiB/s  ({rows} rows; memchr line count {:.1} ms, ratio {:.1}x)",
        ms(t_parse),
        gib_per_s(raw_len, t_parse),
        ms(t_lines),
        t_parse.as_secs_f64() / t_lines.as_secs_f64()
    );

    if parse_only {
        return; // for profiling the parser: BKLOGS_BENCH_PARSE_ONLY=1
    }

    // Cold ingest: parse, index and write the cache entry, from the file.
    let dir = tempfile::tempdir().unwrap();
    let cache = LogCache::new(dir.path(), 8 << 30).unwrap();
    let key = EntryKey::new("bench", "job");
    let (t_ingest, _) = best_of(3, || {
        cache.remove(&key).unwrap();
        let file = File::open(&path).unwrap();
        cache
            .ingest_reader(&key, file, Some("passed".into()), true)
            .unwrap()
    });
    println!(
        "cold ingest:       {:8.1} ms  {:5.2} GiB/s  (parse + index + checksummed cache write)",
        ms(t_ingest),
        gib_per_s(raw_len, t_ingest)
    );

    let log = cache.open(&key).unwrap().unwrap();
    let info = log.info();
    let entry_bytes = std::fs::metadata(cache.path_for(&key)).unwrap().len();
    println!(
        "cache entry:       {:8.1} MiB  = {:.3}x the visible text ({:.1} MiB), {:.3}x the raw log",
        entry_bytes as f64 / (1 << 20) as f64,
        entry_bytes as f64 / info.text_bytes as f64,
        info.text_bytes as f64 / (1 << 20) as f64,
        entry_bytes as f64 / raw_len as f64
    );

    // Warm queries: open the entry (validating it) and answer, per call.
    let t_tail = median_of(201, || {
        let log = cache.open(&key).unwrap().unwrap();
        assert_eq!(log.tail(50, false).unwrap().len(), 50);
    });
    let middle = info.rows / 2;
    let t_read = median_of(101, || {
        let log = cache.open(&key).unwrap().unwrap();
        assert_eq!(log.read(middle, 500, false).unwrap().len(), 500);
    });
    println!(
        "warm tail(50):     {:8.3} ms  (median, open + validate + read)",
        ms(t_tail)
    );
    println!(
        "warm read(500):    {:8.3} ms  (median, from row {middle})",
        ms(t_read)
    );

    // Search against ripgrep on the same visible text.
    let text_path = dir.path().join("visible.txt");
    {
        let mut out = BufWriter::new(File::create(&text_path).unwrap());
        let mut seek = 0;
        while seek < info.rows {
            for row in log.read(seek, 100_000, false).unwrap() {
                out.write_all(row.content.as_bytes()).unwrap();
                out.write_all(b"\n").unwrap();
            }
            seek += 100_000;
        }
    }
    let pattern = "(?i)error|failed";
    let query = SearchQuery {
        pattern: pattern.into(),
        case_sensitive: true, // the pattern carries its own (?i)
        ..SearchQuery::default()
    };
    let (t_search, hits) = best_of(5, || log.search(&query).unwrap().hits.len());
    let reverse = SearchQuery {
        reverse: true,
        limit: Some(1),
        ..query.clone()
    };
    let (t_last, _) = best_of(5, || log.search(&reverse).unwrap().hits.len());
    match rg_count(&text_path, pattern) {
        Some((t_rg, rg_hits)) => {
            assert_eq!(
                hits as u64, rg_hits,
                "the engine and rg disagree on the matching lines"
            );
            println!(
                "warm search:       {:8.1} ms  ({hits} matching rows; rg -c {:.1} ms, ratio {:.2}x)",
                ms(t_search),
                ms(t_rg),
                t_search.as_secs_f64() / t_rg.as_secs_f64()
            );
        }
        None => println!(
            "warm search:       {:8.1} ms  ({hits} matching rows; rg not installed)",
            ms(t_search)
        ),
    }
    println!("reverse, last hit: {:8.1} ms", ms(t_last));
    if let Some(rss) = peak_rss_mib() {
        println!(
            "peak RSS:          {rss:8.1} MiB  (includes the whole raw log read into memory for the parse figures)"
        );
    }
}

/// Times `rg -c` (best of 5) and returns its count.
fn rg_count(path: &Path, pattern: &str) -> Option<(Duration, u64)> {
    let run = || {
        Command::new("rg")
            .args(["-c", pattern])
            .arg(path)
            .output()
            .ok()
    };
    run()?;
    let (time, output) = best_of(5, || run().unwrap());
    let count = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .ok()?;
    Some((time, count))
}
