//! The registry: every tool, grouped in toolsets, and the selection a
//! server exposes (toolsets, read-only mode, an allow-list).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde_json::Value;

use crate::error::ToolError;
use crate::shape::{render, render_error};
use crate::tool::{Access, Tool, ToolContext};

/// A group of related tools that can be enabled together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Toolset {
    /// Clusters and queues.
    Clusters,
    /// Agents.
    Agents,
    /// Pipelines and schedules.
    Pipelines,
    /// Builds, jobs and step uploads.
    Builds,
    /// Artifacts.
    Artifacts,
    /// Test Engine.
    Tests,
    /// Job logs.
    Logs,
    /// Annotations.
    Annotations,
    /// Failure investigation.
    Investigations,
    /// The user, token and organizations.
    User,
    /// Usage guides.
    Skills,
}

impl Toolset {
    /// Every toolset, in a stable order.
    pub const ALL: [Toolset; 11] = [
        Toolset::Clusters,
        Toolset::Agents,
        Toolset::Pipelines,
        Toolset::Builds,
        Toolset::Artifacts,
        Toolset::Tests,
        Toolset::Logs,
        Toolset::Annotations,
        Toolset::Investigations,
        Toolset::User,
        Toolset::Skills,
    ];

    /// The name used in configuration (`BUILDKITE_TOOLSETS`).
    pub fn name(self) -> &'static str {
        match self {
            Toolset::Clusters => "clusters",
            Toolset::Agents => "agents",
            Toolset::Pipelines => "pipelines",
            Toolset::Builds => "builds",
            Toolset::Artifacts => "artifacts",
            Toolset::Tests => "tests",
            Toolset::Logs => "logs",
            Toolset::Annotations => "annotations",
            Toolset::Investigations => "investigations",
            Toolset::User => "user",
            Toolset::Skills => "skills",
        }
    }

    /// What the toolset covers.
    pub fn description(self) -> &'static str {
        match self {
            Toolset::Clusters => {
                "Clusters and cluster queues: inspect, create, update, pause and resume dispatch"
            }
            Toolset::Agents => "Agents: list and inspect connected agents",
            Toolset::Pipelines => "Pipelines and pipeline schedules: inspect, create and update",
            Toolset::Builds => {
                "Builds, jobs and step uploads: list, inspect, wait, create, cancel, rebuild, retry, unblock"
            }
            Toolset::Artifacts => {
                "Build and job artifacts: list, and read small text artifacts inline"
            }
            Toolset::Tests => {
                "Test Engine: suites, runs, failed executions, tests and their reliability"
            }
            Toolset::Logs => "Job logs: tail, search and read, cached and indexed",
            Toolset::Annotations => "Build and job annotations: list and create",
            Toolset::Investigations => "Failure investigation across builds, jobs, logs and tests",
            Toolset::User => "The current user, token scopes and organizations",
            Toolset::Skills => "Usage guides for these tools",
        }
    }
}

impl fmt::Display for Toolset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Toolset {
    type Err = SelectionError;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let name = name.trim().to_ascii_lowercase();
        Toolset::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or(SelectionError::UnknownToolset(name))
    }
}

/// Parses a comma-separated toolset list; `all` means every toolset.
pub fn parse_toolsets(list: &str) -> Result<BTreeSet<Toolset>, SelectionError> {
    let mut set = BTreeSet::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("all") {
            set.extend(Toolset::ALL);
        } else {
            set.insert(name.parse()?);
        }
    }
    Ok(set)
}

fn valid_toolsets() -> String {
    let mut names = vec!["all"];
    names.extend(Toolset::ALL.map(Toolset::name));
    names.join(", ")
}

/// Why a selection is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// A toolset name that does not exist.
    #[error("unknown toolset {0:?}; valid toolsets: {valid}", valid = valid_toolsets())]
    UnknownToolset(String),
    /// An allow-listed tool name that does not exist.
    #[error("unknown tool {0:?}; valid tools: {1}")]
    UnknownTool(String, String),
}

/// Which tools a server (or one request) exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Enabled toolsets.
    pub toolsets: BTreeSet<Toolset>,
    /// Only tools that change nothing.
    pub read_only: bool,
    /// If set, only these tools (by name), within the toolsets.
    pub allow: Option<BTreeSet<String>>,
}

impl Default for Selection {
    fn default() -> Self {
        Selection::all()
    }
}

impl Selection {
    /// Every tool.
    pub fn all() -> Self {
        Selection {
            toolsets: Toolset::ALL.into_iter().collect(),
            read_only: false,
            allow: None,
        }
    }

    /// Whether `tool` is in this selection.
    pub fn includes(&self, tool: &dyn Tool) -> bool {
        let meta = tool.meta();
        self.toolsets.contains(&meta.toolset)
            && (!self.read_only || meta.access == Access::Read)
            && self
                .allow
                .as_ref()
                .is_none_or(|allow| allow.contains(meta.name))
    }

