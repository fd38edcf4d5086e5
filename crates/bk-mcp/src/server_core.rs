//! What every request shares: the [`Core`] built once at startup from the
//! settings (registry, operator selection, API client, log engine, limits,
//! the tool list converted to rmcp's types, the confirmation policy), and
//! that conversion.

use std::sync::Arc;
use std::time::Duration;

use bk_tools::{Registry, Selection, Tool};
use rmcp::model::ToolAnnotations;

use crate::config::{ApiTraffic, ConfigError, Settings};
use crate::identity::SERVER_NAME;

/// The longest a tool call runs before it is stopped with an error saying
/// so, unless the frontend sets another limit (HTTP: `--request-timeout`).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Points the client at the API, a recording of it, or a replay.
fn with_traffic(
    builder: buildkite_api::ClientBuilder,
    traffic: &ApiTraffic,
) -> Result<buildkite_api::ClientBuilder, ConfigError> {
    use buildkite_api::har::{HarRecorder, HarReplay};
    Ok(match traffic {
        ApiTraffic::Live => builder,
        ApiTraffic::Record(path) => {
            let recorder = HarRecorder::create(path)
                .map_err(|e| ConfigError::new(format!("--record / BUILDKITE_RECORD: {e}")))?;
            tracing::info!(path = %path.display(), "recording API traffic (HAR 1.2)");
            builder.record(recorder)
        }
        ApiTraffic::Replay(path) => {
            let replay = HarReplay::from_file(path)
                .map_err(|e| ConfigError::new(format!("--replay / BUILDKITE_REPLAY: {e}")))?;
            tracing::info!(path = %path.display(), responses = replay.len(), "answering API calls from a recording");
            builder.replay(replay)
        }
        ApiTraffic::Demo => {
            let replay = HarReplay::from_slice(crate::demo::DEMO_HAR)
                .map_err(|e| {
                    ConfigError::new(format!("--demo: the bundled recording is broken: {e}"))
                })?
                .with_latency(crate::demo::DEMO_LATENCY);
            tracing::info!(
                org = crate::demo::DEMO_ORG,
                responses = replay.len(),
                "serving the demo organisation from its recording (no token, no network)"
            );
            builder.replay(replay)
        }
    })
}

/// What every request shares: built once at startup.
pub struct Core {
    pub(crate) registry: Registry,
    pub(crate) selection: Selection,
    pub(crate) client: buildkite_api::Client,
    pub(crate) logs: Arc<bk_logs::Engine>,
    pub(crate) limits: bk_tools::Limits,
    /// Every tool of the registry as rmcp sees it, in registry order: as
    /// listed, and with its routing headers (`crate::routing`).
    pub(crate) listed: Vec<ListedTool>,
    /// Longest a tool call may run, if bounded.
    pub(crate) call_timeout: Option<Duration>,
    /// The tool calls running now, so a shutdown can wait for them.
    pub(crate) calls: tokio_util::task::TaskTracker,
    /// When destructive calls are confirmed with the user.
    pub(crate) confirmation: crate::confirm::Confirmation,
    /// Task ids cancelled on this replica (`crate::tasks`).
    pub(crate) cancelled_tasks: moka::sync::Cache<String, ()>,
    /// The log cache of a recording or replay, removed when the server stops.
    pub(crate) har_cache: Option<tempfile::TempDir>,
    /// What this replica shares with others (store, Redis).
    pub(crate) fleet: bk_fleet::Fleet,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("selection", &self.selection)
            .field("client", &self.client)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Builds the client, the log cache and the tool list from settings.
    pub fn new(settings: Settings) -> Result<Self, ConfigError> {
        let mut builder = buildkite_api::Client::builder()
            .base_url(&settings.base_url)
            .user_agent(format!(
                "{SERVER_NAME}/{} ({}; {})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH
            ));
        if let Some(token) = &settings.token {
            builder = builder.token(token.expose_secret());
        }
        builder = builder
            .read_cache_ttl(settings.api_cache_ttl)
            .settled_read_ttl(settings.api_cache_settled_ttl);
        for (name, value) in &settings.headers {
            builder = builder.header(name, value);
        }
        builder = with_traffic(builder, &settings.traffic)?;
        // A recording or replay shares nothing: its logs are its own, and
        // its rate limits are of another time.
        let fleet = if settings.traffic == ApiTraffic::Live {
            bk_fleet::Fleet::new(
                settings.shared_cache_url.as_deref(),
                settings.redis_url.as_deref(),
                bk_logs::shared::SharedOptions::default(),
            )
        } else {
            bk_fleet::Fleet::new(None, None, bk_logs::shared::SharedOptions::default())
        }
        .map_err(|e| ConfigError::new(format!("shared cache: {e}")))?;
        // Replicas pace to one view of each organization's rate limit.
        if let Some(budget) = fleet.rate_budget() {
            builder = builder.shared_budget(budget);
        }
        let client = builder.build().map_err(|e| match &e {
            // A bad base URL names the setting; anything else (TLS set-up)
            // says what it is itself.
            buildkite_api::Error::Config(message) if message.starts_with("base URL") => {
                ConfigError::new(format!("--base-url / BUILDKITE_BASE_URL: {e}"))
            }
            _ => ConfigError::new(e.to_string()),
        })?;
        // Recorded and replayed logs are cached apart, for this process only:
        // a replay must not fill (or be mistaken for) the real cache, and a
        // recording must download every log it reads, or its replay would
        // lack them.
        let har_cache = if settings.traffic == ApiTraffic::Live {
            None
        } else {
            Some(
                tempfile::Builder::new()
                    .prefix("bk-mcp-har-")
                    .tempdir()
                    .map_err(|e| {
                        ConfigError::new(format!(
                            "cannot make a temporary log cache for the recording or replay: {e}"
                        ))
                    })?,
            )
        };
        let cache_dir = har_cache
            .as_ref()
            .map_or(settings.cache_dir.clone(), |dir| dir.path().to_path_buf());
        let cache = bk_logs::LogCache::new(&cache_dir, settings.cache_max_bytes)
            .map_err(|e| {
                ConfigError::new(format!(
                    "--cache-url / BKLOG_CACHE_URL: cannot use {}: {e}",
                    cache_dir.display()
                ))
            })?
            .with_parser_options(bk_logs::parse::ParserOptions {
                max_line_bytes: settings.max_log_line_bytes,
            });
        let mut engine = bk_logs::Engine::new(
            cache,
            bk_logs::EngineOptions {
                max_log_bytes: settings.max_log_bytes,
                access_recheck: settings.log_access_recheck,
                ..bk_logs::EngineOptions::default()
            },
        );
        if let Some(tier) = &fleet.tier {
            tracing::info!(
                store = %tier.report().store,
                local = %cache_dir.display(),
                coordinated = fleet.redis.is_some(),
                "log cache shared by replicas"
            );
            engine = engine.with_shared(tier.clone());
        }
        let logs = Arc::new(engine);
        let mut core = Core::from_parts(
            Registry::new(),
            settings.selection,
            client,
            logs,
            settings.limits,
        );
        core.har_cache = har_cache;
        core.fleet = fleet;
        core.call_timeout = Some(DEFAULT_CALL_TIMEOUT);
        core.confirmation = settings.confirmation;
        Ok(core)
    }

