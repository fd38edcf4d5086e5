//! Credentials: per-caller tokens under `Authorization` passthrough (and
//! their isolation under load), other passthrough headers, the 401 mapping,
//! and that no token ever reaches the log.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{
    self, CHALLENGE, TOKEN, authorizations, bearer, call, call_body, call_ok, fixture,
    json_fixture, launch, list_body, requests, rpc_message, text,
};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN_A: &str = "bkua_alice0000aaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN_B: &str = "bkua_bob11111bbbbbbbbbbbbbbbbbbbbbbbbbb";
const TOKEN_C: &str = "bkua_carol222cccccccccccccccccccccccccc";

/// The user fixture renamed.
fn user(name: &str) -> Value {
    let mut user = fixture("user.json");
    user["name"] = json!(name);
    user["email"] = json!(format!("{}@example.com", name.to_lowercase()));
    user
}

/// `GET /v2/user`: Alice for token A, Bob for token B, 401 otherwise; each
/// request's arrival time is recorded.
#[derive(Clone)]
struct UserPerToken {
    arrivals: Arc<Mutex<Vec<Instant>>>,
    delay: Duration,
}

impl Respond for UserPerToken {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.arrivals.lock().expect("arrivals").push(Instant::now());
        let Some(owner) = owner(request) else {
            return json_fixture(401, "error_401.json");
        };
        ResponseTemplate::new(200)
            .set_body_json(user(owner))
            .set_delay(self.delay)
    }
}

/// The owner of a token, as the mock API knows it.
fn owner(request: &Request) -> Option<&'static str> {
    let values: Vec<&str> = request
        .headers
        .get_all("authorization")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    match values.as_slice() {
        [one] if *one == bearer(TOKEN_A) => Some("Alice"),
        [one] if *one == bearer(TOKEN_B) => Some("Bob"),
        _ => None,
    }
}

/// `GET /v2/organizations/acme/pipelines/{slug}`: the pipeline named after
/// the token's owner and the slug, 401 for an unknown token; each
/// request's arrival time is recorded.
#[derive(Clone)]
struct PipelinePerToken {
    arrivals: Arc<Mutex<Vec<Instant>>>,
    delay: Duration,
}

impl Respond for PipelinePerToken {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.arrivals.lock().expect("arrivals").push(Instant::now());
        let Some(owner) = owner(request) else {
            return json_fixture(401, "error_401.json");
        };
        let slug = request.url.path().rsplit('/').next().unwrap_or_default();
        let mut pipeline = fixture("pipeline.json");
        pipeline["slug"] = json!(slug);
        pipeline["name"] = json!(format!("{owner}'s {slug}"));
        ResponseTemplate::new(200)
            .set_body_json(pipeline)
            .set_delay(self.delay)
    }
}

