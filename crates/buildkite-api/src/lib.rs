//! A typed async client for the [Buildkite REST API](https://buildkite.com/docs/apis/rest-api).
//!
//! - **Every endpoint an agent needs**: organizations, pipelines and
//!   schedules, builds, jobs, job logs (streamed, or just the tail), artifacts,
//!   annotations, clusters and queues, agents, step uploads and Test Engine.
//! - **Lossless types**: each resource keeps the fields it does not model in
//!   `extra`, so re-serialising gives back everything the API sent.
//! - **Errors to act on**: one [`Error`] variant per thing a caller handles
//!   differently, each naming the call that failed and the API's message.
//! - **Retries within a budget**: 429s wait for the rate limit to reset;
//!   5xx and broken connections retry safe requests with jittered backoff.
//! - **Safe by default**: every path segment is escaped; the token is never
//!   in `Debug` output or errors, and is sent to the API origin only.
//!
//! ```no_run
//! use buildkite_api::{BuildState, Client, ListBuildsParams};
//!
//! # async fn run() -> buildkite_api::Result<()> {
//! let client = Client::new(std::env::var("BUILDKITE_API_TOKEN").unwrap_or_default())?;
//! let failed = client
//!     .list_pipeline_builds("acme", "app", &ListBuildsParams {
//!         state: vec![BuildState::Failed],
//!         ..Default::default()
//!     })
//!     .await?;
//! for build in failed.items {
//!     println!("#{} {:?}", build.number, build.message);
//! }
//! # Ok(())
//! # }
//! ```

mod client;
mod credentials;
mod error;
pub mod har;
mod http;
pub mod models;
mod pacing;
mod page;
mod path;
mod rate_limit;
mod read_cache;
mod request;
pub mod resources;
mod response;
mod retry;
pub mod testing;
mod timestamp;

pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL, USER_AGENT};
pub use credentials::ApiToken;
pub use error::{Error, FieldError, RequestInfo, Result, TransportKind};
pub use models::*;
pub use pacing::{SharedAdmission, SharedBudget, SharedFuture};
pub use page::{
    Collected, CursorLinks, CursorPage, MAX_PER_PAGE, Page, PageLinks, collect_cursor_pages,
    collect_pages,
};
pub use rate_limit::{RateLimit, RateLimitWindow};
pub use read_cache::{
    CredentialId, DEFAULT_READ_CACHE_BYTES, DEFAULT_READ_CACHE_TTL, DEFAULT_SETTLED_READ_TTL,
};
pub use resources::PageParams;
pub use resources::agents::ListAgentsParams;
pub use resources::annotations::ListAnnotationsParams;
pub use resources::artifacts::ListArtifactsParams;
pub use resources::builds::{GetBuildParams, ListBuildsParams};
pub use resources::jobs::{JobRef, ListJobsParams};
pub use resources::logs::{LogStream, LogTail};
pub use resources::pipelines::ListPipelinesParams;
pub use resources::step_uploads::ListStepUploadsParams;
pub use resources::test_engine::{
    ListFailedExecutionsParams, ListTestRunsParams, ListTestsParams, TESTS_API_VERSION,
};
pub use retry::RetryPolicy;
pub use timestamp::Timestamp;

/// Re-exported so callers can build header maps and match statuses without
/// depending on `reqwest` directly.
pub use reqwest::{Method, StatusCode, header};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
