//! The `logs` toolset: search_logs, tail_logs and read_logs against a
//! wiremock API serving a raw Buildkite-format log.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::common::{Harness, TOKEN, authorized, authorized_as, fixture, harness, harness_with};

const JOB_PATH: &str =
    "/v2/organizations/acme/pipelines/app/builds/42/jobs/b63254c0-3271-4a98-8270-7cfbd6c2f14e";
/// Another caller's token.
const OTHER: &str = "bkua_othercaller0123456789abcdefgh";

/// A job log as the API returns it: timestamp markers, CRLF line ends,
/// ANSI colour, three groups, a `\r` progress redraw, indentation and a line
/// without a timestamp. Its 14 rows are:
///  0 `~~~ Preparing working directory`    7 `test_signup ... ok`
///  1 `$ git fetch origin`                 8 `test_reset ... FAILED`
///  2 `Receiving objects: 100% (10/10), done.` 9 `  timeout after 30s`
///  3 `--- :rspec: Running tests`          10 `+++ :boom: Summary`
///  4 `test_login ... ok`                  11 `2 failed, 2 passed`
///  5 `test_logout ... FAILED`             12 `plain line without a timestamp`
///  6 `  expected 200, got 500`            13 `Exited with status 1`
const LOG: &[u8] = b"\x1b_bk;t=1745322209921\x07~~~ Preparing working directory\r\n\
\x1b_bk;t=1745322209922\x07\x1b[90m$\x1b[0m git fetch origin\r\n\
\x1b_bk;t=1745322209950\x07Receiving objects:  10% (1/10)\rReceiving objects:  60% (6/10)\rReceiving objects: 100% (10/10), done.\r\r\n\
\x1b_bk;t=1745322210000\x07--- :rspec: Running tests\r\n\
\x1b_bk;t=1745322210100\x07test_login ... \x1b[32mok\x1b[0m\r\n\
\x1b_bk;t=1745322210200\x07test_logout ... \x1b[31mFAILED\x1b[0m\r\n\
\x1b_bk;t=1745322210300\x07  expected 200, got 500\r\n\
\x1b_bk;t=1745322210400\x07test_signup ... \x1b[32mok\x1b[0m\r\n\
\x1b_bk;t=1745322210500\x07test_reset ... \x1b[31mFAILED\x1b[0m\r\n\
\x1b_bk;t=1745322210600\x07  timeout after 30s\r\n\
\x1b_bk;t=1745322210700\x07+++ :boom: Summary\r\n\
\x1b_bk;t=1745322210800\x07\x1b[1;31m2 failed\x1b[0m, 2 passed\r\n\
plain line without a timestamp\n\
\x1b_bk;t=1745322210900\x07\x1b[1mExited with status 1\x1b[0m\r\n";

const BASE: &str = r#"{"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": "b63254c0-3271-4a98-8270-7cfbd6c2f14e"}"#;

/// The job arguments plus `extra`.
fn args(extra: Value) -> Value {
    let mut args: Value = serde_json::from_str(BASE).unwrap();
    for (key, value) in extra.as_object().unwrap() {
        args[key] = value.clone();
    }
    args
}

fn head() -> String {
    format!("HEAD {JOB_PATH}/log")
}
fn get_job() -> String {
    format!("GET {JOB_PATH}")
}
fn get_log() -> String {
    format!("GET {JOB_PATH}/log")
}

/// A harness whose log engine uses `options`.
async fn harness_with_engine(options: bk_logs::EngineOptions) -> Harness {
    harness_with(options, Duration::ZERO).await
}

/// Serves `log` for a job in `state` to the test token: the job, the raw
/// log, and the HEAD access check (with the size) made before a cached log
/// is served.
async fn serve(h: &Harness, log: &[u8], state: &str) {
    Mock::given(method("HEAD"))
        .and(path(format!("{JOB_PATH}/log")))
        .and(authorized())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-length", log.len().to_string().as_str()),
        )
        .mount(&h.server)
        .await;
    serve_job(h, state).await;
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .and(header("accept", "text/plain"))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_raw(log.to_vec(), "text/plain"))
        .mount(&h.server)
        .await;
}

/// `times` cold reads: the job, then its log, each time.
fn downloads(times: usize) -> Vec<String> {
    (0..times).flat_map(|_| [get_job(), get_log()]).collect()
}

/// Serves the job, in `state`, to the test token.
async fn serve_job(h: &Harness, state: &str) {
    let mut job = fixture("job.json");
    job["state"] = json!(state);
    Mock::given(method("GET"))
        .and(path(JOB_PATH))
        .and(authorized())
        .respond_with(ResponseTemplate::new(200).set_body_json(job))
        .mount(&h.server)
        .await;
}

/// The result without its timing (which varies), after checking it is there.
fn snap(mut value: Value) -> Value {
    assert!(value["query_time_ms"].is_u64(), "{value}");
    value.as_object_mut().unwrap().remove("query_time_ms");
    value
}

fn contents(rows: &Value) -> Vec<String> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["c"].as_str().unwrap().to_owned())
        .collect()
}

fn match_rows(result: &Value) -> Vec<u64> {
    result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["match"]["rn"].as_u64().unwrap())
        .collect()
}

fn context_rows(hit: &Value, key: &str) -> Vec<u64> {
    hit[key].as_array().map_or_else(Vec::new, |rows| {
        rows.iter().map(|r| r["rn"].as_u64().unwrap()).collect()
    })
}

