//! The `user` toolset.

use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{authorized, harness, json};

#[tokio::test]
async fn current_user_returns_the_essentials() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .and(authorized())
        .respond_with(json(200, "user.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let user = h.ok("current_user", json!({})).await;
    insta::assert_json_snapshot!(user);
}

#[tokio::test]
async fn user_token_organization_returns_the_first_and_mentions_others() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations"))
        .and(query_param("per_page", "100"))
        .respond_with(json(200, "organizations.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let org = h.ok("user_token_organization", json!({})).await;
    assert_eq!(org["slug"], "acme");
    assert_eq!(org["other_organizations"], 1);
    insta::assert_json_snapshot!(org);
}

#[tokio::test]
async fn user_token_organization_with_no_organization_is_a_clear_error() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&h.server)
        .await;
    let error = h.err("user_token_organization", json!({})).await;
    assert!(error.starts_with("no organization found"), "{error}");
}

#[tokio::test]
async fn access_token_lists_scopes() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/access-token"))
        .respond_with(json(200, "access_token.json"))
        .expect(1)
        .mount(&h.server)
        .await;
    let token = h.ok("access_token", json!({})).await;
    assert_eq!(token["scopes"][0], "read_builds");
    insta::assert_json_snapshot!(token);
}

#[tokio::test]
async fn list_organizations_pages() {
    let h = harness().await;
    let next = format!(
        "<{}/v2/organizations?page=3&per_page=2>; rel=\"next\"",
        h.server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/v2/organizations"))
        .and(query_param("page", "2"))
        .and(query_param("per_page", "2"))
        .respond_with(json(200, "organizations.json").insert_header("link", next.as_str()))
        .expect(1)
        .mount(&h.server)
        .await;
    let page = h
        .ok("list_organizations", json!({"page": 2, "per_page": 2}))
        .await;
    assert_eq!(page["next_page"], 3);
    assert_eq!(page["has_more"], true);
    insta::assert_json_snapshot!(page);
}

#[tokio::test]
async fn a_403_names_the_missing_scope_and_a_401_is_flagged() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(json(403, "error_403_scope.json"))
        .mount(&h.server)
        .await;
    let error = h.err("current_user", json!({})).await;
    assert!(error.contains("GET /v2/user: 403 Forbidden"), "{error}");
    assert!(error.contains("needs the token scope read_user"), "{error}");

    Mock::given(method("GET"))
        .and(path("/v2/access-token"))
        .respond_with(json(401, "error_401.json"))
        .mount(&h.server)
        .await;
    let result = h.call("access_token", json!({})).await;
    assert!(result.is_error && result.unauthorized);
    assert!(result.text.contains("401 Unauthorized"), "{}", result.text);
}

#[tokio::test]
async fn list_organizations_rate_limited_says_when_to_retry() {
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations"))
        .respond_with(
            json(429, "error_429.json")
                .insert_header("RateLimit-Remaining", "0")
                .insert_header("RateLimit-Reset", "42"),
        )
        .mount(&h.server)
        .await;
    let error = h.err("list_organizations", json!({})).await;
    assert!(
        error.contains("GET /v2/organizations?page=1&per_page=30: 429"),
        "{error}"
    );
    assert!(
        error.ends_with("The rate limit resets in 42 s: retry after that."),
        "{error}"
    );
}