    /// A core from ready-made parts (for embedding and tests).
    pub fn from_parts(
        registry: Registry,
        selection: Selection,
        client: buildkite_api::Client,
        logs: Arc<bk_logs::Engine>,
        limits: bk_tools::Limits,
    ) -> Self {
        let listed = registry
            .all_tools()
            .iter()
            .map(|tool| {
                let plain = to_rmcp_tool(tool.as_ref());
                ListedTool {
                    tool: Arc::clone(tool),
                    routed: crate::routing::with_routing_headers(&plain),
                    plain,
                }
            })
            .collect();
        Core {
            registry,
            selection,
            client,
            logs,
            limits,
            listed,
            call_timeout: None,
            calls: tokio_util::task::TaskTracker::new(),
            har_cache: None,
            fleet: bk_fleet::Fleet::default(),
            confirmation: crate::confirm::Confirmation::default(),
            cancelled_tasks: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(crate::tasks::TASK_LIFETIME)
                .build(),
        }
    }

    /// Confirms destructive calls as `confirmation` says (the default:
    /// `auto`, with a key for this process only).
    pub fn with_confirmation(mut self, confirmation: crate::confirm::Confirmation) -> Self {
        self.confirmation = confirmation;
        self
    }

    /// Resolves once no tool call is running. Calls that start later are
    /// still served (and awaited by a later call of this).
    pub async fn calls_finished(&self) {
        self.calls.close();
        self.calls.wait().await;
        self.calls.reopen();
    }

    /// Counts `work` as running until it ends, so [`Core::calls_finished`]
    /// waits for it too (e.g. an HTTP request accepted but not yet
    /// dispatched to a tool).
    pub fn track<F: std::future::Future>(
        &self,
        work: F,
    ) -> tokio_util::task::task_tracker::TrackedFuture<F> {
        self.calls.track_future(work)
    }

    /// How many tool calls are running now.
    pub fn calls_running(&self) -> usize {
        self.calls.len()
    }

    /// Bounds every tool call: past `timeout` it is cancelled and answers
    /// an error saying so.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// The operator's selection.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The operator's API client (with the fixed token, if any).
    pub fn client(&self) -> &buildkite_api::Client {
        &self.client
    }

    /// What this replica shares with others (log store, Redis).
    pub fn fleet(&self) -> &bk_fleet::Fleet {
        &self.fleet
    }

    /// The log engine.
    pub fn logs(&self) -> &Arc<bk_logs::Engine> {
        &self.logs
    }

    /// Leaves out of the operator's selection the tools `scopes` cannot
    /// run, and logs which.
    pub fn limit_to_scopes(&mut self, scopes: std::collections::BTreeSet<String>) {
        crate::scopes::log_left_out(&self.registry, &self.selection, &scopes);
        self.selection.token_scopes = Some(scopes);
    }

    /// Reads the configured token's scopes and leaves out the tools it
    /// cannot run; if they cannot be read, every tool stays (logged).
    pub async fn hide_tools_without_scopes(&mut self) {
        if let Some(scopes) = crate::scopes::read(&self.client).await {
            self.limit_to_scopes(scopes);
        }
    }
}

/// One tool as rmcp sees it.
pub(crate) struct ListedTool {
    pub(crate) tool: Arc<dyn Tool>,
    /// As `tools/list` gives it.
    pub(crate) plain: rmcp::model::Tool,
    /// With `x-mcp-header` on its routing parameters, for clients that send
    /// them as headers.
    pub(crate) routed: rmcp::model::Tool,
}

/// Converts a bk-tools tool to its rmcp description: the same entry as
/// `Registry::list` gives, title once and the hints as listed.
fn to_rmcp_tool(tool: &dyn Tool) -> rmcp::model::Tool {
    let meta = tool.meta();
    let schema = match tool.input_schema() {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    let hints = serde_json::Value::Object(meta.annotations().listed());
    let annotations: ToolAnnotations = serde_json::from_value(hints).unwrap_or_default();
    rmcp::model::Tool::new(meta.name, meta.description, Arc::new(schema))
        .with_title(meta.title)
        .with_annotations(annotations)
}
