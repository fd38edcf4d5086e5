//! The error type of every call, one variant per thing a caller acts on
//! differently.
//!
//! Each API error carries the [`RequestInfo`] (method and path, never the
//! token or the host) and the API's own `message`, so its `Display` reads as
//! a complete sentence a person or a model can act on, e.g.
//! `GET /v2/organizations/acme/pipelines: 403 Forbidden: Your access token doesn't have the required scope`.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::rate_limit::RateLimit;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which call failed: the HTTP method and the path (with query string) that
/// was requested. It never holds credentials or the host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// HTTP method, e.g. `GET`.
    pub method: Method,
    /// Path and query of the request, e.g. `/v2/organizations/acme/builds?page=2`.
    pub path: String,
}

impl fmt::Display for RequestInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// One entry of a 422 response's `errors` array.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FieldError {
    /// The request field that was rejected, when the API names one.
    #[serde(default)]
    pub field: Option<String>,
    /// What is wrong with it (Buildkite puts the explanation in `code`).
    #[serde(default)]
    pub code: Option<String>,
    /// A free-form message, used by some endpoints instead of `code`.
    #[serde(default)]
    pub message: Option<String>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self
            .code
            .as_deref()
            .or(self.message.as_deref())
            .unwrap_or("invalid");
        match &self.field {
            Some(field) => write!(f, "{field}: {what}"),
            None => f.write_str(what),
        }
    }
}

/// Kind of transport failure: nothing usable came back from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The connection could not be established (DNS, refused, TLS).
    Connect,
    /// The connect or request timeout elapsed.
    Timeout,
    /// The connection broke while sending or receiving.
    Other,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "could not connect",
            TransportKind::Timeout => "timed out",
            TransportKind::Other => "connection failed",
        })
    }
}

