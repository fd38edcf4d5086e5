//! Builds: their state, commit, jobs and Test Engine runs, and the body
//! that creates one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Extra, Job, UserSummary, api_enum};
use crate::timestamp::Timestamp;

api_enum! {
    /// State of a build. `Creating`, `Failing` and `Finished` are also
    /// accepted as list filters.
    BuildState {
        /// Waiting for an agent.
        Scheduled = "scheduled",
        /// Running.
        Running = "running",
        /// Every job passed.
        Passed = "passed",
        /// A job failed.
        Failed = "failed",
        /// Stopped at a block step.
        Blocked = "blocked",
        /// Canceled.
        Canceled = "canceled",
        /// Being canceled.
        Canceling = "canceling",
        /// Skipped (e.g. by branch filters).
        Skipped = "skipped",
        /// Never ran.
        NotRun = "not_run",
        /// Waiting on a dependency.
        Waiting = "waiting",
        /// A dependency failed while waiting.
        WaitingFailed = "waiting_failed",
        /// Being created (filter only).
        Creating = "creating",
        /// Running with a failed job (filter only).
        Failing = "failing",
        /// Any terminal state (filter only).
        Finished = "finished",
    }
}

impl BuildState {
    /// Whether the build can no longer change state.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            BuildState::Passed
                | BuildState::Failed
                | BuildState::Canceled
                | BuildState::Skipped
                | BuildState::NotRun
        )
    }
}

/// A build (`GET …/pipelines/{pipeline}/builds/{number}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Build {
    /// UUID (the Test Engine build endpoints take this).
    pub id: String,
    /// Build number within the pipeline (the other endpoints take this).
    pub number: u64,
    /// State.
    pub state: BuildState,
    /// GraphQL id.
    #[serde(default)]
    pub graphql_id: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub web_url: Option<String>,
    /// Whether it is stopped at a block step (it keeps its last state).
    #[serde(default)]
    pub blocked: Option<bool>,
    /// Why it was canceled.
    #[serde(default)]
    pub cancel_reason: Option<String>,
    /// Build message (usually the commit message).
    #[serde(default)]
    pub message: Option<String>,
    /// Commit SHA (or `HEAD`).
    #[serde(default)]
    pub commit: Option<String>,
    /// Branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// Build environment.
    #[serde(default)]
    pub env: Option<BTreeMap<String, serde_json::Value>>,
    /// What created it: `webhook`, `api`, `ui`, `schedule`, `trigger_job`, ….
    #[serde(default)]
    pub source: Option<String>,
    /// Commit author: absent, an object, or a bare email.
    #[serde(default)]
    pub author: Option<BuildAuthor>,
    /// Who created the build.
    #[serde(default)]
    pub creator: Option<UserSummary>,
    /// Jobs; empty when listed with `exclude_jobs`.
    #[serde(default)]
    pub jobs: Vec<Job>,
    /// Job counts by state (get-build only).
    #[serde(default)]
    pub job_state_counts: Option<JobStateCounts>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it was scheduled.
    #[serde(default)]
    pub scheduled_at: Option<Timestamp>,
    /// When it started.
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// When its first job failed.
    #[serde(default)]
    pub failing_at: Option<Timestamp>,
    /// When it finished.
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// Build meta-data.
    #[serde(default)]
    pub meta_data: Option<BTreeMap<String, serde_json::Value>>,
    /// Pull request details (`{}` or null when none).
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
    /// The build this one rebuilt.
    #[serde(default)]
    pub rebuilt_from: Option<BuildReference>,
    /// The trigger job that created this build.
    #[serde(default)]
    pub triggered_from: Option<serde_json::Value>,
    /// The pipeline (absent with `exclude_pipeline`).
    #[serde(default)]
    pub pipeline: Option<PipelineReference>,
    /// Test Engine runs (only with `include_test_engine=true`).
    #[serde(default)]
    pub test_engine: Option<BuildTestEngine>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A build's commit author, which the API gives as an object or as an email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BuildAuthor {
    /// `{"username": …, "name": …, "email": …}`.
    Person {
        /// Source-provider username.
        #[serde(default)]
        username: Option<String>,
        /// Name.
        #[serde(default)]
        name: Option<String>,
        /// Email.
        #[serde(default)]
        email: Option<String>,
    },
    /// A bare email address.
    Email(String),
}

impl BuildAuthor {
    /// The best single label: name, else username, else email.
    pub fn display_name(&self) -> Option<&str> {
        match self {
            BuildAuthor::Person {
                username,
                name,
                email,
            } => name.as_deref().or(username.as_deref()).or(email.as_deref()),
            BuildAuthor::Email(email) => Some(email),
        }
    }
}

/// Job counts by state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStateCounts {
    /// Every job of the build.
    #[serde(default)]
    pub total: u64,
    /// Count per job state.
    #[serde(default)]
    pub states: BTreeMap<String, u64>,
}

/// A short reference to another build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildReference {
    /// UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Number.
    #[serde(default)]
    pub number: Option<u64>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub web_url: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The pipeline embedded in a build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineReference {
    /// UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Slug.
    #[serde(default)]
    pub slug: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `test_engine` section of a build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildTestEngine {
    /// Test Engine runs linked to the build.
    #[serde(default)]
    pub runs: Vec<BuildTestRun>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A Test Engine run linked to a build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildTestRun {
    /// Run UUID.
    pub id: String,
    /// The suite it belongs to.
    #[serde(default)]
    pub suite: Option<SuiteReference>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A short reference to a Test Engine suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteReference {
    /// UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Slug.
    #[serde(default)]
    pub slug: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Author of a build created through the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewBuildAuthor {
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// Body of `POST …/pipelines/{pipeline}/builds`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreateBuildBody {
    /// Commit SHA, or `HEAD` (required).
    pub commit: String,
    /// Branch (required).
    pub branch: String,
    /// Build message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Commit author.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<NewBuildAuthor>,
    /// Environment variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Meta-data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<BTreeMap<String, String>>,
    /// Force a clean checkout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clean_checkout: Option<bool>,
    /// Build even if the branch filters exclude the branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_pipeline_branch_filters: Option<bool>,
    /// Pull request base branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request_base_branch: Option<String>,
    /// Pull request number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request_id: Option<u64>,
    /// Pull request repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request_repository: Option<String>,
    /// Pull request labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_request_labels: Option<Vec<String>>,
}
