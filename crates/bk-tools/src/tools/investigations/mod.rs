//! The `investigations` toolset: why a build failed, in one call.

use std::sync::Arc;

use crate::tool::{Tool, tool};

mod common;
pub mod compare;
mod rescued;
pub mod summary;
pub mod triage;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        tool(summary::GetBuildFailureSummary),
        tool(compare::CompareBuilds),
        tool(triage::TriageBuildFailures),
    ]
}
