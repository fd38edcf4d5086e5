//! Pacing to the organization's rate limit, instead of failing into 429s.
//!
//! Every answer says how much of the organization's window is left
//! (`RateLimit-Remaining`, `-Limit`, `-Reset`). The pacer keeps that view
//! per organization and counts down as requests go out, so concurrent
//! calls share what is left instead of each one finding out with a 429:
//!
//! - A read goes while more than a reserve (a twentieth of the limit) is
//!   left; below that it waits for the window to reset. The reserve is for
//!   writes, which go while anything is left: they are never held up behind
//!   reads.
//! - A wait never goes past the retry budget: a request that could not go
//!   within it fails at once with a rate-limit error saying when to retry.
//! - After a reset, the window is taken as full until the next answer says
//!   otherwise.
//!
//! Requests outside an organization (`/v2/user`, `/v2/access-token`) are
//! not paced. Without rate-limit headers (another API, a replay), nothing
//! waits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::rate_limit::RateLimit;

/// A window's length when the API has not said (Buildkite's is a minute).
const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// Organizations whose view is kept before the oldest are dropped.
const MAX_ORGANIZATIONS: usize = 1000;

/// One organization's window, as last seen and counted down since.
#[derive(Debug, Clone, Copy)]
struct Window {
    limit: u64,
    remaining: u64,
    resets_at: Instant,
    seen_at: Instant,
}

/// The organizations' windows.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    windows: Mutex<HashMap<String, Window>>,
}

/// What [`Pacer::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Send now.
    Go,
    /// Wait this long, then ask again.
    Wait(Duration),
    /// The wait would pass the caller's limit: give up, retry after this.
    TooLong(Duration),
}

impl Pacer {
    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a request for `org` may go now; counts it if so. `max_wait`
    /// is how long the caller may still wait.
    pub(crate) fn admit(&self, org: &str, write: bool, max_wait: Duration) -> Admission {
        let mut windows = self.windows();
        let Some(window) = windows.get_mut(org) else {
            return Admission::Go;
        };
        let now = Instant::now();
        if now >= window.resets_at {
            // A new window: full until an answer says otherwise.
            window.remaining = window.limit;
            window.resets_at = now + DEFAULT_WINDOW;
        }
        let reserve = if write { 0 } else { (window.limit / 20).max(1) };
        if window.remaining > reserve {
            window.remaining -= 1;
            return Admission::Go;
        }
        // Spread the waiters a little so they do not all return at once.
        let wait = window.resets_at.saturating_duration_since(now)
            + Duration::from_millis(fastrand::u64(20..250));
        if wait > max_wait {
            Admission::TooLong(wait)
        } else {
            Admission::Wait(wait)
        }
    }

    /// Takes in what an answer for `org` said of the organization's window.
    pub(crate) fn observe(&self, org: &str, rate: &RateLimit) {
        let Some(window) = rate.organization else {
            return;
        };
        let (Some(limit), Some(remaining)) = (window.limit, window.remaining) else {
            return;
        };
        let now = Instant::now();
        let resets_at = now
            + window
                .reset_secs
                .map_or(DEFAULT_WINDOW, Duration::from_secs);
        let mut windows = self.windows();
        if windows.len() >= MAX_ORGANIZATIONS && !windows.contains_key(org) {
            let oldest = windows
                .iter()
                .min_by_key(|(_, w)| w.seen_at)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                windows.remove(&oldest);
            }
        }
        let entry = windows.entry(org.to_owned()).or_insert(Window {
            limit,
            remaining,
            resets_at,
            seen_at: now,
        });
        // Answers arrive out of order: within one window, the lowest count
        // is the latest news.
        let apart = entry
            .resets_at
            .saturating_duration_since(resets_at)
            .max(resets_at.saturating_duration_since(entry.resets_at));
        let same_window = apart < Duration::from_secs(2);
        entry.remaining = if same_window {
            entry.remaining.min(remaining)
        } else {
            remaining
        };
        entry.limit = limit;
        entry.resets_at = resets_at;
        entry.seen_at = now;
    }
}

/// The organization a request path is about: `/v2/organizations/{org}/…`,
/// or `/v2/analytics/organizations/{org}/…`.
pub(crate) fn organization_of(path: &str) -> Option<&str> {
    let rest = path.split_once("/organizations/").map(|(_, rest)| rest)?;
    let org = rest.split('/').next()?;
    (!org.is_empty()).then_some(org)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::RateLimitWindow;

    fn seen(limit: u64, remaining: u64, reset: u64) -> RateLimit {
        RateLimit {
            organization: Some(RateLimitWindow {
                limit: Some(limit),
                remaining: Some(remaining),
                reset_secs: Some(reset),
            }),
            ..RateLimit::default()
        }
    }

    #[test]
    fn reads_keep_a_reserve_for_writes() {
        let pacer = Pacer::default();
        assert_eq!(
            pacer.admit("acme", false, Duration::ZERO),
            Admission::Go,
            "unknown: go"
        );
        pacer.observe("acme", &seen(200, 12, 30));
        // 12 left, a reserve of 10: two reads go, the third waits.
        assert_eq!(
            pacer.admit("acme", false, Duration::from_secs(60)),
            Admission::Go
        );
        assert_eq!(
            pacer.admit("acme", false, Duration::from_secs(60)),
            Admission::Go
        );
        assert!(matches!(
            pacer.admit("acme", false, Duration::from_secs(60)),
            Admission::Wait(w) if w >= Duration::from_secs(29) && w <= Duration::from_secs(31)
        ));
        // Writes use the reserve, down to nothing.
        for _ in 0..10 {
            assert_eq!(pacer.admit("acme", true, Duration::ZERO), Admission::Go);
        }
        assert!(matches!(
            pacer.admit("acme", true, Duration::from_secs(1)),
            Admission::TooLong(_)
        ));
        // Other organizations have budgets of their own.
        assert_eq!(pacer.admit("other", false, Duration::ZERO), Admission::Go);
    }

    #[test]
    fn a_window_is_full_again_after_its_reset() {
        let pacer = Pacer::default();
        pacer.observe("acme", &seen(20, 0, 0));
        assert_eq!(
            pacer.admit("acme", false, Duration::ZERO),
            Admission::Go,
            "reset already"
        );
        // Late answers of the same window never raise the count.
        pacer.observe("acme", &seen(20, 5, 40));
        pacer.observe("acme", &seen(20, 9, 40));
        for _ in 0..4 {
            assert_eq!(pacer.admit("acme", false, Duration::ZERO), Admission::Go);
        }
        assert!(matches!(
            pacer.admit("acme", false, Duration::ZERO),
            Admission::TooLong(_)
        ));
    }

    #[test]
    fn organizations_are_read_from_paths() {
        assert_eq!(
            organization_of("/v2/organizations/acme/pipelines/web"),
            Some("acme")
        );
        assert_eq!(
            organization_of("/v2/analytics/organizations/acme/suites"),
            Some("acme")
        );
        assert_eq!(organization_of("/v2/user"), None);
        assert_eq!(organization_of("/v2/organizations/"), None);
    }
}
