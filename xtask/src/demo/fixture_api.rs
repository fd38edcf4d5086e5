//! The demo organisation's fixture API: a Buildkite REST API on 127.0.0.1
//! (not to be confused with `crate::fake_api`, the synthetic zero-latency API
//! the benchmarks and conformance runs use)
//! that serves the mirrored tree under `examples/demo/org/`, so the real MCP
//! server can be run against it (with `--record`, to write
//! `examples/demo/demo.har`). It keeps every request it could not answer,
//! so a recording never silently lacks one.
//!
//! The tree's convention (also in `examples/demo/README.md`):
//!
//! - `GET /a/b` answers `org/a/b.json`. When there is no such file but a
//!   directory `org/a/b/` holds `*.json` files, it answers the array of
//!   them: builds newest first, Test Engine runs newest first, anything else
//!   in file-name order.
//! - Arrays are paged with `page` and `per_page` (default 30, at most 100,
//!   with a `Link: …; rel="next"` header when more follow), and filtered by
//!   the query parameters the real API documents for that list (builds by
//!   `branch[]`, `state[]`, …; annotations by `scope`; artifacts by `state`
//!   and `path`; …). A parameter the fixture does not know is an unanswered
//!   request (400), so a new client parameter is noticed.
//! - A build file holds the build as `GET …/builds/{n}` gives it with
//!   `include_retried_jobs=true&include_test_engine=true`; the server drops
//!   what the query leaves out (`exclude_jobs`, `exclude_pipeline`, retried
//!   jobs, `test_engine`, `job_states[]`). Its jobs also answer
//!   `…/builds/{n}/jobs` (cursor-paged `{items, links}`), `…/jobs/{id}` and
//!   the organization-scoped `/v2/organizations/{org}/jobs/{id}`.
//!   `/v2/organizations/{org}/builds` merges every pipeline's builds.
//! - `…/builds/{n}/artifacts.json` and `annotations.json` also answer the
//!   job-scoped lists (`…/jobs/{id}/artifacts`, `…/jobs/{id}/annotations`)
//!   and single artifacts. An artifact's `…/download` answers 302 to
//!   `/_artifacts/{artifact id}/{file name}` on this server (a stand-in for
//!   presigned storage URLs), which serves `org/_artifacts/…`.
//! - A job's raw log is `…/jobs/{id}/log.txt`: `GET …/log` with
//!   `Accept: text/plain` (and `GET …/log.txt`) answers it as is, other
//!   `Accept`s get the JSON form (`{url, content, size, header_times}`), and
//!   `HEAD` answers the same headers (`Content-Length` included) with no
//!   body. `…/jobs/{id}/env` answers `env.json` beside it.
//! - A Test Engine test without `Buildkite-Version: 2026-08-01` loses the
//!   reliability and duration fields, as the real API does.
//! - `HEAD` on anything answers `GET`'s status and headers without the body.
//!   Other methods are unanswered (404): the demo only reads.
//!
//! Every request needs an `Authorization: Bearer …` header (any token),
//! except the `/_artifacts/` storage URLs. Misses answer 404
//! `{"message":"Not Found"}` (an unknown query parameter 400, no token 401)
//! and are kept: [`FixtureApi::unanswered`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

/// Where the data's own URLs point (the links the fixture writes use it too).
const API: &str = "https://api.buildkite.com";
/// The Test Engine API version that adds reliability and durations to tests.
const TESTS_VERSION: &str = "2026-08-01";
/// Fields a test keeps without [`TESTS_VERSION`].
const TEST_BASE_FIELDS: &[&str] = &[
    "id",
    "url",
    "web_url",
    "scope",
    "name",
    "location",
    "file_name",
    "labels",
];
/// Build states the `finished` filter stands for.
const FINISHED: &[&str] = &[
    "passed", "failed", "blocked", "canceled", "skipped", "not_run",
];

/// A running fixture API. It stops when dropped.
#[derive(Debug)]
pub struct FixtureApi {
    base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    /// Every file of the tree, by its path relative to the root (`/`-separated).
    files: BTreeMap<String, Vec<u8>>,
    /// `METHOD /path?query: why` of every request the tree could not answer.
    unanswered: Mutex<Vec<String>>,
}

/// Starts a fixture API serving the tree under `root` (e.g.
/// `examples/demo/org`) on a free port of 127.0.0.1, on the current Tokio
/// runtime.
pub async fn start(root: &Path) -> Result<FixtureApi, String> {
    let address = "127.0.0.1:0";
    let mut files = BTreeMap::new();
    load(root, root, &mut files)?;
    if files.is_empty() {
        return Err(format!("{}: no fixture files", root.display()));
    }
    let shared = Arc::new(Shared {
        files,
        unanswered: Mutex::default(),
    });
    let router = Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&shared));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("fixture API: cannot listen on {address}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("fixture API: {error}");
        }
    });
    Ok(FixtureApi {
        base_url: format!("http://{address}/"),
        shared,
        server,
    })
}

