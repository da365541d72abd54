//! The reference load balancer in front of an HA gateway pair (guide step 6: "configure a load
//! balancer fronting the two Gateway nodes").
//!
//! An HTTP/1.1 reverse proxy on listeners the harness binds (80/443-like ports, HTTPS with the
//! built-in `wso2carbon` certificate), forwarding each listener's requests to one pool of nodes
//! through the node-style [`Outbound`] (pooled keep-alive, host map, fault plane). WSO2 names no
//! particular load balancer; these are the rules of this one, close to nginx's defaults:
//!
//! | event | what the load balancer does | what the client sees |
//! |---|---|---|
//! | a request arrives | the next node in round-robin order among [`NodeHealth::Healthy`] nodes | the node's response, streamed, hop-by-hop headers removed |
//! | no node is healthy | nothing is sent | `503`, JSON `{"error":"no_healthy_upstream",…}` |
//! | connecting fails (refused, reset, timeout, partition) or the connection breaks before a response head | the node is **ejected** for `ejection.duration_ms` (default 10 s) and, with active checks, until one passes after the failure (a node back from a crash gets traffic once it says it is ready); its `failures` and `ejections` counted | see the next two rows |
//! | … for GET, HEAD, OPTIONS, PUT, DELETE, TRACE | retried on up to `retries` (default 1) other healthy nodes; `retried` counted | the other node's response; `502` `{"error":"upstream_failed","attempts":[…]}` if every try fails |
//! | … for POST, PATCH and other methods | not retried (the node may have acted on it), even when the connection was refused; `failed_non_idempotent` counted | `502` `{"error":"upstream_failed",…}` naming the node |
//! | no response head within `request_timeout_ms` (default 60 s) | not retried, no ejection (a hung node is the health check's business) | `504` `{"error":"upstream_timeout",…}` |
//! | a failure after the response head (body cut) | nothing more: the response is on its way | the body ends with an error (connection closed) |
//! | active checks (`health_check`, optional) fail `unhealthy_threshold` (3) times in a row | node **unhealthy**: no traffic until `healthy_threshold` (2) checks in a row pass | — |
//!
//! Idempotent request bodies up to `retry_body_limit` (1 MiB) are buffered so they can be sent
//! twice; a larger one with a `Content-Length` streams and is not retried. Every node starts
//! healthy; the first active check runs at once. `X-Forwarded-For` (appended),
//! `X-Forwarded-Proto` and `X-Forwarded-Host` are set; `Host` goes upstream as the client sent
//! it (4.2 gateways do not route on it).
//!
//! | module | what it holds |
//! |---|---|
//! | [`config`] | [`LoadBalancerConfig`]: listeners, pools, nodes, health checks, ejection |
//! | `pool` | node state, round robin, active health checks |
//! | `proxy` | the request path: pick, forward, retry, answer |

pub mod config;
mod pool;
mod proxy;

pub use config::{
    EjectionConfig, GatewayNode, HealthCheckConfig, ListenerConfig, LoadBalancerConfig, NodeConfig,
    PoolConfig, Probe,
};
pub use pool::{NodeHealth, NodeStats};
pub use proxy::ResponseBody;

use pool::{Node, Pool};
use proxy::{Proxy, Totals};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use thiserror::Error;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tollgate_net::security::{self, TlsError};
use tollgate_net::{Listener, Outbound, serve};
use tollgate_protocol::SharedClock;

