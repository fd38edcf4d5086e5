//! The `tests` toolset (Test Engine): suites, runs, failed executions, and
//! tests with their reliability. The module is `test_engine`, so it is not
//! taken for a module of unit tests.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use buildkite_api::{
    ListFailedExecutionsParams, ListTestRunsParams, ListTestsParams, Page, PageParams, TestRun,
    TestSuite,
};
use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::args::{NonEmpty, OrgSlug, PageNumber, PerPage};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::project::{pick, reorder, to_object};
use crate::tool::{Access, Handler, Tool, ToolContext, ToolMeta, tool};
use crate::tools::common::{page_envelope, page_params, paged, smaller_pages_hint};
use crate::toolset::Toolset;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        tool(ListTestSuites),
        tool(ListTestSuitesForPipeline),
        tool(ListTests),
        tool(ListTestsForBuild),
        tool(ListTestRuns),
        tool(GetTestRun),
        tool(GetFailedExecutions),
        tool(GetTest),
    ]
}

const SCOPES: &[&str] = &["read_suites"];

/// Default items per page of every list here.
const PER_PAGE: u32 = 30;

/// Fields of a test in lists, in output order.
const TEST_FIELDS: &[&str] = &[
    "id",
    "scope",
    "name",
    "location",
    "labels",
    "reliability",
    "executions_count",
    "executions_count_by_result",
    "duration_avg",
    "duration_max",
    "web_url",
];

/// Fields of a run, in output order.
const RUN_FIELDS: &[&str] = &[
    "id",
    "state",
    "result",
    "branch",
    "commit_sha",
    "build_id",
    "created_at",
    "web_url",
];

/// Fields of a failed execution, in output order.
const EXECUTION_FIELDS: &[&str] = &[
    "execution_id",
    "test_id",
    "test_name",
    "location",
    "failure_reason",
    "failure_expanded",
    "duration",
    "branch",
    "commit_sha",
    "tags",
    "created_at",
    "test_execution_url",
];

/// Fields of a suite, in output order.
const SUITE_FIELDS: &[&str] = &[
    "id",
    "slug",
    "name",
    "default_branch",
    "application_name",
    "web_url",
];

// Sort direction (no doc comment: it would be sent as the parameter's
// description, and the values say it).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

// The metric tests are sorted by, over the executions in the window (a
// plain comment: the parameter's description says what it needs).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    DurationAvg,
    DurationSum,
    DurationMin,
    DurationMax,
    Reliability,
}

impl SortBy {
    fn as_str(self) -> &'static str {
        match self {
            SortBy::DurationAvg => "duration_avg",
            SortBy::DurationSum => "duration_sum",
            SortBy::DurationMin => "duration_min",
            SortBy::DurationMax => "duration_max",
            SortBy::Reliability => "reliability",
        }
    }
}

// A test's state: `muted` runs but its failures are ignored, `skipped` is
// quarantined (a plain comment: `details` explains it in the docs).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestState {
    Enabled,
    Muted,
    Skipped,
}

impl TestState {
    fn as_str(self) -> &'static str {
        match self {
            TestState::Enabled => "enabled",
            TestState::Muted => "muted",
            TestState::Skipped => "skipped",
        }
    }
}

/// An RFC 3339 time, e.g. `2026-08-01T00:00:00Z`.
static RFC3339: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")
        .unwrap_or_else(|e| panic!("timestamp pattern: {e}"))
});

fn check_timestamp(param: &str, value: Option<String>) -> Result<Option<String>, ToolError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if !RFC3339.is_match(&v) => Err(ToolError::invalid(
            param,
            format!("must be an RFC 3339 time such as 2026-08-01T00:00:00Z (got {v:?})"),
        )),
        other => Ok(other),
    }
}

