//! Fewer requests for the same answers: what spends the organization's
//! budget of 200 requests a minute.
//!
//! - [`CallScope`]: one tool call's view. It counts every request the call
//!   sends (each attempt and redirect hop), and remembers each read it made,
//!   so no URL is fetched twice in one call.
//! - [`ReadCache`]: a short cache of read answers shared by every call, keyed
//!   by the caller's credentials and the URL, so no caller ever sees an
//!   answer fetched with someone else's token. Bounded in bytes, entries
//!   live `ttl` (seconds: a finished build still changes when someone
//!   retries a job).
//! - Concurrent identical reads (same credentials, same URL) are coalesced:
//!   one request, and the others wait for its answer.
//! - Settled reads live longer: answers about a thing that has stopped
//!   changing (a finished build's annotations and Test Engine results) are
//!   kept the settled TTL (a minute by default), under a version of that
//!   thing (the build's id and finish time). A retried job re-opens the
//!   build, its next finish time is another version, and the old answers
//!   are never used for it.
//!
//! The shared cache and the coalescing are off unless the client is built
//! with a read-cache TTL; the call scope works whatever it says.
//!
//! Only `GET`s of whole JSON answers go through here: not writes, not
//! streamed logs or artifacts. A call that asks for fresh data (a tool's
//! `force_refresh`) skips the shared cache and the coalescing, but still
//! refreshes the cache for the next caller.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use tokio::sync::watch;

/// Default time a read answer is reused.
pub const DEFAULT_READ_CACHE_TTL: Duration = Duration::from_secs(15);
/// Default time a settled read answer is reused (see [`crate::Client::settled_reads`]).
pub const DEFAULT_SETTLED_READ_TTL: Duration = Duration::from_secs(60);
/// Default bound on the answers kept, in bytes.
pub const DEFAULT_READ_CACHE_BYTES: u64 = 64 << 20;

/// Who asks, as far as caching is concerned: a 128-bit keyed hash of the
/// credentials a request carries (token and per-caller headers). The key is
/// random per process, so the value says nothing about the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CredentialId(u128);

impl CredentialId {
    /// Hashes `parts` (the token's header value, then each per-caller
    /// header's name and value).
    pub(crate) fn of<'a>(parts: impl Iterator<Item = &'a [u8]> + Clone) -> Self {
        static KEYS: LazyLock<(
            std::collections::hash_map::RandomState,
            std::collections::hash_map::RandomState,
        )> = LazyLock::new(|| (Default::default(), Default::default()));
        let half = |state: &std::collections::hash_map::RandomState| {
            let mut hasher = state.build_hasher();
            for part in parts.clone() {
                hasher.write_usize(part.len());
                hasher.write(part);
            }
            hasher.finish()
        };
        CredentialId((u128::from(half(&KEYS.0)) << 64) | u128::from(half(&KEYS.1)))
    }

    /// A short, opaque text form (for cache keys of other layers, such as
    /// the log engine's access checks).
    pub fn as_text(&self) -> String {
        format!("{:032x}", self.0)
    }
}

/// A read answer as kept: the headers later layers read (`Link` for
/// paging, the rate-limit headers) and the body.
#[derive(Debug, Clone)]
pub(crate) struct CachedRead {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// Whether it is kept the settled TTL rather than the ordinary one.
    pub(crate) settled: bool,
}

