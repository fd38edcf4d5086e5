//! The examples' tests, in one binary: the reverse proxy, and the exported
//! tool lists with strict-mode calls.

mod proxy;
mod schemas;
