//! Job tools: list a build's jobs, get one, retry, unblock, and read its
//! environment.

use std::collections::BTreeMap;

use async_trait::async_trait;
use buildkite_api::{JobRef, JobState, ListJobsParams, UnblockJobBody};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::view::{READ, WRITE, check_cursors, given, job_view, smaller_cursor_pages_hint};
use crate::args::{BuildNumber, DetailLevel, NonEmpty, OrgSlug, PerPage};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::redact::redact_env;
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::tools::common::cursor_envelope;
use crate::toolset::Toolset;

/// Parses a comma-separated list of job states, checking each.
fn job_states(list: Option<String>) -> Result<Vec<JobState>, ToolError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|state| {
            let lower = state.to_ascii_lowercase();
            if JobState::KNOWN.contains(&lower.as_str()) {
                Ok(lower.parse::<JobState>().unwrap_or_else(|never| match never {}))
            } else {
                Err(ToolError::invalid(
                    "state",
                    format!(
                        "unknown job state {state:?}; give one or more of {}, separated by commas (e.g. \"failed,broken\")",
                        JobState::KNOWN.join(", ")
                    ),
                ))
            }
        })
        .collect()
}

/// Arguments of `list_jobs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListJobsArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, e.g. "app".
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    /// Job states, comma-separated, e.g. "failed,broken,timed_out".
    pub state: Option<String>,
    // Only the job(s) of the step with this key.
    pub step_key: Option<String>,
    // Only jobs of steps in the group with this key.
    pub group_key: Option<String>,
    /// Default summary.
    pub detail_level: Option<DetailLevel>,
    /// false leaves out jobs replaced by a retry (included by default).
    pub include_retried_jobs: Option<bool>,
    /// Jobs per page, 1–100 (the API's default when left out).
    pub per_page: Option<PerPage>,
    /// next_cursor of the previous page.
    pub after: Option<String>,
    /// prev_cursor of a page; not with after.
    pub before: Option<String>,
    // Each job's full agent instead of {id, name} (or none, at summary).
    pub include_agent: Option<bool>,
}

/// `list_jobs`.
#[derive(Debug)]
pub struct ListJobs;

#[async_trait]
impl Handler for ListJobs {
    type Args = ListJobsArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_jobs",
        title: "List Jobs",
        description: "A build's jobs, filtered by state, step key or group key: ids for the log tools, get_job, retry_job and unblock_job. Pass next_cursor as after for the next page.",
        details: "state takes one or more of pending, waiting, waiting_failed, blocked, blocked_failed, unblocked, unblocked_failed, limiting, limited, scheduled, assigned, accepted, running, passed, failed, finished, canceled, canceling, timed_out, timing_out, skipped, broken and expired, separated by commas. broken jobs never ran (an if-condition, branch filter or failed dependency); failed jobs ran and exited non-zero. detail_level `summary` (the default) gives id, state, type (when not a command step), name, step_key, exit_status, soft_failed (when true) and retries_count (when any); `detailed` adds type, group_key, command, signal and broken reasons, retry links, parallel position, timing, agent {id, name}, web_url, unblock details and the triggered build; `full` gives every field the API returns. include_agent gives each job's full agent (hostname, connection state, …) at every level. Jobs replaced by a retry are listed unless include_retried_jobs is false. Paged by cursor: next_cursor as after, prev_cursor as before; a page that does not fit the response budget is cut, with the call that gets it in smaller pages.",
        toolset: Toolset::Builds,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(&self, ctx: &ToolContext, args: ListJobsArgs) -> Result<ToolOutput, ToolError> {
        let after = given(args.after);
        let before = given(args.before);
        check_cursors(after.as_deref(), before.as_deref())?;
        let params = ListJobsParams {
            state: job_states(args.state)?,
            step_key: given(args.step_key),
            group_key: given(args.group_key),
            include_retried_jobs: args.include_retried_jobs,
            per_page: args.per_page.map(PerPage::as_u32),
            after: after.clone(),
            before: before.clone(),
        };
        let page = ctx
            .client
            .list_jobs(
                &args.org_slug,
                &args.pipeline_slug,
                args.build_number.get(),
                &params,
            )
            .await
            .context("the build's jobs", Self::META.scopes)?;
        let level = args.detail_level.unwrap_or(DetailLevel::Summary);
        let include_agent = args.include_agent.unwrap_or(false);
        let items = page
            .items
            .iter()
            .map(|job| Value::Object(job_view(job, level, include_agent)))
            .collect();
        Ok(ToolOutput::json(cursor_envelope(&page, items))
            .trim_list("items", smaller_cursor_pages_hint(after, before)))
    }
}

