//! Several replicas of `bk-mcp-http` as a team would run them: behind
//! nginx (round-robin), sharing a real S3 server (Ceph's RADOS Gateway) for
//! finished logs and a real Redis for download leases and sessions, against
//! a mock Buildkite API that counts every log download.
//!
//! One test walks through the whole story, because the gateway takes
//! about 15 s to start: shared downloads, a cold replica, access checks,
//! the store and Redis going away and coming back, sessions moving between
//! replicas, and a replica killed under load.

mod deploy;
mod services;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{self, Server, TOKEN, bearer, call_body, http_client, launch, rpc_message};
use services::{Gateway, Nginx, Redis, require};

const BUILD: &str = "/v2/organizations/acme/pipelines/web/builds/7";
/// A caller whose token may not read the logs.
const OUTSIDER: &str = "bkua_outsider0123456789abcdefghijklmn";
/// How long the mock API takes to send a log: long enough for calls on
/// other replicas to arrive while it downloads.
const LOG_DELAY: Duration = Duration::from_millis(600);

/// A realistic raw log: timestamps, colours, a group, the failure.
fn raw_log(job: &str) -> Vec<u8> {
    let mut log = Vec::new();
    log.extend_from_slice(b"\x1b_bk;t=1733580000000\x07--- :rspec: Running specs\n");
    for i in 0..200 {
        log.extend_from_slice(
            format!(
                "\x1b_bk;t={}\x07\x1b[32m.\x1b[0m spec {i} of {job} passed\n",
                1_733_580_000_100u64 + i
            )
            .as_bytes(),
        );
    }
    log.extend_from_slice(
        b"\x1b_bk;t=1733580001000\x07\x1b[31mFailure/Error: expect(order.total).to eq(42)\x1b[0m\n",
    );
    log.extend_from_slice(format!("\x1b_bk;t=1733580001001\x07end of {job}\n").as_bytes());
    log
}

/// Mounts a finished job `job` whose log only `TOKEN` may read.
async fn mount_job(api: &MockServer, job: &str) {
    let job_path = format!("{BUILD}/jobs/{job}");
    let log = raw_log(job);
    Mock::given(method("HEAD"))
        .and(path(format!("{job_path}/log")))
        .and(header("authorization", bearer(TOKEN).as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-length", log.len().to_string().as_str()),
        )
        .mount(api)
        .await;
    Mock::given(method("HEAD"))
        .and(path(format!("{job_path}/log")))
        .and(header("authorization", bearer(OUTSIDER).as_str()))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})))
        .mount(api)
        .await;
    Mock::given(method("GET"))
        .and(path(job_path.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": job, "type": "script", "name": ":rspec: specs", "step_key": "specs",
            "state": "failed", "exit_status": 1,
            "web_url": format!("https://buildkite.com/acme/web/builds/7#{job}"),
            "log_url": format!("https://api.buildkite.com{job_path}/log"),
            "created_at": "2026-12-07T10:00:00.000Z", "started_at": "2026-12-07T10:00:05.000Z",
            "finished_at": "2026-12-07T10:03:00.000Z"
        })))
        .mount(api)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{job_path}/log")))
        .and(header("authorization", bearer(TOKEN).as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(log, "text/plain")
                .set_delay(LOG_DELAY),
        )
        .mount(api)
        .await;
}

/// How many times the mock API sent `job`'s log.
async fn downloads(api: &MockServer, job: &str) -> usize {
    let log_path = format!("{BUILD}/jobs/{job}/log");
    api.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path() == log_path)
        .count()
}

fn tail_args(job: &str) -> Value {
    json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "7", "job_id": job, "tail": 3})
}

/// Calls `tail_logs` at `url` as `token`; the tool result, or an error.
async fn tail(url: &str, token: &str, job: &str) -> Result<Value, String> {
    let response = http_client()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", bearer(token))
        .json(&call_body("tail_logs", tail_args(job)))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let message = rpc_message(response).await;
    let result = &message["result"];
    let text = result["content"][0]["text"].as_str().unwrap_or_default();
    if result["isError"] == json!(true) {
        return Err(text.to_owned());
    }
    serde_json::from_str(text).map_err(|e| format!("not JSON ({e}): {text}"))
}

