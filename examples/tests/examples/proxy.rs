//! The reverse proxy against a stand-in for `bk-mcp-http`: an axum server
//! that records what reaches it and can hold an event stream open.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use base64::Engine as _;
use bk_examples::proxy::{ProxyConfig, User, Users, router};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio::sync::{Notify, mpsc};

/// What reached the upstream.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Default)]
struct Upstream {
    seen: Mutex<Vec<Seen>>,
    /// Lets the event stream send its second event.
    release: Notify,
}

const ALICE_KEY: &str = "alice-key-0123456789";
const BOB_KEY: &str = "bob-key-0123456789ab";

async fn upstream_handler(State(upstream): State<Arc<Upstream>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    upstream.seen.lock().expect("lock").push(Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts.headers.clone(),
        body,
    });
    if parts.uri.path() == "/mcp/stream" {
        // An event now, the next one only when the test says so: a proxy
        // that buffered the response would never deliver the first.
        let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let upstream = Arc::clone(&upstream);
        tokio::spawn(async move {
            let _ = sender
                .send(Ok(Bytes::from_static(
                    b"event: message\ndata: {\"n\":1}\n\n",
                )))
                .await;
            upstream.release.notified().await;
            let _ = sender
                .send(Ok(Bytes::from_static(
                    b"event: message\ndata: {\"n\":2}\n\n",
                )))
                .await;
        });
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        });
        return Response::builder()
            .header("content-type", "text/event-stream")
            .header("cache-control", "no-cache")
            .header("mcp-session-id", "session-1")
            .body(Body::from_stream(stream))
            .expect("response");
    }
    let status = if parts.method == http::Method::DELETE {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("mcp-session-id", "session-1")
        .body(Body::from(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#))
        .expect("response")
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    address
}

struct Setup {
    proxy: String,
    upstream: Arc<Upstream>,
    http: reqwest::Client,
}

impl Setup {
    async fn new() -> Setup {
        let upstream = Arc::new(Upstream::default());
        let upstream_address = serve(
            Router::new()
                .fallback(any(upstream_handler))
                .with_state(Arc::clone(&upstream)),
        )
        .await;
        let users = Users::new(vec![
            User::new("alice", ALICE_KEY, "bkua_alice_token"),
            User::new("bob", BOB_KEY, "bkua_bob_token").read_only(),
        ])
        .expect("users");
        let app = router(ProxyConfig::new(
            format!("http://{upstream_address}/mcp"),
            users,
        ))
        .expect("router");
        let proxy = serve(app).await;
        Setup {
            proxy: format!("http://{proxy}"),
            upstream,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.upstream.seen.lock().expect("lock").clone()
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.proxy))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
    }
}

fn basic(name: &str, key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{name}:{key}"))
    )
}

fn authorizations(seen: &Seen) -> Vec<&str> {
    seen.headers
        .get_all("authorization")
        .iter()
        .map(|v| v.to_str().expect("ascii"))
        .collect()
}