/// Arguments of `get_job`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetJobArgs {
    pub org_slug: OrgSlug,
    // The job's UUID.
    pub job_id: NonEmpty,
    /// Pipeline slug. Give it with build_number, or neither to look the job up by id alone.
    pub pipeline_slug: Option<String>,
    // The build's number. Give it with pipeline_slug, or neither.
    pub build_number: Option<BuildNumber>,
    // The job's full agent (hostname, connection state, …) instead of {id, name}.
    pub include_agent: Option<bool>,
    /// Default full.
    pub detail_level: Option<DetailLevel>,
}

/// `get_job`.
#[derive(Debug)]
pub struct GetJob;

#[async_trait]
impl Handler for GetJob {
    type Args = GetJobArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_job",
        title: "Get Job",
        description: "One job by job_id (alone, or with pipeline_slug and build_number): state, command, exit status, timing, agent, retries and block step details.",
        details: "Returns every field the API gives by default; detail_level `summary` and `detailed` give less, as in list_jobs. The agent is {id, name} unless include_agent gives all of it (hostname, connection state, …). pipeline_slug and build_number come together or not at all.",
        toolset: Toolset::Builds,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(&self, ctx: &ToolContext, args: GetJobArgs) -> Result<ToolOutput, ToolError> {
        let job_ref = match (given(args.pipeline_slug), args.build_number) {
            (Some(pipeline), Some(number)) => {
                JobRef::in_build(args.org_slug.0, pipeline, number.get(), args.job_id.0)
            }
            (None, None) => JobRef::in_organization(args.org_slug.0, args.job_id.0),
            (Some(_), None) => {
                return Err(ToolError::invalid(
                    "build_number",
                    "is required with pipeline_slug: give both for a lookup within the build, or neither to look the job up by job_id alone",
                ));
            }
            (None, Some(_)) => {
                return Err(ToolError::invalid(
                    "pipeline_slug",
                    "is required with build_number: give both for a lookup within the build, or neither to look the job up by job_id alone",
                ));
            }
        };
        let job = ctx
            .client
            .get_job(&job_ref)
            .await
            .context("the job", Self::META.scopes)?;
        Ok(ToolOutput::json(job_view(
            &job,
            args.detail_level.unwrap_or(DetailLevel::Full),
            args.include_agent.unwrap_or(false),
        )))
    }
}

/// Arguments of the tools that take one job of a build.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, e.g. "app".
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    // The job's UUID (list_jobs or get_build with job_state gives it).
    pub job_id: NonEmpty,
}

impl JobArgs {
    fn job_ref(&self) -> JobRef {
        JobRef::in_build(
            self.org_slug.as_str(),
            self.pipeline_slug.as_str(),
            self.build_number.get(),
            self.job_id.as_str(),
        )
    }
}

/// Arguments of `unblock_job`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnblockJobArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, e.g. "app".
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    /// The block step's job (list_jobs with state "blocked").
    pub job_id: NonEmpty,
    /// By field key, e.g. {"release-name": "v1.2"}.
    pub fields: Option<BTreeMap<String, String>>,
}

