//! `bk-mcp-http`: the Buildkite MCP server over Streamable HTTP.
//!
//! Stateless by default (each POST stands alone), with per-request tool
//! selection by path and headers that can only narrow the operator's,
//! header passthrough for per-user tokens, Host/Origin allow-lists, a body
//! limit, a per-call timeout, `/health` and `/ready`, and a graceful
//! shutdown on SIGTERM/SIGINT.

mod app;
mod config;
mod framing;
mod policy;
mod sessions;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bk_mcp::cli;
use bk_mcp::commands::{Command, Endpoint};
use bk_mcp::{ConfigError, Core, ServerArgs, TokenSource};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::config::HttpArgs;

const PROGRAM: &str = "bk-mcp-http";

/// The Buildkite MCP server over Streamable HTTP.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<HttpCommand>,
    #[command(flatten)]
    args: ServerArgs,
    #[command(flatten)]
    http: HttpArgs,
}

#[derive(Debug, clap::Subcommand)]
enum HttpCommand {
    /// Serve MCP over Streamable HTTP (the default).
    Http,
    #[command(flatten)]
    Shared(Command),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = cli::parse(PROGRAM);
    // Kept to the end: dropping it sends the last spans (with `--features otel`).
    let _telemetry = bk_mcp::logging::init(&cli.args);
    match &cli.command {
        None | Some(HttpCommand::Http) => serve(&cli.args, &cli.http).await,
        Some(HttpCommand::Shared(command)) => {
            let endpoint = Endpoint::Http {
                url: cli.http.url(),
            };
            cli::run_command(PROGRAM, command, &cli.args, &endpoint).await
        }
    }
}

async fn serve(args: &ServerArgs, http: &HttpArgs) -> ExitCode {
    let registry = bk_tools::Registry::new();
    let fixed_headers = match args.headers() {
        Ok(headers) => headers,
        Err(error) => return cli::config_failure(PROGRAM, &error),
    };
    let mut options = match http.options(&fixed_headers) {
        Ok(options) => options,
        Err(error) => return cli::config_failure(PROGRAM, &error),
    };
    let source = if options.passthrough.authorization {
        TokenSource::PerRequest
    } else {
        TokenSource::Fixed
    };
    let settings = match args.resolve(&registry, source).await {
        Ok(settings) => settings,
        Err(error) => return cli::config_failure(PROGRAM, &error),
    };
    if settings.token.is_none() && source == TokenSource::Fixed && !settings.traffic.is_replay() {
        tracing::warn!(
            "no API token configured: tools/list works, tool calls will fail until BUILDKITE_API_TOKEN is set (or Authorization is passed through)"
        );
    }
    if matches!(http.host(), "" | "0.0.0.0" | "::") && http.allowed_hosts.is_empty() {
        tracing::warn!(
            "listening on every interface, but only loopback Host names are accepted: set --allowed-hosts (BK_MCP_ALLOWED_HOSTS) to the names clients use"
        );
    }
    // With passthrough each caller's own token's scopes apply (app.rs).
    let reads_scopes = settings.reads_token_scopes() && source == TokenSource::Fixed;
    let scopes_per_caller = source == TokenSource::PerRequest && !settings.list_all_tools;
    let mut core = match Core::new(settings) {
        Ok(core) => core.with_call_timeout(Duration::from_secs(http.request_timeout)),
        Err(error) => return cli::config_failure(PROGRAM, &error),
    };
    if reads_scopes {
        core.hide_tools_without_scopes().await;
    }
    let core = Arc::new(core);
    options.scopes_per_caller = scopes_per_caller;
    let listener = match tokio::net::TcpListener::bind(http.listen.trim()).await {
        Ok(listener) => listener,
        Err(error) => {
            return cli::config_failure(
                PROGRAM,
                &ConfigError::new(format!(
                    "--listen / HTTP_LISTEN_ADDR: cannot listen on {}: {error}",
                    http.listen
                )),
            );
        }
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| http.listen.clone());

    let streams = CancellationToken::new();
    let (router, state) = app::router(Arc::clone(&core), &options, streams.clone());
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        tools = core.registry().select(core.selection()).len(),
        read_only = core.selection().read_only,
        stateful = options.stateful,
        passthrough_authorization = options.passthrough.authorization,
        "listening on http://{address}/mcp"
    );

    let grace = Duration::from_secs(http.shutdown_grace);
    app::serve_until_signal(listener, router, state, core, streams, grace).await
}
