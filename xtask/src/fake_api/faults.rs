//! Faults a real Buildkite API shows, injected into the fake API's answers
//! when [`Setup::faults`](super::Setup::faults) holds a [`FaultPlan`] (off
//! by default: the demo, the benchmarks and the conformance run see none).
//!
//! Each API request draws one number from a generator seeded with
//! [`FaultPlan::seed`]: each kind of fault owns a share of the range as
//! wide as its rate, and the rest is a normal answer. The sequence of draws
//! is the same for the same seed; which request gets which draw follows
//! the order in which requests arrive.
//!
//! | fault | what the client gets |
//! |---|---|
//! | 500 JSON error | `500` with `{"message": …}` |
//! | 502 HTML page | `502` with a load balancer's HTML page |
//! | 503 Retry-After | `503` with `Retry-After: 1` and a JSON message |
//! | 429 rate limit | `429`, the organization's window (below) spent (`RateLimit-Remaining: 0`, `RateLimit-Reset: 1`) and `Retry-After: 1` |
//! | connection reset | the connection closes before any byte of the answer |
//! | truncated body | the status and the whole body's `Content-Length`, half the body, then the connection closes |
//! | invalid JSON | `200` with the first half of the JSON document (whatever the status was) |
//! | empty body | `200` with an empty body (likewise) |
//! | redirect loop | `302` to `/_redirect_loop/…` on this server, which answers `302` to itself |
//! | stall | the normal answer, after [`FaultPlan::stall`] |
//!
//! Every other answer says what is left of the organization's rate-limit
//! window, as the real API's answers do (`RateLimit-Limit`, `-Remaining`,
//! `-Reset`): a generous window ([`WINDOW_LIMIT`] a minute) that only the
//! 429 fault says is spent, so a client that paces to the window learns
//! from the next answer that it can go on.
//!
//! Storage URLs (`/_artifacts/…`) and the loop's own hops draw nothing. A
//! fault about the body (truncated, invalid JSON, empty) is not injected
//! into an answer without one (`HEAD`, an empty body), nor invalid JSON or
//! an empty body into an answer that is not JSON (a raw log): that request
//! is answered normally and the fault is not counted.
//!
//! How the connection is broken: hyper writes an answer's status line and
//! headers only once its body yields its first bytes or ends, so a body
//! that fails at once closes the connection before anything is sent (the
//! reset); a body that yields half, waits a moment (hyper sends the half),
//! then fails, truncates.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt as _;

use super::{Reply, lock};

/// Where the redirect loop points: every path under it answers a `302` to
/// itself.
const LOOP: &str = "/_redirect_loop";

/// Requests a minute the rate-limit window of every answer allows.
pub const WINDOW_LIMIT: u64 = 100_000;

/// The rate-limit window's length.
const WINDOW: Duration = Duration::from_secs(60);

/// How long a truncated body waits after its half, so hyper sends it
/// before the connection closes.
const TRUNCATE_PAUSE: Duration = Duration::from_millis(20);

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    ServerError,
    BadGatewayPage,
    Unavailable,
    RateLimited,
    ConnectionReset,
    TruncatedBody,
    InvalidJson,
    EmptyBody,
    RedirectLoop,
    Stall,
}

impl Fault {
    /// Every kind, in the order reports list them.
    pub const ALL: [Fault; 10] = [
        Fault::ServerError,
        Fault::BadGatewayPage,
        Fault::Unavailable,
        Fault::RateLimited,
        Fault::ConnectionReset,
        Fault::TruncatedBody,
        Fault::InvalidJson,
        Fault::EmptyBody,
        Fault::RedirectLoop,
        Fault::Stall,
    ];

    /// What it is, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Fault::ServerError => "500 JSON error",
            Fault::BadGatewayPage => "502 HTML page",
            Fault::Unavailable => "503 Retry-After: 1",
            Fault::RateLimited => "429 rate limit",
            Fault::ConnectionReset => "connection reset",
            Fault::TruncatedBody => "truncated body",
            Fault::InvalidJson => "invalid JSON (200)",
            Fault::EmptyBody => "empty body (200)",
            Fault::RedirectLoop => "redirect loop",
            Fault::Stall => "stall",
        }
    }

    fn index(self) -> usize {
        Fault::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

/// Which faults to inject, how often, and from which seed.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// The chance of each kind per API answer; together at most 1.
    pub rates: Vec<(Fault, f64)>,
    /// Seeds the draws.
    pub seed: u64,
    /// How long a stalled answer waits before it is sent.
    pub stall: Duration,
}

