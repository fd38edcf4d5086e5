//! The `artifacts` toolset: list a build's or a job's artifacts, and get
//! one: its metadata, a short-lived download URL, and small text artifacts
//! inline.

use std::sync::Arc;

use async_trait::async_trait;
use buildkite_api::{Artifact, JobRef, ListArtifactsParams};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::args::{BuildNumber, NonEmpty, OrgSlug, PageNumber, PerPage};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::project::{pick, to_object};
use crate::tool::{Access, Handler, Tool, ToolContext, ToolMeta, tool};
use crate::tools::common::{page_params, paged};
use crate::toolset::Toolset;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        tool(ListArtifactsForBuild),
        tool(ListArtifactsForJob),
        tool(GetArtifact),
    ]
}

const SCOPES: &[&str] = &["read_artifacts"];

/// Largest artifact read inline, in bytes.
pub const INLINE_LIMIT: u64 = 64 * 1024;

/// How long a presigned URL lives when it does not say.
const DEFAULT_EXPIRY_SECONDS: u64 = 60;

/// Fields of an artifact, in output order.
const ARTIFACT_FIELDS: &[&str] = &[
    "id",
    "job_id",
    "state",
    "path",
    "filename",
    "mime_type",
    "file_size",
    "sha1sum",
];

fn artifact_view(artifact: &Artifact) -> Map<String, Value> {
    pick(&to_object(artifact), ARTIFACT_FIELDS)
}

// Only artifacts in this state: `new` (upload not finished), `error`
// (upload failed), `finished` (uploaded), `deleted` or `expired`. A plain
// comment: as a doc comment it would be the `state` parameter's description
// in every `tools/list`.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactState {
    New,
    Error,
    Finished,
    Deleted,
    Expired,
}

impl ArtifactState {
    fn as_str(self) -> &'static str {
        match self {
            ArtifactState::New => "new",
            ArtifactState::Error => "error",
            ArtifactState::Finished => "finished",
            ArtifactState::Deleted => "deleted",
            ArtifactState::Expired => "expired",
        }
    }
}

fn list_params(
    page: Option<PageNumber>,
    per_page: Option<PerPage>,
    state: Option<ArtifactState>,
    path: Option<String>,
) -> ListArtifactsParams {
    let paging = page_params(page, per_page, 30);
    ListArtifactsParams {
        state: state.map(|s| s.as_str().to_owned()),
        path: path.filter(|p| !p.trim().is_empty()),
        page: paging.page,
        per_page: paging.per_page,
    }
}

fn list_output(page: &buildkite_api::Page<Artifact>, params: &ListArtifactsParams) -> ToolOutput {
    let (page_no, per_page) = (params.page.unwrap_or(1), params.per_page.unwrap_or(30));
    let items = page
        .items
        .iter()
        .map(|a| Value::Object(artifact_view(a)))
        .collect();
    paged(page, page_no, per_page, items)
}

// ---------------------------------------------------------------------------
// list_artifacts_for_build

/// Arguments of `list_artifacts_for_build`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArtifactsForBuildArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, as in `buildkite.com/<org_slug>/<pipeline_slug>`.
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Artifacts per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
    // Only artifacts in this state.
    pub state: Option<ArtifactState>,
    /// Glob, e.g. "coverage/*" or "*.log".
    pub path: Option<String>,
}

/// `list_artifacts_for_build`.
#[derive(Debug)]
pub struct ListArtifactsForBuild;

#[async_trait]
impl Handler for ListArtifactsForBuild {
    type Args = ListArtifactsForBuildArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_artifacts_for_build",
        title: "List Build Artifacts",
        description: "Files a build's jobs uploaded, filtered by path glob or state: id, job_id, path, state, MIME type, size, SHA-1. Pass id and job_id to get_artifact to read one.",
        details: "Artifact states: `new` (upload not finished), `error` (upload failed), `finished` (uploaded), `deleted` and `expired`. 30 artifacts a page by default.",
        toolset: Toolset::Artifacts,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListArtifactsForBuildArgs,
    ) -> Result<ToolOutput, ToolError> {
        let params = list_params(args.page, args.per_page, args.state, args.path);
        let page = ctx
            .client
            .list_build_artifacts(
                &args.org_slug,
                &args.pipeline_slug,
                args.build_number.get(),
                &params,
            )
            .await
            .context("the build's artifacts", Self::META.scopes)?;
        Ok(list_output(&page, &params))
    }
}

