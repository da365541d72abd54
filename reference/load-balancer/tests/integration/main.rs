//! The reference load balancer: proxying, health checks, ejection and retries, and the HA topology.
//!
//! One binary for all of them: every test binary links the whole crate graph again, so one link
//! instead of one per file keeps build time and `target/` size down (each module was a binary).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod ha_topology;
mod proxy;
