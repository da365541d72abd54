//! The in-process driver: every node of a topology in this process, on real loopback sockets.
//!
//! [`boot`] binds every listener up front (so a taken port fails the boot before anything
//! runs, with the port, instance and role in the message), starts the mock backends, then the
//! control plane(s), then each gateway, and returns once every gateway has finished its
//! start-up sync — awaited by signal ([`tollgate_node::NodeHandle::ready`]), never by sleeping.
//!
//! All instances share one address, as the guide's three instances share one server; the host
//! map sends every hostname of the topology (`localhost`, `gw.wso2.com`, …) there. Give each
//! topology its own address ([`crate::address::private_address`], [`boot_private`]) and any
//! number of them run side by side with the guide's port numbers.

use crate::address::private_address;
use crate::backend::{self, BackendIdentity, RunningBackend};
use crate::client::Client;
use crate::topology::{Instance, Topology};
use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tollgate_config::model::ServerRole;
use tollgate_control_plane::ControlPlane;
use tollgate_gateway::GatewayHandle;
use tollgate_node::{NodeHandle, NodeListeners, NodeResources, PortRole};
use tollgate_protocol::SharedClock;
use tollgate_protocol::net::{HostMap, Outbound};

/// How to boot.
#[derive(Debug, Clone)]
pub struct BootOptions {
    /// The run's seed: every id, key and token derives from it.
    pub seed: u64,
    pub clock: SharedClock,
    /// The loopback address every listener of the topology binds.
    pub address: IpAddr,
    /// Instances bound but not started at boot; start them with
    /// [`RunningTopology::start_instance`] (a gateway that joins after a deployment).
    pub held: BTreeSet<String>,
}

impl BootOptions {
    pub fn new(seed: u64, clock: SharedClock, address: IpAddr) -> Self {
        Self {
            seed,
            clock,
            address,
            held: BTreeSet::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("port {port} ({owner}: {what}) on {address} is already in use")]
    PortInUse {
        port: u16,
        owner: String,
        what: String,
        address: IpAddr,
    },
    #[error("cannot bind port {port} ({owner}: {what}) on {address}: {source}")]
    Bind {
        port: u16,
        owner: String,
        what: String,
        address: IpAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{instance}: {message}")]
    Node { instance: String, message: String },
    #[error("no instance named `{0}` is waiting to start")]
    NotHeld(String),
    #[error("the topology has no instance named `{0}`")]
    UnknownInstance(String),
    #[error("{instance}: not ready within {READY_TIMEOUT:?} (its start-up sync did not complete)")]
    NotReady { instance: String },
    #[error("{instance}: applied event {applied}, not {seq}, within {READY_TIMEOUT:?}")]
    NotConverged {
        instance: String,
        seq: u64,
        applied: u64,
    },
}

/// How long a node may take to become ready, or a gateway to apply an event. Generous: a
/// healthy node takes milliseconds; this only turns a hang into an error.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl BootError {
    pub fn is_port_in_use(&self) -> bool {
        matches!(self, Self::PortInUse { .. })
    }
}

/// One listener of a running instance: what the guide calls it and where it really is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub role: PortRole,
    pub port: u16,
    /// `https://localhost:9443`: the URL as the guide writes it (resolve through the host map).
    pub url: String,
    /// The bound socket.
    pub addr: SocketAddr,
}

/// A node of a running topology.
pub struct RunningNode {
    pub name: String,
    pub role: ServerRole,
    pub endpoints: Vec<Endpoint>,
    handle: NodeHandle,
}

impl fmt::Debug for RunningNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningNode")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl RunningNode {
    pub fn endpoint(&self, role: PortRole) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.role == role)
    }

    pub fn handle(&self) -> &NodeHandle {
        &self.handle
    }
}

/// An instance bound but not yet started.
struct HeldInstance {
    instance: Instance,
    listeners: Vec<(PortRole, TcpListener)>,
}

/// A booted topology.
pub struct RunningTopology {
    pub name: String,
    pub address: IpAddr,
    pub seed: u64,
    pub host_map: HostMap,
    /// Outbound networking as the nodes have it: host map + built-in truststore.
    pub outbound: Outbound,
    pub nodes: Vec<RunningNode>,
    pub backends: Vec<RunningBackend>,
    held: Vec<HeldInstance>,
    clock: SharedClock,
    shutdown: CancellationToken,
    /// Dropping a topology without [`RunningTopology::shutdown`] still stops every node.
    _stop_on_drop: tokio_util::sync::DropGuard,
}

