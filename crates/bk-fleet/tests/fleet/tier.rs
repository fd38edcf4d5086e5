//! The shared tier end to end: several "replicas" (engines with their own
//! local cache directories) over one in-memory object store, with test
//! sources that count what they are asked, stores that fail or hang on
//! demand, and in-memory (or failing) download leases.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bk_fleet::ObjectTier;
use bk_logs::shared::{
    DownloadLeases, Lease, Published, SharedError, SharedOptions, SharedReport, SharedStore,
    SharedTier,
};
use bk_logs::source::{JobStatus, LogChunks, LogSource, RawTail, SourceError, SourceErrorKind};
use bk_logs::{
    Engine, EngineOptions, EntryKey, Error, FORMAT_VERSION, FetchPolicy, LogCache, LogFile, LogRow,
};
use bytes::Bytes;
use object_store::{ObjectStoreExt, PutPayload};

const OPTIONS: SharedOptions = SharedOptions {
    op_timeout: Duration::from_millis(300),
    lease_ttl: Duration::from_secs(2),
    poll_interval: Duration::from_millis(20),
    max_wait: Duration::from_secs(10),
    retry_after: Duration::from_millis(200),
    upload_bytes_per_s: 4 << 20,
};

/// Longest a test waits for a background upload.
const PATIENCE: Duration = Duration::from_secs(5);

const ORG: &str = "acme";

fn key(job: &str) -> EntryKey {
    EntryKey::new(ORG, job)
}

/// How many dependencies the test log compiles: enough for an entry of
/// several 16 KiB checksummed chunks.
const DEPENDENCIES: usize = 1000;

/// A raw Buildkite job log, as the agent writes it: timestamp markers,
/// colour, group headers, a few hundred lines of build output. The job's id
/// is in it, so logs of different jobs differ.
fn raw_log(job: &str) -> Vec<u8> {
    let mut log = format!(
        "\x1b_bk;t=1700000000000\x07~~~ Preparing working directory\n\
         \x1b_bk;t=1700000000050\x07$ git clone -v -- https://github.com/acme/app.git .\n\
         \x1b_bk;t=1700000001000\x07--- :rust: Running tests for {job}\n"
    );
    for i in 0..DEPENDENCIES {
        log.push_str(&format!(
            "\x1b_bk;t={}\x07\x1b[32m   Compiling\x1b[0m dependency-{i} v1.{i}.0\n",
            1_700_000_001_100 + i
        ));
    }
    log.push_str(
        "\x1b_bk;t=1700000005000\x07test auth::login ... \x1b[31mFAILED\x1b[0m\n\
         \x1b_bk;t=1700000005100\x07test auth::logout ... \x1b[32mok\x1b[0m\n\
         \x1b_bk;t=1700000006000\x07+++ :warning: 1 test failed\n\
         \x1b_bk;t=1700000006100\x07\x1b[1mtest result:\x1b[0m FAILED. 1 passed; 1 failed\n\
         \x1b_bk;t=1700000006200\x07^^^ +++\n\
         \x1b_bk;t=1700000006300\x07\x1b[31m\u{1f6a8} Error: The command exited with status 101\x1b[0m\n",
    );
    log.into_bytes()
}

/// Every row of `log`, with group names.
fn all_rows(log: &LogFile) -> Vec<LogRow> {
    log.read(0, usize::MAX, true).expect("rows read back")
}

/// The rows a plain local cache makes of `job`'s log: what every path must
/// serve.
fn expected_rows(job: &str) -> Vec<LogRow> {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = LogCache::new(dir.path(), 1 << 30).expect("cache");
    let log = cache
        .ingest_reader(&key(job), &raw_log(job)[..], Some("failed".into()), true)
        .expect("ingest");
    all_rows(&log)
}

/// A valid entry's bytes for `job`, written by a plain local cache.
fn entry_bytes(job: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = LogCache::new(dir.path(), 1 << 30).expect("cache");
    let k = key(job);
    cache
        .ingest_reader(&k, &raw_log(job)[..], Some("failed".into()), true)
        .expect("ingest");
    std::fs::read(cache.path_for(&k)).expect("entry file")
}

#[test]
fn the_test_log_parses_as_buildkite_shows_it() {
    let rows = expected_rows("job-0");
    assert_eq!(rows.len(), DEPENDENCIES + 9);
    assert_eq!(rows[0].ts, Some(1_700_000_000_000));
    assert_eq!(rows[2].content, "--- :rust: Running tests for job-0");
    assert_eq!(rows[3].content, "   Compiling dependency-0 v1.0.0");
    assert_eq!(rows[3].ts, Some(1_700_000_001_100));
    assert_eq!(
        rows[3].group.as_deref(),
        Some(":rust: Running tests for job-0")
    );
    let login = &rows[DEPENDENCIES + 3];
    assert_eq!(login.content, "test auth::login ... FAILED");
    assert_eq!(login.ts, Some(1_700_000_005_000));
    assert_eq!(login.row, DEPENDENCIES as u64 + 3);
    assert!(
        rows.iter().all(|r| !r.content.contains('\x1b')),
        "{:?}",
        &rows[..5]
    );
    // Several checksummed chunks, so a check of every chunk matters.
    assert!(entry_bytes("job-0").len() > 2 * 16 * 1024);
}

