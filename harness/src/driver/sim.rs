//! The simulated driver: a topology inside a [turmoil] simulation, seeded by the run's seed.
//!
//! Every instance (control plane, gateway), mock backend and load balancer is a turmoil host:
//! its own current-thread tokio runtime with paused time, its listeners `turmoil::net`
//! listeners on the ports the topology gives it, its outbound connections dialed over turmoil's
//! network ([`tollgate_net::Outbound::simulated`]). The nodes run their real code; only the
//! sockets and the timer are simulated. The scenario runner is a turmoil client host
//! ([`RUNNER_HOST`]) whose HTTP client dials through turmoil too, so one thread runs the whole
//! scenario and the same seed gives the same interleaving, message latencies and bytes.
//!
//! Names resolve as in-process, where every instance shares one address: each hostname of the
//! topology (`localhost`, `gw.wso2.com`, backends' and load balancers' names) with a port is
//! routed to the host that listens on that port.
//!
//! Time: every host's tokio clock is turmoil's (timeouts, intervals, reconnect backoffs, hyper's
//! timers), advancing one tick per simulation step; the nodes' wall clock is the run's
//! [`ManualClock`], which starts at [`START_MILLIS`] and moves only by `advance` steps, as
//! in-process. Moving it ([`VirtualClock`]) also lets that much simulated time pass, so every
//! timer in the topology sees the minute go by — at no wall-clock cost.
//!
//! Each control plane's Traffic Manager is a host of its own, named as the member
//! (`traffic-manager`), started after its control plane with the control plane's handle in
//! memory ([`tollgate_node::start_traffic_manager`]; its policy feed is a watch channel, and one
//! thread runs every host's runtime) and serving the control plane's TM ports, which the names
//! route to it. So a fault can hit the Traffic Manager alone, as in-process.
//!
//! Faults from inside the simulation: kill and restart through each host's own command loop
//! (the node's shutdown, then a start on the same host and ports; a control plane's Traffic
//! Manager host stops before it and starts after it, as one process); partitions and heals are
//! `turmoil::partition` / `repair` between hosts; pause and resume hold and release every link
//! of the host (packets wait, nothing is lost). A fault on a control-plane instance applies to
//! its Traffic Manager's host too, one on `traffic-manager` to that host alone.

use super::{
    DecisionView, Disk, Driver, DriverError, Faults, NotReached, Signals, Target, TargetError,
    VirtualClock,
};
use crate::backend::{self, BackendControl, BackendIdentity};
use crate::client::Client;
use crate::inproc::{READY_TIMEOUT, RuntimeHomes};
use crate::report::{Outcome, RunReport, ScenarioReport};
use crate::runner::{self, Record};
use crate::topology::{MemberKind, Topology};
use crate::transcript::TapSlot;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tollgate_control_plane::ControlPlane;
use tollgate_load_balancer::{LoadBalancerConfig, LoadBalancerHandle};
use tollgate_net::security::{self, Crypto};
use tollgate_net::{HostMap, Listener, Outbound};
use tollgate_node::TrafficManager;
use tollgate_node::{
    NodeHandle, NodeListeners, NodeResources, PortRole, TrafficManagerHandle,
    TrafficManagerPlacement,
};
use tollgate_protocol::{Clock, ManualClock, SharedClock};
use tollgate_scenario::{Driver as DriverKind, Scenario};

pub use super::inproc::START_MILLIS;

mod wire;
pub use wire::{WireLog, WireSummary};

/// The scenario runner's host name in the simulation.
pub const RUNNER_HOST: &str = "tollgate-runner";

/// How much simulated time one run may take before turmoil gives up: far beyond any scenario
/// (the longest `advance` is minutes), only a bound on a hang.
const SIMULATION_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// The simulated network's settings; latencies are drawn per message from the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimNetwork {
    /// Simulated time per step.
    pub tick: Duration,
    pub min_latency: Duration,
    pub max_latency: Duration,
}

impl Default for SimNetwork {
    /// 1 ms steps; 0–10 ms per message (turmoil's exponential curve, mostly near 0).
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(1),
            min_latency: Duration::ZERO,
            max_latency: Duration::from_millis(10),
        }
    }
}

/// Runs each scenario in a simulation of its own (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct SimDriver {
    network: SimNetwork,
    /// Test-only: seed the network from the process, not the run (see [`Self::unseeded_canary`]).
    unseeded: bool,
    /// Test-only: TLS from the system, not the run (see [`Self::system_tls_canary`]).
    system_tls: bool,
    /// Test-only: what the listeners carry (see [`Self::record_wire`]).
    wire: Option<WireLog>,
}

impl SimDriver {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_network(network: SimNetwork) -> Self {
        Self {
            network,
            ..Self::default()
        }
    }

    /// A deliberately broken driver for the determinism check's own test: the simulation's
    /// network (latencies, the order in which hosts see messages) is seeded from the process's
    /// hash-map keys instead of the run's seed, the class of leak the check exists to catch.
    /// Not reachable from the command line.
    #[doc(hidden)]
    pub fn unseeded_canary(mut self) -> Self {
        self.unseeded = true;
        self
    }

    /// A deliberately broken driver for the wire's own test: every host's TLS draws from the
    /// system, as rustls's ring provider does, instead of from the run's seed. Not reachable
    /// from the command line.
    #[doc(hidden)]
    pub fn system_tls_canary(mut self) -> Self {
        self.system_tls = true;
        self
    }

    /// Records into `log` every byte the nodes' and load balancers' listeners read and write,
    /// for the tests of what the simulated wire carries. Not reachable from the command line.
    #[doc(hidden)]
    pub fn record_wire(mut self, log: WireLog) -> Self {
        self.wire = Some(log);
        self
    }

    /// The seed turmoil draws from: the run's, unless this is the canary.
    fn network_seed(&self, seed: u64) -> u64 {
        if !self.unseeded {
            return seed;
        }
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(seed);
        hasher.finish()
    }

    pub fn network(&self) -> SimNetwork {
        self.network
    }

