//! Pacing to the organization's rate limit: concurrent callers share what
//! is left of the window instead of running into 429s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use buildkite_api::testing::BudgetWindow;
use buildkite_api::{Client, Error, RetryPolicy};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// An API with a budget, that says so in the real headers and answers 429
/// past it.
struct Budget {
    window: BudgetWindow,
    rejected: Arc<AtomicU64>,
}

impl Respond for Budget {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let counted = self.window.count();
        let mut template = if counted.over {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(429).set_body_json(
                serde_json::json!({"message": "You have exceeded your API rate limit"}),
            )
        } else {
            ResponseTemplate::new(200).set_body_json(serde_json::json!([]))
        };
        for (name, value) in &counted.headers {
            template = template.insert_header(*name, value.as_str());
        }
        template
    }
}

async fn budget_api(limit: u64, window: Duration) -> (MockServer, Arc<AtomicU64>) {
    let server = MockServer::start().await;
    let rejected = Arc::new(AtomicU64::new(0));
    Mock::given(method("GET"))
        .and(path_regex("^/v2/organizations/acme/"))
        .respond_with(Budget {
            window: BudgetWindow::new(limit, window),
            rejected: Arc::clone(&rejected),
        })
        .mount(&server)
        .await;
    (server, rejected)
}

fn client(server: &MockServer, budget: Duration) -> Client {
    Client::builder()
        .token("bkua_pacing")
        .base_url(server.uri())
        .retry_policy(RetryPolicy {
            max_retries: 4,
            budget,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        })
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_concurrent_callers_share_the_window_with_few_429s() {
    // 30 requests per 2 s; six callers want 90 between them.
    let (server, rejected) = budget_api(30, Duration::from_secs(2)).await;
    let client = client(&server, Duration::from_secs(20));
    let mut callers = Vec::new();
    for caller in 0..6 {
        let client = client.clone();
        callers.push(tokio::spawn(async move {
            for page in 0..15 {
                let params = buildkite_api::ListPipelinesParams {
                    page: Some(caller * 100 + page + 1),
                    ..Default::default()
                };
                client.list_pipelines("acme", &params).await?;
            }
            Ok::<_, Error>(())
        }));
    }
    let started = Instant::now();
    for caller in callers {
        caller.await.expect("task").expect("every read succeeds");
    }
    let rejected = rejected.load(Ordering::SeqCst);
    // The first answer tells the window; at most the requests already in
    // flight then can meet a 429.
    assert!(rejected <= 6, "{rejected} answers were 429");
    // 90 requests at 30 per 2 s need at least two resets.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_wait_past_the_budget_fails_at_once_saying_when_to_retry() {
    let (server, _) = budget_api(3, Duration::from_secs(30)).await;
    let client = client(&server, Duration::from_secs(1));
    let params = buildkite_api::ListPipelinesParams::default();
    // The reserve for writes is one request: two reads go.
    client.list_pipelines("acme", &params).await.expect("first");
    client
        .list_pipelines("acme", &params)
        .await
        .expect("second");
    let started = Instant::now();
    let error = client
        .list_pipelines("acme", &params)
        .await
        .expect_err("paced out");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "no long wait"
    );
    let Error::RateLimited {
        retry_after,
        message,
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(
        retry_after.is_some_and(|w| w > Duration::from_secs(20)),
        "{retry_after:?}"
    );
    assert!(
        message.contains("not sent") && message.contains("acme"),
        "{message}"
    );
    assert_eq!(
        server.received_requests().await.expect("requests").len(),
        2,
        "the paced request was never sent"
    );
}

#[tokio::test]
async fn a_call_with_a_deadline_never_waits_past_it() {
    let (server, _) = budget_api(3, Duration::from_secs(30)).await;
    // The retry budget would allow a wait for the reset; the call's
    // deadline does not.
    let client = client(&server, Duration::from_secs(60)).for_call_until(
        "list_pipelines",
        Instant::now() + Duration::from_millis(300),
    );
    // Other pages: one call reads each URL once.
    let page = |n| buildkite_api::ListPipelinesParams {
        page: Some(n),
        ..Default::default()
    };
    client
        .list_pipelines("acme", &page(1))
        .await
        .expect("first");
    client
        .list_pipelines("acme", &page(2))
        .await
        .expect("second");
    let started = Instant::now();
    let error = client
        .list_pipelines("acme", &page(3))
        .await
        .expect_err("paced out");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "waited {:?}",
        started.elapsed()
    );
    assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    assert!(
        client
            .rate_limited()
            .is_some_and(|wait| wait > Duration::from_secs(20)),
        "the call knows the rate limit stopped it, and for how long"
    );
}
