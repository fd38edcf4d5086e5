//! JSON-RPC answers rmcp's HTTP service would give as bare HTTP errors.
//!
//! - A POST whose body is not JSON is `400` with a JSON-RPC `-32700` parse
//!   error (id null); JSON that is not a JSON-RPC message is `400` with
//!   `-32600`. (rmcp answers both `415 Unsupported Media Type`, which tells
//!   a client its content type was wrong.)
//! - With sessions, a `DELETE` of a session that does not exist (never
//!   did, or already ended) is `404`, as the transport specification says
//!   for unknown sessions. (rmcp answers `202`.)
//!
//! Answers never echo the body: a serde error names a line and column.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use rmcp::model::{ErrorCode, RequestId};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::{SessionManager, SessionStore};
use serde_json::{Value, json};

/// The header naming a session.
const SESSION_ID: &str = "mcp-session-id";

/// Where to look a session up.
#[derive(Clone)]
pub struct Sessions {
    /// This replica's sessions.
    pub local: Arc<LocalSessionManager>,
    /// The fleet's, when sessions live in Redis.
    pub shared: Option<Arc<dyn SessionStore>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Whether `id` names a live session here or in the shared store. If
    /// the store cannot answer, the session is taken to exist (rmcp then
    /// decides), so an outage never ends a session by mistake.
    async fn exists(&self, id: &str) -> bool {
        if self.local.has_session(&id.into()).await.unwrap_or(true) {
            return true;
        }
        match &self.shared {
            None => false,
            Some(store) => match store.load(id).await {
                Ok(state) => state.is_some(),
                Err(error) => {
                    tracing::warn!(%error, "the session store could not be read; passing the DELETE on");
                    true
                }
            },
        }
    }
}

/// The guard's settings.
#[derive(Debug, Clone)]
pub struct Framing {
    /// Largest request body, in bytes (413 above).
    pub max_body_bytes: usize,
    /// Set with `--stateful`.
    pub sessions: Option<Sessions>,
}

/// The middleware: checks a POST's body and a DELETE's session before
/// rmcp sees them.
pub async fn guard(State(framing): State<Arc<Framing>>, request: Request, next: Next) -> Response {
    if request.method() == Method::DELETE {
        if let Some(sessions) = &framing.sessions
            && let Some(id) = request
                .headers()
                .get(SESSION_ID)
                .and_then(|v| v.to_str().ok())
            && !sessions.exists(id).await
        {
            return (
                StatusCode::NOT_FOUND,
                "Not Found: no such session (it never existed, or it has ended)",
            )
                .into_response();
        }
        return next.run(request).await;
    }
    if request.method() != Method::POST || !is_json(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, framing.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Payload Too Large: the request body could not be read within {} bytes ({error})",
                    framing.max_body_bytes
                ),
            )
                .into_response();
        }
    };
    if let Some(refusal) = check(&bytes) {
        return refusal;
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split_once(';').map_or(v, |(essence, _)| essence);
            essence.trim().eq_ignore_ascii_case("application/json")
        })
}

/// The 400 answer for a body that is not one JSON-RPC message, if it isn't.
fn check(body: &[u8]) -> Option<Response> {
    let refused = bk_mcp::malformed::parse_message(body, "request body").err()?;
    let id = match refused.id {
        Some(RequestId::Number(n)) => Value::from(n),
        Some(RequestId::String(s)) => Value::from(s.as_ref()),
        None => Value::Null,
    };
    Some(bad_request(refused.code, id, refused.message))
}

fn bad_request(code: ErrorCode, id: Value, message: String) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code.0, "message": message}});
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(body: &[u8]) -> (StatusCode, Value) {
        let response = check(body).expect("a refusal");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_a_parse_error() {
        let (status, body) = answer(b"{\"jsonrpc\": \"2.0\", \"id\": 1,").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], -32700, "{body}");
        assert!(body["id"].is_null(), "{body}");
        let (_, body) = answer(b"{\"x\": \"\xff\"}").await;
        assert_eq!(body["error"]["code"], -32700, "{body}");
    }

    #[tokio::test]
    async fn json_that_is_not_a_message_is_an_invalid_request_with_its_id() {
        let (status, body) = answer(br#"{"jsonrpc": "2.0", "id": 4}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], -32600, "{body}");
        assert_eq!(body["id"], 4, "{body}");
    }

    #[test]
    fn a_message_passes() {
        assert!(check(br#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#).is_none());
        assert!(check(br#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#).is_none());
    }
}