#[tokio::test]
async fn tail_logs_fetches_once_then_only_checks_access() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    let tail = h.ok("tail_logs", args(json!({"tail": 4}))).await;
    // Cold: the job (for its state), then the log; the download is its own
    // access check.
    assert_eq!(h.requests().await, [get_job(), get_log()]);
    assert_eq!(tail["total_rows"], 14);
    assert_eq!(
        contents(&tail["entries"]),
        [
            "+++ :boom: Summary",
            "2 failed, 2 passed",
            "plain line without a timestamp",
            "Exited with status 1"
        ]
    );
    assert!(tail["entries"][2].get("ts").is_none(), "no marker, no ts");
    assert!(
        tail.get("job_state").is_none(),
        "a finished job's log is final"
    );
    insta::assert_json_snapshot!(snap(tail));

    // Warm (a finished job), the same caller within the access re-check
    // period: no request at all.
    let tail = h.ok("tail_logs", args(json!({}))).await;
    assert_eq!(h.requests().await, [get_job(), get_log()]);
    assert_eq!(
        tail["entries"].as_array().unwrap().len(),
        10,
        "default tail"
    );
    assert_eq!(tail["entries"][0]["rn"], 4);

    // Warm, another caller: only its access check, with its own token.
    serve_access_check(&h, OTHER, ResponseTemplate::new(200)).await;
    let result = h.call_as(OTHER, "tail_logs", args(json!({}))).await;
    assert!(!result.is_error, "{}", result.text);
    assert_eq!(result.api_requests, 1);
    let tail: Value = serde_json::from_str(&result.text).unwrap();
    assert_eq!(tail["entries"][0]["rn"], 4);
    assert_eq!(h.requests().await, [get_job(), get_log(), head()]);
    assert_eq!(h.tokens().await, [TOKEN, TOKEN, OTHER]);
}

/// Answers the HEAD access check of a caller with `token`.
async fn serve_access_check(h: &Harness, token: &str, response: ResponseTemplate) {
    Mock::given(method("HEAD"))
        .and(path(format!("{JOB_PATH}/log")))
        .and(authorized_as(token))
        .respond_with(response)
        .mount(&h.server)
        .await;
}

#[tokio::test]
async fn a_cached_log_is_served_after_an_access_check_per_caller_and_period() {
    // With no re-check period: an access check before every cached read.
    let h = harness_with_engine(bk_logs::EngineOptions {
        access_recheck: Duration::ZERO,
        ..Default::default()
    })
    .await;
    serve(&h, LOG, "failed").await;
    h.ok("read_logs", args(json!({"limit": 1}))).await;
    assert_eq!(h.requests().await, [get_job(), get_log()]);
    h.ok("read_logs", args(json!({"seek": 1, "limit": 1})))
        .await;
    h.ok("tail_logs", args(json!({"tail": 1}))).await;
    let found = h
        .ok("search_logs", args(json!({"pattern": "FAILED"})))
        .await;
    assert_eq!(match_rows(&found), [5, 8, 11]);
    assert_eq!(
        h.requests().await,
        [get_job(), get_log(), head(), head(), head()]
    );

    // With a period: none within it (for each caller), one after it.
    let h = harness_with_engine(bk_logs::EngineOptions {
        access_recheck: Duration::from_millis(1500),
        ..Default::default()
    })
    .await;
    serve(&h, LOG, "failed").await;
    serve_access_check(&h, OTHER, ResponseTemplate::new(200)).await;
    h.ok("read_logs", args(json!({"limit": 1}))).await;
    h.ok("tail_logs", args(json!({"tail": 1}))).await;
    for _ in 0..2 {
        let result = h.call_as(OTHER, "tail_logs", args(json!({}))).await;
        assert!(!result.is_error, "{}", result.text);
    }
    assert_eq!(h.requests().await, [get_job(), get_log(), head()]);
    assert_eq!(h.tokens().await, [TOKEN, TOKEN, OTHER]);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    h.ok("tail_logs", args(json!({"tail": 1}))).await;
    h.ok("tail_logs", args(json!({"tail": 1}))).await;
    assert_eq!(h.requests().await, [get_job(), get_log(), head(), head()]);
    assert_eq!(h.tokens().await, [TOKEN, TOKEN, OTHER, TOKEN]);
}

#[tokio::test]
async fn tail_logs_parses_the_raw_format_and_can_add_groups() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    let tail = h
        .ok(
            "tail_logs",
            args(json!({"tail": 14, "include_group": true})),
        )
        .await;
    let entries = tail["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 14);
    // Colour removed, the progress redraw resolved to its final frame,
    // indentation kept, timestamps parsed.
    assert_eq!(entries[1]["c"], "$ git fetch origin");
    assert_eq!(entries[2]["c"], "Receiving objects: 100% (10/10), done.");
    assert_eq!(entries[5]["c"], "test_logout ... FAILED");
    assert_eq!(entries[6]["c"], "  expected 200, got 500");
    assert_eq!(entries[0]["ts"], 1_745_322_209_921_i64);
    assert_eq!(entries[0]["rn"], 0);
    // Each row names its group; a header is in its own group.
    assert_eq!(entries[0]["group"], "Preparing working directory");
    assert_eq!(entries[3]["group"], ":rspec: Running tests");
    assert_eq!(entries[9]["group"], ":rspec: Running tests");
    assert_eq!(entries[13]["group"], ":boom: Summary");
    insta::assert_json_snapshot!(snap(tail));
}

