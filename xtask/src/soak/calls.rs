//! The soak's mixed tool calls, and sending one over HTTP.
//!
//! The mix is every step of the demo tour (`examples/demo/tour.json`: 43
//! tools over the demo organisation), then for every build in the demo
//! tree `get_build`, `list_jobs` and `get_build_failure_summary`, for
//! every job log in it `tail_logs`, `read_logs` and `search_logs`, and
//! `tail_logs` and `search_logs` on the generated jobs [`add_generated`]
//! adds to the fake API's data. Clients pick from it uniformly.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_api::Data;

/// One tool call of the mix.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub tool: String,
    pub arguments: Value,
}

/// The pipeline and build of the generated jobs.
const GENERATED: (&str, u64) = ("soak", 1);
/// How many generated jobs, and the size of each one's log.
const GENERATED_JOBS: usize = 16;
const GENERATED_LOG_BYTES: u64 = 256 << 10;

fn generated_job(n: usize) -> String {
    format!("soak-job-{n:03}")
}

/// Adds the generated jobs the mix reads to `data`.
pub fn add_generated(data: &mut Data) {
    let (pipeline, number) = GENERATED;
    let jobs = (0..GENERATED_JOBS).map(generated_job);
    data.add_generated_build("acme", pipeline, number, jobs, GENERATED_LOG_BYTES);
}

/// The mix, from the demo tree at `root` (`examples/demo`).
pub fn mix(root: &Path) -> Result<Vec<ToolCall>, String> {
    let mut calls: Vec<ToolCall> = crate::demo::tour::read_tour(&root.join("tour.json"))?
        .into_iter()
        .map(|step| ToolCall {
            tool: step.tool,
            arguments: step.arguments,
        })
        .collect();
    let call = |tool: &str, arguments: Value| ToolCall {
        tool: tool.to_owned(),
        arguments,
    };
    let pipelines = root.join("org/v2/organizations/acme/pipelines");
    for (pipeline, number) in builds(&pipelines)? {
        let build = json!({"org_slug": "acme", "pipeline_slug": pipeline, "build_number": number});
        for tool in ["get_build", "list_jobs", "get_build_failure_summary"] {
            calls.push(call(tool, build.clone()));
        }
        let jobs = pipelines
            .join(&pipeline)
            .join("builds")
            .join(&number)
            .join("jobs");
        for job in names(&jobs)? {
            if !jobs.join(&job).join("log.txt").is_file() {
                continue;
            }
            let mut job_args = build.clone();
            job_args["job_id"] = json!(job);
            let with = |extra: Value| {
                let mut arguments = job_args.clone();
                if let (Some(arguments), Value::Object(extra)) = (arguments.as_object_mut(), extra)
                {
                    arguments.extend(extra);
                }
                arguments
            };
            calls.push(call("tail_logs", with(json!({"tail": 40}))));
            calls.push(call("read_logs", with(json!({"seek": 0, "limit": 60}))));
            calls.push(call(
                "search_logs",
                with(json!({"pattern": "(?i)error|failed", "after_context": 1})),
            ));
        }
    }
    let (pipeline, number) = GENERATED;
    for n in 0..GENERATED_JOBS {
        let job = json!({
            "org_slug": "acme", "pipeline_slug": pipeline,
            "build_number": number.to_string(), "job_id": generated_job(n),
        });
        let mut tail = job.clone();
        tail["tail"] = json!(20);
        calls.push(call("tail_logs", tail));
        let mut search = job;
        search["pattern"] = json!("(?i)error|warn");
        search["limit"] = json!(20);
        calls.push(call("search_logs", search));
    }
    Ok(calls)
}

/// `(pipeline, build number)` of every build file under `pipelines`.
fn builds(pipelines: &Path) -> Result<Vec<(String, String)>, String> {
    let mut found = Vec::new();
    for pipeline in names(pipelines)? {
        if !pipelines.join(&pipeline).is_dir() {
            continue;
        }
        for file in names(&pipelines.join(&pipeline).join("builds"))? {
            if let Some(number) = file.strip_suffix(".json") {
                found.push((pipeline.clone(), number.to_owned()));
            }
        }
    }
    Ok(found)
}