/// Everything that can go wrong in a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401: the token is missing, invalid, revoked or expired.
    #[error("{request}: 401 Unauthorized: {message}")]
    Unauthorized {
        /// The failed call.
        request: RequestInfo,
        /// The API's message.
        message: String,
    },
    /// 403: the token lacks a scope, or the user lacks access to the resource.
    #[error("{request}: 403 Forbidden: {message}")]
    Forbidden {
        /// The failed call.
        request: RequestInfo,
        /// The API's message; names the missing scope when that is the cause.
        message: String,
    },
    /// 404: the resource does not exist, or is not visible to this token.
    #[error("{request}: 404 Not Found: {message}")]
    NotFound {
        /// The failed call.
        request: RequestInfo,
        /// The API's message, e.g. `No job found`.
        message: String,
    },
    /// 410: the resource existed but is no longer available (e.g. step
    /// uploads of builds older than 30 days).
    #[error("{request}: 410 Gone: {message}")]
    Gone {
        /// The failed call.
        request: RequestInfo,
        /// The API's message.
        message: String,
    },
    /// 422: the request was understood but rejected, with per-field reasons.
    #[error(
        "{request}: 422 Unprocessable Entity: {message}{}",
        FieldErrors(errors)
    )]
    Unprocessable {
        /// The failed call.
        request: RequestInfo,
        /// The API's message, e.g. `Validation Failed`.
        message: String,
        /// Field-level reasons, possibly empty.
        errors: Vec<FieldError>,
    },
    /// 429: a rate limit is exhausted and the retry budget did not allow
    /// waiting for it to reset.
    #[error("{request}: 429 Too Many Requests: {message}{}", RetryHint(*retry_after))]
    RateLimited {
        /// The failed call.
        request: RequestInfo,
        /// The API's message.
        message: String,
        /// How long until the limit resets, when the API said.
        retry_after: Option<Duration>,
        /// The rate-limit headers of the last response.
        rate_limit: Box<RateLimit>,
    },
    /// 5xx: the API failed; retrying later may help.
    #[error("{request}: {status}: {message}")]
    Server {
        /// The failed call.
        request: RequestInfo,
        /// The HTTP status.
        status: StatusCode,
        /// The API's message, or a one-line summary of an HTML error page.
        message: String,
    },
    /// Any other unsuccessful status (400, 409, 416, an unexpected redirect…).
    #[error("{request}: {status}: {message}")]
    Http {
        /// The failed call.
        request: RequestInfo,
        /// The HTTP status.
        status: StatusCode,
        /// The API's message.
        message: String,
    },
    /// No response: connection, TLS or timeout failure.
    #[error("{request}: {kind}: {message}")]
    Transport {
        /// The failed call.
        request: RequestInfo,
        /// What kind of failure.
        kind: TransportKind,
        /// Details from the HTTP stack.
        message: String,
    },
    /// A write (`POST`, `PUT`, `PATCH`, `DELETE`) reached the API, but what
    /// came back does not say whether it took effect: a success whose body
    /// can't be read, a connection lost or timed out after sending, or a
    /// redirect (never followed for a write). Never retried automatically.
    #[error(
        "{request}: {reason}; the change may have been applied: read the resource back (e.g. the build or job) before sending it again"
    )]
    MaybeApplied {
        /// The write.
        request: RequestInfo,
        /// What came back instead of a confirmation.
        reason: String,
    },
    /// A replayed client (see [`crate::har`]) has no recorded response for
    /// this call.
    #[error("{request}: replay: {message}")]
    Replay {
        /// The call nothing was recorded for.
        request: RequestInfo,
        /// What the recording lacks.
        message: String,
    },
    /// The response arrived but its body was not what the endpoint returns.
    #[error("{request}: could not decode the response: {message}; {}", body_start(.excerpt))]
    Decode {
        /// The failed call.
        request: RequestInfo,
        /// What the decoder reported.
        message: String,
        /// The first characters of the body, on one line.
        excerpt: String,
    },
    /// A download was larger than the limit the caller set.
    #[error("{request}: the response is larger than the {limit}-byte limit")]
    TooLarge {
        /// The failed call.
        request: RequestInfo,
        /// The limit that was exceeded, in bytes.
        limit: u64,
    },
    /// An argument cannot be sent as given (empty slug, `..`, bad header).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The client could not be built (bad base URL, header or TLS setup).
    #[error("invalid client configuration: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status of an API error, if the call got a response.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Unauthorized { .. } => Some(StatusCode::UNAUTHORIZED),
            Error::Forbidden { .. } => Some(StatusCode::FORBIDDEN),
            Error::NotFound { .. } => Some(StatusCode::NOT_FOUND),
            Error::Gone { .. } => Some(StatusCode::GONE),
            Error::Unprocessable { .. } => Some(StatusCode::UNPROCESSABLE_ENTITY),
            Error::RateLimited { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            Error::Server { status, .. } | Error::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The call that failed, for every error that came from sending one.
    pub fn request(&self) -> Option<&RequestInfo> {
        match self {
            Error::Unauthorized { request, .. }
            | Error::Forbidden { request, .. }
            | Error::NotFound { request, .. }
            | Error::Gone { request, .. }
            | Error::Unprocessable { request, .. }
            | Error::RateLimited { request, .. }
            | Error::Server { request, .. }
            | Error::Http { request, .. }
            | Error::Transport { request, .. }
            | Error::Replay { request, .. }
            | Error::Decode { request, .. }
            | Error::MaybeApplied { request, .. }
            | Error::TooLarge { request, .. } => Some(request),
            Error::InvalidArgument(_) | Error::Config(_) => None,
        }
    }

    /// The API's `message` for errors that came with a response.
    pub fn api_message(&self) -> Option<&str> {
        match self {
            Error::Unauthorized { message, .. }
            | Error::Forbidden { message, .. }
            | Error::NotFound { message, .. }
            | Error::Gone { message, .. }
            | Error::Unprocessable { message, .. }
            | Error::RateLimited { message, .. }
            | Error::Server { message, .. }
            | Error::Http { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Whether trying the same call again later may succeed (429, 5xx,
    /// transport failures).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. } | Error::Server { .. } | Error::Transport { .. }
        )
    }
}

impl Error {
    /// Adds the wait the API announced to an error given up on because
    /// the wait was longer than the call could afford, so the caller knows
    /// when to try again.
    pub(crate) fn with_retry_after(self, wait: Duration) -> Self {
        match self {
            Error::RateLimited {
                request,
                message,
                retry_after,
                rate_limit,
            } => Error::RateLimited {
                request,
                message,
                retry_after: retry_after.or(Some(wait)),
                rate_limit,
            },
            Error::Server {
                request,
                status,
                message,
            } => Error::Server {
                request,
                status,
                message: format!(
                    "{message} (the API asked to retry in {} s, later than this call can wait: retry then)",
                    whole_seconds(wait)
                ),
            },
            other => other,
        }
    }
}

/// A wait in whole seconds for an error to name: rounded up, and at least
/// 1, so a wait under a second never reads as "in 0 s".
pub(crate) fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Longest part of a request's path, or of an argument, an error echoes.
pub(crate) const MAX_ECHO_CHARS: usize = 200;

/// How a decode error shows the body: its first characters, or that it
/// was empty.
fn body_start(excerpt: &str) -> String {
    if excerpt.is_empty() {
        "the body was empty".to_owned()
    } else {
        format!("body starts with {excerpt:?}")
    }
}

/// At most `max` characters of `text`, and when cut, a note saying so and
/// how long the whole was: what an error may echo of input or a URL.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => format!(
            "{}… (cut: {} characters in all)",
            &text[..cut],
            text.chars().count()
        ),
    }
}

