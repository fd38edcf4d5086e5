//! The `logs` toolset: tail, search and read one job's log.
//!
//! Every call goes through the log engine ([`bk_logs::Engine`]): the caller's
//! token is checked with a `HEAD` on the log each time, then the cached,
//! indexed copy is used (a finished job's for good, a running job's for
//! `cache_ttl`) or the log is downloaded and indexed once. Rows come back as
//! `{ts?, c, rn}` (plus `group` when asked): `c` is the text a terminal
//! shows (colour removed, progress redraws resolved), and patterns match
//! that same text.
//!
//! Unlike the reference server, nothing returns a whole log: every list is
//! bounded by a limit and by the response budget, and says where to continue.
//!
//! The parts: `args` (what every log tool takes), `job` (`JobLog`: how a
//! job's log is read, for these tools and the investigations), `fit`
//! (fitting answers to the response budget), and one module per tool.

use std::sync::Arc;

use crate::tool::{Tool, tool};

mod args;
mod fit;
mod job;
mod read;
mod search;
mod tail;

pub use self::args::CacheTtl;
pub(crate) use self::job::{JobLog, TailFor};
pub use self::read::{ReadLogs, ReadLogsArgs};
pub use self::search::{SearchLogs, SearchLogsArgs};
pub use self::tail::{TailLogs, TailLogsArgs};

/// The log tools.
pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![tool(SearchLogs), tool(TailLogs), tool(ReadLogs)]
}
