//! The Buildkite tools (schemas, toolsets, output shaping), independent of MCP.
//!
//! Only the glue between the REST client and the log engine is here so far
//! ([`log_source::ApiLogSource`]); the tools themselves come with their own
//! issue ("bk-tools: every tool of the reference server and ours").

pub mod log_source;
