//! The shared tier: finished jobs' entries kept in a store every replica
//! reads (an S3 bucket, say), and leases so that one replica downloads a
//! log while the others wait for its entry.
//!
//! This crate knows no HTTP: the store and the leases are traits,
//! implemented over `object_store` and Redis in `bk-fleet`.
//!
//! Rules the engine keeps:
//! - Only a finished job's entry is shared, written once and whole under
//!   [`EntryKey::shared_name`], which holds the format version.
//! - A shared entry is copied into the local cache and every chunk of it
//!   checked before it is served; one that fails (corrupt, truncated,
//!   another key or version) is deleted from the store and replaced by a
//!   fresh download.
//! - Every failure of the store or the leases is a slower call, not a
//!   failed one: each operation has a time limit, and a part that failed is
//!   skipped until its next probe ([`DependencyHealth`]).

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::cache::{EntryKey, LogCache};
use crate::error::Error;
use crate::health::{DependencyHealth, HealthReport};
use crate::query::LogFile;
use crate::source::LogChunks;

/// An error from a shared part. Its text must never hold credentials.
pub type SharedError = Box<dyn std::error::Error + Send + Sync>;

/// What a create-only write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The entry was stored.
    Stored,
    /// An object already had that name (another replica stored it first).
    AlreadyThere,
}

/// A store of whole entries, shared by replicas.
#[async_trait]
pub trait SharedStore: Send + Sync + fmt::Debug {
    /// The object named `name`, streamed, or `None` when there is none.
    async fn get(&self, name: &str) -> Result<Option<Box<dyn LogChunks>>, SharedError>;

    /// Stores `len` bytes of `entry` under `name`, unless an object already
    /// has that name.
    async fn put_new(&self, name: &str, entry: File, len: u64) -> Result<Published, SharedError>;

    /// Deletes the object named `name`; a missing one is not an error.
    async fn delete(&self, name: &str) -> Result<(), SharedError>;

    /// Where the store is, for the log (`s3://bucket/prefix`), without
    /// credentials.
    fn describe(&self) -> String;
}

/// A claim to be the one replica downloading a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The entry's shared name.
    pub name: String,
    /// What proves this holder holds it (random per claim).
    pub token: String,
}

/// Leases with an expiry, shared by replicas (Redis `SET NX PX`).
#[async_trait]
pub trait DownloadLeases: Send + Sync + fmt::Debug {
    /// Takes the lease on `name` for `ttl`, or `None` when someone holds it.
    async fn acquire(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, SharedError>;

    /// Extends a lease this holder still holds; `false` when it has lapsed.
    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, SharedError>;

    /// Gives a lease up, if this holder still holds it.
    async fn release(&self, lease: &Lease) -> Result<(), SharedError>;

    /// Whether anyone holds the lease on `name`.
    async fn is_held(&self, name: &str) -> Result<bool, SharedError>;
}

/// Time limits of the shared tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedOptions {
    /// Longest wait for one answer of the store or the leases (the first
    /// bytes of a read, one chunk of it, a lease, a lookup).
    pub op_timeout: Duration,
    /// How long a lease lasts unless renewed; the holder renews it every
    /// third of that while it downloads and uploads, so a crashed holder
    /// blocks the others for at most this long.
    pub lease_ttl: Duration,
    /// How often a waiting replica looks for the entry.
    pub poll_interval: Duration,
    /// Longest a replica waits for another's download before doing its own.
    pub max_wait: Duration,
    /// Pause before a failed part is tried again.
    pub retry_after: Duration,
    /// Bytes per second an upload is given, beyond `op_timeout`, before it
    /// counts as stuck.
    pub upload_bytes_per_s: u64,
}

impl Default for SharedOptions {
    fn default() -> Self {
        SharedOptions {
            op_timeout: Duration::from_millis(1500),
            lease_ttl: Duration::from_secs(15),
            poll_interval: Duration::from_millis(150),
            max_wait: Duration::from_secs(120),
            retry_after: Duration::from_secs(5),
            upload_bytes_per_s: 4 << 20,
        }
    }
}

/// What the shared tier did, since start.
#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    published: AtomicU64,
    waits: AtomicU64,
}

/// Counts of the shared tier's work and its parts' health, for `/ready`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SharedReport {
    /// Where the store is.
    pub store: String,
    /// The store's health.
    pub store_health: HealthReport,
    /// The leases' health, when leases are configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_health: Option<HealthReport>,
    /// Entries served from the store.
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Entries that failed their checks and were deleted from the store.
    pub rejected: u64,
    /// Entries this replica stored.
    pub published: u64,
    /// Times this replica waited for another's download.
    pub waits: u64,
}

/// The shared store and leases, with their health and time limits.
#[derive(Debug, Clone)]
pub struct SharedTier {
    store: Arc<dyn SharedStore>,
    leases: Option<Arc<dyn DownloadLeases>>,
    store_health: Arc<DependencyHealth>,
    lease_health: Arc<DependencyHealth>,
    options: SharedOptions,
    counters: Arc<Counters>,
    /// Objects that failed their checks and could not be deleted yet.
    bad_objects: Arc<Mutex<HashSet<String>>>,
}

