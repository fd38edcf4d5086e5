//! Building request paths from caller-supplied identifiers.
//!
//! Every identifier that ends up in a URL path (organization slug, pipeline
//! slug, job id, …) goes through [`ApiPath::segment`], which percent-encodes
//! everything outside the RFC 3986 unreserved set. A slug such as
//! `a/../access-token`, or one containing `?` or `#`, therefore stays a single
//! segment and cannot change which endpoint is called. Segments that URL
//! parsers would normalise away (empty, `.`, `..`) are rejected outright.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::Error;

/// Characters left as-is in a path segment: RFC 3986 "unreserved".
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A relative API path such as `v2/organizations/acme/pipelines`, built one
/// escaped segment at a time. It never starts with `/`, so joining it onto the
/// base URL keeps any path prefix the base URL has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiPath(String);

impl ApiPath {
    /// Starts a path under the API version root (`v2`).
    pub(crate) fn v2() -> Self {
        ApiPath("v2".to_owned())
    }

    /// Appends a fixed path component written by this crate (never user input).
    pub(crate) fn lit(mut self, literal: &'static str) -> Self {
        self.0.push('/');
        self.0.push_str(literal);
        self
    }

    /// Appends a caller-supplied identifier as one escaped segment.
    ///
    /// `what` names the identifier (e.g. `"pipeline slug"`) for the error.
    pub(crate) fn segment(mut self, what: &str, value: &str) -> Result<Self, Error> {
        if value.trim().is_empty() {
            return Err(Error::InvalidArgument(format!("{what} must not be empty")));
        }
        if value == "." || value == ".." {
            return Err(Error::InvalidArgument(format!(
                "{what} must not be {value:?}: it is not a valid identifier"
            )));
        }
        self.0.push('/');
        self.0.extend(utf8_percent_encode(value, SEGMENT));
        Ok(self)
    }

    /// Appends a number (build numbers).
    pub(crate) fn number(mut self, value: u64) -> Self {
        self.0.push('/');
        self.0.push_str(&value.to_string());
        self
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shorthand for the organization root: `v2/organizations/{org}`.
pub(crate) fn org(org: &str) -> Result<ApiPath, Error> {
    ApiPath::v2()
        .lit("organizations")
        .segment("organization slug", org)
}

/// `v2/organizations/{org}/pipelines/{pipeline}`.
pub(crate) fn pipeline(org_slug: &str, pipeline: &str) -> Result<ApiPath, Error> {
    org(org_slug)?
        .lit("pipelines")
        .segment("pipeline slug", pipeline)
}

/// `v2/organizations/{org}/pipelines/{pipeline}/builds/{number}`.
pub(crate) fn build(org_slug: &str, pipeline_slug: &str, number: u64) -> Result<ApiPath, Error> {
    Ok(pipeline(org_slug, pipeline_slug)?
        .lit("builds")
        .number(number))
}

/// `v2/organizations/{org}/pipelines/{pipeline}/builds/{number}/jobs/{job}`.
pub(crate) fn job(
    org_slug: &str,
    pipeline_slug: &str,
    number: u64,
    job_id: &str,
) -> Result<ApiPath, Error> {
    build(org_slug, pipeline_slug, number)?
        .lit("jobs")
        .segment("job id", job_id)
}

/// `v2/analytics/organizations/{org}`: the Test Engine root.
pub(crate) fn analytics_org(org_slug: &str) -> Result<ApiPath, Error> {
    ApiPath::v2()
        .lit("analytics")
        .lit("organizations")
        .segment("organization slug", org_slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_delimiters_stay_inside_one_segment() {
        let path = org("a/../access-token").unwrap();
        assert_eq!(path.as_str(), "v2/organizations/a%2F..%2Faccess-token");
        let path = pipeline("acme", "app?x=1#frag").unwrap();
        assert_eq!(
            path.as_str(),
            "v2/organizations/acme/pipelines/app%3Fx%3D1%23frag"
        );
    }

    #[test]
    fn unreserved_characters_are_kept() {
        let path = org("my-org_1.x~y").unwrap();
        assert_eq!(path.as_str(), "v2/organizations/my-org_1.x~y");
    }

    #[test]
    fn non_ascii_is_utf8_percent_encoded() {
        let path = org("é").unwrap();
        assert_eq!(path.as_str(), "v2/organizations/%C3%A9");
    }

    #[test]
    fn dot_segments_and_empty_values_are_rejected() {
        for bad in ["", "  ", ".", ".."] {
            let err = org(bad).unwrap_err();
            assert!(
                matches!(err, Error::InvalidArgument(ref m) if m.contains("organization slug")),
                "{bad:?} gave {err:?}"
            );
        }
    }
}
