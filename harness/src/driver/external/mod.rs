//! The external driver: a deployment someone else runs — a WSO2 API Manager 4.x, another
//! gateway, or Tollgate out of process — reached only through what any client has: WSO2's REST
//! APIs and the gateway URLs of its [`TargetFile`]. No `/_tollgate/*` hook, no virtual clock,
//! no faults, no view of throttle decisions: its target implements none of the capability
//! traits, so steps that need them are skipped with the reason, and convergence is black-box
//! (the runner polls a gateway request until its expectation holds; see
//! `Executor::poll_until_converged`).
//!
//! A scenario runs when the target stands for what its topology has: a `[[gateway]]` for each
//! gateway instance and a `[backends.*]` entry for each mock backend; a topology with a load
//! balancer, or a scenario that edits `deployment.toml` files, is skipped with the reason.
//!
//! Every API and application a scenario creates carries the run's prefix
//! ([`Target::run_prefix`]), so two runs against one deployment never collide, and the runner
//! deletes them when the scenario ends.

pub mod target_file;

pub use target_file::{GatewayType, TargetFile, TargetFileError, TargetFileErrors};

use super::{Driver, DriverError, Target};
use crate::backend::{self, BackendIdentity, RunningBackend};
use crate::client::Client;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tollgate_net::security::DEFAULT_CERT_PEM;
use tollgate_net::{HostMap, Outbound};
use tollgate_protocol::{Clock, SystemClock};
use tollgate_scenario::Driver as DriverKind;

/// What every name a conformance run creates starts with; `--sweep` removes what carries it.
pub const NAME_PREFIX: &str = "tollgate";

/// Runs scenarios against the deployment a target file describes.
#[derive(Debug, Clone)]
pub struct ExternalDriver {
    target: Arc<TargetFile>,
    client: Client,
    propagation: Duration,
    /// `tollgate-{run}-`: what every name this run creates starts with (then the scenario's
    /// number: `tollgate-k3x9a-0-pizzashack`).
    run: String,
    next: Arc<AtomicU32>,
    /// Leave what scenarios created in place (`--keep`), for debugging.
    keep: bool,
}

impl ExternalDriver {
    /// A driver for `target`; `run` tells this run's names from another's (`--sweep` removes
    /// every name starting with [`NAME_PREFIX`]).
    pub fn new(target: TargetFile, run: &str, propagation: Duration) -> Result<Self, DriverError> {
        let client = client_for(&target).map_err(DriverError::Unusable)?;
        Ok(Self {
            target: Arc::new(target),
            client,
            propagation,
            run: format!("{NAME_PREFIX}-{run}-"),
            next: Arc::new(AtomicU32::new(0)),
            keep: false,
        })
    }

    /// Keeps what each scenario created instead of deleting it when the scenario ends.
    pub fn keeping(mut self) -> Self {
        self.keep = true;
        self
    }

    /// What every name this run creates starts with.
    pub fn run_prefix(&self) -> String {
        self.run.clone()
    }

    pub fn target_file(&self) -> &TargetFile {
        &self.target
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }
}

/// A client that resolves the file's `[resolve]` names (others through DNS) and trusts its CA
/// file besides Tollgate's built-in certificate (or, with `insecure_tls`, any certificate).
pub fn client_for(target: &TargetFile) -> Result<Client, String> {
    let mut hosts = HostMap::new();
    for (host, ip) in &target.resolve {
        hosts.insert(host.clone(), *ip);
    }
    hosts.use_system_dns = true;
    let outbound = if target.control_plane.insecure_tls {
        Outbound::insecure(hosts)
    } else {
        let mut pems: Vec<&str> = vec![DEFAULT_CERT_PEM];
        pems.extend(target.control_plane.trusted_pems.iter().map(String::as_str));
        Outbound::new(hosts, &pems)
    }
    .map_err(|e| format!("TLS trust: {e}"))?;
    Ok(Client::new(&outbound))
}

impl Driver for ExternalDriver {
    type Target = ExternalTarget;

    fn kind(&self) -> DriverKind {
        DriverKind::External
    }

    fn edits_topologies(&self) -> bool {
        false
    }

