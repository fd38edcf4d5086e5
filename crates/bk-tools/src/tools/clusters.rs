//! The `clusters` toolset: clusters and their queues; creating and updating
//! them, and pausing or resuming a queue's dispatch.
//!
//! `get_*` and the writes return the whole object as the API sent it (ids
//! first); the lists leave out API URLs and GraphQL ids, which the model has
//! no use for, to keep pages small.

use std::sync::Arc;

use async_trait::async_trait;
use buildkite_api::{ClusterBody, ClusterQueueBody};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::args::{NonEmpty, OrgSlug, PageNumber, PerPage};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::project::{pick, reorder, to_object};
use crate::tool::{Access, Handler, Tool, ToolContext, ToolMeta, tool};
use crate::tools::common::{page_params, paged};
use crate::toolset::Toolset;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        tool(GetCluster),
        tool(ListClusters),
        tool(CreateCluster),
        tool(UpdateCluster),
        tool(GetClusterQueue),
        tool(ListClusterQueues),
        tool(CreateClusterQueue),
        tool(UpdateClusterQueue),
        tool(PauseClusterQueueDispatch),
        tool(ResumeClusterQueueDispatch),
    ]
}

const READ: &[&str] = &["read_clusters"];
const WRITE: &[&str] = &["write_clusters"];

/// Default page size of the lists.
const DEFAULT_PER_PAGE: u32 = 30;

const CLUSTER_FIRST: &[&str] = &["id", "name", "description", "default_queue_id"];
const QUEUE_FIRST: &[&str] = &["id", "key", "dispatch_paused", "description"];

/// A cluster or queue, whole, with its identifying fields first.
fn whole(value: impl serde::Serialize, first: &[&str]) -> Value {
    Value::Object(reorder(to_object(value), first))
}

/// A list item: ids first, without empty fields, API URLs and GraphQL ids,
/// and with users reduced to who they are.
fn list_item(value: impl serde::Serialize, first: &[&str]) -> Value {
    let mut object = reorder(to_object(value), first);
    object.retain(|key, value| {
        !value.is_null()
            && key != "graphql_id"
            && key != "url"
            && (key == "web_url" || !key.ends_with("_url"))
    });
    for key in ["created_by", "dispatch_paused_by"] {
        if let Some(Value::Object(user)) = object.get(key) {
            let user = pick(user, &["id", "name", "email"]);
            object.insert(key.to_owned(), Value::Object(user));
        }
    }
    Value::Object(object)
}

/// How a queue retries a job on an agent: `prefer-warmest` (an agent that
/// recently ran a job, so caches are warm) or `prefer-different` (a different
/// agent from the one the failed attempt ran on).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RetryAgentAffinity {
    PreferWarmest,
    PreferDifferent,
}

impl RetryAgentAffinity {
    fn as_str(self) -> &'static str {
        match self {
            RetryAgentAffinity::PreferWarmest => "prefer-warmest",
            RetryAgentAffinity::PreferDifferent => "prefer-different",
        }
    }
}

// ---------------------------------------------------------------- clusters

/// Arguments of `get_cluster`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetClusterArgs {
    pub org_slug: OrgSlug,
    /// UUID, from list_clusters.
    pub cluster_id: NonEmpty,
}

/// `get_cluster`.
#[derive(Debug)]
pub struct GetCluster;

#[async_trait]
impl Handler for GetCluster {
    type Args = GetClusterArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_cluster",
        title: "Get Cluster",
        description: "One cluster with every field: name, description, default queue id, maintainers, creator. Its queues: list_cluster_queues.",
        details: "Returns the cluster as the API sends it, ids first; it also has the emoji, colour and web URL.",
        toolset: Toolset::Clusters,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(&self, ctx: &ToolContext, args: GetClusterArgs) -> Result<ToolOutput, ToolError> {
        let cluster = ctx
            .client
            .get_cluster(&args.org_slug, &args.cluster_id)
            .await
            .context("the cluster", Self::META.scopes)?;
        Ok(ToolOutput::json(whole(&cluster, CLUSTER_FIRST)))
    }
}

