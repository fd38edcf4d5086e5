//! Digests: the part of a log that explains a failure, compacted.
//!
//! The parser has already removed ANSI codes and collapsed `\r` progress
//! redraws. A digest then:
//! - picks a window around the **last error line** (an error, failure,
//!   panic, exception or non-zero exit), not just the last N rows, skipping
//!   benign look-alikes such as `0 failed` and preferring a specific error
//!   to the agent's generic "command exited with status 1";
//! - folds runs of repeated lines, including lines that differ only in their
//!   numbers (progress counters), into one line with a count;
//! - keeps the log's last rows (the exit status) after a gap marker.
//!
//! [`normalize`] makes error lines comparable across builds (timestamps,
//! ids, durations and temp paths replaced), for telling new errors from old.
//!
//! Its parts: [`classify`] and [`pick_error`] (which lines are errors, in
//! `error_line.rs`) and [`normalize`] (in `normalize.rs`); this module
//! windows, folds and shrinks.

use std::ops::Range;

use serde::Serialize;

use crate::error::Result;
use crate::query::{LogFile, LogRow, SearchQuery};

use self::error_line::error_regex;
pub use self::error_line::{ERROR_PATTERN, ErrorKind, classify, pick_error};
pub use self::normalize::normalize;

mod error_line;
mod normalize;

/// How much a digest shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestOptions {
    /// Rows of context before the error line.
    pub before: usize,
    /// Rows of context after the error line.
    pub after: usize,
    /// Last rows of the log always shown (the exit status).
    pub tail: usize,
    /// Most lines in the digest after folding.
    pub max_lines: usize,
    /// How far back (in matching rows) to look for a specific error.
    pub max_candidates: usize,
}

impl Default for DigestOptions {
    fn default() -> Self {
        DigestOptions {
            before: 30,
            after: 10,
            tail: 5,
            max_lines: 60,
            max_candidates: 400,
        }
    }
}

/// One line of a digest: a row, or a run of similar rows folded into one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestLine {
    /// Row number of the first row of the run.
    pub rn: u64,
    /// Timestamp of the last row of the run, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    /// Text of the last row of the run (the final state of a counter).
    pub c: String,
    /// How many rows the line stands for, when more than one.
    #[serde(rename = "x", skip_serializing_if = "is_one")]
    pub repeat: u64,
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

impl DigestLine {
    /// Whether this line marks rows left out (`x` of them) rather than
    /// showing one.
    pub fn is_gap(&self) -> bool {
        self.c == GAP
    }
}

/// A digest of a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    /// The lines, in row order. A line with `c == "…"` and `x` marks a gap
    /// of `x` rows left out.
    pub lines: Vec<DigestLine>,
    /// The row of the error the window is centred on, if one was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_row: Option<u64>,
    /// The error line itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_line: Option<String>,
    /// Rows in the log.
    pub total_rows: u64,
}

impl Digest {
    /// Halves the digest: keeps half of its lines (at least one) around
    /// the error line, as [`Digest::shrink_to`] does.
    pub fn halve(&mut self) {
        self.shrink_to((self.lines.len() / 2).max(1));
    }

    /// Keeps `keep` of the lines (at least one): the error line's
    /// neighbourhood, two thirds of them before it, as the digest's own
    /// window is chosen. What is left out before and after becomes a gap
    /// line, merged with a gap next to it, so every row is still shown or
    /// counted. Gap lines come on top of `keep`: a digest of a few lines
    /// may not get shorter.
    pub fn shrink_to(&mut self, keep: usize) {
        let keep = keep.max(1);
        if self.lines.len() <= keep {
            return;
        }
        let kept = around_error(&self.lines, self.error_row, keep);
        let rows_in = |lines: &[DigestLine]| lines.iter().map(|l| l.repeat).sum::<u64>();
        let mut lines = Vec::with_capacity(keep + 2);
        if let Some(first) = self.lines.first().filter(|_| kept.start > 0) {
            lines.push(gap(first.rn, rows_in(&self.lines[..kept.start])));
        }
        lines.extend_from_slice(&self.lines[kept.clone()]);
        if let Some(next) = self.lines.get(kept.end) {
            lines.push(gap(next.rn, rows_in(&self.lines[kept.end..])));
        }
        // A kept gap next to a new one merges with it.
        let mut merged: Vec<DigestLine> = Vec::with_capacity(lines.len());
        for line in lines {
            match merged.last_mut() {
                Some(last) if last.is_gap() && line.is_gap() => last.repeat += line.repeat,
                _ => merged.push(line),
            }
        }
        self.lines = merged;
    }
}