/// Blank optional filters are treated as absent.
/// Test Engine takes a Pipelines build's UUID; a build number is a common
/// mistake that the API would answer with an empty list.
fn refuse_build_number(param: &str, value: &str) -> Result<(), ToolError> {
    let digits = value.trim_start_matches('#');
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ToolError::invalid(
            param,
            format!(
                "{value:?} is a build number; this tool needs the build's UUID: the `id` field get_build returns, e.g. 0198f5c8-1e4a-4b7d-8c2f-9a0b1c2d3e4f"
            ),
        ));
    }
    Ok(())
}

fn filter(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A test in a list. `reliability` stays when null (no executions to
/// compute it from); `with_suite` adds the suite's slug, taken from the
/// test's URL, for lists that span suites.
fn test_item(test: &buildkite_api::Test, with_suite: bool) -> Value {
    let source = to_object(test);
    let mut item = Map::new();
    if let Some(id) = source.get("id") {
        item.insert("id".into(), id.clone());
    }
    if with_suite
        && let Some(slug) = [&test.url, &test.web_url]
            .into_iter()
            .flatten()
            .find_map(|url| suite_slug(url))
    {
        item.insert("suite_slug".into(), json!(slug));
    }
    for field in &TEST_FIELDS[1..] {
        match source.get(*field) {
            Some(Value::Null) if *field == "reliability" => {
                item.insert((*field).to_owned(), Value::Null);
            }
            Some(value) if !value.is_null() => {
                item.insert((*field).to_owned(), value.clone());
            }
            _ => {}
        }
    }
    Value::Object(item)
}

/// The suite slug in a test URL (`…/suites/<slug>/tests/…`).
fn suite_slug(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("/suites/")?;
    let (slug, rest) = rest.split_once('/')?;
    (rest.starts_with("tests/") && !slug.is_empty()).then_some(slug)
}

fn test_items(tests: &[buildkite_api::Test], with_suite: bool) -> Vec<Value> {
    tests.iter().map(|t| test_item(t, with_suite)).collect()
}

fn run_full(run: &TestRun) -> Value {
    Value::Object(reorder(to_object(run), RUN_FIELDS))
}

// ---------------------------------------------------------------------------
// list_test_suites

/// Arguments of `list_test_suites`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTestSuitesArgs {
    pub org_slug: OrgSlug,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Suites per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
}

/// `list_test_suites`.
#[derive(Debug)]
pub struct ListTestSuites;

#[async_trait]
impl Handler for ListTestSuites {
    type Args = ListTestSuitesArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_test_suites",
        title: "List Test Suites",
        description: "Test Engine suites: slug, name, default branch, web URL. The other test tools take a suite's slug as test_suite_slug.",
        details: "Each suite also has its id and application name. list_test_suites_for_pipeline lists only the suites a pipeline reports to.",
        toolset: Toolset::Tests,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListTestSuitesArgs,
    ) -> Result<ToolOutput, ToolError> {
        let params = page_params(args.page, args.per_page, PER_PAGE);
        let page = ctx
            .client
            .list_test_suites(&args.org_slug, &params)
            .await
            .context("the test suites", Self::META.scopes)?;
        Ok(suites_page(&page, &params))
    }
}

/// A page of suites as both suite lists show them.
fn suites_page(page: &Page<TestSuite>, params: &PageParams) -> ToolOutput {
    let items = page
        .items
        .iter()
        .map(|s| Value::Object(pick(&to_object(s), SUITE_FIELDS)))
        .collect();
    paged(
        page,
        params.page.unwrap_or(1),
        params.per_page.unwrap_or(PER_PAGE),
        items,
    )
}

// ---------------------------------------------------------------------------
// list_test_suites_for_pipeline

/// Arguments of `list_test_suites_for_pipeline`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTestSuitesForPipelineArgs {
    pub org_slug: OrgSlug,
    pub pipeline_slug: NonEmpty,
    pub page: Option<PageNumber>,
    pub per_page: Option<PerPage>,
}

