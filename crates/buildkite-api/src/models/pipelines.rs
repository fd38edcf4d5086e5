//! Pipelines: their repository, steps, settings and schedules, and the bodies
//! that create or change one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Extra, UserSummary};
use crate::timestamp::Timestamp;

/// A pipeline (`GET /v2/organizations/{org}/pipelines/{pipeline}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// UUID.
    pub id: String,
    /// URL slug.
    pub slug: String,
    /// Display name.
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
    /// Repository URL.
    #[serde(default)]
    pub repository: Option<String>,
    /// Default branch.
    #[serde(default)]
    pub default_branch: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Branch filter pattern.
    #[serde(default)]
    pub branch_configuration: Option<String>,
    /// Cluster UUID.
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// `private` or `public`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Source provider (GitHub, …) and its settings.
    #[serde(default)]
    pub provider: Option<Provider>,
    /// Skip queued builds on the same branch.
    #[serde(default)]
    pub skip_queued_branch_builds: Option<bool>,
    /// Cancel running builds on the same branch.
    #[serde(default)]
    pub cancel_running_branch_builds: Option<bool>,
    /// The pipeline's YAML steps.
    #[serde(default)]
    pub configuration: Option<String>,
    /// Environment variables.
    #[serde(default)]
    pub env: Option<BTreeMap<String, serde_json::Value>>,
    /// API URL of its builds.
    #[serde(default)]
    pub builds_url: Option<String>,
    /// Status badge URL.
    #[serde(default)]
    pub badge_url: Option<String>,
    /// When it was created (often `YYYY-MM-DD HH:MM:SS UTC`).
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it was archived, if it is.
    #[serde(default)]
    pub archived_at: Option<Timestamp>,
    /// Builds currently running.
    #[serde(default)]
    pub running_builds_count: Option<u64>,
    /// Builds waiting to run.
    #[serde(default)]
    pub scheduled_builds_count: Option<u64>,
    /// Fields not modelled here (steps, counts, filters, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A pipeline's source provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// e.g. `github`.
    #[serde(default)]
    pub id: Option<String>,
    /// Webhook URL; empty unless the token may edit the pipeline.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Provider settings.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of `POST /v2/organizations/{org}/pipelines`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreatePipelineBody {
    /// Display name (required).
    pub name: String,
    /// Repository URL (required).
    pub repository: String,
    /// Steps as YAML (required, non-blank).
    pub configuration: String,
    /// Cluster UUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Default branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Environment variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Provider settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_settings: Option<serde_json::Value>,
    /// Skip queued builds on the same branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_queued_branch_builds: Option<bool>,
    /// Cancel running builds on the same branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_running_branch_builds: Option<bool>,
    /// Teams given access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_uuids: Option<Vec<String>>,
    /// `private` or `public`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
}

/// Body of `PATCH /v2/organizations/{org}/pipelines/{pipeline}`: only the
/// fields that are `Some` are changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UpdatePipelineBody {
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Repository URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Steps as YAML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<String>,
    /// Cluster UUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// Default branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Environment variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Provider settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_settings: Option<serde_json::Value>,
    /// Skip queued builds on the same branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_queued_branch_builds: Option<bool>,
    /// Cancel running builds on the same branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_running_branch_builds: Option<bool>,
    /// `private` or `public`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
}

/// Response of `POST …/pipelines/{pipeline}/webhook`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineWebhook {
    /// The webhook URL to configure at the source provider, when returned.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Everything else the API returned.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A pipeline schedule (`GET …/pipelines/{pipeline}/schedules/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineSchedule {
    /// UUID.
    pub id: String,
    /// Cron expression, e.g. `@daily` or `0 * * * *`.
    pub cronline: String,
    /// GraphQL id.
    #[serde(default)]
    pub graphql_id: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Label.
    #[serde(default)]
    pub label: Option<String>,
    /// Build message.
    #[serde(default)]
    pub message: Option<String>,
    /// Commit to build.
    #[serde(default)]
    pub commit: Option<String>,
    /// Branch to build.
    #[serde(default)]
    pub branch: Option<String>,
    /// Build environment.
    #[serde(default)]
    pub env: Option<BTreeMap<String, serde_json::Value>>,
    /// Whether it runs.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Next run.
    #[serde(default)]
    pub next_build_at: Option<Timestamp>,
    /// Why it last failed to create a build.
    #[serde(default)]
    pub failed_message: Option<String>,
    /// When it last failed.
    #[serde(default)]
    pub failed_at: Option<Timestamp>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Who created it.
    #[serde(default)]
    pub created_by: Option<UserSummary>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of a schedule create (`cronline` required) or update (any subset).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PipelineScheduleBody {
    /// Cron expression; required when creating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cronline: Option<String>,
    /// Label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Build message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Commit to build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Branch to build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Build environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Whether it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}
