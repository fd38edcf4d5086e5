//! `cargo xtask soak [--minutes N | --seconds N] [--clients N] [--fault-rate F] [--seed N] [--debug]`:
//! many concurrent MCP clients call a mix of tools over HTTP, for a long
//! time, against a fake Buildkite API that injects faults into its
//! answers; the task checks the server survives it as it should.
//!
//! - The release `bk-mcp-http` is built (cargo's progress shows), and a
//!   debug xtask hands over to a release one, as the benchmarks do. With
//!   `--debug`, the debug server runs under this xtask as it is: cheap to
//!   build where the tests were built, and debug assertions on (CI's
//!   smoke, `--seconds 20 --clients 8 --debug`).
//! - The fake API ([`crate::fake_api`]) serves the demo organisation and a
//!   build of jobs with generated logs; each kind of fault
//!   ([`crate::fake_api::Fault`]: 500, 502 HTML page, 503 `Retry-After`,
//!   429, a reset, a truncated body, invalid JSON, an empty body, a
//!   redirect loop, a stall) is injected into `--fault-rate` of the API's
//!   answers (default 0.05 each, so half of all answers are faults), drawn
//!   from `--seed`.
//! - The server runs stateless Streamable HTTP with a token, its log cache
//!   in a temporary directory, a time limit per call of [`CALL_LIMIT`]
//!   (`BK_MCP_REQUEST_TIMEOUT`; the server has no setting for one API
//!   request's time, so a stall of [`STALL`] ends at this limit), and the
//!   API read cache at 1 s (`BK_MCP_API_CACHE_TTL`), so reads keep
//!   reaching the faulty API while the cache still works. Its stderr goes
//!   to `<target>/soak/bk-mcp-http.log`.
//! - `--clients` clients (default 32) each loop for the whole run: pick a
//!   call from the mix (`calls`: the demo tour's 43 tools, builds, jobs,
//!   logs), send `tools/call`, and wait at most [`CLIENT_TIMEOUT`] (three
//!   times the server's limit) for the JSON-RPC response with that id.
//!
//! It prints the configuration, progress every 30 s, then a table. The
//! targets: every call answered; no panic in the server's stderr, and the
//! server still running; every error naming its cause (`causes`: not
//! empty, not an HTML page, and the words of a status, a timeout, a
//! broken connection, a redirect, an unreadable body…; those that do not
//! are listed); the server's RSS flat after the warm-up (`memory`). A
//! missed target fails the task.
//!
//! | module | concern |
//! |---|---|
//! | `calls` | the mix of tool calls, and sending one |
//! | `causes` | whether an error names its cause, and which |
//! | `memory` | RSS samples, the warm-up and flatness |
//! | `report` | counting outcomes, the final tables and the targets |

mod calls;
mod causes;
mod memory;
mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::bench_mcp::build::{self, Release};
use crate::bench_mcp::process::{self, environment, http_server};
use crate::bench_mcp::{self as bench, TOKEN};
use crate::fake_api::{Accept, Data, FakeApi, Fault, FaultPlan, Setup};
use memory::Sample;
use report::{Report, Tally};

/// The server's time limit per tool call.
pub const CALL_LIMIT: Duration = Duration::from_secs(10);

/// How long a stalled API answer waits: longer than [`CALL_LIMIT`].
pub const STALL: Duration = Duration::from_secs(15);

/// How long a client waits for its answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(3 * CALL_LIMIT.as_secs());

// A stall must outlast the server's limit, and the client wait for it.
const _: () = assert!(STALL.as_secs() > CALL_LIMIT.as_secs());

/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

