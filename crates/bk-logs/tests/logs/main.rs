//! bk-logs' integration tests, in one binary: the cache, queries and
//! engine end to end, the parser's edge cases, and the parser's properties.

#![allow(clippy::unwrap_used)]

mod cache;
mod parser;
mod properties;