    /// Runs `scenario` with `seed` in a fresh simulation on this thread, until the runner's host
    /// is done; blocking (call it from a thread of its own, as [`run_all`](Self::run_all)
    /// does). Never panics: what went wrong is in the report.
    pub fn run_scenario(&self, scenario: &Scenario, seed: u64, record: Record) -> ScenarioReport {
        let mut sim = turmoil::Builder::new()
            .rng_seed(self.network_seed(seed))
            .epoch(UNIX_EPOCH + Duration::from_millis(START_MILLIS.unsigned_abs()))
            .simulation_duration(SIMULATION_LIMIT)
            .tick_duration(self.network.tick)
            .min_message_latency(self.network.min_latency)
            .max_message_latency(self.network.max_latency)
            .build();
        let clock = Arc::new(ManualClock::new(START_MILLIS));
        // The runner prepares the topology again inside the simulation (an identical copy);
        // this one must outlive the hosts, which read their keystores from it.
        let prepared = runner::prepared_topology(scenario);
        let world = match &prepared {
            Ok(prepared) => match Topology::load(&prepared.dir) {
                Ok(topology) => build(&mut sim, topology, seed, clock.clone(), record, self),
                Err(errors) => Err(DriverError::Topology {
                    path: prepared.dir.display().to_string(),
                    errors: errors.to_string(),
                }),
            },
            // The runner reports it, before it boots anything.
            Err(message) => Err(DriverError::Unusable(message.clone())),
        };
        let boot = SimBoot {
            world: Mutex::new(Some(world)),
        };
        let report: Arc<Mutex<Option<ScenarioReport>>> = Arc::default();
        let out = report.clone();
        let owned = scenario.clone();
        sim.client(RUNNER_HOST, async move {
            let done = runner::run_scenario_with(&boot, &owned, seed, record).await;
            *lock(&out) = Some(done);
            Ok(())
        });
        let ran = sim.run();
        drop(prepared);
        let report = lock(&report).take();
        match (report, ran) {
            (Some(report), _) => report,
            (None, ran) => {
                let mut report = runner::skipped_report(
                    scenario,
                    seed,
                    "sim",
                    String::from("the simulation ended before the runner"),
                );
                report.outcome = Outcome::Failed;
                report.reason = Some(match ran {
                    Err(error) => format!("the simulation failed: {error}"),
                    Ok(()) => "the simulation ended before the runner finished".to_owned(),
                });
                report
            }
        }
    }

    /// Runs `scenarios`, `parallel` simulations at a time (each on a blocking thread), as
    /// [`runner::run_all_with`] does for the other drivers.
    pub async fn run_all(
        &self,
        scenarios: &[Scenario],
        forced_seed: Option<u64>,
        parallel: usize,
        record: Record,
        on_done: &(dyn Fn(&ScenarioReport) + Sync),
    ) -> RunReport {
        let started = tokio::time::Instant::now();
        let mut reports: Vec<(usize, ScenarioReport)> =
            futures_util::stream::iter(scenarios.iter().enumerate())
                .map(|(i, scenario)| {
                    let driver = self.clone();
                    let owned = scenario.clone();
                    let seed = runner::seed_for(scenario, forced_seed);
                    async move {
                        let ran = tokio::task::spawn_blocking(move || {
                            driver.run_scenario(&owned, seed, record)
                        })
                        .await;
                        let report = ran.unwrap_or_else(|error| {
                            let mut report =
                                runner::skipped_report(scenario, seed, "sim", String::new());
                            report.outcome = Outcome::Failed;
                            report.reason = Some(format!("the simulation panicked: {error}"));
                            report
                        });
                        on_done(&report);
                        (i, report)
                    }
                })
                .buffer_unordered(parallel.max(1))
                .collect()
                .await;
        reports.sort_by_key(|(i, _)| *i);
        RunReport::new(
            DriverKind::Sim.name(),
            reports.into_iter().map(|(_, r)| r).collect(),
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        )
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere mid-update of plain collections.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a host is told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Start,
    Stop,
}

/// What a host last did; `seq` counts its answers, so a waiter sees the answer to its own
/// command.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Life {
    seq: u64,
    state: State,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Waiting,
    Up,
    Down,
    Failed(String),
}

/// The runner's end of a host's command loop.
#[derive(Debug)]
struct MemberControl {
    commands: mpsc::UnboundedSender<Command>,
    life: watch::Receiver<Life>,
}

/// A host's end: taken by the host's software when it first runs.
type HostEnd = Arc<Mutex<Option<(mpsc::UnboundedReceiver<Command>, watch::Sender<Life>)>>>;

fn member_channel() -> (MemberControl, HostEnd) {
    let (commands, receiver) = mpsc::unbounded_channel();
    let (answers, life) = watch::channel(Life {
        seq: 0,
        state: State::Waiting,
    });
    (
        MemberControl { commands, life },
        Arc::new(Mutex::new(Some((receiver, answers)))),
    )
}

fn answer(life: &watch::Sender<Life>, state: State) {
    life.send_modify(|life| {
        life.seq += 1;
        life.state = state;
    });
}

