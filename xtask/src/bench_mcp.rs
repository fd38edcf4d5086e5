//! `cargo xtask bench-mcp`: the benchmark of the MCP frontends.
//!
//! 1. stdio cold start: spawn the release `bk-mcp-stdio`, write
//!    `initialize`, time the response line (reference: spawning `/bin/true`).
//! 2. HTTP `tools/call` throughput and latency at several concurrencies,
//!    stateless JSON POSTs to `bk-mcp-http`, against a zero-latency fake
//!    Buildkite API in this process (reference: the fake API alone).
//! 3. The server's memory idle and under load.
//! 4. A soak: many calls at the highest concurrency, zero errors required,
//!    memory sampled to see that it stays flat.
//!
//! Everything runs on 127.0.0.1, stops by itself, and the servers are
//! killed when the benchmark ends, also on errors. The load generator must
//! not be a debug build, so a debug `cargo xtask` builds the release xtask
//! and hands over to it.

pub mod build;
pub mod load;
pub mod process;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::fake_api::{Accept, Data, FakeApi, Setup};
use build::{cargo_build_release, executable, run_in_release};
use load::{Call, Outcome, Sample, Stop};

/// The token the servers are started with, and the fake API expects.
pub const TOKEN: &str = "bkua_benchmark0000000000000000000000000000";

const USAGE: &str = "usage: cargo xtask bench-mcp [--quick] [--runs N] [--duration SECONDS] [--soak CALLS] [--concurrency 1,16,64]

  --quick          smoke run: 10 cold starts, 1 s per level, a 5,000-call soak
  --runs N         stdio cold starts to time (default 30)
  --duration S     seconds per throughput measurement (default 5)
  --soak N         tools/call in the soak, at the highest concurrency (default 100000)
  --concurrency L  comma-separated client counts (default 1,16,64)";

/// Cold start target for the stdio server (median).
const COLD_START_TARGET: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
struct Options {
    quick: bool,
    runs: usize,
    duration: Duration,
    soak: u64,
    levels: Vec<usize>,
    /// Prebuilt binaries (passed by the debug xtask to the release one).
    stdio_bin: Option<PathBuf>,
    http_bin: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut options = Options {
            quick,
            runs: if quick { 10 } else { 30 },
            duration: Duration::from_secs(if quick { 1 } else { 5 }),
            soak: if quick { 5_000 } else { 100_000 },
            levels: vec![1, 16, 64],
            stdio_bin: None,
            http_bin: None,
        };
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let mut value = || {
                rest.next()
                    .map(String::as_str)
                    .ok_or_else(|| format!("{arg} needs a value\n\n{USAGE}"))
            };
            let number = |text: &str| crate::positive_number(arg, text, USAGE);
            match arg.as_str() {
                "--quick" => {}
                "--runs" => options.runs = usize::try_from(number(value()?)?).unwrap_or(30),
                "--duration" => options.duration = Duration::from_secs(number(value()?)?),
                "--soak" => options.soak = number(value()?)?,
                "--concurrency" => {
                    options.levels = value()?
                        .split(',')
                        .map(|n| number(n.trim()).map(|n| usize::try_from(n).unwrap_or(1)))
                        .collect::<Result<_, _>>()?;
                }
                "--stdio-bin" => options.stdio_bin = Some(PathBuf::from(value()?)),
                "--http-bin" => options.http_bin = Some(PathBuf::from(value()?)),
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            }
        }
        Ok(options)
    }

    fn top_level(&self) -> usize {
        self.levels.iter().copied().max().unwrap_or(1)
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let (stdio_bin, http_bin) = match (&options.stdio_bin, &options.http_bin) {
        (Some(stdio), Some(http)) => (stdio.clone(), http.clone()),
        _ => {
            let built = cargo_build_release(&["bk-mcp-stdio", "bk-mcp-http"])?;
            (
                executable(&built, "bk-mcp-stdio")?,
                executable(&built, "bk-mcp-http")?,
            )
        }
    };
    if cfg!(debug_assertions) {
        // A debug load generator and fake API would measure themselves.
        let mut extra = args.to_vec();
        extra.extend([
            "--stdio-bin".to_owned(),
            stdio_bin.display().to_string(),
            "--http-bin".to_owned(),
            http_bin.display().to_string(),
        ]);
        return run_in_release("bench-mcp", &extra);
    }
    bench(&options, &stdio_bin, &http_bin)
}

