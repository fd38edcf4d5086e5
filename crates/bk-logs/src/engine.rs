//! The engine: cache policy on top of a [`LogSource`].
//!
//! A shared cache never serves a log to someone who may not read it: a
//! cached entry is served only after the caller's own credentials pass an
//! access check (a `HEAD`), reused for [`EngineOptions::access_recheck`]
//! per caller and job; a download is its own check. Then:
//! - a finished job's entry is used until evicted;
//! - a running job's entry is used for `cache_ttl`, then refetched;
//! - `force_refresh` always refetches.
//!
//! Refreshes of one job are coalesced in this process (one download, the
//! other callers wait for it); across processes, entries are replaced
//! atomically, so sharing a cache directory is safe.
//!
//! Every read ([`Engine::query`], [`Engine::tail`], [`Engine::query_tail`])
//! goes through one corrupt-entry fallback: an entry whose chunk fails its
//! checksum while being read is deleted, fetched again and read once more,
//! so callers never handle corruption themselves.
//!
//! With a [`SharedTier`], the local cache is the first tier of two: a
//! finished job's log missing locally is looked up in the shared store
//! before it is downloaded, downloads of one log are coordinated between
//! replicas by a lease, and a finished job's new entry is stored for the
//! others. Any failure of the shared tier falls back to the direct path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cache::{EntryKey, LogCache, now_ms};
use crate::error::{Error, Result};
use crate::parse::{Parser, ParserOptions, Row};
use crate::query::{LogFile, LogRow};
use crate::shared::{Claim, Lookup, SharedReport, SharedTier};
use crate::source::LogSource;

/// Default time a running job's log is reused.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);
/// Default time a caller's access check on a job is reused.
pub const DEFAULT_ACCESS_RECHECK: Duration = Duration::from_secs(60);
/// Access checks remembered before old ones are dropped.
const ACCESS_MEMORY: usize = 10_000;

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
    /// How long a caller's access check on a job is reused before a cached
    /// entry is served to that caller again (default 60 s). Zero checks on
    /// every read. The trade-off: a token revoked, or a pipeline made
    /// private, within this period can still read logs it just read.
    pub access_recheck: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_log_bytes: 1 << 30,
            tail_range_above: 64 << 20,
            tail_bytes_per_row: 1024,
            access_recheck: DEFAULT_ACCESS_RECHECK,
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

/// What [`Engine::query_tail`] answers: the query's answer on the whole
/// (cached) log, or the end of a log too large to cache.
#[derive(Debug)]
pub enum Tailed<T> {
    /// The query's answer on the whole log.
    Whole(T),
    /// Rows from the end of a log too large to cache; the query was not
    /// run.
    Partial(PartialTail),
}

/// Cache policy, download coalescing and size limits over a [`LogCache`].
#[derive(Debug)]
pub struct Engine {
    cache: LogCache,
    options: EngineOptions,
    refreshing: Mutex<HashMap<EntryKey, Arc<RefreshLock>>>,
    shared: Option<SharedTier>,
    /// When each (caller, job) last passed an access check.
    access: Mutex<HashMap<(String, EntryKey), Instant>>,
}

/// What a refresh should produce.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// The whole log, cached.
    Whole,
    /// The last rows: a log over the ranged-tail size is read by its end.
    Tail(usize),
}

/// What a refresh produced.
enum Refreshed {
    Log(Box<LogFile>),
    Tail(PartialTail),
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
            access: Mutex::new(HashMap::new()),
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

    /// Opens `key`'s log: a fresh cached entry after an access check, or
    /// else the shared tier's entry, or a download (which checks access by
    /// itself). Fails with [`Error::TooLarge`] for logs over the limit (use
    /// [`Engine::tail`] for those).
    pub async fn open(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
    ) -> Result<LogFile> {
        if !policy.force_refresh
            && let Some(log) = self.fresh_entry(key, policy.cache_ttl)?
        {
            self.check_access(key, source).await?;
            return Ok(log);
        }
        match self.refresh(key, source, policy, Want::Whole).await? {
            Refreshed::Log(log) => Ok(*log),
            Refreshed::Tail(_) => Err(Error::TooLarge(
                "the log is over the size limit; only its tail can be read".into(),
            )),
        }
    }

    /// Checks the caller's access unless it passed a check on this job
    /// within [`EngineOptions::access_recheck`].
    async fn check_access(&self, key: &EntryKey, source: &dyn LogSource) -> Result<()> {
        let caller = source.caller();
        let recheck = self.options.access_recheck;
        if let Some(caller) = &caller
            && !recheck.is_zero()
        {
            let access = self.access_map();
            if access
                .get(&(caller.clone(), key.clone()))
                .is_some_and(|at| at.elapsed() < recheck)
            {
                return Ok(());
            }
        }
        source.authorize().await?;
        self.note_access(key, caller);
        Ok(())
    }