/// Calls `tool` with `args` through `peer`.
async fn call_on(
    peer: rmcp::Peer<rmcp::RoleClient>,
    tool: &'static str,
    args: Value,
) -> rmcp::model::CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    peer.call_tool(CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .expect(tool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_tokens_stay_with_their_caller_under_load() {
    const PER_TOKEN: usize = 50;
    const DELAY: Duration = Duration::from_secs(3);
    let api = MockServer::start().await;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("GET"))
        .and(path_regex("^/v2/organizations/acme/pipelines/[^/]+$"))
        .respond_with(PipelinePerToken {
            arrivals: Arc::clone(&arrivals),
            delay: DELAY,
        })
        .mount(&api)
        .await;
    let user_arrivals = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(UserPerToken {
            arrivals: Arc::clone(&user_arrivals),
            delay: Duration::from_secs(1),
        })
        .mount(&api)
        .await;
    let server = launch(&api)
        .args(&["--passthrough-http-header", "Authorization"])
        .start()
        .await;
    assert!(
        server
            .listening_line()
            .contains("passthrough_authorization=true")
    );

    // 100 different reads at once, the two callers interleaved: each
    // reaches the API with its caller's token.
    let alice = server.client("/mcp", Some(TOKEN_A), &[]).await;
    let bob = server.client("/mcp", Some(TOKEN_B), &[]).await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..PER_TOKEN * 2 {
        let (peer, expected) = if i % 2 == 0 {
            (alice.peer().clone(), "Alice")
        } else {
            (bob.peer().clone(), "Bob")
        };
        let args = json!({"org_slug": "acme", "pipeline_slug": format!("app-{i}")});
        calls.spawn(async move {
            let result = call_on(peer, "get_pipeline", args).await;
            (expected, format!("{expected}'s app-{i}"), result)
        });
    }
    let started = Instant::now();
    let mut answered = Vec::new();
    while let Some(joined) = common::within("the concurrent calls", calls.join_next()).await {
        let (expected, name, result) = joined.expect("the call task");
        assert_ne!(result.is_error, Some(true), "{}", text(&result));
        let got: Value = serde_json::from_str(text(&result)).expect("JSON");
        assert_eq!(got["name"], name, "a caller got someone else's pipeline");
        answered.push(expected);
    }
    assert_eq!(
        answered.iter().filter(|n| **n == "Alice").count(),
        PER_TOKEN
    );
    assert_eq!(answered.iter().filter(|n| **n == "Bob").count(), PER_TOKEN);
    // They overlapped: all 100 reached the API before the first answer left it.
    let arrivals = arrivals.lock().expect("arrivals").clone();
    assert_eq!(arrivals.len(), PER_TOKEN * 2);
    let first = arrivals.iter().min().expect("one");
    let last = arrivals.iter().max().expect("one");
    assert!(
        last.duration_since(*first) < DELAY,
        "the calls did not overlap: arrivals spread over {:?}",
        last.duration_since(*first)
    );
    assert!(started.elapsed() < DELAY * 4, "{:?}", started.elapsed());

    // Upstream: exactly one of the two tokens on every request, 50 each.
    let auth = authorizations(&api).await;
    assert_eq!(auth.len(), PER_TOKEN * 2);
    let (a, b) = (bearer(TOKEN_A), bearer(TOKEN_B));
    assert!(
        auth.iter()
            .all(|v| v.len() == 1 && (v[0] == a || v[0] == b)),
        "{auth:?}"
    );
    assert_eq!(auth.iter().filter(|v| v[0] == a).count(), PER_TOKEN);
    assert_eq!(auth.iter().filter(|v| v[0] == b).count(), PER_TOKEN);

    // 100 identical reads at once: shared per token (one request in flight,
    // the others wait for its answer), never across tokens.
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..PER_TOKEN * 2 {
        let (peer, expected) = if i % 2 == 0 {
            (alice.peer().clone(), "Alice")
        } else {
            (bob.peer().clone(), "Bob")
        };
        calls.spawn(async move { (expected, call_on(peer, "current_user", json!({})).await) });
    }
    while let Some(joined) = common::within("the identical calls", calls.join_next()).await {
        let (expected, result) = joined.expect("the call task");
        assert_ne!(result.is_error, Some(true), "{}", text(&result));
        let got: Value = serde_json::from_str(text(&result)).expect("JSON");
        assert_eq!(got["name"], expected, "a caller got someone else's user");
    }
    assert_eq!(user_arrivals.lock().expect("arrivals").len(), 2);
    let auth = authorizations(&api).await;
    let users: Vec<&Vec<String>> = auth[PER_TOKEN * 2..].iter().collect();
    assert_eq!(users.len(), 2, "{users:?}");
    assert!(
        users.contains(&&vec![a]) && users.contains(&&vec![b]),
        "{users:?}"
    );
}

#[tokio::test]
async fn passthrough_needs_exactly_one_bearer_token() {
    let api = MockServer::start().await;
    let server = launch(&api)
        .args(&["--passthrough-http-header", "Authorization"])
        .start()
        .await;
    let client = common::http_client();
    let send = |headers: Vec<(&'static str, String)>| {
        let mut request = client
            .post(server.url("/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(serde_json::to_vec(&list_body()).expect("JSON"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { common::within("POST", request.send()).await.expect("POST") }
    };
    let cases: [(&str, Vec<(&'static str, String)>); 6] = [
        ("no Authorization", vec![]),
        (
            "two Authorization headers",
            vec![
                ("authorization", bearer(TOKEN_A)),
                ("authorization", bearer(TOKEN_B)),
            ],
        ),
        ("Basic", vec![("authorization", "Basic x".to_owned())]),
        (
            "Bearer without a token",
            vec![("authorization", "Bearer".to_owned())],
        ),
        (
            "Bearer with two words",
            vec![("authorization", format!("Bearer {TOKEN_A} extra"))],
        ),
        ("empty", vec![("authorization", String::new())]),
    ];
    for (what, headers) in cases {
        let response = send(headers).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some(CHALLENGE),
            "{what}"
        );
    }
    // One bearer token: accepted.
    let response = send(vec![("authorization", bearer(TOKEN_A))]).await;
    assert_eq!(response.status(), 200);

    // The rmcp client sees the challenge when it has no token.
    let error = server
        .try_client("/mcp", None, &[])
        .await
        .expect_err("initialize without a token");
    assert_eq!(error.auth_challenge(), Some(CHALLENGE), "{error}");
    assert!(requests(&api).await.is_empty());
}

#[tokio::test]
async fn a_fixed_token_with_authorization_passthrough_is_a_config_error() {
    let api = MockServer::start().await;
    for launch in [
        launch(&api)
            .token(TOKEN)
            .args(&["--passthrough-http-header", "Authorization"]),
        launch(&api).args(&["--api-token", TOKEN]).env(
            "BUILDKITE_PASSTHROUGH_HTTP_HEADERS",
            "X-Tenant,authorization",
        ),
    ] {
        let (status, stderr) = launch.run_to_exit().await;
        assert_eq!(status.code(), Some(2), "{stderr:?}");
        assert_eq!(stderr.len(), 1, "{stderr:?}");
        assert!(stderr[0].starts_with("bk-mcp-http: "), "{stderr:?}");
        assert!(stderr[0].contains("Authorization"), "{stderr:?}");
        assert!(!stderr[0].contains(TOKEN), "{stderr:?}");
    }
}

#[tokio::test]
async fn other_passthrough_headers_reach_the_api() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json_fixture(200, "user.json"))
        .mount(&api)
        .await;
    let server = launch(&api)
        .token(TOKEN)
        .args(&["--passthrough-http-header", "X-Tenant"])
        .start()
        .await;
    let client = server
        .client("/mcp", None, &[("X-Tenant", "blue"), ("X-Other", "no")])
        .await;
    let user = call_ok(&client, "current_user", json!({})).await;
    assert_eq!(user["name"], "Sam Kim");
    let plain = server.client("/mcp", None, &[]).await;
    call_ok(&plain, "current_user", json!({})).await;

    let received = api.received_requests().await.expect("recording");
    assert_eq!(received.len(), 2);
    let tenants: Vec<Vec<&str>> = received
        .iter()
        .map(|r| {
            r.headers
                .get_all("x-tenant")
                .iter()
                .map(|v| v.to_str().expect("ASCII"))
                .collect()
        })
        .collect();
    assert_eq!(tenants, [vec!["blue"], vec![]]);
    for request in &received {
        assert!(request.headers.get("x-other").is_none());
        assert_eq!(
            request.headers.get("authorization").map(|v| v.as_bytes()),
            Some(bearer(TOKEN).as_bytes())
        );
    }
}

#[tokio::test]
async fn an_upstream_401_becomes_http_401() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json_fixture(401, "error_401.json"))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/access-token"))
        .respond_with(json_fixture(200, "access_token.json"))
        .mount(&api)
        .await;
    let server = launch(&api).token(TOKEN).start().await;

    // Stateless: a tools/call needs no initialize first.
    let response = server
        .post("/mcp", &call_body("access_token", json!({})), &[])
        .await;
    assert_eq!(response.status(), 200);
    let message = rpc_message(response).await;
    assert_eq!(message["result"]["isError"], false, "{message}");
    let token: Value = serde_json::from_str(
        message["result"]["content"][0]["text"]
            .as_str()
            .expect("text"),
    )
    .expect("JSON");
    assert_eq!(token["scopes"][0], "read_builds");

    // The API refuses the token: HTTP 401 with the challenge.
    let response = server
        .post("/mcp", &call_body("current_user", json!({})), &[])
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(CHALLENGE)
    );
    let body = response.text().await.expect("body");
    assert!(body.contains("Buildkite refused the API token"), "{body}");

    // Through the rmcp client, the call fails with the same challenge.
    let client = server.client("/mcp", None, &[]).await;
    let error = call(&client, "current_user", json!({}))
        .await
        .expect_err("a transport error");
    assert_eq!(error.auth_challenge(), Some(CHALLENGE), "{error}");
    assert_eq!(
        requests(&api).await,
        ["GET /v2/access-token", "GET /v2/user", "GET /v2/user"]
    );
}

