//! The load balancer's configuration: listeners, each forwarding to one pool of nodes.
//!
//! ```toml
//! [[listener]]
//! name = "http"            # the harness hands a bound listener under this name
//! pool = "gateways-http"
//! tls = false
//!
//! [[pool]]
//! name = "gateways-http"
//! retries = 1              # other nodes tried for an idempotent request
//! request_timeout_ms = 60000
//! [[pool.node]]
//! name = "gateway-1"
//! url = "http://localhost:8281"
//! health_url = "https://localhost:9444/api/am/gateway/v2/server-startup-healthcheck"
//! [pool.health_check]
//! probe = { kind = "http", path = "/api/am/gateway/v2/server-startup-healthcheck" }
//! interval_ms = 1000
//! [pool.ejection]
//! duration_ms = 10000
//! ```

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerConfig {
    #[serde(rename = "listener", default)]
    pub listeners: Vec<ListenerConfig>,
    #[serde(rename = "pool", default)]
    pub pools: Vec<PoolConfig>,
}

/// One front listener: the harness binds it (80/443-like ports) and hands it over by `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    pub name: String,
    /// The pool its requests go to.
    pub pool: String,
    /// HTTPS with the built-in `wso2carbon` certificate (or the one given to `start_with_tls`).
    #[serde(default)]
    pub tls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    pub name: String,
    #[serde(rename = "node")]
    pub nodes: Vec<NodeConfig>,
    /// Active checks; absent = nodes are judged by passive ejection alone.
    #[serde(default)]
    pub health_check: Option<HealthCheckConfig>,
    #[serde(default)]
    pub ejection: EjectionConfig,
    /// How many other nodes an idempotent request is tried on after a connection failure.
    /// Default 1 (a pair: the other node).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// How long to wait for a node's response head; then 504, no retry (the node may have
    /// acted on the request). Default 60 s, nginx's `proxy_read_timeout`.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Idempotent request bodies up to this size are buffered so they can be retried; larger
    /// ones stream and are not retried. Default 1 MiB.
    #[serde(default = "default_retry_body_limit")]
    pub retry_body_limit: usize,
}

fn default_retries() -> u32 {
    1
}

fn default_request_timeout_ms() -> u64 {
    60_000
}

fn default_retry_body_limit() -> usize {
    1 << 20
}

impl PoolConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub name: String,
    /// Where requests go: scheme and authority (`http://localhost:8281`); the request's path
    /// and query are appended.
    pub url: String,
    /// What the active check probes, when not `url` + the probe's path: e.g. the gateway's
    /// management port, `https://localhost:9444/api/am/gateway/v2/server-startup-healthcheck`.
    #[serde(default)]
    pub health_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    pub probe: Probe,
    /// Default 1 s.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// A probe that takes longer fails. Default 1 s.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Consecutive failed probes that mark a healthy node unhealthy. Default 3.
    #[serde(default = "default_unhealthy_threshold")]
    pub unhealthy_threshold: u32,
    /// Consecutive passed probes that mark an unhealthy node healthy. Default 2.
    #[serde(default = "default_healthy_threshold")]
    pub healthy_threshold: u32,
}

fn default_interval_ms() -> u64 {
    1_000
}
fn default_timeout_ms() -> u64 {
    1_000
}
fn default_unhealthy_threshold() -> u32 {
    3
}
fn default_healthy_threshold() -> u32 {
    2
}

impl HealthCheckConfig {
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// What one active check does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Probe {
    /// `GET health_url` (or `url` + `path`); passes on a 2xx answer.
    Http { path: String },
    /// Opens a connection (a TLS handshake too for `https`) to `health_url` or `url`.
    Tcp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EjectionConfig {
    /// How long a node whose connection failed gets no traffic. Default 10 s; 0 disables
    /// passive ejection.
    #[serde(default = "default_ejection_ms")]
    pub duration_ms: u64,
}

fn default_ejection_ms() -> u64 {
    10_000
}

impl Default for EjectionConfig {
    fn default() -> Self {
        Self {
            duration_ms: default_ejection_ms(),
        }
    }
}

impl EjectionConfig {
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }
}

/// One gateway node of an HA cluster, as [`LoadBalancerConfig::gateway_cluster`] takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayNode {
    /// The instance name (`gateway-1`).
    pub name: String,
    /// Passthrough HTTP, e.g. `http://localhost:8281`.
    pub http: String,
    /// Passthrough HTTPS, e.g. `https://localhost:8244`.
    pub https: String,
    /// Management HTTPS, e.g. `https://localhost:9444`: the health check calls the gateway's
    /// `/api/am/gateway/v2/server-startup-healthcheck` there.
    pub management: String,
}

impl LoadBalancerConfig {
    /// The HA topology's load balancer: listener `http` → pool `gateways-http` (each node's
    /// passthrough HTTP), listener `https` (TLS) → pool `gateways-https` (passthrough HTTPS,
    /// re-encrypted), both health-checked on the nodes' management port, other settings default.
    pub fn gateway_cluster(nodes: &[GatewayNode]) -> Self {
        let health = tollgate_protocol::internal::GATEWAY_HEALTH;
        let pool = |name: &str, url: fn(&GatewayNode) -> &String| PoolConfig {
            name: name.to_owned(),
            nodes: nodes
                .iter()
                .map(|node| NodeConfig {
                    name: node.name.clone(),
                    url: url(node).clone(),
                    health_url: Some(format!("{}{health}", node.management.trim_end_matches('/'))),
                })
                .collect(),
            health_check: Some(HealthCheckConfig {
                probe: Probe::Http {
                    path: health.to_owned(),
                },
                interval_ms: default_interval_ms(),
                timeout_ms: default_timeout_ms(),
                unhealthy_threshold: default_unhealthy_threshold(),
                healthy_threshold: default_healthy_threshold(),
            }),
            ejection: EjectionConfig::default(),
            retries: default_retries(),
            request_timeout_ms: default_request_timeout_ms(),
            retry_body_limit: default_retry_body_limit(),
        };
        Self {
            listeners: vec![
                ListenerConfig {
                    name: "http".into(),
                    pool: "gateways-http".into(),
                    tls: false,
                },
                ListenerConfig {
                    name: "https".into(),
                    pool: "gateways-https".into(),
                    tls: true,
                },
            ],
            pools: vec![
                pool("gateways-http", |node| &node.http),
                pool("gateways-https", |node| &node.https),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_cluster_fronts_both_passthrough_ports_and_checks_the_management_port() {
        let node = |n: u16| GatewayNode {
            name: format!("gateway-{n}"),
            http: format!("http://localhost:{}", 8280 + n),
            https: format!("https://localhost:{}", 8243 + n),
            management: format!("https://localhost:{}/", 9443 + n),
        };
        let config = LoadBalancerConfig::gateway_cluster(&[node(1), node(2)]);
        assert_eq!(config.listeners.len(), 2);
        assert!(config.listeners[1].tls);
        let https = &config.pools[1];
        assert_eq!(https.nodes[1].url, "https://localhost:8245");
        assert_eq!(
            https.nodes[1].health_url.as_deref(),
            Some("https://localhost:9445/api/am/gateway/v2/server-startup-healthcheck")
        );
    }
}
