//! `get_build_failure_summary`: why a build is red, in one bounded answer.
//!
//! One call gathers what an agent would otherwise fetch piece by piece:
//! the build, its failing jobs in priority order (failed, then canceled,
//! then downstream), a **digest** of each failing job's log (the window
//! around its last error, repeats folded), the error and warning
//! annotations as plain text, and the failed tests grouped by failure
//! reason, with tests and jobs that passed on retry reported as flaky.
//!
//! The API calls run concurrently (logs and test runs four at a time). A
//! 403 on one section becomes a warning or a per-item error and the rest is
//! kept; a 401 aborts the call. The answer is fitted to `content_limit_bytes`
//! by shortening logs first, then annotations and test lists, and
//! `content_bytes` is the exact size of the text delivered.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use bk_logs::digest::{Digest, DigestOptions, normalize};
use buildkite_api::{
    Annotation, AnnotationStyle, Build, Error as ApiError, FailedExecution, GetBuild, Job,
    JobState, ListAnnotations, ListTests,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::common::{failing_jobs, has_test_runs, note_rate_limit, run_failures, settled_for};
use crate::args::{Bounded, BuildNumber, NonEmpty};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::html::annotation_text;
use crate::shape::project::{pick, to_object};
use crate::shape::{ToolOutput, render};
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::tools::logs::{JobLocation, job_log_digest, job_log_tail};
use crate::toolset::Toolset;

const SCOPES: &[&str] = &["read_builds", "read_build_logs", "read_suites"];

/// Job logs fetched at once (each is three dependent calls): the default
/// `max_jobs`, so a default summary reads its logs in one wave.
const LOG_CONCURRENCY: usize = 10;
/// Longest log line kept in a summary (the whole line is in the log).
const LOG_LINE_BYTES: usize = 2 * 1024;
/// Annotation pages scanned (100 each).
const ANNOTATION_PAGES: u32 = 5;
/// Longest annotation text kept, before any budget cut.
const ANNOTATION_TEXT_BYTES: usize = 4 * 1024;
/// Longest failure reason kept.
const REASON_BYTES: usize = 1024;
/// Tests named per failure group, before any budget cut.
const TESTS_PER_GROUP: usize = 10;
/// Default for `content_limit_bytes`.
const DEFAULT_CONTENT_LIMIT: usize = 256 * 1024;

/// Arguments of `get_build_failure_summary`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureSummaryArgs {
    /// Organization slug, e.g. "acme".
    pub org_slug: NonEmpty,
    /// Pipeline slug, e.g. "app".
    pub pipeline_slug: NonEmpty,
    /// The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    /// Most log lines per failing job, 1–200 (default 50). With the default digest, the lines of the window around the job's last error (repeats folded); with raw_logs, the last rows.
    pub log_tail: Option<Bounded<1, 200>>,
    /// Most failing jobs reported, 1–50 (default 10): failed, timed out and expired first, then canceled, then downstream (broken, waiting/blocked/unblocked failed).
    pub max_jobs: Option<Bounded<1, 50>>,
    /// Most error and warning annotations reported, 1–100 (default 20).
    pub max_annotations: Option<Bounded<1, 100>>,
    /// Most Test Engine runs read for failed tests, 1–20 (default 5).
    pub max_test_runs: Option<Bounded<1, 20>>,
    /// Most failed tests reported in all, 1–200 (default 100).
    pub max_failed_tests: Option<Bounded<1, 200>>,
    /// Most failed tests read per Test Engine run, 1–100 (default 20).
    pub max_failed_tests_per_run: Option<Bounded<1, 100>>,
    /// Include each failing job's log (default true).
    pub include_logs: Option<bool>,
    /// Include error and warning annotations (default true).
    pub include_annotations: Option<bool>,
    /// Include failed tests from Test Engine (default true).
    pub include_failed_tests: Option<bool>,
    /// Include each failed test's expanded failure (backtrace) (default false).
    #[serde(default)]
    pub include_failure_expanded: bool,
    /// Give each job's last log rows as they are instead of a digest around its last error (default false).
    #[serde(default)]
    pub raw_logs: bool,
    /// Largest answer in bytes, 4096–262144 (default 262144, and never more than the server's response budget). Logs are shortened first, then annotations and test lists.
    pub content_limit_bytes: Option<Bounded<4096, 262_144>>,
}

