//! The `logs` toolset: tail, search and read one job's log.
//!
//! Every call goes through the log engine ([`bk_logs::Engine`]): the caller's
//! token is checked with a `HEAD` on the log each time, then the cached,
//! indexed copy is used (a finished job's for good, a running job's for
//! `cache_ttl`) or the log is downloaded and indexed once. Rows come back as
//! `{ts?, c, rn}` (plus `group` when asked): `c` is the text a terminal
//! shows (colour removed, progress redraws resolved), and patterns match
//! that same text.
//!
//! Unlike the reference server, nothing returns a whole log: every list is
//! bounded by a limit and by the response budget, and says where to continue.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bk_logs::digest::{Digest, DigestOptions};
use bk_logs::{
    Engine, EntryKey, FetchPolicy, LogFile, LogRow, PartialTail, SearchHit, SearchQuery, Tailed,
};
use buildkite_api::{Error as ApiError, JobRef, JobState};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::args::{Bounded, BuildNumber, NonEmpty};
use crate::error::ToolError;
use crate::log_source::ApiLogSource;
use crate::shape::ToolOutput;
use crate::tool::{Access, Handler, Tool, ToolContext, ToolMeta, tool};
use crate::toolset::Toolset;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![tool(SearchLogs), tool(TailLogs), tool(ReadLogs)]
}

const SCOPES: &[&str] = &["read_build_logs"];

/// A row number (the engine indexes at most 4 GiB of text, so fewer rows).
type RowNumber = Bounded<0, 4_294_967_295>;

/// Defines a log tool's arguments: the job, the cache policy, the tool's own
/// parameters, then `include_group`. Every field is documented here, once.
macro_rules! log_args {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Organization slug, as in the Buildkite URL (e.g. `acme`).
            pub org_slug: NonEmpty,
            /// Pipeline slug, as in the Buildkite URL (e.g. `web-app`).
            pub pipeline_slug: NonEmpty,
            /// The build's number (e.g. "42"), not its UUID.
            pub build_number: BuildNumber,
            /// The job's UUID: the `id` of a job from get_build or list_jobs.
            pub job_id: NonEmpty,
            /// How long the cached log of a job that is still running may be reused before it is downloaded again: a duration such as "30s", "5m", "1h" or "500ms", or a number of seconds (default 30s). A finished job's log cannot change, so it is always reused.
            pub cache_ttl: Option<CacheTtl>,
            /// Download the log again even when the cached copy is fresh (default false).
            #[serde(default)]
            pub force_refresh: bool,
            $( $(#[$field_meta])* pub $field: $ty, )*
            /// Add to each row the name of the log group (the `---`, `+++` or `~~~` section) it belongs to, as `group` (default false).
            #[serde(default)]
            pub include_group: bool,
        }

        impl $name {
            /// The job's log, read as this call asks.
            fn log<'a>(&self, ctx: &'a ToolContext) -> JobLog<'a> {
                let job = JobRef::in_build(
                    self.org_slug.to_string(),
                    self.pipeline_slug.to_string(),
                    self.build_number.get(),
                    self.job_id.to_string(),
                );
                let policy = FetchPolicy {
                    cache_ttl: self
                        .cache_ttl
                        .map_or(bk_logs::DEFAULT_CACHE_TTL, |ttl| ttl.0),
                    force_refresh: self.force_refresh,
                };
                JobLog::new(ctx, job, policy)
            }
        }
    };
}

/// `cache_ttl`: a duration, parsed strictly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTtl(pub Duration);

impl<'de> Deserialize<'de> for CacheTtl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = CacheTtl;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration string such as \"30s\", \"5m\" or \"1h\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<CacheTtl, E> {
                parse_duration(text).map(CacheTtl).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl JsonSchema for CacheTtl {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string" })
    }
}

