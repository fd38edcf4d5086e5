//! The parser's edge cases, one test each.

use bk_logs::parse::{GroupStyle, ParseSummary, Parser, ParserOptions, RowKind, TRUNCATION_MARKER};

/// One parsed row, owned, for assertions.
#[derive(Debug, Clone, PartialEq)]
struct R {
    number: u64,
    offset: u64,
    ts: Option<i64>,
    content: String,
    kind: RowKind,
    group: Option<u32>,
}

fn parse_with(input: &[u8], options: ParserOptions, chunk: usize) -> (Vec<R>, ParseSummary) {
    let mut rows = Vec::new();
    let mut sink = |row: &bk_logs::parse::Row<'_>| {
        rows.push(R {
            number: row.number,
            offset: row.offset,
            ts: row.ts,
            content: row.content.to_string(),
            kind: row.kind,
            group: row.group,
        });
        Ok(())
    };
    let mut parser = Parser::new(options);
    for piece in input.chunks(chunk.max(1)) {
        parser.feed(piece, &mut sink).unwrap();
    }
    let summary = parser.finish(&mut sink).unwrap();
    (rows, summary)
}

fn parse(input: &[u8]) -> Vec<R> {
    let (whole, _) = parse_with(input, ParserOptions::default(), usize::MAX);
    // Any chunking gives the same rows.
    for chunk in [1, 2, 3, 7, 64] {
        let (chunked, _) = parse_with(input, ParserOptions::default(), chunk);
        assert_eq!(chunked, whole, "chunk size {chunk}");
    }
    whole
}

fn contents(input: &[u8]) -> Vec<String> {
    parse(input).into_iter().map(|r| r.content).collect()
}

#[test]
fn marker_at_line_start_gives_the_timestamp() {
    let rows = parse(b"\x1b_bk;t=1745322209921\x07~~~ Running hook\r\n");
    assert_eq!(rows[0].ts, Some(1_745_322_209_921));
    assert_eq!(rows[0].content, "~~~ Running hook");
}

#[test]
fn a_marker_alone_gives_an_empty_row() {
    let rows = parse(b"\x1b_bk;t=1745322209921\x07\n");
    assert_eq!(
        (rows[0].ts, rows[0].content.as_str()),
        (Some(1_745_322_209_921), "")
    );
}

#[test]
fn an_invalid_marker_gives_no_timestamp_but_keeps_the_text() {
    let rows = parse(b"\x1b_bk;t=invalid\x07content\n");
    assert_eq!(rows[0].ts, None);
    assert_eq!(rows[0].content, "content");
}

#[test]
fn a_marker_without_bel_does_not_swallow_the_line() {
    let rows = parse(b"\x1b_bk;t=123456 rest of line\n");
    assert_eq!(rows[0].ts, Some(123_456));
    assert_eq!(rows[0].content, " rest of line");
}

#[test]
fn a_marker_mid_line_is_recognised_and_nothing_after_it_is_lost() {
    let rows = parse(b"foo\x1b_bk;t=1\x07bar\n\x1b_bk;t=1\x07A\x1b_bk;t=2\x07B\n");
    assert_eq!((rows[0].ts, rows[0].content.as_str()), (Some(1), "foobar"));
    assert_eq!((rows[1].ts, rows[1].content.as_str()), (Some(1), "AB"));
}

#[test]
fn plain_lines_and_indentation_are_kept() {
    assert_eq!(
        contents(b"plain line\n    indented: yaml\n\ttab\n"),
        ["plain line", "    indented: yaml", "\ttab"]
    );
}

#[test]
fn ansi_colour_and_osc_are_stripped() {
    let input = b"\x1b[90m$\x1b[0m ./script.sh\n\x1b]1338;url=artifact://artifacts/image.gif;alt=Rainbows\x07after\n\x1b[38;5;48mgreen\x1b[0m\n";
    assert_eq!(contents(input), ["$ ./script.sh", "after", "green"]);
}

#[test]
fn carriage_return_progress_keeps_the_final_frame() {
    let input = b"\x1b_bk;t=10\x07Receiving objects:   0% (1/263)\rReceiving objects:  50% (131/263)\rReceiving objects: 100% (263/263), done.\r\n";
    let rows = parse(input);
    assert_eq!(rows[0].content, "Receiving objects: 100% (263/263), done.");
    assert_eq!(rows[0].ts, Some(10));
}

#[test]
fn git_progress_with_a_marker_per_frame_keeps_the_final_frame() {
    let input = b"\x1b_bk;t=1\x07remote: Counting objects:   1% (1/54)\x1b[K\x1b_bk;t=2\x07\rremote: Counting objects: 100% (54/54), done.\x1b[K\x1b_bk;t=3\x07\r\r\n";
    let rows = parse(input);
    assert_eq!(
        rows[0].content,
        "remote: Counting objects: 100% (54/54), done."
    );
    assert_eq!(rows[0].ts, Some(1), "the row keeps the time it started");
}

