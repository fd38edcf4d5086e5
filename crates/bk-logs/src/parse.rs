//! Turning raw Buildkite log bytes into rows.
//!
//! A raw job log is a PTY byte stream with timestamp markers
//! (`ESC _bk;t=<unix ms> BEL`) injected by the agent, ANSI colour, OSC
//! sequences, and carriage-return redraws from progress bars. The [`Parser`]
//! streams it and emits one [`Row`] per physical line (`\n`), so a row number
//! is the 0-based line index, as in Buildkite's own tooling. For each row:
//!
//! - `ts` is the first timestamp marker on the line, wherever it is;
//! - `content` is the text a terminal would show: ANSI/OSC/APC sequences
//!   removed, `\r` redraws applied (the final frame wins, `ESC[K` erases), other
//!   C0 and C1 control characters dropped (tabs kept), invalid UTF-8 replaced by U+FFFD,
//!   and nothing after a second marker lost;
//! - `group` is the current group: headers start with `~~~ `, `--- ` or
//!   `+++ `; `^^^ +++` re-opens (expands) the current group;
//! - `offset` is the byte offset of the line in the raw log.
//!
//! The parser never holds more than one line (bounded by
//! [`ParserOptions::max_line_bytes`]) in memory.

use std::borrow::Cow;
use std::io::{self, Read};

/// Appended to a line cut at the line limit.
pub const TRUNCATION_MARKER: &str = " … [line truncated]";

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const MARKER_PREFIX: &[u8] = b"\x1b_bk;t=";

/// How group headers look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupStyle {
    /// `~~~ `: collapsed and de-emphasised.
    Quiet,
    /// `--- `: collapsed.
    Collapsed,
    /// `+++ `: expanded.
    Expanded,
}

impl GroupStyle {
    fn from_header(content: &str) -> Option<(GroupStyle, &str)> {
        let style = match content.get(..4)? {
            "~~~ " => GroupStyle::Quiet,
            "--- " => GroupStyle::Collapsed,
            "+++ " => GroupStyle::Expanded,
            _ => return None,
        };
        Some((style, content[4..].trim()))
    }
}

/// What a row is, besides its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// Ordinary output.
    Text,
    /// A group header; it starts the group it names.
    GroupHeader(GroupStyle),
    /// `^^^ +++`: expands the current group.
    ReopenGroup,
}

/// One logical line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    /// 0-based row (physical line) number.
    pub number: u64,
    /// Byte offset of the line in the raw log.
    pub offset: u64,
    /// Milliseconds since the Unix epoch, from the line's first marker.
    pub ts: Option<i64>,
    /// The text as a terminal shows it.
    pub content: Cow<'a, str>,
    /// Header, re-open, or plain text.
    pub kind: RowKind,
    /// Index of the group the row is in (the header row is in its own
    /// group); `None` before the first header.
    pub group: Option<u32>,
}

/// Receives rows as the parser produces them.
pub trait RowSink {
    /// Called once per row, in order.
    fn row(&mut self, row: &Row<'_>) -> io::Result<()>;
}

impl<F: FnMut(&Row<'_>) -> io::Result<()>> RowSink for F {
    fn row(&mut self, row: &Row<'_>) -> io::Result<()> {
        self(row)
    }
}

/// Parser settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserOptions {
    /// Longest raw line kept; the rest of a longer line is dropped and
    /// [`TRUNCATION_MARKER`] appended. Default 1 MiB.
    pub max_line_bytes: usize,
}

impl Default for ParserOptions {
    fn default() -> Self {
        ParserOptions {
            max_line_bytes: 1024 * 1024,
        }
    }
}

/// Totals of a parse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseSummary {
    /// Rows emitted.
    pub rows: u64,
    /// Raw bytes read.
    pub raw_bytes: u64,
    /// Lines cut at the line limit.
    pub truncated_lines: u64,
    /// Groups started.
    pub groups: u32,
}

