//! `compare_builds`: what changed between a failed build and a good one.
//!
//! The base is the build given, or else the most recent passed build on the
//! same branch before this one, or else the latest passed build on the
//! pipeline's default branch. The answer lists the builds (commits) between
//! them, the jobs whose state changed (matched by `step_key`, else by
//! name), the error lines of the failed jobs' logs that the base's logs do
//! not have (compared after normalising timestamps, ids, durations and temp
//! paths), and which failed tests are new and which were already failing.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use bk_logs::digest::normalize;
use bk_logs::{FetchPolicy, LogRow};
use buildkite_api::{Build, BuildState, Job, JobRef, JobState, ListBuildsParams};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{
    RunFailures, build_ref, build_with_jobs, default_branch, has_test_runs, job_key,
    note_rate_limit, run_failures, settled_for, test_key,
};
use super::rescued;
use crate::args::{Bounded, BuildNumber, NonEmpty, OrgSlug};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::tools::logs::JobLog;
use crate::toolset::Toolset;

const SCOPES: &[&str] = &["read_builds", "read_build_logs"];
/// Error lines read per job log.
const ERROR_LINES_PER_LOG: usize = 400;
/// New error lines reported per job.
const NEW_LINES_PER_JOB: usize = 15;
/// Builds listed between base and build.
const BUILDS_BETWEEN: u32 = 30;

/// Arguments of `compare_builds`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareBuildsArgs {
    pub org_slug: OrgSlug,
    pub pipeline_slug: NonEmpty,
    pub build_number: BuildNumber,
    /// Default: the last passed build of its branch, else of the default branch.
    pub base_build_number: Option<BuildNumber>,
    /// Failed jobs whose logs are compared (default 5).
    pub max_jobs: Option<Bounded<1, 20>>,
}

/// `compare_builds`.
#[derive(Debug)]
pub struct CompareBuilds;

#[async_trait]
impl Handler for CompareBuilds {
    type Args = CompareBuildsArgs;
    const META: ToolMeta = ToolMeta {
        name: "compare_builds",
        title: "Compare Builds",
        description: "Is it my change? Compares a failed build with a good one: the builds and commits between them, jobs whose state changed, error lines new in the failed logs, and failed tests new versus already failing (a retry's rescues apart).",
        details: "The base is base_build_number, or else the most recent passed build on the same branch, or else the latest passed build on the default branch (base_reason says which). Jobs are matched by step_key, else name. Error lines are compared with timestamps, ids, durations and temp paths ignored. Tests a retry rescued are listed as rescued_by_retry, never as failures.",
        toolset: Toolset::Investigations,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: CompareBuildsArgs,
    ) -> Result<ToolOutput, ToolError> {
        let org = args.org_slug.to_string();
        let pipeline = args.pipeline_slug.to_string();
        let build = full_build(ctx, &org, &pipeline, args.build_number.get()).await?;
        let (base, base_reason) =
            choose_base(ctx, &org, &pipeline, &build, args.base_build_number).await?;
        let mut warnings = Vec::new();

        let max_jobs = args.max_jobs.map_or(5, Bounded::as_usize);
        let (between, errors, tests) = tokio::join!(
            builds_between(ctx, &org, &pipeline, &base, &build),
            new_error_lines(ctx, &org, &pipeline, &build, &base, max_jobs),
            test_changes(ctx, &org, &build, &base),
        );
        let mut out = Map::new();
        out.insert("build".into(), build_ref(&build));
        out.insert("base".into(), build_ref(&base));
        out.insert("base_reason".into(), json!(base_reason));
        match between {
            Ok(Some(between)) => {
                out.insert("builds_between".into(), between);
            }
            Ok(None) => {}
            Err(error) if error.is_unauthorized() => return Err(error),
            Err(error) => warnings.push(format!("builds between unavailable: {error}")),
        }
        out.insert(
            "job_changes".into(),
            Value::Array(job_changes(&build, &base)),
        );
        out.insert("new_error_lines".into(), Value::Array(errors?));
        match tests {
            Ok(Some(tests)) => {
                out.insert("tests".into(), tests);
            }
            Ok(None) => {}
            Err(error) if error.is_unauthorized() => return Err(error),
            Err(error) => warnings.push(format!("test failures unavailable: {error}")),
        }
        if !warnings.is_empty() {
            out.insert("warnings".into(), json!(warnings));
        }
        note_rate_limit(ctx, &mut out);
        Ok(ToolOutput::json(Value::Object(out)))
    }
}

