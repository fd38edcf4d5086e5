//! The `RateLimit-*` headers Buildkite puts on every response.
//!
//! There are two windows: one per organization (`RateLimit-Limit`,
//! `-Remaining`, `-Reset`) and one per user (`RateLimit-User-Limit`, …).
//! `Reset` is in seconds from now.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// One rate-limit window as reported by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitWindow {
    /// Requests allowed per window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// Seconds until the window resets.
    pub reset_secs: Option<u64>,
}

impl RateLimitWindow {
    fn from_headers(headers: &HeaderMap, prefix: &str) -> Option<Self> {
        let number = |name: &str| -> Option<u64> {
            headers
                .get(format!("{prefix}-{name}"))?
                .to_str()
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        let window = RateLimitWindow {
            limit: number("Limit"),
            remaining: number("Remaining"),
            reset_secs: number("Reset"),
        };
        (window != RateLimitWindow::default()).then_some(window)
    }

    fn exhausted(&self) -> bool {
        self.remaining == Some(0)
    }
}

/// The rate-limit state carried by one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimit {
    /// The organization-wide window (`RateLimit-*`).
    pub organization: Option<RateLimitWindow>,
    /// The per-user window (`RateLimit-User-*`).
    pub user: Option<RateLimitWindow>,
    /// The `Retry-After` header, in seconds, when present.
    pub retry_after_secs: Option<u64>,
}

/// `Retry-After` in seconds: either form HTTP allows, a number of seconds
/// or a date (seconds from now, at least 0).
fn retry_after_secs(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse() {
        return Some(secs);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let secs = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    Some(u64::try_from(secs).unwrap_or(0))
}

impl RateLimit {
    /// Reads the rate-limit headers of a response.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        RateLimit {
            organization: RateLimitWindow::from_headers(headers, "RateLimit"),
            user: RateLimitWindow::from_headers(headers, "RateLimit-User"),
            retry_after_secs: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after_secs),
        }
    }

    /// The wait the server announced for an overloaded (503) or limited
    /// answer: the reset of a spent window, else `Retry-After`. Unlike
    /// [`RateLimit::wait_hint`], a window with requests left says nothing.
    pub fn announced_wait(&self) -> Option<Duration> {
        [self.organization, self.user]
            .iter()
            .flatten()
            .filter(|w| w.exhausted())
            .filter_map(|w| w.reset_secs)
            .max()
            .or(self.retry_after_secs)
            .map(Duration::from_secs)
    }

    /// Whether the response carried any rate-limit information.
    pub fn is_empty(&self) -> bool {
        *self == RateLimit::default()
    }

    /// How long to wait before the next request can succeed, after a 429.
    ///
    /// Prefers the reset time of an exhausted window, then `Retry-After`,
    /// then the longest reset time reported.
    pub fn wait_hint(&self) -> Option<Duration> {
        let windows = [self.organization, self.user];
        let exhausted = windows
            .iter()
            .flatten()
            .filter(|w| w.exhausted())
            .filter_map(|w| w.reset_secs)
            .max();
        let any_reset = windows.iter().flatten().filter_map(|w| w.reset_secs).max();
        exhausted
            .or(self.retry_after_secs)
            .or(any_reset)
            .map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_in_seconds_or_as_a_date() {
        assert_eq!(retry_after_secs(" 7 "), Some(7));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let secs = retry_after_secs(&later).unwrap();
        assert!((85..=90).contains(&secs), "{secs}");
        assert_eq!(retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT"), Some(0));
        assert_eq!(retry_after_secs("soon"), None);
    }

    #[test]
    fn an_announced_wait_is_a_spent_window_or_retry_after() {
        let limit = RateLimit::from_headers(&headers(&[
            ("ratelimit-remaining", "10"),
            ("ratelimit-reset", "40"),
        ]));
        assert_eq!(limit.announced_wait(), None);
        let limit = RateLimit::from_headers(&headers(&[
            ("ratelimit-remaining", "10"),
            ("ratelimit-reset", "40"),
            ("retry-after", "3"),
        ]));
        assert_eq!(limit.announced_wait(), Some(Duration::from_secs(3)));
        let limit = RateLimit::from_headers(&headers(&[
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "40"),
            ("retry-after", "3"),
        ]));
        assert_eq!(limit.announced_wait(), Some(Duration::from_secs(40)));
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn reads_both_windows() {
        let rl = RateLimit::from_headers(&headers(&[
            ("RateLimit-Limit", "200"),
            ("RateLimit-Remaining", "150"),
            ("RateLimit-Reset", "30"),
            ("RateLimit-User-Limit", "50"),
            ("RateLimit-User-Remaining", "0"),
            ("RateLimit-User-Reset", "42"),
        ]));
        assert_eq!(rl.organization.unwrap().remaining, Some(150));
        assert_eq!(rl.user.unwrap().limit, Some(50));
        assert_eq!(rl.wait_hint(), Some(Duration::from_secs(42)));
    }

    #[test]
    fn retry_after_is_used_when_no_window_is_exhausted() {
        let rl = RateLimit::from_headers(&headers(&[
            ("RateLimit-Remaining", "3"),
            ("RateLimit-Reset", "50"),
            ("Retry-After", "7"),
        ]));
        assert_eq!(rl.wait_hint(), Some(Duration::from_secs(7)));
    }

    #[test]
    fn no_headers_means_empty() {
        let rl = RateLimit::from_headers(&HeaderMap::new());
        assert!(rl.is_empty());
        assert_eq!(rl.wait_hint(), None);
    }
}