// ---------------------------------------------------------------------------
// A source that counts its calls.

#[derive(Debug, Default)]
struct Calls {
    authorize: AtomicUsize,
    job_status: AtomicUsize,
    fetch: AtomicUsize,
}

impl Calls {
    /// (authorize, job_status, fetch)
    fn get(&self) -> (usize, usize, usize) {
        (
            self.authorize.load(Ordering::SeqCst),
            self.job_status.load(Ordering::SeqCst),
            self.fetch.load(Ordering::SeqCst),
        )
    }
}

#[derive(Debug, Clone)]
struct TestSource {
    log: Arc<Vec<u8>>,
    status: JobStatus,
    calls: Arc<Calls>,
    refuse: bool,
    fetch_delay: Duration,
}

impl TestSource {
    /// A finished job's log.
    fn finished(job: &str) -> Self {
        TestSource {
            log: Arc::new(raw_log(job)),
            status: JobStatus {
                state: Some("failed".into()),
                terminal: true,
            },
            calls: Arc::default(),
            refuse: false,
            fetch_delay: Duration::ZERO,
        }
    }

    fn running(job: &str) -> Self {
        TestSource {
            status: JobStatus {
                state: Some("running".into()),
                terminal: false,
            },
            ..TestSource::finished(job)
        }
    }

    fn refusing(self) -> Self {
        TestSource {
            refuse: true,
            ..self
        }
    }

    fn slow(self, delay: Duration) -> Self {
        TestSource {
            fetch_delay: delay,
            ..self
        }
    }

    /// The same log, with counters of its own.
    fn fresh_counts(&self) -> Self {
        TestSource {
            calls: Arc::default(),
            ..self.clone()
        }
    }

    fn calls(&self) -> (usize, usize, usize) {
        self.calls.get()
    }
}

#[async_trait]
impl LogSource for TestSource {
    async fn authorize(&self) -> Result<Option<u64>, SourceError> {
        self.calls.authorize.fetch_add(1, Ordering::SeqCst);
        if self.refuse {
            return Err(SourceError::new(
                SourceErrorKind::Unavailable,
                "the job's log is not visible to this token",
            ));
        }
        Ok(Some(self.log.len() as u64))
    }

    async fn job_status(&self) -> Result<JobStatus, SourceError> {
        self.calls.job_status.fetch_add(1, Ordering::SeqCst);
        Ok(self.status.clone())
    }

    async fn fetch(&self) -> Result<Box<dyn LogChunks>, SourceError> {
        self.calls.fetch.fetch_add(1, Ordering::SeqCst);
        if !self.fetch_delay.is_zero() {
            tokio::time::sleep(self.fetch_delay).await;
        }
        // In small chunks, so lines are split across chunks as over HTTP.
        let chunks = self.log.chunks(97).map(<[u8]>::to_vec).rev().collect();
        Ok(Box::new(VecChunks(chunks)))
    }

    async fn fetch_tail(&self, max_bytes: u64) -> Result<RawTail, SourceError> {
        let total = self.log.len() as u64;
        let start = total.saturating_sub(max_bytes);
        Ok(RawTail {
            bytes: self.log[start as usize..].to_vec(),
            start,
            total_size: total,
        })
    }
}

/// Chunks, last first (popped from the end).
struct VecChunks(Vec<Vec<u8>>);

#[async_trait]
impl LogChunks for VecChunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(self.0.pop())
    }
}

// ---------------------------------------------------------------------------
// A store that can be made to fail or hang, and counts its calls.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal = 0,
    Fail = 1,
    Hang = 2,
}

#[derive(Debug)]
struct TestStore {
    tier: ObjectTier,
    mode: AtomicU8,
    gets: AtomicUsize,
    puts: AtomicUsize,
    deletes: AtomicUsize,
}

impl TestStore {
    fn new() -> Arc<Self> {
        Arc::new(TestStore {
            tier: ObjectTier::new(
                Arc::new(object_store::memory::InMemory::new()),
                "prefix",
                "memory://test",
            ),
            mode: AtomicU8::new(Mode::Normal as u8),
            gets: AtomicUsize::new(0),
            puts: AtomicUsize::new(0),
            deletes: AtomicUsize::new(0),
        })
    }

    fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    async fn gate(&self) -> Result<(), SharedError> {
        match self.mode.load(Ordering::SeqCst) {
            0 => Ok(()),
            1 => Err("the object store refused the request (503 Slow Down)".into()),
            _ => std::future::pending().await,
        }
    }

    fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    fn puts(&self) -> usize {
        self.puts.load(Ordering::SeqCst)
    }

    /// The object stored for `key`, if any, read directly from the store.
    async fn object(&self, key: &EntryKey) -> Option<Bytes> {
        let path = self.tier.path(&key.shared_name());
        match self.tier.store().get(&path).await {
            Ok(found) => Some(found.bytes().await.expect("object bytes")),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(error) => panic!("the in-memory store failed: {error}"),
        }
    }

    /// Puts `bytes` directly under `key`'s shared name.
    async fn plant(&self, key: &EntryKey, bytes: Vec<u8>) {
        let path = self.tier.path(&key.shared_name());
        self.tier
            .store()
            .put(&path, PutPayload::from(bytes))
            .await
            .expect("put into the in-memory store");
    }

    /// Waits for an object under `key`'s name whose bytes are not `not`.
    async fn wait_object(&self, key: &EntryKey, not: Option<&[u8]>) -> Bytes {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(bytes) = self.object(key).await
                && Some(&bytes[..]) != not
            {
                return bytes;
            }
            assert!(
                Instant::now() < deadline,
                "no object for {} within {PATIENCE:?}",
                key.as_text()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[async_trait]
impl SharedStore for TestStore {
    async fn get(&self, name: &str) -> Result<Option<Box<dyn LogChunks>>, SharedError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.gate().await?;
        SharedStore::get(&self.tier, name).await
    }

    async fn put_new(&self, name: &str, entry: File, len: u64) -> Result<Published, SharedError> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.gate().await?;
        self.tier.put_new(name, entry, len).await
    }

    async fn delete(&self, name: &str) -> Result<(), SharedError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.gate().await?;
        self.tier.delete(name).await
    }

    fn describe(&self) -> String {
        self.tier.describe()
    }
}

/// Whether `bytes` look like a whole entry of this format version.
fn is_current_entry(bytes: &[u8]) -> bool {
    bytes.len() > 128 && &bytes[..8] == b"BKLOGIDX" && bytes[8..12] == FORMAT_VERSION.to_le_bytes()
}

// ---------------------------------------------------------------------------
// Leases.

/// Leases in memory, as Redis keeps them: a token and an expiry per name.
#[derive(Debug, Default)]
struct MemoryLeases {
    held: Mutex<HashMap<String, (String, Instant)>>,
    next_token: AtomicU64,
}

impl MemoryLeases {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.held.lock().expect("lease map")
    }
}

