//! Whether a tool error names its cause, and which: the words the
//! server's errors use for each fault (`buildkite-api`'s `Error` display,
//! `bk-tools`' wording around it, the server's own call time limit).
//!
//! An error names its cause when its text is not empty, is not an HTML
//! page, and holds the words of one cause below. The first cause whose
//! words appear wins, so the more specific come first (a 502 says
//! "HTML error page" and "502 Bad Gateway"; a 429 also says "retry").

/// A cause an error can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// The call reached the server's time limit, or an API request timed out.
    TimedOut,
    /// 429: the rate limit, or the pacing that waits for it.
    RateLimited,
    /// 502 with an HTML page from a proxy.
    BadGateway,
    /// 503.
    Unavailable,
    /// 500 or any other 5xx.
    ServerError,
    /// Too many redirects.
    RedirectLoop,
    /// A body that could not be read or decoded (invalid JSON, empty, cut).
    Unreadable,
    /// The connection broke: reset, closed, refused.
    Connection,
    /// A write whose outcome is unknown.
    MaybeApplied,
    /// Any 4xx the API answered (the soak's own calls are wrong then).
    ClientError,
}

impl Cause {
    /// Every cause, in the order they are tried.
    pub const ALL: [Cause; 10] = [
        Cause::TimedOut,
        Cause::RateLimited,
        Cause::BadGateway,
        Cause::Unavailable,
        Cause::ServerError,
        Cause::RedirectLoop,
        Cause::Unreadable,
        Cause::Connection,
        Cause::MaybeApplied,
        Cause::ClientError,
    ];

    /// What the report calls it.
    pub fn name(self) -> &'static str {
        match self {
            Cause::TimedOut => "timed out / time limit",
            Cause::RateLimited => "429 rate limit",
            Cause::BadGateway => "502 (HTML page)",
            Cause::Unavailable => "503 unavailable",
            Cause::ServerError => "500 / other 5xx",
            Cause::RedirectLoop => "redirect loop",
            Cause::Unreadable => "unreadable body",
            Cause::Connection => "connection broken",
            Cause::MaybeApplied => "may have been applied",
            Cause::ClientError => "4xx from the API",
        }
    }

    /// Words that name it, lower case; any one is enough.
    fn words(self) -> &'static [&'static str] {
        match self {
            Cause::TimedOut => &["timed out", "time limit", "did not finish within"],
            Cause::RateLimited => &["429 too many requests", "rate limit"],
            Cause::BadGateway => &["502 bad gateway", "html error page"],
            Cause::Unavailable => &["503 service unavailable"],
            Cause::ServerError => &[
                "500 internal server error",
                ": 500 ",
                ": 501 ",
                ": 504 ",
                "server error",
            ],
            Cause::RedirectLoop => &["redirect"],
            Cause::Unreadable => &[
                "could not decode",
                "could not be read",
                "invalid json",
                "eof while parsing",
                "error decoding response body",
                "error reading a body",
                "end of file before message length",
                "incomplete",
            ],
            Cause::Connection => &[
                "connection",
                "reset",
                "closed",
                "broken pipe",
                "could not connect",
            ],
            Cause::MaybeApplied => &["may have been applied"],
            Cause::ClientError => &[
                ": 400 ", ": 401 ", ": 403 ", ": 404 ", ": 405 ", ": 410 ", ": 422 ",
            ],
        }
    }
}

/// The cause `text` names, or `None` when it names none (empty, an HTML
/// page, or none of the words).
pub fn named_cause(text: &str) -> Option<Cause> {
    let lower = text.trim().to_ascii_lowercase();
    if lower.is_empty() || is_html(&lower) {
        return None;
    }
    Cause::ALL
        .into_iter()
        .find(|cause| cause.words().iter().any(|word| lower.contains(word)))
}

/// Whether the text is (or holds) an HTML page rather than a sentence.
fn is_html(lower: &str) -> bool {
    ["<!doctype html", "<html", "<body", "<head"]
        .iter()
        .any(|tag| lower.contains(tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_error_texts_name_their_causes() {
        let cases = [
            (
                "the call did not finish within 10 s, the server's time limit per call, and was stopped; ask for less (a smaller page, a narrower search) or retry",
                Cause::TimedOut,
            ),
            (
                "Could not get the build: GET /v2/organizations/acme/pipelines/web/builds/1234: timed out: operation timed out. This is likely temporary: retry shortly.",
                Cause::TimedOut,
            ),
            (
                "Could not get the user: GET /v2/user: 429 Too Many Requests: You have exceeded your organization's rate limit (the limit resets in 1 s). The rate limit resets in 1 s: retry after that.",
                Cause::RateLimited,
            ),
            (
                "Could not get the build: GET /v2/x: 502 Bad Gateway: an HTML error page (not from the Buildkite API): 502 Bad Gateway. This is likely temporary: retry shortly.",
                Cause::BadGateway,
            ),
            (
                "Could not get the build: GET /v2/x: 503 Service Unavailable: Buildkite is temporarily unavailable (the API asked to retry in 1 s, later than this call can wait: retry then).",
                Cause::Unavailable,
            ),
            (
                "Could not get the build: GET /v2/x: 500 Internal Server Error: Sorry, something went wrong on our end. This is likely temporary: retry shortly.",
                Cause::ServerError,
            ),
            (
                "Could not get the build: GET /v2/x: 508 Loop Detected: more than 5 redirects.",
                Cause::RedirectLoop,
            ),
            (
                "Could not get the build: GET /v2/x: could not decode the response: EOF while parsing a value at line 1 column 0; the body was empty.",
                Cause::Unreadable,
            ),
            (
                "Could not get the build: GET /v2/x: connection failed: error sending request: connection closed before message completed. This is likely temporary: retry shortly.",
                Cause::Connection,
            ),
            (
                "Could not get the build: GET /v2/x: 404 Not Found: Not Found. Check the slugs and ids.",
                Cause::ClientError,
            ),
        ];
        for (text, cause) in cases {
            assert_eq!(named_cause(text), Some(cause), "{text}");
        }
    }

    #[test]
    fn empty_html_and_vague_texts_name_none() {
        for text in [
            "",
            "   ",
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>",
            "Something went wrong.",
            "error",
        ] {
            assert_eq!(named_cause(text), None, "{text:?}");
        }
    }

    #[test]
    fn every_cause_has_its_own_name() {
        let names: std::collections::HashSet<&str> = Cause::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Cause::ALL.len());
    }
}