/// Arguments of `list_clusters`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListClustersArgs {
    pub org_slug: OrgSlug,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Clusters per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
}

/// `list_clusters`.
#[derive(Debug)]
pub struct ListClusters;

#[async_trait]
impl Handler for ListClusters {
    type Args = ListClustersArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_clusters",
        title: "List Clusters",
        description: "The organization's clusters: id, name, description, default queue id, maintainers, creator.",
        details: "30 clusters a page by default. Each also has its emoji, colour and web URL; API URLs, GraphQL ids and empty fields are left out, and users are reduced to id, name and email. A cluster's id is what get_cluster and the queue tools take.",
        toolset: Toolset::Clusters,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListClustersArgs,
    ) -> Result<ToolOutput, ToolError> {
        let params = page_params(args.page, args.per_page, DEFAULT_PER_PAGE);
        let (page_no, per_page) = (
            params.page.unwrap_or(1),
            params.per_page.unwrap_or(DEFAULT_PER_PAGE),
        );
        let page = ctx
            .client
            .list_clusters(&args.org_slug, &params)
            .await
            .context("the clusters", Self::META.scopes)?;
        let items = page
            .items
            .iter()
            .map(|c| list_item(c, CLUSTER_FIRST))
            .collect();
        Ok(paged(&page, page_no, per_page, items))
    }
}

/// Arguments of `create_cluster`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClusterArgs {
    pub org_slug: OrgSlug,
    /// Unique in the organization.
    pub name: NonEmpty,
    // What the cluster is for.
    pub description: Option<String>,
    /// e.g. ":rocket:"
    pub emoji: Option<String>,
    /// Hex code, e.g. "#FFE0F1".
    pub color: Option<String>,
}

/// `create_cluster`.
#[derive(Debug)]
pub struct CreateCluster;

#[async_trait]
impl Handler for CreateCluster {
    type Args = CreateClusterArgs;
    const META: ToolMeta = ToolMeta {
        name: "create_cluster",
        title: "Create Cluster",
        description: "Creates a cluster and returns it. It has no queues: add one with create_cluster_queue, then make it the default with update_cluster.",
        details: "The emoji is shown next to the cluster's name.",
        toolset: Toolset::Clusters,
        access: Access::Create,
        scopes: WRITE,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: CreateClusterArgs,
    ) -> Result<ToolOutput, ToolError> {
        let body = ClusterBody {
            name: Some(args.name.0),
            description: args.description,
            emoji: args.emoji,
            color: args.color,
            ..ClusterBody::default()
        };
        let cluster = ctx
            .client
            .create_cluster(&args.org_slug, &body)
            .await
            .context("the new cluster", Self::META.scopes)?;
        Ok(ToolOutput::json(whole(&cluster, CLUSTER_FIRST)))
    }
}

/// Arguments of `update_cluster`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClusterArgs {
    pub org_slug: OrgSlug,
    /// UUID, from list_clusters.
    pub cluster_id: NonEmpty,
    // New name.
    pub name: Option<NonEmpty>,
    // New description.
    pub description: Option<String>,
    /// e.g. ":rocket:"
    pub emoji: Option<String>,
    /// Hex code, e.g. "#FFE0F1".
    pub color: Option<String>,
    /// UUID of the queue for jobs that name none, from list_cluster_queues.
    pub default_queue_id: Option<NonEmpty>,
}

/// `update_cluster`.
#[derive(Debug)]
pub struct UpdateCluster;

