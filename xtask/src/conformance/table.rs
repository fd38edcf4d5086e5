//! The suite's scenarios and where each applies to bk-mcp ([`SCENARIOS`]),
//! and the single checks of applicable scenarios that are set aside
//! ([`EXCEPTIONS`]): not applicable, or known failures of the server.
//! `xtask/conformance/README.md` has both tables; a test checks that they
//! agree.

/// The servers the suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `bk-mcp-http` (the default: no sessions).
    Stateless,
    /// `bk-mcp-http --stateful`.
    Stateful,
    /// `bk-mcp-stdio`, through the bridge.
    Stdio,
}

impl Transport {
    pub(crate) const ALL: [Transport; 3] =
        [Transport::Stateless, Transport::Stateful, Transport::Stdio];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Transport::Stateless => "stateless HTTP",
            Transport::Stateful => "stateful HTTP",
            Transport::Stdio => "stdio",
        }
    }

    pub(crate) fn slug(self) -> &'static str {
        match self {
            Transport::Stateless => "stateless",
            Transport::Stateful => "stateful",
            Transport::Stdio => "stdio",
        }
    }
}

/// Which servers a scenario (or an exception) concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Stateless HTTP, stateful HTTP and stdio.
    All,
    /// Both HTTP servers: the scenario is about HTTP itself (status codes,
    /// headers, sessions, SSE), which over stdio would test the bridge.
    Http,
    /// Only stdio (through the bridge).
    Stdio,
    /// None.
    Nowhere,
}

impl Scope {
    pub(crate) fn covers(self, transport: Transport) -> bool {
        match self {
            Scope::All => true,
            Scope::Http => transport != Transport::Stdio,
            Scope::Stdio => transport == Transport::Stdio,
            Scope::Nowhere => false,
        }
    }

    /// The word in the README's tables.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Scope::All => "all",
            Scope::Http => "HTTP",
            Scope::Stdio => "stdio",
            Scope::Nowhere => "no",
        }
    }
}

/// One server scenario of the suite: where it applies to bk-mcp, and why
/// (or why not).
#[derive(Debug)]
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) scope: Scope,
    pub(crate) why: &'static str,
}

const fn all(name: &'static str, why: &'static str) -> Scenario {
    Scenario {
        name,
        scope: Scope::All,
        why,
    }
}

const fn http(name: &'static str, why: &'static str) -> Scenario {
    Scenario {
        name,
        scope: Scope::Http,
        why,
    }
}

const fn no(name: &'static str, why: &'static str) -> Scenario {
    Scenario {
        name,
        scope: Scope::Nowhere,
        why,
    }
}

/// What an exception says about a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The check does not apply (it needs a fixture, or over stdio it
    /// would test the bridge): its result is not judged.
    NotApplicable,
    /// A server bug, to be fixed: the check must fail (when it passes, the
    /// run fails until the entry is removed).
    KnownFailure,
}

/// A check of an applicable scenario that is not judged as the rest are.
#[derive(Debug)]
pub(crate) struct Exception {
    pub(crate) scenario: &'static str,
    /// The check id; a trailing `*` matches every id with that prefix.
    pub(crate) check: &'static str,
    pub(crate) scope: Scope,
    pub(crate) kind: Kind,
    pub(crate) why: &'static str,
}

impl Exception {
    pub(crate) fn matches(&self, scenario: &str, check: &str, transport: Transport) -> bool {
        let id_matches = match self.check.strip_suffix('*') {
            Some(prefix) => check.starts_with(prefix),
            None => check == self.check,
        };
        self.scenario == scenario && id_matches && self.scope.covers(transport)
    }
}

/// A check that needs one of the suite's fixture tools (on every server).
const fn fixture(scenario: &'static str, check: &'static str, why: &'static str) -> Exception {
    Exception {
        scenario,
        check,
        scope: Scope::All,
        kind: Kind::NotApplicable,
        why,
    }
}

/// A check of HTTP status codes or headers, which over stdio are the bridge's.
const fn bridged(scenario: &'static str, check: &'static str, why: &'static str) -> Exception {
    Exception {
        scenario,
        check,
        scope: Scope::Stdio,
        kind: Kind::NotApplicable,
        why,
    }
}

/// A check that fails for a known server bug, until its fix lands (none
/// now: the run fails when one starts passing, to keep this list honest).
#[allow(dead_code)]
const fn known(
    scenario: &'static str,
    check: &'static str,
    scope: Scope,
    why: &'static str,
) -> Exception {
    Exception {
        scenario,
        check,
        scope,
        kind: Kind::KnownFailure,
        why,
    }
}

