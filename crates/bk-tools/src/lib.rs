//! The Buildkite tools for AI agents, independent of MCP.
//!
//! - [`Registry`]: every tool, grouped in [`Toolset`]s; selecting tools by
//!   toolset, read-only mode and allow-list; server instructions, prompts,
//!   resources and required token scopes.
//! - [`Tool`]: name, description, strict JSON input schema, annotations,
//!   scopes and `call`. Tools are written as typed [`Handler`]s.
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

pub mod args;
pub mod error;
pub mod limits;
pub mod log_source;
pub mod registry;
pub mod shape;
pub mod tool;
pub mod tools;

pub use error::ToolError;
pub use limits::Limits;
pub use registry::{
    CallResult, PROMPTS, Prompt, RESOURCES, Registry, Resource, Selection, SelectionError, Toolset,
    parse_toolsets,
};
pub use shape::ToolOutput;
pub use tool::{Access, Annotations, Handler, ProgressSink, Tool, ToolContext, ToolMeta};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
