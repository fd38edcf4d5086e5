//! Step uploads (pipeline uploads made during a build).

use super::jobs::check_cursors;
use crate::client::Client;
use crate::error::Result;
use crate::models::StepUpload;
use crate::page::CursorPage;
use crate::path;
use crate::request::ApiRequest;

/// Filters for [`Client::list_step_uploads`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListStepUploadsParams {
    /// Only uploads made by this job (`filter[source_job_id]`).
    pub source_job_id: Option<String>,
    /// Items per page (max 100).
    pub per_page: Option<u32>,
    /// Cursor for the page after.
    pub after: Option<String>,
    /// Cursor for the page before. Not together with `after`.
    pub before: Option<String>,
}

impl Client {
    /// `GET …/builds/{number}/step-uploads`. Builds older than 30 days give
    /// [`Error::Gone`](crate::Error::Gone).
    pub async fn list_step_uploads(
        &self,
        org: &str,
        pipeline: &str,
        number: u64,
        params: &ListStepUploadsParams,
    ) -> Result<CursorPage<StepUpload>> {
        check_cursors(params.after.as_deref(), params.before.as_deref())?;
        let request = ApiRequest::get(path::build(org, pipeline, number)?.lit("step-uploads"))
            .query_opt("filter[source_job_id]", params.source_job_id.as_deref())
            .paging(None, params.per_page)
            .query_opt("after", params.after.as_deref())
            .query_opt("before", params.before.as_deref());
        self.cursor_page(request).await
    }

    /// `GET …/builds/{number}/step-uploads/{uuid}`, with the uploaded YAML.
    pub async fn get_step_upload(
        &self,
        org: &str,
        pipeline: &str,
        number: u64,
        upload_uuid: &str,
    ) -> Result<StepUpload> {
        let path = path::build(org, pipeline, number)?
            .lit("step-uploads")
            .segment("step upload uuid", upload_uuid)?;
        self.json(ApiRequest::get(path)).await
    }
}