/// Every server scenario of `@modelcontextprotocol/conformance`
/// 0.2.0-alpha.12, in the order `conformance list --server` prints them.
/// `xtask/conformance/README.md` has the same table (a test checks that
/// they agree); a run fails if the suite lists a scenario that is not here,
/// so an upgrade forces a decision.
pub(crate) const SCENARIOS: &[Scenario] = &[
    all(
        "server-initialize",
        "the initialize/initialized lifecycle every 2025-11-25 server has",
    ),
    http(
        "server-session-lifecycle",
        "Streamable HTTP sessions: initialized on the session, DELETE, then 404 (--stateful; stateless servers get an INFO)",
    ),
    all(
        "server-stateless",
        "2026-07-28 (SEP-2575): per-request _meta, server/discover, unsupported versions, removed and unknown methods",
    ),
    no(
        "logging-set-level",
        "needs the logging capability (logging/setLevel); bk-mcp logs to stderr and does not offer MCP logging",
    ),
    all("ping", "every 2025-11-25 server must answer ping"),
    no(
        "completion-complete",
        "needs the completions capability and the fixture prompt test_prompt_with_arguments; bk-mcp offers no completions",
    ),
    all(
        "tools-list",
        "every tool must have a valid name, a description and an object inputSchema",
    ),
    no(
        "tools-call-simple-text",
        "calls the fixture tool test_simple_text, which a real server does not have",
    ),
    no(
        "tools-call-image",
        "calls the fixture tool test_image_content; no bk-mcp tool returns images",
    ),
    no(
        "tools-call-audio",
        "calls the fixture tool test_audio_content; no bk-mcp tool returns audio",
    ),
    no(
        "tools-call-embedded-resource",
        "calls the fixture tool test_embedded_resource, which a real server does not have",
    ),
    no(
        "tools-call-mixed-content",
        "calls the fixture tool test_multiple_content_types, which a real server does not have",
    ),
    no(
        "tools-call-with-logging",
        "needs MCP logging and the fixture tool test_tool_with_logging",
    ),
    no(
        "tools-call-error",
        "calls the fixture tool test_error_handling (bk-mcp does answer tool failures as isError results, the shape it checks)",
    ),
    no(
        "tools-call-with-progress",
        "calls the fixture tool test_tool_with_progress (bk-mcp's progress forwarding is covered by the crate tests)",
    ),
    no(
        "tools-call-sampling",
        "needs the fixture tool test_sampling; bk-mcp never asks the client for sampling",
    ),
    no(
        "tools-call-elicitation",
        "needs the fixture tool test_elicitation; bk-mcp elicits only to confirm its destructive tools (crate tests)",
    ),
    no(
        "json-schema-2020-12",
        "calls the fixture tool json_schema_2020_12_tool",
    ),
    no(
        "elicitation-sep1034-defaults",
        "needs the fixture tool test_elicitation_sep1034_defaults",
    ),
    no(
        "server-sse-polling",
        "needs the fixture tool test_reconnection, which drops its SSE stream mid-call",
    ),
    http(
        "server-sse-multiple-streams",
        "concurrent POSTs on one session (SEP-1699): generic Streamable HTTP; only a warning without sessions",
    ),
    no(
        "elicitation-sep1330-enums",
        "needs the fixture tool test_elicitation_sep1330_enums",
    ),
    all(
        "resources-list",
        "bk-mcp lists a resource (buildkite://debug-logs-guide), which must have a uri and a name",
    ),
    no(
        "resources-read-text",
        "reads the fixture resource test://static-text",
    ),
    no(
        "resources-read-binary",
        "reads the fixture resource test://static-binary",
    ),
    no(
        "resources-templates-read",
        "reads the fixture template test://template/{id}/data; bk-mcp has no resource templates",
    ),
    no(
        "resources-subscribe",
        "needs resource subscriptions (test://watched-resource); bk-mcp offers none",
    ),
    no(
        "resources-unsubscribe",
        "needs resource subscriptions (test://watched-resource); bk-mcp offers none",
    ),
    all(
        "sep-2164-resource-not-found",
        "reading a resource that does not exist: -32602 with the uri, never empty contents",
    ),
    all(
        "sep-2640-skills-directory",
        "the skills extension (SEP-2640); bk-mcp does not declare directoryRead, so its checks are skipped",
    ),
    all(
        "sep-2640-skills-enumeration",
        "skills/list and each skill's SKILL.md (SEP-2640)",
    ),
    all(
        "sep-2640-skills-manifest",
        "each SKILL.md's URI, mimeType and frontmatter (SEP-2640)",
    ),
    all(
        "prompts-list",
        "bk-mcp lists two prompts, which must have a name and a description",
    ),
    no(
        "prompts-get-simple",
        "gets the fixture prompt test_simple_prompt",
    ),
    no(
        "prompts-get-with-args",
        "gets the fixture prompt test_prompt_with_arguments",
    ),
    no(
        "prompts-get-embedded-resource",
        "gets the fixture prompt test_prompt_with_embedded_resource",
    ),
    no(
        "prompts-get-with-image",
        "gets the fixture prompt test_prompt_with_image",
    ),
    http(
        "dns-rebinding-protection",
        "a loopback server must refuse a foreign Host/Origin (4xx) and accept its own (2xx)",
    ),
    all(
        "caching",
        "SEP-2549: the list results and resources/read carry ttlMs and cacheScope",
    ),
    http(
        "http-header-validation",
        "SEP-2243: Mcp-Method and Mcp-Name must match the body, else -32020",
    ),
    http(
        "http-custom-header-server-validation",
        "SEP-2243: Mcp-Param-* headers (org_slug, pipeline_slug are marked x-mcp-header) must match the arguments",
    ),
    no(
        "tasks-lifecycle",
        "every check drives the fixture tools greet, slow_compute, failing_job and protocol_error_job; the clients drive wait_for_build as a task instead",
    ),
    all(
        "tasks-capability-negotiation",
        "the tasks extension is declared under extensions, and tasks/* answer -32021 to a client that did not declare it",
    ),
    no(
        "tasks-wire-fields",
        "every check needs a task of the fixture tool slow_compute",
    ),
    no(
        "tasks-request-state-removal",
        "needs a task of the fixture tool slow_compute",
    ),
    no(
        "tasks-mrtr-input",
        "needs the fixture tools confirm_delete and multi_input (tasks that ask for input)",
    ),
    http(
        "tasks-request-headers",
        "SEP-2243 headers on tasks requests: a Mcp-Method that disagrees with the body is refused",
    ),
    all(
        "tasks-dispatch-and-envelope",
        "tasks/result and tasks/list are gone (-32601), and tasks/get of an unknown id is -32602",
    ),
    no(
        "tasks-status-notifications",
        "the suite skips it (its harness awaits subscriptions/listen); bk-mcp sends no task status notifications",
    ),
    no(
        "tasks-required-task-error",
        "needs the fixture tool failing_job, which requires a task; wait_for_build works with or without one",
    ),
    no(
        "tasks-mrtr-composition",
        "needs the fixture tool test_tool_with_task",
    ),
    no(
        "input-required-result-basic-elicitation",
        "needs the fixture tool test_input_required_result_elicitation (bk-mcp's confirmations are covered by the crate tests)",
    ),
    no(
        "input-required-result-basic-sampling",
        "needs the fixture tool test_input_required_result_sampling; bk-mcp never samples",
    ),
    no(
        "input-required-result-basic-list-roots",
        "needs the fixture tool test_input_required_result_list_roots; bk-mcp never asks for roots",
    ),
    no(
        "input-required-result-request-state",
        "needs the fixture tool test_input_required_result_request_state",
    ),
    no(
        "input-required-result-multiple-input-requests",
        "needs the fixture tool test_input_required_result_multiple_inputs",
    ),
    no(
        "input-required-result-multi-round",
        "needs the fixture tool test_input_required_result_multi_round",
    ),
    no(
        "input-required-result-missing-input-response",
        "needs the fixture tool test_input_required_result_elicitation (only warns without it)",
    ),
    no(
        "input-required-result-non-tool-request",
        "needs the fixture prompt test_input_required_result_prompt",
    ),
    no(
        "input-required-result-result-type",
        "needs the fixture tool test_input_required_result_elicitation",
    ),
    all(
        "input-required-result-unsupported-methods",
        "tools/list and prompts/list must never answer input_required",
    ),
    no(
        "input-required-result-tampered-state",
        "needs the fixture tool test_input_required_result_tampered_state (bk-mcp's sealed state is covered by the crate tests)",
    ),
    no(
        "input-required-result-capability-check",
        "needs the fixture tool test_input_required_result_capabilities",
    ),
    no(
        "input-required-result-ignore-extra-params",
        "needs the fixture tool test_input_required_result_elicitation (only warns without it)",
    ),
    no(
        "input-required-result-validate-input",
        "needs the fixture tool test_input_required_result_elicitation (only warns without it)",
    ),
];

