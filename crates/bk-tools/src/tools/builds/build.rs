//! Build tools: list, get (with jobs of one state, annotations and job
//! counts), the Test Engine runs of a build, create, cancel and rebuild.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use buildkite_api::{
    Annotation, Build, BuildState, CreateBuildBody, GetBuildParams, JobState,
    ListAnnotationsParams, ListBuildsParams, NewBuildAuthor, Page, Timestamp,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::resolve_url::{Resolved, parse_url};
use super::view::{
    BuildStateFilter, JobStateFilter, READ, WRITE, build_view, compact_build, given, job_view, wire,
};
use crate::args::{BuildNumber, DetailLevel, NonEmpty, OrgSlug, PageNumber, PerPage};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::project::{pick, to_object};
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::tools::common::{page_params, paged};
use crate::toolset::Toolset;

/// Default page size of `list_builds`.
const DEFAULT_PER_PAGE: u32 = 30;

/// Annotations read with a build: one page of this many.
const ANNOTATIONS_PER_PAGE: u32 = 100;

/// A time argument, in either of the API's forms.
fn time_arg(param: &str, value: Option<String>) -> Result<Option<Timestamp>, ToolError> {
    let Some(text) = given(value) else {
        return Ok(None);
    };
    Timestamp::parse(&text).map(Some).ok_or_else(|| {
        ToolError::invalid(
            param,
            format!("must be an ISO 8601 time such as \"2026-08-11T10:00:00Z\" (got {text:?})"),
        )
    })
}

/// Arguments of `list_builds`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBuildsArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug; leave it out for every pipeline's builds.
    pub pipeline_slug: Option<String>,
    // Only builds of this branch.
    pub branch: Option<String>,
    /// finished: any end state; failing: running with a failed job.
    pub state: Option<BuildStateFilter>,
    // Only builds of this commit SHA.
    pub commit: Option<String>,
    /// User UUID, e.g. a build's creator.id.
    pub creator: Option<String>,
    /// ISO 8601, e.g. "2026-08-11T00:00:00Z".
    pub created_from: Option<String>,
    /// ISO 8601, exclusive.
    pub created_to: Option<String>,
    /// ISO 8601.
    pub finished_from: Option<String>,
    /// All must match, e.g. {"release": "1.2"}.
    pub meta_data: Option<BTreeMap<String, String>>,
    /// Page number, from 1 (default 1). Newest builds come first.
    pub page: Option<PageNumber>,
    /// Builds per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
    /// Default summary.
    pub detail_level: Option<DetailLevel>,
}

/// `list_builds`.
#[derive(Debug)]
pub struct ListBuilds;

