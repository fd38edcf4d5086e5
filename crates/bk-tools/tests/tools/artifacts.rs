//! The `artifacts` toolset: lists, and get_artifact's metadata, presigned
//! URL and inline text.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{Harness, authorized, fixture, harness, json};

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const JOB_ID: &str = "b63254c0-3271-4a98-8270-7cfbd6c2f14e";
const ARTIFACT_ID: &str = "76365070-34d5-4104-8b91-952780f8029f";

fn job_path() -> String {
    format!("{BUILD}/jobs/{JOB_ID}")
}

fn artifact_path() -> String {
    format!("{}/artifacts/{ARTIFACT_ID}", job_path())
}

fn get_args() -> Value {
    json!({
        "org_slug": "acme",
        "pipeline_slug": "app",
        "build_number": "42",
        "job_id": JOB_ID,
        "artifact_id": ARTIFACT_ID,
    })
}

/// The artifact fixture with some fields changed.
fn artifact_with(changes: Value) -> Value {
    let mut artifact = fixture("artifact.json");
    artifact
        .as_object_mut()
        .unwrap()
        .extend(changes.as_object().unwrap().clone());
    artifact
}

/// Mounts the metadata route.
async fn mount_metadata(h: &Harness, artifact: Value) {
    Mock::given(method("GET"))
        .and(path(artifact_path()))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(artifact))
        .expect(1)
        .mount(&h.server)
        .await;
}

/// A presigned storage URL on `storage`.
fn presigned(storage: &MockServer, query: &str) -> String {
    format!("{}/bucket/logs/test.log?{query}", storage.uri())
}

const PRESIGNED_QUERY: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260811T101702Z&X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature=9f2c4b6d8e0f1a3c5e7b9d2c4e6f8b0d";

/// Mounts the download route: a redirect to `location`, `times` times.
async fn mount_redirect(h: &Harness, location: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path(format!("{}/download", artifact_path())))
        .and(authorized())
        .respond_with(ResponseTemplate::new(302).insert_header("location", location))
        .expect(times)
        .mount(&h.server)
        .await;
}

/// Storage requests, as `METHOD path`, and whether any carried credentials.
async fn storage_requests(storage: &MockServer) -> (Vec<String>, bool) {
    let requests = storage.received_requests().await.unwrap();
    let authorized = requests
        .iter()
        .any(|r| r.headers.contains_key("authorization"));
    let list = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    (list, authorized)
}

// --- list_artifacts_for_build ----------------------------------------------

#[tokio::test]
async fn list_artifacts_for_build_projects_and_filters() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("{BUILD}/artifacts")))
        .and(authorized())
        .respond_with(json(200, "artifacts.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let page = h
        .ok(
            "list_artifacts_for_build",
            json!({
                "org_slug": "acme",
                "pipeline_slug": "app",
                "build_number": "#42",
                "state": "finished",
                "path": "logs/*",
                "page": 2,
                "per_page": 10,
            }),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [format!(
            "GET {BUILD}/artifacts?state=finished&path=logs%2F*&page=2&per_page=10"
        )]
    );
    assert!(page["items"][0].get("download_url").is_none());
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_artifacts_for_build_errors() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("{BUILD}/artifacts")))
        .respond_with(json(403, "error_403_scope.json"))
        .mount(&h.server)
        .await;
    let args = json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"});
    let error = h.err("list_artifacts_for_build", args).await;
    assert!(
        error.contains(&format!(
            "GET {BUILD}/artifacts?page=1&per_page=30: 403 Forbidden"
        )),
        "{error}"
    );
    assert!(
        error.contains("needs the token scope read_artifacts"),
        "{error}"
    );

    let error = h
        .err(
            "list_artifacts_for_build",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "89c02425-7712-4ee5-a694-c94b56b4d54c"}),
        )
        .await;
    assert!(error.contains("looks like a build UUID"), "{error}");
    let error = h
        .err(
            "list_artifacts_for_build",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "state": "done"}),
        )
        .await;
    assert!(
        error.starts_with("invalid argument `state`: unknown value `done`, expected one of `new`, `error`, `finished`, `deleted`, `expired`"),
        "{error}"
    );
    assert_eq!(h.requests().await.len(), 1);
}

// --- list_artifacts_for_job ------------------------------------------------

