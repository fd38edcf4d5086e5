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
//!
//! This module is the tool; its parts are `jobs` (the failing jobs and
//! their logs), `annotations`, `failed_tests` (Test Engine's failed
//! tests), `draft` (the answer before delivery, its logs typed) and `fit`
//! (fitting the answer into the byte limit).

use async_trait::async_trait;
use buildkite_api::{Build, GetBuildParams};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use self::annotations::problem_annotations;
use self::draft::{Draft, DraftJob};
use self::failed_tests::{TestsWanted, failed_tests};
use self::fit::{cut, fit};
use self::jobs::{flaky_job_item, job_item, job_logs};
use super::common::{failing_jobs, has_test_runs, note_rate_limit, settled_for};
use crate::args::{Bounded, BuildNumber, NonEmpty, OrgSlug};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::project::{pick, to_object};
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::toolset::Toolset;

mod annotations;
mod draft;
mod failed_tests;
mod fit;
mod jobs;

const SCOPES: &[&str] = &["read_builds", "read_build_logs", "read_suites"];

/// Default for `content_limit_bytes`.
const DEFAULT_CONTENT_LIMIT: usize = 256 * 1024;

/// Arguments of `get_build_failure_summary`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailureSummaryArgs {
    pub org_slug: OrgSlug,
    pub pipeline_slug: NonEmpty,
    pub build_number: BuildNumber,
    /// Log lines per job (default 50).
    pub log_tail: Option<Bounded<1, 200>>,
    /// Default 10.
    pub max_jobs: Option<Bounded<1, 50>>,
    /// Default 20.
    pub max_annotations: Option<Bounded<1, 100>>,
    /// Default 5.
    pub max_test_runs: Option<Bounded<1, 20>>,
    /// Default 100.
    pub max_failed_tests: Option<Bounded<1, 200>>,
    /// Default 20.
    pub max_failed_tests_per_run: Option<Bounded<1, 100>>,
    pub include_logs: Option<bool>,
    pub include_annotations: Option<bool>,
    pub include_failed_tests: Option<bool>,
    /// Backtraces of failed tests.
    #[serde(default)]
    pub include_failure_expanded: bool,
    /// Last log rows instead of a digest.
    #[serde(default)]
    pub raw_logs: bool,
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
        description: "Why a build failed, in one call; start here for a red build. Gives its failing jobs (failed, then canceled, then downstream), each with a digest of its log around the last error; jobs and tests a retry rescued, as flaky; error annotations; failed tests grouped by reason. Drill down with tail_logs, search_logs or get_failed_executions.",
        details: "In a log digest, repeated lines are folded: `x` is how many rows a line stands for, and `c` marks rows left out. A job's `log_tail` lines are the window around its last error (repeats folded), or with `raw_logs` its last rows. max_jobs orders jobs as failed, timed out and expired first, then canceled, then downstream (broken, waiting/blocked/unblocked failed). A test counts as failed only if it failed in a job that stayed failed (asked of Test Engine per job when a job was retried), else it is listed in flaky_tests. A section the token cannot read becomes a warning. The answer fits content_limit_bytes (default 262144, never more than the server's response budget): logs are shortened first, then annotations and test lists; content_bytes is its exact size.",
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
                &GetBuildParams {
                    exclude_pipeline: Some(true),
                    include_retried_jobs: Some(true),
                    include_test_engine: Some(true),
                    ..GetBuildParams::default()
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
                let lines = args.log_tail.map_or(50, Bounded::as_usize);
                job_logs(
                    ctx,
                    &org,
                    &pipeline,
                    number,
                    &jobs.reported,
                    lines,
                    args.raw_logs,
                )
                .await?
            } else {
                Vec::new()
            };
            Ok::<_, ToolError>(logs)
        };
        let (jobs_and_logs, annotations, tests) = tokio::join!(
            jobs_and_logs,
            async {
                if include_annotations {
                    let max = args.max_annotations.map_or(20, Bounded::as_usize);
                    Some(problem_annotations(ctx, &org, &pipeline, number, max).await)
                } else {
                    None
                }
            },
            async {
                if include_tests {
                    Some(failed_tests(ctx, &org, &build, tests_wanted(&args)).await)
                } else {
                    None
                }
            },
        );
        let mut logs = jobs_and_logs?.into_iter();
        let flaky_jobs = &jobs.flaky;
        let draft_jobs = jobs
            .reported
            .iter()
            .map(|job| DraftJob::new(job_item(job), logs.next().flatten()))
            .collect();

        let mut out = Map::new();
        out.insert("build".into(), build_item(&build));
        // The jobs' place: the draft fills it in when it is rendered.
        out.insert("jobs".into(), Value::Array(Vec::new()));
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
        let draft = Draft {
            fields: out,
            jobs: draft_jobs,
        };
        fit(draft, limit, &ctx.limits)
    }
}

/// How many failed tests a call asks for (the defaults when it does not
/// say): the per-run limit is never more than the limit in all.
fn tests_wanted(args: &FailureSummaryArgs) -> TestsWanted {
    let max_total = args.max_failed_tests.map_or(100, Bounded::as_usize);
    TestsWanted {
        max_runs: args.max_test_runs.map_or(5, Bounded::as_usize),
        per_run: args
            .max_failed_tests_per_run
            .map_or(20, Bounded::as_usize)
            .min(max_total),
        max_total,
        expanded: args.include_failure_expanded,
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
