//! The fake API over HTTP: the demo tree's routes, lists, logs and misses;
//! the fixtures with each token rule, the record and the counts; generated
//! logs with latency and download counts.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use super::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixtures() -> PathBuf {
    repo().join("crates/buildkite-api/tests/fixtures")
}

/// The fake API serving the demo's tree, as the demo runs it.
async fn demo() -> FakeApi {
    FakeApi::start(Setup {
        data: Data::tree(&repo().join("examples/demo/org")).unwrap(),
        accept: Accept::AnyBearer,
        record: false,
        delay: Duration::ZERO,
        faults: None,
    })
    .await
    .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(api: &FakeApi, path: &str, accept: &str) -> (u16, HeaderMap, Vec<u8>) {
    let response = client()
        .get(format!("{}{path}", api.url))
        .bearer_auth("demo")
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap().to_vec())
}

async fn get_json(api: &FakeApi, path: &str) -> Value {
    let (status, _, body) = get(api, path, "application/json").await;
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

async fn send(method: reqwest::Method, url: String, authorization: Option<&str>) -> (u16, String) {
    let mut request = client().request(method, url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join(name)).unwrap()).unwrap()
}

const BUILD: &str = "/v2/organizations/acme/pipelines/web/builds/1234";
const RSPEC: &str = "0190f3a2-6a02-4f7d-a3b8-1e6c2d9f4b02";

#[tokio::test]
async fn the_demo_tree_serves_files_lists_and_filters() {
    let api = demo().await;
    assert_eq!(get_json(&api, "/v2/user").await["name"], "Priya Natarajan");
    let orgs = get_json(&api, "/v2/organizations").await;
    assert_eq!(orgs[0]["slug"], "acme");

    let main = get_json(
        &api,
        "/v2/organizations/acme/pipelines/web/builds?branch%5B%5D=main&state%5B%5D=finished&per_page=3&exclude_jobs=true",
    )
    .await;
    let numbers: Vec<u64> = main
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1233, 1232, 1230]);
    assert!(main[0].get("jobs").is_none() && main[0].get("test_engine").is_none());

    let build = get_json(&api, BUILD).await;
    assert_eq!(
        build["jobs"].as_array().unwrap().len(),
        6,
        "retried jobs left out"
    );
    assert!(build.get("test_engine").is_none() && build.get("job_state_counts").is_some());
    let build = get_json(
        &api,
        &format!("{BUILD}?include_retried_jobs=true&include_test_engine=true"),
    )
    .await;
    assert_eq!(build["jobs"].as_array().unwrap().len(), 7);
    assert_eq!(build["test_engine"]["runs"].as_array().unwrap().len(), 2);
    // The failure summary's one request: every job, retried attempts
    // (linked to their retry) included, without the pipeline.
    let build = get_json(
        &api,
        &format!(
            "{BUILD}?exclude_pipeline=true&include_retried_jobs=true&include_test_engine=true"
        ),
    )
    .await;
    let jobs = build["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 7);
    let retried = jobs.iter().find(|job| job["retried"] == true).unwrap();
    let retry = jobs
        .iter()
        .find(|job| job["id"] == retried["retried_in_job_id"])
        .unwrap();
    assert_eq!(
        (&retried["state"], &retry["state"]),
        (&json!("failed"), &json!("passed"))
    );
    assert!(build.get("pipeline").is_none() && build["test_engine"].is_object());

    let failed = get_json(&api, &format!("{BUILD}/jobs?state%5B%5D=failed&state%5B%5D=timed_out&include_retried_jobs=true&per_page=100")).await;
    assert_eq!(failed["items"].as_array().unwrap().len(), 4);
    assert!(failed["links"]["self"].as_str().unwrap().starts_with(API));

    let job = get_json(&api, &format!("/v2/organizations/acme/jobs/{RSPEC}")).await;
    assert_eq!(job["step_key"], "rspec");

    let annotations = get_json(&api, &format!("{BUILD}/annotations")).await;
    assert_eq!(
        annotations.as_array().unwrap().len(),
        3,
        "build scope by default"
    );
    let all = get_json(&api, &format!("{BUILD}/annotations?scope=all&per_page=2")).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, headers, _) = get(
        &api,
        &format!("{BUILD}/annotations?scope=all&per_page=2"),
        "application/json",
    )
    .await;
    assert!(headers[header::LINK].to_str().unwrap().contains("page=2"));

    let tests = get_json(
        &api,
        "/v2/analytics/organizations/acme/suites/web-rspec/tests",
    )
    .await;
    assert!(tests[0].get("reliability").is_none(), "no version header");
    assert!(api.unanswered().is_empty(), "{:?}", api.unanswered());
}