#[async_trait]
impl DownloadLeases for MemoryLeases {
    async fn acquire(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, SharedError> {
        let now = Instant::now();
        let mut held = self.held();
        if held.get(name).is_some_and(|(_, expires)| *expires > now) {
            return Ok(None);
        }
        let token = format!("t{}", self.next_token.fetch_add(1, Ordering::SeqCst));
        held.insert(name.to_owned(), (token.clone(), now + ttl));
        Ok(Some(Lease {
            name: name.to_owned(),
            token,
        }))
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, SharedError> {
        let now = Instant::now();
        let mut held = self.held();
        match held.get_mut(&lease.name) {
            Some((token, expires)) if *token == lease.token && *expires > now => {
                *expires = now + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), SharedError> {
        let mut held = self.held();
        if held
            .get(&lease.name)
            .is_some_and(|(token, _)| *token == lease.token)
        {
            held.remove(&lease.name);
        }
        Ok(())
    }

    async fn is_held(&self, name: &str) -> Result<bool, SharedError> {
        let now = Instant::now();
        Ok(self
            .held()
            .get(name)
            .is_some_and(|(_, expires)| *expires > now))
    }
}

/// Leases whose Redis is down: refused at once, or (`hang`) never
/// answering.
#[derive(Debug, Default)]
struct FailingLeases {
    hang: bool,
    calls: AtomicUsize,
}

impl FailingLeases {
    async fn fail<T>(&self) -> Result<T, SharedError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hang {
            std::future::pending::<()>().await;
        }
        Err("Connection refused (os error 111)".into())
    }
}

#[async_trait]
impl DownloadLeases for FailingLeases {
    async fn acquire(&self, _: &str, _: Duration) -> Result<Option<Lease>, SharedError> {
        self.fail().await
    }

    async fn renew(&self, _: &Lease, _: Duration) -> Result<bool, SharedError> {
        self.fail().await
    }

    async fn release(&self, _: &Lease) -> Result<(), SharedError> {
        self.fail().await
    }

    async fn is_held(&self, _: &str) -> Result<bool, SharedError> {
        self.fail().await
    }
}

// ---------------------------------------------------------------------------
// Replicas.

/// One server replica: an engine with its own local cache directory.
struct Replica {
    engine: Arc<Engine>,
    _dir: tempfile::TempDir,
}

impl Replica {
    fn new(store: &Arc<TestStore>, leases: Option<Arc<dyn DownloadLeases>>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = LogCache::new(dir.path(), 1 << 30).expect("cache");
        let shared = SharedTier::new(Arc::clone(store) as Arc<dyn SharedStore>, leases, OPTIONS);
        Replica {
            engine: Arc::new(Engine::new(cache, EngineOptions::default()).with_shared(shared)),
            _dir: dir,
        }
    }

    async fn try_rows(&self, key: &EntryKey, source: &TestSource) -> bk_logs::Result<Vec<LogRow>> {
        let log = self
            .engine
            .open(key, source, FetchPolicy::default())
            .await?;
        Ok(all_rows(&log))
    }

    async fn rows(&self, key: &EntryKey, source: &TestSource) -> Vec<LogRow> {
        self.try_rows(key, source).await.expect("the log is served")
    }

    fn report(&self) -> SharedReport {
        self.engine.shared_report().expect("a shared tier")
    }

    /// Waits until this replica has published `n` entries.
    async fn wait_published(&self, n: u64) {
        let deadline = Instant::now() + PATIENCE;
        while self.report().published < n {
            assert!(
                Instant::now() < deadline,
                "not published within {PATIENCE:?}: {:?}",
                self.report()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Opens `key` on `replica` in a task of its own; the task returns the rows.
fn spawn_open(
    replica: &Replica,
    key: &EntryKey,
    source: &TestSource,
) -> tokio::task::JoinHandle<bk_logs::Result<Vec<LogRow>>> {
    let engine = Arc::clone(&replica.engine);
    let (key, source) = (key.clone(), source.clone());
    tokio::spawn(async move {
        let log = engine.open(&key, &source, FetchPolicy::default()).await?;
        Ok(all_rows(&log))
    })
}

// ---------------------------------------------------------------------------
// 1, 2: miss, publication, hit.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_miss_downloads_and_publishes_then_other_replicas_hit() {
    let store = TestStore::new();
    let k = key("0190a1b2-miss");
    let source = TestSource::finished(&k.job_id);
    let expected = expected_rows(&k.job_id);

    // Replica A: nothing anywhere, so it downloads and shares.
    let a = Replica::new(&store, None);
    let started = Instant::now();
    assert_eq!(a.rows(&k, &source).await, expected);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(source.calls(), (0, 1, 1));
    let name = k.shared_name();
    assert!(
        name.starts_with(&format!("v{FORMAT_VERSION}/")) && name.ends_with(".bklog"),
        "{name}"
    );
    let stored = store.wait_object(&k, None).await;
    assert!(is_current_entry(&stored), "{} bytes", stored.len());
    let path = store.tier.path(&name);
    assert_eq!(path.as_ref(), format!("prefix/{name}"));
    assert!(
        path.as_ref()
            .starts_with(&format!("prefix/v{FORMAT_VERSION}/"))
    );
    a.wait_published(1).await;
    let report = a.report();
    assert_eq!(
        (
            report.hits,
            report.misses,
            report.rejected,
            report.published
        ),
        (0, 1, 0, 1),
        "{report:?}"
    );
    assert_eq!(report.store, "memory://test");
    assert_eq!(report.store_health.state, "up");
    assert!(report.lease_health.is_none());

    // Replica B: empty local directory, served from the store. Only the
    // access check reaches the API.
    let b = Replica::new(&store, None);
    let b_source = source.fresh_counts();
    assert_eq!(b.rows(&k, &b_source).await, expected);
    assert_eq!(b_source.calls(), (1, 0, 0));
    let report = b.report();
    assert_eq!(
        (
            report.hits,
            report.misses,
            report.rejected,
            report.published
        ),
        (1, 0, 0, 0),
        "{report:?}"
    );

    // Again on B: from its local cache; the store is not asked.
    let gets = store.gets();
    assert_eq!(b.rows(&k, &b_source).await, expected);
    assert_eq!(b_source.calls(), (2, 0, 0));
    assert_eq!(store.gets(), gets, "the store was consulted");
    assert_eq!(b.report().hits, 1);

    // Nothing more was written.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.puts(), 1);
    assert_eq!(b.report().published, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tail_and_read_agree_across_replicas() {
    let store = TestStore::new();
    let k = key("0190a1b2-tail");
    let source = TestSource::finished(&k.job_id);
    let expected = expected_rows(&k.job_id);
    let a = Replica::new(&store, None);
    let log = a
        .engine
        .open(&k, &source, FetchPolicy::default())
        .await
        .expect("served");
    assert_eq!(log.tail(3, false).expect("tail").len(), 3);
    store.wait_object(&k, None).await;

    let b = Replica::new(&store, None);
    let b_source = source.fresh_counts();
    let log = b
        .engine
        .open(&k, &b_source, FetchPolicy::default())
        .await
        .expect("served");
    let tail = log.tail(3, false).expect("tail");
    let want: Vec<LogRow> = expected[expected.len() - 3..]
        .iter()
        .map(|r| LogRow {
            group: None,
            ..r.clone()
        })
        .collect();
    assert_eq!(tail, want);
    assert_eq!(
        tail[2].content,
        "\u{1f6a8} Error: The command exited with status 101"
    );
    assert_eq!(log.read(2, 2, true).expect("read"), expected[2..4].to_vec());
    assert_eq!(log.meta().job_state.as_deref(), Some("failed"));
    assert!(log.meta().terminal);
    assert_eq!(b_source.calls(), (1, 0, 0));
}

// ---------------------------------------------------------------------------
// 3–6: bad objects are rejected, deleted and replaced.

/// Plants `bad` under the key's name, then checks a replica serves the right
/// log from a fresh download, rejects and replaces the object, and that a
/// fresh replica then hits the replacement.
async fn a_bad_object_is_replaced(job: &str, bad: Vec<u8>) {
    let store = TestStore::new();
    let k = key(job);
    let source = TestSource::finished(job);
    let expected = expected_rows(job);
    store.plant(&k, bad.clone()).await;

    let a = Replica::new(&store, None);
    let rows = a.rows(&k, &source).await;
    assert_eq!(rows, expected);
    assert!(
        rows.iter().all(|r| !r.content.contains("for other-job")),
        "another job's log served"
    );
    assert_eq!(source.calls(), (0, 1, 1));
    assert_eq!(store.deletes.load(Ordering::SeqCst), 1);
    let report = a.report();
    assert_eq!((report.hits, report.rejected), (0, 1), "{report:?}");
    assert_eq!(report.store_health.state, "up");

    // The replacement is a whole entry of this version, for this job.
    let stored = store.wait_object(&k, Some(&bad)).await;
    assert!(is_current_entry(&stored), "{} bytes", stored.len());
    a.wait_published(1).await;

    // Served again locally on A, without the store.
    let gets = store.gets();
    assert_eq!(a.rows(&k, &source).await, expected);
    assert_eq!(store.gets(), gets);
    assert_eq!(source.calls(), (1, 1, 1));

    // A fresh replica hits the replacement.
    let b = Replica::new(&store, None);
    let b_source = source.fresh_counts();
    assert_eq!(b.rows(&k, &b_source).await, expected);
    assert_eq!(b_source.calls(), (1, 0, 0));
    let report = b.report();
    assert_eq!((report.hits, report.rejected), (1, 0), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupt_object_is_replaced() {
    let mut garbage = b"<?xml version=\"1.0\"?><Error><Code>InternalError</Code></Error>".to_vec();
    garbage.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    a_bad_object_is_replaced("0190a1b2-corrupt", garbage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_corrupt_chunk_in_a_valid_looking_object_is_replaced() {
    // Header, table and meta intact, one byte of text in the first chunk
    // flipped: only a check of every chunk finds it.
    let job = "0190a1b2-flipped";
    let mut entry = entry_bytes(job);
    entry[200] ^= 0x20;
    a_bad_object_is_replaced(job, entry).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_truncated_object_is_replaced() {
    let job = "0190a1b2-truncated";
    let mut entry = entry_bytes(job);
    entry.truncate(entry.len() / 2);
    a_bad_object_is_replaced(job, entry).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_object_of_another_format_version_is_replaced() {
    let job = "0190a1b2-version";
    let mut entry = entry_bytes(job);
    entry[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    a_bad_object_is_replaced(job, entry).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_jobs_entry_under_this_name_is_replaced() {
    a_bad_object_is_replaced("0190a1b2-mixup", entry_bytes("other-job")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_running_jobs_entry_is_never_shared() {
    let store = TestStore::new();
    let k = key("0190a1b2-running");
    let source = TestSource::running(&k.job_id);
    let expected = expected_rows(&k.job_id);
    let a = Replica::new(&store, None);
    assert_eq!(a.rows(&k, &source).await, expected);
    assert_eq!(source.calls(), (0, 1, 1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.puts(), 0);
    assert!(store.object(&k).await.is_none());
    assert_eq!(a.report().published, 0);

    // A running job's entry found in the store (a bug elsewhere) is not
    // served either.
    let running_entry = {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = LogCache::new(dir.path(), 1 << 30).expect("cache");
        cache
            .ingest_reader(&k, &raw_log(&k.job_id)[..], Some("running".into()), false)
            .expect("ingest");
        std::fs::read(cache.path_for(&k)).expect("entry")
    };
    store.plant(&k, running_entry).await;
    let b = Replica::new(&store, None);
    let b_source = source.fresh_counts();
    assert_eq!(b.rows(&k, &b_source).await, expected);
    assert_eq!(b_source.calls(), (0, 1, 1));
    assert_eq!(b.report().rejected, 1);
}

// ---------------------------------------------------------------------------
// 8: the store fails or hangs.

async fn store_outage(mode: Mode) {
    let store = TestStore::new();
    let a = Replica::new(&store, None);
    let fetch_delay = Duration::from_millis(50);
    store.set_mode(mode);

    let mut first = None;
    let mut rest = Duration::ZERO;
    for i in 0..4 {
        let k = key(&format!("0190a1b2-outage-{i}"));
        let source = TestSource::finished(&k.job_id).slow(fetch_delay);
        let started = Instant::now();
        assert_eq!(a.rows(&k, &source).await, expected_rows(&k.job_id));
        let elapsed = started.elapsed();
        if first.is_none() {
            first = Some(elapsed);
        } else {
            rest += elapsed;
        }
        assert!(
            elapsed < OPTIONS.op_timeout * 3 + fetch_delay,
            "call {i} took {elapsed:?}"
        );
        assert_eq!(source.calls(), (0, 1, 1));
    }
    if mode == Mode::Hang {
        let first = first.expect("a first call");
        assert!(first >= OPTIONS.op_timeout, "first call took {first:?}");
    }
    // While the store is down, calls skip it: the three later calls wait
    // for one probe at most, not one time-out each.
    assert!(
        rest < OPTIONS.op_timeout + fetch_delay * 3 + Duration::from_millis(250),
        "the three later calls took {rest:?}"
    );
    let report = a.report();
    assert_eq!(report.store_health.state, "down", "{report:?}");
    assert_eq!(report.store_health.outages, 1, "{report:?}");
    assert!(report.store_health.last_error.is_some());
    assert_eq!(report.published, 0);

    // Back to normal. Anything started during the outage has timed out
    // after op_timeout; after retry_after, a call probes the store again.
    store.set_mode(Mode::Normal);
    tokio::time::sleep(OPTIONS.op_timeout + OPTIONS.retry_after + Duration::from_millis(100)).await;
    let k = key("0190a1b2-after-outage");
    let source = TestSource::finished(&k.job_id);
    assert_eq!(a.rows(&k, &source).await, expected_rows(&k.job_id));
    assert_eq!(source.calls(), (0, 1, 1));
    let report = a.report();
    assert_eq!(report.store_health.state, "up", "{report:?}");
    assert_eq!(report.store_health.outages, 1);

    // Sharing resumed: the new finished job is published, and read by
    // another replica from the store.
    let stored = store.wait_object(&k, None).await;
    assert!(is_current_entry(&stored));
    a.wait_published(1).await;
    let b = Replica::new(&store, None);
    let b_source = source.fresh_counts();
    assert_eq!(b.rows(&k, &b_source).await, expected_rows(&k.job_id));
    assert_eq!(b_source.calls(), (1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_store_falls_back_to_downloads_then_recovers() {
    store_outage(Mode::Fail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_store_costs_one_timeout_then_recovers() {
    store_outage(Mode::Hang).await;
}

// ---------------------------------------------------------------------------
// 9: access.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_access_is_authorized_even_when_cached_everywhere() {
    let store = TestStore::new();
    let k = key("0190a1b2-private");
    let source = TestSource::finished(&k.job_id);
    let a = Replica::new(&store, None);
    assert_eq!(a.rows(&k, &source).await, expected_rows(&k.job_id));
    store.wait_object(&k, None).await;
    assert!(a.engine.cache().open(&k).expect("local cache").is_some());

    // Someone else, on the replica that has it locally and in the store.
    let refused = source.fresh_counts().refusing();
    let error = a.try_rows(&k, &refused).await.expect_err("refused");
    match &error {
        Error::Source(e) => assert_eq!(e.kind(), SourceErrorKind::Unavailable),
        other => panic!("unexpected error: {other}"),
    }
    assert_eq!(refused.calls(), (1, 0, 0));

    // And on a replica that has nothing locally: the store's entry is
    // fetched (a hit costs no API request but the check), and still refused.
    let b = Replica::new(&store, None);
    let refused = source.fresh_counts().refusing();
    assert!(b.try_rows(&k, &refused).await.is_err());
    assert_eq!(refused.calls(), (1, 0, 0));
    assert_eq!(b.report().hits, 1);
    // A caller who may read it is then served from this replica's disk.
    let allowed = source.fresh_counts();
    assert_eq!(b.rows(&k, &allowed).await, expected_rows(&k.job_id));
    assert_eq!(allowed.calls(), (1, 0, 0));
    assert_eq!(b.report().hits, 1);
}

// ---------------------------------------------------------------------------
// 10: leases.

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn one_download_for_many_callers_on_many_replicas() {
    let store = TestStore::new();
    let leases: Arc<dyn DownloadLeases> = Arc::new(MemoryLeases::default());
    let replicas: Vec<Replica> = (0..3)
        .map(|_| Replica::new(&store, Some(Arc::clone(&leases))))
        .collect();
    let k = key("0190a1b2-popular");
    let source = TestSource::finished(&k.job_id).slow(Duration::from_millis(300));
    let expected = expected_rows(&k.job_id);

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        for replica in &replicas {
            tasks.push(spawn_open(replica, &k, &source));
        }
    }
    for task in tasks {
        let rows = task.await.expect("task").expect("served");
        assert_eq!(rows, expected);
    }
    let elapsed = started.elapsed();
    let (authorize, job_status, fetch) = source.calls();
    assert_eq!(fetch, 1, "one download in all");
    // Every call is checked, but the download's own (the GET is its check).
    assert_eq!(authorize, 23);
    assert!(job_status <= 3, "job_status {job_status}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");

    let reports: Vec<SharedReport> = replicas.iter().map(Replica::report).collect();
    let total = |f: fn(&SharedReport) -> u64| reports.iter().map(f).sum::<u64>();
    // The downloader publishes; the two others are served from the store
    // once each (their other callers wait for that in process).
    let deadline = Instant::now() + PATIENCE;
    while replicas.iter().map(|r| r.report().published).sum::<u64>() < 1 {
        assert!(Instant::now() < deadline, "never published");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let published: u64 = replicas.iter().map(|r| r.report().published).sum();
    assert_eq!(published, 1, "{reports:?}");
    assert_eq!(total(|r| r.hits), 2, "{reports:?}");
    assert_eq!(total(|r| r.rejected), 0, "{reports:?}");
    assert!(total(|r| r.waits) >= 2, "{reports:?}");
    for report in &reports {
        assert_eq!(report.lease_health.as_ref().map(|h| h.state), Some("up"));
    }
    assert_eq!(store.puts(), 1);

    // The lease is given up after the upload, not left to expire
    // (lease_ttl is 2 s).
    let deadline = Instant::now() + Duration::from_millis(500);
    while leases.is_held(&k.shared_name()).await.expect("in memory") {
        assert!(Instant::now() < deadline, "the lease was not released");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crashed_lease_holder_delays_others_by_at_most_the_ttl() {
    let store = TestStore::new();
    let memory = Arc::new(MemoryLeases::default());
    let leases: Arc<dyn DownloadLeases> = Arc::clone(&memory) as Arc<dyn DownloadLeases>;
    let k = key("0190a1b2-orphan");
    let ttl = Duration::from_millis(500);
    // A replica took the lease and died: never renewed, never released.
    let orphan = leases
        .acquire(&k.shared_name(), ttl)
        .await
        .expect("in memory")
        .expect("free");
    let taken_at = Instant::now();

    let a = Replica::new(&store, Some(Arc::clone(&leases)));
    let source = TestSource::finished(&k.job_id).slow(Duration::from_millis(50));
    assert_eq!(a.rows(&k, &source).await, expected_rows(&k.job_id));
    let elapsed = taken_at.elapsed();
    assert!(elapsed >= ttl, "did not wait for the lease: {elapsed:?}");
    assert!(
        elapsed < ttl + OPTIONS.poll_interval * 5 + Duration::from_millis(500),
        "waited too long: {elapsed:?}"
    );
    assert_eq!(source.calls(), (0, 1, 1));
    let report = a.report();
    assert_eq!((report.waits, report.hits), (1, 0), "{report:?}");

    // It published, and released its own lease, not touching the orphan's.
    store.wait_object(&k, None).await;
    a.wait_published(1).await;
    // Released, not left to expire (lease_ttl is 2 s).
    let deadline = Instant::now() + Duration::from_millis(500);
    while leases.is_held(&k.shared_name()).await.expect("in memory") {
        assert!(Instant::now() < deadline, "the lease was not released");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!memory.renew(&orphan, ttl).await.expect("in memory"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiting_replica_is_served_by_the_holders_upload() {
    // The holder is another replica that is slow to download: the waiter
    // does not download at all.
    let store = TestStore::new();
    let leases: Arc<dyn DownloadLeases> = Arc::new(MemoryLeases::default());
    let a = Replica::new(&store, Some(Arc::clone(&leases)));
    let b = Replica::new(&store, Some(Arc::clone(&leases)));
    let k = key("0190a1b2-handoff");
    let a_source = TestSource::finished(&k.job_id).slow(Duration::from_millis(400));
    let b_source = a_source.fresh_counts();
    let a_task = spawn_open(&a, &k, &a_source);
    // Let A take the lease first.
    let deadline = Instant::now() + PATIENCE;
    while !leases.is_held(&k.shared_name()).await.expect("in memory") {
        assert!(Instant::now() < deadline, "A never took the lease");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let expected = expected_rows(&k.job_id);
    assert_eq!(b.rows(&k, &b_source).await, expected);
    assert_eq!(a_task.await.expect("task").expect("served"), expected);
    assert_eq!(a_source.calls(), (0, 1, 1));
    assert_eq!(b_source.calls(), (1, 1, 0));
    let report = b.report();
    assert_eq!((report.waits, report.hits), (1, 1), "{report:?}");
}

// ---------------------------------------------------------------------------
// 11: the leases fail.

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn failing_leases_fall_back_to_one_download_per_replica() {
    let store = TestStore::new();
    let failing = Arc::new(FailingLeases::default());
    let leases: Arc<dyn DownloadLeases> = Arc::clone(&failing) as Arc<dyn DownloadLeases>;
    let replicas: Vec<Replica> = (0..3)
        .map(|_| Replica::new(&store, Some(Arc::clone(&leases))))
        .collect();
    let k = key("0190a1b2-no-redis");
    let base = TestSource::finished(&k.job_id).slow(Duration::from_millis(200));
    let sources: Vec<TestSource> = replicas.iter().map(|_| base.fresh_counts()).collect();
    let expected = expected_rows(&k.job_id);

    let mut tasks = Vec::new();
    for _ in 0..8 {
        for (replica, source) in replicas.iter().zip(&sources) {
            tasks.push(spawn_open(replica, &k, source));
        }
    }
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("served"), expected);
    }
    let mut fetches = 0;
    for (replica, source) in replicas.iter().zip(&sources) {
        let (authorize, _, fetch) = source.calls();
        assert_eq!(
            authorize + fetch,
            8,
            "each call checked once, a download by itself"
        );
        assert!(fetch <= 1, "a replica downloaded {fetch} times");
        fetches += fetch;
        let report = replica.report();
        let lease_health = report.lease_health.clone().expect("leases configured");
        if fetch == 1 {
            assert_eq!(lease_health.state, "down", "{report:?}");
            assert_eq!(lease_health.outages, 1, "{report:?}");
        }
        assert_eq!(report.store_health.state, "up");
    }
    assert!(fetches >= 1);
    assert!(failing.calls.load(Ordering::SeqCst) >= 1);

    // Sharing through the store goes on without leases.
    store.wait_object(&k, None).await;
    let d = Replica::new(&store, Some(Arc::clone(&leases)));
    let d_source = base.fresh_counts();
    assert_eq!(d.rows(&k, &d_source).await, expected);
    assert_eq!(d_source.calls(), (1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hanging_leases_cost_one_timeout_then_are_skipped() {
    let store = TestStore::new();
    let hanging = Arc::new(FailingLeases {
        hang: true,
        ..FailingLeases::default()
    });
    let leases: Arc<dyn DownloadLeases> = Arc::clone(&hanging) as Arc<dyn DownloadLeases>;
    let a = Replica::new(&store, Some(leases));
    let fetch_delay = Duration::from_millis(50);
    let mut took = Vec::new();
    for i in 0..3 {
        let k = key(&format!("0190a1b2-lease-hang-{i}"));
        let source = TestSource::finished(&k.job_id).slow(fetch_delay);
        let started = Instant::now();
        assert_eq!(a.rows(&k, &source).await, expected_rows(&k.job_id));
        took.push(started.elapsed());
        assert_eq!(source.calls(), (0, 1, 1));
        // Sharing through the store goes on.
        store.wait_object(&k, None).await;
    }
    assert!(took[0] >= OPTIONS.op_timeout, "{took:?}");
    assert!(took[0] < OPTIONS.op_timeout * 2 + fetch_delay, "{took:?}");
    assert!(hanging.calls.load(Ordering::SeqCst) >= 1);
    a.wait_published(3).await;
    let report = a.report();
    let lease_health = report.lease_health.clone().expect("leases configured");
    assert_eq!(
        (lease_health.state, lease_health.outages),
        ("down", 1),
        "{report:?}"
    );
    assert_eq!(report.store_health.state, "up");
    assert_eq!(report.published, 3);
}
