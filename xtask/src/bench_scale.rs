//! `cargo xtask bench-scale [--quick]`: one replica against three behind
//! nginx, sharing a real S3 server (Ceph's RADOS Gateway) and Redis, on
//! this machine, against the fake Buildkite API serving a build of jobs
//! with generated logs, with a realistic latency.
//!
//! Each setup serves the same workload: `clients` concurrent clients call
//! `tail_logs` on randomly chosen jobs (seeded), `calls` calls in all over
//! `jobs` distinct logs. It reports calls per second, latency percentiles,
//! and log downloads per distinct log (the API's cost; 1.00 is one download
//! for the whole fleet). As the reference in the same run, three replicas
//! that share nothing serve the same workload. Last, a fresh replica reads
//! logs that are in the store but not on its disk (a remote-tier hit), then
//! again (a local hit): the difference is what the shared tier adds.

#[path = "../../crates/bk-mcp-http/tests/scale/services.rs"]
#[allow(dead_code)]
mod services;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::bench_mcp::TOKEN;
use crate::bench_mcp::build::{Release, release_http_server};
use crate::bench_mcp::load::{self, Call, Stop};
use crate::bench_mcp::process::{environment, http_server};
use crate::fake_api::{Accept, Data, FakeApi, Setup};
use crate::server_process::ServerProcess;

struct Options {
    quick: bool,
    http_bin: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            quick: false,
            http_bin: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--http-bin" => {
                    options.http_bin =
                        Some(PathBuf::from(args.next().ok_or("--http-bin needs a path")?));
                }
                other => {
                    return Err(format!(
                        "bench-scale: unknown argument {other:?} (try --quick)"
                    ));
                }
            }
        }
        Ok(options)
    }
}

