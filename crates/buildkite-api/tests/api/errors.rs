//! Each error class: status mapping, the API's message, the call that failed,
//! and never the token.

use std::time::Duration;

use buildkite_api::{
    Client, Error, JobRef, ListBuildsParams, RetryPolicy, StatusCode, TransportKind,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{TOKEN, api, fixture_text, json};

/// Mounts one response for `GET /v2/user` and returns the error it causes.
async fn user_error(response: ResponseTemplate) -> Error {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(response)
        .mount(&api.server)
        .await;
    let error = api.client.current_user().await.unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("GET /v2/user: "), "{text}");
    assert!(!text.contains(TOKEN) && !format!("{error:?}").contains(TOKEN));
    error
}

#[tokio::test]
async fn unauthorized_401() {
    let error = user_error(json(401, "error_401.json")).await;
    assert!(matches!(error, Error::Unauthorized { .. }), "{error:?}");
    assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED));
    assert!(error.to_string().contains("Authentication required"));
    assert!(!error.is_transient());
}

#[tokio::test]
async fn forbidden_403_keeps_the_scope_message() {
    let error = user_error(json(403, "error_403_scope.json")).await;
    assert!(matches!(error, Error::Forbidden { .. }), "{error:?}");
    assert_eq!(
        error.api_message(),
        Some("Your access token doesn't have the required scope")
    );
}

#[tokio::test]
async fn not_found_404_names_the_path() {
    let api = api().await;
    let job = JobRef::in_build("acme", "app", 42, "nope");
    Mock::given(method("GET"))
        .and(path(
            "/v2/organizations/acme/pipelines/app/builds/42/jobs/nope",
        ))
        .respond_with(json(404, "error_404_job.json"))
        .mount(&api.server)
        .await;
    let error = api.client.get_job(&job).await.unwrap_err();
    assert!(matches!(error, Error::NotFound { .. }));
    assert_eq!(
        error.to_string(),
        "GET /v2/organizations/acme/pipelines/app/builds/42/jobs/nope: 404 Not Found: No job found"
    );
    assert_eq!(
        error.request().map(|r| r.path.as_str()),
        Some("/v2/organizations/acme/pipelines/app/builds/42/jobs/nope")
    );
}

#[tokio::test]
async fn gone_410() {
    let error =
        user_error(ResponseTemplate::new(410).set_body_json(
            serde_json::json!({"message": "Step uploads are only kept for 30 days"}),
        ))
        .await;
    assert!(matches!(error, Error::Gone { .. }));
    assert!(
        error
            .to_string()
            .contains("410 Gone: Step uploads are only kept")
    );
}

#[tokio::test]
async fn unprocessable_422_lists_field_errors() {
    let error = user_error(json(422, "error_422_validation.json")).await;
    let Error::Unprocessable {
        errors, message, ..
    } = &error
    else {
        panic!("expected 422, got {error:?}");
    };
    assert_eq!(message, "Validation Failed");
    assert_eq!(errors[0].field.as_deref(), Some("configuration"));
    assert!(
        error
            .to_string()
            .contains("(configuration: Step configuration is missing")
    );
}

#[tokio::test]
async fn rate_limited_429_reports_reset_when_the_budget_cannot_wait() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(
            json(429, "error_429.json")
                .insert_header("RateLimit-User-Limit", "50")
                .insert_header("RateLimit-User-Remaining", "0")
                .insert_header("RateLimit-User-Reset", "42"),
        )
        .expect(1)
        .mount(&api.server)
        .await;
    let error = api.client.current_user().await.unwrap_err();
    let Error::RateLimited {
        retry_after,
        rate_limit,
        ..
    } = &error
    else {
        panic!("expected 429, got {error:?}");
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(42)));
    assert_eq!(rate_limit.user.and_then(|w| w.remaining), Some(0));
    assert!(
        error.to_string().ends_with("(the limit resets in 42 s)"),
        "{error}"
    );
    assert!(error.is_transient());
}

#[tokio::test]
async fn server_error_5xx() {
    let error = user_error(
        ResponseTemplate::new(500).set_body_json(serde_json::json!({"message": "Internal error"})),
    )
    .await;
    assert!(
        matches!(error, Error::Server { status, .. } if status == StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert!(
        error
            .to_string()
            .ends_with("500 Internal Server Error: Internal error")
    );
}

#[tokio::test]
async fn html_error_page_is_one_line() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(
            ResponseTemplate::new(502).set_body_raw(fixture_text("error_502.html"), "text/html"),
        )
        .mount(&api.server)
        .await;
    let error = api.client.current_user().await.unwrap_err();
    let text = error.to_string();
    assert!(!text.contains('\n') && !text.contains('<'), "{text}");
    assert!(
        text.ends_with(
            "502 Bad Gateway: an HTML error page (not from the Buildkite API): 502 Bad Gateway"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn other_4xx_is_http_with_the_api_message() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/builds"))
        .respond_with(json(400, "error_400_too_deep.json"))
        .mount(&api.server)
        .await;
    let params = ListBuildsParams {
        page: Some(500),
        ..ListBuildsParams::default()
    };
    let error = api
        .client
        .list_organization_builds("acme", &params)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Http { status, .. } if status == StatusCode::BAD_REQUEST));
    assert!(
        error
            .to_string()
            .contains("Listing builds this deep is not supported")
    );
    assert!(
        error
            .to_string()
            .contains("/v2/organizations/acme/builds?page=500")
    );
}

#[tokio::test]
async fn undecodable_body_is_a_decode_error_with_an_excerpt() {
    let error = user_error(
        ResponseTemplate::new(200)
            .set_body_raw("{\"id\": 12, \"name\":\n \"x\"}", "application/json"),
    )
    .await;
    let Error::Decode {
        excerpt, message, ..
    } = &error
    else {
        panic!("expected a decode error, got {error:?}");
    };
    assert_eq!(excerpt, "{\"id\": 12, \"name\": \"x\"}");
    assert!(message.contains("invalid type"), "{message}");
    assert!(
        error.to_string().contains("body starts with \"{\\\"id\\\""),
        "{error}"
    );
}

#[tokio::test]
async fn an_empty_body_is_said_to_be_empty() {
    let error = user_error(ResponseTemplate::new(200).set_body_raw("", "application/json")).await;
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.ends_with("; the body was empty"), "{text}");
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}/"))
        .token(TOKEN)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let error = client.current_user().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("GET /v2/user: could not connect"),
        "{error}"
    );
    assert!(!error.to_string().contains(TOKEN));
}

#[tokio::test]
async fn slow_response_is_a_timeout_and_is_not_retried() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json(200, "user.json").set_delay(Duration::from_secs(3)))
        .expect(1)
        .mount(&api.server)
        .await;
    let client = Client::builder()
        .base_url(api.server.uri())
        .request_timeout(Duration::from_millis(200))
        .retry_policy(crate::common::fast_retries())
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let error = client.current_user().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}