/// A streaming parser: feed it chunks of any size, then call
/// [`Parser::finish`].
#[derive(Debug)]
pub struct Parser {
    options: ParserOptions,
    /// The unfinished line carried over between chunks (at most the limit).
    pending: Vec<u8>,
    /// Raw bytes of the unfinished line, including any dropped past the limit.
    pending_raw: u64,
    /// True once the unfinished line went past the limit.
    pending_truncated: bool,
    /// Raw offset of the start of the unfinished line.
    line_offset: u64,
    row_number: u64,
    current_group: Option<u32>,
    groups: u32,
    truncated_lines: u64,
    scratch: Scratch,
}

/// Buffers reused from line to line, so the slow path does not allocate.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    bytes: Vec<u8>,
    text: String,
    screen: Vec<char>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new(ParserOptions::default())
    }
}

impl Parser {
    /// A parser with the given options.
    pub fn new(options: ParserOptions) -> Self {
        Parser {
            options: ParserOptions {
                max_line_bytes: options.max_line_bytes.max(16),
            },
            pending: Vec::new(),
            pending_raw: 0,
            pending_truncated: false,
            line_offset: 0,
            row_number: 0,
            current_group: None,
            groups: 0,
            truncated_lines: 0,
            scratch: Scratch::default(),
        }
    }

    /// Parses everything `reader` yields.
    pub fn parse_reader(
        mut self,
        mut reader: impl Read,
        sink: &mut impl RowSink,
    ) -> io::Result<ParseSummary> {
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let read = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.feed(&buffer[..read], sink)?;
        }
        self.finish(sink)
    }

    /// Parses one chunk: complete lines are emitted, the rest is kept for
    /// the next chunk.
    pub fn feed(&mut self, chunk: &[u8], sink: &mut impl RowSink) -> io::Result<()> {
        // Validate UTF-8 once for the whole chunk: a line is cut at '\n', an
        // ASCII byte, so every line inside the valid prefix is valid text.
        let valid = match std::str::from_utf8(chunk) {
            Ok(text) => text,
            Err(error) => std::str::from_utf8(&chunk[..error.valid_up_to()]).unwrap_or_default(),
        };
        let mut at = 0;
        while let Some(found) = memchr::memchr(b'\n', &chunk[at..]) {
            let newline = at + found;
            let part = &chunk[at..newline];
            if self.pending_raw == 0 {
                // The whole line is in this chunk: parse it in place.
                let limit = self.options.max_line_bytes;
                if part.len() <= limit {
                    let text = valid.get(at..newline);
                    self.emit_borrowed(part, text, false, sink)?;
                } else {
                    let cut = complete_prefix_len(&part[..limit]);
                    self.emit_borrowed(&part[..cut], None, true, sink)?;
                }
            } else {
                self.carry(part);
                let line = std::mem::take(&mut self.pending);
                let truncated = self.pending_truncated;
                let result = self.emit_borrowed(&line, None, truncated, sink);
                self.pending = line;
                self.pending.clear();
                result?;
            }
            self.line_offset += self.pending_raw + part.len() as u64 + 1;
            self.pending_raw = 0;
            self.pending_truncated = false;
            at = newline + 1;
        }
        let rest = &chunk[at..];
        if !rest.is_empty() {
            self.carry(rest);
            self.pending_raw += rest.len() as u64;
        }
        Ok(())
    }

    /// Emits the last line when the log does not end with a newline, and
    /// returns the totals.
    pub fn finish(mut self, sink: &mut impl RowSink) -> io::Result<ParseSummary> {
        if self.pending_raw > 0 {
            let line = std::mem::take(&mut self.pending);
            let truncated = self.pending_truncated;
            self.emit_borrowed(&line, None, truncated, sink)?;
            self.line_offset += self.pending_raw;
        }
        Ok(ParseSummary {
            rows: self.row_number,
            raw_bytes: self.line_offset,
            truncated_lines: self.truncated_lines,
            groups: self.groups,
        })
    }

    /// Appends part of an unfinished line, keeping at most the line limit
    /// (cut on a UTF-8 boundary).
    fn carry(&mut self, part: &[u8]) {
        if self.pending_truncated {
            return;
        }
        let room = self.options.max_line_bytes - self.pending.len();
        if part.len() <= room {
            self.pending.extend_from_slice(part);
        } else {
            self.pending.extend_from_slice(&part[..room]);
            let cut = complete_prefix_len(&self.pending);
            self.pending.truncate(cut);
            self.pending_truncated = true;
        }
    }

    /// Emits one line. `text` is the same line as `&str` when it is already
    /// known to be valid UTF-8.
    fn emit_borrowed(
        &mut self,
        line: &[u8],
        text: Option<&str>,
        truncated: bool,
        sink: &mut impl RowSink,
    ) -> io::Result<()> {
        let (ts, mut content) = clean_line(line, text, &mut self.scratch);
        if truncated {
            content.to_mut().push_str(TRUNCATION_MARKER);
            self.truncated_lines += 1;
        }
        let kind = classify(&content);
        if let RowKind::GroupHeader(_) = kind {
            self.current_group = Some(self.groups);
            self.groups += 1;
        }
        let row = Row {
            number: self.row_number,
            offset: self.line_offset,
            ts,
            content,
            kind,
            group: self.current_group,
        };
        self.row_number += 1;
        sink.row(&row)
    }
}