#[tokio::test]
async fn list_artifacts_for_job_pages() {
    let h = harness().await;
    let next = format!(
        "<{}{}/artifacts?page=2&per_page=1>; rel=\"next\"",
        h.server.uri(),
        job_path()
    );
    Mock::given(method("GET"))
        .and(path(format!("{}/artifacts", job_path())))
        .and(authorized())
        .respond_with(json(200, "artifacts.json").insert_header("link", next.as_str()))
        .expect(1)
        .mount(&h.server)
        .await;
    let page = h
        .ok(
            "list_artifacts_for_job",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": JOB_ID, "per_page": 1}),
        )
        .await;
    assert_eq!(
        h.requests().await,
        [format!("GET {}/artifacts?page=1&per_page=1", job_path())]
    );
    assert_eq!(page["next_page"], 2);
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn list_artifacts_for_job_errors() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(format!("{BUILD}/jobs/nope/artifacts")))
        .respond_with(json(404, "error_404_job.json"))
        .mount(&h.server)
        .await;
    let error = h
        .err(
            "list_artifacts_for_job",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": "nope"}),
        )
        .await;
    assert!(
        error.starts_with(&format!(
            "Could not get the job's artifacts: GET {BUILD}/jobs/nope/artifacts?page=1&per_page=30: 404 Not Found: No job found."
        )),
        "{error}"
    );
    let error = h
        .err(
            "list_artifacts_for_job",
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}),
        )
        .await;
    assert_eq!(error, "invalid argument `job_id`: is required");
    assert_eq!(h.requests().await.len(), 1);
}

// --- get_artifact ----------------------------------------------------------

#[tokio::test]
async fn get_artifact_inlines_small_text_without_sending_credentials_to_storage() {
    let h = harness().await;
    let storage = MockServer::start().await;
    mount_metadata(&h, fixture("artifact.json")).await;
    let url = presigned(&storage, PRESIGNED_QUERY);
    mount_redirect(&h, &url, 1).await;
    Mock::given(method("GET"))
        .and(path("/bucket/logs/test.log"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "rspec ./spec/models/user_spec.rb:42\n1 example, 1 failure\n",
            "text/plain",
        ))
        .expect(1)
        .mount(&storage)
        .await;
    let artifact = h.ok("get_artifact", get_args()).await;
    let download = format!("GET {}/download", artifact_path());
    assert_eq!(
        h.requests().await,
        [format!("GET {}", artifact_path()), download]
    );
    let (storage_list, credentials) = storage_requests(&storage).await;
    assert_eq!(storage_list, ["GET /bucket/logs/test.log"]);
    assert!(!credentials, "the token must never go to storage");
    assert_eq!(artifact["encoding"], "text");
    assert_eq!(artifact["download_url"], url.as_str());
    assert_eq!(artifact["download_url_expires_in_seconds"], 600);
    let mut snapshot = artifact.clone();
    snapshot["download_url"] = json!("[storage URL]");
    insta::assert_json_snapshot!(snapshot);
}

#[tokio::test]
async fn get_artifact_gives_a_url_for_binaries() {
    let h = harness().await;
    let storage = MockServer::start().await;
    mount_metadata(
        &h,
        artifact_with(json!({
            "path": "dist/app.tar.gz",
            "filename": "app.tar.gz",
            "mime_type": "application/x-gzip",
            "file_size": 529_371,
        })),
    )
    .await;
    // No X-Amz-Expires: the default of 60 s applies.
    mount_redirect(&h, &presigned(&storage, "X-Amz-Signature=abc"), 1).await;
    let artifact = h.ok("get_artifact", get_args()).await;
    assert_eq!(
        h.requests().await,
        [
            format!("GET {}", artifact_path()),
            format!("GET {}/download", artifact_path())
        ]
    );
    assert!(storage.received_requests().await.unwrap().is_empty());
    assert_eq!(artifact["encoding"], "url");
    assert_eq!(artifact["download_url_expires_in_seconds"], 60);
    assert!(artifact.get("content").is_none());
    let mut snapshot = artifact.clone();
    snapshot["download_url"] = json!("[storage URL]");
    insta::assert_json_snapshot!(snapshot);
}

#[tokio::test]
async fn get_artifact_does_not_download_text_over_the_limit() {
    let h = harness().await;
    let storage = MockServer::start().await;
    mount_metadata(
        &h,
        artifact_with(json!({"mime_type": "application/json", "file_size": 65_537})),
    )
    .await;
    mount_redirect(&h, &presigned(&storage, PRESIGNED_QUERY), 1).await;
    let artifact = h.ok("get_artifact", get_args()).await;
    assert_eq!(h.requests().await.len(), 2);
    assert!(storage.received_requests().await.unwrap().is_empty());
    assert_eq!(artifact["encoding"], "url");
    assert_eq!(
        artifact["note"],
        "not inlined: it is 65537 bytes, over the 65536-byte inline limit; download it from download_url"
    );
}

