//! Test Engine: suites, runs, tests and failed executions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Extra;
use crate::timestamp::Timestamp;

/// A Test Engine suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestSuite {
    /// UUID.
    pub id: String,
    /// Slug, used in paths.
    pub slug: String,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub web_url: Option<String>,
    /// Default branch.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Test Engine run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRun {
    /// UUID.
    pub id: String,
    /// `running` or `finished`.
    #[serde(default)]
    pub state: Option<String>,
    /// `pending`, `passed`, `failed` or `stale`.
    #[serde(default)]
    pub result: Option<String>,
    /// Branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// Commit SHA.
    #[serde(default)]
    pub commit_sha: Option<String>,
    /// UUID of the Pipelines build.
    #[serde(default)]
    pub build_id: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub web_url: Option<String>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A failed test execution within a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedExecution {
    /// Execution UUID.
    pub execution_id: String,
    /// Run UUID.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Test UUID.
    #[serde(default)]
    pub test_id: Option<String>,
    /// Test name.
    #[serde(default)]
    pub test_name: Option<String>,
    /// Why it failed (untrusted text).
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// Backtrace and expanded failure (with `include_failure_expanded`).
    #[serde(default)]
    pub failure_expanded: Option<Vec<serde_json::Value>>,
    /// Source location, e.g. `./spec/models/user_spec.rb:23`.
    #[serde(default)]
    pub location: Option<String>,
    /// Duration in seconds.
    #[serde(default)]
    pub duration: Option<f64>,
    /// Branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// Commit SHA.
    #[serde(default)]
    pub commit_sha: Option<String>,
    /// When it ran.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Web URL of the test.
    #[serde(default)]
    pub test_url: Option<String>,
    /// Web URL of this execution.
    #[serde(default)]
    pub test_execution_url: Option<String>,
    /// Fields not modelled here (run_url, tags, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A test, with its reliability (`Buildkite-Version: 2026-08-01` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Test {
    /// UUID.
    pub id: String,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub web_url: Option<String>,
    /// Scope (e.g. the class or describe block).
    #[serde(default)]
    pub scope: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Source location.
    #[serde(default)]
    pub location: Option<String>,
    /// Source file.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Labels, e.g. `flaky`.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// Share of passing executions, 0–1; null without executions.
    #[serde(default)]
    pub reliability: Option<f64>,
    /// Executions in the period.
    #[serde(default)]
    pub executions_count: Option<u64>,
    /// Executions by result.
    #[serde(default)]
    pub executions_count_by_result: Option<BTreeMap<String, u64>>,
    /// Fields not modelled here (durations, …).
    #[serde(flatten)]
    pub extra: Extra,
}
