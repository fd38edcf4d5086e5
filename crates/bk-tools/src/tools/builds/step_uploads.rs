//! Step uploads: the pipeline uploads (`buildkite-agent pipeline upload`)
//! made during a build.

use async_trait::async_trait;
use buildkite_api::ListStepUploadsParams;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::view::{READ, check_cursors, given, smaller_cursor_pages_hint, without_nulls};
use crate::args::{BuildNumber, NonEmpty, OrgSlug, PerPage};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::project::{reorder, to_object};
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::tools::common::cursor_envelope;
use crate::toolset::Toolset;

/// Fields a step upload starts with.
const FIRST: &[&str] = &["uuid", "state", "source", "source_job_id"];

/// Arguments of `list_step_uploads`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListStepUploadsArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, e.g. "app".
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    // Only uploads made by this job (its UUID).
    pub source_job_id: Option<String>,
    /// Uploads per page, 1–100 (the API's default when left out).
    pub per_page: Option<PerPage>,
    /// next_cursor of the previous page.
    pub after: Option<String>,
    /// prev_cursor of a page; not with after.
    pub before: Option<String>,
}

/// `list_step_uploads`.
#[derive(Debug)]
pub struct ListStepUploads;

#[async_trait]
impl Handler for ListStepUploads {
    type Args = ListStepUploadsArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_step_uploads",
        title: "List Step Uploads",
        description: "A build's pipeline uploads, newest first: source job, state (applied, rejected, failed…) and why, jobs created. For missing steps or dynamic pipelines; kept 30 days.",
        details: "Each upload has its uuid, state (pending, processing, applied, rejected or failed), source and source_job_id, whether it replaced the remaining steps, created_jobs_count, rejection type and message, and times. get_step_upload gives the uploaded YAML. Paged by cursor: next_cursor as after, prev_cursor as before.",
        toolset: Toolset::Builds,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListStepUploadsArgs,
    ) -> Result<ToolOutput, ToolError> {
        let after = given(args.after);
        let before = given(args.before);
        check_cursors(after.as_deref(), before.as_deref())?;
        let params = ListStepUploadsParams {
            source_job_id: given(args.source_job_id),
            per_page: args.per_page.map(PerPage::as_u32),
            after: after.clone(),
            before: before.clone(),
        };
        let page = ctx
            .client
            .list_step_uploads(
                &args.org_slug,
                &args.pipeline_slug,
                args.build_number.get(),
                &params,
            )
            .await
            .context("the build's step uploads", Self::META.scopes)?;
        let items = page
            .items
            .iter()
            .map(|upload| Value::Object(without_nulls(reorder(to_object(upload), FIRST))))
            .collect();
        Ok(ToolOutput::json(cursor_envelope(&page, items))
            .trim_list("items", smaller_cursor_pages_hint(after, before)))
    }
}

/// Arguments of `get_step_upload`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetStepUploadArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, e.g. "app".
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    // The upload's UUID (list_step_uploads gives it).
    pub upload_uuid: NonEmpty,
}

/// `get_step_upload`.
#[derive(Debug)]
pub struct GetStepUpload;

#[async_trait]
impl Handler for GetStepUpload {
    type Args = GetStepUploadArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_step_upload",
        title: "Get Step Upload",
        description: "One pipeline upload from list_step_uploads, with the YAML it uploaded (definition_yaml), its state and any rejection message.",
        details: "The API leaves definition_yaml out when it is too large (over about 2 MB) and then sets definition_yaml_omitted. Uploads are kept for 30 days.",
        toolset: Toolset::Builds,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: GetStepUploadArgs,
    ) -> Result<ToolOutput, ToolError> {
        let upload = ctx
            .client
            .get_step_upload(
                &args.org_slug,
                &args.pipeline_slug,
                args.build_number.get(),
                &args.upload_uuid,
            )
            .await
            .context("the step upload", Self::META.scopes)?;
        Ok(ToolOutput::json(without_nulls(reorder(
            to_object(&upload),
            FIRST,
        ))))
    }
}
