//! What the builds toolset shares: the build and job projections at each
//! detail level, the state enums the tools take, and small argument helpers.

use buildkite_api::{Build, BuildAuthor, Job};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::args::DetailLevel;
use crate::error::ToolError;
use crate::shape::project::{pick, reorder, to_object};

/// The token scope of the read tools.
pub(super) const READ: &[&str] = &["read_builds"];
/// The token scope of the write tools.
pub(super) const WRITE: &[&str] = &["write_builds"];

/// A build state to filter on: `scheduled`, `running`, `passed`, `failed`,
/// `blocked` (stopped at a block step), `canceled`, `canceling`, `skipped`,
/// `not_run`, `waiting`, `waiting_failed`, `creating`, `failing` (running
/// with a failed job) or `finished` (any terminal state). `list_builds`'s
/// `state` field has its own, shorter doc comment, which is what the schema
/// sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuildStateFilter {
    Scheduled,
    Running,
    Passed,
    Failed,
    Blocked,
    Canceled,
    #[schemars(skip)]
    Canceling,
    Skipped,
    NotRun,
    #[schemars(skip)]
    Waiting,
    #[schemars(skip)]
    WaitingFailed,
    #[schemars(skip)]
    Creating,
    Failing,
    Finished,
}

// A job state: `pending`, `waiting`, `waiting_failed`, `blocked`,
// `blocked_failed`, `unblocked`, `unblocked_failed`, `limiting`, `limited`,
// `scheduled`, `assigned`, `accepted`, `running`, `passed`, `failed`,
// `finished`, `canceled`, `canceling`, `timed_out`, `timing_out`, `skipped`,
// `broken` (never ran: an if-condition, branch filter or failed
// dependency) or `expired` (no agent took it in time). The schema lists
// the states worth filtering on; the transitional and internal ones
// (`#[schemars(skip)]`) are still accepted. A plain comment: as
// a doc comment it would be `get_build`'s `job_state` description in every
// `tools/list`, where the tool's description already says what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStateFilter {
    #[schemars(skip)]
    Pending,
    Waiting,
    #[schemars(skip)]
    WaitingFailed,
    Blocked,
    #[schemars(skip)]
    BlockedFailed,
    #[schemars(skip)]
    Unblocked,
    #[schemars(skip)]
    UnblockedFailed,
    #[schemars(skip)]
    Limiting,
    #[schemars(skip)]
    Limited,
    Scheduled,
    #[schemars(skip)]
    Assigned,
    #[schemars(skip)]
    Accepted,
    Running,
    Passed,
    Failed,
    #[schemars(skip)]
    Finished,
    Canceled,
    #[schemars(skip)]
    Canceling,
    TimedOut,
    #[schemars(skip)]
    TimingOut,
    Skipped,
    Broken,
    Expired,
}

/// The value of a unit enum as it is written on the wire.
pub(super) fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        _ => String::new(),
    }
}

/// An optional string argument, with blank text meaning "not given".
pub(super) fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Refuses `after` together with `before`.
pub(super) fn check_cursors(after: Option<&str>, before: Option<&str>) -> Result<(), ToolError> {
    if after.is_some() && before.is_some() {
        return Err(ToolError::invalid(
            "before",
            "cannot be given together with `after`: page forward with `after` (the next_cursor of a page) or backward with `before` (its prev_cursor), one at a time",
        ));
    }
    Ok(())
}

/// The continuation hint for a trimmed cursor page: the same cursor again,
/// with smaller pages.
pub(super) fn smaller_cursor_pages_hint(
    after: Option<String>,
    before: Option<String>,
) -> impl Fn(usize) -> Value + Send + Sync {
    move |kept| {
        let mut hint = Map::new();
        hint.insert(
            "advice".into(),
            json!("the page did not fit the response budget; ask again with these arguments (fewer items per page, or a smaller detail_level), then continue with next_cursor"),
        );
        hint.insert("per_page".into(), json!(kept.max(1)));
        if let Some(after) = &after {
            hint.insert("after".into(), json!(after));
        }
        if let Some(before) = &before {
            hint.insert("before".into(), json!(before));
        }
        Value::Object(hint)
    }
}

/// `object` without its null fields (they say nothing and cost tokens).
pub(super) fn without_nulls(mut object: Map<String, Value>) -> Map<String, Value> {
    object.retain(|_, value| !value.is_null());
    object
}

/// The first line of a message, trimmed.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim_end()
}

/// The commit author as one small object (the API gives an object or a bare
/// email).
fn author(author: &BuildAuthor) -> Option<Value> {
    let object = match author {
        BuildAuthor::Person {
            username,
            name,
            email,
        } => pick(
            &to_object(json!({"name": name, "username": username, "email": email})),
            &["name", "username", "email"],
        ),
        BuildAuthor::Email(email) => pick(&to_object(json!({ "email": email })), &["email"]),
    };
    (!object.is_empty()).then_some(Value::Object(object))
}

