//! What a server says besides its tools: the instructions for a selection
//! of tools, the prompts it offers and the resources it serves (the
//! debug-logs guide).

use std::sync::Arc;

use crate::tool::Tool;
use crate::tools::skills::DEBUG_LOGS_GUIDE;
use crate::toolset::Toolset;

/// Server instructions for the `selected` tools: how to use them. Every
/// sentence that names a tool is given only when that tool is selected, so
/// the instructions never name a tool the client cannot call (an allow-list
/// may keep one tool of a toolset).
pub fn instructions(selected: &[Arc<dyn Tool>]) -> String {
    let has = |name: &str| selected.iter().any(|t| t.meta().name == name);
    let has_toolset = |toolset: Toolset| selected.iter().any(|t| t.meta().toolset == toolset);
    // "`a`, then `b`, then `c`" over the tools that are there.
    let chain = |steps: &[(&str, &str)]| -> Option<String> {
        let present: Vec<String> = steps
            .iter()
            .filter(|(name, _)| has(name))
            .map(|(name, how)| format!("`{name}`{how}"))
            .collect();
        (!present.is_empty()).then(|| present.join(", then "))
    };
    let mut parts: Vec<String> = vec![
        "This server gives access to Buildkite CI: pipelines, builds, jobs, logs, artifacts, annotations, clusters, agents and Test Engine. Results are compact JSON; long lists say how to fetch the rest in `truncated`.".into(),
    ];
    let org_tools: Vec<&str> = ["user_token_organization", "list_organizations"]
        .into_iter()
        .filter(|n| has(n))
        .collect();
    if !org_tools.is_empty() {
        parts.push(format!(
            "Start with {} to learn the `org_slug` the other tools take.",
            org_tools
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" (or ")
                + if org_tools.len() > 1 { ")" } else { "" }
        ));
    }
    if has_toolset(Toolset::Builds) {
        let mut text = String::new();
        if has("resolve_url") {
            text.push_str(
                "Given a Buildkite URL, call `resolve_url` to get the slugs and numbers. ",
            );
        }
        text.push_str("`build_number` is the build's number (e.g. \"42\"), not its UUID. Job states: `broken` never ran (if-condition, branch filter or a failed dependency), `failed` ran and exited non-zero, `skipped` was superseded. Investigate failed upstream jobs first.");
        parts.push(text);
    }
    if has("get_build_failure_summary") {
        parts.push("To find why a build failed, start with `get_build_failure_summary`, and drill down only when needed.".into());
    }
    if let Some(steps) = chain(&[
        ("tail_logs", " first (digest=true for a failed job)"),
        ("search_logs", " with a pattern and a limit"),
        ("read_logs", " from a row a search returned"),
    ]) {
        parts.push(format!("For logs, use {steps}. Avoid reading whole logs."));
    }
    if has("list_skills") {
        let load = if has("load_skill") {
            ", and `load_skill` for a guide that matches the task"
        } else {
            ""
        };
        parts.push(format!("`list_skills` is cheap: call it early{load}."));
    } else if has("load_skill") {
        parts.push("`load_skill` loads a usage guide by name.".into());
    }
    if has("create_annotation") {
        parts.push("Annotations with scope \"job\" need `job_id`.".into());
    }
    parts.push("Errors say which call failed and why: 401 means the token is invalid or expired; 403 names the token scope the tool needs; 404 usually means a wrong slug or a build UUID given as build_number.".into());
    parts.join("\n\n")
}

/// A prompt a server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompt {
    /// Name.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// The user message it produces.
    pub text: &'static str,
}

/// The prompts: finding the organization first, and reporting an issue.
pub const PROMPTS: &[Prompt] = &[
    Prompt {
        name: "user_token_organization_prompt",
        description: "Look up the organization of the token before working with pipelines",
        text: "Before answering questions about Buildkite pipelines or builds, call the user_token_organization tool to find the organization slug of my API token, then use that org_slug in the other tools.",
    },
    Prompt {
        name: "report_issue",
        description: "Draft a bug report about this MCP server",
        text: "Help me write a bug report for this Buildkite MCP server. Ask what I was trying to do if it is not clear. Then write it with these sections: Summary, Environment (server version, client), Tool calls (names and arguments, with any secrets removed), What happened, What I expected, Context (short log excerpts only). Never include tokens or other secrets.",
    },
];

/// A readable resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// URI.
    pub uri: &'static str,
    /// Name.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// MIME type.
    pub mime_type: &'static str,
    /// Content.
    pub text: &'static str,
}

/// The resources: the debug-logs guide.
pub const RESOURCES: &[Resource] = &[Resource {
    uri: "buildkite://debug-logs-guide",
    name: "Debug Logs Guide",
    description: "How to find why a Buildkite build failed, using the log tools efficiently",
    mime_type: "text/markdown",
    text: DEBUG_LOGS_GUIDE,
}];
