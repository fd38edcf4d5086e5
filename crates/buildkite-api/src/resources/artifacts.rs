//! Artifacts: list per build or job, get, resolve the download URL, and a
//! size-capped download.
//!
//! An artifact's `/download` route answers 302 with a short-lived presigned
//! URL on object storage. This client never follows that redirect with
//! credentials: the token and configured headers go to the API origin only.

use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use url::Url;

use super::jobs::JobRef;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::models::{Artifact, ArtifactContent, ArtifactDownloadUrl};
use crate::page::Page;
use crate::path;
use crate::request::ApiRequest;
use crate::response::{decode, next_chunk, read_body};

/// Filters for the artifact lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListArtifactsParams {
    /// Only artifacts in this state (`new`, `error`, `finished`, …).
    pub state: Option<String>,
    /// Only paths matching this glob (`*` wildcard).
    pub path: Option<String>,
    /// Page number.
    pub page: Option<u32>,
    /// Items per page (max 100).
    pub per_page: Option<u32>,
}

impl ListArtifactsParams {
    fn apply(&self, request: ApiRequest) -> ApiRequest {
        request
            .query_opt("state", self.state.as_deref())
            .query_opt("path", self.path.as_deref())
            .paging(self.page, self.per_page)
    }
}

impl Client {
    /// `GET …/builds/{number}/artifacts`: every job's artifacts.
    pub async fn list_build_artifacts(
        &self,
        org: &str,
        pipeline: &str,
        number: u64,
        params: &ListArtifactsParams,
    ) -> Result<Page<Artifact>> {
        let request = ApiRequest::get(path::build(org, pipeline, number)?.lit("artifacts"));
        self.page(params.apply(request)).await
    }

    /// `GET …/jobs/{job}/artifacts`.
    pub async fn list_job_artifacts(
        &self,
        job: &JobRef,
        params: &ListArtifactsParams,
    ) -> Result<Page<Artifact>> {
        let request = ApiRequest::get(job.path()?.lit("artifacts"));
        self.page(params.apply(request)).await
    }

    /// `GET …/jobs/{job}/artifacts/{id}`.
    pub async fn get_artifact(&self, job: &JobRef, artifact_id: &str) -> Result<Artifact> {
        let path = job
            .path()?
            .lit("artifacts")
            .segment("artifact id", artifact_id)?;
        self.json(ApiRequest::get(path)).await
    }

    /// `GET …/artifacts/{id}/download` without following the redirect: the
    /// presigned URL (valid about 60 s) to fetch without credentials.
    pub async fn get_artifact_download_url(
        &self,
        job: &JobRef,
        artifact_id: &str,
    ) -> Result<ArtifactDownloadUrl> {
        let path = job
            .path()?
            .lit("artifacts")
            .segment("artifact id", artifact_id)?
            .lit("download");
        let request = ApiRequest::get(path).keep_redirects();
        let info = self.info(&request)?;
        let response = self.send(request).await?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| response.url().join(v).ok());
            return match location {
                Some(url) => Ok(ArtifactDownloadUrl {
                    url: url.to_string(),
                }),
                None => Err(Error::Http {
                    request: info,
                    status,
                    message: "the download redirect has no valid Location header".into(),
                }),
            };
        }
        // Some deployments answer 200 with `{"url": "…"}` instead.
        #[derive(Deserialize)]
        struct UrlBody {
            url: String,
        }
        let body = read_body(&info, response).await?;
        let parsed: UrlBody = decode(&info, &body)?;
        Ok(ArtifactDownloadUrl { url: parsed.url })
    }

    /// Downloads an artifact's content, failing with [`Error::TooLarge`] as
    /// soon as it is known to exceed `max_bytes`. Credentials are only sent
    /// if the storage URL is on the API's own origin.
    pub async fn download_artifact(
        &self,
        job: &JobRef,
        artifact_id: &str,
        max_bytes: u64,
    ) -> Result<ArtifactContent> {
        let location = self.get_artifact_download_url(job, artifact_id).await?;
        self.download_artifact_from(&location, max_bytes).await
    }

    /// Downloads from a URL [`Client::get_artifact_download_url`] gave (it
    /// is short-lived: use it at once), capped at `max_bytes`.
    pub async fn download_artifact_from(
        &self,
        location: &ArtifactDownloadUrl,
        max_bytes: u64,
    ) -> Result<ArtifactContent> {
        let url = Url::parse(&location.url).map_err(|e| {
            Error::InvalidArgument(format!("the artifact download URL is not valid: {e}"))
        })?;
        let request = ApiRequest::to_url(Method::GET, url.clone())
            .header(ACCEPT, HeaderValue::from_static("*/*"))
            .streaming();
        let info = self.info(&request)?;
        let from_storage = !self.is_api_origin(&url);
        let mut response = self.send(request).await.map_err(|error| {
            if from_storage {
                storage_error(error)
            } else {
                error
            }
        })?;
        if response.status() != StatusCode::OK {
            return Err(Error::Http {
                request: info,
                status: response.status(),
                message: "unexpected status from artifact storage".into(),
            });
        }
        let announced = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if announced.is_some_and(|size| size > max_bytes) {
            return Err(Error::TooLarge {
                request: info,
                limit: max_bytes,
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        loop {
            let Some(chunk) = next_chunk(&info, &mut response).await? else {
                break;
            };
            if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(Error::TooLarge {
                    request: info,
                    limit: max_bytes,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(ArtifactContent {
            bytes: bytes.into(),
            content_type,
        })
    }
}

/// Object storage answers with its own errors: a 403 there means the
/// presigned URL expired or was refused, not that the token lacks a scope.
fn storage_error(error: Error) -> Error {
    match (error.request(), error.status()) {
        (Some(request), Some(status)) if !matches!(error, Error::TooLarge { .. }) => Error::Http {
            request: request.clone(),
            status,
            message: format!(
                "artifact storage refused the download ({}); presigned URLs expire (often within a minute), so request the artifact again",
                error.api_message().unwrap_or("no details")
            ),
        },
        _ => error,
    }
}
