//! When and how long to wait before trying a failed request again.

use std::time::Duration;

/// How the client retries failed requests.
///
/// - A 429 waits for the rate limit to reset (`RateLimit-Reset`, else
///   `Retry-After`, else backoff) and is retried for every method.
/// - 502, 503, 504 and broken connections are retried with jittered
///   exponential backoff, for `GET` and `HEAD` only: a `POST` or `PUT` may
///   already have taken effect (a rebuild, a retry), so it is never repeated.
/// - No wait starts unless it ends within `budget` of the first attempt, so no
///   call hangs for longer than the budget plus one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt. `0` disables retrying.
    pub max_retries: u32,
    /// Total time a call may spend waiting between attempts.
    pub budget: Duration,
    /// First backoff delay; it doubles on each retry.
    pub initial_backoff: Duration,
    /// Longest single backoff delay.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            budget: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The backoff before retry number `retry` (0-based): exponential, capped,
    /// with "equal jitter" (between half and all of the step).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let step = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// The wait after a 429: the reset the API announced plus a little jitter,
    /// so that many clients do not return at the same instant.
    pub(crate) fn rate_limit_wait(&self, hint: Option<Duration>, retry: u32) -> Duration {
        match hint {
            Some(reset) => reset + Duration::from_millis(fastrand::u64(0..=250)),
            None => self.backoff(retry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        for retry in 0..40 {
            let wait = policy.backoff(retry);
            let step =
                (policy.initial_backoff * 2u32.saturating_pow(retry)).min(policy.max_backoff);
            assert!(wait >= step / 2 && wait <= step, "retry {retry}: {wait:?}");
        }
    }

    #[test]
    fn rate_limit_wait_uses_the_reset_hint() {
        let policy = RetryPolicy::default();
        let wait = policy.rate_limit_wait(Some(Duration::from_secs(2)), 0);
        assert!(wait >= Duration::from_secs(2) && wait <= Duration::from_millis(2250));
    }
}
