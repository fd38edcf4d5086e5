//! Pipelines and pipeline schedules.

use reqwest::Method;

use super::PageParams;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::models::{
    CreatePipelineBody, Pipeline, PipelineSchedule, PipelineScheduleBody, PipelineWebhook,
    UpdatePipelineBody,
};
use crate::page::Page;
use crate::path;
use crate::request::ApiRequest;

/// Filters for [`Client::list_pipelines`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPipelinesParams {
    /// Part of the name (case-insensitive).
    pub name: Option<String>,
    /// Part of the repository URL (case-insensitive).
    pub repository: Option<String>,
    /// Page number.
    pub page: Option<u32>,
    /// Items per page (max 100).
    pub per_page: Option<u32>,
}

impl Client {
    /// `GET /v2/organizations/{org}/pipelines`.
    pub async fn list_pipelines(
        &self,
        org: &str,
        params: &ListPipelinesParams,
    ) -> Result<Page<Pipeline>> {
        let request = ApiRequest::get(path::org(org)?.lit("pipelines"))
            .query_opt("name", params.name.as_deref())
            .query_opt("repository", params.repository.as_deref())
            .paging(params.page, params.per_page);
        self.page(request).await
    }

    /// `GET /v2/organizations/{org}/pipelines/{pipeline}`.
    pub async fn get_pipeline(&self, org: &str, pipeline: &str) -> Result<Pipeline> {
        self.json(ApiRequest::get(path::pipeline(org, pipeline)?))
            .await
    }

    /// `POST /v2/organizations/{org}/pipelines` (scope `write_pipelines`).
    pub async fn create_pipeline(&self, org: &str, body: &CreatePipelineBody) -> Result<Pipeline> {
        if body.configuration.trim().is_empty() {
            return Err(Error::InvalidArgument(
                "configuration must be non-blank YAML with a `steps:` list".into(),
            ));
        }
        let request = ApiRequest::new(Method::POST, path::org(org)?.lit("pipelines")).json(body)?;
        self.json(request).await
    }

    /// `PATCH /v2/organizations/{org}/pipelines/{pipeline}`.
    pub async fn update_pipeline(
        &self,
        org: &str,
        pipeline: &str,
        body: &UpdatePipelineBody,
    ) -> Result<Pipeline> {
        let request = ApiRequest::new(Method::PATCH, path::pipeline(org, pipeline)?).json(body)?;
        self.json(request).await
    }

    /// `POST /v2/organizations/{org}/pipelines/{pipeline}/webhook`: creates
    /// the source-provider webhook.
    pub async fn create_pipeline_webhook(
        &self,
        org: &str,
        pipeline: &str,
    ) -> Result<PipelineWebhook> {
        let request = ApiRequest::new(Method::POST, path::pipeline(org, pipeline)?.lit("webhook"));
        self.json(request).await
    }

    /// `GET …/pipelines/{pipeline}/schedules`.
    pub async fn list_pipeline_schedules(
        &self,
        org: &str,
        pipeline: &str,
        params: &PageParams,
    ) -> Result<Page<PipelineSchedule>> {
        let request = ApiRequest::get(path::pipeline(org, pipeline)?.lit("schedules"))
            .paging(params.page, params.per_page);
        self.page(request).await
    }

    /// `GET …/pipelines/{pipeline}/schedules/{id}`.
    pub async fn get_pipeline_schedule(
        &self,
        org: &str,
        pipeline: &str,
        schedule_id: &str,
    ) -> Result<PipelineSchedule> {
        let path = path::pipeline(org, pipeline)?
            .lit("schedules")
            .segment("schedule id", schedule_id)?;
        self.json(ApiRequest::get(path)).await
    }

    /// `POST …/pipelines/{pipeline}/schedules`; `cronline` is required.
    pub async fn create_pipeline_schedule(
        &self,
        org: &str,
        pipeline: &str,
        body: &PipelineScheduleBody,
    ) -> Result<PipelineSchedule> {
        if body.cronline.as_deref().is_none_or(|c| c.trim().is_empty()) {
            return Err(Error::InvalidArgument(
                "cronline is required, e.g. \"@daily\" or \"0 2 * * *\"".into(),
            ));
        }
        let path = path::pipeline(org, pipeline)?.lit("schedules");
        self.json(ApiRequest::new(Method::POST, path).json(body)?)
            .await
    }

    /// `PATCH …/pipelines/{pipeline}/schedules/{id}`.
    pub async fn update_pipeline_schedule(
        &self,
        org: &str,
        pipeline: &str,
        schedule_id: &str,
        body: &PipelineScheduleBody,
    ) -> Result<PipelineSchedule> {
        let path = path::pipeline(org, pipeline)?
            .lit("schedules")
            .segment("schedule id", schedule_id)?;
        self.json(ApiRequest::new(Method::PATCH, path).json(body)?)
            .await
    }
}