fn bench(options: &Options, stdio_bin: &Path, http_bin: &Path) -> Result<(), String> {
    println!("# bench-mcp{}", if options.quick { " --quick" } else { "" });
    println!();
    println!("machine: {}", machine());
    println!("load average at start: {}", load_average());
    println!("stdio server: {}", stdio_bin.display());
    println!("http server:  {}", http_bin.display());
    println!();

    let cache = tempfile::Builder::new()
        .prefix("bench-mcp-cache")
        .tempdir()
        .map_err(|e| format!("cannot create a cache directory: {e}"))?;
    let cache_url = cache.path().to_string_lossy().into_owned();

    let cold_ok = cold_start(options, stdio_bin, &cache_url)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the Tokio runtime: {e}"))?;
    let soak_ok = runtime.block_on(http(options, http_bin, &cache_url))?;
    runtime.shutdown_timeout(Duration::from_secs(1));

    println!();
    println!("load average at end: {}", load_average());
    match (cold_ok, soak_ok) {
        (_, false) => Err("bench-mcp: the soak had errors or its memory grew".to_owned()),
        (false, true) => {
            println!("note: the stdio cold start missed its target (see above)");
            Ok(())
        }
        (true, true) => Ok(()),
    }
}

// ------------------------------------------------------------ 1. cold start

/// Times stdio cold starts, interleaved with `/bin/true` spawns. Returns
/// whether the median met the target.
fn cold_start(options: &Options, stdio_bin: &Path, cache_url: &str) -> Result<bool, String> {
    let env = process::environment(&[
        ("BUILDKITE_API_TOKEN", TOKEN.to_owned()),
        // Never called: initialize does not reach the API.
        ("BUILDKITE_BASE_URL", "http://127.0.0.1:9".to_owned()),
        ("BKLOG_CACHE_URL", cache_url.to_owned()),
    ]);
    // Warm the page cache; not counted.
    for _ in 0..2 {
        process::stdio_cold_start(stdio_bin, &env)?;
        process::spawn_true()?;
    }
    let mut stdio = Vec::with_capacity(options.runs);
    let mut reference = Vec::with_capacity(options.runs);
    let mut exited = 0;
    for _ in 0..options.runs {
        reference.push(process::spawn_true()?);
        let start = process::stdio_cold_start(stdio_bin, &env)?;
        stdio.push(start.to_initialize);
        exited += usize::from(start.exited_on_eof);
    }
    stdio.sort_unstable();
    reference.sort_unstable();
    let stats = |d: &[Duration]| {
        [
            ms(d[0]),
            ms(percentile(d, 50.0)),
            ms(percentile(d, 90.0)),
            ms(d[d.len() - 1]),
        ]
    };
    println!(
        "## 1. stdio cold start to the initialize response ({} runs)",
        options.runs
    );
    println!();
    let rows = vec![
        row(["", "min", "median", "p90", "max"]),
        row(
            std::iter::once("bk-mcp-stdio: spawn → initialize response".to_owned())
                .chain(stats(&stdio)),
        ),
        row(
            std::iter::once("reference: spawn + wait /bin/true".to_owned())
                .chain(stats(&reference)),
        ),
    ];
    print_table(&rows);
    let median = percentile(&stdio, 50.0);
    let floor = percentile(&reference, 50.0);
    println!();
    println!(
        "median ratio to /bin/true: {:.1}×; the server's own start-up ≈ {} (median minus /bin/true's)",
        median.as_secs_f64() / floor.as_secs_f64().max(1e-9),
        ms(median.saturating_sub(floor)),
    );
    let met = median <= COLD_START_TARGET;
    println!(
        "target: median ≤ {} → {}",
        ms(COLD_START_TARGET),
        if met { "met" } else { "MISSED" }
    );
    println!(
        "exited by itself within 2 s of stdin closing: {exited}/{}",
        options.runs
    );
    println!();
    Ok(met)
}

// ------------------------------------------------------------ 2-4. HTTP

/// What one throughput row measured.
#[derive(Debug)]
struct Row {
    name: &'static str,
    concurrency: usize,
    outcome: Outcome,
    /// Upstream requests per call (MCP rows).
    upstream_per_call: Option<f64>,
    /// Server CPU time per call (MCP rows).
    cpu_per_call: Option<Duration>,
}

