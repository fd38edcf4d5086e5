//! Step uploads: the pipeline steps a job uploaded during a build.

use serde::{Deserialize, Serialize};

use super::Extra;
use crate::timestamp::Timestamp;

/// A pipeline upload made during a build (`buildkite-agent pipeline upload`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepUpload {
    /// UUID.
    pub uuid: String,
    /// `pending`, `processing`, `applied`, `rejected` or `failed`.
    #[serde(default)]
    pub state: Option<String>,
    /// What uploaded it, e.g. `job`.
    #[serde(default)]
    pub source: Option<String>,
    /// The job that uploaded it.
    #[serde(default)]
    pub source_job_id: Option<String>,
    /// Whether it replaced the build's remaining steps.
    #[serde(default)]
    pub replace_existing_steps: Option<bool>,
    /// Jobs it created.
    #[serde(default)]
    pub created_jobs_count: Option<u64>,
    /// Why it was rejected.
    #[serde(default)]
    pub rejection_type: Option<String>,
    /// Rejection or failure message.
    #[serde(default)]
    pub message: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// When it was uploaded.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it was processed.
    #[serde(default)]
    pub processed_at: Option<Timestamp>,
    /// Size of the definition (get only).
    #[serde(default)]
    pub definition_bytes: Option<u64>,
    /// The uploaded YAML (get only; null over 2 MB).
    #[serde(default)]
    pub definition_yaml: Option<String>,
    /// True when the YAML was too large to return.
    #[serde(default)]
    pub definition_yaml_omitted: Option<bool>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
