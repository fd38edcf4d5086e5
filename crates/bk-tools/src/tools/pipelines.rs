//! The `pipelines` toolset: pipelines and their schedules: list, inspect,
//! create and update.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use buildkite_api::{
    CreatePipelineBody, ListPipelinesParams, Pipeline, PipelineSchedule, PipelineScheduleBody,
    UpdatePipelineBody,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::args::{DetailLevel, NonEmpty, OrgSlug, PageNumber, PerPage};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::project::{pick, reorder, to_object};
use crate::tool::{Access, Handler, Tool, ToolContext, ToolMeta, tool};
use crate::tools::common::{page_params, paged};
use crate::toolset::Toolset;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        tool(GetPipeline),
        tool(ListPipelines),
        tool(CreatePipeline),
        tool(UpdatePipeline),
        tool(ListPipelineSchedules),
        tool(GetPipelineSchedule),
        tool(CreatePipelineSchedule),
        tool(UpdatePipelineSchedule),
    ]
}

const READ: &[&str] = &["read_pipelines"];
const WRITE: &[&str] = &["write_pipelines"];

/// Fields of a pipeline at `summary`, in output order.
const SUMMARY_FIELDS: &[&str] = &[
    "id",
    "slug",
    "name",
    "repository",
    "default_branch",
    "web_url",
    "visibility",
    "created_at",
    "archived_at",
];

/// Fields `detailed` adds (then `steps_count`).
const DETAILED_FIELDS: &[&str] = &[
    "description",
    "cluster_id",
    "tags",
    "branch_configuration",
    "skip_queued_branch_builds",
    "cancel_running_branch_builds",
];

/// A pipeline at a detail level.
fn pipeline_view(pipeline: &Pipeline, level: DetailLevel) -> Map<String, Value> {
    let object = to_object(pipeline);
    match level {
        DetailLevel::Summary => pick(&object, SUMMARY_FIELDS),
        DetailLevel::Detailed => {
            let mut view = pick(&object, SUMMARY_FIELDS);
            view.extend(pick(&object, DETAILED_FIELDS));
            if let Some(Value::Array(steps)) = object.get("steps") {
                view.insert("steps_count".into(), json!(steps.len()));
            }
            view
        }
        DetailLevel::Full => reorder(object, SUMMARY_FIELDS),
    }
}

/// Fields of a schedule in lists, in output order.
const SCHEDULE_FIELDS: &[&str] = &[
    "id",
    "label",
    "cronline",
    "enabled",
    "branch",
    "commit",
    "message",
    "env",
    "next_build_at",
    "failed_message",
    "failed_at",
    "created_at",
    "created_by",
];

/// A schedule with every field, the essentials first.
fn schedule_full(schedule: &PipelineSchedule) -> Value {
    Value::Object(reorder(to_object(schedule), SCHEDULE_FIELDS))
}

/// Whether a pipeline is private or public (visible to anyone with the
/// link, builds and logs included): `private` or `public`.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Private,
    Public,
}

impl Visibility {
    fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }
}

/// Tags, trimmed; a blank tag is refused.
fn check_tags(tags: Option<Vec<String>>) -> Result<Option<Vec<String>>, ToolError> {
    let Some(tags) = tags else {
        return Ok(None);
    };
    let tags: Vec<String> = tags.into_iter().map(|t| t.trim().to_owned()).collect();
    if tags.iter().any(String::is_empty) {
        return Err(ToolError::invalid(
            "tags",
            "tags must not be empty strings; give e.g. [\"backend\", \"deploy\"] (or [] to remove every tag)",
        ));
    }
    Ok(Some(tags))
}

// ---------------------------------------------------------------------------
// get_pipeline

/// Arguments of `get_pipeline`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPipelineArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, as in `buildkite.com/<org_slug>/<pipeline_slug>`.
    pub pipeline_slug: NonEmpty,
    /// Default full.
    pub detail_level: Option<DetailLevel>,
}

/// `get_pipeline`.
#[derive(Debug)]
pub struct GetPipeline;

#[async_trait]
impl Handler for GetPipeline {
    type Args = GetPipelineArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_pipeline",
        title: "Get Pipeline",
        description: "One pipeline: repository, default branch, cluster, YAML configuration, steps, env, provider settings, branch filters and build counts (detail_level gives less).",
        details: "Every field by default (`full`), including running and scheduled build counts. detail_level `summary` gives id, slug, name, repository, default branch, web URL, visibility and creation and archive dates; `detailed` adds description, cluster, tags, branch settings and the number of steps.",
        toolset: Toolset::Pipelines,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(&self, ctx: &ToolContext, args: GetPipelineArgs) -> Result<ToolOutput, ToolError> {
        let pipeline = ctx
            .client
            .get_pipeline(&args.org_slug, &args.pipeline_slug)
            .await
            .context("the pipeline", Self::META.scopes)?;
        let level = args.detail_level.unwrap_or(DetailLevel::Full);
        Ok(ToolOutput::json(pipeline_view(&pipeline, level)))
    }
}

