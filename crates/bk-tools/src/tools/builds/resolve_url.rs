//! `resolve_url`: turns a Buildkite web or API URL into the slugs, numbers
//! and ids the other tools take, with the tool call to make next. No API
//! call is made.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use crate::args::NonEmpty;
use crate::error::ToolError;
use crate::shape::ToolOutput;
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::toolset::Toolset;

/// The URL forms understood, for the error message.
const FORMS: &str = "https://buildkite.com/<org>, https://buildkite.com/<org>/<pipeline>, https://buildkite.com/<org>/<pipeline>/builds/<number>, a job as https://buildkite.com/<org>/<pipeline>/builds/<number>#<job-id> or …/builds/<number>/jobs/<job-id> (or ?jid=<job-id>), https://buildkite.com/organizations/<org>/analytics/suites/<suite>[/runs/<run-id> | /tests/<test-id>], https://buildkite.com/organizations/<org>/agents/<agent-id>, https://buildkite.com/organizations/<org>/clusters/<cluster-id>[/queues/<queue-id>], and the same resources as API URLs (https://api.buildkite.com/v2/organizations/<org>/pipelines/<pipeline>/builds/<number>/jobs/<job-id>, https://api.buildkite.com/v2/analytics/organizations/<org>/suites/<suite>/runs/<run-id>, …)";

/// First path segments of buildkite.com that are pages, not organizations.
const RESERVED: &[&str] = &[
    "about",
    "blog",
    "careers",
    "changelog",
    "dashboard",
    "docs",
    "home",
    "legal",
    "login",
    "logout",
    "pricing",
    "sessions",
    "signup",
    "support",
    "user",
];

/// What a URL points at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Resolved {
    /// organization, pipeline, build, job, step_upload, test_suite,
    /// test_run, test, agent, cluster, cluster_queue or test_engine_build.
    pub kind: &'static str,
    pub org_slug: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_slug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_suite_slug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// A branch named in the URL's query (`?branch=main`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// Whether `text` is shaped like a UUID (8-4-4-4-12 hex digits).
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Whether `text` is a build number.
fn is_number(text: &str) -> bool {
    !text.is_empty() && text.len() <= 19 && text.chars().all(|c| c.is_ascii_digit())
}

/// A job id at the start of a fragment such as `#<uuid>` or `#<uuid>/L12`.
fn job_in_fragment(fragment: &str) -> Option<String> {
    let candidate = fragment
        .trim_start_matches('/')
        .split(['/', '?', '&', ':'])
        .next()?;
    let candidate = candidate.strip_prefix("job-").unwrap_or(candidate);
    is_uuid(candidate).then(|| candidate.to_ascii_lowercase())
}

/// Parses a Buildkite URL. The error says what was wrong (without the list
/// of forms).
pub(crate) fn parse_url(input: &str) -> Result<Resolved, String> {
    let text = input
        .trim()
        .trim_matches(|c| matches!(c, '<' | '>' | '"' | '\'' | '`'));
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("https://{text}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("{text:?} is not a web URL"));
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let query = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .filter(|value| !value.is_empty())
    };
    match host {
        "api.buildkite.com" => parse_api(&segments),
        "buildkite.com" => {
            let mut resolved = parse_web(&segments)?;
            if resolved.kind == "build" {
                let job = query("jid")
                    .filter(|j| is_uuid(j))
                    .or_else(|| url.fragment().and_then(job_in_fragment));
                if let Some(job) = job {
                    resolved.kind = "job";
                    resolved.job_id = Some(job);
                }
            }
            if resolved.kind == "pipeline" {
                resolved.branch = query("branch");
            }
            Ok(resolved)
        }
        "" => Err(format!("{text:?} has no host")),
        other => Err(format!(
            "{other} is not a Buildkite host (buildkite.com or api.buildkite.com)"
        )),
    }
}