#[tokio::test]
async fn demo_logs_answer_head_json_and_raw_and_artifacts_redirect_to_storage() {
    let api = demo().await;
    let log = format!("{BUILD}/jobs/{RSPEC}/log");
    let (status, headers, raw) = get(&api, &log, "text/plain").await;
    assert_eq!(status, 200);
    assert!(raw.starts_with(b"\x1b_bk;t="));
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");

    let head = client()
        .head(format!("{}{log}", api.url))
        .bearer_auth("demo")
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()[header::CONTENT_LENGTH].to_str().unwrap(),
        raw.len().to_string()
    );

    let json_log = get_json(&api, &log).await;
    assert_eq!(json_log["size"], raw.len());
    assert!(!json_log["header_times"].as_array().unwrap().is_empty());
    assert_eq!(
        api.log_downloads().get(RSPEC),
        Some(&2),
        "two GETs, the HEAD not counted"
    );

    let artifact = "76365070-34d5-4104-8b91-952780f8029f";
    let download = format!("{BUILD}/jobs/{RSPEC}/artifacts/{artifact}/download");
    let (status, headers, _) = get(&api, &download, "application/json").await;
    assert_eq!(status, 302);
    let location = headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{}/_artifacts/", api.url)));
    let stored = client().get(&location).send().await.unwrap();
    assert_eq!(stored.status(), 200, "no token needed");
    assert!(stored.text().await.unwrap().contains("NoMethodError"));
    assert!(api.unanswered().is_empty(), "{:?}", api.unanswered());
}

