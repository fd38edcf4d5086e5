//! The configuration error both binaries report: one line naming the flag
//! or variable to fix.

/// Why the configuration cannot be used. Each message is one line that
/// names the flag or variable to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    /// A configuration error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError(message.into())
    }
}
