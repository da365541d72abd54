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
//!
//! Faults: one [`FaultPlane`] per topology. Every instance's listeners are wrapped by it and
//! every instance's outbound connections go through it under the instance's name; a load
//! balancer is a member under its `[[load_balancer]]` name; mock backends' addresses are
//! registered under theirs (so a gateway ↔ backend partition refuses new connections; backends
//! cannot be paused); a control plane's Traffic Manager ports answer as `traffic-manager`
//! ([`crate::topology::Topology::members`]), so a gateway can be cut from it alone.
//! [`RunningTopology`] kills and restarts members (a kill returns once the member's sockets are
//! closed, so a restart binds the same ports at once, then awaits readiness by signal; a control
//! plane comes back with its state, as WSO2's does over its
//! database), pauses and resumes them, and partitions and heals pairs. A gateway's passthrough
//! listeners accept nothing until its start-up sync is done, so a restarted node never answers
//! traffic with a stale route table.
//!
//! Disk: each instance has a runtime home (WSO2's `<APIM_HOME>`, [`RunningTopology::home`]) in
//! a temporary folder of the boot. A gateway keeps its API files there, so a restart finds what
//! a real restart finds on disk: the skip list's files kept, the rest cleaned
//! ([`tollgate_gateway::runtime`]); a control plane keeps its database there
//! ([`tollgate_control_plane::database`]), so it comes back with its state. The folder is
//! removed when the topology is dropped or shut down.

use crate::address::private_address;
use crate::backend::{self, BackendIdentity, RunningBackend};
use crate::client::Client;
use crate::topology::{Instance, LoadBalancerSpec, MemberKind, Topology};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tollgate_config::model::ServerRole;
use tollgate_control_plane::ControlPlane;
use tollgate_gateway::GatewayHandle;
use tollgate_load_balancer::{LoadBalancerConfig, LoadBalancerHandle};
use tollgate_net::fault::{FaultIo, FaultListener, FaultPlane};
use tollgate_net::{HostMap, Listener, Outbound};
use tollgate_node::{NodeHandle, NodeListeners, NodeResources, PortRole};
use tollgate_protocol::SharedClock;

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
    #[error("`{0}` is not running")]
    NotRunning(String),
    #[error("`{0}` is running: kill it before restarting it")]
    AlreadyRunning(String),
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

/// A node's listener: the fault plane's wrapper, and for a gateway's passthrough ports a gate
/// that opens once the node is ready (connections wait in the backlog until then).
pub struct NodeListener {
    inner: FaultListener<TcpListener>,
    open: Option<watch::Receiver<bool>>,
}

impl Listener for NodeListener {
    type Io = FaultIo<tokio::net::TcpStream>;

