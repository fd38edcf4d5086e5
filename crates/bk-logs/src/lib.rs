//! A job-log engine for Buildkite logs.
//!
//! - [`parse`]: raw log bytes in, rows out (timestamps, visible text, groups),
//!   streaming, with carriage-return redraws applied.
pub mod parse;