#[derive(Debug, Error)]
pub enum LoadBalancerError {
    #[error("listener `{listener}` forwards to pool `{pool}`, which is not configured")]
    UnknownPool { listener: String, pool: String },
    #[error("pool `{0}` has no nodes")]
    EmptyPool(String),
    #[error("two {what} are named `{name}`")]
    Duplicate { what: &'static str, name: String },
    #[error("pool `{pool}` node `{node}`: {message}")]
    BadNode {
        pool: String,
        node: String,
        message: String,
    },
    #[error("listener `{0}` is configured but none was handed over")]
    MissingListener(String),
    #[error("a listener named `{0}` was handed over but is not configured")]
    UnexpectedListener(String),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Totals over every pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TotalStats {
    /// Extra attempts made on another node.
    pub retried: u64,
    /// Non-idempotent requests answered 502 after a node failed.
    pub failed_non_idempotent: u64,
    /// Requests answered 503 (no healthy node).
    pub no_healthy_node: u64,
    /// Idempotent requests answered 502 after every try failed.
    pub exhausted: u64,
    /// Requests answered 504.
    pub timed_out: u64,
}

/// A snapshot of the counters, nodes in configuration order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub nodes: Vec<NodeStats>,
    pub totals: TotalStats,
}

impl Stats {
    pub fn node(&self, pool: &str, node: &str) -> Option<&NodeStats> {
        self.nodes.iter().find(|n| n.pool == pool && n.node == node)
    }
}

/// A running load balancer.
pub struct LoadBalancerHandle {
    pools: BTreeMap<String, Arc<Pool>>,
    totals: Arc<Totals>,
    shutdown: CancellationToken,
    /// Listeners, health checks and ejection timers.
    tasks: TaskTracker,
}

impl std::fmt::Debug for LoadBalancerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadBalancerHandle")
            .field("pools", &self.pools.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl LoadBalancerHandle {
    /// Every counter now.
    pub fn stats(&self) -> Stats {
        let nodes = self
            .pools
            .values()
            .flat_map(|pool| {
                pool.nodes.iter().map(|node| NodeStats {
                    pool: pool.config.name.clone(),
                    node: node.name.clone(),
                    health: node.health(),
                    requests: node.requests.load(Ordering::Relaxed),
                    failures: node.failures.load(Ordering::Relaxed),
                    ejections: node.ejections.load(Ordering::Relaxed),
                })
            })
            .collect();
        let t = &self.totals;
        Stats {
            nodes,
            totals: TotalStats {
                retried: t.retried.load(Ordering::Relaxed),
                failed_non_idempotent: t.failed_non_idempotent.load(Ordering::Relaxed),
                no_healthy_node: t.no_healthy_node.load(Ordering::Relaxed),
                exhausted: t.exhausted.load(Ordering::Relaxed),
                timed_out: t.timed_out.load(Ordering::Relaxed),
            },
        }
    }

    /// A node's health, to await "node X marked unhealthy" by signal
    /// (`rx.wait_for(|h| *h == NodeHealth::Unhealthy)`).
    pub fn health(&self, pool: &str, node: &str) -> Option<watch::Receiver<NodeHealth>> {
        self.pools
            .get(pool)?
            .nodes
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.subscribe())
    }

    /// Stops every listener, health check and ejection timer and waits for them: when this
    /// returns its ports are closed and open connections dropped.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

impl Drop for LoadBalancerHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Starts the load balancer with the built-in `wso2carbon` certificate on its HTTPS listeners.
/// `listeners` are keyed by [`ListenerConfig::name`]; must be called inside a Tokio runtime.
pub fn start<L: Listener>(
    config: LoadBalancerConfig,
    listeners: BTreeMap<String, L>,
    outbound: Outbound,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> Result<LoadBalancerHandle, LoadBalancerError> {
    let tls = security::server_config(security::DEFAULT_CERT_PEM, security::DEFAULT_KEY_PEM)?;
    start_with_tls(config, listeners, outbound, clock, tls, shutdown)
}

/// [`start`] with the given server TLS config. `clock` dates the balancer's own answers.
pub fn start_with_tls<L: Listener>(
    config: LoadBalancerConfig,
    mut listeners: BTreeMap<String, L>,
    outbound: Outbound,
    clock: SharedClock,
    tls: Arc<rustls::ServerConfig>,
    shutdown: CancellationToken,
) -> Result<LoadBalancerHandle, LoadBalancerError> {
    let pools = build_pools(&config)?;
    let mut names = BTreeSet::new();
    for listener in &config.listeners {
        if !names.insert(listener.name.as_str()) {
            return Err(LoadBalancerError::Duplicate {
                what: "listeners",
                name: listener.name.clone(),
            });
        }
        if !pools.contains_key(&listener.pool) {
            return Err(LoadBalancerError::UnknownPool {
                listener: listener.name.clone(),
                pool: listener.pool.clone(),
            });
        }
        if !listeners.contains_key(&listener.name) {
            return Err(LoadBalancerError::MissingListener(listener.name.clone()));
        }
    }
    if let Some(extra) = listeners.keys().find(|name| !names.contains(name.as_str())) {
        return Err(LoadBalancerError::UnexpectedListener(extra.clone()));
    }

    let shutdown = shutdown.child_token();
    let totals = Arc::new(Totals::default());
    let tasks = TaskTracker::new();
    for listener_config in &config.listeners {
        let Some(listener) = listeners.remove(&listener_config.name) else {
            return Err(LoadBalancerError::MissingListener(
                listener_config.name.clone(),
            ));
        };
        let Some(pool) = pools.get(&listener_config.pool) else {
            return Err(LoadBalancerError::UnknownPool {
                listener: listener_config.name.clone(),
                pool: listener_config.pool.clone(),
            });
        };
        let proxy = Proxy {
            pool: pool.clone(),
            https: listener_config.tls,
            clients: pool.nodes.iter().map(|_| outbound.client()).collect(),
            totals: totals.clone(),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
            tap: outbound.tap().cloned(),
        };
        let tls = listener_config.tls.then(|| tls.clone());
        tasks.spawn(serve(listener, tls, proxy, clock.clone(), shutdown.clone()));
    }
    for pool in pools.values() {
        if let Some(check) = &pool.config.health_check {
            for node in &pool.nodes {
                tasks.spawn(pool::health_loop(
                    node.clone(),
                    check.clone(),
                    outbound.clone(),
                    shutdown.clone(),
                ));
            }
        }
    }
    Ok(LoadBalancerHandle {
        pools,
        totals,
        shutdown,
        tasks,
    })
}

fn build_pools(
    config: &LoadBalancerConfig,
) -> Result<BTreeMap<String, Arc<Pool>>, LoadBalancerError> {
    let mut pools = BTreeMap::new();
    for pool in &config.pools {
        if pool.nodes.is_empty() {
            return Err(LoadBalancerError::EmptyPool(pool.name.clone()));
        }
        let mut nodes = Vec::with_capacity(pool.nodes.len());
        let mut names = BTreeSet::new();
        for node in &pool.nodes {
            if !names.insert(node.name.as_str()) {
                return Err(LoadBalancerError::Duplicate {
                    what: "nodes",
                    name: node.name.clone(),
                });
            }
            let bad = |message: String| LoadBalancerError::BadNode {
                pool: pool.name.clone(),
                node: node.name.clone(),
                message,
            };
            let base = parse_url(&node.url).map_err(|e| bad(format!("url: {e}")))?;
            if base.query().is_some() {
                return Err(bad("url: a query is not allowed".into()));
            }
            let probe_text = match (&node.health_url, &pool.health_check) {
                (Some(url), _) => url.clone(),
                (
                    None,
                    Some(HealthCheckConfig {
                        probe: Probe::Http { path },
                        ..
                    }),
                ) => {
                    format!("{}{}", node.url.trim_end_matches('/'), path)
                }
                (None, _) => node.url.clone(),
            };
            let probe_url =
                parse_url(&probe_text).map_err(|e| bad(format!("health check url: {e}")))?;
            nodes.push(Arc::new(Node::new(node.name.clone(), base, probe_url)));
        }
        let previous = pools.insert(pool.name.clone(), Arc::new(Pool::new(pool.clone(), nodes)));
        if previous.is_some() {
            return Err(LoadBalancerError::Duplicate {
                what: "pools",
                name: pool.name.clone(),
            });
        }
    }
    Ok(pools)
}

fn parse_url(text: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = text.parse().map_err(|e| format!("`{text}`: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("`{text}`: expected an http:// or https:// URL")),
    }
    if uri.authority().is_none() {
        return Err(format!("`{text}`: no host"));
    }
    Ok(uri)
}