impl fmt::Debug for RunningTopology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningTopology")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("seed", &self.seed)
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

/// Boots `topology` on `options.address`; see the module docs.
pub async fn boot(topology: &Topology, options: BootOptions) -> Result<RunningTopology, BootError> {
    if let Some(unknown) = options
        .held
        .iter()
        .find(|name| topology.instance(name).is_none())
    {
        return Err(BootError::UnknownInstance(unknown.clone()));
    }
    let address = options.address;
    let host_map = host_map(topology, address);
    let outbound = Outbound::new(
        host_map.clone(),
        &[tollgate_protocol::security::DEFAULT_CERT_PEM],
    )
    .map_err(|e| BootError::Node {
        instance: topology.name.clone(),
        message: e.to_string(),
    })?;

    // Bind everything before starting anything: a taken port fails the boot cleanly.
    let mut bound_instances = Vec::new();
    for instance in &topology.instances {
        let mut listeners = Vec::new();
        for (role, port) in &instance.ports {
            let listener = bind(address, *port, &instance.name, &role.to_string()).await?;
            listeners.push((*role, listener));
        }
        bound_instances.push(HeldInstance {
            instance: instance.clone(),
            listeners,
        });
    }
    let mut bound_backends = Vec::new();
    for spec in &topology.backends {
        let listener = bind(address, spec.port, &spec.name, "mock backend").await?;
        bound_backends.push((spec, listener));
    }

    let shutdown = CancellationToken::new();
    let mut running = RunningTopology {
        name: topology.name.clone(),
        address,
        seed: options.seed,
        host_map,
        outbound,
        nodes: Vec::new(),
        backends: Vec::new(),
        held: Vec::new(),
        clock: options.clock,
        _stop_on_drop: shutdown.clone().drop_guard(),
        shutdown,
    };
    for (spec, listener) in bound_backends {
        let identity = BackendIdentity {
            name: spec.name.clone(),
            endpoint: spec.endpoint.clone(),
        };
        let started = backend::spawn(identity, listener, running.shutdown.clone()).map_err(|e| {
            BootError::Node {
                instance: spec.name.clone(),
                message: e.to_string(),
            }
        });
        match started {
            Ok(backend) => running.backends.push(backend),
            Err(error) => {
                running.shutdown().await;
                return Err(error);
            }
        }
    }
    // `topology.instances` is already in start order: control planes first.
    for held in bound_instances {
        if options.held.contains(&held.instance.name) {
            running.held.push(held);
            continue;
        }
        if let Err(error) = running.start_bound(held).await {
            running.shutdown().await;
            return Err(error);
        }
    }
    Ok(running)
}

/// Boots `topology` on a fresh private loopback address, moving to the next address if a port
/// is taken there (another process's topology). Tests use this.
pub async fn boot_private(
    topology: &Topology,
    seed: u64,
    clock: SharedClock,
    held: BTreeSet<String>,
) -> Result<RunningTopology, BootError> {
    const ATTEMPTS: usize = 8;
    let mut attempt = 1;
    loop {
        let options = BootOptions {
            seed,
            clock: clock.clone(),
            address: private_address(),
            held: held.clone(),
        };
        match boot(topology, options).await {
            Err(error) if error.is_port_in_use() && attempt < ATTEMPTS => attempt += 1,
            other => return other,
        }
    }
}

/// Every hostname of the topology, plus `localhost`, to `address`.
fn host_map(topology: &Topology, address: IpAddr) -> HostMap {
    let mut map = HostMap::new();
    map.insert("localhost", address);
    for host in topology.hosts.keys() {
        map.insert(host.clone(), address);
    }
    for backend in &topology.backends {
        map.insert(backend.host.clone(), address);
    }
    map
}

async fn bind(
    address: IpAddr,
    port: u16,
    owner: &str,
    what: &str,
) -> Result<TcpListener, BootError> {
    let socket = SocketAddr::new(address, port);
    TcpListener::bind(socket).await.map_err(|source| {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            BootError::PortInUse {
                port,
                owner: owner.to_owned(),
                what: what.to_owned(),
                address,
            }
        } else {
            BootError::Bind {
                port,
                owner: owner.to_owned(),
                what: what.to_owned(),
                address,
                source,
            }
        }
    })
}