#[tokio::test]
async fn misses_are_refused_and_kept() {
    let api = demo().await;
    let (status, _, body) = get(
        &api,
        "/v2/organizations/acme/pipelines/nope",
        "application/json",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body, br#"{"message":"Not Found"}"#);
    let (status, _, _) = get(&api, &format!("{BUILD}?surprise=1"), "application/json").await;
    assert_eq!(status, 400);
    let anonymous = send(reqwest::Method::GET, format!("{}/v2/user", api.url), None).await;
    assert_eq!(anonymous.0, 401);
    let missed = api.unanswered();
    assert_eq!(missed.len(), 3, "{missed:?}");
    assert!(
        missed[1].starts_with("GET /v2/organizations/acme/pipelines/web/builds/1234?surprise=1")
    );
    assert_eq!((api.hits(), api.refused()), (3, 3));
}

#[tokio::test]
async fn any_bearer_answers_the_fixtures_and_records_every_request() {
    let api = FakeApi::start(Setup {
        data: Data::fixtures(&fixtures()).unwrap(),
        accept: Accept::AnyBearer,
        record: true,
        delay: Duration::ZERO,
        faults: None,
    })
    .await
    .unwrap();
    let get = reqwest::Method::GET;

    let (status, user) = send(
        get.clone(),
        format!("{}/v2/user", api.url),
        Some("Bearer t1"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&user).unwrap(),
        fixture("user.json")
    );
    let path = "/v2/organizations/acme/pipelines/app/builds/42";
    let (status, build) = send(
        get.clone(),
        format!("{}{path}?include_test_engine=true", api.url),
        Some("Bearer t2"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&build).unwrap(),
        fixture("build.json"),
        "no retried jobs to leave out"
    );
    let denied = send(get.clone(), format!("{}/v2/user?x=1", api.url), None).await;
    assert_eq!(denied.0, 401, "{denied:?}");
    let basic = send(get, format!("{}/v2/user", api.url), Some("Basic eA==")).await;
    assert_eq!(basic.0, 401, "{basic:?}");
    let missing = send(
        reqwest::Method::POST,
        format!("{}/v2/other", api.url),
        Some("Bearer t1"),
    )
    .await;
    assert_eq!(missing, (404, r#"{"message":"Not Found"}"#.to_owned()));
    let wrong_method = send(
        reqwest::Method::DELETE,
        format!("{}/v2/user", api.url),
        None,
    )
    .await;
    assert_eq!(wrong_method.0, 405);

    assert_eq!((api.hits(), api.refused()), (6, 4));
    let seen = api.take();
    let shown: Vec<String> = seen.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "GET /v2/user",
            &format!("GET {path}?include_test_engine=true"),
            "GET /v2/user?x=1",
            "GET /v2/user",
            "POST /v2/other",
            "DELETE /v2/user"
        ]
    );
    let auth: Vec<Option<&str>> = seen.iter().map(|r| r.authorization.as_deref()).collect();
    assert_eq!(
        auth,
        [
            Some("Bearer t1"),
            Some("Bearer t2"),
            None,
            Some("Basic eA=="),
            Some("Bearer t1"),
            None
        ]
    );
    assert_eq!(seen[2].path(), "/v2/user");
    assert!(api.take().is_empty());
}

#[tokio::test]
async fn a_fixed_token_refuses_others_and_counts_without_recording() {
    let api = FakeApi::start(Setup {
        data: Data::fixtures(&fixtures()).unwrap(),
        accept: Accept::Token("right"),
        record: false,
        delay: Duration::ZERO,
        faults: None,
    })
    .await
    .unwrap();
    let url = format!(
        "{}/v2/organizations/acme/pipelines/app/builds/42/annotations?scope=all",
        api.url
    );
    let get = reqwest::Method::GET;
    let (status, annotations) = send(get.clone(), url.clone(), Some("Bearer right")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&annotations).unwrap(),
        fixture("annotations.json")
    );
    let wrong = send(get.clone(), url, Some("Bearer wrong")).await;
    assert_eq!(wrong.0, 401, "{wrong:?}");
    assert!(wrong.1.contains("Authentication required"), "{wrong:?}");
    let user = send(get, format!("{}/v2/user", api.url), Some("Bearer right")).await;
    assert_eq!(user.0, 200);
    assert_eq!((api.hits(), api.refused()), (3, 1));
    assert!(api.take().is_empty());
}

#[tokio::test]
async fn generated_jobs_have_logs_after_the_latency_and_downloads_are_counted() {
    let mut data = Data::fixtures(&fixtures()).unwrap();
    let jobs = (0..3).map(|n| format!("one-job-{n:03}"));
    data.add_generated_build("acme", "web", 7, jobs, 64 << 10);
    let delay = Duration::from_millis(30);
    let api = FakeApi::start(Setup {
        data,
        accept: Accept::Token("right"),
        record: false,
        delay,
        faults: None,
    })
    .await
    .unwrap();
    let job = format!(
        "{}/v2/organizations/acme/pipelines/web/builds/7/jobs/one-job-001",
        api.url
    );
    let started = Instant::now();
    let answer = client()
        .get(&job)
        .bearer_auth("right")
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= delay);
    let answer: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (&answer["id"], &answer["state"]),
        (&json!("one-job-001"), &json!("failed"))
    );

    let log = |method: reqwest::Method| {
        client()
            .request(method, format!("{job}/log"))
            .bearer_auth("right")
            .header("accept", "text/plain")
            .send()
    };
    let head = log(reqwest::Method::HEAD).await.unwrap();
    let length: usize = head.headers()[header::CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(length >= 64 << 10);
    for _ in 0..2 {
        let body = log(reqwest::Method::GET)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(body.len(), length);
        assert!(body.starts_with(b"\x1b_bk;t="));
    }
    let downloads = api.log_downloads();
    assert_eq!(downloads.get("one-job-001"), Some(&2));
    assert_eq!(downloads.len(), 1);
    let unknown = send(
        reqwest::Method::GET,
        format!("{job}9/log"),
        Some("Bearer right"),
    )
    .await;
    assert_eq!(unknown.0, 404);
}

