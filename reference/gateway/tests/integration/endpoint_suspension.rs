//! Endpoint suspension end to end: `Gateway::handle`, a loopback backend that refuses, resets or
//! hangs on demand and counts what reaches it, and a manual clock that ends suspensions.

use crate::common::*;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use tokio_util::sync::CancellationToken;
use tollgate_gateway::Gateway;
use tollgate_gateway::endpoint::State;
use tollgate_protocol::ManualClock;
use tollgate_protocol::artifact::{EndpointConfig, EnvironmentType};

pub(crate) const OK: u8 = 0;
/// Connections are closed as soon as they are accepted, requests are not answered.
pub(crate) const RESET: u8 = 1;
/// Connections are accepted and never answered.
const HANG: u8 = 2;

/// A backend whose behaviour can be switched, counting accepted connections and answered
/// requests.
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    mode: Arc<AtomicU8>,
    connections: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    _shutdown: tokio_util::sync::DropGuard,
}

impl Backend {
    pub(crate) async fn start(mode: u8) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(mode));
        let connections = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let (m, c, a, s) = (
            mode.clone(),
            connections.clone(),
            answered.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = s.cancelled() => return,
                    accepted = listener.accept() => accepted.unwrap().0,
                };
                c.fetch_add(1, Ordering::SeqCst);
                match m.load(Ordering::SeqCst) {
                    RESET => drop(stream),
                    HANG => {
                        let s = s.clone();
                        tokio::spawn(async move {
                            s.cancelled().await;
                            drop(stream);
                        });
                    }
                    _ => {
                        let (m, a) = (m.clone(), a.clone());
                        let service = hyper::service::service_fn(move |_req: Request<_>| {
                            let (m, a) = (m.clone(), a.clone());
                            async move {
                                // A pooled connection outlives a mode switch: fail here too.
                                if m.load(Ordering::SeqCst) != OK {
                                    return Err("backend broken");
                                }
                                a.fetch_add(1, Ordering::SeqCst);
                                Ok(http::Response::new(Full::new(Bytes::from_static(
                                    br#"{"served":"production"}"#,
                                ))))
                            }
                        });
                        tokio::spawn(
                            hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service),
                        );
                    }
                }
            }
        });
        Self {
            addr,
            mode,
            connections,
            answered,
            _shutdown: shutdown.drop_guard(),
        }
    }

    pub(crate) fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    /// Connections accepted plus requests answered: anything reaching the backend.
    pub(crate) fn reached(&self) -> usize {
        self.connections.load(Ordering::SeqCst) + self.answered.load(Ordering::SeqCst)
    }
}

fn suspending(duration: i64, max: i64, factor: f64) -> EndpointConfig {
    EndpointConfig {
        suspend_error_codes: vec![101503, 101504],
        suspend_duration_ms: Some(duration),
        suspend_max_duration_ms: Some(max),
        factor: Some(factor),
        ..EndpointConfig::default()
    }
}

fn serving(backend: &Backend, config: Option<EndpointConfig>) -> (Arc<Gateway>, ManualClock) {
    let clock = ManualClock::new(NOW_MILLIS);
    let gw = gateway_with(settings(&["Default"]), &clock);
    let mut api = artifact(
        "pizza",
        "/pizzashack/1.0.0",
        EnvironmentType::Hybrid,
        Some(format!("http://{}/production", backend.addr)),
        None,
    );
    api.name = "PizzaShackAPI".into();
    api.endpoints.production_config = config;
    gw.apply_snapshot(&snapshot("Default", vec![api], 1));
    (gw, clock)
}

async fn menu(gw: &Gateway) -> Answer {
    get(gw, "/pizzashack/1.0.0/menu", Some(&token(PROD_KEY))).await
}

fn production_state(gw: &Gateway) -> State {
    let routes = gw.routes();
    let api = routes.apis().next().unwrap();
    let url = api.production.as_deref().unwrap();
    gw.endpoint_state(api, url).unwrap()
}

