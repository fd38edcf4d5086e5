//! The health of a shared part (an object store, Redis): what lets the
//! service get slower, not broken, when one fails.
//!
//! A part is used while it answers. The first failure or time-out marks it
//! down, with one warning; while it is down, callers skip it at once
//! instead of waiting on it, except for one probe per `retry_after`. The
//! first success after that marks it up again, with one line in the log.
//! So an outage costs one warning and, per call, at most one time-out.

use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long an error message kept for a report may be.
const ERROR_EXCERPT: usize = 300;

/// The health of one shared part.
#[derive(Debug)]
pub struct DependencyHealth {
    name: &'static str,
    retry_after: Duration,
    state: Mutex<HealthState>,
}

#[derive(Debug, Default)]
struct HealthState {
    /// When the current outage began (wall clock, for reports).
    down_since: Option<SystemTime>,
    /// While down: when the next probe may go.
    next_probe: Option<Instant>,
    last_error: Option<String>,
    outages: u64,
}

/// A snapshot of a part's health, for `/ready` and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthReport {
    /// The part, e.g. `object store` or `redis`.
    pub name: &'static str,
    /// `up` or `down`.
    pub state: &'static str,
    /// Seconds since the epoch when the current outage began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_since: Option<u64>,
    /// The last error, shortened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Outages since start.
    pub outages: u64,
}

impl DependencyHealth {
    /// A part named `name` (for the log), probed again `retry_after` after a
    /// failure.
    pub fn new(name: &'static str, retry_after: Duration) -> Self {
        DependencyHealth {
            name,
            retry_after,
            state: Mutex::new(HealthState::default()),
        }
    }

    /// The part's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn state(&self) -> std::sync::MutexGuard<'_, HealthState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a caller should use the part now: it is up, or it is down and
    /// this caller is the one probe of this period.
    pub fn available(&self) -> bool {
        let mut state = self.state();
        match state.next_probe {
            None => true,
            Some(at) if Instant::now() >= at => {
                state.next_probe = Some(Instant::now() + self.retry_after);
                true
            }
            Some(_) => false,
        }
    }

    /// Whether the part is up (no outage going on).
    pub fn is_up(&self) -> bool {
        self.state().down_since.is_none()
    }

    /// Records a success: ends an outage, if one was going on.
    pub fn succeeded(&self) {
        let mut state = self.state();
        if let Some(since) = state.down_since.take() {
            let down_for = since.elapsed().unwrap_or_default();
            tracing::info!(
                part = self.name,
                down_s = down_for.as_secs(),
                "{} is reachable again; sharing resumed",
                self.name
            );
        }
        state.next_probe = None;
    }

    /// Records a failure: starts an outage (one warning), or extends the
    /// current one (no new warning).
    pub fn failed(&self, error: &dyn fmt::Display) {
        let message = excerpt(&error.to_string());
        let mut state = self.state();
        state.next_probe = Some(Instant::now() + self.retry_after);
        if state.down_since.is_none() {
            state.down_since = Some(SystemTime::now());
            state.outages += 1;
            tracing::warn!(
                part = self.name,
                error = %message,
                retry_s = self.retry_after.as_secs_f64(),
                "{} is unavailable; calls go on without it (slower) and it is retried every {:?}",
                self.name,
                self.retry_after
            );
        } else {
            tracing::debug!(part = self.name, error = %message, "still unavailable");
        }
        state.last_error = Some(message);
    }

    /// Runs `operation` if the part is available, within `limit`. Returns
    /// its value, or `None` when the part was skipped, failed or timed out
    /// (recorded as a failure).
    pub async fn run<T, E, F>(&self, limit: Duration, operation: F) -> Option<T>
    where
        F: Future<Output = Result<T, E>>,
        E: fmt::Display,
    {
        if !self.available() {
            return None;
        }
        match tokio::time::timeout(limit, operation).await {
            Ok(Ok(value)) => {
                self.succeeded();
                Some(value)
            }
            Ok(Err(error)) => {
                self.failed(&error);
                None
            }
            Err(_) => {
                self.failed(&format_args!("no answer within {limit:?}"));
                None
            }
        }
    }

    /// A snapshot for reports.
    pub fn report(&self) -> HealthReport {
        let state = self.state();
        HealthReport {
            name: self.name,
            state: if state.down_since.is_some() {
                "down"
            } else {
                "up"
            },
            down_since: state
                .down_since
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
            last_error: state.last_error.clone(),
            outages: state.outages,
        }
    }
}

/// The start of `text`, cut on a character boundary and marked when cut.
fn excerpt(text: &str) -> String {
    if text.len() <= ERROR_EXCERPT {
        return text.to_owned();
    }
    let mut end = ERROR_EXCERPT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_outage_skips_the_part_until_a_probe_succeeds() {
        let health = DependencyHealth::new("store", Duration::from_millis(50));
        assert_eq!(
            health
                .run(Duration::from_secs(1), async { Ok::<_, String>(1) })
                .await,
            Some(1)
        );
        assert_eq!(
            health
                .run(Duration::from_secs(1), async { Err::<u8, _>("refused") })
                .await,
            None
        );
        assert!(!health.is_up());
        // Skipped without running while down.
        let ran = std::sync::atomic::AtomicBool::new(false);
        let skipped = health
            .run(Duration::from_secs(1), async {
                ran.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, String>(2)
            })
            .await;
        assert_eq!(skipped, None);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        let report = health.report();
        assert_eq!((report.state, report.outages), ("down", 1));
        assert_eq!(report.last_error.as_deref(), Some("refused"));
        // After the pause, one probe goes and its success ends the outage.
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(
            health
                .run(Duration::from_secs(1), async { Ok::<_, String>(3) })
                .await,
            Some(3)
        );
        assert!(health.is_up());
        assert_eq!(health.report().outages, 1);
    }

    #[tokio::test]
    async fn a_slow_part_times_out_and_counts_as_down() {
        let health = DependencyHealth::new("redis", Duration::from_secs(60));
        let started = Instant::now();
        let value = health
            .run(Duration::from_millis(30), async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok::<_, String>(1)
            })
            .await;
        assert_eq!(value, None);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(!health.available(), "no second wait within retry_after");
    }

    #[test]
    fn long_errors_are_cut() {
        let cut = excerpt(&"é".repeat(400));
        assert!(
            cut.len() < 340 && cut.ends_with("(800 bytes in all)"),
            "{cut}"
        );
    }
}
