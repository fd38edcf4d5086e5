//! `wait_for_build`: polls a build until it stops changing, reporting
//! progress, within the operator's time limit.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use buildkite_api::{Build, BuildState, GetBuildParams};
use serde_json::{Map, Value, json};

use super::build::{BuildArgs, detail_view, read_annotations};
use super::view::READ;
use crate::args::DetailLevel;
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::tool::{Access, Handler, ToolContext, ToolMeta};
use crate::toolset::Toolset;

/// The shortest time a later poll is given, however little of the wait is left.
const MIN_POLL_TIME: Duration = Duration::from_secs(2);

/// Whether the wait is over: the build finished, or stopped at a block step.
fn is_done(state: &BuildState) -> bool {
    state.is_terminal() || *state == BuildState::Blocked
}

/// Seconds from the build's start to its end (or now); `None` before it starts.
fn build_elapsed_seconds(build: &Build) -> Option<i64> {
    let started = build.started_at?.0.timestamp_millis();
    let ended = match build.finished_at {
        Some(finished) => finished.0.timestamp_millis(),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(started, |d| {
                i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
            }),
    };
    Some((ended - started).max(0) / 1000)
}

/// `wait_for_build`.
#[derive(Debug)]
pub struct WaitForBuild;

#[async_trait]
impl Handler for WaitForBuild {
    type Args = BuildArgs;
    const META: ToolMeta = ToolMeta {
        name: "wait_for_build",
        title: "Wait for Build",
        description: "Waits up to 45 s (by default) for a build to finish or block; returns finished, state and, once done, the build. If not finished, call again; after ~10 calls, tell the user it is still running.",
        details: "The wait ends when the build is passed, failed, canceled, skipped or not_run, or stops at a block step (blocked, with a note on unblocking it), or at the server's wait limit (45 s by default), polling the build and reporting progress meanwhile. The result is {finished, state, number, waited_seconds, build_elapsed_seconds}, plus the build as get_build gives it at detail_level `detailed` once finished, or its web_url while not. If polling fails after a first answer, the last state is returned with the error.",
        toolset: Toolset::Builds,
        access: Access::Read,
        scopes: READ,
    };

    async fn run(&self, ctx: &ToolContext, args: BuildArgs) -> Result<ToolOutput, ToolError> {
        let (org, pipeline, number) = (
            args.org_slug.as_str(),
            args.pipeline_slug.as_str(),
            args.build_number.get(),
        );
        let timeout = ctx.limits.wait_for_build_timeout;
        let interval = ctx.limits.wait_for_build_interval;
        let params = GetBuildParams {
            exclude_jobs: Some(true),
            exclude_pipeline: Some(true),
            include_test_engine: Some(true),
            ..GetBuildParams::default()
        };
        let started = Instant::now();
        let mut last: Option<Build> = None;
        let mut stopped: Option<String> = None;
        // Each poll must see the build now: no cached or remembered answer.
        let polling = ctx.client.fresh_reads();
        loop {
            let poll = polling.get_build(org, pipeline, number, &params);
            // Every poll, the first included, ends within the wait limit.
            let limit = timeout.saturating_sub(started.elapsed()).max(MIN_POLL_TIME);
            let result = tokio::select! {
                result = tokio::time::timeout(limit, poll) => result,
                () = ctx.cancel.cancelled() => {
                    stopped = Some("the wait was cancelled".into());
                    break;
                }
            };
            let Ok(result) = result else {
                stopped = Some("the Buildkite API did not answer within the wait limit".into());
                break;
            };
            match result.context("the build", Self::META.scopes) {
                Ok(build) => {
                    let waited = started.elapsed();
                    ctx.report_progress(
                        waited.as_secs_f64(),
                        Some(timeout.as_secs_f64()),
                        &format!(
                            "build #{number} is {} after {} s",
                            build.state,
                            waited.as_secs()
                        ),
                    );
                    let done = is_done(&build.state);
                    last = Some(build);
                    if done {
                        break;
                    }
                }
                Err(error) if last.is_none() || error.is_unauthorized() => return Err(error),
                Err(error) => {
                    stopped = Some(error.to_string());
                    break;
                }
            }
            if started.elapsed() + interval > timeout {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = ctx.cancel.cancelled() => {
                    stopped = Some("the wait was cancelled".into());
                    break;
                }
            }
        }
        let Some(build) = last else {
            return Err(ToolError::Other(
                stopped.unwrap_or_else(|| "the wait was cancelled".into()),
            ));
        };
        let finished = is_done(&build.state);
        let mut out = Map::new();
        out.insert("finished".into(), json!(finished));
        out.insert("state".into(), json!(build.state));
        out.insert("number".into(), json!(build.number));
        out.insert("waited_seconds".into(), json!(started.elapsed().as_secs()));
        if let Some(elapsed) = build_elapsed_seconds(&build) {
            out.insert("build_elapsed_seconds".into(), json!(elapsed));
        }
        if let Some(reason) = &stopped {
            out.insert("error".into(), json!(reason));
        }
        if finished {
            if build.state == BuildState::Blocked {
                out.insert(
                    "note".into(),
                    json!("the build is waiting at a block step: list_jobs with state \"blocked\" finds it, and unblock_job lets the build continue"),
                );
            }
            let annotations = tokio::select! {
                annotations = read_annotations(ctx, org, pipeline, number) => annotations,
                () = ctx.cancel.cancelled() => Err(ToolError::Other("the wait was cancelled".into())),
            };
            let view = detail_view(&build, DetailLevel::Detailed, None, false, annotations)?;
            out.insert("build".into(), Value::Object(view));
        } else {
            if let Some(url) = &build.web_url {
                out.insert("web_url".into(), json!(url));
            }
            out.insert(
                "next".into(),
                json!(format!(
                    "the build is still {}: call wait_for_build again to keep waiting",
                    build.state
                )),
            );
        }
        Ok(ToolOutput::json(out))
    }
}
