//! `triage_build_failures`: a verdict for every failure of a build.
//!
//! Each failed job and failed test gets one verdict, with its evidence
//! (build numbers and web URLs) and a one-line recommendation:
//! - `flaky`: it passed on retry in this build, alternates between passing
//!   and failing in recent builds of the default branch, or Test Engine
//!   gives it a reliability under 100%;
//! - `pre-existing`: it is failing on the default branch too;
//! - `new`: it passes on the default branch (or was never seen there).
//!
//! The calls are bounded: the build, its failing jobs (three lists), the
//! last `history_builds` builds of the default branch (with their jobs),
//! the failed tests of this build and of the latest default-branch build
//! with Test Engine runs (five runs each), and this build's tests with
//! their reliability. Independent calls run concurrently.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use buildkite_api::{
    Build, FailedExecution, GetBuildParams, Job, ListBuildsParams, ListTestsParams, Test,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{
    build_ref, build_with_jobs, default_branch, failing_jobs, has_test_runs, job_key,
    note_rate_limit, run_failures, settled_for, test_key,
};
use super::rescued::{self, Rescue};
use crate::args::{Bounded, BuildNumber, NonEmpty, OrgSlug};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::toolset::Toolset;

const SCOPES: &[&str] = &["read_builds", "read_build_logs", "read_suites"];
/// Failing jobs triaged.
const MAX_JOBS: usize = 50;
/// Test Engine runs read per build.
const MAX_RUNS: usize = 5;
/// Failed tests read per run.
const PER_RUN: usize = 100;

/// Arguments of `triage_build_failures`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageArgs {
    pub org_slug: OrgSlug,
    pub pipeline_slug: NonEmpty,
    pub build_number: BuildNumber,
    /// Default-branch builds compared with (default 10).
    pub history_builds: Option<Bounded<1, 30>>,
}

/// `triage_build_failures`.
#[derive(Debug)]
pub struct TriageBuildFailures;