#[tokio::test]
async fn force_refresh_downloads_again() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    h.ok("read_logs", args(json!({"limit": 1}))).await;
    h.ok(
        "read_logs",
        args(json!({"limit": 1, "force_refresh": true})),
    )
    .await;
    assert_eq!(
        h.requests().await,
        [get_job(), get_log(), get_job(), get_log()]
    );
}

#[tokio::test]
async fn a_running_jobs_log_is_reused_for_cache_ttl() {
    let h = harness().await;
    serve(&h, LOG, "running").await;
    let first = h.ok("tail_logs", args(json!({"tail": 1}))).await;
    assert_eq!(first["job_state"], "running");
    assert_eq!(first["log_may_grow"], true);
    insta::assert_json_snapshot!(snap(first));
    assert_eq!(h.requests().await, [get_job(), get_log()]);
    // Within the TTL (and the access re-check period): no request.
    h.ok("tail_logs", args(json!({"tail": 1, "cache_ttl": "1h"})))
        .await;
    assert_eq!(h.requests().await, [get_job(), get_log()]);
    // A zero TTL: a running job's log is always downloaded again, with its
    // state.
    for ttl in ["0s", "0", "0ms"] {
        h.ok(
            "search_logs",
            args(json!({"pattern": "x", "cache_ttl": ttl})),
        )
        .await;
    }
    assert_eq!(h.requests().await, downloads(4));
}

#[tokio::test]
async fn cache_ttl_must_be_a_duration() {
    let h = harness().await;
    for (ttl, expected) in [
        (json!("5 minutes"), "\"5 minutes\" is not a duration"),
        (json!("-5s"), "is not a duration"),
        (json!(""), "must not be empty"),
        (json!("30d"), "is not a duration"),
        (json!("1000h"), "7-day maximum"),
        (json!(30), "expected a duration string such as \"30s\""),
    ] {
        let error = h.err("tail_logs", args(json!({"cache_ttl": ttl}))).await;
        assert!(
            error.starts_with("invalid argument `cache_ttl`:") && error.contains(expected),
            "{error}"
        );
    }
    assert!(h.requests().await.is_empty());
}

#[tokio::test]
async fn read_logs_pages_with_next_seek() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    let page = h
        .ok("read_logs", args(json!({"seek": 3, "limit": 4})))
        .await;
    assert_eq!(h.requests().await, [get_job(), get_log()]);
    assert_eq!(page["next_seek"], 7);
    assert_eq!(page["total_rows"], 14);
    insta::assert_json_snapshot!(snap(page));

    // The next page ends the log: no next_seek.
    let last = h
        .ok("read_logs", args(json!({"seek": 7, "limit": 100})))
        .await;
    assert_eq!(last["entries"].as_array().unwrap().len(), 7);
    assert!(last.get("next_seek").is_none(), "{last}");

    // Default: from row 0, 200 rows (all 14 here).
    let all = h.ok("read_logs", args(json!({}))).await;
    assert_eq!(all["entries"].as_array().unwrap().len(), 14);
    assert_eq!(all["entries"][0]["rn"], 0);

    let grouped = h
        .ok(
            "read_logs",
            args(json!({"seek": 10, "limit": 2, "include_group": true})),
        )
        .await;
    assert_eq!(grouped["entries"][1]["group"], ":boom: Summary");
    // Every later page from the cache, without a request.
    assert_eq!(h.requests().await, [get_job(), get_log()]);
}

#[tokio::test]
async fn read_logs_past_the_end_is_empty_not_an_error() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    let page = h.ok("read_logs", args(json!({"seek": 14}))).await;
    assert_eq!(page["entries"], json!([]));
    assert!(page.get("next_seek").is_none());
    insta::assert_json_snapshot!(snap(page));
    let page = h.ok("read_logs", args(json!({"seek": 1_000_000}))).await;
    assert_eq!(page["entries"], json!([]));
}

#[tokio::test]
async fn an_empty_log_gives_empty_results() {
    let h = harness().await;
    serve(&h, b"", "passed").await;
    let tail = h.ok("tail_logs", args(json!({}))).await;
    assert_eq!(tail["entries"], json!([]));
    assert_eq!(tail["total_rows"], 0);
    let read = h.ok("read_logs", args(json!({}))).await;
    assert_eq!(read["entries"], json!([]));
    assert!(read.get("next_seek").is_none() && read.get("note").is_none());
    let search = h.ok("search_logs", args(json!({"pattern": "error"}))).await;
    assert_eq!(search["results"], json!([]));
    assert_eq!(search["match_count"], 0);
    assert_eq!(search["limited"], false);
    insta::assert_json_snapshot!(snap(search));
    // Downloaded once, then served from the cache.
    assert_eq!(h.requests().await, [get_job(), get_log()]);
}

