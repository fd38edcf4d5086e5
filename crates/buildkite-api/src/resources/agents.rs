//! Agents.

use crate::client::Client;
use crate::error::Result;
use crate::models::Agent;
use crate::page::Page;
use crate::path;
use crate::request::ApiRequest;

/// Filters for [`Client::list_agents`]. The list shows connected and
/// stopping agents only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListAgentsParams {
    /// Part of the name.
    pub name: Option<String>,
    /// Host name.
    pub hostname: Option<String>,
    /// Agent version.
    pub version: Option<String>,
    /// Only agents of this cluster queue.
    pub cluster_queue_id: Option<String>,
    /// Page number.
    pub page: Option<u32>,
    /// Items per page (max 100).
    pub per_page: Option<u32>,
}

impl Client {
    /// `GET /v2/organizations/{org}/agents`.
    pub async fn list_agents(&self, org: &str, params: &ListAgentsParams) -> Result<Page<Agent>> {
        let request = ApiRequest::get(path::org(org)?.lit("agents"))
            .query_opt("name", params.name.as_deref())
            .query_opt("hostname", params.hostname.as_deref())
            .query_opt("version", params.version.as_deref())
            .query_opt("cluster_queue_id", params.cluster_queue_id.as_deref())
            .paging(params.page, params.per_page);
        self.page(request).await
    }

    /// `GET /v2/organizations/{org}/agents/{id}`.
    pub async fn get_agent(&self, org: &str, agent_id: &str) -> Result<Agent> {
        let path = path::org(org)?
            .lit("agents")
            .segment("agent id", agent_id)?;
        self.json(ApiRequest::get(path)).await
    }
}
