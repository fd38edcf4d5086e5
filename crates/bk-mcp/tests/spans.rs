//! The `mcp.request` span around every MCP request, seen by a capturing
//! `tracing` layer (no OpenTelemetry needed): method, tool name, result size,
//! API requests sent and error, and the REST client's `buildkite.api` spans
//! as its children.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bk_mcp::{Core, McpServer};
use bk_tools::{Limits, Registry, Selection};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "bkua_spanTestToken0123456789abcdefghijkl";

/// One span as the layer saw it.
#[derive(Debug, Clone)]
struct Captured {
    id: u64,
    name: &'static str,
    parent: Option<u64>,
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// Records every span, its parent and its fields (as text).
#[derive(Debug, Clone, Default)]
struct Spans(Arc<Mutex<Vec<Captured>>>);

impl Spans {
    fn named(&self, name: &str) -> Vec<Captured> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.name == name)
            .cloned()
            .collect()
    }

    fn all(&self) -> Vec<Captured> {
        self.0.lock().unwrap().clone()
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S> tracing_subscriber::Layer<S> for Spans
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .map(|parent| parent.id().into_u64());
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Captured {
            id: id.into_u64(),
            name: attrs.metadata().name(),
            parent,
            fields,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some(span) = spans.iter_mut().rev().find(|s| s.id == id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }
}

/// A server over `api`, an MCP client connected to it in memory, and the
/// spans captured meanwhile (on this test's thread: a current-thread
/// runtime runs the server's tasks here too).
async fn connect(
    api: &MockServer,
) -> (
    rmcp::service::RunningService<rmcp::RoleClient, ClientConfig>,
    tempfile::TempDir,
) {
    let client = buildkite_api::Client::builder()
        .base_url(api.uri())
        .token(TOKEN)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = bk_logs::LogCache::new(dir.path(), 1 << 20).unwrap();
    let logs = Arc::new(bk_logs::Engine::new(
        cache,
        bk_logs::EngineOptions::default(),
    ));
    let core = Arc::new(Core::from_parts(
        Registry::new(),
        Selection::all(),
        client,
        logs,
        Limits::default(),
    ));
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let running = McpServer::new(core).serve(server_io).await.unwrap();
        let _ = running.waiting().await;
    });
    let client = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("span-test", "1.2.3"),
    )
    .serve(client_io)
    .await
    .unwrap();
    (client, dir)
}

fn call(name: &str, args: Value) -> CallToolRequestParams {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    CallToolRequestParams::new(name.to_owned()).with_arguments(args)
}