impl FixtureApi {
    /// `http://127.0.0.1:PORT/`: the MCP server's `--base-url`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// `METHOD /path?query: why` of each request the tree could not answer
    /// (unknown path or query parameter, missing token, another method).
    pub fn unanswered(&self) -> Vec<String> {
        lock(&self.shared.unanswered).clone()
    }
}

impl Drop for FixtureApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn load(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.is_dir() {
            load(root, &path, files)?;
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .map_err(|e| e.to_string())?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        files.insert(relative, bytes);
    }
    Ok(())
}

// ----------------------------------------------------------------- serving

/// An answer: status, headers and body (dropped for `HEAD`).
struct Reply {
    status: StatusCode,
    headers: Vec<(header::HeaderName, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(value: &Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: vec![(
                header::CONTENT_TYPE,
                "application/json; charset=utf-8".into(),
            )],
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    fn bytes(content_type: &str, body: Vec<u8>) -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: vec![(header::CONTENT_TYPE, content_type.into())],
            body,
        }
    }
}

/// Why a request got no answer from the tree.
struct Miss {
    status: StatusCode,
    message: String,
    why: String,
}

fn not_found(why: impl Into<String>) -> Miss {
    Miss {
        status: StatusCode::NOT_FOUND,
        message: "Not Found".into(),
        why: why.into(),
    }
}

type Answer = Result<Reply, Miss>;

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let headers = request.headers().clone();
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    let origin = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map_or_else(String::new, |host| format!("http://{host}"));
    let call = Call {
        path: uri.path(),
        query: Query::parse(uri.query().unwrap_or("")),
        headers: &headers,
        origin: &origin,
    };
    let answer = if method == Method::GET || method == Method::HEAD {
        shared.answer(&call)
    } else {
        Err(not_found("the demo fixtures only answer GET and HEAD"))
    };
    let reply = match answer {
        Ok(reply) => reply,
        Err(miss) => {
            lock(&shared.unanswered).push(format!("{method} {target}: {}", miss.why));
            let mut reply = Reply::json(&json!({ "message": miss.message }));
            reply.status = miss.status;
            reply
        }
    };
    let mut builder = Response::builder()
        .status(reply.status)
        .header(header::CONTENT_LENGTH, reply.body.len());
    for (name, value) in &reply.headers {
        builder = builder.header(name, value);
    }
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(reply.body)
    };
    builder.body(body).unwrap_or_else(|_| {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
    })
}

/// One request, as the router sees it.
struct Call<'a> {
    path: &'a str,
    query: Query,
    headers: &'a HeaderMap,
    /// `http://127.0.0.1:PORT`, for redirects back to this server.
    origin: &'a str,
}

/// Query parameters, percent-decoded, in order.
#[derive(Debug, Default)]
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: &str) -> Query {
        Query(
            query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(name), decode(value))
                })
                .collect(),
        )
    }

    /// The last value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` and of `name[]`.
    fn all(&self, name: &str) -> Vec<&str> {
        let list = format!("{name}[]");
        self.0
            .iter()
            .filter(|(n, _)| *n == name || *n == list)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn flag(&self, name: &str) -> Option<bool> {
        self.get(name).map(|v| v == "true" || v == "1")
    }

    /// Fails on a parameter not in `allowed` (`name[]` matches `name`;
    /// `prefix[` matches any `prefix[key]`).
    fn only(&self, allowed: &[&str]) -> Result<(), Miss> {
        for (name, _) in &self.0 {
            let base = name.strip_suffix("[]").unwrap_or(name);
            let known = allowed.iter().any(|a| {
                *a == base || (a.ends_with('[') && name.starts_with(a) && name.ends_with(']'))
            });
            if !known {
                return Err(Miss {
                    status: StatusCode::BAD_REQUEST,
                    message: format!(
                        "the demo fixtures do not support the query parameter `{name}`"
                    ),
                    why: format!("unsupported query parameter `{name}`"),
                });
            }
        }
        Ok(())
    }

    fn page(&self) -> Result<(usize, usize), Miss> {
        let number = |name: &str, default: usize| -> Result<usize, Miss> {
            match self.get(name) {
                None => Ok(default),
                Some(text) => text.parse::<usize>().map_err(|_| Miss {
                    status: StatusCode::BAD_REQUEST,
                    message: format!("`{name}` must be a number"),
                    why: format!("`{name}` is not a number"),
                }),
            }
        };
        Ok((
            number("page", 1)?.max(1),
            number("per_page", 30)?.clamp(1, 100),
        ))
    }
}

/// Percent-decodes a query component (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Which filters a list takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Builds,
    Pipelines,
    Agents,
    TestRuns,
    FailedExecutions,
    Tests,
    Other,
}