#[tokio::test]
async fn an_upstream_401_under_passthrough_is_http_401_too() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(UserPerToken {
            arrivals: Arc::default(),
            delay: Duration::ZERO,
        })
        .mount(&api)
        .await;
    let server = launch(&api)
        .args(&["--passthrough-http-header", "Authorization"])
        .start()
        .await;
    let call = call_body("current_user", json!({}));
    let revoked = bearer("bkua_revoked000000000000000000000000000");
    let response = server
        .post("/mcp", &call, &[("authorization", revoked.as_str())])
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(CHALLENGE)
    );
    let response = server
        .post(
            "/mcp",
            &call,
            &[("authorization", bearer(TOKEN_B).as_str())],
        )
        .await;
    let message = rpc_message(response).await;
    assert!(
        message["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Bob")),
        "{message}"
    );
}

/// Makes successful, refused and failing calls, so every code path that
/// logs runs.
async fn exercise(server: &common::Server, tokens: &[&str], extra: &[(&str, &str)]) {
    for token in tokens {
        let mut headers = extra.to_vec();
        let auth = bearer(token);
        if !token.is_empty() {
            headers.push(("authorization", auth.as_str()));
        }
        for (tool, args) in [
            ("current_user", json!({})),
            ("access_token", json!({})),
            ("list_skills", json!({})),
            ("get_pipeline", json!({"org_slug": "acme"})),
        ] {
            server.post("/mcp", &call_body(tool, args), &headers).await;
        }
        server.post("/mcp", &list_body(), &headers).await;
        // Refused before any call.
        let basic = format!("Basic {token}");
        server
            .post("/mcp", &list_body(), &[("authorization", basic.as_str())])
            .await;
        server
            .post(
                "/mcp/x/nope",
                &list_body(),
                &[("authorization", auth.as_str())],
            )
            .await;
    }
}