#[tokio::test]
async fn get_artifact_stops_when_storage_sends_more_than_announced() {
    let h = harness().await;
    let storage = MockServer::start().await;
    mount_metadata(&h, fixture("artifact.json")).await;
    mount_redirect(&h, &presigned(&storage, PRESIGNED_QUERY), 1).await;
    Mock::given(method("GET"))
        .and(path("/bucket/logs/test.log"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("x".repeat(70_000), "text/plain"))
        .mount(&storage)
        .await;
    let artifact = h.ok("get_artifact", get_args()).await;
    assert_eq!(artifact["encoding"], "url");
    assert!(
        artifact["note"]
            .as_str()
            .unwrap()
            .starts_with("not inlined: the content turned out larger than the 65536-byte"),
        "{artifact}"
    );
    assert!(artifact.get("content").is_none());
}

#[tokio::test]
async fn get_artifact_refuses_text_that_is_not_utf8() {
    let h = harness().await;
    let storage = MockServer::start().await;
    mount_metadata(&h, fixture("artifact.json")).await;
    mount_redirect(&h, &presigned(&storage, PRESIGNED_QUERY), 1).await;
    Mock::given(method("GET"))
        .and(path("/bucket/logs/test.log"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(vec![0xff, 0xfe, 0x00, 0x41], "text/plain"),
        )
        .mount(&storage)
        .await;
    let artifact = h.ok("get_artifact", get_args()).await;
    assert_eq!(artifact["encoding"], "url");
    assert_eq!(
        artifact["note"],
        "not inlined: the content is not valid UTF-8 text; download it from download_url"
    );
}

#[tokio::test]
async fn get_artifact_reports_a_storage_failure_with_the_metadata() {
    let h = harness().await;
    let storage = MockServer::start().await;
    mount_metadata(&h, fixture("artifact.json")).await;
    mount_redirect(&h, &presigned(&storage, PRESIGNED_QUERY), 1).await;
    Mock::given(method("GET"))
        .and(path("/bucket/logs/test.log"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            "application/xml",
        ))
        .mount(&storage)
        .await;
    let result = h.call("get_artifact", get_args()).await;
    assert!(!result.is_error, "{}", result.text);
    let artifact: Value = serde_json::from_str(&result.text).unwrap();
    assert_eq!(artifact["id"], ARTIFACT_ID);
    assert_eq!(artifact["encoding"], "url");
    let error = artifact["download_error"].as_str().unwrap();
    assert!(
        error.starts_with("Could not get the artifact's content: GET /bucket/logs/test.log: 403 Forbidden: artifact storage refused the download"),
        "{error}"
    );
    assert!(
        !error.contains("X-Amz-Signature"),
        "no presigned query in errors: {error}"
    );
    let mut snapshot = artifact.clone();
    snapshot["download_url"] = json!("[storage URL]");
    insta::assert_json_snapshot!(snapshot);
}

#[tokio::test]
async fn get_artifact_keeps_the_metadata_when_no_url_can_be_had() {
    let h = harness().await;
    mount_metadata(&h, fixture("artifact.json")).await;
    Mock::given(method("GET"))
        .and(path(format!("{}/download", artifact_path())))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .expect(1)
        .mount(&h.server)
        .await;
    let artifact = h.ok("get_artifact", get_args()).await;
    assert_eq!(
        h.requests().await,
        [
            format!("GET {}", artifact_path()),
            format!("GET {}/download", artifact_path())
        ]
    );
    assert_eq!(artifact["encoding"], "none");
    assert!(artifact.get("download_url").is_none());
    insta::assert_json_snapshot!(artifact);
}

#[tokio::test]
async fn get_artifact_accepts_a_url_in_a_200_body() {
    let h = harness().await;
    let storage = MockServer::start().await;
    mount_metadata(
        &h,
        artifact_with(json!({"mime_type": "image/png", "filename": "shot.png", "file_size": 2048})),
    )
    .await;
    let url = presigned(&storage, "X-Amz-Expires=300");
    Mock::given(method("GET"))
        .and(path(format!("{}/download", artifact_path())))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"url": url})))
        .expect(1)
        .mount(&h.server)
        .await;
    let artifact = h.ok("get_artifact", get_args()).await;
    assert_eq!(artifact["download_url"], url.as_str());
    assert_eq!(artifact["download_url_expires_in_seconds"], 300);
    assert_eq!(
        artifact["note"],
        "not inlined: `image/png` is not a text type; download it from download_url"
    );
}

#[tokio::test]
async fn get_artifact_does_not_try_to_download_expired_artifacts() {
    let h = harness().await;
    mount_metadata(&h, artifact_with(json!({"state": "expired"}))).await;
    let artifact = h.ok("get_artifact", get_args()).await;
    assert_eq!(h.requests().await, [format!("GET {}", artifact_path())]);
    assert_eq!(artifact["encoding"], "none");
    assert_eq!(
        artifact["note"],
        "the artifact is expired: its content is no longer stored and cannot be downloaded"
    );
}