/// The marker text of a gap line.
pub const GAP: &str = "…";

/// The shape of a line for folding: digits and surrounding whitespace
/// ignored, so `Downloading 3/120` and `Downloading 4/120` fold together.
fn shape(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_digits = false;
    for ch in line.trim().chars() {
        if ch.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(ch);
        }
    }
    out
}

/// Folds runs of rows with the same shape into one line each, keeping the
/// last row's text and timestamp. Rows must be in order; a jump in row
/// numbers ends a run.
pub fn fold(rows: &[LogRow]) -> Vec<DigestLine> {
    let mut lines: Vec<DigestLine> = Vec::new();
    let mut last_shape = String::new();
    let mut last_row: Option<u64> = None;
    for row in rows {
        let row_shape = shape(&row.content);
        let contiguous = last_row.is_some_and(|r| r + 1 == row.row);
        match lines.last_mut() {
            Some(line) if contiguous && row_shape == last_shape => {
                line.repeat += 1;
                line.c.clone_from(&row.content);
                line.ts = row.ts.or(line.ts);
            }
            _ => {
                lines.push(DigestLine {
                    rn: row.row,
                    ts: row.ts,
                    c: row.content.clone(),
                    repeat: 1,
                });
                last_shape = row_shape;
            }
        }
        last_row = Some(row.row);
    }
    lines
}

/// A gap line standing for `rows` rows left out, starting at `rn`.
fn gap(rn: u64, rows: u64) -> DigestLine {
    DigestLine {
        rn,
        ts: None,
        c: GAP.to_owned(),
        repeat: rows,
    }
}

/// Which `keep` of `lines` to show: the error's neighbourhood (the last
/// line that is not a gap and starts at or before `error_row`, else the
/// last line), with two thirds of them before it, moved back when the
/// error is near the end so that no line is wasted.
fn around_error(lines: &[DigestLine], error_row: Option<u64>, keep: usize) -> Range<usize> {
    let keep = keep.min(lines.len());
    let error_index = error_row
        .and_then(|row| lines.iter().rposition(|l| !l.is_gap() && l.rn <= row))
        .unwrap_or(lines.len().saturating_sub(1));
    let start = error_index
        .saturating_sub(keep * 2 / 3)
        .min(lines.len() - keep);
    start..start + keep
}

/// Builds a digest from the rows of a window and the log's last rows.
/// `window` and `tail` must each be in row order.
pub fn digest_rows(
    window: &[LogRow],
    tail: &[LogRow],
    error: Option<&LogRow>,
    total_rows: u64,
    max_lines: usize,
) -> Digest {
    // Gap markers are lines too: up to three of them (before the window,
    // between the window and the tail, after the window) are reserved.
    let budget = max_lines.saturating_sub(3).max(1);
    let window_end = window.last().map_or(0, |r| r.row + 1);
    let tail_rows: Vec<LogRow> = tail
        .iter()
        .filter(|r| r.row >= window_end)
        .cloned()
        .collect();
    let mut tail_lines = fold(&tail_rows);
    // The tail (the exit status) gets at most a quarter of the lines.
    let tail_budget = tail_lines.len().min(budget / 4);
    tail_lines.drain(..tail_lines.len() - tail_budget);
    let window_budget = budget.saturating_sub(tail_lines.len()).max(1);
    let mut window_lines = fold(window);
    if window_lines.len() > window_budget {
        let kept = around_error(&window_lines, error.map(|e| e.row), window_budget);
        window_lines.truncate(kept.end);
        window_lines.drain(..kept.start);
    }
    // Assemble, with a gap line wherever rows are left out, so every row
    // is shown or counted.
    let mut lines = Vec::with_capacity(window_lines.len() + tail_lines.len() + 3);
    let mut next_row = 0u64;
    for line in window_lines.into_iter().chain(tail_lines) {
        if line.rn > next_row {
            lines.push(gap(next_row, line.rn - next_row));
        }
        next_row = line.rn + line.repeat;
        lines.push(line);
    }
    if next_row > 0 && next_row < total_rows {
        lines.push(gap(next_row, total_rows - next_row));
    }
    Digest {
        lines,
        error_row: error.map(|e| e.row),
        error_line: error.map(|e| e.content.clone()),
        total_rows,
    }
}