async fn http(options: &Options, http_bin: &Path, cache_url: &str) -> Result<bool, String> {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/buildkite-api/tests/fixtures");
    let api = FakeApi::start(Setup {
        data: Data::fixtures(&fixtures)?,
        accept: Accept::Token(TOKEN),
        record: false,
        delay: Duration::ZERO,
        faults: None,
    })
    .await?;
    let env = process::environment(&[
        ("BUILDKITE_API_TOKEN", TOKEN.to_owned()),
        ("BUILDKITE_BASE_URL", api.url.clone()),
        ("BKLOG_CACHE_URL", cache_url.to_owned()),
    ]);
    let mut server = process::http_server(http_bin, &env, None)?;
    let pid = server.pid();
    let started = process::memory(pid)?;
    let client = load::client()?;

    let current_user = Call::tool(&server.url, "current_user", &json!({}));
    let get_build = Call::tool(
        &server.url,
        "get_build",
        &json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}),
    );
    let direct = Call::get(format!("{}/v2/user", api.url));
    verify(&client, &current_user, "sam@example.com").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = process::memory(pid)?;
    verify(&client, &get_build, "job_state_counts").await?;

    println!(
        "## 2. HTTP tools/call: stateless JSON POSTs to {} ({} s per row, closed loop)",
        server.url,
        options.duration.as_secs()
    );
    println!();
    println!(
        "bk-mcp-http start-up (spawn → \"listening on\" logged): {}",
        ms(server.startup)
    );
    println!(
        "fake Buildkite API: {} in this process, zero latency; current_user reads GET /v2/user (310 B), get_build reads the build (10 KB) and its annotations",
        api.url
    );
    println!();

    let top = options.top_level();
    let mut rows = Vec::new();
    let mut load_samples: Vec<Sample> = Vec::new();
    let targets: [(&'static str, &Call, bool); 3] = [
        ("reference: fake API alone, GET /v2/user", &direct, false),
        ("current_user", &current_user, true),
        ("get_build", &get_build, true),
    ];
    for &concurrency in &options.levels {
        for (name, call, mcp) in targets {
            let calls = std::slice::from_ref(call);
            // Warm up the connections (not counted).
            let warm = load::drive(
                &client,
                calls,
                concurrency,
                Stop::Count(concurrency as u64 * 20),
            )
            .await;
            if warm.errors > 0 {
                report_errors(name, &warm);
            }
            let (hits, cpu) = (api.hits(), process::cpu_time(pid)?);
            let work = load::drive(&client, calls, concurrency, Stop::After(options.duration));
            let outcome = if concurrency == top {
                let (outcome, samples) = load::sampled(pid, Duration::from_millis(100), work).await;
                load_samples.extend(samples);
                outcome
            } else {
                work.await
            };
            let requests = outcome.requests().max(1);
            let (upstream_per_call, cpu_per_call) = if mcp {
                let cpu = process::cpu_time(pid)?.saturating_sub(cpu);
                (
                    Some((api.hits() - hits) as f64 / requests as f64),
                    Some(cpu / u32::try_from(requests).unwrap_or(u32::MAX)),
                )
            } else {
                (None, None)
            };
            rows.push(Row {
                name,
                concurrency,
                outcome,
                upstream_per_call,
                cpu_per_call,
            });
        }
    }
    print_throughput(&rows);

    let soak_calls = [current_user.clone(), get_build.clone()];
    let every = Duration::from_millis(if options.quick { 250 } else { 1000 });
    let (soak, soak_samples) = load::sampled(
        pid,
        every,
        load::drive(&client, &soak_calls, top, Stop::Count(options.soak)),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = process::memory(pid)?;
    let alive = server.alive();

    println!();
    println!("## 3. bk-mcp-http memory (VmRSS; VmHWM is the peak)");
    println!();
    let peak_rss = load_samples
        .iter()
        .map(|s| s.memory.rss_kib)
        .max()
        .unwrap_or(0);
    let hwm_load = load_samples
        .iter()
        .map(|s| s.memory.hwm_kib)
        .max()
        .unwrap_or(0);
    print_table(&[
        row(["", "VmRSS", "VmHWM"]),
        row([
            "idle after start-up".to_owned(),
            mib(started.rss_kib),
            mib(started.hwm_kib),
        ]),
        row([
            "idle after one current_user call".to_owned(),
            mib(idle.rss_kib),
            mib(idle.hwm_kib),
        ]),
        row([
            format!(
                "under load: max of {} samples during the c={top} rows",
                load_samples.len()
            ),
            mib(peak_rss),
            mib(hwm_load),
        ]),
        row([
            "idle 2 s after the soak".to_owned(),
            mib(after.rss_kib),
            mib(after.hwm_kib),
        ]),
    ]);

    let flat = print_soak(options, top, &soak, &soak_samples, every);
    let log = server.log();
    let noisy: Vec<&String> = log.iter().skip(1).collect();
    println!();
    println!(
        "server still running at the end: {}; stderr lines after the start-up line: {}",
        if alive { "yes" } else { "NO" },
        noisy.len()
    );
    for line in noisy.iter().take(10) {
        println!("  {line}");
    }
    if api.refused() > 0 {
        println!(
            "fake API refused {} requests (bad token or unknown path)",
            api.refused()
        );
    }
    drop(server);
    Ok(soak.errors == 0 && flat && alive)
}

/// One call that must succeed and mention `expected`.
async fn verify(client: &reqwest::Client, call: &Call, expected: &str) -> Result<(), String> {
    let body = call.body.clone().unwrap_or_default();
    let response = client
        .post(&call.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("tools/call: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() || !text.contains(expected) || text.contains(r#""isError":true"#) {
        return Err(format!(
            "the first tools/call did not work (HTTP {status}): {text}"
        ));
    }
    Ok(())
}

fn report_errors(name: &str, outcome: &Outcome) {
    println!("{name}: {} errors, e.g.:", outcome.errors);
    for sample in &outcome.error_samples {
        println!("  {sample}");
    }
}

fn print_throughput(rows: &[Row]) {
    let mut table = vec![row([
        "",
        "clients",
        "requests",
        "req/s",
        "vs API",
        "p50",
        "p99",
        "errors",
        "upstream/call",
        "server CPU/call",
    ])];
    for r in rows {
        let reference = rows
            .iter()
            .find(|o| o.concurrency == r.concurrency && o.upstream_per_call.is_none())
            .map_or(1.0, |o| o.outcome.per_second());
        table.push(row([
            r.name.to_owned(),
            r.concurrency.to_string(),
            r.outcome.requests().to_string(),
            format!("{:.0}", r.outcome.per_second()),
            format!("{:.2}", r.outcome.per_second() / reference.max(1e-9)),
            ms(r.outcome.percentile(50.0)),
            ms(r.outcome.percentile(99.0)),
            r.outcome.errors.to_string(),
            r.upstream_per_call
                .map_or_else(|| "-".to_owned(), |u| format!("{u:.2}")),
            r.cpu_per_call
                .map_or_else(|| "-".to_owned(), |c| format!("{} µs", c.as_micros())),
        ]));
    }
    print_table(&table);
    println!();
    println!(
        "vs API: throughput as a fraction of the fake API alone at the same concurrency. server CPU/call: \
         bk-mcp-http's user+system time (/proc/<pid>/stat, 10 ms ticks) over the calls."
    );
    println!("load generator, fake API and server share this machine's cores.");
    for r in rows.iter().filter(|r| r.outcome.errors > 0) {
        report_errors(&format!("{} at {}", r.name, r.concurrency), &r.outcome);
    }
}

/// Prints the soak; returns whether it passed (no errors, flat memory).
fn print_soak(
    options: &Options,
    concurrency: usize,
    soak: &Outcome,
    samples: &[Sample],
    every: Duration,
) -> bool {
    println!();
    println!(
        "## 4. soak: {} tools/call (current_user and get_build alternating) at {concurrency} clients",
        options.soak
    );
    println!();
    println!(
        "total {:.2} s, {:.0} req/s, p50 {}, p99 {}, max {}, errors {}",
        soak.elapsed.as_secs_f64(),
        soak.per_second(),
        ms(soak.percentile(50.0)),
        ms(soak.percentile(99.0)),
        ms(soak.percentile(100.0)),
        soak.errors
    );
    if soak.errors > 0 {
        report_errors("soak", soak);
    }
    let Some(first) = samples.first() else {
        println!("no memory samples");
        return false;
    };
    let middle = samples[samples.len() / 2];
    let last = samples[samples.len() - 1];
    let max = samples
        .iter()
        .copied()
        .max_by_key(|s| s.memory.rss_kib)
        .unwrap_or(last);
    println!(
        "VmRSS every {} ms ({} samples):",
        every.as_millis(),
        samples.len()
    );
    let at = |label: &str, s: &Sample| {
        row([
            label.to_owned(),
            format!("{:.1} s", s.at.as_secs_f64()),
            mib(s.memory.rss_kib),
            mib(s.memory.hwm_kib),
        ])
    };
    print_table(&[
        row(["", "at", "VmRSS", "VmHWM"]),
        at("first", first),
        at("middle", &middle),
        at("last", &last),
        at("max", &max),
    ]);
    let limit = first.memory.rss_kib as f64 * 1.2;
    let flat = last.memory.rss_kib as f64 <= limit;
    println!(
        "flat (last ≤ first × 1.2 = {}): {}",
        mib(limit as u64),
        if flat { "yes" } else { "NO: memory grew" }
    );
    let ok = soak.errors == 0 && flat;
    println!(
        "soak: {}",
        if ok {
            "passed (zero errors, flat memory)"
        } else {
            "FAILED"
        }
    );
    ok
}

// ------------------------------------------------------------ formatting

/// Nearest-rank percentile (`p` in 0..=100) of sorted values.
fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    nearest_rank(sorted, p).unwrap_or(Duration::ZERO)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// KiB as MiB with one decimal.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A table row from its cells.
pub(crate) fn row<S: Into<String>>(cells: impl IntoIterator<Item = S>) -> Vec<String> {
    cells.into_iter().map(Into::into).collect()
}

/// Prints rows as a Markdown table: the first column left-aligned, the
/// others right-aligned.
pub(crate) fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut out = String::from("|");
        for (c, width) in widths.iter().enumerate() {
            let cell = cells.get(c).map_or("", String::as_str);
            let _ = if c == 0 {
                write!(out, " {cell:<width$} |")
            } else {
                write!(out, " {cell:>width$} |")
            };
        }
        out
    };
    for (i, r) in rows.iter().enumerate() {
        println!("{}", line(r));
        if i == 0 {
            let mut rule = String::from("|");
            for (c, width) in widths.iter().enumerate() {
                let dashes = "-".repeat(*width);
                let _ = if c == 0 {
                    write!(rule, " {dashes} |")
                } else {
                    write!(rule, " {}: |", &dashes[1..])
                };
            }
            println!("{rule}");
        }
    }
}

