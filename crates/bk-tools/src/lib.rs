//! The Buildkite tools (schemas, toolsets, output shaping), independent of MCP.
//!
//! Not implemented yet: this crate is an empty placeholder until its issue
//! ("bk-tools: every tool of the reference server and ours") is taken.