/// The entries of `dir`, sorted; none when it does not exist.
fn names(dir: &Path) -> Result<Vec<String>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

/// What came back for one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A tool result.
    Result { is_error: bool, text: String },
    /// A JSON-RPC error instead of a result.
    RpcError { code: i64, message: String },
}

/// Sends `call` as JSON-RPC request `id` to `endpoint` (stateless
/// Streamable HTTP) and waits at most `timeout`: the answer, or why there
/// was none (no response in time, an HTTP error, a body that is not the
/// response to this request).
pub async fn send(
    client: &reqwest::Client,
    endpoint: &str,
    id: u64,
    call: &ToolCall,
    timeout: Duration,
) -> Result<Answer, String> {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": {"name": call.tool, "arguments": call.arguments},
    });
    let response = client
        .post(endpoint)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .timeout(timeout)
        .body(body.to_string())
        .send()
        .await
        .map_err(describe)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(describe)?;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", excerpt(&bytes)));
    }
    let message = json_rpc_message(&bytes)
        .ok_or_else(|| format!("not a JSON-RPC message: {}", excerpt(&bytes)))?;
    if message["id"] != id {
        return Err(format!(
            "the answer is to id {}, not {id}: {}",
            message["id"],
            excerpt(&bytes)
        ));
    }
    if let Some(error) = message.get("error") {
        return Ok(Answer::RpcError {
            code: error["code"].as_i64().unwrap_or(0),
            message: error["message"].as_str().unwrap_or("").to_owned(),
        });
    }
    let result = message
        .get("result")
        .ok_or_else(|| format!("neither result nor error: {}", excerpt(&bytes)))?;
    Ok(Answer::Result {
        is_error: result["isError"] == true,
        text: crate::demo::result_text(result),
    })
}

/// The JSON-RPC message in a response body: the body itself, or the last
/// `data:` line of a server-sent event stream.
fn json_rpc_message(body: &[u8]) -> Option<Value> {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return Some(value);
    }
    let text = std::str::from_utf8(body).ok()?;
    text.lines()
        .rev()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|value| value.get("id").is_some())
}

/// Why a request got no response: the kind, and reqwest's error chain
/// without the URL.
fn describe(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "no answer within the client's timeout"
    } else if error.is_connect() {
        "could not connect to the server"
    } else if error.is_body() || error.is_decode() {
        "the response body broke off"
    } else {
        "the request failed"
    };
    let error = error.without_url();
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    format!("{kind} ({chain})")
}

/// The first 300 characters of a body, on one line.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line.chars().take(300).collect();
    if cut.len() < one_line.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_holds_the_tour_every_demo_build_and_the_generated_jobs() {
        let calls = mix(&crate::workspace_root().join("examples/demo")).unwrap();
        let count = |tool: &str| calls.iter().filter(|c| c.tool == tool).count();
        assert!(count("current_user") >= 1 && count("list_skills") >= 1);
        assert!(count("get_build") > 10, "{}", count("get_build"));
        assert!(
            count("tail_logs") > GENERATED_JOBS,
            "{}",
            count("tail_logs")
        );
        let generated = calls
            .iter()
            .filter(|c| c.arguments["pipeline_slug"] == GENERATED.0)
            .count();
        assert_eq!(generated, 2 * GENERATED_JOBS);
        assert!(
            calls
                .iter()
                .any(|c| c.tool == "read_logs" && c.arguments["job_id"].is_string())
        );
    }

    #[test]
    fn a_message_is_read_from_json_or_an_event_stream() {
        let json = br#"{"jsonrpc":"2.0","id":7,"result":{}}"#;
        assert_eq!(json_rpc_message(json).unwrap()["id"], 7);
        let stream = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{}}\n\n";
        assert_eq!(json_rpc_message(stream).unwrap()["id"], 8);
        assert!(json_rpc_message(b"<html>").is_none());
        assert_eq!(excerpt(b"a\n  b"), "a b");
    }
}