/// Whether a value carries information (not null, `{}`, `[]` or `""`).
fn is_informative(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::String(text) => !text.is_empty(),
        _ => true,
    }
}

/// A build at a detail level, ids and state first. `summary`: id, number,
/// state, branch, commit, message (first line), web_url, created_at,
/// finished_at. `detailed`: the whole message, and who and what started it,
/// the timing, pull request, rebuild and trigger links and meta-data.
/// `full`: every field the API returned (but nulls), except `env` when
/// `with_env` is false.
pub(super) fn build_view(build: &Build, level: DetailLevel, with_env: bool) -> Map<String, Value> {
    let object = to_object(build);
    if level == DetailLevel::Full {
        let mut out = without_nulls(reorder(object, &["id", "number", "state", "blocked"]));
        if !with_env {
            out.shift_remove("env");
        }
        return out;
    }
    let mut out = pick(&object, &["id", "number", "state"]);
    if level == DetailLevel::Detailed && build.blocked == Some(true) {
        out.insert("blocked".into(), json!(true));
    }
    out.extend(pick(&object, &["branch", "commit"]));
    if let Some(message) = &build.message {
        let message = match level {
            DetailLevel::Summary => first_line(message),
            _ => message.trim_end(),
        };
        out.insert("message".into(), json!(message));
    }
    out.extend(pick(&object, &["web_url"]));
    if level == DetailLevel::Summary {
        out.extend(pick(&object, &["created_at", "finished_at"]));
        return out;
    }
    out.extend(pick(&object, &["source"]));
    if let Some(author) = build.author.as_ref().and_then(author) {
        out.insert("author".into(), author);
    }
    if let Some(creator) = &build.creator {
        let creator = pick(&to_object(creator), &["id", "name"]);
        if !creator.is_empty() {
            out.insert("creator".into(), Value::Object(creator));
        }
    }
    out.extend(pick(
        &object,
        &[
            "created_at",
            "scheduled_at",
            "started_at",
            "finished_at",
            "cancel_reason",
        ],
    ));
    if let Some(pull_request) = build.pull_request.as_ref().filter(|p| is_informative(p)) {
        out.insert("pull_request".into(), pull_request.clone());
    }
    if let Some(rebuilt_from) = &build.rebuilt_from {
        let link = pick(&to_object(rebuilt_from), &["number", "web_url"]);
        if !link.is_empty() {
            out.insert("rebuilt_from".into(), Value::Object(link));
        }
    }
    if let Some(triggered_from) = build.triggered_from.as_ref().filter(|t| is_informative(t)) {
        out.insert("triggered_from".into(), triggered_from.clone());
    }
    if let Some(meta_data) = object.get("meta_data").filter(|m| is_informative(m)) {
        out.insert("meta_data".into(), meta_data.clone());
    }
    out
}

/// The few fields that identify a build just created, canceled or rebuilt.
pub(super) fn compact_build(build: &Build) -> Map<String, Value> {
    pick(
        &to_object(build),
        &["id", "number", "state", "web_url", "branch", "commit"],
    )
}

/// The agent of a job: `{id, name}`, or every field with `include_agent`.
fn agent_view(job: &Job, include_agent: bool) -> Option<Value> {
    let agent = to_object(job.agent.as_ref()?);
    let agent = if include_agent {
        agent
    } else {
        pick(&agent, &["id", "name"])
    };
    (!agent.is_empty()).then_some(Value::Object(agent))
}