    async fn boot(&self, topology_dir: &Path, _seed: u64) -> Result<ExternalTarget, DriverError> {
        let topology = super::load_topology(topology_dir)?;
        let unsupported = |reason: String| DriverError::Unsupported(reason);
        for instance in topology
            .instances
            .iter()
            .filter(|i| i.role().runs_gateway())
        {
            if self.target.gateway(&instance.name).is_none() {
                return Err(unsupported(format!(
                    "the target has no [[gateway]] standing for `{}` of topology `{}`",
                    instance.name, topology.name
                )));
            }
        }
        for lb in &topology.load_balancers {
            if self.target.load_balancer(&lb.name).is_none() {
                return Err(unsupported(format!(
                    "the target has no [[load_balancer]] standing for `{}` of topology `{}`",
                    lb.name, topology.name
                )));
            }
        }
        let stop = CancellationToken::new();
        let mut backends = Vec::new();
        for spec in &topology.backends {
            let Some(declared) = self.target.backends.get(&spec.name) else {
                return Err(unsupported(format!(
                    "the target file has no [backends.{}] saying where the harness serves it",
                    spec.name
                )));
            };
            let Some(bind) = declared.bind else {
                continue;
            };
            let listener =
                tokio::net::TcpListener::bind(bind)
                    .await
                    .map_err(|e| DriverError::Boot {
                        topology: topology.name.clone(),
                        message: format!("mock backend `{}` on {bind}: {e}", spec.name),
                    })?;
            let identity = BackendIdentity {
                name: spec.name.clone(),
                endpoint: spec.endpoint.clone(),
            };
            let running = backend::spawn(
                identity,
                listener,
                Arc::new(tollgate_protocol::SystemClock),
                stop.clone(),
            )
            .map_err(|e| DriverError::Boot {
                topology: topology.name.clone(),
                message: e.to_string(),
            })?;
            backends.push(running);
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Ok(ExternalTarget {
            target: self.target.clone(),
            client: self.client.clone(),
            propagation: self.propagation,
            prefix: format!("{}{n}-", self.run),
            keep: self.keep,
            backends,
        })
    }
}

/// A scenario's view of the external deployment.
pub struct ExternalTarget {
    target: Arc<TargetFile>,
    client: Client,
    propagation: Duration,
    prefix: String,
    keep: bool,
    backends: Vec<RunningBackend>,
}

impl Target for ExternalTarget {
    fn client(&self) -> Client {
        self.client.clone()
    }

    fn control_plane_url(&self) -> Option<String> {
        Some(self.target.control_plane.url.clone())
    }

    fn management_url(&self, instance: &str) -> Option<String> {
        self.target.gateway(instance)?.management.clone()
    }

    fn gateway_url(&self, instance: &str, https: bool) -> Option<String> {
        let (http, secure) = match self.target.gateway(instance) {
            Some(gateway) => (&gateway.http, &gateway.https),
            None => {
                let lb = self.target.load_balancer(instance)?;
                (&lb.http, &lb.https)
            }
        };
        Some(if https { secure } else { http }.clone())
    }

    fn backend_url(&self, backend: &str) -> Option<String> {
        Some(self.target.backends.get(backend)?.url.clone())
    }

    fn gateway_names(&self) -> Vec<String> {
        self.target
            .gateways
            .iter()
            .map(|g| g.instance.clone())
            .collect()
    }

    fn gateways_of(&self, environment: &str) -> Vec<String> {
        self.target
            .gateways
            .iter()
            .filter(|g| g.environment == environment)
            .map(|g| g.instance.clone())
            .collect()
    }

    fn now_millis(&self) -> i64 {
        SystemClock.now_millis()
    }

    fn location(&self) -> String {
        self.target.control_plane.url.clone()
    }

    fn admin_credentials(&self) -> (String, String) {
        (
            self.target.control_plane.username.clone(),
            self.target.control_plane.password.clone(),
        )
    }

    fn run_prefix(&self) -> Option<&str> {
        Some(&self.prefix)
    }

    fn cleans_up(&self) -> bool {
        !self.keep
    }

    fn propagation(&self) -> Duration {
        self.propagation
    }

    async fn shutdown(self) {
        for backend in self.backends {
            backend.shutdown().await;
        }
    }
}
