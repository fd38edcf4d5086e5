//! OpenTelemetry traces from the real binary. With `--features otel`
//! (`cargo test -p bk-mcp-stdio --features otel --test stdio otel::`): the
//! server exports OTLP/JSON to a local receiver, one `mcp.tools/call` span
//! per call with its `buildkite.api` children, and flushes them on exit.
//! Without the feature: it says how to get them.

use crate::common::{Launch, authorized, json_response};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

/// An API answering `current_user`.
async fn api() -> MockServer {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/user"))
        .and(authorized())
        .respond_with(json_response(200, "user.json"))
        .mount(&api)
        .await;
    api
}

/// With an endpoint set, a build without export says how to get one; a
/// build with it (also when only `bk-mcp/otel` is on) says where it sends.
#[tokio::test]
async fn the_log_says_whether_traces_are_exported() {
    let api = api().await;
    let server = Launch::new()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
        .start(&api)
        .await;
    server.ok("current_user", json!({})).await;
    let stderr = server.shutdown().await;
    if bk_mcp::telemetry::EXPORT_BUILT_IN {
        assert!(
            stderr.contains("exporting traces over OTLP (http/protobuf) to http://127.0.0.1:9"),
            "{stderr}"
        );
    } else {
        assert!(
            stderr.contains("build it with `--features otel`"),
            "{stderr}"
        );
    }
}

#[cfg(feature = "otel")]
mod export {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
    use serde_json::Value;
    use wiremock::ResponseTemplate;
    use wiremock::matchers::header;

    use super::*;
    use crate::common::{TOKEN, within};

    /// One exported span.
    #[derive(Debug, Clone)]
    struct Span {
        trace_id: String,
        span_id: String,
        parent_span_id: String,
        name: String,
        kind: Value,
        status: Value,
        attributes: BTreeMap<String, Value>,
    }

    impl Span {
        fn attr(&self, key: &str) -> Option<&Value> {
            self.attributes.get(key)
        }

        fn str(&self, key: &str) -> Option<&str> {
            self.attr(key)?.get("stringValue")?.as_str()
        }

        fn bool(&self, key: &str) -> Option<bool> {
            self.attr(key)?.get("boolValue")?.as_bool()
        }

        /// An `intValue` (JSON number or, as protobuf JSON has it, string).
        fn int(&self, key: &str) -> Option<i64> {
            match self.attr(key)?.get("intValue")? {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }
        }

        /// A number, whether exported as an `intValue` or as a string.
        fn number(&self, key: &str) -> Option<i64> {
            self.int(key)
                .or_else(|| self.str(key).and_then(|s| s.parse().ok()))
        }

        fn is_error(&self) -> bool {
            matches!(
                self.status.get("code"),
                Some(Value::Number(n)) if n.as_u64() == Some(2)
            ) || self.status.get("code") == Some(&json!("STATUS_CODE_ERROR"))
        }
    }

    /// Every span in every OTLP/JSON export the receiver got, and the
    /// resource attributes of the first.
    async fn exported(receiver: &MockServer) -> (Vec<Span>, BTreeMap<String, Value>) {
        let mut spans = Vec::new();
        let mut resource = BTreeMap::new();
        for request in receiver.received_requests().await.unwrap() {
            assert_eq!(request.url.path(), "/v1/traces");
            let body: Value = serde_json::from_slice(&request.body).unwrap_or_else(|e| {
                panic!(
                    "not OTLP/JSON ({e}): {}",
                    String::from_utf8_lossy(&request.body)
                )
            });
            for resource_spans in body["resourceSpans"].as_array().unwrap() {
                if resource.is_empty() {
                    resource = attributes(&resource_spans["resource"]["attributes"]);
                }
                for scope in resource_spans["scopeSpans"].as_array().unwrap() {
                    for span in scope["spans"].as_array().unwrap() {
                        let text = |k: &str| span[k].as_str().unwrap_or_default().to_owned();
                        spans.push(Span {
                            trace_id: text("traceId"),
                            span_id: text("spanId"),
                            parent_span_id: text("parentSpanId"),
                            name: text("name"),
                            kind: span["kind"].clone(),
                            status: span["status"].clone(),
                            attributes: attributes(&span["attributes"]),
                        });
                    }
                }
            }
        }
        (spans, resource)
    }

