//! Jobs: the cursor-paged list, get, retry, unblock and environment.

use reqwest::Method;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::models::{Job, JobEnv, JobState, UnblockJobBody};
use crate::page::CursorPage;
use crate::path::{self, ApiPath};
use crate::request::ApiRequest;

/// Where a job lives. Most job routes exist twice: under its build, and
/// organization-scoped by job id alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobRef {
    /// `…/pipelines/{pipeline}/builds/{number}/jobs/{job_id}`.
    InBuild {
        /// Organization slug.
        org: String,
        /// Pipeline slug.
        pipeline: String,
        /// Build number.
        number: u64,
        /// Job UUID.
        job_id: String,
    },
    /// `/v2/organizations/{org}/jobs/{job_id}`.
    InOrganization {
        /// Organization slug.
        org: String,
        /// Job UUID.
        job_id: String,
    },
}

impl JobRef {
    /// A job addressed through its build.
    pub fn in_build(
        org: impl Into<String>,
        pipeline: impl Into<String>,
        number: u64,
        job_id: impl Into<String>,
    ) -> Self {
        JobRef::InBuild {
            org: org.into(),
            pipeline: pipeline.into(),
            number,
            job_id: job_id.into(),
        }
    }

    /// A job addressed by organization and id only.
    pub fn in_organization(org: impl Into<String>, job_id: impl Into<String>) -> Self {
        JobRef::InOrganization {
            org: org.into(),
            job_id: job_id.into(),
        }
    }

    /// The job's UUID.
    pub fn job_id(&self) -> &str {
        match self {
            JobRef::InBuild { job_id, .. } | JobRef::InOrganization { job_id, .. } => job_id,
        }
    }

    pub(crate) fn path(&self) -> Result<ApiPath> {
        match self {
            JobRef::InBuild {
                org,
                pipeline,
                number,
                job_id,
            } => path::job(org, pipeline, *number, job_id),
            JobRef::InOrganization { org, job_id } => {
                path::org(org)?.lit("jobs").segment("job id", job_id)
            }
        }
    }
}

/// Filters for [`Client::list_jobs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListJobsParams {
    /// Only these states (`state[]`).
    pub state: Vec<JobState>,
    /// Only the step with this key.
    pub step_key: Option<String>,
    /// Only steps in the group with this key.
    pub group_key: Option<String>,
    /// Include retried jobs (the API's default is true).
    pub include_retried_jobs: Option<bool>,
    /// Items per page (max 100).
    pub per_page: Option<u32>,
    /// Cursor for the page after (from [`CursorPage::next_cursor`]).
    pub after: Option<String>,
    /// Cursor for the page before. Not together with `after`.
    pub before: Option<String>,
}

impl Client {
    /// `GET …/builds/{number}/jobs`: one cursor page of a build's jobs.
    pub async fn list_jobs(
        &self,
        org: &str,
        pipeline: &str,
        number: u64,
        params: &ListJobsParams,
    ) -> Result<CursorPage<Job>> {
        check_cursors(params.after.as_deref(), params.before.as_deref())?;
        let request = ApiRequest::get(path::build(org, pipeline, number)?.lit("jobs"))
            .query_list("state", &params.state)
            .query_opt("step_key", params.step_key.as_deref())
            .query_opt("group_key", params.group_key.as_deref())
            .flag("include_retried_jobs", params.include_retried_jobs)
            .paging(None, params.per_page)
            .query_opt("after", params.after.as_deref())
            .query_opt("before", params.before.as_deref());
        self.cursor_page(request).await
    }

    /// `GET` a job, through its build or organization-scoped.
    pub async fn get_job(&self, job: &JobRef) -> Result<Job> {
        self.json(ApiRequest::get(job.path()?)).await
    }

    /// `PUT …/jobs/{job}/retry`: returns the **new** job. Only failed, timed
    /// out or canceled jobs can be retried.
    pub async fn retry_job(&self, job: &JobRef) -> Result<Job> {
        self.json(ApiRequest::new(Method::PUT, job.path()?.lit("retry")))
            .await
    }

    /// `PUT …/jobs/{job}/unblock`: unblocks a block step, with field values.
    pub async fn unblock_job(&self, job: &JobRef, body: &UnblockJobBody) -> Result<Job> {
        let request = ApiRequest::new(Method::PUT, job.path()?.lit("unblock")).json(body)?;
        self.json(request).await
    }

    /// `GET …/jobs/{job}/env` (scope `read_job_env`). Values may be secrets.
    pub async fn get_job_env(&self, job: &JobRef) -> Result<JobEnv> {
        self.json(ApiRequest::get(job.path()?.lit("env"))).await
    }
}

pub(crate) fn check_cursors(after: Option<&str>, before: Option<&str>) -> Result<()> {
    if after.is_some() && before.is_some() {
        return Err(Error::InvalidArgument(
            "`after` and `before` cannot be used together: page forward with `after` or backward with `before`".into(),
        ));
    }
    Ok(())
}
