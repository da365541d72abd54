//! `deployment.toml` as WSO2 reads it: behaviour, errors with file/line/column/key, the shipped
//! files.
//!
//! One binary for all of them: every test binary links the whole crate graph again, so one link
//! instead of one per file keeps build time and `target/` size down (each module was a binary).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod behaviour;
mod errors;
mod fuzz;
mod shipped;