#[tokio::test]
async fn search_logs_matches_visible_text_with_merged_context() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    // The raw log has colour codes inside "... FAILED"; the pattern is
    // matched against the visible text. Rows 5 and 6 are adjacent matches:
    // context is split between them, nothing shown twice, nothing hidden.
    let found = h
        .ok(
            "search_logs",
            args(json!({"pattern": r"\.\.\. FAILED$|expected \d+", "context": 1})),
        )
        .await;
    assert_eq!(h.requests().await, [get_job(), get_log()]);
    assert_eq!(match_rows(&found), [5, 6, 8]);
    let hits = found["results"].as_array().unwrap();
    assert_eq!(context_rows(&hits[0], "before_context"), [4]);
    assert_eq!(context_rows(&hits[0], "after_context"), Vec::<u64>::new());
    assert!(
        hits[0].get("after_context").is_none(),
        "empty context is left out"
    );
    assert_eq!(context_rows(&hits[1], "before_context"), Vec::<u64>::new());
    assert_eq!(context_rows(&hits[1], "after_context"), [7]);
    assert_eq!(context_rows(&hits[2], "before_context"), Vec::<u64>::new());
    assert_eq!(context_rows(&hits[2], "after_context"), [9]);
    assert_eq!(found["match_count"], 3);
    assert_eq!(found["limited"], false);
    assert!(found.get("next_seek_start").is_none());
    insta::assert_json_snapshot!(snap(found));
}

#[tokio::test]
async fn search_logs_context_sides_and_case() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    // before_context overrides context for its side only.
    let found = h
        .ok(
            "search_logs",
            args(json!({"pattern": "timeout", "context": 2, "before_context": 0})),
        )
        .await;
    let hit = &found["results"][0];
    assert_eq!(hit["match"]["rn"], 9);
    assert!(hit.get("before_context").is_none());
    assert_eq!(context_rows(hit, "after_context"), [10, 11]);
    // Case-insensitive by default; exact with case_sensitive.
    let any_case = h
        .ok("search_logs", args(json!({"pattern": "failed"})))
        .await;
    assert_eq!(match_rows(&any_case), [5, 8, 11]);
    let exact = h
        .ok(
            "search_logs",
            args(json!({"pattern": "failed", "case_sensitive": true})),
        )
        .await;
    assert_eq!(match_rows(&exact), [11]);
    // Groups on request, for the match and its context.
    let grouped = h
        .ok(
            "search_logs",
            args(json!({"pattern": "^2 failed", "before_context": 1, "include_group": true})),
        )
        .await;
    assert_eq!(grouped["results"][0]["match"]["group"], ":boom: Summary");
    assert_eq!(
        grouped["results"][0]["before_context"][0]["group"],
        ":boom: Summary"
    );
}

#[tokio::test]
async fn search_logs_reverse_gives_newest_first_with_natural_context() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    let found = h
        .ok(
            "search_logs",
            args(json!({"pattern": "failed", "reverse": true, "before_context": 1, "limit": 2})),
        )
        .await;
    assert_eq!(match_rows(&found), [11, 8]);
    // before_context is still the row above each match.
    assert_eq!(context_rows(&found["results"][0], "before_context"), [10]);
    assert_eq!(context_rows(&found["results"][1], "before_context"), [7]);
    assert_eq!(found["limited"], true);
    assert_eq!(found["next_seek_start"], 7);
    insta::assert_json_snapshot!(snap(found));
    // Continuing from next_seek_start finds the rest.
    let rest = h
        .ok(
            "search_logs",
            args(json!({"pattern": "failed", "reverse": true, "seek_start": 7})),
        )
        .await;
    assert_eq!(match_rows(&rest), [5]);
    assert_eq!(rest["limited"], false);
    // A reverse seek_start past the end starts at the last row.
    let from_far = h
        .ok(
            "search_logs",
            args(json!({"pattern": "failed", "reverse": true, "seek_start": 999})),
        )
        .await;
    assert_eq!(match_rows(&from_far), [11, 8, 5]);
}

#[tokio::test]
async fn search_logs_limit_and_continuation() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    let first = h
        .ok(
            "search_logs",
            args(json!({"pattern": "^test_", "limit": 2})),
        )
        .await;
    assert_eq!(match_rows(&first), [4, 5]);
    assert_eq!(first["limited"], true);
    assert_eq!(first["next_seek_start"], 6);
    let next = h
        .ok(
            "search_logs",
            args(json!({"pattern": "^test_", "limit": 3, "seek_start": 6})),
        )
        .await;
    assert_eq!(match_rows(&next), [7, 8]);
    assert_eq!(next["limited"], false);
    assert!(next.get("next_seek_start").is_none());
    // A forward seek_start past the end finds nothing.
    let past = h
        .ok(
            "search_logs",
            args(json!({"pattern": "^test_", "seek_start": 50})),
        )
        .await;
    assert_eq!(past["results"], json!([]));
}

#[tokio::test]
async fn search_logs_invert_match() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    let found = h
        .ok(
            "search_logs",
            args(json!({"pattern": r"\.\.\. |^\s|:|^[~$]", "invert_match": true})),
        )
        .await;
    assert_eq!(match_rows(&found), [11, 12, 13]);
    insta::assert_json_snapshot!(snap(found));
}

