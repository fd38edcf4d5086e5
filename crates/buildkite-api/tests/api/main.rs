//! End-to-end tests of the client against a wiremock Buildkite API.
//!
//! One test binary (faster to link than one per file), one module per area.
//! Fixtures in `tests/fixtures/` are realistic API responses.

// Panicking on an unexpected result is how a test fails, helpers included.
#![allow(clippy::unwrap_used)]

mod common;

mod agents;
mod annotations;
mod artifacts;
mod builds;
mod clusters;
mod decoding;
mod errors;
mod faults;
mod har;
mod jobs;
mod logs;
mod organizations;
mod pacing;
mod pagination;
mod pipelines;
mod read_cache;
mod retries;
mod security;
mod spans;
mod step_uploads;
mod test_engine;
