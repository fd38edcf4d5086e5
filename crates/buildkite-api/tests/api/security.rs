//! Path escaping, credential scoping and per-call tokens.

use buildkite_api::{ApiToken, Client, Error, JobRef, ListPipelinesParams, header::HeaderMap};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{TOKEN, api, authorized, fast_retries, json};

#[tokio::test]
async fn traversal_in_a_slug_cannot_reach_another_endpoint() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/access-token"))
        .respond_with(json(200, "access_token.json"))
        .expect(0)
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(".*"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&api.server)
        .await;

    for slug in [
        "a/../access-token",
        "../../access-token#",
        "app?x=1",
        "a%2F..%2Fb",
    ] {
        let page = api
            .client
            .list_pipelines(slug, &ListPipelinesParams::default())
            .await
            .unwrap();
        assert!(page.items.is_empty());
    }
    let requests = api.server.received_requests().await.unwrap();
    let paths: Vec<_> = requests.iter().map(|r| r.url.path().to_owned()).collect();
    assert_eq!(
        paths,
        [
            "/v2/organizations/a%2F..%2Faccess-token/pipelines",
            "/v2/organizations/..%2F..%2Faccess-token%23/pipelines",
            "/v2/organizations/app%3Fx%3D1/pipelines",
            "/v2/organizations/a%252F..%252Fb/pipelines",
        ]
    );
    assert!(requests.iter().all(|r| r.url.query().is_none()));
}

#[tokio::test]
async fn dot_segments_and_empty_ids_are_refused_before_sending() {
    let api = api().await;
    for (org, job) in [("..", "j"), ("acme", "."), ("", "j"), ("acme", " ")] {
        let error = api
            .client
            .get_job(&JobRef::in_organization(org, job))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::InvalidArgument(_)), "{error:?}");
    }
    assert!(api.server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn base_url_path_prefix_is_kept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/proxy/buildkite/v2/user"))
        .respond_with(json(200, "user.json"))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder()
        .base_url(format!("{}/proxy/buildkite", server.uri()))
        .build()
        .unwrap();
    client.current_user().await.unwrap();
}

#[tokio::test]
async fn user_agent_and_default_headers_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .and(header(
            "user-agent",
            concat!("bk-mcp/", env!("CARGO_PKG_VERSION")),
        ))
        .and(header("x-team", "ci"))
        .and(header("accept", "application/json"))
        .respond_with(json(200, "user.json"))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder()
        .base_url(server.uri())
        .header("X-Team", "ci")
        .build()
        .unwrap();
    client.current_user().await.unwrap();
}

#[tokio::test]
async fn client_without_token_sends_no_authorization() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json(401, "error_401.json"))
        .mount(&server)
        .await;
    let client = Client::builder().base_url(server.uri()).build().unwrap();
    let error = client.current_user().await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized { .. }));
    let requests = server.received_requests().await.unwrap();
    assert!(!requests[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn per_call_tokens_replace_the_default_and_never_mix() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json(200, "user.json"))
        .mount(&api.server)
        .await;

    let alice = api
        .client
        .with_token(Some(ApiToken::new("bkua_alice").unwrap()));
    let bob = api
        .client
        .with_token(Some(ApiToken::new("bkua_bob").unwrap()));
    let anonymous = api.client.with_token(None);
    let mut calls = Vec::new();
    for i in 0..20 {
        let client = if i % 2 == 0 {
            alice.clone()
        } else {
            bob.clone()
        };
        calls.push(tokio::spawn(async move {
            client.current_user().await.map(|_| i)
        }));
    }
    for call in calls {
        call.await.unwrap().unwrap();
    }
    anonymous.current_user().await.unwrap();
    api.client.current_user().await.unwrap();

    let requests = api.server.received_requests().await.unwrap();
    let auth = |i: usize| {
        requests[i]
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let alice_count = (0..20)
        .filter(|&i| auth(i).as_deref() == Some("Bearer bkua_alice"))
        .count();
    let bob_count = (0..20)
        .filter(|&i| auth(i).as_deref() == Some("Bearer bkua_bob"))
        .count();
    assert_eq!((alice_count, bob_count), (10, 10));
    assert_eq!(
        auth(20),
        None,
        "an anonymous handle never falls back to the default token"
    );
    assert_eq!(auth(21), Some(format!("Bearer {TOKEN}")));
}

#[tokio::test]
async fn per_call_headers_go_to_the_api() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .and(header("x-passthrough", "yes"))
        .and(authorized())
        .respond_with(json(200, "user.json"))
        .expect(1)
        .mount(&api.server)
        .await;
    let mut extra = HeaderMap::new();
    extra.insert("x-passthrough", "yes".parse().unwrap());
    api.client.with_headers(extra).current_user().await.unwrap();
}

