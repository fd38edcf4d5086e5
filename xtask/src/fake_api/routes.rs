//! Paths to answers, by the tree's convention (also in
//! `examples/demo/README.md`):
//!
//! - `GET /a/b` answers `a/b.json`. When there is no such file but a
//!   directory `a/b/` holds `*.json` files, it answers the array of them:
//!   builds newest first, Test Engine runs newest first, anything else in
//!   file-name order. Arrays are filtered and paged as `lists` says; a
//!   query parameter the list does not take is a 400.
//! - A build file holds the build as `GET …/builds/{n}` gives it with
//!   `include_retried_jobs=true&include_test_engine=true`; the answer drops
//!   what the query leaves out (`exclude_jobs`, `exclude_pipeline`, retried
//!   jobs, `test_engine`, `job_states[]`). Its jobs also answer
//!   `…/builds/{n}/jobs` (cursor-paged `{items, links}`), `…/jobs/{id}` and
//!   the organization-scoped `/v2/organizations/{org}/jobs/{id}`.
//!   `/v2/organizations/{org}/builds` merges every pipeline's builds.
//! - `…/builds/{n}/artifacts.json` and `annotations.json` also answer the
//!   job-scoped lists (`…/jobs/{id}/artifacts`, `…/jobs/{id}/annotations`)
//!   and single artifacts. An artifact's `…/download` answers 302 to
//!   `/_artifacts/{artifact id}/{file name}` on this server (a stand-in for
//!   presigned storage URLs), which serves `_artifacts/…`.
//! - A job's log is `…/jobs/{id}/log.txt` (see `logs`); `…/jobs/{id}/env`
//!   answers `env.json` beside it.
//! - A Test Engine test without `Buildkite-Version: 2026-08-01` loses the
//!   reliability and duration fields, as the real API does.

use axum::http::StatusCode;
use axum::http::header;
use serde_json::{Value, json};

use super::data::Data;
use super::lists::{self, BuildShape, ListKind};
use super::query::{Query, decode, encode, text};
use super::{Answer, Call, Miss, Reply, logs, not_found};

/// Where stored artifacts are served from (no token needed).
const STORAGE: &str = "/_artifacts/";

/// Whether `path` is a storage URL, which needs no token.
pub(super) fn is_storage(path: &str) -> bool {
    path.starts_with(STORAGE)
}

/// The answer to a `GET` of `call` (a `HEAD` drops its body).
pub(super) fn answer(data: &Data, call: &Call<'_>) -> Answer {
    let segments: Vec<String> = call
        .path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["_artifacts", rest @ ..] => storage(data, &rest.join("/"), &call.query),
        ["v2", "organizations", org, "pipelines", pipeline, "builds"] => {
            let dir = format!("v2/organizations/{org}/pipelines/{pipeline}/builds");
            let mut builds = data.dir_items(&dir);
            builds.sort_by_key(|b| std::cmp::Reverse(b["number"].as_u64().unwrap_or(0)));
            if builds.is_empty()
                && !data.has(&format!("v2/organizations/{org}/pipelines/{pipeline}.json"))
            {
                return Err(not_found("no such pipeline"));
            }
            lists::list(builds, ListKind::Builds, call)
        }
        ["v2", "organizations", org, "builds"] => {
            let mut builds: Vec<Value> = data.builds_of(org).map(|(_, b)| b.clone()).collect();
            builds.sort_by(|a, b| text(b, "created_at").cmp(text(a, "created_at")));
            lists::list(builds, ListKind::Builds, call)
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
            build_route(data, &dir, rest, call)
        }
        ["v2", "organizations", org, "jobs", job_id, rest @ ..] => {
            let dir = data.build_of_job(org, job_id).ok_or_else(|| Miss {
                status: StatusCode::NOT_FOUND,
                message: "No job found".into(),
                why: "no build has this job".into(),
            })?;
            let build = read(data, &format!("{dir}.json"))?;
            job_route(data, &dir, build, job_id, rest, call)
        }
        _ => generic(data, &segments.join("/"), call),
    }
}

/// A JSON file of the data.
fn read<'a>(data: &'a Data, path: &str) -> Result<&'a Value, Miss> {
    data.json(path)
        .ok_or_else(|| not_found(format!("no {path}")))
}

