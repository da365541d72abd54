//! The container driver: every instance and load balancer of a topology in its own Docker
//! container, on a private network, from an image built here `FROM scratch`.
//!
//! - **Networks.** One bridge network per topology, on a /24 the driver picks (retrying on
//!   overlap), holding the topology's hostnames (`gw.wso2.com`, `km.wso2.com`) as aliases, the
//!   mock backends on its host side and the ports published to the harness; and one network per
//!   pair of members, which is how they reach each other, so a partition cuts exactly one pair.
//!   Every member has a fixed address on each (`.10`, `.11`, … in topology order), so each
//!   member's host map is known before anything starts and survives restarts.
//! - **One host, many containers.** A topology whose instances share a host (`"localhost" =
//!   "*"`, the guide's offsets 0/1/2) keeps that view: every member is told, by `--route`,
//!   that `localhost:9443` is the control plane's container, `localhost:9444` the gateway's,
//!   and so on. The harness reaches the same `host:port`s through ports mapped on 127.0.0.1.
//! - **Backends** are the harness's mock backends, bound on the network's host side (`.1`):
//!   backend faults work as in-process.
//! - **Readiness** is the node's own `Ready.` line (printed once the start-up sync is done),
//!   read from the container's output as it comes: no polling, no sleeping.
//! - **Signals** come over HTTP long-polls: a gateway's `/_tollgate/sync` (events applied) and
//!   `/_tollgate/throttle` (decisions held), the control plane's `/_tollgate/control-plane`
//!   (events published; applied by its Traffic Manager).
//! - **Faults**: kill = `docker kill` (SIGKILL), restart = `docker start` (or stop + start for
//!   a running member), pause / resume = `docker pause` / `unpause` (a hang: the process is
//!   frozen, its sockets stay open), partition / heal = disconnect one side from the pair's
//!   network and reconnect it (packets go nowhere, as in a real partition). A killed control
//!   plane comes back with its state: its database is a file in the container's home
//!   ([`tollgate_control_plane::database`]). Skipped with the reason ([`Target::cannot`]):
//!   faulting its Traffic Manager alone (same process), cutting off a mock backend (in the
//!   harness).
//! - **Virtual time**: every node runs a test clock (`tollgate-node node --virtual-clock`) started
//!   at [`START_MILLIS`], as in-process; [`Target::set_clock`] moves it on each running node
//!   with `PUT` [`NODE_CLOCK`], a paused node is told on resume, and a killed one gets the time
//!   in its home's [`VIRTUAL_CLOCK_FILE`] before it restarts.
//!   [`ContainerDriver::with_system_clocks`] (`tollgate up`) leaves the nodes on the system
//!   clock and offers no virtual time.
//! - **Clean-up**: containers and the network are removed when the topology shuts down, when
//!   it is dropped (a failed or panicking scenario), and leftovers of a killed harness process
//!   are swept when the next driver starts (labels name the owner process).

mod engine;
mod image;

pub use engine::Engine;
pub use image::IMAGE_REPOSITORY;

use super::START_MILLIS;
use super::{
    DecisionView, Disk, Driver, DriverError, Faults, NotReached, Signals, Target, TargetError,
    VirtualClock,
};
use crate::backend::{self, BackendIdentity, RunningBackend};
use crate::client::Client;
use crate::topology::{HostTarget, LoadBalancerSpec, MemberKind, Topology};
use engine::ContainerSpec;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tollgate_net::security::DEFAULT_CERT_PEM;
use tollgate_net::{HostMap, Outbound};
use tollgate_node::PortRole;
use tollgate_node::run::VIRTUAL_CLOCK_FILE;
use tollgate_protocol::internal::{
    CONTROL_PLANE_SYNC, ClockReading, ControlPlaneSync, GATEWAY_SYNC, GATEWAY_THROTTLE, NODE_CLOCK,
    SyncStatus, ThrottleView,
};
use tollgate_protocol::{Clock, ManualClock, SystemClock};
use tollgate_scenario::Driver as DriverKind;

/// How long a member may take from `docker start` to its `Ready.` line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The line a node or load balancer prints once it is ready ([`tollgate_node::run`]).
const READY_LINE: &str = "Ready. Ctrl-C stops.";
/// Where the topology folder is mounted in every container.
const TOPOLOGY_MOUNT: &str = "/topology";
/// Each node's runtime home (WSO2's `<APIM_HOME>`) inside its container: on the container's
/// own file system, so it survives a kill and a restart as a server's disk does.
const HOME: &str = "/tollgate-home";

