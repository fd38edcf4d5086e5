//! Queries on a cached log: read, tail, groups, info and search.
//!
//! Reads touch only what they return: the index entries and text of the
//! requested rows. Search streams the text in blocks of a few MiB, runs one
//! regex per block (on the visible text, as returned), and maps matches to
//! rows by counting newlines, so memory stays O(block + matches × context)
//! whatever the log size, forwards or backwards.

use std::ops::Range;

use regex::bytes::{Regex, RegexBuilder};
use serde::Serialize;

use std::sync::OnceLock;

use crate::entry::{EntryMeta, GroupInfo, INDEX_ENTRY, OpenEntry, decode_index, read_groups};
use crate::error::{Error, Result};

/// Largest compiled size of a search pattern.
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;
/// Text read per search block.
const SEARCH_BLOCK: u64 = 8 << 20;

/// One row as returned to callers: `{ts, c, rn}` (`ts` left out when the
/// row has none), plus the group name when asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRow {
    /// Milliseconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    /// Visible text.
    #[serde(rename = "c")]
    pub content: String,
    /// Row number (0-based line index).
    #[serde(rename = "rn")]
    pub row: u64,
    /// The group the row is in, when requested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// Summary of a cached log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogInfo {
    /// Rows (lines).
    pub rows: u64,
    /// Raw log bytes.
    pub raw_bytes: u64,
    /// Visible text bytes.
    pub text_bytes: u64,
    /// Number of groups.
    pub groups: usize,
    /// First timestamp.
    pub first_ts: Option<i64>,
    /// Last timestamp.
    pub last_ts: Option<i64>,
    /// Job state when fetched.
    pub job_state: Option<String>,
    /// Whether the job had finished.
    pub terminal: bool,
    /// When the entry was written (ms since the epoch).
    pub cached_at_ms: i64,
    /// Lines cut at the line limit.
    pub truncated_lines: u64,
}

/// What to search for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    /// A regular expression (the `regex` crate's syntax; linear time).
    pub pattern: String,
    /// Match case exactly (default: ignore case).
    pub case_sensitive: bool,
    /// Return rows that do *not* match.
    pub invert: bool,
    /// Rows of context before each match (lower row numbers).
    pub before: usize,
    /// Rows of context after each match (higher row numbers).
    pub after: usize,
    /// Search from the end backwards; results come newest first.
    pub reverse: bool,
    /// Row to start from (inclusive). Forward: default 0. Reverse: default
    /// the last row.
    pub seek_start: Option<u64>,
    /// Stop after this many matches.
    pub limit: Option<usize>,
    /// Add each row's group name.
    pub with_group: bool,
}

/// One match with its context. Context never repeats a row shown by a
/// neighbouring match, and never hides a match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchHit {
    /// The matching row.
    #[serde(rename = "match")]
    pub row: LogRow,
    /// Rows just before it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub before_context: Vec<LogRow>,
    /// Rows just after it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after_context: Vec<LogRow>,
}

/// Search results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchResult {
    /// Matches, in row order (newest first when reversed).
    pub hits: Vec<SearchHit>,
    /// True when `limit` stopped the search before the end.
    pub limited: bool,
}

/// A cached log, opened for queries.
#[derive(Debug)]
pub struct LogFile {
    entry: OpenEntry,
    /// The groups, decoded on first use.
    groups: OnceLock<Vec<GroupInfo>>,
}

impl LogFile {
    pub(crate) fn new(entry: OpenEntry) -> Self {
        LogFile {
            entry,
            groups: OnceLock::new(),
        }
    }

    /// A second handle on the entry's file, and the file's length: what is
    /// copied to the shared tier.
    pub(crate) fn entry_file(&self) -> std::io::Result<(std::fs::File, u64)> {
        let file = self.entry.body.file().try_clone()?;
        let len = file.metadata()?.len();
        Ok((file, len))
    }

    /// Number of rows.
    pub fn row_count(&self) -> u64 {
        self.entry.header.row_count
    }