/// A build with its jobs and Test Engine runs. Its retried attempts come
/// too, to tell the tests a retry rescued; the job comparisons see only
/// [`current_jobs`].
async fn full_build(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    number: u64,
) -> Result<Build, ToolError> {
    build_with_jobs(ctx, org, pipeline, number, true).await
}

/// The build's jobs as they stand: the retried attempts left out.
fn current_jobs(build: &Build) -> impl Iterator<Item = &Job> {
    build.jobs.iter().filter(|job| job.retried != Some(true))
}

/// The base build and why it was chosen.
async fn choose_base(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    build: &Build,
    given: Option<BuildNumber>,
) -> Result<(Build, String), ToolError> {
    if let Some(number) = given {
        let base = full_build(ctx, org, pipeline, number.get()).await?;
        return Ok((
            base,
            format!("build {} was given as the base", number.get()),
        ));
    }
    let passed = |branch: &str, per_page: u32| ListBuildsParams {
        branch: vec![branch.to_owned()],
        state: vec![BuildState::Passed],
        per_page: Some(per_page),
        exclude_jobs: Some(true),
        exclude_pipeline: Some(true),
        ..ListBuildsParams::default()
    };
    if let Some(branch) = build.branch.as_deref() {
        let builds = ctx
            .client
            .list_pipeline_builds(org, pipeline, &passed(branch, 20))
            .await
            .context("the passed builds of the branch", &["read_builds"])?;
        if let Some(found) = builds.items.iter().find(|b| b.number < build.number) {
            let base = full_build(ctx, org, pipeline, found.number).await?;
            return Ok((
                base,
                format!("the most recent passed build on branch {branch} before this one"),
            ));
        }
    }
    let default_branch = default_branch(ctx, org, pipeline, build).await?;
    let builds = ctx
        .client
        .list_pipeline_builds(org, pipeline, &passed(&default_branch, 1))
        .await
        .context("the passed builds of the default branch", &["read_builds"])?;
    let Some(found) = builds.items.first() else {
        return Err(ToolError::Other(format!(
            "no passed build to compare with: none on branch {} before build {}, and none on the default branch {default_branch}; give base_build_number",
            build.branch.as_deref().unwrap_or("?"),
            build.number
        )));
    };
    let base = full_build(ctx, org, pipeline, found.number).await?;
    Ok((
        base,
        format!("the latest passed build on the default branch {default_branch}"),
    ))
}

/// The builds after the base up to this one on the same branch, newest
/// first, with their commits (`None` for builds on different branches).
async fn builds_between(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    base: &Build,
    build: &Build,
) -> Result<Option<Value>, ToolError> {
    let (Some(branch), Some(base_branch)) = (build.branch.as_deref(), base.branch.as_deref())
    else {
        return Ok(None);
    };
    if branch != base_branch || base.number >= build.number {
        return Ok(None);
    }
    let page = ctx
        .client
        .list_pipeline_builds(
            org,
            pipeline,
            &ListBuildsParams {
                branch: vec![branch.to_owned()],
                per_page: Some(BUILDS_BETWEEN),
                exclude_jobs: Some(true),
                exclude_pipeline: Some(true),
                ..ListBuildsParams::default()
            },
        )
        .await
        .context("the builds of the branch", &["read_builds"])?;
    let between: Vec<Value> = page
        .items
        .iter()
        .filter(|b| b.number > base.number && b.number <= build.number)
        .map(build_ref)
        .collect();
    let reached_base = page.items.iter().any(|b| b.number <= base.number);
    let mut out = Map::new();
    out.insert("count".into(), json!(between.len()));
    out.insert("builds".into(), Value::Array(between));
    if !reached_base {
        out.insert(
            "truncated".into(),
            json!(format!(
                "only the newest {BUILDS_BETWEEN} builds of the branch were read"
            )),
        );
    }
    Ok(Some(Value::Object(out)))
}

fn state_name(job: &Job) -> String {
    job.state
        .as_ref()
        .map_or_else(|| "unknown".to_owned(), |s| s.to_string().trim().to_owned())
}

