//! The organizations' rate-limit windows, shared by the replicas in Redis,
//! so three replicas pace to one budget instead of each spending it all.
//!
//! One hash per organization, `{namespace}ratelimit:{org}`, with the
//! window's `limit`, what is `remaining` and when it `resets_at` (Redis's own
//! clock, in milliseconds, so the replicas' clocks do not matter). Answers
//! write what they saw (within one window the lowest count wins); each
//! request takes one before it goes. Both are scripts, so replicas never
//! race between reading and counting down. Any failure (Redis down, slow)
//! is "unknown": each replica then paces to its own view.

use std::sync::Arc;
use std::time::Duration;

use bk_logs::health::DependencyHealth;
use buildkite_api::{SharedAdmission, SharedBudget, SharedFuture};

use crate::redis_link::RedisLink;

/// Takes one request: `{1}` go, `{0, ms}` wait until the reset, `{-1}`
/// unknown (no window, or it has reset). ARGV[1] is 1 for a write, which
/// may use the twentieth kept for writes.
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = redis.call('HMGET', KEYS[1], 'limit', 'remaining', 'resets_at')
if not w[1] or not w[2] or not w[3] then return {-1} end
local limit, remaining, resets_at = tonumber(w[1]), tonumber(w[2]), tonumber(w[3])
if now >= resets_at then return {-1} end
local reserve = 0
if ARGV[1] ~= '1' then reserve = math.max(1, math.floor(limit / 20)) end
if remaining > reserve then
  redis.call('HINCRBY', KEYS[1], 'remaining', -1)
  return {1}
end
return {0, resets_at - now}";

/// Records an answer's window: ARGV limit, remaining, seconds to reset.
const OBSERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, remaining = tonumber(ARGV[1]), tonumber(ARGV[2])
local resets_at = now + tonumber(ARGV[3]) * 1000
local w = redis.call('HMGET', KEYS[1], 'remaining', 'resets_at')
if w[1] and w[2] and math.abs(tonumber(w[2]) - resets_at) < 2000 then
  remaining = math.min(remaining, tonumber(w[1]))
end
redis.call('HSET', KEYS[1], 'limit', limit, 'remaining', remaining, 'resets_at', resets_at)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 1000 + 5000)
return 1";

/// Longest an organization's key part may be (slugs are short; anything
/// longer is not a Buildkite organization and is not shared).
const MAX_ORG_LEN: usize = 100;

/// The replicas' shared view of each organization's window, in Redis.
#[derive(Debug, Clone)]
pub struct RedisBudget {
    link: Arc<RedisLink>,
    health: Arc<DependencyHealth>,
    namespace: String,
    take: Arc<redis::Script>,
    observe: Arc<redis::Script>,
    timeout: Duration,
}

impl RedisBudget {
    /// A budget over `link` under keys starting with `namespace`; each
    /// command may take `timeout` (then the replica decides alone), and
    /// outages are reported through `health`.
    pub fn new(
        link: Arc<RedisLink>,
        health: Arc<DependencyHealth>,
        namespace: &str,
        timeout: Duration,
    ) -> Self {
        RedisBudget {
            link,
            health,
            namespace: namespace.to_owned(),
            take: Arc::new(redis::Script::new(TAKE)),
            observe: Arc::new(redis::Script::new(OBSERVE)),
            timeout,
        }
    }

    fn key(&self, org: &str) -> Option<String> {
        (!org.is_empty() && org.len() <= MAX_ORG_LEN)
            .then(|| format!("{}ratelimit:{org}", self.namespace))
    }
}

impl SharedBudget for RedisBudget {
    fn take<'a>(&'a self, org: &'a str, write: bool) -> SharedFuture<'a, SharedAdmission> {
        Box::pin(async move {
            let Some(key) = self.key(org) else {
                return SharedAdmission::Unknown;
            };
            let flag = if write { "1" } else { "0" };
            let answer: Option<Vec<i64>> = self
                .health
                .run(
                    self.timeout,
                    self.link.run_script(&self.take, &[&key], &[flag]),
                )
                .await;
            match answer.as_deref() {
                Some([1, ..]) => SharedAdmission::Go,
                Some([0, wait, ..]) => {
                    SharedAdmission::Wait(Duration::from_millis(u64::try_from(*wait).unwrap_or(0)))
                }
                _ => SharedAdmission::Unknown,
            }
        })
    }

    fn observe<'a>(
        &'a self,
        org: &'a str,
        limit: u64,
        remaining: u64,
        reset: Duration,
    ) -> SharedFuture<'a, ()> {
        Box::pin(async move {
            let Some(key) = self.key(org) else {
                return;
            };
            let args = [
                limit.to_string(),
                remaining.to_string(),
                reset.as_secs().max(1).to_string(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _: Option<i64> = self
                .health
                .run(
                    self.timeout,
                    self.link.run_script(&self.observe, &[&key], &args),
                )
                .await;
        })
    }
}
