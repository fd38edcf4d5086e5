//! The `builds` toolset: builds (list, inspect, wait, create, cancel,
//! rebuild), their jobs (list, inspect, retry, unblock, environment), step
//! uploads, the Test Engine runs of a build, and `resolve_url`, which turns a
//! Buildkite URL into the ids the other tools take.

use std::sync::Arc;

use crate::tool::{Tool, tool};

pub mod build;
pub mod jobs;
pub mod resolve_url;
pub mod step_uploads;
mod view;
pub mod wait;

pub use build::{
    CancelBuild, CreateBuild, GetBuild, GetBuildTestEngineRuns, ListBuilds, RebuildBuild,
};
pub use jobs::{GetJob, GetJobEnv, ListJobs, RetryJob, UnblockJob};
pub use resolve_url::ResolveUrl;
pub use step_uploads::{GetStepUpload, ListStepUploads};
pub use wait::WaitForBuild;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        tool(ListBuilds),
        tool(GetBuild),
        tool(GetBuildTestEngineRuns),
        tool(ListStepUploads),
        tool(GetStepUpload),
        tool(WaitForBuild),
        tool(CreateBuild),
        tool(CancelBuild),
        tool(RebuildBuild),
        tool(ListJobs),
        tool(GetJob),
        tool(UnblockJob),
        tool(RetryJob),
        tool(GetJobEnv),
        tool(ResolveUrl),
    ]
}
