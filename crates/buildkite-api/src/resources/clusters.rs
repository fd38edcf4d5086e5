//! Clusters and cluster queues.

use reqwest::Method;
use serde::Serialize;

use super::PageParams;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::models::{Cluster, ClusterBody, ClusterQueue, ClusterQueueBody};
use crate::page::Page;
use crate::path::{self, ApiPath};
use crate::request::ApiRequest;

fn cluster_path(org: &str, cluster_id: &str) -> Result<ApiPath> {
    path::org(org)?
        .lit("clusters")
        .segment("cluster id", cluster_id)
}

fn queue_path(org: &str, cluster_id: &str, queue_id: &str) -> Result<ApiPath> {
    cluster_path(org, cluster_id)?
        .lit("queues")
        .segment("queue id", queue_id)
}

impl Client {
    /// `GET /v2/organizations/{org}/clusters`.
    pub async fn list_clusters(&self, org: &str, params: &PageParams) -> Result<Page<Cluster>> {
        let request =
            ApiRequest::get(path::org(org)?.lit("clusters")).paging(params.page, params.per_page);
        self.page(request).await
    }

    /// `GET /v2/organizations/{org}/clusters/{id}`.
    pub async fn get_cluster(&self, org: &str, cluster_id: &str) -> Result<Cluster> {
        self.json(ApiRequest::get(cluster_path(org, cluster_id)?))
            .await
    }

    /// `POST /v2/organizations/{org}/clusters`; `name` is required.
    pub async fn create_cluster(&self, org: &str, body: &ClusterBody) -> Result<Cluster> {
        if body.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(Error::InvalidArgument("a cluster needs a name".into()));
        }
        let request = ApiRequest::new(Method::POST, path::org(org)?.lit("clusters")).json(body)?;
        self.json(request).await
    }

    /// `PATCH /v2/organizations/{org}/clusters/{id}`.
    pub async fn update_cluster(
        &self,
        org: &str,
        cluster_id: &str,
        body: &ClusterBody,
    ) -> Result<Cluster> {
        let request = ApiRequest::new(Method::PATCH, cluster_path(org, cluster_id)?).json(body)?;
        self.json(request).await
    }

    /// `GET …/clusters/{id}/queues`.
    pub async fn list_cluster_queues(
        &self,
        org: &str,
        cluster_id: &str,
        params: &PageParams,
    ) -> Result<Page<ClusterQueue>> {
        let request = ApiRequest::get(cluster_path(org, cluster_id)?.lit("queues"))
            .paging(params.page, params.per_page);
        self.page(request).await
    }

    /// `GET …/clusters/{id}/queues/{queue}`.
    pub async fn get_cluster_queue(
        &self,
        org: &str,
        cluster_id: &str,
        queue_id: &str,
    ) -> Result<ClusterQueue> {
        self.json(ApiRequest::get(queue_path(org, cluster_id, queue_id)?))
            .await
    }

    /// `POST …/clusters/{id}/queues`; `key` is required.
    pub async fn create_cluster_queue(
        &self,
        org: &str,
        cluster_id: &str,
        body: &ClusterQueueBody,
    ) -> Result<ClusterQueue> {
        if body.key.as_deref().is_none_or(|k| k.trim().is_empty()) {
            return Err(Error::InvalidArgument("a queue needs a key".into()));
        }
        let path = cluster_path(org, cluster_id)?.lit("queues");
        self.json(ApiRequest::new(Method::POST, path).json(body)?)
            .await
    }

    /// `PATCH …/clusters/{id}/queues/{queue}`.
    pub async fn update_cluster_queue(
        &self,
        org: &str,
        cluster_id: &str,
        queue_id: &str,
        body: &ClusterQueueBody,
    ) -> Result<ClusterQueue> {
        let path = queue_path(org, cluster_id, queue_id)?;
        self.json(ApiRequest::new(Method::PATCH, path).json(body)?)
            .await
    }

    /// `POST …/queues/{queue}/pause_dispatch`: agents stop taking jobs from
    /// the queue. 422 if it is already paused.
    pub async fn pause_cluster_queue_dispatch(
        &self,
        org: &str,
        cluster_id: &str,
        queue_id: &str,
        note: Option<&str>,
    ) -> Result<ClusterQueue> {
        #[derive(Serialize)]
        struct PauseBody<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            dispatch_paused_note: Option<&'a str>,
        }
        let path = queue_path(org, cluster_id, queue_id)?.lit("pause_dispatch");
        let body = PauseBody {
            dispatch_paused_note: note,
        };
        self.json(ApiRequest::new(Method::POST, path).json(&body)?)
            .await
    }

    /// `POST …/queues/{queue}/resume_dispatch`. 422 if it is not paused.
    pub async fn resume_cluster_queue_dispatch(
        &self,
        org: &str,
        cluster_id: &str,
        queue_id: &str,
    ) -> Result<ClusterQueue> {
        let path = queue_path(org, cluster_id, queue_id)?.lit("resume_dispatch");
        self.json(ApiRequest::new(Method::POST, path)).await
    }
}