/// The CPUs, their model, the memory and the kernel of this machine.
pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or_else(String::new, |kib| {
            format!(", {:.1} GiB RAM", kib as f64 / 1048576.0)
        });
    format!(
        "{cores} CPUs (nproc), {model}{memory}, Linux {}",
        kernel.trim()
    )
}

/// The 1, 5 and 15-minute load averages.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_default_and_quick() {
        let full = Options::parse(&[]).unwrap();
        assert_eq!(
            (full.runs, full.soak, full.levels.clone()),
            (30, 100_000, vec![1, 16, 64])
        );
        assert_eq!(full.duration, Duration::from_secs(5));
        let quick = Options::parse(&["--quick".to_owned()]).unwrap();
        assert_eq!((quick.runs, quick.soak), (10, 5_000));
        assert_eq!(quick.duration, Duration::from_secs(1));
        let custom: Vec<String> = ["--soak", "2_000", "--concurrency", "2,8", "--runs", "5"]
            .map(String::from)
            .to_vec();
        let custom = Options::parse(&custom).unwrap();
        assert_eq!(
            (custom.soak, custom.runs, custom.top_level()),
            (2_000, 5, 8)
        );
        assert!(Options::parse(&["--soak".to_owned()]).is_err());
        assert!(Options::parse(&["--soak".to_owned(), "0".to_owned()]).is_err());
        assert!(Options::parse(&["--bogus".to_owned()]).is_err());
    }

    #[test]
    fn percentile_and_formatting() {
        let d: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 50.0), Duration::from_millis(5));
        assert_eq!(percentile(&d, 90.0), Duration::from_millis(9));
        assert_eq!(ms(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(ms(Duration::from_micros(12345)), "12.3 ms");
        assert_eq!(mib(1536), "1.5 MiB");
    }
}
