//! The Traffic Manager a `control-plane` (or `default`) node runs, as WSO2's control-plane
//! profile does: the event receiver on `tm_binary` (9611 + offset), the decision stream on
//! `amqp` (5672 + offset).
//!
//! **Policies.** The TM pulls every policy from the control plane of its own node at start
//! (`THROTTLE_DATA`) and then follows its event hub (`notifications?after=<seq>`) for
//! `POLICY_*` events — through the control plane's router, in process (no socket, no TLS), on
//! exactly the wire a separate TM node would use over HTTPS. [`TrafficManagerHandle::wait_for_seq`]
//! awaits a control-plane change the way `GatewayHandle::wait_for_seq` does.
//!
//! **Windows and the clock.** Counting windows are epoch-aligned on the injected clock. They
//! roll lazily (the next event of a key sees the new window) and on [`TrafficManager::tick`],
//! which a tokio interval calls every 100 ms and which un-throttles every key whose window
//! has ended by the clock — so advancing a `ManualClock` is followed within one tick. A test
//! that wants it at once calls [`TrafficManagerHandle::tick`]. Gateways compare each
//! decision's expiry with their own clock anyway, so a window ends on time at the gateway
//! even before the TM's release arrives.
//!
//! **Down and back.** [`TrafficManagerHandle::stop`] drops both listeners' connections and
//! stops accepting (gateways see their decision streams end and fail open on what they
//! hold); [`TrafficManagerHandle::restart`] serves again on the same sockets, with the
//! counters it had. The sockets stay bound meanwhile (a node never binds its own), so a peer's
//! new connection waits in the backlog instead of being refused. [`TrafficManagerHandle::shutdown`]
//! (the node's) waits for every task and closes the sockets.

use axum::body::Body;
use base64::Engine;
use http::{Request, StatusCode, header};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tollgate_control_plane::ControlPlane;
use tollgate_net::Listener;
use tollgate_net::ndjson::LineReader;
use tollgate_protocol::SharedClock;
use tollgate_protocol::event::{Event, EventEnvelope};
use tollgate_protocol::internal::EVENTS;
use tollgate_traffic_manager::{ServerSettings, TrafficManager};
use tower::ServiceExt;

const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A listener that can be served, stopped and served again: the serving task holds the lock
/// only while it accepts.
struct Reusable<L> {
    inner: Arc<tokio::sync::Mutex<L>>,
    addr: Option<SocketAddr>,
}

impl<L> Clone for Reusable<L> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            addr: self.addr,
        }
    }
}

impl<L: Listener> Listener for Reusable<L> {
    type Io = L::Io;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        self.inner.lock().await.accept().await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.addr
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "no local address"))
    }
}

type Starter = dyn Fn(CancellationToken) + Send + Sync;

/// The Traffic Manager of a running node.
pub struct TrafficManagerHandle {
    tm: Arc<TrafficManager>,
    start: Box<Starter>,
    running: Mutex<Option<CancellationToken>>,
    node_shutdown: CancellationToken,
    policies: watch::Receiver<u64>,
    /// The policy follower and every serving run, for [`Self::shutdown`] to wait for.
    tasks: TaskTracker,
}

impl std::fmt::Debug for TrafficManagerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrafficManagerHandle")
            .field("tm", &self.tm)
            .field("running", &self.is_running())
            .field("policies_seq", &*self.policies.borrow())
            .finish()
    }
}

impl TrafficManagerHandle {
    /// Starts a TM serving `receiver` and `decisions`, with policies from `cp`, until
    /// `shutdown`; each decision it publishes goes to `tap` too.
    pub(crate) fn start<L: Listener>(
        cp: &Arc<ControlPlane>,
        clock: SharedClock,
        tap: Option<tollgate_protocol::SharedTap>,
        receiver: L,
        decisions: L,
        shutdown: CancellationToken,
    ) -> Self {
        let tm = TrafficManager::new(cp.throttle_data().policies, clock);
        Self::start_over(tm, cp, tap, receiver, decisions, shutdown)
    }