/// The last row of a tail result.
fn last_row(result: &Value) -> String {
    result["entries"]
        .as_array()
        .and_then(|rows| rows.last())
        .and_then(|row| row["c"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// `/ready`'s status and each dependency's (name, state).
async fn ready_states(replica: &Server) -> (u16, Vec<(String, String)>) {
    let response = http_client()
        .get(replica.url("/ready"))
        .send()
        .await
        .expect("/ready");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("JSON");
    let states = body["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap_or_default().to_owned(),
                d["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (status, states)
}

/// Shared set-up of every replica.
struct Fleet {
    api: MockServer,
    gateway: Gateway,
    redis: Redis,
}

impl Fleet {
    async fn replica(&self, extra: &[&str]) -> Server {
        let cache = tempfile::tempdir().expect("local tier");
        let mut launch = launch(&self.api)
            .args(&["--passthrough-http-header", "Authorization"])
            .args(extra)
            .env(
                "BKLOG_CACHE_URL",
                &format!("s3://{}/fleet", services::BUCKET),
            )
            .env("BKLOG_CACHE_DIR", &cache.path().display().to_string())
            .env("BK_MCP_REDIS_URL", &self.redis.url())
            // `--debug` asks for everything at debug, third-party crates
            // (object_store, reqwest, redis) included.
            .env(
                "RUST_LOG",
                if extra.contains(&"--debug") {
                    "debug,rmcp=info"
                } else {
                    "info"
                },
            );
        for (name, value) in self.gateway.env() {
            launch = launch.env(name, &value);
        }
        let server = launch.start().await;
        // The directory lives as long as the test process; the server
        // holds it open.
        std::mem::forget(cache);
        server
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_one_cache_and_survive_outages() {
    if !(require("Redis", &["redis-server"], "apt-get install redis-server")
        && require(
            "nginx",
            &[services::nginx_binary()],
            "apt-get install nginx-light",
        )
        && require(
            "Ceph's RADOS Gateway",
            &["radosgw", "ceph-mon", "ceph-osd", "radosgw-admin"],
            "apt-get install radosgw ceph-mon ceph-osd",
        ))
    {
        return;
    }
    let started = Instant::now();
    let (gateway, redis, api) = tokio::join!(Gateway::start(), Redis::start(), MockServer::start());
    eprintln!(
        "gateway, Redis and the mock API up in {:?}",
        started.elapsed()
    );
    let mut fleet = Fleet {
        api,
        gateway,
        redis,
    };
    let replicas = vec![
        fleet.replica(&["--debug"]).await,
        fleet.replica(&[]).await,
        fleet.replica(&[]).await,
    ];
    let ports: Vec<u16> = replicas.iter().map(|r| r.port).collect();
    let nginx = Nginx::start(&ports).await;
    let front = nginx.url("/mcp");

    // 1. Many concurrent calls on one job, spread over the replicas by
    //    nginx: the log is downloaded once for the whole fleet.
    mount_job(&fleet.api, "job-shared").await;
    let calls: Vec<_> = (0..24)
        .map(|_| {
            let front = front.clone();
            tokio::spawn(async move { tail(&front, TOKEN, "job-shared").await })
        })
        .collect();
    for call in calls {
        let result = call.await.expect("task").expect("tail_logs through nginx");
        assert_eq!(last_row(&result), "end of job-shared");
    }
    assert_eq!(
        downloads(&fleet.api, "job-shared").await,
        1,
        "24 concurrent calls over 3 replicas download the log once"
    );
    for replica in &replicas {
        let ready: Value = http_client()
            .get(replica.url("/ready"))
            .send()
            .await
            .expect("/ready")
            .json()
            .await
            .expect("JSON");
        assert_eq!(ready["status"], "ready", "{ready}");
        let states: Vec<(&str, &str)> = ready["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap_or(""),
                    d["state"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            states,
            [("log cache", "up"), ("object store", "up"), ("redis", "up")],
            "{ready}"
        );
    }

    // 2. A fresh fourth replica reads the same log from the store.
    let fourth = fleet.replica(&[]).await;
    let result = tail(&fourth.url("/mcp"), TOKEN, "job-shared")
        .await
        .expect("tail_logs on a fresh replica");
    assert_eq!(last_row(&result), "end of job-shared");
    assert_eq!(
        downloads(&fleet.api, "job-shared").await,
        1,
        "the fourth replica downloaded nothing"
    );

    // 3. The log is cached everywhere, yet a caller without access is refused.
    let refused = tail(&fourth.url("/mcp"), OUTSIDER, "job-shared")
        .await
        .expect_err("an outsider reads nothing");
    assert!(refused.contains("403"), "{refused}");
    let refused = tail(&front, OUTSIDER, "job-shared")
        .await
        .expect_err("nor through nginx");
    assert!(refused.contains("403"), "{refused}");

    // 4. The gateway stops: calls still succeed, each replica downloading
    //    for itself; when it is back, sharing resumes without a restart.
    fleet.gateway.stop_gateway().await;
    mount_job(&fleet.api, "job-store-down").await;
    let outage = Instant::now();
    for _ in 0..6 {
        let result = tail(&front, TOKEN, "job-store-down")
            .await
            .expect("tail_logs with the store down");
        assert_eq!(last_row(&result), "end of job-store-down");
    }
    let during = downloads(&fleet.api, "job-store-down").await;
    assert!(
        (1..=3).contains(&during),
        "at most one download per replica, got {during}"
    );
    eprintln!("six calls with the store down took {:?}", outage.elapsed());
    let stderr: Vec<String> = replicas.iter().flat_map(Server::stderr).collect();
    let warnings = stderr
        .iter()
        .filter(|l| l.contains("object store is unavailable"))
        .count();
    assert!(
        (1..=3).contains(&warnings),
        "one warning per replica per outage, got {warnings}:\n{}",
        stderr.join("\n")
    );
    // Still ready: the service works without the store, and says so.
    let ready = ready_states(&replicas[0]).await;
    assert_eq!(ready.0, 200);
    assert!(
        ready
            .1
            .contains(&("object store".to_owned(), "down".to_owned())),
        "{ready:?}"
    );
    fleet.gateway.start_gateway().await;
    // The next probe after the pause (5 s) finds the store again.
    tokio::time::sleep(Duration::from_secs(6)).await;
    mount_job(&fleet.api, "job-store-back").await;
    let calls: Vec<_> = (0..9)
        .map(|_| {
            let front = front.clone();
            tokio::spawn(async move { tail(&front, TOKEN, "job-store-back").await })
        })
        .collect();
    for call in calls {
        call.await
            .expect("task")
            .expect("tail_logs after the store is back");
    }
    // A probe may be the one call that found the store still down.
    let after = downloads(&fleet.api, "job-store-back").await;
    assert!(after <= 2, "sharing resumed: {after} downloads for 9 calls");

    // 5. Redis stops: calls still succeed, at most one download per replica.
    fleet_redis_outage(&mut fleet, &front).await;
    let ready = ready_states(&replicas[0]).await;
    assert_eq!(ready.0, 200);
    assert!(
        ready.1.contains(&("redis".to_owned(), "down".to_owned())),
        "{ready:?}"
    );
    // The store's credentials never reach a log line, at any level.
    for replica in &replicas {
        for line in replica.stderr() {
            assert!(
                !line.contains(services::SECRET_KEY),
                "a log line holds the S3 secret: {line}"
            );
        }
    }

    // 6. Sessions: initialized on one replica, continued on another.
    fleet.redis.restart().await;
    sessions_move_between_replicas(&fleet).await;

    // 7. A replica killed under load: only its in-flight calls fail.
    replica_killed_under_load(&fleet, replicas, &front).await;

    drop(fourth);
    nginx.stop().await;
    eprintln!("the whole story took {:?}", started.elapsed());
}

async fn fleet_redis_outage(fleet: &mut Fleet, front: &str) {
    fleet.redis.stop().await;
    mount_job(&fleet.api, "job-redis-down").await;
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let front = front.to_owned();
            tokio::spawn(async move { tail(&front, TOKEN, "job-redis-down").await })
        })
        .collect();
    for call in calls {
        let result = call
            .await
            .expect("task")
            .expect("tail_logs with Redis down");
        assert_eq!(last_row(&result), "end of job-redis-down");
    }
    let count = downloads(&fleet.api, "job-redis-down").await;
    assert!(
        (1..=3).contains(&count),
        "at most one download per replica, got {count}"
    );
}

async fn sessions_move_between_replicas(fleet: &Fleet) {
    let first = fleet.replica(&["--stateful"]).await;
    let second = fleet.replica(&["--stateful"]).await;
    let response = first
        .post(
            "/mcp",
            &common::initialize_body(),
            &[("authorization", &bearer(TOKEN))],
        )
        .await;
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("a session id")
        .to_owned();
    let message = rpc_message(response).await;
    assert!(message["result"]["serverInfo"].is_object(), "{message}");
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = first
        .post(
            "/mcp",
            &initialized,
            &[
                ("authorization", &bearer(TOKEN)),
                ("mcp-session-id", &session),
            ],
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    // The same session, on the other replica.
    mount_job(&fleet.api, "job-session").await;
    let response = second
        .post(
            "/mcp",
            &call_body("tail_logs", tail_args("job-session")),
            &[
                ("authorization", &bearer(TOKEN)),
                ("mcp-session-id", &session),
                ("mcp-protocol-version", "2025-06-18"),
            ],
        )
        .await;
    assert!(
        response.status().is_success(),
        "the second replica continues the session: HTTP {}",
        response.status()
    );
    let message = rpc_message(response).await;
    let text = message["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("end of job-session"), "{message}");
}

async fn replica_killed_under_load(fleet: &Fleet, mut replicas: Vec<Server>, front: &str) {
    // Slow answers, so calls are in flight when the replica dies.
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "u-1", "name": "Alice", "email": "alice@example.com"}))
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&fleet.api)
        .await;
    let user = |front: String| async move {
        let response = http_client()
            .post(&front)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", bearer(TOKEN))
            .json(&call_body("current_user", json!({})))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", response.status()))
        }
    };
    let calls: Vec<_> = (0..30)
        .map(|_| tokio::spawn(user(front.to_owned())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut victim = replicas.remove(1);
    victim.kill().await;
    let mut failed = 0;
    for call in calls {
        if call.await.expect("task").is_err() {
            failed += 1;
        }
    }
    // Round-robin gave the killed replica a third of the calls.
    assert!(
        failed <= 10,
        "{failed} of 30 in-flight calls failed; only the killed replica's may"
    );
    // Calls after the kill all succeed: nginx goes to the live replicas.
    let calls: Vec<_> = (0..30)
        .map(|_| tokio::spawn(user(front.to_owned())))
        .collect();
    for call in calls {
        call.await
            .expect("task")
            .expect("calls after the kill succeed");
    }
    eprintln!("killed a replica under load: {failed} of 30 in-flight calls failed");
}
