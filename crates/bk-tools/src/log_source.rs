//! [`ApiLogSource`]: the log engine's [`LogSource`] over the Buildkite API.
//!
//! It lives here, not in `buildkite-api` (which depends on no workspace
//! crate) nor in `bk-logs` (which knows no HTTP), because this is the first
//! crate that sees both.

use async_trait::async_trait;
use bk_logs::EntryKey;
use bk_logs::source::{JobStatus, LogChunks, LogSource, RawTail, SourceError, SourceErrorKind};
use buildkite_api::{Client, Error, JobRef, LogStream};

/// The log of one job, fetched with `client` (and so with its caller's
/// credentials).
#[derive(Debug, Clone)]
pub struct ApiLogSource {
    client: Client,
    job: JobRef,
    /// The job's state when the caller already read it (from the build's
    /// job list), so it is not asked for again.
    known_status: Option<JobStatus>,
}

impl ApiLogSource {
    /// A source for `job`, fetched with `client`.
    pub fn new(client: Client, job: JobRef) -> Self {
        ApiLogSource {
            client,
            job,
            known_status: None,
        }
    }

    /// The job's log's cache key: its organization and UUID. Job UUIDs
    /// are unique, so a job reached through its build or its organization
    /// has one entry.
    pub fn key(&self) -> EntryKey {
        match &self.job {
            JobRef::InBuild { org, job_id, .. } | JobRef::InOrganization { org, job_id } => {
                EntryKey::new(org.clone(), job_id.clone())
            }
        }
    }

    /// The job's state, as the caller read it: the engine asks the API for
    /// nothing more than the log.
    pub fn with_state(mut self, state: Option<&buildkite_api::JobState>) -> Self {
        self.known_status = Some(JobStatus {
            state: state.map(ToString::to_string),
            terminal: state.is_some_and(buildkite_api::JobState::is_terminal),
        });
        self
    }
}

/// Sorts API errors into what the engine acts on. The original error stays
/// inside, for messages that name the call and the missing scope.
fn source_error(error: Error) -> SourceError {
    let kind = match error {
        Error::Unauthorized { .. } => SourceErrorKind::Unauthorized,
        Error::NotFound { .. } | Error::Forbidden { .. } | Error::Gone { .. } => {
            SourceErrorKind::Unavailable
        }
        _ => SourceErrorKind::Other,
    };
    SourceError::new(kind, error)
}

#[async_trait]
impl LogSource for ApiLogSource {
    async fn authorize(&self) -> Result<Option<u64>, SourceError> {
        self.client
            .get_job_log_size(&self.job)
            .await
            .map_err(source_error)
    }

    fn caller(&self) -> Option<String> {
        Some(self.client.credential_id().as_text())
    }

    async fn job_status(&self) -> Result<JobStatus, SourceError> {
        if let Some(known) = &self.known_status {
            return Ok(known.clone());
        }
        let job = match self.client.get_job(&self.job).await {
            Ok(job) => job,
            // The state only decides how long the log is cached. A token
            // that may read logs but not builds (`read_build_logs` without
            // `read_builds`) still gets its log, cached as if still running.
            Err(Error::Forbidden { .. } | Error::NotFound { .. }) => {
                return Ok(JobStatus {
                    state: None,
                    terminal: false,
                });
            }
            Err(error) => return Err(source_error(error)),
        };
        Ok(JobStatus {
            terminal: job.state.as_ref().is_some_and(|s| s.is_terminal()),
            state: job.state.map(|s| s.to_string()),
        })
    }

    async fn fetch(&self) -> Result<Box<dyn LogChunks>, SourceError> {
        let stream = self
            .client
            .get_job_log(&self.job)
            .await
            .map_err(source_error)?;
        Ok(Box::new(ApiChunks(stream)))
    }

    async fn fetch_tail(&self, max_bytes: u64) -> Result<RawTail, SourceError> {
        let tail = self
            .client
            .get_job_log_tail(&self.job, max_bytes)
            .await
            .map_err(source_error)?;
        Ok(RawTail {
            bytes: tail.bytes.to_vec(),
            start: tail.start,
            total_size: tail.total_size,
        })
    }
}

struct ApiChunks(LogStream);

#[async_trait]
impl LogChunks for ApiChunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, SourceError> {
        let chunk = self.0.next_chunk().await.map_err(source_error)?;
        Ok(chunk.map(|bytes| bytes.to_vec()))
    }

    fn total_size(&self) -> Option<u64> {
        self.0.content_length()
    }
}
