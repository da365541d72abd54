//! The harness's integration tests: the guide's topology end to end, HA faults under load,
//! throttling across gateways, the CLI and its outputs. (Scenario files and the container tier are
//! two more binaries, `scenarios` and `containers`, with libtest-mimic harnesses.)
//!
//! One binary for all of them: every test binary links the whole crate graph again, so one link
//! instead of one per file keeps build time and `target/` size down (each module was a binary).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

#[macro_use]
mod common;
mod all_in_one;
mod cli;
mod conform;
mod copies;
mod determinism;
mod guide_topology;
mod ha;
mod hostile;
mod run_command;
mod runner;
mod stable_outputs;
mod throttling;
mod walkthrough_script;