/// The topology as the simulation holds it, shared by the hosts and the runner (one thread:
/// the locks are never contended, only required by the types).
struct World {
    topology: Topology,
    seed: u64,
    clock: Arc<ManualClock>,
    host_map: HostMap,
    /// The runner's outbound networking: the host map and the built-in certificate.
    runner: Outbound,
    /// Each TLS-speaking host's randomness and clock (instances, load balancers, the runner),
    /// seeded from the run and the host: one per host for the run, so a restarted node goes on
    /// drawing where it stopped.
    crypto: BTreeMap<String, Crypto>,
    /// Where the listeners' bytes go, in the wire's tests.
    wire: Option<WireLog>,
    homes: RuntimeHomes,
    /// Running instances.
    nodes: Mutex<BTreeMap<String, NodeHandle>>,
    /// Running Traffic Managers, by member name (each on its own host).
    traffic_managers: Mutex<BTreeMap<String, TrafficManagerHandle>>,
    backends: Mutex<BTreeMap<String, BackendControl>>,
    /// Instances, Traffic Managers and load balancers.
    members: BTreeMap<String, MemberControl>,
    /// Backends answer `Up` once listening.
    backend_life: BTreeMap<String, watch::Receiver<Life>>,
    /// Stops the mock backends.
    stop_backends: CancellationToken,
    /// Every host of the simulation, the runner's included.
    hosts: Vec<String>,
    /// Where the nodes report what they apply and decide (a transcript, once attached).
    taps: TapSlot,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("topology", &self.topology.name)
            .field("seed", &self.seed)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl World {
    fn shared_clock(&self) -> SharedClock {
        self.clock.clone()
    }

    fn crypto(&self, host: &str) -> Result<&Crypto, String> {
        self.crypto
            .get(host)
            .ok_or_else(|| format!("no TLS source for simulated host `{host}`"))
    }

    /// `host`'s outbound networking, its TLS from `host`'s source.
    fn outbound(&self, host: &str, trusted: &[&str]) -> Result<Outbound, String> {
        Outbound::new_with_crypto(self.host_map.clone(), trusted, self.crypto(host)?)
            .map(Outbound::simulated)
            .map_err(|e| e.to_string())
    }

    /// A listener of `host` on the simulated network, recorded when the wire is.
    fn listener(
        &self,
        host: &str,
        inner: turmoil::net::TcpListener,
        open: Option<watch::Receiver<bool>>,
    ) -> SimListener {
        let record = self.wire.clone().map(|log| (log, host.to_owned()));
        SimListener {
            inner,
            open,
            record,
        }
    }

    fn with_node<T>(&self, name: &str, f: impl FnOnce(&NodeHandle) -> T) -> Option<T> {
        lock(&self.nodes).get(name).map(f)
    }
}

/// Registers one host per instance, backend and load balancer of `topology` on `sim`, each
/// waiting for the runner's commands (backends start at once).
fn build(
    sim: &mut turmoil::Sim<'_>,
    topology: Topology,
    seed: u64,
    clock: Arc<ManualClock>,
    record: Record,
    driver: &SimDriver,
) -> Result<Arc<World>, DriverError> {
    let boot_error = |message: String| DriverError::Boot {
        topology: topology.name.clone(),
        message,
    };
    // (Traffic Manager, its control plane): one host each, registered after the others.
    let traffic_managers: Vec<(String, String)> = topology
        .control_planes()
        .filter_map(|cp| Some((topology.traffic_manager_of(&cp.name)?, cp.name.clone())))
        .collect();
    let mut hosts: Vec<String> = topology
        .backends
        .iter()
        .map(|b| b.name.clone())
        .chain(topology.instances.iter().map(|i| i.name.clone()))
        .chain(topology.load_balancers.iter().map(|l| l.name.clone()))
        .chain(traffic_managers.iter().map(|(tm, _)| tm.clone()))
        .collect();
    if hosts.iter().any(|h| h == RUNNER_HOST) {
        return Err(boot_error(format!(
            "`{RUNNER_HOST}` is the simulated runner's host name"
        )));
    }
    if let Some(clash) = hosts
        .iter()
        .enumerate()
        .find(|(i, h)| hosts[..*i].contains(h))
    {
        return Err(boot_error(format!(
            "two members of the topology are named `{}`",
            clash.1
        )));
    }
    // Every hostname the topology uses, each with every port, to the host listening there.
    let mut names = vec!["localhost".to_owned()];
    names.extend(topology.hosts.keys().cloned());
    names.extend(topology.backends.iter().map(|b| b.host.clone()));
    names.extend(topology.load_balancers.iter().flat_map(|l| l.hosts.clone()));
    let mut ports: Vec<(String, u16)> = Vec::new();
    for instance in &topology.instances {
        let traffic_manager = topology.traffic_manager_of(&instance.name);
        for (role, port) in &instance.ports {
            // The control plane's TM ports are its Traffic Manager host's.
            let host = match &traffic_manager {
                Some(tm) if role.serves_traffic_manager() => tm.clone(),
                _ => instance.name.clone(),
            };
            ports.push((host, *port));
        }
    }
    ports.extend(topology.backends.iter().map(|b| (b.name.clone(), b.port)));
    for lb in &topology.load_balancers {
        ports.push((lb.name.clone(), lb.http));
        ports.push((lb.name.clone(), lb.https));
    }
    let mut host_map = HostMap::new();
    for (host, port) in &ports {
        let ip = sim.lookup(host.as_str());
        for name in &names {
            host_map.insert_route(name.clone(), *port, SocketAddr::new(ip, *port));
        }
    }
    let taps = match record {
        Record::Transcript => {
            TapSlot::from_boot(clock.clone(), Some(member_names(sim, &topology, &names)))
        }
        Record::Nothing => TapSlot::default(),
    };
    let tls_hosts = topology
        .instances
        .iter()
        .map(|i| i.name.as_str())
        .chain(topology.load_balancers.iter().map(|l| l.name.as_str()))
        .chain([RUNNER_HOST]);
    let crypto: BTreeMap<String, Crypto> = tls_hosts
        .map(|host| {
            let crypto = if driver.system_tls {
                Crypto::system()
            } else {
                security::seeded::crypto(seed, host, clock.clone())
            };
            (host.to_owned(), crypto)
        })
        .collect();
    let runner = Outbound::new_with_crypto(
        host_map.clone(),
        &[security::DEFAULT_CERT_PEM],
        &crypto[RUNNER_HOST],
    )
    .map(Outbound::simulated)
    .map_err(|e| boot_error(e.to_string()))?;
    let homes = RuntimeHomes::create(&topology.name)
        .map_err(|e| boot_error(format!("creating the runtime homes: {e}")))?;
    let mut members = BTreeMap::new();
    let mut ends = BTreeMap::new();
    for name in topology
        .instances
        .iter()
        .map(|i| &i.name)
        .chain(topology.load_balancers.iter().map(|l| &l.name))
        .chain(traffic_managers.iter().map(|(tm, _)| tm))
    {
        let (control, end) = member_channel();
        members.insert(name.clone(), control);
        ends.insert(name.clone(), end);
    }
    let mut backend_life = BTreeMap::new();
    for spec in &topology.backends {
        let (control, end) = member_channel();
        backend_life.insert(spec.name.clone(), control.life.clone());
        ends.insert(spec.name.clone(), end);
    }
    hosts.push(RUNNER_HOST.to_owned());
    let world = Arc::new(World {
        topology,
        seed,
        clock,
        host_map,
        runner,
        crypto,
        wire: driver.wire.clone(),
        homes,
        nodes: Mutex::default(),
        traffic_managers: Mutex::default(),
        backends: Mutex::default(),
        members,
        backend_life,
        stop_backends: CancellationToken::new(),
        hosts,
        taps,
    });
    for spec in world.topology.backends.clone() {
        let Some(end) = ends.remove(&spec.name) else {
            continue;
        };
        let world = world.clone();
        let host = spec.name.clone();
        sim.host(host.as_str(), move || {
            let (world, end, spec) = (world.clone(), end.clone(), spec.clone());
            async move {
                let taken = lock(&end).take();
                if let Some((_, life)) = taken {
                    backend_host(&world, &spec, &life).await;
                }
                Ok(())
            }
        });
    }
    // Instances and load balancers: one host each, driven by its command channel.
    let instances = world
        .topology
        .instances
        .iter()
        .map(|i| (i.name.clone(), false));
    let balancers = world
        .topology
        .load_balancers
        .iter()
        .map(|l| (l.name.clone(), true));
    let members: Vec<(String, bool)> = instances.chain(balancers).collect();
    for (name, balancer) in members {
        let Some(end) = ends.remove(&name) else {
            continue;
        };
        let world = world.clone();
        let host = name.clone();
        sim.host(host.as_str(), move || {
            let (world, end, name) = (world.clone(), end.clone(), name.clone());
            async move {
                let taken = lock(&end).take();
                if let Some((commands, life)) = taken {
                    if balancer {
                        load_balancer_host(&world, &name, commands, &life).await;
                    } else {
                        instance_host(&world, &name, commands, &life).await;
                    }
                }
                Ok(())
            }
        });
    }
    for (tm, control_plane) in traffic_managers {
        let Some(end) = ends.remove(&tm) else {
            continue;
        };
        let world = world.clone();
        let host = tm.clone();
        sim.host(host.as_str(), move || {
            let (world, end) = (world.clone(), end.clone());
            let (tm, control_plane) = (tm.clone(), control_plane.clone());
            async move {
                let taken = lock(&end).take();
                if let Some((commands, life)) = taken {
                    traffic_manager_host(&world, &tm, &control_plane, commands, &life).await;
                }
                Ok(())
            }
        });
    }
    Ok(world)
}

/// `host:port` → member, every way the nodes name each other (each hostname of the topology
/// and each host's address, with each port): the `to` of the nodes' exchanges. A control
/// plane's Traffic Manager ports are the Traffic Manager's (and on its host).
fn member_names(
    sim: &turmoil::Sim<'_>,
    topology: &Topology,
    names: &[String],
) -> BTreeMap<String, String> {
    let mut owners: Vec<(String, String, u16)> = Vec::new();
    for instance in &topology.instances {
        let traffic_manager = topology.traffic_manager_of(&instance.name);
        for (role, port) in &instance.ports {
            // A Traffic Manager's host is named as its member.
            let member = match &traffic_manager {
                Some(tm) if role.serves_traffic_manager() => tm.clone(),
                _ => instance.name.clone(),
            };
            owners.push((member.clone(), member, *port));
        }
    }
    for backend in &topology.backends {
        owners.push((backend.name.clone(), backend.name.clone(), backend.port));
    }
    for lb in &topology.load_balancers {
        for port in [lb.http, lb.https] {
            owners.push((lb.name.clone(), lb.name.clone(), port));
        }
    }
    let mut members = BTreeMap::new();
    for (host, member, port) in owners {
        let ip = sim.lookup(host.as_str()).to_string();
        for name in names.iter().chain([&ip]) {
            let authority = format!("{}:{port}", name.to_ascii_lowercase());
            members.insert(authority, member.clone());
        }
    }
    members
}

/// Each host's address → its member: who sent what a mock backend receives. The runner is
/// left out (it records its own exchanges).
fn peers(world: &World) -> BTreeMap<std::net::IpAddr, String> {
    world
        .hosts
        .iter()
        .filter(|h| *h != RUNNER_HOST)
        .map(|h| (turmoil::lookup(h.as_str()), h.clone()))
        .collect()
}

async fn bind(port: u16, owner: &str, what: &str) -> Result<turmoil::net::TcpListener, String> {
    turmoil::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
        .await
        .map_err(|e| format!("cannot bind port {port} ({owner}: {what}): {e}"))
}

/// A mock backend's host: listens at once, serves until the run ends.
async fn backend_host(
    world: &World,
    spec: &crate::topology::BackendSpec,
    life: &watch::Sender<Life>,
) {
    let listener = match bind(spec.port, &spec.name, "mock backend").await {
        Ok(listener) => listener,
        Err(message) => return answer(life, State::Failed(message)),
    };
    let identity = BackendIdentity {
        name: spec.name.clone(),
        endpoint: spec.endpoint.clone(),
    };
    let recorder = backend::Recorder {
        slot: world.taps.clone(),
        peers: Arc::new(peers(world)),
    };
    let running = match backend::spawn_recorded(
        identity,
        listener,
        world.shared_clock(),
        world.stop_backends.clone(),
        Some(recorder),
    ) {
        Ok(running) => running,
        Err(error) => return answer(life, State::Failed(error.to_string())),
    };
    lock(&world.backends).insert(spec.name.clone(), running.control.clone());
    answer(life, State::Up);
    world.stop_backends.cancelled().await;
    running.shutdown().await;
    answer(life, State::Down);
}

/// A node's listener on a simulated host; a gateway's passthrough ports accept nothing until
/// its start-up sync is done (as in-process).
struct SimListener {
    inner: turmoil::net::TcpListener,
    open: Option<watch::Receiver<bool>>,
    /// The wire's log and this listener's host, in the wire's tests.
    record: Option<(WireLog, String)>,
}

impl Listener for SimListener {
    type Io = wire::Recorded<turmoil::net::TcpStream>;

