//! The `agents` toolset: listing and inspecting the organization's agents,
//! at three levels of detail.

use std::sync::Arc;

use async_trait::async_trait;
use buildkite_api::{Agent, ListAgentsParams};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::args::{DetailLevel, NonEmpty, OrgSlug, PageNumber, PerPage};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::project::{pick, reorder, to_object};
use crate::tool::{Access, Handler, Tool, ToolContext, ToolMeta, tool};
use crate::tools::common::paged;
use crate::toolset::Toolset;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![tool(ListAgents), tool(GetAgent)]
}

const SCOPES: &[&str] = &["read_agents"];

/// Default page size of `list_agents`.
const DEFAULT_PER_PAGE: u32 = 30;

/// Summary fields, in order (`queue` and `job` are added by [`project`]).
const SUMMARY: &[&str] = &[
    "id",
    "name",
    "connection_state",
    "hostname",
    "version",
    "paused",
];

/// What `detailed` adds to the summary.
const DETAILED: &[&str] = &[
    "web_url",
    "ip_address",
    "user_agent",
    "os_id",
    "arch",
    "priority",
    "meta_data",
    "created_at",
    "connected_at",
    "last_job_finished_at",
    "paused_at",
    "paused_note",
    "paused_timeout_in_minutes",
];

/// The agent's queue: its `queue` field, else its `queue=<key>` tag.
fn queue_of(agent: &Agent) -> Option<String> {
    agent.queue.clone().filter(|q| !q.is_empty()).or_else(|| {
        agent
            .meta_data
            .iter()
            .flatten()
            .find_map(|tag| tag.strip_prefix("queue=").map(str::to_owned))
    })
}

/// The job an agent is running, reduced to what identifies it.
fn running_job(agent: &Agent, detail: DetailLevel) -> Option<Value> {
    let job = to_object(agent.job.as_deref()?);
    let mut out = pick(&job, &["id", "type"]);
    let name = ["name", "label"]
        .into_iter()
        .find_map(|key| job.get(key).filter(|v| !v.is_null()));
    if let Some(name) = name {
        out.insert("name".into(), name.clone());
    }
    out.extend(pick(&job, &["state"]));
    if detail == DetailLevel::Detailed {
        out.extend(pick(&job, &["started_at", "web_url"]));
    }
    Some(Value::Object(out))
}

/// An agent at a detail level: ids and state first.
fn project(agent: &Agent, detail: DetailLevel) -> Value {
    let object = to_object(agent);
    if detail == DetailLevel::Full {
        return Value::Object(reorder(object, &["id", "name", "connection_state"]));
    }
    let mut out = pick(&object, SUMMARY);
    if let Some(queue) = queue_of(agent) {
        out.insert("queue".into(), json!(queue));
    }
    if let Some(job) = running_job(agent, detail) {
        out.insert("job".into(), job);
    }
    if detail == DetailLevel::Detailed {
        out.extend(pick(&object, DETAILED));
    }
    Value::Object(out)
}

/// Arguments of `list_agents`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAgentsArgs {
    pub org_slug: OrgSlug,
    // Only agents whose name contains this text.
    pub name: Option<String>,
    // Only agents on this host name.
    pub hostname: Option<String>,
    /// e.g. "3.80.0"
    pub version: Option<String>,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Agents per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
    /// Default summary.
    pub detail_level: Option<DetailLevel>,
}

/// `list_agents`.
#[derive(Debug)]
pub struct ListAgents;

#[async_trait]
impl Handler for ListAgents {
    type Args = ListAgentsArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_agents",
        title: "List Agents",
        description: "Connected agents (stopped and lost ones are not listed), filtered by name, host or version: id, state, host, version, queue and the job each is running.",
        details: "The name filter keeps agents whose name contains the text. 30 agents a page by default. detail_level `summary` gives id, name, connection state, host name, version, paused, queue (its `queue` field or `queue=` tag) and the running job's id, type, name and state; `detailed` adds tags (meta_data), OS, architecture, IP address, user agent, priority, web URL, pause details and timings (created, connected, last job finished), and the running job's start time and URL; `full` gives every field the API returns.",
        toolset: Toolset::Agents,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(&self, ctx: &ToolContext, args: ListAgentsArgs) -> Result<ToolOutput, ToolError> {
        let page_no = args.page.map_or(1, PageNumber::as_u32);
        let per_page = args.per_page.map_or(DEFAULT_PER_PAGE, PerPage::as_u32);
        let detail = args.detail_level.unwrap_or(DetailLevel::Summary);
        let params = ListAgentsParams {
            name: args.name.filter(|n| !n.is_empty()),
            hostname: args.hostname.filter(|h| !h.is_empty()),
            version: args.version.filter(|v| !v.is_empty()),
            cluster_queue_id: None,
            page: Some(page_no),
            per_page: Some(per_page),
        };
        let page = ctx
            .client
            .list_agents(&args.org_slug, &params)
            .await
            .context("the agents", Self::META.scopes)?;
        let items = page.items.iter().map(|a| project(a, detail)).collect();
        Ok(paged(&page, page_no, per_page, items))
    }
}

/// Arguments of `get_agent`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetAgentArgs {
    pub org_slug: OrgSlug,
    /// UUID, from list_agents or a job's agent.id.
    pub agent_id: NonEmpty,
    /// Default full.
    pub detail_level: Option<DetailLevel>,
}

/// `get_agent`.
#[derive(Debug)]
pub struct GetAgent;

#[async_trait]
impl Handler for GetAgent {
    type Args = GetAgentArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_agent",
        title: "Get Agent",
        description: "One agent by id: state, host, version, queue, tags, OS, IP address, timings and the job it is running.",
        details: "Returns every field by default, including the whole job the agent is running. detail_level `summary` and `detailed` give less, as in list_agents.",
        toolset: Toolset::Agents,
        access: Access::Read,
        scopes: SCOPES,
    };

    async fn run(&self, ctx: &ToolContext, args: GetAgentArgs) -> Result<ToolOutput, ToolError> {
        let detail = args.detail_level.unwrap_or(DetailLevel::Full);
        let agent = ctx
            .client
            .get_agent(&args.org_slug, &args.agent_id)
            .await
            .context("the agent", Self::META.scopes)?;
        Ok(ToolOutput::json(project(&agent, detail)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(value: Value) -> Agent {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("agent: {e}"))
    }

    #[test]
    fn queue_falls_back_to_the_tag_and_job_to_its_label() {
        let agent = agent(json!({
            "id": "a", "name": "n", "queue": null,
            "meta_data": ["os=linux", "queue=deploy"],
            "job": {"id": "j", "type": "script", "label": "Deploy", "state": "running"}
        }));
        let summary = project(&agent, DetailLevel::Summary);
        assert_eq!(
            summary,
            json!({"id": "a", "name": "n", "queue": "deploy",
                   "job": {"id": "j", "type": "script", "name": "Deploy", "state": "running"}})
        );
        let keys: Vec<String> = summary["job"]
            .as_object()
            .map(|job| job.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["id", "type", "name", "state"]);
    }
}
