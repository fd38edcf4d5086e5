//! The read cache, the per-call memo and coalescing: fewer requests, and
//! never one caller's answer for another.

use std::time::Duration;

use buildkite_api::{Client, GetBuildParams};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{fast_retries, fixture};

const BUILD: &str = "/v2/organizations/acme/pipelines/app/builds/42";

fn client(server: &MockServer, token: &str, ttl: Duration) -> Client {
    Client::builder()
        .token(token)
        .base_url(server.uri())
        .retry_policy(fast_retries())
        .read_cache_ttl(ttl)
        .build()
        .expect("client")
}

/// Serves build 42 to `token` only, with a message naming the token, after
/// `delay`.
async fn mount_build_for(server: &MockServer, token: &str, delay: Duration) {
    let mut build = fixture("build.json");
    build["message"] = serde_json::json!(format!("seen by {token}"));
    Mock::given(method("GET"))
        .and(path(BUILD))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(build)
                .set_delay(delay),
        )
        .mount(server)
        .await;
}

async fn gets(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count()
}

#[tokio::test]
async fn answers_are_reused_per_caller_and_never_across_tokens() {
    let server = MockServer::start().await;
    mount_build_for(&server, "bkua_alice", Duration::ZERO).await;
    mount_build_for(&server, "bkua_bob", Duration::ZERO).await;
    let alice = client(&server, "bkua_alice", Duration::from_secs(30));
    // Bob's handle shares Alice's client (one pool, one cache), as the HTTP
    // server's per-request handles do.
    let bob = alice.with_token(Some(
        buildkite_api::ApiToken::new("bkua_bob").expect("token"),
    ));
    let params = GetBuildParams::default();
    for _ in 0..3 {
        let build = alice
            .get_build("acme", "app", 42, &params)
            .await
            .expect("alice");
        assert_eq!(build.message.as_deref(), Some("seen by bkua_alice"));
    }
    assert_eq!(
        gets(&server).await,
        1,
        "Alice's repeats come from the cache"
    );
    let build = bob
        .get_build("acme", "app", 42, &params)
        .await
        .expect("bob");
    assert_eq!(
        build.message.as_deref(),
        Some("seen by bkua_bob"),
        "never Alice's answer"
    );
    assert_eq!(gets(&server).await, 2);
    // Fresh reads go out, and refresh the cache.
    alice
        .fresh_reads()
        .get_build("acme", "app", 42, &params)
        .await
        .expect("fresh");
    assert_eq!(gets(&server).await, 3);
    alice
        .get_build("acme", "app", 42, &params)
        .await
        .expect("cached again");
    assert_eq!(gets(&server).await, 3);
}

#[tokio::test]
async fn answers_expire_and_a_zero_ttl_keeps_none() {
    let server = MockServer::start().await;
    mount_build_for(&server, "bkua_alice", Duration::ZERO).await;
    let short = client(&server, "bkua_alice", Duration::from_millis(200));
    let params = GetBuildParams::default();
    short
        .get_build("acme", "app", 42, &params)
        .await
        .expect("first");
    short
        .get_build("acme", "app", 42, &params)
        .await
        .expect("cached");
    assert_eq!(gets(&server).await, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    short
        .get_build("acme", "app", 42, &params)
        .await
        .expect("expired");
    assert_eq!(gets(&server).await, 2);
    let off = client(&server, "bkua_alice", Duration::ZERO);
    off.get_build("acme", "app", 42, &params)
        .await
        .expect("off");
    off.get_build("acme", "app", 42, &params)
        .await
        .expect("off");
    assert_eq!(gets(&server).await, 4);
}

#[tokio::test]
async fn a_call_never_fetches_a_url_twice_and_counts_its_requests() {
    let server = MockServer::start().await;
    mount_build_for(&server, "bkua_alice", Duration::ZERO).await;
    // Even with the shared cache off, one call reads a URL once.
    let call = client(&server, "bkua_alice", Duration::ZERO).for_call("get_build");
    let params = GetBuildParams::default();
    for _ in 0..3 {
        call.get_build("acme", "app", 42, &params)
            .await
            .expect("read");
    }
    assert_eq!(gets(&server).await, 1);
    assert_eq!(call.requests_sent(), 1);
    // A poll must see the build now: fresh reads skip the call's memory.
    call.fresh_reads()
        .get_build("acme", "app", 42, &params)
        .await
        .expect("poll");
    assert_eq!(gets(&server).await, 2);
    assert_eq!(call.requests_sent(), 2);
    // Another call starts with nothing remembered.
    let next = client(&server, "bkua_alice", Duration::ZERO).for_call("get_build");
    next.get_build("acme", "app", 42, &params)
        .await
        .expect("read");
    assert_eq!((gets(&server).await, next.requests_sent()), (3, 1));
}

#[tokio::test]
async fn identical_concurrent_reads_are_one_request_per_caller() {
    let server = MockServer::start().await;
    mount_build_for(&server, "bkua_alice", Duration::from_millis(300)).await;
    mount_build_for(&server, "bkua_bob", Duration::from_millis(300)).await;
    let alice = client(&server, "bkua_alice", Duration::from_secs(30));
    let bob = alice.with_token(Some(
        buildkite_api::ApiToken::new("bkua_bob").expect("token"),
    ));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let who = if i % 2 == 0 {
            alice.clone()
        } else {
            bob.clone()
        };
        tasks.push(tokio::spawn(async move {
            who.get_build("acme", "app", 42, &GetBuildParams::default())
                .await
                .map(|b| b.message)
        }));
    }
    let mut seen = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let message = task.await.expect("task").expect("read");
        let expected = if i % 2 == 0 {
            "seen by bkua_alice"
        } else {
            "seen by bkua_bob"
        };
        assert_eq!(message.as_deref(), Some(expected));
        seen.push(message);
    }
    assert_eq!(
        gets(&server).await,
        2,
        "one request per caller for 20 reads"
    );
    // With the cache off (the library's default), nothing is merged.
    let server = MockServer::start().await;
    mount_build_for(&server, "bkua_alice", Duration::from_millis(100)).await;
    let plain = client(&server, "bkua_alice", Duration::ZERO);
    let reads = (0..4).map(|_| {
        let plain = plain.clone();
        tokio::spawn(async move {
            plain
                .get_build("acme", "app", 42, &GetBuildParams::default())
                .await
        })
    });
    for read in reads.collect::<Vec<_>>() {
        read.await.expect("task").expect("read");
    }
    assert_eq!(gets(&server).await, 4);
}

#[tokio::test]
async fn a_failed_read_is_not_shared_and_not_kept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(BUILD))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(serde_json::json!({"message": "Not Found"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_build_for(&server, "bkua_alice", Duration::ZERO).await;
    let alice = client(&server, "bkua_alice", Duration::from_secs(30));
    let params = GetBuildParams::default();
    assert!(alice.get_build("acme", "app", 42, &params).await.is_err());
    let build = alice
        .get_build("acme", "app", 42, &params)
        .await
        .expect("the next read asks again");
    assert_eq!(build.message.as_deref(), Some("seen by bkua_alice"));
    assert_eq!(gets(&server).await, 2);
}