/// Any path without a route of its own: a file, or a directory's files.
fn generic(data: &Data, path: &str, call: &Call<'_>) -> Answer {
    let kind = ListKind::of(path);
    let file = format!("{path}.json");
    if let Some(value) = data.json(&file) {
        return match value {
            Value::Array(items) => lists::list(items.clone(), kind, call),
            object => {
                call.query.only(&[])?;
                let is_test = path.contains("/suites/") && path.contains("/tests/");
                if is_test {
                    Ok(Reply::json(&lists::test_version(
                        object.clone(),
                        call.headers,
                    )))
                } else {
                    let bytes = data.json_bytes(&file).unwrap_or_default();
                    Ok(Reply::json_bytes(bytes))
                }
            }
        };
    }
    let mut items = data.dir_items(path);
    if items.is_empty() {
        return Err(not_found("no such file or directory in the tree"));
    }
    if kind == ListKind::TestRuns {
        items.sort_by(|a, b| text(b, "created_at").cmp(text(a, "created_at")));
    }
    if path.ends_with("/step-uploads") {
        return lists::cursor_list(
            items,
            call,
            &["filter[", "per_page", "after", "before"],
            |item, q| {
                q.get("filter[source_job_id]")
                    .is_none_or(|id| item["source_job_id"] == id)
            },
        );
    }
    lists::list(items, kind, call)
}

fn build_route(data: &Data, dir: &str, rest: &[&str], call: &Call<'_>) -> Answer {
    let build = read(data, &format!("{dir}.json"))?;
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
            Ok(Reply::json(&shape.apply(build.clone())))
        }
        ["jobs"] => {
            let jobs = build["jobs"].as_array().cloned().unwrap_or_default();
            lists::cursor_list(
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
                        && (q.flag("include_retried_jobs") != Some(false) || job["retried"] != true)
                },
            )
        }
        ["jobs", job_id, rest @ ..] => job_route(data, dir, build, job_id, rest, call),
        ["artifacts"] => {
            let items = read(data, &format!("{dir}/artifacts.json"))?;
            lists::artifacts(items, None, call)
        }
        ["annotations"] => {
            let items = read(data, &format!("{dir}/annotations.json"))?;
            lists::annotations(items, None, call)
        }
        _ => generic(data, &format!("{dir}/{}", rest.join("/")), call),
    }
}

fn job_route(
    data: &Data,
    dir: &str,
    build: &Value,
    job_id: &str,
    rest: &[&str],
    call: &Call<'_>,
) -> Answer {
    let job = build["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|job| job["id"] == job_id))
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
            Ok(Reply::json(job))
        }
        ["log"] | ["log.txt"] => {
            q.only(&[])?;
            let raw = data
                .raw(&format!("{job_dir}/log.txt"))
                .ok_or_else(|| not_found("the job has no log.txt"))?;
            let mut reply = logs::answer(raw, &job_dir, rest == ["log.txt"], call.headers);
            reply.log_of = Some(job_id.to_owned());
            Ok(reply)
        }
        ["env"] => {
            q.only(&[])?;
            Ok(Reply::json(read(data, &format!("{job_dir}/env.json"))?))
        }
        ["artifacts"] => {
            let items = read(data, &format!("{dir}/artifacts.json"))?;
            lists::artifacts(items, Some(job_id), call)
        }
        ["artifacts", artifact_id, rest @ ..] => {
            q.only(&[])?;
            let items = read(data, &format!("{dir}/artifacts.json"))?;
            let artifact = items
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|x| x["id"] == *artifact_id && x["job_id"] == job_id)
                })
                .ok_or_else(|| Miss {
                    status: StatusCode::NOT_FOUND,
                    message: "Artifact not found".into(),
                    why: "no such artifact for this job".into(),
                })?;
            match rest {
                [] => Ok(Reply::json(artifact)),
                ["download"] => {
                    let location = format!(
                        "{}{STORAGE}{artifact_id}/{}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIADEMO%2F20260814%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260814T093500Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=0d3m0",
                        call.origin,
                        encode(text(artifact, "filename")),
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
            let items = read(data, &format!("{dir}/annotations.json"))?;
            lists::annotations(items, Some(job_id), call)
        }
        _ => Err(not_found("unknown job route")),
    }
}

/// `/_artifacts/{id}/{file name}`: stored artifact content.
fn storage(data: &Data, path: &str, query: &Query) -> Answer {
    if query.0.iter().any(|(name, _)| !name.starts_with("X-Amz-")) {
        return Err(not_found("storage URLs take only X-Amz-* parameters"));
    }
    let bytes = data
        .raw(&format!("_artifacts/{path}"))
        .ok_or_else(|| not_found("no stored content for this artifact"))?;
    let content_type = match path.rsplit_once('.').map(|(_, e)| e) {
        Some("json") => "application/json",
        Some("html") => "text/html",
        Some("png") => "image/png",
        Some("log" | "txt") => "text/plain",
        _ => "application/octet-stream",
    };
    Ok(Reply::bytes(content_type, bytes))
}