/// `unblock_job`.
#[derive(Debug)]
pub struct UnblockJob;

#[async_trait]
impl Handler for UnblockJob {
    type Args = UnblockJobArgs;
    const META: ToolMeta = ToolMeta {
        name: "unblock_job",
        title: "Unblock Job",
        description: "Unblocks a block step, with values for its fields, so the build continues. Block steps often guard deployments: only unblock when the user asked to. Returns the job.",
        details: "The job comes back as list_jobs gives it at detail_level `detailed`: its state, who unblocked it and when.",
        toolset: Toolset::Builds,
        access: Access::Modify,
        scopes: WRITE,
    };

    async fn run(&self, ctx: &ToolContext, args: UnblockJobArgs) -> Result<ToolOutput, ToolError> {
        let job_ref = JobRef::in_build(
            args.org_slug.0,
            args.pipeline_slug.0,
            args.build_number.get(),
            args.job_id.0,
        );
        let body = UnblockJobBody {
            fields: args.fields.map(|fields| {
                fields
                    .into_iter()
                    .map(|(key, value)| (key, Value::String(value)))
                    .collect::<Map<String, Value>>()
            }),
            unblocker: None,
        };
        let job = ctx
            .client
            .unblock_job(&job_ref, &body)
            .await
            .context("the job unblocked", Self::META.scopes)?;
        Ok(ToolOutput::json(job_view(
            &job,
            DetailLevel::Detailed,
            false,
        )))
    }
}

/// `retry_job`.
#[derive(Debug)]
pub struct RetryJob;

#[async_trait]
impl Handler for RetryJob {
    type Args = JobArgs;
    const META: ToolMeta = ToolMeta {
        name: "retry_job",
        title: "Retry Job",
        description: "Runs a failed, timed-out or canceled job again as a NEW job, returned with its own id; the original keeps its id and is marked retried.",
        details: "The new job comes as list_jobs gives it at detail_level `detailed`, with retry_of: the original job's id.",
        toolset: Toolset::Builds,
        access: Access::Modify,
        scopes: WRITE,
    };

    async fn run(&self, ctx: &ToolContext, args: JobArgs) -> Result<ToolOutput, ToolError> {
        let job = ctx
            .client
            .retry_job(&args.job_ref())
            .await
            .context("the job retried", Self::META.scopes)?;
        let mut out = job_view(&job, DetailLevel::Detailed, false);
        out.insert("retry_of".into(), json!(args.job_id.as_str()));
        Ok(ToolOutput::json(out))
    }
}

/// `get_job_env`.
#[derive(Debug)]
pub struct GetJobEnv;

#[async_trait]
impl Handler for GetJobEnv {
    type Args = JobArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_job_env",
        title: "Get Job Environment Variables",
        description: "The environment variables a job ran with. Secret-looking values (…_TOKEN, …_SECRET, …_PASSWORD, …_KEY) are [REDACTED] unless the server runs without redaction.",
        details: "Both BUILDKITE_* variables and the pipeline's own. With redaction on (the default), `redacted` says how many values were replaced; names with TOKEN, SECRET, PASSWORD, KEY, CREDENTIALS and the like count as secret.",
        toolset: Toolset::Builds,
        access: Access::Read,
        scopes: &["read_job_env"],
    };

    async fn run(&self, ctx: &ToolContext, args: JobArgs) -> Result<ToolOutput, ToolError> {
        let env = ctx
            .client
            .get_job_env(&args.job_ref())
            .await
            .context("the job's environment", Self::META.scopes)?;
        let mut variables: Map<String, Value> = env
            .env
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
        let mut out = Map::new();
        if ctx.limits.redact_secrets {
            let redacted = redact_env(&mut variables);
            out.insert("env".into(), Value::Object(variables));
            out.insert("redacted".into(), json!(redacted));
        } else {
            out.insert("env".into(), Value::Object(variables));
        }
        Ok(ToolOutput::json(out))
    }
}
