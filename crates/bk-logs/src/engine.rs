//! The engine: cache policy on top of a [`LogSource`].
//!
//! Every access first asks the source to authorize the caller (a `HEAD`
//! with their own credentials), so a shared cache never serves a log to
//! someone who may not read it. Then:
//! - a finished job's entry is used until evicted;
//! - a running job's entry is used for `cache_ttl`, then refetched;
//! - `force_refresh` always refetches.
//!
//! Refreshes of one job are coalesced in this process (one download, the
//! other callers wait for it); across processes, entries are replaced
//! atomically, so sharing a cache directory is safe.
//!
//! With a [`SharedTier`], the local cache is the first tier of two: a
//! finished job's log missing locally is looked up in the shared store
//! before it is downloaded, downloads of one log are coordinated between
//! replicas by a lease, and a finished job's new entry is stored for the
//! others. Any failure of the shared tier falls back to the direct path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cache::{EntryKey, LogCache, now_ms};
use crate::error::{Error, Result};
use crate::parse::{Parser, ParserOptions, Row};
use crate::query::{LogFile, LogRow};
use crate::shared::{Claim, Lookup, SharedReport, SharedTier};
use crate::source::LogSource;

/// Default time a running job's log is reused.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);

/// How fresh an answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPolicy {
    /// How long a running job's cached log is reused.
    pub cache_ttl: Duration,
    /// Refetch even if a fresh entry exists.
    pub force_refresh: bool,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            cache_ttl: DEFAULT_CACHE_TTL,
            force_refresh: false,
        }
    }
}

/// Engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Logs larger than this are not downloaded whole: a tail asks for the
    /// last bytes only. Default 1 GiB (Buildkite's per-job limit).
    pub max_log_bytes: u64,
    /// A tail of a log that is not cached and is larger than this is read
    /// with a ranged request for the last bytes, instead of downloading the
    /// whole log first. Default 64 MiB.
    pub tail_range_above: u64,
    /// Bytes fetched per requested tail row for a ranged tail.
    pub tail_bytes_per_row: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_log_bytes: 1 << 30,
            tail_range_above: 64 << 20,
            tail_bytes_per_row: 1024,
        }
    }
}

/// The end of a log too large to download, parsed from a ranged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialTail {
    /// The rows. Their `rn` counts from the first complete line of the
    /// fetched bytes, not from the start of the log.
    pub rows: Vec<LogRow>,
    /// Offset in the raw log where these rows start.
    pub start_byte: u64,
    /// Size of the whole raw log.
    pub total_bytes: u64,
}

/// Either a cached log or, for a log over the size limit, its tail.
#[derive(Debug)]
pub enum TailAnswer {
    /// Rows from the full, cached log.
    Cached(Vec<LogRow>, Box<LogFile>),
    /// Rows from the end of a log too large to cache.
    Partial(PartialTail),
}

/// Cache policy, download coalescing and size limits over a [`LogCache`].
#[derive(Debug)]
pub struct Engine {
    cache: LogCache,
    options: EngineOptions,
    refreshing: Mutex<HashMap<EntryKey, Arc<RefreshLock>>>,
    shared: Option<SharedTier>,
}

/// Serialises refreshes of one key and counts them, so a caller that waited
/// can tell whether someone refreshed while it waited.
#[derive(Debug, Default)]
struct RefreshLock {
    lock: tokio::sync::Mutex<()>,
    completed: AtomicU64,
}