// ---------------------------------------------------------------------------
// list_pipelines

/// Arguments of `list_pipelines`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPipelinesArgs {
    pub org_slug: OrgSlug,
    // Only pipelines whose name contains this text (case-insensitive).
    pub name: Option<String>,
    // Only pipelines whose repository URL contains this text, e.g. `acme/app`.
    pub repository: Option<String>,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Pipelines per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
    /// Default summary.
    pub detail_level: Option<DetailLevel>,
}

/// `list_pipelines`.
#[derive(Debug)]
pub struct ListPipelines;

#[async_trait]
impl Handler for ListPipelines {
    type Args = ListPipelinesArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_pipelines",
        title: "List Pipelines",
        description: "The organization's pipelines, filtered by part of the name or repository URL: finds the pipeline_slug other tools take.",
        details: "The name filter is case-insensitive. 30 pipelines a page by default. detail_level `summary` (the default) gives id, slug, name, repository, default branch, web URL, visibility and creation and archive dates; `detailed` adds description, cluster, tags, branch settings and the number of steps; `full` gives every field (large: YAML configuration, steps, env, provider settings).",
        toolset: Toolset::Pipelines,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListPipelinesArgs,
    ) -> Result<ToolOutput, ToolError> {
        let paging = page_params(args.page, args.per_page, 30);
        let (page_no, per_page) = (paging.page.unwrap_or(1), paging.per_page.unwrap_or(30));
        let params = ListPipelinesParams {
            name: args.name.filter(|n| !n.trim().is_empty()),
            repository: args.repository.filter(|r| !r.trim().is_empty()),
            page: paging.page,
            per_page: paging.per_page,
        };
        let page = ctx
            .client
            .list_pipelines(&args.org_slug, &params)
            .await
            .context("the pipelines", Self::META.scopes)?;
        let level = args.detail_level.unwrap_or(DetailLevel::Summary);
        let items = page
            .items
            .iter()
            .map(|p| Value::Object(pipeline_view(p, level)))
            .collect();
        Ok(paged(&page, page_no, per_page, items))
    }
}

// ---------------------------------------------------------------------------
// create_pipeline

/// Arguments of `create_pipeline`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePipelineArgs {
    pub org_slug: OrgSlug,
    // Display name; the pipeline's slug is derived from it.
    pub name: NonEmpty,
    // Git repository URL to build, e.g. `git@github.com:acme/app.git`.
    pub repository_url: NonEmpty,
    /// UUID, from list_clusters.
    pub cluster_id: NonEmpty,
    // Description shown in the Buildkite UI.
    pub description: Option<String>,
    /// Steps YAML, e.g. "steps:\n  - command: buildkite-agent pipeline upload\n".
    pub configuration: NonEmpty,
    // Branch built by default (e.g. `main`).
    pub default_branch: Option<String>,
    // Skip builds still waiting in the queue when a newer build of the same branch is created.
    pub skip_queued_branch_builds: Option<bool>,
    // Cancel running builds of a branch when a newer build of the same branch is created.
    pub cancel_running_branch_builds: Option<bool>,
    // Tags for the pipeline, e.g. `["backend", "deploy"]`.
    pub tags: Option<Vec<String>>,
    /// Also create the provider's webhook (e.g. GitHub), so pushes trigger builds.
    pub create_webhook: Option<bool>,
    // Environment variables for every build, e.g. `{"NODE_ENV": "test"}`.
    pub env: Option<BTreeMap<String, String>>,
    /// Default private; public: anyone with the link sees builds and logs.
    pub visibility: Option<Visibility>,
    // UUIDs of the teams given access to the pipeline.
    pub team_uuids: Option<Vec<String>>,
    /// e.g. {"trigger_mode": "code", "build_pull_requests": true}
    pub provider_settings: Option<Map<String, Value>>,
}

/// `create_pipeline`.
#[derive(Debug)]
pub struct CreatePipeline;

