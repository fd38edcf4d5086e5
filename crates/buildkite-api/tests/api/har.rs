//! HAR recording and replay: what is written, what is left out, and how
//! recorded responses are matched and served.

use std::collections::BTreeMap;

use buildkite_api::har::{HarRecorder, HarReplay};
use buildkite_api::header::{HeaderMap, HeaderName, HeaderValue};
use buildkite_api::{
    BuildState, Client, CreateBuildBody, Error, GetBuildParams, JobRef, JobState,
    ListPipelinesParams,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{TOKEN, api, fast_retries, fixture, fixture_text, json};

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const LOG: &str =
    "/v2/organizations/acme/pipelines/app/builds/42/jobs/b63254c0-3271-4a98-8270-7cfbd6c2f14e/log";

fn job() -> JobRef {
    JobRef::in_build("acme", "app", 42, "b63254c0-3271-4a98-8270-7cfbd6c2f14e")
}

fn read_har(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON after writing: {e}\n{text}"))
}

fn recording_client(server: &MockServer, path: &std::path::Path) -> Client {
    Client::builder()
        .token(TOKEN)
        .base_url(server.uri())
        .header("X-Secret-Header", "configured-secret")
        .retry_policy(fast_retries())
        .record(HarRecorder::create(path).unwrap())
        .build()
        .unwrap()
}

fn replay_client(har: &[u8]) -> Client {
    Client::builder()
        .base_url("https://api.buildkite.com")
        .replay(HarReplay::from_slice(har).unwrap())
        .build()
        .unwrap()
}

async fn mount_traffic(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(BUILD))
        .respond_with(json(200, "build.json"))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/organizations/acme/pipelines/app/builds"))
        .respond_with(json(201, "build.json"))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(LOG))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            b"\x1b_bk;t=1700000000000\x07~~~ Running\r\n\xff\xfe binary\r\n".to_vec(),
            "text/plain",
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/gone"))
        .respond_with(json(404, "error_404_job.json"))
        .mount(server)
        .await;
}

/// The build both recordings create (its JSON is what a replay matches).
fn new_build() -> CreateBuildBody {
    CreateBuildBody {
        commit: "HEAD".into(),
        branch: "main".into(),
        env: Some(BTreeMap::from([("A".into(), "1".into())])),
        ..CreateBuildBody::default()
    }
}

/// Makes the same four calls against whatever the client talks to.
async fn calls(client: &Client) -> (u64, u64, Vec<u8>, Error) {
    let passthrough = {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-passthrough"),
            HeaderValue::from_static("caller-secret"),
        );
        headers
    };
    let client = client.with_headers(passthrough);
    let build = client
        .get_build(
            "acme",
            "app",
            42,
            &GetBuildParams {
                include_retried_jobs: Some(true),
                ..GetBuildParams::default()
            },
        )
        .await
        .unwrap();
    let created = client
        .create_build("acme", "app", &new_build())
        .await
        .unwrap();
    let log = client
        .get_job_log(&job())
        .await
        .unwrap()
        .collect(1 << 20)
        .await
        .unwrap();
    let missing = client.get_pipeline("acme", "gone").await.unwrap_err();
    (build.number, created.number, log.to_vec(), missing)
}