    fn attributes(list: &Value) -> BTreeMap<String, Value> {
        list.as_array()
            .map(|list| {
                list.iter()
                    .map(|kv| (kv["key"].as_str().unwrap().to_owned(), kv["value"].clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A local OTLP/HTTP receiver that takes any trace export.
    async fn receiver() -> MockServer {
        let receiver = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/traces"))
            .respond_with(ResponseTemplate::new(200).set_body_raw("{}", "application/json"))
            .mount(&receiver)
            .await;
        receiver
    }

    #[tokio::test]
    async fn tool_calls_are_exported_as_spans_with_their_api_calls() {
        let api = api().await;
        let receiver = receiver().await;
        let server = Launch::new()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.uri())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
            .env(
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-collector-key=collector-secret",
            )
            .env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
            .start_with(
                &api,
                ClientConfig::new(
                    ClientCapabilities::default(),
                    Implementation::new("otel-test", "0.9.1"),
                ),
            )
            .await;
        let user = server.ok("current_user", json!({})).await;
        assert_eq!(user["name"], "Sam Kim");
        let refused = server.err("get_build", json!({"org_slug": "acme"})).await;
        assert!(!refused.is_empty());
        let unknown = server.try_call("no_such_tool", json!({})).await;
        assert!(unknown.is_err(), "{unknown:?}");
        let stderr = server.shutdown().await;
        assert!(
            stderr.contains("exporting traces over OTLP (http/json)"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");

        // The server flushed on exit: everything is there now.
        let (spans, resource) = exported(&receiver).await;
        assert_eq!(
            resource.get("service.name"),
            Some(&json!({"stringValue": "bk-mcp"})),
            "{resource:#?}"
        );
        assert_eq!(
            resource.get("deployment.environment"),
            Some(&json!({"stringValue": "test"})),
            "{resource:#?}"
        );
        let calls: Vec<&Span> = spans
            .iter()
            .filter(|s| s.name == "mcp.tools/call")
            .collect();
        assert_eq!(calls.len(), 3, "{spans:#?}");

        let ok = calls
            .iter()
            .find(|s| s.str("mcp.tool_name") == Some("current_user"))
            .unwrap_or_else(|| panic!("no current_user span: {spans:#?}"));
        assert_eq!(ok.str("mcp.method"), Some("tools/call"), "{ok:#?}");
        assert_eq!(ok.bool("error"), Some(false), "{ok:#?}");
        assert!(ok.int("result.bytes").unwrap_or(0) > 50, "{ok:#?}");
        // The API requests it sent: the one the API received.
        assert_eq!(ok.number("api.requests"), Some(1), "{ok:#?}");
        assert_eq!(api.received_requests().await.unwrap().len(), 1);
        assert_eq!(ok.str("mcp.client.name"), Some("otel-test"), "{ok:#?}");
        assert_eq!(ok.str("mcp.client.version"), Some("0.9.1"), "{ok:#?}");
        assert!(!ok.is_error(), "{ok:#?}");
        // SPAN_KIND_SERVER
        assert!(
            ok.kind == json!(2) || ok.kind == json!("SPAN_KIND_SERVER"),
            "{ok:#?}"
        );
        assert!(ok.parent_span_id.is_empty(), "a root span: {ok:#?}");

        // Its API call is its child, in the same trace.
        let api_call = spans
            .iter()
            .find(|s| s.name == "buildkite.api")
            .unwrap_or_else(|| panic!("no buildkite.api span: {spans:#?}"));
        assert_eq!(api_call.trace_id, ok.trace_id, "{api_call:#?}");
        assert_eq!(api_call.parent_span_id, ok.span_id, "{api_call:#?}");
        assert_eq!(api_call.str("path"), Some("/v2/user"), "{api_call:#?}");
        assert_eq!(api_call.str("tool"), Some("current_user"), "{api_call:#?}");
        assert_eq!(api_call.number("status"), Some(200), "{api_call:#?}");
        assert_eq!(api_call.bool("error"), Some(false), "{api_call:#?}");

        // A tool result with isError, and a JSON-RPC error: both errors.
        for tool in ["get_build", "no_such_tool"] {
            let span = calls
                .iter()
                .find(|s| s.str("mcp.tool_name") == Some(tool))
                .unwrap_or_else(|| panic!("no {tool} span: {spans:#?}"));
            assert_eq!(span.bool("error"), Some(true), "{span:#?}");
            assert!(span.is_error(), "status Error: {span:#?}");
        }

        // Exports carry the collector's headers; no span carries the API token.
        for request in receiver.received_requests().await.unwrap() {
            assert_eq!(
                request
                    .headers
                    .get("x-collector-key")
                    .map(|v| v.to_str().unwrap()),
                Some("collector-secret")
            );
            let body = String::from_utf8_lossy(&request.body);
            assert!(!body.contains(TOKEN), "{body}");
            assert!(!body.contains("collector-secret"), "{body}");
            assert!(!body.to_ascii_lowercase().contains("bearer"), "{body}");
        }
    }

    #[tokio::test]
    async fn nothing_is_exported_without_an_endpoint_or_with_noop() {
        let api = api().await;
        let receiver = receiver().await;
        // An endpoint, but noop.
        let server = Launch::new()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.uri())
            .args(&["--otel-exporter", "noop"])
            .start(&api)
            .await;
        server.ok("current_user", json!({})).await;
        let stderr = server.shutdown().await;
        assert!(!stderr.contains("exporting traces"), "{stderr}");
        // A protocol but no endpoint: a warning says what is missing.
        let server = Launch::new()
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .start(&api)
            .await;
        server.ok("current_user", json!({})).await;
        let stderr = server.shutdown().await;
        assert!(stderr.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{stderr}");
        // An unknown protocol is refused with a warning.
        let server = Launch::new()
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.uri())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
            .start(&api)
            .await;
        server.ok("current_user", json!({})).await;
        let stderr = server.shutdown().await;
        assert!(stderr.contains("unknown protocol"), "{stderr}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            receiver.received_requests().await.unwrap().is_empty(),
            "exported anyway"
        );
    }

    #[tokio::test]
    async fn protobuf_export_reaches_the_traces_endpoint() {
        let api = api().await;
        let receiver = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/custom/traces"))
            .and(header("content-type", "application/x-protobuf"))
            .respond_with(ResponseTemplate::new(200))
            .expect(1..)
            .mount(&receiver)
            .await;
        let server = Launch::new()
            .env(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                &format!("{}/custom/traces", receiver.uri()),
            )
            .start(&api)
            .await;
        server.ok("current_user", json!({})).await;
        within("the server's exit", server.shutdown()).await;
        receiver.verify().await;
        let body = &receiver.received_requests().await.unwrap()[0].body;
        // Protobuf carries names as plain bytes.
        let text = String::from_utf8_lossy(body);
        assert!(text.contains("mcp.tools/call"), "{text}");
        assert!(text.contains("buildkite.api"), "{text}");
    }
}