fn org(kind: &'static str, org: &str) -> Resolved {
    Resolved {
        kind,
        org_slug: org.to_owned(),
        ..Resolved::default()
    }
}

/// `buildkite.com/…` paths.
fn parse_web(segments: &[&str]) -> Result<Resolved, String> {
    match segments {
        [] => Err("the URL names no organization".into()),
        ["organizations"] => Err("the URL names no organization".into()),
        ["organizations", slug, rest @ ..] => Ok(org_scoped_web(slug, rest)),
        [first, ..] if RESERVED.contains(&first.to_ascii_lowercase().as_str()) => Err(format!(
            "buildkite.com/{first} is a Buildkite page, not an organization, pipeline or build"
        )),
        [slug] => Ok(org("organization", slug)),
        [slug, pipeline, rest @ ..] => {
            let mut resolved = org("pipeline", slug);
            resolved.pipeline_slug = Some((*pipeline).to_owned());
            if let ["builds", number, rest @ ..] = rest
                && is_number(number)
            {
                resolved.kind = "build";
                resolved.build_number = Some((*number).to_owned());
                if let ["jobs", job, ..] = rest
                    && is_uuid(job)
                {
                    resolved.kind = "job";
                    resolved.job_id = Some(job.to_ascii_lowercase());
                }
            }
            Ok(resolved)
        }
    }
}

/// `buildkite.com/organizations/<org>/…` paths: Test Engine, agents and
/// clusters. Anything else there is the organization.
fn org_scoped_web(slug: &str, rest: &[&str]) -> Resolved {
    let rest = match rest {
        ["analytics" | "test-engine" | "test_analytics", rest @ ..] => rest,
        other => other,
    };
    match rest {
        ["suites", suite, rest @ ..] => suite_paths(slug, suite, rest),
        _ => agents_and_clusters(slug, rest),
    }
}

/// `…/suites/<suite>[/runs/<id> | /tests/<id>]`, on the web or the API.
fn suite_paths(slug: &str, suite: &str, rest: &[&str]) -> Resolved {
    let mut resolved = org("test_suite", slug);
    resolved.test_suite_slug = Some(suite.to_owned());
    match rest {
        ["runs", run, ..] => {
            resolved.kind = "test_run";
            resolved.run_id = Some((*run).to_owned());
        }
        ["tests", test, ..] => {
            resolved.kind = "test";
            resolved.test_id = Some((*test).to_owned());
        }
        _ => {}
    }
    resolved
}

/// Agents, clusters and queues (the same paths on the web and the API).
fn agents_and_clusters(slug: &str, rest: &[&str]) -> Resolved {
    match rest {
        ["agents", agent, ..] | ["clusters", _, "queues", _, "agents", agent, ..] => {
            let mut resolved = org("agent", slug);
            resolved.agent_id = Some((*agent).to_owned());
            resolved
        }
        ["clusters", cluster, "queues", queue, ..] => {
            let mut resolved = org("cluster_queue", slug);
            resolved.cluster_id = Some((*cluster).to_owned());
            resolved.queue_id = Some((*queue).to_owned());
            resolved
        }
        ["clusters", cluster, ..] => {
            let mut resolved = org("cluster", slug);
            resolved.cluster_id = Some((*cluster).to_owned());
            resolved
        }
        _ => org("organization", slug),
    }
}

