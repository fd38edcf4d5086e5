//! The HTTP side: probes, the Host and Origin guards, the body limit, and a
//! graceful shutdown that lets in-flight calls finish.

use std::time::{Duration, Instant};

use crate::common::{
    self, TOKEN, call_body, http_client, json_fixture, launch, list_body, rpc_message, within,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

#[tokio::test]
async fn health_and_ready() {
    let api = MockServer::start().await;
    let server = launch(&api).token(TOKEN).start().await;
    let response = server.get("/health").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), "ok");
    let response = server.get("/ready").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("JSON body");
    assert_eq!(body["status"], "ready");
    // One replica on its own: only the local cache is a dependency.
    let dependencies = body["dependencies"].as_array().expect("dependencies");
    assert_eq!(dependencies.len(), 1, "{body}");
    assert_eq!(dependencies[0]["name"], "log cache");
    assert_eq!(dependencies[0]["state"], "up");
    // Only MCP is served under /mcp; nothing else exists.
    let response = server.get("/metrics").await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn ready_is_503_when_the_log_cache_is_gone() {
    let api = MockServer::start().await;
    let cache = tempfile::tempdir().expect("tempdir");
    let dir = cache.path().join("cache");
    let server = launch(&api)
        .token(TOKEN)
        .env("BKLOG_CACHE_URL", &dir.display().to_string())
        .start()
        .await;
    assert_eq!(server.get("/ready").await.status(), 200);
    std::fs::remove_dir_all(&dir).expect("remove the cache");
    let response = server.get("/ready").await;
    assert_eq!(response.status(), 503);
    let body = response.text().await.expect("body");
    assert!(body.contains("log cache"), "{body}");
    assert_eq!(server.get("/health").await.status(), 200);
}

