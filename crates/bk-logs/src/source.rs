//! Where raw logs come from. The engine knows nothing of HTTP: a
//! [`LogSource`] for one job is implemented over the Buildkite API elsewhere
//! (in `bk-tools`), and over files or memory in tests.

use std::fmt;

use async_trait::async_trait;

/// Why a source could not deliver. The original error is kept so callers can
/// recover it (e.g. the API's status and message) with
/// [`SourceError::downcast_ref`].
#[derive(Debug)]
pub struct SourceError {
    kind: SourceErrorKind,
    inner: Box<dyn std::error::Error + Send + Sync>,
}

/// What kind of failure a [`SourceError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceErrorKind {
    /// The credentials were refused (401).
    Unauthorized,
    /// The log does not exist or the caller may not read it.
    Unavailable,
    /// Anything else (server error, network, …).
    Other,
}

impl SourceError {
    /// Wraps an error of the given kind.
    pub fn new(
        kind: SourceErrorKind,
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        SourceError {
            kind,
            inner: error.into(),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> SourceErrorKind {
        self.kind
    }

    /// The original error, if it is an `E`, by value; otherwise the source
    /// error back.
    pub fn downcast<E: std::error::Error + 'static>(self) -> Result<E, SourceError> {
        match self.inner.downcast::<E>() {
            Ok(error) => Ok(*error),
            Err(inner) => Err(SourceError {
                kind: self.kind,
                inner,
            }),
        }
    }

    /// The original error, if it is an `E`.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.inner.downcast_ref::<E>()
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.inner.as_ref())
    }
}

/// A job's state, as far as caching is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// The state's name, e.g. `running` or `passed`.
    pub state: Option<String>,
    /// Whether the job has finished, so its log can no longer change.
    pub terminal: bool,
}

/// The last bytes of a log, from a ranged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTail {
    /// The bytes; unless `start` is 0 they may begin mid-line.
    pub bytes: Vec<u8>,
    /// Offset of `bytes` in the whole log.
    pub start: u64,
    /// Size of the whole log.
    pub total_size: u64,
}

/// A raw log arriving in chunks.
#[async_trait]
pub trait LogChunks: Send {
    /// The next chunk, or `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, SourceError>;

    /// The whole log's size, when the source announced it before sending
    /// (an HTTP `Content-Length`), so an over-large log is refused, or read
    /// by its tail, before any of it is read.
    fn total_size(&self) -> Option<u64> {
        None
    }
}

/// The log of one job.
#[async_trait]
pub trait LogSource: Send + Sync {
    /// Checks that the caller may read the log and returns its size when
    /// known, with the caller's own credentials. The engine calls it before
    /// serving a cached entry (at most once per [`EngineOptions::access_recheck`]
    /// for a caller and job, when [`LogSource::caller`] names the caller);
    /// a download needs no separate check, since fetching the log with the
    /// caller's credentials checks them.
    ///
    /// [`EngineOptions::access_recheck`]: crate::EngineOptions::access_recheck
    async fn authorize(&self) -> Result<Option<u64>, SourceError>;

    /// An opaque, stable identity of the caller's credentials (never the
    /// credentials themselves), so a recent access check can be reused;
    /// `None` checks on every access.
    fn caller(&self) -> Option<String> {
        None
    }

    /// The job's state.
    async fn job_status(&self) -> Result<JobStatus, SourceError>;

    /// The whole raw log, streamed.
    async fn fetch(&self) -> Result<Box<dyn LogChunks>, SourceError>;

    /// The last `max_bytes` bytes of the raw log.
    async fn fetch_tail(&self, max_bytes: u64) -> Result<RawTail, SourceError>;
}

/// A source over bytes in memory, for tests and local files.
#[derive(Debug, Clone)]
pub struct MemorySource {
    /// The raw log.
    pub log: Vec<u8>,
    /// The status to report.
    pub status: JobStatus,
}

#[async_trait]
impl LogSource for MemorySource {
    async fn authorize(&self) -> Result<Option<u64>, SourceError> {
        Ok(Some(self.log.len() as u64))
    }

    async fn job_status(&self) -> Result<JobStatus, SourceError> {
        Ok(self.status.clone())
    }

    async fn fetch(&self) -> Result<Box<dyn LogChunks>, SourceError> {
        Ok(Box::new(MemoryChunks {
            remaining: self.log.clone(),
            total: self.log.len() as u64,
        }))
    }

    async fn fetch_tail(&self, max_bytes: u64) -> Result<RawTail, SourceError> {
        let total = self.log.len() as u64;
        let start = total.saturating_sub(max_bytes);
        Ok(RawTail {
            bytes: self.log[start as usize..].to_vec(),
            start,
            total_size: total,
        })
    }
}

struct MemoryChunks {
    remaining: Vec<u8>,
    total: u64,
}

#[async_trait]
impl LogChunks for MemoryChunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, SourceError> {
        if self.remaining.is_empty() {
            return Ok(None);
        }
        let take = self.remaining.len().min(64 * 1024);
        let rest = self.remaining.split_off(take);
        Ok(Some(std::mem::replace(&mut self.remaining, rest)))
    }

    fn total_size(&self) -> Option<u64> {
        Some(self.total)
    }
}
