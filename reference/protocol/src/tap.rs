//! An observer of what a node does, for the harness's transcript (`harness/src/transcript.rs`).
//!
//! A node is handed at most one [`Tap`] (on its `Outbound`, as the harness hands it a fault
//! plane) and reports to it what changes its state from outside: each event a gateway applies,
//! each decision a Traffic Manager publishes and each one a gateway applies. A node started on
//! its own (the `tollgate-node` binary) has none, and nothing is built for it. No record is
//! made per proxied request: the request path never looks at the tap.

use std::sync::Arc;

/// Receives a node's records; the receiver names the node and stamps the time.
pub trait Tap: Send + Sync + std::fmt::Debug {
    /// Whether records are kept now: a node checks it before building one.
    fn enabled(&self) -> bool;

    /// One record of `kind` (`applied-event`, `decision`, …) with its `fields` (an object).
    fn record(&self, kind: &str, fields: serde_json::Value);
}

/// The tap handed to a node.
pub type SharedTap = Arc<dyn Tap>;

/// Records `kind` on `tap` when there is one and it is on, building the fields only then.
pub fn record(tap: Option<&SharedTap>, kind: &str, fields: impl FnOnce() -> serde_json::Value) {
    if let Some(tap) = tap
        && tap.enabled()
    {
        tap.record(kind, fields());
    }
}
