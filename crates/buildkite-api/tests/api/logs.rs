//! Job logs: HEAD for the size, streamed GET, and `Range` tails.

use std::io::Write;

use buildkite_api::{Error, JobRef};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{api, authorized};

const JOB: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const LOG_PATH: &str =
    "/v2/organizations/acme/pipelines/app/builds/42/jobs/b63254c0-3271-4a98-8270-7cfbd6c2f14e/log";

fn job() -> JobRef {
    JobRef::in_build("acme", "app", 42, JOB)
}

/// A small raw log in Buildkite's format: timestamp markers, ANSI, a group.
fn raw_log() -> Vec<u8> {
    let mut log = Vec::new();
    for i in 0..200 {
        write!(
            log,
            "\x1b_bk;t=17000000{i:05}\x07~~~ step {i}\r\n\x1b_bk;t=17000000{i:05}\x07\x1b[31merror\x1b[0m line {i}\r\n"
        )
        .unwrap();
    }
    log
}

#[tokio::test]
async fn head_gives_the_size() {
    let api = api().await;
    Mock::given(method("HEAD"))
        .and(path(LOG_PATH))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).insert_header("content-length", "123456"))
        .expect(1)
        .mount(&api.server)
        .await;
    let size = api.client.get_job_log_size(&job()).await.unwrap();
    assert_eq!(size, Some(123_456));
}

#[tokio::test]
async fn head_404_means_no_log_or_no_access() {
    let api = api().await;
    Mock::given(method("HEAD"))
        .and(path(LOG_PATH))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&api.server)
        .await;
    let error = api.client.get_job_log_size(&job()).await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }));
    assert!(
        error
            .to_string()
            .starts_with(&format!("HEAD {LOG_PATH}: 404"))
    );
}

#[tokio::test]
async fn get_streams_the_raw_bytes() {
    let api = api().await;
    let log = raw_log();
    Mock::given(method("GET"))
        .and(path(LOG_PATH))
        .and(header("accept", "text/plain"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_raw(log.clone(), "text/plain"))
        .expect(1)
        .mount(&api.server)
        .await;
    let mut stream = api.client.get_job_log(&job()).await.unwrap();
    assert_eq!(stream.content_length(), Some(log.len() as u64));
    let mut received = Vec::new();
    while let Some(chunk) = stream.next_chunk().await.unwrap() {
        received.extend_from_slice(&chunk);
    }
    assert_eq!(received, log, "raw bytes, ESC and CR included, unchanged");
}

#[tokio::test]
async fn gzip_encoded_logs_are_decompressed() {
    let api = api().await;
    let log = raw_log();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&log).unwrap();
    let compressed = encoder.finish().unwrap();
    Mock::given(method("GET"))
        .and(path(LOG_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .set_body_raw(compressed, "text/plain"),
        )
        .mount(&api.server)
        .await;
    let bytes = api
        .client
        .get_job_log(&job())
        .await
        .unwrap()
        .collect(1 << 20)
        .await
        .unwrap();
    assert_eq!(&bytes[..], &log[..]);
}

#[tokio::test]
async fn collect_refuses_logs_over_the_limit() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(LOG_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(raw_log(), "text/plain"))
        .mount(&api.server)
        .await;
    let error = api
        .client
        .get_job_log(&job())
        .await
        .unwrap()
        .collect(100)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::TooLarge { limit: 100, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn tail_asks_for_a_suffix_range() {
    let api = api().await;
    let log = raw_log();
    let total = log.len();
    let tail = log[total - 100..].to_vec();
    Mock::given(method("GET"))
        .and(path(LOG_PATH))
        .and(header("range", "bytes=-100"))
        .and(header("accept", "text/plain"))
        .and(header("accept-encoding", "identity"))
        .and(authorized())
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header(
                    "content-range",
                    format!("bytes {}-{}/{}", total - 100, total - 1, total).as_str(),
                )
                .set_body_raw(tail.clone(), "text/plain"),
        )
        .expect(1)
        .mount(&api.server)
        .await;
    let result = api.client.get_job_log_tail(&job(), 100).await.unwrap();
    assert_eq!(&result.bytes[..], &tail[..]);
    assert_eq!(result.start, (total - 100) as u64);
    assert_eq!(result.total_size, total as u64);
    assert!(!result.is_complete());
}

#[tokio::test]
async fn tail_of_a_server_that_ignores_range_keeps_only_the_end() {
    let api = api().await;
    let log = raw_log();
    Mock::given(method("GET"))
        .and(path(LOG_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_raw(log.clone(), "text/plain"))
        .mount(&api.server)
        .await;
    let result = api.client.get_job_log_tail(&job(), 50).await.unwrap();
    assert_eq!(&result.bytes[..], &log[log.len() - 50..]);
    assert_eq!(result.start, (log.len() - 50) as u64);
    assert_eq!(result.total_size, log.len() as u64);
}

#[tokio::test]
async fn tail_of_a_short_log_is_the_whole_log() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(LOG_PATH))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header("content-range", "bytes 0-4/5")
                .set_body_raw("hello", "text/plain"),
        )
        .mount(&api.server)
        .await;
    let result = api.client.get_job_log_tail(&job(), 1000).await.unwrap();
    assert_eq!(&result.bytes[..], b"hello");
    assert!(result.is_complete());
}

#[tokio::test]
async fn tail_of_an_empty_log_is_empty_not_an_error() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(LOG_PATH))
        .respond_with(ResponseTemplate::new(416))
        .expect(1)
        .mount(&api.server)
        .await;
    let result = api.client.get_job_log_tail(&job(), 1000).await.unwrap();
    assert!(result.bytes.is_empty());
    assert_eq!(result.total_size, 0);
}

#[tokio::test]
async fn tail_of_zero_bytes_is_refused_before_sending() {
    let api = api().await;
    let error = api.client.get_job_log_tail(&job(), 0).await.unwrap_err();
    assert!(matches!(error, Error::InvalidArgument(_)));
    assert!(api.server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn organization_scoped_log_route() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/organizations/acme/jobs/{JOB}/log")))
        .respond_with(ResponseTemplate::new(200).set_body_raw("ok\n", "text/plain"))
        .expect(1)
        .mount(&api.server)
        .await;
    let job = JobRef::in_organization("acme", JOB);
    let bytes = api
        .client
        .get_job_log(&job)
        .await
        .unwrap()
        .collect(10)
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"ok\n");
}