/// Jobs whose state differs between the builds, and jobs only in one.
fn job_changes(build: &Build, base: &Build) -> Vec<Value> {
    let base_jobs: HashMap<String, &Job> = current_jobs(base)
        .filter_map(|job| Some((job_key(job)?, job)))
        .collect();
    let mut seen = HashSet::new();
    let mut changes = Vec::new();
    for job in current_jobs(build) {
        let Some(key) = job_key(job) else { continue };
        seen.insert(key.clone());
        let state = state_name(job);
        let mut item = Map::new();
        item.insert(
            "name".into(),
            json!(job.name.as_deref().or(job.label.as_deref())),
        );
        if let Some(step_key) = &job.step_key {
            item.insert("step_key".into(), json!(step_key));
        }
        match base_jobs.get(&key) {
            Some(base_job) if state_name(base_job) == state => continue,
            Some(base_job) => {
                item.insert("base_state".into(), json!(state_name(base_job)));
                item.insert("state".into(), json!(state));
                item.insert("job_id".into(), json!(job.id));
                item.insert("base_job_id".into(), json!(base_job.id));
            }
            None => {
                item.insert("state".into(), json!(state));
                item.insert("job_id".into(), json!(job.id));
                item.insert("change".into(), json!("not in the base build"));
            }
        }
        changes.push(Value::Object(item));
    }
    for job in current_jobs(base) {
        if let Some(key) = job_key(job)
            && !seen.contains(&key)
        {
            changes.push(json!({
                "name": job.name.as_deref().or(job.label.as_deref()),
                "base_state": state_name(job),
                "base_job_id": job.id,
                "change": "only in the base build",
            }));
        }
    }
    // Failures first.
    changes.sort_by_key(|c| {
        !matches!(
            c["state"].as_str(),
            Some("failed" | "timed_out" | "expired" | "broken" | "canceled")
        )
    });
    changes
}

fn failed(job: &Job) -> bool {
    matches!(job.state, Some(JobState::Failed | JobState::TimedOut))
}

fn has_log(job: &Job) -> bool {
    job.kind == "script" && (job.started_at.is_some() || job.exit_status.is_some())
}

/// For each failed job (up to `max_jobs`), the error lines its base
/// counterpart's log does not have.
async fn new_error_lines(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    build: &Build,
    base: &Build,
    max_jobs: usize,
) -> Result<Vec<Value>, ToolError> {
    let base_jobs: HashMap<String, &Job> = current_jobs(base)
        .filter(|j| has_log(j))
        .filter_map(|job| Some((job_key(job)?, job)))
        .collect();
    // Each job's two logs are read together, and the jobs concurrently.
    let compared = current_jobs(build)
        .filter(|j| failed(j) && has_log(j))
        .take(max_jobs)
        .map(|job| {
            let base_job = job_key(job).and_then(|k| base_jobs.get(&k).copied());
            compare_job_errors(ctx, org, pipeline, build.number, job, base.number, base_job)
        });
    futures_util::future::join_all(compared)
        .await
        .into_iter()
        .collect()
}

