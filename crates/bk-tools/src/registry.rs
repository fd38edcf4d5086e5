//! The registry: every tool, gathered from the toolsets, and the selection
//! a server exposes (toolsets, read-only mode, an allow-list): listing,
//! scopes, instructions and calls over a selection.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::call::{CallResult, call_tool};
use crate::guidance;
use crate::tool::{Access, Tool, ToolContext};
use crate::toolset::{SelectionError, Toolset};

/// Which tools a server (or one request) exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Enabled toolsets.
    pub toolsets: BTreeSet<Toolset>,
    /// Only tools that change nothing.
    pub read_only: bool,
    /// If set, only these tools (by name), within the toolsets.
    pub allow: Option<BTreeSet<String>>,
    /// Tools left out by name, whatever the toolsets and allow-list say.
    pub exclude: BTreeSet<String>,
    /// The token's scopes, when known: a tool needing one it lacks is left
    /// out. `None`: every tool is kept.
    pub token_scopes: Option<BTreeSet<String>>,
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
            exclude: BTreeSet::new(),
            token_scopes: None,
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
            && !self.exclude.contains(meta.name)
            && self
                .token_scopes
                .as_ref()
                .is_none_or(|granted| meta.scopes.iter().all(|s| granted.contains(*s)))
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
            exclude: self.exclude.union(&request.exclude).cloned().collect(),
            token_scopes: match (&self.token_scopes, &request.token_scopes) {
                (Some(a), Some(b)) => Some(a.intersection(b).cloned().collect()),
                (Some(a), None) | (None, Some(a)) => Some(a.clone()),
                (None, None) => None,
            },
        }
    }
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

    /// Checks the tool names a selection's allow-list and exclusions give
    /// exist.
    pub fn validate(&self, selection: &Selection) -> Result<(), SelectionError> {
        let named = selection.allow.iter().flatten().chain(&selection.exclude);
        for name in named {
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

    /// The `tools/list` entries of a selection: name, title (once),
    /// description, input schema and annotations ([`Annotations::listed`]).
    ///
    /// [`Annotations::listed`]: crate::Annotations::listed
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
                    "annotations": meta.annotations().listed(),
                })
            })
            .collect()
    }

    /// Calls a tool of the selection and shapes its result: the tool is
    /// looked up and checked against the selection here, once, then
    /// [`call_tool`] runs it.
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
                replay_miss: false,
                links: Vec::new(),
            };
        };
        call_tool(tool.as_ref(), ctx, args).await
    }

    /// Server instructions for a selection: how to use the enabled tools
    /// (see [`guidance::instructions`]).
    pub fn instructions(&self, selection: &Selection) -> String {
        guidance::instructions(&self.select(selection))
    }
}