#[tokio::test]
async fn records_every_exchange_without_credentials() {
    let api = api().await;
    mount_traffic(&api.server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traffic.har");
    let client = recording_client(&api.server, &file);

    let (number, created, log, missing) = calls(&client).await;
    assert_eq!((number, created), (42, 42));
    assert!(
        log.ends_with(b"\xff\xfe binary\r\n"),
        "the caller still gets the body"
    );
    assert!(matches!(missing, Error::NotFound { .. }));

    let har = read_har(&file);
    assert_eq!(har["log"]["version"], "1.2");
    let entries = har["log"]["entries"].as_array().unwrap();
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["request"]["method"].as_str().unwrap(),
                e["request"]["url"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches(&api.server.uri()),
                e["response"]["status"]
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            format!("GET {BUILD}?include_retried_jobs=true 200"),
            "POST /v2/organizations/acme/pipelines/app/builds 201".to_owned(),
            format!("GET {LOG} 200"),
            "GET /v2/organizations/acme/pipelines/gone 404".to_owned(),
        ]
    );
    // The request: its own headers, query and body; never the token, the
    // passthrough header or a configured header.
    let post = &entries[1]["request"];
    assert_eq!(
        serde_json::from_str::<Value>(post["postData"]["text"].as_str().unwrap()).unwrap(),
        json!({"commit": "HEAD", "branch": "main", "env": {"A": "1"}})
    );
    assert_eq!(post["postData"]["mimeType"], "application/json");
    assert_eq!(
        entries[0]["request"]["queryString"],
        json!([{"name": "include_retried_jobs", "value": "true"}])
    );
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [TOKEN, "caller-secret", "configured-secret"] {
        assert!(!text.contains(secret), "{secret} was recorded");
    }
    assert!(!text.to_ascii_lowercase().contains("authorization"));
    // The response: JSON as text, a non-UTF-8 log as base64.
    assert_eq!(
        serde_json::from_str::<Value>(entries[0]["response"]["content"]["text"].as_str().unwrap())
            .unwrap(),
        fixture("build.json")
    );
    assert_eq!(entries[2]["response"]["content"]["encoding"], "base64");
    assert_eq!(
        entries[3]["response"]["content"]["text"],
        fixture_text("error_404_job.json")
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn the_file_is_valid_after_each_entry_and_is_appended_to_in_place() {
    let api = api().await;
    mount_traffic(&api.server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traffic.har");
    // An existing, world-readable file is truncated and narrowed to 0600.
    std::fs::write(&file, "old contents").unwrap();
    let recorder = HarRecorder::create(&file).unwrap();
    assert_eq!(read_har(&file)["log"]["entries"], json!([]));
    let client = Client::builder()
        .token(TOKEN)
        .base_url(api.server.uri())
        .record(recorder)
        .build()
        .unwrap();
    let mut previous = std::fs::read(&file).unwrap();
    for round in 1..=3 {
        client
            .get_build("acme", "app", 42, &GetBuildParams::default())
            .await
            .unwrap();
        let now = std::fs::read(&file).unwrap();
        assert_eq!(
            read_har(&file)["log"]["entries"].as_array().unwrap().len(),
            round
        );
        // Everything before the closing bracket is kept byte for byte: the
        // new entry is written where the old end was.
        let kept = previous.len() - b"\n]}}\n".len();
        assert_eq!(now[..kept], previous[..kept]);
        previous = now;
    }
}

#[tokio::test]
async fn a_bad_recording_path_fails_at_startup() {
    let error = HarRecorder::create("/nonexistent-dir/sub/traffic.har").unwrap_err();
    assert!(matches!(error, Error::Config(_)));
    assert!(
        error
            .to_string()
            .contains("cannot write the HAR recording /nonexistent-dir/sub/traffic.har"),
        "{error}"
    );
}

#[tokio::test]
async fn replays_a_recording_without_network_or_token() {
    let api = api().await;
    mount_traffic(&api.server).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traffic.har");
    let recorded = calls(&recording_client(&api.server, &file)).await;
    drop(api);

    let replay = HarReplay::from_file(&file).unwrap();
    assert_eq!(replay.len(), 4);
    let client = Client::builder().replay(replay).build().unwrap();
    assert!(client.is_replaying() && !client.has_token());
    let replayed = calls(&client).await;
    assert_eq!(
        (replayed.0, replayed.1, &replayed.2),
        (recorded.0, recorded.1, &recorded.2)
    );
    assert_eq!(
        replayed.3.to_string(),
        recorded.3.to_string(),
        "errors replay too"
    );
}

#[tokio::test]
async fn repeated_requests_are_served_in_order_and_the_last_one_stays() {
    let server = MockServer::start().await;
    for (count, name) in [(1, "First"), (1, "Second"), (1, "Third")] {
        Mock::given(method("GET"))
            .and(path("/v2/organizations/acme/pipelines"))
            .and(query_param("per_page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json({
                let mut pipeline = fixture("pipeline.json");
                pipeline["name"] = json!(name);
                json!([pipeline])
            }))
            .up_to_n_times(count)
            .mount(&server)
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traffic.har");
    let client = recording_client(&server, &file);
    let params = ListPipelinesParams {
        per_page: Some(2),
        ..ListPipelinesParams::default()
    };
    for _ in 0..3 {
        client.list_pipelines("acme", &params).await.unwrap();
    }

    let client = replay_client(&std::fs::read(&file).unwrap());
    let mut names = Vec::new();
    for _ in 0..5 {
        let page = client.list_pipelines("acme", &params).await.unwrap();
        names.push(page.items[0].name.clone());
    }
    assert_eq!(names, ["First", "Second", "Third", "Third", "Third"]);
}

#[tokio::test]
async fn a_request_nothing_matches_names_the_call() {
    let client = replay_client(br#"{"log":{"version":"1.2","entries":[]}}"#);
    let error = client.get_pipeline("acme", "web").await.unwrap_err();
    assert!(matches!(error, Error::Replay { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "GET /v2/organizations/acme/pipelines/web: replay: the HAR file has no response for this request (it has 0 responses to other requests)"
    );
    // A different query or body is a different request.
    let client = replay_client(REFERENCE_HAR.as_bytes());
    let error = client
        .get_build(
            "acme",
            "app",
            42,
            &GetBuildParams {
                include_retried_jobs: Some(false),
                ..GetBuildParams::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Replay { .. }), "{error:?}");
}

#[tokio::test]
async fn bad_har_files_are_config_errors() {
    let error = HarReplay::from_slice(b"<html>").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("invalid client configuration: not a HAR 1.2 file"),
        "{error}"
    );
    let error = HarReplay::from_file("/nonexistent.har").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("cannot read the HAR file /nonexistent.har"),
        "{error}"
    );
}

/// A recording as the reference server writes it: Go's query order (sorted,
/// `%5B%5D`), its own JSON key order, base64 content, extra fields, and an
/// aborted request (status 0).
const REFERENCE_HAR: &str = r#"{
  "log": {
    "version": "1.2",
    "creator": {"name": "buildkite-mcp-server", "version": "0.7.0"},
    "entries": [
      {
        "startedDateTime": "2026-03-01T10:00:00Z",
        "time": 120,
        "request": {
          "method": "GET",
          "url": "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42?include_retried_jobs=true&job_states%5B%5D=failed",
          "httpVersion": "HTTP/1.1",
          "headers": [{"name": "User-Agent", "value": "buildkite-mcp-server/0.7.0 (linux; amd64)"}],
          "queryString": [],
          "headersSize": -1,
          "bodySize": 0
        },
        "response": {
          "status": 200,
          "statusText": "OK",
          "httpVersion": "HTTP/1.1",
          "headers": [{"name": "Content-Type", "value": "application/json"}, {"name": "Content-Length", "value": "9999"}],
          "content": {"size": 40, "mimeType": "application/json", "encoding": "base64", "text": "eyJpZCI6ImIiLCJudW1iZXIiOjQyLCJzdGF0ZSI6ImZhaWxlZCJ9"},
          "redirectURL": "",
          "headersSize": -1,
          "bodySize": 40
        },
        "cache": {},
        "timings": {"send": 0, "wait": 120, "receive": 0},
        "_fromCache": "none"
      },
      {
        "request": {
          "method": "post",
          "url": "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds",
          "postData": {"mimeType": "application/json", "text": "{\"env\":{\"A\":\"1\"},\"branch\":\"main\",\"commit\":\"HEAD\"}"}
        },
        "response": {"status": 201, "content": {"mimeType": "application/json", "text": "{\"id\":\"c\",\"number\":43,\"state\":\"scheduled\"}"}}
      },
      {
        "request": {"method": "GET", "url": "https://api.buildkite.com/v2/organizations/acme/pipelines/app"},
        "response": {"status": 0, "content": {}}
      }
    ]
  }
}"#;

#[tokio::test]
async fn reads_the_reference_servers_recordings() {
    let replay = HarReplay::from_slice(REFERENCE_HAR.as_bytes()).unwrap();
    assert_eq!(replay.len(), 2, "the aborted request is not served");
    let client = Client::builder().replay(replay).build().unwrap();
    // Our client sends the query in another order and unescaped brackets.
    let build = client
        .get_build(
            "acme",
            "app",
            42,
            &GetBuildParams {
                include_retried_jobs: Some(true),
                job_states: vec![JobState::Failed],
                ..GetBuildParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((build.number, build.state), (42, BuildState::Failed));
    // The JSON body matches whatever the key order.
    let created = client
        .create_build("acme", "app", &new_build())
        .await
        .unwrap();
    assert_eq!(created.number, 43);
    let error = client.get_pipeline("acme", "app").await.unwrap_err();
    assert!(matches!(error, Error::Replay { .. }), "{error:?}");
}

#[tokio::test]
async fn a_ranged_tail_and_a_head_replay_as_recorded() {
    let api = api().await;
    let log: Vec<u8> = b"\x1b_bk;t=1700000000000\x07line\r\n".repeat(4000);
    let tail = log[log.len() - 1024..].to_vec();
    Mock::given(method("HEAD"))
        .and(path(LOG))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-length", log.len().to_string().as_str()),
        )
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path(LOG))
        .and(wiremock::matchers::header("range", "bytes=-1024"))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header(
                    "content-range",
                    format!("bytes {}-{}/{}", log.len() - 1024, log.len() - 1, log.len()).as_str(),
                )
                .set_body_raw(tail.clone(), "text/plain"),
        )
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path(LOG))
        .respond_with(ResponseTemplate::new(200).set_body_raw(log.clone(), "text/plain"))
        .mount(&api.server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traffic.har");
    let client = recording_client(&api.server, &file);
    let size = client.get_job_log_size(&job()).await.unwrap();
    let recorded_tail = client.get_job_log_tail(&job(), 1024).await.unwrap();
    let whole = client
        .get_job_log(&job())
        .await
        .unwrap()
        .collect(1 << 20)
        .await
        .unwrap();
    assert_eq!(size, Some(log.len() as u64));
    assert_eq!(whole.len(), log.len());

    let client = replay_client(&std::fs::read(&file).unwrap());
    assert_eq!(
        client.get_job_log_size(&job()).await.unwrap(),
        size,
        "HEAD keeps its length"
    );
    let replayed_tail = client.get_job_log_tail(&job(), 1024).await.unwrap();
    assert_eq!(
        replayed_tail, recorded_tail,
        "the tail is not the whole log"
    );
    assert_eq!(replayed_tail.bytes.len(), 1024);
    let replayed = client
        .get_job_log(&job())
        .await
        .unwrap()
        .collect(1 << 20)
        .await
        .unwrap();
    assert_eq!(replayed, whole);
}

#[tokio::test]
async fn a_gzipped_body_from_another_recorder_is_decompressed() {
    use base64::Engine as _;
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"\x1b_bk;t=1700000000000\x07~~~ Running tests\r\n")
        .unwrap();
    let compressed = gz.finish().unwrap();
    let har = json!({"log": {"version": "1.2", "entries": [{
        "request": {"method": "GET", "url": format!("https://api.buildkite.com{LOG}")},
        "response": {
            "status": 200,
            "headers": [{"name": "Content-Encoding", "value": "gzip"}, {"name": "Content-Type", "value": "text/plain"}],
            "content": {"encoding": "base64", "text": base64::engine::general_purpose::STANDARD.encode(&compressed)}
        }
    }]}});
    let client = replay_client(har.to_string().as_bytes());
    let log = client
        .get_job_log(&job())
        .await
        .unwrap()
        .collect(1 << 20)
        .await
        .unwrap();
    assert_eq!(
        &log[..],
        b"\x1b_bk;t=1700000000000\x07~~~ Running tests\r\n"
    );
}

#[tokio::test]
async fn a_presigned_url_is_recorded_and_matched_without_its_query() {
    let api = api().await;
    let storage = MockServer::start().await;
    let download = "/v2/organizations/acme/pipelines/app/builds/42/jobs/b63254c0-3271-4a98-8270-7cfbd6c2f14e/artifacts/76365070-34d5-4569-8cfe-b2a9b5e1e4b1/download";
    let presigned = format!(
        "{}/artifacts/log/test.log?X-Amz-Signature=s3cr3tsignature&X-Amz-Security-Token=s3cr3ttoken",
        storage.uri()
    );
    Mock::given(method("GET"))
        .and(path(download))
        .respond_with(ResponseTemplate::new(302).insert_header("location", presigned.as_str()))
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/artifacts/log/test.log"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"log contents".to_vec(), "text/plain"),
        )
        .mount(&storage)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traffic.har");
    let client = recording_client(&api.server, &file);
    let artifact = "76365070-34d5-4569-8cfe-b2a9b5e1e4b1";
    let location = client
        .get_artifact_download_url(&job(), artifact)
        .await
        .unwrap();
    let content = client
        .download_artifact_from(&location, 1 << 20)
        .await
        .unwrap();
    assert_eq!(&content.bytes[..], b"log contents");

    let har = read_har(&file);
    let storage_entry = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["request"]["url"]
                .as_str()
                .unwrap()
                .contains("/artifacts/log/test.log")
        })
        .unwrap();
    assert_eq!(
        storage_entry["request"]["url"],
        format!("{}/artifacts/log/test.log", storage.uri())
    );
    assert_eq!(storage_entry["request"]["queryString"], json!([]));

    let client = replay_client(&std::fs::read(&file).unwrap());
    let content = client
        .download_artifact_from(&location, 1 << 20)
        .await
        .unwrap();
    assert_eq!(&content.bytes[..], b"log contents");
}
