//! The rmcp [`ServerHandler`] over the bk-tools registry.
//!
//! One [`Core`] (registry, operator selection, API client, log engine,
//! limits) is built at startup and shared by every request. The tool list
//! is converted to rmcp's types once; a request only filters it. A transport
//! that serves many callers (HTTP) narrows each request with a
//! [`RequestScope`] in the request's extensions; without one (stdio) the
//! operator's selection and client apply.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bk_tools::{Selection, ToolContext, Toolset};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ContentBlock,
    CustomRequest, CustomResult, GetPromptRequestParams, GetPromptResponse, GetPromptResult,
    GetSkillRequestParams, GetSkillResult, GetTaskParams, GetTaskResult, Implementation,
    InitializeRequestParams, InitializeResult, ListPromptsResult, ListResourcesResult,
    ListSkillsResult, ListToolsResult, PaginatedRequestParams, Prompt, PromptMessage,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, Role, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::identity::SERVER_NAME;
use crate::progress::ProgressForwarder;
pub use crate::server_core::{Core, DEFAULT_CALL_TIMEOUT};

/// How long `tasks/get` waits for a build before answering "working".
const TASK_LOOK: Duration = Duration::from_secs(2);

/// How one request is narrowed, set by the transport in the HTTP request's
/// extensions. Absent (stdio), the operator's selection and client apply.
#[derive(Debug, Clone)]
pub struct RequestScope {
    /// The selection for this request: already narrowed, never wider than
    /// the operator's.
    pub selection: Selection,
    /// The client acting with this caller's credentials, if the caller
    /// brought its own (passthrough).
    pub client: Option<buildkite_api::Client>,
}

/// Set when a call of this request was refused with HTTP 401 by Buildkite,
/// so the HTTP transport can answer 401 itself.
#[derive(Debug, Clone, Default)]
pub struct UnauthorizedFlag(Arc<AtomicBool>);

impl UnauthorizedFlag {
    /// A fresh, unset flag.
    pub fn new() -> Self {
        UnauthorizedFlag::default()
    }

    /// Whether a call was refused with 401.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The MCP server: cheap to clone (two `Arc`s), so a transport may make one
/// per request.
#[derive(Debug, Clone)]
pub struct McpServer {
    core: Arc<Core>,
    /// The operator's `initialize` answer, built once: rmcp asks for it on
    /// every stateless request.
    info: Arc<ServerConfig>,
}

impl McpServer {
    /// A server over a core.
    pub fn new(core: Arc<Core>) -> Self {
        let info = Arc::new(server_info(&core, &core.selection));
        McpServer { core, info }
    }

    /// The shared core.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    fn http_parts(ctx: &RequestContext<RoleServer>) -> Option<&http::request::Parts> {
        ctx.extensions.get::<http::request::Parts>()
    }

    /// The state of a task id this caller may poll.
    fn open_task(
        &self,
        task_id: &str,
        client: &buildkite_api::Client,
        now: std::time::SystemTime,
    ) -> Result<crate::tasks::TaskState, ErrorData> {
        crate::tasks::open(&self.core.confirmation.key, client, task_id, now).map_err(|error| {
            ErrorData::invalid_params(
                format!("no such task for this caller: {error}; start one with tools/call wait_for_build"),
                Some(serde_json::json!({"taskId": crate::malformed::excerpt(task_id)})),
            )
        })
    }

