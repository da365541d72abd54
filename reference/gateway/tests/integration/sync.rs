//! Sync: events applied by hand, then the sync client against a small in-test control plane
//! serving a snapshot and NDJSON event streams. Convergence is awaited with `wait_for_seq`,
//! bounded by a timeout so a bug fails instead of hanging; nothing sleeps.

use crate::common::*;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tollgate_gateway::management;
use tollgate_protocol::ManualClock;
use tollgate_protocol::artifact::EnvironmentType;
use tollgate_protocol::event::Event;
use tollgate_protocol::internal::{EVENTS, GATEWAY_SNAPSHOT, GatewaySnapshot, decode_labels};

const BOUND: Duration = Duration::from_secs(10);

fn pizza(revision: &str) -> tollgate_protocol::artifact::ApiArtifact {
    let mut a = artifact(
        "pizza",
        "/pizzashack/1.0.0",
        EnvironmentType::Hybrid,
        Some("http://127.0.0.1:1/production".into()),
        None,
    );
    a.revision_id = revision.into();
    a
}

fn deploy(
    seq: u64,
    label: &str,
    artifact: tollgate_protocol::artifact::ApiArtifact,
) -> tollgate_protocol::event::EventEnvelope {
    envelope(
        seq,
        Event::DeployApiInGateway {
            label: label.into(),
            artifact: Box::new(artifact),
        },
    )
}

fn remove(seq: u64, label: &str, api_id: &str) -> tollgate_protocol::event::EventEnvelope {
    envelope(
        seq,
        Event::RemoveApiFromGateway {
            label: label.into(),
            api_id: api_id.into(),
            context: "/pizzashack/1.0.0".into(),
        },
    )
}

#[tokio::test]
async fn a_deploy_replaces_the_previous_revision_of_the_api() {
    let gw = gateway_with(settings(&["Default"]), &ManualClock::new(NOW_MILLIS));
    gw.apply_snapshot(&snapshot("Default", vec![pizza("rev-1")], 5));
    gw.apply_event(&deploy(6, "Default", pizza("rev-2")));
    let status = gw.status();
    assert_eq!(status.applied_seq, 6);
    assert_eq!(status.apis.get("pizza").map(String::as_str), Some("rev-2"));
    assert_eq!(gw.routes().len(), 1);
}

#[tokio::test]
async fn events_for_other_labels_change_nothing_but_still_advance_the_sequence() {
    let gw = gateway_with(settings(&["Default"]), &ManualClock::new(NOW_MILLIS));
    gw.apply_snapshot(&snapshot("Default", vec![pizza("rev-1")], 5));
    gw.apply_event(&deploy(6, "Production Gateway", pizza("rev-9")));
    gw.apply_event(&remove(7, "Production Gateway", "pizza"));
    let status = gw.status();
    assert_eq!(status.applied_seq, 7);
    assert_eq!(status.apis.get("pizza").map(String::as_str), Some("rev-1"));
    // Removal under our own label does remove it.
    gw.apply_event(&remove(8, "Default", "pizza"));
    assert!(gw.routes().is_empty());
    assert!(gw.status().apis.is_empty());
    // A replayed (older) event is skipped.
    gw.apply_event(&deploy(8, "Default", pizza("rev-1")));
    assert!(gw.routes().is_empty());
}

#[tokio::test]
async fn the_first_label_wins_when_two_of_ours_carry_the_same_api() {
    let gw = gateway_with(
        settings(&["Production Gateway", "Default"]),
        &ManualClock::new(NOW_MILLIS),
    );
    let mut snap = snapshot("Default", vec![pizza("rev-default")], 3);
    snap.list
        .push(tollgate_protocol::internal::LabelledArtifact {
            label: "Production Gateway".into(),
            artifact: pizza("rev-prod"),
        });
    gw.apply_snapshot(&snap);
    assert_eq!(gw.status().apis["pizza"], "rev-prod");
    let listed = management::deployed_apis(&gw);
    assert_eq!(listed.list[0].label, "Production Gateway");
    // Removing the winning label falls back to the other one.
    gw.apply_event(&remove(4, "Production Gateway", "pizza"));
    assert_eq!(gw.status().apis["pizza"], "rev-default");
}

/// The in-test control plane.
#[derive(Default)]
struct ControlPlane {
    snapshots: Mutex<VecDeque<Result<GatewaySnapshot, StatusCode>>>,
    snapshot_calls: AtomicUsize,
    /// Each `/notifications` call takes the next plan: a stream fed by the test, or a status.
    streams: Mutex<VecDeque<Result<mpsc::UnboundedReceiver<String>, StatusCode>>>,
    afters: Mutex<Vec<u64>>,
    labels_seen: Mutex<Vec<Vec<String>>>,
}