#[async_trait]
impl Handler for ListBuilds {
    type Args = ListBuildsArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_builds",
        title: "List Builds",
        description: "Builds of a pipeline, or of the organization without pipeline_slug, newest first, filtered by branch, state, commit, creator, time or meta-data. No jobs: see get_build or list_jobs.",
        details: "Without pipeline_slug the organization's builds are listed, and each item names its pipeline_slug. Items never include jobs. created_from and finished_from are inclusive, created_to exclusive; every given meta-data pair must match. 30 builds a page by default; follow next_page. detail_level `summary` (the default) gives id, number, state, branch, commit, the message's first line, web_url, created_at and finished_at; `detailed` adds the whole message, source, author, creator, scheduled, started and finished times, cancel reason, pull request, rebuild and trigger links and meta-data; `full` gives every field the API returns, env included.",
        toolset: Toolset::Builds,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(&self, ctx: &ToolContext, args: ListBuildsArgs) -> Result<ToolOutput, ToolError> {
        let paging = page_params(args.page, args.per_page, DEFAULT_PER_PAGE);
        let (page_no, per_page) = (
            paging.page.unwrap_or(1),
            paging.per_page.unwrap_or(DEFAULT_PER_PAGE),
        );
        let params = ListBuildsParams {
            branch: given(args.branch).into_iter().collect(),
            state: args
                .state
                .map(|s| wire(&s).parse::<BuildState>())
                .into_iter()
                .flatten()
                .collect(),
            commit: given(args.commit),
            creator: given(args.creator),
            created_from: time_arg("created_from", args.created_from)?,
            created_to: time_arg("created_to", args.created_to)?,
            finished_from: time_arg("finished_from", args.finished_from)?,
            meta_data: args.meta_data.unwrap_or_default(),
            exclude_jobs: Some(true),
            exclude_pipeline: Some(true),
            include_retried_jobs: None,
            page: paging.page,
            per_page: paging.per_page,
        };
        let level = args.detail_level.unwrap_or(DetailLevel::Summary);
        let org = args.org_slug.as_str();
        let pipeline = given(args.pipeline_slug);
        let page = match &pipeline {
            Some(pipeline) => ctx
                .client
                .list_pipeline_builds(org, pipeline, &params)
                .await
                .context("the pipeline's builds", Self::META.scopes)?,
            None => ctx
                .client
                .list_organization_builds(org, &params)
                .await
                .context("the organization's builds", Self::META.scopes)?,
        };
        let items = page
            .items
            .iter()
            .map(|build| {
                let mut item = build_view(build, level, true);
                if pipeline.is_none() {
                    add_pipeline_slug(&mut item, build);
                }
                Value::Object(item)
            })
            .collect();
        Ok(paged(&page, page_no, per_page, items))
    }
}

/// Adds the pipeline slug of an organization-wide list item, read from the
/// build's URLs (the pipeline itself is excluded to keep the list small).
fn add_pipeline_slug(item: &mut Map<String, Value>, build: &Build) {
    let slug = [build.url.as_deref(), build.web_url.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|url| match parse_url(url) {
            Ok(Resolved {
                pipeline_slug: Some(slug),
                ..
            }) => Some(slug),
            _ => None,
        })
        .or_else(|| build.pipeline.as_ref().and_then(|p| p.slug.clone()));
    if let Some(slug) = slug {
        let mut out = Map::new();
        for (key, value) in std::mem::take(item) {
            let after_number = key == "number";
            out.insert(key, value);
            if after_number {
                out.insert("pipeline_slug".into(), json!(slug));
            }
        }
        *item = out;
    }
}

/// Arguments of `get_build`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetBuildArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, e.g. "app".
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    /// Default detailed.
    pub detail_level: Option<DetailLevel>,
    // Also list the build's jobs in this state (none are listed without it).
    pub job_state: Option<JobStateFilter>,
    // With job_state: each listed job's full agent.
    pub include_agent: Option<bool>,
}

/// `get_build`.
#[derive(Debug)]
pub struct GetBuild;