// ---------------------------------------------------------------------------
// list_artifacts_for_job

/// Arguments of `list_artifacts_for_job`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArtifactsForJobArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, as in `buildkite.com/<org_slug>/<pipeline_slug>`.
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    // The job's UUID (from get_build or list_jobs).
    pub job_id: NonEmpty,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Artifacts per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
    // Only artifacts in this state.
    pub state: Option<ArtifactState>,
    /// Glob, e.g. "coverage/*" or "*.log".
    pub path: Option<String>,
}

/// `list_artifacts_for_job`.
#[derive(Debug)]
pub struct ListArtifactsForJob;

#[async_trait]
impl Handler for ListArtifactsForJob {
    type Args = ListArtifactsForJobArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_artifacts_for_job",
        title: "List Job Artifacts",
        description: "Files one job uploaded, filtered by path glob or state: id, path, state, MIME type, size, SHA-1. Pass id to get_artifact to read one.",
        details: "Artifact states as in list_artifacts_for_build. 30 artifacts a page by default.",
        toolset: Toolset::Artifacts,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListArtifactsForJobArgs,
    ) -> Result<ToolOutput, ToolError> {
        let params = list_params(args.page, args.per_page, args.state, args.path);
        let job = JobRef::in_build(
            args.org_slug.0,
            args.pipeline_slug.0,
            args.build_number.get(),
            args.job_id.0,
        );
        let page = ctx
            .client
            .list_job_artifacts(&job, &params)
            .await
            .context("the job's artifacts", Self::META.scopes)?;
        Ok(list_output(&page, &params))
    }
}

// ---------------------------------------------------------------------------
// get_artifact

/// Arguments of `get_artifact`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArtifactArgs {
    pub org_slug: OrgSlug,
    /// Pipeline slug, as in `buildkite.com/<org_slug>/<pipeline_slug>`.
    pub pipeline_slug: NonEmpty,
    // The build's number, e.g. "42" (not its UUID).
    pub build_number: BuildNumber,
    /// The artifact's job_id.
    pub job_id: NonEmpty,
    // The artifact's UUID (from list_artifacts_for_build or list_artifacts_for_job).
    pub artifact_id: NonEmpty,
}

/// `get_artifact`.
#[derive(Debug)]
pub struct GetArtifact;