    /// Serves `tm` (new, or one whose handle was shut down: its counters go on).
    fn start_over<L: Listener>(
        tm: Arc<TrafficManager>,
        cp: &Arc<ControlPlane>,
        tap: Option<tollgate_protocol::SharedTap>,
        receiver: L,
        decisions: L,
        shutdown: CancellationToken,
    ) -> Self {
        if let Some(tap) = tap {
            tm.set_tap(tap);
        }
        let (applied, policies) = watch::channel(0);
        let tasks = TaskTracker::new();
        tasks.spawn(follow_policies(
            tm.clone(),
            cp.clone(),
            applied,
            shutdown.clone(),
        ));
        let reusable = |l: L| Reusable {
            addr: l.local_addr().ok(),
            inner: Arc::new(tokio::sync::Mutex::new(l)),
        };
        let (receiver, decisions) = (reusable(receiver), reusable(decisions));
        let serving = tm.clone();
        let serving_tasks = tasks.clone();
        let start: Box<Starter> = Box::new(move |token: CancellationToken| {
            let tm = serving.clone();
            let (receiver, decisions) = (receiver.clone(), decisions.clone());
            serving_tasks.spawn(async move {
                tm.serve_with(receiver, decisions, ServerSettings::default(), token)
                    .await
            });
        });
        let handle = Self {
            tm,
            start,
            running: Mutex::new(None),
            node_shutdown: shutdown,
            policies,
            tasks,
        };
        handle.restart();
        handle
    }

    pub fn traffic_manager(&self) -> &Arc<TrafficManager> {
        &self.tm
    }

    pub fn is_running(&self) -> bool {
        self.lock().as_ref().is_some_and(|t| !t.is_cancelled())
    }

    /// Stops serving: every event and decision connection is dropped.
    pub fn stop(&self) {
        if let Some(token) = self.lock().take() {
            token.cancel();
        }
    }

    /// Serves again on the same listeners (no-op while running or after node shutdown).
    pub fn restart(&self) {
        let mut running = self.lock();
        if running.as_ref().is_some_and(|t| !t.is_cancelled()) || self.node_shutdown.is_cancelled()
        {
            return;
        }
        let token = self.node_shutdown.child_token();
        (self.start)(token.clone());
        *running = Some(token);
    }

    /// Rolls windows by the clock now (the server does it every 100 ms).
    pub fn tick(&self) -> usize {
        self.tm.tick()
    }

    /// [`Self::tick`] as a callback, for the node's clock route: after a test clock moves, the
    /// windows roll at once rather than on the next 100 ms tick.
    pub fn ticker(&self) -> tollgate_gateway::management::ClockMoved {
        let tm = self.tm.clone();
        std::sync::Arc::new(move || {
            tm.tick();
        })
    }

    /// The last control-plane event the TM's policies include.
    pub fn applied_seq(&self) -> u64 {
        *self.policies.borrow()
    }

    /// The TM's applied control-plane event, as it changes.
    pub fn policies(&self) -> tokio::sync::watch::Receiver<u64> {
        self.policies.clone()
    }

    /// Resolves once the TM's policies include control-plane event `seq`.
    pub async fn wait_for_seq(&self, seq: u64) {
        let mut rx = self.policies.clone();
        let _ = rx.wait_for(|applied| *applied >= seq).await;
    }