/// The fixtures, with `fault` in every answer.
async fn always(fault: Fault) -> FakeApi {
    FakeApi::start(Setup {
        data: Data::fixtures(&fixtures()).unwrap(),
        accept: Accept::Token("right"),
        record: false,
        delay: Duration::ZERO,
        faults: Some(FaultPlan {
            rates: vec![(fault, 1.0)],
            seed: 1,
            stall: Duration::from_millis(20),
        }),
    })
    .await
    .unwrap()
}

/// Each kind's `(fault, drawn, injected)`.
fn injected(api: &FakeApi) -> Vec<(Fault, u64, u64)> {
    api.fault_counts()
        .kinds
        .iter()
        .map(|k| (k.fault, k.drawn, k.injected))
        .collect()
}

async fn get_user(api: &FakeApi) -> reqwest::Result<reqwest::Response> {
    client()
        .get(format!("{}/v2/user", api.url))
        .bearer_auth("right")
        .send()
        .await
}

#[tokio::test]
async fn each_fault_at_full_rate_is_what_the_client_gets() {
    let user = serde_json::to_vec(&fixture("user.json")).unwrap();
    for fault in Fault::ALL {
        let api = always(fault).await;
        let sent = get_user(&api).await;
        let name = fault.name();
        if fault == Fault::ConnectionReset {
            let error = sent.expect_err(name);
            assert!(
                !error.is_status() && !error.is_timeout(),
                "{name}: {error:?}"
            );
            assert_eq!(injected(&api), [(fault, 1, 1)]);
            continue;
        }
        let response = sent.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        let body = response.bytes().await;
        match fault {
            Fault::ServerError => {
                assert_eq!(status, 500);
                let body: Value = serde_json::from_slice(&body.unwrap()).unwrap();
                assert!(body["message"].is_string(), "{body}");
            }
            Fault::BadGatewayPage => {
                assert_eq!(
                    (status, header("content-type")),
                    (502, Some("text/html".into()))
                );
                assert!(String::from_utf8_lossy(&body.unwrap()).contains("<title>502 Bad Gateway"));
            }
            Fault::Unavailable => {
                assert_eq!((status, header("retry-after")), (503, Some("1".into())));
            }
            Fault::RateLimited => {
                assert_eq!(status, 429);
                assert_eq!(
                    header("ratelimit-limit"),
                    Some(faults::WINDOW_LIMIT.to_string())
                );
                assert_eq!(header("ratelimit-remaining").as_deref(), Some("0"));
                assert_eq!(header("ratelimit-reset").as_deref(), Some("1"));
                assert_eq!(header("retry-after").as_deref(), Some("1"));
            }
            Fault::TruncatedBody => {
                assert_eq!(status, 200);
                assert_eq!(header("content-length"), Some(user.len().to_string()));
                assert!(body.is_err(), "{name}: the body was read whole");
            }
            Fault::InvalidJson => {
                let body = body.unwrap();
                assert_eq!((status, body.len()), (200, user.len() / 2));
                assert!(serde_json::from_slice::<Value>(&body).is_err());
            }
            Fault::EmptyBody => {
                assert_eq!((status, body.unwrap().len()), (200, 0));
            }
            Fault::RedirectLoop => {
                assert_eq!(status, 302);
                let hop = header("location").unwrap();
                assert_eq!(hop, format!("{}/_redirect_loop/v2/user", api.url));
                let again = client()
                    .get(&hop)
                    .bearer_auth("right")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(again.status(), 302);
                assert_eq!(again.headers()[header::LOCATION].to_str().unwrap(), hop);
            }
            Fault::Stall => {
                assert_eq!((status, body.unwrap().to_vec()), (200, user.clone()));
                // A normal answer, with the window's headers.
                let limit = faults::WINDOW_LIMIT;
                assert_eq!(header("ratelimit-limit"), Some(limit.to_string()));
                assert_eq!(header("ratelimit-remaining"), Some((limit - 1).to_string()));
                let reset: u64 = header("ratelimit-reset").unwrap().parse().unwrap();
                assert!((1..=60).contains(&reset), "{reset}");
            }
            Fault::ConnectionReset => unreachable!(),
        }
        assert_eq!(injected(&api), [(fault, 1, 1)], "{name}");
    }
}