#[tokio::test]
async fn a_bad_pattern_is_an_argument_error_before_any_request() {
    let h = harness().await;
    let error = h
        .err("search_logs", args(json!({"pattern": "(unclosed"})))
        .await;
    assert!(
        error.starts_with("invalid argument `pattern`: is not a usable regular expression"),
        "{error}"
    );
    let error = h
        .err("search_logs", args(json!({"pattern": r"\w{1000}{1000}"})))
        .await;
    assert!(
        error.starts_with("invalid argument `pattern`") && error.contains("size limit"),
        "{error}"
    );
    let error = h.err("search_logs", args(json!({"pattern": "  "}))).await;
    assert_eq!(error, "invalid argument `pattern`: must not be empty");
    let error = h.err("search_logs", args(json!({}))).await;
    assert_eq!(error, "invalid argument `pattern`: is required");
    assert!(h.requests().await.is_empty());
}

#[tokio::test]
async fn arguments_are_checked() {
    let h = harness().await;
    for (tool, extra, expected) in [
        (
            "tail_logs",
            json!({"tail": 0}),
            "invalid argument `tail`: must be between 1 and 10000 (got 0)",
        ),
        (
            "tail_logs",
            json!({"tail": 10_001}),
            "invalid argument `tail`: must be between 1 and 10000",
        ),
        (
            "read_logs",
            json!({"limit": 0}),
            "invalid argument `limit`: must be between 1 and 10000",
        ),
        (
            "read_logs",
            json!({"seek": -1}),
            "invalid argument `seek`: must be between 0 and",
        ),
        (
            "search_logs",
            json!({"pattern": "x", "limit": 1001}),
            "invalid argument `limit`: must be between 1 and 1000",
        ),
        (
            "search_logs",
            json!({"pattern": "x", "context": 101}),
            "invalid argument `context`: must be between 0 and 100",
        ),
        (
            "search_logs",
            json!({"pattern": "x", "after_context": -1}),
            "invalid argument `after_context`",
        ),
        (
            "search_logs",
            json!({"pattern": "x", "seek_start": -3}),
            "invalid argument `seek_start`",
        ),
        (
            "read_logs",
            json!({"build_number": "89c02425-7712-4ee5-a694-c94b56b4d54c"}),
            "looks like a build UUID",
        ),
        (
            "read_logs",
            json!({"job_id": ""}),
            "invalid argument `job_id`: must not be empty",
        ),
        (
            "read_logs",
            json!({"lines": 5}),
            "invalid argument `lines`: is not an argument of this tool",
        ),
        (
            "tail_logs",
            json!({"force_refresh": "yes"}),
            "invalid argument `force_refresh`",
        ),
    ] {
        let error = h.err(tool, args(extra)).await;
        assert!(
            error.starts_with("invalid argument `") && error.contains(expected),
            "{tool}: {error}"
        );
    }
    assert!(h.requests().await.is_empty());
}

#[tokio::test]
async fn a_404_on_the_access_check_says_the_log_is_missing_or_unreadable() {
    // Cold: the download itself is refused.
    let h = harness().await;
    serve_job(&h, "failed").await;
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .respond_with(ResponseTemplate::new(404))
        .mount(&h.server)
        .await;
    for (tool, extra) in [
        ("tail_logs", json!({})),
        ("read_logs", json!({})),
        ("search_logs", json!({"pattern": "x"})),
    ] {
        let error = h.err(tool, args(extra)).await;
        assert!(
            error.starts_with(
                "Could not get the job's log, which does not exist or which this token cannot read"
            ),
            "{error}"
        );
        assert!(
            error.contains(&format!("GET {JOB_PATH}/log: 404 Not Found")),
            "{error}"
        );
    }
    assert_eq!(h.requests().await, downloads(3));

    // Warm: a log cached for one caller, and another caller's access check
    // refused. The cached log is not served to it.
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    serve_access_check(&h, OTHER, ResponseTemplate::new(404)).await;
    h.ok("read_logs", args(json!({}))).await;
    for tool in ["tail_logs", "read_logs"] {
        let result = h.call_as(OTHER, tool, args(json!({}))).await;
        assert!(result.is_error && !result.unauthorized, "{}", result.text);
        assert!(
            result.text.starts_with(
                "Could not get the job's log, which does not exist or which this token cannot read"
            ),
            "{}",
            result.text
        );
        assert!(
            result
                .text
                .contains(&format!("HEAD {JOB_PATH}/log: 404 Not Found")),
            "{}",
            result.text
        );
    }
    let result = h
        .call_as(OTHER, "search_logs", args(json!({"pattern": "x"})))
        .await;
    assert!(result.is_error, "{}", result.text);
    let error = result.text;
    assert!(error.contains("404 Not Found"), "{error}");
    insta::assert_snapshot!(error);
    // A refused check is not remembered: each call checks again.
    assert_eq!(
        h.requests().await,
        [get_job(), get_log(), head(), head(), head()]
    );
    assert_eq!(h.tokens().await, [TOKEN, TOKEN, OTHER, OTHER, OTHER]);
    // The caller who may read it still is served from the cache.
    h.ok("tail_logs", args(json!({}))).await;
    assert_eq!(h.requests().await.len(), 5);
}

