//! The scenario format's tests: parsing, the model, errors with their positions, the shipped
//! suite and the examples in `scenarios/README.md`.
//!
//! One binary for all of them: every test binary links the whole crate graph again, so one link
//! instead of one per file keeps build time and `target/` size down (each module was a binary).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod artifacts;
mod errors;
mod examples;
mod faults_and_load;
mod model;
mod never_panics;
mod readme;
mod shipped_suite;
mod token_variant;
