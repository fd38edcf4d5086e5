//! The cache, queries and engine, end to end on generated logs.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bk_logs::source::{JobStatus, LogChunks, LogSource, MemorySource, RawTail, SourceError};
use bk_logs::{
    Engine, EngineOptions, EntryKey, Error, FetchPolicy, LogCache, LogFile, SearchQuery, TailAnswer,
};

/// A log of `n` rows: "row <i>" with a marker, every 10th row an ANSI
/// "error", a group header every 25 rows.
fn log_of(n: usize) -> Vec<u8> {
    let mut log = String::new();
    for i in 0..n {
        write!(log, "\x1b_bk;t={}\x07", 1_700_000_000_000u64 + i as u64).unwrap();
        if i % 25 == 0 {
            writeln!(log, "--- group {}", i / 25).unwrap();
        } else if i % 10 == 0 {
            writeln!(log, "\x1b[31mERR\x1b[0mOR in row {i}").unwrap();
        } else {
            writeln!(log, "row {i}").unwrap();
        }
    }
    log.into_bytes()
}

fn cache() -> (tempfile::TempDir, LogCache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = LogCache::new(dir.path().join("cache"), 1 << 30).unwrap();
    (dir, cache)
}

fn ingest(cache: &LogCache, job: &str, log: &[u8]) -> LogFile {
    cache
        .ingest_reader(
            &EntryKey::new("acme", job),
            log,
            Some("passed".into()),
            true,
        )
        .unwrap()
}

fn search(log: &LogFile, query: SearchQuery) -> Vec<(u64, Vec<u64>, Vec<u64>)> {
    log.search(&query)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| {
            (
                h.row.row,
                h.before_context.iter().map(|r| r.row).collect(),
                h.after_context.iter().map(|r| r.row).collect(),
            )
        })
        .collect()
}

fn pattern(p: &str) -> SearchQuery {
    SearchQuery {
        pattern: p.into(),
        ..SearchQuery::default()
    }
}

#[test]
fn read_tail_info_and_groups() {
    let (_dir, cache) = cache();
    let log = ingest(&cache, "j1", &log_of(100));
    assert_eq!(log.row_count(), 100);
    let rows = log.read(10, 3, false).unwrap();
    assert_eq!(rows.iter().map(|r| r.row).collect::<Vec<_>>(), [10, 11, 12]);
    assert_eq!(rows[0].content, "ERROR in row 10");
    assert_eq!(rows[0].ts, Some(1_700_000_000_010));
    let tail = log.tail(2, true).unwrap();
    assert_eq!(tail[1].content, "row 99");
    assert_eq!(tail[1].group.as_deref(), Some("group 3"));
    let info = log.info();
    assert_eq!((info.rows, info.groups), (100, 4));
    assert_eq!(info.first_ts, Some(1_700_000_000_000));
    assert_eq!(info.last_ts, Some(1_700_000_000_099));
    assert!(info.terminal);
    assert_eq!(log.groups().unwrap()[1].header_row, 25);
    assert_eq!(log.groups().unwrap()[1].row_count, 25);
    let group = log.read_group(2, 3).unwrap();
    assert_eq!(group[0].content, "--- group 2");
    assert!(log.read_group(9, 3).is_err());
}

#[test]
fn json_shape_is_ts_c_rn() {
    let (_dir, cache) = cache();
    let log = ingest(&cache, "j1", b"\x1b_bk;t=5\x07hello\nno marker\n");
    let json = serde_json::to_string(&log.read(0, 2, false).unwrap()).unwrap();
    assert_eq!(
        json,
        r#"[{"ts":5,"c":"hello","rn":0},{"c":"no marker","rn":1}]"#
    );
}

#[test]
fn an_empty_log_and_reads_past_the_end_are_empty_not_errors() {
    let (_dir, cache) = cache();
    let empty = ingest(&cache, "empty", b"");
    assert_eq!(empty.row_count(), 0);
    assert!(empty.tail(10, false).unwrap().is_empty());
    assert!(empty.read(0, 10, false).unwrap().is_empty());
    assert!(search(&empty, pattern("x")).is_empty());
    let log = ingest(&cache, "j", &log_of(5));
    assert!(log.read(5, 10, false).unwrap().is_empty());
    assert!(log.read(u64::MAX, 10, false).unwrap().is_empty());
    let past = SearchQuery {
        seek_start: Some(99),
        ..pattern("row")
    };
    assert!(search(&log, past).is_empty());
}