    async fn accept(&mut self) -> std::io::Result<(Self::Io, SocketAddr)> {
        if let Some(open) = &mut self.open {
            // A dropped sender (the start failed) opens the gate: nothing is left to wait for.
            if open.wait_for(|o| *o).await.is_err() {
                self.open = None;
            }
        }
        let (stream, from) = self.inner.accept().await?;
        let stream = match &self.record {
            Some((log, host)) => log.accepted(host, self.inner.local_addr()?.port(), stream),
            None => wire::Recorded::plain(stream),
        };
        Ok((stream, from))
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An instance's host: starts and stops its node as the runner says, on the same ports.
async fn instance_host(
    world: &World,
    name: &str,
    commands: mpsc::UnboundedReceiver<Command>,
    life: &watch::Sender<Life>,
) {
    let started = async || {
        let handle = start_instance(world, name).await?;
        tracing::info!(instance = name, "node ready (simulated)");
        Ok(handle)
    };
    run_commands(
        &world.nodes,
        name,
        commands,
        life,
        started,
        NodeHandle::shutdown,
    )
    .await;
}

/// A member's command loop, its running handle kept in `registry` under `name`: `Start` starts
/// it (unless it runs) and answers `Up` or `Failed`, `Stop` shuts it down and answers `Down`.
async fn run_commands<H, Stopped: Future<Output = ()>>(
    registry: &Mutex<BTreeMap<String, H>>,
    name: &str,
    mut commands: mpsc::UnboundedReceiver<Command>,
    life: &watch::Sender<Life>,
    mut start: impl AsyncFnMut() -> Result<H, String>,
    stop: impl Fn(H) -> Stopped,
) {
    while let Some(command) = commands.recv().await {
        match command {
            Command::Start => {
                if lock(registry).contains_key(name) {
                    answer(life, State::Up);
                    continue;
                }
                match start().await {
                    Ok(handle) => {
                        lock(registry).insert(name.to_owned(), handle);
                        answer(life, State::Up);
                    }
                    Err(message) => answer(life, State::Failed(message)),
                }
            }
            Command::Stop => {
                let handle = lock(registry).remove(name);
                if let Some(handle) = handle {
                    stop(handle).await;
                }
                answer(life, State::Down);
            }
        }
    }
}

/// Starts instance `name` on this host, as the in-process driver's `start_bound` does, and
/// returns once it is ready. A control plane's Traffic Manager is left to its own host.
async fn start_instance(world: &World, name: &str) -> Result<NodeHandle, String> {
    let instance = world
        .topology
        .instance(name)
        .ok_or_else(|| format!("the topology has no instance `{name}`"))?;
    let keystores =
        tollgate_node::tls::load_with(&instance.config, &instance.dir, world.crypto(name)?)
            .map_err(|e| e.to_string())?;
    let trusted: Vec<&str> = keystores.trusted_pems.iter().map(String::as_str).collect();
    let outbound = world
        .outbound(name, &trusted)?
        .with_tap(world.taps.tap(name));
    let (open, gate) = watch::channel(false);
    let mut listeners = NodeListeners::default();
    for (role, port) in &instance.ports {
        if role.serves_traffic_manager() {
            continue;
        }
        let inner = bind(*port, name, &role.to_string()).await?;
        let gated = matches!(role, PortRole::PassthruHttp | PortRole::PassthruHttps);
        listeners.insert(
            *role,
            world.listener(name, inner, gated.then(|| gate.clone())),
        );
    }
    let resources = NodeResources {
        listeners,
        outbound,
        clock: world.shared_clock(),
        seed: world.seed,
        tls: keystores.server,
        signing: keystores.signing,
        home: Some(world.homes.of(name)),
    };
    let handle = tollgate_node::start_with(
        name,
        instance.config.clone(),
        resources,
        CancellationToken::new(),
        TrafficManagerPlacement::Apart,
    )
    .await
    .map_err(|e| e.to_string())?;
    if tokio::time::timeout(READY_TIMEOUT, handle.ready())
        .await
        .is_err()
    {
        handle.shutdown().await;
        return Err(format!(
            "not ready within {READY_TIMEOUT:?} of simulated time (its start-up sync did not complete)"
        ));
    }
    let _ = open.send(true);
    Ok(handle)
}

/// A Traffic Manager's host: starts and stops control plane `control_plane`'s Traffic Manager
/// `name` as the runner says, on the control plane's TM ports. Stopping it closes its listeners
/// and connections, so a peer's connection is refused, as a dead process's is, and no partition
/// is needed (one would drop segments in flight, the FINs of the closed connections with them).
async fn traffic_manager_host(
    world: &World,
    name: &str,
    control_plane: &str,
    commands: mpsc::UnboundedReceiver<Command>,
    life: &watch::Sender<Life>,
) {
    // The counters of the last Traffic Manager, with the control plane it ran beside: started
    // again beside that same control plane (a kill of the TM alone), it goes on with them, as
    // in-process; a restarted control plane gets a new one (one process in-process).
    let mut counters: Option<(Weak<ControlPlane>, Arc<TrafficManager>)> = None;
    let started = async || {
        let handle = start_traffic_manager(world, name, control_plane, &mut counters).await?;
        tracing::info!(member = name, "traffic manager serving (simulated)");
        Ok(handle)
    };
    let stop = TrafficManagerHandle::shutdown;
    run_commands(&world.traffic_managers, name, commands, life, started, stop).await;
}

/// Starts Traffic Manager `name` beside running control plane `control_plane`, with the
/// `counters` it had if that control plane is the one it ran beside.
async fn start_traffic_manager(
    world: &World,
    name: &str,
    control_plane: &str,
    counters: &mut Option<(Weak<ControlPlane>, Arc<TrafficManager>)>,
) -> Result<TrafficManagerHandle, String> {
    let ports = world
        .topology
        .instance(control_plane)
        .ok_or_else(|| format!("the topology has no instance `{control_plane}`"))?
        .ports
        .clone();
    let mut listeners = BTreeMap::new();
    for (role, port) in ports {
        if role.serves_traffic_manager() {
            let inner = bind(port, name, &role.to_string()).await?;
            listeners.insert(role, world.listener(name, inner, None));
        }
    }
    let (Some(receiver), Some(decisions)) = (
        listeners.remove(&PortRole::TmBinary),
        listeners.remove(&PortRole::Amqp),
    ) else {
        return Err(format!("`{control_plane}` has no Traffic Manager ports"));
    };
    let nodes = lock(&world.nodes);
    let node = nodes
        .get(control_plane)
        .ok_or_else(|| format!("its control plane `{control_plane}` is not running"))?;
    let cp = node
        .control_plane()
        .ok_or_else(|| format!("`{control_plane}` runs no control plane"))?;
    let kept = counters
        .take()
        .filter(|(beside, _)| Weak::ptr_eq(beside, &Arc::downgrade(cp)))
        .map(|(_, tm)| tm);
    let handle = tollgate_node::start_traffic_manager(
        node,
        world.shared_clock(),
        // Its decisions are recorded as its control plane's (the node that runs it elsewhere).
        Some(world.taps.tap(control_plane)),
        kept,
        receiver,
        decisions,
        CancellationToken::new(),
    )
    .map_err(|e| e.to_string())?;
    *counters = Some((Arc::downgrade(cp), handle.traffic_manager().clone()));
    Ok(handle)
}

/// A load balancer's host: starts and stops it as the runner says.
async fn load_balancer_host(
    world: &World,
    name: &str,
    mut commands: mpsc::UnboundedReceiver<Command>,
    life: &watch::Sender<Life>,
) {
    let mut running: Option<LoadBalancerHandle> = None;
    while let Some(command) = commands.recv().await {
        match command {
            Command::Start => {
                if running.is_none() {
                    match start_load_balancer(world, name).await {
                        Ok(handle) => running = Some(handle),
                        Err(message) => {
                            answer(life, State::Failed(message));
                            continue;
                        }
                    }
                }
                answer(life, State::Up);
            }
            Command::Stop => {
                if let Some(handle) = running.take() {
                    handle.shutdown().await;
                }
                answer(life, State::Down);
            }
        }
    }
}

async fn start_load_balancer(world: &World, name: &str) -> Result<LoadBalancerHandle, String> {
    let spec = world
        .topology
        .load_balancers
        .iter()
        .find(|l| l.name == name)
        .ok_or_else(|| format!("the topology has no load balancer `{name}`"))?;
    let nodes = crate::topology::gateway_nodes(&world.topology.instances, spec)?;
    let config = LoadBalancerConfig::gateway_cluster(&nodes);
    let outbound = world
        .outbound(name, &[security::DEFAULT_CERT_PEM])?
        .with_tap(world.taps.tap(name));
    let tls = world
        .crypto(name)?
        .server_config(security::DEFAULT_CERT_PEM, security::DEFAULT_KEY_PEM)
        .map_err(|e| e.to_string())?;
    let mut listeners = BTreeMap::new();
    let http = bind(spec.http, name, "load balancer HTTP").await?;
    listeners.insert("http".to_owned(), world.listener(name, http, None));
    let https = bind(spec.https, name, "load balancer HTTPS").await?;
    listeners.insert("https".to_owned(), world.listener(name, https, None));
    tollgate_load_balancer::start_with_tls(
        config,
        listeners,
        outbound,
        world.shared_clock(),
        tls,
        CancellationToken::new(),
    )
    .map_err(|e| e.to_string())
}

/// The driver the runner sees inside the simulation: its boot starts the hosts already there.
struct SimBoot {
    world: Mutex<Option<Result<Arc<World>, DriverError>>>,
}

impl Driver for SimBoot {
    type Target = SimTarget;

    fn kind(&self) -> DriverKind {
        DriverKind::Sim
    }

    /// The hosts were made from this same topology folder before the simulation began (an
    /// identical prepared copy): this starts them, in the in-process driver's order.
    async fn boot(&self, _topology_dir: &Path, _seed: u64) -> Result<SimTarget, DriverError> {
        let world = lock(&self.world).take().unwrap_or_else(|| {
            Err(DriverError::Unusable(
                "a simulation boots its topology once".into(),
            ))
        })?;
        let target = SimTarget { world };
        let topology = target.world.topology.name.clone();
        let boot_error = |message: String| DriverError::Boot {
            topology: topology.clone(),
            message,
        };
        for (name, life) in &target.world.backend_life {
            let mut life = life.clone();
            let waited =
                tokio::time::timeout(READY_TIMEOUT, life.wait_for(|l| l.state != State::Waiting))
                    .await;
            match waited.map(|l| l.map(|l| l.state.clone())) {
                Ok(Ok(State::Up)) => {}
                Ok(Ok(State::Failed(message))) => return Err(boot_error(message)),
                _ => {
                    return Err(boot_error(format!(
                        "{name}: the mock backend did not start"
                    )));
                }
            }
        }
        let order: Vec<String> = target
            .world
            .topology
            .instances
            .iter()
            .map(|i| i.name.clone())
            .chain(
                target
                    .world
                    .topology
                    .load_balancers
                    .iter()
                    .map(|l| l.name.clone()),
            )
            .collect();
        for name in order {
            if let Err(error) = target.start_member(&name).await {
                let message = format!("{name}: {error}");
                target.shutdown().await;
                return Err(boot_error(message));
            }
        }
        Ok(target)
    }
}

/// A topology running in a simulation, seen from the runner's host.
#[derive(Debug)]
pub struct SimTarget {
    world: Arc<World>,
}

impl SimTarget {
    /// Sends `command` to member `name`'s host and waits for its answer.
    async fn command(&self, name: &str, command: Command) -> Result<(), TargetError> {
        let control = self
            .world
            .members
            .get(name)
            .ok_or_else(|| TargetError::UnknownMember(name.to_owned()))?;
        let mut life = control.life.clone();
        let before = life.borrow().seq;
        control
            .commands
            .send(command)
            .map_err(|_| TargetError::Failed(format!("`{name}`'s host has ended")))?;
        let waited = tokio::time::timeout(READY_TIMEOUT, life.wait_for(|l| l.seq > before)).await;
        let state = match waited {
            Ok(Ok(life)) => life.state.clone(),
            Ok(Err(_)) => return Err(TargetError::Failed(format!("`{name}`'s host has ended"))),
            Err(_) => {
                return Err(TargetError::Failed(format!(
                    "`{name}` did not answer {command:?} within {READY_TIMEOUT:?} of simulated time"
                )));
            }
        };
        match state {
            State::Failed(message) => Err(TargetError::Failed(message)),
            _ => Ok(()),
        }
    }

    /// Starts instance or load balancer `name`; a control plane, then its Traffic Manager.
    async fn start_member(&self, name: &str) -> Result<(), TargetError> {
        self.command(name, Command::Start).await?;
        match self.world.topology.traffic_manager_of(name) {
            Some(tm) => self.command(&tm, Command::Start).await,
            None => Ok(()),
        }
    }

    /// Stops instance or load balancer `name`; a control plane's Traffic Manager first.
    async fn stop_member(&self, name: &str) -> Result<(), TargetError> {
        if let Some(tm) = self.world.topology.traffic_manager_of(name)
            && self.is_running(&tm)
        {
            self.command(&tm, Command::Stop).await?;
        }
        self.command(name, Command::Stop).await
    }

    fn member(&self, name: &str) -> Result<MemberKind, TargetError> {
        self.world
            .topology
            .member(name)
            .map(|m| m.kind)
            .ok_or_else(|| TargetError::UnknownMember(name.to_owned()))
    }

    /// Whether instance, Traffic Manager or load balancer `name` runs.
    fn is_running(&self, name: &str) -> bool {
        if lock(&self.world.nodes).contains_key(name)
            || lock(&self.world.traffic_managers).contains_key(name)
        {
            return true;
        }
        self.world
            .members
            .get(name)
            .is_some_and(|m| m.life.borrow().state == State::Up)
            && self.world.topology.instance(name).is_none()
            && !matches!(self.member(name), Ok(MemberKind::TrafficManager { .. }))
    }

    fn gateway(&self, name: &str) -> Option<tollgate_gateway::GatewayHandle> {
        self.world
            .with_node(name, |n| n.gateway().cloned())
            .flatten()
    }

    fn url(&self, instance: &str, role: PortRole) -> Option<String> {
        self.world
            .topology
            .instance(instance)?
            .ports
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(role, port)| format!("{}://localhost:{port}", role.scheme()))
    }

    /// The hosts a pause or partition of `name` applies to: its own, and a control plane's
    /// Traffic Manager's with it (one process in-process).
    fn hosts_of(&self, name: &str) -> Result<Vec<String>, TargetError> {
        Ok(match self.member(name)? {
            MemberKind::Instance => std::iter::once(name.to_owned())
                .chain(self.world.topology.traffic_manager_of(name))
                .collect(),
            _ => vec![name.to_owned()],
        })
    }
}

impl Target for SimTarget {
    fn client(&self) -> Client {
        Client::new(&self.world.runner)
    }

