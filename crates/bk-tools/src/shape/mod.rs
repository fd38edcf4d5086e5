//! Output shaping: what every tool result goes through before it is sent.
//!
//! [`render`] turns a [`ToolOutput`] into one compact JSON text:
//! 1. untrusted text is defused ([`sanitize`]);
//! 2. secrets are redacted ([`redact`], unless the operator turned it off);
//! 3. the result is fitted to the response budget ([`budget`]): list items
//!    are dropped from the end, then long strings shortened, and the result
//!    says so in `truncated`, with the argument that fetches the rest.
//!
//! JSON is written compactly, in the order fields were built (ids and state
//! first), with no HTML escaping (`Vec<String>` stays as it is).

pub mod budget;
pub mod html;
pub mod project;
pub mod redact;
pub mod sanitize;

use serde::Serialize;
use serde_json::Value;

use crate::limits::Limits;

/// Describes what a trimmed list's caller should do to get the rest, given
/// how many items were kept.
pub type ContinueHint = Box<dyn Fn(usize) -> Value + Send + Sync>;

/// A tool's result, before shaping.
pub struct ToolOutput {
    pub(crate) body: Body,
    /// Top-level array that may be trimmed to fit the budget.
    pub(crate) list_key: Option<&'static str>,
    pub(crate) continue_hint: Option<ContinueHint>,
    /// Content named by link rather than inlined (`crate::links`).
    pub(crate) links: Vec<crate::links::ResourceLink>,
}

pub(crate) enum Body {
    Json(Value),
    Text(String),
}

impl std::fmt::Debug for ToolOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.body {
            Body::Json(value) => write!(f, "ToolOutput::Json({value})"),
            Body::Text(text) => write!(f, "ToolOutput::Text({text:?})"),
        }
    }
}

impl ToolOutput {
    /// A JSON result.
    pub fn json(value: impl Serialize) -> Self {
        ToolOutput {
            body: Body::Json(serde_json::to_value(value).unwrap_or_else(
                |e| serde_json::json!({ "error": format!("could not encode the result: {e}") }),
            )),
            list_key: None,
            continue_hint: None,
            links: Vec::new(),
        }
    }

    /// A plain-text result (e.g. a markdown guide).
    pub fn text(text: impl Into<String>) -> Self {
        ToolOutput {
            body: Body::Text(text.into()),
            list_key: None,
            continue_hint: None,
            links: Vec::new(),
        }
    }

    /// Marks the top-level array `key` as trimmable; `hint` says, for the
    /// number of items kept, which arguments fetch the rest.
    pub fn trim_list(
        mut self,
        key: &'static str,
        hint: impl Fn(usize) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.list_key = Some(key);
        self.continue_hint = Some(Box::new(hint));
        self
    }

    /// Adds a link to content the client may read as a resource.
    pub fn with_link(mut self, link: Option<crate::links::ResourceLink>) -> Self {
        self.links.extend(link);
        self
    }

    /// The links to content not inlined.
    pub fn links(&self) -> &[crate::links::ResourceLink] {
        &self.links
    }

    /// The JSON value, if this is a JSON result (for tests and embedders).
    pub fn value(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(value) => Some(value),
            Body::Text(_) => None,
        }
    }
}

/// Shapes a result into the text sent to the model. `Err` carries an error
/// text, when the result cannot fit the response budget at all.
pub fn render(output: ToolOutput, limits: &Limits) -> Result<String, String> {
    match output.body {
        Body::Text(text) => {
            let text = sanitize::defuse(&text);
            let text = if limits.redact_secrets {
                redact::redact_text(&text).into_owned()
            } else {
                text.into_owned()
            };
            Ok(budget::fit_text(text, limits.response_budget))
        }
        Body::Json(mut value) => {
            sanitize::defuse_value(&mut value);
            if limits.redact_secrets {
                redact::redact_value(&mut value);
            }
            budget::fit_json(
                value,
                limits.response_budget,
                output.list_key,
                output.continue_hint.as_deref(),
            )
        }
    }
}

/// Renders an error message: defused, redacted and fitted to the budget.
pub fn render_error(message: &str, limits: &Limits) -> String {
    let text = sanitize::defuse(message);
    let text = if limits.redact_secrets {
        redact::redact_text(&text).into_owned()
    } else {
        text.into_owned()
    };
    budget::fit_text(text, limits.response_budget)
}