/// `get_build_failure_summary`.
#[derive(Debug)]
pub struct GetBuildFailureSummary;

#[async_trait]
impl Handler for GetBuildFailureSummary {
    type Args = FailureSummaryArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_build_failure_summary",
        title: "Get Build Failure Summary",
        description: "Why a build failed, in one call: the build; its failing jobs in priority order (failed, timed out and expired, then canceled, then downstream jobs that never ran), each with a digest of its log around its last error (repeated lines folded: x = rows a line stands for; c = \"…\" marks x rows left out); jobs that failed and then passed on retry, as flaky_jobs; error and warning annotations as plain text; and failed tests from Test Engine grouped by failure reason, with tests that also passed in this build reported as flaky. Start here for a red build, then drill down with tail_logs, search_logs or get_failed_executions. A section the token cannot read becomes a warning; the answer fits content_limit_bytes and content_bytes is its exact size.",
        toolset: Toolset::Investigations,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: FailureSummaryArgs,
    ) -> Result<ToolOutput, ToolError> {
        let org = args.org_slug.to_string();
        let pipeline = args.pipeline_slug.to_string();
        let number = args.build_number.get();
        // The operator's cap bounds the default and the argument alike.
        let max_jobs = args
            .max_jobs
            .map_or(10, Bounded::as_usize)
            .min(ctx.limits.failure_summary_max_jobs.max(1));
        let build = ctx
            .client
            .get_build(
                &org,
                &pipeline,
                number,
                // Every job, retried attempts included, in this one request:
                // the failing jobs, their states and their retries come
                // from it, not from requests of their own.
                &GetBuild {
                    exclude_pipeline: Some(true),
                    include_retried_jobs: Some(true),
                    include_test_engine: Some(true),
                    ..GetBuild::default()
                },
            )
            .await
            .context("the build", &["read_builds"])?;
        let mut warnings: Vec<String> = Vec::new();
        let ctx = &settled_for(ctx, &build);
        ctx.report_progress(
            1.0,
            None,
            &format!(
                "build #{number} is {}; reading its failed jobs, annotations and tests",
                build.state
            ),
        );

        let include_logs = args.include_logs != Some(false);
        let include_annotations = args.include_annotations != Some(false);
        let include_tests = args.include_failed_tests != Some(false) && has_test_runs(&build);

        // Jobs (then their logs), annotations and tests are independent:
        // fetch them together.
        let jobs = failing_jobs(&build, max_jobs);
        let jobs_and_logs = async {
            let logs = if include_logs {
                job_logs(ctx, &org, &pipeline, number, &jobs.reported, &args).await?
            } else {
                Vec::new()
            };
            Ok::<_, ToolError>(logs)
        };
        let (jobs_and_logs, annotations, tests) = tokio::join!(
            jobs_and_logs,
            async {
                if include_annotations {
                    Some(problem_annotations(ctx, &org, &pipeline, number, &args).await)
                } else {
                    None
                }
            },
            async {
                if include_tests {
                    Some(failed_tests(ctx, &org, &build, &args).await)
                } else {
                    None
                }
            },
        );
        let logs = jobs_and_logs?;
        let flaky_jobs = &jobs.flaky;
        let mut job_items = jobs.reported.iter().map(job_item).collect::<Vec<_>>();
        for (item, log) in job_items.iter_mut().zip(logs) {
            if let (Value::Object(item), Some(log)) = (item, log) {
                item.extend(log);
            }
        }

        let mut out = Map::new();
        out.insert("build".into(), build_item(&build));
        out.insert("jobs".into(), Value::Array(job_items));
        out.insert("job_limit".into(), json!(max_jobs));
        if jobs.truncated {
            out.insert("jobs_truncated".into(), json!(true));
        }
        if !flaky_jobs.is_empty() {
            out.insert(
                "flaky_jobs".into(),
                Value::Array(flaky_jobs.iter().map(flaky_job_item).collect()),
            );
        }
        if let Some(annotations) = annotations {
            let annotations = annotations?;
            out.insert("annotations".into(), Value::Array(annotations.items));
            if annotations.truncated {
                out.insert("annotations_truncated".into(), json!(true));
            }
            warnings.extend(annotations.warnings);
        }
        if let Some(tests) = tests {
            let tests = tests?;
            out.extend(tests.fields);
            warnings.extend(tests.warnings);
        }
        if !warnings.is_empty() {
            out.insert("warnings".into(), json!(warnings));
        }
        note_rate_limit(ctx, &mut out);

        let limit = args
            .content_limit_bytes
            .map_or(DEFAULT_CONTENT_LIMIT, Bounded::as_usize)
            .min(ctx.limits.response_budget);
        fit(out, limit, &ctx.limits)
    }
}

