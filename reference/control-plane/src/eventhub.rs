//! The event hub: what gateways pull at start and follow afterwards (`/internal/data/v1`,
//! Basic auth with the super admin's or the `[apim.event_hub]` credentials).
//!
//! - `GET runtime-artifacts?gatewayLabel=<encoded labels>` → [`GatewaySnapshot`], taken under
//!   the store lock, so it is exactly the state as of its `eventSeq`.
//! - `GET notifications?after=<seq>` → `application/x-ndjson`: every retained event after
//!   `seq`, then live ones, one JSON object per line, and a `HEARTBEAT` line after each
//!   heartbeat interval without events. A heartbeat carries the hub's current sequence number
//!   and is not itself part of the log. `410 Gone` when `after` is older than the retained log,
//!   or newer than the last event (a log lost with a restarted control plane): the gateway must
//!   pull the snapshot again. A follower that falls behind the retained log
//!   mid-stream is disconnected for the same reason.

use crate::ControlPlane;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, StatusCode, header};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;
use tollgate_net::ndjson::{self, Feed, Lines};
use tollgate_protocol::event::{Event, EventEnvelope};
use tollgate_protocol::internal::{self, GatewaySnapshot, LabelledArtifact, decode_labels};

pub fn router(cp: Arc<ControlPlane>) -> Router {
    Router::new()
        .route(internal::GATEWAY_SNAPSHOT, get(snapshot))
        .route(internal::EVENTS, get(notifications))
        .with_state(cp)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"WSO2 API Manager\"")],
        axum::Json(serde_json::json!({"code": 401, "message": "Unauthorized",
            "description": "Invalid or missing event hub credentials", "moreInfo": "", "error": []})),
    )
        .into_response()
}

fn bad_request(description: &str) -> Response {
    crate::error::RestError::bad_request(description).into_response()
}

impl ControlPlane {
    /// Everything a gateway with `labels` needs at start, consistent with one event sequence.
    pub fn gateway_snapshot(&self, labels: &[String]) -> GatewaySnapshot {
        let now_secs = self.clock.now_secs();
        let state = self.lock();
        let mut list = Vec::new();
        for record in state.apis.values() {
            for (label, deployment) in &record.deployments {
                if !labels.contains(label) {
                    continue;
                }
                let (Some(env), Some(revision)) = (
                    self.environment(&state, label),
                    record
                        .revisions
                        .values()
                        .find(|r| r.id == deployment.revision_id),
                ) else {
                    continue;
                };
                list.push(LabelledArtifact {
                    label: label.clone(),
                    artifact: crate::state::artifact(
                        revision,
                        &record.api.life_cycle_status,
                        &env,
                        deployment,
                    ),
                });
            }
        }
        GatewaySnapshot {
            event_seq: state.seq(),
            count: list.len(),
            list,
            applications: state.applications.values().map(|a| a.app.clone()).collect(),
            key_mappings: state
                .key_mappings
                .values()
                .map(|k| k.mapping.clone())
                .collect(),
            subscriptions: state.subscriptions.values().cloned().collect(),
            key_managers: vec![self.key_manager().key_manager_info()],
            revoked_tokens: state
                .revoked
                .iter()
                .filter(|t| t.expiry_time > now_secs)
                .cloned()
                .collect(),
        }
    }
}

async fn snapshot(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    if !cp.authorize_event_hub(&headers) {
        return unauthorized();
    }
    let Some(encoded) = params.get("gatewayLabel") else {
        return bad_request("gatewayLabel is required");
    };
    let Some(labels) = decode_labels(encoded) else {
        return bad_request("gatewayLabel is not base64url-encoded labels");
    };
    axum::Json(cp.gateway_snapshot(&labels)).into_response()
}

/// One follower of the log.
struct Follower {
    cp: Arc<ControlPlane>,
    head: watch::Receiver<u64>,
    last_sent: u64,
}

impl Follower {
    /// Queues every event after `last_sent`; `false` if some were already dropped.
    fn catch_up(&mut self, out: &mut Lines<EventEnvelope>) -> bool {
        let state = self.cp.lock();
        let Some(events) = state.events_after(self.last_sent) else {
            return false;
        };
        for envelope in events {
            self.last_sent = envelope.seq;
            out.push(&envelope);
        }
        true
    }
}

impl Feed for Follower {
    type Item = EventEnvelope;

    async fn next(&mut self, out: &mut Lines<EventEnvelope>) -> bool {
        if self.head.changed().await.is_err() {
            return false; // the control plane is gone
        }
        self.catch_up(out)
    }

    fn heartbeat(&self) -> EventEnvelope {
        EventEnvelope {
            seq: *self.head.borrow(),
            time_stamp: self.cp.now_millis(),
            tenant_domain: self.cp.settings().tenant_domain.clone(),
            event: Event::Heartbeat,
        }
    }
}

async fn notifications(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    if !cp.authorize_event_hub(&headers) {
        return unauthorized();
    }
    let after = match params.get("after").map(|v| v.parse::<u64>()) {
        None => 0,
        Some(Ok(after)) => after,
        Some(Err(_)) => return bad_request("after must be a sequence number"),
    };
    let period = cp.settings().heartbeat_interval;
    // Subscribe before reading the backlog, so nothing published in between is missed.
    let head = cp.hub.head.subscribe();
    let mut follower = Follower {
        cp: cp.clone(),
        head,
        last_sent: after,
    };
    let mut backlog = Lines::new();
    if !follower.catch_up(&mut backlog) {
        return (
            StatusCode::GONE,
            axum::Json(serde_json::json!({"code": 410, "message": "Gone",
                "description": format!("Events after {after} are not in this event hub's log; pull the snapshot again"),
                "moreInfo": "", "error": []})),
        )
            .into_response();
    }
    ndjson::response(follower, backlog, period).into_response()
}
