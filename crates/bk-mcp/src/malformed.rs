//! Answers to what is not a request rmcp can serve: bytes that are not one
//! JSON-RPC message ([`parse_message`]: `-32700` or `-32600`, for both
//! transports), and requests rmcp could not give a type: a known MCP method
//! with params of the wrong shape is `-32602` invalid params, naming what
//! is wrong; an unknown method is `-32601`.
//!
//! rmcp tries each typed request in turn and keeps a request that matches
//! none as a custom request, so `tools/call` with `arguments` given as a
//! string arrives here rather than at `call_tool`. Without this module the
//! client would be told the method does not exist.

use rmcp::ErrorData;
use rmcp::model::{
    CallToolRequestParams, ClientJsonRpcMessage, CustomRequest, ErrorCode, GetPromptRequestParams,
    InitializeRequestParams, PaginatedRequestParams, ReadResourceRequestParams, RequestId,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The longest part of a client's method name echoed back.
const ECHO_LIMIT: usize = 100;

/// Why some bytes are not one JSON-RPC message: the error to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAMessage {
    /// `-32700` (not UTF-8, not JSON) or `-32600` (not a message).
    pub code: ErrorCode,
    /// The request's id, when it has a readable one.
    pub id: Option<RequestId>,
    /// What is wrong; never an echo of the input (serde names a column).
    pub message: String,
    /// It has a method and no id: a notification, which JSON-RPC answers
    /// with nothing.
    pub is_notification: bool,
}

/// Reads one client message from `bytes`; `unit` names what they are
/// ("line", "request body") in the error.
pub fn parse_message(bytes: &[u8], unit: &str) -> Result<ClientJsonRpcMessage, NotAMessage> {
    let refuse = |code, id, message| NotAMessage {
        code,
        id,
        message,
        is_notification: false,
    };
    let text = std::str::from_utf8(bytes).map_err(|error| {
        refuse(
            ErrorCode::PARSE_ERROR,
            None,
            format!(
                "Parse error: the {unit} is not valid UTF-8 (at byte {})",
                error.valid_up_to()
            ),
        )
    })?;
    let value: Value = serde_json::from_str(text).map_err(|error| {
        refuse(
            ErrorCode::PARSE_ERROR,
            None,
            format!("Parse error: the {unit} is not JSON ({error})"),
        )
    })?;
    if value.is_array() {
        return Err(refuse(
            ErrorCode::INVALID_REQUEST,
            None,
            format!("Invalid request: batches are not part of MCP; send one message per {unit}"),
        ));
    }
    serde_json::from_value::<ClientJsonRpcMessage>(value.clone()).map_err(|error| NotAMessage {
        code: ErrorCode::INVALID_REQUEST,
        id: match value.get("id") {
            Some(Value::Number(n)) => n.as_i64().map(RequestId::Number),
            Some(Value::String(s)) => Some(RequestId::String(s.as_str().into())),
            _ => None,
        },
        message: format!("Invalid request: not a JSON-RPC 2.0 message ({error})"),
        is_notification: value.get("method").is_some_and(Value::is_string)
            && value.get("id").is_none(),
    })
}

/// The error for a request no handler took.
pub fn unmatched_request(request: &CustomRequest, era_2026: bool) -> ErrorData {
    let method = request.method.as_str();
    let params = request.params.as_ref();
    // `initialize` is gone from 2026-07-28 (clients discover with
    // `server/discover`), and this server offers no subscriptions or
    // completions: whatever the params, these are unknown methods.
    let unsupported = matches!(
        method,
        "resources/subscribe" | "resources/unsubscribe" | "completion/complete"
    ) || (method == "initialize" && era_2026);
    if unsupported {
        return ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!(
                "method not found: `{method}` is not offered by this server{}",
                if method == "initialize" {
                    " at protocol 2026-07-28, which discovers with server/discover"
                } else {
                    ""
                }
            ),
            None,
        );
    }
    let problem = match method {
        "tools/call" => shape::<CallToolRequestParams>(params),
        "initialize" => shape::<InitializeRequestParams>(params),
        "prompts/get" => shape::<GetPromptRequestParams>(params),
        "resources/read" => shape::<ReadResourceRequestParams>(params),
        "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" => {
            optional_shape::<PaginatedRequestParams>(params)
        }
        _ => {
            return ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!(
                    "method not found: `{}`; this server answers MCP's standard methods (initialize, tools/list, tools/call, prompts/*, resources/*, ping)",
                    excerpt(method)
                ),
                None,
            );
        }
    };
    let why = problem.unwrap_or_else(|| "they match no form this server accepts".to_owned());
    ErrorData::invalid_params(format!("invalid params for `{method}`: {why}"), None)
}

/// Why `params` don't fit `T`, if they don't.
fn shape<T: DeserializeOwned>(params: Option<&Value>) -> Option<String> {
    match params {
        None => Some("params are required".to_owned()),
        Some(params) => serde_json::from_value::<T>(params.clone())
            .err()
            .map(|error| error.to_string()),
    }
}

fn optional_shape<T: DeserializeOwned>(params: Option<&Value>) -> Option<String> {
    params.and_then(|params| shape::<T>(Some(params)))
}

/// At most 100 characters of `text` (`ECHO_LIMIT`), marked when cut: what an
/// error may echo of a client's input.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(ECHO_LIMIT) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… (cut at {ECHO_LIMIT} characters)", &text[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(method: &str, params: Option<Value>) -> ErrorData {
        unmatched_request(&CustomRequest::new(method, params), false)
    }

    #[test]
    fn tool_arguments_given_as_a_string_are_invalid_params_naming_the_field() {
        let e = error(
            "tools/call",
            Some(json!({"name": "get_build", "arguments": "{\"org_slug\": \"acme\"}"})),
        );
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
        assert!(e.message.contains("tools/call"), "{}", e.message);
        assert!(e.message.contains("map"), "{}", e.message);
    }

    #[test]
    fn methods_not_offered_are_not_found_whatever_their_params() {
        let meta = json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}});
        for method in [
            "resources/subscribe",
            "resources/unsubscribe",
            "completion/complete",
        ] {
            let e = error(method, Some(meta.clone()));
            assert_eq!(
                e.code,
                ErrorCode::METHOD_NOT_FOUND,
                "{method}: {}",
                e.message
            );
        }
        // `initialize` is gone at 2026-07-28 only; before, bad params say so.
        let e = unmatched_request(&CustomRequest::new("initialize", Some(meta)), true);
        assert_eq!(e.code, ErrorCode::METHOD_NOT_FOUND, "{}", e.message);
        assert!(e.message.contains("server/discover"), "{}", e.message);
        let e = error("initialize", Some(json!({"capabilities": {}})));
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{}", e.message);
    }

    #[test]
    fn missing_params_are_named() {
        let e = error("tools/call", None);
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
        assert!(e.message.contains("params are required"), "{}", e.message);
        let e = error("prompts/get", Some(json!({"arguments": {}})));
        assert!(e.message.contains("name"), "{}", e.message);
    }

    #[test]
    fn an_unknown_method_is_method_not_found_with_a_bounded_echo() {
        let long = "x".repeat(5000);
        let e = error(&long, None);
        assert_eq!(e.code, ErrorCode::METHOD_NOT_FOUND);
        assert!(e.message.len() < 400, "{}", e.message);
        assert!(e.message.contains("cut at 100"), "{}", e.message);
    }
}
