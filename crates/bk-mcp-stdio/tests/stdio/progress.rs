//! Progress and cancellation through the real binary: `wait_for_build` on a
//! running build reports progress after its first poll, and
//! `notifications/cancelled` stops its polling while the server stays usable.

use std::time::Duration;

use crate::common::{
    Launch, TOKEN, assert_all_sent_token, authorized, fixture, json_response, requests, within,
};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientRequest, ProgressNotificationParam,
};
use rmcp::service::{NotificationContext, PeerRequestOptions};
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";
const POLL: &str = "GET /v2/organizations/acme/pipelines/app/builds/42?exclude_jobs=true&exclude_pipeline=true&include_test_engine=true";

/// A client that forwards every progress notification to a channel.
#[derive(Debug)]
struct ProgressRecorder(mpsc::UnboundedSender<ProgressNotificationParam>);

impl ClientHandler for ProgressRecorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(params);
    }
}

fn running_build() -> ResponseTemplate {
    let mut build = fixture("build.json");
    build["state"] = json!("running");
    build["finished_at"] = Value::Null;
    ResponseTemplate::new(200).set_body_json(build)
}

#[tokio::test]
async fn wait_for_build_reports_progress_and_stops_when_cancelled() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(BUILD))
        .and(authorized())
        .respond_with(running_build())
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .and(authorized())
        .respond_with(json_response(200, "user.json"))
        .mount(&api)
        .await;
    let (sender, mut progress) = mpsc::unbounded_channel();
    let server = Launch::new()
        .start_with(&api, ProgressRecorder(sender))
        .await;

    let Value::Object(args) =
        json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"})
    else {
        unreachable!()
    };
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new("wait_for_build").with_arguments(args),
    ));
    let handle = within(
        "sending wait_for_build",
        server
            .client
            .send_cancellable_request(request, PeerRequestOptions::no_options()),
    )
    .await
    .unwrap();

    // The first poll reports progress right away (polls are 5 s apart).
    let update = within("a progress notification", progress.recv())
        .await
        .expect("progress channel open");
    assert_eq!(update.progress_token, handle.progress_token);
    assert_eq!(update.total, Some(45.0), "{update:?}");
    assert!(
        update.progress >= 0.0 && update.progress < 5.0,
        "{update:?}"
    );
    let message = update.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("build #42 is running after"),
        "{message}"
    );
    assert_eq!(requests(&api).await, [POLL]);

    within(
        "sending notifications/cancelled",
        handle.cancel(Some("test".into())),
    )
    .await
    .unwrap();
    // Without the cancellation the next poll would come 5 s after the first.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        requests(&api).await,
        [POLL],
        "the server kept polling after the request was cancelled"
    );
    assert!(progress.try_recv().is_err(), "progress after cancellation");

    // The server still answers.
    let user = server.ok("current_user", json!({})).await;
    assert_eq!(user["name"], "Sam Kim");
    assert_eq!(requests(&api).await, [POLL, "GET /v2/user"]);
    assert_all_sent_token(&api, TOKEN).await;
    let stderr = server.shutdown().await;
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn the_failure_summary_reports_each_log_it_reads() {
    let silent = MockServer::start().await;
    let (sender, mut progress) = mpsc::unbounded_channel();
    let server = Launch::new()
        .no_token()
        .args(&["--demo"])
        .start_with(&silent, ProgressRecorder(sender))
        .await;
    let Value::Object(args) =
        json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234"})
    else {
        unreachable!()
    };
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new("get_build_failure_summary").with_arguments(args),
    ));
    let handle = within(
        "sending get_build_failure_summary",
        server
            .client
            .send_cancellable_request(request, PeerRequestOptions::no_options()),
    )
    .await
    .unwrap();
    let token = handle.progress_token.clone();
    within("the summary", handle.await_response())
        .await
        .unwrap();
    // Notifications sent before the result may still be in the client's hands.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut updates = Vec::new();
    while let Ok(update) = progress.try_recv() {
        assert_eq!(update.progress_token, token);
        updates.push((
            update.progress,
            update.total,
            update.message.unwrap_or_default(),
        ));
    }
    let messages: Vec<&str> = updates.iter().map(|u| u.2.as_str()).collect();
    assert_eq!(
        messages.first().copied(),
        Some("build #1234 is failed; reading its failed jobs, annotations and tests"),
        "{updates:?}"
    );
    assert!(
        updates.windows(2).all(|pair| pair[1].0 > pair[0].0),
        "progress increases: {updates:?}"
    );
    let last = updates.last().unwrap();
    assert_eq!(
        Some(last.0),
        last.1,
        "the last update completes: {updates:?}"
    );
    assert!(
        last.2.starts_with("read 3 of 3 failed job logs"),
        "{updates:?}"
    );
    server.shutdown().await;
}