#[async_trait]
impl Handler for CreatePipeline {
    type Args = CreatePipelineArgs;
    const META: ToolMeta = ToolMeta {
        name: "create_pipeline",
        title: "Create Pipeline",
        description: "Creates a pipeline for a repository in a cluster, with its YAML steps and optionally the provider's webhook. Returns the pipeline (its slug is the pipeline_slug) and any webhook result.",
        details: "The slug is derived from the name. skip_queued_branch_builds skips builds still waiting in the queue, and cancel_running_branch_builds cancels running ones, when a newer build of the same branch is created. team_uuids gives those teams access. With create_webhook, a webhook failure is reported under `webhook` (created false, with the error): the pipeline is created all the same and must not be created again.",
        toolset: Toolset::Pipelines,
        access: Access::Create,
        scopes: WRITE,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: CreatePipelineArgs,
    ) -> Result<ToolOutput, ToolError> {
        let body = CreatePipelineBody {
            name: args.name.0,
            repository: args.repository_url.0,
            configuration: args.configuration.0,
            cluster_id: Some(args.cluster_id.0),
            default_branch: args.default_branch,
            description: args.description,
            tags: check_tags(args.tags)?,
            env: args.env,
            provider_settings: args.provider_settings.map(Value::Object),
            skip_queued_branch_builds: args.skip_queued_branch_builds,
            cancel_running_branch_builds: args.cancel_running_branch_builds,
            team_uuids: args.team_uuids,
            visibility: args.visibility.map(|v| v.as_str().to_owned()),
        };
        let pipeline = ctx
            .client
            .create_pipeline(&args.org_slug, &body)
            .await
            .context("the new pipeline", Self::META.scopes)?;
        let mut out = Map::new();
        out.insert(
            "pipeline".into(),
            Value::Object(pipeline_view(&pipeline, DetailLevel::Full)),
        );
        if args.create_webhook == Some(true) {
            let webhook = match ctx
                .client
                .create_pipeline_webhook(&args.org_slug, &pipeline.slug)
                .await
                .context("the pipeline's webhook", Self::META.scopes)
            {
                Ok(created) => {
                    let mut webhook = Map::new();
                    webhook.insert("created".into(), json!(true));
                    if let Some(url) = created.webhook_url.filter(|u| !u.is_empty()) {
                        webhook.insert("webhook_url".into(), json!(url));
                    }
                    webhook.insert(
                        "note".into(),
                        json!("the pipeline and its source provider webhook were created"),
                    );
                    webhook
                }
                Err(error) => {
                    let mut webhook = Map::new();
                    webhook.insert("created".into(), json!(false));
                    webhook.insert("error".into(), json!(error.to_string()));
                    webhook.insert(
                        "note".into(),
                        json!("the pipeline WAS created, but its webhook was not: pushes will not trigger builds until a webhook is set up (from the pipeline's settings in Buildkite, or at the source provider). Do not create the pipeline again."),
                    );
                    webhook
                }
            };
            out.insert("webhook".into(), Value::Object(webhook));
        }
        Ok(ToolOutput::json(out))
    }
}

// ---------------------------------------------------------------------------
// update_pipeline

/// Arguments of `update_pipeline`. Only the fields given are changed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePipelineArgs {
    pub org_slug: OrgSlug,
    /// Slug of the pipeline to change.
    pub pipeline_slug: NonEmpty,
    /// The slug does not change.
    pub name: Option<NonEmpty>,
    // New Git repository URL.
    pub repository_url: Option<NonEmpty>,
    // UUID of the cluster to move the pipeline to.
    pub cluster_id: Option<NonEmpty>,
    /// "" clears it.
    pub description: Option<String>,
    // New steps as YAML; replaces the whole configuration.
    pub configuration: Option<NonEmpty>,
    // New default branch.
    pub default_branch: Option<NonEmpty>,
    // Skip queued builds of a branch when a newer build of it is created.
    pub skip_queued_branch_builds: Option<bool>,
    // Cancel running builds of a branch when a newer build of it is created.
    pub cancel_running_branch_builds: Option<bool>,
    // New tags; replaces every tag (`[]` removes them all).
    pub tags: Option<Vec<String>>,
    // Environment variables for every build; replaces the whole map.
    pub env: Option<BTreeMap<String, String>>,
    /// public: anyone with the link sees builds and logs.
    pub visibility: Option<Visibility>,
    /// Only the settings to change, e.g. {"build_pull_requests": false}
    pub provider_settings: Option<Map<String, Value>>,
}

/// `update_pipeline`.
#[derive(Debug)]
pub struct UpdatePipeline;