#[tokio::test]
async fn a_401_is_flagged_unauthorized_and_a_403_names_the_scope() {
    // Cold, a refused token: the first request (the job's state) says so.
    let h = harness().await;
    Mock::given(method("GET"))
        .and(path(JOB_PATH))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    let result = h.call("tail_logs", args(json!({}))).await;
    assert!(result.is_error && result.unauthorized, "{}", result.text);
    assert!(result.text.contains("401 Unauthorized"), "{}", result.text);
    assert!(
        result.text.contains("invalid, expired or revoked"),
        "{}",
        result.text
    );
    assert_eq!(h.requests().await, [get_job()]);

    // Cold, a token that may read the build but not its logs.
    serve_job(&h, "failed").await;
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .respond_with(ResponseTemplate::new(403))
        .mount(&h.server)
        .await;
    let result = h.call("read_logs", args(json!({}))).await;
    assert!(result.is_error && !result.unauthorized, "{}", result.text);
    assert!(
        result
            .text
            .contains(&format!("GET {JOB_PATH}/log: 403 Forbidden")),
        "{}",
        result.text
    );
    assert!(
        result
            .text
            .contains("needs the token scope read_build_logs"),
        "{}",
        result.text
    );
    assert_eq!(h.requests().await, [get_job(), get_job(), get_log()]);

    // Warm: a log cached for the test token; other callers' access checks
    // refused, as revoked (401) or without the scope (403).
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    h.ok("read_logs", args(json!({}))).await;
    const REVOKED: &str = "bkua_revoked0123456789abcdefghijkl";
    serve_access_check(&h, REVOKED, ResponseTemplate::new(401)).await;
    serve_access_check(&h, OTHER, ResponseTemplate::new(403)).await;
    let result = h.call_as(REVOKED, "tail_logs", args(json!({}))).await;
    assert!(result.is_error && result.unauthorized, "{}", result.text);
    assert!(
        result
            .text
            .contains(&format!("HEAD {JOB_PATH}/log: 401 Unauthorized")),
        "{}",
        result.text
    );
    let result = h.call_as(OTHER, "read_logs", args(json!({}))).await;
    assert!(result.is_error && !result.unauthorized, "{}", result.text);
    assert!(
        result
            .text
            .contains(&format!("HEAD {JOB_PATH}/log: 403 Forbidden")),
        "{}",
        result.text
    );
    assert!(
        result
            .text
            .contains("needs the token scope read_build_logs"),
        "{}",
        result.text
    );
    assert_eq!(h.requests().await, [get_job(), get_log(), head(), head()]);
    assert_eq!(h.tokens().await, [TOKEN, TOKEN, REVOKED, OTHER]);
}

#[tokio::test]
async fn a_failed_download_is_reported_with_the_call() {
    let h = harness().await;
    serve_job(&h, "failed").await;
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .respond_with(ResponseTemplate::new(503).set_body_string(r#"{"message": "down"}"#))
        .mount(&h.server)
        .await;
    let error = h.err("read_logs", args(json!({}))).await;
    assert!(
        error.starts_with(&format!(
            "Could not get the job's log: GET {JOB_PATH}/log: 503"
        )),
        "{error}"
    );
    assert!(error.contains("retry shortly"), "{error}");
    // The download retried once (the harness's retry policy).
    assert_eq!(h.requests().await, [get_job(), get_log(), get_log()]);
}

/// A log of `rows` rows of about 100 characters each.
fn big_log(rows: usize) -> Vec<u8> {
    let mut log = Vec::new();
    for i in 0..rows {
        log.extend_from_slice(
            format!(
                "\x1b_bk;t={}\x07step {i:04}: {}\r\n",
                1_745_322_209_000_u64 + i as u64,
                "x".repeat(80)
            )
            .as_bytes(),
        );
    }
    log
}

#[tokio::test]
async fn a_big_read_is_trimmed_to_the_budget_and_says_where_to_continue() {
    let mut h = harness().await;
    h.ctx.limits.response_budget = 4000;
    serve(&h, &big_log(500), "failed").await;
    let result = h
        .call("read_logs", args(json!({"seek": 100, "limit": 300})))
        .await;
    assert!(!result.is_error, "{}", result.text);
    assert!(result.text.len() <= 4000, "{}", result.text.len());
    let page: Value = serde_json::from_str(&result.text).unwrap();
    let kept = page["entries"].as_array().unwrap().len() as u64;
    assert!(kept > 5 && kept < 300, "{kept}");
    assert_eq!(page["entries"][0]["rn"], 100);
    // next_seek and the note agree: continue right after the last row shown.
    assert_eq!(page["next_seek"], 100 + kept);
    assert_eq!(page["truncated"]["next"]["seek"], 100 + kept);
    assert_eq!(page["truncated"]["items_returned"], kept);
    assert_eq!(page["truncated"]["items_dropped"], 300 - kept);
    let mut shape = page.clone();
    shape["entries"] = json!(format!("[{kept} entries]"));
    insta::assert_json_snapshot!(snap(shape));

    // Continuing from there picks up the next row.
    let next = h
        .ok("read_logs", args(json!({"seek": 100 + kept, "limit": 1})))
        .await;
    assert_eq!(next["entries"][0]["rn"], 100 + kept);
}

#[tokio::test]
async fn a_big_tail_keeps_the_newest_rows_and_a_big_search_continues() {
    let mut h = harness().await;
    h.ctx.limits.response_budget = 4000;
    serve(&h, &big_log(500), "failed").await;
    let result = h.call("tail_logs", args(json!({"tail": 200}))).await;
    assert!(result.text.len() <= 4000, "{}", result.text.len());
    let tail: Value = serde_json::from_str(&result.text).unwrap();
    let entries = tail["entries"].as_array().unwrap();
    let kept = entries.len() as u64;
    assert!(kept > 5 && kept < 200, "{kept}");
    assert_eq!(entries.last().unwrap()["rn"], 499, "the newest row is kept");
    assert_eq!(tail["truncated"]["next"]["tool"], "read_logs");
    assert_eq!(tail["truncated"]["next"]["seek"], 300);
    assert_eq!(tail["truncated"]["next"]["limit"], 200 - kept);

    let result = h
        .call(
            "search_logs",
            args(json!({"pattern": "step", "limit": 100})),
        )
        .await;
    assert!(result.text.len() <= 4000, "{}", result.text.len());
    let found: Value = serde_json::from_str(&result.text).unwrap();
    let kept = found["results"].as_array().unwrap().len() as u64;
    assert!(kept > 5 && kept < 100, "{kept}");
    assert_eq!(found["match_count"], kept);
    assert_eq!(found["next_seek_start"], kept);
    assert_eq!(found["truncated"]["next"]["seek_start"], kept);
}

#[tokio::test]
async fn a_huge_uncached_log_is_tailed_with_a_ranged_request() {
    let h = harness_with_engine(bk_logs::EngineOptions {
        tail_range_above: 1000,
        ..Default::default()
    })
    .await;
    let total: u64 = 5_000_000;
    let tail = b"ial line\r\n\x1b_bk;t=1745322210000\x07second to \x1b[1mlast\x1b[0m\r\n\x1b_bk;t=1745322210001\x07last\r\n";
    serve_job(&h, "failed").await;
    // The whole log announces its size (Content-Length) and is dropped
    // unread; then only its end is asked for.
    let mut whole = vec![b'x'; usize::try_from(total).unwrap() - tail.len()];
    whole.extend_from_slice(tail);
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(whole, "text/plain"))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{JOB_PATH}/log")))
        .and(header("range", "bytes=-3072"))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header(
                    "content-range",
                    format!("bytes {}-{}/{total}", total - tail.len() as u64, total - 1).as_str(),
                )
                .set_body_raw(tail.to_vec(), "text/plain"),
        )
        .with_priority(1)
        .expect(1)
        .mount(&h.server)
        .await;
    let result = h.ok("tail_logs", args(json!({"tail": 2}))).await;
    assert_eq!(h.requests().await, [get_job(), get_log(), get_log()]);
    let ranges: Vec<Option<String>> = h
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get("range")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(ranges, [None, None, Some("bytes=-3072".to_owned())]);
    assert_eq!(contents(&result["entries"]), ["second to last", "last"]);
    assert_eq!(result["total_bytes"], total);
    assert_eq!(result["row_numbers_relative"], true);
    assert!(result.get("total_rows").is_none());
    insta::assert_json_snapshot!(snap(result));
    // Nothing was cached.
    let key = bk_logs::EntryKey::new("acme", "b63254c0-3271-4a98-8270-7cfbd6c2f14e");
    assert!(h.ctx.logs.cache().open(&key).unwrap().is_none());
}