/// `api.buildkite.com/v2/…` paths.
fn parse_api(segments: &[&str]) -> Result<Resolved, String> {
    match segments {
        [
            "v2",
            "analytics",
            "organizations",
            slug,
            "suites",
            suite,
            rest @ ..,
        ] => Ok(suite_paths(slug, suite, rest)),
        [
            "v2",
            "analytics",
            "organizations",
            slug,
            "builds",
            build,
            ..,
        ] => {
            let mut resolved = org("test_engine_build", slug);
            resolved.build_uuid = Some((*build).to_owned());
            Ok(resolved)
        }
        ["v2", "analytics", "organizations", slug, ..] => Ok(org("organization", slug)),
        [
            "v2",
            "organizations",
            slug,
            "pipelines",
            pipeline,
            rest @ ..,
        ] => {
            let mut resolved = org("pipeline", slug);
            resolved.pipeline_slug = Some((*pipeline).to_owned());
            if let ["builds", number, rest @ ..] = rest
                && is_number(number)
            {
                resolved.kind = "build";
                resolved.build_number = Some((*number).to_owned());
                match rest {
                    ["jobs", job, ..] => {
                        resolved.kind = "job";
                        resolved.job_id = Some((*job).to_owned());
                    }
                    ["step-uploads", upload, ..] => {
                        resolved.kind = "step_upload";
                        resolved.upload_uuid = Some((*upload).to_owned());
                    }
                    _ => {}
                }
            }
            Ok(resolved)
        }
        ["v2", "organizations", slug, "jobs", job, ..] => {
            let mut resolved = org("job", slug);
            resolved.job_id = Some((*job).to_owned());
            Ok(resolved)
        }
        ["v2", "organizations", slug, rest @ ..] => Ok(agents_and_clusters(slug, rest)),
        _ => Err(
            "API URLs start with /v2/organizations/<org> or /v2/analytics/organizations/<org>"
                .into(),
        ),
    }
}

/// The tool call to make next for a resolved URL.
fn next_call(resolved: &Resolved) -> Value {
    let mut arguments = Map::new();
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(value) = value {
            arguments.insert(key.to_owned(), json!(value));
        }
    };
    put("org_slug", &Some(resolved.org_slug.clone()));
    let tool = match resolved.kind {
        "pipeline" => {
            put("pipeline_slug", &resolved.pipeline_slug);
            put("branch", &resolved.branch);
            "list_builds"
        }
        "build" => {
            put("pipeline_slug", &resolved.pipeline_slug);
            put("build_number", &resolved.build_number);
            "get_build"
        }
        "job" => {
            put("pipeline_slug", &resolved.pipeline_slug);
            put("build_number", &resolved.build_number);
            put("job_id", &resolved.job_id);
            "get_job"
        }
        "step_upload" => {
            put("pipeline_slug", &resolved.pipeline_slug);
            put("build_number", &resolved.build_number);
            put("upload_uuid", &resolved.upload_uuid);
            "get_step_upload"
        }
        "test_suite" => {
            put("test_suite_slug", &resolved.test_suite_slug);
            "list_test_runs"
        }
        "test_run" => {
            put("test_suite_slug", &resolved.test_suite_slug);
            put("run_id", &resolved.run_id);
            "get_test_run"
        }
        "test" => {
            put("test_suite_slug", &resolved.test_suite_slug);
            put("test_id", &resolved.test_id);
            "get_test"
        }
        "test_engine_build" => {
            put("build_uuid", &resolved.build_uuid);
            "list_tests_for_build"
        }
        "agent" => {
            put("agent_id", &resolved.agent_id);
            "get_agent"
        }
        "cluster" => {
            put("cluster_id", &resolved.cluster_id);
            "get_cluster"
        }
        "cluster_queue" => {
            put("cluster_id", &resolved.cluster_id);
            put("queue_id", &resolved.queue_id);
            "get_cluster_queue"
        }
        _ => "list_pipelines",
    };
    json!({ "tool": tool, "arguments": arguments })
}

/// Arguments of `resolve_url`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveUrlArgs {
    // A Buildkite URL, web or API, e.g.
    // `https://buildkite.com/acme/app/builds/42#0198f2f3-64a2-4a8e-8b78-0d9157a0e35f`.
    pub url: NonEmpty,
}

/// The most characters of a reason an error repeats: reasons quote the
/// URL, which may be long (and its host grows when made punycode).
const REASON_CHARS: usize = 300;

