//! Artifacts: the files a job uploads, with their size, state and download
//! URL.

use serde::{Deserialize, Serialize};

use super::Extra;

/// A build artifact (`GET …/jobs/{job}/artifacts/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// UUID.
    pub id: String,
    /// The job that uploaded it.
    #[serde(default)]
    pub job_id: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// API URL that redirects to the file.
    #[serde(default)]
    pub download_url: Option<String>,
    /// `new`, `error`, `finished`, `deleted` or `expired`.
    #[serde(default)]
    pub state: Option<String>,
    /// Path as uploaded, e.g. `dist/app.tar.gz`.
    #[serde(default)]
    pub path: Option<String>,
    /// Directory part of `path`.
    #[serde(default)]
    pub dirname: Option<String>,
    /// File-name part of `path`.
    #[serde(default)]
    pub filename: Option<String>,
    /// MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub file_size: Option<u64>,
    /// SHA-1 of the content.
    #[serde(default)]
    pub sha1sum: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where an artifact's content can be fetched: a short-lived (about 60 s)
/// presigned URL, to be fetched without Buildkite credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactDownloadUrl {
    /// The URL.
    pub url: String,
}

/// Content of a downloaded artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactContent {
    /// The bytes.
    pub bytes: bytes::Bytes,
    /// The storage's `Content-Type`, if any.
    pub content_type: Option<String>,
}
