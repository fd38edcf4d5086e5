//! Annotation bodies: the only place HTML is allow-listed.

/// Cleans an annotation's `body_html` to an allow-list of formatting
/// elements: scripts, styles, event handlers and unknown tags go.
pub fn clean_annotation_html(html: &str) -> String {
    ammonia::Builder::default()
        .add_tags(["details", "summary"])
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_go_formatting_stays() {
        let html = r#"<p onclick="x()">3 <b>failed</b></p><script>alert(1)</script><details><summary>more</summary>x</details>"#;
        assert_eq!(
            clean_annotation_html(html),
            "<p>3 <b>failed</b></p><details><summary>more</summary>x</details>"
        );
    }
}
