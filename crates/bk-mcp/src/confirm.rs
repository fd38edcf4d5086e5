//! Confirming destructive actions: before a tool cancels, rebuilds, retries,
//! unblocks, or changes a pipeline, schedule, cluster or queue, the user
//! types the name of its target (the build number, the pipeline slug, the
//! cluster's name or the queue's key), through the client's elicitation.
//!
//! - Clients of MCP 2025-11-25 and earlier that support elicitation get an
//!   `elicitation/create` request during the call.
//! - Clients of 2026-07-28 get an input-required result; they ask the user,
//!   then call again with the answer and the `requestState`, which is
//!   sealed ([`crate::sealed_state`]) so any replica can check it.
//!
//! `--confirm-destructive` (`BK_MCP_CONFIRM_DESTRUCTIVE`) sets the policy:
//! `auto` asks where the client can answer, `always` also refuses clients
//! that cannot, `never` never asks. A client cannot answer when it does not
//! declare elicitation, or when, before 2026-07-28, it calls over stateless
//! HTTP (no session carries a request back to it). Read-only mode stays the stronger
//! guard: it lists no destructive tool at all.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequestParams, ElicitRequest, ElicitRequestParams, ElicitationAction,
    ElicitationSchema, InputRequest, InputRequiredResult, ProtocolVersion,
};
use rmcp::service::RequestContext;
use serde_json::Value;

use crate::sealed_state::{Binding, StateKey};

/// The key of the one input request, and of the field the user fills.
const CONFIRM: &str = "confirm";

/// When destructive calls are confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfirmMode {
    /// Where the client can ask its user.
    #[default]
    Auto,
    /// Always: a client that cannot ask gets an error.
    Always,
    /// Never.
    Never,
}

impl FromStr for ConfirmMode {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(ConfirmMode::Auto),
            "always" => Ok(ConfirmMode::Always),
            "never" => Ok(ConfirmMode::Never),
            _ => Err("must be auto, always or never".to_owned()),
        }
    }
}

impl fmt::Display for ConfirmMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfirmMode::Auto => "auto",
            ConfirmMode::Always => "always",
            ConfirmMode::Never => "never",
        })
    }
}

/// The policy and the key request states are sealed with.
#[derive(Debug, Clone)]
pub struct Confirmation {
    /// When to ask.
    pub mode: ConfirmMode,
    /// Seals 2026-07-28 request states.
    pub key: StateKey,
}

impl Default for Confirmation {
    fn default() -> Self {
        Confirmation {
            mode: ConfirmMode::Auto,
            key: StateKey::random(),
        }
    }
}

/// What the user is asked to type, for each tool that is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    /// The `build_number` argument.
    BuildNumber,
    /// The `pipeline_slug` argument.
    PipelineSlug,
    /// The cluster's name, read from the API.
    ClusterName,
    /// The queue's key, read from the API.
    QueueKey,
}

impl TargetKind {
    /// The tools confirmed, and what each asks for.
    fn of(tool: &str) -> Option<TargetKind> {
        Some(match tool {
            "cancel_build" | "rebuild_build" | "retry_job" | "unblock_job" => {
                TargetKind::BuildNumber
            }
            "update_pipeline" | "update_pipeline_schedule" => TargetKind::PipelineSlug,
            "update_cluster" => TargetKind::ClusterName,
            "update_cluster_queue"
            | "pause_cluster_queue_dispatch"
            | "resume_cluster_queue_dispatch" => TargetKind::QueueKey,
            _ => return None,
        })
    }

    fn noun(self) -> &'static str {
        match self {
            TargetKind::BuildNumber => "build number",
            TargetKind::PipelineSlug => "pipeline slug",
            TargetKind::ClusterName => "cluster name",
            TargetKind::QueueKey => "queue key",
        }
    }
}

/// Whether a tool asks for confirmation (under `auto` or `always`).
pub fn is_confirmed(tool: &str) -> bool {
    TargetKind::of(tool).is_some()
}

/// What to do with a call.
#[derive(Debug)]
pub enum Decision {
    /// Run it.
    Proceed,
    /// Ask the user first (2026-07-28): answer with this.
    Ask(InputRequiredResult),
    /// Do not run it, for this reason (a tool error; nothing was sent).
    Refuse(String),
}

