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
//! - Callers share fairly. A caller (a credential, or one MCP session of a
//!   shared credential) that has already had its share of the window (the
//!   window over the callers active in the last ten seconds) may take more
//!   only while enough is left for every other active caller's unused
//!   share; otherwise it waits a moment and asks again. While every active
//!   caller's share is covered, nobody waits.
//!
//! Replicas of one service share their view through a [`SharedBudget`]
//! (Redis, in `bk-fleet`): a request the local view lets go also takes one
//! from the shared window, and waits when the replicas together have spent
//! it. Without an answer from the shared budget (down, slow), the local view
//! decides alone.
//!
//! A token's own window (`RateLimit-User-*`) is kept the same way, and a
//! request goes only when both its organization's and its token's window
//! let it.
//!
//! Requests outside an organization (`/v2/user`, `/v2/access-token`) are
//! not paced. Without rate-limit headers (another API, a replay), nothing
//! waits.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::rate_limit::RateLimit;

/// A window's length when the API has not said (Buildkite's is a minute).
const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// Windows kept (organizations' and tokens') before the oldest are dropped.
const MAX_ORGANIZATIONS: usize = 1000;
/// A caller that asked within this long shares the window.
const ACTIVE_FOR: Duration = Duration::from_secs(10);
/// How long a caller past its fair share waits before asking again.
const FAIR_SHARE_POLL: Duration = Duration::from_millis(200);

/// Who asks, for fair shares: a hash of the credentials and the caller's
/// own label ([`crate::Client::for_caller`]).
pub(crate) type CallerKey = u64;

/// One caller's use of an organization's window.
#[derive(Debug, Clone, Copy)]
struct CallerUse {
    /// Requests it sent in this window.
    used: u64,
    last_asked: Instant,
}

/// One organization's window, as last seen and counted down since.
#[derive(Debug, Clone)]
struct Window {
    limit: u64,
    remaining: u64,
    resets_at: Instant,
    seen_at: Instant,
    /// The callers active lately, and what each used of this window.
    callers: HashMap<CallerKey, CallerUse>,
}

impl Window {
    /// Whether `caller`'s request may go now by this window, without
    /// counting it (the caller is noted as active).
    fn decide(
        &mut self,
        now: Instant,
        caller: CallerKey,
        write: bool,
        max_wait: Duration,
    ) -> Admission {
        if now >= self.resets_at {
            // A new window: full until an answer says otherwise.
            self.remaining = self.limit;
            self.resets_at = now + DEFAULT_WINDOW;
            for other in self.callers.values_mut() {
                other.used = 0;
            }
        }
        self.callers
            .retain(|_, other| now.saturating_duration_since(other.last_asked) < ACTIVE_FOR);
        self.callers
            .entry(caller)
            .or_insert(CallerUse {
                used: 0,
                last_asked: now,
            })
            .last_asked = now;
        let reserve_for_writes = (self.limit / 20).max(1);
        let reserve = if write { 0 } else { reserve_for_writes };
        let until_reset = self.resets_at.saturating_duration_since(now);
        if self.remaining > reserve {
            let available = self.remaining - reserve;
            if write || !self.owes_others(caller, reserve_for_writes, available) {
                return Admission::Go;
            }
            // Past its share while others are still owed theirs: a moment.
            return if FAIR_SHARE_POLL > max_wait {
                Admission::TooLong(until_reset.max(FAIR_SHARE_POLL), Limited::Organization)
            } else {
                Admission::Wait(FAIR_SHARE_POLL + Duration::from_millis(fastrand::u64(0..50)))
            };
        }
        // Spread the waiters a little so they do not all return at once.
        let wait = until_reset + Duration::from_millis(fastrand::u64(20..250));
        if wait > max_wait {
            Admission::TooLong(wait, Limited::Organization)
        } else {
            Admission::Wait(wait)
        }
    }

    /// Whether `caller`, past its fair share, must let the other active
    /// callers have theirs first. `available` is what reads may still use.
    fn owes_others(&self, caller: CallerKey, reserve: u64, available: u64) -> bool {
        let active = self.callers.len() as u64;
        if active <= 1 {
            return false;
        }
        let share = self.limit.saturating_sub(reserve).div_ceil(active);
        let used = self.callers.get(&caller).map_or(0, |me| me.used);
        if used < share {
            return false;
        }
        let owed: u64 = self
            .callers
            .iter()
            .filter(|(key, _)| **key != caller)
            .map(|(_, other)| share.saturating_sub(other.used))
            .sum();
        available <= owed
    }
}

/// What a [`SharedBudget`] says of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedAdmission {
    /// Taken from the shared window: send.
    Go,
    /// The replicas have spent the window: wait this long (its reset).
    Wait(Duration),
    /// No shared view (none yet, or the store did not answer): the local
    /// view decides.
    Unknown,
}

/// A future of a [`SharedBudget`].
pub type SharedFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Each organization's rate-limit window as every replica of a service sees
/// it, kept in a store they share. Implementations answer fast or not at
/// all: a failure or a timeout is [`SharedAdmission::Unknown`].
pub trait SharedBudget: Send + Sync + std::fmt::Debug {
    /// Takes one request from `org`'s shared window, keeping a twentieth
    /// of it for writes unless `write`.
    fn take<'a>(&'a self, org: &'a str, write: bool) -> SharedFuture<'a, SharedAdmission>;