/// The one `mcp.request` span of a `tools/call` of `tool`.
fn call_span(spans: &Spans, tool: &str) -> Captured {
    let found: Vec<_> = spans
        .named("mcp.request")
        .into_iter()
        .filter(|s| {
            s.field("mcp.method") == Some("tools/call") && s.field("mcp.tool_name") == Some(tool)
        })
        .collect();
    assert_eq!(found.len(), 1, "{tool}: {:#?}", spans.all());
    found.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_tool_call_is_a_span_with_its_api_calls_inside() {
    let spans = Spans::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "3d3c3bf0-7d58-4afe-8fe7-b3017d5504de",
            "graphql_id": "VXNlci0tLTNkM2MzYmYwLTdkNTgtNGFmZS04ZmU3LWIzMDE3ZDU1MDRkZQ==",
            "name": "Sam Kim",
            "email": "sam@example.com",
            "avatar_url": "https://www.gravatar.com/avatar/0",
            "created_at": "2023-02-01T10:00:00.000Z"
        })))
        .mount(&api)
        .await;
    let (client, _cache) = connect(&api).await;

    let result = client
        .call_tool(call("current_user", json!({})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let content_bytes = serde_json::to_vec(&result.content).unwrap().len();

    let span = call_span(&spans, "current_user");
    assert_eq!(span.field("error"), Some("false"), "{span:#?}");
    assert_eq!(
        span.field("result.bytes"),
        Some(content_bytes.to_string().as_str()),
        "result.bytes is the serialized size of the content: {span:#?}"
    );
    assert!(content_bytes > 0);
    assert_eq!(span.field("otel.name"), Some("mcp.tools/call"), "{span:#?}");
    assert_eq!(span.field("otel.kind"), Some("server"), "{span:#?}");
    assert_eq!(span.field("otel.status_code"), None, "{span:#?}");
    assert!(span.field("jsonrpc.request.id").is_some(), "{span:#?}");
    // The client introduced itself in `initialize`.
    assert_eq!(
        span.field("mcp.client.name"),
        Some("span-test"),
        "{span:#?}"
    );
    assert_eq!(span.field("mcp.client.version"), Some("1.2.3"), "{span:#?}");
    // The API requests the call sent: what the API received.
    let received = api.received_requests().await.unwrap().len();
    assert_eq!(received, 1);
    assert_eq!(
        span.field("api.requests"),
        Some(received.to_string().as_str()),
        "{span:#?}"
    );

    // The REST client's span (when it has one) is a child of the request's.
    let api_spans = spans.named("buildkite.api");
    assert_eq!(api_spans.len(), 1, "{:#?}", spans.all());
    let api_span = &api_spans[0];
    assert_eq!(api_span.parent, Some(span.id), "{:#?}", spans.all());
    assert_eq!(api_span.field("path"), Some("/v2/user"), "{api_span:#?}");
    assert_eq!(
        api_span.field("tool"),
        Some("current_user"),
        "{api_span:#?}"
    );
    assert_eq!(api_span.field("status"), Some("200"), "{api_span:#?}");
    assert_eq!(api_span.field("error"), Some("false"), "{api_span:#?}");

    // Other requests have their span too.
    client.list_all_tools().await.unwrap();
    let listed = spans
        .named("mcp.request")
        .into_iter()
        .find(|s| s.field("mcp.method") == Some("tools/list"))
        .expect("a tools/list span");
    assert_eq!(listed.field("mcp.tool_name"), None, "{listed:#?}");
    assert_eq!(listed.field("error"), Some("false"), "{listed:#?}");
    assert!(
        listed
            .field("result.bytes")
            .is_some_and(|b| b.parse::<u64>().unwrap() > 10_000),
        "{listed:#?}"
    );

    // No span carries the token.
    for span in spans.all() {
        for (name, value) in &span.fields {
            assert!(
                !value.contains(TOKEN) && !value.contains("Bearer"),
                "{} {name}={value}",
                span.name
            );
        }
    }
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn failed_calls_are_marked_as_errors() {
    let spans = Spans::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/organizations/acme/pipelines/web/builds/404"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "No build found"})),
        )
        .mount(&api)
        .await;
    let (client, _cache) = connect(&api).await;

    // A JSON-RPC error: no such tool.
    let error = client
        .call_tool(call("no_such_tool", json!({})))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("unknown tool"), "{error}");
    let span = call_span(&spans, "no_such_tool");
    assert_eq!(span.field("error"), Some("true"), "{span:#?}");
    assert_eq!(span.field("otel.status_code"), Some("error"), "{span:#?}");
    assert!(
        span.field("otel.status_description")
            .is_some_and(|d| d.contains("unknown tool")),
        "{span:#?}"
    );

    // A tool result with isError: arguments the tool refuses.
    let result = client
        .call_tool(call("get_build", json!({"org_slug": "acme"})))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let span = call_span(&spans, "get_build");
    assert_eq!(span.field("error"), Some("true"), "{span:#?}");
    assert_eq!(span.field("otel.status_code"), Some("error"), "{span:#?}");
    assert!(
        span.field("result.bytes")
            .is_some_and(|b| b.parse::<u64>().unwrap() > 0),
        "{span:#?}"
    );
    assert_eq!(span.field("api.requests"), Some("0"), "{span:#?}");

    // An API failure: the tool's result is an error, and so is its API call.
    let result = client
        .call_tool(call(
            "get_build",
            json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "404"}),
        ))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let calls: Vec<_> = spans
        .named("mcp.request")
        .into_iter()
        .filter(|s| s.field("mcp.tool_name") == Some("get_build"))
        .collect();
    assert_eq!(calls.len(), 2, "{:#?}", spans.all());
    let span = &calls[1];
    assert_eq!(span.field("error"), Some("true"), "{span:#?}");
    let api_span = spans
        .named("buildkite.api")
        .into_iter()
        .find(|s| s.parent == Some(span.id))
        .unwrap_or_else(|| panic!("no API span under the call: {:#?}", spans.all()));
    assert_eq!(api_span.field("status"), Some("404"), "{api_span:#?}");
    assert_eq!(api_span.field("error"), Some("true"), "{api_span:#?}");
    // Failed requests count too (the build's and its annotations').
    let received = api.received_requests().await.unwrap().len();
    assert_eq!(received, 2);
    assert_eq!(
        span.field("api.requests"),
        Some(received.to_string().as_str()),
        "{span:#?}"
    );
    client.cancel().await.unwrap();
}