#[async_trait]
impl Handler for UpdateCluster {
    type Args = UpdateClusterArgs;
    const META: ToolMeta = ToolMeta {
        name: "update_cluster",
        title: "Update Cluster",
        description: "Changes a cluster's name, description, emoji, colour or default queue (only those given; at least one) and returns it.",
        details: "Fields left out are unchanged. The default queue takes the jobs whose steps name no queue.",
        toolset: Toolset::Clusters,
        access: Access::Modify,
        scopes: WRITE,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: UpdateClusterArgs,
    ) -> Result<ToolOutput, ToolError> {
        let body = ClusterBody {
            name: args.name.map(|n| n.0),
            description: args.description,
            emoji: args.emoji,
            color: args.color,
            default_queue_id: args.default_queue_id.map(|q| q.0),
            maintainers: None,
        };
        if body == ClusterBody::default() {
            return Err(ToolError::invalid(
                "arguments",
                "nothing to change: give at least one of name, description, emoji, color, default_queue_id",
            ));
        }
        let cluster = ctx
            .client
            .update_cluster(&args.org_slug, &args.cluster_id, &body)
            .await
            .context("the updated cluster", Self::META.scopes)?;
        Ok(ToolOutput::json(whole(&cluster, CLUSTER_FIRST)))
    }
}

// ------------------------------------------------------------------ queues

/// Arguments of the tools that address one queue.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueArgs {
    pub org_slug: OrgSlug,
    /// UUID, from list_clusters.
    pub cluster_id: NonEmpty,
    /// UUID (not the key), from list_cluster_queues.
    pub queue_id: NonEmpty,
}

/// `get_cluster_queue`.
#[derive(Debug)]
pub struct GetClusterQueue;

#[async_trait]
impl Handler for GetClusterQueue {
    type Args = QueueArgs;
    const META: ToolMeta = ToolMeta {
        name: "get_cluster_queue",
        title: "Get Cluster Queue",
        description: "One cluster queue with every field: key (agents' `queue=<key>` tag), retry agent affinity, whether dispatch is paused (by whom, when, why), hosted-agent settings.",
        details: "Returns the queue as the API sends it, ids first, including its description and creator; hosted-agent settings appear for hosted queues only.",
        toolset: Toolset::Clusters,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(&self, ctx: &ToolContext, args: QueueArgs) -> Result<ToolOutput, ToolError> {
        let queue = ctx
            .client
            .get_cluster_queue(&args.org_slug, &args.cluster_id, &args.queue_id)
            .await
            .context("the cluster queue", Self::META.scopes)?;
        Ok(ToolOutput::json(whole(&queue, QUEUE_FIRST)))
    }
}

/// Arguments of `list_cluster_queues`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListClusterQueuesArgs {
    pub org_slug: OrgSlug,
    /// UUID, from list_clusters.
    pub cluster_id: NonEmpty,
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Queues per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
}

/// `list_cluster_queues`.
#[derive(Debug)]
pub struct ListClusterQueues;

#[async_trait]
impl Handler for ListClusterQueues {
    type Args = ListClusterQueuesArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_cluster_queues",
        title: "List Cluster Queues",
        description: "A cluster's queues: id, key (agents' `queue=<key>` tag), dispatch_paused, description, retry agent affinity. Other queue tools take the id, not the key.",
        details: "30 queues a page by default. Each also has its web URL; API URLs, GraphQL ids and empty fields are left out, and users are reduced to id, name and email.",
        toolset: Toolset::Clusters,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListClusterQueuesArgs,
    ) -> Result<ToolOutput, ToolError> {
        let params = page_params(args.page, args.per_page, DEFAULT_PER_PAGE);
        let (page_no, per_page) = (
            params.page.unwrap_or(1),
            params.per_page.unwrap_or(DEFAULT_PER_PAGE),
        );
        let page = ctx
            .client
            .list_cluster_queues(&args.org_slug, &args.cluster_id, &params)
            .await
            .context("the cluster's queues", Self::META.scopes)?;
        let items = page
            .items
            .iter()
            .map(|q| list_item(q, QUEUE_FIRST))
            .collect();
        Ok(paged(&page, page_no, per_page, items))
    }
}