/// Whether a row's text is a group header or a re-open line.
fn classify(content: &str) -> RowKind {
    // Most rows start with none of `~ - + ^`: answer those at once.
    if !matches!(content.as_bytes().first(), Some(b'~' | b'-' | b'+' | b'^')) {
        return RowKind::Text;
    }
    if let Some((style, _)) = GroupStyle::from_header(content) {
        return RowKind::GroupHeader(style);
    }
    if content.trim_end() == "^^^ +++" {
        return RowKind::ReopenGroup;
    }
    RowKind::Text
}

/// The group name of a header row's content (without the `--- ` prefix).
pub fn group_name(content: &str) -> Option<(GroupStyle, &str)> {
    GroupStyle::from_header(content)
}

/// The length of `bytes` without a trailing, incomplete UTF-8 character, so
/// that a line cut at a byte limit never ends in half a character.
fn complete_prefix_len(bytes: &[u8]) -> usize {
    let len = bytes.len();
    // The last character starts at most 3 bytes before the end.
    for back in 1..=len.min(4) {
        let byte = bytes[len - back];
        if byte & 0xC0 == 0x80 {
            continue; // a continuation byte: keep looking for the lead byte
        }
        let width = match byte {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            _ => 4,
        };
        return if back < width { len - back } else { len };
    }
    len
}

/// Lead byte of U+0080–U+00BF, which include the C1 controls U+0080–U+009F.
const C1_LEAD: u8 = 0xc2;

/// Bytes that need the slow path: controls other than tab, DEL, and the lead
/// byte of the C1 control range.
#[inline]
fn is_special(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t') || byte == 0x7f || byte == C1_LEAD
}

/// 1 for a byte that needs the slow path, else 0; branch-free so loops over
/// it vectorise.
#[inline(always)]
fn special_flag(byte: u8) -> u8 {
    (u8::from(byte < 0x20) & u8::from(byte != b'\t'))
        | u8::from(byte == 0x7f)
        | u8::from(byte == C1_LEAD)
}

/// Whether any byte needs the slow path. Checks fixed 32-byte blocks with
/// no branch inside, so the compiler turns each block into a few SIMD ops.
#[inline]
fn has_special(bytes: &[u8]) -> bool {
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        let mut flags = 0u8;
        for &byte in block {
            flags |= special_flag(byte);
        }
        if flags != 0 {
            return true;
        }
    }
    blocks.remainder().iter().any(|&b| is_special(b))
}

/// Longest marker body searched for its terminator when it is not all digits.
const MAX_MARKER_BODY: usize = 32;

