//! The failed tests of a failure summary, from Test Engine: grouped by
//! failure reason, with tests a retry rescued (`rescued`) or that also
//! passed in this build reported as flaky, never as failures.

use std::collections::{BTreeMap, HashSet};

use bk_logs::digest::normalize;
use buildkite_api::{Build, FailedExecution, ListTestsParams};
use serde_json::{Map, Value, json};

use super::fit::cut;
use crate::error::{ApiResultExt, ToolError};
use crate::tool::ToolContext;
use crate::tools::investigations::common::run_failures;
use crate::tools::investigations::rescued::{self, Rescue};

/// Longest failure reason kept.
const REASON_BYTES: usize = 1024;
/// Tests named per failure group, before any budget cut.
const TESTS_PER_GROUP: usize = 10;

/// The failed-test fields and warnings.
pub(super) struct FailedTests {
    /// The fields to add to the summary.
    pub fields: Map<String, Value>,
    /// Why some could not be read or told apart.
    pub warnings: Vec<String>,
}

/// How many failed tests to read and report.
#[derive(Debug, Clone, Copy)]
pub(super) struct TestsWanted {
    /// Test Engine runs read.
    pub max_runs: usize,
    /// Failed tests read per run.
    pub per_run: usize,
    /// Failed tests reported in all.
    pub max_total: usize,
    /// Each failed test's expanded failure (backtrace) too.
    pub expanded: bool,
}

/// The build's failed tests, grouped by failure reason, with those that
/// also passed in this build as flaky. A 401 aborts; other errors stay
/// with their run or become a warning.
pub(super) async fn failed_tests(
    ctx: &ToolContext,
    org: &str,
    build: &Build,
    wanted: TestsWanted,
) -> Result<FailedTests, ToolError> {
    let TestsWanted {
        max_runs,
        per_run,
        max_total,
        expanded,
    } = wanted;
    let (results, runs_truncated) =
        run_failures(ctx, org, build, max_runs, per_run, expanded).await?;

    let mut warnings = Vec::new();
    // Which failed tests are no failures of the build: with retried jobs,
    // those that failed in no job that stayed failed (`rescued`); else, or
    // when that cannot be told, those that also passed in this build (a
    // retried job, or a framework's own retry).
    let any_failed = results.iter().any(|r| !r.executions.is_empty());
    let rescue = if any_failed {
        rescued::read(ctx, org, build).await?
    } else {
        Rescue::NoRetries
    };
    warnings.extend(rescue.warning().map(str::to_owned));
    let passed_in_build = if any_failed && !matches!(rescue, Rescue::PerJob(_)) {
        match passed_tests(ctx, org, &build.id).await {
            Ok(passed) => passed,
            Err(error) if error.is_unauthorized() => return Err(error),
            Err(error) => {
                warnings.push(format!(
                    "could not tell flaky tests from failed ones: {error}"
                ));
                HashSet::new()
            }
        }
    } else {
        HashSet::new()
    };

    let mut taken = 0usize;
    let mut tests_truncated = false;
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut flaky: Vec<Value> = Vec::new();
    let mut run_items = Vec::new();
    for run in &results {
        let mut run_item = Map::new();
        run_item.insert("run_id".into(), json!(run.run_id));
        run_item.insert("suite".into(), json!(run.suite));
        run_item.insert("failed".into(), json!(run.executions.len()));
        if run.more {
            run_item.insert("more_failed".into(), json!(true));
            tests_truncated = true;
        }
        if let Some(error) = &run.error {
            run_item.insert("error".into(), json!(error));
        }
        run_items.push(Value::Object(run_item));
        for execution in &run.executions {
            if taken == max_total {
                tests_truncated = true;
                break;
            }
            taken += 1;
            let test = test_item(execution, &run.suite, expanded);
            let test_id = execution.test_id.as_deref();
            if rescue.rescued(test_id) || test_id.is_some_and(|id| passed_in_build.contains(id)) {
                flaky.push(test);
                continue;
            }
            let reason = execution
                .failure_reason
                .as_deref()
                .unwrap_or("(no reason given)");
            let key = reason_key(reason);
            let group = groups.entry(key).or_insert_with(|| Group {
                reason: cut(reason, REASON_BYTES),
                tests: Vec::new(),
                count: 0,
            });
            group.count += 1;
            if group.tests.len() < TESTS_PER_GROUP {
                group.tests.push(test);
            }
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));

    let mut fields = Map::new();
    let failed_count: usize = groups.iter().map(|g| g.count).sum();
    fields.insert("failed_test_count".into(), json!(failed_count));
    fields.insert(
        "failed_tests".into(),
        Value::Array(
            groups
                .into_iter()
                .map(|g| {
                    let mut item = Map::new();
                    item.insert("reason".into(), json!(g.reason));
                    item.insert("count".into(), json!(g.count));
                    item.insert("tests".into(), Value::Array(g.tests));
                    Value::Object(item)
                })
                .collect(),
        ),
    );
    if !flaky.is_empty() {
        fields.insert("flaky_tests".into(), Value::Array(flaky));
    }
    fields.insert("test_runs".into(), Value::Array(run_items));
    if runs_truncated {
        fields.insert("test_runs_truncated".into(), json!(true));
    }
    if tests_truncated {
        fields.insert("failed_tests_truncated".into(), json!(true));
    }
    Ok(FailedTests { fields, warnings })
}

/// Failed tests sharing a reason.
struct Group {
    reason: String,
    tests: Vec<Value>,
    count: usize,
}

/// What makes two failure reasons the same: the first line, normalised
/// (timestamps, ids, durations, temp paths), digits ignored.
fn reason_key(reason: &str) -> String {
    let first = reason.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    normalize(first)
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect()
}

/// A failed test, as the summary shows it.
fn test_item(execution: &FailedExecution, suite: &str, expanded: bool) -> Value {
    let mut item = Map::new();
    if let Some(name) = &execution.test_name {
        item.insert("name".into(), json!(name));
    }
    if let Some(location) = &execution.location {
        item.insert("location".into(), json!(location));
    }
    item.insert("suite".into(), json!(suite));
    if let Some(id) = &execution.test_id {
        item.insert("test_id".into(), json!(id));
    }
    if let Some(url) = &execution.test_execution_url {
        item.insert("url".into(), json!(url));
    }
    if expanded && let Some(expanded) = &execution.failure_expanded {
        item.insert("failure_expanded".into(), json!(expanded));
    }
    Value::Object(item)
}

/// Test ids that passed at least once in this build.
async fn passed_tests(
    ctx: &ToolContext,
    org: &str,
    build_id: &str,
) -> Result<HashSet<String>, ToolError> {
    let page = ctx
        .client
        .list_build_tests(
            org,
            build_id,
            &ListTestsParams {
                per_page: Some(100),
                ..ListTestsParams::default()
            },
        )
        .await
        .context("the build's tests", &["read_suites"])?;
    Ok(page
        .items
        .into_iter()
        .filter(|test| {
            test.executions_count_by_result
                .as_ref()
                .and_then(|counts| counts.get("passed"))
                .is_some_and(|&passed| passed > 0)
        })
        .map(|test| test.id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_group_by_shape() {
        assert_eq!(
            reason_key("expected 1, got 2\n  at foo"),
            reason_key("expected 3, got 4")
        );
        assert_ne!(reason_key("timeout"), reason_key("expected 1, got 2"));
    }
}
