//! Validated settings, ready to build a server from: what [`crate::config`]
//! resolves the flags and variables into, and where API calls go.

use std::path::PathBuf;
use std::time::Duration;

use bk_tools::{Limits, Selection};
use buildkite_api::ApiToken;

/// Where API calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiTraffic {
    /// To the Buildkite API.
    Live,
    /// To the API, and every exchange to this HAR file too.
    Record(PathBuf),
    /// Nowhere: answered from this HAR file.
    Replay(PathBuf),
    /// Nowhere: answered from the bundled demo recording.
    Demo,
}

impl ApiTraffic {
    /// Whether calls are answered from a recording (no token needed).
    pub fn is_replay(&self) -> bool {
        matches!(self, ApiTraffic::Replay(_) | ApiTraffic::Demo)
    }
}

/// Where the token may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// A fixed token (flag, variable or 1Password), or none.
    Fixed,
    /// Each HTTP request brings its own (`Authorization` is passed through):
    /// a fixed token is refused, so no caller can fall back to it.
    PerRequest,
}

/// Validated settings, ready to build a server from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The fixed token, if any.
    pub token: Option<ApiToken>,
    /// The API root.
    pub base_url: String,
    /// Extra headers for API requests (sent to the API's origin only).
    pub headers: Vec<(String, String)>,
    /// The operator's tool selection.
    pub selection: Selection,
    /// Limits for every tool.
    pub limits: Limits,
    /// Log cache directory (the local tier when a store is shared).
    pub cache_dir: PathBuf,
    /// The store shared by replicas (`s3://bucket/prefix`), if any.
    pub shared_cache_url: Option<String>,
    /// Redis, for coordinating replicas, if any.
    pub redis_url: Option<String>,
    /// Log cache size bound.
    pub cache_max_bytes: u64,
    /// Largest log downloaded whole.
    pub max_log_bytes: u64,
    /// Longest log line kept.
    pub max_log_line_bytes: usize,
    /// How long a caller's log access check is reused.
    pub log_access_recheck: Duration,
    /// How long API read answers are reused per caller.
    pub api_cache_ttl: Duration,
    /// How long settled read answers (a finished build's) are reused.
    pub api_cache_settled_ttl: Duration,
    /// Live, recorded or replayed API traffic.
    pub traffic: ApiTraffic,
    /// List tools the token has no scope for (`--list-all-tools`).
    pub list_all_tools: bool,
    /// When destructive calls are confirmed, and the key their request
    /// states are sealed with (`BK_MCP_STATE_KEY`, else one per process).
    pub confirmation: crate::confirm::Confirmation,
}

impl Settings {
    /// Whether to read the configured token's scopes at start, to leave
    /// out the tools it cannot run: with a token, against the live API,
    /// unless `--list-all-tools`.
    pub fn reads_token_scopes(&self) -> bool {
        self.token.is_some() && !self.traffic.is_replay() && !self.list_all_tools
    }
}
