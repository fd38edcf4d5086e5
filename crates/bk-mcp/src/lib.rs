//! The MCP server over the Buildkite tools, shared by the stdio and HTTP
//! binaries.
//!
//! - [`server::McpServer`]: the rmcp `ServerHandler`. `list_tools` and
//!   `call_tool` are written by hand, so the tool set can differ per request
//!   (a [`server::RequestScope`] set by the transport).
//! - [`config`], [`settings`]: flags and environment variables (the reference server's
//!   names plus ours) and their validation into [`config::Settings`].
//! - [`commands`]: the `tools`, `check` and `config` subcommands.
//! - [`progress`]: tool progress as MCP progress notifications.
//! - [`routing`]: `org_slug` and `pipeline_slug` as routing headers for
//!   2026-07-28 HTTP clients.
//! - [`scopes`]: the token's scopes leave out the tools it cannot run.
//! - [`skills`]: the usage guides as skills (the SEP-2640 extension).
//! - [`stdio`]: MCP's line framing over stdio, answering every line.
//! - [`tasks`]: `wait_for_build` as a task (the tasks extension).
//! - [`confirm`], [`sealed_state`]: destructive calls confirmed by the
//!   user, and the sealed state clients carry between rounds.
//! - [`malformed`]: the answers to requests rmcp could not type.
//! - [`logging`]: `tracing` to stderr, as text or JSON.
//! - [`telemetry`]: a span per MCP request, exported over OTLP with the
//!   `otel` feature.

pub mod cli;
pub mod commands;
pub mod config;
pub mod confirm;
pub mod demo;
pub mod error;
pub mod identity;
pub mod logging;
pub mod malformed;
pub mod onepassword;
pub mod progress;
pub mod routing;
pub mod scopes;
pub mod sealed_state;
pub mod server;
mod server_core;
pub mod settings;
pub mod skills;
pub mod stdio;
pub mod tasks;
pub mod telemetry;

pub use config::{ConfigError, ServerArgs, Settings, TokenSource};
pub use server::{Core, McpServer, RequestScope, UnauthorizedFlag};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
