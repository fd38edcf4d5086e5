//! The bundled demo organisation: a HAR recording of the `acme` organisation
//! (see `examples/demo/`), served by `--demo` with no account and no network.

/// The recording, embedded at build time from `examples/demo/demo.har`
/// (`cargo xtask demo --record` makes it anew).
pub const DEMO_HAR: &[u8] = include_bytes!("../demo.har");

/// The demo organisation's slug.
pub const DEMO_ORG: &str = "acme";

/// How long each demo answer takes, like a fast network: enough for progress
/// notifications to show, too little to notice.
pub const DEMO_LATENCY: std::time::Duration = std::time::Duration::from_millis(20);