/// Boots topologies in Docker containers.
#[derive(Debug, Clone)]
pub struct ContainerDriver {
    engine: Engine,
    /// Nodes run test clocks the harness moves (scenarios); else the system clock (`up`).
    virtual_time: bool,
}

impl ContainerDriver {
    /// Connects to the local engine and sweeps what interrupted runs left behind.
    pub async fn connect() -> Result<Self, DriverError> {
        let engine = Engine::connect().await.map_err(DriverError::Unusable)?;
        match engine.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "swept leftovers of an interrupted run"),
            Err(error) => tracing::warn!(%error, "sweeping leftovers"),
        }
        Ok(Self {
            engine,
            virtual_time: true,
        })
    }

    /// Nodes on the system clock, as a deployment someone explores by hand (`tollgate up`)
    /// wants: tokens expire and throttling windows roll in real time. No `advance`.
    pub fn with_system_clocks(mut self) -> Self {
        self.virtual_time = false;
        self
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The image the containers run, built now if the engine lacks it.
    pub async fn image(&self) -> Result<String, DriverError> {
        image::ensure(&self.engine)
            .await
            .map_err(DriverError::Unusable)
    }
}

impl Driver for ContainerDriver {
    type Target = ContainerTarget;

    fn kind(&self) -> DriverKind {
        DriverKind::Container
    }

