//! The rmcp `ServerHandler` over `bk-tools`, and the configuration shared by
//! the stdio and HTTP binaries.
//!
//! Not implemented yet: this crate is an empty placeholder until its issue
//! ("MCP frontends") is taken.