impl CachedRead {
    pub(crate) fn new(headers: &HeaderMap, body: Bytes, settled: bool) -> Self {
        let kept = headers
            .iter()
            .filter(|(name, _)| {
                let name = name.as_str();
                name == "link" || name == "content-type" || name.starts_with("ratelimit")
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        CachedRead {
            headers: kept,
            body,
            settled,
        }
    }

    fn weight(&self) -> u32 {
        u32::try_from(self.body.len() + 256).unwrap_or(u32::MAX)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ReadKey {
    credential: CredentialId,
    url: String,
}

impl ReadKey {
    /// The key of a read of `url` by `credential`, with the request's own
    /// headers (an `Accept` or `Buildkite-Version` changes the answer's
    /// shape, so it is part of what was asked), and for a settled read the
    /// version of the thing read.
    pub(crate) fn new(
        credential: CredentialId,
        url: &str,
        headers: &HeaderMap,
        settled: Option<&str>,
    ) -> Self {
        let mut url = url.to_owned();
        if let Some(version) = settled {
            url.push_str("\nsettled:");
            url.push_str(version);
        }
        for (name, value) in headers {
            url.push('\n');
            url.push_str(name.as_str());
            url.push(':');
            url.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        ReadKey { credential, url }
    }

    /// The URL and the request's headers, as one text (the call's memo key).
    pub(crate) fn text(&self) -> &str {
        &self.url
    }
}

/// A read in flight: followers wait on it.
type Flight = watch::Receiver<Option<Option<Arc<CachedRead>>>>;

/// The shared cache of read answers, and the reads in flight.
pub(crate) struct ReadCache {
    answers: Option<moka::future::Cache<ReadKey, Arc<CachedRead>>>,
    flights: Mutex<HashMap<ReadKey, Flight>>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("enabled", &self.answers.is_some())
            .finish_non_exhaustive()
    }
}

/// What [`ReadCache::join`] found.
pub(crate) enum Joined {
    /// This caller sends the request, and must [`Leader::finish`].
    Leader(Leader),
    /// Another caller is sending it: wait with [`ReadCache::wait`].
    Follower(Flight),
}

/// The caller that sends a coalesced read. Dropping it unfinished (an
/// error, a cancelled call) lets the followers send their own.
pub(crate) struct Leader {
    key: ReadKey,
    sender: watch::Sender<Option<Option<Arc<CachedRead>>>>,
}

/// How long an answer is kept: the ordinary TTL, or the settled one.
struct Lifetimes {
    ordinary: Duration,
    settled: Duration,
}

impl moka::Expiry<ReadKey, Arc<CachedRead>> for Lifetimes {
    fn expire_after_create(
        &self,
        _: &ReadKey,
        answer: &Arc<CachedRead>,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(if answer.settled {
            self.settled
        } else {
            self.ordinary
        })
    }

    fn expire_after_update(
        &self,
        key: &ReadKey,
        answer: &Arc<CachedRead>,
        now: std::time::Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, answer, now)
    }
}

impl ReadCache {
    /// A cache keeping answers `ttl` (settled ones `settled_ttl`, never
    /// less than `ttl`) within `max_bytes`; a zero `ttl` or size keeps none
    /// and coalesces nothing.
    pub(crate) fn new(ttl: Duration, settled_ttl: Duration, max_bytes: u64) -> Self {
        let answers = (!ttl.is_zero() && max_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .expire_after(Lifetimes {
                    ordinary: ttl,
                    settled: settled_ttl.max(ttl),
                })
                .max_capacity(max_bytes)
                .weigher(|_: &ReadKey, value: &Arc<CachedRead>| value.weight())
                .build()
        });
        ReadCache {
            answers,
            flights: Mutex::new(HashMap::new()),
        }
    }

    /// Whether answers are kept (and identical reads coalesced).
    pub(crate) fn enabled(&self) -> bool {
        self.answers.is_some()
    }

    /// A fresh enough answer, if kept.
    pub(crate) async fn get(&self, key: &ReadKey) -> Option<Arc<CachedRead>> {
        self.answers.as_ref()?.get(key).await
    }

    /// Replaces the kept answer with a fresh one (a fresh read's).
    pub(crate) async fn refresh(&self, key: ReadKey, answer: Arc<CachedRead>) {
        self.put(key, answer).await;
    }

    /// Keeps `answer` for later callers.
    async fn put(&self, key: ReadKey, answer: Arc<CachedRead>) {
        if let Some(answers) = &self.answers {
            answers.insert(key, answer).await;
        }
    }

    /// Drops every kept answer, every caller's: after a write, which may
    /// have changed any of them.
    pub(crate) fn forget_all(&self) {
        if let Some(answers) = &self.answers {
            answers.invalidate_all();
        }
    }

    fn flights(&self) -> std::sync::MutexGuard<'_, HashMap<ReadKey, Flight>> {
        self.flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Joins the read of `key` in flight, or starts one.
    pub(crate) fn join(&self, key: &ReadKey) -> Joined {
        let mut flights = self.flights();
        if let Some(flight) = flights.get(key)
            && flight.has_changed().is_ok()
        {
            return Joined::Follower(flight.clone());
        }
        let (sender, receiver) = watch::channel(None);
        flights.insert(key.clone(), receiver);
        Joined::Leader(Leader {
            key: key.clone(),
            sender,
        })
    }

    /// The leader's answer, or `None` when it failed (then the follower
    /// sends its own request, and gets its own error).
    pub(crate) async fn wait(mut flight: Flight) -> Option<Arc<CachedRead>> {
        match flight.wait_for(Option::is_some).await {
            Ok(done) => done.clone().flatten(),
            Err(_) => None,
        }
    }

    /// Ends a flight: keeps a successful answer and hands it to the
    /// followers.
    pub(crate) async fn finish(&self, leader: Leader, answer: Option<Arc<CachedRead>>) {
        if let Some(answer) = &answer {
            self.put(leader.key.clone(), Arc::clone(answer)).await;
        }
        self.flights().remove(&leader.key);
        let _ = leader.sender.send(Some(answer));
    }
}

/// One tool call's requests: counted, each read remembered, and whether
/// the rate limit stopped any of them.
#[derive(Debug, Default)]
pub struct CallScope {
    requests: AtomicU64,
    reads: Mutex<HashMap<String, Arc<CachedRead>>>,
    /// When the rate limit that stopped a request of this call resets.
    rate_limited_until: Mutex<Option<std::time::Instant>>,
    /// When the call must have its answer: pacing never waits past it.
    deadline: Option<std::time::Instant>,
}

impl CallScope {
    /// A scope for one call.
    pub fn new() -> Self {
        CallScope::default()
    }

    /// A scope for a call that must answer by `deadline`.
    pub fn until(deadline: std::time::Instant) -> Self {
        CallScope {
            deadline: Some(deadline),
            ..CallScope::default()
        }
    }

    /// When the call must have its answer, if it has a deadline.
    pub fn deadline(&self) -> Option<std::time::Instant> {
        self.deadline
    }

    /// Requests sent so far (each attempt and redirect hop counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Notes that the rate limit stopped a request, to reset after
    /// `retry_after` (unknown: a minute, Buildkite's window).
    pub(crate) fn note_rate_limited(&self, retry_after: Option<Duration>) {
        let until = std::time::Instant::now() + retry_after.unwrap_or(Duration::from_secs(60));
        let mut noted = self
            .rate_limited_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *noted = Some(noted.map_or(until, |earlier| earlier.max(until)));
    }

    /// If the rate limit stopped a request of this call: how long until
    /// it resets (at least a second).
    pub fn rate_limited(&self) -> Option<Duration> {
        let noted = *self
            .rate_limited_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        noted.map(|until| {
            until
                .saturating_duration_since(std::time::Instant::now())
                .max(Duration::from_secs(1))
        })
    }

    pub(crate) fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn read(&self, url: &str) -> Option<Arc<CachedRead>> {
        self.reads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(url)
            .cloned()
    }

    /// Forgets the call's reads (after a write).
    pub(crate) fn forget(&self) {
        self.reads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    pub(crate) fn remember(&self, url: &str, answer: &Arc<CachedRead>) {
        self.reads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(url.to_owned(), Arc::clone(answer));
    }
}