impl Shared {
    fn answer(&self, call: &Call<'_>) -> Answer {
        let segments: Vec<String> = call
            .path
            .trim_start_matches('/')
            .split('/')
            .map(decode)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        if let ["_artifacts", rest @ ..] = segments.as_slice() {
            return self.storage(&rest.join("/"), &call.query);
        }
        let token = call
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("Bearer ") && v.len() > "Bearer ".len());
        if !token {
            return Err(Miss {
                status: StatusCode::UNAUTHORIZED,
                message: "Authentication required. Please supply a valid API Access Token: https://buildkite.com/docs/apis/rest-api#authentication".into(),
                why: "no bearer token".into(),
            });
        }
        match segments.as_slice() {
            ["v2", "organizations", org, "pipelines", pipeline, "builds"] => {
                let dir = format!("v2/organizations/{org}/pipelines/{pipeline}/builds");
                let mut builds = self.dir_items(&dir);
                builds.sort_by_key(|b| std::cmp::Reverse(b["number"].as_u64().unwrap_or(0)));
                if builds.is_empty()
                    && !self
                        .files
                        .contains_key(&format!("v2/organizations/{org}/pipelines/{pipeline}.json"))
                {
                    return Err(not_found("no such pipeline"));
                }
                self.list(builds, ListKind::Builds, call)
            }
            ["v2", "organizations", org, "builds"] => {
                let prefix = format!("v2/organizations/{org}/pipelines/");
                let mut builds: Vec<Value> = self
                    .files
                    .iter()
                    .filter(|(path, _)| {
                        path.strip_prefix(&prefix).is_some_and(|rest| {
                            let parts: Vec<&str> = rest.split('/').collect();
                            parts.len() == 3 && parts[1] == "builds" && parts[2].ends_with(".json")
                        })
                    })
                    .filter_map(|(_, bytes)| serde_json::from_slice(bytes).ok())
                    .collect();
                builds.sort_by(|a, b| text(b, "created_at").cmp(text(a, "created_at")));
                self.list(builds, ListKind::Builds, call)
            }
            [
                "v2",
                "organizations",
                org,
                "pipelines",
                pipeline,
                "builds",
                number,
                rest @ ..,
            ] => {
                let dir = format!("v2/organizations/{org}/pipelines/{pipeline}/builds/{number}");
                self.build_route(&dir, rest, call)
            }
            ["v2", "organizations", org, "jobs", job_id, rest @ ..] => {
                let dir = self.build_of_job(org, job_id).ok_or_else(|| Miss {
                    status: StatusCode::NOT_FOUND,
                    message: "No job found".into(),
                    why: "no build has this job".into(),
                })?;
                let build = self.read(&format!("{dir}.json"))?;
                self.job_route(&dir, &build, job_id, rest, call)
            }
            _ => self.generic(&segments.join("/"), call),
        }
    }

    /// A JSON file of the tree.
    fn read(&self, path: &str) -> Result<Value, Miss> {
        let bytes = self
            .files
            .get(path)
            .ok_or_else(|| not_found(format!("no {path}")))?;
        serde_json::from_slice(bytes).map_err(|e| Miss {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "the fixture file is not valid JSON".into(),
            why: format!("{path}: {e}"),
        })
    }

    /// The `*.json` files directly in `dir`, in file-name order.
    fn dir_items(&self, dir: &str) -> Vec<Value> {
        let prefix = format!("{dir}/");
        self.files
            .range(prefix.clone()..)
            .take_while(|(path, _)| path.starts_with(&prefix))
            .filter(|(path, _)| {
                let rest = &path[prefix.len()..];
                !rest.contains('/') && rest.ends_with(".json")
            })
            .filter_map(|(_, bytes)| serde_json::from_slice(bytes).ok())
            .collect()
    }

    /// `v2/organizations/{org}/pipelines/{p}/builds/{n}` of the build with
    /// this job.
    fn build_of_job(&self, org: &str, job_id: &str) -> Option<String> {
        let prefix = format!("v2/organizations/{org}/pipelines/");
        self.files.iter().find_map(|(path, bytes)| {
            let rest = path.strip_prefix(&prefix)?;
            let parts: Vec<&str> = rest.split('/').collect();
            if parts.len() != 3 || parts[1] != "builds" || !parts[2].ends_with(".json") {
                return None;
            }
            let build: Value = serde_json::from_slice(bytes).ok()?;
            let has = build["jobs"]
                .as_array()?
                .iter()
                .any(|job| job["id"] == job_id);
            has.then(|| path.trim_end_matches(".json").to_owned())
        })
    }

    fn generic(&self, path: &str, call: &Call<'_>) -> Answer {
        let kind = list_kind(path);
        if let Some(bytes) = self.files.get(&format!("{path}.json")) {
            let value: Value = serde_json::from_slice(bytes).map_err(|e| Miss {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: "the fixture file is not valid JSON".into(),
                why: format!("{path}.json: {e}"),
            })?;
            return match value {
                Value::Array(items) => self.list(items, kind, call),
                object => {
                    let is_test = path.contains("/suites/") && path.contains("/tests/");
                    call.query.only(&[])?;
                    Ok(Reply::json(&if is_test {
                        test_version(object, call.headers)
                    } else {
                        object
                    }))
                }
            };
        }
        let mut items = self.dir_items(path);
        if items.is_empty() {
            return Err(not_found("no such file or directory in the tree"));
        }
        if kind == ListKind::TestRuns {
            items.sort_by(|a, b| text(b, "created_at").cmp(text(a, "created_at")));
        }
        if path.ends_with("/step-uploads") {
            return self.cursor_list(
                items,
                call,
                &["filter[", "per_page", "after", "before"],
                |item, q| {
                    q.get("filter[source_job_id]")
                        .is_none_or(|id| item["source_job_id"] == id)
                },
            );
        }
        self.list(items, kind, call)
    }

    /// A numbered list page, filtered for its kind.
    fn list(&self, items: Vec<Value>, kind: ListKind, call: &Call<'_>) -> Answer {
        let q = &call.query;
        let mut items = items;
        match kind {
            ListKind::Builds => {
                q.only(&[
                    "branch",
                    "state",
                    "commit",
                    "creator",
                    "created_from",
                    "created_to",
                    "finished_from",
                    "meta_data[",
                    "exclude_jobs",
                    "exclude_pipeline",
                    "include_retried_jobs",
                    "page",
                    "per_page",
                ])?;
                let branches = q.all("branch");
                let states: Vec<&str> = q
                    .all("state")
                    .into_iter()
                    .flat_map(|s| {
                        if s == "finished" {
                            FINISHED.to_vec()
                        } else {
                            vec![s]
                        }
                    })
                    .collect();
                items.retain(|build| {
                    (branches.is_empty() || branches.contains(&text(build, "branch")))
                        && (states.is_empty() || states.contains(&text(build, "state")))
                        && q.get("commit")
                            .is_none_or(|c| text(build, "commit").starts_with(c))
                        && q.get("creator").is_none_or(|c| build["creator"]["id"] == c)
                        && q.get("created_from")
                            .is_none_or(|t| text(build, "created_at") >= t)
                        && q.get("created_to")
                            .is_none_or(|t| text(build, "created_at") < t)
                        && q.get("finished_from")
                            .is_none_or(|t| text(build, "finished_at") >= t)
                        && q.0.iter().all(|(name, value)| {
                            match name
                                .strip_prefix("meta_data[")
                                .and_then(|n| n.strip_suffix(']'))
                            {
                                Some(key) => build["meta_data"][key] == value.as_str(),
                                None => true,
                            }
                        })
                });
                let shape = BuildShape {
                    exclude_jobs: q.flag("exclude_jobs") == Some(true),
                    exclude_pipeline: q.flag("exclude_pipeline") == Some(true),
                    include_retried_jobs: q.flag("include_retried_jobs") == Some(true),
                    include_test_engine: false,
                    job_states: Vec::new(),
                    job_state_counts: false,
                };
                items = items.into_iter().map(|b| shape.apply(b)).collect();
            }
            ListKind::Pipelines => {
                q.only(&["name", "repository", "page", "per_page"])?;
                items.retain(|p| {
                    contains(text(p, "name"), q.get("name"))
                        && contains(text(p, "repository"), q.get("repository"))
                });
            }
            ListKind::Agents => {
                q.only(&[
                    "name",
                    "hostname",
                    "version",
                    "cluster_queue_id",
                    "page",
                    "per_page",
                ])?;
                items.retain(|a| {
                    contains(text(a, "name"), q.get("name"))
                        && q.get("hostname").is_none_or(|h| text(a, "hostname") == h)
                        && q.get("version").is_none_or(|v| text(a, "version") == v)
                        && q.get("cluster_queue_id")
                            .is_none_or(|id| text(a, "web_url").contains(&format!("/queues/{id}/")))
                });
            }
            ListKind::TestRuns => {
                q.only(&["build_id", "page", "per_page"])?;
                items.retain(|run| q.get("build_id").is_none_or(|id| run["build_id"] == id));
            }
            ListKind::FailedExecutions => {
                q.only(&["include_failure_expanded", "page", "per_page"])?;
                if q.flag("include_failure_expanded") != Some(true) {
                    for item in &mut items {
                        if let Some(object) = item.as_object_mut() {
                            object.remove("failure_expanded");
                        }
                    }
                }
            }
            ListKind::Tests => {
                // Accepted; only `labels` filters (the demo's lists are short).
                q.only(&[
                    "period",
                    "min_timestamp",
                    "max_timestamp",
                    "labels",
                    "branch",
                    "owners",
                    "state",
                    "tags",
                    "sort_by",
                    "order",
                    "page",
                    "per_page",
                ])?;
                if let Some(labels) = q.get("labels") {
                    let wanted: Vec<&str> = labels.split(',').map(str::trim).collect();
                    items.retain(|t| {
                        wanted.iter().all(|w| {
                            t["labels"]
                                .as_array()
                                .is_some_and(|l| l.iter().any(|x| x == *w))
                        })
                    });
                }
                items = items
                    .into_iter()
                    .map(|t| test_version(t, call.headers))
                    .collect();
            }
            ListKind::Other => q.only(&["page", "per_page"])?,
        }
        paged(items, call)
    }

    /// A cursor-paged list: `{items, links}`.
    fn cursor_list(
        &self,
        mut items: Vec<Value>,
        call: &Call<'_>,
        allowed: &[&str],
        keep: impl Fn(&Value, &Query) -> bool,
    ) -> Answer {
        let q = &call.query;
        q.only(allowed)?;
        items.retain(|item| keep(item, q));
        let per_page = q
            .get("per_page")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let cursor = |text: Option<&str>| -> Result<Option<usize>, Miss> {
            match text {
                None => Ok(None),
                Some(c) => c
                    .strip_prefix("demo-")
                    .and_then(|n| n.parse::<usize>().ok())
                    .map(Some)
                    .ok_or_else(|| Miss {
                        status: StatusCode::BAD_REQUEST,
                        message: "Invalid cursor".into(),
                        why: format!("unknown cursor {c}"),
                    }),
            }
        };
        let start = match (cursor(q.get("after"))?, cursor(q.get("before"))?) {
            (Some(after), _) => after,
            (None, Some(before)) => before.saturating_sub(per_page),
            (None, None) => 0,
        };
        let end = start.saturating_add(per_page).min(items.len());
        let page: Vec<Value> = items.get(start..end).unwrap_or_default().to_vec();
        let own = format!("{API}{}", call.path);
        let query = |extra: Option<String>| {
            let mut pairs: Vec<String> =
                q.0.iter()
                    .filter(|(n, _)| n != "after" && n != "before")
                    .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
                    .collect();
            pairs.extend(extra);
            if pairs.is_empty() {
                own.clone()
            } else {
                format!("{own}?{}", pairs.join("&"))
            }
        };
        let mut links = Map::new();
        links.insert(
            "self".into(),
            json!(query(q.get("after").map(|a| format!("after={a}")))),
        );
        if end < items.len() {
            links.insert(
                "next".into(),
                json!(query(Some(format!("after=demo-{end}")))),
            );
        }
        if start > 0 {
            links.insert(
                "prev".into(),
                json!(query(Some(format!("before=demo-{start}")))),
            );
        }
        Ok(Reply::json(&json!({ "items": page, "links": links })))
    }

    fn build_route(&self, dir: &str, rest: &[&str], call: &Call<'_>) -> Answer {
        let build = self.read(&format!("{dir}.json"))?;
        let q = &call.query;
        match rest {
            [] => {
                q.only(&[
                    "exclude_jobs",
                    "exclude_pipeline",
                    "include_retried_jobs",
                    "include_test_engine",
                    "job_states",
                ])?;
                let shape = BuildShape {
                    exclude_jobs: q.flag("exclude_jobs") == Some(true),
                    exclude_pipeline: q.flag("exclude_pipeline") == Some(true),
                    include_retried_jobs: q.flag("include_retried_jobs") == Some(true),
                    include_test_engine: q.flag("include_test_engine") == Some(true),
                    job_states: q.all("job_states").into_iter().map(str::to_owned).collect(),
                    job_state_counts: true,
                };
                Ok(Reply::json(&shape.apply(build)))
            }
            ["jobs"] => {
                let jobs = build["jobs"].as_array().cloned().unwrap_or_default();
                self.cursor_list(
                    jobs,
                    call,
                    &[
                        "state",
                        "step_key",
                        "group_key",
                        "include_retried_jobs",
                        "per_page",
                        "after",
                        "before",
                    ],
                    |job, q| {
                        let states = q.all("state");
                        (states.is_empty() || states.contains(&text(job, "state")))
                            && q.get("step_key").is_none_or(|k| job["step_key"] == k)
                            && q.get("group_key").is_none_or(|k| job["group_key"] == k)
                            && (q.flag("include_retried_jobs") != Some(false)
                                || job["retried"] != true)
                    },
                )
            }
            ["jobs", job_id, rest @ ..] => self.job_route(dir, &build, job_id, rest, call),
            ["artifacts"] => {
                let items = self.read(&format!("{dir}/artifacts.json"))?;
                artifacts(items, None, call)
            }
            ["annotations"] => {
                let items = self.read(&format!("{dir}/annotations.json"))?;
                annotations(items, None, call)
            }
            _ => self.generic(&format!("{dir}/{}", rest.join("/")), call),
        }
    }

    fn job_route(
        &self,
        dir: &str,
        build: &Value,
        job_id: &str,
        rest: &[&str],
        call: &Call<'_>,
    ) -> Answer {
        let job = build["jobs"]
            .as_array()
            .and_then(|jobs| jobs.iter().find(|job| job["id"] == job_id))
            .cloned()
            .ok_or_else(|| Miss {
                status: StatusCode::NOT_FOUND,
                message: "No job found".into(),
                why: "the build has no such job".into(),
            })?;
        let job_dir = format!("{dir}/jobs/{job_id}");
        let q = &call.query;
        match rest {
            [] => {
                q.only(&[])?;
                Ok(Reply::json(&job))
            }
            ["log"] | ["log.txt"] => {
                q.only(&[])?;
                let raw = self
                    .files
                    .get(&format!("{job_dir}/log.txt"))
                    .ok_or_else(|| not_found("the job has no log.txt"))?;
                let accept = call
                    .headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if rest == ["log.txt"] || accept.contains("text/plain") {
                    return Ok(Reply::bytes("text/plain; charset=utf-8", raw.clone()));
                }
                let content = String::from_utf8_lossy(raw).into_owned();
                Ok(Reply::json(&json!({
                    "url": format!("{API}/{job_dir}/log"),
                    "content": content,
                    "size": raw.len(),
                    "header_times": header_times(&content),
                })))
            }
            ["env"] => {
                q.only(&[])?;
                Ok(Reply::json(&self.read(&format!("{job_dir}/env.json"))?))
            }
            ["artifacts"] => {
                let items = self.read(&format!("{dir}/artifacts.json"))?;
                artifacts(items, Some(job_id), call)
            }
            ["artifacts", artifact_id, rest @ ..] => {
                q.only(&[])?;
                let items = self.read(&format!("{dir}/artifacts.json"))?;
                let artifact = items
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .find(|x| x["id"] == *artifact_id && x["job_id"] == job_id)
                    })
                    .cloned()
                    .ok_or_else(|| Miss {
                        status: StatusCode::NOT_FOUND,
                        message: "Artifact not found".into(),
                        why: "no such artifact for this job".into(),
                    })?;
                match rest {
                    [] => Ok(Reply::json(&artifact)),
                    ["download"] => {
                        let location = format!(
                            "{}/_artifacts/{artifact_id}/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIADEMO%2F20260814%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260814T093500Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=0d3m0",
                            call.origin,
                            encode(text(&artifact, "filename")),
                        );
                        let mut reply = Reply::json(&json!({ "url": location }));
                        reply.status = StatusCode::FOUND;
                        reply.headers.push((header::LOCATION, location));
                        Ok(reply)
                    }
                    _ => Err(not_found("unknown artifact route")),
                }
            }
            ["annotations"] => {
                let items = self.read(&format!("{dir}/annotations.json"))?;
                annotations(items, Some(job_id), call)
            }
            _ => Err(not_found("unknown job route")),
        }
    }

    /// `/_artifacts/{id}/{file name}`: stored artifact content.
    fn storage(&self, path: &str, query: &Query) -> Answer {
        if query.0.iter().any(|(name, _)| !name.starts_with("X-Amz-")) {
            return Err(not_found("storage URLs take only X-Amz-* parameters"));
        }
        let bytes = self
            .files
            .get(&format!("_artifacts/{path}"))
            .ok_or_else(|| not_found("no stored content for this artifact"))?;
        let content_type = match path.rsplit_once('.').map(|(_, e)| e) {
            Some("json") => "application/json",
            Some("html") => "text/html",
            Some("png") => "image/png",
            Some("log" | "txt") => "text/plain",
            _ => "application/octet-stream",
        };
        Ok(Reply::bytes(content_type, bytes.clone()))
    }
}

