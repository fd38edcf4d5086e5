//! Annotations: the notes a build's jobs leave on it (style, context, body),
//! and the body that creates one.

use serde::{Deserialize, Serialize};

use super::{Extra, api_enum};
use crate::timestamp::Timestamp;

api_enum! {
    /// Visual style of an annotation.
    AnnotationStyle {
        /// Green.
        Success = "success",
        /// Blue (the default).
        Info = "info",
        /// Orange.
        Warning = "warning",
        /// Red.
        Error = "error",
    }
}

/// A build or job annotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// UUID.
    pub id: String,
    /// Context: annotations with the same context replace each other.
    #[serde(default)]
    pub context: Option<String>,
    /// Style.
    #[serde(default)]
    pub style: Option<AnnotationStyle>,
    /// `build` or `job`.
    #[serde(default)]
    pub scope: Option<String>,
    /// The job, for job-scoped annotations.
    #[serde(default)]
    pub job_id: Option<String>,
    /// Priority 1–10 (default 3).
    #[serde(default)]
    pub priority: Option<u8>,
    /// Rendered body (untrusted HTML); absent with `omit_body=true`.
    #[serde(default)]
    pub body_html: Option<String>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it was last changed.
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of `POST …/annotations`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CreateAnnotationBody {
    /// Markdown or HTML (required).
    pub body: String,
    /// Style.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<AnnotationStyle>,
    /// Context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Priority 1–10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Append to an annotation with the same context instead of replacing it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub append: Option<bool>,
}
