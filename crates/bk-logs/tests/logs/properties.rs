//! Properties of the parser that must hold for any input bytes.

use bk_logs::parse::{Parser, ParserOptions, Row};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq)]
struct Owned {
    offset: u64,
    ts: Option<i64>,
    content: String,
}

fn parse(input: &[u8], chunk: usize, max_line_bytes: usize) -> (Vec<Owned>, u64) {
    let mut rows = Vec::new();
    let mut sink = |row: &Row<'_>| {
        rows.push(Owned {
            offset: row.offset,
            ts: row.ts,
            content: row.content.to_string(),
        });
        Ok(())
    };
    let mut parser = Parser::new(ParserOptions { max_line_bytes });
    for piece in input.chunks(chunk.max(1)) {
        parser.feed(piece, &mut sink).unwrap();
    }
    let summary = parser.finish(&mut sink).unwrap();
    (rows, summary.raw_bytes)
}

/// Bytes biased towards what makes logs hard: escapes, markers, CR, LF,
/// UTF-8 fragments.
fn log_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..8),
        2 => Just(b"\x1b_bk;t=1700000000000\x07".to_vec()),
        1 => Just(b"\x1b_bk;t=".to_vec()),
        2 => Just(b"\x1b[31m".to_vec()),
        1 => Just(b"\x1b]1338;url=x\x07".to_vec()),
        1 => Just(b"\x1b[K".to_vec()),
        2 => Just(b"\r".to_vec()),
        3 => Just(b"\n".to_vec()),
        1 => Just(b"\r\r\n".to_vec()),
        1 => Just("é€😀".as_bytes().to_vec()),
        1 => Just(b"--- group\n".to_vec()),
        1 => Just(b"^^^ +++\n".to_vec()),
    ];
    proptest::collection::vec(piece, 0..64).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn rows_are_clean_ordered_and_complete(input in log_bytes(), chunk in 1usize..40, limit in 16usize..64) {
        let (rows, raw_bytes) = parse(&input, chunk, limit);
        prop_assert_eq!(raw_bytes, input.len() as u64);
        let newlines = input.iter().filter(|&&b| b == b'\n').count();
        let expected_rows = newlines + usize::from(!input.is_empty() && input.last() != Some(&b'\n'));
        prop_assert_eq!(rows.len(), expected_rows);
        let mut previous = None;
        for row in &rows {
            prop_assert!(!row.content.contains('\x1b'), "ESC in {:?}", row.content);
            prop_assert!(!row.content.contains('\n') && !row.content.contains('\r'));
            prop_assert!(row.content.chars().all(|c| c == '\t' || !c.is_control()));
            prop_assert!((row.offset as usize) < input.len());
            if let Some(previous) = previous {
                prop_assert!(row.offset > previous, "offsets must increase");
            }
            previous = Some(row.offset);
        }
    }

    #[test]
    fn chunking_never_changes_the_rows(input in log_bytes(), chunk in 1usize..40) {
        let (whole, _) = parse(&input, usize::MAX, 1 << 20);
        let (chunked, _) = parse(&input, chunk, 1 << 20);
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn any_bytes_at_all_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512), chunk in 1usize..64) {
        let _ = parse(&input, chunk, 16);
    }
}