#[tokio::test]
async fn each_user_gets_their_own_token() {
    let setup = Setup::new().await;
    let alice = setup
        .post("/mcp")
        .header("x-api-key", ALICE_KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(alice.status(), StatusCode::OK);
    assert_eq!(alice.headers()["mcp-session-id"], "session-1");
    assert_eq!(
        alice.text().await.expect("body"),
        r#"{"jsonrpc":"2.0","id":1,"result":{}}"#
    );
    let bob = setup
        .post("/mcp")
        .header("authorization", basic("bob", BOB_KEY))
        .send()
        .await
        .expect("sent");
    assert_eq!(bob.status(), StatusCode::OK);

    let seen = setup.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(authorizations(&seen[0]), vec!["Bearer bkua_alice_token"]);
    assert_eq!(authorizations(&seen[1]), vec!["Bearer bkua_bob_token"]);
    for request in &seen {
        assert_eq!(request.method, "POST");
        assert_eq!(request.uri, "/mcp");
        assert_eq!(
            request.body,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        );
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(
            request.headers["accept"],
            "application/json, text/event-stream"
        );
        assert!(
            request.headers.get("x-api-key").is_none(),
            "the proxy key stays at the proxy"
        );
    }
    // Bob is read-only: the server is told so; Alice is not narrowed.
    assert_eq!(seen[1].headers["x-buildkite-read-only"], "true");
    assert!(seen[0].headers.get("x-buildkite-read-only").is_none());
}

#[tokio::test]
async fn unknown_or_missing_credentials_get_401_and_go_nowhere() {
    let setup = Setup::new().await;
    let attempts = [
        setup.post("/mcp"),
        setup
            .post("/mcp")
            .header("x-api-key", "not-a-key-of-anyone"),
        setup
            .post("/mcp")
            .header("authorization", basic("alice", BOB_KEY)),
        setup
            .post("/mcp")
            .header("authorization", basic("mallory", ALICE_KEY)),
        // A Buildkite token sent straight to the proxy is not a credential.
        setup
            .post("/mcp")
            .header("authorization", "Bearer bkua_someone_elses"),
        setup
            .post("/mcp/readonly")
            .header("x-api-key", ALICE_KEY.to_uppercase()),
    ];
    for attempt in attempts {
        let response = attempt.send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .expect("ascii");
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
    }
    assert!(setup.seen().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn the_clients_own_authorization_is_never_forwarded() {
    let setup = Setup::new().await;
    let response = setup
        .post("/mcp")
        .header("x-api-key", ALICE_KEY)
        .header("authorization", "Bearer bkua_smuggled")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("cookie", "session=abc")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "1")
        .header("x-buildkite-toolsets", "builds")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let seen = setup.seen();
    assert_eq!(authorizations(&seen[0]), vec!["Bearer bkua_alice_token"]);
    for dropped in ["proxy-authorization", "cookie", "x-hop", "x-api-key"] {
        assert!(
            seen[0].headers.get(dropped).is_none(),
            "{dropped} was forwarded"
        );
    }
    // Narrowing headers pass: the server checks they only narrow.
    assert_eq!(seen[0].headers["x-buildkite-toolsets"], "builds");
}

#[tokio::test]
async fn a_read_only_user_cannot_lift_read_only() {
    let setup = Setup::new().await;
    setup
        .post("/mcp")
        .header("x-api-key", BOB_KEY)
        .header("x-buildkite-read-only", "false")
        .send()
        .await
        .expect("sent");
    let seen = setup.seen();
    let values: Vec<_> = seen[0]
        .headers
        .get_all("x-buildkite-read-only")
        .iter()
        .collect();
    assert_eq!(values, vec!["true"]);
}

#[tokio::test]
async fn paths_queries_and_methods_pass_through() {
    let setup = Setup::new().await;
    let response = setup
        .post("/mcp/x/builds,logs/readonly?trace=1")
        .header("x-api-key", ALICE_KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let response = setup
        .http
        .delete(format!("{}/mcp", setup.proxy))
        .header("x-api-key", ALICE_KEY)
        .header("mcp-session-id", "session-1")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let seen = setup.seen();
    assert_eq!(seen[0].uri, "/mcp/x/builds,logs/readonly?trace=1");
    assert_eq!(seen[1].method, "DELETE");
    assert_eq!(seen[1].headers["mcp-session-id"], "session-1");
    assert!(seen[1].body.is_empty());

    // Only /mcp is proxied; /health is the proxy's own.
    let other = setup
        .http
        .get(format!("{}/admin", setup.proxy))
        .header("x-api-key", ALICE_KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    let health = setup
        .http
        .get(format!("{}/health", setup.proxy))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(setup.seen().len(), 2);
}

#[tokio::test]
async fn event_streams_arrive_as_they_are_sent() {
    let setup = Setup::new().await;
    let mut response = setup
        .http
        .get(format!("{}/mcp/stream", setup.proxy))
        .header("x-api-key", ALICE_KEY)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-cache");

    // The first event arrives while the upstream still holds the second.
    let mut received = String::new();
    while !received.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
            .await
            .expect("the first event arrives before the stream ends (no buffering)")
            .expect("read")
            .expect("a chunk");
        received.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
    assert_eq!(received, "event: message\ndata: {\"n\":1}\n\n");

    setup.upstream.release.notify_one();
    let rest = tokio::time::timeout(Duration::from_secs(5), response.text())
        .await
        .expect("the stream ends")
        .expect("read");
    assert_eq!(rest, "event: message\ndata: {\"n\":2}\n\n");
    assert_eq!(
        authorizations(&setup.seen()[0]),
        vec!["Bearer bkua_alice_token"]
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_502() {
    // A port nothing listens on: bind one, then free it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let users = Users::new(vec![User::new("alice", ALICE_KEY, "bkua_alice_token")]).expect("users");
    let proxy =
        serve(router(ProxyConfig::new(format!("http://{address}"), users)).expect("router")).await;
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(format!("http://{proxy}/mcp"))
        .header("x-api-key", ALICE_KEY)
        .body("{}")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let setup = Setup::new().await;
    let users = Users::new(vec![User::new("alice", ALICE_KEY, "bkua_alice_token")]).expect("users");
    let mut config = ProxyConfig::new(setup.proxy.clone(), users);
    config.max_body_bytes = 1024;
    let small = serve(router(config).expect("router")).await;
    let response = setup
        .http
        .post(format!("http://{small}/mcp"))
        .header("x-api-key", ALICE_KEY)
        .body(vec![b'x'; 4096])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(setup.seen().is_empty());
}