/// The build, essentials first.
fn build_item(build: &Build) -> Value {
    let mut item = pick(
        &to_object(build),
        &[
            "id",
            "number",
            "state",
            "branch",
            "commit",
            "message",
            "web_url",
            "blocked",
            "created_at",
            "started_at",
            "finished_at",
        ],
    );
    if let Some(message) = item.get_mut("message")
        && let Some(text) = message.as_str()
    {
        *message = json!(cut(text.lines().next().unwrap_or_default(), 300));
    }
    if let Some(counts) = &build.job_state_counts {
        item.insert("job_state_counts".into(), json!(counts));
    }
    Value::Object(item)
}

/// A job, as the summary shows it.
fn job_item(job: &Job) -> Value {
    let mut item = pick(
        &to_object(job),
        &[
            "id",
            "name",
            "step_key",
            "state",
            "exit_status",
            "soft_failed",
            "signal_reason",
            "retries_count",
            "promised_exit_status",
            "web_url",
        ],
    );
    if item.get("name").is_none_or(Value::is_null)
        && let Some(label) = &job.label
    {
        item.insert("name".into(), json!(label));
    }
    if job.soft_failed != Some(true) {
        item.remove("soft_failed");
    }
    item.retain(|_, v| !v.is_null());
    if let Some(reason) = &job.broken_reason {
        item.insert("broken_reason".into(), json!(reason));
    }
    if let Some(triggered) = &job.triggered_build {
        item.insert("triggered_build".into(), json!(triggered));
    }
    if let Some(agent) = job.agent.as_ref().and_then(|a| a.name.as_deref()) {
        item.insert("agent".into(), json!(agent));
    }
    Value::Object(item)
}

fn flaky_job_item(job: &Job) -> Value {
    let mut item = pick(
        &to_object(job),
        &["id", "name", "step_key", "state", "exit_status", "web_url"],
    );
    item.retain(|_, v| !v.is_null());
    item.insert("retried_in_job_id".into(), json!(job.retried_in_job_id));
    item.insert(
        "verdict".into(),
        json!("flaky: this attempt failed and its retry did not"),
    );
    Value::Object(item)
}

/// Whether a job has a log worth reading: it ran (or is running with a
/// failure promised).
fn log_worth_reading(job: &Job) -> bool {
    if job.kind != "script" {
        return false;
    }
    match job.state {
        Some(JobState::Failed | JobState::TimedOut | JobState::Canceled) => {
            job.started_at.is_some() || job.exit_status.is_some()
        }
        Some(JobState::Running) => job.promised_exit_status.is_some_and(|s| s != 0),
        _ => false,
    }
}