/// Reads a marker body (after `ESC _bk;t=`): returns the timestamp, if the
/// body is a valid number, and the bytes consumed.
///
/// A well-formed body is digits then BEL (or `ESC \`). A malformed body
/// (`t=invalid BEL`) is consumed up to a nearby terminator, with no timestamp.
/// Without any terminator only the digits are consumed, so a broken marker
/// never swallows the rest of the line.
fn parse_marker_body(bytes: &[u8]) -> (Option<i64>, usize) {
    // The usual case: 13 digits of milliseconds, then BEL.
    if let Some(head) = bytes.get(..14)
        && head[13] == BEL
        && head[..13].iter().all(u8::is_ascii_digit)
    {
        let value = head[..13]
            .iter()
            .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
        return (Some(value), 14);
    }
    let mut digits = 0;
    let mut value: i64 = 0;
    for &byte in bytes {
        if !byte.is_ascii_digit() {
            break;
        }
        if digits < 18 {
            value = value * 10 + i64::from(byte - b'0');
        }
        digits += 1;
    }
    let number = (1..=18).contains(&digits).then_some(value);
    let terminator_at = |at: usize| match bytes.get(at) {
        Some(&BEL) => Some(1),
        Some(&ESC) if bytes.get(at + 1) == Some(&b'\\') => Some(2),
        _ => None,
    };
    if let Some(width) = terminator_at(digits) {
        return (number, digits + width);
    }
    let window = &bytes[..bytes.len().min(MAX_MARKER_BODY)];
    let end = window
        .iter()
        .position(|&b| b == BEL || b == ESC || b.is_ascii_whitespace());
    match end.and_then(|at| terminator_at(at).map(|width| at + width)) {
        Some(consumed) => (None, consumed),
        None => (number, digits),
    }
}

/// Cleans one raw line (without its `\n`): returns the first marker's
/// timestamp and the visible text, borrowed from the line itself when it
/// needs no cleaning, else from `scratch`.
pub(crate) fn clean_line<'a>(
    line: &'a [u8],
    line_text: Option<&'a str>,
    scratch: &'a mut Scratch,
) -> (Option<i64>, Cow<'a, str>) {
    let mut end = line.len();
    while end > 0 && line[end - 1] == b'\r' {
        end -= 1;
    }
    let line = &line[..end];
    let (mut ts, start) = match line.strip_prefix(MARKER_PREFIX) {
        Some(after) => {
            let (value, used) = parse_marker_body(after);
            (value, MARKER_PREFIX.len() + used)
        }
        None => (None, 0),
    };
    let rest = &line[start..];
    if !has_special(rest) {
        // `start` and `end` sit next to ASCII bytes, so they are character
        // boundaries of the line's text.
        if let Some(text) = line_text.and_then(|t| t.get(start..end)) {
            return (ts, Cow::Borrowed(text));
        }
        return (ts, String::from_utf8_lossy(rest));
    }
    let Scratch {
        bytes,
        text,
        screen,
    } = scratch;
    bytes.clear();
    let redraws = strip_controls(rest, &mut ts, bytes);
    text.clear();
    match std::str::from_utf8(bytes) {
        Ok(valid) if !redraws => text.push_str(valid),
        Ok(valid) => apply_redraws(valid, screen, text),
        Err(_) => {
            let lossy = String::from_utf8_lossy(bytes);
            if redraws {
                apply_redraws(&lossy, screen, text);
            } else {
                text.push_str(&lossy);
            }
        }
    }
    // C1 controls (U+0080–U+009F), including any formed by joining bytes
    // around a dropped control. All of them start with the byte 0xC2.
    if memchr::memchr(C1_LEAD, text.as_bytes()).is_some() {
        text.retain(|c| !('\u{80}'..='\u{9f}').contains(&c));
    }
    (ts, Cow::Borrowed(text.as_str()))
}

/// Length of the leading run of bytes that need no handling.
#[inline]
fn plain_run(bytes: &[u8]) -> usize {
    let mut run = 0;
    for block in bytes.chunks_exact(32) {
        if has_special(block) {
            break;
        }
        run += 32;
    }
    run + bytes[run..].iter().take_while(|&&b| !is_special(b)).count()
}

/// Control bytes `strip_controls` leaves in its output for `apply_redraws`.
const CR: u8 = b'\r';
const ERASE_TO_END: u8 = 0x00;

