//! A client for the live API or for the bundled demo recording, and a log
//! engine to go with it.

use std::path::PathBuf;
use std::sync::Arc;

use buildkite_api::Client;
use buildkite_api::har::HarReplay;

/// The organization of the demo recording.
pub const DEMO_ORG: &str = "acme";
/// The demo organization's pipeline with a red build.
pub const DEMO_PIPELINE: &str = "web";
/// The red build of the demo pipeline.
pub const DEMO_BUILD: u64 = 1234;

/// The bundled recording of the demo organization.
pub fn demo_har_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/demo.har")
}

/// Where a [`Client`] gets its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The Buildkite API (or `BUILDKITE_BASE_URL`), with a token.
    Live,
    /// The bundled recording: no network, no token.
    Demo,
}

/// A client that replays the bundled demo recording.
pub fn demo_client() -> buildkite_api::Result<Client> {
    let replay = HarReplay::from_file(demo_har_path())?;
    Client::builder().replay(replay).build()
}

/// A client for the live API when `BUILDKITE_API_TOKEN` is set (and
/// `BUILDKITE_BASE_URL`, if set, as its root), else one for the demo
/// recording.
pub fn client_from_env() -> buildkite_api::Result<(Client, Mode)> {
    let token = std::env::var("BUILDKITE_API_TOKEN").unwrap_or_default();
    if token.trim().is_empty() {
        return Ok((demo_client()?, Mode::Demo));
    }
    let mut builder = Client::builder()
        .token(token.trim())
        .user_agent(format!("bk-examples/{}", env!("CARGO_PKG_VERSION")));
    if let Some(base_url) = std::env::var("BUILDKITE_BASE_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
    {
        builder = builder.base_url(base_url);
    }
    Ok((builder.build()?, Mode::Live))
}

/// A log engine on a fresh temporary cache, removed when the returned
/// directory is dropped (so keep it as long as the engine).
pub fn temporary_log_engine() -> std::io::Result<(Arc<bk_logs::Engine>, tempfile::TempDir)> {
    let dir = tempfile::Builder::new().prefix("bk-examples-").tempdir()?;
    let cache = bk_logs::LogCache::new(dir.path(), bk_logs::DEFAULT_MAX_CACHE_BYTES)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let engine = bk_logs::Engine::new(cache, bk_logs::EngineOptions::default());
    Ok((Arc::new(engine), dir))
}

/// The value of the first of `names` that is set and not empty.
pub fn env_any(names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .map(|value| value.trim().to_owned())
        .find(|value| !value.is_empty())
}
