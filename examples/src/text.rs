//! Text helpers for terminal output: log rows and annotation bodies.

use std::collections::VecDeque;

/// The last `count` lines of a raw Buildkite log, as a terminal shows them
/// (timestamps, colours and carriage-return redraws resolved by the
/// `bk-logs` parser).
pub fn log_tail(raw: &[u8], count: usize) -> Vec<String> {
    let mut lines: VecDeque<String> = VecDeque::with_capacity(count.min(1024));
    if count == 0 {
        return Vec::new();
    }
    let mut sink = |row: &bk_logs::parse::Row<'_>| -> std::io::Result<()> {
        // `^^^ +++` only tells the UI to expand a group; it shows nothing.
        if row.kind == bk_logs::parse::RowKind::ReopenGroup {
            return Ok(());
        }
        if lines.len() == count {
            lines.pop_front();
        }
        lines.push_back(row.content.to_string());
        Ok(())
    };
    let parser = bk_logs::parse::Parser::default();
    // Reading from memory cannot fail; a parse error would only cut the tail
    // short.
    let _ = parser.parse_reader(raw, &mut sink);
    lines.into()
}

/// Plain text from an annotation's HTML: tags dropped (block tags become
/// line breaks, table cells spaces), entities decoded, blank lines dropped. Good enough for a terminal; not a
/// sanitiser.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end].trim_start_matches('/');
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if matches!(
            name.as_str(),
            "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "pre" | "ul" | "ol"
        ) {
            text.push('\n');
        } else if matches!(name.as_str(), "td" | "th") {
            text.push(' ');
        }
        rest = &rest[start + end + 1..];
    }
    text.push_str(rest);
    decode_entities(&text)
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` with character references (`&amp;`, `&#215;`, `&#x2715;`) and
/// a few common named entities decoded; others are left as they are.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let decoded = rest[1..]
            .find(';')
            .filter(|end| *end <= 10)
            .and_then(|end| {
                let name = &rest[1..=end];
                let ch = match name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    "nbsp" => ' ',
                    "times" => '×',
                    "hellip" => '…',
                    "mdash" => '—',
                    "ndash" => '–',
                    "rarr" => '→',
                    _ => {
                        let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
                        {
                            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                            None => name.strip_prefix('#')?.parse().ok()?,
                        };
                        char::from_u32(code)?
                    }
                };
                Some((ch, end + 2))
            });
        match decoded {
            Some((ch, length)) => {
                out.push(ch);
                rest = &rest[length..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` cut to at most `max` characters, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_keeps_the_last_visible_lines() {
        let raw = b"\x1b_bk;t=1700000000000\x07--- :rspec: Tests\n\x1b[31mFAILED\x1b[0m spec/a_spec.rb\nprogress 10%\rprogress 100%\n^^^ +++\nexit 1\n";
        assert_eq!(
            log_tail(raw, 3),
            vec!["FAILED spec/a_spec.rb", "progress 100%", "exit 1"]
        );
        assert_eq!(log_tail(raw, 0), Vec::<String>::new());
        assert_eq!(log_tail(raw, 100).len(), 4);
    }

    #[test]
    fn html_to_text_drops_tags_and_decodes_entities() {
        let html = "<h3>2 failures</h3><ul><li><code>spec/a_spec.rb:12</code> expected &lt;200&gt;</li>\n<li>Tom &amp; Jerry &times; 2 &#8212; &#x2713; &bogus; &</li></ul><table><tr><td>a.rb</td><td>boom</td></tr></table>";
        assert_eq!(
            html_to_text(html),
            "2 failures\nspec/a_spec.rb:12 expected <200>\nTom & Jerry × 2 — ✓ &bogus; &\na.rb boom"
        );
        assert_eq!(html_to_text("no tags"), "no tags");
        assert_eq!(html_to_text("broken <b"), "broken");
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("héllo", 5), "héllo");
    }
}
