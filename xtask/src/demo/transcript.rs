//! The demo's transcript: what the client sends and what comes back, with
//! long results abbreviated so a whole investigation fits on a screen or two.

use std::io::Write;

use serde_json::Value;

use super::tour::TourStep;

/// Most lines of one result printed (unless `--full`).
const MAX_RESULT_LINES: usize = 60;
/// Most items of an array printed.
const MAX_ITEMS: usize = 4;
/// Most log rows of an array printed.
const MAX_LOG_ROWS: usize = 12;
/// Most characters of a string printed.
const MAX_CHARS: usize = 240;

/// Prints the transcript to stdout (or nothing, when quiet).
#[derive(Debug)]
pub struct Printer {
    full: bool,
    quiet: bool,
}

impl Printer {
    /// A printer; `full` prints results whole.
    pub fn new(full: bool) -> Self {
        println!(
            "bk-mcp demo: the `acme` organisation, answered from examples/demo/demo.har (no account, no network)\n"
        );
        Printer { full, quiet: false }
    }

    /// A printer that prints nothing (for checks).
    pub fn quiet() -> Self {
        Printer {
            full: false,
            quiet: true,
        }
    }

    fn line(&self, text: &str) {
        if !self.quiet {
            println!("{text}");
            let _ = std::io::stdout().flush();
        }
    }

    /// A request going out.
    pub fn request(&self, method: &str, params: &Value) {
        if params.as_object().is_some_and(|p| !p.is_empty()) {
            self.line(&format!("→ {method} {params}"));
        } else {
            self.line(&format!("→ {method}"));
        }
    }

    /// The `initialize` result.
    pub fn initialized(&self, result: &Value) {
        let info = &result["serverInfo"];
        let capabilities: Vec<&str> = result["capabilities"]
            .as_object()
            .map(|c| c.keys().map(String::as_str).collect())
            .unwrap_or_default();
        self.line(&format!(
            "← {} {} (protocol {}; offers {})",
            info["name"].as_str().unwrap_or("?"),
            info["version"].as_str().unwrap_or("?"),
            result["protocolVersion"].as_str().unwrap_or("?"),
            capabilities.join(", ")
        ));
        if let Some(instructions) = result["instructions"].as_str() {
            let first = instructions.lines().next().unwrap_or("");
            self.line(&format!("  instructions: {}", cut(first, 160)));
        }
        self.line("");
    }

    /// The `tools/list` result.
    pub fn tools(&self, result: &Value) {
        let tools = result["tools"].as_array().cloned().unwrap_or_default();
        let read_only = tools
            .iter()
            .filter(|t| t["annotations"]["readOnlyHint"].as_bool() == Some(true))
            .count();
        self.line(&format!("← {} tools ({read_only} read-only):", tools.len()));
        let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
        let mut row = String::from(" ");
        for name in names {
            if row.len() + name.len() > 100 {
                self.line(&row);
                row = String::from(" ");
            }
            row.push(' ');
            row.push_str(name);
        }
        self.line(&row);
        self.line("");
    }

    /// The start of a tour step.
    pub fn step(&self, number: usize, total: usize, step: &TourStep) {
        let title = format!("── {number}/{total} {} ", step.title);
        let fill = 100_usize.saturating_sub(title.chars().count());
        self.line(&format!("{title}{}", "─".repeat(fill)));
        self.line(&format!("→ tools/call {} {}", step.tool, step.arguments));
    }

    /// A notification that arrived while waiting (progress, logging).
    pub fn notification(&self, message: &Value) {
        let params = &message["params"];
        match message["method"].as_str() {
            Some("notifications/progress") => {
                let progress = params["progress"].as_f64().unwrap_or(0.0);
                let amount = match params["total"].as_f64() {
                    Some(total) if total > 0.0 => format!("{progress}/{total}"),
                    _ => format!("{progress}"),
                };
                let message = params["message"].as_str().unwrap_or("");
                self.line(&format!("  ⋯ progress {amount} {message}"));
            }
            Some(other) => self.line(&format!("  ⋯ {other}")),
            None => {}
        }
    }