    async fn boot(&self, topology_dir: &Path, seed: u64) -> Result<ContainerTarget, DriverError> {
        let topology = super::load_topology(topology_dir)?;
        let boot_error = |message: String| DriverError::Boot {
            topology: topology.name.clone(),
            message,
        };
        let image = self.image().await?;
        let plan = Plan::new(&topology).map_err(boot_error)?;
        let run = format!(
            "tollgate-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let subnet = create_network(&self.engine, &run)
            .await
            .map_err(boot_error)?;
        let client = plan.harness_client(&topology, subnet).map_err(boot_error)?;
        let mut target = ContainerTarget {
            engine: self.engine.clone(),
            network: run,
            subnet,
            plan,
            links: BTreeMap::new(),
            cut: BTreeSet::new(),
            containers: Vec::new(),
            starts: BTreeMap::new(),
            backends: Vec::new(),
            client,
            shutdown: CancellationToken::new(),
            topology,
            cleaned: false,
            clock: self.virtual_time.then(|| ManualClock::new(START_MILLIS)),
            down: BTreeSet::new(),
            paused: BTreeSet::new(),
        };
        match target.start(&image, seed).await {
            Ok(()) => Ok(target),
            Err(message) => {
                target.clean_up().await;
                Err(DriverError::Boot {
                    topology: target.topology.name.clone(),
                    message,
                })
            }
        }
    }
}

/// Creates network `name` on a /24 no other network of the engine uses: candidates from
/// 172.29.0.0/16, spread by process id so parallel runs rarely meet; an overlap moves on.
async fn create_network(engine: &Engine, name: &str) -> Result<Ipv4Addr, String> {
    let start =
        (std::process::id() as usize * 7 + NEXT.fetch_add(1, Ordering::Relaxed) as usize) % 256;
    let mut last = String::new();
    for step in 0..64 {
        let third = ((start + step * 37) % 256) as u8;
        let subnet = Ipv4Addr::new(172, 29, third, 0);
        match engine.create_network(name, subnet).await {
            Ok(()) => return Ok(subnet),
            Err(error) if error.contains("overlap") => last = error,
            Err(error) => return Err(error),
        }
    }
    Err(format!(
        "no free /24 in 172.29.0.0/16 for the topology's network: {last}"
    ))
}

/// The network two members talk over.
#[derive(Debug, Clone)]
struct Link {
    network: String,
    subnet: Ipv4Addr,
}

/// The pair key of members `a` and `b`.
fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

/// A free port on 127.0.0.1 for Docker to publish a container port on.
///
/// Taken below the kernel's ephemeral range (32768 and up on Linux), one after another from a
/// start drawn from the process id: a port from `bind(0)` is free again the moment it is
/// checked, and the kernel handed the same port to a topology booting alongside before Docker
/// bound it (Docker: "port is already allocated"). Counting keeps this process's topologies
/// apart, and a killed container's port to itself until it restarts.
fn host_port() -> Result<u16, String> {
    const LOW: u32 = 10_000;
    const SPAN: u32 = 22_000;
    static NEXT: std::sync::OnceLock<AtomicU32> = std::sync::OnceLock::new();
    let next = NEXT.get_or_init(|| AtomicU32::new(std::process::id().wrapping_mul(7_919) % SPAN));
    for _ in 0..SPAN {
        let port = u16::try_from(LOW + next.fetch_add(1, Ordering::Relaxed) % SPAN)
            .map_err(|e| format!("choosing a host port: {e}"))?;
        if std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err("choosing a host port: none free between 10000 and 32000".into())
}

/// Where mock backends listen: the network's host side, their own port.
fn backend_address(subnet: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(engine::gateway_of(subnet)), port)
}

/// Something that runs in a container: an instance or a load balancer.
#[derive(Debug, Clone)]
struct Member {
    name: String,
    /// Ports it listens on (inside its container).
    ports: Vec<u16>,
    /// Hostnames that name it alone (network aliases, `--host` entries).
    hosts: Vec<String>,
    /// The container's command, before `--address`, `--seed` and the network arguments.
    args: Vec<String>,
    /// A node (takes `--seed`), not a load balancer.
    node: bool,
    /// Host port on 127.0.0.1 per container port.
    mapped: BTreeMap<u16, u16>,
}

/// `tollgate-node load-balancer`'s arguments for `lb`: its ports and the gateways it fronts,
/// by the names and ports the topology gives them (the routes lead them to the containers).
fn load_balancer_args(topology: &Topology, lb: &LoadBalancerSpec) -> Result<Vec<String>, String> {
    let mut args = vec![
        "load-balancer".to_owned(),
        "--name".to_owned(),
        lb.name.clone(),
        "--http".to_owned(),
        lb.http.to_string(),
        "--https".to_owned(),
        lb.https.to_string(),
    ];
    for gateway in crate::topology::gateway_nodes(&topology.instances, lb)? {
        args.push("--gateway".to_owned());
        args.push(tollgate_node::run::gateway_arg(&gateway));
    }
    Ok(args)
}

/// Who runs where, decided before anything starts.
#[derive(Debug, Clone)]
struct Plan {
    members: Vec<Member>,
    /// Hostnames every member shares (`localhost` and `"*"` entries of `[hosts]`).
    shared_hosts: Vec<String>,
}

impl Plan {
    fn new(topology: &Topology) -> Result<Self, String> {
        let mut shared_hosts = vec!["localhost".to_owned()];
        let mut own: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (host, target) in &topology.hosts {
            match target {
                HostTarget::All => {
                    if !shared_hosts.contains(host) {
                        shared_hosts.push(host.clone());
                    }
                }
                HostTarget::Instance(name) => own.entry(name).or_default().push(host.clone()),
            }
        }
        let mut members = Vec::new();
        for instance in &topology.instances {
            let relative = instance
                .file
                .strip_prefix(&topology.root)
                .map_err(|_| format!("{} is outside the topology", instance.file.display()))?;
            let config = Path::new(TOPOLOGY_MOUNT).join(relative);
            members.push(Member {
                name: instance.name.clone(),
                ports: instance.ports.iter().map(|(_, p)| *p).collect(),
                hosts: own.remove(instance.name.as_str()).unwrap_or_default(),
                args: vec![
                    "node".into(),
                    "--config".into(),
                    config.display().to_string(),
                    "--name".into(),
                    instance.name.clone(),
                    "--home".into(),
                    HOME.into(),
                ],
                node: true,
                mapped: BTreeMap::new(),
            });
        }
        for lb in &topology.load_balancers {
            members.push(Member {
                name: lb.name.clone(),
                ports: vec![lb.http, lb.https],
                hosts: lb.hosts.clone(),
                args: load_balancer_args(topology, lb)?,
                node: false,
                mapped: BTreeMap::new(),
            });
        }
        // Host ports for every member's ports, chosen now so a restart keeps them.
        for member in &mut members {
            for &port in &member.ports {
                member.mapped.insert(port, host_port()?);
            }
        }
        Ok(Self {
            members,
            shared_hosts,
        })
    }

