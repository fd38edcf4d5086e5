//! Job-log engine for Buildkite logs: parse, index, cache, read, tail and search.
//!
//! Not implemented yet: this crate is an empty placeholder until its issue
//! ("bk-logs: a job-log engine") is taken. Nothing here pretends to work.
