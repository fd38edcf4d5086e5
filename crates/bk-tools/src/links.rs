//! Resource links: content too large to put in a result (an artifact over
//! the inline limit, a job's whole log) is named by a `buildkite://` URI
//! the client may read as an MCP resource, instead of being inlined.
//!
//! - `buildkite://logs/{org}/{pipeline}/{build}/{job}`: the job's whole log,
//!   as visible text (one row per line).
//! - `buildkite://artifacts/{org}/{pipeline}/{build}/{job}/{artifact}`: the
//!   artifact's content, as text or as bytes.
//!
//! Every segment is percent-encoded. A read goes through the caller's own
//! client, so it needs what the matching tool needs: the caller's token must
//! be able to read the log or the artifact, whichever replica or cache
//! serves it.

use bk_logs::FetchPolicy;
use buildkite_api::JobRef;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::error::{ApiResultExt, ToolError};
use crate::tool::ToolContext;
use crate::tools::logs::JobLog;

/// Characters left as they are in a segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The largest artifact a resource read returns: larger ones are for
/// `get_artifact`'s download URL.
pub const MAX_ARTIFACT_READ: u64 = 16 * 1024 * 1024;

/// A link to content a client may read as a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceLink {
    /// The `buildkite://` URI.
    pub uri: String,
    /// A short name, e.g. the artifact's path.
    pub name: String,
    /// The content's MIME type, when known.
    pub mime_type: Option<String>,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
}

/// What a link reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkContent {
    /// Text, with its MIME type.
    Text { text: String, mime_type: String },
    /// Bytes, with their MIME type.
    Bytes { bytes: Vec<u8>, mime_type: String },
}

/// A `buildkite://{kind}/…` URI for a job named through its build, with
/// `extra` segments after the job's; `None` for a job named otherwise.
fn uri(kind: &str, job: &JobRef, extra: &[&str]) -> Option<String> {
    let JobRef::InBuild {
        org,
        pipeline,
        number,
        job_id,
    } = job
    else {
        return None;
    };
    let number = number.to_string();
    let path: Vec<String> = [org.as_str(), pipeline, &number, job_id]
        .iter()
        .chain(extra)
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect();
    Some(format!("buildkite://{kind}/{}", path.join("/")))
}

/// A job's whole log; `None` for a job not named through its build.
pub fn log_link(job: &JobRef) -> Option<ResourceLink> {
    Some(ResourceLink {
        uri: uri("logs", job, &[])?,
        name: format!("log of job {}", job.job_id()),
        mime_type: Some("text/plain".to_owned()),
        size: None,
    })
}

/// An artifact's content, named `name` (its path); `None` for a job not
/// named through its build.
pub fn artifact_link(
    job: &JobRef,
    artifact_id: &str,
    name: &str,
    mime_type: Option<&str>,
    size: Option<u64>,
) -> Option<ResourceLink> {
    Some(ResourceLink {
        uri: uri("artifacts", job, &[artifact_id])?,
        name: name.to_owned(),
        mime_type: mime_type.map(str::to_owned),
        size,
    })
}

/// What a `buildkite://` URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Log(JobRef),
    Artifact(JobRef, String),
}

fn parse(uri: &str) -> Option<Target> {
    let rest = uri.strip_prefix("buildkite://")?;
    let (kind, path) = rest.split_once('/')?;
    let segments: Vec<String> = path
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8().map(|s| s.into_owned()))
        .collect::<Result<_, _>>()
        .ok()?;
    if segments.iter().any(String::is_empty) {
        return None;
    }
    let job = |s: &[String]| -> Option<JobRef> {
        Some(JobRef::in_build(&s[0], &s[1], s[2].parse().ok()?, &s[3]))
    };
    match (kind, segments.len()) {
        ("logs", 4) => Some(Target::Log(job(&segments)?)),
        ("artifacts", 5) => Some(Target::Artifact(job(&segments)?, segments[4].clone())),
        _ => None,
    }
}

