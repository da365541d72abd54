//! The node-local management surface on the HTTPS management port (9443 + offset).
//!
//! Off the hot path, so axum. WSO2's gateway REST API (`/api/am/gateway/v2`) is reduced to
//! what the harness reads: the deployed APIs and the start-up health check; plus Tollgate's
//! own long-poll for convergence ([`GATEWAY_SYNC`]) and the node's clock ([`NODE_CLOCK`],
//! movable only on a node started with a test clock). Not implemented: the rest of
//! `/api/am/gateway/v2` (redeploy, undeploy, artifacts, local entries, ...).
//!
//! `/api/am/gateway/v2` takes Basic auth with the node's `[super_admin]` credentials, as WSO2
//! protects it; a missing or wrong `Authorization` is a 401 with a Basic challenge. The start-up
//! health check stays open: load balancers and orchestrators probe it without credentials. The
//! `/_tollgate/*` resources are the harness's and carry no WSO2 data.

use crate::gateway::Gateway;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tollgate_protocol::SharedClock;
use tollgate_protocol::internal::{
    ClockReading, GATEWAY_APIS, GATEWAY_HEALTH, GATEWAY_SYNC, GATEWAY_THROTTLE, NODE_CLOCK,
    ThrottleView,
};

/// The management router.
pub fn router(gateway: Arc<Gateway>) -> axum::Router {
    let protected = axum::Router::new()
        .route(GATEWAY_APIS, get(apis))
        .route_layer(axum::middleware::from_fn_with_state(
            gateway.clone(),
            require_admin,
        ));
    axum::Router::new()
        .merge(protected)
        .route(GATEWAY_HEALTH, get(health))
        .route(GATEWAY_SYNC, get(sync))
        .route(GATEWAY_THROTTLE, get(throttle))
        .merge(clock_router(gateway.clock.clone(), None))
        .with_state(gateway)
}

/// Basic auth with the node's `[super_admin]` credentials for `/api/am/gateway/v2`.
async fn require_admin(
    State(gateway): State<Arc<Gateway>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let settings = gateway.settings();
    if is_admin(
        request.headers(),
        &settings.admin_username,
        &settings.admin_password,
    ) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(
            axum::http::header::WWW_AUTHENTICATE,
            "Basic realm=\"WSO2 API Manager\"",
        )],
        Json(serde_json::json!({
            "code": 401, "message": "Unauthenticated",
            "description": "Authentication failed: the gateway REST API takes Basic auth with the admin credentials",
            "moreInfo": "", "error": []
        })),
    )
        .into_response()
}