#[test]
fn search_runs_on_the_visible_text() {
    let (_dir, cache) = cache();
    let log = ingest(&cache, "j", &log_of(50));
    // "ERR\x1b[0mOR" in the raw log: the pattern matches what the user sees.
    let hits = search(&log, pattern("error in row"));
    assert_eq!(
        hits.iter().map(|h| h.0).collect::<Vec<_>>(),
        [10, 20, 30, 40]
    );
    let exact = SearchQuery {
        case_sensitive: true,
        ..pattern("error")
    };
    assert!(search(&log, exact).is_empty());
}

#[test]
fn close_matches_keep_every_match_and_share_context_without_repeats() {
    let (_dir, cache) = cache();
    let log = ingest(
        &cache,
        "j",
        b"a\nb\nMATCH 2\nMATCH 3\nc\nd\ne\nMATCH 7\nf\n",
    );
    let query = SearchQuery {
        before: 2,
        after: 2,
        ..pattern("match")
    };
    assert_eq!(
        search(&log, query),
        [
            (2, vec![0, 1], vec![]),
            (3, vec![], vec![4, 5]),
            (7, vec![6], vec![8]),
        ]
    );
}

#[test]
fn reverse_search_has_natural_context_and_newest_first() {
    let (_dir, cache) = cache();
    let log = ingest(
        &cache,
        "j",
        b"a\nb\nMATCH 2\nMATCH 3\nc\nd\ne\nMATCH 7\nf\n",
    );
    let query = SearchQuery {
        before: 2,
        after: 2,
        reverse: true,
        ..pattern("match")
    };
    assert_eq!(
        search(&log, query),
        [
            (7, vec![5, 6], vec![8]),
            (3, vec![], vec![4]),
            (2, vec![0, 1], vec![]),
        ]
    );
    let limited = SearchQuery {
        reverse: true,
        limit: Some(1),
        ..pattern("match")
    };
    let result = log.search(&limited).unwrap();
    assert_eq!(result.hits[0].row.row, 7);
    assert!(result.limited);
    let from = SearchQuery {
        reverse: true,
        seek_start: Some(6),
        ..pattern("match")
    };
    assert_eq!(
        search(&log, from).iter().map(|h| h.0).collect::<Vec<_>>(),
        [3, 2]
    );
}

#[test]
fn invert_seek_and_limit() {
    let (_dir, cache) = cache();
    let log = ingest(&cache, "j", &log_of(30));
    let inverted = SearchQuery {
        invert: true,
        limit: Some(3),
        ..pattern("^row")
    };
    assert_eq!(
        search(&log, inverted)
            .iter()
            .map(|h| h.0)
            .collect::<Vec<_>>(),
        [0, 10, 20]
    );
    let seek = SearchQuery {
        seek_start: Some(11),
        ..pattern("error")
    };
    assert_eq!(
        search(&log, seek).iter().map(|h| h.0).collect::<Vec<_>>(),
        [20]
    );
    let limited = log
        .search(&SearchQuery {
            limit: Some(1),
            ..pattern("row")
        })
        .unwrap();
    assert_eq!(limited.hits.len(), 1);
    assert!(limited.limited);
    let all = log.search(&pattern("error")).unwrap();
    assert!(!all.limited);
}

#[test]
fn a_match_spanning_lines_counts_only_if_its_line_matches() {
    let (_dir, cache) = cache();
    let log = ingest(&cache, "j", b"ends with error\nfoo starts\nerror foo\n");
    assert_eq!(
        search(&log, pattern(r"error\s+foo"))
            .iter()
            .map(|h| h.0)
            .collect::<Vec<_>>(),
        [2]
    );
}

#[test]
fn bad_patterns_are_errors() {
    let (_dir, cache) = cache();
    let log = ingest(&cache, "j", b"x\n");
    assert!(matches!(
        log.search(&pattern("(unclosed")),
        Err(Error::Pattern(_))
    ));
    let huge = SearchQuery {
        pattern: "(a|b|c|d|e|f|g){1000}{1000}".into(),
        ..SearchQuery::default()
    };
    assert!(matches!(log.search(&huge), Err(Error::Pattern(_))));
}

