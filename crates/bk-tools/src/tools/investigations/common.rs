//! What the three investigation tools share: the settled-read context of
//! a finished build and the rate-limit note; reading a build with its jobs
//! and its pipeline's default branch; how builds, jobs and failed tests are
//! shown and matched across builds; the build's failing jobs; and the
//! failed executions of its Test Engine runs.

use std::collections::HashMap;
use std::sync::Arc;

use buildkite_api::{
    Build, FailedExecution, GetBuildParams, Job, JobState, ListFailedExecutionsParams,
};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::error::{ApiResultExt, ToolError};
use crate::shape::project::{pick, to_object};
use crate::tool::ToolContext;

/// The context for reads about `build` that stop changing once it has
/// finished (its annotations, its Test Engine results): while it is
/// finished they are settled reads, kept longer under the build's id and
/// finish time, so a repeated investigation of a finished build within a
/// minute costs one request (the build). A retried job re-opens the build
/// and its next finish is another version.
pub(crate) fn settled_for(ctx: &ToolContext, build: &Build) -> ToolContext {
    match &build.finished_at {
        Some(finished) if build.state.is_terminal() => ToolContext {
            client: ctx
                .client
                .settled_reads(&format!("build {} finished {finished}", build.id)),
            ..ctx.clone()
        },
        _ => ctx.clone(),
    }
}

/// When the organization's rate limit stopped some of the call's reads,
/// says so in `out` (`rate_limited`): the answer has what could be read,
/// the sections with errors are what the limit cut, and when to try again.
pub(crate) fn note_rate_limit(ctx: &ToolContext, out: &mut Map<String, Value>) {
    if let Some(wait) = ctx.client.rate_limited() {
        let seconds = wait.as_secs().max(1);
        out.insert(
            "rate_limited".into(),
            json!({
                "note": format!("Buildkite's rate limit for this organization cut this answer short: it has what could be read, and the sections with errors were not. Call again in {seconds} s for the whole answer."),
                "retry_after_seconds": seconds,
            }),
        );
    }
}

/// A build with its jobs (with `retried`, earlier attempts too) and Test
/// Engine runs, in one request.
pub(crate) async fn build_with_jobs(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    number: u64,
    retried: bool,
) -> Result<Build, ToolError> {
    ctx.client
        .get_build(
            org,
            pipeline,
            number,
            &GetBuildParams {
                include_test_engine: Some(true),
                include_retried_jobs: Some(retried),
                ..GetBuildParams::default()
            },
        )
        .await
        .context(&format!("build {number}"), &["read_builds"])
}

/// The pipeline's default branch: from the build's pipeline, else read.
pub(crate) async fn default_branch(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    build: &Build,
) -> Result<String, ToolError> {
    if let Some(branch) = build
        .pipeline
        .as_ref()
        .and_then(|p| p.extra.get("default_branch"))
        .and_then(Value::as_str)
    {
        return Ok(branch.to_owned());
    }
    Ok(ctx
        .client
        .get_pipeline(org, pipeline)
        .await
        .context("the pipeline", &["read_pipelines"])?
        .default_branch
        .unwrap_or_else(|| "main".to_owned()))
}

/// A build, as `compare_builds` and `triage_build_failures` show it.
pub(crate) fn build_ref(build: &Build) -> Value {
    let mut item = pick(
        &to_object(build),
        &[
            "number",
            "state",
            "branch",
            "commit",
            "web_url",
            "created_at",
        ],
    );
    if let Some(message) = build.message.as_deref() {
        let first = message.lines().next().unwrap_or_default();
        item.insert(
            "message".into(),
            json!(first.chars().take(200).collect::<String>()),
        );
    }
    item.retain(|_, v| !v.is_null());
    Value::Object(item)
}

/// How a job is matched across builds: its step key, else its name, and
/// its shard for a parallel step.
pub(crate) fn job_key(job: &Job) -> Option<String> {
    let base = job
        .step_key
        .clone()
        .map(|k| format!("key:{k}"))
        .or_else(|| {
            job.name
                .clone()
                .or_else(|| job.label.clone())
                .map(|n| format!("name:{n}"))
        })?;
    Some(match job.parallel_group_index {
        Some(shard) => format!("{base}#{shard}"),
        None => base,
    })
}

/// The failing jobs found, in report order.
pub(crate) struct FailingJobs {
    /// The jobs to report, at most `max_jobs`.
    pub reported: Vec<Job>,
    /// Earlier attempts that failed and whose last retry passed.
    pub flaky: Vec<Job>,
    /// More failing jobs exist than are reported.
    pub truncated: bool,
}

const PRIMARY: [JobState; 3] = [JobState::Failed, JobState::TimedOut, JobState::Expired];
const DOWNSTREAM: [JobState; 4] = [
    JobState::Broken,
    JobState::WaitingFailed,
    JobState::BlockedFailed,
    JobState::UnblockedFailed,
];

