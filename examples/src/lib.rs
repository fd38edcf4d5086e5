//! What the workspace examples (`examples/*.rs`) share, kept in a library so
//! that it is tested:
//!
//! - [`demo`]: a Buildkite client for the live API when `BUILDKITE_API_TOKEN`
//!   is set, or one that replays the bundled demo recording
//!   (`examples/demo/demo.har`, organization `acme`) when it is not; and a log
//!   engine on a temporary cache.
//! - [`schemas`]: the `bk-tools` tool list in the OpenAI function-calling and
//!   Anthropic tool formats (with OpenAI's strict mode), and the glue to
//!   dispatch a model's tool call and hand the result back.
//! - [`proxy`]: a reverse proxy for `bk-mcp-http` that authenticates its own
//!   users and passes each one's Buildkite token through.
//! - [`text`]: small text helpers for terminal output.

pub mod demo;
pub mod proxy;
pub mod schemas;
pub mod text;
