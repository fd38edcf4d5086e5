//! Who this server says it is: its name, in MCP's `initialize` answer, the
//! API client's `User-Agent` and the telemetry it exports.

/// The server's name in `initialize`.
pub const SERVER_NAME: &str = "bk-mcp";
