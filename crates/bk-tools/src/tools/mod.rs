//! The tools, one module per toolset.

use std::sync::Arc;

use crate::tool::Tool;

pub mod agents;
pub mod annotations;
pub mod artifacts;
pub mod builds;
pub mod clusters;
pub(crate) mod common;
pub mod investigations;
pub mod logs;
pub mod pipelines;
pub mod skills;
pub mod test_engine;
pub mod user;

/// Every tool of every toolset.
pub fn all() -> Vec<Arc<dyn Tool>> {
    [
        agents::tools(),
        annotations::tools(),
        artifacts::tools(),
        builds::tools(),
        clusters::tools(),
        investigations::tools(),
        logs::tools(),
        pipelines::tools(),
        skills::tools(),
        test_engine::tools(),
        user::tools(),
    ]
    .concat()
}