    /// The harness's view: the topology's names and ports, through the mapped ports.
    fn harness_client(&self, topology: &Topology, subnet: Ipv4Addr) -> Result<Client, String> {
        let mut map = HostMap::new();
        let routes = self.routes(|index, port| {
            let mapped = self.members[index]
                .mapped
                .get(&port)
                .copied()
                .unwrap_or(port);
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), mapped)
        });
        for (host, port, to) in routes {
            map.insert_route(host, port, to);
        }
        for spec in &topology.backends {
            map.insert_route(
                spec.host.clone(),
                spec.port,
                backend_address(subnet, spec.port),
            );
        }
        let outbound = Outbound::new(map, &[DEFAULT_CERT_PEM]).map_err(|e| e.to_string())?;
        Ok(Client::new(&outbound))
    }

    /// `--route` and `--host` arguments of member `viewer`: the same names and ports, at the
    /// address `at(member)` where the viewer reaches each member.
    fn member_network_args(
        &self,
        topology: &Topology,
        subnet: Ipv4Addr,
        at: impl Fn(usize) -> Ipv4Addr,
    ) -> Vec<String> {
        let mut args = Vec::new();
        let inside = self.routes(|index, port| SocketAddr::new(IpAddr::V4(at(index)), port));
        let backends = topology
            .backends
            .iter()
            .map(|b| (b.host.clone(), b.port, backend_address(subnet, b.port)));
        for (host, port, to) in inside.into_iter().chain(backends) {
            args.push("--route".to_owned());
            args.push(format!("{host}:{port}={to}"));
        }
        for (index, member) in self.members.iter().enumerate() {
            for host in &member.hosts {
                args.push("--host".to_owned());
                args.push(format!("{host}={}", at(index)));
            }
        }
        args
    }

    fn ip(subnet: Ipv4Addr, index: usize) -> Ipv4Addr {
        let [a, b, c, _] = subnet.octets();
        Ipv4Addr::new(a, b, c, 10 + index as u8)
    }

    /// `(host, port)` → where it is, for every name and port of the topology: `at(index, port)`
    /// says where member `index`'s port is reached from the viewer's side.
    fn routes(&self, at: impl Fn(usize, u16) -> SocketAddr) -> Vec<(String, u16, SocketAddr)> {
        let mut routes = Vec::new();
        for (index, member) in self.members.iter().enumerate() {
            for &port in &member.ports {
                for host in self.shared_hosts.iter().chain(&member.hosts) {
                    routes.push((host.clone(), port, at(index, port)));
                }
            }
        }
        routes
    }
}

