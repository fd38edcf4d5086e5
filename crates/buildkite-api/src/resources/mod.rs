//! Endpoint methods on [`Client`](crate::Client), one module per API area,
//! with the query parameter types each area takes, named `…Params`
//! (`ListBuildsParams`, `GetBuildParams`).

pub mod agents;
pub mod annotations;
pub mod artifacts;
pub mod builds;
pub mod clusters;
pub mod jobs;
pub mod logs;
pub mod organizations;
pub mod pipelines;
pub mod step_uploads;
pub mod test_engine;

use crate::page::MAX_PER_PAGE;
use crate::request::ApiRequest;

/// `page` and `per_page` for numbered lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageParams {
    /// 1-based page number (API default 1).
    pub page: Option<u32>,
    /// Items per page (API default 30; capped at 100).
    pub per_page: Option<u32>,
}

impl PageParams {
    /// Page `page` with `per_page` items.
    pub fn new(page: u32, per_page: u32) -> Self {
        PageParams {
            page: Some(page),
            per_page: Some(per_page),
        }
    }
}

impl ApiRequest {
    /// Adds `page` and `per_page` (capped at the API's maximum of 100).
    pub(crate) fn paging(self, page: Option<u32>, per_page: Option<u32>) -> Self {
        self.query_opt("page", page)
            .query_opt("per_page", per_page.map(|n| n.clamp(1, MAX_PER_PAGE)))
    }
}