    /// Reads a `buildkite://` link a tool result gave (a whole log, an
    /// artifact) with the caller's own client, if the tool that reads it is
    /// enabled for the caller.
    async fn read_link(
        &self,
        uri: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<ReadResourceResult, ErrorData> {
        let (selection, client) = self.scope(context);
        let tool = if uri.starts_with("buildkite://logs/") {
            "read_logs"
        } else {
            "get_artifact"
        };
        let enabled = self
            .core
            .registry
            .get(tool)
            .is_some_and(|t| selection.includes(t.as_ref()));
        let refused = |why: String| {
            ErrorData::resource_not_found(
                why,
                Some(serde_json::json!({"uri": crate::malformed::excerpt(uri)})),
            )
        };
        if !enabled {
            return Err(refused(format!(
                "{tool} is not enabled for this caller, so its content cannot be read"
            )));
        }
        if !client.has_token() && !client.is_replaying() {
            return Err(refused(no_token_message()));
        }
        let ctx = ToolContext {
            client: client.for_call(tool),
            logs: Arc::clone(&self.core.logs),
            limits: self.core.limits,
            progress: None,
            cancel: context.ct.child_token(),
        };
        match bk_tools::links::read(&ctx, uri).await {
            Some(Ok(bk_tools::links::LinkContent::Text { text, mime_type })) => {
                Ok(ReadResourceResult::new(vec![
                    ResourceContents::text(text, uri).with_mime_type(mime_type),
                ]))
            }
            Some(Ok(bk_tools::links::LinkContent::Bytes { bytes, mime_type })) => {
                use base64::Engine as _;
                let blob = base64::engine::general_purpose::STANDARD.encode(bytes);
                Ok(ReadResourceResult::new(vec![
                    ResourceContents::blob(blob, uri).with_mime_type(mime_type),
                ]))
            }
            Some(Err(error)) => Err(refused(format!(
                "could not read {}: {error}",
                crate::malformed::excerpt(uri)
            ))),
            None => Err(refused(format!(
                "no resource {:?}",
                crate::malformed::excerpt(uri)
            ))),
        }
    }

    /// The selection and client for a request.
    fn scope(&self, ctx: &RequestContext<RoleServer>) -> (Selection, buildkite_api::Client) {
        match Self::http_parts(ctx).and_then(|p| p.extensions.get::<RequestScope>()) {
            Some(scope) => (
                scope.selection.clone(),
                scope
                    .client
                    .clone()
                    .unwrap_or_else(|| self.core.client.clone()),
            ),
            None => (self.core.selection.clone(), self.core.client.clone()),
        }
    }
}

/// The `initialize` answer for a selection.
fn server_info(core: &Core, selection: &Selection) -> ServerConfig {
    ServerConfig::new(
        ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .enable_skills()
            .enable_tasks()
            .build(),
    )
    .with_server_info(
        Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION"))
            .with_title("Buildkite MCP server"),
    )
    .with_instructions(core.registry.instructions(selection))
}

/// What a user of this server can do when its recording lacks a call.
const REPLAY_HINT: &str = " This server replays a recording (--replay, or --demo's bundled one): for --demo, the recorded calls are in examples/demo/tour.json of the bk-mcp repository (e.g. get_build_failure_summary on acme/web/1234); or run against the live API with a token.";

/// The result of a call cut off by the server's time limit.
fn timed_out(limit: Duration) -> bk_tools::CallResult {
    bk_tools::CallResult {
        text: format!(
            "the call did not finish within {} s, the server's time limit per call, and was stopped; ask for less (a smaller page, a narrower search) or retry",
            limit.as_secs()
        ),
        is_error: true,
        unauthorized: false,
        api_requests: 0,
        replay_miss: false,
        links: Vec::new(),
    }
}

/// The error text for a call made without any token (a server with
/// Authorization passthrough refuses such requests before this).
fn no_token_message() -> String {
    "no Buildkite API token is configured on this server: set BUILDKITE_API_TOKEN (or --api-token, or --api-token-from-1password) where the server runs, restart it, then retry. Tools that need no token (list_skills, load_skill) work meanwhile.".to_owned()
}

/// A shaped call result as MCP's: its text, then a link for each piece of
/// content it names rather than inlines.
fn to_call_tool_result(text: String, result: &bk_tools::CallResult) -> CallToolResult {
    let mut content = vec![ContentBlock::text(text)];
    content.extend(result.links.iter().map(|link| {
        let mut resource = Resource::new(link.uri.clone(), link.name.clone());
        if let Some(mime_type) = &link.mime_type {
            resource = resource.with_mime_type(mime_type.clone());
        }
        if let Some(size) = link.size {
            resource = resource.with_size(size);
        }
        ContentBlock::resource_link(resource)
    }));
    if result.is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        (*self.info).clone()
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        let span = crate::telemetry::request_span("initialize", None, &context);
        let mut result = match self.negotiate_initialize(&request) {
            Ok(result) => result,
            Err(error) => return crate::telemetry::finish(&span, Err(error)),
        };
        // The instructions name only the tools this caller can use.
        let (selection, _) = self.scope(&context);
        if selection != self.core.selection {
            result.instructions = Some(self.core.registry.instructions(&selection));
        }
        crate::telemetry::finish(&span, Ok(result))
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let era_2026 = context
            .protocol_version()
            .is_some_and(|v| v.as_str() >= rmcp::model::ProtocolVersion::V_2026_07_28.as_str());
        Err(crate::malformed::unmatched_request(&request, era_2026))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let span = crate::telemetry::request_span("tools/list", None, &context);
        let (selection, _) = self.scope(&context);
        let routed = crate::routing::client_sends_headers(Self::http_parts(&context));
        let tools = self
            .core
            .listed
            .iter()
            .filter(|listed| selection.includes(listed.tool.as_ref()))
            .map(|listed| {
                if routed {
                    listed.routed.clone()
                } else {
                    listed.plain.clone()
                }
            })
            .collect();
        crate::telemetry::finish(&span, Ok(ListToolsResult::with_all_items(tools)))
    }