fn authorized(headers: &HeaderMap) -> bool {
    // admin:admin
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Basic YWRtaW46YWRtaW4=")
}

async fn snapshot_handler(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    cp.snapshot_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(labels) = q.get("gatewayLabel").and_then(|l| decode_labels(l)) {
        cp.labels_seen.lock().unwrap().push(labels);
    }
    let next = cp.snapshots.lock().unwrap().pop_front();
    match next {
        Some(Ok(snapshot)) => axum::Json(snapshot).into_response(),
        Some(Err(status)) => status.into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn events_handler(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let after = q
        .get("after")
        .and_then(|a| a.parse().ok())
        .unwrap_or(u64::MAX);
    cp.afters.lock().unwrap().push(after);
    let next = cp.streams.lock().unwrap().pop_front();
    match next {
        Some(Ok(rx)) => {
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|line| (Ok::<_, std::convert::Infallible>(Bytes::from(line)), rx))
            });
            (
                [("content-type", "application/x-ndjson")],
                axum::body::Body::from_stream(stream),
            )
                .into_response()
        }
        Some(Err(status)) => status.into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn control_plane(cp: Arc<ControlPlane>) -> (String, CancellationToken) {
    let app = axum::Router::new()
        .route(GATEWAY_SNAPSHOT, axum::routing::get(snapshot_handler))
        .route(EVENTS, axum::routing::get(events_handler))
        .with_state(cp);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { s.cancelled().await })
            .await
            .unwrap();
    });
    (url, stop)
}

fn line(envelope: &tollgate_protocol::event::EventEnvelope) -> String {
    format!("{}\n", serde_json::to_string(envelope).unwrap())
}

async fn converge(gw: &tollgate_gateway::Gateway, seq: u64) {
    tokio::time::timeout(BOUND, gw.wait_for_seq(seq))
        .await
        .unwrap_or_else(|_| panic!("seq {seq} not applied; status {:?}", gw.status()));
}

#[tokio::test]
async fn sync_applies_the_snapshot_then_follows_and_resumes_the_event_stream() {
    let cp = Arc::new(ControlPlane::default());
    cp.snapshots
        .lock()
        .unwrap()
        .push_back(Ok(snapshot("Default", vec![pizza("rev-1")], 10)));
    let (tx1, rx1) = mpsc::unbounded_channel();
    let (tx2, rx2) = mpsc::unbounded_channel();
    cp.streams.lock().unwrap().extend([Ok(rx1), Ok(rx2)]);
    let (url, _cp_stop) = control_plane(cp.clone()).await;

    let mut s = settings(&["Default"]);
    s.control_plane_url = url;
    let gw = gateway_with(s, &ManualClock::new(NOW_MILLIS));
    assert!(!gw.status().synced);
    let stop = CancellationToken::new();
    tokio::spawn(tollgate_gateway::sync::run(
        gw.clone(),
        outbound(),
        stop.clone(),
    ));

    converge(&gw, 10).await;
    tokio::time::timeout(BOUND, gw.wait_synced()).await.unwrap();
    assert_eq!(
        cp.labels_seen.lock().unwrap()[0],
        vec!["Default".to_owned()]
    );

    // A deploy, a heartbeat, an event for another label, one line split across two writes.
    let mut other = pizza("rev-x");
    other.api_id = "other".into();
    other.context = "/other/1.0.0".into();
    tx1.send(line(&deploy(11, "Default", other.clone())))
        .unwrap();
    tx1.send(line(&envelope(0, Event::Heartbeat))).unwrap();
    let split = line(&deploy(12, "Production Gateway", pizza("rev-9")));
    let (a, b) = split.split_at(split.len() / 2);
    tx1.send(a.to_owned()).unwrap();
    tx1.send(b.to_owned()).unwrap();
    converge(&gw, 12).await;
    assert_eq!(gw.routes().len(), 2);
    assert_eq!(gw.status().apis["pizza"], "rev-1");

    // The stream ends: the gateway reconnects after the last applied event.
    drop(tx1);
    tx2.send(line(&remove(13, "Default", "other"))).unwrap();
    converge(&gw, 13).await;
    assert_eq!(gw.routes().len(), 1);
    assert_eq!(*cp.afters.lock().unwrap(), vec![10, 12]);
    assert_eq!(cp.snapshot_calls.load(Ordering::SeqCst), 1);
    stop.cancel();
}