/// The build's failing jobs in report order (failed, timed out and expired,
/// hard before soft; then canceled; then downstream), at most `max_jobs`,
/// and the attempts that failed but whose last retry passed: all from the
/// build's own job list (fetched with its retried jobs), so finding them
/// costs no request.
pub(crate) fn failing_jobs(build: &Build, max_jobs: usize) -> FailingJobs {
    let all = &build.jobs;
    let in_states = |states: &[JobState], job: &Job| {
        job.state
            .as_ref()
            .is_some_and(|state| states.contains(state))
    };
    let (attempts, mut current): (Vec<&Job>, Vec<&Job>) = all
        .iter()
        .filter(|job| in_states(&PRIMARY, job))
        .partition(|job| job.retried == Some(true));
    // Hard failures before soft ones.
    current.sort_by_key(|job| job.soft_failed == Some(true));
    let current_only = |job: &&Job| job.retried != Some(true);
    let canceled: Vec<&Job> = all
        .iter()
        .filter(|job| in_states(&[JobState::Canceled], job))
        .filter(current_only)
        .collect();
    let downstream: Vec<&Job> = all
        .iter()
        .filter(|job| in_states(&DOWNSTREAM, job))
        .filter(current_only)
        .collect();
    let by_id: HashMap<&str, &Job> = all.iter().map(|j| (j.id.as_str(), j)).collect();
    let flaky: Vec<Job> = attempts
        .iter()
        .filter(|job| {
            // Follow the retries to the last attempt: flaky if it passed.
            let mut last = job
                .retried_in_job_id
                .as_deref()
                .and_then(|id| by_id.get(id));
            let mut hops = 0;
            while let Some(next) = last
                .and_then(|job| job.retried_in_job_id.as_deref())
                .and_then(|id| by_id.get(id))
            {
                last = Some(next);
                hops += 1;
                if hops > 50 {
                    break;
                }
            }
            last.is_some_and(|job| job.state == Some(JobState::Passed))
        })
        .map(|job| (*job).clone())
        .collect();
    let mut reported: Vec<Job> = current.into_iter().cloned().collect();
    reported.extend(canceled.into_iter().cloned());
    reported.extend(downstream.into_iter().cloned());
    let truncated = reported.len() > max_jobs;
    reported.truncate(max_jobs);
    FailingJobs {
        reported,
        flaky,
        truncated,
    }
}

/// Whether the build has Test Engine runs.
pub(crate) fn has_test_runs(build: &Build) -> bool {
    build
        .test_engine
        .as_ref()
        .is_some_and(|engine| !engine.runs.is_empty())
}

/// One run's failed executions, or why they could not be read.
pub(crate) struct RunFailures {
    /// The Test Engine run.
    pub run_id: String,
    /// Its suite's slug.
    pub suite: String,
    /// The failed executions read (the first page).
    pub executions: Vec<FailedExecution>,
    /// More failed executions exist.
    pub more: bool,
    /// Why they could not be read (the token cannot read the suite…).
    pub error: Option<String>,
}

/// How a failed test is matched across builds: its id, else its name.
pub(crate) fn test_key(execution: &FailedExecution) -> String {
    execution
        .test_id
        .clone()
        .or_else(|| execution.test_name.clone())
        .unwrap_or_default()
}

/// Test runs fetched at once.
const CONCURRENCY: usize = 4;
/// The failed executions of a build's first `max_runs` Test Engine runs,
/// `per_run` each, read four at a time, in run order; and whether the
/// build has more runs. A 401 aborts; other errors stay with their run.
pub(crate) async fn run_failures(
    ctx: &ToolContext,
    org: &str,
    build: &Build,
    max_runs: usize,
    per_run: usize,
    expanded: bool,
) -> Result<(Vec<RunFailures>, bool), ToolError> {
    let runs: Vec<(String, String)> = build
        .test_engine
        .iter()
        .flat_map(|engine| &engine.runs)
        .filter_map(|run| {
            let suite = run.suite.as_ref()?.slug.clone()?;
            Some((run.id.clone(), suite))
        })
        .collect();
    let runs_truncated = runs.len() > max_runs;

    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (index, (run_id, suite)) in runs.into_iter().take(max_runs).enumerate() {
        let client = ctx.client.clone();
        let org = org.to_owned();
        let permits = Arc::clone(&permits);
        tasks.spawn(
            async move {
                let _permit = permits.acquire_owned().await;
                let params = ListFailedExecutionsParams {
                    include_failure_expanded: expanded.then_some(true),
                    page: Some(1),
                    per_page: Some(u32::try_from(per_run).unwrap_or(100)),
                };
                let listed = client
                    .list_failed_executions(&org, &suite, &run_id, &params)
                    .await;
                (index, run_id, suite, listed)
            }
            .in_current_span(),
        );
    }
    let mut results: Vec<(usize, RunFailures)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let Ok((index, run_id, suite, listed)) = joined else {
            continue;
        };
        let run = match listed {
            Ok(page) => RunFailures {
                run_id,
                suite,
                more: page.has_more(),
                executions: page.items,
                error: None,
            },
            Err(error @ buildkite_api::Error::Unauthorized { .. }) => {
                return Err(ToolError::api(
                    "a Test Engine run's failed tests",
                    error,
                    &["read_suites"],
                ));
            }
            Err(error) => RunFailures {
                run_id,
                suite,
                executions: Vec::new(),
                more: false,
                error: Some(
                    ToolError::api("a Test Engine run's failed tests", error, &["read_suites"])
                        .to_string(),
                ),
            },
        };
        results.push((index, run));
    }
    results.sort_by_key(|(index, _)| *index);
    Ok((
        results.into_iter().map(|(_, run)| run).collect(),
        runs_truncated,
    ))
}