#[async_trait]
impl Handler for GetArtifact {
    type Args = GetArtifactArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_artifact",
        title: "Get Artifact",
        description: "One artifact's metadata, with its content for text up to 64 KiB; otherwise a presigned download_url (~1 min; GET it with no Authorization header) and, up to 16 MiB, a resource_uri the client can read.",
        details: "Text files (logs, JSON, YAML, CSV, scripts…) of at most 64 KiB come inline in `content`, with `encoding: \"text\"`. Anything else comes with `encoding: \"url\"` and a `note` saying why it was not inlined; download_url expires after download_url_expires_in_seconds (about a minute), and calling get_artifact again gives a fresh one. Up to 16 MiB, resource_uri (also a resource link in the result) names the content as an MCP resource, which the server reads with the caller's own token. A deleted or expired artifact has `encoding: \"none\"` and no URL; when no URL can be obtained, the metadata comes with download_error.",
        toolset: Toolset::Artifacts,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(&self, ctx: &ToolContext, args: GetArtifactArgs) -> Result<ToolOutput, ToolError> {
        let job = JobRef::in_build(
            args.org_slug.0,
            args.pipeline_slug.0,
            args.build_number.get(),
            args.job_id.0,
        );
        let artifact = ctx
            .client
            .get_artifact(&job, &args.artifact_id)
            .await
            .context("the artifact", Self::META.scopes)?;
        let mut out = artifact_view(&artifact);

        if let Some(state @ ("deleted" | "expired")) = artifact.state.as_deref() {
            out.insert("encoding".into(), json!("none"));
            out.insert(
                "note".into(),
                json!(format!(
                    "the artifact is {state}: its content is no longer stored and cannot be downloaded"
                )),
            );
            return Ok(ToolOutput::json(out));
        }

        // The storage URL. A failure here must not hide the metadata.
        let location = match ctx
            .client
            .get_artifact_download_url(&job, &args.artifact_id)
            .await
        {
            Ok(location) => location,
            Err(error) => {
                out.insert("encoding".into(), json!("none"));
                out.insert(
                    "note".into(),
                    json!("the metadata above is valid, but no download URL could be obtained (see download_error); retry get_artifact later"),
                );
                out.insert(
                    "download_error".into(),
                    json!(describe(error, "the artifact's download URL")),
                );
                return Ok(ToolOutput::json(out));
            }
        };
        let url = location.url.clone();
        let expires = expires_in_seconds(&url);

        let mime = artifact.mime_type.as_deref().unwrap_or("");
        let text = is_text(mime, artifact.filename.as_deref());
        let small = artifact.file_size.is_none_or(|size| size <= INLINE_LIMIT);
        let mut content = None;
        let mut download_error = None;
        let note = if !text {
            format!(
                "not inlined: {} is not a text type; download it from download_url",
                if mime.is_empty() {
                    "the MIME type is unknown and".to_owned()
                } else {
                    format!("`{mime}`")
                }
            )
        } else if !small {
            format!(
                "not inlined: it is {} bytes, over the {INLINE_LIMIT}-byte inline limit; download it from download_url",
                artifact.file_size.unwrap_or_default()
            )
        } else {
            match ctx
                .client
                .download_artifact_from(&location, INLINE_LIMIT)
                .await
            {
                Ok(downloaded) => match String::from_utf8(downloaded.bytes.to_vec()) {
                    Ok(body) => {
                        content = Some(body);
                        String::new()
                    }
                    Err(_) => "not inlined: the content is not valid UTF-8 text; download it from download_url".to_owned(),
                },
                Err(buildkite_api::Error::TooLarge { .. }) => format!(
                    "not inlined: the content turned out larger than the {INLINE_LIMIT}-byte inline limit; download it from download_url"
                ),
                Err(error) => {
                    download_error = Some(describe(error, "the artifact's content"));
                    "not inlined: downloading it failed (see download_error); download it from download_url, or retry get_artifact".to_owned()
                }
            }
        };

        out.insert(
            "encoding".into(),
            json!(if content.is_some() { "text" } else { "url" }),
        );
        out.insert("download_url".into(), json!(url));
        out.insert("download_url_expires_in_seconds".into(), json!(expires));
        out.insert(
            "download_url_usage".into(),
            json!(format!(
                "a presigned URL: GET it directly with no Authorization header (never send the Buildkite token to it); it expires about {expires} s after this call, after which get_artifact gives a fresh one"
            )),
        );
        if !note.is_empty() {
            out.insert("note".into(), json!(note));
        }
        if let Some(error) = download_error {
            out.insert("download_error".into(), json!(error));
        }
        // Not inlined, but small enough for a resource read: a link the
        // client can read with the caller's credentials (`crate::links`).
        let link = (content.is_none()
            && artifact
                .file_size
                .is_none_or(|size| size <= crate::links::MAX_ARTIFACT_READ))
        .then(|| {
            crate::links::artifact_link(
                &job,
                &args.artifact_id,
                artifact.path.as_deref().unwrap_or(&args.artifact_id),
                artifact.mime_type.as_deref(),
                artifact.file_size,
            )
        })
        .flatten();
        if let Some(link) = &link {
            out.insert("resource_uri".into(), json!(link.uri));
        }
        if let Some(body) = content {
            out.insert("content".into(), json!(body));
        }
        Ok(ToolOutput::json(out).with_link(link))
    }
}

