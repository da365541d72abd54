//! An observer of what a node does, for the harness's transcript (`harness/src/transcript.rs`).
//!
//! A node is handed at most one [`Tap`] (on its `Outbound`, as the harness hands it a fault
//! plane) and reports to it what changes its state from outside: each event a gateway applies,
//! each decision a Traffic Manager publishes and each one a gateway applies; and, where the tap
//! asks for them ([`Tap::exchanges`]), the HTTP exchanges its background tasks and a load
//! balancer make with other members (`tollgate_net::exchange` builds those records). A node
//! started on its own (the `tollgate-node` binary) has none, and nothing is built for it. No
//! record is made per request a gateway proxies: its request path never looks at the tap.

use std::sync::Arc;

/// Receives a node's records; the receiver names the node and stamps the time.
pub trait Tap: Send + Sync + std::fmt::Debug {
    /// Whether records are kept now: a node checks it before building one.
    fn enabled(&self) -> bool;

    /// One record of `kind` (`applied-event`, `decision`, …) with its `fields` (an object).
    fn record(&self, kind: &str, fields: serde_json::Value);

    /// Whether the node's own HTTP exchanges are recorded now; off unless the receiver asks.
    fn exchanges(&self) -> bool {
        false
    }

    /// One HTTP exchange the node made with `authority` (`host:port`, the port always
    /// written): `fields` holds `request` and `response` or `error`. The receiver names both
    /// ends.
    fn exchange(&self, _authority: &str, _fields: serde_json::Value) {}
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
