//! `tail_logs`: the last rows of one job's log (only the end of a log too
//! large to cache is downloaded), or its digest around the last error.

use std::time::Instant;

use async_trait::async_trait;
use bk_logs::LogRow;
use bk_logs::digest::DigestOptions;
use serde_json::{Map, Value, json};

use super::args::{log_args, shared_details};
use super::fit::{elapsed_ms, items_that_fit, size_of, truncation_note};
use super::job::{JobLog, SCOPES, Tail, TailFor};
use crate::args::Bounded;
use crate::error::ToolError;
use crate::shape::ToolOutput;
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::toolset::Toolset;

log_args! {
    /// Arguments of `tail_logs`.
    pub struct TailLogsArgs {
        /// Rows from the end (default 10); with digest, its most lines (default 60).
        pub tail: Option<Bounded<1, 10_000>>,
        // The digest: see the tool's description and details.
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
        description: "The last rows of one job's log: {entries: [{ts, c, rn}], total_rows}; ts is unix ms, c the visible text, rn the row number (a read_logs seek). digest=true gives instead the best first look at a failure: {lines: [{rn, c, x?}], error_row, error_line}, the rows around the last error and the log's end, repeats folded (x = rows a line stands for).",
        details: concat!(
            "An empty log gives no entries. For a very large log that is not cached yet, only its end is downloaded: the answer then has total_bytes and row_numbers_relative=true, and rn counts from the first complete line of the downloaded part, so it cannot be used as a read_logs seek. If the rows do not fit the response budget, the newest are kept and `truncated` says how to read the others with read_logs. The digest is a window around the log's last error (an error, failure, panic, exception or non-zero exit; benign lines such as \"0 failed\" are skipped) plus its last rows, as lines {rn, ts?, c, x?}: runs of repeated or counter-only-changing lines are folded into one with a count x, and a line whose c is \"…\" marks x rows left out; it also has total_rows. With digest, tail is the most lines the digest may have (default 60); for a log too large to cache, the digest covers its end only. Follow with search_logs to find errors elsewhere in the log.",
            shared_details!()
        ),
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
        // The whole log, for a client that wants more than the tail: a link
        // it may read as a resource (only for a log cached whole).
        let link = total_rows
            .filter(|&total| total > rows.len() as u64)
            .and_then(|_| crate::links::log_link(&args.job()));
        Ok(ToolOutput::json(Value::Object(out))
            .with_link(link)
            .trim_list("entries", move |kept| match (relative, first_row) {
                (false, Some(first)) => json!({
                    "tool": "read_logs",
                    "seek": first + kept as u64,
                    "note": "the newest rows were dropped: read them with read_logs from this seek",
                }),
                _ => json!({"tail": kept.max(1), "note": "ask for a smaller tail"}),
            }))
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
