//! Replicas pacing to one rate limit through Redis: two API clients (two
//! "replicas") in front of a mock API with a budget, sending at once more
//! than the window holds. Against a real `redis-server` (skipped loudly
//! without one, a failure in CI).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bk_fleet::testing::RedisServer;
use bk_fleet::{RedisBudget, RedisLink};
use bk_logs::health::DependencyHealth;
use buildkite_api::testing::BudgetWindow;
use buildkite_api::{Client, ListPipelinesParams, RetryPolicy};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A budget said in the real headers; 429 past it.
struct Window {
    budget: BudgetWindow,
    rejected: Arc<AtomicU64>,
}

impl Respond for Window {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let counted = self.budget.count();
        let mut template = if counted.over {
            self.rejected.fetch_add(1, Ordering::SeqCst);
            ResponseTemplate::new(429).set_body_json(serde_json::json!({"message": "rate limited"}))
        } else {
            ResponseTemplate::new(200).set_body_json(serde_json::json!([]))
        };
        for (name, value) in &counted.headers {
            template = template.insert_header(*name, value.as_str());
        }
        template
    }
}

async fn api(limit: u64, window: Duration) -> (MockServer, Arc<AtomicU64>) {
    let server = MockServer::start().await;
    let rejected = Arc::new(AtomicU64::new(0));
    Mock::given(method("GET"))
        .respond_with(Window {
            budget: BudgetWindow::new(limit, window),
            rejected: Arc::clone(&rejected),
        })
        .mount(&server)
        .await;
    (server, rejected)
}

/// A replica's client; with `redis`, it shares the budget there.
fn replica(server: &MockServer, redis: Option<&str>) -> Client {
    let mut builder = Client::builder()
        .token("bkua_fleet_budget")
        .base_url(server.uri())
        .retry_policy(RetryPolicy {
            max_retries: 6,
            budget: Duration::from_secs(20),
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
        });
    if let Some(url) = redis {
        let link = Arc::new(RedisLink::open(url, Duration::from_millis(500)).expect("Redis URL"));
        let health = Arc::new(DependencyHealth::new("redis", Duration::from_millis(200)));
        builder = builder.shared_budget(Arc::new(RedisBudget::new(
            link,
            health,
            "bk-mcp-test:",
            Duration::from_millis(250),
        )));
    }
    builder.build().expect("client")
}

/// Each replica reads once (so each knows the window), then both send
/// `each` reads at once. Returns the 429s the API answered.
async fn burst(replicas: &[Client], rejected: &AtomicU64, each: u32) -> u64 {
    for client in replicas {
        client
            .list_pipelines("acme", &ListPipelinesParams::default())
            .await
            .expect("first read");
    }
    let mut tasks = Vec::new();
    for (n, client) in replicas.iter().enumerate() {
        for page in 0..each {
            let client = client.clone();
            let params = ListPipelinesParams {
                page: Some(n as u32 * 1000 + page + 2),
                ..ListPipelinesParams::default()
            };
            tasks.push(tokio::spawn(async move {
                client.list_pipelines("acme", &params).await
            }));
        }
    }
    for task in tasks {
        task.await
            .expect("task")
            .expect("every read succeeds in the end");
    }
    rejected.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_sharing_redis_spend_one_window_between_them() {
    let Some(redis) = RedisServer::start("the shared rate-limit test") else {
        return;
    };
    // 40 a window of 3 s; two replicas want 2 + 2 × 30.
    let (server, rejected) = api(40, Duration::from_secs(3)).await;
    let shared = [
        replica(&server, Some(&redis.url())),
        replica(&server, Some(&redis.url())),
    ];
    let with_redis = burst(&shared, &rejected, 30).await;
    assert!(
        with_redis <= 2,
        "sharing the window, the replicas met {with_redis} 429s"
    );

    // The same burst without Redis: each replica spends what it saw left,
    // and together they overrun the window.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (server, rejected) = api(40, Duration::from_secs(3)).await;
    let alone = [replica(&server, None), replica(&server, None)];
    let without = burst(&alone, &rejected, 30).await;
    eprintln!(
        "two replicas, 62 reads against 40 a window: {with_redis} 429s sharing Redis, {without} pacing alone"
    );
    assert!(
        without >= 10,
        "pacing alone, the replicas met only {without} 429s: the test shows nothing"
    );
}

#[tokio::test]
async fn with_redis_gone_each_replica_paces_alone() {
    let Some(mut redis) = RedisServer::start("the shared rate-limit test") else {
        return;
    };
    let (server, rejected) = api(100, Duration::from_secs(60)).await;
    let client = replica(&server, Some(&redis.url()));
    client
        .list_pipelines("acme", &ListPipelinesParams::default())
        .await
        .expect("with Redis");
    redis.stop();
    let started = Instant::now();
    for page in 2..12 {
        let params = ListPipelinesParams {
            page: Some(page),
            ..ListPipelinesParams::default()
        };
        client
            .list_pipelines("acme", &params)
            .await
            .expect("Redis down costs no request");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "ten reads took {:?} with Redis down",
        started.elapsed()
    );
    assert_eq!(rejected.load(Ordering::SeqCst), 0);
    assert_eq!(
        server.received_requests().await.expect("requests").len(),
        11
    );
}