#[test]
fn a_shorter_frame_overwrites_like_a_terminal() {
    assert_eq!(contents(b"abcdef\rxy\n"), ["xycdef"]);
    assert_eq!(contents(b"abcdef\rxy\x1b[K\n"), ["xy"]);
    assert_eq!(contents(b"abcdef\x1b[2Kxy\n"), ["xy"]);
}

#[test]
fn crlf_and_cr_cr_lf_endings_are_removed() {
    assert_eq!(
        contents(b"one\r\ntwo\r\r\nthree\n"),
        ["one", "two", "three"]
    );
}

#[test]
fn a_missing_final_newline_still_gives_the_last_row() {
    let (rows, summary) = parse_with(b"a\nb", ParserOptions::default(), 1);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].content, "b");
    assert_eq!(summary.raw_bytes, 3);
}

#[test]
fn empty_input_gives_no_rows_and_empty_lines_are_rows() {
    assert!(parse(b"").is_empty());
    assert_eq!(contents(b"\n\n"), ["", ""]);
}

#[test]
fn offsets_are_raw_byte_offsets_of_each_line() {
    let rows = parse(b"ab\r\n\x1b_bk;t=1\x07cd\nlast");
    let offsets: Vec<u64> = rows.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [0, 4, 16]);
    let numbers: Vec<u64> = rows.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [0, 1, 2]);
}

#[test]
fn invalid_utf8_is_replaced_not_dropped() {
    assert_eq!(
        contents(b"bad \xff\xfe byte\n"),
        ["bad \u{fffd}\u{fffd} byte"]
    );
    // Also on the slow path.
    assert_eq!(contents(b"\x1b[1mbad \xff\x1b[0m\n"), ["bad \u{fffd}"]);
}

#[test]
fn other_control_characters_are_dropped() {
    assert_eq!(contents(b"a\x07b\x08c\x00d\x7fe\n"), ["abcde"]);
}

#[test]
fn long_lines_are_cut_on_a_character_boundary_with_a_marker() {
    let options = ParserOptions { max_line_bytes: 20 };
    // 9 two-byte characters then more: the cut at 20 bytes would split one.
    let mut line = "x".to_owned() + &"é".repeat(30);
    line.push('\n');
    line.push_str("next\n");
    for chunk in [1, 5, usize::MAX] {
        let (rows, summary) = parse_with(line.as_bytes(), options, chunk);
        let expected = format!("x{}{TRUNCATION_MARKER}", "é".repeat(9));
        assert_eq!(rows[0].content, expected, "chunk {chunk}");
        assert_eq!(rows[1].content, "next");
        assert_eq!(rows[1].offset, 62, "offsets count the dropped bytes");
        assert_eq!(summary.truncated_lines, 1);
    }
}

#[test]
fn groups_are_tracked_and_reopened() {
    let input = b"before\n~~~ Setup\nsetup output\n--- :rspec: Tests\n\x1b[31m+++ \x1b[0mFailures\nfailure\n^^^ +++\n";
    let rows = parse(input);
    let groups: Vec<Option<u32>> = rows.iter().map(|r| r.group).collect();
    assert_eq!(
        groups,
        [None, Some(0), Some(0), Some(1), Some(2), Some(2), Some(2)]
    );
    assert_eq!(rows[1].kind, RowKind::GroupHeader(GroupStyle::Quiet));
    assert_eq!(rows[3].kind, RowKind::GroupHeader(GroupStyle::Collapsed));
    assert_eq!(
        rows[4].kind,
        RowKind::GroupHeader(GroupStyle::Expanded),
        "a header is recognised even after ANSI"
    );
    assert_eq!(rows[6].kind, RowKind::ReopenGroup);
    assert_eq!(
        bk_logs::parse::group_name(&rows[3].content),
        Some((GroupStyle::Collapsed, ":rspec: Tests"))
    );
}

#[test]
fn html_like_text_is_left_alone() {
    assert_eq!(
        contents(b"expected `Vec<u8>`, found `<stdin>` && more\n"),
        ["expected `Vec<u8>`, found `<stdin>` && more"]
    );
}

#[test]
fn a_lone_escape_at_the_end_is_dropped() {
    assert_eq!(contents(b"text\x1b\n"), ["text"]);
    assert_eq!(contents(b"text\x1b[31"), ["text"]);
}

#[test]
fn c1_controls_are_dropped_but_latin1_letters_kept() {
    assert_eq!(
        contents("a\u{9b}31mb 25°C ©\n".as_bytes()),
        ["a31mb 25°C ©"]
    );
}
