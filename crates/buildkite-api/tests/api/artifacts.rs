//! Artifacts: lists, get, the download URL and the size-capped download.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use buildkite_api::{Error, JobRef, ListArtifactsParams};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{api, authorized, exact_query, json};

const JOB: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const ARTIFACT: &str = "76365070-34d5-4104-8b91-952780f8029f";

fn job_in_build() -> JobRef {
    JobRef::in_build("acme", "app", 42, JOB)
}

fn job_in_org() -> JobRef {
    JobRef::in_organization("acme", JOB)
}

fn build_job_path(rest: &str) -> String {
    format!("/v2/organizations/acme/pipelines/app/builds/42/jobs/{JOB}{rest}")
}

fn org_job_path(rest: &str) -> String {
    format!("/v2/organizations/acme/jobs/{JOB}{rest}")
}

#[tokio::test]
async fn list_build_artifacts_sends_filters_and_paging() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(
            "/v2/organizations/acme/pipelines/app/builds/42/artifacts",
        ))
        .and(exact_query(&[
            ("state", "finished"),
            ("path", "dist/*.tar.gz"),
            ("page", "2"),
            ("per_page", "50"),
        ]))
        .and(authorized())
        .respond_with(json(200, "artifacts.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListArtifactsParams {
        state: Some("finished".into()),
        path: Some("dist/*.tar.gz".into()),
        page: Some(2),
        per_page: Some(50),
    };
    let page = api
        .client
        .list_build_artifacts("acme", "app", 42, &params)
        .await
        .unwrap();
    let paths: Vec<_> = page
        .items
        .iter()
        .map(|a| a.path.as_deref().unwrap())
        .collect();
    assert_eq!(paths, ["logs/test.log", "dist/app.tar.gz"]);
    assert_eq!(page.items[1].file_size, Some(529_371));
    assert_eq!(page.next_page, None);
}

#[tokio::test]
async fn list_build_artifacts_without_filters_sends_no_query() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(
            "/v2/organizations/acme/pipelines/app/builds/42/artifacts",
        ))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(json(200, "artifacts.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_build_artifacts("acme", "app", 42, &ListArtifactsParams::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].id, ARTIFACT);
}

#[tokio::test]
async fn list_job_artifacts_through_the_build() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(build_job_path("/artifacts")))
        .and(exact_query(&[("state", "finished")]))
        .and(authorized())
        .respond_with(json(200, "artifacts.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListArtifactsParams {
        state: Some("finished".into()),
        ..Default::default()
    };
    let page = api
        .client
        .list_job_artifacts(&job_in_build(), &params)
        .await
        .unwrap();
    assert_eq!(page.items[0].job_id.as_deref(), Some(JOB));
    assert_eq!(page.items[0].filename.as_deref(), Some("test.log"));
}

#[tokio::test]
async fn list_job_artifacts_organization_scoped() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(org_job_path("/artifacts")))
        .and(exact_query(&[("page", "1"), ("per_page", "100")]))
        .and(authorized())
        .respond_with(json(200, "artifacts.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let params = ListArtifactsParams {
        page: Some(1),
        per_page: Some(100),
        ..Default::default()
    };
    let page = api
        .client
        .list_job_artifacts(&job_in_org(), &params)
        .await
        .unwrap();
    assert_eq!(
        page.items[1].sha1sum.as_deref(),
        Some("884c4ad3f2545c85c69d0d0ef50c5d4f5266f0b7")
    );
}

#[tokio::test]
async fn get_artifact_by_id() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path(build_job_path(&format!("/artifacts/{ARTIFACT}"))))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(json(200, "artifact.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let artifact = api
        .client
        .get_artifact(&job_in_build(), ARTIFACT)
        .await
        .unwrap();
    assert_eq!(artifact.id, ARTIFACT);
    assert_eq!(artifact.mime_type.as_deref(), Some("text/plain"));
    assert_eq!(artifact.file_size, Some(120));
    assert_eq!(artifact.extra["glob_path"], json!("logs/*.log"));
}

#[tokio::test]
async fn get_artifact_id_is_escaped_as_one_segment() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(authorized())
        .respond_with(json(200, "artifact.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let artifact = api
        .client
        .get_artifact(&job_in_org(), "a/b c")
        .await
        .unwrap();
    assert_eq!(artifact.id, ARTIFACT);

    let requests = api.server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method.as_str(), "GET");
    assert_eq!(
        requests[0].url.path(),
        org_job_path("/artifacts/a%2Fb%20c"),
        "the artifact id must stay one escaped segment"
    );
    assert_eq!(requests[0].url.query(), None);
}

#[tokio::test]
async fn download_url_from_a_redirect_is_returned_not_followed() {
    let api = api().await;
    let storage = MockServer::start().await;
    let presigned = format!(
        "{}/bucket/logs/test.log?X-Amz-Signature=abc123&X-Amz-Expires=60",
        storage.uri()
    );
    Mock::given(method("GET"))
        .and(path(build_job_path(&format!(
            "/artifacts/{ARTIFACT}/download"
        ))))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(ResponseTemplate::new(302).insert_header("location", presigned.as_str()))
        .expect(1)
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("content"))
        .expect(0)
        .mount(&storage)
        .await;

    let location = api
        .client
        .get_artifact_download_url(&job_in_build(), ARTIFACT)
        .await
        .unwrap();
    assert_eq!(location.url, presigned);
    assert!(storage.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn download_url_from_a_json_body() {
    let api = api().await;
    let presigned = "https://buildkiteartifacts.com/bucket/logs/test.log?X-Amz-Signature=def456";
    Mock::given(method("GET"))
        .and(path(org_job_path(&format!(
            "/artifacts/{ARTIFACT}/download"
        ))))
        .and(exact_query(&[]))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "url": presigned })))
        .expect(1)
        .mount(&api.server)
        .await;

    let location = api
        .client
        .get_artifact_download_url(&job_in_org(), ARTIFACT)
        .await
        .unwrap();
    assert_eq!(location.url, presigned);
}