    /// Records that `caller` just proved access to `key`.
    fn note_access(&self, key: &EntryKey, caller: Option<String>) {
        let recheck = self.options.access_recheck;
        let Some(caller) = caller.filter(|_| !recheck.is_zero()) else {
            return;
        };
        let mut access = self.access_map();
        if access.len() >= ACCESS_MEMORY {
            access.retain(|_, at| at.elapsed() < recheck);
            // Still full of fresh checks: forget them all (callers are then
            // checked again), rather than scan the map on every insert.
            if access.len() >= ACCESS_MEMORY / 2 {
                access.clear();
            }
        }
        access.insert((caller, key.clone()), Instant::now());
    }

    fn access_map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, EntryKey), Instant>> {
        self.access
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Gets `key`'s log when the local cache has no fresh entry: coalesced
    /// with other refreshes of it in this process, then from the shared
    /// tier (after an access check), or downloaded.
    async fn refresh(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
        want: Want,
    ) -> Result<Refreshed> {
        let refresh = self.lock_for(key);
        let seen = refresh.completed.load(Ordering::Acquire);
        let _refreshing = refresh.lock.lock().await;
        // A refresh that finished while we waited started after we asked:
        // it is as fresh as ours would be, forced or not.
        if refresh.completed.load(Ordering::Acquire) != seen
            && let Some(log) = self.cache.open(key)?
        {
            self.check_access(key, source).await?;
            return Ok(Refreshed::Log(Box::new(log)));
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
            self.check_access(key, source).await?;
            return Ok(Refreshed::Log(log));
        }
        let status = source.job_status().await?;
        let lease = match shared.filter(|_| status.terminal) {
            Some(tier) => match tier.claim(&self.cache, key, entry_limit).await {
                Claim::Served(log) => {
                    refresh.completed.fetch_add(1, Ordering::Release);
                    self.check_access(key, source).await?;
                    return Ok(Refreshed::Log(log));
                }
                Claim::Download(lease) => lease,
            },
            None => None,
        };
        let downloaded = self.download(key, source, &status, want).await;
        match downloaded {
            Ok(Refreshed::Log(log)) => {
                // A lease is only taken for a finished job, whose entry
                // is shared.
                if status.terminal
                    && let Some(tier) = &self.shared
                {
                    tier.publish(key, &log, lease);
                }
                refresh.completed.fetch_add(1, Ordering::Release);
                Ok(Refreshed::Log(log))
            }
            other => {
                if let Some(tier) = &self.shared {
                    tier.abandon(lease).await;
                }
                other
            }
        }
    }

    /// Downloads and ingests the whole log; fetching it with the caller's
    /// credentials is their access check. A log announced as larger than
    /// the limit is not read: for a tail, its end is fetched instead.
    async fn download(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        status: &crate::source::JobStatus,
        want: Want,
    ) -> Result<Refreshed> {
        let mut chunks = source.fetch().await?;
        self.note_access(key, source.caller());
        let limit = match want {
            Want::Whole => self.options.max_log_bytes,
            Want::Tail(_) => self
                .options
                .tail_range_above
                .min(self.options.max_log_bytes),
        };
        if let Some(size) = chunks.total_size().filter(|&size| size > limit) {
            drop(chunks);
            return match want {
                Want::Whole => Err(too_large(size, self.options.max_log_bytes)),
                Want::Tail(n) => {
                    let bytes = (n as u64 + 1).saturating_mul(self.options.tail_bytes_per_row);
                    let raw = source.fetch_tail(bytes.min(size)).await?;
                    Ok(Refreshed::Tail(parse_tail(raw, n)?))
                }
            };
        }
        let mut ingest = self.cache.begin(key)?;
        let mut received: u64 = 0;
        while let Some(chunk) = chunks.next_chunk().await? {
            received += chunk.len() as u64;
            if received > self.options.max_log_bytes {
                return Err(too_large(received, self.options.max_log_bytes));
            }
            ingest.feed(&chunk)?;
        }
        Ok(Refreshed::Log(Box::new(
            ingest.finish(status.state.clone(), status.terminal)?,
        )))
    }

    /// Opens `key`'s log and runs `query` on it. If the entry turns out to
    /// be corrupt (a damaged chunk found while reading), it is deleted,
    /// fetched again and the query retried once: a corrupt entry is rebuilt,
    /// never served.
    pub async fn query<T>(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
        query: impl Fn(&LogFile) -> Result<T>,
    ) -> Result<T> {
        let log = self.open(key, source, policy).await?;
        let (answer, _) = self.rebuilding(key, source, policy, log, &query).await?;
        Ok(answer)
    }

    /// The last `n` rows: from the cache when it is fresh (after an access
    /// check); else the log is fetched and cached, unless it announces a
    /// size over [`EngineOptions::tail_range_above`] (or the size limit):
    /// then only its last bytes are fetched, with a ranged request. A
    /// corrupt entry is rebuilt, as for [`Engine::query`].
    pub async fn tail(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
        n: usize,
    ) -> Result<TailAnswer> {
        let last_rows = |log: &LogFile| log.tail(n, false);
        Ok(
            match self.tailed(key, source, policy, n, &last_rows).await? {
                Tailed::Whole((rows, log)) => TailAnswer::Cached(rows, Box::new(log)),
                Tailed::Partial(tail) => TailAnswer::Partial(tail),
            },
        )
    }

    /// Runs `query` on `key`'s log when it is cached or gets cached, as
    /// [`Engine::tail`] decides for a tail of `n` rows; a log too large
    /// for that gives its last `n` rows instead, and `query` is not run.
    /// A corrupt entry is rebuilt and the query retried, as for
    /// [`Engine::query`].
    pub async fn query_tail<T>(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
        n: usize,
        query: impl Fn(&LogFile) -> Result<T>,
    ) -> Result<Tailed<T>> {
        Ok(match self.tailed(key, source, policy, n, &query).await? {
            Tailed::Whole((answer, _)) => Tailed::Whole(answer),
            Tailed::Partial(tail) => Tailed::Partial(tail),
        })
    }

    /// [`Engine::query_tail`], keeping the log the query ran on.
    async fn tailed<T>(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
        n: usize,
        query: &impl Fn(&LogFile) -> Result<T>,
    ) -> Result<Tailed<(T, LogFile)>> {
        let fresh = if policy.force_refresh {
            None
        } else {
            self.fresh_entry(key, policy.cache_ttl)?
        };
        let log = match fresh {
            Some(log) => {
                self.check_access(key, source).await?;
                log
            }
            None => match self.refresh(key, source, policy, Want::Tail(n)).await? {
                Refreshed::Log(log) => *log,
                Refreshed::Tail(tail) => return Ok(Tailed::Partial(tail)),
            },
        };
        let answer = self.rebuilding(key, source, policy, log, query).await?;
        Ok(Tailed::Whole(answer))
    }

    /// The corrupt-entry fallback, for every query: runs `query` on `log`,
    /// `key`'s entry; if the entry turns out to be corrupt, it is deleted,
    /// fetched again whole and the query retried once. (An entry from the
    /// shared tier was checked whole when it arrived, so the damage is
    /// local: the refetch skips the store.) Returns the answer and the log
    /// it came from.
    async fn rebuilding<T>(
        &self,
        key: &EntryKey,
        source: &dyn LogSource,
        policy: FetchPolicy,
        log: LogFile,
        query: &impl Fn(&LogFile) -> Result<T>,
    ) -> Result<(T, LogFile)> {
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
                let answer = query(&log)?;
                Ok((answer, log))
            }
            answer => Ok((answer?, log)),
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;

    use super::*;
    use crate::source::{JobStatus, LogChunks, MemorySource, RawTail, SourceError};

    /// A log in memory that counts its downloads.
    struct Counted {
        inner: MemorySource,
        fetched: AtomicUsize,
    }

    impl Counted {
        /// A finished job's log of `rows` rows, `row 0` to `row {rows-1}`,
        /// padded so it spans several checksummed chunks.
        fn rows(rows: usize) -> Self {
            let log: String = (0..rows)
                .map(|i| format!("row {i} {}\n", "x".repeat(40)))
                .collect();
            Counted {
                inner: MemorySource {
                    log: log.into_bytes(),
                    status: JobStatus {
                        state: Some("failed".into()),
                        terminal: true,
                    },
                },
                fetched: AtomicUsize::new(0),
            }
        }

        fn fetched(&self) -> usize {
            self.fetched.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl LogSource for Counted {
        async fn authorize(&self) -> std::result::Result<Option<u64>, SourceError> {
            self.inner.authorize().await
        }
        async fn job_status(&self) -> std::result::Result<JobStatus, SourceError> {
            self.inner.job_status().await
        }
        async fn fetch(&self) -> std::result::Result<Box<dyn LogChunks>, SourceError> {
            self.fetched.fetch_add(1, Ordering::SeqCst);
            self.inner.fetch().await
        }
        async fn fetch_tail(&self, max_bytes: u64) -> std::result::Result<RawTail, SourceError> {
            self.inner.fetch_tail(max_bytes).await
        }
    }

    fn engine(dir: &tempfile::TempDir, options: EngineOptions) -> Engine {
        let cache = LogCache::new(dir.path(), 1 << 30).expect("a cache in a new directory");
        Engine::new(cache, options)
    }

    /// Caches the log, then damages its text near the start: the entry
    /// still opens, but reading its first rows fails their checksum.
    async fn cached_then_damaged(engine: &Engine, key: &EntryKey, source: &Counted) {
        engine
            .open(key, source, FetchPolicy::default())
            .await
            .expect("the log is cached");
        let path = engine.cache().path_for(key);
        let mut bytes = std::fs::read(&path).expect("the entry is on disk");
        bytes[200] ^= 0xff;
        std::fs::write(&path, &bytes).expect("the entry is rewritten");
        let damaged = engine.cache().open(key).expect("it opens");
        assert!(matches!(
            damaged.map(|log| log.read(0, 10, false)),
            Some(Err(Error::Corrupt(_)))
        ));
    }

    #[tokio::test]
    async fn a_tail_of_a_damaged_entry_rebuilds_it_and_answers() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let engine = engine(&dir, EngineOptions::default());
        let source = Counted::rows(2000);
        let key = EntryKey::new("acme", "j");
        cached_then_damaged(&engine, &key, &source).await;

        let answer = engine
            .tail(&key, &source, FetchPolicy::default(), 2000)
            .await
            .expect("the damaged entry is rebuilt, not reported");
        let TailAnswer::Cached(rows, log) = answer else {
            panic!("a cached answer")
        };
        assert_eq!(rows.len(), 2000);
        assert!(rows[0].content.starts_with("row 0 "), "{}", rows[0].content);
        assert_eq!(log.row_count(), 2000);
        assert_eq!(source.fetched(), 2, "downloaded again after the damage");
        let rebuilt = engine.cache().open(&key).expect("it opens");
        assert_eq!(
            rebuilt
                .map(|log| log.read(0, 10, false).map(|rows| rows.len()))
                .transpose()
                .expect("the rebuilt entry reads"),
            Some(10)
        );
    }

    #[tokio::test]
    async fn query_tail_rebuilds_a_damaged_entry_and_asks_once_more() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let engine = engine(&dir, EngineOptions::default());
        let source = Counted::rows(2000);
        let key = EntryKey::new("acme", "j");
        cached_then_damaged(&engine, &key, &source).await;

        let asked = AtomicUsize::new(0);
        let answer = engine
            .query_tail(&key, &source, FetchPolicy::default(), 5, |log| {
                asked.fetch_add(1, Ordering::SeqCst);
                Ok((log.read(0, 1, false)?, log.row_count()))
            })
            .await
            .expect("the damaged entry is rebuilt, not reported");
        let Tailed::Whole((first, total)) = answer else {
            panic!("the query's answer on the whole log")
        };
        assert!(
            first[0].content.starts_with("row 0 "),
            "{}",
            first[0].content
        );
        assert_eq!(total, 2000);
        assert_eq!(asked.load(Ordering::SeqCst), 2, "once on each entry");
        assert_eq!(source.fetched(), 2);
        // The rebuilt entry answers at once.
        engine
            .query_tail(&key, &source, FetchPolicy::default(), 5, |log| {
                log.read(0, 1, false)
            })
            .await
            .expect("the rebuilt entry reads");
        assert_eq!(source.fetched(), 2);
    }

    #[tokio::test]
    async fn query_tail_of_a_log_too_large_to_cache_gives_its_end_unasked() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = EngineOptions {
            tail_range_above: 1000,
            ..EngineOptions::default()
        };
        let engine = engine(&dir, options);
        let source = Counted::rows(2000);
        let key = EntryKey::new("acme", "j");
        let asked = AtomicUsize::new(0);
        let answer = engine
            .query_tail(&key, &source, FetchPolicy::default(), 3, |log| {
                asked.fetch_add(1, Ordering::SeqCst);
                Ok(log.row_count())
            })
            .await
            .expect("a ranged tail");
        let Tailed::Partial(tail) = answer else {
            panic!("the end of the log")
        };
        let numbers: Vec<&str> = tail
            .rows
            .iter()
            .map(|r| r.content.split(' ').nth(1).unwrap_or_default())
            .collect();
        assert_eq!(numbers, ["1997", "1998", "1999"]);
        assert_eq!(asked.load(Ordering::SeqCst), 0);
        assert!(engine.cache().open(&key).expect("no error").is_none());
    }
}
