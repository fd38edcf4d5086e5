//! For tests of code that paces to Buildkite's rate limit: a stand-in for
//! the API's budget, to put behind whatever mock server a test uses. It
//! counts requests in fixed windows and gives the `RateLimit-*` headers a
//! real answer carries, and says when a request is past the budget (the
//! API then answers 429).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A budget of `limit` requests per `window`.
#[derive(Debug)]
pub struct BudgetWindow {
    limit: u64,
    window: Duration,
    used: Mutex<(Instant, u64)>,
}

/// What the budget said of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// Past the budget: the API answers 429.
    pub over: bool,
    /// The `RateLimit-Limit`, `-Remaining` and `-Reset` headers to send.
    pub headers: [(&'static str, String); 3],
}

impl BudgetWindow {
    /// A budget whose first window starts now.
    pub fn new(limit: u64, window: Duration) -> Self {
        BudgetWindow {
            limit,
            window,
            used: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Counts one request.
    pub fn count(&self) -> Counted {
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if used.0.elapsed() >= self.window {
            *used = (Instant::now(), 0);
        }
        used.1 += 1;
        let reset = self
            .window
            .saturating_sub(used.0.elapsed())
            .as_secs_f64()
            .ceil() as u64;
        Counted {
            over: used.1 > self.limit,
            headers: [
                ("ratelimit-limit", self.limit.to_string()),
                (
                    "ratelimit-remaining",
                    self.limit.saturating_sub(used.1).to_string(),
                ),
                ("ratelimit-reset", reset.max(1).to_string()),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_down_then_refuses_then_resets() {
        let budget = BudgetWindow::new(2, Duration::from_millis(50));
        let first = budget.count();
        assert!(!first.over);
        assert_eq!(first.headers[1], ("ratelimit-remaining", "1".to_owned()));
        assert!(!budget.count().over);
        assert!(budget.count().over);
        std::thread::sleep(Duration::from_millis(60));
        assert!(!budget.count().over, "a new window");
    }
}
