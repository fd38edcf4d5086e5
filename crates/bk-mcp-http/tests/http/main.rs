//! bk-mcp-http's integration tests, in one binary: the real server binary
//! end to end (credentials, the HTTP side, narrowing, the MCP surface) and
//! several replicas behind nginx sharing real services.

mod common;

mod auth;
mod confirm;
mod http;
mod narrowing;
mod routing;
mod tasks;
// The multi-replica test keeps its directory: `cargo xtask bench-scale`
// compiles tests/scale/services.rs by path.
#[path = "../scale/mod.rs"]
mod scale;
mod tools;
