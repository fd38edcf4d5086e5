//! The load generator: N concurrent clients, each sending its next request
//! as soon as the previous one is answered (closed loop), for a duration or
//! a total count, recording every latency.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::task::JoinSet;

use super::TOKEN;
use super::process::{self, Memory};

/// One request.
#[derive(Debug, Clone)]
pub struct Call {
    pub url: String,
    /// POST this JSON-RPC body to the MCP endpoint; `None`: a plain GET.
    pub body: Option<Bytes>,
}

impl Call {
    /// A stateless `tools/call` POST.
    pub fn tool(endpoint: &str, name: &str, arguments: &serde_json::Value) -> Call {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        });
        Call {
            url: endpoint.to_owned(),
            body: Some(Bytes::from(body.to_string())),
        }
    }

    /// A GET on the fake API, authorized as the server would be.
    pub fn get(url: String) -> Call {
        Call { url, body: None }
    }
}

/// When a run ends.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    After(Duration),
    Count(u64),
}

/// What a run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Latency of every successful request, in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    /// The first few errors, described.
    pub error_samples: Vec<String>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn requests(&self) -> u64 {
        self.latencies_us.len() as u64 + self.errors
    }

    pub fn per_second(&self) -> f64 {
        self.requests() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Nearest-rank percentile (`p` in 0..=100) of the successful requests.
    pub fn percentile(&self, p: f64) -> Duration {
        percentile_us(&self.latencies_us, p)
    }
}

/// Nearest-rank percentile of sorted microseconds.
pub fn percentile_us(sorted: &[u32], p: f64) -> Duration {
    super::nearest_rank(sorted, p).map_or(Duration::ZERO, |us| Duration::from_micros(u64::from(us)))
}

/// The HTTP client all clients share (keep-alive, one connection each).
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Runs `concurrency` clients over `calls` (round robin) until `stop`.
pub async fn drive(
    client: &reqwest::Client,
    calls: &[Call],
    concurrency: usize,
    stop: Stop,
) -> Outcome {
    let calls: Arc<[Call]> = calls.into();
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = match stop {
        Stop::After(duration) => Some(start + duration),
        Stop::Count(_) => None,
    };
    let limit = match stop {
        Stop::Count(n) => n,
        Stop::After(_) => u64::MAX,
    };
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let (client, calls, next) = (client.clone(), Arc::clone(&calls), Arc::clone(&next));
        workers.spawn(async move {
            let mut outcome = Outcome::default();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= limit || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let call = &calls[(index % calls.len() as u64) as usize];
                let sent = Instant::now();
                match send(&client, call).await {
                    Ok(()) => {
                        let micros = sent.elapsed().as_micros();
                        outcome
                            .latencies_us
                            .push(u32::try_from(micros).unwrap_or(u32::MAX));
                    }
                    Err(error) => {
                        outcome.errors += 1;
                        if outcome.error_samples.len() < 3 {
                            outcome.error_samples.push(error);
                        }
                    }
                }
            }
            outcome
        });
    }
    let mut total = Outcome::default();
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(outcome) => {
                total.latencies_us.extend(outcome.latencies_us);
                total.errors += outcome.errors;
                for sample in outcome.error_samples {
                    if total.error_samples.len() < 5 {
                        total.error_samples.push(sample);
                    }
                }
            }
            Err(error) => {
                total.errors += 1;
                total
                    .error_samples
                    .push(format!("a client task failed: {error}"));
            }
        }
    }
    total.elapsed = start.elapsed();
    total.latencies_us.sort_unstable();
    total
}

/// Sends one request; `Err` describes why it does not count as a success.
async fn send(client: &reqwest::Client, call: &Call) -> Result<(), String> {
    let request = match &call.body {
        Some(body) => client
            .post(&call.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.clone()),
        None => client
            .get(&call.url)
            .header("authorization", format!("Bearer {TOKEN}")),
    };
    let response = request.send().await.map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("reading the body: {e:?}"))?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", excerpt(&body)));
    }
    if call.body.is_none() {
        return Ok(());
    }
    let message: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("not JSON ({e}): {}", excerpt(&body)))?;
    match message.get("result") {
        Some(result) if result["isError"] != true => Ok(()),
        _ => Err(format!("tool call failed: {}", excerpt(&body))),
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// A memory sample, `at` after sampling began.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Duration,
    pub memory: Memory,
}

/// Runs `work` while sampling the memory of `pid` every `every` (the first
/// sample after one interval), then once more when it is done.
pub async fn sampled<F: Future>(pid: u32, every: Duration, work: F) -> (F::Output, Vec<Sample>) {
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(work);
    let output = loop {
        tokio::select! {
            output = &mut work => break output,
            _ = ticks.tick() => {
                if let Ok(memory) = process::memory(pid) {
                    samples.push(Sample { at: start.elapsed(), memory });
                }
            }
        }
    };
    if let Ok(memory) = process::memory(pid) {
        samples.push(Sample {
            at: start.elapsed(),
            memory,
        });
    }
    (output, samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile_us(&sorted, 50.0), Duration::from_micros(50));
        assert_eq!(percentile_us(&sorted, 99.0), Duration::from_micros(99));
        assert_eq!(percentile_us(&sorted, 100.0), Duration::from_micros(100));
        assert_eq!(percentile_us(&sorted, 0.0), Duration::from_micros(1));
        assert_eq!(percentile_us(&[7], 90.0), Duration::from_micros(7));
        assert_eq!(percentile_us(&[], 90.0), Duration::ZERO);
    }
}