/// `list_test_suites_for_pipeline`.
#[derive(Debug)]
pub struct ListTestSuitesForPipeline;

#[async_trait]
impl Handler for ListTestSuitesForPipeline {
    type Args = ListTestSuitesForPipelineArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_test_suites_for_pipeline",
        title: "List Test Suites for Pipeline",
        description: "The Test Engine suites a pipeline's builds report to (oldest first): slug, name, default branch. Gives the test_suite_slug the other test tools need.",
        details: "A suite is listed when at least one of its runs is attributed to the pipeline. The fields are those of list_test_suites.",
        toolset: Toolset::Tests,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListTestSuitesForPipelineArgs,
    ) -> Result<ToolOutput, ToolError> {
        let params = page_params(args.page, args.per_page, PER_PAGE);
        let page = ctx
            .client
            .list_pipeline_test_suites(&args.org_slug, &args.pipeline_slug, &params)
            .await
            .context("the pipeline's test suites", Self::META.scopes)?;
        Ok(suites_page(&page, &params))
    }
}

// ---------------------------------------------------------------------------
// list_tests

/// Arguments of `list_tests`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTestsArgs {
    pub org_slug: OrgSlug,
    /// From list_test_suites.
    pub test_suite_slug: NonEmpty,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Tests per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
    /// Window before now, e.g. `7days`; not with the timestamps.
    pub period: Option<String>,
    // Default: the organization's default period before max_timestamp.
    #[schemars(extend("format" = "date-time"))]
    pub min_timestamp: Option<String>,
    // Default: now.
    #[schemars(extend("format" = "date-time"))]
    pub max_timestamp: Option<String>,
    /// Comma-separated; `!` excludes, e.g. `flaky,!slow`.
    pub labels: Option<String>,
    /// Executions on this branch; `!main` excludes, `release/*` a prefix.
    pub branch: Option<String>,
    /// Team slugs, comma-separated; `!` excludes one.
    pub owners: Option<String>,
    // `muted`: runs, failures ignored; `skipped`: quarantined.
    pub state: Option<TestState>,
    /// Comma-separated key:value; `result:~failed` = failed at least once.
    pub tags: Option<String>,
    /// Default duration_avg; reliability with order asc: least reliable first.
    pub sort_by: Option<SortBy>,
    /// Default desc.
    pub order: Option<Order>,
}

/// `list_tests`.
#[derive(Debug)]
pub struct ListTests;

#[async_trait]
impl Handler for ListTests {
    type Args = ListTestsArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_tests",
        title: "List Tests",
        description: "A suite's tests with reliability, results, durations and labels over a time window. Filter by label, branch, owner, state or tags; sort to find the slowest or flakiest.",
        details: "Reliability is the share of passing executions. A test's state is `enabled`, `muted` (it runs, but its failures are ignored) or `skipped` (quarantined: it does not run). `period` (e.g. `7days`, `28days`) and the RFC 3339 `min_timestamp`/`max_timestamp` set the window; no window can exceed the organization's Test Engine retention. Filters: `labels` and `owners` are comma-separated, `!` excludes one; `branch` takes one operator (`!main` excludes, `release/*` matches a prefix); `tags` are `key:value` pairs, where `!value` excludes, `value*` matches a prefix, and for `result` `~value` means any execution and `^value` every execution. `sort_by` defaults to `duration_avg`, `order` to `desc`.",
        toolset: Toolset::Tests,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(&self, ctx: &ToolContext, args: ListTestsArgs) -> Result<ToolOutput, ToolError> {
        let period = filter(args.period);
        let min_timestamp = check_timestamp("min_timestamp", args.min_timestamp)?;
        let max_timestamp = check_timestamp("max_timestamp", args.max_timestamp)?;
        if period.is_some() && (min_timestamp.is_some() || max_timestamp.is_some()) {
            return Err(ToolError::invalid(
                "period",
                "cannot be combined with min_timestamp or max_timestamp: give either a period (e.g. 7days) or a window of timestamps",
            ));
        }
        let paging = page_params(args.page, args.per_page, PER_PAGE);
        let (page_no, per_page) = (
            paging.page.unwrap_or(1),
            paging.per_page.unwrap_or(PER_PAGE),
        );
        let params = ListTestsParams {
            period,
            min_timestamp,
            max_timestamp,
            labels: filter(args.labels),
            branch: filter(args.branch),
            owners: filter(args.owners),
            state: args.state.map(|s| s.as_str().to_owned()),
            tags: filter(args.tags),
            sort_by: args.sort_by.map(|s| s.as_str().to_owned()),
            order: args.order.map(|o| o.as_str().to_owned()),
            page: paging.page,
            per_page: paging.per_page,
        };
        let page = ctx
            .client
            .list_tests(&args.org_slug, &args.test_suite_slug, &params)
            .await
            .context("the suite's tests", Self::META.scopes)?;
        let items = test_items(&page.items, false);
        Ok(paged(&page, page_no, per_page, items))
    }
}

