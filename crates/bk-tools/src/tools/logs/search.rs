//! `search_logs`: a regular expression over one job's log, with context,
//! forwards or backwards, as matches or as a folded digest.

use std::time::Instant;

use async_trait::async_trait;
use bk_logs::{SearchHit, SearchQuery};
use serde_json::{Map, Value, json};

use super::args::{RowNumber, log_args, shared_details};
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
        /// Rust regex (RE2-like: no look-around or backreferences), matched against `c`.
        pub pattern: NonEmpty,
        /// Rows of context on each side of a match (default 0).
        pub context: Option<Bounded<0, 100>>,
        /// Rows above each match (lower rn); default context.
        pub before_context: Option<Bounded<0, 100>>,
        /// Rows below each match (higher rn); default context.
        pub after_context: Option<Bounded<0, 100>>,
        // Match case exactly (default: ignore case).
        #[serde(default)]
        pub case_sensitive: bool,
        // Return the rows that do NOT match the pattern.
        #[serde(default)]
        pub invert_match: bool,
        /// Search backwards from the end (or seek_start): newest match first.
        #[serde(default)]
        pub reverse: bool,
        /// First row searched, inclusive (default the first, or the last with reverse).
        pub seek_start: Option<RowNumber>,
        /// Most matches (default 20).
        pub limit: Option<Bounded<1, 1000>>,
        /// Return {lines, match_rows}: matches and context as one list, repeats folded.
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
        description: "Searches one job's log for a regex, case-insensitive by default, on the visible text: {results: [{match, before_context?, after_context?}], match_count, limited, next_seek_start?, total_rows}, rows being {ts, c, rn}. When limited, call again with seek_start=next_seek_start; to see more around a match, read_logs from a little before its rn. E.g. \"error|fail|panic\".",
        details: concat!(
            "The pattern is matched against the same text as c (colour removed), case-insensitively unless case_sensitive is true. context sets the rows shown on both sides of a match; before_context and after_context override it for their side. Context never repeats a row and never hides another match: when matches are close, their context is split between them. With reverse, the search starts at the end (or at seek_start) and goes towards row 0, newest match first; before_context still means the rows above a match (lower rn) and after_context those below. invert_match returns the rows that do not match. At most limit matches come back (default 20, at most 1,000); when limited is true there may be more, from seek_start=next_seek_start. If the matches do not fit the response budget, the first are kept and `truncated` says where to continue. digest returns, instead of results, one compact list of lines: runs of repeated or counter-only-changing lines folded into one with a count x, gaps between non-adjacent rows marked \"…\" with the number of rows left out in x, and the match rows listed in match_rows. Typical patterns: \"error|fail|panic\", \"exit status [1-9]\".",
            shared_details!()
        ),
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