/// What a build response leaves out.
#[derive(Debug)]
struct BuildShape {
    exclude_jobs: bool,
    exclude_pipeline: bool,
    include_retried_jobs: bool,
    include_test_engine: bool,
    job_states: Vec<String>,
    /// Only a single build carries its job counts.
    job_state_counts: bool,
}

impl BuildShape {
    fn apply(&self, mut build: Value) -> Value {
        let Some(object) = build.as_object_mut() else {
            return build;
        };
        if !self.job_state_counts {
            object.remove("job_state_counts");
        }
        if self.exclude_jobs {
            object.remove("jobs");
        } else if let Some(Value::Array(jobs)) = object.get_mut("jobs") {
            jobs.retain(|job| {
                (self.include_retried_jobs || job["retried"] != true)
                    && (self.job_states.is_empty()
                        || self.job_states.iter().any(|s| job["state"] == s.as_str()))
            });
        }
        if self.exclude_pipeline {
            object.remove("pipeline");
        }
        if !self.include_test_engine {
            object.remove("test_engine");
        }
        build
    }
}

fn artifacts(items: Value, job_id: Option<&str>, call: &Call<'_>) -> Answer {
    let q = &call.query;
    q.only(&["state", "path", "page", "per_page"])?;
    let mut items = items.as_array().cloned().unwrap_or_default();
    items.retain(|a| {
        job_id.is_none_or(|id| a["job_id"] == id)
            && q.get("state").is_none_or(|s| a["state"] == s)
            && q.get("path").is_none_or(|p| glob(p, text(a, "path")))
    });
    paged(items, call)
}