/// Whether `uri` is a link of ours (read it with [`read`]).
pub fn is_link(uri: &str) -> bool {
    parse(uri).is_some()
}

/// Reads what `uri` names, with the caller's credentials in `ctx`. `None`
/// when the URI is not a link of ours.
pub async fn read(ctx: &ToolContext, uri: &str) -> Option<Result<LinkContent, ToolError>> {
    Some(match parse(uri)? {
        Target::Log(job) => read_log(ctx, job).await,
        Target::Artifact(job, artifact) => read_artifact(ctx, &job, &artifact).await,
    })
}

async fn read_log(ctx: &ToolContext, job: JobRef) -> Result<LinkContent, ToolError> {
    let log = JobLog::new(ctx, job, FetchPolicy::default());
    let text = log
        .query(|file| {
            let rows = file.rows(0..file.row_count(), false)?;
            let mut text = String::new();
            for row in rows {
                text.push_str(&row.content);
                text.push('\n');
            }
            Ok(text)
        })
        .await?;
    Ok(LinkContent::Text {
        text,
        mime_type: "text/plain".to_owned(),
    })
}

async fn read_artifact(
    ctx: &ToolContext,
    job: &JobRef,
    artifact_id: &str,
) -> Result<LinkContent, ToolError> {
    const SCOPES: &[&str] = &["read_artifacts"];
    let artifact = ctx
        .client
        .get_artifact(job, artifact_id)
        .await
        .context("the artifact", SCOPES)?;
    if artifact
        .file_size
        .is_some_and(|size| size > MAX_ARTIFACT_READ)
    {
        return Err(ToolError::Other(format!(
            "the artifact is {} bytes, over the {MAX_ARTIFACT_READ}-byte limit of a resource read: get_artifact gives a download_url for it",
            artifact.file_size.unwrap_or_default()
        )));
    }
    let location = ctx
        .client
        .get_artifact_download_url(job, artifact_id)
        .await
        .context("the artifact's download URL", SCOPES)?;
    let content = ctx
        .client
        .download_artifact_from(&location, MAX_ARTIFACT_READ)
        .await
        .context("the artifact's content", SCOPES)?;
    let mime_type = artifact
        .mime_type
        .clone()
        .or(content.content_type.clone())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let bytes = content.bytes.to_vec();
    let texty = mime_type.starts_with("text/")
        || ["json", "yaml", "xml", "javascript", "csv"]
            .iter()
            .any(|t| mime_type.contains(t));
    Ok(match (texty, String::from_utf8(bytes)) {
        (true, Ok(text)) => LinkContent::Text { text, mime_type },
        (_, Ok(text)) => LinkContent::Bytes {
            bytes: text.into_bytes(),
            mime_type,
        },
        (_, Err(error)) => LinkContent::Bytes {
            bytes: error.into_bytes(),
            mime_type,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_round_trip_with_every_segment_escaped() {
        let job = JobRef::in_build("acme", "web app", 42, "j/1");
        let link =
            artifact_link(&job, "a?b", "out/report.html", Some("text/html"), Some(9)).unwrap();
        assert_eq!(
            link.uri,
            "buildkite://artifacts/acme/web%20app/42/j%2F1/a%3Fb"
        );
        assert_eq!(parse(&link.uri), Some(Target::Artifact(job, "a?b".into())));
        let job = JobRef::in_build("acme", "app", 7, "job-1");
        let log = log_link(&job).unwrap();
        assert_eq!(log.uri, "buildkite://logs/acme/app/7/job-1");
        assert_eq!(parse(&log.uri), Some(Target::Log(job)));
        assert!(log_link(&JobRef::in_organization("acme", "job-1")).is_none());
        for bad in [
            "buildkite://logs/acme/app/x/job",
            "buildkite://logs/acme/app/7",
            "buildkite://logs/acme//7/job",
            "buildkite://debug-logs-guide",
            "https://logs/acme/app/7/job",
            "buildkite://logs/acme/app/7/%FF",
        ] {
            assert!(!is_link(bad), "{bad}");
        }
    }
}
