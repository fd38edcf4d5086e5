//! Running one tool call: the call's own API client (named and counted for
//! the tool), cancellation, and shaping the result or error into a
//! [`CallResult`] (defused, redacted, fitted to the response budget).

use serde_json::Value;

use crate::error::ToolError;
use crate::shape::{render, render_error};
use crate::tool::{Tool, ToolContext};

/// The result of a call, shaped and ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResult {
    /// The text to send (JSON, or markdown for guides, or an error message).
    pub text: String,
    /// Whether this is an error result.
    pub is_error: bool,
    /// Whether the error was a refused token (HTTP mode answers 401).
    pub unauthorized: bool,
    /// Requests the call sent to the Buildkite API (each attempt counts).
    pub api_requests: u64,
    /// Whether the error was a recording without this call (a replay).
    pub replay_miss: bool,
    /// Content named by link rather than inlined, for the client to read
    /// as resources (`crate::links`).
    pub links: Vec<crate::links::ResourceLink>,
}

/// Calls `tool`, already looked up and checked against the caller's
/// selection, and shapes its result. [`Registry::call`] looks the tool up
/// by name and calls this; a transport that has looked the tool up itself
/// can call this directly.
///
/// [`Registry::call`]: crate::Registry::call
pub async fn call_tool(tool: &dyn Tool, ctx: &ToolContext, args: Value) -> CallResult {
    let name = tool.meta().name;
    // The tool's API calls carry its name in their tracing spans, and
    // are counted and remembered per call (a caller that made the call's
    // client itself keeps it, to count a call it cuts short too).
    let client = if ctx.client.in_call() {
        ctx.client.for_tool(name)
    } else {
        ctx.client.for_call(name)
    };
    let ctx = &ToolContext {
        client,
        ..ctx.clone()
    };
    let outcome = tokio::select! {
        outcome = tool.call(ctx, args) => outcome,
        () = ctx.cancel.cancelled() => Err(ToolError::Other("the call was cancelled".into())),
    };
    let api_requests = ctx.client.requests_sent();
    match outcome {
        Ok(output) => {
            let links = output.links.clone();
            match render(output, &ctx.limits) {
                Ok(text) => CallResult {
                    text,
                    is_error: false,
                    unauthorized: false,
                    api_requests,
                    replay_miss: false,
                    links,
                },
                Err(message) => CallResult {
                    text: render_error(&message, &ctx.limits),
                    is_error: true,
                    unauthorized: false,
                    api_requests,
                    replay_miss: false,
                    links: Vec::new(),
                },
            }
        }
        Err(error) => CallResult {
            text: render_error(&error.to_string(), &ctx.limits),
            is_error: true,
            unauthorized: error.is_unauthorized(),
            api_requests,
            replay_miss: error.is_replay_miss(),
            links: Vec::new(),
        },
    }
}