    /// Stops it for good (after the node's shutdown token, no [`Self::restart`] serves again)
    /// and waits for every task it spawned; its listeners close when this returns (they were
    /// kept only for restarts).
    pub async fn shutdown(self) {
        self.node_shutdown.cancel();
        self.stop();
        self.tasks.close();
        self.tasks.wait().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<CancellationToken>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts the Traffic Manager of `node`, a control plane started with
/// [`TrafficManagerPlacement::Apart`](crate::TrafficManagerPlacement::Apart), serving `receiver`
/// and `decisions` until `shutdown` (or [`TrafficManagerHandle::shutdown`], which closes them);
/// its policies come from the control plane in memory, as inside the node. `counters`: a TM
/// whose handle was shut down while this control plane ran (a TM stopped alone comes back with
/// its counters, as [`TrafficManagerHandle::restart`] does inside a node); `None`, a new one.
/// Each decision it publishes goes to `tap` too.
pub fn start_traffic_manager<L: Listener>(
    node: &crate::NodeHandle,
    clock: SharedClock,
    tap: Option<tollgate_protocol::SharedTap>,
    counters: Option<Arc<TrafficManager>>,
    receiver: L,
    decisions: L,
    shutdown: CancellationToken,
) -> Result<TrafficManagerHandle, crate::NodeError> {
    let cp = node.control_plane().ok_or_else(|| {
        crate::NodeError::ControlPlane(format!("`{}` runs no control plane", node.name()))
    })?;
    if node.traffic_manager().is_some() {
        return Err(crate::NodeError::ControlPlane(format!(
            "`{}` runs its Traffic Manager inside",
            node.name()
        )));
    }
    let tm = counters.unwrap_or_else(|| TrafficManager::new(cp.throttle_data().policies, clock));
    Ok(TrafficManagerHandle::start_over(
        tm, cp, tap, receiver, decisions, shutdown,
    ))
}

fn request(cp: &ControlPlane, uri: &str) -> Option<Request<Body>> {
    let settings = cp.settings();
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        settings.admin_username, settings.admin_password
    ));
    Request::get(uri)
        .header(header::AUTHORIZATION, format!("Basic {credentials}"))
        .body(Body::empty())
        .ok()
}

enum Feed {
    /// The log no longer reaches back: pull everything again.
    Gone,
    /// The stream ended or failed: resume after the last applied event.
    Lost,
}

/// Pull, then follow; reconnect with capped backoff (tokio time) until `shutdown`.
async fn follow_policies(
    tm: Arc<TrafficManager>,
    cp: Arc<ControlPlane>,
    applied: watch::Sender<u64>,
    shutdown: CancellationToken,
) {
    let router = cp.router();
    let mut delay = BACKOFF_START;
    let mut pull = true;
    loop {
        let round = async {
            if pull {
                let data = cp.throttle_data();
                tm.set_policies(data.policies);
                applied.send_replace(data.event_seq);
            }
            follow(&tm, &cp, &router, &applied).await
        };
        let outcome = tokio::select! {
            // Shutdown first, and the same branch every run (not tokio's random pick).
            biased;
            _ = shutdown.cancelled() => return,
            outcome = round => outcome,
        };
        pull = matches!(outcome, Feed::Gone);
        if !pull {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(BACKOFF_MAX);
        }
    }
}

async fn follow(
    tm: &TrafficManager,
    cp: &ControlPlane,
    router: &axum::Router,
    applied: &watch::Sender<u64>,
) -> Feed {
    let after = *applied.borrow();
    let Some(req) = request(cp, &format!("{EVENTS}?after={after}")) else {
        return Feed::Lost;
    };
    let Ok(response) = router.clone().oneshot(req).await;
    match response.status() {
        StatusCode::OK => {}
        StatusCode::GONE => return Feed::Gone,
        status => {
            tracing::warn!(%status, "TM policy feed refused");
            return Feed::Lost;
        }
    }
    // In-process from the control plane's own router: no idle timeout, no line limit.
    let mut lines = LineReader::new(response.into_body(), Duration::MAX, usize::MAX);
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(envelope) = serde_json::from_slice::<EventEnvelope>(&line) else {
            // Resume after the last event applied rather than skip one.
            return Feed::Lost;
        };
        if matches!(envelope.event, Event::Heartbeat) || envelope.seq <= *applied.borrow() {
            continue;
        }
        tm.apply_event(&envelope.event);
        applied.send_replace(envelope.seq);
    }
    Feed::Lost
}
