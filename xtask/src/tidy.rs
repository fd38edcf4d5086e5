//! Tidy checks, run by `cargo test` (in the spirit of rust-analyzer's
//! `xtask tidy`): the rules that keep the code a newcomer can read, checked
//! on every test run instead of remembered.
//!
//! - The dependency rules of ARCHITECTURE.md, read from `cargo metadata`.
//! - A `//!` doc comment opening every module of the crates, the examples
//!   and xtask.
//! - No source file over [`MAX_LINES`] lines, unless [`LONG_FILES`] records
//!   why.

use std::path::{Path, PathBuf};

/// Longest a source file may be without a recorded reason.
pub const MAX_LINES: usize = 800;

/// Files allowed past [`MAX_LINES`], each with why (paths from the
/// workspace root). A file that shrinks below the limit must leave this
/// list; the test says so.
pub const LONG_FILES: &[(&str, &str)] = &[];

/// Crates that speak HTTP, or a cloud or Redis protocol.
const NETWORK_CRATES: &[&str] = &[
    "reqwest",
    "hyper",
    "hyper-util",
    "http",
    "axum",
    "tower-http",
    "object_store",
    "redis",
    "rmcp",
];

/// What each workspace crate may depend on among the others (normal
/// dependencies), from ARCHITECTURE.md's dependency rules.
const ALLOWED_WORKSPACE_DEPS: &[(&str, &[&str])] = &[
    ("buildkite-api", &[]),
    ("bk-logs", &[]),
    ("bk-loggen", &[]),
    ("bk-fleet", &["bk-logs", "buildkite-api"]),
    ("bk-tools", &["buildkite-api", "bk-logs"]),
    (
        "bk-mcp",
        &["buildkite-api", "bk-logs", "bk-tools", "bk-fleet"],
    ),
];

/// The workspace root.
fn root() -> PathBuf {
    crate::workspace_root()
}

/// The Rust source files of the crates' `src/`, the examples and xtask:
/// everything but tests, benches and fixtures.
fn source_files() -> Vec<PathBuf> {
    let root = root();
    let mut dirs = vec![root.join("xtask/src"), root.join("examples")];
    if let Ok(crates) = std::fs::read_dir(root.join("crates")) {
        dirs.extend(crates.filter_map(Result::ok).map(|c| c.path().join("src")));
    }
    let mut files = Vec::new();
    for dir in dirs {
        collect_rust_files(&dir, &mut files);
    }
    files.sort();
    files
}

fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            // Test code, fixtures and installed tools are not the sources.
            if !matches!(
                name.as_ref(),
                "tests" | "fixtures" | "node_modules" | ".venv" | "target" | "snapshots"
            ) {
                collect_rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_opens_with_a_doc_comment() {
        let missing: Vec<String> = source_files()
            .into_iter()
            .filter(|file| {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                !text
                    .lines()
                    .find(|line| !line.trim().is_empty())
                    .is_some_and(|line| line.starts_with("//!"))
            })
            .map(|file| relative(&file))
            .collect();
        assert!(
            missing.is_empty(),
            "these modules do not open with a `//!` comment saying what they are:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn no_source_file_is_too_long_without_a_reason() {
        let mut too_long = Vec::new();
        let mut listed_but_short = Vec::new();
        for file in source_files() {
            let name = relative(&file);
            let lines = std::fs::read_to_string(&file)
                .unwrap_or_default()
                .lines()
                .count();
            let listed = LONG_FILES.iter().any(|(path, _)| *path == name);
            if lines > MAX_LINES && !listed {
                too_long.push(format!("{name}: {lines} lines"));
            }
            if lines <= MAX_LINES && listed {
                listed_but_short.push(format!("{name}: {lines} lines"));
            }
        }
        assert!(
            too_long.is_empty(),
            "over {MAX_LINES} lines: split by concern, or record why in tidy::LONG_FILES:\n{}",
            too_long.join("\n")
        );
        assert!(
            listed_but_short.is_empty(),
            "listed in tidy::LONG_FILES but no longer long: remove them from the list:\n{}",
            listed_but_short.join("\n")
        );
        for (path, why) in LONG_FILES {
            assert!(!why.trim().is_empty(), "{path}: say why it is long");
        }
    }

    /// The workspace's packages as `cargo metadata` lists them.
    fn packages() -> Vec<serde_json::Value> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = std::process::Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(root())
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
        metadata["packages"].as_array().cloned().unwrap_or_default()
    }

    /// A package's normal (not dev, not build) dependencies: name and
    /// whether it is optional.
    fn normal_dependencies(package: &serde_json::Value) -> Vec<(String, bool)> {
        package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dep| dep["kind"].is_null())
            .map(|dep| {
                (
                    dep["name"].as_str().unwrap_or_default().to_owned(),
                    dep["optional"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    }

    #[test]
    fn crates_keep_the_dependency_rules() {
        let packages = packages();
        let members: Vec<String> = packages
            .iter()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        let mut broken = Vec::new();
        for (name, allowed) in ALLOWED_WORKSPACE_DEPS {
            let package = packages
                .iter()
                .find(|p| p["name"] == *name)
                .unwrap_or_else(|| panic!("{name} is not in the workspace"));
            let deps = normal_dependencies(package);
            for (dep, _) in &deps {
                if members.contains(dep) && !allowed.contains(&dep.as_str()) {
                    broken.push(format!("{name} depends on {dep}"));
                }
            }
            // Below bk-mcp, only buildkite-api, bk-fleet (and optional
            // features) may speak a network protocol, and nobody knows MCP.
            let may_use_network = matches!(*name, "buildkite-api" | "bk-fleet" | "bk-mcp");
            for (dep, optional) in &deps {
                if dep == "rmcp" && *name != "bk-mcp" {
                    broken.push(format!("{name} depends on rmcp: only bk-mcp knows MCP"));
                }
                if !may_use_network && !optional && NETWORK_CRATES.contains(&dep.as_str()) {
                    broken.push(format!(
                        "{name} depends on {dep}: it must stay free of network crates"
                    ));
                }
            }
        }
        assert!(
            broken.is_empty(),
            "ARCHITECTURE.md's dependency rules are broken:\n{}",
            broken.join("\n")
        );
    }
}
