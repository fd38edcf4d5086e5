//! `search_logs`: a regular expression over one job's log, with context,
//! forwards or backwards, as matches or as a folded digest.

use std::time::Instant;

use async_trait::async_trait;
use bk_logs::{SearchHit, SearchQuery};
use serde_json::{Map, Value, json};

use super::args::{RowNumber, log_args};
use super::fit::{elapsed_ms, items_that_fit, size_of, truncation_note};
use super::job::{SCOPES, job_state, log_error};
use crate::args::{Bounded, NonEmpty};
use crate::error::ToolError;
use crate::shape::ToolOutput;
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::toolset::Toolset;

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
        details: "",
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