/// Checks of applicable scenarios that are not judged as the rest are.
/// `xtask/conformance/README.md` lists them too.
pub(crate) const EXCEPTIONS: &[Exception] = &[
    bridged(
        "server-initialize",
        "server-session-id-visible-ascii",
        "over stdio the session id is the bridge's",
    ),
    fixture(
        "server-stateless",
        "sep-2575-server-rejects-undeclared-capability",
        "probes with the fixture tool test_missing_capability",
    ),
    fixture(
        "server-stateless",
        "sep-2575-missing-capability-http-400",
        "probes with the fixture tool test_missing_capability",
    ),
    fixture(
        "server-stateless",
        "sep-2575-http-server-no-independent-requests-on-stream",
        "calls the fixture tool test_streaming_elicitation",
    ),
    fixture(
        "server-stateless",
        "sep-2575-server-no-log-without-loglevel",
        "calls the fixture tool test_logging_tool",
    ),
    bridged(
        "server-stateless",
        "sep-2575-http-server-*",
        "HTTP status codes, which over stdio are the bridge's",
    ),
    fixture(
        "tasks-capability-negotiation",
        "sep-2663-server-rejects-undeclared-client",
        "calls the fixture tool slow_compute",
    ),
    fixture(
        "tasks-capability-negotiation",
        "tasks-per-request-meta-opt-in",
        "calls the fixture tool slow_compute",
    ),
    fixture(
        "tasks-request-headers",
        "tasks-headers-tolerate-mcp-method-on-tools-call",
        "calls the fixture tool greet",
    ),
    fixture(
        "tasks-request-headers",
        "sep-2663-routing-headers-accepted-on-tasks-get",
        "needs a task of the fixture tool slow_compute",
    ),
    fixture(
        "tasks-request-headers",
        "sep-2663-server-rejects-mismatched-mcp-name-on-tasks-get",
        "needs the slow_compute task of the check before",
    ),
    fixture(
        "tasks-dispatch-and-envelope",
        "tasks-server-directed-creation-no-hint",
        "calls the fixture tool failing_job",
    ),
    fixture(
        "tasks-dispatch-and-envelope",
        "sep-2663-legacy-task-param-ignored",
        "calls the fixture tool greet",
    ),
    fixture(
        "tasks-dispatch-and-envelope",
        "tasks-immediate-result-shortcut",
        "calls the fixture tool slow_compute",
    ),
    fixture(
        "tasks-dispatch-and-envelope",
        "tasks-result-type-complete-on-non-task-responses",
        "calls the fixture tool greet",
    ),
    fixture(
        "tasks-dispatch-and-envelope",
        "sep-2663-durable-create-strong-consistency",
        "calls the fixture tool slow_compute",
    ),
];

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_tables_are_consistent_and_match_the_readme() {
        let applicable: Vec<&str> = SCENARIOS
            .iter()
            .filter(|s| s.scope != Scope::Nowhere)
            .map(|s| s.name)
            .collect();
        assert_eq!(applicable.len(), 20, "{applicable:?}");
        assert_eq!(SCENARIOS.len(), 65);
        let readme = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/README.md"),
        )
        .unwrap();
        for scenario in SCENARIOS {
            assert_eq!(
                SCENARIOS.iter().filter(|s| s.name == scenario.name).count(),
                1,
                "{} twice",
                scenario.name
            );
            assert_ne!(scenario.scope, Scope::Stdio, "{}", scenario.name);
            let row = format!("| `{}` | {} |", scenario.name, scenario.scope.word());
            assert!(readme.contains(&row), "README.md lacks the row {row:?}");
        }
        for exception in EXCEPTIONS {
            let scenario = SCENARIOS
                .iter()
                .find(|s| s.name == exception.scenario)
                .unwrap_or_else(|| panic!("{} is not in SCENARIOS", exception.scenario));
            assert!(
                Transport::ALL
                    .iter()
                    .any(|&t| scenario.scope.covers(t) && exception.scope.covers(t)),
                "{} / {} concerns no server the scenario runs on",
                exception.scenario,
                exception.check
            );
            let kind = match exception.kind {
                Kind::NotApplicable => "n/a",
                Kind::KnownFailure => "known failure",
            };
            let row = format!(
                "| `{}` | `{}` | {} | {kind} |",
                exception.scenario,
                exception.check,
                exception.scope.word()
            );
            assert!(readme.contains(&row), "README.md lacks the row {row:?}");
        }
    }

    #[test]
    fn exceptions_match_by_id_prefix_and_server() {
        let bridged = &EXCEPTIONS
            .iter()
            .find(|e| e.check == "sep-2575-http-server-*")
            .unwrap();
        let id = "sep-2575-http-server-meta-invalid-400";
        assert!(bridged.matches("server-stateless", id, Transport::Stdio));
        assert!(!bridged.matches("server-stateless", id, Transport::Stateless));
        assert!(!bridged.matches(
            "server-stateless",
            "sep-2575-server-implements-discover",
            Transport::Stdio
        ));
        assert!(!bridged.matches("caching", id, Transport::Stdio));
        // A known failure matches on its servers only (none is known now).
        let known = known(
            "server-stateless",
            "sep-2575-http-server-method-not-found-404-initialize",
            Scope::Http,
            "an example",
        );
        assert!(known.matches("server-stateless", known.check, Transport::Stateful));
        assert!(!known.matches("server-stateless", known.check, Transport::Stdio));
    }
}