    fn control_plane_url(&self) -> Option<String> {
        let cp = self
            .world
            .topology
            .instances
            .iter()
            .find(|i| i.role().runs_control_plane())?;
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
        self.url(instance, role).or_else(|| {
            self.world
                .topology
                .load_balancers
                .iter()
                .find(|l| l.name == instance)
                .map(|l| l.url(https))
        })
    }

    fn backend_url(&self, backend: &str) -> Option<String> {
        self.world.topology.backend(backend).map(|b| b.url.clone())
    }

    fn gateway_names(&self) -> Vec<String> {
        let nodes = lock(&self.world.nodes);
        self.world
            .topology
            .instances
            .iter()
            .filter(|i| nodes.get(&i.name).is_some_and(|n| n.gateway().is_some()))
            .map(|i| i.name.clone())
            .collect()
    }

    fn gateways_of(&self, environment: &str) -> Vec<String> {
        self.world.topology.gateways_of(environment)
    }

    fn now_millis(&self) -> i64 {
        self.world.clock.now_millis()
    }

    fn shared_clock(&self) -> Option<SharedClock> {
        Some(self.world.shared_clock())
    }

    fn record_into(&self, transcript: &crate::transcript::Transcript) {
        self.world.taps.attach(transcript);
    }

    fn location(&self) -> String {
        format!("a turmoil simulation, seed {}", self.world.seed)
    }

