//! Traces: a span around every MCP request and, with the `otel` cargo
//! feature, their export over OTLP.
//!
//! Every request the server handles runs in a `mcp.request` span (debug
//! level, so it costs nothing unless debug logs or an exporter want it) with:
//!
//! | field | what |
//! |---|---|
//! | `mcp.method` | the JSON-RPC method, e.g. `tools/call` |
//! | `mcp.tool_name` | the tool, for `tools/call` |
//! | `mcp.client.name`, `mcp.client.version` | the client, from `initialize` (not in stateless HTTP) |
//! | `jsonrpc.request.id` | the request's id |
//! | `result.bytes` | bytes of the result as JSON (for `tools/call`: its `content`) |
//! | `error` | a JSON-RPC error, or a tool result with `isError` |
//!
//! A tool call runs inside its span, so the API calls it makes (the
//! `buildkite.api` spans of the REST client) are its children. An error sets
//! the OpenTelemetry status to Error, with the error's text (its start) as
//! the description. No request header is recorded, so no token can end up
//! in a trace; API paths (slugs, branch names) and error texts are.
//!
//! With the feature, [`layer`] exports these spans when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is
//! set; see docs/observability.md.

use std::io::Write;

use rmcp::model::{
    CallToolResponse, GetPromptResponse, GetSkillResult, GetTaskResult, InitializeResult,
    ListPromptsResult, ListResourcesResult, ListSkillsResult, ListToolsResult,
    ReadResourceResponse,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde::Serialize;
use tracing::Span;
use tracing::field::Empty;
use tracing_subscriber::{Layer, Registry};

/// The name of the span around each MCP request.
pub const REQUEST_SPAN: &str = "mcp.request";

/// Whether this build can export traces (the `otel` feature).
pub const EXPORT_BUILT_IN: bool = cfg!(feature = "otel");

/// The OpenTelemetry name of the span around each MCP request: `mcp.` and
/// the method, e.g. `mcp.tools/call` (as the reference server names it).
fn otel_name(method: &str) -> String {
    format!("mcp.{method}")
}

/// Longest error text kept as a span's status description, in bytes.
const MAX_STATUS_BYTES: usize = 256;

/// The span for one MCP request. Disabled (and free) unless a subscriber
/// wants debug spans of this crate.
pub(crate) fn request_span(
    method: &'static str,
    tool: Option<&str>,
    context: &RequestContext<RoleServer>,
) -> Span {
    let span = tracing::debug_span!(
        "mcp.request",
        otel.name = otel_name(method),
        otel.kind = "server",
        otel.status_code = Empty,
        otel.status_description = Empty,
        mcp.method = method,
        mcp.tool_name = tool,
        mcp.client.name = Empty,
        mcp.client.version = Empty,
        jsonrpc.request.id = %context.id,
        result.bytes = Empty,
        api.requests = Empty,
        error = Empty,
    );
    if span.is_disabled() {
        return span;
    }
    // In stateless HTTP there was no `initialize` on this connection: rmcp
    // stands in its own default identity, which names no real client.
    if let Some(client) = context.peer.peer_info()
        && client.client_info != rmcp::model::Implementation::default()
    {
        span.record("mcp.client.name", client.client_info.name.as_str());
        span.record("mcp.client.version", client.client_info.version.as_str());
    }
    #[cfg(feature = "otel")]
    if let Some(parts) = context.extensions.get::<http::request::Parts>() {
        otel::continue_trace(&span, &parts.headers);
    }
    span
}

/// What a span records of a request's result.
pub(crate) trait Outcome {
    /// `result.bytes`: the result's size as JSON (for a tool call, its
    /// `content`).
    fn bytes(&self) -> u64;

    /// The text of an error reported as a result (a tool's `isError`).
    fn failure(&self) -> Option<&str> {
        None
    }
}

macro_rules! serialized_outcome {
    ($($result:ty),* $(,)?) => {$(
        impl Outcome for $result {
            fn bytes(&self) -> u64 {
                json_bytes(self)
            }
        }
    )*};
}

serialized_outcome!(
    InitializeResult,
    ListToolsResult,
    ListPromptsResult,
    ListResourcesResult,
    ListSkillsResult,
    GetSkillResult,
    GetTaskResult,
);

impl Outcome for () {
    fn bytes(&self) -> u64 {
        0
    }
}

impl Outcome for CallToolResponse {
    fn bytes(&self) -> u64 {
        match self {
            CallToolResponse::Complete(result) => json_bytes(&result.content),
            CallToolResponse::InputRequired(result) => json_bytes(result),
            CallToolResponse::Task(result) => json_bytes(result),
            _ => 0,
        }
    }

    fn failure(&self) -> Option<&str> {
        match self {
            CallToolResponse::Complete(result) if result.is_error == Some(true) => Some(
                result
                    .content
                    .iter()
                    .find_map(|c| c.as_text().map(|t| t.text.as_str()))
                    .unwrap_or("the tool failed"),
            ),
            _ => None,
        }
    }
}

impl Outcome for GetPromptResponse {
    fn bytes(&self) -> u64 {
        match self {
            GetPromptResponse::Complete(result) => json_bytes(result),
            GetPromptResponse::InputRequired(result) => json_bytes(result),
            _ => 0,
        }
    }
}

impl Outcome for ReadResourceResponse {
    fn bytes(&self) -> u64 {
        match self {
            ReadResourceResponse::Complete(result) => json_bytes(result),
            ReadResourceResponse::InputRequired(result) => json_bytes(result),
            _ => 0,
        }
    }
}

/// Records a request's outcome on its span and returns it. A JSON-RPC
/// error, or a tool result with `isError`, is an error.
pub(crate) fn finish<T: Outcome>(
    span: &Span,
    outcome: Result<T, ErrorData>,
) -> Result<T, ErrorData> {
    if span.is_disabled() {
        return outcome;
    }
    match &outcome {
        Ok(result) => {
            // As an i64: OpenTelemetry has no unsigned integers (a u64
            // would be exported as a string).
            span.record(
                "result.bytes",
                i64::try_from(result.bytes()).unwrap_or(i64::MAX),
            );
            match result.failure() {
                Some(text) => failed(span, text),
                None => {
                    span.record("error", false);
                }
            }
        }
        Err(error) => failed(span, &error.message),
    }
    outcome
}

fn failed(span: &Span, message: &str) {
    span.record("error", true);
    span.record("otel.status_code", "error");
    span.record(
        "otel.status_description",
        excerpt(message, MAX_STATUS_BYTES),
    );
}

/// The start of `text`, at most `max` bytes, cut at a character boundary.
fn excerpt(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// How many bytes `value` takes as JSON, counted without building it.
fn json_bytes<T: Serialize + ?Sized>(value: &T) -> u64 {
    struct Count(u64);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => 0,
    }
}

/// A boxed layer over the registry, as [`crate::logging`] assembles them.
pub type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Trace export, decided from the `--otel-exporter` value (or
/// `OTEL_EXPORTER_OTLP_PROTOCOL`) and the `OTEL_*` environment variables.
/// Dropping it (or [`Telemetry::shutdown`]) sends the spans still queued.
#[must_use = "dropping it stops trace export: keep it until the process ends"]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    /// What to log once the subscriber is installed.
    note: Option<Note>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("exporting", &self.is_exporting())
            .finish_non_exhaustive()
    }
}

