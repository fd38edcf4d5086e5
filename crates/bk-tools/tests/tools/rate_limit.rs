//! The organization's rate limit, end to end: six callers, each with its
//! own token, run a failure summary and a triage at once through a gateway
//! that stands for Buildkite's budget (30 requests per 2-second window, the
//! real `RateLimit-*` headers, and 429 past it). The client paces to the
//! headers: every call succeeds whole, and the gateway answers few 429s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use buildkite_api::testing::BudgetWindow;
use buildkite_api::{Client, RetryPolicy};
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::common::{TOKEN, harness};

/// Buildkite's budget in front of the mock API.
struct Gateway {
    upstream: String,
    http: reqwest::Client,
    budget: BudgetWindow,
    passed: AtomicU64,
    rejected: AtomicU64,
}

async fn forward(State(gateway): State<Arc<Gateway>>, request: Request) -> Response {
    let counted = gateway.budget.count();
    let mut response = if counted.over {
        gateway.rejected.fetch_add(1, Ordering::SeqCst);
        (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({"message": "You have exceeded your API rate limit"})),
        )
            .into_response()
    } else {
        gateway.passed.fetch_add(1, Ordering::SeqCst);
        let target = format!(
            "{}{}",
            gateway.upstream,
            request.uri().path_and_query().map_or("/", |p| p.as_str())
        );
        // Each caller's own token got this far; the mock API knows one.
        let mut upstream = gateway
            .http
            .request(request.method().clone(), target)
            .bearer_auth(TOKEN);
        for (name, value) in request.headers() {
            if name != header::HOST && name != header::AUTHORIZATION {
                upstream = upstream.header(name, value);
            }
        }
        let body = axum::body::to_bytes(request.into_body(), 1 << 20)
            .await
            .unwrap();
        let answer = upstream.body(body).send().await.unwrap();
        let status = answer.status();
        let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = answer.bytes().await.unwrap();
        let mut response = (status, bytes).into_response();
        if let Some(content_type) = content_type {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
        }
        response
    };
    for (name, value) in &counted.headers {
        response
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    response
}

/// Starts a gateway to `upstream` on 127.0.0.1; returns its URL.
async fn start_gateway(gateway: Arc<Gateway>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(forward).with_state(gateway);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_callers_investigating_at_once_live_within_the_rate_limit() {
    let mut h = harness().await;
    crate::investigations::scenario(&h).await;
    crate::triage::scenario(&h).await;
    let gateway = Arc::new(Gateway {
        upstream: h.server.uri(),
        http: reqwest::Client::new(),
        budget: BudgetWindow::new(30, Duration::from_secs(2)),
        passed: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
    });
    let url = start_gateway(Arc::clone(&gateway)).await;
    // The server's client, pointed at the gateway: calls may wait for a
    // reset (their budget is longer than a window).
    h.ctx.client = Client::builder()
        .token(TOKEN)
        .base_url(&url)
        .retry_policy(RetryPolicy {
            max_retries: 3,
            budget: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(100),
        })
        .build()
        .unwrap();

    let summary = json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234"});
    let triage = json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "500"});
    let tokens: Vec<String> = (0..6)
        .map(|caller| format!("bkua_ratelimit_caller_{caller}_0123456789ab"))
        .collect();
    let calls = tokens.iter().flat_map(|token| {
        [
            ("get_build_failure_summary", summary.clone()),
            ("triage_build_failures", triage.clone()),
        ]
        .map(|(tool, args)| {
            let h = &h;
            async move { (tool, h.call_as(token, tool, args).await) }
        })
    });
    let started = Instant::now();
    let results = join_all(calls).await;
    let elapsed = started.elapsed();

    assert_eq!(results.len(), 12);
    for (tool, result) in &results {
        assert!(!result.is_error, "{tool} failed: {}", result.text);
        let out: Value = serde_json::from_str(&result.text).unwrap();
        assert!(
            out.get("rate_limited").is_none(),
            "{tool} was cut short: {out}"
        );
    }
    let passed = gateway.passed.load(Ordering::SeqCst);
    let rejected = gateway.rejected.load(Ordering::SeqCst);
    eprintln!(
        "six callers, 12 investigations: {passed} requests answered, {rejected} 429s, in {elapsed:?}"
    );
    // Each window's first answers tell the budget; only the requests
    // already in flight then can meet a 429: fewer than one per call (the
    // investigations read Test Engine four at a time, per run and, with a
    // retried job, per failed job, so a loaded machine sees a few).
    assert!(rejected <= 12, "{rejected} answers were 429");
    // More requests than one window holds: the callers did wait.
    assert!(passed > 30, "{passed} requests");
}