#[tokio::test]
async fn get_artifact_errors() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(artifact_path()))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "No artifact found"})),
        )
        .mount(&h.server)
        .await;
    let error = h.err("get_artifact", get_args()).await;
    assert!(
        error.starts_with(&format!(
            "Could not get the artifact: GET {}: 404 Not Found: No artifact found.",
            artifact_path()
        )),
        "{error}"
    );
    assert_eq!(
        h.requests().await.len(),
        1,
        "no download after a failed lookup"
    );

    let mut args = get_args();
    args["artifact_id"] = json!("");
    let error = h.err("get_artifact", args).await;
    assert_eq!(error, "invalid argument `artifact_id`: must not be empty");
    let mut args = get_args();
    args["build_number"] = json!("latest");
    let error = h.err("get_artifact", args).await;
    assert!(
        error.starts_with("invalid argument `build_number`: must be the build's number"),
        "{error}"
    );
    let mut args = get_args();
    args.as_object_mut().unwrap().remove("job_id");
    let error = h.err("get_artifact", args).await;
    assert_eq!(error, "invalid argument `job_id`: is required");
    assert_eq!(h.requests().await.len(), 1);
}

/// The registry's redaction replaces the AWS key id inside
/// `X-Amz-Credential=ASIA…`: redaction must leave it, or the URL breaks.
#[tokio::test]
async fn a_presigned_url_with_an_aws_key_id_survives_redaction() {
    let h = harness().await;
    let storage = MockServer::start().await;
    mount_metadata(
        &h,
        artifact_with(json!({"mime_type": "application/x-gzip", "file_size": 529_371})),
    )
    .await;
    let url = presigned(
        &storage,
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAQWERTYUIOPASDFGH%2F20260811%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=600&X-Amz-Signature=abc",
    );
    mount_redirect(&h, &url, 1).await;
    let artifact = h.ok("get_artifact", get_args()).await;
    assert_eq!(artifact["download_url"], url.as_str());
}

#[tokio::test]
async fn get_artifact_text_at_the_limit_is_fitted_to_the_response_budget() {
    let h = harness().await;
    let storage = MockServer::start().await;
    mount_metadata(&h, artifact_with(json!({"file_size": 65_536}))).await;
    mount_redirect(&h, &presigned(&storage, PRESIGNED_QUERY), 1).await;
    Mock::given(method("GET"))
        .and(path("/bucket/logs/test.log"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("ok line\n".repeat(8192), "text/plain"),
        )
        .mount(&storage)
        .await;
    let result = h.call("get_artifact", get_args()).await;
    assert!(!result.is_error, "{}", result.text);
    assert!(result.text.len() <= h.ctx.limits.response_budget);
    let artifact: Value = serde_json::from_str(&result.text).unwrap();
    assert_eq!(artifact["encoding"], "text");
    let content = artifact["content"].as_str().unwrap();
    assert!(content.starts_with("ok line\n"));
    assert!(
        content.len() > 50_000,
        "shortened by the excess only, not to a few KiB: {}",
        content.len()
    );
    assert!(
        artifact.get("truncated").is_some(),
        "{}",
        artifact["truncated"]
    );
    assert!(
        artifact["download_url"].is_string(),
        "the rest stays reachable"
    );
}

/// A linked artifact is read with the caller's client, as `get_artifact`
/// reads it: metadata, a fresh download URL, then the storage, which never
/// sees the token.
#[tokio::test]
async fn a_linked_artifact_reads_whole_through_the_callers_client() {
    let h = harness().await;
    let storage = MockServer::start().await;
    let big = "x".repeat(70 * 1024);
    // Read twice: by get_artifact, then by the link.
    Mock::given(method("GET"))
        .and(path(artifact_path()))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(artifact_with(
            json!({"file_size": big.len(), "mime_type": "text/plain"}),
        )))
        .expect(2)
        .mount(&h.server)
        .await;
    let url = presigned(&storage, PRESIGNED_QUERY);
    mount_redirect(&h, &url, 2).await;
    Mock::given(method("GET"))
        .and(path("/bucket/logs/test.log"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(big.clone(), "text/plain"))
        .mount(&storage)
        .await;
    let artifact = h.ok("get_artifact", get_args()).await;
    assert_eq!(
        artifact["encoding"], "url",
        "over the inline limit: {artifact}"
    );
    let uri = artifact["resource_uri"]
        .as_str()
        .expect("a resource link")
        .to_owned();
    let read = bk_tools::links::read(&h.ctx, &uri)
        .await
        .expect("one of ours");
    let Ok(bk_tools::links::LinkContent::Text { text, mime_type }) = read else {
        panic!("text: {read:?}")
    };
    assert_eq!((text.len(), mime_type.as_str()), (big.len(), "text/plain"));
    let (_, credentials) = storage_requests(&storage).await;
    assert!(!credentials, "the token must never go to storage");
    assert!(
        bk_tools::links::read(&h.ctx, "buildkite://nothing/here")
            .await
            .is_none()
    );
}