impl FaultPlan {
    /// Every kind at `rate` each.
    pub fn every_kind(rate: f64, seed: u64, stall: Duration) -> FaultPlan {
        FaultPlan {
            rates: Fault::ALL.iter().map(|f| (*f, rate)).collect(),
            seed,
            stall,
        }
    }

    /// Checks every rate is in 0..=1 and their sum at most 1.
    pub fn check(&self) -> Result<(), String> {
        if let Some((fault, rate)) = self
            .rates
            .iter()
            .find(|(_, rate)| !(0.0..=1.0).contains(rate))
        {
            return Err(format!(
                "the rate of {} is {rate}: use 0 to 1",
                fault.name()
            ));
        }
        let total: f64 = self.rates.iter().map(|(_, rate)| rate).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "the fault rates add up to {total}: at most 1 (one fault per answer)"
            ));
        }
        Ok(())
    }
}

/// What a fake API drew and injected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Answers that drew (every API answer but storage and the loop's hops).
    pub answers: u64,
    /// Every kind of the plan, in [`Fault::ALL`] order.
    pub kinds: Vec<FaultCount>,
}

/// One kind's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultCount {
    pub fault: Fault,
    /// Answers that drew it.
    pub drawn: u64,
    /// Answers it was injected into (not those that could not carry it).
    pub injected: u64,
}

/// Draws a fault for each answer and injects it, counting what it drew
/// and injected.
#[derive(Debug)]
pub(super) struct Injector {
    plan: FaultPlan,
    rng: Mutex<fastrand::Rng>,
    /// Answers that drew.
    answers: AtomicU64,
    /// Faults drawn, by [`Fault::index`].
    drawn: [AtomicU64; Fault::ALL.len()],
    /// Faults injected, by [`Fault::index`].
    injected: [AtomicU64; Fault::ALL.len()],
    /// When the first rate-limit window began.
    started: Instant,
    /// The current window's number since `started`, and the answers
    /// counted in it.
    window: Mutex<(u64, u64)>,
}

/// The request a fault is injected into.
#[derive(Debug)]
pub(super) struct Target<'a> {
    pub method: &'a Method,
    /// The path and query, as sent.
    pub target: &'a str,
    /// `http://127.0.0.1:PORT`.
    pub origin: &'a str,
}

impl Injector {
    pub(super) fn new(plan: FaultPlan) -> Result<Injector, String> {
        plan.check()?;
        Ok(Injector {
            rng: Mutex::new(fastrand::Rng::with_seed(plan.seed)),
            plan,
            answers: AtomicU64::new(0),
            drawn: Default::default(),
            injected: Default::default(),
            started: Instant::now(),
            window: Mutex::default(),
        })
    }

    /// The fault for the next answer, if any.
    pub(super) fn draw(&self) -> Option<Fault> {
        self.answers.fetch_add(1, Ordering::Relaxed);
        let x = lock(&self.rng).f64();
        let mut edge = 0.0;
        for (fault, rate) in &self.plan.rates {
            edge += rate;
            if x < edge {
                self.drawn[fault.index()].fetch_add(1, Ordering::Relaxed);
                return Some(*fault);
            }
        }
        None
    }