    /// Records what an answer said of `org`'s window: its `limit`, what is
    /// `remaining`, and the time until it resets. Within one window the
    /// lowest count wins (answers arrive out of order).
    fn observe<'a>(
        &'a self,
        org: &'a str,
        limit: u64,
        remaining: u64,
        reset: Duration,
    ) -> SharedFuture<'a, ()>;
}

/// The organizations' windows, and each token's own.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    windows: Mutex<HashMap<String, Window>>,
}

/// Which window a request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limited {
    /// The organization's (`RateLimit-*`).
    Organization,
    /// The token's own (`RateLimit-User-*`).
    Token,
}

/// What [`Pacer::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Send now.
    Go,
    /// Wait this long, then ask again.
    Wait(Duration),
    /// The wait would pass the caller's limit: give up, retry after this.
    TooLong(Duration, Limited),
}

/// The windows one request counts against: its organization's, and its
/// token's own (the key of [`Pacer::observe`]'s `user` window).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows<'a> {
    pub(crate) org: &'a str,
    pub(crate) token: &'a str,
}

impl Windows<'_> {
    fn token_key(&self) -> String {
        format!("token {}", self.token)
    }
}

impl Pacer {
    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        self.windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `caller`'s request may go now; counts it against both its
    /// windows if so (never against one only). `max_wait` is how long the
    /// caller may still wait.
    pub(crate) fn admit(
        &self,
        windows: Windows<'_>,
        caller: CallerKey,
        write: bool,
        max_wait: Duration,
    ) -> Admission {
        self.admit_at(Instant::now(), windows, caller, write, max_wait)
    }

    fn admit_at(
        &self,
        now: Instant,
        which: Windows<'_>,
        caller: CallerKey,
        write: bool,
        max_wait: Duration,
    ) -> Admission {
        let token_key = which.token_key();
        let keys = [
            (which.org, Limited::Organization),
            (token_key.as_str(), Limited::Token),
        ];
        let mut windows = self.windows();
        for (key, limited) in keys {
            let Some(window) = windows.get_mut(key) else {
                continue;
            };
            match window.decide(now, caller, write, max_wait) {
                Admission::Go => {}
                Admission::TooLong(wait, _) => return Admission::TooLong(wait, limited),
                wait => return wait,
            }
        }
        for (key, _) in keys {
            if let Some(window) = windows.get_mut(key) {
                window.remaining = window.remaining.saturating_sub(1);
                if let Some(me) = window.callers.get_mut(&caller) {
                    me.used += 1;
                }
            }
        }
        Admission::Go
    }

    /// Takes in what an answer for `org` said of the organization's window
    /// and of its token's own.
    pub(crate) fn observe(&self, which: Windows<'_>, rate: &RateLimit) {
        if let Some(window) = rate.organization {
            self.observe_window(which.org, window);
        }
        if let Some(window) = rate.user {
            self.observe_window(&which.token_key(), window);
        }
    }

