//! A job-log engine for Buildkite logs: parse, index, cache, read, tail and
//! search, for logs of any size up to Buildkite's 1 GiB per-job limit.
//!
//! - [`parse`]: raw log bytes in, rows out (timestamps, visible text, groups),
//!   streaming, with carriage-return redraws applied.
//! - [`LogCache`]: one checksummed, versioned entry per job on disk, written
//!   atomically, bounded with least-recently-used eviction.
//! - [`Engine`]: cache policy (authorize every access, TTL for running
//!   jobs, coalesced refreshes, ranged tails of huge logs) over a
//!   [`source::LogSource`].
//! - [`shared`]: a second tier shared by replicas (finished jobs' entries
//!   in an object store, download leases), behind traits implemented
//!   elsewhere; [`health`] keeps its failures from failing calls.
//! - [`LogFile`]: queries on an entry (read, tail, groups, info, search) that
//!   read only what they return.
//!
//! ```
//! use bk_logs::{EntryKey, LogCache, SearchQuery};
//!
//! # fn main() -> bk_logs::Result<()> {
//! let dir = tempfile::tempdir()?;
//! let cache = LogCache::new(dir.path(), 1 << 30)?;
//! let raw = b"\x1b_bk;t=1700000000000\x07--- Tests\n\x1b[31mFAILED\x1b[0m test_login\nok\n";
//! let log = cache.ingest_reader(&EntryKey::new("acme", "job-1"), &raw[..], Some("failed".into()), true)?;
//! let hits = log.search(&SearchQuery { pattern: "failed".into(), ..Default::default() })?;
//! assert_eq!(hits.hits[0].row.content, "FAILED test_login");
//! assert_eq!(log.tail(1, false)?[0].content, "ok");
//! # Ok(())
//! # }
//! ```

mod cache;
mod checked;
pub mod digest;
mod engine;
mod entry;
mod error;
pub mod health;
pub mod parse;
mod query;
pub mod shared;
pub mod source;

pub use cache::{DEFAULT_MAX_CACHE_BYTES, EntryKey, Ingest, LogCache};
pub use engine::{
    DEFAULT_ACCESS_RECHECK, DEFAULT_CACHE_TTL, Engine, EngineOptions, FetchPolicy, PartialTail,
    TailAnswer, Tailed,
};
pub use entry::{EntryMeta, FORMAT_VERSION, GroupInfo};
pub use error::{Error, Result};
pub use query::{
    LogFile, LogInfo, LogRow, PATTERN_SIZE_LIMIT, SearchHit, SearchQuery, SearchResult, compile,
};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
