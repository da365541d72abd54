//! Throttling on the wire: policies, throttle keys, gateway → Traffic Manager request events,
//! Traffic Manager → gateway decisions, and deny (blocking) conditions.
//!
//! ## Our wire (instead of WSO2's data-bridge and JMS)
//!
//! WSO2 gateways publish request events over the binary data-bridge (Thrift-like TCP, port
//! `9611 + offset`) and receive decisions as JMS messages on the `throttleData` topic of the
//! Traffic Manager's AMQP broker (`5672 + offset`). Tollgate keeps those two ports and their
//! roles but speaks HTTP/1.1 with newline-delimited JSON on both (plain HTTP; loopback or a
//! private network is assumed, as WSO2's `tcp://` URLs are unencrypted too):
//!
//! - **events**: `POST {EVENTS_PATH}` on the TM's `tm_binary` port, body
//!   `application/x-ndjson`, one [`RequestEvent`] per line, answered `202 Accepted` with
//!   `{"accepted": n, "rejected": m}` (lines that do not parse are skipped and counted; `400`
//!   when no line parses). Gateways send batches and never wait on the answer to serve a
//!   request (fire-and-forget, like `DataPublisher.tryPublish`).
//! - **decisions**: `GET {DECISIONS_PATH}` on the TM's `amqp` port, answered with an
//!   `application/x-ndjson` stream of [`ThrottleDecision`]: first every decision currently in
//!   force (throttled keys whose window has not ended), then every change as it happens. A
//!   [`ThrottleDecision`] with an empty key is a heartbeat, sent when the stream is idle.
//!
//! The `tcp://host:port` URLs of `[apim.throttling]` (`url_group.traffic_manager_urls`,
//! `throttle_decision_endpoints`) keep their WSO2 spelling; [`http_base`] turns one into the
//! HTTP base URL the client uses.
//!
//! Blocking conditions do not travel on the TM's wire here (WSO2 sends them on `throttleData`
//! too): they are control-plane state, sent to gateways as `BLOCKING` events on the event hub
//! and pulled at start from [`THROTTLE_DATA`].
//!
//! | module | what it holds |
//! |---|---|
//! | [`policy`] | policy DTOs as the Admin API writes them, limits and their windows |
//! | [`tiers`] | WSO2's built-in tiers and their stable ids |
//! | [`key`] | the throttle keys gateway and TM both count by |
//! | [`wire`] | the TM's two endpoints: request events, decisions; the control plane's throttle data |
//! | [`deny`] | deny policies (blocking conditions) and their evaluation |
//! | [`custom`] | custom rules: their compiled plan (TM) and key templates (gateway) |
//! | [`siddhi`] | the Siddhi subset custom rules are written in, and its located errors |
//!
//! Every item is re-exported here: `throttle::RequestEvent` and `throttle::wire::RequestEvent`
//! are one type.

pub mod custom;
pub mod deny;
pub mod key;
pub mod policy;
pub mod siddhi;
pub mod tiers;
pub mod wire;

pub use custom::*;
pub use deny::*;
pub use policy::*;
pub use tiers::*;
pub use wire::*;