/// Each job's log fields (or `None` for a job without a log), in job
/// order, fetched four at a time. A 401 aborts; other errors stay with
/// their job.
async fn job_logs(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    number: u64,
    jobs: &[Job],
    args: &FailureSummaryArgs,
) -> Result<Vec<Option<Map<String, Value>>>, ToolError> {
    let lines = args.log_tail.map_or(50, Bounded::as_usize);
    let raw = args.raw_logs;
    let permits = Arc::new(Semaphore::new(LOG_CONCURRENCY));
    // Each task stays inside the tool's span, so its API calls are traced
    // as part of this call.
    let mut tasks = JoinSet::new();
    let mut task_jobs = HashMap::new();
    for (index, job) in jobs.iter().enumerate() {
        if !log_worth_reading(job) {
            continue;
        }
        let ctx = ctx.clone();
        let (org, pipeline, job_id) = (org.to_owned(), pipeline.to_owned(), job.id.clone());
        let state = job.state.clone();
        let permits = Arc::clone(&permits);
        let task = tasks.spawn(
            async move {
                let _permit = permits.acquire_owned().await;
                let location = JobLocation {
                    org: &org,
                    pipeline: &pipeline,
                    number,
                    job_id: &job_id,
                    state: state.as_ref(),
                };
                let fields = if raw {
                    job_log_tail(&ctx, &location, lines)
                        .await
                        .map(|(rows, total, notes)| raw_log_fields(rows, total, notes))
                } else {
                    let options = DigestOptions {
                        max_lines: lines,
                        ..DigestOptions::default()
                    };
                    job_log_digest(&ctx, &location, &options)
                        .await
                        .map(|(digest, notes)| digest_fields(digest, notes))
                };
                (index, fields)
            }
            .in_current_span(),
        );
        task_jobs.insert(task.id(), index);
    }
    let mut logs: Vec<Option<Map<String, Value>>> = vec![None; jobs.len()];
    // Progress: step 1 was the build; each log read is one more.
    let total = tasks.len();
    let mut read = 0;
    while let Some(joined) = tasks.join_next_with_id().await {
        read += 1;
        let (index, fields) = match joined {
            Ok((_, done)) => done,
            // A task that failed (it cannot, short of a bug) still says so.
            Err(error) => match task_jobs.get(&error.id()) {
                Some(&index) => (
                    index,
                    Err(ToolError::Other(format!(
                        "reading the log failed inside the server: {error}"
                    ))),
                ),
                None => continue,
            },
        };
        let fields = match fields {
            Ok(fields) => fields,
            Err(error) if error.is_unauthorized() => return Err(error),
            Err(error) => {
                let mut fields = Map::new();
                fields.insert("log_error".into(), json!(error.to_string()));
                fields
            }
        };
        if let Some(slot) = logs.get_mut(index) {
            *slot = Some(fields);
        }
        let name = jobs.get(index).map_or("a job", job_label);
        ctx.report_progress(
            (1 + read) as f64,
            Some((1 + total) as f64),
            &format!("read {read} of {total} failed job logs ({name})"),
        );
    }
    Ok(logs)
}

/// A job's name for messages: its label, else its step key, else its id.
fn job_label(job: &Job) -> &str {
    job.name
        .as_deref()
        .or(job.step_key.as_deref())
        .unwrap_or(job.id.as_str())
}

fn digest_fields(mut digest: Digest, notes: Map<String, Value>) -> Map<String, Value> {
    // One huge line (minified code, a JSON dump) must not crowd out the rest.
    for line in &mut digest.lines {
        if line.c.len() > LOG_LINE_BYTES {
            line.c = cut(&line.c, LOG_LINE_BYTES);
        }
    }
    let mut fields = Map::new();
    if let Some(line) = digest.error_line {
        fields.insert("error_line".into(), json!(cut(&line, LOG_LINE_BYTES)));
    }
    if let Some(row) = digest.error_row {
        fields.insert("error_row".into(), json!(row));
    }
    fields.insert("log".into(), json!(digest.lines));
    fields.insert("log_total_rows".into(), json!(digest.total_rows));
    for (key, value) in notes {
        fields.insert(format!("log_{key}"), value);
    }
    fields
}