/// `reason`, at most [`REASON_CHARS`] characters: its start and its end
/// (where it says what is wrong), with a mark where the middle was cut.
fn bounded(reason: &str) -> String {
    let count = reason.chars().count();
    if count <= REASON_CHARS {
        return reason.to_owned();
    }
    let head: String = reason.chars().take(REASON_CHARS / 2).collect();
    let tail: String = reason.chars().skip(count - REASON_CHARS / 2).collect();
    format!("{head}… (cut) …{tail}")
}

/// `resolve_url`.
#[derive(Debug)]
pub struct ResolveUrl;

#[async_trait]
impl Handler for ResolveUrl {
    type Args = ResolveUrlArgs;
    const META: ToolMeta = ToolMeta {
        name: "resolve_url",
        title: "Resolve Buildkite URL",
        description: "Turns a pasted Buildkite URL (web or API) into the org_slug, pipeline_slug, build_number, job_id and other ids the tools take, with the call to make next. No API call.",
        details: "Understands organization, pipeline, build, job (`…/builds/42#<job-id>`, `…/jobs/<job-id>` or `?jid=`), step upload, Test Engine suite, run and test, agent, cluster and queue URLs, on buildkite.com or api.buildkite.com. The result names the kind of resource, its ids, and `next`: the tool call that reads it; for a job it also says that tail_logs and search_logs take the same ids.",
        toolset: Toolset::Builds,
        access: Access::Read,
        scopes: &[],
    };