#[test]
fn a_corrupted_entry_is_rebuilt_not_served() {
    let (_dir, cache) = cache();
    let key = EntryKey::new("acme", "j");
    ingest(&cache, "j", &log_of(2000));
    let path = cache.path_for(&key);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[5000] ^= 0xff; // inside the text
    std::fs::write(&path, &bytes).unwrap();
    // The header still checks out, so it opens, but reading the damaged
    // chunk fails rather than returning wrong text.
    let opened = cache.open(&key).unwrap().unwrap();
    assert!(matches!(
        opened.read(0, 2000, false),
        Err(Error::Corrupt(_))
    ));
    // A damaged header or table is caught at open: the entry is removed.
    bytes[20] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    assert!(cache.open(&key).unwrap().is_none());
    assert!(!path.exists());
    // Truncated files too.
    ingest(&cache, "j", &log_of(10));
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    assert!(cache.open(&key).unwrap().is_none());
}

#[test]
fn an_entry_of_another_format_version_is_rebuilt() {
    let (_dir, cache) = cache();
    let key = EntryKey::new("acme", "j");
    ingest(&cache, "j", &log_of(10));
    let path = cache.path_for(&key);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8] = 99; // the version field
    std::fs::write(&path, &bytes).unwrap();
    assert!(cache.open(&key).unwrap().is_none());
}

#[test]
fn eviction_removes_the_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let big = LogCache::new(dir.path(), 1 << 30).unwrap();
    for job in ["old", "mid", "new"] {
        ingest(&big, job, &log_of(3000));
        std::thread::sleep(Duration::from_millis(20));
    }
    let size = big.size().unwrap();
    // Use "old" so it becomes the most recent; then shrink the bound.
    big.open(&EntryKey::new("acme", "old")).unwrap().unwrap();
    let small = LogCache::new(dir.path(), size * 2 / 3).unwrap();
    small.evict().unwrap();
    assert!(
        small.open(&EntryKey::new("acme", "mid")).unwrap().is_none(),
        "mid was least recent"
    );
    assert!(small.open(&EntryKey::new("acme", "old")).unwrap().is_some());
    assert!(small.open(&EntryKey::new("acme", "new")).unwrap().is_some());
}

#[test]
fn the_entry_is_compact() {
    let (_dir, cache) = cache();
    let raw = log_of(20_000);
    let log = ingest(&cache, "j", &raw);
    let entry_size = std::fs::metadata(cache.path_for(&EntryKey::new("acme", "j")))
        .unwrap()
        .len();
    let info = log.info();
    // Text, 8 bytes of index per row, the groups, and little else.
    let groups_json = serde_json::to_vec(log.groups().unwrap()).unwrap().len() as u64;
    let overhead = entry_size - info.text_bytes - 8 * info.rows - groups_json;
    assert!(
        overhead < 2048,
        "{overhead} bytes beyond text, index and groups"
    );
}

/// A source that counts what it is asked for.
struct CountingSource {
    inner: MemorySource,
    authorized: AtomicUsize,
    fetched: AtomicUsize,
    size_override: Option<u64>,
}

impl CountingSource {
    fn new(log: Vec<u8>, terminal: bool) -> Arc<Self> {
        Arc::new(CountingSource {
            inner: MemorySource {
                log,
                status: JobStatus {
                    state: Some(if terminal { "passed" } else { "running" }.into()),
                    terminal,
                },
            },
            authorized: AtomicUsize::new(0),
            fetched: AtomicUsize::new(0),
            size_override: None,
        })
    }
}

#[async_trait]
impl LogSource for CountingSource {
    async fn authorize(&self) -> Result<Option<u64>, SourceError> {
        self.authorized.fetch_add(1, Ordering::SeqCst);
        Ok(self.size_override.or(Some(self.inner.log.len() as u64)))
    }
    async fn job_status(&self) -> Result<JobStatus, SourceError> {
        self.inner.job_status().await
    }
    async fn fetch(&self) -> Result<Box<dyn LogChunks>, SourceError> {
        self.fetched.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.inner.fetch().await
    }
    async fn fetch_tail(&self, max_bytes: u64) -> Result<RawTail, SourceError> {
        self.inner.fetch_tail(max_bytes).await
    }
}

fn engine(dir: &tempfile::TempDir, options: EngineOptions) -> Engine {
    Engine::new(LogCache::new(dir.path(), 1 << 30).unwrap(), options)
}

