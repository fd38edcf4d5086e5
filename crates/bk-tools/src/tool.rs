//! What a tool is: metadata, a typed handler, and the context it runs in.
//!
//! A tool is a unit struct implementing [`Handler`]: its arguments are a
//! typed struct (the input schema is generated from it), and `run` returns a
//! [`ToolOutput`]. The blanket [`Tool`] implementation does the rest: strict
//! argument parsing with errors that name the parameter, and a schema
//! generated once.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::args::{parse_args, schema_for};
use crate::error::ToolError;
use crate::limits::Limits;
use crate::shape::ToolOutput;
use crate::toolset::Toolset;

/// Whether a tool only reads, or changes something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only; safe to retry.
    Read,
    /// Creates something new (not destructive: nothing existing changes).
    Create,
    /// Changes or stops something that exists.
    Modify,
}

/// A tool's fixed description.
#[derive(Debug, Clone, Copy)]
pub struct ToolMeta {
    /// Name the model calls, e.g. `get_build`.
    pub name: &'static str,
    /// Short human title, e.g. `Get Build`.
    pub title: &'static str,
    /// When to use it and what comes back, for the model: at most
    /// [`DESCRIPTION_LIMIT`] characters (the log and investigation tools
    /// [`LONG_DESCRIPTION_LIMIT`]). It is in every session's `tools/list`.
    pub description: &'static str,
    /// The rest a reader may want (behaviour, defaults, limits), for
    /// `docs/tools.md` only: it costs no session anything.
    pub details: &'static str,
    /// The toolset it belongs to.
    pub toolset: Toolset,
    /// Read, create or modify.
    pub access: Access,
    /// Token scopes it needs.
    pub scopes: &'static [&'static str],
}

/// The most characters a tool's description may have.
pub const DESCRIPTION_LIMIT: usize = 300;

/// The most for the log and investigation tools, whose results need more
/// explaining.
pub const LONG_DESCRIPTION_LIMIT: usize = 600;

/// MCP tool annotations (hints for clients).
///
/// All four hints hold for every tool; [`Annotations::listed`] is the form
/// `tools/list` sends, which leaves out what MCP defines anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    /// The tool changes nothing.
    pub read_only_hint: bool,
    /// The tool may change or stop something that exists.
    pub destructive_hint: bool,
    /// Calling it twice has the same effect as once.
    pub idempotent_hint: bool,
    /// It talks to a system outside the server (Buildkite).
    pub open_world_hint: bool,
}

impl Annotations {
    /// The hints as `tools/list` sends them, each only where it says
    /// something (saving ~80 bytes a tool in every session):
    /// - `readOnlyHint` always, true or false: clients filter on it;
    /// - `destructiveHint` and `idempotentHint` only on tools that change
    ///   something: MCP defines them only when `readOnlyHint` is false;
    /// - `openWorldHint` only when false: MCP's default is true.
    ///
    /// A client reading this with MCP's defaults gets all four hints back.
    pub fn listed(&self) -> serde_json::Map<String, Value> {
        let mut hints = serde_json::Map::new();
        hints.insert("readOnlyHint".into(), self.read_only_hint.into());
        if !self.read_only_hint {
            hints.insert("destructiveHint".into(), self.destructive_hint.into());
            hints.insert("idempotentHint".into(), self.idempotent_hint.into());
        }
        if !self.open_world_hint {
            hints.insert("openWorldHint".into(), false.into());
        }
        hints
    }
}

impl ToolMeta {
    /// The MCP annotations implied by the metadata.
    pub fn annotations(&self) -> Annotations {
        Annotations {
            read_only_hint: self.access == Access::Read,
            destructive_hint: self.access == Access::Modify,
            idempotent_hint: self.access == Access::Read,
            // A tool needing no token scope never calls Buildkite.
            open_world_hint: !self.scopes.is_empty(),
        }
    }

    /// The description's limit for this tool's toolset.
    pub fn description_limit(&self) -> usize {
        match self.toolset {
            Toolset::Logs | Toolset::Investigations => LONG_DESCRIPTION_LIMIT,
            _ => DESCRIPTION_LIMIT,
        }
    }
}

/// Receives progress from long-running tools (e.g. `wait_for_build`).
pub trait ProgressSink: Send + Sync {
    /// `progress` out of `total` (when known), with a message.
    fn progress(&self, progress: f64, total: Option<f64>, message: &str);
}

/// Everything a tool call can use.
#[derive(Clone)]
pub struct ToolContext {
    /// The API client, already acting with the caller's credentials.
    pub client: buildkite_api::Client,
    /// The log engine (its cache is shared; every read re-authorizes).
    pub logs: Arc<bk_logs::Engine>,
    /// Operator limits.
    pub limits: Limits,
    /// Where progress goes, if the transport supports it.
    pub progress: Option<Arc<dyn ProgressSink>>,
    /// Cancelled when the caller gives up.
    pub cancel: tokio_util::sync::CancellationToken,
}

impl std::fmt::Debug for ToolContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolContext")
            .field("client", &self.client)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ToolContext {
    /// A context with default limits, no progress sink and a fresh
    /// cancellation token.
    pub fn new(client: buildkite_api::Client, logs: Arc<bk_logs::Engine>) -> Self {
        ToolContext {
            client,
            logs,
            limits: Limits::default(),
            progress: None,
            cancel: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Reports progress, if anyone listens.
    pub fn report_progress(&self, progress: f64, total: Option<f64>, message: &str) {
        if let Some(sink) = &self.progress {
            sink.progress(progress, total, message);
        }
    }
}

/// A tool, as the registry and transports see it.
#[async_trait]
pub trait Tool: Send + Sync {
    /// Fixed metadata.
    fn meta(&self) -> &ToolMeta;
    /// JSON Schema of the arguments (an object with `additionalProperties: false`).
    fn input_schema(&self) -> &Value;
    /// Runs the tool on raw JSON arguments. The result is not yet shaped:
    /// the registry applies sanitising, redaction and the budget.
    async fn call(&self, ctx: &ToolContext, args: Value) -> Result<ToolOutput, ToolError>;
}

/// The typed side of a tool.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// The arguments, parsed strictly (unknown fields are refused).
    type Args: DeserializeOwned + schemars::JsonSchema + Send;
    /// The metadata.
    const META: ToolMeta;
    /// Does the work.
    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutput, ToolError>;
}

/// Adapts a [`Handler`] to [`Tool`], caching its schema.
pub struct TypedTool<H: Handler> {
    handler: H,
    schema: OnceLock<Value>,
}

impl<H: Handler> std::fmt::Debug for TypedTool<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedTool").field(&H::META.name).finish()
    }
}

impl<H: Handler> TypedTool<H> {
    /// Wraps a handler.
    pub fn new(handler: H) -> Self {
        TypedTool {
            handler,
            schema: OnceLock::new(),
        }
    }
}

#[async_trait]
impl<H: Handler> Tool for TypedTool<H> {
    fn meta(&self) -> &ToolMeta {
        &H::META
    }

    fn input_schema(&self) -> &Value {
        self.schema.get_or_init(schema_for::<H::Args>)
    }

    async fn call(&self, ctx: &ToolContext, args: Value) -> Result<ToolOutput, ToolError> {
        crate::arg_bounds::check(self.input_schema(), &args)?;
        let args = parse_args::<H::Args>(args)?;
        self.handler.run(ctx, args).await
    }
}

/// Boxes a handler as a shared [`Tool`].
pub fn tool<H: Handler>(handler: H) -> Arc<dyn Tool> {
    Arc::new(TypedTool::new(handler))
}