const USAGE: &str = "usage: cargo xtask soak [--minutes N | --seconds N] [--clients N] [--fault-rate F] [--seed N] [--debug]

  --minutes N     how long (default 30)
  --seconds N     how long, for short runs
  --clients N     concurrent MCP clients (default 32)
  --fault-rate F  share of API answers given each kind of fault (default 0.05; 10 kinds)
  --seed N        seeds the faults and the clients' choices (default 42)
  --debug         the debug server, and no release xtask (CI's smoke)";

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
struct Options {
    duration: Duration,
    clients: usize,
    fault_rate: f64,
    seed: u64,
    /// Debug builds: no release build, no hand-over.
    debug: bool,
    /// A prebuilt server (passed by the debug xtask to the release one).
    http_bin: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            duration: Duration::from_secs(30 * 60),
            clients: 32,
            fault_rate: 0.05,
            seed: 42,
            debug: false,
            http_bin: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .map(String::as_str)
                    .ok_or_else(|| format!("{arg} needs a value\n\n{USAGE}"))
            };
            let positive = |text: &str| crate::positive_number(arg, text, USAGE);
            match arg.as_str() {
                "--minutes" => options.duration = Duration::from_secs(60 * positive(value()?)?),
                "--seconds" => options.duration = Duration::from_secs(positive(value()?)?),
                "--clients" => {
                    options.clients = usize::try_from(positive(value()?)?)
                        .map_err(|_| format!("--clients: too many\n\n{USAGE}"))?;
                }
                "--fault-rate" => {
                    let text = value()?;
                    options.fault_rate = text
                        .parse::<f64>()
                        .ok()
                        .filter(|rate| (0.0..=0.1).contains(rate))
                        .ok_or_else(|| {
                            format!("--fault-rate: {text:?} is not a share from 0 to 0.1 (10 kinds of fault share one answer)\n\n{USAGE}")
                        })?;
                }
                "--seed" => {
                    let text = value()?;
                    options.seed = text
                        .parse()
                        .map_err(|_| format!("--seed: {text:?} is not a number\n\n{USAGE}"))?;
                }
                "--debug" => options.debug = true,
                "--http-bin" => options.http_bin = Some(PathBuf::from(value()?)),
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

/// Runs the task.
pub fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let http_bin = if options.debug {
        build::executable(&build::cargo_build(&["bk-mcp-http"], false)?, "bk-mcp-http")?
    } else {
        match build::release_http_server("soak", args, options.http_bin.as_deref())? {
            Release::Run(binary) => binary,
            Release::HandedOver => return Ok(()),
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    let result = runtime.block_on(soak(&options, &http_bin));
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// What the workers share.
#[derive(Debug)]
struct Shared {
    tally: Mutex<Tally>,
    next_id: AtomicU64,
}

impl Shared {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn soak(options: &Options, http_bin: &Path) -> Result<(), String> {
    let root = crate::workspace_root();
    let demo = root.join("examples/demo");
    let mix = Arc::new(calls::mix(&demo)?);
    let warm_up = memory::warm_up(options.duration);
    let sample_every =
        (options.duration / 200).clamp(Duration::from_secs(1), Duration::from_secs(5));
    println!("# soak");
    println!();
    println!("machine: {}", bench::machine());
    println!("load average at start: {}", bench::load_average());
    println!(
        "duration {:.0} s (warm-up {:.0} s), {} clients, {} calls in the mix",
        options.duration.as_secs_f64(),
        warm_up.as_secs_f64(),
        options.clients,
        mix.len()
    );
    let kinds: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
    println!(
        "faults: each kind in {:.1}% of API answers (seed {}): {}; a stall waits {} s",
        options.fault_rate * 100.0,
        options.seed,
        kinds.join(", "),
        STALL.as_secs()
    );
    println!(
        "server: {}; call limit {} s, client timeout {} s, API read cache 1 s; RSS every {} s",
        http_bin.display(),
        CALL_LIMIT.as_secs(),
        CLIENT_TIMEOUT.as_secs(),
        sample_every.as_secs()
    );

    let mut data = Data::tree(&demo.join("org"))?;
    calls::add_generated(&mut data);
    let api = FakeApi::start(Setup {
        data,
        accept: Accept::Token(TOKEN),
        record: false,
        delay: Duration::ZERO,
        faults: Some(FaultPlan::every_kind(
            options.fault_rate,
            options.seed,
            STALL,
        )),
    })
    .await?;
    let scratch = tempfile::Builder::new()
        .prefix("soak")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let log_dir = crate::target_dir(&cargo, &root)?.join("soak");
    std::fs::create_dir_all(&log_dir).map_err(|e| format!("{}: {e}", log_dir.display()))?;
    let log_file = log_dir.join("bk-mcp-http.log");
    let env = environment(&[
        ("BUILDKITE_API_TOKEN", TOKEN.to_owned()),
        ("BUILDKITE_BASE_URL", api.url.clone()),
        ("BKLOG_CACHE_URL", scratch.path().display().to_string()),
        ("BK_MCP_REQUEST_TIMEOUT", CALL_LIMIT.as_secs().to_string()),
        ("BK_MCP_API_CACHE_TTL", "1".to_owned()),
    ]);
    let mut server = http_server(http_bin, &env, Some(&log_file))?;
    println!(
        "server log: {}; fake API {}; MCP endpoint {}",
        log_file.display(),
        api.url,
        server.url
    );
    println!();
    let pid = server.pid();
    let cpu_at_start = process::cpu_time(pid)?;

    let shared = Arc::new(Shared {
        tally: Mutex::default(),
        next_id: AtomicU64::new(1),
    });
    let client = crate::bench_mcp::load::client()?;
    let started = Instant::now();
    let deadline = started + options.duration;
    let mut workers = JoinSet::new();
    for index in 0..options.clients {
        let (client, mix, shared) = (client.clone(), Arc::clone(&mix), Arc::clone(&shared));
        let endpoint = server.url.clone();
        let mut rng = fastrand::Rng::with_seed(options.seed.wrapping_add(index as u64));
        workers.spawn(async move {
            while Instant::now() < deadline {
                let call = &mix[rng.usize(..mix.len())];
                let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
                let outcome = calls::send(&client, &endpoint, id, call, CLIENT_TIMEOUT).await;
                shared.tally().record(call, outcome);
            }
        });
    }

    let mut samples = Vec::new();
    let mut next_progress = started + PROGRESS_EVERY;
    let mut ticks = tokio::time::interval(sample_every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                Some(Ok(())) => {}
                Some(Err(error)) => shared.tally().client_failed(format!("a client task failed: {error}")),
                None => break,
            },
            _ = ticks.tick() => {
                if let Ok(memory) = process::memory(pid) {
                    samples.push(Sample { at: started.elapsed(), rss_kib: memory.rss_kib });
                }
                if Instant::now() >= next_progress {
                    next_progress += PROGRESS_EVERY;
                    progress(started.elapsed(), &shared.tally(), samples.last(), &api);
                }
            }
        }
    }
    let elapsed = started.elapsed();
    // Let the last calls' work settle, then look once more.
    tokio::time::sleep(Duration::from_secs(1)).await;
    if let Ok(memory) = process::memory(pid) {
        samples.push(Sample {
            at: elapsed,
            rss_kib: memory.rss_kib,
        });
    }
    let server_cpu = process::cpu_time(pid)
        .map(|cpu| cpu.saturating_sub(cpu_at_start))
        .unwrap_or_default();
    let alive = server.alive();
    let panics: Vec<String> = server
        .log()
        .into_iter()
        .filter(|line| line.contains("panicked"))
        .collect();
    let tally = shared.tally();
    let report = Report {
        elapsed,
        clients: options.clients,
        tally: &tally,
        warm_up,
        memory: memory::judge(&samples, warm_up),
        panics,
        alive,
        server_cpu,
        api_requests: api.hits(),
        faults: api.fault_counts(),
    };
    println!();
    report.print();
    println!();
    println!("load average at end: {}", bench::load_average());
    let missed = report.missed();
    drop(server);
    if missed.is_empty() {
        println!("soak: every target met");
        Ok(())
    } else {
        Err(format!("soak: targets missed: {}", missed.join("; ")))
    }
}

/// One line of progress.
fn progress(elapsed: Duration, tally: &Tally, sample: Option<&Sample>, api: &FakeApi) {
    let seconds = elapsed.as_secs();
    let injected: u64 = api.fault_counts().kinds.iter().map(|k| k.injected).sum();
    println!(
        "[{:>3}:{:02}] {} calls ({:.1}/s), {} tool errors ({} naming no cause), {} unanswered; RSS {}; API {} requests, {} faults",
        seconds / 60,
        seconds % 60,
        tally.calls,
        tally.calls as f64 / elapsed.as_secs_f64().max(1e-9),
        tally.errors,
        tally.uncaused.total(),
        tally.unanswered,
        sample.map_or_else(|| "?".to_owned(), |s| bench::mib(s.rss_kib)),
        api.hits(),
        injected
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().copied().map(String::from).collect()
    }

    #[test]
    fn options_default_and_parse() {
        let default = Options::parse(&[]).unwrap();
        assert_eq!(default.duration, Duration::from_secs(1800));
        assert_eq!(
            (default.clients, default.fault_rate, default.seed),
            (32, 0.05, 42)
        );
        let short = Options::parse(&strings(&[
            "--seconds",
            "20",
            "--clients",
            "8",
            "--fault-rate",
            "0.1",
            "--seed",
            "7",
        ]))
        .unwrap();
        assert_eq!(short.duration, Duration::from_secs(20));
        assert_eq!((short.clients, short.fault_rate, short.seed), (8, 0.1, 7));
        assert!(!short.debug && Options::parse(&strings(&["--debug"])).unwrap().debug);
        assert_eq!(
            Options::parse(&strings(&["--minutes", "2"]))
                .unwrap()
                .duration,
            Duration::from_secs(120)
        );
        for bad in [
            &["--seconds", "0"][..],
            &["--clients"],
            &["--fault-rate", "0.2"],
            &["--fault-rate", "x"],
            &["--seed", "-1"],
            &["--fast"],
        ] {
            assert!(Options::parse(&strings(bad)).is_err(), "{bad:?}");
        }
    }
}