/// Arguments of `create_cluster_queue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClusterQueueArgs {
    pub org_slug: OrgSlug,
    /// UUID, from list_clusters.
    pub cluster_id: NonEmpty,
    /// Unique in the cluster; it cannot be changed later.
    pub key: NonEmpty,
    // What the queue is for.
    pub description: Option<String>,
    /// Which agent a retried job goes to.
    pub retry_agent_affinity: Option<RetryAgentAffinity>,
}

/// `create_cluster_queue`.
#[derive(Debug)]
pub struct CreateClusterQueue;

#[async_trait]
impl Handler for CreateClusterQueue {
    type Args = CreateClusterQueueArgs;
    const META: ToolMeta = ToolMeta {
        name: "create_cluster_queue",
        title: "Create Cluster Queue",
        description: "Creates a queue in a cluster and returns it. The cluster's agents started with the tag `queue=<key>` take its jobs.",
        details: "Steps target the queue with `agents: {queue: <key>}`. retry_agent_affinity `prefer-warmest` retries a job on an agent that recently ran one (warm caches), `prefer-different` on another agent than the failed attempt's; the API default applies when it is left out.",
        toolset: Toolset::Clusters,
        access: Access::Create,
        scopes: WRITE,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: CreateClusterQueueArgs,
    ) -> Result<ToolOutput, ToolError> {
        let body = ClusterQueueBody {
            key: Some(args.key.0),
            description: args.description,
            retry_agent_affinity: args.retry_agent_affinity.map(|a| a.as_str().to_owned()),
        };
        let queue = ctx
            .client
            .create_cluster_queue(&args.org_slug, &args.cluster_id, &body)
            .await
            .context("the new cluster queue", Self::META.scopes)?;
        Ok(ToolOutput::json(whole(&queue, QUEUE_FIRST)))
    }
}

/// Arguments of `update_cluster_queue`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClusterQueueArgs {
    pub org_slug: OrgSlug,
    /// UUID, from list_clusters.
    pub cluster_id: NonEmpty,
    /// UUID (not the key), from list_cluster_queues.
    pub queue_id: NonEmpty,
    // New description.
    pub description: Option<String>,
    /// Which agent a retried job goes to.
    pub retry_agent_affinity: Option<RetryAgentAffinity>,
}

/// `update_cluster_queue`.
#[derive(Debug)]
pub struct UpdateClusterQueue;

#[async_trait]
impl Handler for UpdateClusterQueue {
    type Args = UpdateClusterQueueArgs;
    const META: ToolMeta = ToolMeta {
        name: "update_cluster_queue",
        title: "Update Cluster Queue",
        description: "Changes a queue's description or retry agent affinity (only those given; at least one) and returns it. Its key cannot be changed.",
        details: "Fields left out are unchanged. retry_agent_affinity is explained under create_cluster_queue. To stop or restart dispatch, use pause_cluster_queue_dispatch or resume_cluster_queue_dispatch.",
        toolset: Toolset::Clusters,
        access: Access::Modify,
        scopes: WRITE,
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: UpdateClusterQueueArgs,
    ) -> Result<ToolOutput, ToolError> {
        let body = ClusterQueueBody {
            key: None,
            description: args.description,
            retry_agent_affinity: args.retry_agent_affinity.map(|a| a.as_str().to_owned()),
        };
        if body == ClusterQueueBody::default() {
            return Err(ToolError::invalid(
                "arguments",
                "nothing to change: give at least one of description, retry_agent_affinity",
            ));
        }
        let queue = ctx
            .client
            .update_cluster_queue(&args.org_slug, &args.cluster_id, &args.queue_id, &body)
            .await
            .context("the updated cluster queue", Self::META.scopes)?;
        Ok(ToolOutput::json(whole(&queue, QUEUE_FIRST)))
    }
}