#[tokio::test]
async fn a_body_fault_spares_answers_without_a_json_body_and_storage_draws_none() {
    let api = always(Fault::EmptyBody).await;
    let head = client()
        .head(format!("{}/v2/user", api.url))
        .bearer_auth("right")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(injected(&api), [(Fault::EmptyBody, 1, 0)]);

    let mut data = Data::fixtures(&fixtures()).unwrap();
    data.add_generated_build("acme", "web", 7, ["one-job-000".to_owned()], 4 << 10);
    let api = FakeApi::start(Setup {
        data,
        accept: Accept::Token("right"),
        record: false,
        delay: Duration::ZERO,
        faults: Some(FaultPlan {
            rates: vec![(Fault::InvalidJson, 1.0)],
            seed: 1,
            stall: Duration::ZERO,
        }),
    })
    .await
    .unwrap();
    let log = client()
        .get(format!(
            "{}/v2/organizations/acme/pipelines/web/builds/7/jobs/one-job-000/log.txt",
            api.url
        ))
        .bearer_auth("right")
        .send()
        .await
        .unwrap();
    assert_eq!(log.status(), 200);
    assert!(
        log.bytes().await.unwrap().len() >= 4 << 10,
        "a raw log, whole"
    );
    assert_eq!(injected(&api), [(Fault::InvalidJson, 1, 0)]);
    assert_eq!(api.log_downloads().get("one-job-000"), Some(&1));

    let stored = client()
        .get(format!("{}/_artifacts/none/x.txt", api.url))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 404, "answered, not faulted");
    assert_eq!(injected(&api), [(Fault::InvalidJson, 1, 0)], "no draw");
    assert_eq!(api.fault_counts().answers, 1);
}

#[tokio::test]
async fn without_a_plan_nothing_is_injected() {
    let api = demo().await;
    assert_eq!(api.fault_counts(), FaultCounts::default());
    let (status, _, _) = get(&api, "/_redirect_loop/v2/user", "application/json").await;
    assert_eq!(status, 404, "the loop exists only with faults");
    let (status, headers, _) = get(&api, "/v2/user", "application/json").await;
    assert_eq!(status, 200);
    assert!(headers.get("ratelimit-limit").is_none(), "{headers:?}");
}

/// Everything the fake API sends on a connection for one raw `GET /v2/user`
/// until it closes the connection.
async fn raw_exchange(api: &FakeApi) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = api.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request =
        format!("GET /v2/user HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer right\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    // A reset may end the read with an error rather than an end of file.
    let _ = stream.read_to_end(&mut received).await;
    received
}

#[tokio::test]
async fn a_reset_sends_nothing_and_a_truncated_body_sends_half() {
    let reset = always(Fault::ConnectionReset).await;
    assert_eq!(raw_exchange(&reset).await, b"", "nothing before the close");

    let truncated = always(Fault::TruncatedBody).await;
    let received = raw_exchange(&truncated).await;
    let text = String::from_utf8_lossy(&received);
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole head");
    let user = serde_json::to_vec(&fixture("user.json")).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {}", user.len())),
        "{head}"
    );
    assert_eq!(body.as_bytes(), &user[..user.len() / 2]);
}
