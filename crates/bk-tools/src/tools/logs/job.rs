//! How the log tools and the investigations read a job's log: [`JobLog`]
//! (the job's [`JobRef`], the call's credentials and freshness) over the
//! engine; tails, whole or partial, and their notes; digests; and the
//! engine's errors phrased for the model.

use bk_logs::digest::{Digest, DigestOptions};
use bk_logs::{Engine, EntryKey, FetchPolicy, LogFile, LogRow, PartialTail, SearchQuery, Tailed};
use buildkite_api::{JobRef, JobState};
use serde_json::{Map, Value, json};

use crate::error::ToolError;
use crate::log_source::ApiLogSource;
use crate::tool::ToolContext;

/// The token scopes the log tools need.
pub(super) const SCOPES: &[&str] = &["read_build_logs"];

/// One job's log as a call reads it: the job, named by its [`JobRef`]
/// (which also gives the cache key), read with the call's credentials and
/// as fresh as the call asks. Every log tool and investigation reads logs
/// through it.
pub(crate) struct JobLog<'a> {
    logs: &'a Engine,
    source: ApiLogSource,
    policy: FetchPolicy,
}

impl<'a> JobLog<'a> {
    /// `job`'s log, read with `ctx`'s client and log engine.
    pub(crate) fn new(ctx: &'a ToolContext, job: JobRef, policy: FetchPolicy) -> Self {
        // `force_refresh` reads the job's state afresh too.
        let client = if policy.force_refresh {
            ctx.client.fresh_reads()
        } else {
            ctx.client.clone()
        };
        JobLog {
            logs: &ctx.logs,
            source: ApiLogSource::new(client, job),
            policy,
        }
    }

    /// The job's state, when the caller read it with the build: then the
    /// log is all that is asked for.
    pub(crate) fn with_state(mut self, state: Option<&JobState>) -> Self {
        if state.is_some() {
            self.source = self.source.with_state(state);
        }
        self
    }

    fn key(&self) -> EntryKey {
        self.source.key()
    }

    /// Runs `query` on the whole log (cached, or downloaded and cached).
    pub(crate) async fn query<T>(
        &self,
        query: impl Fn(&LogFile) -> bk_logs::Result<T>,
    ) -> Result<T, ToolError> {
        self.logs
            .query(&self.key(), &self.source, self.policy, query)
            .await
            .map_err(log_error)
    }

    /// The last `n` rows: from the whole log, or for a log too large to
    /// cache from its end, with notes saying so as `tail_for` needs.
    pub(crate) async fn tail(&self, n: usize, tail_for: TailFor) -> Result<Tail, ToolError> {
        let with_group = matches!(
            tail_for,
            TailFor::TailLogs {
                include_group: true
            }
        );
        let answer = self
            .logs
            .query_tail(&self.key(), &self.source, self.policy, n, |log| {
                Ok((log.tail(n, with_group)?, log.row_count(), job_state(log)))
            })
            .await
            .map_err(log_error)?;
        Ok(match answer {
            Tailed::Whole((rows, total_rows, state)) => Tail {
                rows,
                total_rows: Some(total_rows),
                notes: state,
            },
            Tailed::Partial(partial) => Tail {
                notes: partial_notes(&partial, tail_for),
                total_rows: None,
                rows: partial.rows,
            },
        })
    }

    /// The log's digest, with what the cache says about the job (for a job
    /// still running) or, for a log too large to cache, notes saying the
    /// digest covers its end only.
    pub(crate) async fn digest(
        &self,
        options: &DigestOptions,
    ) -> Result<(Digest, Map<String, Value>), ToolError> {
        let whole = self
            .logs
            .query(&self.key(), &self.source, self.policy, |log| {
                Ok((log.digest(options)?, job_state(log)))
            })
            .await;
        match whole {
            // Too large to cache: digest the end of the log.
            Err(bk_logs::Error::TooLarge(_)) => {
                let tail = self.tail(DIGEST_PARTIAL_ROWS, TailFor::Digest).await?;
                let digest = bk_logs::digest::digest_of_rows(&tail.rows, tail.row_count(), options);
                Ok((digest, tail.notes))
            }
            other => other.map_err(log_error),
        }
    }

    /// The log's error lines (as [`bk_logs::digest::classify`] sees them),
    /// newest first, at most `limit`.
    pub(crate) async fn error_lines(&self, limit: usize) -> Result<Vec<LogRow>, ToolError> {
        let query = SearchQuery {
            pattern: bk_logs::digest::ERROR_PATTERN.to_owned(),
            case_sensitive: true,
            reverse: true,
            limit: Some(limit),
            ..SearchQuery::default()
        };
        let found = self.query(|log| log.search(&query)).await?;
        Ok(found
            .hits
            .into_iter()
            .map(|hit| hit.row)
            .filter(|row| bk_logs::digest::classify(&row.content).is_some())
            .collect())
    }
}

