//! `wait_for_build` as a task (the 2026-07-28 tasks extension,
//! `io.modelcontextprotocol/tasks`): a client that declares tasks support
//! gets a task at once, then polls `tasks/get` until the build finishes,
//! instead of a loop of bounded calls (Claude Code cuts an HTTP call at
//! about 60 s).
//!
//! The task id is the task's whole state: its arguments and when it began,
//! sealed ([`crate::sealed_state`]) under the key replicas share and bound
//! to the caller's credentials. Any replica answers `tasks/get` by opening
//! it and looking at the build once; nothing is kept in memory and nothing
//! polls between two `tasks/get`. `tasks/cancel` marks the id cancelled
//! on the replica that gets it (for an hour): later `tasks/get` there say
//! so without calling the API. rmcp's `TaskManager` is not used: it keeps
//! tasks in one process.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rmcp::RoleServer;
use rmcp::model::{
    CallToolResult, CreateTaskResult, DetailedTask, JsonObject, ProtocolVersion, Task, TaskPayload,
    TaskStatus,
};
use rmcp::service::RequestContext;
use serde_json::{Value, json};

use crate::sealed_state::{Binding, StateError, StateKey};

/// The tool offered as a task.
pub const TASK_TOOL: &str = "wait_for_build";

/// How long a task can be polled.
pub const TASK_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// How often a client should poll.
pub const POLL_INTERVAL: Duration = Duration::from_secs(10);

/// What a task id binds to besides the caller: a fixed name, so an id can
/// be opened only as a task (never as a confirmation's state).
const TASK_BINDING: &str = "tasks/wait_for_build";

/// Whether to answer this call with a task: `wait_for_build`, for a
/// 2026-07-28 client that declares the tasks extension.
pub fn offered(tool: &str, context: &RequestContext<RoleServer>) -> bool {
    tool == TASK_TOOL
        && context
            .protocol_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
        && context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.supports_tasks())
}

/// A task's state, as its id carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskState {
    /// The `wait_for_build` arguments.
    pub arguments: JsonObject,
    /// When the task began (seconds since the epoch).
    pub created: u64,
}

/// The caller's binding for task ids.
fn binding<'a>(key: &StateKey, client: &buildkite_api::Client, empty: &'a Value) -> Binding<'a> {
    Binding {
        tool: TASK_BINDING,
        arguments: empty,
        credentials: client.credential_digest(&key.binding_salt()),
    }
}

/// A new task for `arguments`: its id seals them.
pub fn create(
    key: &StateKey,
    client: &buildkite_api::Client,
    arguments: &JsonObject,
    now: SystemTime,
) -> Result<CreateTaskResult, StateError> {
    let created = unix_seconds(now);
    let state = json!({"arguments": arguments, "created": created}).to_string();
    let empty = Value::Null;
    let id = key.seal_for(&state, &binding(key, client, &empty), now, TASK_LIFETIME)?;
    let task = task(&id, TaskStatus::Working, created, now)
        .with_status_message(format!("waiting for build {}", build_name(arguments)));
    Ok(CreateTaskResult::new(task))
}

/// The state in a task id, if it is one of ours, for this caller, and not
/// expired.
pub fn open(
    key: &StateKey,
    client: &buildkite_api::Client,
    task_id: &str,
    now: SystemTime,
) -> Result<TaskState, StateError> {
    let empty = Value::Null;
    let state = key.open(task_id, &binding(key, client, &empty), now)?;
    let value: Value = serde_json::from_str(&state).map_err(|_| StateError::Invalid)?;
    let Some(Value::Object(arguments)) = value.get("arguments").cloned() else {
        return Err(StateError::Invalid);
    };
    let created = value["created"].as_u64().ok_or(StateError::Invalid)?;
    Ok(TaskState { arguments, created })
}

