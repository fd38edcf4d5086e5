//! Log output: `tracing` to stderr only (in stdio mode stdout is the
//! protocol), as text or JSON lines; and, with the `otel` feature, trace
//! export (see [`crate::telemetry`]).
//!
//! Nothing logs a token: the client marks `Authorization` sensitive, the
//! server never logs request headers or tool arguments, and rmcp (which
//! logs whole messages at debug) is capped at info whatever `RUST_LOG` says.

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, ServerArgs};
use crate::telemetry::{self, BoxedLayer, Telemetry};

/// Installs the global subscriber: logs as `--debug` and `--log-format`
/// say, and trace export as `--otel-exporter` and the `OTEL_*` variables
/// say. `--debug` raises our crates to debug; `RUST_LOG`, when set, takes
/// precedence (for the logs; export has its own filter). Keep the returned
/// handle until the process ends: dropping it sends the last spans. Calling
/// this twice is harmless (the second call changes nothing).
pub fn init(args: &ServerArgs) -> Telemetry {
    let (exporter, mut telemetry) = telemetry::layer(args.otel_exporter.as_deref());
    let mut layers: Vec<BoxedLayer> = vec![log_layer(args.debug, args.log_format)];
    layers.extend(exporter);
    if tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_err()
    {
        return Telemetry::disabled();
    }
    telemetry.log_note();
    telemetry
}

/// The stderr log layer, with its own filter.
fn log_layer(debug: bool, format: LogFormat) -> BoxedLayer {
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
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(debug);
    match format {
        LogFormat::Json => layer
            .json()
            .with_current_span(true)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => layer
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
    }
}
