//! Tollgate's own convergence surface on a control plane's management port: how a harness
//! outside the process (the container driver) awaits what the in-process one reads from handles.
//!
//! `GET /_tollgate/control-plane` answers `{"eventSeq": n, "trafficManagerSeq": m}` at once;
//! with `?seq=N&timeoutMs=T` it answers as soon as this node's Traffic Manager has applied
//! control-plane event `N` (200), or after `T` ms (504 with the same body). Never a sleep.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tollgate_control_plane::ControlPlane;
use tollgate_protocol::internal::{CONTROL_PLANE_SYNC, ControlPlaneSync};

#[derive(Clone)]
struct Ctx {
    cp: Arc<ControlPlane>,
    /// The Traffic Manager's applied event, when the node runs one.
    policies: Option<watch::Receiver<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncQuery {
    seq: Option<u64>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    30_000
}

/// The route, to merge into the control plane's management router.
pub fn router(cp: Arc<ControlPlane>, policies: Option<watch::Receiver<u64>>) -> axum::Router {
    axum::Router::new()
        .route(CONTROL_PLANE_SYNC, axum::routing::get(sync))
        .with_state(Ctx { cp, policies })
}

async fn sync(State(ctx): State<Ctx>, Query(q): Query<SyncQuery>) -> Response {
    let mut reached = true;
    if let (Some(seq), Some(policies)) = (q.seq, &ctx.policies) {
        let mut rx = policies.clone();
        let timeout = Duration::from_millis(q.timeout_ms.min(600_000));
        reached = matches!(
            tokio::time::timeout(timeout, rx.wait_for(|applied| *applied >= seq)).await,
            Ok(Ok(_))
        );
    }
    let body = ControlPlaneSync {
        event_seq: ctx.cp.event_seq(),
        traffic_manager_seq: ctx.policies.as_ref().map(|p| *p.borrow()),
    };
    let status = if reached {
        StatusCode::OK
    } else {
        StatusCode::GATEWAY_TIMEOUT
    };
    (status, Json(body)).into_response()
}