    /// Injects `fault` into `reply`, the answer `target` would get: the
    /// faulty answer, or `None` to send `reply` as it is (after the wait,
    /// for a stall; at once for a fault this answer cannot carry, which is
    /// then not counted).
    pub(super) async fn inject(
        &self,
        fault: Fault,
        reply: &Reply,
        target: &Target<'_>,
    ) -> Option<Response> {
        let has_body = target.method != Method::HEAD && !reply.body.is_empty();
        let is_json = reply.headers.iter().any(|(name, value)| {
            name == header::CONTENT_TYPE && value.starts_with("application/json")
        });
        let applies = match fault {
            Fault::TruncatedBody => has_body,
            Fault::InvalidJson | Fault::EmptyBody => has_body && is_json,
            _ => true,
        };
        if !applies {
            return None;
        }
        self.injected[fault.index()].fetch_add(1, Ordering::Relaxed);
        let json = |status: StatusCode, message: &str| {
            answer(
                status,
                &[(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                Body::from(serde_json::json!({ "message": message }).to_string()),
            )
        };
        Some(match fault {
            Fault::ServerError => json(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sorry, something went wrong on our end",
            ),
            Fault::BadGatewayPage => answer(
                StatusCode::BAD_GATEWAY,
                &[(header::CONTENT_TYPE, "text/html")],
                Body::from(BAD_GATEWAY_PAGE),
            ),
            Fault::Unavailable => {
                let mut response = json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Buildkite is temporarily unavailable",
                );
                set(&mut response, header::RETRY_AFTER, "1");
                response
            }
            Fault::RateLimited => {
                let mut response = json(
                    StatusCode::TOO_MANY_REQUESTS,
                    "You have exceeded your organization's rate limit",
                );
                // The window every answer reports, spent until it resets
                // in a second.
                for (name, value) in [
                    ("ratelimit-limit", WINDOW_LIMIT.to_string()),
                    ("ratelimit-remaining", "0".to_owned()),
                    ("ratelimit-reset", "1".to_owned()),
                    ("retry-after", "1".to_owned()),
                ] {
                    set(&mut response, header::HeaderName::from_static(name), &value);
                }
                response
            }
            Fault::ConnectionReset => reset(),
            Fault::TruncatedBody => truncated(reply),
            Fault::InvalidJson => {
                let half = reply.body.slice(..reply.body.len() / 2);
                let mut response = with_headers(reply, half.len(), Body::from(half));
                *response.status_mut() = StatusCode::OK;
                response
            }
            Fault::EmptyBody => {
                let mut response = with_headers(reply, 0, Body::empty());
                *response.status_mut() = StatusCode::OK;
                response
            }
            Fault::RedirectLoop => {
                redirect_to(&format!("{}{LOOP}{}", target.origin, target.target))
            }
            Fault::Stall => {
                tokio::time::sleep(self.plan.stall).await;
                return None;
            }
        })
    }

    /// Counts an answer against the rate-limit window and says in
    /// `headers` what is left of it.
    pub(super) fn report_window(&self, headers: &mut header::HeaderMap) {
        let elapsed = self.started.elapsed();
        let number = elapsed.as_secs() / WINDOW.as_secs();
        let used = {
            let mut window = lock(&self.window);
            if window.0 != number {
                *window = (number, 0);
            }
            window.1 += 1;
            window.1
        };
        let reset = WINDOW.as_secs() - elapsed.as_secs() % WINDOW.as_secs();
        for (name, value) in [
            ("ratelimit-limit", WINDOW_LIMIT),
            ("ratelimit-remaining", WINDOW_LIMIT.saturating_sub(used)),
            ("ratelimit-reset", reset),
        ] {
            headers.insert(
                header::HeaderName::from_static(name),
                header::HeaderValue::from(value),
            );
        }
    }

    /// What it drew and injected so far.
    pub(super) fn counts(&self) -> FaultCounts {
        let count =
            |counters: &[AtomicU64], fault: Fault| counters[fault.index()].load(Ordering::Relaxed);
        FaultCounts {
            answers: self.answers.load(Ordering::Relaxed),
            kinds: Fault::ALL
                .into_iter()
                .filter(|f| self.plan.rates.iter().any(|(planned, _)| planned == f))
                .map(|fault| FaultCount {
                    fault,
                    drawn: count(&self.drawn, fault),
                    injected: count(&self.injected, fault),
                })
                .collect(),
        }
    }
}

/// The answer to a hop of the redirect loop (`path` under it): `302` to
/// itself; `None` for any other path.
pub(super) fn loop_hop(path: &str, target: &str, origin: &str) -> Option<Response> {
    path.starts_with(&format!("{LOOP}/"))
        .then(|| redirect_to(&format!("{origin}{target}")))
}

fn redirect_to(location: &str) -> Response {
    answer(
        StatusCode::FOUND,
        &[(header::LOCATION, location)],
        Body::empty(),
    )
}

/// A body that fails before its first byte: hyper closes the connection
/// without sending the status line.
fn reset() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, _>(std::io::Error::other("connection reset by fault injection"))
    });
    answer(StatusCode::OK, &[], Body::from_stream(failing))
}

