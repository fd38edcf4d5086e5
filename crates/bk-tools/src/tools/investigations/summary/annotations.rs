//! The error and warning annotations of a failure summary, as plain text.

use buildkite_api::{Annotation, AnnotationStyle, ListAnnotationsParams};
use serde_json::{Value, json};

use super::fit::cut;
use crate::error::ToolError;
use crate::shape::html::annotation_text;
use crate::shape::project::{pick, to_object};
use crate::tool::ToolContext;

/// Annotation pages scanned (100 each).
const ANNOTATION_PAGES: u32 = 5;
/// Longest annotation text kept, before any budget cut.
const ANNOTATION_TEXT_BYTES: usize = 4 * 1024;

/// Error and warning annotations found, as plain text.
pub(super) struct Annotations {
    /// The annotations, errors first.
    pub items: Vec<Value>,
    /// More were found than are given.
    pub truncated: bool,
    /// Why some could not be read.
    pub warnings: Vec<String>,
}

/// The build's error and warning annotations, errors first, at most `max`.
/// A 401 aborts; other errors become a warning.
pub(super) async fn problem_annotations(
    ctx: &ToolContext,
    org: &str,
    pipeline: &str,
    number: u64,
    max: usize,
) -> Result<Annotations, ToolError> {
    let mut found = Annotations {
        items: Vec::new(),
        truncated: false,
        warnings: Vec::new(),
    };
    for page in 1..=ANNOTATION_PAGES {
        let params = ListAnnotationsParams {
            scope: Some("all".into()),
            page: Some(page),
            per_page: Some(100),
            ..ListAnnotationsParams::default()
        };
        let listed = match ctx
            .client
            .list_build_annotations(org, pipeline, number, &params)
            .await
        {
            Ok(listed) => listed,
            Err(error @ buildkite_api::Error::Unauthorized { .. }) => {
                return Err(ToolError::api(
                    "the build's annotations",
                    error,
                    &["read_builds"],
                ));
            }
            Err(error) => {
                found
                    .warnings
                    .push(format!("annotations unavailable: {error}"));
                break;
            }
        };
        found.items.extend(
            listed
                .items
                .iter()
                .filter(|a| {
                    matches!(
                        a.style,
                        Some(AnnotationStyle::Error | AnnotationStyle::Warning)
                    )
                })
                .map(annotation_item),
        );
        if !listed.has_more() {
            break;
        }
        if page == ANNOTATION_PAGES {
            found.truncated = true;
        }
    }
    // Errors before warnings, each in the API's order; then the limit, so
    // warnings never push an error out.
    found
        .items
        .sort_by_key(|item| item["style"].as_str() != Some("error"));
    if found.items.len() > max {
        found.items.truncate(max);
        found.truncated = true;
    }
    Ok(found)
}

/// An annotation, as the summary shows it: its text plain and cut short.
fn annotation_item(annotation: &Annotation) -> Value {
    let mut item = pick(
        &to_object(annotation),
        &["id", "context", "style", "scope", "job_id"],
    );
    item.retain(|_, v| !v.is_null());
    let text = annotation_text(annotation.body_html.as_deref().unwrap_or_default());
    let cut_text = cut(&text, ANNOTATION_TEXT_BYTES);
    if cut_text.len() < text.len() {
        item.insert("text_truncated".into(), json!(true));
    }
    item.insert("text".into(), json!(cut_text));
    Value::Object(item)
}
