//! Log output: `tracing` to stderr only (in stdio mode stdout is the
//! protocol), as text or JSON lines.
//!
//! Nothing logs a token: the client marks `Authorization` sensitive, the
//! server never logs request headers or tool arguments, and rmcp (which
//! logs whole messages at debug) is capped at info whatever `RUST_LOG` says.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `debug` raises our crates to debug;
/// `RUST_LOG`, when set, takes precedence. Calling it twice is harmless.
pub fn init(debug: bool, format: LogFormat) {
    let default = if debug {
        "info,bk_mcp=debug,bk_mcp_http=debug,bk_mcp_stdio=debug,bk_tools=debug,bk_logs=debug,buildkite_api=debug"
    } else {
        "info"
    };
    // rmcp logs every session event at info: shown only when debugging.
    let rmcp_cap = if debug { "rmcp=info" } else { "rmcp=warn" };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default))
        // rmcp logs whole messages (tool arguments and results) at debug:
        // never, whatever RUST_LOG says.
        .add_directive(rmcp_cap.parse().expect("a valid directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(debug);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
