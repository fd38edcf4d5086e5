//! Placeholder for the `bk-mcp-stdio` binary. The MCP server is not implemented yet;
//! this binary says so and exits with status 2 instead of pretending to serve.

fn main() -> std::process::ExitCode {
    eprintln!("bk-mcp-stdio: not implemented yet (see the 'MCP frontends' issue)");
    std::process::ExitCode::from(2)
}
