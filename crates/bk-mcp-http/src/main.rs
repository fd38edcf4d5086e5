//! `bk-mcp-http`: the Buildkite MCP server over Streamable HTTP.
//!
//! Stateless by default (each POST stands alone), with per-request tool
//! selection by path and headers that can only narrow the operator's,
//! header passthrough for per-user tokens, Host/Origin allow-lists, a body
//! limit, a per-call timeout, `/health` and `/ready`, and a graceful
//! shutdown on SIGTERM/SIGINT.

mod app;
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

use crate::app::AppOptions;
use crate::policy::Passthrough;

const PROGRAM: &str = "bk-mcp-http";

/// After in-flight calls end, how long open connections get to close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

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

/// HTTP-only settings.
#[derive(Debug, Clone, clap::Args)]
struct HttpArgs {
    /// Address to listen on (`host:port`; port 0 picks a free one).
    #[arg(
        long,
        env = "HTTP_LISTEN_ADDR",
        default_value = "localhost:3000",
        global = true
    )]
    listen: String,

    /// Inbound header copied onto Buildkite API calls (API origin only); repeatable or
    /// comma-separated. With `Authorization`, every request must bring its own token.
    #[arg(
        long = "passthrough-http-header",
        env = "BUILDKITE_PASSTHROUGH_HTTP_HEADERS",
        value_delimiter = ',',
        global = true
    )]
    passthrough_http_headers: Vec<String>,

    /// Keep MCP sessions (`Mcp-Session-Id`) instead of serving each request alone.
    #[arg(
        long,
        env = "BK_MCP_STATEFUL",
        value_parser = bk_mcp::config::parse_switch,
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        global = true
    )]
    stateful: bool,

    /// Accepted `Host` values, comma-separated (`*`: any). Default: loopback names and the listen host.
    #[arg(
        long,
        env = "BK_MCP_ALLOWED_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    allowed_hosts: Vec<String>,

    /// Accepted browser `Origin` values, e.g. `https://app.example.com:443` (`*`: any).
    /// Default: localhost origins on any port. Requests without `Origin` are not affected.
    #[arg(
        long,
        env = "BK_MCP_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    allowed_origins: Vec<String>,

    /// Largest request body in bytes (413 above).
    #[arg(long, env = "BK_MCP_MAX_BODY_BYTES", default_value_t = 4 << 20, global = true)]
    max_body_bytes: usize,

    /// Longest a tool call may run, in seconds, before it is stopped with an error.
    #[arg(
        long,
        env = "BK_MCP_REQUEST_TIMEOUT",
        default_value_t = 120,
        value_name = "SECONDS",
        global = true
    )]
    request_timeout: u64,

    /// Time in-flight calls get to finish after SIGTERM/SIGINT, in seconds.
    #[arg(
        long,
        env = "BK_MCP_SHUTDOWN_GRACE",
        default_value_t = 30,
        value_name = "SECONDS",
        global = true
    )]
    shutdown_grace: u64,
}

impl HttpArgs {
    fn host(&self) -> &str {
        let listen = self.listen.trim();
        match listen.rsplit_once(':') {
            Some((host, _)) => host.trim_matches(['[', ']']),
            None => listen,
        }
    }

    /// The URL clients use, for `config`.
    fn url(&self) -> String {
        let host = match self.host() {
            "" | "0.0.0.0" | "::" => "localhost",
            host => host,
        };
        let port = self.listen.rsplit_once(':').map_or("3000", |(_, p)| p);
        format!("http://{host}:{port}/mcp")
    }

    fn options(&self, fixed_headers: &[(String, String)]) -> Result<AppOptions, ConfigError> {
        let passthrough = Passthrough::new(&self.passthrough_http_headers, fixed_headers)?;
        let listed = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let mut allowed_hosts = listed(&self.allowed_hosts);
        if allowed_hosts.is_empty() {
            allowed_hosts = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
            let host = self.host();
            if !matches!(host, "" | "0.0.0.0" | "::") && !allowed_hosts.iter().any(|h| h == host) {
                allowed_hosts.push(host.to_owned());
            }
        } else if allowed_hosts.iter().any(|h| h == "*") {
            allowed_hosts.clear();
        }
        let mut allowed_origins = listed(&self.allowed_origins);
        if allowed_origins.is_empty() {
            allowed_origins = [
                "http://localhost:*",
                "https://localhost:*",
                "http://127.0.0.1:*",
                "https://127.0.0.1:*",
                "http://[::1]:*",
            ]
            .map(String::from)
            .to_vec();
        } else if allowed_origins.iter().any(|o| o == "*") {
            allowed_origins.clear();
        } else if let Some(bad) = allowed_origins
            .iter()
            .find(|o| !o.contains("://") && *o != "null")
        {
            return Err(ConfigError::new(format!(
                "--allowed-origins / BK_MCP_ALLOWED_ORIGINS: {bad:?} needs a scheme, e.g. https://{bad}"
            )));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::new(
                "--max-body-bytes / BK_MCP_MAX_BODY_BYTES: use at least 1024",
            ));
        }
        if self.request_timeout == 0 {
            return Err(ConfigError::new(
                "--request-timeout / BK_MCP_REQUEST_TIMEOUT: use at least 1 second",
            ));
        }
        Ok(AppOptions {
            stateful: self.stateful,
            allowed_hosts,
            allowed_origins,
            max_body_bytes: self.max_body_bytes,
            passthrough,
        })
    }
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
    let options = match http.options(&fixed_headers) {
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
    let core = match Core::new(settings) {
        Ok(core) => Arc::new(core.with_call_timeout(Duration::from_secs(http.request_timeout))),
        Err(error) => return cli::config_failure(PROGRAM, &error),
    };
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

    let draining = CancellationToken::new();
    tokio::spawn({
        let draining = draining.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight calls");
            state.start_draining();
            draining.cancel();
        }
    });
    let server = axum::serve(listener, router).with_graceful_shutdown({
        let draining = draining.clone();
        async move { draining.cancelled().await }
    });
    let grace = Duration::from_secs(http.shutdown_grace);
    // On a signal: wait (within the grace period) for the tool calls that
    // are running, then end what stays open by design (SSE streams,
    // sessions), so an idle client does not hold the shutdown up.
    let drained = {
        let core = Arc::clone(&core);
        let streams = streams.clone();
        async move {
            draining.cancelled().await;
            if tokio::time::timeout(grace, core.calls_finished())
                .await
                .is_err()
            {
                tracing::warn!(
                    grace_s = grace.as_secs(),
                    running = core.calls_running(),
                    "calls still running after the grace period were stopped"
                );
            }
            streams.cancel();
            // Connections normally close at once; this bounds the wait.
            tokio::time::sleep(CLOSE_WAIT).await;
        }
    };
    let outcome = tokio::select! {
        outcome = server => outcome,
        () = drained => Ok(()),
    };
    streams.cancel();
    match outcome {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "the HTTP server failed");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
