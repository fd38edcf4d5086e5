//! Tool errors, written for a model to act on.
//!
//! Every API failure says what was being fetched, the HTTP status and the
//! API's message, then what to do next: the token scope the tool needs for a
//! 403, the slug/number pitfalls for a 404, when to retry for a 429.

/// Why a tool call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// An argument is missing, of the wrong type, out of range or unknown.
    #[error("invalid argument `{param}`: {message}")]
    InvalidArgument {
        /// The parameter.
        param: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// A Buildkite API call failed.
    #[error("{}", api_message(.what, .error, .scopes))]
    Api {
        /// What was being fetched, e.g. "the build".
        what: String,
        /// The API error.
        error: Box<buildkite_api::Error>,
        /// The scopes the tool needs, for 403 hints.
        scopes: &'static [&'static str],
    },
    /// The log engine failed.
    #[error("{0}")]
    Logs(String),
    /// Anything else, already phrased for the model.
    #[error("{0}")]
    Other(String),
}

impl ToolError {
    /// An invalid-argument error.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ToolError::InvalidArgument {
            param: param.into(),
            message: message.into(),
        }
    }

    /// Whether the token was refused (401): transports answer HTTP 401 with
    /// `WWW-Authenticate` for this.
    pub fn is_unauthorized(&self) -> bool {
        match self {
            ToolError::Api { error, .. } => {
                matches!(**error, buildkite_api::Error::Unauthorized { .. })
            }
            _ => false,
        }
    }

    /// Whether a replayed recording had no answer for a call (the frontend
    /// says how its user can replay one that it has).
    pub fn is_replay_miss(&self) -> bool {
        match self {
            ToolError::Api { error, .. } => matches!(**error, buildkite_api::Error::Replay { .. }),
            _ => false,
        }
    }
}

/// Wraps API errors with what was being fetched and the tool's scopes.
pub trait ApiResultExt<T> {
    /// Attaches context to an API error.
    fn context(self, what: &str, scopes: &'static [&'static str]) -> Result<T, ToolError>;
}

impl<T> ApiResultExt<T> for Result<T, buildkite_api::Error> {
    fn context(self, what: &str, scopes: &'static [&'static str]) -> Result<T, ToolError> {
        self.map_err(|error| ToolError::api(what, error, scopes))
    }
}

impl ToolError {
    /// An API error with what was being fetched and the tool's scopes.
    pub fn api(what: &str, error: buildkite_api::Error, scopes: &'static [&'static str]) -> Self {
        match error {
            buildkite_api::Error::InvalidArgument(message) => ToolError::Other(message),
            error => ToolError::Api {
                what: what.to_owned(),
                error: Box::new(error),
                scopes,
            },
        }
    }
}

/// Whether the failed call was meant to change something.
fn is_write(error: &buildkite_api::Error) -> bool {
    error
        .request()
        .is_some_and(|r| !matches!(r.method.as_str(), "GET" | "HEAD"))
}

fn api_message(what: &str, error: &buildkite_api::Error, scopes: &[&str]) -> String {
    let base = format!("Could not get {what}: {error}.");
    let next = match error {
        buildkite_api::Error::Unauthorized { .. } => {
            "The API token is missing, invalid, expired or revoked: use a valid token.".to_owned()
        }
        buildkite_api::Error::Forbidden { .. } => {
            if scopes.is_empty() {
                "The token was accepted but access was denied: check the user can see this organization and resource.".to_owned()
            } else {
                format!(
                    "This tool needs the token scope{} {}: check the token has {} (the access_token tool lists its scopes) and that its user can access this organization and resource.",
                    if scopes.len() > 1 { "s" } else { "" },
                    scopes.join(", "),
                    if scopes.len() > 1 { "them" } else { "it" }
                )
            }
        }
        buildkite_api::Error::NotFound { request, .. } if request.path.contains("/analytics/") && request.path.contains("/pipelines/") => "Check org_slug and pipeline_slug (list_pipelines lists them), and that the token can see this pipeline.".to_owned(),
        buildkite_api::Error::NotFound { request, .. } if request.path.contains("/analytics/") => "Check org_slug, test_suite_slug (list_test_suites lists them) and the ids, and that the token can see this suite.".to_owned(),
        buildkite_api::Error::NotFound { .. } => "Check the slugs and ids (org_slug and pipeline_slug are URL slugs; build_number is the build's number such as 42, not its UUID), and that the token can see this resource.".to_owned(),
        buildkite_api::Error::RateLimited { retry_after, .. } => match retry_after {
            Some(wait) => format!("The rate limit resets in {} s: retry after that.", whole_seconds(*wait)),
            None => "Retry in a minute.".to_owned(),
        },
        buildkite_api::Error::Gone { .. } => "The resource is no longer available (e.g. step uploads are kept for 30 days).".to_owned(),
        buildkite_api::Error::Unprocessable { errors, .. } if errors.is_empty() && is_write(error) => {
            "The API refused the change for the reason it gives: when that is the resource's state (e.g. already finished or paused), check its current state before retrying.".to_owned()
        }
        buildkite_api::Error::Unprocessable { .. } => "The API refused the request as given: fix the fields it names and retry.".to_owned(),
        buildkite_api::Error::Transport { kind: buildkite_api::TransportKind::Connect, .. } if is_write(error) => {
            "Nothing was sent (no connection could be made), so nothing changed: retry shortly.".to_owned()
        }
        buildkite_api::Error::MaybeApplied { .. } => {
            "Look before calling this tool again (e.g. get_build or list_jobs), so the change is not made twice.".to_owned()
        }
        buildkite_api::Error::Server { .. } | buildkite_api::Error::Transport { .. } if is_write(error) => {
            "The change may or may not have been applied: check the resource (e.g. with a get or list tool) before retrying, to avoid doing it twice.".to_owned()
        }
        buildkite_api::Error::Server { .. } | buildkite_api::Error::Transport { .. } => {
            "This is likely temporary: retry shortly.".to_owned()
        }
        buildkite_api::Error::Replay { .. } => "The API client answers from a recording, which holds no response for this exact call: use the arguments of a recorded call, or the live API.".to_owned(),
        _ => String::new(),
    };
    if next.is_empty() {
        base
    } else {
        format!("{base} {next}")
    }
}