    /// The entry's stored facts.
    pub fn meta(&self) -> &EntryMeta {
        &self.entry.meta
    }

    /// Summary figures.
    pub fn info(&self) -> LogInfo {
        let meta = &self.entry.meta;
        LogInfo {
            rows: self.row_count(),
            raw_bytes: meta.raw_bytes,
            text_bytes: self.entry.header.text_len,
            groups: meta.group_count,
            first_ts: meta.first_ts,
            last_ts: meta.last_ts,
            job_state: meta.job_state.clone(),
            terminal: meta.terminal,
            cached_at_ms: meta.cached_at_ms,
            truncated_lines: meta.truncated_lines,
        }
    }

    /// The groups, in order (read from the entry on first use).
    pub fn groups(&self) -> Result<&[GroupInfo]> {
        if let Some(groups) = self.groups.get() {
            return Ok(groups);
        }
        let groups = read_groups(&self.entry)?;
        Ok(self.groups.get_or_init(|| groups))
    }

    /// The group that contains `row`, if any.
    pub fn group_of(&self, row: u64) -> Result<Option<&GroupInfo>> {
        let groups = self.groups()?;
        let after = groups.partition_point(|g| g.header_row <= row);
        Ok(after.checked_sub(1).map(|i| &groups[i]))
    }

    /// Up to `limit` rows from `seek`. Past the end gives no rows.
    pub fn read(&self, seek: u64, limit: usize, with_group: bool) -> Result<Vec<LogRow>> {
        let end = seek.saturating_add(limit as u64).min(self.row_count());
        self.rows(seek..end, with_group)
    }

    /// The last `n` rows.
    pub fn tail(&self, n: usize, with_group: bool) -> Result<Vec<LogRow>> {
        let rows = self.row_count();
        self.rows(rows.saturating_sub(n as u64)..rows, with_group)
    }