/// The result of looking a key up in the store.
pub(crate) enum Lookup {
    /// Fetched, checked and installed in the local cache.
    Hit(Box<LogFile>),
    /// The store has no (usable) entry.
    Miss,
    /// The store is down or failed: go on without it.
    Unavailable,
}

/// What a replica should do about a download.
pub(crate) enum Claim {
    /// Another replica's download arrived: serve it.
    Served(Box<LogFile>),
    /// This replica downloads, holding the lease (if leases work).
    Download(Option<Lease>),
}

impl SharedTier {
    /// A tier over `store`, with `leases` when replicas coordinate.
    pub fn new(
        store: Arc<dyn SharedStore>,
        leases: Option<Arc<dyn DownloadLeases>>,
        options: SharedOptions,
    ) -> Self {
        SharedTier {
            store,
            leases,
            store_health: Arc::new(DependencyHealth::new("object store", options.retry_after)),
            lease_health: Arc::new(DependencyHealth::new("redis", options.retry_after)),
            options,
            counters: Arc::default(),
            bad_objects: Arc::default(),
        }
    }

    /// The store's health, shared with whoever reports it.
    pub fn store_health(&self) -> &Arc<DependencyHealth> {
        &self.store_health
    }

    /// The leases' health (used for any other Redis work too, so one outage
    /// is one warning).
    pub fn lease_health(&self) -> &Arc<DependencyHealth> {
        &self.lease_health
    }

    /// Uses `health` for the leases, so another user of the same Redis
    /// (sessions, say) shares one view of its outages.
    pub fn with_lease_health(mut self, health: Arc<DependencyHealth>) -> Self {
        self.lease_health = health;
        self
    }

    /// A snapshot of the counters and health.
    pub fn report(&self) -> SharedReport {
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SharedReport {
            store: self.store.describe(),
            store_health: self.store_health.report(),
            lease_health: self.leases.as_ref().map(|_| self.lease_health.report()),
            hits: count(&self.counters.hits),
            misses: count(&self.counters.misses),
            rejected: count(&self.counters.rejected),
            published: count(&self.counters.published),
            waits: count(&self.counters.waits),
        }
    }