    /// A tool result.
    pub fn result(&self, text: &str, is_error: bool) {
        let label = if is_error { "error" } else { "result" };
        self.line(&format!("← {label} ({} bytes):", text.len()));
        let body = match serde_json::from_str::<Value>(text) {
            Ok(value) if self.full => pretty(&value),
            Ok(value) => pretty(&shorten(&value)),
            Err(_) => text.to_owned(),
        };
        let lines: Vec<&str> = body.lines().collect();
        let shown = if self.full {
            lines.len()
        } else {
            lines.len().min(MAX_RESULT_LINES)
        };
        for line in &lines[..shown] {
            self.line(&format!("  {line}"));
        }
        if shown < lines.len() {
            self.line(&format!(
                "  … {} more lines (cargo xtask demo --full prints everything)",
                lines.len() - shown
            ));
        }
        self.line("");
    }

    /// The closing line.
    pub fn finish(&self, steps: usize, failed: &[&str]) {
        if failed.is_empty() {
            self.line(&format!(
                "Done: {steps} calls answered. Point your MCP client at `bk-mcp-stdio --demo` to explore the same organisation."
            ));
        } else {
            self.line(&format!(
                "{} of {steps} calls failed: {}",
                failed.len(),
                failed.join(", ")
            ));
        }
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A copy with long arrays and strings cut, each cut saying how much it
/// left out, and log rows (`{"rn", "c", …}`) as one line each.
fn shorten(value: &Value) -> Value {
    if let Some(row) = log_row(value) {
        return Value::String(row);
    }
    match value {
        Value::Array(items) => {
            let limit = if items.iter().all(|item| log_row(item).is_some()) {
                MAX_LOG_ROWS
            } else {
                MAX_ITEMS
            };
            let mut kept: Vec<Value> = items.iter().take(limit).map(shorten).collect();
            if items.len() > limit {
                kept.push(Value::String(format!(
                    "… {} more items",
                    items.len() - limit
                )));
            }
            Value::Array(kept)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), shorten(value)))
                .collect(),
        ),
        Value::String(text) => Value::String(cut(text, MAX_CHARS)),
        other => other.clone(),
    }
}

/// A log row as `  row │ text`: `rn` is its row number, `c` its text, and
/// `x` how many rows a gap (`…`) or a folded line stands for.
fn log_row(value: &Value) -> Option<String> {
    let row = value.as_object()?;
    let number = row.get("rn")?.as_u64()?;
    let text = row.get("c")?.as_str()?;
    let times = row.get("x").and_then(Value::as_u64);
    Some(match times {
        Some(count) if text == "…" => format!("      … {count} rows"),
        Some(count) => format!("{number:>5} │ {} (×{count})", cut(text, MAX_CHARS)),
        None => format!("{number:>5} │ {}", cut(text, MAX_CHARS)),
    })
}

/// `text` cut to `max` characters, saying how many were left out.
fn cut(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… ({} more characters)", count - max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_arrays_and_strings_are_cut_with_a_count() {
        let value = json!({"rows": [1, 2, 3, 4, 5, 6], "text": "x".repeat(300), "n": 1});
        assert_eq!(
            shorten(&value),
            json!({
                "rows": [1, 2, 3, 4, "… 2 more items"],
                "text": format!("{}… (60 more characters)", "x".repeat(240)),
                "n": 1
            })
        );
    }

    #[test]
    fn log_rows_print_as_lines() {
        let rows = json!([
            {"rn": 0, "c": "…", "x": 20},
            {"rn": 20, "ts": 1, "c": "Failure/Error: expect(order.total)"},
            {"rn": 21, "c": "retrying", "x": 3},
        ]);
        assert_eq!(
            shorten(&rows),
            json!([
                "      … 20 rows",
                "   20 │ Failure/Error: expect(order.total)",
                "   21 │ retrying (×3)"
            ])
        );
    }

    #[test]
    fn short_values_are_kept_whole() {
        let value = json!({"rows": [1, 2], "text": "é".repeat(240)});
        assert_eq!(shorten(&value), value);
    }
}