#[async_trait]
impl Handler for GetBuild {
    type Args = GetBuildArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_build",
        title: "Get Build",
        description: "One build: state, branch, commit, message, timing, job counts by state, Test Engine runs and annotations (no bodies). job_state (e.g. \"failed\") also lists the jobs in that state.",
        details: "detail_level `summary` gives id, number, state, branch, commit, the message's first line, web_url, created_at and finished_at; `detailed` (the default) adds the whole message, source, author, creator, timing, cancel reason, pull request, rebuild and trigger links and meta-data; `full` gives every field the API returns except the build's env. Job counts (job_state_counts), Test Engine runs ({id, suite: {id, slug}}) and annotations come at every level (at `full`, counts and runs as the API gives them). Annotations are the first 100, with id, context, style, scope, job_id and priority but no body (list_annotations reads bodies); more are flagged with annotations_truncated, and a failure to read them is reported in annotations_error. Without job_state no jobs are listed. With it, the jobs in that state come as list_jobs summaries (full jobs at detail_level `full`); include_agent gives each one's full agent instead of none (or {id, name} at `full`); jobs that do not fit the response budget are cut, with the list_jobs call that pages through them.",
        toolset: Toolset::Builds,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(&self, ctx: &ToolContext, args: GetBuildArgs) -> Result<ToolOutput, ToolError> {
        let (org, pipeline, number) = (
            args.org_slug.as_str(),
            args.pipeline_slug.as_str(),
            args.build_number.get(),
        );
        let params = GetBuildParams {
            exclude_jobs: args.job_state.is_none().then_some(true),
            exclude_pipeline: Some(true),
            include_retried_jobs: None,
            include_test_engine: Some(true),
            job_states: args
                .job_state
                .iter()
                .filter_map(|s| wire(s).parse::<JobState>().ok())
                .collect(),
        };
        let (build, annotations) = tokio::join!(
            ctx.client.get_build(org, pipeline, number, &params),
            read_annotations(ctx, org, pipeline, number),
        );
        let build = build.context("the build", Self::META.scopes)?;
        let view = detail_view(
            &build,
            args.detail_level.unwrap_or(DetailLevel::Detailed),
            args.job_state,
            args.include_agent.unwrap_or(false),
            annotations,
        )?;
        let (org, pipeline) = (org.to_owned(), pipeline.to_owned());
        let state = args.job_state.map(|s| wire(&s).to_owned());
        Ok(ToolOutput::json(view).trim_list("jobs", move |kept| {
            json!({
                "advice": "the build's jobs did not all fit the response budget; page through them with list_jobs",
                "tool": "list_jobs",
                "org_slug": org,
                "pipeline_slug": pipeline,
                "build_number": number.to_string(),
                "state": state,
                "per_page": kept.clamp(1, 100),
            })
        }))
    }
}

/// The first page of a build's annotations, without bodies.
pub(super) async fn read_annotations(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    number: u64,
) -> Result<Page<Annotation>, ToolError> {
    let params = ListAnnotationsParams {
        scope: Some("all".into()),
        omit_body: Some(true),
        page: Some(1),
        per_page: Some(ANNOTATIONS_PER_PAGE),
    };
    ctx.client
        .list_build_annotations(org, pipeline, number, &params)
        .await
        .context("the build's annotations", READ)
}

/// The `get_build` view of a build: the build at `level`, then job counts,
/// jobs in `job_state`, Test Engine runs and annotations. An annotation
/// failure is reported in the result (a refused token fails the call).
pub(super) fn detail_view(
    build: &Build,
    level: DetailLevel,
    job_state: Option<JobStateFilter>,
    include_agent: bool,
    annotations: Result<Page<Annotation>, ToolError>,
) -> Result<Map<String, Value>, ToolError> {
    let annotations = match annotations {
        Err(error) if error.is_unauthorized() => return Err(error),
        other => other,
    };
    let mut out = build_view(build, level, false);
    out.shift_remove("jobs");
    if level != DetailLevel::Full {
        if let Some(counts) = &build.job_state_counts {
            out.insert("job_state_counts".into(), Value::Object(to_object(counts)));
        }
        let runs = test_engine_runs(build);
        if !runs.is_empty() {
            out.insert("test_engine_runs".into(), Value::Array(runs));
        }
    }
    if let Some(state) = job_state {
        let jobs_level = if level == DetailLevel::Full {
            DetailLevel::Full
        } else {
            DetailLevel::Summary
        };
        let state = wire(&state);
        let jobs: Vec<Value> = build
            .jobs
            .iter()
            .filter(|job| job.state.as_ref().is_some_and(|s| s.as_str() == state))
            .map(|job| Value::Object(job_view(job, jobs_level, include_agent)))
            .collect();
        out.insert("jobs".into(), Value::Array(jobs));
    }
    match annotations {
        Ok(page) => {
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|a| {
                    Value::Object(pick(
                        &to_object(a),
                        &["id", "context", "style", "scope", "job_id", "priority"],
                    ))
                })
                .collect();
            out.insert("annotations".into(), Value::Array(items));
            if page.has_more() {
                out.insert("annotations_truncated".into(), json!(true));
                out.insert(
                    "annotations_next".into(),
                    json!({"tool": "list_annotations", "scope": "all", "page": 2, "per_page": 100}),
                );
            }
        }
        Err(error) => {
            out.insert("annotations_error".into(), json!(error.to_string()));
        }
    }
    Ok(out)
}