/// Decides whether the call may run, asking the user where needed.
pub async fn check(
    confirmation: &Confirmation,
    request: &CallToolRequestParams,
    context: &RequestContext<RoleServer>,
    client: &buildkite_api::Client,
) -> Decision {
    let tool = request.name.as_ref();
    let Some(kind) = TargetKind::of(tool) else {
        return Decision::Proceed;
    };
    if confirmation.mode == ConfirmMode::Never {
        return Decision::Proceed;
    }
    let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
    let binding = Binding {
        tool,
        arguments: &arguments,
        credentials: client.credential_digest(&confirmation.key.binding_salt()),
    };
    let era_2026 = context
        .protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());

    // A 2026-07-28 client answering: the sealed target, and what was typed.
    if let Some(state) = &request.request_state {
        let expected = match confirmation.key.open(state, &binding, SystemTime::now()) {
            Ok(value) => value,
            Err(error) => {
                return Decision::Refuse(format!(
                    "{error}. Nothing was changed: call {tool} again without requestState to be asked anew."
                ));
            }
        };
        let answer = request
            .input_responses
            .as_ref()
            .and_then(|responses| responses.get(CONFIRM));
        return judge(tool, kind, &expected, answer);
    }

    // Before 2026-07-28 the question is a request to the client, which a
    // stateless HTTP request (no session) has no way to carry.
    let stateless_http = context
        .extensions
        .get::<http::request::Parts>()
        .is_some_and(|parts| !parts.headers.contains_key("mcp-session-id"));
    let can_ask = context
        .client_capabilities()
        .is_some_and(|capabilities| capabilities.elicitation.is_some())
        && (era_2026 || !stateless_http);
    if !can_ask {
        return match confirmation.mode {
            ConfirmMode::Always => Decision::Refuse(format!(
                "{tool} changes or stops something, and this server confirms such calls with the user (--confirm-destructive=always), but this client cannot ask its user (it does not support elicitation). Nothing was changed: use a client that supports elicitation, or ask the server's operator."
            )),
            _ => Decision::Proceed,
        };
    }

    let expected = match target_value(kind, &arguments, client).await {
        Ok(value) => value,
        Err(why) => return Decision::Refuse(why),
    };
    let params = match elicitation(tool, kind, &expected, &arguments) {
        Ok(params) => params,
        Err(why) => return Decision::Refuse(why),
    };
    if era_2026 {
        let state = match confirmation
            .key
            .seal(&expected, &binding, SystemTime::now())
        {
            Ok(state) => state,
            Err(error) => return Decision::Refuse(format!("{error}; nothing was changed")),
        };
        let mut requests = rmcp::model::InputRequests::new();
        requests.insert(
            CONFIRM.to_owned(),
            InputRequest::Elicitation(ElicitRequest::new(params)),
        );
        return Decision::Ask(InputRequiredResult::new(Some(requests), Some(state)));
    }
    match context.peer.create_elicitation(params).await {
        Ok(result) => {
            let answer = serde_json::to_value(&result).ok();
            judge(tool, kind, &expected, answer.as_ref())
        }
        // The client said it could answer, but the question did not get
        // through: `auto` asks only where it can, `always` refuses.
        Err(error) if confirmation.mode == ConfirmMode::Always => Decision::Refuse(format!(
            "could not ask the user to confirm {tool} ({error}), and this server requires it (--confirm-destructive=always); nothing was changed"
        )),
        Err(error) => {
            tracing::warn!(tool, %error, "could not ask the user to confirm; proceeding (--confirm-destructive=auto)");
            Decision::Proceed
        }
    }
}

/// The request shown to the user.
fn elicitation(
    tool: &str,
    kind: TargetKind,
    expected: &str,
    arguments: &Value,
) -> Result<ElicitRequestParams, String> {
    let noun = kind.noun();
    let what = match (
        arguments["org_slug"].as_str(),
        arguments["pipeline_slug"].as_str(),
    ) {
        (Some(org), Some(pipeline)) => format!(" in {org}/{pipeline}"),
        (Some(org), None) => format!(" in {org}"),
        _ => String::new(),
    };
    let schema = ElicitationSchema::builder()
        .required_string_with(CONFIRM, |s| {
            s.title(format!("Type the {noun} to confirm"))
                .description(expected.to_owned())
        })
        .build()
        .map_err(|why| {
            format!("could not build the confirmation form ({why}); nothing was changed")
        })?;
    Ok(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: format!(
            "An agent wants to call {tool}{what}, which changes or stops something. To let it, type the {noun}: {expected}"
        ),
        requested_schema: schema,
    })
}