#[tokio::test]
async fn a_failing_endpoint_is_suspended_answered_303001_without_the_backend_then_retried_and_recovered()
 {
    let backend = Backend::start(RESET).await;
    let (gw, clock) = serving(&backend, Some(suspending(30_000, 120_000, 2.0)));

    let failed = menu(&gw).await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.json()["code"], "101503");
    assert_eq!(production_state(&gw), State::Suspended);

    let reached = backend.reached();
    for _ in 0..3 {
        let suspended = menu(&gw).await;
        assert_eq!(suspended.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(suspended.json()["code"], "303001");
    }
    assert_eq!(
        backend.reached(),
        reached,
        "a suspended endpoint is not called"
    );
    let suspended = menu(&gw).await;
    assert_eq!(suspended.headers["access-control-allow-origin"], "*");
    assert_wso2_snapshot!("endpoint_suspended", suspended.rendered());

    // One millisecond short of the period: still suspended.
    clock.advance_millis(29_999);
    assert_eq!(menu(&gw).await.json()["code"], "303001");
    assert_eq!(backend.reached(), reached);

    // Past the period the next request tries the backend; it still fails, and the next
    // suspension is twice as long.
    clock.advance_millis(1);
    assert_eq!(menu(&gw).await.json()["code"], "101503");
    assert!(backend.reached() > reached);
    clock.advance_millis(59_999);
    assert_eq!(menu(&gw).await.json()["code"], "303001");

    // The backend heals; after the period the request goes through and the endpoint is ACTIVE.
    backend.set(OK);
    clock.advance_millis(1);
    let healed = menu(&gw).await;
    assert_eq!(healed.status, StatusCode::OK);
    assert_eq!(healed.served(), "production");
    assert_eq!(production_state(&gw), State::Active);
    assert_eq!(menu(&gw).await.status, StatusCode::OK);

    // A success forgot the history: the next suspension is the initial 30 s again.
    backend.set(RESET);
    assert_eq!(menu(&gw).await.json()["code"], "101503");
    clock.advance_millis(30_000);
    backend.set(OK);
    assert_eq!(menu(&gw).await.status, StatusCode::OK);
}

#[tokio::test]
async fn suspensions_grow_by_the_factor_and_stop_at_the_maximum() {
    let backend = Backend::start(RESET).await;
    let (gw, clock) = serving(&backend, Some(suspending(10_000, 25_000, 2.0)));
    let mut periods = Vec::new();
    assert_eq!(menu(&gw).await.json()["code"], "101503");
    for _ in 0..4 {
        // Step one second at a time until the backend is tried again.
        let mut waited = 0;
        loop {
            clock.advance_millis(1_000);
            waited += 1_000;
            if menu(&gw).await.json()["code"] == "101503" {
                break;
            }
        }
        periods.push(waited);
    }
    assert_eq!(periods, [10_000, 20_000, 25_000, 25_000]);
}

#[tokio::test]
async fn without_an_endpoint_config_every_request_reaches_the_failing_backend_as_today() {
    let backend = Backend::start(RESET).await;
    let (gw, _clock) = serving(&backend, None);
    for i in 1..=3 {
        let answer = menu(&gw).await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(answer.json()["code"], "101503");
        assert!(backend.reached() >= i);
    }
    let routes = gw.routes();
    let api = routes.apis().next().unwrap();
    assert_eq!(
        gw.endpoint_state(api, api.production.as_deref().unwrap()),
        None
    );
}

#[tokio::test]
async fn a_code_not_listed_does_not_suspend() {
    let backend = Backend::start(RESET).await;
    let config = EndpointConfig {
        suspend_error_codes: vec![101504],
        suspend_duration_ms: Some(30_000),
        ..EndpointConfig::default()
    };
    let (gw, _clock) = serving(&backend, Some(config));
    assert_eq!(menu(&gw).await.json()["code"], "101503");
    assert_eq!(production_state(&gw), State::Active);
    assert_eq!(menu(&gw).await.json()["code"], "101503");
}

#[tokio::test(start_paused = true)]
async fn a_backend_that_never_answers_times_out_with_101504_and_is_suspended() {
    let backend = Backend::start(HANG).await;
    let (gw, _clock) = serving(&backend, Some(suspending(30_000, 30_000, 1.0)));
    let timed_out = menu(&gw).await;
    assert_eq!(timed_out.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(timed_out.json()["code"], "101504");
    assert_wso2_snapshot!("backend_timed_out", timed_out.rendered());
    assert_eq!(production_state(&gw), State::Suspended);
    let reached = backend.reached();
    assert_eq!(menu(&gw).await.json()["code"], "303001");
    assert_eq!(backend.reached(), reached);
}
