//! What the replicas of one bk-mcp service share, so a team can run several
//! behind a load balancer:
//!
//! - [`ObjectTier`]: finished jobs' log entries in an object store
//!   (`s3://bucket/prefix`), the second tier of `bk_logs`' cache;
//! - [`RedisLeases`]: who downloads a log while the others wait for it;
//! - [`RedisLink`]: the one Redis connection of a replica, which the HTTP
//!   binary's session store also uses.
//!
//! `bk-logs` defines the traits and keeps every failure of these parts from
//! failing a call ([`bk_logs::health`]); this crate is where HTTP and Redis
//! clients are allowed.

mod leases;
mod object_tier;
mod rate_budget;
mod redis_link;
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use bk_logs::shared::{DownloadLeases, SharedOptions, SharedTier};

/// What a shared part's health looks like, for the binaries' `/ready`.
pub use bk_logs::health::{DependencyHealth, HealthReport};
pub use leases::RedisLeases;
pub use object_tier::ObjectTier;
pub use rate_budget::RedisBudget;
pub use redis_link::{RedisLink, describe_url};

/// A configuration problem, in one line, without credentials.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FleetError(String);

impl FleetError {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        FleetError(message.into())
    }
}

/// Whether a cache URL names a shared store rather than a local directory.
pub fn is_shared_url(url: &str) -> bool {
    matches!(
        url.trim().split_once("://").map(|(scheme, _)| scheme),
        Some("s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" | "memory")
    )
}

/// Prefix of every Redis key this service writes.
pub const REDIS_NAMESPACE: &str = "bk-mcp:";

/// The shared parts of one replica, built from its settings.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The log cache's shared tier, with a store URL.
    pub tier: Option<SharedTier>,
    /// Redis, with a Redis URL.
    pub redis: Option<Arc<RedisLink>>,
    /// Redis's health, one view for every user of it.
    pub redis_health: Arc<DependencyHealth>,
}

impl Default for Fleet {
    /// Nothing shared: one replica on its own.
    fn default() -> Self {
        Fleet {
            tier: None,
            redis: None,
            redis_health: Arc::new(DependencyHealth::new(
                "redis",
                SharedOptions::default().retry_after,
            )),
        }
    }
}

impl Fleet {
    /// The parts for a shared store at `store_url` and Redis at
    /// `redis_url`, either optional. Nothing is contacted yet.
    pub fn new(
        store_url: Option<&str>,
        redis_url: Option<&str>,
        options: SharedOptions,
    ) -> Result<Fleet, FleetError> {
        let redis = redis_url
            .map(|url| RedisLink::open(url, options.op_timeout).map(Arc::new))
            .transpose()?;
        let redis_health = Arc::new(DependencyHealth::new("redis", options.retry_after));
        let tier = match store_url {
            Some(url) => {
                let store = Arc::new(ObjectTier::from_url(url)?);
                let leases = redis.as_ref().map(|link| {
                    Arc::new(RedisLeases::new(Arc::clone(link), REDIS_NAMESPACE))
                        as Arc<dyn DownloadLeases>
                });
                Some(
                    SharedTier::new(store, leases, options)
                        .with_lease_health(Arc::clone(&redis_health)),
                )
            }
            None => None,
        };
        Ok(Fleet {
            tier,
            redis,
            redis_health,
        })
    }

    /// Whether anything is shared.
    pub fn is_empty(&self) -> bool {
        self.tier.is_none() && self.redis.is_none()
    }

    /// The health of each configured part, for `/ready`.
    pub fn health(&self) -> Vec<HealthReport> {
        let mut reports = Vec::new();
        if let Some(tier) = &self.tier {
            reports.push(tier.store_health().report());
        }
        if self.redis.is_some() {
            reports.push(self.redis_health.report());
        }
        reports
    }

    /// The organizations' rate-limit windows shared in Redis, for the API
    /// client ([`buildkite_api::ClientBuilder::shared_budget`]); `None`
    /// without Redis. A command that takes longer than 250 ms is given up
    /// (the replica then paces alone): it sits in front of every request.
    pub fn rate_budget(&self) -> Option<Arc<dyn buildkite_api::SharedBudget>> {
        let link = self.redis.as_ref()?;
        Some(Arc::new(RedisBudget::new(
            Arc::clone(link),
            Arc::clone(&self.redis_health),
            REDIS_NAMESPACE,
            Duration::from_millis(250),
        )))
    }

    /// Checks Redis now (a `PING` within the time limit), updating its
    /// health; `None` without Redis.
    pub async fn ping_redis(&self, limit: Duration) -> Option<bool> {
        let link = self.redis.as_ref()?;
        let pong: Option<String> = self
            .redis_health
            .run(limit, link.run(&redis::cmd("PING")))
            .await;
        Some(pong.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_urls_are_told_from_local_paths() {
        assert!(is_shared_url("s3://bucket/logs"));
        assert!(is_shared_url(" memory:// "));
        assert!(!is_shared_url("file:///var/cache/bk"));
        assert!(!is_shared_url("/var/cache/bk"));
    }

    #[test]
    fn bad_urls_say_what_to_use() {
        let error = ObjectTier::from_url("ftp://host/x").expect_err("not a store");
        assert!(error.to_string().contains("s3://bucket/prefix"), "{error}");
        let error = ObjectTier::from_url("s3:///x").expect_err("no bucket");
        assert!(error.to_string().contains("bucket"), "{error}");
        #[cfg(not(feature = "gcs"))]
        assert!(
            ObjectTier::from_url("gs://b/x")
                .expect_err("feature off")
                .to_string()
                .contains("--features gcs")
        );
    }
}

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