/// A message about the export settings, logged once logging works.
#[derive(Debug)]
enum Note {
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    Info(String),
    Warn(String),
}

impl Telemetry {
    /// No export.
    pub fn disabled() -> Self {
        Telemetry {
            #[cfg(feature = "otel")]
            provider: None,
            note: None,
        }
    }

    /// Whether spans are being exported.
    pub fn is_exporting(&self) -> bool {
        #[cfg(feature = "otel")]
        {
            self.provider.is_some()
        }
        #[cfg(not(feature = "otel"))]
        {
            false
        }
    }

    /// Logs what was decided (call once the subscriber is installed).
    pub(crate) fn log_note(&mut self) {
        match self.note.take() {
            Some(Note::Info(message)) => tracing::info!("{message}"),
            Some(Note::Warn(message)) => tracing::warn!("{message}"),
            None => {}
        }
    }

    /// Sends the spans still queued (waiting up to 5 s) and stops export.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "could not send the last traces");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a `--otel-exporter` value asks for no export.
fn is_noop(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "noop" | "none")
}

/// The environment variable `name`, if set and not blank.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The layer exporting spans, if export is configured, and the handle that
/// flushes it. `exporter` is the `--otel-exporter` value.
#[cfg(not(feature = "otel"))]
pub fn layer(exporter: Option<&str>) -> (Option<BoxedLayer>, Telemetry) {
    let asked = exporter
        .map(str::trim)
        .filter(|e| !e.is_empty() && !is_noop(e));
    let endpoint = env_var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .or_else(|| env_var("OTEL_EXPORTER_OTLP_ENDPOINT"))
        .is_some();
    let mut telemetry = Telemetry::disabled();
    if asked.is_some() || endpoint {
        telemetry.note = Some(Note::Warn(
            "OpenTelemetry export is not built into this binary, so no traces are sent: build it with `--features otel`".to_owned(),
        ));
    }
    (None, telemetry)
}