/// A topology booted by [`ContainerDriver`].
#[derive(Debug)]
pub struct ContainerTarget {
    pub topology: Topology,
    engine: Engine,
    network: String,
    subnet: Ipv4Addr,
    plan: Plan,
    /// One network per pair of members (indices in plan order, smaller first): how they reach
    /// each other, so a partition can cut one pair and no other.
    links: BTreeMap<(usize, usize), Link>,
    /// Pairs currently partitioned.
    cut: BTreeSet<(usize, usize)>,
    /// Container names, by member name, in start order.
    containers: Vec<(String, String)>,
    /// How many times each container was started (its n-th `Ready.` line is awaited).
    starts: BTreeMap<String, usize>,
    backends: Vec<RunningBackend>,
    client: Client,
    shutdown: CancellationToken,
    cleaned: bool,
    /// The topology's time: every node runs a test clock (`--virtual-clock`) kept at it.
    /// `None`: the nodes run on the system clock.
    clock: Option<ManualClock>,
    /// Members killed and not restarted: a restart hands them the time in a file.
    down: BTreeSet<String>,
    /// Members paused: a resume tells them the time.
    paused: BTreeSet<String>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl ContainerTarget {
    /// Starts the backends, then every member in order, each awaited until ready.
    async fn start(&mut self, image: &str, seed: u64) -> Result<(), String> {
        for spec in &self.topology.backends {
            let at = backend_address(self.subnet, spec.port);
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .map_err(|e| format!("binding backend `{}` on {at}: {e}", spec.name))?;
            let identity = BackendIdentity {
                name: spec.name.clone(),
                endpoint: spec.endpoint.clone(),
            };
            let running = backend::spawn(
                identity,
                listener,
                // The nodes' test clocks live in their containers: the backend keeps real time.
                std::sync::Arc::new(tollgate_protocol::SystemClock),
                self.shutdown.clone(),
            )
            .map_err(|e| format!("backend `{}`: {e}", spec.name))?;
            self.backends.push(running);
        }
        let subnet = self.subnet;
        let run = self.network.clone();
        let count = self.plan.members.len();
        for a in 0..count {
            for b in a + 1..count {
                let network = format!("{run}-{a}-{b}");
                let subnet = create_network(&self.engine, &network).await?;
                self.links.insert((a, b), Link { network, subnet });
            }
        }
        let root = std::fs::canonicalize(&self.topology.root)
            .map_err(|e| format!("{}: {e}", self.topology.root.display()))?;
        for (index, member) in self.plan.members.iter().enumerate() {
            let container = format!("{run}-{}", member.name);
            let mut args = member.args.clone();
            args.extend(["--address".to_owned(), "0.0.0.0".to_owned()]);
            if member.node {
                args.extend(["--seed".to_owned(), seed.to_string()]);
                if let Some(clock) = &self.clock {
                    let start = clock.now_millis().to_string();
                    args.extend(["--virtual-clock".to_owned(), start]);
                }
            }
            let links = &self.links;
            args.extend(
                self.plan
                    .member_network_args(&self.topology, subnet, |other| {
                        match links.get(&pair(index, other)) {
                            Some(link) if other != index => Plan::ip(link.subnet, other),
                            _ => Plan::ip(subnet, index),
                        }
                    }),
            );
            let spec = ContainerSpec {
                name: container.clone(),
                image: image.to_owned(),
                args,
                network: self.network.clone(),
                ip: Plan::ip(subnet, index),
                aliases: member.hosts.clone(),
                ports: member.mapped.iter().map(|(i, o)| (*i, *o)).collect(),
                mounts: vec![(root.display().to_string(), TOPOLOGY_MOUNT.to_owned())],
            };
            self.engine.create_container(&spec).await?;
            self.containers
                .push((member.name.clone(), container.clone()));
            for (&(a, b), link) in &self.links {
                if a == index || b == index {
                    let ip = Plan::ip(link.subnet, index);
                    self.engine
                        .reconnect(&link.network, &container, ip, &[])
                        .await?;
                }
            }
            self.engine.start(&container).await?;
            self.starts.insert(member.name.clone(), 1);
            self.engine
                .await_line(&container, READY_LINE, 1, READY_TIMEOUT)
                .await?;
        }
        Ok(())
    }

    /// The link between members `a` and `b`, the container of `a` (the side that is
    /// disconnected from it) and `a`'s address on it.
    fn link(&self, a: &str, b: &str) -> Result<((usize, usize), String, Ipv4Addr), String> {
        let index = |name: &str| {
            self.plan
                .members
                .iter()
                .position(|m| m.name == name)
                .ok_or_else(|| format!("the topology has no member `{name}`"))
        };
        let (i, j) = (index(a)?, index(b)?);
        if i == j {
            return Err(format!("`{a}` cannot be partitioned from itself"));
        }
        let key = pair(i, j);
        let link = self
            .links
            .get(&key)
            .ok_or_else(|| format!("no network between `{a}` and `{b}`"))?;
        Ok((key, self.container(a)?.to_owned(), Plan::ip(link.subnet, i)))
    }

    /// What `tollgate up --driver container` prints: each member's container, address on the
    /// network, and the URLs the harness reaches it by.
    pub fn describe(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "Topology `{}` in Docker containers on network {} ({}/24)\n",
            self.topology.name, self.network, self.subnet
        );
        for (index, member) in self.plan.members.iter().enumerate() {
            let container = self
                .containers
                .iter()
                .find(|(m, _)| *m == member.name)
                .map_or("", |(_, c)| c.as_str());
            let _ = writeln!(
                out,
                "\n{} (container {container}, {})",
                member.name,
                Plan::ip(self.subnet, index)
            );
            if !member.hosts.is_empty() {
                let _ = writeln!(out, "  {:<14}: {}", "hostnames", member.hosts.join(", "));
            }
            for (inside, outside) in &member.mapped {
                let _ = writeln!(out, "  port {inside:<9}: 127.0.0.1:{outside}");
            }
        }
        for backend in &self.backends {
            let _ = writeln!(
                out,
                "\nmock backend {} ({}): {}",
                backend.identity.name, backend.identity.endpoint, backend.local_addr
            );
        }
        out.push_str("\nReady. Ctrl-C stops and removes the containers.\n");
        out
    }

    fn container(&self, member: &str) -> Result<&str, String> {
        if let Some((_, c)) = self.containers.iter().find(|(m, _)| m == member) {
            return Ok(c);
        }
        match self.topology.member(member).map(|m| m.kind) {
            Some(MemberKind::TrafficManager { control_plane }) => Err(format!(
                "the Traffic Manager runs inside the control plane's container: fault `{control_plane}` instead"
            )),
            _ => Err(format!("the topology has no member `{member}`")),
        }
    }

    fn url(&self, instance: &str, role: PortRole) -> Option<String> {
        let port = self.topology.instance(instance)?.port(role)?;
        Some(format!("{}://localhost:{port}", role.scheme()))
    }

