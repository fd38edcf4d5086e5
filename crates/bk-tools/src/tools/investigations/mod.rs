//! The `investigations` toolset: why a build failed, in one call.

use std::sync::Arc;

use buildkite_api::Build;

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