    /// Stops every load balancer, gateway and control plane (its Traffic Manager first), in that
    /// order, and the backends.
    async fn shutdown(self) {
        let topology = &self.world.topology;
        let order: Vec<String> = topology
            .load_balancers
            .iter()
            .map(|l| l.name.clone())
            .chain(topology.instances.iter().rev().map(|i| i.name.clone()))
            .collect();
        for name in order {
            if self.is_running(&name)
                && let Err(error) = self.stop_member(&name).await
            {
                tracing::warn!(member = %name, %error, "could not stop it");
            }
        }
        self.world.stop_backends.cancel();
    }

    fn signals(&self) -> Option<&impl Signals> {
        Some(self)
    }

    fn clock(&mut self) -> Option<&mut impl VirtualClock> {
        Some(self)
    }

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

impl Signals for SimTarget {
    async fn event_seq(&self) -> u64 {
        let nodes = lock(&self.world.nodes);
        self.world
            .topology
            .instances
            .iter()
            .find_map(|i| nodes.get(&i.name).and_then(|n| n.control_plane()))
            .map_or(0, |cp| cp.event_seq())
    }

    async fn wait_for_seq(
        &self,
        gateway: &str,
        seq: u64,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        let Some(handle) = self.gateway(gateway) else {
            return Err(NotReached {
                last_seen: format!("no running gateway named `{gateway}`"),
            });
        };
        match tokio::time::timeout(timeout, handle.wait_for_seq(seq)).await {
            Ok(()) => Ok(()),
            Err(_) => Err(NotReached {
                last_seen: format!(
                    "`{gateway}` applied event {} of {seq}",
                    handle.status().applied_seq
                ),
            }),
        }
    }