    async fn control_plane_sync(
        &self,
        seq: Option<u64>,
        timeout: Duration,
    ) -> Result<ControlPlaneSync, String> {
        let base = self
            .control_plane_url()
            .ok_or_else(|| "the topology has no control plane".to_owned())?;
        let mut url = format!("{base}{CONTROL_PLANE_SYNC}");
        if let Some(seq) = seq {
            url.push_str(&format!("?seq={seq}&timeoutMs={}", timeout.as_millis()));
        }
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status;
        let body: ControlPlaneSync = response.json().map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!(
                "the Traffic Manager applied event {} of {}",
                body.traffic_manager_seq.unwrap_or_default(),
                seq.unwrap_or_default()
            ))
        }
    }

    /// Moves node `name`'s test clock to the topology's time ([`NODE_CLOCK`]).
    async fn tell_time(&self, name: &str) -> Result<(), String> {
        let Some(base) = self.management_url(name) else {
            return Err(format!("no node named `{name}`"));
        };
        let to = self.now_millis();
        let response = self
            .client
            .put(format!("{base}{NODE_CLOCK}"))
            .json(&serde_json::json!(ClockReading { now_millis: to }))
            .send()
            .await
            .map_err(|e| format!("`{name}` does not answer: {e}"))?;
        let reading: ClockReading = response
            .json()
            .map_err(|e| format!("`{name}` answered {}: {e}", response.status))?;
        if reading.now_millis == to {
            Ok(())
        } else {
            Err(format!(
                "`{name}`'s clock reads {} after the move to {to}",
                reading.now_millis
            ))
        }
    }

    async fn gateway_sync(
        &self,
        gateway: &str,
        seq: u64,
        timeout: Duration,
    ) -> Result<SyncStatus, NotReached> {
        let Some(base) = self.management_url(gateway) else {
            return Err(NotReached {
                last_seen: format!("no gateway named `{gateway}`"),
            });
        };
        let url = format!(
            "{base}{GATEWAY_SYNC}?seq={seq}&timeoutMs={}",
            timeout.as_millis()
        );
        let response = self.client.get(&url).send().await.map_err(|e| NotReached {
            last_seen: format!("`{gateway}` does not answer: {e}"),
        })?;
        let status = response.status;
        let body: SyncStatus = response.json().map_err(|e| NotReached {
            last_seen: e.to_string(),
        })?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(NotReached {
                last_seen: format!("`{gateway}` applied event {} of {seq}", body.applied_seq),
            })
        }
    }

    /// Removes every container and the network; stops the backends. Idempotent.
    async fn clean_up(&mut self) {
        if self.cleaned {
            return;
        }
        self.cleaned = true;
        self.shutdown.cancel();
        for (_, container) in self.containers.iter().rev() {
            self.engine.remove_container(container).await;
        }
        for link in self.links.values() {
            self.engine.remove_network(&link.network).await;
        }
        if !self.network.is_empty() {
            self.engine.remove_network(&self.network).await;
        }
        for backend in self.backends.drain(..) {
            backend.shutdown().await;
        }
    }
}

impl Drop for ContainerTarget {
    /// A scenario that panicked or returned early still removes its containers: on a thread of
    /// its own, since a runtime cannot be blocked on from inside itself.
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let engine = self.engine.clone();
        let containers: Vec<String> = self.containers.iter().map(|(_, c)| c.clone()).collect();
        let mut networks: Vec<String> = self.links.values().map(|l| l.network.clone()).collect();
        networks.push(self.network.clone());
        self.shutdown.cancel();
        let cleaning = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                for container in containers.iter().rev() {
                    engine.remove_container(container).await;
                }
                for network in networks.iter().filter(|n| !n.is_empty()) {
                    engine.remove_network(network).await;
                }
            });
        });
        let _ = cleaning.join();
    }
}

impl Target for ContainerTarget {
    fn client(&self) -> Client {
        self.client.clone()
    }

    fn control_plane_url(&self) -> Option<String> {
        let cp = self.topology.control_planes().next()?;
        self.url(&cp.name, PortRole::MgmtHttps)
    }

    fn management_url(&self, instance: &str) -> Option<String> {
        self.url(instance, PortRole::MgmtHttps)
    }

    fn gateway_url(&self, instance: &str, https: bool) -> Option<String> {
        let role = if https {
            PortRole::PassthruHttps
        } else {
            PortRole::PassthruHttp
        };
        self.url(instance, role)
            .or_else(|| Some(self.topology.load_balancer(instance)?.url(https)))
    }

    fn backend_url(&self, backend: &str) -> Option<String> {
        self.topology.backend(backend).map(|b| b.url.clone())
    }

    fn gateway_names(&self) -> Vec<String> {
        self.topology
            .instances
            .iter()
            .filter(|i| i.role().runs_gateway())
            .map(|i| i.name.clone())
            .collect()
    }

    fn gateways_of(&self, environment: &str) -> Vec<String> {
        self.topology.gateways_of(environment)
    }

    fn now_millis(&self) -> i64 {
        match &self.clock {
            Some(clock) => clock.now_millis(),
            None => SystemClock.now_millis(),
        }
    }

    fn location(&self) -> String {
        format!("Docker network {} ({}/24)", self.network, self.subnet)
    }