/// An API error as the text a tool error would have, for reporting inside
/// a successful result.
fn describe(error: buildkite_api::Error, what: &str) -> String {
    match Err::<(), _>(error).context(what, SCOPES) {
        Err(error) => error.to_string(),
        Ok(()) => String::new(),
    }
}

/// Seconds a presigned URL stays valid: its `X-Amz-Expires` (or
/// `X-Goog-Expires`) query parameter, or 60 when missing or invalid.
pub fn expires_in_seconds(url: &str) -> u64 {
    url::Url::parse(url)
        .ok()
        .and_then(|url| {
            url.query_pairs().find_map(|(key, value)| {
                (key.eq_ignore_ascii_case("x-amz-expires")
                    || key.eq_ignore_ascii_case("x-goog-expires"))
                .then(|| value.trim().parse::<u64>().ok())
                .flatten()
            })
        })
        .filter(|&seconds| seconds > 0)
        .unwrap_or(DEFAULT_EXPIRY_SECONDS)
}

/// Whether an artifact is text worth reading inline: `text/*` (except HTML
/// and XML), JSON (`application/json`, `*+json`, NDJSON), YAML, JavaScript
/// and shell scripts. Parameters (`; charset=…`) and case are ignored. When
/// the type is missing or `application/octet-stream`, a plain-text file
/// name (`.log`, `.txt`, …) decides instead.
pub fn is_text(mime: &str, filename: Option<&str>) -> bool {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence.is_empty() || essence == "application/octet-stream" {
        return filename.is_some_and(has_text_extension);
    }
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    match kind {
        "text" => !matches!(subtype, "html" | "xml"),
        "application" => {
            matches!(
                subtype,
                "json" | "yaml" | "x-yaml" | "javascript" | "x-javascript" | "x-sh" | "x-ndjson"
            ) || subtype.ends_with("+json")
        }
        _ => false,
    }
}

fn has_text_extension(filename: &str) -> bool {
    let lower = filename.to_ascii_lowercase();
    let Some((_, extension)) = lower.rsplit_once('.') else {
        return false;
    };
    matches!(
        extension,
        "log" | "txt" | "out" | "err" | "md" | "csv" | "tsv" | "json" | "ndjson" | "yaml" | "yml"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types() {
        for mime in [
            "text/plain",
            "TEXT/PLAIN; charset=utf-8",
            "text/csv",
            "text/markdown",
            "application/json",
            "application/vnd.api+json",
            "application/x-yaml",
            "application/yaml",
            "application/javascript",
            "application/x-sh",
            "application/x-ndjson",
        ] {
            assert!(is_text(mime, None), "{mime}");
        }
        for mime in [
            "text/html",
            "text/xml",
            "application/xml",
            "application/atom+xml",
            "application/xhtml+xml",
            "application/x-gzip",
            "image/png",
            "application/pdf",
            "plain",
        ] {
            assert!(!is_text(mime, Some("x.log")), "{mime}");
        }
        assert!(is_text("application/octet-stream", Some("build.LOG")));
        assert!(is_text("", Some("out.txt")));
        assert!(!is_text("", Some("app.tar.gz")));
        assert!(!is_text("", None));
    }

    #[test]
    fn expiry_comes_from_the_url() {
        assert_eq!(
            expires_in_seconds("https://s3.example/a?X-Amz-Expires=600&X-Amz-Signature=x"),
            600
        );
        assert_eq!(
            expires_in_seconds("https://storage.example/a?x-goog-expires=120"),
            120
        );
        assert_eq!(
            expires_in_seconds("https://s3.example/a?X-Amz-Expires=0"),
            60
        );
        assert_eq!(
            expires_in_seconds("https://s3.example/a?X-Amz-Expires=soon"),
            60
        );
        assert_eq!(expires_in_seconds("https://s3.example/a"), 60);
        assert_eq!(expires_in_seconds("not a url"), 60);
    }
}