#[tokio::test]
async fn a_finished_job_is_fetched_once_and_every_cached_read_is_authorized() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir, EngineOptions::default());
    let source = CountingSource::new(log_of(100), true);
    let key = EntryKey::new("acme", "j");
    let policy = FetchPolicy {
        cache_ttl: Duration::ZERO,
        ..FetchPolicy::default()
    };
    for _ in 0..3 {
        let log = engine.open(&key, source.as_ref(), policy).await.unwrap();
        assert_eq!(log.row_count(), 100);
    }
    assert_eq!(source.fetched.load(Ordering::SeqCst), 1);
    // The download is its own check; the two cached reads are checked (this
    // source names no caller, so no check is reused).
    assert_eq!(source.authorized.load(Ordering::SeqCst), 2);
    let forced = FetchPolicy {
        force_refresh: true,
        ..policy
    };
    engine.open(&key, source.as_ref(), forced).await.unwrap();
    assert_eq!(source.fetched.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_query_on_a_damaged_entry_rebuilds_it_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir, EngineOptions::default());
    let source = CountingSource::new(log_of(3000), true);
    let key = EntryKey::new("acme", "j");
    engine
        .open(&key, source.as_ref(), FetchPolicy::default())
        .await
        .unwrap();
    let path = engine.cache().path_for(&key);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20_000] ^= 0xff; // inside the text, caught only when read
    std::fs::write(&path, &bytes).unwrap();
    let rows = engine
        .query(&key, source.as_ref(), FetchPolicy::default(), |log| {
            log.read(0, 3000, false)
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 3000);
    assert_eq!(rows[2999].content, "row 2999");
    assert_eq!(
        source.fetched.load(Ordering::SeqCst),
        2,
        "fetched again after the damage"
    );
}

#[tokio::test]
async fn a_running_job_is_refetched_after_its_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir, EngineOptions::default());
    let source = CountingSource::new(log_of(10), false);
    let key = EntryKey::new("acme", "j");
    let policy = FetchPolicy {
        cache_ttl: Duration::from_millis(200),
        ..FetchPolicy::default()
    };
    engine.open(&key, source.as_ref(), policy).await.unwrap();
    engine.open(&key, source.as_ref(), policy).await.unwrap();
    assert_eq!(source.fetched.load(Ordering::SeqCst), 1, "within the TTL");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let log = engine.open(&key, source.as_ref(), policy).await.unwrap();
    assert_eq!(source.fetched.load(Ordering::SeqCst), 2, "after the TTL");
    assert!(!log.info().terminal);
}

#[tokio::test]
async fn concurrent_opens_share_one_download() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(engine(&dir, EngineOptions::default()));
    let source = CountingSource::new(log_of(1000), true);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (engine, source) = (Arc::clone(&engine), Arc::clone(&source));
        tasks.push(tokio::spawn(async move {
            let key = EntryKey::new("acme", "j");
            engine
                .open(&key, source.as_ref(), FetchPolicy::default())
                .await
                .map(|l| l.row_count())
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 1000);
    }
    assert_eq!(source.fetched.load(Ordering::SeqCst), 1);
    // Every caller is checked but the one whose download was its check.
    assert_eq!(source.authorized.load(Ordering::SeqCst), 7);
}

#[tokio::test]
async fn a_log_over_the_limit_is_tailed_with_a_range() {
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        max_log_bytes: 1000,
        tail_bytes_per_row: 64,
        ..EngineOptions::default()
    };
    let engine = engine(&dir, options);
    let source = CountingSource::new(log_of(500), true);
    let key = EntryKey::new("acme", "j");
    let answer = engine
        .tail(&key, source.as_ref(), FetchPolicy::default(), 5)
        .await
        .unwrap();
    let TailAnswer::Partial(tail) = answer else {
        panic!("expected a partial tail")
    };
    let contents: Vec<_> = tail.rows.iter().map(|r| r.content.as_str()).collect();
    assert_eq!(
        contents,
        ["row 495", "row 496", "row 497", "row 498", "row 499"]
    );
    assert_eq!(tail.total_bytes, source.inner.log.len() as u64);
    // The download was started, its size seen, and dropped unread.
    assert_eq!(source.fetched.load(Ordering::SeqCst), 1);
    assert!(engine.cache().open(&key).unwrap().is_none(), "never cached");
    let error = engine
        .open(&key, source.as_ref(), FetchPolicy::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TooLarge(_)), "{error:?}");
}