struct FieldErrors<'a>(&'a [FieldError]);

impl fmt::Display for FieldErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { " (" } else { "; " })?;
            write!(f, "{error}")?;
        }
        if !self.0.is_empty() {
            f.write_str(")")?;
        }
        Ok(())
    }
}

struct RetryHint(Option<Duration>);

impl fmt::Display for RetryHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(wait) => write!(f, " (the limit resets in {} s)", whole_seconds(wait)),
            None => Ok(()),
        }
    }
}

/// The body of an API error response, as far as it can be understood.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

/// Longest message kept from a non-JSON error body.
const MAX_MESSAGE_CHARS: usize = 300;

/// Turns an error response into its message and field errors.
///
/// JSON bodies give their `message`; an HTML error page (from a proxy or load
/// balancer) is reduced to its title on one line; any other text is squashed
/// onto one line and shortened. An empty body gives the status's reason.
pub(crate) fn parse_error_body(status: StatusCode, body: &[u8]) -> (String, Vec<FieldError>) {
    let fallback = || {
        status
            .canonical_reason()
            .unwrap_or("unexpected response")
            .to_owned()
    };
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        let errors = parsed.errors.into_iter().map(field_error).collect();
        let message = parsed
            .message
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(fallback);
        return (message, errors);
    }
    let text = String::from_utf8_lossy(body);
    let summary = if looks_like_html(&text) {
        html_summary(&text)
    } else if text.trim_start().starts_with("<?xml") {
        xml_summary(&text)
    } else {
        one_line(&text, MAX_MESSAGE_CHARS)
    };
    if summary.is_empty() {
        (fallback(), Vec::new())
    } else {
        (summary, Vec::new())
    }
}

fn field_error(value: serde_json::Value) -> FieldError {
    match value {
        serde_json::Value::String(message) => FieldError {
            message: Some(message),
            ..FieldError::default()
        },
        other => serde_json::from_value(other.clone()).unwrap_or_else(|_| FieldError {
            message: Some(other.to_string()),
            ..FieldError::default()
        }),
    }
}

fn looks_like_html(text: &str) -> bool {
    let start = text.trim_start().get(..64).unwrap_or(text.trim_start());
    let start = start.to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html") || start.starts_with("<head")
}

/// The text inside the first `<tag …>…</tag>` of a markup document.
fn tag_text<'a>(doc: &'a str, tag: &str) -> Option<&'a str> {
    let lower = doc.to_ascii_lowercase();
    let open = lower.find(&format!("<{}", tag.to_ascii_lowercase()))?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find(&format!("</{}", tag.to_ascii_lowercase()))?;
    doc.get(start..end)
}

