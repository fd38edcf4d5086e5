//! `examples/demo/tour.json`: the tool calls the demo plays, in order.

use std::path::Path;

use serde_json::{Value, json};

/// One step of the tour.
#[derive(Debug, Clone)]
pub struct TourStep {
    /// What the step shows, as a heading.
    pub title: String,
    /// `investigation` (played by default) or `explore` (with `--all`).
    pub part: String,
    /// The tool to call.
    pub tool: String,
    /// Its arguments.
    pub arguments: Value,
}

/// Reads a tour file.
pub fn read_tour(path: &Path) -> Result<Vec<TourStep>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let steps = value
        .as_array()
        .ok_or_else(|| format!("{}: not a JSON array", path.display()))?;
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let field = |name: &str| {
                step[name]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{}: step {}: no `{name}`", path.display(), i + 1))
            };
            let part = field("part")?;
            if part != "investigation" && part != "explore" {
                return Err(format!(
                    "{}: step {}: unknown part `{part}`",
                    path.display(),
                    i + 1
                ));
            }
            Ok(TourStep {
                title: field("title")?,
                part,
                tool: field("tool")?,
                arguments: step.get("arguments").cloned().unwrap_or_else(|| json!({})),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_tour_starts_with_the_investigation() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo/tour.json");
        let tour = read_tour(&path).unwrap();
        let investigation: Vec<&str> = tour
            .iter()
            .take_while(|step| step.part == "investigation")
            .map(|step| step.tool.as_str())
            .collect();
        assert_eq!(
            investigation,
            [
                "get_build_failure_summary",
                "tail_logs",
                "search_logs",
                "triage_build_failures"
            ]
        );
        assert!(tour.len() > 30, "the explore part covers the read tools");
    }

    #[test]
    fn a_step_without_a_tool_or_with_an_unknown_part_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tour.json");
        std::fs::write(&path, r#"[{"title": "t", "part": "investigation"}]"#).unwrap();
        assert!(read_tour(&path).unwrap_err().contains("step 1: no `tool`"));
        std::fs::write(&path, r#"[{"title": "t", "part": "later", "tool": "x"}]"#).unwrap();
        assert!(
            read_tour(&path)
                .unwrap_err()
                .contains("unknown part `later`")
        );
    }
}
