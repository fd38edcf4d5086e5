//! Agents: the machines that run jobs, with their connection state and the
//! job they are running.

use serde::{Deserialize, Serialize};

use super::{Extra, Job, UserSummary};
use crate::timestamp::Timestamp;

/// An agent (`GET /v2/organizations/{org}/agents/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// GraphQL id.
    #[serde(default)]
    pub graphql_id: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub web_url: Option<String>,
    /// `connected`, `disconnected`, `stopping`, `lost`, ….
    #[serde(default)]
    pub connection_state: Option<String>,
    /// Host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// IP address.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Agent user agent string.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Agent version.
    #[serde(default)]
    pub version: Option<String>,
    /// Operating system.
    #[serde(default)]
    pub os_id: Option<String>,
    /// CPU architecture.
    #[serde(default)]
    pub arch: Option<String>,
    /// Queue.
    #[serde(default)]
    pub queue: Option<String>,
    /// Who registered it.
    #[serde(default)]
    pub creator: Option<UserSummary>,
    /// When it registered.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it connected.
    #[serde(default)]
    pub connected_at: Option<Timestamp>,
    /// When it disconnected.
    #[serde(default)]
    pub disconnected_at: Option<Timestamp>,
    /// When it was lost.
    #[serde(default)]
    pub lost_at: Option<Timestamp>,
    /// When it stopped.
    #[serde(default)]
    pub stopped_at: Option<Timestamp>,
    /// The job it is running.
    #[serde(default)]
    pub job: Option<Box<Job>>,
    /// When it last finished a job.
    #[serde(default)]
    pub last_job_finished_at: Option<Timestamp>,
    /// Priority.
    #[serde(default)]
    pub priority: Option<i64>,
    /// Tags such as `queue=default`.
    #[serde(default)]
    pub meta_data: Option<Vec<String>>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