    /// Up to `limit` rows of group `index` (0-based, as in [`LogFile::groups`]).
    pub fn read_group(&self, index: usize, limit: usize) -> Result<Vec<LogRow>> {
        let groups = self.groups()?;
        let group = groups.get(index).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "group {index} does not exist; the log has {} groups",
                groups.len()
            ))
        })?;
        let take = group.row_count.min(limit as u64);
        self.rows(group.header_row..group.header_row + take, true)
    }

    /// Rows in `range` (clamped to the log).
    pub fn rows(&self, range: Range<u64>, with_group: bool) -> Result<Vec<LogRow>> {
        let total = self.row_count();
        let (start, end) = (range.start.min(total), range.end.min(total));
        if start >= end {
            return Ok(Vec::new());
        }
        let header = &self.entry.header;
        let ts_base = self.entry.meta.ts_base;
        // Index entries for start..=end (the one after the last row gives
        // its end; past the last row, the end is the text length).
        let entries = end - start + u64::from(end < total);
        let mut buffer = Vec::new();
        let index = self.entry.body.read(
            header.text_len + start * INDEX_ENTRY,
            entries * INDEX_ENTRY,
            &mut buffer,
        )?;
        let decoded: Vec<(u64, Option<i64>)> = index
            .chunks_exact(INDEX_ENTRY as usize)
            .map(|e| decode_index(e, ts_base))
            .collect();
        let text_start = decoded[0].0;
        let text_end = if end < total {
            decoded[decoded.len() - 1].0
        } else {
            header.text_len
        };
        if text_end < text_start {
            return Err(Error::Corrupt("row offsets go backwards".into()));
        }
        let text = self
            .entry
            .body
            .read(text_start, text_end - text_start, &mut buffer)?;
        let mut rows = Vec::with_capacity((end - start) as usize);
        let mut lines = text.split(|&b| b == b'\n');
        for (i, &(_, ts)) in decoded.iter().take((end - start) as usize).enumerate() {
            let line = lines
                .next()
                .ok_or_else(|| Error::Corrupt("missing row text".into()))?;
            let content = std::str::from_utf8(line)
                .map_err(|_| Error::Corrupt("row text is not UTF-8".into()))?
                .to_owned();
            let row = start + i as u64;
            let group = if with_group {
                self.group_of(row)?.map(|g| g.name.clone())
            } else {
                None
            };
            rows.push(LogRow {
                ts,
                content,
                row,
                group,
            });
        }
        Ok(rows)
    }

    /// Byte offset in the text where `row` starts (`row_count` gives the end).
    fn text_offset(&self, row: u64) -> Result<u64> {
        let header = &self.entry.header;
        if row >= header.row_count {
            return Ok(header.text_len);
        }
        let mut buffer = Vec::new();
        let entry = self.entry.body.read(
            header.text_len + row * INDEX_ENTRY,
            INDEX_ENTRY,
            &mut buffer,
        )?;
        Ok(decode_index(entry, 0).0)
    }

    /// Searches the log. See [`SearchQuery`].
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResult> {
        let regex = compile(&query.pattern, query.case_sensitive)?;
        let total = self.row_count();
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut windows = ContextWindows::new(query, total);
        if total == 0 || limit == 0 {
            return Ok(SearchResult {
                hits: Vec::new(),
                limited: false,
            });
        }
        let mut found = 0usize;
        let mut on_match = |row: u64| {
            windows.push(row);
            found += 1;
            found < limit
        };
        let completed = if query.reverse {
            let last = query.seek_start.unwrap_or(total - 1).min(total - 1);
            self.scan_backward(&regex, query.invert, last + 1, &mut on_match)?
        } else {
            let first = query.seek_start.unwrap_or(0);
            if first >= total {
                true
            } else {
                self.scan_forward(&regex, query.invert, first, &mut on_match)?
            }
        };
        let windows = windows.finish();
        let mut hits = Vec::with_capacity(windows.len());
        for window in windows {
            let mut rows = self.rows(window.start..window.end, query.with_group)?;
            let after_context = rows.split_off((window.matched - window.start + 1) as usize);
            let row = rows
                .pop()
                .ok_or_else(|| Error::Corrupt("a matched row vanished".into()))?;
            hits.push(SearchHit {
                row,
                before_context: rows,
                after_context,
            });
        }
        Ok(SearchResult {
            hits,
            limited: !completed,
        })
    }

    /// Calls `on_match` for each matching (or, inverted, non-matching) row
    /// from `first` on, in order, until it returns false. Returns whether the
    /// scan reached the end.
    fn scan_forward(
        &self,
        regex: &Regex,
        invert: bool,
        first: u64,
        on_match: &mut impl FnMut(u64) -> bool,
    ) -> Result<bool> {
        let text_len = self.entry.header.text_len;
        let mut position = self.text_offset(first)?;
        let mut row = first;
        let mut buffer = Vec::new();
        while position < text_len {
            let want = SEARCH_BLOCK.min(text_len - position);
            let block = self.entry.body.read(position, want, &mut buffer)?;
            // Whole rows only: end the block after its last newline.
            let usable = match memchr::memrchr(b'\n', block) {
                Some(last) => last + 1,
                None => return Err(Error::Corrupt("a row has no line end".into())),
            };
            let text = &block[..usable];
            let rows_in_block = memchr::memchr_iter(b'\n', text).count() as u64;
            let matched = matching_rows(regex, text, row);
            if invert {
                let mut next = matched.iter().peekable();
                for candidate in row..row + rows_in_block {
                    if next.peek() == Some(&&candidate) {
                        next.next();
                    } else if !on_match(candidate) {
                        return Ok(false);
                    }
                }
            } else {
                for &hit in &matched {
                    if !on_match(hit) {
                        return Ok(false);
                    }
                }
            }
            position += usable as u64;
            row += rows_in_block;
        }
        Ok(true)
    }

    /// Like [`LogFile::scan_forward`], backwards from the row before `end`.
    fn scan_backward(
        &self,
        regex: &Regex,
        invert: bool,
        end: u64,
        on_match: &mut impl FnMut(u64) -> bool,
    ) -> Result<bool> {
        let mut block_end = self.text_offset(end)?;
        let mut row_end = end;
        let mut buffer = Vec::new();
        while block_end > 0 {
            let start = block_end.saturating_sub(SEARCH_BLOCK);
            let block = self
                .entry
                .body
                .read(start, block_end - start, &mut buffer)?;
            // Whole rows only: unless at the very start, begin after the
            // first newline (the partial row is read with the next block).
            let skip = if start == 0 {
                0
            } else {
                match memchr::memchr(b'\n', block) {
                    Some(first) if first + 1 < block.len() => first + 1,
                    _ => return Err(Error::Corrupt("a row is longer than a search block".into())),
                }
            };
            let text = &block[skip..];
            let rows_in_block = memchr::memchr_iter(b'\n', text).count() as u64;
            let row_start = row_end - rows_in_block;
            let matched = matching_rows(regex, text, row_start);
            if invert {
                let mut next = matched.iter().rev().peekable();
                for candidate in (row_start..row_end).rev() {
                    if next.peek() == Some(&&candidate) {
                        next.next();
                    } else if !on_match(candidate) {
                        return Ok(false);
                    }
                }
            } else {
                for &hit in matched.iter().rev() {
                    if !on_match(hit) {
                        return Ok(false);
                    }
                }
            }
            block_end = start + skip as u64;
            row_end = row_start;
        }
        Ok(true)
    }
}