    async fn accept(&mut self) -> std::io::Result<(Self::Io, SocketAddr)> {
        if let Some(open) = &mut self.open {
            // A dropped sender (the start failed) opens the gate: nothing is left to wait for.
            if open.wait_for(|o| *o).await.is_err() {
                self.open = None;
            }
        }
        self.inner.accept().await
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A load balancer of the topology; `handle` is `None` while it is killed.
struct RunningLoadBalancer {
    spec: LoadBalancerSpec,
    http: SocketAddr,
    https: SocketAddr,
    handle: Option<LoadBalancerHandle>,
}

/// The runtime homes of a boot's instances, `<root>/<instance>`; the root is removed on drop.
pub(crate) struct RuntimeHomes {
    root: PathBuf,
}

static NEXT_HOMES: AtomicU32 = AtomicU32::new(0);

impl RuntimeHomes {
    pub(crate) fn create(topology: &str) -> std::io::Result<Self> {
        let root = std::env::temp_dir().join(format!(
            "tollgate-homes-{topology}-{}-{}",
            std::process::id(),
            NEXT_HOMES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    pub(crate) fn of(&self, instance: &str) -> PathBuf {
        self.root.join(instance)
    }
}

impl Drop for RuntimeHomes {
    fn drop(&mut self) {
        // Best effort: a leftover folder in the temp dir is harmless.
        let _ = std::fs::remove_dir_all(&self.root);
    }
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
    /// The topology as loaded: its members, and each instance's configuration for restarts.
    topology: Topology,
    /// Killed instances: the endpoints a restart binds again.
    down: BTreeMap<String, Vec<Endpoint>>,
    /// Stopped Traffic Managers: the members each was cut from, to heal on its restart.
    tm_cut: BTreeMap<String, Vec<String>>,
    load_balancers: Vec<RunningLoadBalancer>,
    plane: FaultPlane,
    clock: SharedClock,
    /// Every instance's runtime home; kept across kills and restarts, as a disk is.
    homes: RuntimeHomes,
    /// Where the nodes report what they apply and decide (a transcript, once attached).
    taps: crate::transcript::TapSlot,
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
        &[tollgate_net::security::DEFAULT_CERT_PEM],
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
    let mut bound_lbs = Vec::new();
    for spec in &topology.load_balancers {
        let http = bind(address, spec.http, &spec.name, "load balancer HTTP").await?;
        let https = bind(address, spec.https, &spec.name, "load balancer HTTPS").await?;
        bound_lbs.push((spec, http, https));
    }
    let plane = FaultPlane::new();
    let homes = RuntimeHomes::create(&topology.name).map_err(|e| BootError::Node {
        instance: topology.name.clone(),
        message: format!("creating the runtime homes: {e}"),
    })?;

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
        topology: topology.clone(),
        down: BTreeMap::new(),
        tm_cut: BTreeMap::new(),
        load_balancers: Vec::new(),
        plane,
        clock: options.clock,
        homes,
        taps: crate::transcript::TapSlot::default(),
        _stop_on_drop: shutdown.clone().drop_guard(),
        shutdown,
    };
    for (spec, listener) in bound_backends {
        let identity = BackendIdentity {
            name: spec.name.clone(),
            endpoint: spec.endpoint.clone(),
        };
        let started = backend::spawn(
            identity,
            listener,
            running.clock.clone(),
            running.shutdown.clone(),
        )
        .map_err(|e| BootError::Node {
            instance: spec.name.clone(),
            message: e.to_string(),
        });
        match started {
            Ok(backend) => {
                running.plane.register(backend.local_addr, &spec.name);
                running.backends.push(backend);
            }
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
    for (spec, http, https) in bound_lbs {
        let mut lb = RunningLoadBalancer {
            spec: spec.clone(),
            http: local_addr(&http, &spec.name)?,
            https: local_addr(&https, &spec.name)?,
            handle: None,
        };
        if let Err(error) = running.start_load_balancer(&mut lb, http, https) {
            running.shutdown().await;
            return Err(error);
        }
        running.load_balancers.push(lb);
    }
    Ok(running)
}

fn local_addr(listener: &TcpListener, owner: &str) -> Result<SocketAddr, BootError> {
    listener.local_addr().map_err(|e| BootError::Node {
        instance: owner.to_owned(),
        message: e.to_string(),
    })
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
    for lb in &topology.load_balancers {
        for host in &lb.hosts {
            map.insert(host.clone(), address);
        }
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
    /// Sends what every node applies and decides to `transcript` from now on.
    pub fn record_into(&self, transcript: &crate::transcript::Transcript) {
        self.taps.attach(transcript);
    }

    /// Starts a bound instance; a control plane opens the database in its runtime home (a
    /// restart finds what it wrote).
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
            .map_err(|e| node_error(e.to_string()))?
            .with_faults(self.plane.clone(), &instance.name)
            .with_tap(self.taps.tap(&instance.name));
        let (open, gate) = watch::channel(false);
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
            // The Traffic Manager's ports answer under its own name: a gateway can be cut from
            // it and still sync from the control plane beside it.
            let member = match role {
                PortRole::TmBinary | PortRole::Amqp => self
                    .traffic_manager_of(&instance.name)
                    .unwrap_or_else(|| instance.name.clone()),
                _ => instance.name.clone(),
            };
            let inner = self
                .plane
                .listener(listener, &member)
                .map_err(|e| node_error(e.to_string()))?;
            let gated = matches!(role, PortRole::PassthruHttp | PortRole::PassthruHttps);
            node_listeners.insert(
                role,
                NodeListener {
                    inner,
                    open: gated.then(|| gate.clone()),
                },
            );
        }
        let resources = NodeResources {
            listeners: node_listeners,
            outbound,
            clock: self.clock.clone(),
            seed: self.seed,
            tls: keystores.server,
            signing: keystores.signing,
            home: Some(self.homes.of(&instance.name)),
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
        let _ = open.send(true);
        tracing::info!(instance = %instance.name, role = instance.role().as_str(), "node ready");
        self.nodes.push(RunningNode {
            name: instance.name.clone(),
            role: instance.role(),
            endpoints,
            handle,
        });
        // Topology order, whatever the order of (re)starts.
        let position = |name: &str| self.topology.instances.iter().position(|i| i.name == name);
        let order: BTreeMap<String, Option<usize>> = self
            .nodes
            .iter()
            .map(|n| (n.name.clone(), position(&n.name)))
            .collect();
        self.nodes
            .sort_by_key(|n| order.get(&n.name).copied().flatten());
        Ok(())
    }

    fn start_load_balancer(
        &self,
        lb: &mut RunningLoadBalancer,
        http: TcpListener,
        https: TcpListener,
    ) -> Result<(), BootError> {
        let error = |message: String| BootError::Node {
            instance: lb.spec.name.clone(),
            message,
        };
        let nodes =
            crate::topology::gateway_nodes(&self.topology.instances, &lb.spec).map_err(error)?;
        let config = LoadBalancerConfig::gateway_cluster(&nodes);
        let outbound = self
            .outbound
            .clone()
            .with_faults(self.plane.clone(), &lb.spec.name);
        let mut listeners = BTreeMap::new();
        for (name, listener) in [("http", http), ("https", https)] {
            let wrapped = self
                .plane
                .listener(listener, &lb.spec.name)
                .map_err(|e| error(e.to_string()))?;
            listeners.insert(name.to_owned(), wrapped);
        }
        let handle = tollgate_load_balancer::start(
            config,
            listeners,
            outbound,
            self.clock.clone(),
            self.shutdown.child_token(),
        )
        .map_err(|e| error(e.to_string()))?;
        tracing::info!(load_balancer = %lb.spec.name, "load balancer started");
        lb.handle = Some(handle);
        Ok(())
    }

    /// The fault-plane name of the Traffic Manager inside control-plane instance `instance`.
    fn traffic_manager_of(&self, instance: &str) -> Option<String> {
        self.topology.traffic_manager_of(instance)
    }

    /// Heals the cuts a stop of Traffic Manager `tm` made.
    fn reconnect_traffic_manager(&mut self, tm: &str) {
        for peer in self.tm_cut.remove(tm).unwrap_or_default() {
            self.plane.heal(&peer, tm);
        }
    }

    /// The Traffic Manager of running control-plane instance `instance`.
    fn traffic_manager_in(
        &self,
        instance: &str,
    ) -> Result<&tollgate_node::TrafficManagerHandle, BootError> {
        self.node(instance)
            .and_then(|n| n.handle.traffic_manager())
            .ok_or_else(|| BootError::NotRunning(instance.to_owned()))
    }

    fn member(&self, name: &str) -> Result<MemberKind, BootError> {
        self.topology
            .member(name)
            .map(|m| m.kind)
            .ok_or_else(|| BootError::UnknownInstance(name.to_owned()))
    }

    /// The fault plane every member's connections go through.
    pub fn faults(&self) -> &FaultPlane {
        &self.plane
    }

    /// Kills instance, load balancer or Traffic Manager `name`: its listeners close and every
    /// open connection drops at once, as when a process dies.
    ///
    /// What survives is what survives a WSO2 process's death: a control plane's state (APIs,
    /// revisions, applications, keys, the event log) is in its database, a file in its runtime
    /// home that [`restart`](Self::restart) opens again — "the process died, the database did
    /// not". A gateway's
    /// in-memory routes and a Traffic Manager's counters (none are on disk in WSO2) are lost; a
    /// load balancer holds nothing. Killing `traffic-manager` stops only the Traffic Manager
    /// inside its control-plane instance ([`tollgate_node::TrafficManagerHandle::stop`]): the
    /// event and decision connections drop, and every member is cut from its ports (which stay
    /// bound) so new connections are refused, as a dead process's are; its counters are kept.
    pub async fn kill(&mut self, name: &str) -> Result<(), BootError> {
        match self.member(name)? {
            MemberKind::Instance => {
                let position = self
                    .nodes
                    .iter()
                    .position(|n| n.name == name)
                    .ok_or_else(|| BootError::NotRunning(name.to_owned()))?;
                let node = self.nodes.remove(position);
                self.down.insert(node.name.clone(), node.endpoints.clone());
                node.handle.shutdown().await;
            }
            MemberKind::LoadBalancer => {
                let lb = self
                    .load_balancers
                    .iter_mut()
                    .find(|l| l.spec.name == name)
                    .and_then(|l| l.handle.take())
                    .ok_or_else(|| BootError::NotRunning(name.to_owned()))?;
                lb.shutdown().await;
            }
            MemberKind::Backend => return Err(BootError::UnknownInstance(name.to_owned())),
            MemberKind::TrafficManager { control_plane: cp } => {
                let tm = self.traffic_manager_in(&cp)?;
                if !tm.is_running() {
                    return Err(BootError::NotRunning(name.to_owned()));
                }
                // A dead process's ports refuse connections; the stopped TM's stay bound (a
                // node never binds its own), so every member is cut from it until the restart
                // — a gateway's decision follower then backs off as WSO2's does (10 s first).
                // Pairs a scenario already cut stay its own to heal.
                let peers: Vec<String> = self
                    .topology
                    .instances
                    .iter()
                    .map(|i| i.name.clone())
                    .chain(self.load_balancers.iter().map(|l| l.spec.name.clone()))
                    .filter(|peer| !self.plane.is_partitioned(peer, name))
                    .collect();
                for peer in &peers {
                    self.plane.partition(peer, name);
                }
                tm.stop();
                self.tm_cut.insert(name.to_owned(), peers);
            }
        }
        tracing::info!(member = name, "killed");
        Ok(())
    }

    /// [`restart`](Self::restart), but a control plane loses its state: its database file is
    /// deleted first, so it starts empty. Its event log starts again at 0, so the gateways find
    /// their `after=<seq>` gone (410), pull its (empty) snapshot and drop what they served.
    pub async fn restart_fresh(&mut self, name: &str) -> Result<(), BootError> {
        if self.node(name).is_none() {
            let database = self
                .homes
                .of(name)
                .join(tollgate_control_plane::DATABASE_FILE);
            match std::fs::remove_file(&database) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(BootError::Node {
                        instance: name.to_owned(),
                        message: format!("cannot delete {}: {e}", database.display()),
                    });
                }
            }
        }
        self.restart(name).await
    }

    /// Starts a killed instance, load balancer or Traffic Manager again on the same ports, and
    /// returns once it is ready (a gateway: its start-up sync done, awaited by signal).
    ///
    /// A control plane comes back with the state it had when killed, from its database (see
    /// [`kill`](Self::kill)): its event log goes on at the same `seq`, so the gateways resume their streams with
    /// `after=<seq>` as soon as their reconnect backoff lets them, without re-pulling a snapshot.
    /// The Traffic Manager inside it starts with empty counters and pulls its policies again.
    /// [`restart_fresh`](Self::restart_fresh) starts it empty instead. A restarted
    /// `traffic-manager` serves again with the counters it had; gateways' decision followers
    /// reconnect on their own backoff (WSO2's: 10 s first).
    pub async fn restart(&mut self, name: &str) -> Result<(), BootError> {
        match self.member(name)? {
            MemberKind::Instance => {
                let endpoints = self.down.remove(name).ok_or_else(|| {
                    if self.node(name).is_some() {
                        BootError::AlreadyRunning(name.to_owned())
                    } else {
                        BootError::NotRunning(name.to_owned())
                    }
                })?;
                let instance = self
                    .topology
                    .instances
                    .iter()
                    .find(|i| i.name == name)
                    .cloned()
                    .ok_or_else(|| BootError::UnknownInstance(name.to_owned()))?;
                let mut listeners = Vec::new();
                for endpoint in &endpoints {
                    let what = endpoint.role.to_string();
                    // The kill closed its sockets before returning: no retry needed.
                    match bind(endpoint.addr.ip(), endpoint.addr.port(), name, &what).await {
                        Ok(listener) => listeners.push((endpoint.role, listener)),
                        Err(error) => {
                            self.down.insert(name.to_owned(), endpoints.clone());
                            return Err(error);
                        }
                    }
                }
                if let Err(error) = self
                    .start_bound(HeldInstance {
                        instance,
                        listeners,
                    })
                    .await
                {
                    self.down.insert(name.to_owned(), endpoints);
                    return Err(error);
                }
                // Its Traffic Manager is a new one, serving: undo a stop's cuts.
                if let Some(tm) = self.traffic_manager_of(name) {
                    self.reconnect_traffic_manager(&tm);
                }
            }
            MemberKind::LoadBalancer => {
                let position = self
                    .load_balancers
                    .iter()
                    .position(|l| l.spec.name == name)
                    .ok_or_else(|| BootError::UnknownInstance(name.to_owned()))?;
                if self.load_balancers[position].handle.is_some() {
                    return Err(BootError::AlreadyRunning(name.to_owned()));
                }
                let mut lb = self.load_balancers.remove(position);
                let bound = async {
                    let http =
                        bind(lb.http.ip(), lb.http.port(), name, "load balancer HTTP").await?;
                    let https =
                        bind(lb.https.ip(), lb.https.port(), name, "load balancer HTTPS").await?;
                    Ok::<_, BootError>((http, https))
                }
                .await;
                let started =
                    bound.and_then(|(http, https)| self.start_load_balancer(&mut lb, http, https));
                self.load_balancers.insert(position, lb);
                started?;
            }
            MemberKind::Backend => return Err(BootError::UnknownInstance(name.to_owned())),
            MemberKind::TrafficManager { control_plane: cp } => {
                let tm = self.traffic_manager_in(&cp)?;
                if tm.is_running() {
                    return Err(BootError::AlreadyRunning(name.to_owned()));
                }
                tm.restart();
                self.reconnect_traffic_manager(name);
            }
        }
        tracing::info!(member = name, "restarted");
        Ok(())
    }

    /// Freezes `name`'s network (a hang, not a crash) until [`resume`](Self::resume). Pausing
    /// a control-plane instance pauses the Traffic Manager inside it too (one process).
    pub fn pause(&self, name: &str) -> Result<(), BootError> {
        for member in self.pausable(name)? {
            self.plane.pause(&member);
        }
        Ok(())
    }

    pub fn resume(&self, name: &str) -> Result<(), BootError> {
        for member in self.pausable(name)? {
            self.plane.resume(&member);
        }
        Ok(())
    }

    /// The fault-plane names a pause of `name` freezes.
    fn pausable(&self, name: &str) -> Result<Vec<String>, BootError> {
        match self.member(name)? {
            MemberKind::Backend => Err(BootError::UnknownInstance(name.to_owned())),
            MemberKind::Instance => Ok(std::iter::once(name.to_owned())
                .chain(self.traffic_manager_of(name))
                .collect()),
            MemberKind::LoadBalancer | MemberKind::TrafficManager { .. } => {
                Ok(vec![name.to_owned()])
            }
        }
    }

    /// Cuts `a` and `b` apart (instances, load balancers, Traffic Managers, mock backends): new
    /// connections between them are refused, open ones reset. An instance is cut with the
    /// Traffic Manager inside it (one host); `traffic-manager` alone cuts only that.
    pub fn partition(&self, a: &str, b: &str) -> Result<(), BootError> {
        for (x, y) in self.cut_pairs(a, b)? {
            self.plane.partition(&x, &y);
        }
        Ok(())
    }

    /// Lets new connections between `a` and `b` through again.
    pub fn heal(&self, a: &str, b: &str) -> Result<(), BootError> {
        for (x, y) in self.cut_pairs(a, b)? {
            self.plane.heal(&x, &y);
        }
        Ok(())
    }

    /// The fault-plane pairs a partition of `a` and `b` cuts.
    fn cut_pairs(&self, a: &str, b: &str) -> Result<Vec<(String, String)>, BootError> {
        let side = |name: &str| -> Result<Vec<String>, BootError> {
            Ok(match self.member(name)? {
                MemberKind::Instance => std::iter::once(name.to_owned())
                    .chain(self.traffic_manager_of(name))
                    .collect(),
                _ => vec![name.to_owned()],
            })
        };
        let (left, right) = (side(a)?, side(b)?);
        Ok(left
            .iter()
            .flat_map(|x| right.iter().map(move |y| (x.clone(), y.clone())))
            .filter(|(x, y)| x != y)
            .collect())
    }

    /// Whether instance, load balancer or Traffic Manager `name` is running (not killed, not
    /// held).
    pub fn is_running(&self, name: &str) -> bool {
        if let Ok(MemberKind::TrafficManager { control_plane: cp }) = self.member(name) {
            return self
                .traffic_manager_in(&cp)
                .is_ok_and(tollgate_node::TrafficManagerHandle::is_running);
        }
        self.node(name).is_some()
            || self
                .load_balancers
                .iter()
                .any(|l| l.spec.name == name && l.handle.is_some())
    }

    /// A running load balancer.
    pub fn load_balancer(&self, name: &str) -> Option<&LoadBalancerHandle> {
        self.load_balancers
            .iter()
            .find(|l| l.spec.name == name)
            .and_then(|l| l.handle.as_ref())
    }

    /// A load balancer's front URL (`http://gw.wso2.com:8080`), by scheme: its first hostname,
    /// else `localhost`.
    pub fn load_balancer_url(&self, name: &str, https: bool) -> Option<String> {
        let lb = self.load_balancers.iter().find(|l| l.spec.name == name)?;
        Some(lb.spec.url(https))
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

    /// Instance `name`'s runtime home (WSO2's `<APIM_HOME>`), running or killed; it exists
    /// once the instance first starts, and lasts until the topology is dropped.
    pub fn home(&self, name: &str) -> Option<PathBuf> {
        self.topology
            .instances
            .iter()
            .any(|i| i.name == name)
            .then(|| self.homes.of(name))
    }

    /// Writes `content` to `relative` (a relative path without `..`) under instance `name`'s
    /// runtime home, creating folders: a file put on the node's disk, running or not.
    pub fn place_file(&self, name: &str, relative: &str, content: &[u8]) -> Result<(), String> {
        place_file(&self.home_path(name, relative)?, content)
    }

    /// The content of `relative` under instance `name`'s runtime home; `None` when there is
    /// no such file.
    pub fn read_file(&self, name: &str, relative: &str) -> Result<Option<Vec<u8>>, String> {
        read_file(&self.home_path(name, relative)?)
    }

    fn home_path(&self, name: &str, relative: &str) -> Result<PathBuf, String> {
        let home = self
            .home(name)
            .ok_or_else(|| format!("the topology has no instance `{name}`"))?;
        inside_home(&home, relative)
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
        for lb in self.load_balancers {
            if let Some(handle) = lb.handle {
                handle.shutdown().await;
            }
        }
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

/// `relative` (a relative path without `..`) under `home`.
pub(crate) fn inside_home(home: &Path, relative: &str) -> Result<PathBuf, String> {
    let relative = Path::new(relative);
    let inside = relative
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside || relative.as_os_str().is_empty() {
        return Err(format!(
            "`{}` is not a path inside the runtime home",
            relative.display()
        ));
    }
    Ok(home.join(relative))
}

/// Writes `content` to `path`, creating folders.
pub(crate) fn place_file(path: &Path, content: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, content).map_err(|e| format!("{}: {e}", path.display()))
}

/// The content of `path`; `None` when there is no such file.
pub(crate) fn read_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}
