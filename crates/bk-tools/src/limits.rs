//! [`Limits`]: the limits and switches an operator sets for every tool (the
//! response budget, redaction, `wait_for_build` timing, the failure
//! summary's job cap). Result shaping and the tools both read them.

use std::time::Duration;

/// Limits and switches an operator sets for every tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest tool result, in bytes of JSON text (default 64 KiB).
    pub response_budget: usize,
    /// Replace secret-looking values with `[REDACTED]` (default on).
    pub redact_secrets: bool,
    /// Longest a single `wait_for_build` call waits (default 45 s).
    pub wait_for_build_timeout: Duration,
    /// Time between polls in `wait_for_build` (default 5 s).
    pub wait_for_build_interval: Duration,
    /// Most jobs `get_build_failure_summary` reports, whatever a call asks
    /// for (default 50, its schema's maximum).
    pub failure_summary_max_jobs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            response_budget: 64 * 1024,
            redact_secrets: true,
            wait_for_build_timeout: Duration::from_secs(45),
            wait_for_build_interval: Duration::from_secs(5),
            failure_summary_max_jobs: 50,
        }
    }
}