#[async_trait]
impl Handler for TriageBuildFailures {
    type Args = TriageArgs;
    const META: ToolMeta = ToolMeta {
        name: "triage_build_failures",
        title: "Triage Build Failures",
        description: "A verdict for each failed job and test of a build, with evidence and a recommendation: \"new\" (passes on the default branch: likely this change), \"pre-existing\" (fails there too), or \"flaky\" (a retry rescued it, it alternates, or Test Engine rates it unreliable). Use after get_build_failure_summary.",
        details: "Evidence names build numbers and web URLs. A job is flaky when it passed on retry in this build or alternates in recent default-branch builds; a test when a retry rescued it (it failed in no job that stayed failed), it also passed in this build, or Test Engine rates it under 100% reliable. Compares with the last history_builds builds of the default branch.",
        toolset: Toolset::Investigations,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(&self, ctx: &ToolContext, args: TriageArgs) -> Result<ToolOutput, ToolError> {
        let org = args.org_slug.to_string();
        let pipeline = args.pipeline_slug.to_string();
        let number = args.build_number.get();
        let history_size = args.history_builds.map_or(10, Bounded::as_u32);
        // With its retried attempts: flaky jobs come from this one list.
        let build = build_with_jobs(ctx, &org, &pipeline, number, true).await?;
        let default_branch = default_branch(ctx, &org, &pipeline, &build).await?;
        ctx.report_progress(
            1.0,
            Some(3.0),
            &format!(
                "build #{number} is {}; comparing with the last {history_size} builds of {default_branch}",
                build.state
            ),
        );

        let jobs = failing_jobs(&build, MAX_JOBS);
        let (history, tests) = tokio::join!(
            branch_history(ctx, &org, &pipeline, &default_branch, &build, history_size),
            test_verdict_inputs(ctx, &org, &pipeline, &build, &default_branch),
        );
        let history = history?;
        ctx.report_progress(
            2.0,
            Some(3.0),
            &format!(
                "{} failed jobs against {} earlier builds; weighing the evidence",
                jobs.reported.len() + jobs.flaky.len(),
                history.len()
            ),
        );
        let mut warnings = Vec::new();
        let tests = match tests {
            Ok(tests) => tests,
            Err(error) if error.is_unauthorized() => return Err(error),
            Err(error) => {
                warnings.push(format!("test verdicts unavailable: {error}"));
                None
            }
        };

        let mut verdicts = Vec::new();
        for job in &jobs.flaky {
            verdicts.push(flaky_retry_verdict(job));
        }
        for job in &jobs.reported {
            verdicts.push(job_verdict(job, &history, &default_branch));
        }
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut out = Map::new();
        if let Some(tests) = &tests {
            for test in test_verdicts(tests, &default_branch) {
                verdicts.push(test);
            }
            warnings.extend(tests.warnings.iter().cloned());
        }
        for verdict in &verdicts {
            if let Some(v) = verdict["verdict"].as_str() {
                *counts.entry(v).or_default() += 1;
            }
        }
        out.insert("build".into(), build_ref(&build));
        out.insert("default_branch".into(), json!(default_branch));
        out.insert(
            "history".into(),
            json!(history.iter().map(|b| json!({"number": b.number, "state": b.state.to_string().trim(), "web_url": b.web_url})).collect::<Vec<_>>()),
        );
        out.insert(
            "counts".into(),
            json!({
                "new": counts.get("new").copied().unwrap_or(0),
                "pre-existing": counts.get("pre-existing").copied().unwrap_or(0),
                "flaky": counts.get("flaky").copied().unwrap_or(0),
            }),
        );
        out.insert("verdicts".into(), Value::Array(verdicts));
        if jobs.truncated {
            out.insert("jobs_truncated".into(), json!(true));
        }
        if !warnings.is_empty() {
            out.insert("warnings".into(), json!(warnings));
        }
        note_rate_limit(ctx, &mut out);
        ctx.report_progress(3.0, Some(3.0), "verdicts ready");
        Ok(ToolOutput::json(Value::Object(out)).trim_list("verdicts", |kept| {
            json!({"note": format!("only the first {kept} verdicts fit; use get_build_failure_summary for details")})
        }))
    }
}

/// The latest finished builds of the default branch, newest first, with
/// their jobs (this build left out).
async fn branch_history(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    branch: &str,
    build: &Build,
    size: u32,
) -> Result<Vec<Build>, ToolError> {
    let page = ctx
        .client
        .list_pipeline_builds(
            org,
            pipeline,
            &ListBuildsParams {
                branch: vec![branch.to_owned()],
                state: vec![buildkite_api::BuildState::Finished],
                per_page: Some(size + 1),
                exclude_pipeline: Some(true),
                ..ListBuildsParams::default()
            },
        )
        .await
        .context("the default branch's recent builds", &["read_builds"])?;
    Ok(page
        .items
        .into_iter()
        .filter(|b| b.number != build.number && b.state != buildkite_api::BuildState::Canceled)
        .take(size as usize)
        .collect())
}

fn job_name(job: &Job) -> Option<&str> {
    job.name.as_deref().or(job.label.as_deref())
}

/// A job that ran and failed (canceled, broken or expired jobs say
/// nothing about the code).
fn is_failure(job: &Job) -> bool {
    matches!(
        job.state,
        Some(buildkite_api::JobState::Failed | buildkite_api::JobState::TimedOut)
    ) && job.soft_failed != Some(true)
}

fn is_pass(job: &Job) -> bool {
    matches!(job.state, Some(buildkite_api::JobState::Passed))
}

/// How often a job went from passing to failing or back, newest first.
fn flips(seen: &[(&Build, &Job)]) -> usize {
    let outcomes: Vec<bool> = seen
        .iter()
        .filter(|(_, j)| is_failure(j) || is_pass(j))
        .map(|(_, j)| is_pass(j))
        .collect();
    outcomes.windows(2).filter(|w| w[0] != w[1]).count()
}

fn evidence(build: &Build, state: &str) -> Value {
    json!({"build_number": build.number, "state": state, "web_url": build.web_url})
}

fn flaky_retry_verdict(job: &Job) -> Value {
    json!({
        "kind": "job",
        "name": job_name(job),
        "job_id": job.id,
        "step_key": job.step_key,
        "verdict": "flaky",
        "why": "it failed, and its retry in this build did not",
        "evidence": [{"job_id": job.id, "retried_in_job_id": job.retried_in_job_id, "web_url": job.web_url}],
        "recommendation": "Flaky: the retry got past it; track it down or quarantine it, but it does not block this change.",
    })
}

/// The verdict for one failing job against the default branch's history.
fn job_verdict(job: &Job, history: &[Build], default_branch: &str) -> Value {
    let key = job_key(job);
    // This job's state in each history build, newest first.
    let seen: Vec<(&Build, &Job)> = history
        .iter()
        .filter_map(|b| {
            let key = key.as_deref()?;
            let found = b.jobs.iter().find(|j| job_key(j).as_deref() == Some(key))?;
            Some((b, found))
        })
        .collect();
    let failures = seen.iter().filter(|(_, j)| is_failure(j)).count();
    let passes = seen.iter().filter(|(_, j)| is_pass(j)).count();
    let latest = seen.first();
    let (verdict, why, recommendation) = match latest {
        Some((b, j)) if is_failure(j) => (
            "pre-existing",
            format!("it is failing on {default_branch} too (build #{})", b.number),
            format!("Not caused by this change: it fails on {default_branch} since build #{}; check whether a fix is underway, or rebase once it is fixed.", oldest_failure_in_streak(&seen).unwrap_or(b.number)),
        ),
        Some(_) if failures > 0 && passes > 0 && flips(&seen) >= 2 => (
            "flaky",
            format!("it failed in {failures} and passed in {passes} of the last {} {default_branch} builds", seen.len()),
            "Flaky: retry the job (retry_job); if it fails again the same way, treat it as new.".to_owned(),
        ),
        Some((b, _)) => (
            "new",
            format!("it passes on {default_branch} (latest: build #{})", b.number),
            "Likely caused by this change: read its error (get_build_failure_summary or tail_logs with digest) and fix it.".to_owned(),
        ),
        None => (
            "new",
            format!("no job like it in the last {} {default_branch} builds", history.len()),
            "New job or new failure: read its error (tail_logs with digest) and fix it.".to_owned(),
        ),
    };
    let evidence: Vec<Value> = seen
        .iter()
        .take(5)
        .map(|(b, j)| {
            evidence(
                b,
                j.state
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default()
                    .trim(),
            )
        })
        .collect();
    let mut item = Map::new();
    item.insert("kind".into(), json!("job"));
    item.insert("name".into(), json!(job_name(job)));
    item.insert("job_id".into(), json!(job.id));
    if let Some(key) = &job.step_key {
        item.insert("step_key".into(), json!(key));
    }
    item.insert(
        "state".into(),
        json!(job.state.as_ref().map(|s| s.to_string().trim().to_owned())),
    );
    item.insert("web_url".into(), json!(job.web_url));
    item.insert("verdict".into(), json!(verdict));
    item.insert("why".into(), json!(why));
    item.insert("evidence".into(), Value::Array(evidence));
    item.insert("recommendation".into(), json!(recommendation));
    Value::Object(item)
}

/// The number of the oldest build of the current streak of failures.
fn oldest_failure_in_streak(seen: &[(&Build, &Job)]) -> Option<u64> {
    seen.iter()
        .take_while(|(_, j)| is_failure(j))
        .last()
        .map(|(b, _)| b.number)
}

/// What test verdicts are made from.
struct TestInputs {
    failed: Vec<(String, FailedExecution)>,
    /// Failed test keys on the default branch's latest build with runs.
    failing_on_default: HashSet<String>,
    default_build: Option<Build>,
    /// This build's tests, by id.
    tests: HashMap<String, Test>,
    /// Which failed tests a retry rescued.
    rescue: Rescue,
    warnings: Vec<String>,
}

async fn test_verdict_inputs(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    build: &Build,
    default_branch: &str,
) -> Result<Option<TestInputs>, ToolError> {
    if !has_test_runs(build) {
        return Ok(None);
    }
    let settled = settled_for(ctx, build);
    let mut warnings = Vec::new();
    let test_params = ListTestsParams {
        per_page: Some(100),
        ..ListTestsParams::default()
    };
    let (failures, default_build, tests, rescue) = tokio::join!(
        run_failures(&settled, org, build, MAX_RUNS, PER_RUN, false),
        latest_default_build_with_runs(ctx, org, pipeline, default_branch, build),
        settled
            .client
            .list_build_tests(org, &build.id, &test_params),
        rescued::read(&settled, org, build),
    );
    let (failures, _) = failures?;
    let rescue = rescue?;
    warnings.extend(rescue.warning().map(str::to_owned));
    let failed: Vec<(String, FailedExecution)> = failures
        .iter()
        .flat_map(|run| {
            run.executions
                .iter()
                .map(|e| (run.suite.clone(), e.clone()))
        })
        .collect();
    warnings.extend(failures.iter().filter_map(|r| r.error.clone()));
    let default_build = default_build?;
    let mut failing_on_default = HashSet::new();
    if let Some(default) = &default_build {
        let (default_failures, _) =
            run_failures(ctx, org, default, MAX_RUNS, PER_RUN, false).await?;
        failing_on_default = default_failures
            .iter()
            .flat_map(|r| r.executions.iter().map(test_key))
            .collect();
    }
    let tests = match tests {
        Ok(page) => page.items.into_iter().map(|t| (t.id.clone(), t)).collect(),
        Err(error @ buildkite_api::Error::Unauthorized { .. }) => {
            return Err(ToolError::api("the build's tests", error, &["read_suites"]));
        }
        Err(error) => {
            warnings.push(format!("test reliability unavailable: {error}"));
            HashMap::new()
        }
    };
    Ok(Some(TestInputs {
        failed,
        failing_on_default,
        default_build,
        tests,
        rescue,
        warnings,
    }))
}

/// The latest finished build of the default branch that has Test Engine
/// runs (among its last 5), other than `build`.
async fn latest_default_build_with_runs(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    branch: &str,
    build: &Build,
) -> Result<Option<Build>, ToolError> {
    let page = ctx
        .client
        .list_pipeline_builds(
            org,
            pipeline,
            &ListBuildsParams {
                branch: vec![branch.to_owned()],
                state: vec![buildkite_api::BuildState::Finished],
                per_page: Some(2),
                exclude_jobs: Some(true),
                exclude_pipeline: Some(true),
                ..ListBuildsParams::default()
            },
        )
        .await
        .context("the default branch's latest builds", &["read_builds"])?;
    let Some(latest) = page.items.iter().find(|b| b.number != build.number) else {
        return Ok(None);
    };
    let full = ctx
        .client
        .get_build(
            org,
            pipeline,
            latest.number,
            &GetBuildParams {
                exclude_jobs: Some(true),
                exclude_pipeline: Some(true),
                include_test_engine: Some(true),
                ..GetBuildParams::default()
            },
        )
        .await
        .context("the default branch's latest build", &["read_builds"])?;
    let has_runs = full
        .test_engine
        .as_ref()
        .is_some_and(|e| !e.runs.is_empty());
    Ok(has_runs.then_some(full))
}

fn test_verdicts(inputs: &TestInputs, default_branch: &str) -> Vec<Value> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (suite, execution) in &inputs.failed {
        let key = test_key(execution);
        if !seen.insert(key.clone()) {
            continue;
        }
        let test = execution
            .test_id
            .as_ref()
            .and_then(|id| inputs.tests.get(id));
        let reliability = test.and_then(|t| t.reliability);
        // Test Engine's counts for this build's tests: a pass next to this
        // failure is a retry that passed. The reliability includes this very
        // failure, so on its own it proves nothing: it counts only for a
        // test that has also passed in the window.
        let counts = test.and_then(|t| t.executions_count_by_result.as_ref());
        let passed_here = counts.and_then(|c| c.get("passed")).is_some_and(|&n| n > 0);
        let mut evidence = Vec::new();
        let (verdict, why, recommendation) = if inputs.rescue.rescued(execution.test_id.as_deref())
        {
            (
                "flaky",
                "it failed only in attempts that were retried: no job that stayed failed failed it".to_owned(),
                "Flaky: a retry rescued it; quarantine or fix it, but it does not block this change.".to_owned(),
            )
        } else if inputs.failing_on_default.contains(&key) {
            if let Some(b) = &inputs.default_build {
                evidence.push(evidence_of(b, "failed"));
            }
            (
                "pre-existing",
                format!("it fails on {default_branch} too"),
                format!("Not caused by this change: it also fails on {default_branch}."),
            )
        } else if passed_here && reliability.is_some_and(|r| r < 1.0) {
            (
                "flaky",
                format!(
                    "it failed and also passed (Test Engine rates it {:.0}% reliable)",
                    reliability.unwrap_or_default() * 100.0
                ),
                "Flaky: it passes on retry; quarantine or fix it, but it does not block this change.".to_owned(),
            )
        } else if passed_here {
            (
                "flaky",
                "it failed and also passed in this build (a retry)".to_owned(),
                "Flaky: it passed on retry; quarantine or fix it, but it does not block this change.".to_owned(),
            )
        } else {
            if let Some(b) = &inputs.default_build {
                evidence.push(evidence_of(b, "not failed"));
            }
            (
                "new",
                match &inputs.default_build {
                    Some(b) => format!("it did not fail in {default_branch} build #{}", b.number),
                    None => format!("no {default_branch} build with Test Engine results to compare with"),
                },
                "Likely caused by this change: read its failure (get_failed_executions) and fix it.".to_owned(),
            )
        };
        if let Some(url) = &execution.test_execution_url {
            evidence.push(json!({"test_execution_url": url}));
        }
        let mut item = Map::new();
        item.insert("kind".into(), json!("test"));
        item.insert("name".into(), json!(execution.test_name));
        item.insert("location".into(), json!(execution.location));
        item.insert("suite".into(), json!(suite));
        if let Some(r) = reliability {
            item.insert("reliability".into(), json!(r));
        }
        item.insert("verdict".into(), json!(verdict));
        item.insert("why".into(), json!(why));
        item.insert("evidence".into(), Value::Array(evidence));
        item.insert("recommendation".into(), json!(recommendation));
        out.push(Value::Object(item));
    }
    out
}

fn evidence_of(build: &Build, state: &str) -> Value {
    json!({"build_number": build.number, "test_state": state, "web_url": build.web_url})
}
