//! Walking numbered and cursor pages through the client.

use buildkite_api::{ListJobsParams, ListPipelinesParams, collect_cursor_pages, collect_pages};
use serde_json::json;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{api, fixture, json as fixture_response};

/// Pipelines named p1..p{n}, as the API would list them.
fn pipelines(range: std::ops::RangeInclusive<u32>) -> serde_json::Value {
    let template = fixture("pipeline.json");
    let items: Vec<_> = range
        .map(|n| {
            let mut p = template.clone();
            p["slug"] = json!(format!("p{n}"));
            p
        })
        .collect();
    json!(items)
}

#[tokio::test]
async fn collect_pages_follows_link_headers_to_the_end() {
    let api = api().await;
    let base = api.server.uri();
    for page in 1..=3u32 {
        let mut response = ResponseTemplate::new(200)
            .set_body_json(pipelines(page * 2 - 1..=page * 2))
            .insert_header("RateLimit-Remaining", (200 - page).to_string().as_str());
        if page < 3 {
            response = response.insert_header(
                "link",
                format!(
                    "<{base}/v2/organizations/acme/pipelines?page={}&per_page=2>; rel=\"next\", <{base}/v2/organizations/acme/pipelines?page=3&per_page=2>; rel=\"last\"",
                    page + 1
                )
                .as_str(),
            );
        }
        Mock::given(method("GET"))
            .and(path("/v2/organizations/acme/pipelines"))
            .and(query_param("page", page.to_string().as_str()))
            .and(query_param("per_page", "2"))
            .respond_with(response)
            .expect(1)
            .mount(&api.server)
            .await;
    }
    let client = api.client.clone();
    let all = collect_pages(100, move |page| {
        let client = client.clone();
        async move {
            let params = ListPipelinesParams {
                page: Some(page),
                per_page: Some(2),
                ..ListPipelinesParams::default()
            };
            client.list_pipelines("acme", &params).await
        }
    })
    .await
    .unwrap();
    let slugs: Vec<_> = all.items.iter().map(|p| p.slug.clone()).collect();
    assert_eq!(slugs, ["p1", "p2", "p3", "p4", "p5", "p6"]);
    assert!(!all.truncated);
    assert_eq!(all.pages_fetched, 3);
    let last = api.client.last_rate_limit();
    assert_eq!(last.organization.and_then(|w| w.remaining), Some(197));
}

#[tokio::test]
async fn collect_pages_stops_at_the_cap_without_fetching_more() {
    let api = api().await;
    let base = api.server.uri();
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines"))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(pipelines(1..=3))
                .insert_header(
                    "link",
                    format!("<{base}/v2/organizations/acme/pipelines?page=2>; rel=\"next\"")
                        .as_str(),
                ),
        )
        .expect(1)
        .mount(&api.server)
        .await;
    let client = api.client.clone();
    let all = collect_pages(2, move |page| {
        let client = client.clone();
        async move {
            let params = ListPipelinesParams {
                page: Some(page),
                ..ListPipelinesParams::default()
            };
            client.list_pipelines("acme", &params).await
        }
    })
    .await
    .unwrap();
    assert_eq!(all.items.len(), 2);
    assert!(all.truncated);
}

#[tokio::test]
async fn an_empty_or_null_page_has_no_items_and_no_next() {
    let api = api().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines"))
        .and(query_param("name", "none"))
        .respond_with(ResponseTemplate::new(200).set_body_string("null"))
        .mount(&api.server)
        .await;
    let params = ListPipelinesParams {
        name: Some("none".into()),
        ..ListPipelinesParams::default()
    };
    let page = api.client.list_pipelines("acme", &params).await.unwrap();
    assert!(page.items.is_empty());
    assert!(!page.has_more());
}

#[tokio::test]
async fn collect_cursor_pages_walks_the_jobs_list() {
    let api = api().await;
    let jobs = "/v2/organizations/acme/pipelines/app/builds/42/jobs";
    Mock::given(method("GET"))
        .and(path(jobs))
        .and(query_param_is_missing("after"))
        .respond_with(fixture_response(200, "jobs_page1.json"))
        .expect(1)
        .mount(&api.server)
        .await;
    Mock::given(method("GET"))
        .and(path(jobs))
        .and(query_param("after", "eyJpZCI6Mn0"))
        .respond_with(fixture_response(200, "jobs_page2.json"))
        .expect(1)
        .mount(&api.server)
        .await;
    let client = api.client.clone();
    let all = collect_cursor_pages(100, move |after| {
        let client = client.clone();
        async move {
            let params = ListJobsParams {
                after,
                per_page: Some(2),
                ..ListJobsParams::default()
            };
            client.list_jobs("acme", "app", 42, &params).await
        }
    })
    .await
    .unwrap();
    let kinds: Vec<_> = all.items.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds, ["script", "script", "waiter"]);
    assert_eq!(all.pages_fetched, 2);
    assert!(!all.truncated);
}