#[tokio::test]
async fn download_artifact_fetches_from_storage() {
    let api = api().await;
    let storage = MockServer::start().await;
    let content = "line 1\nline 2\n";
    redirect_download(
        &api.server,
        &format!(
            "{}/bucket/logs/test.log?X-Amz-Signature=abc123",
            storage.uri()
        ),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/bucket/logs/test.log"))
        .and(query_param("X-Amz-Signature", "abc123"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(content.as_bytes().to_vec(), "text/plain; charset=utf-8"),
        )
        .expect(1)
        .mount(&storage)
        .await;

    // A limit equal to the size is not exceeded.
    let downloaded = api
        .client
        .download_artifact(&job_in_build(), ARTIFACT, content.len() as u64)
        .await
        .unwrap();
    assert_eq!(&downloaded.bytes[..], content.as_bytes());
    assert_eq!(
        downloaded.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
}

#[tokio::test]
async fn download_artifact_over_the_announced_limit_is_too_large() {
    let api = api().await;
    let storage = MockServer::start().await;
    redirect_download(
        &api.server,
        &format!("{}/bucket/big.bin?X-Amz-Signature=abc123", storage.uri()),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/bucket/big.bin"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(vec![b'x'; 4096], "application/octet-stream"),
        )
        .expect(1)
        .mount(&storage)
        .await;

    let err = api
        .client
        .download_artifact(&job_in_build(), ARTIFACT, 4095)
        .await
        .unwrap_err();
    let Error::TooLarge { request, limit } = err else {
        panic!("expected TooLarge, got {err:?}");
    };
    assert_eq!(limit, 4095);
    assert_eq!(request.method.as_str(), "GET");
    // The storage path, without the presigned query (a credential).
    assert_eq!(request.path, "/bucket/big.bin");
}

#[tokio::test]
async fn download_artifact_fails_on_content_length_without_reading_the_body() {
    let api = api().await;
    // Announces 10 MB, then sends nothing: only the header can tell.
    let storage = RawServer::start(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n"
            .to_vec(),
    );
    redirect_download(
        &api.server,
        &format!("{}/bucket/huge.bin?sig=1", storage.uri),
    )
    .await;

    let result = tokio::time::timeout(
        Duration::from_secs(10),
        api.client
            .download_artifact(&job_in_build(), ARTIFACT, 1024),
    )
    .await
    .expect("the announced size alone must end the download");
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit: 1024, .. }),
        "expected TooLarge, got {err:?}"
    );
    assert!(
        storage
            .request_head()
            .starts_with("GET /bucket/huge.bin?sig=1 HTTP/1.1"),
        "{}",
        storage.request_head()
    );
}

#[tokio::test]
async fn download_artifact_without_length_stops_once_over_the_limit() {
    let api = api().await;
    // Chunked, no Content-Length: 2 × 600 bytes, and the body never ends.
    let mut response =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..2 {
        response.extend_from_slice(b"258\r\n");
        response.extend_from_slice(&[b'x'; 600]);
        response.extend_from_slice(b"\r\n");
    }
    let storage = RawServer::start(response);
    redirect_download(&api.server, &format!("{}/bucket/stream.bin", storage.uri)).await;

    let result = tokio::time::timeout(
        Duration::from_secs(10),
        api.client
            .download_artifact(&job_in_build(), ARTIFACT, 1000),
    )
    .await
    .expect("the download must stop as soon as it passes the limit");
    let err = result.unwrap_err();
    let Error::TooLarge { request, limit } = err else {
        panic!("expected TooLarge, got {err:?}");
    };
    assert_eq!(limit, 1000);
    assert_eq!(request.path, "/bucket/stream.bin");
}

// --- helpers -------------------------------------------------------------

/// Mounts the API's `…/download` route answering 302 to `location`.
async fn redirect_download(server: &MockServer, location: &str) {
    Mock::given(method("GET"))
        .and(path(build_job_path(&format!(
            "/artifacts/{ARTIFACT}/download"
        ))))
        .and(authorized())
        .respond_with(ResponseTemplate::new(302).insert_header("location", location))
        .expect(1)
        .mount(server)
        .await;
}

/// A one-connection HTTP server that writes a canned response (which may be
/// incomplete) and then holds the connection open until the client closes it.
struct RawServer {
    uri: String,
    head: Arc<Mutex<String>>,
}

impl RawServer {
    fn start(response: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let uri = format!("http://{}", listener.local_addr().expect("address"));
        let head = Arc::new(Mutex::new(String::new()));
        let seen = Arc::clone(&head);
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let mut received = Vec::new();
            let mut buf = [0u8; 1024];
            while !received.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                }
            }
            *seen.lock().expect("lock") = String::from_utf8_lossy(&received).into_owned();
            if stream.write_all(&response).is_err() || stream.flush().is_err() {
                return;
            }
            // Hold the connection until the client hangs up (or 30 s pass).
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        });
        RawServer { uri, head }
    }

    fn request_head(&self) -> String {
        self.head.lock().expect("lock").clone()
    }
}
