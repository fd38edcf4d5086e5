//! The Buildkite tools for AI agents, independent of MCP.
//!
//! - [`Registry`]: every tool, grouped in [`Toolset`]s; selecting tools by
//!   toolset, read-only mode and allow-list; server instructions and
//!   required token scopes; calls ([`call_tool`] runs and shapes one).
//! - [`guidance`]: the server instructions, [`PROMPTS`] and [`RESOURCES`].
//! - [`Tool`]: name, description, strict JSON input schema, annotations,
//!   scopes and `call`. Tools are written as typed [`Handler`]s.
//! - [`args`], [`arg_bounds`]: arguments parsed strictly, and every string
//!   bounded in length (in the schema, and checked before a tool runs).
//! - [`shape`]: what every result goes through: defusing untrusted text,
//!   redacting secrets, and fitting the response budget.
//! - [`log_source::ApiLogSource`]: the log engine's source over the REST client.
//!
//! ```no_run
//! # async fn run() {
//! use std::sync::Arc;
//! use bk_tools::{Registry, Selection, ToolContext};
//!
//! let client = buildkite_api::Client::new("bkua_…").unwrap();
//! let cache = bk_logs::LogCache::new(bk_logs::LogCache::default_dir(), bk_logs::DEFAULT_MAX_CACHE_BYTES).unwrap();
//! let logs = Arc::new(bk_logs::Engine::new(cache, Default::default()));
//! let ctx = ToolContext::new(client, logs);
//! let registry = Registry::new();
//! let result = registry
//!     .call(&Selection::all(), &ctx, "current_user", serde_json::json!({}))
//!     .await;
//! println!("{}", result.text);
//! # }
//! ```

pub mod arg_bounds;
pub mod args;
pub mod call;
pub mod error;
pub mod guidance;
pub mod limits;
pub mod links;
pub mod log_source;
pub mod registry;
pub mod shape;
pub mod tool;
pub mod tools;
pub mod toolset;

pub use call::{CallResult, call_tool};
pub use error::ToolError;
pub use guidance::{PROMPTS, Prompt, RESOURCES, Resource};
pub use limits::Limits;
pub use registry::{Registry, Selection};
pub use shape::ToolOutput;
pub use tool::{Access, Annotations, Handler, ProgressSink, Tool, ToolContext, ToolMeta};
pub use toolset::{
    ESSENTIALS, ESSENTIALS_LEAVE_OUT, ESSENTIALS_TOOLSETS, SelectionError, Toolset,
    parse_toolset_list, parse_toolsets,
};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
