//! Jobs of a build as the API reports them (command, wait, block and trigger
//! steps), with their state and retries, and the body that unblocks one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{BuildReference, Extra, UserSummary, api_enum};
use crate::timestamp::Timestamp;

api_enum! {
    /// State of a job.
    JobState {
        /// Not yet ready.
        Pending = "pending",
        /// Waiting on an earlier step.
        Waiting = "waiting",
        /// An earlier step failed.
        WaitingFailed = "waiting_failed",
        /// A block step waiting to be unblocked.
        Blocked = "blocked",
        /// A block step that failed.
        BlockedFailed = "blocked_failed",
        /// A block step that was unblocked.
        Unblocked = "unblocked",
        /// A block step whose unblock failed.
        UnblockedFailed = "unblocked_failed",
        /// Waiting on a concurrency limit.
        Limiting = "limiting",
        /// Held by a concurrency limit.
        Limited = "limited",
        /// Waiting for an agent.
        Scheduled = "scheduled",
        /// Assigned to an agent.
        Assigned = "assigned",
        /// Accepted by an agent.
        Accepted = "accepted",
        /// Running.
        Running = "running",
        /// Passed.
        Passed = "passed",
        /// Failed.
        Failed = "failed",
        /// Finished (waiters).
        Finished = "finished",
        /// Canceled.
        Canceled = "canceled",
        /// Being canceled.
        Canceling = "canceling",
        /// Exceeded its timeout.
        TimedOut = "timed_out",
        /// Timing out.
        TimingOut = "timing_out",
        /// Skipped.
        Skipped = "skipped",
        /// Could not run (bad configuration, missing agent…).
        Broken = "broken",
        /// No agent took it in time.
        Expired = "expired",
    }
}

impl JobState {
    /// Whether the job has finished, so its log can no longer change:
    /// `passed`, `failed`, `finished`, `canceled`, `timed_out`, `skipped`,
    /// `broken` and `expired`. States such as `waiting_failed` or
    /// `canceling` are not terminal.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobState::Passed
                | JobState::Failed
                | JobState::Finished
                | JobState::Canceled
                | JobState::TimedOut
                | JobState::Skipped
                | JobState::Broken
                | JobState::Expired
        )
    }
}

/// A job: a build's element, a `get_job` result, or a jobs-list item.
///
/// `kind` is `script`, `waiter`, `manual` (block step) or `trigger`; only the
/// fields of that kind are set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// UUID.
    pub id: String,
    /// `script`, `waiter`, `manual` or `trigger`.
    #[serde(rename = "type")]
    pub kind: String,
    /// State.
    #[serde(default)]
    pub state: Option<JobState>,
    /// GraphQL id.
    #[serde(default)]
    pub graphql_id: Option<String>,
    /// Name (script steps).
    #[serde(default)]
    pub name: Option<String>,
    /// Label as shown in the UI.
    #[serde(default)]
    pub label: Option<String>,
    /// The step's `key`.
    #[serde(default)]
    pub step_key: Option<String>,
    /// The enclosing group's `key`.
    #[serde(default)]
    pub group_key: Option<String>,
    /// API URL of the build (sometimes a web URL; tolerate both).
    #[serde(default)]
    pub build_url: Option<String>,
    /// Web URL (`…/builds/N#<job-id>`).
    #[serde(default)]
    pub web_url: Option<String>,
    /// API URL of the log.
    #[serde(default)]
    pub log_url: Option<String>,
    /// API URL of the raw log.
    #[serde(default)]
    pub raw_log_url: Option<String>,
    /// API URL of the artifacts.
    #[serde(default)]
    pub artifacts_url: Option<String>,
    /// The command (script steps).
    #[serde(default)]
    pub command: Option<String>,
    /// Whether a failure is soft (does not fail the build).
    #[serde(default)]
    pub soft_failed: Option<bool>,
    /// Exit status, once finished.
    #[serde(default)]
    pub exit_status: Option<i64>,
    /// Signal that ended the process.
    #[serde(default)]
    pub signal: Option<String>,
    /// Why it was signalled (e.g. `agent_stop`, `cancel`).
    #[serde(default)]
    pub signal_reason: Option<String>,
    /// Why it is broken.
    #[serde(default)]
    pub broken_reason: Option<String>,
    /// Artifact upload globs.
    #[serde(default)]
    pub artifact_paths: Option<String>,
    /// Agent query rules, e.g. `queue=default`.
    #[serde(default)]
    pub agent_query_rules: Option<Vec<String>>,
    /// The agent that ran it.
    #[serde(default)]
    pub agent: Option<JobAgent>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it was scheduled.
    #[serde(default)]
    pub scheduled_at: Option<Timestamp>,
    /// When it became runnable.
    #[serde(default)]
    pub runnable_at: Option<Timestamp>,
    /// When it started.
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// When it finished.
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// When it expired.
    #[serde(default)]
    pub expired_at: Option<Timestamp>,
    /// Whether it was retried (a newer job replaces it).
    #[serde(default)]
    pub retried: Option<bool>,
    /// The job that replaced it.
    #[serde(default)]
    pub retried_in_job_id: Option<String>,
    /// How many times it has been retried.
    #[serde(default)]
    pub retries_count: Option<u64>,
    /// `automatic` or `manual`.
    #[serde(default)]
    pub retry_type: Option<String>,
    /// Index within a parallel group.
    #[serde(default)]
    pub parallel_group_index: Option<u64>,
    /// Size of the parallel group.
    #[serde(default)]
    pub parallel_group_total: Option<u64>,
    /// Cluster UUID.
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// Cluster queue UUID.
    #[serde(default)]
    pub cluster_queue_id: Option<String>,
    /// Exit status a running job has promised.
    #[serde(default)]
    pub promised_exit_status: Option<i64>,
    /// Trigger steps: run asynchronously.
    #[serde(default, rename = "async")]
    pub is_async: Option<bool>,
    /// Trigger steps: the build they created.
    #[serde(default)]
    pub triggered_build: Option<BuildReference>,
    /// Block steps: whether the token may unblock it.
    #[serde(default)]
    pub unblockable: Option<bool>,
    /// Block steps: the unblock URL.
    #[serde(default)]
    pub unblock_url: Option<String>,
    /// Block steps: who unblocked it.
    #[serde(default)]
    pub unblocked_by: Option<UserSummary>,
    /// Block steps: when it was unblocked.
    #[serde(default)]
    pub unblocked_at: Option<Timestamp>,
    /// Fields not modelled here (step, priority, matrix, retry_source, …).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Job {
    /// The label shown in the UI: `name`, else `label`, else the step key.
    pub fn display_name(&self) -> Option<&str> {
        self.name
            .as_deref()
            .or(self.label.as_deref())
            .or(self.step_key.as_deref())
    }
}

/// The agent embedded in a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobAgent {
    /// UUID.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Connection state.
    #[serde(default)]
    pub connection_state: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A job's environment (`GET …/jobs/{job}/env`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEnv {
    /// Variables by name.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// Body of `PUT …/jobs/{job}/unblock`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UnblockJobBody {
    /// Values for the block step's fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// UUID of the user to record as unblocker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unblocker: Option<String>,
}