/// The digest of rows already in memory (e.g. the end of a log too large
/// to cache): the same window, folding and tail as [`LogFile::digest`].
/// `rows` must be in row order; `total_rows` is the log's row count, when
/// known.
pub fn digest_of_rows(rows: &[LogRow], total_rows: u64, options: &DigestOptions) -> Digest {
    let newest_first = rows.iter().rev().take(options.max_candidates.max(1) * 4);
    let error = pick_error(newest_first.filter(|r| error_regex().is_match(&r.content)));
    let position = error.and_then(|e| rows.iter().position(|r| r.row == e.row));
    let (start, end) = match position {
        Some(at) => (
            at.saturating_sub(options.before),
            (at + 1 + options.after).min(rows.len()),
        ),
        None => (
            rows.len()
                .saturating_sub(options.before + options.after + 1),
            rows.len(),
        ),
    };
    let tail_start = rows.len().saturating_sub(options.tail).max(end);
    digest_rows(
        &rows[start..end],
        &rows[tail_start..],
        error,
        total_rows,
        options.max_lines,
    )
}

/// Folds the rows of search hits (each hit's context and match, hits in any
/// order) into digest lines, with a gap line between runs that are not
/// adjacent.
pub fn fold_hits(hits: &[crate::query::SearchHit]) -> Vec<DigestLine> {
    let mut rows: Vec<LogRow> = hits
        .iter()
        .flat_map(|h| {
            h.before_context
                .iter()
                .chain(std::iter::once(&h.row))
                .chain(h.after_context.iter())
                .cloned()
        })
        .collect();
    rows.sort_by_key(|r| r.row);
    rows.dedup_by_key(|r| r.row);
    let mut lines = Vec::new();
    let mut run_start = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || rows[i].row != rows[i - 1].row + 1 {
            if run_start > 0 {
                let gap_start = rows[run_start - 1].row + 1;
                lines.push(gap(gap_start, rows[run_start].row - gap_start));
            }
            lines.extend(fold(&rows[run_start..i]));
            run_start = i;
        }
    }
    lines
}