// ---------------------------------------------------------------------------
// list_tests_for_build

/// Arguments of `list_tests_for_build`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTestsForBuildArgs {
    pub org_slug: OrgSlug,
    /// The build's UUID (get_build's `id`), not its number.
    pub build_uuid: NonEmpty,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Tests per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
    /// Comma-separated; `!` excludes, e.g. `flaky,!slow`.
    pub labels: Option<String>,
    /// Executions on this branch; `!main` excludes, `release/*` a prefix.
    pub branch: Option<String>,
    /// Team slugs, comma-separated; `!` excludes one.
    pub owners: Option<String>,
    // `muted`: runs, failures ignored; `skipped`: quarantined.
    pub state: Option<TestState>,
    /// Comma-separated key:value; `result:~failed` = failed at least once.
    pub tags: Option<String>,
    /// Default duration_avg; reliability with order asc: least reliable first.
    pub sort_by: Option<SortBy>,
    /// Default desc.
    pub order: Option<Order>,
}

/// `list_tests_for_build`.
#[derive(Debug)]
pub struct ListTestsForBuild;

#[async_trait]
impl Handler for ListTestsForBuild {
    type Args = ListTestsForBuildArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_tests_for_build",
        title: "List Tests for Build",
        description: "Tests that ran in one build (its UUID, not number) across suites: reliability, results, durations, labels, suite_slug. tags `result:~failed`: those that failed at least once.",
        details: "The metrics cover that build's executions only. Filters and sorting work as in list_tests, without a time window. Each test names its suite_slug, for get_test.",
        toolset: Toolset::Tests,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListTestsForBuildArgs,
    ) -> Result<ToolOutput, ToolError> {
        let uuid = args.build_uuid.trim();
        refuse_build_number("build_uuid", uuid)?;
        let paging = page_params(args.page, args.per_page, PER_PAGE);
        let (page_no, per_page) = (
            paging.page.unwrap_or(1),
            paging.per_page.unwrap_or(PER_PAGE),
        );
        let params = ListTestsParams {
            labels: filter(args.labels),
            branch: filter(args.branch),
            owners: filter(args.owners),
            state: args.state.map(|s| s.as_str().to_owned()),
            tags: filter(args.tags),
            sort_by: args.sort_by.map(|s| s.as_str().to_owned()),
            order: args.order.map(|o| o.as_str().to_owned()),
            page: paging.page,
            per_page: paging.per_page,
            ..ListTestsParams::default()
        };
        let page = ctx
            .client
            .list_build_tests(&args.org_slug, uuid, &params)
            .await
            .context("the build's tests", Self::META.scopes)?;
        let items = test_items(&page.items, true);
        Ok(paged(&page, page_no, per_page, items))
    }
}

// ---------------------------------------------------------------------------
// list_test_runs