#[tokio::test]
async fn no_token_appears_in_any_log_line() {
    const FIXED: &str = "bkua_fixedsecret9999zzzzzzzzzzzzzzzzzz";
    const TENANT: &str = "tenant-secret-7f3a9c";
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(UserPerToken {
            arrivals: Arc::default(),
            delay: Duration::ZERO,
        })
        .mount(&api)
        .await;
    // Every token is refused here, so the 401 paths log too.
    Mock::given(method("GET"))
        .and(path("/v2/access-token"))
        .respond_with(json_fixture(401, "error_401.json"))
        .mount(&api)
        .await;

    let mut passthrough = launch(&api)
        .args(&[
            "--debug",
            "--passthrough-http-header",
            "Authorization,X-Tenant",
        ])
        .start()
        .await;
    exercise(&passthrough, &[TOKEN_A, TOKEN_B], &[("X-Tenant", TENANT)]).await;
    let mut fixed = launch(&api)
        .token(FIXED)
        .args(&["--debug", "--log-format", "json"])
        .start()
        .await;
    exercise(&fixed, &[""], &[]).await;
    let mut cli = launch(&api)
        .args(&["--debug", "--api-token", FIXED])
        .start()
        .await;
    exercise(&cli, &[""], &[]).await;

    let mut lines = passthrough.stop().await.1;
    lines.extend(fixed.stop().await.1);
    lines.extend(cli.stop().await.1);
    // The log is really at debug level and saw the calls.
    let finished = lines
        .iter()
        .filter(|l| l.contains("tool call finished"))
        .count();
    assert!(finished >= 12, "debug lines missing: {lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Buildkite refused the API token")),
        "{lines:#?}"
    );
    for secret in [TOKEN_A, TOKEN_B, FIXED, TENANT] {
        // The whole secret, and its distinctive tail.
        let tail = &secret[secret.len() - 12..];
        for line in &lines {
            assert!(
                !line.contains(secret) && !line.contains(tail),
                "a secret leaked into the log: {line}"
            );
        }
    }
    // The API did see them.
    let auth = authorizations(&api).await;
    for token in [TOKEN_A, TOKEN_B, FIXED] {
        assert!(auth.iter().any(|v| v == &[bearer(token)]), "{token}");
    }
}

