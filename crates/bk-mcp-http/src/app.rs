//! The HTTP application: MCP routes behind the request policy and the
//! JSON-RPC framing guard, health and readiness, and the 401 mapping.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bk_mcp::scopes::ScopeCache;
use bk_mcp::{Core, McpServer, UnauthorizedFlag};
use http::{StatusCode, header};
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::StreamableHttpServerConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use tokio_util::sync::CancellationToken;

use crate::framing::{Framing, Sessions};
use crate::policy::{Passthrough, Refusal, scope_for};
use crate::sessions::{RedisEvents, RedisSessions};

/// The challenge sent with every 401.
pub const WWW_AUTHENTICATE: &str = r#"Bearer realm="buildkite""#;

/// How the HTTP side is set up.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Keep sessions (`Mcp-Session-Id`) instead of serving each POST alone.
    pub stateful: bool,
    /// `Host` values accepted (empty: any).
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted from browsers (empty: any).
    pub allowed_origins: Vec<String>,
    /// Largest request body, in bytes (413 above).
    pub max_body_bytes: usize,
    /// Headers passed through to Buildkite.
    pub passthrough: Passthrough,
    /// Leave out of each caller's tool list the tools its passed-through
    /// token has no scope for.
    pub scopes_per_caller: bool,
}

/// State the middleware and probes share.
#[derive(Debug)]
pub struct AppState {
    core: Arc<Core>,
    passthrough: Passthrough,
    /// Passthrough tokens' scopes, when tools are listed per token.
    scopes: Option<ScopeCache>,
    /// Set when shutdown starts: `/ready` answers 503.
    draining: AtomicBool,
}

impl AppState {
    /// Marks the server as shutting down.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }
}

/// Builds the router. `shutdown` ends SSE streams and sessions when
/// cancelled (after the grace period).
pub fn router(
    core: Arc<Core>,
    options: &AppOptions,
    shutdown: CancellationToken,
) -> (Router, Arc<AppState>) {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(options.stateful)
        .with_json_response(!options.stateful)
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(shutdown);
    config = if options.allowed_hosts.is_empty() {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(options.allowed_hosts.clone())
    };
    config = if options.allowed_origins.is_empty() {
        config.disable_allowed_origins()
    } else {
        config
            .with_allowed_origins(options.allowed_origins.clone())
            .enforce_origin_validation()
    };
    let server = McpServer::new(Arc::clone(&core));
    let factory = move || Ok(server.clone());
    let mut known_sessions = None;
    let mcp = if options.stateful {
        let mut sessions = LocalSessionManager::default();
        // With Redis, any replica continues any session and resumes its
        // SSE streams.
        if let Some(link) = &core.fleet().redis {
            let health = Arc::clone(&core.fleet().redis_health);
            config.session_store = Some(Arc::new(RedisSessions::new(
                Arc::clone(link),
                Arc::clone(&health),
            )));
            sessions =
                sessions.with_event_store(Arc::new(RedisEvents::new(Arc::clone(link), health)));
        }
        let sessions = Arc::new(sessions);
        known_sessions = Some(Sessions {
            local: Arc::clone(&sessions),
            shared: config.session_store.clone(),
        });
        Router::new().fallback_service(StreamableHttpService::new(factory, sessions, config))
    } else {
        Router::new().fallback_service(StreamableHttpService::new(
            factory,
            Arc::new(NeverSessionManager::default()),
            config,
        ))
    };
    let state = Arc::new(AppState {
        core,
        passthrough: options.passthrough.clone(),
        scopes: options.scopes_per_caller.then(ScopeCache::default),
        draining: AtomicBool::new(false),
    });
    let framing = Arc::new(Framing {
        max_body_bytes: options.max_body_bytes,
        sessions: known_sessions,
    });
    let mcp = mcp
        .layer(middleware::from_fn_with_state(
            framing,
            crate::framing::guard,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            request_policy,
        ));
    let router = Router::new()
        .route("/health", any(health))
        .route("/ready", any(ready))
        .route_service("/mcp", mcp.clone())
        .route_service("/mcp/", mcp.clone())
        .route_service("/mcp/{*rest}", mcp)
        .with_state(Arc::clone(&state));
    (router, state)
}

/// Applies the request policy: refuses bad or widening selections and
/// missing credentials, attaches the request's scope, and turns a refused
/// token into HTTP 401.
async fn request_policy(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let scope = scope_for(
        state.core.selection(),
        &state.passthrough,
        state.core.client(),
        request.uri().path(),
        request.headers(),
    );
    let mut scope = match scope {
        Ok(scope) => scope,
        Err(refusal) => return refusal_response(refusal),
    };
    // The caller's own token's scopes leave out what it cannot run.
    if let (Some(cache), Some(client)) = (&state.scopes, &scope.client)
        && let Some(scopes) = cache.scopes(client).await
    {
        scope.selection.token_scopes = Some(scopes);
    }
    let flag = UnauthorizedFlag::new();
    request.extensions_mut().insert(scope);
    request.extensions_mut().insert(flag.clone());
    // A request is in flight from here: a shutdown waits for it.
    let response = state.core.track(next.run(request)).await;
    // A JSON answer is complete by now, so a refused token can still become
    // a real 401. (Once progress has streamed, the status is sent; the
    // error result in the stream says the same.)
    if flag.is_set() {
        return unauthorized(
            "Buildkite refused the API token (HTTP 401): check that it is valid, not expired or revoked",
        );
    }
    response
}