fn annotations(items: Value, job_id: Option<&str>, call: &Call<'_>) -> Answer {
    let q = &call.query;
    q.only(&["scope", "omit_body", "page", "per_page"])?;
    let mut items = items.as_array().cloned().unwrap_or_default();
    let scope = q
        .get("scope")
        .unwrap_or(if job_id.is_some() { "job" } else { "build" });
    items.retain(|a| match job_id {
        Some(id) => a["job_id"] == id,
        None => scope == "all" || a["scope"] == scope,
    });
    if q.flag("omit_body") == Some(true) {
        for item in &mut items {
            if let Some(object) = item.as_object_mut() {
                object.remove("body_html");
            }
        }
    }
    paged(items, call)
}

/// One numbered page of `items`, with a `Link` header when more follow.
fn paged(items: Vec<Value>, call: &Call<'_>) -> Answer {
    let (page, per_page) = call.query.page()?;
    let start = (page - 1).saturating_mul(per_page);
    let end = start.saturating_add(per_page).min(items.len());
    let slice: Vec<Value> = items.get(start..end).unwrap_or_default().to_vec();
    let mut reply = Reply::json(&Value::Array(slice));
    let link = |n: usize, rel: &str| {
        let mut pairs: Vec<String> = call
            .query
            .0
            .iter()
            .filter(|(name, _)| name != "page" && name != "per_page")
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect();
        pairs.push(format!("page={n}"));
        pairs.push(format!("per_page={per_page}"));
        format!("<{API}{}?{}>; rel=\"{rel}\"", call.path, pairs.join("&"))
    };
    let last = items.len().div_ceil(per_page).max(1);
    let mut links = Vec::new();
    if end < items.len() {
        links.push(link(page + 1, "next"));
        links.push(link(last, "last"));
    }
    if page > 1 {
        links.push(link(1, "first"));
        links.push(link(page - 1, "prev"));
    }
    if !links.is_empty() {
        reply.headers.push((header::LINK, links.join(", ")));
    }
    Ok(reply)
}

