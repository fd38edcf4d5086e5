//! Clusters and their queues, and the fields that create or change them.

use serde::{Deserialize, Serialize};

use super::{Extra, UserSummary};
use crate::timestamp::Timestamp;

/// A cluster (`GET /v2/organizations/{org}/clusters/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// UUID.
    pub id: String,
    /// Name.
    pub name: String,
    /// GraphQL id.
    #[serde(default)]
    pub graphql_id: Option<String>,
    /// Default queue UUID.
    #[serde(default)]
    pub default_queue_id: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Emoji, e.g. `:technologist:`.
    #[serde(default)]
    pub emoji: Option<String>,
    /// Colour, e.g. `#FFE0F1`.
    #[serde(default)]
    pub color: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub web_url: Option<String>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Who created it.
    #[serde(default)]
    pub created_by: Option<UserSummary>,
    /// Fields not modelled here (maintainers, queues_url, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of a cluster create (`name` required) or update (any subset).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterBody {
    /// Name; required when creating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Emoji.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// Colour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Default queue UUID (update only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_queue_id: Option<String>,
    /// Maintainers (create only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintainers: Option<serde_json::Value>,
}

/// A cluster queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterQueue {
    /// UUID.
    pub id: String,
    /// Queue key, used in `queue=<key>` agent tags.
    pub key: String,
    /// GraphQL id.
    #[serde(default)]
    pub graphql_id: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub web_url: Option<String>,
    /// API URL of the cluster.
    #[serde(default)]
    pub cluster_url: Option<String>,
    /// `prefer-warmest` or `prefer-different`.
    #[serde(default)]
    pub retry_agent_affinity: Option<String>,
    /// Whether dispatch is paused.
    #[serde(default)]
    pub dispatch_paused: Option<bool>,
    /// Who paused it.
    #[serde(default)]
    pub dispatch_paused_by: Option<UserSummary>,
    /// When it was paused.
    #[serde(default)]
    pub dispatch_paused_at: Option<Timestamp>,
    /// Why it was paused.
    #[serde(default)]
    pub dispatch_paused_note: Option<String>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Who created it.
    #[serde(default)]
    pub created_by: Option<UserSummary>,
    /// Fields not modelled here (hosted_agents, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of a queue create (`key` required) or update.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterQueueBody {
    /// Queue key; create only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `prefer-warmest` or `prefer-different`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_agent_affinity: Option<String>,
}
