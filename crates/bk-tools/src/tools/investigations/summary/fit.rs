//! Fitting a failure summary into its byte limit: shortening logs first
//! (halving digests around their error line), then annotation texts, then
//! test lists, then dropping sections and jobs; and cutting a text to a
//! byte size on a character boundary.

use serde_json::{Map, Value, json};

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
    mut out: Map<String, Value>,
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
        let text = deliver(&out, limits)?;
        if text.len() + reserve <= limit {
            break;
        }
        truncated = true;
        if !shrink(&mut out) {
            return Err(ToolError::Other(format!(
                "the failure summary does not fit in {limit} bytes even at its smallest; raise content_limit_bytes or ask for fewer jobs (max_jobs)"
            )));
        }
    }
    if truncated {
        out.insert("content_truncated".into(), json!(true));
    }
    out.insert("content_limit_bytes".into(), json!(limit));
    // The size depends on its own digits: iterate to the fixed point.
    let mut size = 0usize;
    for _ in 0..8 {
        out.insert("content_bytes".into(), json!(size));
        let text = deliver(&out, limits)?;
        if text.len() == size {
            break;
        }
        size = text.len();
    }
    Ok(ToolOutput::json(Value::Object(out)))
}

/// The text the model will receive for `out`.
fn deliver(out: &Map<String, Value>, limits: &Limits) -> Result<String, ToolError> {
    // No list may be trimmed by the shaping: this tool fits itself.
    let unlimited = Limits {
        response_budget: usize::MAX / 2,
        ..*limits
    };
    render(ToolOutput::json(Value::Object(out.clone())), &unlimited).map_err(ToolError::Other)
}

/// One step smaller. Returns false when nothing is left to shrink.
fn shrink(out: &mut Map<String, Value>) -> bool {
    // Halve each job's log, keeping the lines nearest its error (the
    // digest's end), until logs are 2 lines; then cut annotation texts;
    // then test lists; then drop the logs, annotations and tests; then jobs.
    let halved_logs = shrink_logs(out);
    if halved_logs {
        return true;
    }
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
    if let Some(Value::Array(jobs)) = out.get_mut("jobs") {
        // The last job is the least important: its log goes first.
        for job in jobs.iter_mut().rev() {
            if let Value::Object(job) = job
                && (job.remove("log").is_some() || job.remove("log_tail").is_some())
            {
                job.insert("log_removed".into(), json!(true));
                return true;
            }
        }
        if jobs.len() > 1 {
            jobs.pop();
            out.insert("jobs_truncated".into(), json!(true));
            return true;
        }
    }
    false
}

fn shrink_logs(out: &mut Map<String, Value>) -> bool {
    let Some(Value::Array(jobs)) = out.get_mut("jobs") else {
        return false;
    };
    let mut any = false;
    for job in jobs.iter_mut() {
        let Value::Object(job) = job else { continue };
        let error_row = job.get("error_row").and_then(Value::as_u64);
        let mut shrunk = false;
        if let Some(Value::Array(lines)) = job.get_mut("log")
            && lines.len() > 3
        {
            let before = lines.len();
            halve_digest(lines, error_row);
            // Gap markers can make a short digest no shorter: then it is done.
            shrunk = lines.len() < before;
        }
        if let Some(Value::Array(rows)) = job.get_mut("log_tail")
            && rows.len() > 2
        {
            // Raw rows: keep the newest.
            let drop = rows.len() / 2;
            rows.drain(..drop);
            shrunk = true;
        }
        if shrunk {
            job.insert("log_shortened".into(), json!(true));
            any = true;
        }
    }
    any
}

/// Rows a digest line stands for.
fn line_rows(line: &Value) -> u64 {
    line.get("x").and_then(Value::as_u64).unwrap_or(1)
}

/// A digest line standing for `rows` rows left out from row `rn`.
fn gap_line(rn: u64, rows: u64) -> Value {
    json!({"rn": rn, "c": bk_logs::digest::GAP, "x": rows})
}

/// Halves a digest's lines around its error line (two thirds of what is
/// kept before it), putting what is left out into gap lines, so every row
/// is still shown or counted.
fn halve_digest(lines: &mut Vec<Value>, error_row: Option<u64>) {
    let keep = (lines.len() / 2).max(1);
    let is_gap = |l: &Value| l.get("c").and_then(Value::as_str) == Some(bk_logs::digest::GAP);
    let error_index = error_row
        .and_then(|row| {
            lines.iter().rposition(|l| {
                !is_gap(l)
                    && l.get("rn")
                        .and_then(Value::as_u64)
                        .is_some_and(|rn| rn <= row)
            })
        })
        .unwrap_or(lines.len() - 1);
    let start = error_index
        .saturating_sub(keep * 2 / 3)
        .min(lines.len() - keep);
    let end = start + keep;
    let mut kept = Vec::with_capacity(keep + 2);
    if start > 0 {
        let rn = lines[0].get("rn").and_then(Value::as_u64).unwrap_or(0);
        kept.push(gap_line(rn, lines[..start].iter().map(line_rows).sum()));
    }
    kept.extend(lines[start..end].iter().cloned());
    if end < lines.len() {
        let rn = lines[end].get("rn").and_then(Value::as_u64).unwrap_or(0);
        kept.push(gap_line(rn, lines[end..].iter().map(line_rows).sum()));
    }
    // Adjacent gaps (a kept gap next to a new one) merge into one.
    let mut merged: Vec<Value> = Vec::with_capacity(kept.len());
    for line in kept {
        match merged.last_mut() {
            Some(last) if is_gap(last) && is_gap(&line) => {
                let rows = line_rows(last) + line_rows(&line);
                last["x"] = json!(rows);
            }
            _ => merged.push(line),
        }
    }
    *lines = merged;
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