    async fn shutdown(mut self) {
        self.clean_up().await;
    }
    /// Only with virtual time (`with_system_clocks` leaves the nodes on theirs: no `advance`).
    fn signals(&self) -> Option<&impl Signals> {
        Some(self)
    }

    fn clock(&mut self) -> Option<&mut impl VirtualClock> {
        self.clock.is_some().then_some(self)
    }

    /// Kills, restarts, pauses and partitions go through the engine.
    fn faults(&mut self) -> Option<&mut impl Faults> {
        Some(self)
    }

    fn disk(&mut self) -> Option<&mut impl Disk> {
        Some(self)
    }

    fn decisions(&self) -> Option<&impl DecisionView> {
        Some(self)
    }
}

impl Signals for ContainerTarget {
    async fn event_seq(&self) -> u64 {
        match self.control_plane_sync(None, Duration::ZERO).await {
            Ok(sync) => sync.event_seq,
            Err(error) => {
                tracing::warn!(%error, "reading the control plane's event sequence");
                0
            }
        }
    }

    async fn wait_for_seq(
        &self,
        gateway: &str,
        seq: u64,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        self.gateway_sync(gateway, seq, timeout).await.map(|_| ())
    }

    async fn wait_for_revision(
        &self,
        gateway: &str,
        api_id: &str,
        revision_id: &str,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        // The deployment is an event of the control plane's: once the gateway has applied the
        // latest one, it serves the revision or never will without another change.
        let seq = self.event_seq().await;
        let status = self.gateway_sync(gateway, seq, timeout).await?;
        match status.apis.get(api_id) {
            Some(r) if r == revision_id => Ok(()),
            Some(r) => Err(NotReached {
                last_seen: format!("`{gateway}` serves revision id {r} of the API"),
            }),
            None => Err(NotReached {
                last_seen: format!("`{gateway}` does not serve the API"),
            }),
        }
    }

    async fn wait_for_traffic_managers(
        &self,
        seq: u64,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        self.control_plane_sync(Some(seq), timeout)
            .await
            .map(|_| ())
            .map_err(|last_seen| NotReached { last_seen })
    }
}

impl VirtualClock for ContainerTarget {
    async fn move_to(&mut self, millis: i64) -> Result<(), TargetError> {
        let Some(clock) = &self.clock else {
            // `clock()` hands this out only with virtual time.
            return Err(TargetError::Failed(
                "the nodes run on the system clock".into(),
            ));
        };
        clock.move_to(millis);
        let nodes: Vec<String> = self
            .topology
            .instances
            .iter()
            .map(|i| i.name.clone())
            .filter(|name| !self.down.contains(name) && !self.paused.contains(name))
            .collect();
        for node in nodes {
            self.tell_time(&node).await.map_err(TargetError::Failed)?;
        }
        Ok(())
    }

    /// The Traffic Managers roll their windows by their own clocks.
    fn roll_traffic_managers(&self) {}
}

impl Faults for ContainerTarget {
    fn cannot(&self, fault: &tollgate_scenario::Fault) -> Option<String> {
        use tollgate_scenario::Fault;
        let is_traffic_manager = |name: &str| {
            self.topology
                .member(name)
                .is_some_and(|m| matches!(m.kind, MemberKind::TrafficManager { .. }))
        };
        if let Fault::Partition(a, b) | Fault::Heal(a, b) = fault
            && (is_traffic_manager(a) || is_traffic_manager(b))
        {
            return Some("the Traffic Manager shares the control plane's container: it cannot be cut off on its own".into());
        }
        if let Fault::Partition(a, b) | Fault::Heal(a, b) = fault
            && let Some(backend) = [a, b]
                .into_iter()
                .find(|n| self.topology.backend(n).is_some())
        {
            return Some(format!(
                "mock backend `{backend}` runs in the harness, outside the topology's networks: it cannot be cut off"
            ));
        }
        // A control plane's kill and restart work: its database is a file in the container's
        // home, which outlives the process as WSO2's `WSO2AM_DB` does.
        match fault {
            Fault::Kill(name) | Fault::Restart(name) if is_traffic_manager(name) => Some(
                "the Traffic Manager runs inside the control plane's process: it cannot be killed on its own".into(),
            ),
            _ => None,
        }
    }

    async fn inject(&mut self, fault: &tollgate_scenario::Fault) -> Result<(), TargetError> {
        self.inject_fault(fault).await.map_err(TargetError::Failed)
    }
}

