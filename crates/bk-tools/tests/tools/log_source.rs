//! The log engine over the Buildkite API (wiremock): requests made on cold
//! and warm access, the ranged tail of a huge log, and error kinds.

use bk_logs::source::SourceErrorKind;
use bk_logs::{
    Engine, EngineOptions, EntryKey, Error as LogError, FetchPolicy, LogCache, TailAnswer,
};
use bk_tools::log_source::ApiLogSource;
use buildkite_api::{Client, JobRef, RetryPolicy};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const JOB: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const JOB_PATH: &str =
    "/v2/organizations/acme/pipelines/app/builds/42/jobs/b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const LOG: &[u8] = b"\x1b_bk;t=1745322209921\x07--- :rspec: Tests\r\n\x1b_bk;t=1745322209922\x07\x1b[31mFailure:\x1b[0m expected 1, got 2\r\n\x1b_bk;t=1745322209923\x07done\r\n";

fn job_json(state: &str) -> serde_json::Value {
    serde_json::json!({"id": JOB, "type": "script", "state": state})
}

async fn setup(state: &str) -> (MockServer, Engine, ApiLogSource, tempfile::TempDir) {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .and(path(format!("{JOB_PATH}/log")))
        .and(header("authorization", "Bearer bkua_caller"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-length", LOG.len().to_string().as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(JOB_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(job_json(state)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .and(header("accept", "text/plain"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(LOG, "text/plain"))
        .mount(&server)
        .await;
    let client = Client::builder()
        .base_url(server.uri())
        .token("bkua_caller")
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        LogCache::new(dir.path(), 1 << 30).unwrap(),
        EngineOptions::default(),
    );
    let source = ApiLogSource::new(client, JobRef::in_build("acme", "app", 42, JOB));
    (server, engine, source, dir)
}

async fn requests(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

#[tokio::test]
async fn cold_then_warm_access_to_a_finished_job() {
    let (server, engine, source, _dir) = setup("failed").await;
    let key = EntryKey::new("acme", JOB);
    let log = engine
        .open(&key, &source, FetchPolicy::default())
        .await
        .unwrap();
    let rows = log.read(0, 10, true).unwrap();
    assert_eq!(rows[1].content, "Failure: expected 1, got 2");
    assert_eq!(rows[1].group.as_deref(), Some(":rspec: Tests"));
    // Cold: the job's state and the log; the download is the access check.
    assert_eq!(
        requests(&server).await,
        [format!("GET {JOB_PATH}"), format!("GET {JOB_PATH}/log")]
    );
    // Warm, within the re-check period: nothing at all.
    engine
        .open(&key, &source, FetchPolicy::default())
        .await
        .unwrap();
    assert_eq!(requests(&server).await.len(), 2);
    assert!(log.info().terminal);
    // Another caller (another token) on the same cached log is checked, and
    // refused here: this API lets only bkua_caller read the log.
    let other = ApiLogSource::new(
        Client::builder()
            .base_url(server.uri())
            .token("bkua_someone_else")
            .build()
            .unwrap(),
        JobRef::in_build("acme", "app", 42, JOB),
    );
    let refused = engine
        .open(&key, &other, FetchPolicy::default())
        .await
        .expect_err("another token is checked, and refused");
    assert!(refused.to_string().contains("404"), "{refused}");
    assert_eq!(requests(&server).await[2], format!("HEAD {JOB_PATH}/log"));
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn a_zero_recheck_period_checks_every_cached_read() {
    let (server, _engine, source, dir) = setup("failed").await;
    let engine = Engine::new(
        LogCache::new(dir.path().join("every"), 1 << 30).unwrap(),
        EngineOptions {
            access_recheck: std::time::Duration::ZERO,
            ..EngineOptions::default()
        },
    );
    let key = EntryKey::new("acme", JOB);
    for _ in 0..3 {
        engine
            .open(&key, &source, FetchPolicy::default())
            .await
            .unwrap();
    }
    assert_eq!(
        requests(&server).await,
        [
            format!("GET {JOB_PATH}"),
            format!("GET {JOB_PATH}/log"),
            format!("HEAD {JOB_PATH}/log"),
            format!("HEAD {JOB_PATH}/log"),
        ]
    );
}

#[tokio::test]
async fn a_running_job_is_cached_as_not_terminal() {
    let (_server, engine, source, _dir) = setup("running").await;
    let log = engine
        .open(&EntryKey::new("acme", JOB), &source, FetchPolicy::default())
        .await
        .unwrap();
    assert!(!log.info().terminal);
    assert_eq!(log.info().job_state.as_deref(), Some("running"));
}

#[tokio::test]
async fn a_huge_log_is_tailed_with_a_suffix_range() {
    let server = MockServer::start().await;
    // A log larger than the ranged-tail size (4 KiB here, for the test),
    // as its download's Content-Length says.
    let whole = vec![b'x'; 4096];
    let total = whole.len() as u64;
    let tail = b"partial line\n\x1b_bk;t=1\x07second to last\nlast\n";
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .and(wiremock::matchers::header_exists("range"))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header(
                    "content-range",
                    format!("bytes {}-{}/{total}", total - tail.len() as u64, total - 1).as_str(),
                )
                .set_body_raw(&tail[..], "text/plain"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(whole, "text/plain"))
        .mount(&server)
        .await;
    let client = Client::builder().base_url(server.uri()).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        LogCache::new(dir.path(), 1 << 30).unwrap(),
        EngineOptions {
            tail_range_above: 1024,
            ..EngineOptions::default()
        },
    );
    let source = ApiLogSource::new(client, JobRef::in_build("acme", "app", 42, JOB));
    let answer = engine
        .tail(
            &EntryKey::new("acme", JOB),
            &source,
            FetchPolicy::default(),
            2,
        )
        .await
        .unwrap();
    let TailAnswer::Partial(partial) = answer else {
        panic!("expected a ranged tail")
    };
    let contents: Vec<_> = partial.rows.iter().map(|r| r.content.as_str()).collect();
    assert_eq!(contents, ["second to last", "last"]);
    assert_eq!(partial.total_bytes, total);
}

#[tokio::test]
async fn api_errors_keep_their_kind_and_message() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::path_regex(format!("^{JOB_PATH}")))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let client = Client::builder().base_url(server.uri()).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        LogCache::new(dir.path(), 1 << 30).unwrap(),
        EngineOptions::default(),
    );
    let source = ApiLogSource::new(client, JobRef::in_build("acme", "app", 42, JOB));
    let error = engine
        .open(&EntryKey::new("acme", JOB), &source, FetchPolicy::default())
        .await
        .unwrap_err();
    let LogError::Source(source_error) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(source_error.kind(), SourceErrorKind::Unauthorized);
    let api_error = source_error.downcast_ref::<buildkite_api::Error>().unwrap();
    assert!(
        api_error
            .to_string()
            .starts_with(&format!("GET {JOB_PATH}: 401")),
        "{api_error}"
    );
}

#[tokio::test]
async fn a_token_without_read_builds_still_reads_the_log() {
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .and(path(format!("{JOB_PATH}/log")))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(JOB_PATH))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            serde_json::json!({"message": "Your access token doesn't have the read_builds scope"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(LOG, "text/plain"))
        .mount(&server)
        .await;
    let client = Client::builder().base_url(server.uri()).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(
        LogCache::new(dir.path(), 1 << 30).unwrap(),
        EngineOptions::default(),
    );
    let source = ApiLogSource::new(client, JobRef::in_build("acme", "app", 42, JOB));
    let log = engine
        .open(&EntryKey::new("acme", JOB), &source, FetchPolicy::default())
        .await
        .unwrap();
    assert_eq!(log.row_count(), 3);
    assert!(
        !log.info().terminal,
        "an unknown state is cached as still running"
    );
}

#[test]
fn a_job_has_one_cache_key_however_it_is_reached() {
    let client = Client::new("bkua_caller").unwrap();
    let in_build = ApiLogSource::new(client.clone(), JobRef::in_build("acme", "app", 42, JOB));
    let in_org = ApiLogSource::new(client, JobRef::in_organization("acme", JOB));
    assert_eq!(in_build.key(), EntryKey::new("acme", JOB));
    assert_eq!(in_org.key(), in_build.key());
}