/// A build's Test Engine runs as `[{id, suite: {id, slug}}]`.
fn test_engine_runs(build: &Build) -> Vec<Value> {
    build
        .test_engine
        .iter()
        .flat_map(|engine| &engine.runs)
        .map(|run| {
            let mut item = Map::new();
            item.insert("id".into(), json!(run.id));
            if let Some(suite) = &run.suite {
                item.insert(
                    "suite".into(),
                    Value::Object(pick(&to_object(suite), &["id", "slug"])),
                );
            }
            Value::Object(item)
        })
        .collect()
}

/// Arguments of the tools that take one build.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, e.g. "app".
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
}

/// `get_build_test_engine_runs`.
#[derive(Debug)]
pub struct GetBuildTestEngineRuns;

#[async_trait]
impl Handler for GetBuildTestEngineRuns {
    type Args = BuildArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_build_test_engine_runs",
        title: "Get Build Test Engine Runs",
        description: "A build's Test Engine runs as [{id, suite: {id, slug}}]: pass suite.slug as test_suite_slug and id as run_id to get_test_run or get_failed_executions.",
        details: "An empty list when the build reported no Test Engine runs.",
        toolset: Toolset::Builds,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(&self, ctx: &ToolContext, args: BuildArgs) -> Result<ToolOutput, ToolError> {
        let params = GetBuildParams {
            exclude_jobs: Some(true),
            exclude_pipeline: Some(true),
            include_test_engine: Some(true),
            ..GetBuildParams::default()
        };
        let build = ctx
            .client
            .get_build(
                &args.org_slug,
                &args.pipeline_slug,
                args.build_number.get(),
                &params,
            )
            .await
            .context("the build", Self::META.scopes)?;
        Ok(ToolOutput::json(test_engine_runs(&build)))
    }
}

// One `{key, value}` pair. Its doc comments would be sent in every
// `tools/list`, and the names say it all: plain comments only.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    // The name, e.g. "DEPLOY_ENV".
    pub key: NonEmpty,
    // The value (may be empty).
    pub value: String,
}

// The commit author to record on a new build (plain comments, as above).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorArg {
    // Author's name.
    pub name: NonEmpty,
    // Author's email.
    pub email: NonEmpty,
}

/// Arguments of `create_build`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBuildArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, e.g. "app".
    pub pipeline_slug: NonEmpty,
    /// SHA, or "HEAD" for the branch's latest commit.
    pub commit: NonEmpty,
    // Branch to build, e.g. "main".
    pub branch: NonEmpty,
    // Build message shown in Buildkite.
    pub message: NonEmpty,
    // Build even if the pipeline's branch filters exclude this branch.
    pub ignore_branch_filters: Option<bool>,
    // Environment variables for the build.
    pub environment: Option<Vec<KeyValue>>,
    // Build meta-data.
    pub metadata: Option<Vec<KeyValue>>,
    // Force a fresh checkout on every agent.
    pub clean_checkout: Option<bool>,
    /// Commit author; default: the API token's user.
    pub author: Option<AuthorArg>,
}

/// `[{key, value}]` as a map; a repeated key is an argument error.
fn key_values(
    param: &str,
    pairs: Option<Vec<KeyValue>>,
) -> Result<Option<BTreeMap<String, String>>, ToolError> {
    let Some(pairs) = pairs else {
        return Ok(None);
    };
    let mut seen = BTreeSet::new();
    let mut map = BTreeMap::new();
    for pair in pairs {
        if !seen.insert(pair.key.0.clone()) {
            return Err(ToolError::invalid(
                param,
                format!(
                    "key {:?} appears more than once; give each key once",
                    pair.key.0
                ),
            ));
        }
        map.insert(pair.key.0, pair.value);
    }
    Ok(Some(map))
}

