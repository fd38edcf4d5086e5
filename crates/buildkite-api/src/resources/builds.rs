//! Builds: list (per pipeline and organization-wide), get, create, cancel,
//! rebuild.

use std::collections::BTreeMap;

use reqwest::Method;

use crate::client::Client;
use crate::error::Result;
use crate::models::{Build, BuildState, CreateBuildBody, JobState};
use crate::page::Page;
use crate::path;
use crate::request::ApiRequest;
use crate::timestamp::Timestamp;

/// Filters for [`Client::list_pipeline_builds`] and
/// [`Client::list_organization_builds`]. Builds come newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListBuildsParams {
    /// Only these branches (`branch[]`).
    pub branch: Vec<String>,
    /// Only these states (`state[]`).
    pub state: Vec<BuildState>,
    /// Only this commit SHA.
    pub commit: Option<String>,
    /// Only builds created by this user UUID.
    pub creator: Option<String>,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created before.
    pub created_to: Option<Timestamp>,
    /// Finished at or after.
    pub finished_from: Option<Timestamp>,
    /// Only builds with this meta-data (`meta_data[key]=value`).
    pub meta_data: BTreeMap<String, String>,
    /// Leave out the jobs (much smaller responses).
    pub exclude_jobs: Option<bool>,
    /// Leave out the embedded pipeline.
    pub exclude_pipeline: Option<bool>,
    /// Include jobs that were retried.
    pub include_retried_jobs: Option<bool>,
    /// Page number. The API refuses very deep pages: narrow with filters.
    pub page: Option<u32>,
    /// Items per page (max 100).
    pub per_page: Option<u32>,
}

impl ListBuildsParams {
    fn apply(&self, request: ApiRequest) -> ApiRequest {
        let mut request = request
            .query_list("branch", &self.branch)
            .query_list("state", &self.state)
            .query_opt("commit", self.commit.as_deref())
            .query_opt("creator", self.creator.as_deref())
            .query_opt("created_from", self.created_from)
            .query_opt("created_to", self.created_to)
            .query_opt("finished_from", self.finished_from)
            .flag("exclude_jobs", self.exclude_jobs)
            .flag("exclude_pipeline", self.exclude_pipeline)
            .flag("include_retried_jobs", self.include_retried_jobs);
        for (key, value) in &self.meta_data {
            request = request.query(&format!("meta_data[{key}]"), value);
        }
        request.paging(self.page, self.per_page)
    }
}

/// Options for [`Client::get_build`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetBuildParams {
    /// Leave out the jobs.
    pub exclude_jobs: Option<bool>,
    /// Leave out the embedded pipeline.
    pub exclude_pipeline: Option<bool>,
    /// Include jobs that were retried.
    pub include_retried_jobs: Option<bool>,
    /// Add the `test_engine` section (linked Test Engine runs).
    pub include_test_engine: Option<bool>,
    /// Only jobs in these states (`job_states[]`); counts stay complete.
    pub job_states: Vec<JobState>,
}

impl Client {
    /// `GET /v2/organizations/{org}/pipelines/{pipeline}/builds`.
    pub async fn list_pipeline_builds(
        &self,
        org: &str,
        pipeline: &str,
        params: &ListBuildsParams,
    ) -> Result<Page<Build>> {
        let request = ApiRequest::get(path::pipeline(org, pipeline)?.lit("builds"));
        self.page(params.apply(request)).await
    }

    /// `GET /v2/organizations/{org}/builds`: builds of every pipeline.
    pub async fn list_organization_builds(
        &self,
        org: &str,
        params: &ListBuildsParams,
    ) -> Result<Page<Build>> {
        let request = ApiRequest::get(path::org(org)?.lit("builds"));
        self.page(params.apply(request)).await
    }

    /// `GET …/builds/{number}`.
    pub async fn get_build(
        &self,
        org: &str,
        pipeline: &str,
        number: u64,
        params: &GetBuildParams,
    ) -> Result<Build> {
        let request = ApiRequest::get(path::build(org, pipeline, number)?)
            .flag("exclude_jobs", params.exclude_jobs)
            .flag("exclude_pipeline", params.exclude_pipeline)
            .flag("include_retried_jobs", params.include_retried_jobs)
            .flag("include_test_engine", params.include_test_engine)
            .query_list("job_states", &params.job_states);
        self.json(request).await
    }

    /// `POST …/pipelines/{pipeline}/builds` (scope `write_builds`).
    pub async fn create_build(
        &self,
        org: &str,
        pipeline: &str,
        body: &CreateBuildBody,
    ) -> Result<Build> {
        let path = path::pipeline(org, pipeline)?.lit("builds");
        self.json(ApiRequest::new(Method::POST, path).json(body)?)
            .await
    }

    /// `PUT …/builds/{number}/cancel`: only scheduled, running and failing
    /// builds can be canceled (otherwise 422).
    pub async fn cancel_build(&self, org: &str, pipeline: &str, number: u64) -> Result<Build> {
        let path = path::build(org, pipeline, number)?.lit("cancel");
        self.json(ApiRequest::new(Method::PUT, path)).await
    }

    /// `PUT …/builds/{number}/rebuild`: returns the **new** build.
    pub async fn rebuild_build(&self, org: &str, pipeline: &str, number: u64) -> Result<Build> {
        let path = path::build(org, pipeline, number)?.lit("rebuild");
        self.json(ApiRequest::new(Method::PUT, path)).await
    }
}