/// The error lines of one failed job that its base counterpart's log does
/// not have. A 401 is an error; other failures are noted in the item.
async fn compare_job_errors(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    number: u64,
    job: &Job,
    base_number: u64,
    base_job: Option<&Job>,
) -> Result<Value, ToolError> {
    let log = |number: u64, job: &Job| {
        let job_ref = JobRef::in_build(org, pipeline, number, job.id.as_str());
        JobLog::new(ctx, job_ref, FetchPolicy::default()).with_state(job.state.as_ref())
    };
    let base_lines = async {
        match base_job {
            Some(base_job) => log(base_number, base_job)
                .error_lines(ERROR_LINES_PER_LOG)
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    let job_log = log(number, job);
    let (lines, base_lines) = tokio::join!(job_log.error_lines(ERROR_LINES_PER_LOG), base_lines);
    let mut item = Map::new();
    item.insert("job_id".into(), json!(job.id));
    item.insert(
        "name".into(),
        json!(job.name.as_deref().or(job.label.as_deref())),
    );
    if let Some(base_job) = base_job {
        item.insert("base_job_id".into(), json!(base_job.id));
    }
    match (lines, base_lines) {
        (Err(error), _) | (_, Err(error)) if error.is_unauthorized() => return Err(error),
        (Err(error), _) => {
            item.insert("error".into(), json!(error.to_string()));
        }
        (Ok(lines), Err(error)) => {
            item.insert(
                "error".into(),
                json!(format!("the base job's log: {error}")),
            );
            item.insert("error_lines".into(), rows(&lines, NEW_LINES_PER_JOB));
        }
        (Ok(lines), Ok(base_lines)) => {
            let known: HashSet<String> = base_lines
                .iter()
                .flatten()
                .map(|row| normalize(&row.content))
                .collect();
            let mut fresh: Vec<LogRow> = Vec::new();
            let mut seen = HashSet::new();
            for row in lines {
                let norm = normalize(&row.content);
                if !known.contains(&norm) && seen.insert(norm) {
                    fresh.push(row);
                }
            }
            // Oldest first, as in the log.
            fresh.reverse();
            item.insert("new_count".into(), json!(fresh.len()));
            let kept = fresh.len().saturating_sub(NEW_LINES_PER_JOB);
            item.insert(
                "new_error_lines".into(),
                rows(&fresh[kept..], NEW_LINES_PER_JOB),
            );
            if base_job.is_none() {
                item.insert(
                    "note".into(),
                    json!("no matching job in the base build: every error line counts as new"),
                );
            }
        }
    }
    Ok(Value::Object(item))
}

fn rows(rows: &[LogRow], max: usize) -> Value {
    Value::Array(
        rows.iter()
            .take(max)
            .map(|r| json!({"rn": r.row, "c": r.content}))
            .collect(),
    )
}

/// Failed tests that are new in the build, and those already failing in
/// the base.
async fn test_changes(
    ctx: &ToolContext,
    org: &str,
    build: &Build,
    base: &Build,
) -> Result<Option<Value>, ToolError> {
    if !has_test_runs(build) {
        return Ok(None);
    }
    // Each build's Test Engine results are settled once it has finished.
    let (settled, settled_base) = (settled_for(ctx, build), settled_for(ctx, base));
    // A test a retry rescued is no failure, in either build.
    let (failures, base_failures, rescue, base_rescue) = tokio::join!(
        run_failures(&settled, org, build, 5, 100, false),
        async {
            if has_test_runs(base) {
                run_failures(&settled_base, org, base, 5, 100, false)
                    .await
                    .map(|(f, _)| f)
            } else {
                Ok(Vec::new())
            }
        },
        rescued::read(&settled, org, build),
        async {
            if has_test_runs(base) {
                rescued::read(&settled_base, org, base).await
            } else {
                Ok(rescued::Rescue::NoRetries)
            }
        },
    );
    let (failures, _) = failures?;
    let base_failures = base_failures?;
    let (rescue, base_rescue) = (rescue?, base_rescue?);
    let already: HashSet<String> = base_failures
        .iter()
        .flat_map(|r: &RunFailures| &r.executions)
        .filter(|e| !base_rescue.rescued(e.test_id.as_deref()))
        .map(test_key)
        .collect();
    let (mut new, mut old, mut rescued) = (Vec::new(), Vec::new(), Vec::new());
    for run in &failures {
        for execution in &run.executions {
            let item = json!({
                "name": execution.test_name,
                "location": execution.location,
                "suite": run.suite,
                "reason": execution.failure_reason.as_deref().map(|r| r.lines().next().unwrap_or_default()),
            });
            if rescue.rescued(execution.test_id.as_deref()) {
                rescued.push(item);
            } else if already.contains(&test_key(execution)) {
                old.push(item);
            } else {
                new.push(item);
            }
        }
    }
    let errors: Vec<String> = failures
        .iter()
        .chain(&base_failures)
        .filter_map(|r| r.error.clone())
        .chain(
            [&rescue, &base_rescue]
                .into_iter()
                .filter_map(|r| r.warning().map(str::to_owned)),
        )
        .collect();
    let mut out = Map::new();
    out.insert("new_failures".into(), Value::Array(new));
    out.insert("already_failing".into(), Value::Array(old));
    if !rescued.is_empty() {
        out.insert("rescued_by_retry".into(), Value::Array(rescued));
    }
    if !errors.is_empty() {
        out.insert("errors".into(), json!(errors));
    }
    Ok(Some(Value::Object(out)))
}