/// Arguments of `list_test_runs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTestRunsArgs {
    pub org_slug: OrgSlug,
    /// From list_test_suites.
    pub test_suite_slug: NonEmpty,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Runs per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
    /// Only this build's runs: its UUID (get_build's `id`).
    pub build_id: Option<String>,
}

/// `list_test_runs`.
#[derive(Debug)]
pub struct ListTestRuns;

#[async_trait]
impl Handler for ListTestRuns {
    type Args = ListTestRunsArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_test_runs",
        title: "List Test Runs",
        description: "A suite's test runs, newest first: id, state, result, branch, commit, build UUID, time. A run's id feeds get_failed_executions.",
        details: "state is running or finished; result is passed, failed, pending or stale.",
        toolset: Toolset::Tests,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListTestRunsArgs,
    ) -> Result<ToolOutput, ToolError> {
        let paging = page_params(args.page, args.per_page, PER_PAGE);
        let (page_no, per_page) = (
            paging.page.unwrap_or(1),
            paging.per_page.unwrap_or(PER_PAGE),
        );
        if let Some(build_id) = args.build_id.as_deref() {
            refuse_build_number("build_id", build_id.trim())?;
        }
        let params = ListTestRunsParams {
            build_id: filter(args.build_id),
            page: paging.page,
            per_page: paging.per_page,
        };
        let page = ctx
            .client
            .list_test_runs(&args.org_slug, &args.test_suite_slug, &params)
            .await
            .context("the suite's test runs", Self::META.scopes)?;
        let items = page
            .items
            .iter()
            .map(|r| Value::Object(pick(&to_object(r), RUN_FIELDS)))
            .collect();
        Ok(paged(&page, page_no, per_page, items))
    }
}

// ---------------------------------------------------------------------------
// get_test_run

/// Arguments of `get_test_run`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetTestRunArgs {
    pub org_slug: OrgSlug,
    /// From list_test_suites.
    pub test_suite_slug: NonEmpty,
    /// From list_test_runs or get_build_test_engine_runs.
    pub run_id: NonEmpty,
}

/// `get_test_run`.
#[derive(Debug)]
pub struct GetTestRun;

#[async_trait]
impl Handler for GetTestRun {
    type Args = GetTestRunArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_test_run",
        title: "Get Test Run",
        description: "One test run: state, result, branch, commit, the Pipelines build's UUID and web URL. get_failed_executions lists its failures.",
        details: "",
        toolset: Toolset::Tests,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(&self, ctx: &ToolContext, args: GetTestRunArgs) -> Result<ToolOutput, ToolError> {
        let run = ctx
            .client
            .get_test_run(&args.org_slug, &args.test_suite_slug, &args.run_id)
            .await
            .context("the test run", Self::META.scopes)?;
        Ok(ToolOutput::json(run_full(&run)))
    }
}

// ---------------------------------------------------------------------------
// get_failed_executions

/// Arguments of `get_failed_executions`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetFailedExecutionsArgs {
    pub org_slug: OrgSlug,
    /// From list_test_suites.
    pub test_suite_slug: NonEmpty,
    /// From list_test_runs or get_build_test_engine_runs.
    pub run_id: NonEmpty,
    /// Add backtraces and full messages (larger).
    pub include_failure_expanded: Option<bool>,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Failures per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
}

/// `get_failed_executions`.
#[derive(Debug)]
pub struct GetFailedExecutions;