    /// The narrower of two selections (an operator's and a request's): a
    /// request can only remove tools, never add any.
    pub fn narrowed_by(&self, request: &Selection) -> Selection {
        Selection {
            toolsets: self
                .toolsets
                .intersection(&request.toolsets)
                .copied()
                .collect(),
            read_only: self.read_only || request.read_only,
            allow: match (&self.allow, &request.allow) {
                (Some(a), Some(b)) => Some(a.intersection(b).cloned().collect()),
                (Some(a), None) | (None, Some(a)) => Some(a.clone()),
                (None, None) => None,
            },
        }
    }
}

/// The result of a call, shaped and ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResult {
    /// The text to send (JSON, or markdown for guides, or an error message).
    pub text: String,
    /// Whether this is an error result.
    pub is_error: bool,
    /// Whether the error was a refused token (HTTP mode answers 401).
    pub unauthorized: bool,
    /// Requests the call sent to the Buildkite API (each attempt counts).
    pub api_requests: u64,
}

/// Every tool, and the operations on a selection of them.
#[derive(Clone)]
pub struct Registry {
    tools: Vec<Arc<dyn Tool>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.tools.iter().map(|t| t.meta().name))
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// The registry of every tool, sorted by name.
    pub fn new() -> Self {
        let mut tools = crate::tools::all();
        tools.sort_by_key(|t| t.meta().name);
        Registry { tools }
    }

    /// Every tool.
    pub fn all_tools(&self) -> &[Arc<dyn Tool>] {
        &self.tools
    }

    /// Checks a selection's allow-list names exist.
    pub fn validate(&self, selection: &Selection) -> Result<(), SelectionError> {
        if let Some(allow) = &selection.allow {
            for name in allow {
                if self.get(name).is_none() {
                    let valid = self
                        .tools
                        .iter()
                        .map(|t| t.meta().name)
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(SelectionError::UnknownTool(name.clone(), valid));
                }
            }
        }
        Ok(())
    }

    /// The tools of a selection, sorted by name.
    pub fn select(&self, selection: &Selection) -> Vec<Arc<dyn Tool>> {
        self.tools
            .iter()
            .filter(|t| selection.includes(t.as_ref()))
            .cloned()
            .collect()
    }

    /// A tool by name, in any toolset.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.iter().find(|t| t.meta().name == name)
    }

    /// The token scopes a selection needs, sorted.
    pub fn required_scopes(&self, selection: &Selection) -> BTreeSet<&'static str> {
        self.select(selection)
            .iter()
            .flat_map(|t| t.meta().scopes.iter().copied())
            .collect()
    }

    /// The `tools/list` entries of a selection: name, title, description,
    /// input schema and annotations.
    pub fn list(&self, selection: &Selection) -> Vec<Value> {
        self.select(selection)
            .iter()
            .map(|tool| {
                let meta = tool.meta();
                serde_json::json!({
                    "name": meta.name,
                    "title": meta.title,
                    "description": meta.description,
                    "inputSchema": tool.input_schema(),
                    "annotations": meta.annotations(),
                })
            })
            .collect()
    }

    /// Calls a tool of the selection and shapes its result.
    pub async fn call(
        &self,
        selection: &Selection,
        ctx: &ToolContext,
        name: &str,
        args: Value,
    ) -> CallResult {
        let Some(tool) = self.get(name).filter(|t| selection.includes(t.as_ref())) else {
            let available = self
                .select(selection)
                .iter()
                .map(|t| t.meta().name)
                .collect::<Vec<_>>()
                .join(", ");
            return CallResult {
                text: format!(
                    "unknown tool {name:?} (or not enabled on this server); available tools: {available}"
                ),
                is_error: true,
                unauthorized: false,
                api_requests: 0,
            };
        };
        // The tool's API calls carry its name in their tracing spans, and
        // are counted and remembered per call (a caller that made the call's
        // client itself keeps it, to count a call it cuts short too).
        let client = if ctx.client.in_call() {
            ctx.client.for_tool(name)
        } else {
            ctx.client.for_call(name)
        };
        let ctx = &ToolContext {
            client,
            ..ctx.clone()
        };
        let outcome = tokio::select! {
            outcome = tool.call(ctx, args) => outcome,
            () = ctx.cancel.cancelled() => Err(ToolError::Other("the call was cancelled".into())),
        };
        let api_requests = ctx.client.requests_sent();
        match outcome {
            Ok(output) => match render(output, &ctx.limits) {
                Ok(text) => CallResult {
                    text,
                    is_error: false,
                    unauthorized: false,
                    api_requests,
                },
                Err(message) => CallResult {
                    text: render_error(&message, &ctx.limits),
                    is_error: true,
                    unauthorized: false,
                    api_requests,
                },
            },
            Err(error) => CallResult {
                text: render_error(&error.to_string(), &ctx.limits),
                is_error: true,
                unauthorized: error.is_unauthorized(),
                api_requests,
            },
        }
    }

    /// Server instructions for a selection: how to use the enabled tools.
    /// Every sentence that names a tool is given only when that tool is in
    /// the selection, so the instructions never name a tool the client
    /// cannot call (an allow-list may keep one tool of a toolset).
    pub fn instructions(&self, selection: &Selection) -> String {
        let selected = self.select(selection);
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
    text: crate::tools::skills::DEBUG_LOGS_GUIDE,
}];