/// Rows fetched from the end of a log too large to cache, to digest.
const DIGEST_PARTIAL_ROWS: usize = 2_000;

/// A job's last rows, from the whole (cached) log or from the end of one
/// too large to cache.
#[derive(Debug)]
pub(crate) struct Tail {
    /// The rows, oldest first.
    pub rows: Vec<LogRow>,
    /// The log's row count; `None` for the end of a log too large to
    /// cache, whose row numbers count from the part read.
    pub total_rows: Option<u64>,
    /// What the answer says beside the rows: the job's state (for a job
    /// still running), or the notes of a partial tail.
    pub notes: Map<String, Value>,
}

impl Tail {
    /// The log's row count, or for the end of a log too large to cache,
    /// the rows of the part read.
    pub(crate) fn row_count(&self) -> u64 {
        self.total_rows
            .unwrap_or_else(|| self.rows.last().map_or(0, |r| r.row + 1))
    }
}

/// Who shows a tail's rows, which decides what the notes of a partial tail
/// say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TailFor {
    /// `tail_logs`' own rows (with their groups, when asked for).
    TailLogs {
        /// Whether rows carry their group's name.
        include_group: bool,
    },
    /// Rows inside another tool's answer.
    Embedded,
    /// The rows a digest is made of.
    Digest,
}

/// What an answer says about rows read from the end of a log too large to
/// cache: its size, that row numbers count from the part read, and what
/// that means for `tail_for`. Every partial tail's notes are written here.
fn partial_notes(partial: &PartialTail, tail_for: TailFor) -> Map<String, Value> {
    let mut notes = Map::new();
    notes.insert("total_bytes".into(), json!(partial.total_bytes));
    if let TailFor::TailLogs { .. } = tail_for {
        notes.insert("tail_start_byte".into(), json!(partial.start_byte));
    }
    notes.insert("row_numbers_relative".into(), json!(true));
    let note = match tail_for {
        TailFor::TailLogs { include_group } => format!(
            "the log is {} bytes and not cached, so only its end was downloaded: rn counts from the first complete line of the downloaded part, not from the start of the log, so it cannot be used as a read_logs seek{}",
            partial.total_bytes,
            if include_group {
                "; group names are not known for a partial tail"
            } else {
                ""
            }
        ),
        TailFor::Digest => "the log is too large to cache: this digest covers its end only, and rn counts from the start of that part".to_owned(),
        TailFor::Embedded => return notes,
    };
    notes.insert("note".into(), json!(note));
    notes
}

/// The log engine's errors, phrased for the model. API failures keep their
/// status, call and hints (and a 401 stays flagged as unauthorized).
pub(super) fn log_error(error: bk_logs::Error) -> ToolError {
    match error {
        bk_logs::Error::Source(source) => {
            match source.downcast::<buildkite_api::Error>() {
                // As `ApiResultExt::context` does: the client's own message.
                Ok(buildkite_api::Error::InvalidArgument(message)) => ToolError::Other(message),
                Ok(api) => {
                    let what = match api {
                        buildkite_api::Error::NotFound { .. }
                        | buildkite_api::Error::Gone { .. } => {
                            "the job's log, which does not exist or which this token cannot read (only jobs that ran have a log; job_id is the job's UUID, from get_build or list_jobs)"
                        }
                        _ => "the job's log",
                    };
                    ToolError::Api {
                        what: what.to_owned(),
                        error: Box::new(api),
                        scopes: SCOPES,
                    }
                }
                Err(source) => ToolError::Logs(format!("Could not get the job's log: {source}.")),
            }
        }
        bk_logs::Error::TooLarge(message) => ToolError::Logs(format!(
            "The job's log is too large to download and index whole ({message}). Use tail_logs, which reads the end of a log of any size."
        )),
        bk_logs::Error::Pattern(message) => ToolError::invalid(
            "pattern",
            format!("is not a usable regular expression: {message}"),
        ),
        bk_logs::Error::InvalidArgument(message) => ToolError::Logs(message),
        other => ToolError::Logs(format!(
            "The log cache failed: {other}. Retry, with force_refresh=true if it happens again."
        )),
    }
}

/// What a cached log says about its job, added to results: only for a job
/// that had not finished when its log was fetched (the log may grow).
pub(super) fn job_state(log: &LogFile) -> Map<String, Value> {
    let meta = log.meta();
    let mut state = Map::new();
    if !meta.terminal {
        state.insert(
            "job_state".into(),
            json!(meta.job_state.as_deref().unwrap_or("unknown")),
        );
        state.insert("log_may_grow".into(), json!(true));
    }
    state
}