#[tokio::test]
async fn a_big_uncached_log_is_tailed_with_a_range_but_a_cached_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        tail_range_above: 2000,
        ..EngineOptions::default()
    };
    let engine = engine(&dir, options);
    let source = CountingSource::new(log_of(500), true);
    let key = EntryKey::new("acme", "j");
    let answer = engine
        .tail(&key, source.as_ref(), FetchPolicy::default(), 1)
        .await
        .unwrap();
    assert!(
        matches!(answer, TailAnswer::Partial(_)),
        "not cached yet: ranged"
    );
    assert!(engine.cache().open(&key).unwrap().is_none(), "not cached");
    engine
        .open(&key, source.as_ref(), FetchPolicy::default())
        .await
        .unwrap();
    let answer = engine
        .tail(&key, source.as_ref(), FetchPolicy::default(), 1)
        .await
        .unwrap();
    let TailAnswer::Cached(rows, _) = answer else {
        panic!("cached now")
    };
    assert_eq!(rows[0].content, "row 499");
    // The ranged tail's dropped start, then the whole download for `open`;
    // the cached tail fetched nothing.
    assert_eq!(source.fetched.load(Ordering::SeqCst), 2);
}

/// A source that names its caller, so access checks can be reused.
struct NamedCaller(Arc<CountingSource>, &'static str);

#[async_trait]
impl LogSource for NamedCaller {
    async fn authorize(&self) -> Result<Option<u64>, SourceError> {
        self.0.authorize().await
    }
    async fn job_status(&self) -> Result<JobStatus, SourceError> {
        self.0.job_status().await
    }
    async fn fetch(&self) -> Result<Box<dyn LogChunks>, SourceError> {
        self.0.fetch().await
    }
    async fn fetch_tail(&self, max_bytes: u64) -> Result<RawTail, SourceError> {
        self.0.fetch_tail(max_bytes).await
    }
    fn caller(&self) -> Option<String> {
        Some(self.1.to_owned())
    }
}

#[tokio::test]
async fn access_checks_are_reused_per_caller_within_the_period() {
    let dir = tempfile::tempdir().unwrap();
    let options = EngineOptions {
        access_recheck: Duration::from_millis(300),
        ..EngineOptions::default()
    };
    let engine = engine(&dir, options);
    let counting = CountingSource::new(log_of(20), true);
    let alice = NamedCaller(Arc::clone(&counting), "alice");
    let bob = NamedCaller(Arc::clone(&counting), "bob");
    let key = EntryKey::new("acme", "j");
    let checks = || counting.authorized.load(Ordering::SeqCst);
    // Alice downloads (her check), then reads twice: no new check.
    for _ in 0..3 {
        engine
            .open(&key, &alice, FetchPolicy::default())
            .await
            .unwrap();
    }
    assert_eq!((checks(), counting.fetched.load(Ordering::SeqCst)), (0, 1));
    // Bob has not been checked: he is, once.
    engine
        .open(&key, &bob, FetchPolicy::default())
        .await
        .unwrap();
    engine
        .open(&key, &bob, FetchPolicy::default())
        .await
        .unwrap();
    assert_eq!(checks(), 1);
    // After the period, each is checked again.
    tokio::time::sleep(Duration::from_millis(350)).await;
    engine
        .open(&key, &alice, FetchPolicy::default())
        .await
        .unwrap();
    engine
        .open(&key, &bob, FetchPolicy::default())
        .await
        .unwrap();
    assert_eq!(checks(), 3);
    // A period of zero checks every read.
    let dir = tempfile::tempdir().unwrap();
    let every = EngineOptions {
        access_recheck: Duration::ZERO,
        ..EngineOptions::default()
    };
    let engine = Engine::new(LogCache::new(dir.path(), 1 << 30).unwrap(), every);
    for _ in 0..3 {
        engine
            .open(&key, &alice, FetchPolicy::default())
            .await
            .unwrap();
    }
    assert_eq!(checks(), 5, "the download, then two checked reads");
}

#[tokio::test]
async fn a_small_log_tail_comes_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir, EngineOptions::default());
    let source = CountingSource::new(log_of(50), true);
    let key = EntryKey::new("acme", "j");
    let answer = engine
        .tail(&key, source.as_ref(), FetchPolicy::default(), 2)
        .await
        .unwrap();
    let TailAnswer::Cached(rows, log) = answer else {
        panic!("expected the cache")
    };
    assert_eq!(rows[1].content, "row 49");
    assert_eq!(log.row_count(), 50);
}

