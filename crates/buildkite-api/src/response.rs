//! What comes back: bodies read and decoded, and failures (transport
//! errors, unsuccessful statuses, requests the pacer held back) turned into
//! typed [`Error`]s a caller can act on.

use std::time::Duration;

use bytes::Bytes;
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{
    Error, RequestInfo, Result, TransportKind, one_line, parse_error_body, whole_seconds,
};
use crate::pacing::Limited;
use crate::rate_limit::RateLimit;

/// Largest error body read to find the API's message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Characters of an undecodable body quoted in a decode error.
const EXCERPT_CHARS: usize = 200;

pub(crate) fn transport_kind(error: &reqwest::Error) -> TransportKind {
    if error.is_timeout() {
        TransportKind::Timeout
    } else if error.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    }
}

/// The error and its causes on one line, without the URL (the request info
/// already names the call).
pub(crate) fn error_chain(error: reqwest::Error) -> String {
    // The URL may be a presigned storage URL, whose query is a credential.
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    one_line(&text, 300)
}

/// Reads the next chunk of a streamed body.
pub(crate) async fn next_chunk(
    info: &RequestInfo,
    response: &mut Response,
) -> Result<Option<Bytes>> {
    response.chunk().await.map_err(|e| Error::Transport {
        request: info.clone(),
        kind: transport_kind(&e),
        message: error_chain(e),
    })
}

pub(crate) async fn read_body(info: &RequestInfo, response: Response) -> Result<Bytes> {
    response.bytes().await.map_err(|e| Error::Transport {
        request: info.clone(),
        kind: transport_kind(&e),
        message: error_chain(e),
    })
}

pub(crate) fn decode<T: DeserializeOwned>(info: &RequestInfo, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        request: info.clone(),
        message: e.to_string(),
        excerpt: one_line(&String::from_utf8_lossy(body), EXCERPT_CHARS),
    })
}

/// The error of a request the pacer did not send: the window that is
/// spent (`limited`) resets in `wait`, later than the call can wait.
pub(crate) fn rate_limited_unsent(
    info: &RequestInfo,
    org: &str,
    wait: Duration,
    limited: Limited,
) -> Error {
    let whose = match limited {
        Limited::Organization => format!("the organization {org:?} has used its API rate limit"),
        Limited::Token => "this API token has used its own rate limit".to_owned(),
    };
    Error::RateLimited {
        request: info.clone(),
        message: format!(
            "not sent: {whose} for this window, and it resets in {} s, later than this call can wait",
            whole_seconds(wait)
        ),
        retry_after: Some(wait),
        rate_limit: Box::new(RateLimit::default()),
    }
}

/// Builds the error for an unsuccessful response, reading at most
/// [`MAX_ERROR_BODY`] bytes of its body.
pub(crate) async fn error_from_response(
    request: RequestInfo,
    mut response: Response,
    rate_limit: RateLimit,
) -> Error {
    let status = response.status();
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY);
    let (message, errors) = parse_error_body(status, &body);
    match status {
        StatusCode::UNAUTHORIZED => Error::Unauthorized { request, message },
        StatusCode::FORBIDDEN => Error::Forbidden { request, message },
        StatusCode::NOT_FOUND => Error::NotFound { request, message },
        StatusCode::GONE => Error::Gone { request, message },
        StatusCode::UNPROCESSABLE_ENTITY => Error::Unprocessable {
            request,
            message,
            errors,
        },
        StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
            request,
            message,
            retry_after: rate_limit.wait_hint(),
            rate_limit: Box::new(rate_limit),
        },
        s if s.is_server_error() => Error::Server {
            request,
            status,
            message,
        },
        _ => Error::Http {
            request,
            status,
            message,
        },
    }
}
