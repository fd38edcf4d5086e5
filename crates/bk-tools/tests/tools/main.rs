//! End-to-end tests of every tool against a wiremock Buildkite API: the exact
//! requests made, the shaped output (insta snapshots), and error paths; the
//! tool surface as a whole; and the log engine over the API. One test
//! binary, one module per toolset.

#![allow(clippy::unwrap_used)]

mod common;

mod agents;
mod annotations;
mod artifacts;
mod bounds;
mod builds;
mod clusters;
mod compare;
mod defusing;
mod investigations;
mod log_source;
mod logs;
mod pipelines;
mod rate_limit;
mod read_cache;
mod skills;
mod surface;
mod test_engine;
mod triage;
mod user;