    fn observe_window(&self, key: &str, window: crate::rate_limit::RateLimitWindow) {
        let (Some(limit), Some(remaining)) = (window.limit, window.remaining) else {
            return;
        };
        let now = Instant::now();
        let resets_at = now
            + window
                .reset_secs
                .map_or(DEFAULT_WINDOW, Duration::from_secs);
        let mut windows = self.windows();
        if windows.len() >= MAX_ORGANIZATIONS && !windows.contains_key(key) {
            let oldest = windows
                .iter()
                .min_by_key(|(_, w)| w.seen_at)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                windows.remove(&oldest);
            }
        }
        let entry = windows.entry(key.to_owned()).or_insert_with(|| Window {
            limit,
            remaining,
            resets_at,
            seen_at: now,
            callers: HashMap::new(),
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

/// The organization window an answer reported: limit, remaining, and the
/// time to its reset.
pub(crate) fn reported_window(rate: &RateLimit) -> Option<(u64, u64, Duration)> {
    let window = rate.organization?;
    Some((
        window.limit?,
        window.remaining?,
        window
            .reset_secs
            .map_or(DEFAULT_WINDOW, Duration::from_secs),
    ))
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

    const ACME: Windows<'static> = Windows {
        org: "acme",
        token: "t1",
    };
    const OTHER: Windows<'static> = Windows {
        org: "other",
        token: "t1",
    };

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
            pacer.admit(ACME, 1, false, Duration::ZERO),
            Admission::Go,
            "unknown: go"
        );
        pacer.observe(ACME, &seen(200, 12, 30));
        // 12 left, a reserve of 10: two reads go, the third waits.
        assert_eq!(
            pacer.admit(ACME, 1, false, Duration::from_secs(60)),
            Admission::Go
        );
        assert_eq!(
            pacer.admit(ACME, 1, false, Duration::from_secs(60)),
            Admission::Go
        );
        assert!(matches!(
            pacer.admit(ACME, 1, false, Duration::from_secs(60)),
            Admission::Wait(w) if w >= Duration::from_secs(29) && w <= Duration::from_secs(31)
        ));
        // Writes use the reserve, down to nothing.
        for _ in 0..10 {
            assert_eq!(pacer.admit(ACME, 1, true, Duration::ZERO), Admission::Go);
        }
        assert!(matches!(
            pacer.admit(ACME, 1, true, Duration::from_secs(1)),
            Admission::TooLong(..)
        ));
        // Other organizations have budgets of their own.
        assert_eq!(pacer.admit(OTHER, 1, false, Duration::ZERO), Admission::Go);
    }

    #[test]
    fn a_window_is_full_again_after_its_reset() {
        let pacer = Pacer::default();
        pacer.observe(ACME, &seen(20, 0, 0));
        assert_eq!(
            pacer.admit(ACME, 1, false, Duration::ZERO),
            Admission::Go,
            "reset already"
        );
        // Late answers of the same window never raise the count.
        pacer.observe(ACME, &seen(20, 5, 40));
        pacer.observe(ACME, &seen(20, 9, 40));
        for _ in 0..4 {
            assert_eq!(pacer.admit(ACME, 1, false, Duration::ZERO), Admission::Go);
        }
        assert!(matches!(
            pacer.admit(ACME, 1, false, Duration::ZERO),
            Admission::TooLong(..)
        ));
    }

    #[test]
    fn callers_past_their_share_let_the_others_have_theirs() {
        let pacer = Pacer::default();
        let start = Instant::now();
        let long = Duration::from_secs(60);
        // 40 a window, 2 kept for writes: 38 for reads.
        pacer.observe(ACME, &seen(40, 40, 60));
        let (a, b) = (1, 2);
        // Alone, a caller takes what it needs.
        for _ in 0..30 {
            assert_eq!(pacer.admit_at(start, ACME, a, false, long), Admission::Go);
        }
        // Another caller shows up: its share (19) is mostly unused, and
        // only 8 reads are left, so the first caller waits a moment...
        assert_eq!(pacer.admit_at(start, ACME, b, false, long), Admission::Go);
        assert!(matches!(
            pacer.admit_at(start, ACME, a, false, long),
            Admission::Wait(wait) if wait < Duration::from_secs(1)
        ));
        // ... while the other goes, and a write is never held up.
        assert_eq!(pacer.admit_at(start, ACME, b, false, long), Admission::Go);
        assert_eq!(pacer.admit_at(start, ACME, a, true, long), Admission::Go);
        // A caller that cannot wait at all is told when the window resets.
        assert!(matches!(
            pacer.admit_at(start, ACME, a, false, Duration::ZERO),
            Admission::TooLong(wait, Limited::Organization) if wait > Duration::from_secs(50)
        ));
        // Once the other has been quiet a while, the first goes on.
        let later = start + ACTIVE_FOR + Duration::from_secs(1);
        assert_eq!(pacer.admit_at(later, ACME, a, false, long), Admission::Go);
    }

    #[test]
    fn two_busy_callers_each_get_half_of_the_window() {
        let pacer = Pacer::default();
        let now = Instant::now();
        // 200 a window, 10 kept for writes: a share of 95 for each of two.
        pacer.observe(ACME, &seen(200, 200, 60));
        for _ in 0..90 {
            assert_eq!(
                pacer.admit_at(now, ACME, 2, false, Duration::ZERO),
                Admission::Go
            );
            assert_eq!(
                pacer.admit_at(now, ACME, 1, false, Duration::ZERO),
                Admission::Go
            );
        }
        // 10 reads left: each caller is owed 5 of them.
        for _ in 0..5 {
            assert_eq!(
                pacer.admit_at(now, ACME, 1, false, Duration::ZERO),
                Admission::Go
            );
        }
        assert!(matches!(
            pacer.admit_at(now, ACME, 1, false, Duration::ZERO),
            Admission::TooLong(..)
        ));
        assert_eq!(
            pacer.admit_at(now, ACME, 2, false, Duration::ZERO),
            Admission::Go
        );
    }

    #[test]
    fn a_token_waits_for_its_own_window_too() {
        let pacer = Pacer::default();
        let long = Duration::from_secs(60);
        // Plenty left in the organization; 3 left for this token.
        pacer.observe(
            ACME,
            &RateLimit {
                user: Some(RateLimitWindow {
                    limit: Some(20),
                    remaining: Some(3),
                    reset_secs: Some(30),
                }),
                ..seen(200, 150, 30)
            },
        );
        // A reserve of one: two reads go, then the token's window is spent.
        assert_eq!(pacer.admit(ACME, 1, false, long), Admission::Go);
        assert_eq!(pacer.admit(ACME, 1, false, long), Admission::Go);
        assert!(matches!(
            pacer.admit(ACME, 1, false, Duration::ZERO),
            Admission::TooLong(_, Limited::Token)
        ));
        // Another token of the organization is not held up.
        let colleague = Windows {
            org: "acme",
            token: "t2",
        };
        assert_eq!(pacer.admit(colleague, 2, false, long), Admission::Go);
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