/// Removes escape sequences and control characters, appending the text to
/// `out`. Carriage returns and "erase to end of line" (`ESC[K`) are kept as
/// `\r` and NUL for [`apply_redraws`]; returns whether any were kept.
fn strip_controls(bytes: &[u8], ts: &mut Option<i64>, out: &mut Vec<u8>) -> bool {
    let mut redraws = false;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if !is_special(byte) {
            let run = plain_run(&bytes[i..]);
            out.extend_from_slice(&bytes[i..i + run]);
            i += run;
            continue;
        }
        match byte {
            ESC => {
                let (consumed, action) = escape_sequence(&bytes[i..], ts);
                match action {
                    EscapeAction::None => {}
                    EscapeAction::EraseToEnd => {
                        out.push(ERASE_TO_END);
                        redraws = true;
                    }
                    EscapeAction::EraseLine => {
                        out.extend_from_slice(&[CR, ERASE_TO_END]);
                        redraws = true;
                    }
                }
                i += consumed;
            }
            CR => {
                out.push(CR);
                redraws = true;
                i += 1;
            }
            C1_LEAD => {
                // Kept here; C1 controls are removed once decoded.
                out.push(C1_LEAD);
                i += 1;
            }
            _ => i += 1, // BEL, backspace, NUL, DEL, …: dropped.
        }
    }
    redraws
}

enum EscapeAction {
    None,
    EraseToEnd,
    EraseLine,
}

/// Measures the escape sequence at the start of `bytes` (which starts with
/// ESC). Timestamp markers set `ts` if it is not set yet.
fn escape_sequence(bytes: &[u8], ts: &mut Option<i64>) -> (usize, EscapeAction) {
    let Some(&kind) = bytes.get(1) else {
        return (1, EscapeAction::None);
    };
    match kind {
        b'[' => {
            // CSI: parameters 0x30–0x3F, intermediates 0x20–0x2F, one final
            // byte 0x40–0x7E.
            let body = &bytes[2..];
            let params = body
                .iter()
                .take_while(|b| (0x30..=0x3f).contains(*b))
                .count();
            let inter = body[params..]
                .iter()
                .take_while(|b| (0x20..=0x2f).contains(*b))
                .count();
            let mut length = 2 + params + inter;
            let action = match body.get(params + inter) {
                Some(&fin) if (0x40..=0x7e).contains(&fin) => {
                    length += 1;
                    match (fin, &body[..params]) {
                        (b'K', b"" | b"0") => EscapeAction::EraseToEnd,
                        (b'K', b"2") => EscapeAction::EraseLine,
                        _ => EscapeAction::None,
                    }
                }
                _ => EscapeAction::None,
            };
            (length, action)
        }
        b'_' if bytes.starts_with(MARKER_PREFIX) => {
            let (value, used) = parse_marker_body(&bytes[MARKER_PREFIX.len()..]);
            if ts.is_none() {
                *ts = value;
            }
            (MARKER_PREFIX.len() + used, EscapeAction::None)
        }
        // OSC, APC, DCS, SOS, PM: up to BEL or ST (`ESC \`), else the end.
        b']' | b'_' | b'P' | b'X' | b'^' => {
            let body = &bytes[2..];
            let mut j = 0;
            while j < body.len() {
                match body[j] {
                    BEL => return (2 + j + 1, EscapeAction::None),
                    ESC if body.get(j + 1) == Some(&b'\\') => {
                        return (2 + j + 2, EscapeAction::None);
                    }
                    _ => j += 1,
                }
            }
            (bytes.len(), EscapeAction::None)
        }
        _ => (2, EscapeAction::None),
    }
}

/// Applies carriage returns and erases as a terminal would: each `\r`
/// moves to column 0 and later text overwrites; NUL erases to the end.
/// Writes the result to `out`.
fn apply_redraws(text: &str, screen: &mut Vec<char>, out: &mut String) {
    screen.clear();
    let mut cursor = 0;
    for c in text.chars() {
        match c {
            '\r' => cursor = 0,
            '\0' => screen.truncate(cursor),
            _ => {
                if cursor < screen.len() {
                    screen[cursor] = c;
                } else {
                    screen.push(c);
                }
                cursor += 1;
            }
        }
    }
    out.extend(screen.iter());
}