#[tokio::test]
async fn host_header_guards_against_dns_rebinding() {
    let api = MockServer::start().await;
    let server = launch(&api).token(TOKEN).start().await;
    let port = server.port;
    for (host, status) in [
        ("evil.example.com".to_owned(), 403),
        (format!("evil.example.com:{port}"), 403),
        (format!("127.0.0.1:{port}"), 200),
        (format!("localhost:{port}"), 200),
        ("localhost".to_owned(), 200),
    ] {
        let response = server
            .post("/mcp", &list_body(), &[("host", host.as_str())])
            .await;
        assert_eq!(response.status(), status, "Host: {host}");
    }

    let extended = launch(&api)
        .token(TOKEN)
        .args(&["--allowed-hosts", "evil.example.com,127.0.0.1"])
        .start()
        .await;
    let port = extended.port;
    for (host, status) in [
        ("evil.example.com".to_owned(), 200),
        (format!("evil.example.com:{port}"), 200),
        (format!("127.0.0.1:{port}"), 200),
        ("other.example.com".to_owned(), 403),
        // The list replaces the defaults (--help: "Default: loopback names
        // and the listen host"): localhost was not listed.
        (format!("localhost:{port}"), 403),
    ] {
        let response = extended
            .post("/mcp", &list_body(), &[("host", host.as_str())])
            .await;
        assert_eq!(response.status(), status, "Host: {host}");
    }

    let any = launch(&api)
        .token(TOKEN)
        .args(&["--allowed-hosts", "*"])
        .start()
        .await;
    let response = any
        .post("/mcp", &list_body(), &[("host", "whatever.example.org")])
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn origin_header_is_checked() {
    let api = MockServer::start().await;
    let server = launch(&api).token(TOKEN).start().await;
    for (origin, status) in [
        ("http://evil.example.com", 403),
        ("https://localhost.evil.example.com", 403),
        ("http://localhost:1234", 200),
        ("http://127.0.0.1:8080", 200),
    ] {
        let response = server
            .post("/mcp", &list_body(), &[("origin", origin)])
            .await;
        assert_eq!(response.status(), status, "Origin: {origin}");
    }

    let configured = launch(&api)
        .token(TOKEN)
        .args(&["--allowed-origins", "https://app.example.com"])
        .start()
        .await;
    for (origin, status) in [
        ("https://app.example.com", 200),
        ("http://localhost:1234", 403),
        ("https://evil.example.com", 403),
    ] {
        let response = configured
            .post("/mcp", &list_body(), &[("origin", origin)])
            .await;
        assert_eq!(response.status(), status, "Origin: {origin}");
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let api = MockServer::start().await;
    let server = launch(&api)
        .token(TOKEN)
        .args(&["--max-body-bytes", "2048"])
        .start()
        .await;
    // A valid call whose body is just under, then just over, the limit.
    let body = |size: usize| {
        let mut call = call_body("list_skills", json!({"query": ""}));
        let base = serde_json::to_vec(&call).expect("JSON").len();
        call["params"]["arguments"]["query"] = json!("x".repeat(size - base));
        let bytes = serde_json::to_vec(&call).expect("JSON");
        assert_eq!(bytes.len(), size);
        bytes
    };
    let response = server.post_bytes("/mcp", body(2048), &[]).await;
    assert_eq!(response.status(), 200);
    let message = rpc_message(response).await;
    assert!(message["result"].is_object(), "{message}");
    let response = server.post_bytes("/mcp", body(2049), &[]).await;
    assert_eq!(response.status(), 413);
    let response = server.post_bytes("/mcp", vec![b' '; 1 << 20], &[]).await;
    assert_eq!(response.status(), 413);

    // Too small a limit is refused at startup.
    let (status, stderr) = launch(&api)
        .args(&["--max-body-bytes", "10"])
        .run_to_exit()
        .await;
    assert_eq!(status.code(), Some(2));
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    assert!(stderr[0].contains("--max-body-bytes"), "{stderr:?}");
}

#[tokio::test]
async fn sigterm_lets_in_flight_calls_finish() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json_fixture(200, "user.json").set_delay(Duration::from_secs(2)))
        .mount(&api)
        .await;
    let mut server = launch(&api).token(TOKEN).start().await;
    let url = server.url("/mcp");
    let started = Instant::now();
    let in_flight = tokio::spawn(async move {
        let response = http_client()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(serde_json::to_vec(&call_body("current_user", json!({}))).expect("JSON"))
            .send()
            .await
            .expect("the in-flight call is answered");
        rpc_message(response).await
    });
    // Wait until the call has reached the API.
    within("the call to reach the API", async {
        while api.received_requests().await.unwrap_or_default().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    server.terminate();

    // The server stops being ready: /ready answers 503 or the listener is
    // gone.
    let ready_url = server.url("/ready");
    let mut observed = Vec::new();
    within("/ready to stop answering 200", async {
        loop {
            let outcome = http_client()
                .get(&ready_url)
                .timeout(Duration::from_millis(500))
                .send()
                .await;
            match outcome {
                Ok(response) if response.status() == 200 => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(response) => {
                    observed.push(format!("{}", response.status()));
                    break;
                }
                Err(_) => {
                    observed.push("refused".to_owned());
                    break;
                }
            }
        }
    })
    .await;
    assert!(
        observed == ["503 Service Unavailable"] || observed == ["refused"],
        "{observed:?}"
    );

    let message = within("the in-flight call", in_flight)
        .await
        .expect("the call task");
    assert_eq!(message["result"]["isError"], false, "{message}");
    let user: Value = serde_json::from_str(
        message["result"]["content"][0]["text"]
            .as_str()
            .expect("text"),
    )
    .expect("JSON");
    assert_eq!(user["name"], "Sam Kim");
    assert!(started.elapsed() >= Duration::from_secs(2));

    let (status, stderr) = server.finish().await;
    assert_eq!(status.code(), Some(0), "{stderr:?}");
    assert!(
        stderr.iter().any(|l| l.contains("shutting down")),
        "{stderr:?}"
    );
}

#[tokio::test]
async fn calls_past_the_shutdown_grace_are_stopped() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json_fixture(200, "user.json").set_delay(Duration::from_secs(10)))
        .mount(&api)
        .await;
    let mut server = launch(&api)
        .token(TOKEN)
        .args(&["--shutdown-grace", "1"])
        .start()
        .await;
    let url = server.url("/mcp");
    let in_flight = tokio::spawn(async move {
        http_client()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(serde_json::to_vec(&call_body("current_user", json!({}))).expect("JSON"))
            .send()
            .await
    });
    within("the call to reach the API", async {
        while api.received_requests().await.unwrap_or_default().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let stopping = Instant::now();
    server.terminate();
    let (status, stderr) = server.finish().await;
    let took = stopping.elapsed();
    assert_eq!(status.code(), Some(0), "{stderr:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("still running after the grace period")),
        "{stderr:?}"
    );
    // The cut-off caller gets no successful answer.
    let outcome = within("the cut-off call", in_flight).await.expect("task");
    if let Ok(response) = outcome {
        let ok = response.status().is_success()
            && response.text().await.is_ok_and(|t| t.contains("Sam Kim"));
        assert!(!ok, "a call past the grace period completed");
    }
}

/// In `--stateful` mode a connected but idle client keeps its standalone
/// SSE stream (GET /mcp) open; SIGTERM then waits out the whole grace period
/// (30 s by default) and logs that calls were still running, though none
/// was.
#[tokio::test]
async fn sigterm_with_an_idle_stateful_client_exits_promptly() {
    let api = MockServer::start().await;
    let mut server = launch(&api)
        .token(TOKEN)
        .args(&["--stateful", "--shutdown-grace", "5"])
        .start()
        .await;
    let client = server.client("/mcp", None, &[]).await;
    assert_eq!(
        common::tool_names(&client).await,
        common::expected_names(|_| true)
    );
    // Let the client open its GET stream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopping = Instant::now();
    let (status, stderr) = server.stop().await;
    let took = stopping.elapsed();
    assert_eq!(status.code(), Some(0), "{stderr:?}");
    assert!(
        !stderr
            .iter()
            .any(|l| l.contains("still running after the grace period")),
        "{stderr:?}"
    );
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    drop(client);
}

/// Without `--debug` the server logs its start and stop, and problems, but
/// not every request: rmcp's per-request session events (info) stay out.
#[tokio::test]
async fn a_plain_server_does_not_log_every_request() {
    let api = MockServer::start().await;
    for mode in [&[][..], &["--stateful"][..]] {
        let mut server = launch(&api).token(TOKEN).args(mode).start().await;
        let client = server.client("/mcp", None, &[]).await;
        for _ in 0..3 {
            common::call_ok(&client, "list_skills", json!({})).await;
        }
        client.cancel().await.expect("client closes");
        let (status, stderr) = server.stop().await;
        assert_eq!(status.code(), Some(0));
        let noisy: Vec<&String> = stderr
            .iter()
            .filter(|l| {
                [
                    "Service initialized",
                    "input stream terminated",
                    "serve finished",
                    "create new session",
                    "tool call finished",
                ]
                .iter()
                .any(|event| l.contains(event))
            })
            .collect();
        assert!(noisy.is_empty(), "{mode:?}: {noisy:#?}");
        assert!(stderr.iter().any(|l| l.contains("stopped")), "{stderr:?}");
    }
}

/// A body that is not JSON is a 400 carrying a JSON-RPC parse error; JSON
/// that is no message is a 400 `-32600`; the server goes on serving.
#[tokio::test]
async fn malformed_bodies_get_json_rpc_errors_with_400() {
    let api = MockServer::start().await;
    let server = launch(&api).token(TOKEN).start().await;
    let cases: [(&[u8], i64, Value); 3] = [
        (
            b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ",
            -32700,
            Value::Null,
        ),
        (
            b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"p\": \"\xff\"}",
            -32700,
            Value::Null,
        ),
        (
            br#"{"jsonrpc": "2.0", "id": 7, "params": {}}"#,
            -32600,
            json!(7),
        ),
    ];
    for (body, code, id) in cases {
        let response = server.post_bytes("/mcp", body.to_vec(), &[]).await;
        assert_eq!(response.status(), 400);
        let answer: Value = response.json().await.expect("a JSON body");
        assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert_eq!(answer["id"], id, "{answer}");
    }
    let response = server.post("/mcp", &list_body(), &[]).await;
    assert!(rpc_message(response).await["result"]["tools"].is_array());
    assert!(api.received_requests().await.unwrap_or_default().is_empty());
}

/// With sessions, ending a session that does not exist is a 404; ending a
/// live one works once.
#[tokio::test]
async fn deleting_an_unknown_or_ended_session_is_404() {
    let api = MockServer::start().await;
    let server = launch(&api)
        .token(TOKEN)
        .args(&["--stateful"])
        .start()
        .await;
    let response = server.post("/mcp", &common::initialize_body(), &[]).await;
    assert!(response.status().is_success(), "{}", response.status());
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("a session id")
        .to_owned();
    let delete = |id: String| {
        let url = server.url("/mcp");
        async move {
            within(
                "DELETE",
                http_client()
                    .delete(url)
                    .header("mcp-session-id", id)
                    .header("mcp-protocol-version", "2025-06-18")
                    .send(),
            )
            .await
            .expect("DELETE")
            .status()
        }
    };
    assert_eq!(delete("no-such-session".to_owned()).await, 404);
    assert!(delete(session.clone()).await.is_success());
    assert_eq!(delete(session).await, 404);
}