#[tokio::test]
async fn a_log_over_the_size_limit_points_to_tail_logs() {
    let h = harness_with_engine(bk_logs::EngineOptions {
        max_log_bytes: 100,
        ..Default::default()
    })
    .await;
    serve(&h, LOG, "failed").await;
    for call in [args(json!({})), args(json!({"pattern": "x"}))] {
        let tool = if call.get("pattern").is_some() {
            "search_logs"
        } else {
            "read_logs"
        };
        let error = h.err(tool, call).await;
        assert!(error.contains("too large"), "{error}");
        assert!(
            error.contains(&format!("the log is {} bytes", LOG.len())),
            "{error}"
        );
        assert!(error.contains("Use tail_logs"), "{error}");
    }
    // The download announced its size and was dropped unread: nothing was
    // cached, so each call asked again.
    assert_eq!(h.requests().await, downloads(2));
    let key = bk_logs::EntryKey::new("acme", "b63254c0-3271-4a98-8270-7cfbd6c2f14e");
    assert!(h.ctx.logs.cache().open(&key).unwrap().is_none());
}

#[test]
fn schemas_are_strict_and_described_where_needed() {
    let registry = bk_tools::Registry::new();
    for name in ["search_logs", "tail_logs", "read_logs"] {
        let tool = registry.get(name).unwrap();
        let schema = tool.input_schema();
        assert_eq!(schema["additionalProperties"], false);
        for (param, property) in schema["properties"].as_object().unwrap() {
            // Described where the name, type and enum do not say it all.
            assert!(
                property
                    .get("description")
                    .is_none_or(|d| d.as_str().is_some_and(|d| d.len() > 10)),
                "{name}.{param}: an empty description"
            );
        }
        assert_eq!(schema["properties"]["cache_ttl"]["type"], "string");
        assert_eq!(schema["properties"]["include_group"]["type"], "boolean");
        assert_eq!(
            schema["required"],
            if name == "search_logs" {
                json!([
                    "org_slug",
                    "pipeline_slug",
                    "build_number",
                    "job_id",
                    "pattern"
                ])
            } else {
                json!(["org_slug", "pipeline_slug", "build_number", "job_id"])
            }
        );
        assert!(tool.meta().annotations().read_only_hint);
    }
}

