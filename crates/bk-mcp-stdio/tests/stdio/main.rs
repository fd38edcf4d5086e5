//! bk-mcp-stdio's integration tests, in one binary: the real server binary
//! end to end (command line, MCP surface, toolsets, progress, record and
//! replay, secrecy, OpenTelemetry) and the registry entry.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod cli;
mod confirm;
mod framing;
mod otel;
mod progress;
mod protocol;
mod record_replay;
mod secrecy;
mod server_json;
mod toolsets;