fn refusal_response(refusal: Refusal) -> Response {
    match refusal {
        Refusal::BadRequest(message) => (StatusCode::BAD_REQUEST, message).into_response(),
        Refusal::Forbidden(message) => (StatusCode::FORBIDDEN, message).into_response(),
        Refusal::Unauthorized(message) => unauthorized(&message),
        Refusal::NotFound => (
            StatusCode::NOT_FOUND,
            "not found: MCP is served at /mcp, /mcp/readonly, /mcp/x/{toolsets} and /mcp/x/{toolsets}/readonly",
        )
            .into_response(),
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response = Response::new(Body::from(message.to_owned()));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static(WWW_AUTHENTICATE),
    );
    response
}

/// Liveness: the process answers.
async fn health() -> &'static str {
    "ok"
}

/// Readiness: not shutting down, and the log cache directory is usable.
/// The body is JSON with the state of each dependency. A shared part that
/// is down (object store, Redis) shows as `down` but keeps the answer 200:
/// calls still succeed without it, only slower.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let dir = state.core.logs().cache().dir().to_owned();
    let local_ok = matches!(tokio::fs::metadata(&dir).await, Ok(meta) if meta.is_dir());
    let fleet = state.core.fleet();
    // Redis is asked now (a PING), so a replica that has been idle through
    // an outage still reports it; the store's state is from its last use.
    fleet.ping_redis(READY_PING_LIMIT).await;
    let draining = state.draining.load(Ordering::Acquire);
    let mut dependencies = vec![serde_json::json!({
        "name": "log cache",
        "state": if local_ok { "up" } else { "down" },
        "dir": dir.display().to_string(),
    })];
    dependencies.extend(
        fleet
            .health()
            .into_iter()
            .filter_map(|report| serde_json::to_value(report).ok()),
    );
    let (status, verdict, reason) = if draining {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready",
            Some("shutting down".to_owned()),
        )
    } else if !local_ok {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready",
            Some(format!(
                "the log cache directory {} is missing",
                dir.display()
            )),
        )
    } else {
        (StatusCode::OK, "ready", None)
    };
    let mut body = serde_json::json!({ "status": verdict });
    if let Some(reason) = reason {
        body["reason"] = reason.into();
    }
    body["dependencies"] = dependencies.into();
    if let Some(shared) = state.core.logs().shared_report() {
        body["shared_cache"] = serde_json::json!({
            "hits": shared.hits,
            "misses": shared.misses,
            "rejected": shared.rejected,
            "published": shared.published,
            "waits": shared.waits,
        });
    }
    (status, axum::Json(body)).into_response()
}

/// Longest `/ready` waits for Redis.
const READY_PING_LIMIT: std::time::Duration = std::time::Duration::from_millis(500);

/// After in-flight calls end, how long open connections get to close.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until SIGTERM or SIGINT, then drains: the
/// tool calls that are running get `grace` to finish, then what stays open
/// by design (SSE streams, sessions) is ended, so an idle client does not
/// hold the shutdown up.
pub async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    router: Router,
    state: Arc<AppState>,
    core: Arc<Core>,
    streams: CancellationToken,
    grace: Duration,
) -> ExitCode {
    let draining = CancellationToken::new();
    tokio::spawn({
        let draining = draining.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight calls");
            state.start_draining();
            draining.cancel();
        }
    });
    let server = axum::serve(listener, router).with_graceful_shutdown({
        let draining = draining.clone();
        async move { draining.cancelled().await }
    });
    // On a signal: wait (within the grace period) for the tool calls that
    // are running, then end what stays open by design (SSE streams,
    // sessions), so an idle client does not hold the shutdown up.
    let drained = {
        let core = Arc::clone(&core);
        let streams = streams.clone();
        async move {
            draining.cancelled().await;
            if tokio::time::timeout(grace, core.calls_finished())
                .await
                .is_err()
            {
                tracing::warn!(
                    grace_s = grace.as_secs(),
                    running = core.calls_running(),
                    "calls still running after the grace period were stopped"
                );
            }
            streams.cancel();
            // Connections normally close at once; this bounds the wait.
            tokio::time::sleep(CLOSE_WAIT).await;
        }
    };
    let outcome = tokio::select! {
        outcome = server => outcome,
        () = drained => Ok(()),
    };
    streams.cancel();
    match outcome {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, "the HTTP server failed");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