#[tokio::test]
async fn a_gone_event_log_makes_the_gateway_pull_the_snapshot_again() {
    let cp = Arc::new(ControlPlane::default());
    cp.snapshots.lock().unwrap().extend([
        Ok(snapshot("Default", vec![pizza("rev-1")], 10)),
        Ok(snapshot("Default", vec![pizza("rev-7")], 20)),
    ]);
    let (_tx, rx) = mpsc::unbounded_channel();
    cp.streams
        .lock()
        .unwrap()
        .extend([Err(StatusCode::GONE), Ok(rx)]);
    let (url, _cp_stop) = control_plane(cp.clone()).await;
    let mut s = settings(&["Default"]);
    s.control_plane_url = url;
    let gw = gateway_with(s, &ManualClock::new(NOW_MILLIS));
    let stop = CancellationToken::new();
    tokio::spawn(tollgate_gateway::sync::run(
        gw.clone(),
        outbound(),
        stop.clone(),
    ));
    converge(&gw, 20).await;
    assert_eq!(gw.status().apis["pizza"], "rev-7");
    tokio::time::timeout(BOUND, gw.wait_synced()).await.unwrap();
    assert_eq!(cp.snapshot_calls.load(Ordering::SeqCst), 2);
    assert_eq!(*cp.afters.lock().unwrap(), vec![10, 20]);
    stop.cancel();
}

#[tokio::test]
async fn a_control_plane_down_at_start_is_retried_until_it_answers() {
    let cp = Arc::new(ControlPlane::default());
    cp.snapshots.lock().unwrap().extend([
        Err(StatusCode::SERVICE_UNAVAILABLE),
        Err(StatusCode::BAD_GATEWAY),
        Ok(snapshot("Default", vec![pizza("rev-1")], 4)),
    ]);
    let (_tx, rx) = mpsc::unbounded_channel();
    cp.streams.lock().unwrap().push_back(Ok(rx));
    let (url, _cp_stop) = control_plane(cp.clone()).await;
    let mut s = settings(&["Default"]);
    s.control_plane_url = url;
    let gw = gateway_with(s, &ManualClock::new(NOW_MILLIS));
    let stop = CancellationToken::new();
    tokio::spawn(tollgate_gateway::sync::run(
        gw.clone(),
        outbound(),
        stop.clone(),
    ));
    converge(&gw, 4).await;
    assert_eq!(cp.snapshot_calls.load(Ordering::SeqCst), 3);
    stop.cancel();
}

#[tokio::test]
async fn the_management_api_lists_apis_reports_health_and_long_polls_the_sequence() {
    use tower::ServiceExt;
    let gw = gateway_with(settings(&["Default"]), &ManualClock::new(NOW_MILLIS));
    let router = management::router(gw.clone());
    let get = |uri: &str| {
        axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let health = router
        .clone()
        .oneshot(get(tollgate_protocol::internal::GATEWAY_HEALTH))
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let timed_out = router
        .clone()
        .oneshot(get("/_tollgate/sync?seq=5&timeoutMs=10"))
        .await
        .unwrap();
    assert_eq!(timed_out.status(), StatusCode::GATEWAY_TIMEOUT);

    gw.apply_snapshot(&snapshot("Default", vec![pizza("rev-1")], 5));
    let reached = router
        .clone()
        .oneshot(get("/_tollgate/sync?seq=5&timeoutMs=10000"))
        .await
        .unwrap();
    assert_eq!(reached.status(), StatusCode::OK);
    let with_auth = |authorization: &str| {
        axum::http::Request::get(tollgate_protocol::internal::GATEWAY_APIS)
            .header("authorization", authorization)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let apis = router
        .clone()
        .oneshot(with_auth("Basic YWRtaW46YWRtaW4="))
        .await
        .unwrap();
    assert_eq!(apis.status(), StatusCode::OK);
    let body = http_body_util::BodyExt::collect(apis.into_body())
        .await
        .unwrap()
        .to_bytes();
    let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        list,
        serde_json::json!({"count": 1, "list": [{
            "apiId": "pizza", "name": "pizza", "version": "1.0.0",
            "context": "/pizzashack/1.0.0", "revisionId": "rev-1", "label": "Default"
        }]})
    );
}

#[tokio::test]
async fn the_gateway_rest_api_refuses_callers_without_the_admin_credentials() {
    use tower::ServiceExt;
    let gw = gateway_with(settings(&["Default"]), &ManualClock::new(NOW_MILLIS));
    let router = management::router(gw);
    let call = |authorization: Option<&str>| {
        let mut request = axum::http::Request::get(tollgate_protocol::internal::GATEWAY_APIS);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        router
            .clone()
            .oneshot(request.body(axum::body::Body::empty()).unwrap())
    };
    // admin:wrong, admin: (empty password), bearer, lower-case scheme, not base64.
    for refused in [
        None,
        Some("Basic YWRtaW46d3Jvbmc="),
        Some("Basic YWRtaW46"),
        Some("Bearer YWRtaW46YWRtaW4="),
        Some("basic YWRtaW46YWRtaW4="),
        Some("Basic !!!"),
    ] {
        let response = call(refused).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{refused:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"WSO2 API Manager\""
        );
    }
    let ok = call(Some("Basic YWRtaW46YWRtaW4=")).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}
