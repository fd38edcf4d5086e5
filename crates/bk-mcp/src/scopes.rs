//! What the token may do: its scopes, read from `GET /v2/access-token`,
//! leave out of `tools/list` the tools it cannot run, so an agent never
//! pays for a tool that would only fail.
//!
//! - With one configured token (stdio, or HTTP without passthrough) the
//!   scopes are read once at start ([`read`]).
//! - With passthrough, each caller's token is read on its first request and
//!   kept for [`SCOPES_TTL`] ([`ScopeCache`]).
//! - If the scopes cannot be read, nothing is hidden, and the log says why.
//!   `--list-all-tools` turns all of this off.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bk_tools::{Registry, Selection};

/// How long a passthrough token's scopes are reused.
pub const SCOPES_TTL: Duration = Duration::from_secs(300);

/// Most passthrough tokens whose scopes are kept.
const MAX_TOKENS: u64 = 10_000;

/// The longest a scopes read may delay a server's start or a request.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the token's scopes, within [`READ_TIMEOUT`], or says in the log
/// why they could not be read (then every tool stays listed).
pub async fn read(client: &buildkite_api::Client) -> Option<BTreeSet<String>> {
    match tokio::time::timeout(READ_TIMEOUT, client.access_token()).await {
        Ok(Ok(token)) => Some(token.scopes.into_iter().collect()),
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not read the token's scopes: every enabled tool is listed");
            None
        }
        Err(_) => {
            tracing::warn!(
                timeout_s = READ_TIMEOUT.as_secs(),
                "the token's scopes did not arrive in time: every enabled tool is listed"
            );
            None
        }
    }
}

/// The tools of `selection` that `scopes` leave out, each with the scopes
/// it lacks.
pub fn left_out(
    registry: &Registry,
    selection: &Selection,
    scopes: &BTreeSet<String>,
) -> Vec<(&'static str, Vec<&'static str>)> {
    registry
        .select(selection)
        .iter()
        .filter_map(|tool| {
            let meta = tool.meta();
            let missing: Vec<&'static str> = meta
                .scopes
                .iter()
                .copied()
                .filter(|s| !scopes.contains(*s))
                .collect();
            (!missing.is_empty()).then_some((meta.name, missing))
        })
        .collect()
}

/// Logs which tools `scopes` leave out of `selection`.
pub fn log_left_out(registry: &Registry, selection: &Selection, scopes: &BTreeSet<String>) {
    let left = left_out(registry, selection, scopes);
    if left.is_empty() {
        return;
    }
    let list: Vec<String> = left
        .iter()
        .map(|(tool, missing)| format!("{tool} (needs {})", missing.join(" ")))
        .collect();
    tracing::info!(
        count = left.len(),
        tools = %list.join(", "),
        "tools the token has no scope for are not listed (--list-all-tools lists them)"
    );
}

/// Passthrough tokens' scopes, each read once per [`SCOPES_TTL`]; identical
/// concurrent reads are one request.
#[derive(Clone)]
pub struct ScopeCache {
    scopes: moka::future::Cache<String, Arc<Option<BTreeSet<String>>>>,
}

impl std::fmt::Debug for ScopeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeCache")
            .field("tokens", &self.scopes.entry_count())
            .finish()
    }
}

impl Default for ScopeCache {
    fn default() -> Self {
        ScopeCache {
            scopes: moka::future::Cache::builder()
                .max_capacity(MAX_TOKENS)
                .time_to_live(SCOPES_TTL)
                .build(),
        }
    }
}

impl ScopeCache {
    /// The scopes of the token `client` acts with (keyed by a hash of the
    /// credential, never the token), or `None` if they cannot be read.
    pub async fn scopes(&self, client: &buildkite_api::Client) -> Option<BTreeSet<String>> {
        let key = client.credential_id().as_text();
        let read = self
            .scopes
            .get_with(key.clone(), async { Arc::new(read(client).await) })
            .await;
        if read.is_none() {
            // A failure is not kept: the next request tries again.
            self.scopes.invalidate(&key).await;
        }
        (*read).clone()
    }
}
