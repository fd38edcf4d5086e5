//! Download leases in Redis: `SET key token NX PX ttl` to take one, and
//! scripts that renew or release it only for the holder whose token it
//! still is, so a holder whose lease lapsed never frees someone else's.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bk_logs::shared::{DownloadLeases, Lease, SharedError};

use crate::redis_link::RedisLink;

/// Renews the lease if the caller still holds it: 1 if renewed, else 0.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// Deletes the lease if the caller still holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Download leases kept in Redis under `{namespace}lease:{entry name}`.
#[derive(Debug, Clone)]
pub struct RedisLeases {
    link: Arc<RedisLink>,
    namespace: String,
    renew: Arc<redis::Script>,
    release: Arc<redis::Script>,
}

impl RedisLeases {
    /// Leases over `link`, with keys starting with `namespace` (e.g.
    /// `bk-mcp:`), so several deployments can share one Redis.
    pub fn new(link: Arc<RedisLink>, namespace: &str) -> Self {
        RedisLeases {
            link,
            namespace: namespace.to_owned(),
            renew: Arc::new(redis::Script::new(RENEW)),
            release: Arc::new(redis::Script::new(RELEASE)),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}lease:{name}", self.namespace)
    }
}

fn millis(ttl: Duration) -> String {
    ttl.as_millis().max(1).to_string()
}

#[async_trait]
impl DownloadLeases for RedisLeases {
    async fn acquire(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, SharedError> {
        let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let taken: Option<String> = self
            .link
            .run(
                redis::cmd("SET")
                    .arg(self.key(name))
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl)),
            )
            .await?;
        Ok(taken.map(|_| Lease {
            name: name.to_owned(),
            token,
        }))
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool, SharedError> {
        let renewed: i64 = self
            .link
            .run_script(
                &self.renew,
                &[&self.key(&lease.name)],
                &[&lease.token, &millis(ttl)],
            )
            .await?;
        Ok(renewed == 1)
    }

    async fn release(&self, lease: &Lease) -> Result<(), SharedError> {
        let _: i64 = self
            .link
            .run_script(&self.release, &[&self.key(&lease.name)], &[&lease.token])
            .await?;
        Ok(())
    }

    async fn is_held(&self, name: &str) -> Result<bool, SharedError> {
        let exists: i64 = self
            .link
            .run(redis::cmd("EXISTS").arg(self.key(name)))
            .await?;
        Ok(exists == 1)
    }
}