fn list_kind(path: &str) -> ListKind {
    let last = path.rsplit('/').next().unwrap_or("");
    match last {
        "pipelines" => ListKind::Pipelines,
        "agents" => ListKind::Agents,
        "runs" => ListKind::TestRuns,
        "failed_executions" => ListKind::FailedExecutions,
        "tests" => ListKind::Tests,
        _ => ListKind::Other,
    }
}

/// A test as the API gives it with or without `Buildkite-Version`.
fn test_version(mut test: Value, headers: &HeaderMap) -> Value {
    let versioned = headers
        .get("buildkite-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v >= TESTS_VERSION);
    if !versioned && let Some(object) = test.as_object_mut() {
        object.retain(|key, _| TEST_BASE_FIELDS.contains(&key.as_str()));
    }
    test
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

fn contains(haystack: &str, needle: Option<&str>) -> bool {
    needle.is_none_or(|n| haystack.to_lowercase().contains(&n.to_lowercase()))
}

/// `*` matches any run of characters (including `/`).
fn glob(pattern: &str, path: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == path;
    }
    let mut rest = path;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Percent-encodes a query component.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The times (ns) of a raw log's group headers.
fn header_times(log: &str) -> Vec<u64> {
    log.split('\n')
        .filter_map(|line| {
            let rest = line.strip_prefix("\u{1b}_bk;t=")?;
            let (millis, content) = rest.split_once('\u{7}')?;
            let header = ["~~~ ", "--- ", "+++ "]
                .iter()
                .any(|p| content.starts_with(p));
            header.then(|| millis.parse::<u64>().ok()).flatten()
        })
        .map(|millis| millis * 1_000_000)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn root() -> PathBuf {
        repo().join("examples/demo/org")
    }

    async fn get(api: &FixtureApi, path: &str, accept: &str) -> (u16, HeaderMap, Vec<u8>) {
        let response = reqwest::Client::new()
            .get(format!(
                "{}{}",
                api.base_url(),
                path.trim_start_matches('/')
            ))
            .bearer_auth("demo")
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }

    async fn get_json(api: &FixtureApi, path: &str) -> Value {
        let (status, _, body) = get(api, path, "application/json").await;
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    const BUILD: &str = "/v2/organizations/acme/pipelines/web/builds/1234";
    const RSPEC: &str = "0190f3a2-6a02-4f7d-a3b8-1e6c2d9f4b02";

    #[tokio::test]
    async fn serves_files_lists_and_filters() {
        let api = start(&root()).await.unwrap();
        assert_eq!(get_json(&api, "/v2/user").await["name"], "Priya Natarajan");
        let orgs = get_json(&api, "/v2/organizations").await;
        assert_eq!(orgs[0]["slug"], "acme");

        let main = get_json(
            &api,
            "/v2/organizations/acme/pipelines/web/builds?branch%5B%5D=main&state%5B%5D=finished&per_page=3&exclude_jobs=true",
        )
        .await;
        let numbers: Vec<u64> = main
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["number"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, [1233, 1232, 1230]);
        assert!(main[0].get("jobs").is_none() && main[0].get("test_engine").is_none());

        let build = get_json(&api, BUILD).await;
        assert_eq!(
            build["jobs"].as_array().unwrap().len(),
            6,
            "retried jobs left out"
        );
        assert!(build.get("test_engine").is_none() && build.get("job_state_counts").is_some());
        let build = get_json(
            &api,
            &format!("{BUILD}?include_retried_jobs=true&include_test_engine=true"),
        )
        .await;
        assert_eq!(build["jobs"].as_array().unwrap().len(), 7);
        assert_eq!(build["test_engine"]["runs"].as_array().unwrap().len(), 2);
        // The failure summary's one request: every job, retried attempts
        // (linked to their retry) included, without the pipeline.
        let build = get_json(
            &api,
            &format!(
                "{BUILD}?exclude_pipeline=true&include_retried_jobs=true&include_test_engine=true"
            ),
        )
        .await;
        let jobs = build["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 7);
        let retried = jobs.iter().find(|job| job["retried"] == true).unwrap();
        let retry = jobs
            .iter()
            .find(|job| job["id"] == retried["retried_in_job_id"])
            .unwrap();
        assert_eq!(
            (&retried["state"], &retry["state"]),
            (&json!("failed"), &json!("passed"))
        );
        assert!(build.get("pipeline").is_none() && build["test_engine"].is_object());

        let failed = get_json(&api, &format!("{BUILD}/jobs?state%5B%5D=failed&state%5B%5D=timed_out&include_retried_jobs=true&per_page=100")).await;
        assert_eq!(failed["items"].as_array().unwrap().len(), 4);
        assert!(failed["links"]["self"].as_str().unwrap().starts_with(API));

        let job = get_json(&api, &format!("/v2/organizations/acme/jobs/{RSPEC}")).await;
        assert_eq!(job["step_key"], "rspec");

        let annotations = get_json(&api, &format!("{BUILD}/annotations")).await;
        assert_eq!(
            annotations.as_array().unwrap().len(),
            3,
            "build scope by default"
        );
        let all = get_json(&api, &format!("{BUILD}/annotations?scope=all&per_page=2")).await;
        assert_eq!(all.as_array().unwrap().len(), 2);
        let (_, headers, _) = get(
            &api,
            &format!("{BUILD}/annotations?scope=all&per_page=2"),
            "application/json",
        )
        .await;
        assert!(headers[header::LINK].to_str().unwrap().contains("page=2"));

        let tests = get_json(
            &api,
            "/v2/analytics/organizations/acme/suites/web-rspec/tests",
        )
        .await;
        assert!(tests[0].get("reliability").is_none(), "no version header");
        assert!(api.unanswered().is_empty(), "{:?}", api.unanswered());
    }

    #[tokio::test]
    async fn logs_head_json_and_downloads() {
        let api = start(&root()).await.unwrap();
        let log = format!("{BUILD}/jobs/{RSPEC}/log");
        let (status, headers, raw) = get(&api, &log, "text/plain").await;
        assert_eq!(status, 200);
        assert!(raw.starts_with(b"\x1b_bk;t="));
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");

        let head = reqwest::Client::new()
            .head(format!("{}{}", api.base_url(), log.trim_start_matches('/')))
            .bearer_auth("demo")
            .header("accept", "text/plain")
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(
            head.headers()[header::CONTENT_LENGTH].to_str().unwrap(),
            raw.len().to_string()
        );

        let json_log = get_json(&api, &log).await;
        assert_eq!(json_log["size"], raw.len());
        assert!(!json_log["header_times"].as_array().unwrap().is_empty());

        let artifact = "76365070-34d5-4104-8b91-952780f8029f";
        let download = format!("{BUILD}/jobs/{RSPEC}/artifacts/{artifact}/download");
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!(
                "{}{}",
                api.base_url(),
                download.trim_start_matches('/')
            ))
            .bearer_auth("demo")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        let location = response.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        let stored = reqwest::get(&location).await.unwrap();
        assert_eq!(stored.status(), 200);
        assert!(stored.text().await.unwrap().contains("NoMethodError"));
        assert!(api.unanswered().is_empty(), "{:?}", api.unanswered());
    }

    #[tokio::test]
    async fn misses_are_kept() {
        let api = start(&root()).await.unwrap();
        let (status, _, body) = get(
            &api,
            "/v2/organizations/acme/pipelines/nope",
            "application/json",
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(body, br#"{"message":"Not Found"}"#);
        let (status, _, _) = get(&api, &format!("{BUILD}?surprise=1"), "application/json").await;
        assert_eq!(status, 400);
        let unauthenticated = reqwest::get(format!("{}v2/user", api.base_url()))
            .await
            .unwrap();
        assert_eq!(unauthenticated.status(), 401);
        let missed = api.unanswered();
        assert_eq!(missed.len(), 3, "{missed:?}");
        assert!(
            missed[1]
                .starts_with("GET /v2/organizations/acme/pipelines/web/builds/1234?surprise=1")
        );
    }

    #[test]
    fn globs_and_decoding() {
        assert!(glob("coverage/*", "coverage/index.html"));
        assert!(glob("*.log", "log/test.log"));
        assert!(!glob("*.png", "log/test.log"));
        assert_eq!(decode("state%5B%5D"), "state[]");
        assert_eq!(decode("a+b%2"), "a b%2");
        assert_eq!(encode("feature/x y"), "feature%2Fx%20y");
    }
}