/// Longest `cache_ttl` accepted.
const MAX_CACHE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses "30s", "5m", "1h30m", "500ms", "1.5h" (Go's duration syntax) or a
/// plain number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let invalid = || {
        format!(
            "{text:?} is not a duration; use e.g. \"30s\", \"5m\", \"1h\", \"500ms\" or a number of seconds"
        )
    };
    if trimmed.is_empty() {
        return Err(
            "must not be empty; leave it out for the default (30s), or give e.g. \"30s\", \"5m\", \"1h\""
                .into(),
        );
    }
    let mut seconds = 0f64;
    let mut rest = trimmed;
    if rest.parse::<f64>().is_ok() && rest.chars().all(|c| c.is_ascii_digit() || c == '.') {
        seconds = rest.parse::<f64>().map_err(|_| invalid())?;
        rest = "";
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        seconds += number * scale;
        rest = &rest[unit_len..];
    }
    let duration = Duration::try_from_secs_f64(seconds).map_err(|_| invalid())?;
    if duration > MAX_CACHE_TTL {
        return Err(format!(
            "{text:?} is longer than the 7-day maximum; a finished job's log is reused anyway, so a long TTL only matters for running jobs"
        ));
    }
    Ok(duration)
}

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
fn log_error(error: bk_logs::Error) -> ToolError {
    match error {
        bk_logs::Error::Source(source) => {
            match source.downcast::<ApiError>() {
                // As `ApiResultExt::context` does: the client's own message.
                Ok(ApiError::InvalidArgument(message)) => ToolError::Other(message),
                Ok(api) => {
                    let what = match api {
                        ApiError::NotFound { .. } | ApiError::Gone { .. } => {
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
fn job_state(log: &LogFile) -> Map<String, Value> {
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

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Room for the truncation note in a pre-fitted result.
const NOTE_ALLOWANCE: usize = 400;

/// How many items (of the given serialised sizes, taken from the front)
/// fit in a `budget`-byte result whose other fields take `overhead` bytes.
/// Leaves a margin for what shaping may add; at least one item is kept
/// (the response budget then shortens its strings).
fn items_that_fit(sizes: &[usize], budget: usize, overhead: usize) -> usize {
    let room = budget
        .saturating_sub(budget / 16)
        .saturating_sub(overhead + NOTE_ALLOWANCE);
    let mut used = 0usize;
    let mut kept = 0usize;
    for size in sizes {
        used += size + 1;
        if used > room {
            break;
        }
        kept += 1;
    }
    kept.max(1).min(sizes.len())
}

fn size_of(value: &impl Serialize) -> usize {
    serde_json::to_string(value).map_or(0, |text| text.len())
}

/// The note a pre-fitted result carries, in the response budget's shape.
fn truncation_note(budget: usize, kept: usize, dropped: usize, next: Value) -> Value {
    json!({
        "reason": format!("the result was larger than the {budget}-byte response budget"),
        "items_returned": kept,
        "items_dropped": dropped,
        "next": next,
    })
}

log_args! {
    /// Arguments of `search_logs`.
    pub struct SearchLogsArgs {
        /// Regular expression to look for (Rust regex syntax, like RE2: no look-around or backreferences). It is matched against each row's visible text, as returned in `c` (colour codes removed). Case-insensitive unless case_sensitive is true.
        pub pattern: NonEmpty,
        /// Rows of context to show both before and after each match, 0–100 (default 0). before_context and after_context override it for their side.
        pub context: Option<Bounded<0, 100>>,
        /// Rows to show just above each match (lower row numbers), 0–100. Defaults to context.
        pub before_context: Option<Bounded<0, 100>>,
        /// Rows to show just below each match (higher row numbers), 0–100. Defaults to context.
        pub after_context: Option<Bounded<0, 100>>,
        /// Match case exactly (default false: ignore case).
        #[serde(default)]
        pub case_sensitive: bool,
        /// Return the rows that do NOT match the pattern (default false).
        #[serde(default)]
        pub invert_match: bool,
        /// Search backwards from the end of the log (or from seek_start), newest match first (default false).
        #[serde(default)]
        pub reverse: bool,
        /// Row number to start from, inclusive. Forwards: default 0 (the first row). With reverse: default the last row, and the search goes towards row 0. To continue a limited search, pass next_seek_start.
        pub seek_start: Option<RowNumber>,
        /// Most matches to return, 1–1000 (default 20).
        pub limit: Option<Bounded<1, 1000>>,
        /// Return the matches and their context as one compact list of lines instead of per-match objects: runs of repeated or counter-only-changing lines folded into one with a count `x`, gaps between non-adjacent rows marked "…" with the number of rows left out in `x`, and the match rows listed in match_rows (default false).
        #[serde(default)]
        pub digest: bool,
    }
}

/// `search_logs`.
#[derive(Debug)]
pub struct SearchLogs;

#[async_trait]
impl Handler for SearchLogs {
    type Args = SearchLogsArgs;
    const META: ToolMeta = ToolMeta {
        name: "search_logs",
        title: "Search Logs",
        description: "Searches one job's log for a regular expression and returns the matching rows, each with optional context: {results: [{match, before_context?, after_context?}], match_count, limited, next_seek_start?, total_rows}. A row is {ts (unix ms, when the line has one), c (the text as a terminal shows it: colour removed, progress redraws resolved), rn (0-based row number)}; the pattern is matched against that same text, case-insensitively by default. Context never repeats a row and never hides another match: when matches are close, their context is split between them. reverse=true searches from the end backwards and returns the newest matches first; before_context still means the rows above a match (lower rn) and after_context the rows below it. invert_match returns the rows that do not match. At most limit matches (default 20) come back; when limited is true there may be more: call again with seek_start=next_seek_start. To see more around a match, use read_logs with seek a little below its rn. Typical patterns: \"error|fail|panic\", \"exit status [1-9]\". The log is downloaded and indexed once, then served from the cache.",
        toolset: Toolset::Logs,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(&self, ctx: &ToolContext, args: SearchLogsArgs) -> Result<ToolOutput, ToolError> {
        // Refuse a bad pattern before any request.
        bk_logs::compile(&args.pattern, args.case_sensitive).map_err(log_error)?;
        let started = Instant::now();
        let log = args.log(ctx);
        let context = args.context.map_or(0, Bounded::as_usize);
        let query = SearchQuery {
            pattern: args.pattern.to_string(),
            case_sensitive: args.case_sensitive,
            invert: args.invert_match,
            before: args.before_context.map_or(context, Bounded::as_usize),
            after: args.after_context.map_or(context, Bounded::as_usize),
            reverse: args.reverse,
            seek_start: args.seek_start.map(|s| s.get().unsigned_abs()),
            limit: Some(args.limit.map_or(20, Bounded::as_usize)),
            with_group: args.include_group,
        };
        let (found, total_rows, state) = log
            .query(|log| Ok((log.search(&query)?, log.row_count(), job_state(log))))
            .await?;

        let reverse = args.reverse;
        // Where a search continues after `hit`: the next row in its direction.
        let after = move |hit: &SearchHit| -> Option<u64> {
            if reverse {
                hit.row.row.checked_sub(1)
            } else {
                Some(hit.row.row + 1).filter(|&next| next < total_rows)
            }
        };
        let mut hits = found.hits;
        let budget = ctx.limits.response_budget;
        let sizes: Vec<usize> = hits.iter().map(size_of).collect();
        let overhead = size_of(&state) + 200;
        let kept = items_that_fit(&sizes, budget, overhead);
        let trimmed = kept < hits.len();
        let dropped = hits.split_off(kept);
        let next_seek_start = if trimmed || found.limited {
            hits.last().and_then(after)
        } else {
            None
        };

        let mut out = Map::new();
        out.insert("match_count".into(), json!(hits.len()));
        out.insert("limited".into(), json!(found.limited));
        if let Some(next) = next_seek_start {
            out.insert("next_seek_start".into(), json!(next));
        }
        out.insert("total_rows".into(), json!(total_rows));
        out.extend(state);
        if trimmed {
            out.insert(
                "truncated".into(),
                truncation_note(
                    budget,
                    hits.len(),
                    dropped.len(),
                    json!({"seek_start": next_seek_start, "limit": hits.len()}),
                ),
            );
        }
        out.insert("query_time_ms".into(), json!(elapsed_ms(started)));
        let continue_from: Vec<Option<u64>> = hits.iter().map(after).collect();
        let mut ordered = Map::new();
        if args.digest {
            let match_rows: Vec<u64> = hits.iter().map(|h| h.row.row).collect();
            ordered.insert("lines".into(), json!(bk_logs::digest::fold_hits(&hits)));
            ordered.insert("match_rows".into(), json!(match_rows));
            ordered.extend(out);
            return Ok(
                ToolOutput::json(Value::Object(ordered)).trim_list("lines", move |_| {
                    json!({
                        "seek_start": continue_from.last().copied().flatten(),
                        "note": "ask for fewer matches (limit) or less context",
                    })
                }),
            );
        }
        ordered.insert("results".into(), json!(hits));
        ordered.extend(out);
        Ok(ToolOutput::json(Value::Object(ordered)).trim_list("results", move |kept| {
            json!({
                "seek_start": kept.checked_sub(1).and_then(|last| continue_from.get(last).copied().flatten()),
                "note": "continue the search from this seek_start (it replaces next_seek_start)",
            })
        }))
    }
}

log_args! {
    /// Arguments of `tail_logs`.
    pub struct TailLogsArgs {
        /// How many rows to return from the end of the log, 1–10000 (default 10). With digest, the most lines the digest may have (default 60).
        pub tail: Option<Bounded<1, 10_000>>,
        /// Instead of the last rows, return a digest of the log: a window around its last error (an error, failure, panic, exception or non-zero exit; benign lines such as "0 failed" skipped) plus its last rows, with repeated or counter-only-changing lines folded into one with a count `x`, and gaps marked "…" with the number of rows left out in `x`. Best first look at a failed job (default false).
        #[serde(default)]
        pub digest: bool,
    }
}

/// `tail_logs`.
#[derive(Debug)]
pub struct TailLogs;

#[async_trait]
impl Handler for TailLogs {
    type Args = TailLogsArgs;
    const META: ToolMeta = ToolMeta {
        name: "tail_logs",
        title: "Tail Logs",
        description: "The last rows of one job's log (default 10): the quickest way to see why a job failed. Returns {entries: [{ts, c, rn}], total_rows}: ts is unix ms (when the line has one), c the text as a terminal shows it (colour removed, progress redraws resolved), rn the 0-based row number, usable as seek in read_logs. An empty log gives no entries. For a very large log that is not cached yet, only its end is downloaded: the result then has total_bytes and row_numbers_relative=true, and rn counts from the start of the downloaded part, not of the log. If the rows do not fit the response budget, the newest are kept. Follow with search_logs to find errors elsewhere in the log. With digest=true it returns instead {lines: [{rn, ts?, c, x?}], error_row, error_line, total_rows}: the rows around the log's last error and its last rows, repeated lines folded (x = how many rows a line stands for; c = \"…\" marks x rows left out).",
        toolset: Toolset::Logs,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(&self, ctx: &ToolContext, args: TailLogsArgs) -> Result<ToolOutput, ToolError> {
        let started = Instant::now();
        let log = args.log(ctx);
        if args.digest {
            return tail_digest(&args, &log, started).await;
        }
        let n = args.tail.map_or(10, Bounded::as_usize);
        let include_group = args.include_group;
        let Tail {
            mut rows,
            total_rows,
            notes,
        } = log.tail(n, TailFor::TailLogs { include_group }).await?;

        let budget = ctx.limits.response_budget;
        let mut out = Map::new();
        let mut extra = Map::new();
        if let Some(total_rows) = total_rows {
            extra.insert("total_rows".into(), json!(total_rows));
        }
        extra.extend(notes);
        let relative = total_rows.is_none();
        // Keep the newest rows: drop from the front what does not fit.
        let sizes: Vec<usize> = rows.iter().rev().map(size_of).collect();
        let kept = items_that_fit(&sizes, budget, size_of(&extra) + 100);
        let dropped = rows.len() - kept;
        let earlier: Vec<LogRow> = rows.drain(..dropped).collect();
        out.insert("entries".into(), json!(rows));
        out.extend(extra);
        if dropped > 0 {
            let next = if relative {
                json!({"tail": kept, "note": "the oldest rows were dropped; ask for a smaller tail"})
            } else {
                json!({
                    "tool": "read_logs",
                    "seek": earlier.first().map_or(0, |r| r.row),
                    "limit": dropped,
                    "note": "the oldest rows were dropped to keep the newest; read them with read_logs",
                })
            };
            out.insert(
                "truncated".into(),
                truncation_note(budget, kept, dropped, next),
            );
        }
        out.insert("query_time_ms".into(), json!(elapsed_ms(started)));
        let first_row = rows.first().map(|r| r.row);
        Ok(
            ToolOutput::json(Value::Object(out)).trim_list("entries", move |kept| {
                match (relative, first_row) {
                    (false, Some(first)) => json!({
                        "tool": "read_logs",
                        "seek": first + kept as u64,
                        "note": "the newest rows were dropped: read them with read_logs from this seek",
                    }),
                    _ => json!({"tail": kept.max(1), "note": "ask for a smaller tail"}),
                }
            }),
        )
    }
}

/// `tail_logs` with `digest`: the window around the last error, folded.
async fn tail_digest(
    args: &TailLogsArgs,
    log: &JobLog<'_>,
    started: Instant,
) -> Result<ToolOutput, ToolError> {
    let options = DigestOptions {
        max_lines: args
            .tail
            .map_or(DigestOptions::default().max_lines, Bounded::as_usize),
        ..DigestOptions::default()
    };
    let (digest, notes) = log.digest(&options).await?;
    let mut ordered = Map::new();
    ordered.insert("lines".into(), json!(digest.lines));
    if let Some(row) = digest.error_row {
        ordered.insert("error_row".into(), json!(row));
    }
    if let Some(line) = digest.error_line {
        ordered.insert("error_line".into(), json!(line));
    }
    ordered.insert("total_rows".into(), json!(digest.total_rows));
    ordered.extend(notes);
    ordered.insert("query_time_ms".into(), json!(elapsed_ms(started)));
    Ok(ToolOutput::json(Value::Object(ordered)).trim_list(
        "lines",
        |kept| json!({"tail": kept.max(1), "digest": true, "note": "ask for a shorter digest"}),
    ))
}

log_args! {
    /// Arguments of `read_logs`.
    pub struct ReadLogsArgs {
        /// Row number to start at, 0-based (default 0). A row past the end gives no entries.
        pub seek: Option<RowNumber>,
        /// Most rows to return, 1–10000 (default 200). To read on, call again with seek=next_seek.
        pub limit: Option<Bounded<1, 10_000>>,
    }
}

/// `read_logs`.
#[derive(Debug)]
pub struct ReadLogs;

#[async_trait]
impl Handler for ReadLogs {
    type Args = ReadLogsArgs;
    const META: ToolMeta = ToolMeta {
        name: "read_logs",
        title: "Read Logs",
        description: "Reads consecutive rows of one job's log, from row seek (default 0), at most limit rows (default 200): {entries: [{ts, c, rn}], total_rows, next_seek?}. ts is unix ms (when the line has one), c the text as a terminal shows it (colour removed, progress redraws resolved), rn the 0-based row number. When next_seek is present more rows follow: call again with seek=next_seek. It never returns a whole large log at once. Use it to read around a row found by search_logs or tail_logs (seek a few rows before its rn); to find a row, search first.",
        toolset: Toolset::Logs,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(&self, ctx: &ToolContext, args: ReadLogsArgs) -> Result<ToolOutput, ToolError> {
        let started = Instant::now();
        let log = args.log(ctx);
        let seek = args.seek.map_or(0, |s| s.get().unsigned_abs());
        let limit = args.limit.map_or(200, Bounded::as_usize);
        let with_group = args.include_group;
        let (mut rows, total_rows, state) = log
            .query(|log| {
                Ok((
                    log.read(seek, limit, with_group)?,
                    log.row_count(),
                    job_state(log),
                ))
            })
            .await?;

        let budget = ctx.limits.response_budget;
        let sizes: Vec<usize> = rows.iter().map(size_of).collect();
        let kept = items_that_fit(&sizes, budget, size_of(&state) + 200);
        let dropped = rows.split_off(kept.min(rows.len())).len();
        let next_seek = seek.saturating_add(rows.len() as u64);

        let mut out = Map::new();
        out.insert("entries".into(), json!(rows));
        out.insert("total_rows".into(), json!(total_rows));
        if next_seek < total_rows {
            out.insert("next_seek".into(), json!(next_seek));
        }
        if seek >= total_rows && total_rows > 0 {
            out.insert(
                "note".into(),
                json!(format!(
                    "seek {seek} is past the end: the log has {total_rows} rows (0 to {})",
                    total_rows - 1
                )),
            );
        }
        out.extend(state);
        if dropped > 0 {
            out.insert(
                "truncated".into(),
                truncation_note(
                    budget,
                    rows.len(),
                    dropped,
                    json!({"seek": next_seek, "limit": rows.len().max(1)}),
                ),
            );
        }
        out.insert("query_time_ms".into(), json!(elapsed_ms(started)));
        Ok(
            ToolOutput::json(Value::Object(out)).trim_list("entries", move |kept| {
                json!({
                    "seek": seek + kept as u64,
                    "limit": kept.max(1),
                    "note": "continue reading from this seek (it replaces next_seek)",
                })
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go_or_as_seconds() {
        let ok = |text: &str| parse_duration(text).unwrap();
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1.5m"), Duration::from_secs(90));
        assert_eq!(ok("45"), Duration::from_secs(45));
        assert_eq!(ok(" 0 "), Duration::ZERO);
        for bad in ["", "5 minutes", "-5s", "5x", "s", "1e3", "10d", "1..5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(
            parse_duration("200h")
                .unwrap_err()
                .contains("7-day maximum")
        );
    }

    #[test]
    fn items_fit_from_the_front_and_at_least_one_is_kept() {
        assert_eq!(items_that_fit(&[10; 100], 1_000_000, 0), 100);
        assert_eq!(items_that_fit(&[100_000], 1000, 0), 1);
        assert_eq!(items_that_fit(&[], 1000, 0), 0);
        let kept = items_that_fit(&[99; 100], 4000, 100);
        assert!(kept > 20 && kept < 40, "{kept}");
    }
}