/// A wait in whole seconds: rounded up, and at least 1 (a wait under a
/// second must not read as "retry after 0 s").
fn whole_seconds(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use buildkite_api::{Method, RequestInfo};

    fn request() -> RequestInfo {
        RequestInfo {
            method: Method::GET,
            path: "/v2/organizations/acme/pipelines/app/builds/42".into(),
        }
    }

    #[test]
    fn forbidden_names_the_scope_and_the_call() {
        let error: Result<(), _> = Err(buildkite_api::Error::Forbidden {
            request: request(),
            message: "Forbidden".into(),
        });
        let text = error
            .context("the build", &["read_builds"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            text,
            "Could not get the build: GET /v2/organizations/acme/pipelines/app/builds/42: 403 Forbidden: Forbidden. This tool needs the token scope read_builds: check the token has it (the access_token tool lists its scopes) and that its user can access this organization and resource."
        );
    }

    #[test]
    fn not_found_explains_build_numbers_and_401_is_flagged() {
        let not_found: Result<(), _> = Err(buildkite_api::Error::NotFound {
            request: request(),
            message: "Not Found".into(),
        });
        let text = not_found.context("the build", &[]).unwrap_err().to_string();
        assert!(
            text.contains("404 Not Found") && text.contains("not its UUID"),
            "{text}"
        );
        let unauthorized: Result<(), _> = Err(buildkite_api::Error::Unauthorized {
            request: request(),
            message: "Authentication required".into(),
        });
        let error = unauthorized.context("the build", &[]).unwrap_err();
        assert!(error.is_unauthorized());
        assert!(error.to_string().contains("invalid, expired or revoked"));
    }

    #[test]
    fn a_failed_write_warns_it_may_have_happened() {
        let failed: Result<(), _> = Err(buildkite_api::Error::Server {
            request: RequestInfo {
                method: Method::PUT,
                path: "/v2/organizations/acme/pipelines/app/builds/42/rebuild".into(),
            },
            status: buildkite_api::StatusCode::BAD_GATEWAY,
            message: "Bad Gateway".into(),
        });
        let text = failed
            .context("a rebuild of the build", &[])
            .unwrap_err()
            .to_string();
        assert!(text.contains("may or may not have been applied"), "{text}");
        let refused: Result<(), _> = Err(buildkite_api::Error::Unprocessable {
            request: RequestInfo {
                method: Method::PUT,
                path: "/v2/organizations/acme/pipelines/app/builds/42/cancel".into(),
            },
            message: "Build can't be canceled".into(),
            errors: vec![],
        });
        let text = refused
            .context("the build canceled", &[])
            .unwrap_err()
            .to_string();
        assert!(text.contains("check its current state"), "{text}");
    }

    #[test]
    fn a_write_that_was_not_sent_or_may_have_run_says_which() {
        let rebuild = RequestInfo {
            method: Method::PUT,
            path: "/v2/organizations/acme/pipelines/app/builds/42/rebuild".into(),
        };
        let unsent: Result<(), _> = Err(buildkite_api::Error::Transport {
            request: rebuild.clone(),
            kind: buildkite_api::TransportKind::Connect,
            message: "connection refused".into(),
        });
        let text = unsent.context("a rebuild", &[]).unwrap_err().to_string();
        assert!(text.contains("Nothing was sent"), "{text}");
        let unknown: Result<(), _> = Err(buildkite_api::Error::MaybeApplied {
            request: rebuild,
            reason: "timed out after the request was sent".into(),
        });
        let text = unknown.context("a rebuild", &[]).unwrap_err().to_string();
        assert!(text.contains("may have been applied"), "{text}");
        assert!(text.contains("get_build"), "{text}");
    }

    #[test]
    fn a_replay_miss_speaks_of_the_library_not_of_a_binarys_flags() {
        let missed: Result<(), _> = Err(buildkite_api::Error::Replay {
            request: request(),
            message: "the HAR file has no response for this request".into(),
        });
        let error = missed.context("the build", &[]).unwrap_err();
        assert!(error.is_replay_miss());
        let text = error.to_string();
        assert!(text.contains("answers from a recording"), "{text}");
        assert!(!text.contains("--"), "no flags in a library error: {text}");
    }

    #[test]
    fn rate_limits_say_when_to_retry() {
        let limited: Result<(), _> = Err(buildkite_api::Error::RateLimited {
            request: request(),
            message: "slow down".into(),
            retry_after: Some(std::time::Duration::from_secs(42)),
            rate_limit: Box::default(),
        });
        let text = limited.context("the build", &[]).unwrap_err().to_string();
        assert!(
            text.ends_with("The rate limit resets in 42 s: retry after that."),
            "{text}"
        );
        // A pacer's wait is often under a second: never "in 0 s".
        let soon: Result<(), _> = Err(buildkite_api::Error::RateLimited {
            request: request(),
            message: "not sent".into(),
            retry_after: Some(std::time::Duration::from_millis(400)),
            rate_limit: Box::default(),
        });
        let text = soon.context("the build", &[]).unwrap_err().to_string();
        assert!(!text.contains(" 0 s"), "{text}");
        assert!(
            text.ends_with("The rate limit resets in 1 s: retry after that."),
            "{text}"
        );
    }
}