/// Whether the user's answer confirms `expected`.
fn judge(tool: &str, kind: TargetKind, expected: &str, answer: Option<&Value>) -> Decision {
    let Some(answer) = answer else {
        return Decision::Refuse(format!(
            "no answer to the confirmation came back; nothing was changed. Call {tool} again to be asked anew."
        ));
    };
    let action = answer["action"].as_str().unwrap_or_default();
    let accept = serde_json::to_value(ElicitationAction::Accept).unwrap_or_default();
    if Some(action) != accept.as_str() {
        return Decision::Refuse(format!(
            "the user did not confirm {tool} (they chose to {}); nothing was changed. Do not retry unless the user asks.",
            if action.is_empty() {
                "dismiss it"
            } else {
                action
            }
        ));
    }
    let typed = answer["content"][CONFIRM]
        .as_str()
        .unwrap_or_default()
        .trim();
    if typed == expected {
        return Decision::Proceed;
    }
    Decision::Refuse(format!(
        "the {} typed does not match ({}), so {tool} was not confirmed; nothing was changed. Check the target with the user before calling again.",
        kind.noun(),
        crate::malformed::excerpt(typed)
    ))
}

/// The value the user types: an argument, or a name read from the API.
async fn target_value(
    kind: TargetKind,
    arguments: &Value,
    client: &buildkite_api::Client,
) -> Result<String, String> {
    // A string, or a number (build numbers may come as either).
    let argument = |name: &str| match &arguments[name] {
        Value::String(text) => Some(text.trim().trim_start_matches('#').to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    };
    let org = argument("org_slug").unwrap_or_default();
    let cluster = argument("cluster_id").unwrap_or_default();
    let refused = |what: &str, error: buildkite_api::Error| {
        format!("could not read {what} to ask the user to confirm it: {error}; nothing was changed")
    };
    match kind {
        TargetKind::BuildNumber => argument("build_number").ok_or_else(missing),
        TargetKind::PipelineSlug => argument("pipeline_slug").ok_or_else(missing),
        TargetKind::ClusterName => client
            .get_cluster(&org, &cluster)
            .await
            .map(|c| c.name)
            .map_err(|e| refused("the cluster", e)),
        TargetKind::QueueKey => {
            let queue = argument("queue_id").unwrap_or_default();
            client
                .get_cluster_queue(&org, &cluster, &queue)
                .await
                .map(|q| q.key)
                .map_err(|e| refused("the queue", e))
        }
    }
}

fn missing() -> String {
    "the call lacks the argument its confirmation names; nothing was changed".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modes_parse_and_print() {
        for mode in ["auto", "always", "never"] {
            assert_eq!(mode.parse::<ConfirmMode>().unwrap().to_string(), mode);
        }
        assert_eq!(" Always ".parse::<ConfirmMode>(), Ok(ConfirmMode::Always));
        assert!("sometimes".parse::<ConfirmMode>().is_err());
    }

    #[test]
    fn the_destructive_tools_of_the_list_are_confirmed() {
        for tool in [
            "cancel_build",
            "rebuild_build",
            "retry_job",
            "unblock_job",
            "update_pipeline",
            "update_pipeline_schedule",
            "update_cluster",
            "update_cluster_queue",
            "pause_cluster_queue_dispatch",
            "resume_cluster_queue_dispatch",
        ] {
            assert!(is_confirmed(tool), "{tool}");
        }
        assert!(!is_confirmed("get_build") && !is_confirmed("create_build"));
    }

    #[test]
    fn only_an_accepted_exact_answer_confirms() {
        let kind = TargetKind::BuildNumber;
        let accepted = |typed: &str| json!({"action": "accept", "content": {"confirm": typed}});
        assert!(matches!(
            judge("cancel_build", kind, "42", Some(&accepted("42"))),
            Decision::Proceed
        ));
        assert!(matches!(
            judge("cancel_build", kind, "42", Some(&accepted(" 42 "))),
            Decision::Proceed
        ));
        let Decision::Refuse(why) = judge("cancel_build", kind, "42", Some(&accepted("43"))) else {
            panic!("a wrong number confirms nothing")
        };
        assert!(
            why.contains("does not match") && why.contains("nothing was changed"),
            "{why}"
        );
        let Decision::Refuse(why) = judge(
            "cancel_build",
            kind,
            "42",
            Some(&json!({"action": "decline"})),
        ) else {
            panic!("a decline confirms nothing")
        };
        assert!(why.contains("decline"), "{why}");
        assert!(matches!(
            judge("cancel_build", kind, "42", None),
            Decision::Refuse(_)
        ));
    }
}
