//! The gateway's request path, start-up, sync, throttling, endpoint suspension and runtime home.
//!
//! One binary for all of them: every test binary links the whole crate graph again, so one link
//! instead of one per file keeps build time and `target/` size down (each module was a binary).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

#[macro_use]
mod common;
mod api_keys;
mod endpoint_suspension;
mod endpoints;
mod fuzz;
mod hostile_requests;
mod hostile_tokens;
mod internal_keys;
mod request_path;
mod runtime_home;
mod start;
mod sync;
mod throttling;
