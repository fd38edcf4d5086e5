//! bk-fleet's tests, in one binary: the shared log tier, and the
//! organizations' rate-limit windows shared in Redis.

mod rate_budget;
mod tier;
