//! The `investigations` toolset: why a build failed, in one call.

use std::sync::Arc;

use buildkite_api::Build;
use serde_json::{Map, Value, json};

use crate::tool::{Tool, ToolContext, tool};

pub mod compare;
pub mod summary;
pub mod triage;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        tool(summary::GetBuildFailureSummary),
        tool(compare::CompareBuilds),
        tool(triage::TriageBuildFailures),
    ]
}

/// The context for reads about `build` that stop changing once it has
/// finished (its annotations, its Test Engine results): while it is
/// finished they are settled reads, kept longer under the build's id and
/// finish time, so a repeated investigation of a finished build within a
/// minute costs one request (the build). A retried job re-opens the build
/// and its next finish is another version.
pub(crate) fn settled_for(ctx: &ToolContext, build: &Build) -> ToolContext {
    match &build.finished_at {
        Some(finished) if build.state.is_terminal() => ToolContext {
            client: ctx
                .client
                .settled_reads(&format!("build {} finished {finished}", build.id)),
            ..ctx.clone()
        },
        _ => ctx.clone(),
    }
}

/// When the organization's rate limit stopped some of the call's reads,
/// says so in `out` (`rate_limited`): the answer has what could be read,
/// the sections with errors are what the limit cut, and when to try again.
pub(crate) fn note_rate_limit(ctx: &ToolContext, out: &mut Map<String, Value>) {
    if let Some(wait) = ctx.client.rate_limited() {
        let seconds = wait.as_secs().max(1);
        out.insert(
            "rate_limited".into(),
            json!({
                "note": format!("Buildkite's rate limit for this organization cut this answer short: it has what could be read, and the sections with errors were not. Call again in {seconds} s for the whole answer."),
                "retry_after_seconds": seconds,
            }),
        );
    }
}