/// The task's detail from one look at the build: `result` is what
/// `wait_for_build` answered after a short wait.
pub fn detail(
    task_id: &str,
    state: &TaskState,
    result: CallToolResult,
    now: SystemTime,
) -> DetailedTask {
    let text = result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default();
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let running = result.is_error != Some(true) && answer["finished"] == false;
    if running {
        let message = format!(
            "build {} is {}",
            build_name(&state.arguments),
            answer["state"].as_str().unwrap_or("running")
        );
        let task =
            task(task_id, TaskStatus::Working, state.created, now).with_status_message(message);
        return DetailedTask::new(task, TaskPayload::Working);
    }
    let result = match serde_json::to_value(&result) {
        Ok(Value::Object(result)) => result,
        _ => JsonObject::new(),
    };
    DetailedTask::new(
        task(task_id, TaskStatus::Completed, state.created, now),
        TaskPayload::Completed { result },
    )
}

/// A cancelled task's detail.
pub fn cancelled(task_id: &str, state: &TaskState, now: SystemTime) -> DetailedTask {
    let task = task(task_id, TaskStatus::Cancelled, state.created, now)
        .with_status_message("cancelled: the build was not waited for any further");
    DetailedTask::new(task, TaskPayload::Cancelled)
}

fn task(id: &str, status: TaskStatus, created: u64, now: SystemTime) -> Task {
    Task::new(id, status, iso8601(created), iso8601(unix_seconds(now)))
        .with_ttl_ms(TASK_LIFETIME.as_millis() as u64)
        .with_poll_interval_ms(POLL_INTERVAL.as_millis() as u64)
}

fn build_name(arguments: &JsonObject) -> String {
    let text = |name: &str| match arguments.get(name) {
        Some(Value::String(text)) => text.trim().trim_start_matches('#').to_owned(),
        Some(Value::Number(number)) => number.to_string(),
        _ => "?".to_owned(),
    };
    format!(
        "{}/{}#{}",
        text("org_slug"),
        text("pipeline_slug"),
        text("build_number")
    )
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn iso8601(seconds: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(seconds).unwrap_or(0), 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ContentBlock;

    fn client(token: &str) -> buildkite_api::Client {
        buildkite_api::Client::builder()
            .token(token)
            .build()
            .expect("a client")
    }

    fn arguments() -> JsonObject {
        let Value::Object(arguments) =
            json!({"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"})
        else {
            unreachable!("an object")
        };
        arguments
    }

    #[test]
    fn a_task_id_carries_its_state_for_its_caller_only() {
        let key = StateKey::from_secret("replicas");
        let now = SystemTime::now();
        let created = create(&key, &client("bkua_a"), &arguments(), now).unwrap();
        let id = created.task.task_id.clone();
        assert!(!id.contains("acme"), "sealed");
        assert_eq!(created.task.status, TaskStatus::Working);
        let state = open(
            &StateKey::from_secret("replicas"),
            &client("bkua_a"),
            &id,
            now,
        )
        .unwrap();
        assert_eq!(state.arguments, arguments());
        assert_eq!(
            open(&key, &client("bkua_b"), &id, now),
            Err(StateError::Invalid),
            "another caller cannot poll it"
        );
        let later = now + TASK_LIFETIME + Duration::from_secs(2);
        assert_eq!(
            open(&key, &client("bkua_a"), &id, later),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn a_finished_build_completes_the_task_and_a_running_one_keeps_it_working() {
        let state = TaskState {
            arguments: arguments(),
            created: 0,
        };
        let now = SystemTime::now();
        let running = CallToolResult::success(vec![ContentBlock::text(
            r#"{"finished":false,"state":"running","number":42}"#,
        )]);
        let working = detail("t", &state, running, now);
        assert_eq!(working.status(), TaskStatus::Working);
        assert_eq!(
            working.task.status_message.as_deref(),
            Some("build acme/app#42 is running")
        );
        let passed = CallToolResult::success(vec![ContentBlock::text(
            r#"{"finished":true,"state":"passed","number":42}"#,
        )]);
        let done = detail("t", &state, passed, now);
        assert_eq!(done.status(), TaskStatus::Completed);
        let TaskPayload::Completed { result } = &done.payload else {
            panic!("completed")
        };
        assert!(
            result["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .contains("passed")
        );
        let failed =
            CallToolResult::error(vec![ContentBlock::text("Could not get the build: 404")]);
        assert_eq!(
            detail("t", &state, failed, now).status(),
            TaskStatus::Completed
        );
        assert_eq!(cancelled("t", &state, now).status(), TaskStatus::Cancelled);
    }
}
