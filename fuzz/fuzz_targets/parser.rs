//! Fuzzes the log parser: any bytes, split into chunks at fuzzer-chosen
//! places, must parse without panicking, give the same rows whatever the
//! chunking, and never leave escape or control characters in a row.

#![no_main]

use bk_logs::parse::{Parser, ParserOptions, Row};
use libfuzzer_sys::fuzz_target;

fn parse(data: &[u8], chunk: usize, max_line_bytes: usize) -> Vec<(u64, Option<i64>, String)> {
    let mut rows = Vec::new();
    let mut sink = |row: &Row<'_>| {
        rows.push((row.offset, row.ts, row.content.to_string()));
        Ok(())
    };
    let mut parser = Parser::new(ParserOptions { max_line_bytes });
    for piece in data.chunks(chunk.max(1)) {
        parser
            .feed(piece, &mut sink)
            .expect("a memory sink never fails");
    }
    parser.finish(&mut sink).expect("a memory sink never fails");
    rows
}

fuzz_target!(|input: &[u8]| {
    let Some((&knob, data)) = input.split_first() else {
        return;
    };
    let chunk = usize::from(knob % 17) + 1;
    let limit = 16 + usize::from(knob >> 4) * 8;
    let whole = parse(data, usize::MAX, limit);
    assert_eq!(
        whole,
        parse(data, chunk, limit),
        "chunking changed the rows"
    );
    let mut previous = None;
    for (offset, _, content) in &whole {
        assert!(
            content.chars().all(|c| c == '\t' || !c.is_control()),
            "{content:?}"
        );
        assert!(previous.is_none_or(|p| *offset > p));
        previous = Some(*offset);
    }
});
