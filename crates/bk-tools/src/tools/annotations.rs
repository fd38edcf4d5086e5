//! The `annotations` toolset: reading and writing the notes builds and jobs
//! show above their logs.
//!
//! Annotation bodies are HTML written by build scripts, so this is the one
//! place HTML is allow-listed: `body_html` goes through
//! [`clean_annotation_html`] (scripts, styles, event handlers and unknown
//! tags go; formatting stays).

use std::sync::Arc;

use async_trait::async_trait;
use buildkite_api::{
    Annotation, AnnotationStyle, CreateAnnotationBody, JobRef, ListAnnotationsParams,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::args::{Bounded, BuildNumber, NonEmpty, OrgSlug, PageNumber, PerPage};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::html::clean_annotation_html;
use crate::shape::project::{pick, to_object};
use crate::tool::{Access, Handler, Tool, ToolContext, ToolMeta, tool};
use crate::tools::common::paged;
use crate::toolset::Toolset;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![tool(ListAnnotations), tool(CreateAnnotation)]
}

/// Default page size of `list_annotations`.
const DEFAULT_PER_PAGE: u32 = 30;

/// An annotation, ids first, its body last and cleaned.
fn shape(annotation: &Annotation) -> Value {
    let mut out = pick(
        &to_object(annotation),
        &[
            "id",
            "context",
            "style",
            "scope",
            "job_id",
            "priority",
            "created_at",
            "updated_at",
        ],
    );
    if let Some(html) = &annotation.body_html {
        out.insert("body_html".into(), json!(clean_annotation_html(html)));
    }
    Value::Object(out)
}

/// Whose annotations: `build` (the build's own, the default), `job` (one
/// job's, which needs job_id) or `all` (the build's and every job's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListScope {
    Build,
    Job,
    All,
}

/// Where the annotation goes: `build` (on the build, the default) or `job`
/// (on one job, which needs job_id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreateScope {
    Build,
    Job,
}

/// The job a `job`-scoped call addresses, or `None` for the build; refuses
/// `job` without job_id, and job_id with any other scope.
fn job_target(is_job: bool, job_id: Option<NonEmpty>) -> Result<Option<String>, ToolError> {
    match (is_job, job_id) {
        (true, Some(job_id)) => Ok(Some(job_id.0)),
        (true, None) => Err(ToolError::invalid(
            "job_id",
            "is required when scope is \"job\": give the job's UUID (list_jobs gives it)",
        )),
        (false, Some(_)) => Err(ToolError::invalid(
            "job_id",
            "only applies with scope \"job\": set scope to \"job\" to address that job's annotations, or leave job_id out for the build's",
        )),
        (false, None) => Ok(None),
    }
}

/// Arguments of `list_annotations`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAnnotationsArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, e.g. "my-app".
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    /// Default build; all: the build's and every job's.
    pub scope: Option<ListScope>,
    /// Required with scope job; refused otherwise.
    pub job_id: Option<NonEmpty>,
    // Leave out body_html, for a quick look at which annotations exist.
    pub omit_body: Option<bool>,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Annotations per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
}

/// `list_annotations`.
#[derive(Debug)]
pub struct ListAnnotations;