impl RunningTopology {
    async fn start_bound(&mut self, held: HeldInstance) -> Result<(), BootError> {
        let HeldInstance {
            instance,
            listeners,
        } = held;
        let node_error = |message: String| BootError::Node {
            instance: instance.name.clone(),
            message,
        };
        let keystores = tollgate_node::tls::load(&instance.config, &instance.dir)
            .map_err(|e| node_error(e.to_string()))?;
        let trusted: Vec<&str> = keystores.trusted_pems.iter().map(String::as_str).collect();
        let outbound = Outbound::new(self.host_map.clone(), &trusted)
            .map_err(|e| node_error(e.to_string()))?;
        let mut endpoints = Vec::new();
        let mut node_listeners = NodeListeners::default();
        for (role, listener) in listeners {
            let addr = listener
                .local_addr()
                .map_err(|e| node_error(e.to_string()))?;
            endpoints.push(Endpoint {
                role,
                port: addr.port(),
                url: format!("{}://localhost:{}", role.scheme(), addr.port()),
                addr,
            });
            node_listeners.insert(role, listener);
        }
        let resources = NodeResources {
            listeners: node_listeners,
            outbound,
            clock: self.clock.clone(),
            seed: self.seed,
            tls: keystores.server,
            signing: keystores.signing,
        };
        let handle = tollgate_node::start(
            &instance.name,
            instance.config.clone(),
            resources,
            self.shutdown.clone(),
        )
        .await
        .map_err(|e| node_error(e.to_string()))?;
        if tokio::time::timeout(READY_TIMEOUT, handle.ready())
            .await
            .is_err()
        {
            handle.shutdown().await;
            return Err(BootError::NotReady {
                instance: instance.name.clone(),
            });
        }
        tracing::info!(instance = %instance.name, role = instance.role().as_str(), "node ready");
        self.nodes.push(RunningNode {
            name: instance.name.clone(),
            role: instance.role(),
            endpoints,
            handle,
        });
        Ok(())
    }

    /// Starts an instance held back at boot ([`BootOptions::held`]) and waits until it is ready.
    pub async fn start_instance(&mut self, name: &str) -> Result<(), BootError> {
        let position = self
            .held
            .iter()
            .position(|h| h.instance.name == name)
            .ok_or_else(|| BootError::NotHeld(name.to_owned()))?;
        let held = self.held.remove(position);
        self.start_bound(held).await
    }

    /// A client that resolves the topology's hostnames and trusts the built-in certificate.
    pub fn client(&self) -> Client {
        Client::new(&self.outbound)
    }

    pub fn node(&self, name: &str) -> Option<&RunningNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The first control plane of the topology.
    pub fn control_plane(&self) -> Option<&Arc<ControlPlane>> {
        self.nodes.iter().find_map(|n| n.handle.control_plane())
    }

    /// The gateway of instance `name`.
    pub fn gateway(&self, name: &str) -> Option<&GatewayHandle> {
        self.node(name).and_then(|n| n.handle.gateway())
    }

    /// Every running gateway, with its instance name.
    pub fn gateways(&self) -> impl Iterator<Item = (&str, &GatewayHandle)> {
        self.nodes
            .iter()
            .filter_map(|n| n.handle.gateway().map(|g| (n.name.as_str(), g)))
    }

    pub fn backend(&self, name: &str) -> Option<&RunningBackend> {
        self.backends.iter().find(|b| b.identity.name == name)
    }

    /// Waits until every running gateway has applied every event the control plane has
    /// published so far: call after a control-plane change, before calling through gateways.
    pub async fn converge(&self) -> Result<(), BootError> {
        let Some(cp) = self.control_plane() else {
            return Ok(());
        };
        let seq = cp.event_seq();
        for (name, gateway) in self.gateways() {
            if tokio::time::timeout(READY_TIMEOUT, gateway.wait_for_seq(seq))
                .await
                .is_err()
            {
                return Err(BootError::NotConverged {
                    instance: name.to_owned(),
                    seq,
                    applied: gateway.status().applied_seq,
                });
            }
        }
        Ok(())
    }

    /// Stops every node and backend and waits for them to end.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        // Gateways first, so none of them logs the control plane's disappearance.
        let mut nodes = self.nodes;
        nodes.reverse();
        for node in nodes {
            node.handle.shutdown().await;
        }
        for backend in self.backends {
            backend.shutdown().await;
        }
    }
}
