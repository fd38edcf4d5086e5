//! Routing headers (MCP 2026-07-28, SEP-2243): `org_slug` and
//! `pipeline_slug` carry an `x-mcp-header` annotation, so a client sends
//! them again as `Mcp-Param-Org` and `Mcp-Param-Pipeline` HTTP headers, and
//! a load balancer can send an organization's calls to the replicas that
//! hold its cache without reading the body. rmcp checks each such header
//! against the body (through `ServerHandler::get_tool`) and refuses a call
//! whose header disagrees.
//!
//! Only clients that send these headers see the annotations: HTTP requests
//! of protocol 2026-07-28 or later. Over stdio, and for older clients, the
//! tool list stays as it was: the annotation would cost bytes for nothing.

use rmcp::model::{ProtocolVersion, Tool};
use serde_json::Value;

/// The parameters sent as headers, and the header each becomes (after
/// `Mcp-Param-`).
pub const ROUTING_PARAMETERS: [(&str, &str); 2] =
    [("org_slug", "Org"), ("pipeline_slug", "Pipeline")];

/// The tool with its routing parameters annotated; unchanged if it has none.
pub fn with_routing_headers(tool: &Tool) -> Tool {
    let mut tool = tool.clone();
    let mut schema = (*tool.input_schema).clone();
    let mut changed = false;
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for (parameter, header) in ROUTING_PARAMETERS {
            if let Some(Value::Object(property)) = properties.get_mut(parameter) {
                property.insert("x-mcp-header".into(), Value::String(header.into()));
                changed = true;
            }
        }
    }
    if changed {
        tool.input_schema = std::sync::Arc::new(schema);
    }
    tool
}

/// Whether this HTTP request's client sends routing headers: its
/// `MCP-Protocol-Version` is 2026-07-28 or later.
pub fn client_sends_headers(parts: Option<&http::request::Parts>) -> bool {
    parts
        .and_then(|parts| parts.headers.get("mcp-protocol-version"))
        .and_then(|value| value.to_str().ok())
        .is_some_and(|version| version >= ProtocolVersion::STANDARD_HEADERS.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn tool(properties: Value) -> Tool {
        let schema = serde_json::json!({"type": "object", "properties": properties});
        let Value::Object(schema) = schema else {
            unreachable!("an object")
        };
        Tool::new("t", "d", Arc::new(schema))
    }

    #[test]
    fn org_and_pipeline_become_headers_and_nothing_else_changes() {
        let routed = with_routing_headers(&tool(serde_json::json!({
            "org_slug": {"type": "string"},
            "pipeline_slug": {"type": "string"},
            "build_number": {"type": "string"}
        })));
        let properties = &routed.input_schema["properties"];
        assert_eq!(properties["org_slug"]["x-mcp-header"], "Org");
        assert_eq!(properties["pipeline_slug"]["x-mcp-header"], "Pipeline");
        assert!(properties["build_number"].get("x-mcp-header").is_none());
        let plain = tool(serde_json::json!({"skill_name": {"type": "string"}}));
        assert_eq!(with_routing_headers(&plain), plain);
    }

    #[test]
    fn only_2026_clients_send_headers() {
        let parts = |version: Option<&str>| {
            let mut request = http::Request::builder();
            if let Some(version) = version {
                request = request.header("MCP-Protocol-Version", version);
            }
            request.body(()).map(|r| r.into_parts().0).ok()
        };
        assert!(client_sends_headers(parts(Some("2026-07-28")).as_ref()));
        assert!(!client_sends_headers(parts(Some("2025-11-25")).as_ref()));
        assert!(!client_sends_headers(parts(None).as_ref()));
        assert!(!client_sends_headers(None), "stdio");
    }
}