impl ContainerTarget {
    /// The fault, its errors as the engine words them.
    async fn inject_fault(&mut self, fault: &tollgate_scenario::Fault) -> Result<(), String> {
        use tollgate_scenario::Fault;
        match fault {
            Fault::Kill(name) => {
                let container = self.container(name)?.to_owned();
                self.engine.kill(&container).await?;
                self.down.insert(name.clone());
                Ok(())
            }
            Fault::Restart(name) => {
                let container = self.container(name)?.to_owned();
                if self.engine.is_running(&container).await {
                    self.engine.stop(&container).await?;
                }
                if let (Some(clock), Some(_)) = (&self.clock, self.topology.instance(name)) {
                    // It starts at the topology's time, however far that moved while it was down.
                    let now = clock.now_millis().to_string();
                    self.engine
                        .put_file(&container, HOME, VIRTUAL_CLOCK_FILE, now.as_bytes())
                        .await?;
                }
                self.down.remove(name);
                self.paused.remove(name);
                self.engine.start(&container).await?;
                let starts = self.starts.entry(name.clone()).or_insert(0);
                *starts += 1;
                let count = *starts;
                self.engine
                    .await_line(&container, READY_LINE, count, READY_TIMEOUT)
                    .await
            }
            Fault::Pause(name) => {
                let container = self.container(name)?.to_owned();
                self.engine.pause(&container).await?;
                self.paused.insert(name.clone());
                Ok(())
            }
            Fault::Resume(name) => {
                let container = self.container(name)?.to_owned();
                self.engine.unpause(&container).await?;
                if self.paused.remove(name)
                    && self.clock.is_some()
                    && self.topology.instance(name).is_some()
                {
                    self.tell_time(name).await?;
                }
                Ok(())
            }
            Fault::Partition(a, b) => {
                let (link, container, _) = self.link(a, b)?;
                if self.cut.insert(link) {
                    let network = self.links[&link].network.clone();
                    self.engine.disconnect(&network, &container).await?;
                }
                Ok(())
            }
            Fault::Heal(a, b) => {
                let (link, container, ip) = self.link(a, b)?;
                if self.cut.remove(&link) {
                    let network = self.links[&link].network.clone();
                    self.engine.reconnect(&network, &container, ip, &[]).await?;
                }
                Ok(())
            }
            Fault::Backend { backend, change } => self
                .backends
                .iter()
                .find(|b| b.identity.name == *backend)
                .ok_or_else(|| format!("the topology has no mock backend `{backend}`"))?
                .control
                .apply(change),
        }
    }
}

impl Disk for ContainerTarget {
    async fn place_file(
        &mut self,
        instance: &str,
        relative_path: &str,
        content: Vec<u8>,
    ) -> Result<(), TargetError> {
        let container = self
            .container(instance)
            .map_err(TargetError::Failed)?
            .to_owned();
        self.engine
            .put_file(&container, HOME, relative_path, &content)
            .await
            .map_err(TargetError::Failed)
    }

    async fn read_file(
        &self,
        instance: &str,
        relative_path: &str,
    ) -> Result<Option<Vec<u8>>, TargetError> {
        let container = self.container(instance).map_err(TargetError::Failed)?;
        self.engine
            .get_file(container, &format!("{HOME}/{relative_path}"))
            .await
            .map_err(TargetError::Failed)
    }
}

impl DecisionView for ContainerTarget {
    async fn wait_for_throttle(
        &self,
        gateway: &str,
        key: &str,
        throttled: bool,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        let Some(base) = self.management_url(gateway) else {
            return Err(NotReached {
                last_seen: format!("no gateway named `{gateway}`"),
            });
        };
        let query = serde_urlencoded::to_string([
            ("key", key.to_owned()),
            ("throttled", throttled.to_string()),
            ("timeoutMs", timeout.as_millis().to_string()),
        ])
        .map_err(|e| NotReached {
            last_seen: e.to_string(),
        })?;
        let url = format!("{base}{GATEWAY_THROTTLE}?{query}");
        let response = self.client.get(&url).send().await.map_err(|e| NotReached {
            last_seen: format!("`{gateway}` does not answer: {e}"),
        })?;
        if response.status.is_success() {
            return Ok(());
        }
        let view: Option<ThrottleView> = response.json().ok();
        Err(NotReached {
            last_seen: match view {
                Some(v) => format!(
                    "`{gateway}` {} `{key}` ({} decisions applied, {})",
                    if throttled {
                        "holds no decision throttling"
                    } else {
                        "still holds a decision throttling"
                    },
                    v.decisions,
                    if v.connected {
                        "connected to its Traffic Manager"
                    } else {
                        "not connected to a Traffic Manager"
                    }
                ),
                None => format!("`{gateway}` follows no Traffic Manager"),
            },
        })
    }
}
