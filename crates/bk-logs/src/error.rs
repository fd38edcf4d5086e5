//! The error type of the log engine.

use std::io;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong in the log engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the cache failed.
    #[error("log cache I/O failed: {0}")]
    Io(#[from] io::Error),
    /// A cache entry failed its checks; it is rebuilt, never served.
    #[error("log cache entry is corrupt: {0}")]
    Corrupt(String),
    /// A cache entry was written by another format version.
    #[error("log cache entry has format version {found}, expected {expected}")]
    Version {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// The search pattern is not a valid regular expression, or is too large.
    #[error("invalid search pattern: {0}")]
    Pattern(String),
    /// A query argument is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The log is larger than the engine accepts (4 GiB of text).
    #[error("the log is too large to index: {0}")]
    TooLarge(String),
    /// Fetching the log from its source failed.
    #[error("{0}")]
    Source(#[from] crate::source::SourceError),
}