/// `reply`'s status and headers with the whole body's length, half the
/// body, then a failure.
fn truncated(reply: &Reply) -> Response {
    let half = reply.body.slice(..reply.body.len() / 2);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(half) }).chain(
        futures_util::stream::once(async {
            tokio::time::sleep(TRUNCATE_PAUSE).await;
            Err(std::io::Error::other("body truncated by fault injection"))
        }),
    );
    with_headers(reply, reply.body.len(), Body::from_stream(stream))
}

/// `reply`'s status and headers, `length` as its `Content-Length`, and
/// `body`.
fn with_headers(reply: &Reply, length: usize, body: Body) -> Response {
    let mut response = answer(reply.status, &[], body);
    for (name, value) in &reply.headers {
        set(&mut response, name.clone(), value);
    }
    set(&mut response, header::CONTENT_LENGTH, &length.to_string());
    response
}

fn answer(status: StatusCode, headers: &[(header::HeaderName, &str)], body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    for (name, value) in headers {
        set(&mut response, name.clone(), value);
    }
    response
}

/// Sets a header; a value that cannot be sent is left out.
fn set(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = header::HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// What a load balancer in front of the API sends when the API is down.
const BAD_GATEWAY_PAGE: &str = "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>cloudflare</center>\n</body>\n</html>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_rates_and_the_seed() {
        let injector =
            Injector::new(FaultPlan::every_kind(0.05, 7, Duration::from_secs(1))).unwrap();
        let mut counts = [0u32; Fault::ALL.len()];
        let mut normal = 0;
        for _ in 0..10_000 {
            match injector.draw() {
                Some(fault) => counts[fault.index()] += 1,
                None => normal += 1,
            }
        }
        for (fault, count) in Fault::ALL.iter().zip(counts) {
            assert!(
                (400..=600).contains(&count),
                "{}: {count} of 10,000, not near 5%",
                fault.name()
            );
        }
        assert!((4_700..=5_300).contains(&normal), "{normal} normal answers");
        let tally = injector.counts();
        assert_eq!(tally.answers, 10_000);
        let drawn: Vec<u64> = tally.kinds.iter().map(|k| k.drawn).collect();
        assert_eq!(drawn, counts.map(u64::from));
        assert!(
            tally.kinds.iter().all(|k| k.injected == 0),
            "drawn, not injected"
        );

        let again = Injector::new(FaultPlan::every_kind(0.05, 7, Duration::ZERO)).unwrap();
        let other = Injector::new(FaultPlan::every_kind(0.05, 8, Duration::ZERO)).unwrap();
        let first: Vec<_> = (0..200).map(|_| again.draw()).collect();
        let replay = Injector::new(FaultPlan::every_kind(0.05, 7, Duration::ZERO)).unwrap();
        assert_eq!(first, (0..200).map(|_| replay.draw()).collect::<Vec<_>>());
        assert_ne!(first, (0..200).map(|_| other.draw()).collect::<Vec<_>>());
    }

    #[test]
    fn a_plan_over_one_or_with_a_bad_rate_is_refused() {
        assert!(
            FaultPlan::every_kind(0.1, 1, Duration::ZERO)
                .check()
                .is_ok()
        );
        let error = FaultPlan::every_kind(0.11, 1, Duration::ZERO)
            .check()
            .unwrap_err();
        assert!(error.contains("add up to"), "{error}");
        let negative = FaultPlan {
            rates: vec![(Fault::Stall, -0.1)],
            seed: 1,
            stall: Duration::ZERO,
        };
        assert!(Injector::new(negative).is_err());
    }

    #[test]
    fn every_kind_has_its_own_name() {
        let names: std::collections::HashSet<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), Fault::ALL.len());
        assert_eq!(Fault::Stall.index(), Fault::ALL.len() - 1);
    }
}