#[async_trait]
impl Handler for ListAnnotations {
    type Args = ListAnnotationsArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_annotations",
        title: "List Annotations",
        description: "A build's or a job's annotations (notes steps post above the log: test failures, coverage, deploy links): id, context, style, scope, job_id, priority and cleaned body_html.",
        details: "scope `build` (the default) lists the build's own annotations, `job` one job's (job_id), `all` the build's and every job's. Each annotation also has its creation and update times. body_html is the annotation's HTML with scripts, styles, event handlers and unknown tags removed; omit_body leaves it out, for a quick look at which annotations exist. 30 annotations a page by default.",
        toolset: Toolset::Annotations,
        access: Access::Read,
        scopes: &["read_builds"],
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListAnnotationsArgs,
    ) -> Result<ToolOutput, ToolError> {
        let scope = args.scope.unwrap_or(ListScope::Build);
        let job = job_target(scope == ListScope::Job, args.job_id)?;
        let page_no = args.page.map_or(1, PageNumber::as_u32);
        let per_page = args.per_page.map_or(DEFAULT_PER_PAGE, PerPage::as_u32);
        let params = ListAnnotationsParams {
            scope: (scope == ListScope::All).then(|| "all".to_owned()),
            omit_body: args.omit_body.filter(|omit| *omit),
            page: Some(page_no),
            per_page: Some(per_page),
        };
        let page = match job {
            Some(job_id) => {
                let job = JobRef::in_build(
                    args.org_slug.0,
                    args.pipeline_slug.0,
                    args.build_number.get(),
                    job_id,
                );
                ctx.client
                    .list_job_annotations(&job, &params)
                    .await
                    .context("the job's annotations", Self::META.scopes)?
            }
            None => ctx
                .client
                .list_build_annotations(
                    &args.org_slug,
                    &args.pipeline_slug,
                    args.build_number.get(),
                    &params,
                )
                .await
                .context("the build's annotations", Self::META.scopes)?,
        };
        let items = page.items.iter().map(shape).collect();
        Ok(paged(&page, page_no, per_page, items))
    }
}

/// How the annotation looks: `success` (green), `info` (blue, the API
/// default), `warning` (orange) or `error` (red).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    Success,
    Info,
    Warning,
    Error,
}

impl From<Style> for AnnotationStyle {
    fn from(style: Style) -> Self {
        match style {
            Style::Success => AnnotationStyle::Success,
            Style::Info => AnnotationStyle::Info,
            Style::Warning => AnnotationStyle::Warning,
            Style::Error => AnnotationStyle::Error,
        }
    }
}

/// Arguments of `create_annotation`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAnnotationArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, e.g. "my-app".
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    /// Default build.
    pub scope: Option<CreateScope>,
    /// Required with scope job; refused otherwise.
    pub job_id: Option<NonEmpty>,
    // The annotation's content, in Markdown or HTML.
    pub body: NonEmpty,
    /// Default info.
    pub style: Option<Style>,
    /// Higher shows first; the API's default is 3.
    pub priority: Option<Bounded<1, 10>>,
    /// Its key, e.g. "coverage".
    pub context: Option<String>,
    // Add body to the end of the annotation with the same context instead
    // of replacing it (default false).
    pub append: Option<bool>,
}

/// `create_annotation`.
#[derive(Debug)]
pub struct CreateAnnotation;

#[async_trait]
impl Handler for CreateAnnotation {
    type Args = CreateAnnotationArgs;
    const META: ToolMeta = ToolMeta {
        name: "create_annotation",
        title: "Create Annotation",
        description: "Posts a Markdown or HTML annotation on a build or one of its jobs, and returns it. One with an existing context replaces that annotation, or extends it with append.",
        details: "style `success` shows green, `info` (the API's default) blue, `warning` orange and `error` red. Annotations show in priority order, 1 to 10, higher first.",
        toolset: Toolset::Annotations,
        access: Access::Modify,
        scopes: &["write_builds"],
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: CreateAnnotationArgs,
    ) -> Result<ToolOutput, ToolError> {
        let is_job = args.scope == Some(CreateScope::Job);
        let job = job_target(is_job, args.job_id)?;
        let body = CreateAnnotationBody {
            body: args.body.0,
            style: args.style.map(AnnotationStyle::from),
            context: args.context.filter(|c| !c.is_empty()),
            priority: args.priority.map(|p| u8::try_from(p.get()).unwrap_or(10)),
            append: args.append,
        };
        let annotation = match job {
            Some(job_id) => {
                let job = JobRef::in_build(
                    args.org_slug.0,
                    args.pipeline_slug.0,
                    args.build_number.get(),
                    job_id,
                );
                ctx.client
                    .create_job_annotation(&job, &body)
                    .await
                    .context("the new job annotation", Self::META.scopes)?
            }
            None => ctx
                .client
                .create_build_annotation(
                    &args.org_slug,
                    &args.pipeline_slug,
                    args.build_number.get(),
                    &body,
                )
                .await
                .context("the new build annotation", Self::META.scopes)?,
        };
        Ok(ToolOutput::json(shape(&annotation)))
    }
}
