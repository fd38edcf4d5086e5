//! `read_logs`: consecutive rows of one job's log, from a row on, paged.

use std::time::Instant;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::args::{RowNumber, log_args, shared_details};
use super::fit::{elapsed_ms, items_that_fit, size_of, truncation_note};
use super::job::{SCOPES, job_state};
use crate::args::Bounded;
use crate::error::ToolError;
use crate::shape::ToolOutput;
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::toolset::Toolset;

log_args! {
    /// Arguments of `read_logs`.
    pub struct ReadLogsArgs {
        /// First row, 0-based (default 0).
        pub seek: Option<RowNumber>,
        /// Most rows (default 200).
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
        description: "Consecutive rows of one job's log from row seek: {entries: [{ts, c, rn}], total_rows, next_seek?}. While next_seek is present, more rows follow: call again with seek=next_seek. Use it to read around a row found by tail_logs or search_logs (seek a few rows before its rn).",
        details: concat!(
            "It never returns a whole large log at once: at most limit rows (default 200, at most 10,000), fewer if they do not fit the response budget (`truncated` then says where to continue). A seek past the end gives no entries and a note with the log's row count. To find a row, search first.",
            shared_details!()
        ),
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
