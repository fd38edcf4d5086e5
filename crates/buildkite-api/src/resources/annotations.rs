//! Annotations on builds and jobs.

use reqwest::Method;

use super::jobs::JobRef;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::models::{Annotation, CreateAnnotationBody};
use crate::page::Page;
use crate::path::{self, ApiPath};
use crate::request::ApiRequest;

/// Options for the annotation lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListAnnotationsParams {
    /// `build`, `job` or `all` (build lists only; the API default is `build`).
    pub scope: Option<String>,
    /// Leave out `body_html` (much smaller responses).
    pub omit_body: Option<bool>,
    /// Page number.
    pub page: Option<u32>,
    /// Items per page (max 100).
    pub per_page: Option<u32>,
}

impl ListAnnotationsParams {
    fn apply(&self, request: ApiRequest) -> ApiRequest {
        request
            .query_opt("scope", self.scope.as_deref())
            .flag("omit_body", self.omit_body)
            .paging(self.page, self.per_page)
    }
}

impl Client {
    /// `GET …/builds/{number}/annotations`.
    pub async fn list_build_annotations(
        &self,
        org: &str,
        pipeline: &str,
        number: u64,
        params: &ListAnnotationsParams,
    ) -> Result<Page<Annotation>> {
        let request = ApiRequest::get(path::build(org, pipeline, number)?.lit("annotations"));
        self.page(params.apply(request)).await
    }

    /// `GET …/jobs/{job}/annotations`: a job's own annotations.
    pub async fn list_job_annotations(
        &self,
        job: &JobRef,
        params: &ListAnnotationsParams,
    ) -> Result<Page<Annotation>> {
        let request = ApiRequest::get(job.path()?.lit("annotations"));
        self.page(params.apply(request)).await
    }

    /// `POST …/builds/{number}/annotations` (scope `write_builds`).
    pub async fn create_build_annotation(
        &self,
        org: &str,
        pipeline: &str,
        number: u64,
        body: &CreateAnnotationBody,
    ) -> Result<Annotation> {
        let path = path::build(org, pipeline, number)?.lit("annotations");
        self.post_annotation(path, body).await
    }

    /// `POST …/jobs/{job}/annotations`: an annotation scoped to one job.
    pub async fn create_job_annotation(
        &self,
        job: &JobRef,
        body: &CreateAnnotationBody,
    ) -> Result<Annotation> {
        self.post_annotation(job.path()?.lit("annotations"), body)
            .await
    }

    async fn post_annotation(
        &self,
        path: ApiPath,
        body: &CreateAnnotationBody,
    ) -> Result<Annotation> {
        if body.body.trim().is_empty() {
            return Err(Error::InvalidArgument(
                "annotation body must not be empty".into(),
            ));
        }
        if body.priority.is_some_and(|p| !(1..=10).contains(&p)) {
            return Err(Error::InvalidArgument(
                "annotation priority must be between 1 and 10".into(),
            ));
        }
        self.json(ApiRequest::new(Method::POST, path).json(body)?)
            .await
    }
}