#[tokio::test]
async fn the_shared_log_cache_does_not_serve_one_callers_log_to_another() {
    const JOB: &str =
        "/v2/organizations/acme/pipelines/app/builds/42/jobs/b63254c0-3271-4a98-8270-7cfbd6c2f14e";
    const LOG: &[u8] = b"--- deploy\r\nusing the staging database\r\nExited with status 1\r\n";
    let api = MockServer::start().await;
    let alice = || wiremock::matchers::header("authorization", bearer(TOKEN_A).as_str());
    // Alice and Carol may read the log.
    for token in [TOKEN_A, TOKEN_C] {
        Mock::given(method("HEAD"))
            .and(path(format!("{JOB}/log")))
            .and(wiremock::matchers::header(
                "authorization",
                bearer(token).as_str(),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-length", LOG.len().to_string().as_str()),
            )
            .mount(&api)
            .await;
    }
    let mut job = fixture("job.json");
    job["state"] = json!("failed");
    Mock::given(method("GET"))
        .and(path(JOB))
        .and(alice())
        .respond_with(ResponseTemplate::new(200).set_body_json(job))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{JOB}/log")))
        .and(alice())
        .respond_with(ResponseTemplate::new(200).set_body_raw(LOG.to_vec(), "text/plain"))
        .mount(&api)
        .await;
    // Bob may not read this pipeline's logs.
    Mock::given(path(format!("{JOB}/log")))
        .respond_with(json_fixture(403, "error_403_scope.json"))
        .with_priority(10)
        .mount(&api)
        .await;
    let server = launch(&api)
        .args(&["--passthrough-http-header", "Authorization"])
        .start()
        .await;
    let args = json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42",
        "job_id": "b63254c0-3271-4a98-8270-7cfbd6c2f14e", "tail": 5});

    let alice = server.client("/mcp", Some(TOKEN_A), &[]).await;
    let tail = call_ok(&alice, "tail_logs", args.clone()).await;
    assert_eq!(tail["total_rows"], 3);
    assert_eq!(tail["entries"][1]["c"], "using the staging database");

    let bob = server.client("/mcp", Some(TOKEN_B), &[]).await;
    let result = call(&bob, "tail_logs", args.clone())
        .await
        .expect("an error result");
    assert_eq!(result.is_error, Some(true));
    assert!(text(&result).contains("403"), "{}", text(&result));
    assert!(
        !text(&result).contains("staging database"),
        "{}",
        text(&result)
    );
    // Carol's first read is served from the cache after her own access
    // check; Alice's second needs none, her download a moment ago having
    // proved her access (a check is reused for a minute).
    let carol = server.client("/mcp", Some(TOKEN_C), &[]).await;
    let again = call_ok(&carol, "tail_logs", args.clone()).await;
    assert_eq!(again["entries"], tail["entries"]);
    let again = call_ok(&alice, "tail_logs", args).await;
    assert_eq!(again["entries"], tail["entries"]);
    let log = format!("{JOB}/log");
    assert_eq!(
        requests(&api).await,
        [
            format!("GET {JOB}"),
            format!("GET {log}"),
            format!("HEAD {log}"),
            format!("HEAD {log}"),
        ]
    );
    let auth = authorizations(&api).await;
    let (a, b, c) = (
        vec![bearer(TOKEN_A)],
        vec![bearer(TOKEN_B)],
        vec![bearer(TOKEN_C)],
    );
    assert_eq!(auth, [a.clone(), a, b, c]);
}

/// Under passthrough, each caller sees the tools its own token can run:
/// its scopes are read on its first request and reused for the next ones.
#[tokio::test]
async fn each_passthrough_token_lists_the_tools_its_scopes_allow() {
    let api = MockServer::start().await;
    for (token, scopes) in [
        (
            TOKEN_A,
            json!(["read_builds", "read_build_logs", "write_builds"]),
        ),
        (TOKEN_B, json!(["read_clusters"])),
    ] {
        let mut body = fixture("access_token.json");
        body["scopes"] = scopes;
        Mock::given(method("GET"))
            .and(path("/v2/access-token"))
            .and(wiremock::matchers::header(
                "authorization",
                bearer(token).as_str(),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&api)
            .await;
    }
    let server = launch(&api)
        .args(&["--passthrough-http-header", "Authorization"])
        .env("BK_MCP_LIST_ALL_TOOLS", "false")
        .start()
        .await;
    let names = |token: &'static str| {
        let server = &server;
        async move {
            let response = server
                .post("/mcp", &list_body(), &[("authorization", &bearer(token))])
                .await;
            let message = rpc_message(response).await;
            message["result"]["tools"]
                .as_array()
                .expect("tools")
                .iter()
                .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<String>>()
        }
    };
    for _ in 0..2 {
        let alice = names(TOKEN_A).await;
        assert!(alice.contains(&"cancel_build".to_owned()), "{alice:?}");
        assert!(alice.contains(&"tail_logs".to_owned()), "{alice:?}");
        assert!(!alice.contains(&"list_clusters".to_owned()), "{alice:?}");
        let bob = names(TOKEN_B).await;
        assert!(bob.contains(&"list_clusters".to_owned()), "{bob:?}");
        assert!(!bob.contains(&"get_build".to_owned()), "{bob:?}");
    }
    // One scopes read per token, however many lists.
    let reads = requests(&api)
        .await
        .iter()
        .filter(|r| r.ends_with("/v2/access-token"))
        .count();
    assert_eq!(reads, 2);
}