impl LogFile {
    /// The digest of this log: a window around its last error (or its end,
    /// when no error line is found), folded, with its last rows.
    pub fn digest(&self, options: &DigestOptions) -> Result<Digest> {
        let total = self.row_count();
        if total == 0 {
            return Ok(digest_rows(&[], &[], None, 0, options.max_lines));
        }
        let found = self.search(&SearchQuery {
            pattern: ERROR_PATTERN.to_owned(),
            case_sensitive: true,
            reverse: true,
            limit: Some(options.max_candidates),
            ..SearchQuery::default()
        })?;
        let error = pick_error(found.hits.iter().map(|h| &h.row)).cloned();
        let (start, end) = match &error {
            Some(row) => (
                row.row.saturating_sub(options.before as u64),
                (row.row + 1 + options.after as u64).min(total),
            ),
            None => (
                total.saturating_sub((options.before + options.after + 1) as u64),
                total,
            ),
        };
        let window = self.rows(start..end, false)?;
        let tail_start = total.saturating_sub(options.tail as u64).max(end);
        let tail = self.rows(tail_start..total, false)?;
        Ok(digest_rows(
            &window,
            &tail,
            error.as_ref(),
            total,
            options.max_lines,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(texts: &[&str]) -> Vec<LogRow> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| LogRow {
                ts: Some(1_000 + i as i64),
                content: (*t).to_owned(),
                row: i as u64,
                group: None,
            })
            .collect()
    }

    #[test]
    fn fold_counts_repeats_and_keeps_the_final_counter() {
        let log = rows(&[
            "Downloading 1/3",
            "Downloading 2/3",
            "Downloading 3/3",
            "warning: unused",
            "warning: unused",
            "done",
        ]);
        let lines = fold(&log);
        assert_eq!(lines.len(), 3);
        assert_eq!(
            (lines[0].rn, lines[0].c.as_str(), lines[0].repeat),
            (0, "Downloading 3/3", 3)
        );
        assert_eq!(lines[0].ts, Some(1_002));
        assert_eq!((lines[1].rn, lines[1].repeat), (3, 2));
        assert_eq!((lines[2].c.as_str(), lines[2].repeat), ("done", 1));
        let json = serde_json::to_string(&lines[2]).unwrap();
        assert_eq!(json, r#"{"rn":5,"ts":1005,"c":"done"}"#);
    }

    #[test]
    fn fold_does_not_join_rows_across_a_gap() {
        let mut log = rows(&["same", "same"]);
        log[1].row = 7;
        assert_eq!(fold(&log).len(), 2);
    }

    #[test]
    fn digest_rows_marks_gaps_and_keeps_the_tail() {
        let log = rows(&[
            "setup",
            "a",
            "b",
            "error: boom",
            "c",
            "d",
            "e",
            "f",
            "g",
            "exit 1",
        ]);
        let digest = digest_rows(&log[2..5], &log[8..], Some(&log[3]), 10, 60);
        let texts: Vec<_> = digest
            .lines
            .iter()
            .map(|l| (l.rn, l.c.as_str(), l.repeat))
            .collect();
        assert_eq!(
            texts,
            vec![
                (0, GAP, 2),
                (2, "b", 1),
                (3, "error: boom", 1),
                (4, "c", 1),
                (5, GAP, 3),
                (8, "g", 1),
                (9, "exit 1", 1)
            ]
        );
        assert_eq!(digest.error_row, Some(3));
        assert_eq!(digest.error_line.as_deref(), Some("error: boom"));
    }

    #[test]
    fn digest_rows_over_the_limit_keeps_the_error() {
        let texts: Vec<String> = (0..200)
            .map(|i| format!("line {i} {}", "x".repeat(i % 7)))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut log = rows(&refs);
        log[150].content = "panic: nil pointer".into();
        let digest = digest_rows(&log, &[], Some(&log[150]), 200, 20);
        assert!(digest.lines.len() <= 21, "{}", digest.lines.len());
        assert!(digest.lines.iter().any(|l| l.c == "panic: nil pointer"));
        let covered: u64 = digest.lines.iter().map(|l| l.repeat).sum();
        assert_eq!(covered, 200, "every row is shown or counted in a gap");
    }

    #[test]
    fn digest_of_rows_uses_the_same_window() {
        let mut texts: Vec<String> = (0..100).map(|i| format!("step {i}")).collect();
        texts[60] = "fatal: could not read from remote".into();
        texts[99] = "🚨 Error: The command exited with status 128".into();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let log = rows(&refs);
        let digest = digest_of_rows(&log, 100, &DigestOptions::default());
        assert_eq!(digest.error_row, Some(60));
        assert_eq!(
            digest.lines.first().map(|l| (l.c.as_str(), l.repeat)),
            Some((GAP, 30))
        );
        assert!(digest.lines.iter().any(|l| l.c.starts_with("🚨")));
        let covered: u64 = digest.lines.iter().map(|l| l.repeat).sum();
        assert_eq!(covered, 100);
    }

    #[test]
    fn fold_hits_joins_context_and_marks_gaps() {
        use crate::query::SearchHit;
        let log = rows(&["a", "err 1", "b", "c", "d", "e", "err 2", "f"]);
        let hit = |m: usize, before: &[usize], after: &[usize]| SearchHit {
            row: log[m].clone(),
            before_context: before.iter().map(|&i| log[i].clone()).collect(),
            after_context: after.iter().map(|&i| log[i].clone()).collect(),
        };
        let lines = fold_hits(&[hit(6, &[5], &[7]), hit(1, &[0], &[2])]);
        let texts: Vec<_> = lines
            .iter()
            .map(|l| (l.rn, l.c.as_str(), l.repeat))
            .collect();
        assert_eq!(
            texts,
            [
                (0, "a", 1),
                (1, "err 1", 1),
                (2, "b", 1),
                (3, GAP, 2),
                (5, "e", 1),
                (6, "err 2", 1),
                (7, "f", 1)
            ]
        );
    }

    /// A digest that shows all `n` rows (no two neighbours fold), with
    /// the error at row `error`.
    fn whole_digest(n: usize, error: usize) -> Digest {
        let texts: Vec<String> = (0..n)
            .map(|i| format!("line {i} {}", "x".repeat(i % 3)))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut log = rows(&refs);
        log[error].content = "error: boom".into();
        let digest = digest_rows(&log, &[], Some(&log[error]), n as u64, n + 3);
        assert_eq!(digest.lines.len(), n);
        digest
    }

    fn covered(digest: &Digest) -> u64 {
        digest.lines.iter().map(|l| l.repeat).sum()
    }

    fn texts(digest: &Digest) -> Vec<(u64, &str, u64)> {
        digest
            .lines
            .iter()
            .map(|l| (l.rn, l.c.as_str(), l.repeat))
            .collect()
    }

    #[test]
    fn halving_keeps_the_error_with_two_thirds_before_it() {
        let mut digest = whole_digest(40, 30);
        digest.halve();
        let lines = texts(&digest);
        // 20 lines kept: 13 before the error, the error, 6 after.
        assert_eq!(lines.len(), 22, "{lines:?}");
        assert_eq!(lines[0], (0, GAP, 17));
        assert_eq!(lines[1].0, 17);
        assert_eq!(lines[14], (30, "error: boom", 1));
        assert_eq!(lines[20].0, 36);
        assert_eq!(lines[21], (37, GAP, 3));
        assert_eq!(covered(&digest), 40, "every row is shown or counted");
        assert_eq!((digest.error_row, digest.total_rows), (Some(30), 40));
    }

    #[test]
    fn halving_again_and_again_keeps_the_error_until_it_cannot_shorten() {
        let mut digest = whole_digest(40, 30);
        loop {
            let before = digest.lines.len();
            digest.halve();
            assert!(digest.lines.iter().any(|l| l.c == "error: boom"));
            assert_eq!(covered(&digest), 40);
            assert!(
                digest
                    .lines
                    .windows(2)
                    .all(|w| !(w[0].is_gap() && w[1].is_gap())),
                "no two gaps side by side: {:?}",
                digest.lines
            );
            if digest.lines.len() >= before {
                break;
            }
        }
        // Two lines between two gaps: halving would keep as many.
        assert_eq!(
            texts(&digest),
            [
                (0, GAP, 29),
                (29, "line 29 xx", 1),
                (30, "error: boom", 1),
                (31, GAP, 9)
            ]
        );
    }

    #[test]
    fn a_kept_gap_next_to_a_new_one_merges_with_it() {
        // Rows 0-9, a gap, then rows 95-99; no two neighbours fold.
        let row = |i: usize| LogRow {
            ts: None,
            content: format!("row {}", "x".repeat(i % 2 + 1)),
            row: i as u64,
            group: None,
        };
        let window: Vec<LogRow> = (0..10).map(row).collect();
        let tail: Vec<LogRow> = (95..100).map(row).collect();
        let mut digest = digest_rows(&window, &tail, None, 100, 60);
        assert_eq!(digest.lines.len(), 16);
        assert!(digest.lines[10].is_gap());
        // Without an error the end is kept, from the gap on.
        digest.shrink_to(6);
        let lines = texts(&digest);
        assert_eq!(lines.len(), 6, "{lines:?}");
        assert_eq!(lines[0], (0, GAP, 95));
        assert_eq!(lines[1].0, 95);
        assert_eq!(covered(&digest), 100);
    }

    #[test]
    fn a_digest_too_short_to_shrink_is_left_alone() {
        let mut empty = digest_rows(&[], &[], None, 0, 60);
        empty.halve();
        assert!(empty.lines.is_empty());
        let mut one = whole_digest(1, 0);
        let before = one.clone();
        one.halve();
        one.shrink_to(0);
        assert_eq!(one, before);
    }
}
