//! The failing jobs of a failure summary: each job as the summary shows it
//! (and the flaky attempts), and its log, read concurrently, as a digest
//! around its last error or as its last rows.

use std::collections::HashMap;
use std::sync::Arc;

use bk_logs::FetchPolicy;
use bk_logs::digest::{Digest, DigestOptions};
use buildkite_api::{Job, JobRef, JobState};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::draft::LogSection;
use super::fit::cut;
use crate::error::ToolError;
use crate::shape::project::{pick, to_object};
use crate::tool::ToolContext;
use crate::tools::logs::{JobLog, TailFor};

/// Job logs fetched at once (each is three dependent calls): the default
/// `max_jobs`, so a default summary reads its logs in one wave.
const LOG_CONCURRENCY: usize = 10;
/// Longest log line kept in a summary (the whole line is in the log).
const LOG_LINE_BYTES: usize = 2 * 1024;

/// A job, as the summary shows it.
pub(super) fn job_item(job: &Job) -> Map<String, Value> {
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
    item
}

/// An attempt that failed and whose retry passed, as the summary shows it.
pub(super) fn flaky_job_item(job: &Job) -> Value {
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

/// Each job's log (or `None` for a job without a log), in job order,
/// fetched [`LOG_CONCURRENCY`] at a time: a digest of `lines` lines around
/// its last error, or with `raw` its last `lines` rows. A 401 aborts; other
/// errors stay with their job.
pub(super) async fn job_logs(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    number: u64,
    jobs: &[Job],
    lines: usize,
    raw: bool,
) -> Result<Vec<Option<LogSection>>, ToolError> {
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
                let job = JobRef::in_build(org, pipeline, number, job_id);
                let log = JobLog::new(&ctx, job, FetchPolicy::default()).with_state(state.as_ref());
                let section = if raw {
                    log.tail(lines, TailFor::Embedded)
                        .await
                        .map(|tail| LogSection::Tail {
                            total_rows: tail.row_count(),
                            rows: tail.rows,
                            notes: tail.notes,
                        })
                } else {
                    let options = DigestOptions {
                        max_lines: lines,
                        ..DigestOptions::default()
                    };
                    log.digest(&options)
                        .await
                        .map(|(digest, notes)| digest_section(digest, notes))
                };
                (index, section)
            }
            .in_current_span(),
        );
        task_jobs.insert(task.id(), index);
    }
    let mut logs: Vec<Option<LogSection>> =
        std::iter::repeat_with(|| None).take(jobs.len()).collect();
    // Progress: step 1 was the build; each log read is one more.
    let total = tasks.len();
    let mut read = 0;
    while let Some(joined) = tasks.join_next_with_id().await {
        read += 1;
        let (index, section) = match joined {
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
        let section = match section {
            Ok(section) => section,
            Err(error) if error.is_unauthorized() => return Err(error),
            Err(error) => LogSection::Failed(error.to_string()),
        };
        if let Some(slot) = logs.get_mut(index) {
            *slot = Some(section);
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

/// A digest as the summary keeps it: no line longer than
/// [`LOG_LINE_BYTES`].
fn digest_section(mut digest: Digest, notes: Map<String, Value>) -> LogSection {
    // One huge line (minified code, a JSON dump) must not crowd out the rest.
    for line in &mut digest.lines {
        if line.c.len() > LOG_LINE_BYTES {
            line.c = cut(&line.c, LOG_LINE_BYTES);
        }
    }
    if let Some(line) = &mut digest.error_line {
        *line = cut(line, LOG_LINE_BYTES);
    }
    LogSection::Digest { digest, notes }
}
