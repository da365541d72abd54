//! A pool of nodes: who is eligible, round robin among them, counters, active health checks.

use crate::config::{HealthCheckConfig, PoolConfig, Probe};
use bytes::Bytes;
use http::Uri;
use http_body_util::Empty;
use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tollgate_net::{HttpClient, Outbound};

/// A node as the load balancer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeHealth {
    /// Gets traffic.
    Healthy,
    /// Failed `unhealthy_threshold` active checks in a row; back after `healthy_threshold`
    /// passes.
    Unhealthy,
    /// A connection to it failed; back when the ejection period ends and, where the pool
    /// has active checks, one of them has passed since (a node that restarted meanwhile gets
    /// traffic only once its health check says it is ready).
    Ejected,
}

pub(crate) struct Node {
    pub name: String,
    /// Scheme + authority requests go to.
    pub base: Uri,
    /// What the active check probes.
    pub probe_url: Uri,
    pub requests: AtomicU64,
    pub failures: AtomicU64,
    pub ejections: AtomicU64,
    state: Mutex<NodeState>,
    health: watch::Sender<NodeHealth>,
}

#[derive(Default)]
struct NodeState {
    /// Active checks' verdict (true until checks say otherwise).
    unhealthy: bool,
    ejected_until: Option<Instant>,
    /// Bumped per ejection so a stale expiry timer does not end a newer ejection.
    ejection: u64,
    /// Ejected in a pool with active checks: back only after a check that started after the
    /// ejection has passed.
    recheck: bool,
}

impl Node {
    pub fn new(name: String, base: Uri, probe_url: Uri) -> Self {
        Self {
            name,
            base,
            probe_url,
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            ejections: AtomicU64::new(0),
            state: Mutex::new(NodeState::default()),
            health: watch::Sender::new(NodeHealth::Healthy),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, NodeState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn health(&self) -> NodeHealth {
        *self.health.borrow()
    }

    pub fn subscribe(&self) -> watch::Receiver<NodeHealth> {
        self.health.subscribe()
    }

    fn publish(&self, state: &NodeState) {
        let now = if state.unhealthy {
            NodeHealth::Unhealthy
        } else if state.ejected_until.is_some() || state.recheck {
            NodeHealth::Ejected
        } else {
            NodeHealth::Healthy
        };
        self.health.send_if_modified(|health| {
            let changed = *health != now;
            *health = now;
            changed
        });
    }

    /// Takes the node out of rotation for `period` after a connection failure (and, with
    /// `recheck`, until an active check passes).
    pub fn eject(
        self: &std::sync::Arc<Self>,
        period: std::time::Duration,
        recheck: bool,
        shutdown: &CancellationToken,
        tasks: &tokio_util::task::TaskTracker,
    ) {
        if period.is_zero() {
            return;
        }
        self.ejections.fetch_add(1, Ordering::Relaxed);
        let until = Instant::now() + period;
        let ticket = {
            let mut state = self.lock();
            state.ejected_until = Some(until);
            state.ejection += 1;
            state.recheck = recheck;
            self.publish(&state);
            state.ejection
        };
        tracing::info!(node = %self.name, ?period, "node ejected after a connection failure");
        let node = self.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            tokio::select! {
                // Shutdown first, and the same branch every run (not tokio's random pick).
                biased;
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep_until(until) => {
                    let mut state = node.lock();
                    if state.ejection == ticket {
                        state.ejected_until = None;
                        node.publish(&state);
                    }
                }
            }
        });
    }

    /// The current ejection's ticket: a check passes for it only if no newer one happened.
    fn ejection_ticket(&self) -> u64 {
        self.lock().ejection
    }

    /// An active check that started at ejection `ticket` passed.
    fn check_passed(&self, ticket: u64) {
        let mut state = self.lock();
        if state.recheck && state.ejection == ticket {
            state.recheck = false;
            self.publish(&state);
        }
    }

    fn set_unhealthy(&self, unhealthy: bool) {
        let mut state = self.lock();
        if state.unhealthy != unhealthy {
            tracing::info!(node = %self.name, healthy = !unhealthy, "active health check verdict changed");
        }
        state.unhealthy = unhealthy;
        self.publish(&state);
    }
}

pub(crate) struct Pool {
    pub config: PoolConfig,
    pub nodes: Vec<std::sync::Arc<Node>>,
    next: AtomicUsize,
}

impl Pool {
    pub fn new(config: PoolConfig, nodes: Vec<std::sync::Arc<Node>>) -> Self {
        Self {
            config,
            nodes,
            next: AtomicUsize::new(0),
        }
    }

    /// The next healthy node in round-robin order that `tried` does not contain.
    pub fn pick(&self, tried: &[usize]) -> Option<usize> {
        let n = self.nodes.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| (start + i) % n)
            .find(|i| !tried.contains(i) && self.nodes[*i].health() == NodeHealth::Healthy)
    }
}

/// Runs one node's active checks until `shutdown`.
pub(crate) async fn health_loop(
    node: std::sync::Arc<Node>,
    check: HealthCheckConfig,
    outbound: Outbound,
    shutdown: CancellationToken,
) {
    let client: HttpClient<Empty<Bytes>> = outbound.client();
    let mut connector = outbound.connector();
    let mut ticks = tokio::time::interval(check.interval());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut passes, mut fails) = (0u32, 0u32);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let ticket = node.ejection_ticket();
        let probe = async {
            match &check.probe {
                Probe::Http { .. } => {
                    let pending = tollgate_net::exchange::begin(
                        outbound.tap(),
                        &http::Method::GET,
                        &node.probe_url,
                        &http::HeaderMap::new(),
                        b"",
                    );
                    let answer =
                        tokio::time::timeout(check.timeout(), client.get(node.probe_url.clone()))
                            .await;
                    // The probe reads no body: its record is the head.
                    match (pending, &answer) {
                        (Some(pending), Ok(Ok(response))) => {
                            pending.answered(response.status(), response.headers(), None);
                        }
                        (Some(pending), Ok(Err(error))) => pending.failed(error),
                        (Some(pending), Err(_)) => {
                            pending.failed(&format!("no answer within {:?}", check.timeout()))
                        }
                        (None, _) => {}
                    }
                    answer.is_ok_and(|a| a.is_ok_and(|r| r.status().is_success()))
                }
                Probe::Tcp => tokio::time::timeout(
                    check.timeout(),
                    tower::ServiceExt::oneshot(&mut connector, node.probe_url.clone()),
                )
                .await
                .is_ok_and(|connected| connected.is_ok()),
            }
        };
        let passed = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            passed = probe => passed,
        };
        if passed {
            passes += 1;
            fails = 0;
            node.check_passed(ticket);
        } else {
            fails += 1;
            passes = 0;
        }
        let unhealthy = node.lock().unhealthy;
        if !unhealthy && fails >= check.unhealthy_threshold.max(1) {
            node.set_unhealthy(true);
        } else if unhealthy && passes >= check.healthy_threshold.max(1) {
            node.set_unhealthy(false);
        }
    }
}

/// Counters of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStats {
    pub pool: String,
    pub node: String,
    pub health: NodeHealth,
    /// Attempts sent to this node (a retried request counts once per node tried).
    pub requests: u64,
    /// Attempts that failed before a response: refused, reset, timed out.
    pub failures: u64,
    pub ejections: u64,
}
