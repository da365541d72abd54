//! The control plane over HTTP: Publisher, Developer Portal, Admin and Key Manager REST APIs, their
//! WSO2 shapes (checked against WSO2's specs in `tests/wso2-openapi`) and edge cases.
//!
//! One binary for all of them: every test binary links the whole crate graph again, so one link
//! instead of one per file keeps build time and `target/` size down (each module was a binary).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

#[macro_use]
mod common;
mod admin;
mod catalog;
mod certificates;
mod constraints;
mod control_plane;
mod coverage;
mod create_api_script;
mod custom_rules;
mod database;
mod definitions;
mod definitions_by_url_and_archive;
mod documents_and_comments;
mod edges;
mod environments;
mod internal_key;
mod key_maintenance;
mod lifecycle_and_blocking;
mod openapi_shapes;
mod operation_policies;
mod products;
mod serve;
mod spec_fuzz;
mod tiers;
mod user_store;