#[async_trait]
impl Handler for UpdatePipeline {
    type Args = UpdatePipelineArgs;
    const META: ToolMeta = ToolMeta {
        name: "update_pipeline",
        title: "Update Pipeline",
        description: "Changes only the pipeline settings given; tags, env and configuration are replaced whole. Returns the names of the fields changed and the updated pipeline.",
        details: "cluster_id moves the pipeline to that cluster; `[]` as tags removes every tag. At least one field must be given.",
        toolset: Toolset::Pipelines,
        access: Access::Modify,
        scopes: WRITE,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: UpdatePipelineArgs,
    ) -> Result<ToolOutput, ToolError> {
        let body = UpdatePipelineBody {
            name: args.name.map(|v| v.0),
            repository: args.repository_url.map(|v| v.0),
            configuration: args.configuration.map(|v| v.0),
            cluster_id: args.cluster_id.map(|v| v.0),
            default_branch: args.default_branch.map(|v| v.0),
            description: args.description,
            tags: check_tags(args.tags)?,
            env: args.env,
            provider_settings: args.provider_settings.map(Value::Object),
            skip_queued_branch_builds: args.skip_queued_branch_builds,
            cancel_running_branch_builds: args.cancel_running_branch_builds,
            visibility: args.visibility.map(|v| v.as_str().to_owned()),
        };
        let changed: Vec<String> = to_object(&body)
            .keys()
            .map(|k| {
                if k == "repository" {
                    "repository_url".to_owned()
                } else {
                    k.clone()
                }
            })
            .collect();
        if changed.is_empty() {
            return Err(ToolError::invalid(
                "arguments",
                "nothing to change: give at least one of name, repository_url, cluster_id, description, configuration, default_branch, skip_queued_branch_builds, cancel_running_branch_builds, tags, env, visibility, provider_settings",
            ));
        }
        let pipeline = ctx
            .client
            .update_pipeline(&args.org_slug, &args.pipeline_slug, &body)
            .await
            .context("the updated pipeline", Self::META.scopes)?;
        Ok(ToolOutput::json(json!({
            "updated_fields": changed,
            "pipeline": pipeline_view(&pipeline, DetailLevel::Full),
        })))
    }
}

// ---------------------------------------------------------------------------
// Schedules

/// Arguments of `list_pipeline_schedules`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPipelineSchedulesArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug.
    pub pipeline_slug: NonEmpty,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Schedules per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
}

/// `list_pipeline_schedules`.
#[derive(Debug)]
pub struct ListPipelineSchedules;

#[async_trait]
impl Handler for ListPipelineSchedules {
    type Args = ListPipelineSchedulesArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_pipeline_schedules",
        title: "List Pipeline Schedules",
        description: "A pipeline's cron schedules: id, label, cronline, enabled, the branch, commit, message and env of their builds, next run and last failure to start one.",
        details: "The last failure to create a build is in failed_message and failed_at. 30 schedules a page by default.",
        toolset: Toolset::Pipelines,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListPipelineSchedulesArgs,
    ) -> Result<ToolOutput, ToolError> {
        let params = page_params(args.page, args.per_page, 30);
        let (page_no, per_page) = (params.page.unwrap_or(1), params.per_page.unwrap_or(30));
        let page = ctx
            .client
            .list_pipeline_schedules(&args.org_slug, &args.pipeline_slug, &params)
            .await
            .context("the pipeline's schedules", Self::META.scopes)?;
        let items = page
            .items
            .iter()
            .map(|s| Value::Object(pick(&to_object(s), SCHEDULE_FIELDS)))
            .collect();
        Ok(paged(&page, page_no, per_page, items))
    }
}

/// Arguments of `get_pipeline_schedule`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPipelineScheduleArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug.
    pub pipeline_slug: NonEmpty,
    // The schedule's UUID (from list_pipeline_schedules).
    pub schedule_id: NonEmpty,
}

/// `get_pipeline_schedule`.
#[derive(Debug)]
pub struct GetPipelineSchedule;

#[async_trait]
impl Handler for GetPipelineSchedule {
    type Args = GetPipelineScheduleArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_pipeline_schedule",
        title: "Get Pipeline Schedule",
        description: "One pipeline schedule, every field: cronline, label, enabled, branch, commit, message, env, next run, last failure, creator.",
        details: "",
        toolset: Toolset::Pipelines,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: GetPipelineScheduleArgs,
    ) -> Result<ToolOutput, ToolError> {
        let schedule = ctx
            .client
            .get_pipeline_schedule(&args.org_slug, &args.pipeline_slug, &args.schedule_id)
            .await
            .context("the pipeline schedule", Self::META.scopes)?;
        Ok(ToolOutput::json(schedule_full(&schedule)))
    }
}