fn raw_log_fields(
    rows: Vec<bk_logs::LogRow>,
    total: u64,
    notes: Map<String, Value>,
) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("log_tail".into(), json!(rows));
    fields.insert("log_total_rows".into(), json!(total));
    for (key, value) in notes {
        fields.insert(format!("log_{key}"), value);
    }
    fields
}

/// Error and warning annotations found, as plain text.
struct Annotations {
    items: Vec<Value>,
    truncated: bool,
    warnings: Vec<String>,
}

async fn problem_annotations(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    number: u64,
    args: &FailureSummaryArgs,
) -> Result<Annotations, ToolError> {
    let max = args.max_annotations.map_or(20, Bounded::as_usize);
    let mut found = Annotations {
        items: Vec::new(),
        truncated: false,
        warnings: Vec::new(),
    };
    for page in 1..=ANNOTATION_PAGES {
        let params = ListAnnotations {
            scope: Some("all".into()),
            page: Some(page),
            per_page: Some(100),
            ..ListAnnotations::default()
        };
        let listed = match ctx
            .client
            .list_build_annotations(org, pipeline, number, &params)
            .await
        {
            Ok(listed) => listed,
            Err(error @ ApiError::Unauthorized { .. }) => {
                return Err(ToolError::api(
                    "the build's annotations",
                    error,
                    &["read_builds"],
                ));
            }
            Err(error) => {
                found
                    .warnings
                    .push(format!("annotations unavailable: {error}"));
                break;
            }
        };
        found.items.extend(
            listed
                .items
                .iter()
                .filter(|a| {
                    matches!(
                        a.style,
                        Some(AnnotationStyle::Error | AnnotationStyle::Warning)
                    )
                })
                .map(annotation_item),
        );
        if !listed.has_more() {
            break;
        }
        if page == ANNOTATION_PAGES {
            found.truncated = true;
        }
    }
    // Errors before warnings, each in the API's order; then the limit, so
    // warnings never push an error out.
    found
        .items
        .sort_by_key(|item| item["style"].as_str() != Some("error"));
    if found.items.len() > max {
        found.items.truncate(max);
        found.truncated = true;
    }
    Ok(found)
}

fn annotation_item(annotation: &Annotation) -> Value {
    let mut item = pick(
        &to_object(annotation),
        &["id", "context", "style", "scope", "job_id"],
    );
    item.retain(|_, v| !v.is_null());
    let text = annotation_text(annotation.body_html.as_deref().unwrap_or_default());
    let cut_text = cut(&text, ANNOTATION_TEXT_BYTES);
    if cut_text.len() < text.len() {
        item.insert("text_truncated".into(), json!(true));
    }
    item.insert("text".into(), json!(cut_text));
    Value::Object(item)
}

/// The failed-test fields and warnings.
struct FailedTests {
    fields: Map<String, Value>,
    warnings: Vec<String>,
}