/// `create_build`.
#[derive(Debug)]
pub struct CreateBuild;

#[async_trait]
impl Handler for CreateBuild {
    type Args = CreateBuildArgs;
    const META: ToolMeta = ToolMeta {
        name: "create_build",
        title: "Create Build",
        description: "Starts a build of a commit on a branch, with optional env and meta-data. Returns its id, number, state and web_url; then use wait_for_build.",
        details: "environment and metadata are lists of {key, value}; a key given twice is refused. ignore_branch_filters builds even when the pipeline's branch filters exclude the branch; clean_checkout forces a fresh checkout on every agent (both default false). The result also gives the branch and commit.",
        toolset: Toolset::Builds,
        access: Access::Create,
        scopes: WRITE,
    };

    async fn run(&self, ctx: &ToolContext, args: CreateBuildArgs) -> Result<ToolOutput, ToolError> {
        let body = CreateBuildBody {
            commit: args.commit.0,
            branch: args.branch.0,
            message: Some(args.message.0),
            author: args.author.map(|a| NewBuildAuthor {
                name: a.name.0,
                email: a.email.0,
            }),
            env: key_values("environment", args.environment)?,
            meta_data: key_values("metadata", args.metadata)?,
            clean_checkout: args.clean_checkout,
            ignore_pipeline_branch_filters: args.ignore_branch_filters,
            ..CreateBuildBody::default()
        };
        let build = ctx
            .client
            .create_build(&args.org_slug, &args.pipeline_slug, &body)
            .await
            .context("a new build created", Self::META.scopes)?;
        Ok(ToolOutput::json(compact_build(&build)))
    }
}

/// `cancel_build`.
#[derive(Debug)]
pub struct CancelBuild;

#[async_trait]
impl Handler for CancelBuild {
    type Args = BuildArgs;
    const META: ToolMeta = ToolMeta {
        name: "cancel_build",
        title: "Cancel Build",
        description: "Cancels a scheduled, running or failing build and its running jobs (a finished build cannot be canceled). Returns its id, number, new state and web_url.",
        details: "",
        toolset: Toolset::Builds,
        access: Access::Modify,
        scopes: WRITE,
    };

    async fn run(&self, ctx: &ToolContext, args: BuildArgs) -> Result<ToolOutput, ToolError> {
        let build = ctx
            .client
            .cancel_build(&args.org_slug, &args.pipeline_slug, args.build_number.get())
            .await
            .context("the build canceled", Self::META.scopes)?;
        Ok(ToolOutput::json(compact_build(&build)))
    }
}

/// `rebuild_build`.
#[derive(Debug)]
pub struct RebuildBuild;

#[async_trait]
impl Handler for RebuildBuild {
    type Args = BuildArgs;
    const META: ToolMeta = ToolMeta {
        name: "rebuild_build",
        title: "Rebuild Build",
        description: "Runs a finished build again as a NEW build (new number: use it with wait_for_build) with the same commit, branch, env and meta-data. For only failed jobs, use retry_job.",
        details: "Returns the new build's id, number, state, web_url, branch and commit, and rebuilt_from: the original build's number.",
        toolset: Toolset::Builds,
        access: Access::Modify,
        scopes: WRITE,
    };

    async fn run(&self, ctx: &ToolContext, args: BuildArgs) -> Result<ToolOutput, ToolError> {
        let number = args.build_number.get();
        let build = ctx
            .client
            .rebuild_build(&args.org_slug, &args.pipeline_slug, number)
            .await
            .context("a rebuild of the build", Self::META.scopes)?;
        let mut out = compact_build(&build);
        out.insert("rebuilt_from".into(), json!(number));
        Ok(ToolOutput::json(out))
    }
}
