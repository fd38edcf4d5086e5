//! Fitting a failure summary into its byte limit: shortening logs first
//! (halving digests around their error line, with `Digest::halve`), then
//! annotation texts, then test lists, then dropping sections and jobs; and
//! cutting a text to a byte size on a character boundary.

use serde_json::{Map, Value, json};

use super::draft::{Draft, DraftJob, LogSection};
use crate::error::ToolError;
use crate::limits::Limits;
use crate::shape::{ToolOutput, render};

/// Cuts `text` to at most `max` bytes on a character boundary, marking the
/// cut with "…".
pub(super) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Fits the summary to `limit` bytes: logs are shortened first (fewer lines
/// per job, oldest first), then annotation texts, then test lists, then
/// jobs; `content_bytes` is set to the exact size of the delivered text.
pub(super) fn fit(
    mut draft: Draft,
    limit: usize,
    limits: &Limits,
) -> Result<ToolOutput, ToolError> {
    // Room for the fields added once it fits (the size is at most `limit`).
    let reserve = format!(
        r#","content_truncated":true,"content_limit_bytes":{limit},"content_bytes":{limit}"#
    )
    .len();
    let mut truncated = false;
    loop {
        let text = deliver(draft.render(), limits)?;
        if text.len() + reserve <= limit {
            break;
        }
        truncated = true;
        if !shrink(&mut draft) {
            return Err(ToolError::Other(format!(
                "the failure summary does not fit in {limit} bytes even at its smallest; raise content_limit_bytes or ask for fewer jobs (max_jobs)"
            )));
        }
    }
    let mut out = draft.render();
    if truncated {
        out.insert("content_truncated".into(), json!(true));
    }
    out.insert("content_limit_bytes".into(), json!(limit));
    // The size depends on its own digits: iterate to the fixed point.
    let mut size = 0usize;
    for _ in 0..8 {
        out.insert("content_bytes".into(), json!(size));
        let text = deliver(out.clone(), limits)?;
        if text.len() == size {
            break;
        }
        size = text.len();
    }
    Ok(ToolOutput::json(Value::Object(out)))
}

/// The text the model will receive for `out`.
fn deliver(out: Map<String, Value>, limits: &Limits) -> Result<String, ToolError> {
    // No list may be trimmed by the shaping: this tool fits itself.
    let unlimited = Limits {
        response_budget: usize::MAX / 2,
        ..*limits
    };
    render(ToolOutput::json(Value::Object(out)), &unlimited).map_err(ToolError::Other)
}

/// One step smaller. Returns false when nothing is left to shrink.
fn shrink(draft: &mut Draft) -> bool {
    // Halve each job's log, keeping the lines nearest its error (the
    // digest's end), until logs are 2 lines; then cut annotation texts;
    // then test lists; then drop the logs, annotations and tests; then jobs.
    if shrink_logs(&mut draft.jobs) {
        return true;
    }
    let out = &mut draft.fields;
    if shrink_strings(out, "annotations", "text", 256) {
        return true;
    }
    if shrink_tests(out) {
        return true;
    }
    for key in ["flaky_tests", "annotations", "test_runs"] {
        if out.remove(key).is_some() {
            return true;
        }
    }
    // The last job is the least important: its log goes first.
    if let Some(job) = draft.jobs.iter_mut().rev().find(|job| job.shows_log()) {
        job.removed = true;
        return true;
    }
    if draft.jobs.len() > 1 {
        draft.jobs.pop();
        out.insert("jobs_truncated".into(), json!(true));
        return true;
    }
    false
}

/// Halves each job's log: a digest around its error line, raw rows from
/// the oldest. Returns whether any got shorter.
fn shrink_logs(jobs: &mut [DraftJob]) -> bool {
    let mut any = false;
    for job in jobs.iter_mut().filter(|job| !job.removed) {
        let shrunk = match &mut job.log {
            Some(LogSection::Digest { digest, .. }) if digest.lines.len() > 3 => {
                let before = digest.lines.len();
                digest.halve();
                // Gap markers can make a short digest no shorter: then it is done.
                digest.lines.len() < before
            }
            Some(LogSection::Tail { rows, .. }) if rows.len() > 2 => {
                // Raw rows: keep the newest.
                let drop = rows.len() / 2;
                rows.drain(..drop);
                true
            }
            _ => false,
        };
        if shrunk {
            job.shortened = true;
            any = true;
        }
    }
    any
}

fn shrink_strings(out: &mut Map<String, Value>, list: &str, field: &str, floor: usize) -> bool {
    let Some(Value::Array(items)) = out.get_mut(list) else {
        return false;
    };
    let mut shrunk = false;
    for item in items.iter_mut() {
        if let Some(Value::String(text)) = item.get_mut(field)
            && text.len() > floor
        {
            *text = cut(text, (text.len() / 2).max(floor));
            shrunk = true;
        }
    }
    shrunk
}

fn shrink_tests(out: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(groups)) = out.get_mut("failed_tests") else {
        return false;
    };
    let mut shrunk = false;
    for group in groups.iter_mut() {
        if let Some(Value::Array(tests)) = group.get_mut("tests")
            && tests.len() > 1
        {
            tests.truncate(tests.len() / 2);
            shrunk = true;
        }
    }
    if !shrunk && groups.len() > 1 {
        groups.pop();
        shrunk = true;
    }
    if shrunk {
        out.insert("failed_tests_truncated".into(), json!(true));
    }
    shrunk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("héllo wörld", 6), "hé…");
        assert_eq!(cut("héllo", 4), "h…");
        assert_eq!(cut("abc", 3), "abc");
    }
}