    /// Looks `key` up in the store; a usable entry is copied into `cache`,
    /// checked whole, and returned.
    pub(crate) async fn lookup(&self, cache: &LogCache, key: &EntryKey, max_bytes: u64) -> Lookup {
        let found = self.look(cache, key, max_bytes).await;
        if matches!(found, Lookup::Miss) {
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// [`SharedTier::lookup`] without counting a miss (a waiting replica's
    /// polls are not misses).
    async fn look(&self, cache: &LogCache, key: &EntryKey, max_bytes: u64) -> Lookup {
        let name = key.shared_name();
        let limit = self.options.op_timeout;
        let chunks = match self.store_health.run(limit, self.store.get(&name)).await {
            None => return Lookup::Unavailable,
            Some(None) => return Lookup::Miss,
            Some(Some(chunks)) => chunks,
        };
        let temp = match cache.temp_file() {
            Ok(temp) => temp,
            Err(error) => {
                tracing::warn!(%error, "cannot make a temporary file in the log cache");
                return Lookup::Unavailable;
            }
        };
        match self.copy(chunks, temp.as_file(), max_bytes).await {
            Copied::Done => {}
            Copied::TooLarge => return self.reject(&name, "larger than any entry can be").await,
            Copied::Failed => return Lookup::Unavailable,
        }
        match cache.install(key, temp) {
            Ok(log) => {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(name, "log served from the shared store");
                Lookup::Hit(Box::new(log))
            }
            Err(Error::Io(error)) => {
                tracing::warn!(%error, "cannot install a shared entry in the log cache");
                Lookup::Unavailable
            }
            Err(problem) => self.reject(&name, &problem.to_string()).await,
        }
    }

    async fn reject(&self, name: &str, problem: &str) -> Lookup {
        tracing::warn!(
            name,
            problem,
            "a shared log entry failed its checks; deleting it, the log is downloaded again"
        );
        self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        let deleted = self
            .store_health
            .run(self.options.op_timeout, self.store.delete(name))
            .await;
        if deleted.is_none() {
            // Deleted again before this replica publishes, so a create-only
            // write does not find the bad object in its way.
            self.lock_bad().insert(name.to_owned());
        }
        Lookup::Miss
    }

    /// Streams `chunks` into `file`, each chunk within the time limit.
    async fn copy(&self, mut chunks: Box<dyn LogChunks>, file: &File, max_bytes: u64) -> Copied {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        let mut received: u64 = 0;
        loop {
            let next = self
                .store_health
                .run(self.options.op_timeout, chunks.next_chunk())
                .await;
            match next {
                None => return Copied::Failed,
                Some(None) => break,
                Some(Some(chunk)) => {
                    received += chunk.len() as u64;
                    if received > max_bytes {
                        return Copied::TooLarge;
                    }
                    if let Err(error) = out.write_all(&chunk) {
                        tracing::warn!(%error, "cannot write a shared entry to the log cache");
                        return Copied::Failed;
                    }
                }
            }
        }
        match out.flush() {
            Ok(()) => Copied::Done,
            Err(error) => {
                tracing::warn!(%error, "cannot write a shared entry to the log cache");
                Copied::Failed
            }
        }
    }

    /// Decides who downloads a finished job's log: this replica, under a
    /// lease, or another one whose entry this replica then serves.
    pub(crate) async fn claim(&self, cache: &LogCache, key: &EntryKey, max_bytes: u64) -> Claim {
        let Some(leases) = &self.leases else {
            return Claim::Download(None);
        };
        let name = key.shared_name();
        let limit = self.options.op_timeout;
        let deadline = Instant::now() + self.options.max_wait;
        let mut waited = false;
        loop {
            match self
                .lease_health
                .run(limit, leases.acquire(&name, self.options.lease_ttl))
                .await
            {
                None => return Claim::Download(None),
                Some(Some(lease)) => {
                    // A holder before us may have stored it since this
                    // replica last looked (while it waited, or while it read
                    // the job's state): look once more before downloading.
                    if let Lookup::Hit(log) = self.look(cache, key, max_bytes).await {
                        self.release(lease).await;
                        return Claim::Served(log);
                    }
                    return Claim::Download(Some(lease));
                }
                Some(None) => {}
            }
            if !waited {
                waited = true;
                self.counters.waits.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    name,
                    "another replica is downloading this log; waiting for it"
                );
            }
            loop {
                tokio::time::sleep(self.options.poll_interval).await;
                match self.look(cache, key, max_bytes).await {
                    Lookup::Hit(log) => return Claim::Served(log),
                    Lookup::Unavailable => return Claim::Download(None),
                    Lookup::Miss => {}
                }
                if Instant::now() >= deadline {
                    tracing::warn!(name, "gave up waiting for another replica's download");
                    return Claim::Download(None);
                }
                match self.lease_health.run(limit, leases.is_held(&name)).await {
                    None => return Claim::Download(None),
                    Some(true) => {}
                    Some(false) => break,
                }
            }
        }
    }

    /// Stores a finished job's entry, then gives the lease up. Runs in the
    /// background when there is a runtime, renewing the lease meanwhile, so
    /// the call that downloaded is not held up by the upload.
    pub(crate) fn publish(&self, key: &EntryKey, log: &LogFile, lease: Option<Lease>) {
        let (file, len) = match log.entry_file() {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "cannot reopen a log entry to share it");
                if let Some(lease) = lease {
                    self.spawn_background(release_task(self.clone(), lease));
                }
                return;
            }
        };
        let tier = self.clone();
        let name = key.shared_name();
        self.spawn_background(async move { tier.upload(name, file, len, lease).await });
    }

    fn spawn_background(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(task);
            }
            Err(_) => tracing::warn!("no async runtime: the log entry is not shared"),
        }
    }

    fn lock_bad(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.bad_objects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn upload(self, name: String, file: File, len: u64, lease: Option<Lease>) {
        let known_bad = self.lock_bad().contains(&name);
        if known_bad {
            let deleted = self
                .store_health
                .run(self.options.op_timeout, self.store.delete(&name))
                .await;
            if deleted.is_some() {
                self.lock_bad().remove(&name);
            }
        }
        let limit = self.options.op_timeout
            + Duration::from_secs(len / self.options.upload_bytes_per_s.max(1));
        let put = self
            .store_health
            .run(limit, self.store.put_new(&name, file, len));
        let outcome = match (&lease, &self.leases) {
            (Some(lease), Some(leases)) => {
                let renew = async {
                    let every = self.options.lease_ttl / 3;
                    loop {
                        tokio::time::sleep(every).await;
                        let renewed = self
                            .lease_health
                            .run(
                                self.options.op_timeout,
                                leases.renew(lease, self.options.lease_ttl),
                            )
                            .await;
                        if renewed != Some(true) {
                            // Lapsed or unreachable: the others stop waiting
                            // when it expires; the upload goes on anyway.
                            std::future::pending::<()>().await;
                        }
                    }
                };
                tokio::select! {
                    outcome = put => outcome,
                    () = renew => None,
                }
            }
            _ => put.await,
        };
        match outcome {
            Some(Published::Stored) => {
                self.counters.published.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(name, bytes = len, "log entry shared");
            }
            Some(Published::AlreadyThere) => {
                tracing::debug!(name, "log entry already shared by another replica");
            }
            None => {}
        }
        if let Some(lease) = lease {
            self.release(lease).await;
        }
    }

    async fn release(&self, lease: Lease) {
        if let Some(leases) = &self.leases {
            self.lease_health
                .run(self.options.op_timeout, leases.release(&lease))
                .await;
        }
    }

    /// Gives a lease up after a download that failed, so the others need
    /// not wait for it to expire.
    pub(crate) async fn abandon(&self, lease: Option<Lease>) {
        if let Some(lease) = lease {
            self.release(lease).await;
        }
    }
}

async fn release_task(tier: SharedTier, lease: Lease) {
    tier.release(lease).await;
}

enum Copied {
    Done,
    TooLarge,
    Failed,
}
