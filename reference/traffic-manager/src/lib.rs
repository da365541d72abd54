//! WSO2 API-M's Traffic Manager, and the gateway's client for it.
//!
//! Gateways publish one event per non-throttled request; the TM counts them per throttle key
//! in fixed windows aligned to epoch boundaries (`timeBatch(unit, 0)`), and tells every
//! gateway when a key becomes throttled (until the window ends) or stops being throttled.
//! One TM sees every gateway's events, so a quota is shared by all gateways; gateways keep
//! the last decisions and keep serving when the TM is gone (fail-open). The wire is ours
//! (HTTP + ndjson instead of the binary data-bridge and JMS): see
//! `tollgate_protocol::throttle`.
//!
//! | module | what it holds |
//! |---|---|
//! | [`manager`] | [`TrafficManager`]: policies, counters, decisions on state change, `tick` |
//! | [`server`] | the event receiver (`tm_binary` port) and decision stream (`amqp` port) |
//! | [`client`] | gateway side: [`ThrottleDataHolder`], [`DecisionFollower`], [`EventPublisher`] |
//!
//! Not done (said, not faked): conditional groups of advanced policies and custom (Siddhi)
//! policies are stored but not evaluated; the `_default`/`_condition_N` key suffixes of
//! WSO2's advanced-policy decisions are not used (decisions carry the plain key); TM-to-TM
//! event duplication (`event_duplicate_url`) is not needed because every url group already
//! receives every event.

pub mod client;
pub mod manager;
pub mod server;

pub use client::{
    Backoff, ClientError, DecisionFollower, EventPublisher, FollowerStatus, PublishGroup,
    PublisherSettings, PublisherStats, ThrottleDataHolder,
};
pub use manager::TrafficManager;
pub use server::ServerSettings;
