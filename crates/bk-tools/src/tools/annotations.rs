//! The `annotations` toolset.

use std::sync::Arc;

use crate::tool::Tool;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![]
}