async fn failed_tests(
    ctx: &ToolContext,
    org: &str,
    build: &Build,
    args: &FailureSummaryArgs,
) -> Result<FailedTests, ToolError> {
    let max_runs = args.max_test_runs.map_or(5, Bounded::as_usize);
    let max_total = args.max_failed_tests.map_or(100, Bounded::as_usize);
    let per_run = args
        .max_failed_tests_per_run
        .map_or(20, Bounded::as_usize)
        .min(max_total);
    let (results, runs_truncated) = run_failures(
        ctx,
        org,
        build,
        max_runs,
        per_run,
        args.include_failure_expanded,
    )
    .await?;

    let mut warnings = Vec::new();
    // Which tests also passed in this build: those failed and then passed
    // on a retry (a retried job, or a framework's own retry).
    let any_failed = results.iter().any(|r| !r.executions.is_empty());
    let passed_in_build = if any_failed {
        match passed_tests(ctx, org, &build.id).await {
            Ok(passed) => passed,
            Err(error) if error.is_unauthorized() => return Err(error),
            Err(error) => {
                warnings.push(format!(
                    "could not tell flaky tests from failed ones: {error}"
                ));
                HashSet::new()
            }
        }
    } else {
        HashSet::new()
    };

    let mut taken = 0usize;
    let mut tests_truncated = false;
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut flaky: Vec<Value> = Vec::new();
    let mut run_items = Vec::new();
    for run in &results {
        let mut run_item = Map::new();
        run_item.insert("run_id".into(), json!(run.run_id));
        run_item.insert("suite".into(), json!(run.suite));
        run_item.insert("failed".into(), json!(run.executions.len()));
        if run.more {
            run_item.insert("more_failed".into(), json!(true));
            tests_truncated = true;
        }
        if let Some(error) = &run.error {
            run_item.insert("error".into(), json!(error));
        }
        run_items.push(Value::Object(run_item));
        for execution in &run.executions {
            if taken == max_total {
                tests_truncated = true;
                break;
            }
            taken += 1;
            let test = test_item(execution, &run.suite, args.include_failure_expanded);
            if execution
                .test_id
                .as_deref()
                .is_some_and(|id| passed_in_build.contains(id))
            {
                flaky.push(test);
                continue;
            }
            let reason = execution
                .failure_reason
                .as_deref()
                .unwrap_or("(no reason given)");
            let key = reason_key(reason);
            let group = groups.entry(key).or_insert_with(|| Group {
                reason: cut(reason, REASON_BYTES),
                tests: Vec::new(),
                count: 0,
            });
            group.count += 1;
            if group.tests.len() < TESTS_PER_GROUP {
                group.tests.push(test);
            }
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));

    let mut fields = Map::new();
    let failed_count: usize = groups.iter().map(|g| g.count).sum();
    fields.insert("failed_test_count".into(), json!(failed_count));
    fields.insert(
        "failed_tests".into(),
        Value::Array(
            groups
                .into_iter()
                .map(|g| {
                    let mut item = Map::new();
                    item.insert("reason".into(), json!(g.reason));
                    item.insert("count".into(), json!(g.count));
                    item.insert("tests".into(), Value::Array(g.tests));
                    Value::Object(item)
                })
                .collect(),
        ),
    );
    if !flaky.is_empty() {
        fields.insert("flaky_tests".into(), Value::Array(flaky));
    }
    fields.insert("test_runs".into(), Value::Array(run_items));
    if runs_truncated {
        fields.insert("test_runs_truncated".into(), json!(true));
    }
    if tests_truncated {
        fields.insert("failed_tests_truncated".into(), json!(true));
    }
    Ok(FailedTests { fields, warnings })
}

/// Failed tests sharing a reason.
struct Group {
    reason: String,
    tests: Vec<Value>,
    count: usize,
}

