//! Annotation bodies: the only place HTML is allow-listed.

/// Cleans an annotation's `body_html` to an allow-list of formatting
/// elements: scripts, styles, event handlers and unknown tags go.
pub fn clean_annotation_html(html: &str) -> String {
    ammonia::Builder::default()
        .add_tags(["details", "summary"])
        .clean(html)
        .to_string()
}

/// An annotation's `body_html` as plain text, for summaries: tags
/// removed, entities decoded, headings, lists, code and tables laid out as
/// light markdown, link targets left out, blank runs collapsed.
pub fn annotation_text(html: &str) -> String {
    // A wide layout: lines are not re-wrapped; the caller trims length.
    let text = html2text::config::plain()
        .no_link_wrapping()
        .link_footnotes(false)
        // Box-drawing borders cost 3 bytes each and say nothing.
        .no_table_borders()
        .string_from_read(html.as_bytes(), 10_000)
        .unwrap_or_else(|_| html.to_owned());
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_text_is_plain() {
        let html = r#"<h3>3 tests failed</h3><p>See <a href="https://x/y">the run</a> &amp; <code>Vec&lt;String&gt;</code></p><ul><li>one</li><li>two</li></ul><script>alert(1)</script>"#;
        let text = annotation_text(html);
        assert!(text.contains("3 tests failed"), "{text}");
        assert!(
            text.contains("the run") && text.contains("Vec<String>"),
            "{text}"
        );
        assert!(text.contains(" & "), "entities decoded: {text}");
        assert!(text.contains("one") && text.contains("two"), "{text}");
        assert!(
            !text.contains('<') || text.contains("Vec<String>"),
            "{text}"
        );
        assert!(!text.contains("alert"), "{text}");
    }

    #[test]
    fn scripts_go_formatting_stays() {
        let html = r#"<p onclick="x()">3 <b>failed</b></p><script>alert(1)</script><details><summary>more</summary>x</details>"#;
        assert_eq!(
            clean_annotation_html(html),
            "<p>3 <b>failed</b></p><details><summary>more</summary>x</details>"
        );
    }
}