#[async_trait]
impl Handler for GetFailedExecutions {
    type Args = GetFailedExecutionsArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_failed_executions",
        title: "Get Failed Test Executions",
        description: "A run's failed test executions: test name and id, location, failure reason, duration. include_failure_expanded adds backtraces.",
        details: "The run's branch and commit are given once, at the top, when every failure shares them.",
        toolset: Toolset::Tests,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: GetFailedExecutionsArgs,
    ) -> Result<ToolOutput, ToolError> {
        let paging = page_params(args.page, args.per_page, PER_PAGE);
        let (page_no, per_page) = (
            paging.page.unwrap_or(1),
            paging.per_page.unwrap_or(PER_PAGE),
        );
        let params = ListFailedExecutionsParams {
            include_failure_expanded: args.include_failure_expanded.filter(|&e| e),
            page: paging.page,
            per_page: paging.per_page,
        };
        let page = ctx
            .client
            .list_failed_executions(&args.org_slug, &args.test_suite_slug, &args.run_id, &params)
            .await
            .context("the run's failed executions", Self::META.scopes)?;
        let mut items: Vec<Map<String, Value>> = page
            .items
            .iter()
            .map(|e| pick(&to_object(e), EXECUTION_FIELDS))
            .collect();

        let mut out = Map::new();
        out.insert("run_id".into(), json!(args.run_id.as_str()));
        for field in ["branch", "commit_sha"] {
            if let Some(shared) = shared_value(&items, field) {
                items.iter_mut().for_each(|item| {
                    item.shift_remove(field);
                });
                out.insert(field.into(), shared);
            }
        }
        let items = items.into_iter().map(Value::Object).collect();
        if let Value::Object(envelope) = page_envelope(&page, page_no, items) {
            out.extend(envelope);
        }
        Ok(ToolOutput::json(out).trim_list("items", smaller_pages_hint(page_no, per_page)))
    }
}

/// The value every item has for `field`, if they all have the same one.
fn shared_value(items: &[Map<String, Value>], field: &str) -> Option<Value> {
    let first = items.first()?.get(field)?;
    items
        .iter()
        .all(|item| item.get(field) == Some(first))
        .then(|| first.clone())
}

// ---------------------------------------------------------------------------
// get_test

/// Arguments of `get_test`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetTestArgs {
    pub org_slug: OrgSlug,
    /// From list_test_suites.
    pub test_suite_slug: NonEmpty,
    /// A failed execution's `test_id`, or `id` from list_tests.
    pub test_id: NonEmpty,
}

/// `get_test`.
#[derive(Debug)]
pub struct GetTest;

#[async_trait]
impl Handler for GetTest {
    type Args = GetTestArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_test",
        title: "Get Test",
        description: "One test: reliability, results by kind, durations, labels, location. Use a failed execution's test_id to tell a flaky test from a regression.",
        details: "Also gives its scope, name and file.",
        toolset: Toolset::Tests,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(&self, ctx: &ToolContext, args: GetTestArgs) -> Result<ToolOutput, ToolError> {
        let test = ctx
            .client
            .get_test(&args.org_slug, &args.test_suite_slug, &args.test_id)
            .await
            .context("the test", Self::META.scopes)?;
        Ok(ToolOutput::json(reorder(to_object(&test), TEST_FIELDS)))
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn suite_slugs_come_from_test_urls() {
        assert_eq!(
            suite_slug(
                "https://api.buildkite.com/v2/analytics/organizations/acme/suites/rspec/tests/0186"
            ),
            Some("rspec")
        );
        assert_eq!(suite_slug("https://example.com/suites//tests/1"), None);
        assert_eq!(suite_slug("https://example.com/suites/rspec/runs/1"), None);
        assert_eq!(suite_slug("https://example.com/x"), None);
    }

    #[test]
    fn timestamps_must_be_rfc3339() {
        assert!(check_timestamp("t", Some("2026-08-01T00:00:00Z".into())).is_ok());
        assert!(check_timestamp("t", Some("2026-08-01T00:00:00.5+02:00".into())).is_ok());
        assert_eq!(check_timestamp("t", Some("  ".into())).unwrap(), None);
        let error = check_timestamp("min_timestamp", Some("yesterday".into()))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid argument `min_timestamp`: must be an RFC 3339"),
            "{error}"
        );
    }
}