/// Run by `two_processes_ingest_the_same_job_at_once` in child processes.
#[test]
#[ignore = "run as a child process by two_processes_ingest_the_same_job_at_once"]
fn child_ingest_writer() {
    let Ok(dir) = std::env::var("BKLOGS_TEST_CACHE_DIR") else {
        return;
    };
    let cache = LogCache::new(dir, 1 << 30).unwrap();
    for _ in 0..5 {
        let log = ingest(&cache, "shared", &log_of(20_000));
        assert_eq!(log.row_count(), 20_000);
        let reopened = cache
            .open(&EntryKey::new("acme", "shared"))
            .unwrap()
            .unwrap();
        assert_eq!(reopened.tail(1, false).unwrap()[0].content, "row 19999");
    }
}

#[test]
fn two_processes_ingest_the_same_job_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "cache::child_ingest_writer",
                    "--nocapture",
                ])
                .env("BKLOGS_TEST_CACHE_DIR", dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("1 passed"),
            "the child really ran: {stdout}"
        );
    }
    let cache = LogCache::new(dir.path(), 1 << 30).unwrap();
    let log = cache
        .open(&EntryKey::new("acme", "shared"))
        .unwrap()
        .unwrap();
    assert_eq!(log.row_count(), 20_000);
    assert_eq!(log.read(19_999, 1, false).unwrap()[0].content, "row 19999");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn digest_centres_on_the_last_specific_error_and_folds_progress() {
    let (_dir, cache) = cache();
    let mut log = String::new();
    for i in 0..500 {
        writeln!(
            log,
            "\x1b_bk;t={}\x07compiling crate {i}",
            1_700_000_000_000u64 + i
        )
        .unwrap();
    }
    for pct in [10, 40, 80, 100] {
        write!(log, "\rDownloading artifacts {pct}%").unwrap();
    }
    log.push('\n');
    for i in 0..5 {
        writeln!(log, "Retrying in {i}s").unwrap();
    }
    log.push_str("test result: ok. 12 passed; 0 failed\n");
    log.push_str("\x1b[31merror[E0425]\x1b[0m: cannot find value `x` in this scope\n");
    log.push_str("  --> src/main.rs:4:5\n");
    for i in 0..40 {
        writeln!(log, "note {i}").unwrap();
    }
    log.push_str("🚨 Error: The command exited with status 101\n");
    log.push_str("^^^ +++\n");
    let file = ingest(&cache, "digest", log.as_bytes());
    let digest = file
        .digest(&bk_logs::digest::DigestOptions::default())
        .unwrap();
    assert_eq!(
        digest.error_line.as_deref(),
        Some("error[E0425]: cannot find value `x` in this scope")
    );
    let error_row = digest.error_row.unwrap();
    assert_eq!(error_row, 507);
    // The window: a gap for the start, the folded compile lines, the
    // progress line's final frame, the retries folded, the error.
    let lines = &digest.lines;
    assert_eq!(lines[0].c, bk_logs::digest::GAP);
    assert!(lines.iter().any(|l| l.c == "Downloading artifacts 100%"));
    let retries = lines.iter().find(|l| l.c.starts_with("Retrying")).unwrap();
    assert_eq!(retries.repeat, 5);
    let compiles = lines.iter().find(|l| l.c.starts_with("compiling")).unwrap();
    assert!(compiles.repeat > 1, "{compiles:?}");
    // The end of the log is kept after a gap.
    assert_eq!(lines.last().unwrap().c, "^^^ +++");
    assert!(lines.iter().any(|l| l.c.starts_with("🚨 Error")));
    let shown: u64 = lines.iter().map(|l| l.repeat).sum();
    assert_eq!(
        shown,
        file.row_count(),
        "every row is shown, folded or in a gap"
    );
    // A log without errors digests to its end.
    let clean = ingest(&cache, "clean", b"step 1\nstep 2\nall good: 0 failed\n");
    let digest = clean.digest(&Default::default()).unwrap();
    assert_eq!(digest.error_row, None);
    let texts: Vec<_> = digest
        .lines
        .iter()
        .map(|l| (l.c.as_str(), l.repeat))
        .collect();
    assert_eq!(texts, [("step 2", 2), ("all good: 0 failed", 1)]);
    let empty = ingest(&cache, "empty", b"");
    assert!(empty.digest(&Default::default()).unwrap().lines.is_empty());
}