#[tokio::test]
async fn artifact_redirect_to_storage_carries_no_credentials() {
    let api_server = MockServer::start().await;
    let storage = MockServer::start().await;
    let job = JobRef::in_build("acme", "app", 42, "b63254c0-3271-4a98-8270-7cfbd6c2f14e");
    let download = "/v2/organizations/acme/pipelines/app/builds/42/jobs/b63254c0-3271-4a98-8270-7cfbd6c2f14e/artifacts/76365070-34d5-4104-8b91-952780f8029f/download";
    let signed = format!("{}/bucket/test.log?X-Amz-Signature=deadbeef", storage.uri());
    Mock::given(method("GET"))
        .and(path(download))
        .and(authorized())
        .and(header("x-team", "ci"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", signed.as_str()))
        .expect(1)
        .mount(&api_server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bucket/test.log"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("line 1\nline 2\n", "text/plain"))
        .expect(1)
        .mount(&storage)
        .await;

    let client = Client::builder()
        .base_url(api_server.uri())
        .token(TOKEN)
        .header("X-Team", "ci")
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let mut passthrough = HeaderMap::new();
    passthrough.insert("x-caller", "alice".parse().unwrap());
    let content = client
        .with_headers(passthrough)
        .download_artifact(&job, "76365070-34d5-4104-8b91-952780f8029f", 1024)
        .await
        .unwrap();
    assert_eq!(&content.bytes[..], b"line 1\nline 2\n");

    let to_storage = &storage.received_requests().await.unwrap()[0];
    for name in ["authorization", "x-team", "x-caller"] {
        assert!(
            !to_storage.headers.contains_key(name),
            "{name} leaked to storage"
        );
    }
}

#[tokio::test]
async fn storage_errors_do_not_echo_the_presigned_query() {
    let api_server = MockServer::start().await;
    let storage = MockServer::start().await;
    let job = JobRef::in_organization("acme", "j1");
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/jobs/j1/artifacts/a1/download"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/bucket/x?X-Amz-Signature=topsecretsig", storage.uri()).as_str(),
        ))
        .mount(&api_server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bucket/x"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            "application/xml",
        ))
        .mount(&storage)
        .await;
    let client = Client::builder()
        .base_url(api_server.uri())
        .build()
        .unwrap();
    let error = client
        .download_artifact(&job, "a1", 1024)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, Error::Http { status, .. } if status.as_u16() == 403),
        "a storage 403 is not a token-scope problem: {error:?}"
    );
    assert!(text.contains("GET /bucket/x: 403 Forbidden: artifact storage refused the download (AccessDenied: Request has expired)"), "{text}");
    assert!(text.contains("request the artifact again"), "{text}");
    assert!(!text.contains("topsecretsig"), "{text}");
}

#[tokio::test]
async fn same_origin_redirects_are_followed_with_credentials() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/old-name"))
        .respond_with(
            ResponseTemplate::new(301)
                .insert_header("location", "/v2/organizations/acme/pipelines/app"),
        )
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/app"))
        .and(authorized())
        .respond_with(json(200, "pipeline.json"))
        .expect(1)
        .mount(&api.server)
        .await;
    let pipeline = api.client.get_pipeline("acme", "old-name").await.unwrap();
    assert_eq!(pipeline.slug, "app");
}

#[tokio::test]
async fn redirect_loops_end_with_an_error() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/v2/user"))
        .mount(&api.server)
        .await;
    let error = api.client.current_user().await.unwrap_err();
    assert!(error.to_string().contains("redirects"), "{error}");
}

#[test]
fn the_token_is_not_in_debug_output() {
    let client = Client::new(TOKEN).unwrap();
    let scoped = client.with_token(Some(ApiToken::new("bkua_other_secret").unwrap()));
    for text in [format!("{client:?}"), format!("{scoped:?}")] {
        assert!(
            !text.contains(TOKEN) && !text.contains("other_secret"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn bodyless_writes_send_an_explicit_zero_length() {
    let api = api().await;
    Mock::given(method("PUT"))
        .and(path(
            "/v2/organizations/acme/pipelines/app/builds/42/cancel",
        ))
        .and(header("content-length", "0"))
        .respond_with(json(200, "build.json"))
        .expect(1)
        .mount(&api.server)
        .await;
    api.client.cancel_build("acme", "app", 42).await.unwrap();
}