/// The layer exporting spans, if export is configured, and the handle that
/// flushes it. `exporter` is the `--otel-exporter` value.
#[cfg(feature = "otel")]
pub fn layer(exporter: Option<&str>) -> (Option<BoxedLayer>, Telemetry) {
    let mut telemetry = Telemetry::disabled();
    match otel::configure(exporter) {
        Ok(Some((layer, provider, note))) => {
            telemetry.provider = Some(provider);
            telemetry.note = Some(Note::Info(note));
            (Some(layer), telemetry)
        }
        Ok(None) => (None, telemetry),
        Err(warning) => {
            telemetry.note = Some(Note::Warn(warning));
            (None, telemetry)
        }
    }
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig as _};
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::resource::{EnvResourceDetector, ResourceDetector as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing::Span;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::filter::filter_fn;

    use super::{BoxedLayer, env_var, is_noop};

    /// Crates whose spans and events are exported. Never the HTTP stack's:
    /// the exporter itself sends with it.
    const OURS: &[&str] = &[
        "bk_mcp",
        "bk_mcp_stdio",
        "bk_mcp_http",
        "bk_tools",
        "bk_logs",
        "buildkite_api",
    ];

    fn is_ours(target: &str) -> bool {
        OURS.iter().any(|crate_name| {
            target
                .strip_prefix(crate_name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    }

    /// Reads the settings: `Ok(None)` when nothing is to be exported,
    /// `Err` with a warning when the settings are unusable.
    pub(super) fn configure(
        exporter: Option<&str>,
    ) -> Result<Option<(BoxedLayer, SdkTracerProvider, String)>, String> {
        if env_var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || env_var("OTEL_TRACES_EXPORTER").is_some_and(|v| is_noop(&v))
        {
            return Ok(None);
        }
        // The traces-specific variable wins over the flag, whose default
        // is the general OTEL_EXPORTER_OTLP_PROTOCOL.
        let asked = env_var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| {
            exporter
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
        });
        let protocol = match asked.as_deref() {
            None | Some("http/protobuf") => Protocol::HttpBinary,
            Some("http/json") => Protocol::HttpJson,
            Some(noop) if is_noop(noop) => return Ok(None),
            Some("grpc") => {
                return Err("--otel-exporter / OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported by this build, so no traces are sent; use http/protobuf (an OpenTelemetry collector takes it on port 4318)".to_owned());
            }
            Some(other) => {
                return Err(format!(
                    "--otel-exporter / OTEL_EXPORTER_OTLP_PROTOCOL: unknown protocol {other:?}, so no traces are sent; use http/protobuf, http/json or noop"
                ));
            }
        };
        let Some(endpoint) = env_var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| env_var("OTEL_EXPORTER_OTLP_ENDPOINT"))
        else {
            if asked.is_some() {
                return Err(format!(
                    "--otel-exporter {}: no traces are sent until OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://localhost:4318) is set",
                    asked.as_deref().unwrap_or_default()
                ));
            }
            return Ok(None);
        };
        // The builder reads the endpoint, headers, timeout and compression
        // from the OTEL_EXPORTER_OTLP_* variables itself.
        let exporter = SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .build()
            .map_err(|e| format!("OpenTelemetry export is off: {e}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource())
            .build();
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder(crate::identity::SERVER_NAME)
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            // Only the fields we set: no source locations, threads or
            // busy/idle times.
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_filter(filter_fn(|meta| {
                is_ours(meta.target()) && (meta.is_span() || *meta.level() <= tracing::Level::INFO)
            }))
            .boxed();
        let protocol = match protocol {
            Protocol::HttpJson => "http/json",
            _ => "http/protobuf",
        };
        let note = format!(
            "exporting traces over OTLP ({protocol}) to {}",
            without_credentials(&endpoint)
        );
        Ok(Some((layer, provider, note)))
    }

    /// The service: `bk-mcp` and this version, unless `OTEL_SERVICE_NAME`
    /// or `OTEL_RESOURCE_ATTRIBUTES` name it; plus those attributes.
    fn resource() -> Resource {
        let mut builder = Resource::builder();
        let named = env_var("OTEL_SERVICE_NAME").is_some()
            || EnvResourceDetector::new()
                .detect()
                .get(&opentelemetry::Key::from_static_str("service.name"))
                .is_some();
        if !named {
            builder = builder.with_service_name(crate::identity::SERVER_NAME);
        }
        builder
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// The endpoint as it may be logged: no user or password, no query.
    fn without_credentials(endpoint: &str) -> String {
        let (scheme, rest) = endpoint.split_once("://").unwrap_or(("", endpoint));
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let host = authority.rsplit('@').next().unwrap_or(authority);
        if scheme.is_empty() {
            format!("{host}{path}")
        } else {
            format!("{scheme}://{host}{path}")
        }
    }

    /// Headers as a propagator reads them.
    struct Headers<'a>(&'a http::HeaderMap);

    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(http::HeaderName::as_str).collect()
        }
    }

    /// Makes `span` a child of the caller's trace when its HTTP request
    /// carries a W3C `traceparent`.
    pub(super) fn continue_trace(span: &Span, headers: &http::HeaderMap) {
        if !headers.contains_key("traceparent") {
            return;
        }
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        let _ = span.set_parent(parent);
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used)]

        use super::*;

        #[test]
        fn only_our_crates_are_exported() {
            assert!(is_ours("bk_mcp"));
            assert!(is_ours("bk_mcp::server"));
            assert!(is_ours("buildkite_api::http"));
            assert!(!is_ours("bk_mcp_other"));
            assert!(!is_ours("reqwest::connect"));
            assert!(!is_ours("opentelemetry_sdk"));
        }

        #[test]
        fn a_traceparent_header_continues_the_callers_trace() {
            use opentelemetry::trace::TraceContextExt as _;
            use tracing_subscriber::layer::SubscriberExt as _;

            let provider = SdkTracerProvider::builder().build();
            let subscriber = tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
            tracing::subscriber::with_default(subscriber, || {
                let mut headers = http::HeaderMap::new();
                headers.insert(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                        .parse()
                        .unwrap(),
                );
                let span = tracing::info_span!("request");
                continue_trace(&span, &headers);
                let context = span.context();
                let span_context = context.span().span_context().clone();
                assert_eq!(
                    span_context.trace_id().to_string(),
                    "4bf92f3577b34da6a3ce929d0e0e4736"
                );

                // Without the header: a new trace.
                let span = tracing::info_span!("request");
                continue_trace(&span, &http::HeaderMap::new());
                let context = span.context();
                assert_ne!(
                    context.span().span_context().trace_id().to_string(),
                    "4bf92f3577b34da6a3ce929d0e0e4736"
                );
            });
        }

        #[test]
        fn logged_endpoints_carry_no_credentials() {
            assert_eq!(
                without_credentials("https://user:secret@otel.example.com:4318/v1/traces?key=x"),
                "https://otel.example.com:4318/v1/traces"
            );
            assert_eq!(
                without_credentials("http://localhost:4318"),
                "http://localhost:4318"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_at_character_boundaries() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("ééé", 3), "é");
        assert_eq!(excerpt("abcdef", 4), "abcd");
    }

    #[test]
    fn json_bytes_counts_the_serialized_size() {
        let value = serde_json::json!({"a": [1, 2, 3], "b": "text"});
        assert_eq!(
            json_bytes(&value),
            serde_json::to_vec(&value).map_or(0, |v| v.len() as u64)
        );
    }
}