/// What makes two failure reasons the same: the first line, normalised
/// (timestamps, ids, durations, temp paths), digits ignored.
fn reason_key(reason: &str) -> String {
    let first = reason.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    normalize(first)
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

fn test_item(execution: &FailedExecution, suite: &str, expanded: bool) -> Value {
    let mut item = Map::new();
    if let Some(name) = &execution.test_name {
        item.insert("name".into(), json!(name));
    }
    if let Some(location) = &execution.location {
        item.insert("location".into(), json!(location));
    }
    item.insert("suite".into(), json!(suite));
    if let Some(id) = &execution.test_id {
        item.insert("test_id".into(), json!(id));
    }
    if let Some(url) = &execution.test_execution_url {
        item.insert("url".into(), json!(url));
    }
    if expanded && let Some(expanded) = &execution.failure_expanded {
        item.insert("failure_expanded".into(), json!(expanded));
    }
    Value::Object(item)
}

/// Test ids that passed at least once in this build.
async fn passed_tests(
    ctx: &ToolContext,
    org: &str,
    build_id: &str,
) -> Result<HashSet<String>, ToolError> {
    let page = ctx
        .client
        .list_build_tests(
            org,
            build_id,
            &ListTests {
                per_page: Some(100),
                ..ListTests::default()
            },
        )
        .await
        .context("the build's tests", &["read_suites"])?;
    Ok(page
        .items
        .into_iter()
        .filter(|test| {
            test.executions_count_by_result
                .as_ref()
                .and_then(|counts| counts.get("passed"))
                .is_some_and(|&passed| passed > 0)
        })
        .map(|test| test.id)
        .collect())
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the
/// cut with "…".
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Fits the summary to `limit` bytes: logs are shortened first (fewer lines
/// per job, oldest first), then annotation texts, then test lists, then
/// jobs; `content_bytes` is set to the exact size of the delivered text.
fn fit(
    mut out: Map<String, Value>,
    limit: usize,
    limits: &crate::limits::Limits,
) -> Result<ToolOutput, ToolError> {
    // Room for the fields added once it fits (the size is at most `limit`).
    let reserve = format!(
        r#","content_truncated":true,"content_limit_bytes":{limit},"content_bytes":{limit}"#
    )
    .len();
    let mut truncated = false;
    loop {
        let text = deliver(&out, limits)?;
        if text.len() + reserve <= limit {
            break;
        }
        truncated = true;
        if !shrink(&mut out) {
            return Err(ToolError::Other(format!(
                "the failure summary does not fit in {limit} bytes even at its smallest; raise content_limit_bytes or ask for fewer jobs (max_jobs)"
            )));
        }
    }
    if truncated {
        out.insert("content_truncated".into(), json!(true));
    }
    out.insert("content_limit_bytes".into(), json!(limit));
    // The size depends on its own digits: iterate to the fixed point.
    let mut size = 0usize;
    for _ in 0..8 {
        out.insert("content_bytes".into(), json!(size));
        let text = deliver(&out, limits)?;
        if text.len() == size {
            break;
        }
        size = text.len();
    }
    Ok(ToolOutput::json(Value::Object(out)))
}

/// The text the model will receive for `out`.
fn deliver(out: &Map<String, Value>, limits: &crate::limits::Limits) -> Result<String, ToolError> {
    // No list may be trimmed by the shaping: this tool fits itself.
    let unlimited = crate::limits::Limits {
        response_budget: usize::MAX / 2,
        ..*limits
    };
    render(ToolOutput::json(Value::Object(out.clone())), &unlimited).map_err(ToolError::Other)
}

/// One step smaller. Returns false when nothing is left to shrink.
fn shrink(out: &mut Map<String, Value>) -> bool {
    // Halve each job's log, keeping the lines nearest its error (the
    // digest's end), until logs are 2 lines; then cut annotation texts;
    // then test lists; then drop the logs, annotations and tests; then jobs.
    let halved_logs = shrink_logs(out);
    if halved_logs {
        return true;
    }
    if shrink_strings(out, "annotations", "text", 256) {
        return true;
    }
    if shrink_tests(out) {
        return true;
    }
    for key in ["flaky_tests", "annotations", "test_runs"] {
        if out.remove(key).is_some() {
            return true;
        }
    }
    if let Some(Value::Array(jobs)) = out.get_mut("jobs") {
        // The last job is the least important: its log goes first.
        for job in jobs.iter_mut().rev() {
            if let Value::Object(job) = job
                && (job.remove("log").is_some() || job.remove("log_tail").is_some())
            {
                job.insert("log_removed".into(), json!(true));
                return true;
            }
        }
        if jobs.len() > 1 {
            jobs.pop();
            out.insert("jobs_truncated".into(), json!(true));
            return true;
        }
    }
    false
}

fn shrink_logs(out: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(jobs)) = out.get_mut("jobs") else {
        return false;
    };
    let mut any = false;
    for job in jobs.iter_mut() {
        let Value::Object(job) = job else { continue };
        let error_row = job.get("error_row").and_then(Value::as_u64);
        let mut shrunk = false;
        if let Some(Value::Array(lines)) = job.get_mut("log")
            && lines.len() > 3
        {
            let before = lines.len();
            halve_digest(lines, error_row);
            // Gap markers can make a short digest no shorter: then it is done.
            shrunk = lines.len() < before;
        }
        if let Some(Value::Array(rows)) = job.get_mut("log_tail")
            && rows.len() > 2
        {
            // Raw rows: keep the newest.
            let drop = rows.len() / 2;
            rows.drain(..drop);
            shrunk = true;
        }
        if shrunk {
            job.insert("log_shortened".into(), json!(true));
            any = true;
        }
    }
    any
}

/// Rows a digest line stands for.
fn line_rows(line: &Value) -> u64 {
    line.get("x").and_then(Value::as_u64).unwrap_or(1)
}

/// A digest line standing for `rows` rows left out from row `rn`.
fn gap_line(rn: u64, rows: u64) -> Value {
    json!({"rn": rn, "c": bk_logs::digest::GAP, "x": rows})
}

/// Halves a digest's lines around its error line (two thirds of what is
/// kept before it), putting what is left out into gap lines, so every row
/// is still shown or counted.
fn halve_digest(lines: &mut Vec<Value>, error_row: Option<u64>) {
    let keep = (lines.len() / 2).max(1);
    let is_gap = |l: &Value| l.get("c").and_then(Value::as_str) == Some(bk_logs::digest::GAP);
    let error_index = error_row
        .and_then(|row| {
            lines.iter().rposition(|l| {
                !is_gap(l)
                    && l.get("rn")
                        .and_then(Value::as_u64)
                        .is_some_and(|rn| rn <= row)
            })
        })
        .unwrap_or(lines.len() - 1);
    let start = error_index
        .saturating_sub(keep * 2 / 3)
        .min(lines.len() - keep);
    let end = start + keep;
    let mut kept = Vec::with_capacity(keep + 2);
    if start > 0 {
        let rn = lines[0].get("rn").and_then(Value::as_u64).unwrap_or(0);
        kept.push(gap_line(rn, lines[..start].iter().map(line_rows).sum()));
    }
    kept.extend(lines[start..end].iter().cloned());
    if end < lines.len() {
        let rn = lines[end].get("rn").and_then(Value::as_u64).unwrap_or(0);
        kept.push(gap_line(rn, lines[end..].iter().map(line_rows).sum()));
    }
    // Adjacent gaps (a kept gap next to a new one) merge into one.
    let mut merged: Vec<Value> = Vec::with_capacity(kept.len());
    for line in kept {
        match merged.last_mut() {
            Some(last) if is_gap(last) && is_gap(&line) => {
                let rows = line_rows(last) + line_rows(&line);
                last["x"] = json!(rows);
            }
            _ => merged.push(line),
        }
    }
    *lines = merged;
}

fn shrink_strings(out: &mut Map<String, Value>, list: &str, field: &str, floor: usize) -> bool {
    let Some(Value::Array(items)) = out.get_mut(list) else {
        return false;
    };
    let mut shrunk = false;
    for item in items.iter_mut() {
        if let Some(Value::String(text)) = item.get_mut(field)
            && text.len() > floor
        {
            *text = cut(text, (text.len() / 2).max(floor));
            shrunk = true;
        }
    }
    shrunk
}

fn shrink_tests(out: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(groups)) = out.get_mut("failed_tests") else {
        return false;
    };
    let mut shrunk = false;
    for group in groups.iter_mut() {
        if let Some(Value::Array(tests)) = group.get_mut("tests")
            && tests.len() > 1
        {
            tests.truncate(tests.len() / 2);
            shrunk = true;
        }
    }
    if !shrunk && groups.len() > 1 {
        groups.pop();
        shrunk = true;
    }
    if shrunk {
        out.insert("failed_tests_truncated".into(), json!(true));
    }
    shrunk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_group_by_shape() {
        assert_eq!(
            reason_key("expected 1, got 2\n  at foo"),
            reason_key("expected 3, got 4")
        );
        assert_ne!(reason_key("timeout"), reason_key("expected 1, got 2"));
    }

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("héllo wörld", 6), "hé…");
        assert_eq!(cut("héllo", 4), "h…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