/// Compiles a search pattern with a bounded compiled size.
pub fn compile(pattern: &str, case_sensitive: bool) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .multi_line(true)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(4 * PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| Error::Pattern(e.to_string()))
}

/// Rows of `text` (whole rows, each ending in '\n', the first being
/// `first_row`) that contain a match, in order.
fn matching_rows(regex: &Regex, text: &[u8], first_row: u64) -> Vec<u64> {
    let mut rows = Vec::new();
    let mut row = first_row;
    let mut counted_to = 0;
    let mut at = 0;
    while at < text.len() {
        let Some(found) = regex.find_at(text, at) else {
            break;
        };
        let line_start = memchr::memrchr(b'\n', &text[..found.start()]).map_or(0, |i| i + 1);
        let line_end =
            memchr::memchr(b'\n', &text[found.start()..]).map_or(text.len(), |i| found.start() + i);
        // A match that runs past its line (e.g. `\s+` over '\n') counts only
        // if the line matches on its own.
        let counts = found.end() <= line_end || regex.is_match(&text[line_start..line_end]);
        if counts {
            row += memchr::memchr_iter(b'\n', &text[counted_to..line_start]).count() as u64;
            counted_to = line_start;
            rows.push(row);
        }
        // Next search starts on the next line: one hit per row.
        at = line_end + 1;
        if found.start() == found.end() && found.start() >= text.len() {
            break;
        }
    }
    rows
}

/// A hit's rows: `start..end`, with the match at `matched`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    start: u64,
    matched: u64,
    end: u64,
}

/// Builds context windows as matches arrive (in scan order), so that no row
/// is shown twice and no match is swallowed by another's context.
#[derive(Debug)]
struct ContextWindows {
    before: u64,
    after: u64,
    reverse: bool,
    total: u64,
    windows: Vec<Window>,
}

impl ContextWindows {
    fn new(query: &SearchQuery, total: u64) -> Self {
        ContextWindows {
            before: query.before as u64,
            after: query.after as u64,
            reverse: query.reverse,
            total,
            windows: Vec::new(),
        }
    }

    fn push(&mut self, row: u64) {
        let mut start = row.saturating_sub(self.before);
        let mut end = (row + 1 + self.after).min(self.total);
        if let Some(previous) = self.windows.last_mut() {
            if self.reverse {
                // `previous` is below-right of us: trim its before-context and
                // our after-context so they neither overlap nor cover a match.
                previous.start = previous.start.max(row + 1);
                end = end.min(previous.start);
            } else {
                previous.end = previous.end.min(row);
                start = start.max(previous.end);
            }
        }
        self.windows.push(Window {
            start,
            matched: row,
            end,
        });
    }

    fn finish(self) -> Vec<Window> {
        self.windows
    }
}