/// Arguments of `create_pipeline_schedule`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePipelineScheduleArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug.
    pub pipeline_slug: NonEmpty,
    /// Cron, e.g. "0 2 * * *" or "0 2 * * * Europe/Berlin", or @hourly, @daily, @weekly, @monthly.
    pub cronline: NonEmpty,
    // A name for the schedule, e.g. `Nightly`.
    pub label: Option<String>,
    // Message of the builds it creates.
    pub message: Option<String>,
    // Commit to build (default `HEAD`).
    pub commit: Option<String>,
    // Branch to build (default: the pipeline's default branch).
    pub branch: Option<String>,
    // Environment variables of the builds it creates.
    pub env: Option<BTreeMap<String, String>>,
    // Whether it runs (default true).
    pub enabled: Option<bool>,
}

/// `create_pipeline_schedule`.
#[derive(Debug)]
pub struct CreatePipelineSchedule;

#[async_trait]
impl Handler for CreatePipelineSchedule {
    type Args = CreatePipelineScheduleArgs;
    const META: ToolMeta = ToolMeta {
        name: "create_pipeline_schedule",
        title: "Create Pipeline Schedule",
        description: "Creates a schedule that builds a pipeline on a cron expression, with the branch, commit, message and env of its builds. Returns it, with its next run.",
        details: "commit defaults to HEAD, branch to the pipeline's default branch, enabled to true.",
        toolset: Toolset::Pipelines,
        access: Access::Create,
        scopes: WRITE,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: CreatePipelineScheduleArgs,
    ) -> Result<ToolOutput, ToolError> {
        let body = PipelineScheduleBody {
            cronline: Some(args.cronline.0.trim().to_owned()),
            label: args.label,
            message: args.message,
            commit: args.commit,
            branch: args.branch,
            env: args.env,
            enabled: args.enabled,
        };
        let schedule = ctx
            .client
            .create_pipeline_schedule(&args.org_slug, &args.pipeline_slug, &body)
            .await
            .context("the new pipeline schedule", Self::META.scopes)?;
        Ok(ToolOutput::json(schedule_full(&schedule)))
    }
}

/// Arguments of `update_pipeline_schedule`. Only the fields given are changed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePipelineScheduleArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug.
    pub pipeline_slug: NonEmpty,
    // The schedule's UUID (from list_pipeline_schedules).
    pub schedule_id: NonEmpty,
    /// e.g. "0 2 * * 1-5" or "@daily"
    pub cronline: Option<NonEmpty>,
    // New label.
    pub label: Option<String>,
    // New build message.
    pub message: Option<String>,
    // New commit to build.
    pub commit: Option<String>,
    // New branch to build.
    pub branch: Option<String>,
    // Environment variables of its builds; replaces the whole map.
    pub env: Option<BTreeMap<String, String>>,
    // Turn the schedule on (true) or off (false).
    pub enabled: Option<bool>,
}

/// `update_pipeline_schedule`.
#[derive(Debug)]
pub struct UpdatePipelineSchedule;

#[async_trait]
impl Handler for UpdatePipelineSchedule {
    type Args = UpdatePipelineScheduleArgs;
    const META: ToolMeta = ToolMeta {
        name: "update_pipeline_schedule",
        title: "Update Pipeline Schedule",
        description: "Changes only the schedule fields given; env replaces the whole map (include the variables to keep). enabled=false pauses it. Returns the fields changed and the schedule.",
        details: "At least one field must be given.",
        toolset: Toolset::Pipelines,
        access: Access::Modify,
        scopes: WRITE,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: UpdatePipelineScheduleArgs,
    ) -> Result<ToolOutput, ToolError> {
        let body = PipelineScheduleBody {
            cronline: args.cronline.map(|c| c.0.trim().to_owned()),
            label: args.label,
            message: args.message,
            commit: args.commit,
            branch: args.branch,
            env: args.env,
            enabled: args.enabled,
        };
        let changed: Vec<String> = to_object(&body).keys().cloned().collect();
        if changed.is_empty() {
            return Err(ToolError::invalid(
                "arguments",
                "nothing to change: give at least one of cronline, label, message, commit, branch, env, enabled",
            ));
        }
        let schedule = ctx
            .client
            .update_pipeline_schedule(
                &args.org_slug,
                &args.pipeline_slug,
                &args.schedule_id,
                &body,
            )
            .await
            .context("the updated pipeline schedule", Self::META.scopes)?;
        Ok(ToolOutput::json(json!({
            "updated_fields": changed,
            "schedule": schedule_full(&schedule),
        })))
    }
}