/// The workload of one setup.
#[derive(Debug, Clone, Copy)]
struct Workload {
    jobs: usize,
    calls: u64,
    clients: usize,
    log_bytes: u64,
    api_delay: Duration,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let http_bin = match release_http_server("bench-scale", args, options.http_bin.as_deref())? {
        Release::Run(binary) => binary,
        Release::HandedOver => return Ok(()),
    };
    let workload = if options.quick {
        Workload {
            jobs: 12,
            calls: 240,
            clients: 12,
            log_bytes: 256 << 10,
            api_delay: Duration::from_millis(40),
        }
    } else {
        Workload {
            jobs: 40,
            calls: 1200,
            clients: 24,
            log_bytes: 1 << 20,
            api_delay: Duration::from_millis(40),
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;
    runtime.block_on(bench(&http_bin, workload))
}

/// What one setup measured.
struct Measured {
    name: String,
    outcome: load::Outcome,
    downloads: u64,
    distinct: usize,
}

impl Measured {
    fn downloads_per_log(&self) -> f64 {
        self.downloads as f64 / self.distinct.max(1) as f64
    }
}

async fn bench(http_bin: &Path, workload: Workload) -> Result<(), String> {
    for (part, programs, install) in [
        (
            "Redis",
            vec!["redis-server"],
            "apt-get install redis-server",
        ),
        (
            "nginx",
            vec![services::nginx_binary()],
            "apt-get install nginx-light",
        ),
        (
            "Ceph's RADOS Gateway",
            vec!["radosgw", "ceph-mon", "ceph-osd", "radosgw-admin"],
            "apt-get install radosgw ceph-mon ceph-osd",
        ),
    ] {
        if !services::require(part, &programs, install) {
            return Err(format!("bench-scale needs {part}"));
        }
    }
    let machine = format!(
        "{} cores, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| info.lines().find_map(|l| l
                .strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())))
            .unwrap_or_else(|| "unknown CPU".to_owned())
    );
    eprintln!("==> starting the gateway, Redis and the fake API");
    let (gateway, redis) = tokio::join!(services::Gateway::start(), services::Redis::start());
    let fixtures = crate::workspace_root().join("crates/buildkite-api/tests/fixtures");
    let mut data = Data::fixtures(&fixtures)?;
    let jobs = PREFIXES
        .iter()
        .flat_map(|prefix| (0..workload.jobs).map(move |job| job_id(prefix, job)));
    data.add_generated_build("acme", "web", BUILD_NUMBER, jobs, workload.log_bytes);
    let api = FakeApi::start(Setup {
        data,
        accept: Accept::Token(TOKEN),
        record: false,
        delay: workload.api_delay,
        faults: None,
    })
    .await?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let fleet = FleetEnv {
        http_bin,
        api_url: &api.url,
        gateway: &gateway,
        redis: &redis,
        scratch: scratch.path(),
    };

    let mut results = Vec::new();
    // 1 replica, with the shared parts as in production.
    let one = vec![fleet.replica("one", "one", true)?];
    results.push(
        run_workload(
            "1 replica (shared store + Redis)",
            &one[0].url,
            "one",
            workload,
            &api,
        )
        .await,
    );
    drop(one);
    // 3 replicas behind nginx, sharing.
    let three: Vec<ServerProcess> = (0..3)
        .map(|i| fleet.replica(&format!("three-{i}"), "three", true))
        .collect::<Result<_, _>>()?;
    let nginx = services::Nginx::start(&ports(&three)?).await;
    results.push(
        run_workload(
            "3 replicas behind nginx (shared)",
            &nginx.url("/mcp"),
            "three",
            workload,
            &api,
        )
        .await,
    );
    nginx.stop().await;
    drop(three);
    // Reference: 3 replicas that share nothing.
    let alone: Vec<ServerProcess> = (0..3)
        .map(|i| fleet.replica(&format!("alone-{i}"), "alone", false))
        .collect::<Result<_, _>>()?;
    let nginx = services::Nginx::start(&ports(&alone)?).await;
    results.push(
        run_workload(
            "3 replicas, nothing shared (reference)",
            &nginx.url("/mcp"),
            "alone",
            workload,
            &api,
        )
        .await,
    );
    nginx.stop().await;
    drop(alone);

    // A remote-tier hit against a local hit, on a fresh replica.
    let fresh = fleet.replica("fresh", "three", true)?;
    let client = load::client()?;
    let sample = workload.jobs.min(20);
    let mut remote = Vec::new();
    let mut local = Vec::new();
    let before: u64 = api.log_downloads().values().sum();
    for job in 0..sample {
        let call = tail_call(&fresh.url, "three", job);
        remote.push(timed(&client, &call).await?);
        local.push(timed(&client, &call).await?);
    }
    let fresh_downloads: u64 = api.log_downloads().values().sum::<u64>() - before;
    drop(fresh);

    println!();
    println!("bench-scale: {machine}");
    println!(
        "workload: {} tail_logs calls over {} distinct logs of ~{} KiB, {} concurrent clients, fake API latency {} ms per answer",
        workload.calls,
        workload.jobs,
        workload.log_bytes >> 10,
        workload.clients,
        workload.api_delay.as_millis()
    );
    println!();
    println!(
        "{:<42} {:>9} {:>9} {:>9} {:>7} {:>20}",
        "setup", "calls/s", "p50 ms", "p95 ms", "errors", "downloads per log"
    );
    for m in &results {
        println!(
            "{:<42} {:>9.1} {:>9.1} {:>9.1} {:>7} {:>12.2} ({}/{})",
            m.name,
            m.outcome.per_second(),
            ms(m.outcome.percentile(50.0)),
            ms(m.outcome.percentile(95.0)),
            m.outcome.errors,
            m.downloads_per_log(),
            m.downloads,
            m.distinct
        );
        for sample in &m.outcome.error_samples {
            println!("    error: {sample}");
        }
    }
    if let [one, three, alone] = &results[..] {
        println!();
        println!(
            "3 shared / 1 replica: {:.2}x the calls per second; API log downloads: {:.2} vs {:.2} per log without sharing",
            three.outcome.per_second() / one.outcome.per_second().max(1e-9),
            three.downloads_per_log(),
            alone.downloads_per_log()
        );
    }
    remote.sort();
    local.sort();
    let median = |v: &[Duration]| v.get(v.len() / 2).copied().unwrap_or_default();
    println!(
        "fresh replica, {sample} logs: remote-tier hit median {:.1} ms, local hit median {:.1} ms, added {:.1} ms ({} API log downloads)",
        ms(median(&remote)),
        ms(median(&local)),
        ms(median(&remote).saturating_sub(median(&local))),
        fresh_downloads
    );
    drop(gateway);
    Ok(())
}