/// A 422 from pause or resume almost always means the queue is already in
/// the state asked for: say so, instead of the generic "fix the fields".
fn dispatch_error(
    error: buildkite_api::Error,
    what: &str,
    scopes: &'static [&'static str],
    already: &str,
) -> ToolError {
    if matches!(error, buildkite_api::Error::Unprocessable { .. }) {
        return ToolError::Other(format!(
            "Could not {what}: {error}. {already} get_cluster_queue shows the queue's dispatch_paused state."
        ));
    }
    Err::<(), _>(error)
        .context("the cluster queue", scopes)
        .err()
        .unwrap_or_else(|| ToolError::Other(format!("Could not {what}.")))
}

/// Arguments of `pause_cluster_queue_dispatch`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseArgs {
    pub org_slug: OrgSlug,
    /// UUID, from list_clusters.
    pub cluster_id: NonEmpty,
    /// UUID (not the key), from list_cluster_queues.
    pub queue_id: NonEmpty,
    /// Why, shown to the organization (e.g. "Upgrading agents").
    pub note: Option<String>,
}

/// `pause_cluster_queue_dispatch`.
#[derive(Debug)]
pub struct PauseClusterQueueDispatch;

#[async_trait]
impl Handler for PauseClusterQueueDispatch {
    type Args = PauseArgs;
    const META: ToolMeta = ToolMeta {
        name: "pause_cluster_queue_dispatch",
        title: "Pause Cluster Queue Dispatch",
        description: "Pauses dispatch on a cluster queue: its agents take no new jobs (running ones carry on) until it is resumed. Returns the queue.",
        details: "The returned queue says who paused it, when, and the note. When the API refuses (422), the error says the queue is probably paused already. resume_cluster_queue_dispatch resumes dispatch.",
        toolset: Toolset::Clusters,
        access: Access::Modify,
        scopes: WRITE,
    };

    async fn run(&self, ctx: &ToolContext, args: PauseArgs) -> Result<ToolOutput, ToolError> {
        let queue = ctx
            .client
            .pause_cluster_queue_dispatch(
                &args.org_slug,
                &args.cluster_id,
                &args.queue_id,
                args.note.as_deref(),
            )
            .await
            .map_err(|e| {
                dispatch_error(
                    e,
                    "pause the queue's dispatch",
                    Self::META.scopes,
                    "The queue's dispatch is probably paused already.",
                )
            })?;
        Ok(ToolOutput::json(whole(&queue, QUEUE_FIRST)))
    }
}

/// `resume_cluster_queue_dispatch`.
#[derive(Debug)]
pub struct ResumeClusterQueueDispatch;

#[async_trait]
impl Handler for ResumeClusterQueueDispatch {
    type Args = QueueArgs;
    const META: ToolMeta = ToolMeta {
        name: "resume_cluster_queue_dispatch",
        title: "Resume Cluster Queue Dispatch",
        description: "Resumes dispatch on a paused cluster queue, so its agents take jobs again. Returns a confirmation and the queue.",
        details: "When the API refuses (422), the error says the queue is probably not paused.",
        toolset: Toolset::Clusters,
        access: Access::Modify,
        scopes: WRITE,
    };

    async fn run(&self, ctx: &ToolContext, args: QueueArgs) -> Result<ToolOutput, ToolError> {
        let queue = ctx
            .client
            .resume_cluster_queue_dispatch(&args.org_slug, &args.cluster_id, &args.queue_id)
            .await
            .map_err(|e| {
                dispatch_error(
                    e,
                    "resume the queue's dispatch",
                    Self::META.scopes,
                    "The queue's dispatch is probably not paused.",
                )
            })?;
        let mut out = Map::new();
        out.insert(
            "message".into(),
            json!(format!(
                "Dispatch resumed: agents take jobs from queue {:?} again.",
                queue.key
            )),
        );
        out.insert("queue".into(), whole(&queue, QUEUE_FIRST));
        Ok(ToolOutput::json(out))
    }
}
