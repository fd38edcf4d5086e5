//! Organizations, current user and access token.

use buildkite_api::PageParams;
use wiremock::Mock;
use wiremock::matchers::{method, path, query_param};

use crate::common::{api, authorized, json};

#[tokio::test]
async fn list_organizations_sends_paging_and_reads_link() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations"))
        .and(query_param("page", "2"))
        .and(query_param("per_page", "2"))
        .and(authorized())
        .respond_with(json(200, "organizations.json").insert_header(
            "link",
            r#"<https://api.buildkite.com/v2/organizations?page=3&per_page=2>; rel="next""#,
        ))
        .expect(1)
        .mount(&api.server)
        .await;

    let page = api
        .client
        .list_organizations(&PageParams::new(2, 2))
        .await
        .unwrap();
    let slugs: Vec<_> = page.items.iter().map(|o| o.slug.as_str()).collect();
    assert_eq!(slugs, ["acme", "acme-oss"]);
    assert_eq!(page.next_page, Some(3));
}

#[tokio::test]
async fn get_organization_by_slug() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme"))
        .and(authorized())
        .respond_with(json(200, "organization.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let org = api.client.get_organization("acme").await.unwrap();
    assert_eq!(org.id, "bb3125de-4dc9-44cf-ad18-65d2b71a5a34");
    assert_eq!(
        org.created_at.unwrap().to_string(),
        "2015-05-09T21:05:59.874Z"
    );
}

#[tokio::test]
async fn current_user() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .and(authorized())
        .respond_with(json(200, "user.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let user = api.client.current_user().await.unwrap();
    assert_eq!(user.id, "3d3c3bf0-7d58-4afe-8fe7-b3017d5504de");
    assert_eq!(user.email, "sam@example.com");
}

#[tokio::test]
async fn access_token_with_legacy_timestamp_and_scopes() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/access-token"))
        .and(authorized())
        .respond_with(json(200, "access_token.json"))
        .expect(1)
        .mount(&api.server)
        .await;

    let token = api.client.access_token().await.unwrap();
    assert_eq!(token.uuid, "c7e2a0d4-58b1-4f3e-9a6d-2e8f1b7c3a95");
    assert!(token.has_scope("read_builds"));
    assert!(!token.has_scope("write_everything"));
    assert_eq!(
        token.created_at.unwrap().to_string(),
        "2025-07-16T06:07:42.000Z"
    );
    assert_eq!(token.expires_at, None);
}
