//! API tokens, kept out of `Debug` output, logs and errors.

use std::fmt;
use std::sync::Arc;

use reqwest::header::HeaderValue;

use crate::error::Error;

/// A Buildkite API access token (e.g. `bkua_…`).
///
/// Its `Debug` output never shows the value, and the `Authorization` header
/// built from it is marked sensitive so the HTTP stack does not log it.
#[derive(Clone)]
pub struct ApiToken {
    header: Arc<HeaderValue>,
}

impl ApiToken {
    /// Wraps a token. It must be non-empty and printable ASCII without spaces.
    pub fn new(token: impl AsRef<str>) -> Result<Self, Error> {
        let token = token.as_ref().trim();
        if token.is_empty() {
            return Err(Error::InvalidArgument("the API token is empty".into()));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::InvalidArgument(
                "the API token contains spaces or characters that cannot be sent in a header"
                    .into(),
            ));
        }
        let mut header = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Error::InvalidArgument("the API token is not a valid header".into()))?;
        header.set_sensitive(true);
        Ok(ApiToken {
            header: Arc::new(header),
        })
    }

    /// Reads the token from an `Authorization` header value, which must be
    /// exactly `Bearer <token>` (the scheme is case-insensitive).
    pub fn from_authorization_header(value: &str) -> Result<Self, Error> {
        let mut parts = value.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => {
                ApiToken::new(token)
            }
            _ => Err(Error::InvalidArgument(
                "the Authorization header must be exactly `Bearer <token>`".into(),
            )),
        }
    }

    /// The token itself. Handle with care: never log it.
    pub fn expose_secret(&self) -> &str {
        self.header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
    }

    pub(crate) fn authorization(&self) -> HeaderValue {
        (*self.header).clone()
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl PartialEq for ApiToken {
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header
    }
}

impl Eq for ApiToken {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let token = ApiToken::new("bkua_secret123").unwrap();
        assert_eq!(format!("{token:?}"), "ApiToken(<redacted>)");
        assert!(token.authorization().is_sensitive());
        assert_eq!(token.expose_secret(), "bkua_secret123");
    }

    #[test]
    fn authorization_header_must_be_one_bearer_token() {
        assert_eq!(
            ApiToken::from_authorization_header("bearer abc")
                .unwrap()
                .expose_secret(),
            "abc"
        );
        for bad in [
            "",
            "Bearer",
            "Basic abc",
            "Bearer a b",
            "Bearer a, Bearer b",
        ] {
            assert!(ApiToken::from_authorization_header(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn empty_or_unsendable_tokens_are_rejected() {
        for bad in ["", "   ", "a b", "tok\u{e9}n", "a\nb"] {
            let err = ApiToken::new(bad).unwrap_err();
            assert!(!err.to_string().contains(bad.trim()) || bad.trim().is_empty());
        }
    }
}