/// A job at a detail level, ids and state first.
///
/// `summary`: id, state, type (only when not a command step), name, step_key,
/// exit_status, soft_failed (when true), retries_count (when any).
/// `detailed`: adds type, group_key, command, signal_reason, retry links,
/// parallel position, timing, agent `{id, name}`, web_url, unblock details
/// and the triggered build. `full`: every field the API returned (but
/// nulls). The agent
/// is reduced to `{id, name}` unless `include_agent` (which also adds it to
/// summaries).
pub(super) fn job_view(job: &Job, level: DetailLevel, include_agent: bool) -> Map<String, Value> {
    let object = to_object(job);
    if level == DetailLevel::Full {
        let mut out = without_nulls(reorder(
            object,
            &["id", "state", "type", "name", "step_key"],
        ));
        if let Some(agent) = agent_view(job, include_agent) {
            out.insert("agent".into(), agent);
        }
        return out;
    }
    let mut out = pick(&object, &["id", "state"]);
    if level == DetailLevel::Detailed || job.kind != "script" {
        out.insert("type".into(), json!(job.kind));
    }
    if let Some(name) = job.display_name() {
        out.insert("name".into(), json!(name));
    }
    out.extend(pick(&object, &["step_key"]));
    if level == DetailLevel::Detailed {
        out.extend(pick(&object, &["group_key", "command"]));
    }
    out.extend(pick(&object, &["exit_status"]));
    if level == DetailLevel::Detailed {
        out.extend(pick(&object, &["signal_reason", "broken_reason"]));
    }
    if job.soft_failed == Some(true) {
        out.insert("soft_failed".into(), json!(true));
    }
    if let Some(count) = job.retries_count.filter(|c| *c > 0) {
        out.insert("retries_count".into(), json!(count));
    }
    if level == DetailLevel::Summary {
        if include_agent && let Some(agent) = agent_view(job, true) {
            out.insert("agent".into(), agent);
        }
        return out;
    }
    if job.retried == Some(true) {
        out.insert("retried".into(), json!(true));
    }
    out.extend(pick(
        &object,
        &[
            "retried_in_job_id",
            "parallel_group_index",
            "parallel_group_total",
            "started_at",
            "finished_at",
        ],
    ));
    if let Some(agent) = agent_view(job, include_agent) {
        out.insert("agent".into(), agent);
    }
    out.extend(pick(&object, &["web_url", "unblockable", "unblocked_at"]));
    if let Some(unblocker) = &job.unblocked_by {
        let unblocker = pick(&to_object(unblocker), &["id", "name"]);
        if !unblocker.is_empty() {
            out.insert("unblocked_by".into(), Value::Object(unblocker));
        }
    }
    if let Some(triggered) = &job.triggered_build {
        let triggered = pick(&to_object(triggered), &["id", "number", "web_url"]);
        if !triggered.is_empty() {
            out.insert("triggered_build".into(), Value::Object(triggered));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(value: Value) -> Job {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn waiters_say_what_they_are_and_agents_are_reduced() {
        let waiter = job(json!({"id": "w", "type": "waiter", "state": "passed"}));
        assert_eq!(
            Value::Object(job_view(&waiter, DetailLevel::Summary, false)),
            json!({"id": "w", "state": "passed", "type": "waiter"})
        );
        let script = job(json!({
            "id": "j", "type": "script", "label": "Tests", "state": "failed", "exit_status": 2,
            "soft_failed": false, "retries_count": 0,
            "agent": {"id": "a", "name": "ci-1", "hostname": "ci-1"}
        }));
        assert_eq!(
            Value::Object(job_view(&script, DetailLevel::Summary, false)),
            json!({"id": "j", "state": "failed", "name": "Tests", "exit_status": 2})
        );
        let detailed = job_view(&script, DetailLevel::Detailed, false);
        assert_eq!(detailed["agent"], json!({"id": "a", "name": "ci-1"}));
        let with_agent = job_view(&script, DetailLevel::Summary, true);
        assert_eq!(with_agent["agent"]["hostname"], "ci-1");
        let full = job_view(&script, DetailLevel::Full, false);
        assert_eq!(full["agent"], json!({"id": "a", "name": "ci-1"}));
    }

    #[test]
    fn build_messages_and_authors() {
        let build: Build = serde_json::from_value(json!({
            "id": "b", "number": 7, "state": "passed", "message": "Subject\n\nBody",
            "author": "sam@example.com", "pull_request": {}, "env": {"X": "1"}
        }))
        .unwrap();
        let summary = build_view(&build, DetailLevel::Summary, false);
        assert_eq!(summary["message"], "Subject");
        let detailed = build_view(&build, DetailLevel::Detailed, false);
        assert_eq!(detailed["message"], "Subject\n\nBody");
        assert_eq!(detailed["author"], json!({"email": "sam@example.com"}));
        assert!(!detailed.contains_key("pull_request"));
        assert!(!build_view(&build, DetailLevel::Full, false).contains_key("env"));
        assert!(build_view(&build, DetailLevel::Full, true).contains_key("env"));
    }

    #[test]
    fn the_schema_lists_the_states_worth_filtering_on_and_all_are_accepted() {
        let schema = crate::args::schema_for::<JobStateFilter>();
        let listed = schema["enum"].as_array().cloned().unwrap_or_default();
        assert!(listed.contains(&json!("timed_out")), "{schema}");
        assert!(!listed.contains(&json!("waiting_failed")), "{schema}");
        let internal: JobStateFilter = serde_json::from_value(json!("waiting_failed")).unwrap();
        assert_eq!(internal, JobStateFilter::WaitingFailed);
        let schema = crate::args::schema_for::<BuildStateFilter>();
        let listed = schema["enum"].as_array().cloned().unwrap_or_default();
        assert!(listed.contains(&json!("failing")) && !listed.contains(&json!("creating")));
        let creating: BuildStateFilter = serde_json::from_value(json!("creating")).unwrap();
        assert_eq!(creating, BuildStateFilter::Creating);
    }
}
