//! List endpoints: the query parameters the real API documents for each
//! kind of list and the filters they apply (builds by `branch[]`,
//! `state[]`, …; annotations by `scope`; artifacts by `state` and `path`;
//! …), what a build answer leaves out, and paging: numbered (`page`,
//! `per_page` with a `Link` header) and cursor (`{items, links}`).

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};

use super::query::{Query, contains, encode, glob, text};
use super::{API, Answer, Call, Miss, Reply};

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

/// Which filters a list takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ListKind {
    Builds,
    Pipelines,
    Agents,
    TestRuns,
    FailedExecutions,
    Tests,
    Other,
}

impl ListKind {
    /// The kind of the list at `path`, from its last segment.
    pub(super) fn of(path: &str) -> ListKind {
        match path.rsplit('/').next().unwrap_or("") {
            "pipelines" => ListKind::Pipelines,
            "agents" => ListKind::Agents,
            "runs" => ListKind::TestRuns,
            "failed_executions" => ListKind::FailedExecutions,
            "tests" => ListKind::Tests,
            _ => ListKind::Other,
        }
    }
}

/// A numbered list page, filtered for its kind.
pub(super) fn list(mut items: Vec<Value>, kind: ListKind, call: &Call<'_>) -> Answer {
    let q = &call.query;
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
            items.retain(|build| build_matches(build, q));
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
            // Accepted; `labels` and the result tags filter (the demo's
            // lists are short).
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
            // `tags`: `result:^failed` (it failed every time) and
            // `result:~failed` (at least once) filter on the counts;
            // `build.job_id:…` is taken but not filtered: the demo's failed
            // tests all ran in jobs that stayed failed.
            if let Some(tags) = q.get("tags") {
                for tag in tags.split(',').map(str::trim) {
                    let count = |t: &Value, result: &str| {
                        t["executions_count_by_result"][result]
                            .as_u64()
                            .unwrap_or(0)
                    };
                    match tag {
                        "result:^failed" => {
                            items.retain(|t| count(t, "failed") > 0 && count(t, "passed") == 0);
                        }
                        "result:~failed" => items.retain(|t| count(t, "failed") > 0),
                        _ => {}
                    }
                }
            }
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

/// Whether `build` passes a build list's filters.
fn build_matches(build: &Value, q: &Query) -> bool {
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
}

/// A cursor-paged list: `{items, links}`, kept to what `keep` passes.
pub(super) fn cursor_list(
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

/// One numbered page of `items`, with a `Link` header when more follow.
pub(super) fn paged(items: Vec<Value>, call: &Call<'_>) -> Answer {
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

/// What a build answer leaves out.
#[derive(Debug)]
pub(super) struct BuildShape {
    pub(super) exclude_jobs: bool,
    pub(super) exclude_pipeline: bool,
    pub(super) include_retried_jobs: bool,
    pub(super) include_test_engine: bool,
    pub(super) job_states: Vec<String>,
    /// Only a single build carries its job counts.
    pub(super) job_state_counts: bool,
}

impl BuildShape {
    pub(super) fn apply(&self, mut build: Value) -> Value {
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

/// A build's artifacts, or one job's, filtered by `state` and `path`.
pub(super) fn artifacts(items: &Value, job_id: Option<&str>, call: &Call<'_>) -> Answer {
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

/// A build's annotations (by `scope`, `build` by default), or one job's.
pub(super) fn annotations(items: &Value, job_id: Option<&str>, call: &Call<'_>) -> Answer {
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

/// A test as the API gives it with or without `Buildkite-Version`.
pub(super) fn test_version(mut test: Value, headers: &HeaderMap) -> Value {
    let versioned = headers
        .get("buildkite-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v >= TESTS_VERSION);
    if !versioned && let Some(object) = test.as_object_mut() {
        object.retain(|key, _| TEST_BASE_FIELDS.contains(&key.as_str()));
    }
    test
}
