//! `bk-mcp-stdio`: the Buildkite MCP server over stdio.
//!
//! stdout carries the protocol; logs go to stderr. `stdio` is accepted as
//! the first argument, as the reference server requires it.

use std::process::ExitCode;
use std::sync::Arc;

use bk_mcp::cli;
use bk_mcp::commands::{Command, Endpoint};
use bk_mcp::stdio::LineTransport;
use bk_mcp::{Core, McpServer, ServerArgs, TokenSource};
use clap::Parser;
use rmcp::ServiceExt;

const PROGRAM: &str = "bk-mcp-stdio";

/// The Buildkite MCP server over stdio.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<StdioCommand>,
    #[command(flatten)]
    args: ServerArgs,
}

#[derive(Debug, clap::Subcommand)]
enum StdioCommand {
    /// Serve MCP over stdin/stdout (the default).
    Stdio,
    #[command(flatten)]
    Shared(Command),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = cli::parse(PROGRAM);
    // Kept to the end: dropping it sends the last spans (with `--features otel`).
    let _telemetry = bk_mcp::logging::init(&cli.args);
    match &cli.command {
        None | Some(StdioCommand::Stdio) => serve(&cli.args).await,
        Some(StdioCommand::Shared(command)) => {
            cli::run_command(PROGRAM, command, &cli.args, &endpoint(&cli.args)).await
        }
    }
}

/// How a client starts this binary with the current settings.
fn endpoint(args: &ServerArgs) -> Endpoint {
    let command = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| PROGRAM.to_owned());
    let mut arguments = vec!["stdio".to_owned()];
    if args.read_only {
        arguments.push("--read-only".to_owned());
    }
    if args.enabled_toolsets != ["all"] {
        arguments.push(format!(
            "--enabled-toolsets={}",
            args.enabled_toolsets.join(",")
        ));
    }
    if !args.tools.is_empty() {
        arguments.push(format!("--tools={}", args.tools.join(",")));
    }
    Endpoint::Stdio {
        command,
        args: arguments,
    }
}

/// MCP's line framing over this process's stdin and stdout.
fn stdio_transport() -> LineTransport<tokio::io::BufReader<rmcp::transport::StdioReader>> {
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    LineTransport::new(tokio::io::BufReader::new(stdin), stdout)
}

async fn serve(args: &ServerArgs) -> ExitCode {
    let registry = bk_tools::Registry::new();
    let settings = match args.resolve(&registry, TokenSource::Fixed).await {
        Ok(settings) => settings,
        Err(error) => return cli::config_failure(PROGRAM, &error),
    };
    if settings.token.is_none() && !settings.traffic.is_replay() {
        tracing::warn!(
            "no API token configured: tools/list works, tool calls will fail until BUILDKITE_API_TOKEN is set"
        );
    }
    let core = match Core::new(settings) {
        Ok(core) => Arc::new(core),
        Err(error) => return cli::config_failure(PROGRAM, &error),
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        tools = core.registry().select(core.selection()).len(),
        read_only = core.selection().read_only,
        "serving MCP over stdio"
    );
    let running = match McpServer::new(core).serve(stdio_transport()).await {
        Ok(running) => running,
        Err(error) => {
            tracing::error!(%error, "the MCP session could not start");
            return ExitCode::FAILURE;
        }
    };
    match running.waiting().await {
        Ok(reason) => {
            tracing::debug!(?reason, "MCP session ended");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "the MCP session failed");
            ExitCode::FAILURE
        }
    }
}