    async fn run(&self, _: &ToolContext, args: ResolveUrlArgs) -> Result<ToolOutput, ToolError> {
        let resolved = parse_url(&args.url).map_err(|reason| {
            ToolError::invalid(
                "url",
                format!("{}; understood forms: {FORMS}", bounded(&reason)),
            )
        })?;
        let mut out = match serde_json::to_value(&resolved) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        out.insert("next".into(), next_call(&resolved));
        if resolved.kind == "job" && resolved.pipeline_slug.is_some() {
            out.insert(
                "also".into(),
                json!("tail_logs and search_logs take the same org_slug, pipeline_slug, build_number and job_id to read the job's log"),
            );
        }
        Ok(ToolOutput::json(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_reason_is_cut() {
        // Found by the tool_args fuzz target: a 2 KB host became 6 KB of
        // punycode in the error.
        let host = ".\u{54f}".repeat(700);
        let reason = parse_url(&host).unwrap_err();
        let shown = bounded(&reason);
        assert!(shown.chars().count() <= REASON_CHARS + 10, "{shown}");
        assert!(shown.contains("… (cut) …"), "{shown}");
        let end: String = reason
            .chars()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        assert!(shown.ends_with(&end), "the end says what is wrong: {shown}");
        assert_eq!(bounded("short"), "short");
    }

    const JOB: &str = "0198f2f3-64a2-4a8e-8b78-0d9157a0e35f";

    fn resolve(url: &str) -> Value {
        let resolved = parse_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut value = serde_json::to_value(&resolved).unwrap();
        value["next"] = next_call(&resolved);
        value
    }

    #[test]
    fn organizations_and_pipelines() {
        for url in [
            "https://buildkite.com/acme",
            "https://buildkite.com/acme/",
            "buildkite.com/acme",
            "http://www.buildkite.com/acme?tab=pipelines",
            "https://buildkite.com/organizations/acme",
            "https://buildkite.com/organizations/acme/settings",
            "https://api.buildkite.com/v2/organizations/acme",
            "https://api.buildkite.com/v2/organizations/acme/builds?state=failed",
            "<https://buildkite.com/acme>",
        ] {
            assert_eq!(
                resolve(url),
                json!({"kind": "organization", "org_slug": "acme",
                       "next": {"tool": "list_pipelines", "arguments": {"org_slug": "acme"}}}),
                "{url}"
            );
        }
        for url in [
            "https://buildkite.com/acme/app",
            "https://buildkite.com/acme/app/builds",
            "https://buildkite.com/acme/app/settings/steps",
            "https://buildkite.com/acme/app/builds/latest",
            "https://api.buildkite.com/v2/organizations/acme/pipelines/app",
            "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds",
        ] {
            let value = resolve(url);
            assert_eq!(value["kind"], "pipeline", "{url}");
            assert_eq!(value["pipeline_slug"], "app", "{url}");
            assert_eq!(value["next"]["tool"], "list_builds", "{url}");
        }
        let branch = resolve("https://buildkite.com/acme/app/builds?branch=release%2F1.2");
        assert_eq!(branch["branch"], "release/1.2");
        assert_eq!(branch["next"]["arguments"]["branch"], "release/1.2");
    }

    #[test]
    fn builds() {
        for url in [
            "https://buildkite.com/acme/app/builds/42",
            "https://buildkite.com/acme/app/builds/42/",
            "https://buildkite.com/acme/app/builds/42#annotations",
            "https://buildkite.com/acme/app/builds/42/summary/annotations",
            "https://buildkite.com/acme/app/builds/42/steps/canvas",
            "https://buildkite.com/acme/app/builds/42/steps/canvas?sid=018c0f56-0a3b-4c7e-9d21-5f8e6b4a3c10",
            "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42",
            "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42/annotations",
            "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42/artifacts",
        ] {
            assert_eq!(
                resolve(url),
                json!({"kind": "build", "org_slug": "acme", "pipeline_slug": "app", "build_number": "42",
                       "next": {"tool": "get_build", "arguments": {"org_slug": "acme", "pipeline_slug": "app", "build_number": "42"}}}),
                "{url}"
            );
        }
    }

    #[test]
    fn jobs() {
        let upper = JOB.to_ascii_uppercase();
        for url in [
            format!("https://buildkite.com/acme/app/builds/42#{JOB}"),
            format!("https://buildkite.com/acme/app/builds/42#{JOB}/120-135"),
            format!("https://buildkite.com/acme/app/builds/42#job-{JOB}"),
            format!("https://buildkite.com/acme/app/builds/42#{upper}"),
            format!("https://buildkite.com/acme/app/builds/42/jobs/{JOB}"),
            format!("https://buildkite.com/acme/app/builds/42/jobs/{JOB}/log"),
            format!("https://buildkite.com/acme/app/builds/42/steps/canvas?jid={JOB}"),
            format!("https://buildkite.com/acme/app/builds/42/steps/table?sid=x&jid={JOB}#foo"),
            format!(
                "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42/jobs/{JOB}"
            ),
            format!(
                "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42/jobs/{JOB}/log.txt"
            ),
            format!(
                "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42/jobs/{JOB}/env"
            ),
        ] {
            assert_eq!(
                resolve(&url),
                json!({"kind": "job", "org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": JOB,
                       "next": {"tool": "get_job", "arguments": {"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "job_id": JOB}}}),
                "{url}"
            );
        }
        assert_eq!(
            resolve(&format!(
                "https://api.buildkite.com/v2/organizations/acme/jobs/{JOB}"
            )),
            json!({"kind": "job", "org_slug": "acme", "job_id": JOB,
                   "next": {"tool": "get_job", "arguments": {"org_slug": "acme", "job_id": JOB}}})
        );
    }

    #[test]
    fn step_uploads() {
        let value = resolve(&format!(
            "https://api.buildkite.com/v2/organizations/acme/pipelines/app/builds/42/step-uploads/{JOB}"
        ));
        assert_eq!(value["kind"], "step_upload");
        assert_eq!(
            value["next"],
            json!({"tool": "get_step_upload", "arguments": {"org_slug": "acme", "pipeline_slug": "app", "build_number": "42", "upload_uuid": JOB}})
        );
    }

    #[test]
    fn test_engine() {
        for url in [
            "https://buildkite.com/organizations/acme/analytics/suites/rspec",
            "https://buildkite.com/organizations/acme/analytics/suites/rspec/tests",
            "https://buildkite.com/organizations/acme/test-engine/suites/rspec",
            "https://api.buildkite.com/v2/analytics/organizations/acme/suites/rspec",
        ] {
            assert_eq!(
                resolve(url),
                json!({"kind": "test_suite", "org_slug": "acme", "test_suite_slug": "rspec",
                       "next": {"tool": "list_test_runs", "arguments": {"org_slug": "acme", "test_suite_slug": "rspec"}}}),
                "{url}"
            );
        }
        let run = "64374307-12ab-4b13-a3f3-6a408f644ea2";
        for url in [
            format!("https://buildkite.com/organizations/acme/analytics/suites/rspec/runs/{run}"),
            format!(
                "https://buildkite.com/organizations/acme/analytics/suites/rspec/runs/{run}?tab=failures"
            ),
            format!(
                "https://api.buildkite.com/v2/analytics/organizations/acme/suites/rspec/runs/{run}/failed_executions"
            ),
        ] {
            assert_eq!(
                resolve(&url)["next"],
                json!({"tool": "get_test_run", "arguments": {"org_slug": "acme", "test_suite_slug": "rspec", "run_id": run}}),
                "{url}"
            );
        }
        for url in [
            format!("https://buildkite.com/organizations/acme/analytics/suites/rspec/tests/{run}"),
            format!(
                "https://api.buildkite.com/v2/analytics/organizations/acme/suites/rspec/tests/{run}"
            ),
        ] {
            let value = resolve(&url);
            assert_eq!(value["kind"], "test", "{url}");
            assert_eq!(value["test_id"], run, "{url}");
            assert_eq!(value["next"]["tool"], "get_test", "{url}");
        }
        let build = resolve(&format!(
            "https://api.buildkite.com/v2/analytics/organizations/acme/builds/{run}/tests"
        ));
        assert_eq!(
            build["next"],
            json!({"tool": "list_tests_for_build", "arguments": {"org_slug": "acme", "build_uuid": run}})
        );
    }

    #[test]
    fn agents_clusters_and_queues() {
        let (cluster, queue, agent) = ("c1", "q1", "a1");
        for url in [
            format!("https://buildkite.com/organizations/acme/agents/{agent}"),
            format!(
                "https://buildkite.com/organizations/acme/clusters/{cluster}/queues/{queue}/agents/{agent}"
            ),
            format!("https://api.buildkite.com/v2/organizations/acme/agents/{agent}"),
        ] {
            assert_eq!(
                resolve(&url)["next"],
                json!({"tool": "get_agent", "arguments": {"org_slug": "acme", "agent_id": agent}}),
                "{url}"
            );
        }
        for url in [
            format!("https://buildkite.com/organizations/acme/clusters/{cluster}/queues/{queue}"),
            format!(
                "https://api.buildkite.com/v2/organizations/acme/clusters/{cluster}/queues/{queue}"
            ),
        ] {
            assert_eq!(
                resolve(&url)["next"],
                json!({"tool": "get_cluster_queue", "arguments": {"org_slug": "acme", "cluster_id": cluster, "queue_id": queue}}),
                "{url}"
            );
        }
        assert_eq!(
            resolve("https://buildkite.com/organizations/acme/clusters/c1/settings")["kind"],
            "cluster"
        );
    }

    #[test]
    fn what_is_not_understood() {
        for (url, reason) in [
            ("https://github.com/acme/app", "not a Buildkite host"),
            ("https://buildkite.com/", "names no organization"),
            (
                "https://buildkite.com/docs/pipelines",
                "is a Buildkite page",
            ),
            ("https://api.buildkite.com/v1/things", "API URLs start with"),
            ("https://api.buildkite.com/v2/user", "API URLs start with"),
            ("ftp://buildkite.com/acme", "not a web URL"),
            ("https://", "not a URL"),
        ] {
            let error = parse_url(url).unwrap_err();
            assert!(error.contains(reason), "{url}: {error}");
        }
    }
}