    /// The tool with its routing headers: rmcp checks a 2026-07-28
    /// client's `Mcp-Param-*` headers against the call's arguments with it.
    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.core
            .listed
            .iter()
            .find(|listed| listed.tool.meta().name == name)
            .map(|listed| listed.routed.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.as_ref();
        let span = crate::telemetry::request_span("tools/call", Some(name), &context);
        let (selection, client) = self.scope(&context);
        let Some(tool) = self.core.registry.get(name) else {
            return crate::telemetry::finish(
                &span,
                Err(ErrorData::invalid_params(
                    format!(
                        "unknown tool {name:?}: call tools/list for the tools this server offers"
                    ),
                    None,
                )),
            );
        };
        if !selection.includes(tool.as_ref()) {
            let why = if selection.read_only && tool.meta().access != bk_tools::Access::Read {
                "it changes things and this server (or this request) is read-only"
            } else {
                "its toolset or name is not enabled on this server (or for this request)"
            };
            return crate::telemetry::finish(
                &span,
                Err(ErrorData::invalid_params(
                    format!(
                        "tool {name:?} is not available: {why}; call tools/list for the tools you can use"
                    ),
                    None,
                )),
            );
        }
        let needs_api = tool.meta().toolset != Toolset::Skills;
        if needs_api && !client.has_token() && !client.is_replaying() {
            tracing::warn!(tool = name, "tool call without an API token");
            return crate::telemetry::finish(
                &span,
                Ok(CallToolResult::error(vec![ContentBlock::text(no_token_message())]).into()),
            );
        }

        match crate::confirm::check(&self.core.confirmation, &request, &context, &client).await {
            crate::confirm::Decision::Proceed => {}
            crate::confirm::Decision::Ask(input) => {
                return crate::telemetry::finish(&span, Ok(input.into()));
            }
            crate::confirm::Decision::Refuse(why) => {
                return crate::telemetry::finish(
                    &span,
                    Ok(CallToolResult::error(vec![ContentBlock::text(why)]).into()),
                );
            }
        }

        if crate::tasks::offered(name, &context) {
            let arguments = request.arguments.clone().unwrap_or_default();
            let created = crate::tasks::create(
                &self.core.confirmation.key,
                &client,
                &arguments,
                std::time::SystemTime::now(),
            );
            return crate::telemetry::finish(
                &span,
                match created {
                    Ok(task) => Ok(CallToolResponse::Task(task)),
                    Err(error) => Err(ErrorData::internal_error(
                        format!("could not start the task: {error}"),
                        None,
                    )),
                },
            );
        }

        let started = Instant::now();
        let forwarder = ProgressForwarder::for_request(&context);
        // The call's own client: it counts the call's API requests, even
        // when the time limit cuts the call short. Sessions sharing one
        // token still get fair shares of the organization's rate limit.
        // Pacing to the rate limit stops short of the call's time limit,
        // leaving a tenth of it to answer with what was read.
        let mut client = match self.core.call_timeout {
            Some(limit) => client.for_call_until(name, started + limit - limit / 10),
            None => client.for_call(name),
        };
        if let Some(session) = Self::http_parts(&context)
            .and_then(|parts| parts.headers.get("mcp-session-id"))
            .and_then(|value| value.to_str().ok())
        {
            client = client.for_caller(session);
        }
        let counted = client.clone();
        let tool_ctx = ToolContext {
            client,
            logs: Arc::clone(&self.core.logs),
            limits: self.core.limits,
            progress: forwarder.as_ref().map(|f| f.sink()),
            cancel: context.ct.child_token(),
        };
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        let cancel = tool_ctx.cancel.clone();
        let call = async {
            // Looked up and checked against the selection above: run it.
            let call = bk_tools::call_tool(tool.as_ref(), &tool_ctx, arguments);
            match self.core.call_timeout {
                Some(limit) => tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
                    cancel.cancel();
                    timed_out(limit)
                }),
                None => call.await,
            }
        };
        // The tool runs in the request's span: its API calls are children.
        let call = tracing::Instrument::instrument(call, span.clone());
        let call = self.core.calls.track_future(call);
        let result = match forwarder {
            Some(forwarder) => forwarder.drive(call).await,
            None => call.await,
        };
        let _entered = span.enter();

        if result.unauthorized {
            tracing::warn!(tool = name, "Buildkite refused the API token (HTTP 401)");
            if let Some(flag) =
                Self::http_parts(&context).and_then(|p| p.extensions.get::<UnauthorizedFlag>())
            {
                flag.set();
            }
        }
        let api_requests = counted.requests_sent();
        span.record("api.requests", api_requests);
        tracing::debug!(
            tool = name,
            is_error = result.is_error,
            bytes = result.text.len(),
            api_requests,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "tool call finished"
        );
        let mut text = result.text.clone();
        if result.replay_miss {
            text.push_str(REPLAY_HINT);
        }
        crate::telemetry::finish(&span, Ok(to_call_tool_result(text, &result).into()))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let span = crate::telemetry::request_span("prompts/list", None, &context);
        let prompts = bk_tools::PROMPTS
            .iter()
            .map(|p| Prompt::new(p.name, Some(p.description), None))
            .collect();
        crate::telemetry::finish(&span, Ok(ListPromptsResult::with_all_items(prompts)))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let span = crate::telemetry::request_span("prompts/get", None, &context);
        let Some(prompt) = bk_tools::PROMPTS.iter().find(|p| p.name == request.name) else {
            let names: Vec<_> = bk_tools::PROMPTS.iter().map(|p| p.name).collect();
            return crate::telemetry::finish(
                &span,
                Err(ErrorData::invalid_params(
                    format!(
                        "unknown prompt {:?}; prompts: {}",
                        request.name,
                        names.join(", ")
                    ),
                    None,
                )),
            );
        };
        crate::telemetry::finish(
            &span,
            Ok(
                GetPromptResult::new(vec![PromptMessage::new_text(Role::User, prompt.text)])
                    .with_description(prompt.description)
                    .into(),
            ),
        )
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let span = crate::telemetry::request_span("tasks/get", None, &context);
        let (selection, client) = self.scope(&context);
        let now = std::time::SystemTime::now();
        let state = match self.open_task(&request.task_id, &client, now) {
            Ok(state) => state,
            Err(error) => return crate::telemetry::finish(&span, Err(error)),
        };
        if self.core.cancelled_tasks.contains_key(&request.task_id) {
            let detail = crate::tasks::cancelled(&request.task_id, &state, now);
            return crate::telemetry::finish(&span, Ok(GetTaskResult::new(detail)));
        }
        let Some(tool) = self
            .core
            .registry
            .get(crate::tasks::TASK_TOOL)
            .filter(|tool| selection.includes(tool.as_ref()))
        else {
            return crate::telemetry::finish(
                &span,
                Err(ErrorData::invalid_params(
                    "wait_for_build is not enabled for this request, so its task cannot be polled",
                    None,
                )),
            );
        };
        // One look at the build: the wait is a few seconds, not a call's.
        let mut limits = self.core.limits;
        limits.wait_for_build_timeout = TASK_LOOK;
        let tool_ctx = ToolContext {
            client: client.for_call(crate::tasks::TASK_TOOL),
            logs: Arc::clone(&self.core.logs),
            limits,
            progress: None,
            cancel: context.ct.child_token(),
        };
        let arguments = serde_json::Value::Object(state.arguments.clone());
        let result = bk_tools::call_tool(tool.as_ref(), &tool_ctx, arguments).await;
        let result = to_call_tool_result(result.text.clone(), &result);
        let detail = crate::tasks::detail(&request.task_id, &state, result, now);
        crate::telemetry::finish(&span, Ok(GetTaskResult::new(detail)))
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let span = crate::telemetry::request_span("tasks/cancel", None, &context);
        let (_, client) = self.scope(&context);
        let opened = self.open_task(&request.task_id, &client, std::time::SystemTime::now());
        let result = opened.map(|_| {
            self.core
                .cancelled_tasks
                .insert(request.task_id.clone(), ())
        });
        crate::telemetry::finish(&span, result)
    }

    async fn list_skills(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListSkillsResult, ErrorData> {
        let span = crate::telemetry::request_span("skills/list", None, &context);
        crate::telemetry::finish(
            &span,
            Ok(ListSkillsResult::with_all_items(crate::skills::list())),
        )
    }

    async fn get_skill(
        &self,
        request: GetSkillRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetSkillResult, ErrorData> {
        let span = crate::telemetry::request_span("skills/get", None, &context);
        let result = match crate::skills::get(&request.uri) {
            Some(skill) => Ok(GetSkillResult::new(skill)),
            None => Err(ErrorData::invalid_params(
                format!(
                    "no skill at {:?}; skills/list gives the ones this server has",
                    crate::malformed::excerpt(&request.uri)
                ),
                None,
            )),
        };
        crate::telemetry::finish(&span, result)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let span = crate::telemetry::request_span("resources/list", None, &context);
        let resources = bk_tools::RESOURCES
            .iter()
            .map(|r| {
                Resource::new(r.uri, r.name)
                    .with_description(r.description)
                    .with_mime_type(r.mime_type)
            })
            .collect();
        crate::telemetry::finish(&span, Ok(ListResourcesResult::with_all_items(resources)))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let span = crate::telemetry::request_span("resources/read", None, &context);
        if bk_tools::links::is_link(&request.uri) {
            let result = self.read_link(&request.uri, &context).await;
            return crate::telemetry::finish(&span, result.map(Into::into));
        }
        if let Some(text) = crate::skills::read(&request.uri) {
            return crate::telemetry::finish(
                &span,
                Ok(ReadResourceResult::new(vec![
                    ResourceContents::text(text, request.uri.clone())
                        .with_mime_type("text/markdown"),
                ])
                .into()),
            );
        }
        let Some(resource) = bk_tools::RESOURCES.iter().find(|r| r.uri == request.uri) else {
            return crate::telemetry::finish(
                &span,
                Err(ErrorData::resource_not_found(
                    format!(
                        "no resource {:?}; call resources/list for the ones this server has",
                        crate::malformed::excerpt(&request.uri)
                    ),
                    Some(serde_json::json!({"uri": crate::malformed::excerpt(&request.uri)})),
                )),
            );
        };
        crate::telemetry::finish(
            &span,
            Ok(ReadResourceResult::new(vec![
                ResourceContents::text(resource.text, resource.uri)
                    .with_mime_type(resource.mime_type),
            ])
            .into()),
        )
    }
}