#[tokio::test]
async fn a_damaged_cache_entry_is_rebuilt_not_served() {
    let h = harness().await;
    let log = big_log(500);
    serve(&h, &log, "failed").await;
    h.ok("read_logs", args(json!({"limit": 1}))).await;
    // Damage the start of the cached text (the first 16 KiB chunk): the
    // entry still opens (its metadata is in a later chunk) but reading the
    // early rows fails their checksum.
    let key = bk_logs::EntryKey::new("acme", "b63254c0-3271-4a98-8270-7cfbd6c2f14e");
    let entry = h.ctx.logs.cache().path_for(&key);
    let mut bytes = std::fs::read(&entry).unwrap();
    bytes[200] ^= 0xff;
    std::fs::write(&entry, bytes).unwrap();

    let tail = h.ok("tail_logs", args(json!({"tail": 450}))).await;
    let entries = tail["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 450);
    assert!(
        entries[0]["c"]
            .as_str()
            .unwrap()
            .starts_with("step 0050: xxx")
    );
    // The engine's tail found the damage and rebuilt the entry (the same
    // caller's access was checked moments ago: no HEAD).
    assert_eq!(
        h.requests().await,
        [get_job(), get_log(), get_job(), get_log()]
    );
    let read = h.ok("read_logs", args(json!({"limit": 2}))).await;
    assert_eq!(read["entries"][1]["rn"], 1);
    assert_eq!(h.requests().await.len(), 4);
}

fn digest_texts(lines: &Value) -> Vec<(u64, String, u64)> {
    lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["rn"].as_u64().unwrap(),
                l["c"].as_str().unwrap().to_owned(),
                l.get("x").map_or(1, |x| x.as_u64().unwrap()),
            )
        })
        .collect()
}

#[tokio::test]
async fn tail_logs_digest_centres_on_the_last_specific_error() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    let digest = h.ok("tail_logs", args(json!({"digest": true}))).await;
    assert_eq!(h.requests().await, [get_job(), get_log()]);
    // "Exited with status 1" is the generic exit line; the summary says why.
    assert_eq!(digest["error_row"], 11);
    assert_eq!(digest["error_line"], "2 failed, 2 passed");
    assert_eq!(digest["total_rows"], 14);
    assert!(digest.get("entries").is_none());
    let lines = digest_texts(&digest["lines"]);
    let covered: u64 = lines.iter().map(|l| l.2).sum();
    assert_eq!(covered, 14, "every row shown or counted: {lines:?}");
    assert_eq!(lines.last().unwrap().1, "Exited with status 1");
    insta::assert_json_snapshot!(snap(digest));
}

#[tokio::test]
async fn tail_logs_digest_folds_a_long_log_to_a_few_lines() {
    let h = harness().await;
    let mut log = String::new();
    for i in 0..400 {
        log.push_str(&format!(
            "\x1b_bk;t={}\x07Compiling crate-{i} v0.1.{i}\n",
            1_745_322_209_921u64 + i
        ));
    }
    log.push_str("\x1b[31merror\x1b[0m: linking with `cc` failed: exit status: 1\n");
    for i in 0..60 {
        log.push_str(&format!("  = note: /usr/bin/ld: undefined reference {i}\n"));
    }
    log.push_str("🚨 Error: The command exited with status 101\n");
    serve(&h, log.as_bytes(), "failed").await;
    let digest = h
        .ok("tail_logs", args(json!({"digest": true, "tail": 20})))
        .await;
    assert_eq!(digest["error_row"], 400);
    assert_eq!(
        digest["error_line"],
        "error: linking with `cc` failed: exit status: 1"
    );
    let lines = digest_texts(&digest["lines"]);
    assert!(lines.len() <= 21, "{lines:?}");
    assert_eq!(lines[0].1, "…");
    let compiling = lines.iter().find(|l| l.1.starts_with("Compiling")).unwrap();
    assert_eq!(
        (compiling.1.as_str(), compiling.2),
        ("Compiling crate-399 v0.1.399", 30)
    );
    let notes = lines
        .iter()
        .find(|l| l.1.contains("undefined reference"))
        .unwrap();
    assert!(notes.2 > 1, "{notes:?}");
    assert_eq!(
        lines.last().unwrap().1,
        "🚨 Error: The command exited with status 101"
    );
    let text = digest.to_string();
    assert!(text.len() < 3_000, "{} bytes", text.len());
}

#[tokio::test]
async fn search_logs_digest_returns_folded_lines_and_match_rows() {
    let h = harness().await;
    serve(&h, LOG, "failed").await;
    let result = h
        .ok(
            "search_logs",
            args(
                json!({"pattern": "FAILED", "case_sensitive": true, "context": 1, "digest": true}),
            ),
        )
        .await;
    assert_eq!(result["match_rows"], json!([5, 8]));
    assert_eq!(result["match_count"], 2);
    assert!(result.get("results").is_none());
    assert_eq!(
        digest_texts(&result["lines"]),
        [
            (4, "test_login ... ok".to_owned(), 1),
            (5, "test_logout ... FAILED".to_owned(), 1),
            (6, "  expected 200, got 500".to_owned(), 1),
            (7, "test_signup ... ok".to_owned(), 1),
            (8, "test_reset ... FAILED".to_owned(), 1),
            (9, "  timeout after 30s".to_owned(), 1),
        ]
    );
    let bad = h
        .err(
            "search_logs",
            args(json!({"pattern": "x", "digest": "yes"})),
        )
        .await;
    assert!(bad.contains("digest"), "{bad}");
}