/// Whether `headers` carry exactly one `Authorization: Basic` with `username:password`.
fn is_admin(headers: &http::HeaderMap, username: &str, password: &str) -> bool {
    use base64::Engine;
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let Some(encoded) = value.as_bytes().strip_prefix(b"Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim_ascii()) else {
        return false;
    };
    let expected = format!("{username}:{password}");
    // Constant time in the length of what was sent: no early exit on the first wrong byte.
    decoded.len() == expected.len()
        && decoded
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Called after the clock moved (a control-plane node rolls its Traffic Manager's windows).
pub type ClockMoved = Arc<dyn Fn() + Send + Sync>;

/// [`NODE_CLOCK`] over `clock`, for any node's management router; `moved` runs after each move,
/// before the answer.
pub fn clock_router<S: Clone + Send + Sync + 'static>(
    clock: SharedClock,
    moved: Option<ClockMoved>,
) -> axum::Router<S> {
    let read = {
        let clock = clock.clone();
        move || {
            let now_millis = clock.now_millis();
            async move { Json(ClockReading { now_millis }) }
        }
    };
    let set = move |Json(to): Json<ClockReading>| {
        let clock = clock.clone();
        let moved = moved.clone();
        async move {
            if !clock.move_to(to.now_millis) {
                return (
                    StatusCode::CONFLICT,
                    Json(serde_json::json!({
                        "error": "this node runs on the system clock; start it with --virtual-clock to move its time"
                    })),
                )
                    .into_response();
            }
            if let Some(moved) = moved {
                moved();
            }
            Json(ClockReading {
                now_millis: clock.now_millis(),
            })
            .into_response()
        }
    };
    axum::Router::new().route(NODE_CLOCK, get(read).put(set))
}

/// One row of `GET /api/am/gateway/v2/apis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployedApi {
    pub api_id: String,
    pub name: String,
    pub version: String,
    pub context: String,
    pub revision_id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedApiList {
    pub count: usize,
    pub list: Vec<DeployedApi>,
}

/// The deployed APIs, sorted by context so the answer is stable.
pub fn deployed_apis(gateway: &Gateway) -> DeployedApiList {
    let routes = gateway.routes();
    let mut list: Vec<DeployedApi> = routes
        .apis()
        .map(|api| DeployedApi {
            api_id: api.artifact.api_id.clone(),
            name: api.artifact.name.clone(),
            version: api.artifact.version.clone(),
            context: api.artifact.context.clone(),
            revision_id: api.artifact.revision_id.clone(),
            label: api.label.clone(),
        })
        .collect();
    list.sort_by(|a, b| a.context.cmp(&b.context));
    DeployedApiList {
        count: list.len(),
        list,
    }
}

async fn apis(State(gateway): State<Arc<Gateway>>) -> Json<DeployedApiList> {
    Json(deployed_apis(&gateway))
}

async fn health(State(gateway): State<Arc<Gateway>>) -> Response {
    let synced = gateway.status().synced;
    let status = if synced {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(serde_json::json!({ "isHealthy": synced }))).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SyncQuery {
    seq: u64,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

fn default_timeout_ms() -> u64 {
    30_000
}

async fn sync(State(gateway): State<Arc<Gateway>>, Query(q): Query<SyncQuery>) -> Response {
    let timeout = Duration::from_millis(q.timeout_ms.min(600_000));
    let reached = tokio::time::timeout(timeout, gateway.wait_for_seq(q.seq))
        .await
        .is_ok();
    let status = if reached {
        StatusCode::OK
    } else {
        StatusCode::GATEWAY_TIMEOUT
    };
    (status, Json(gateway.status())).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThrottleQuery {
    key: String,
    throttled: bool,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

/// Awaits this node's decision holder, not the Traffic Manager's counters: what a request
/// arriving now would meet.
async fn throttle(State(gateway): State<Arc<Gateway>>, Query(q): Query<ThrottleQuery>) -> Response {
    let throttle = gateway.throttle();
    let (Some(holder), Some(mut status)) =
        (throttle.decisions().cloned(), throttle.follower_status())
    else {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": "this gateway follows no Traffic Manager" })),
        )
            .into_response();
    };
    let clock = gateway.clock.clone();
    let holds = |key: &str| holder.is_throttled(key, clock.now_millis()).is_some();
    // The follower applies a decision before it bumps its status: every status change is a
    // moment to look at the holder again.
    let timeout = Duration::from_millis(q.timeout_ms.min(600_000));
    let reached = tokio::time::timeout(timeout, status.wait_for(|_| holds(&q.key) == q.throttled))
        .await
        .is_ok_and(|r| r.is_ok());
    let now = status.borrow().clone();
    let view = ThrottleView {
        throttled: holds(&q.key),
        decisions: now.decisions,
        connected: now.connected.is_some(),
    };
    let code = if reached {
        StatusCode::OK
    } else {
        StatusCode::GATEWAY_TIMEOUT
    };
    (code, Json(view)).into_response()
}

/// The router as a hyper service for [`tollgate_net::serve`].
#[derive(Debug, Clone)]
pub struct ManagementService {
    router: axum::Router,
}

impl ManagementService {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Self {
            router: router(gateway),
        }
    }
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for ManagementService {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response, std::convert::Infallible>> + Send>,
    >;

    fn call(&self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        use tower::ServiceExt;
        let router = self.router.clone();
        Box::pin(async move { router.oneshot(request.map(axum::body::Body::new)).await })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tollgate_protocol::{ManualClock, SystemClock};
    use tower::ServiceExt;

    async fn call(router: &axum::Router, method: &str, body: Option<i64>) -> (StatusCode, String) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(NODE_CLOCK)
            .header("content-type", "application/json");
        let body = match body {
            Some(millis) => Body::from(format!(r#"{{"nowMillis":{millis}}}"#)),
            None => Body::empty(),
        };
        let response = router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_test_clock_is_read_and_moved_forward_only_and_the_callback_runs() {
        let moves = Arc::new(AtomicUsize::new(0));
        let counted = moves.clone();
        let router: axum::Router = clock_router(
            Arc::new(ManualClock::new(1_000)),
            Some(Arc::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
            })),
        );
        assert_eq!(
            call(&router, "GET", None).await,
            (StatusCode::OK, r#"{"nowMillis":1000}"#.into())
        );
        assert_eq!(
            call(&router, "PUT", Some(61_000)).await,
            (StatusCode::OK, r#"{"nowMillis":61000}"#.into())
        );
        // Never back: the answer is the clock after the (refused) move.
        assert_eq!(
            call(&router, "PUT", Some(5)).await,
            (StatusCode::OK, r#"{"nowMillis":61000}"#.into())
        );
        assert_eq!(moves.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_system_clock_refuses_to_move() {
        let router: axum::Router = clock_router(Arc::new(SystemClock), None);
        let (status, body) = call(&router, "PUT", Some(0)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(body.contains("--virtual-clock"), "{body}");
    }
}