/// One line for an HTML page: its `<title>`, else its first `<h1>`, else its
/// text with tags removed; always prefixed so nobody mistakes it for the API.
fn html_summary(html: &str) -> String {
    let text = tag_text(html, "title")
        .or_else(|| tag_text(html, "h1"))
        .map(str::to_owned)
        .unwrap_or_else(|| strip_tags(html));
    let text = one_line(&text, 120);
    if text.is_empty() {
        "an HTML error page (not from the Buildkite API)".to_owned()
    } else {
        format!("an HTML error page (not from the Buildkite API): {text}")
    }
}

/// One line for an XML error (object storage): `Code: Message`.
fn xml_summary(xml: &str) -> String {
    match (tag_text(xml, "Code"), tag_text(xml, "Message")) {
        (Some(code), Some(message)) => one_line(&format!("{code}: {message}"), 200),
        (Some(only), None) | (None, Some(only)) => one_line(only, 200),
        (None, None) => one_line(&strip_tags(xml), 200),
    }
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Collapses all whitespace runs to single spaces and cuts to `max` chars.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, word) in text.split_whitespace().enumerate() {
        if count > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() > max {
            let cut: String = out.chars().take(max).collect();
            return format!("{cut}…");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_message_and_field_errors_are_read() {
        let body = br#"{"message":"Validation Failed","errors":[{"field":"configuration","code":"is missing"},"plain"]}"#;
        let (message, errors) = parse_error_body(StatusCode::UNPROCESSABLE_ENTITY, body);
        assert_eq!(message, "Validation Failed");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].to_string(), "configuration: is missing");
        assert_eq!(errors[1].to_string(), "plain");
    }

    #[test]
    fn html_page_becomes_one_line() {
        let body = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1><hr>nginx</body></html>";
        let (message, _) = parse_error_body(StatusCode::BAD_GATEWAY, body);
        assert_eq!(
            message,
            "an HTML error page (not from the Buildkite API): 502 Bad Gateway"
        );
    }

    #[test]
    fn storage_xml_error_becomes_code_and_message() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message><RequestId>X</RequestId></Error>";
        let (message, _) = parse_error_body(StatusCode::FORBIDDEN, body);
        assert_eq!(message, "AccessDenied: Request has expired");
    }

    #[test]
    fn empty_body_falls_back_to_reason() {
        let (message, errors) = parse_error_body(StatusCode::NOT_FOUND, b"");
        assert_eq!(message, "Not Found");
        assert!(errors.is_empty());
    }

    #[test]
    fn long_text_is_shortened_on_a_char_boundary() {
        let body = "é".repeat(1000);
        let (message, _) = parse_error_body(StatusCode::BAD_REQUEST, body.as_bytes());
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(message.ends_with('…'));
    }

    #[test]
    fn a_wait_under_a_second_reads_as_one_second_and_others_round_up() {
        let limited = |millis| Error::RateLimited {
            request: RequestInfo {
                method: Method::GET,
                path: "/v2/organizations/acme/builds".into(),
            },
            message: "not sent".into(),
            retry_after: Some(Duration::from_millis(millis)),
            rate_limit: Box::default(),
        };
        assert!(
            limited(300)
                .to_string()
                .ends_with("(the limit resets in 1 s)")
        );
        assert!(
            limited(1_200)
                .to_string()
                .ends_with("(the limit resets in 2 s)")
        );
        assert!(
            limited(42_000)
                .to_string()
                .ends_with("(the limit resets in 42 s)")
        );
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn display_reads_as_a_sentence() {
        let err = Error::Unprocessable {
            request: RequestInfo {
                method: Method::POST,
                path: "/v2/organizations/acme/pipelines".into(),
            },
            message: "Validation Failed".into(),
            errors: vec![FieldError {
                field: Some("name".into()),
                code: Some("can't be blank".into()),
                message: None,
            }],
        };
        assert_eq!(
            err.to_string(),
            "POST /v2/organizations/acme/pipelines: 422 Unprocessable Entity: Validation Failed (name: can't be blank)"
        );
    }
}