    async fn wait_for_revision(
        &self,
        gateway: &str,
        api_id: &str,
        revision_id: &str,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        let handle = self.gateway(gateway);
        super::wait_for_revision_on(handle.as_ref(), gateway, api_id, revision_id, timeout).await
    }

    async fn wait_for_traffic_managers(
        &self,
        seq: u64,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        for instance in &self.world.topology.instances {
            // The TM's applied-policies feed, while it serves.
            let Some(tm) = self.world.topology.traffic_manager_of(&instance.name) else {
                continue;
            };
            let Some(mut policies) = lock(&self.world.traffic_managers)
                .get(&tm)
                .map(TrafficManagerHandle::policies)
            else {
                continue;
            };
            if tokio::time::timeout(timeout, policies.wait_for(|applied| *applied >= seq))
                .await
                .is_err()
            {
                return Err(NotReached {
                    last_seen: format!(
                        "the Traffic Manager of `{}` applied event {} of {seq}",
                        instance.name,
                        *policies.borrow()
                    ),
                });
            }
        }
        Ok(())
    }
}

impl VirtualClock for SimTarget {
    /// Moves the nodes' clock, then lets as much simulated time pass: every timer of the
    /// topology (heartbeats, backoffs, the Traffic Managers' window ticks) sees it go by.
    async fn move_to(&mut self, millis: i64) -> Result<(), TargetError> {
        let delta = millis.saturating_sub(self.world.clock.now_millis());
        self.world.clock.move_to(millis);
        if let Ok(delta) = u64::try_from(delta)
            && delta > 0
        {
            tokio::time::sleep(Duration::from_millis(delta)).await;
        }
        Ok(())
    }

