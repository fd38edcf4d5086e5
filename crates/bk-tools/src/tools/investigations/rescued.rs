//! Which failed tests a retry rescued: a test that failed in an attempt
//! that was retried, and not in a job that stayed failed, is no failure of
//! the build.
//!
//! A build's Test Engine runs list every failed execution, the retried
//! attempts' included, and a build-wide "failed" query still counts a test
//! whose passing retry Test Engine has not ingested yet. So when the build
//! has retried jobs, the failed tests are asked for per terminal failed job
//! instead (the `build.job_id` tag, with `result:^failed`: it failed every
//! time it ran in that job): a test is a failure only if one of those
//! answers names it. A build without retried jobs costs no extra request;
//! one with them, a request per terminal failed job (at most [`MAX_JOBS`]),
//! and one more when none of them has a failed test, to tell "none failed"
//! from "Test Engine does not tag tests with their job".

use std::collections::HashSet;
use std::sync::Arc;

use buildkite_api::{Build, Job, JobState, ListTestsParams};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::error::ToolError;
use crate::tool::ToolContext;

/// Terminal failed jobs asked about, at most; with more, the answer is
/// incomplete and the fallback applies.
pub(crate) const MAX_JOBS: usize = 10;
/// Failed tests read per job (one page).
const PER_JOB: u32 = 100;
/// Jobs asked about at once.
const CONCURRENCY: usize = 4;

/// How the build's failed tests are told from rescued ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rescue {
    /// No job was retried: a failed execution is a failure (the callers'
    /// own rules, such as "it also passed in this build", still apply).
    NoRetries,
    /// Jobs were retried, and every terminal failed job was asked about:
    /// only the tests named here failed in a job that stayed failed.
    PerJob(HashSet<String>),
    /// Jobs were retried, but the per-job answers cannot be trusted (a
    /// read failed, a page or the job list was cut, or no job's tests carry
    /// the tag): the callers' own rules apply, with this warning.
    Unknown(String),
}

impl Rescue {
    /// Whether the failed test `test_id` was rescued by a retry: it failed
    /// only in attempts that were retried. Only a per-job answer says so.
    pub(crate) fn rescued(&self, test_id: Option<&str>) -> bool {
        match (self, test_id) {
            (Rescue::PerJob(failing), Some(id)) => !failing.contains(id),
            _ => false,
        }
    }

    /// The warning to pass on, when the per-job answer was not usable.
    pub(crate) fn warning(&self) -> Option<&str> {
        match self {
            Rescue::Unknown(why) => Some(why),
            _ => None,
        }
    }
}

/// The jobs whose latest attempt failed: failed or timed out (an expired
/// job never ran), or canceled, and not retried.
fn terminal_failed(build: &Build) -> Vec<&Job> {
    build
        .jobs
        .iter()
        .filter(|job| job.retried != Some(true))
        .filter(|job| {
            matches!(
                job.state,
                Some(JobState::Failed | JobState::TimedOut | JobState::Canceled)
            )
        })
        .collect()
}

/// Reads which failed tests of `build` failed in a job that stayed
/// failed. A 401 aborts; any other error makes the answer
/// [`Rescue::Unknown`].
pub(crate) async fn read(ctx: &ToolContext, org: &str, build: &Build) -> Result<Rescue, ToolError> {
    if !build.jobs.iter().any(|job| job.retried == Some(true)) {
        return Ok(Rescue::NoRetries);
    }
    let jobs = terminal_failed(build);
    if jobs.len() > MAX_JOBS {
        return Ok(Rescue::Unknown(format!(
            "could not tell tests rescued by a retry: {} jobs stayed failed, and at most {MAX_JOBS} are asked about",
            jobs.len()
        )));
    }
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    for job in jobs {
        let client = ctx.client.clone();
        let (org, build_id, job_id) = (org.to_owned(), build.id.clone(), job.id.clone());
        let permits = Arc::clone(&permits);
        tasks.spawn(
            async move {
                let _permit = permits.acquire_owned().await;
                let params = ListTestsParams {
                    tags: Some(format!("build.job_id:{job_id},result:^failed")),
                    per_page: Some(PER_JOB),
                    ..ListTestsParams::default()
                };
                client.list_build_tests(&org, &build_id, &params).await
            }
            .in_current_span(),
        );
    }
    let mut failing = HashSet::new();
    let mut problem = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(page)) => {
                if page.has_more() {
                    problem.get_or_insert_with(|| {
                        format!("a job has more than {PER_JOB} failed tests")
                    });
                }
                failing.extend(page.items.into_iter().map(|test| test.id));
            }
            Ok(Err(error @ buildkite_api::Error::Unauthorized { .. })) => {
                return Err(ToolError::api(
                    "a failed job's tests",
                    error,
                    &["read_suites"],
                ));
            }
            Ok(Err(error)) => {
                problem.get_or_insert_with(|| {
                    ToolError::api("a failed job's tests", error, &["read_suites"]).to_string()
                });
            }
            Err(_) => {
                problem.get_or_insert_with(|| "a read of a job's tests stopped".to_owned());
            }
        }
    }
    if let Some(why) = problem {
        return Ok(Rescue::Unknown(format!(
            "could not tell tests rescued by a retry: {why}"
        )));
    }
    if failing.is_empty() && !tags_jobs(ctx, org, build).await? {
        // No test names a job at all (a collector that does not set the
        // tag, or results not ingested yet): nothing is known.
        return Ok(Rescue::Unknown(
            "could not tell tests rescued by a retry: Test Engine names no test with a retried job's build.job_id tag".to_owned(),
        ));
    }
    Ok(Rescue::PerJob(failing))
}

/// Whether Test Engine tags this build's tests with their job: asked of a
/// retried attempt, when no job that stayed failed has a failed test (so
/// an empty answer means "none failed", not "no tags").
async fn tags_jobs(ctx: &ToolContext, org: &str, build: &Build) -> Result<bool, ToolError> {
    let Some(attempt) = build.jobs.iter().find(|job| job.retried == Some(true)) else {
        return Ok(false);
    };
    let params = ListTestsParams {
        tags: Some(format!("build.job_id:{}", attempt.id)),
        per_page: Some(1),
        ..ListTestsParams::default()
    };
    match ctx.client.list_build_tests(org, &build.id, &params).await {
        Ok(page) => Ok(!page.items.is_empty()),
        Err(error @ buildkite_api::Error::Unauthorized { .. }) => Err(ToolError::api(
            "a retried job's tests",
            error,
            &["read_suites"],
        )),
        Err(_) => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_per_job_answer_rescues() {
        let failing = Rescue::PerJob(["a".to_owned()].into());
        assert!(!failing.rescued(Some("a")));
        assert!(failing.rescued(Some("b")));
        assert!(!failing.rescued(None), "a test without an id is kept");
        assert!(!Rescue::NoRetries.rescued(Some("b")));
        assert!(!Rescue::Unknown("why".into()).rescued(Some("b")));
        assert_eq!(Rescue::Unknown("why".into()).warning(), Some("why"));
        assert_eq!(failing.warning(), None);
    }
}