/// What every replica of the benchmark is started with.
struct FleetEnv<'a> {
    http_bin: &'a Path,
    api_url: &'a str,
    gateway: &'a services::Gateway,
    redis: &'a services::Redis,
    scratch: &'a Path,
}

impl FleetEnv<'_> {
    /// A release replica with its own local tier; `shared` adds the store
    /// (under `prefix`) and Redis.
    fn replica(&self, name: &str, prefix: &str, shared: bool) -> Result<ServerProcess, String> {
        let local = self.scratch.join(name);
        let mut extra: Vec<(&str, String)> = vec![
            ("BUILDKITE_BASE_URL", self.api_url.to_owned()),
            ("BUILDKITE_API_TOKEN", TOKEN.to_owned()),
            ("BK_MCP_ALLOWED_HOSTS", "127.0.0.1,localhost".to_owned()),
        ];
        if shared {
            extra.push((
                "BKLOG_CACHE_URL",
                format!("s3://{}/bench-{prefix}", services::BUCKET),
            ));
            extra.push(("BKLOG_CACHE_DIR", local.display().to_string()));
            extra.push(("BK_MCP_REDIS_URL", self.redis.url()));
            for (key, value) in self.gateway.env() {
                extra.push((key, value));
            }
        } else {
            extra.push(("BKLOG_CACHE_URL", local.display().to_string()));
        }
        let env: Vec<(OsString, OsString)> = environment(&extra);
        http_server(self.http_bin, &env, None)
    }
}

fn ports(servers: &[ServerProcess]) -> Result<Vec<u16>, String> {
    servers
        .iter()
        .map(|s| {
            s.url
                .trim_end_matches("/mcp")
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("no port in {}", s.url))
        })
        .collect()
}

/// The build whose jobs the workload reads (`acme/web#7` on the fake API).
const BUILD_NUMBER: u64 = 7;
/// Each setup reads its own jobs, so no setup finds another's logs.
const PREFIXES: [&str; 3] = ["one", "three", "alone"];

fn job_id(prefix: &str, job: usize) -> String {
    format!("{prefix}-job-{job:03}")
}

fn tail_call(endpoint: &str, prefix: &str, job: usize) -> Call {
    Call::tool(
        endpoint,
        "tail_logs",
        &serde_json::json!({
            "org_slug": "acme", "pipeline_slug": "web",
            "build_number": BUILD_NUMBER.to_string(),
            "job_id": job_id(prefix, job), "tail": 20
        }),
    )
}

async fn run_workload(
    name: &str,
    endpoint: &str,
    prefix: &str,
    workload: Workload,
    api: &FakeApi,
) -> Measured {
    eprintln!("==> {name}");
    let mut rng = fastrand::Rng::with_seed(42);
    let chosen: Vec<usize> = (0..workload.calls)
        .map(|_| rng.usize(0..workload.jobs))
        .collect();
    let distinct = chosen
        .iter()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let calls: Vec<Call> = chosen
        .iter()
        .map(|&job| tail_call(endpoint, prefix, job))
        .collect();
    let client = match load::client() {
        Ok(client) => client,
        Err(error) => {
            return Measured {
                name: name.to_owned(),
                outcome: load::Outcome {
                    errors: workload.calls,
                    error_samples: vec![error],
                    ..load::Outcome::default()
                },
                downloads: 0,
                distinct,
            };
        }
    };
    let outcome = load::drive(
        &client,
        &calls,
        workload.clients,
        Stop::Count(workload.calls),
    )
    .await;
    let downloads = api
        .log_downloads()
        .iter()
        .filter(|(job, _)| job.starts_with(&format!("{prefix}-job-")))
        .map(|(_, n)| n)
        .sum();
    Measured {
        name: name.to_owned(),
        outcome,
        downloads,
        distinct,
    }
}

async fn timed(client: &reqwest::Client, call: &Call) -> Result<Duration, String> {
    let started = Instant::now();
    let body = call.body.clone().unwrap_or_default();
    let response = client
        .post(&call.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() || text.contains("\"isError\":true") {
        return Err(format!(
            "tail_logs: HTTP {status}: {}",
            text.chars().take(300).collect::<String>()
        ));
    }
    Ok(started.elapsed())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