impl Engine {
    /// An engine over `cache`.
    pub fn new(cache: LogCache, options: EngineOptions) -> Self {
        Engine {
            cache,
            options,
            refreshing: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// Adds a shared tier: finished jobs' entries are read from and written
    /// to it, and downloads coordinated through its leases.
    pub fn with_shared(mut self, shared: SharedTier) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The shared tier's counters and health, when there is one.
    pub fn shared_report(&self) -> Option<SharedReport> {
        self.shared.as_ref().map(SharedTier::report)
    }

    /// The cache.
    pub fn cache(&self) -> &LogCache {
        &self.cache
    }

    /// Opens `key`'s log: authorizes, then uses the cache or refetches as the
    /// policy says. Fails with [`Error::TooLarge`] for logs over the limit
    /// (use [`Engine::tail`] for those).
    pub async fn open(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
    ) -> Result<LogFile> {
        let size = source.authorize().await?;
        self.open_authorized(key, source, policy, size).await
    }

    async fn open_authorized(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
        size: Option<u64>,
    ) -> Result<LogFile> {
        if !policy.force_refresh
            && let Some(log) = self.fresh_entry(key, policy.cache_ttl)?
        {
            return Ok(log);
        }
        if let Some(size) = size.filter(|&s| s > self.options.max_log_bytes) {
            return Err(too_large(size, self.options.max_log_bytes));
        }
        let refresh = self.lock_for(key);
        let seen = refresh.completed.load(Ordering::Acquire);
        let _refreshing = refresh.lock.lock().await;
        // A refresh that finished while we waited started after we asked:
        // it is as fresh as ours would be, forced or not.
        if refresh.completed.load(Ordering::Acquire) != seen
            && let Some(log) = self.cache.open(key)?
        {
            return Ok(log);
        }
        // Only finished jobs' entries are shared, so the store is asked
        // before the job's state: a hit costs no API request beyond the
        // access check.
        let shared = self.shared.as_ref().filter(|_| !policy.force_refresh);
        let entry_limit = self.options.max_log_bytes.saturating_mul(2);
        if let Some(tier) = shared
            && let Lookup::Hit(log) = tier.lookup(&self.cache, key, entry_limit).await
        {
            refresh.completed.fetch_add(1, Ordering::Release);
            return Ok(*log);
        }
        let status = source.job_status().await?;
        let lease = match shared.filter(|_| status.terminal) {
            Some(tier) => match tier.claim(&self.cache, key, entry_limit).await {
                Claim::Served(log) => {
                    refresh.completed.fetch_add(1, Ordering::Release);
                    return Ok(*log);
                }
                Claim::Download(lease) => lease,
            },
            None => None,
        };
        let downloaded = self.download(key, source, &status).await;
        let log = match downloaded {
            Ok(log) => log,
            Err(error) => {
                if let Some(tier) = &self.shared {
                    tier.abandon(lease).await;
                }
                return Err(error);
            }
        };
        if status.terminal
            && let Some(tier) = &self.shared
        {
            tier.publish(key, &log, lease);
        }
        refresh.completed.fetch_add(1, Ordering::Release);
        Ok(log)
    }

    /// Downloads and ingests the whole log.
    async fn download(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        status: &crate::source::JobStatus,
    ) -> Result<LogFile> {
        let mut chunks = source.fetch().await?;
        let mut ingest = self.cache.begin(key)?;
        let mut received: u64 = 0;
        while let Some(chunk) = chunks.next_chunk().await? {
            received += chunk.len() as u64;
            if received > self.options.max_log_bytes {
                return Err(too_large(received, self.options.max_log_bytes));
            }
            ingest.feed(&chunk)?;
        }
        ingest.finish(status.state.clone(), status.terminal)
    }

    /// Opens `key`'s log and runs `query` on it. If the entry turns out to
    /// be corrupt (a damaged chunk found while reading), it is deleted,
    /// fetched again and the query retried once: a corrupt entry is rebuilt,
    /// never served. (An entry from the shared tier was checked whole when
    /// it arrived, so the damage is local: the refetch skips the store.)
    pub async fn query<T>(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
        query: impl Fn(&LogFile) -> Result<T>,
    ) -> Result<T> {
        let log = self.open(key, source, policy).await?;
        match query(&log) {
            Err(Error::Corrupt(problem)) => {
                tracing::warn!(key = %key.as_text(), %problem, "rebuilding a corrupt log cache entry");
                drop(log);
                self.cache.remove(key)?;
                let forced = FetchPolicy {
                    force_refresh: true,
                    ..policy
                };
                let log = self.open(key, source, forced).await?;
                query(&log)
            }
            other => other,
        }
    }

    /// The last `n` rows: from the cache when it is fresh, else, for a log
    /// larger than [`EngineOptions::tail_range_above`] (or over the size
    /// limit), from a ranged request for the last bytes only; else by
    /// fetching and caching the whole log.
    pub async fn tail(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
        n: usize,
    ) -> Result<TailAnswer> {
        let size = source.authorize().await?;
        if !policy.force_refresh
            && let Some(log) = self.fresh_entry(key, policy.cache_ttl)?
        {
            let rows = log.tail(n, false)?;
            return Ok(TailAnswer::Cached(rows, Box::new(log)));
        }
        match size {
            Some(size)
                if size
                    > self
                        .options
                        .tail_range_above
                        .min(self.options.max_log_bytes) =>
            {
                let want = (n as u64 + 1).saturating_mul(self.options.tail_bytes_per_row);
                let raw = source.fetch_tail(want.min(size)).await?;
                Ok(TailAnswer::Partial(parse_tail(raw, n)?))
            }
            _ => {
                let log = self.open_authorized(key, source, policy, size).await?;
                let rows = log.tail(n, false)?;
                Ok(TailAnswer::Cached(rows, Box::new(log)))
            }
        }
    }

    fn fresh_entry(&self, key: &EntryKey, ttl: Duration) -> Result<Option<LogFile>> {
        let Some(log) = self.cache.open(key)? else {
            return Ok(None);
        };
        let meta = log.meta();
        let age_ms = now_ms().saturating_sub(meta.cached_at_ms);
        let fresh = meta.terminal || u128::try_from(age_ms).is_ok_and(|age| age < ttl.as_millis());
        Ok(fresh.then_some(log))
    }

    fn lock_for(&self, key: &EntryKey) -> Arc<RefreshLock> {
        let mut locks = self
            .refreshing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Drop locks nobody holds, so the map does not grow with every job.
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        Arc::clone(locks.entry(key.clone()).or_default())
    }
}

fn too_large(size: u64, limit: u64) -> Error {
    Error::TooLarge(format!(
        "the log is {size} bytes, over the {limit}-byte limit; only its tail can be read"
    ))
}

/// Parses the last bytes of a log into its last `n` rows. Unless the bytes
/// start at the beginning of the log, the first (partial) line is dropped.
fn parse_tail(raw: crate::source::RawTail, n: usize) -> Result<PartialTail> {
    let mut bytes = &raw.bytes[..];
    let mut start_byte = raw.start;
    if raw.start > 0 {
        match memchr::memchr(b'\n', bytes) {
            Some(newline) => {
                bytes = &bytes[newline + 1..];
                start_byte += newline as u64 + 1;
            }
            None => bytes = &[],
        }
    }
    let mut rows: std::collections::VecDeque<LogRow> = std::collections::VecDeque::new();
    let mut sink = |row: &Row<'_>| {
        if rows.len() == n {
            rows.pop_front();
        }
        if n > 0 {
            rows.push_back(LogRow {
                ts: row.ts,
                content: row.content.to_string(),
                row: row.number,
                group: None,
            });
        }
        Ok(())
    };
    let mut parser = Parser::new(ParserOptions::default());
    parser.feed(bytes, &mut sink)?;
    parser.finish(&mut sink)?;
    Ok(PartialTail {
        rows: rows.into(),
        start_byte,
        total_bytes: raw.total_size,
    })
}
