//! Recording API traffic to a HAR 1.2 file, and serving responses back from
//! one, for offline evaluations, demos and bug reports.
//!
//! - [`HarRecorder`] appends one entry per HTTP exchange (every attempt and
//!   every redirect hop) to a file that is valid HAR after each entry. The
//!   token, passthrough and configured headers are never written.
//! - [`HarReplay`] answers requests from a HAR file, with no network and no
//!   token. A request matches an entry by method, path and query (scheme and
//!   host are ignored, query parameters are compared in name order) and, when
//!   it has one, its body (JSON compared by value). Repeated requests are
//!   served in the order they were recorded; once only the last one is left,
//!   it keeps being served.
//!
//! Files written by other HAR producers, such as the reference Buildkite MCP
//! server, can be replayed too.

mod format;
mod record;
mod replay;

pub(crate) use record::Exchange;
pub use record::HarRecorder;
pub use replay::HarReplay;

use reqwest::Method;
use url::Url;

/// What a request is matched by: `METHOD path?query`, then its `Range`
/// header and its body on lines of their own when it has them (a ranged
/// log tail is not the whole log).
///
/// The query is rebuilt with its pairs in name order (stable for repeated
/// names) and a JSON body is rewritten with sorted keys, so that recordings
/// from clients that order either differently still match.
pub(crate) fn request_key(
    method: &Method,
    url: &Url,
    range: Option<&str>,
    body: Option<&[u8]>,
) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut key = format!("{} {}", method.as_str().to_ascii_uppercase(), url.path());
    if !pairs.is_empty() {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        key.push('?');
        key.push_str(&query);
    }
    if let Some(range) = range.map(str::trim).filter(|range| !range.is_empty()) {
        key.push_str("\nRange: ");
        key.push_str(range);
    }
    if let Some(body) = body.filter(|body| !body.is_empty()) {
        key.push('\n');
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => key.push_str(&canonical_json(&value)),
            Err(_) => key.push_str(&String::from_utf8_lossy(body)),
        }
    }
    key
}

/// JSON with object keys sorted at every level.
fn canonical_json(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = fields
                .into_iter()
                .map(|(name, value)| {
                    format!("{}:{}", Value::String(name.clone()), canonical_json(value))
                })
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

/// Where the client's requests go.
#[derive(Debug, Default)]
pub(crate) enum Traffic {
    /// To the network.
    #[default]
    Live,
    /// To the network, and each exchange to a HAR file.
    Record(HarRecorder),
    /// Nowhere: answered from a HAR file.
    Replay(HarReplay),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL")
    }

    #[test]
    fn key_ignores_scheme_host_and_query_order() {
        let ours = request_key(
            &Method::GET,
            &url(
                "https://api.buildkite.com/v2/organizations/acme/builds?state%5B%5D=failed&branch=main&per_page=30",
            ),
            None,
            None,
        );
        let theirs = request_key(
            &Method::GET,
            &url(
                "http://127.0.0.1:9999/v2/organizations/acme/builds?branch=main&per_page=30&state[]=failed",
            ),
            None,
            None,
        );
        assert_eq!(ours, theirs);
        assert_eq!(
            ours,
            "GET /v2/organizations/acme/builds?branch=main&per_page=30&state%5B%5D=failed"
        );
    }

    #[test]
    fn key_keeps_the_order_of_repeated_names() {
        let a = request_key(&Method::GET, &url("http://h/p?s[]=a&s[]=b"), None, None);
        let b = request_key(&Method::GET, &url("http://h/p?s[]=b&s[]=a"), None, None);
        assert_ne!(a, b);
    }

    #[test]
    fn a_ranged_request_is_another_request() {
        let whole = request_key(&Method::GET, &url("http://h/v2/log"), None, None);
        let tail = request_key(
            &Method::GET,
            &url("http://h/v2/log"),
            Some("bytes=-65536"),
            None,
        );
        assert_ne!(whole, tail);
        assert_eq!(tail, "GET /v2/log\nRange: bytes=-65536");
    }

    #[test]
    fn key_compares_json_bodies_by_value_and_ignores_empty_bodies() {
        let a = request_key(
            &Method::POST,
            &url("http://h/v2/x"),
            None,
            Some(br#"{"commit":"HEAD","branch":"main","env":{"B":"2","A":"1"}}"#),
        );
        let b = request_key(
            &Method::POST,
            &url("http://h/v2/x"),
            None,
            Some(br#"{ "branch": "main", "env": {"A":"1","B":"2"}, "commit": "HEAD" }"#),
        );
        assert_eq!(a, b);
        assert_eq!(
            a,
            "POST /v2/x\n{\"branch\":\"main\",\"commit\":\"HEAD\",\"env\":{\"A\":\"1\",\"B\":\"2\"}}"
        );
        assert_eq!(
            request_key(&Method::PUT, &url("http://h/v2/x"), None, Some(b"")),
            "PUT /v2/x"
        );
    }
}
