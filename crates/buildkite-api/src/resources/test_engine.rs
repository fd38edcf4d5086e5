//! Test Engine: suites, runs, failed executions and tests.

use reqwest::header::{HeaderName, HeaderValue};

use super::PageParams;
use crate::client::Client;
use crate::error::Result;
use crate::models::{FailedExecution, Test, TestRun, TestSuite};
use crate::page::Page;
use crate::path::{self, ApiPath};
use crate::request::ApiRequest;

/// The API version whose test shape includes reliability and durations.
pub const TESTS_API_VERSION: &str = "2026-08-01";

fn suite_path(org: &str, suite: &str) -> Result<ApiPath> {
    path::analytics_org(org)?
        .lit("suites")
        .segment("test suite slug", suite)
}

/// Filters for the test lists ([`Client::list_tests`],
/// [`Client::list_build_tests`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListTestsParams {
    /// Time window, e.g. `7days` (suite lists only).
    pub period: Option<String>,
    /// Earliest execution time (suite lists only).
    pub min_timestamp: Option<String>,
    /// Latest execution time (suite lists only).
    pub max_timestamp: Option<String>,
    /// Labels, comma-separated.
    pub labels: Option<String>,
    /// Branch.
    pub branch: Option<String>,
    /// Owning teams, comma-separated.
    pub owners: Option<String>,
    /// Test state, e.g. `flaky`.
    pub state: Option<String>,
    /// Tags, e.g. `language.name:ruby`.
    pub tags: Option<String>,
    /// Sort key, e.g. `reliability`.
    pub sort_by: Option<String>,
    /// `asc` or `desc`.
    pub order: Option<String>,
    /// Page number.
    pub page: Option<u32>,
    /// Items per page (max 100).
    pub per_page: Option<u32>,
}

impl ListTestsParams {
    fn apply(&self, request: ApiRequest) -> ApiRequest {
        let fields = [
            ("period", &self.period),
            ("min_timestamp", &self.min_timestamp),
            ("max_timestamp", &self.max_timestamp),
            ("labels", &self.labels),
            ("branch", &self.branch),
            ("owners", &self.owners),
            ("state", &self.state),
            ("tags", &self.tags),
            ("sort_by", &self.sort_by),
            ("order", &self.order),
        ];
        fields
            .into_iter()
            .fold(request, |request, (name, value)| {
                request.query_opt(name, value.as_deref())
            })
            .paging(self.page, self.per_page)
            .header(
                HeaderName::from_static("buildkite-version"),
                HeaderValue::from_static(TESTS_API_VERSION),
            )
    }
}

/// Options for [`Client::list_test_runs`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListTestRunsParams {
    /// Only runs of this Pipelines build (UUID).
    pub build_id: Option<String>,
    /// Page number.
    pub page: Option<u32>,
    /// Items per page (max 100).
    pub per_page: Option<u32>,
}

/// Options for [`Client::list_failed_executions`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFailedExecutionsParams {
    /// Add backtraces and expanded failure text.
    pub include_failure_expanded: Option<bool>,
    /// Page number.
    pub page: Option<u32>,
    /// Items per page (max 100).
    pub per_page: Option<u32>,
}

impl Client {
    /// `GET /v2/analytics/organizations/{org}/suites`.
    pub async fn list_test_suites(
        &self,
        org: &str,
        params: &PageParams,
    ) -> Result<Page<TestSuite>> {
        let request = ApiRequest::get(path::analytics_org(org)?.lit("suites"))
            .paging(params.page, params.per_page);
        self.page(request).await
    }

    /// `GET /v2/analytics/organizations/{org}/pipelines/{pipeline}/suites`:
    /// the suites with at least one run attributed to the pipeline, oldest
    /// first.
    pub async fn list_pipeline_test_suites(
        &self,
        org: &str,
        pipeline: &str,
        params: &PageParams,
    ) -> Result<Page<TestSuite>> {
        let path = path::analytics_org(org)?
            .lit("pipelines")
            .segment("pipeline slug", pipeline)?
            .lit("suites");
        let request = ApiRequest::get(path).paging(params.page, params.per_page);
        self.page(request).await
    }

    /// `GET /v2/analytics/organizations/{org}/suites/{suite}`.
    pub async fn get_test_suite(&self, org: &str, suite: &str) -> Result<TestSuite> {
        self.json(ApiRequest::get(suite_path(org, suite)?)).await
    }

    /// `GET …/suites/{suite}/runs`.
    pub async fn list_test_runs(
        &self,
        org: &str,
        suite: &str,
        params: &ListTestRunsParams,
    ) -> Result<Page<TestRun>> {
        let request = ApiRequest::get(suite_path(org, suite)?.lit("runs"))
            .query_opt("build_id", params.build_id.as_deref())
            .paging(params.page, params.per_page);
        self.page(request).await
    }

    /// `GET …/suites/{suite}/runs/{run}`.
    pub async fn get_test_run(&self, org: &str, suite: &str, run_id: &str) -> Result<TestRun> {
        let path = suite_path(org, suite)?
            .lit("runs")
            .segment("run id", run_id)?;
        self.json(ApiRequest::get(path)).await
    }

    /// `GET …/suites/{suite}/runs/{run}/failed_executions`.
    pub async fn list_failed_executions(
        &self,
        org: &str,
        suite: &str,
        run_id: &str,
        params: &ListFailedExecutionsParams,
    ) -> Result<Page<FailedExecution>> {
        let path = suite_path(org, suite)?
            .lit("runs")
            .segment("run id", run_id)?
            .lit("failed_executions");
        let request = ApiRequest::get(path)
            .flag("include_failure_expanded", params.include_failure_expanded)
            .paging(params.page, params.per_page);
        self.page(request).await
    }

    /// `GET …/suites/{suite}/tests`, with reliability figures.
    pub async fn list_tests(
        &self,
        org: &str,
        suite: &str,
        params: &ListTestsParams,
    ) -> Result<Page<Test>> {
        let request = ApiRequest::get(suite_path(org, suite)?.lit("tests"));
        self.page(params.apply(request)).await
    }

    /// `GET …/suites/{suite}/tests/{test}`.
    pub async fn get_test(&self, org: &str, suite: &str, test_id: &str) -> Result<Test> {
        let path = suite_path(org, suite)?
            .lit("tests")
            .segment("test id", test_id)?;
        let request = ListTestsParams::default().apply(ApiRequest::get(path));
        self.json(request).await
    }

    /// `GET /v2/analytics/organizations/{org}/builds/{build_uuid}/tests`: the
    /// tests of one Pipelines build. Takes the build's **UUID**, not its number.
    pub async fn list_build_tests(
        &self,
        org: &str,
        build_uuid: &str,
        params: &ListTestsParams,
    ) -> Result<Page<Test>> {
        let path = path::analytics_org(org)?
            .lit("builds")
            .segment("build UUID", build_uuid)?
            .lit("tests");
        self.page(params.apply(ApiRequest::get(path))).await
    }
}
