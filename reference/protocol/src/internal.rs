//! The internal REST surface of the control plane (`/internal/data/v1`, on the management HTTPS
//! port, Basic auth with the event-hub credentials) and the gateway's node-local surface.

use crate::artifact::ApiArtifact;
use crate::store::{Application, KeyManager, KeyMapping, RevokedToken, Subscription};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// `GET ?gatewayLabel=<base64url(labels joined by "|")>` → [`GatewaySnapshot`]: everything a
/// gateway with those labels needs at start, as of event `eventSeq`.
pub const GATEWAY_SNAPSHOT: &str = "/internal/data/v1/runtime-artifacts";

/// `GET ?after=<seq>` → `application/x-ndjson` stream of [`crate::event::EventEnvelope`]: the
/// backlog after `seq`, then live events, with a `HEARTBEAT` when idle. `410 Gone` if `seq` is
/// older than the retained log: pull the snapshot again.
pub const EVENTS: &str = "/internal/data/v1/notifications";

/// How long the [`EVENTS`] stream stays silent before a `HEARTBEAT` (the control plane's
/// default); a follower times a stream out at a few of these.
pub const EVENTS_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(5);

/// `POST` [`BasicAuthRequest`] → [`BasicAuthValidation`]: checks a user's password against the
/// control plane's user store, as WSO2 gateways ask the Key Manager's
/// `RemoteUserStoreManagerService` (`BasicAuthCredentialValidator#validate`).
pub const BASIC_AUTH: &str = "/internal/data/v1/basic-auth";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicAuthRequest {
    pub username: String,
    pub password: String,
}

/// `BasicAuthValidationInfoDTO`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuthValidation {
    pub authenticated: bool,
    /// `admin@carbon.super`.
    #[serde(default)]
    pub domain_qualified_username: String,
    #[serde(default)]
    pub user_role_list: Vec<String>,
}

/// Gateway-local: `GET` → deployed APIs on this node (WSO2's `/api/am/gateway/v2/apis`).
pub const GATEWAY_APIS: &str = "/api/am/gateway/v2/apis";

/// Gateway-local: `GET` → 200 once the start-up sync is done, 503 before.
pub const GATEWAY_HEALTH: &str = "/api/am/gateway/v2/server-startup-healthcheck";

/// Gateway-local, Tollgate's own: `GET ?seq=N&timeoutMs=T` → answers as soon as this node has
/// applied event `N` (200 with [`SyncStatus`]) or after `T` ms (504 with the status). How a
/// harness awaits convergence without sleeping.
pub const GATEWAY_SYNC: &str = "/_tollgate/sync";

/// Gateway-local, Tollgate's own: `GET ?key=K&throttled=true|false&timeoutMs=T` → answers as
/// soon as this node holds (`throttled=true`), or no longer holds, a Traffic Manager decision
/// throttling key `K` (200 with [`ThrottleView`]), or after `T` ms (504). 404 when the node
/// follows no Traffic Manager.
pub const GATEWAY_THROTTLE: &str = "/_tollgate/throttle";

/// What [`GATEWAY_THROTTLE`] answers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleView {
    /// Whether the node holds a decision throttling the key now.
    pub throttled: bool,
    /// Decisions applied from the Traffic Manager's stream so far.
    pub decisions: u64,
    /// Whether the node is connected to a Traffic Manager.
    pub connected: bool,
}

/// Control-plane-local, Tollgate's own: `GET` → [`ControlPlaneSync`] at once; with
/// `?seq=N&timeoutMs=T`, as soon as the node's Traffic Manager has applied event `N` (200) or
/// after `T` ms (504). What a harness outside the process awaits instead of sleeping.
pub const CONTROL_PLANE_SYNC: &str = "/_tollgate/control-plane";

/// What [`CONTROL_PLANE_SYNC`] answers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneSync {
    /// The last event the control plane published.
    pub event_seq: u64,
    /// The last control-plane event the node's Traffic Manager applied (none without one).
    pub traffic_manager_seq: Option<u64>,
}

/// Everything a gateway needs at start.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewaySnapshot {
    /// The last event this snapshot includes; follow [`EVENTS`] with `after=eventSeq`.
    pub event_seq: u64,
    pub count: usize,
    /// One artifact per (API, label) deployed to the requested labels.
    pub list: Vec<LabelledArtifact>,
    pub applications: Vec<Application>,
    pub key_mappings: Vec<KeyMapping>,
    pub subscriptions: Vec<Subscription>,
    pub key_managers: Vec<KeyManager>,
    pub revoked_tokens: Vec<RevokedToken>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelledArtifact {
    pub label: String,
    pub artifact: ApiArtifact,
}

/// What [`GATEWAY_SYNC`] answers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// Last event applied on this node.
    pub applied_seq: u64,
    /// True once the start-up snapshot is applied and the event stream is followed.
    pub synced: bool,
    pub labels: Vec<String>,
    /// `apiId` → revision id, for every API this node serves.
    pub apis: std::collections::BTreeMap<String, String>,
}

/// `gatewayLabel` query value: labels joined by `|`, base64url without padding (as WSO2's
/// `DBRetriever` sends them).
pub fn encode_labels(labels: &[String]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(labels.join("|"))
}

/// Inverse of [`encode_labels`]; tolerant of padding.
pub fn decode_labels(value: &str) -> Option<Vec<String>> {
    let trimmed = value.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    Some(text.split('|').map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        let labels = vec!["Production Gateway".to_owned(), "Default".to_owned()];
        assert_eq!(decode_labels(&encode_labels(&labels)), Some(labels));
    }
}

/// Any node's management port, Tollgate's own: `GET` → [`ClockReading`], the node's wall clock;
/// `PUT` with a [`ClockReading`] moves a test clock forward to it (never back) and answers the
/// reading after the move. Only a node started with a test clock (`tollgate node
/// --virtual-clock`) can be moved; one on the system clock answers 409. How a harness outside
/// the process gives a topology virtual time.
pub const NODE_CLOCK: &str = "/_tollgate/clock";

/// What [`NODE_CLOCK`] reads and takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockReading {
    /// Unix milliseconds.
    pub now_millis: i64,
}