    fn roll_traffic_managers(&self) {
        for tm in lock(&self.world.traffic_managers).values() {
            tm.tick();
        }
    }
}

impl Faults for SimTarget {
    async fn inject(&mut self, fault: &tollgate_scenario::Fault) -> Result<(), TargetError> {
        use tollgate_scenario::Fault;
        match fault {
            Fault::Kill(name) => {
                match self.member(name)? {
                    MemberKind::Instance | MemberKind::LoadBalancer => {
                        if !self.is_running(name) {
                            return Err(TargetError::NotRunning(name.clone()));
                        }
                        self.stop_member(name).await?;
                    }
                    MemberKind::Backend => return Err(TargetError::UnknownMember(name.clone())),
                    // Its host alone; the control plane serves on (the in-process stop inside
                    // it). Its counters wait for its restart.
                    MemberKind::TrafficManager { control_plane } => {
                        if !self.is_running(&control_plane) {
                            return Err(TargetError::NotRunning(control_plane));
                        }
                        if !self.is_running(name) {
                            return Err(TargetError::NotRunning(name.clone()));
                        }
                        self.command(name, Command::Stop).await?;
                    }
                }
                tracing::info!(member = %name, "killed (simulated)");
            }
            Fault::Restart(name) => {
                match self.member(name)? {
                    MemberKind::Instance | MemberKind::LoadBalancer => {}
                    MemberKind::Backend => return Err(TargetError::UnknownMember(name.clone())),
                    MemberKind::TrafficManager { control_plane } => {
                        if !self.is_running(&control_plane) {
                            return Err(TargetError::NotRunning(control_plane));
                        }
                    }
                }
                if self.is_running(name) {
                    return Err(TargetError::Failed(format!(
                        "`{name}` is running: kill it before restarting it"
                    )));
                }
                if matches!(self.member(name)?, MemberKind::TrafficManager { .. }) {
                    self.command(name, Command::Start).await?;
                } else {
                    self.start_member(name).await?;
                }
                tracing::info!(member = %name, "restarted (simulated)");
            }
            Fault::Pause(name) | Fault::Resume(name) => {
                if self.member(name)? == MemberKind::Backend {
                    return Err(TargetError::UnknownMember(name.clone()));
                }
                let pause = matches!(fault, Fault::Pause(_));
                for host in self.hosts_of(name)? {
                    for other in self.world.hosts.iter().filter(|h| **h != host) {
                        if pause {
                            turmoil::hold(host.as_str(), other.as_str());
                        } else {
                            turmoil::release(host.as_str(), other.as_str());
                        }
                    }
                }
            }
            Fault::Partition(a, b) | Fault::Heal(a, b) => {
                let (left, right) = (self.hosts_of(a)?, self.hosts_of(b)?);
                for x in &left {
                    for y in right.iter().filter(|y| *y != x) {
                        if matches!(fault, Fault::Partition(..)) {
                            turmoil::partition(x.as_str(), y.as_str());
                        } else {
                            turmoil::repair(x.as_str(), y.as_str());
                        }
                    }
                }
            }
            Fault::Backend { backend, change } => {
                let control = lock(&self.world.backends).get(backend).cloned();
                return control
                    .ok_or_else(|| TargetError::UnknownMember(backend.clone()))?
                    .apply(change)
                    .map_err(TargetError::Failed);
            }
        }
        Ok(())
    }
}

impl Disk for SimTarget {
    async fn place_file(
        &mut self,
        instance: &str,
        relative_path: &str,
        content: Vec<u8>,
    ) -> Result<(), TargetError> {
        let path = self.home_path(instance, relative_path)?;
        crate::inproc::place_file(&path, &content).map_err(TargetError::Failed)
    }

    async fn read_file(
        &self,
        instance: &str,
        relative_path: &str,
    ) -> Result<Option<Vec<u8>>, TargetError> {
        let path = self.home_path(instance, relative_path)?;
        crate::inproc::read_file(&path).map_err(TargetError::Failed)
    }
}

impl SimTarget {
    fn home_path(&self, instance: &str, relative: &str) -> Result<std::path::PathBuf, TargetError> {
        if self.world.topology.instance(instance).is_none() {
            return Err(TargetError::UnknownMember(instance.to_owned()));
        }
        crate::inproc::inside_home(&self.world.homes.of(instance), relative)
            .map_err(TargetError::OutsideHome)
    }
}

impl DecisionView for SimTarget {
    async fn wait_for_throttle(
        &self,
        gateway: &str,
        key: &str,
        throttled: bool,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        let Some(handle) = self.gateway(gateway) else {
            return Err(NotReached {
                last_seen: format!("no running gateway named `{gateway}`"),
            });
        };
        let throttle = handle.gateway().throttle();
        let (Some(holder), Some(mut status)) =
            (throttle.decisions().cloned(), throttle.follower_status())
        else {
            return Err(NotReached {
                last_seen: format!("`{gateway}` follows no Traffic Manager"),
            });
        };
        let clock = self.world.clock.clone();
        let holds = move || holder.is_throttled(key, clock.now_millis()).is_some() == throttled;
        let waited = tokio::time::timeout(timeout, status.wait_for(|_| holds())).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let s = handle.gateway().throttle().follower_status();
                let s = s.map(|s| s.borrow().clone()).unwrap_or_default();
                Err(NotReached {
                    last_seen: format!(
                        "`{gateway}` {} `{key}` ({} decisions applied, {})",
                        if throttled {
                            "holds no decision throttling"
                        } else {
                            "still holds a decision throttling"
                        },
                        s.decisions,
                        if s.connected.is_some() {
                            "connected to its Traffic Manager"
                        } else {
                            "not connected to a Traffic Manager"
                        }
                    ),
                })
            }
        }
    }
}
