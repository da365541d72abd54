//! Drivers: the ways a scenario's topology can run, each declaring what it can do.
//!
//! The design has four drivers (in-process, simulated, container, external). The
//! in-process and container ones exist; asking for another fails with
//! [`DriverError::NotAvailable`] — absent, not stubbed. A step that needs a [`Capability`] the
//! driver lacks is reported as *skipped* with the reason, never as passed.
//!
//! | module | what it holds |
//! |---|---|
//! | [`inproc`] | [`InprocDriver`]: every node in this process, a private loopback address per scenario, a virtual clock, kills, restarts, pauses and partitions through the fault plane |
//! | [`container`] | [`ContainerDriver`]: every node in its own Docker container `FROM scratch`, a private network per scenario, a virtual clock on every node, kills, restarts, pauses and partitions through the engine |

pub mod container;
pub mod inproc;

pub use container::{ContainerDriver, ContainerTarget};
pub use inproc::{InprocDriver, InprocTarget, START_MILLIS};

use crate::client::Client;
use std::fmt;
use std::time::Duration;
use tollgate_scenario::Driver as DriverKind;

/// Something a step may need from a driver beyond sending HTTP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Moving the topology's wall clock (`advance`).
    VirtualTime,
    /// Killing and restarting a node.
    CrashRestart,
    /// Cutting the network between nodes.
    Partition,
    /// The same seed gives the same transcript byte for byte (interleavings included).
    ExactReplay,
    /// Seeing which Traffic Manager decisions a gateway holds (`wait = { throttled … }`).
    DecisionView,
}

impl Capability {
    pub fn name(self) -> &'static str {
        match self {
            Self::VirtualTime => "virtual time",
            Self::CrashRestart => "crash / restart",
            Self::Partition => "network partition",
            Self::ExactReplay => "seed-exact replay",
            Self::DecisionView => "view of gateways' throttle decisions",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a driver cannot run a topology.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(
        "driver `{0}` is not available yet: `inproc` and `container` are built (the simulated and external drivers are planned)"
    )]
    NotAvailable(String),
    /// The driver is built but cannot run here (no Docker engine answers, no image).
    #[error("{0}")]
    Unusable(String),
    #[error("unknown driver `{0}` (drivers: inproc, sim, container, external)")]
    Unknown(String),
    #[error("topology {path} does not load:\n{errors}")]
    Topology { path: String, errors: String },
    #[error("topology `{topology}` does not boot: {message}")]
    Boot { topology: String, message: String },
}

/// The topology at `dir`, its errors as a driver reports them.
pub(crate) fn load_topology(
    dir: &std::path::Path,
) -> Result<crate::topology::Topology, DriverError> {
    crate::topology::Topology::load(dir).map_err(|e| DriverError::Topology {
        path: dir.display().to_string(),
        errors: e.to_string(),
    })
}

/// `inproc`, `sim`, … as written on the command line.
pub fn parse_kind(name: &str) -> Result<DriverKind, DriverError> {
    DriverKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or_else(|| DriverError::Unknown(name.to_owned()))
}

/// A built driver, chosen at run time.
#[derive(Debug, Clone)]
pub enum Selected {
    Inproc(InprocDriver),
    Container(ContainerDriver),
}

/// The driver of `kind`, if it is built and can run here.
pub async fn select(kind: DriverKind) -> Result<Selected, DriverError> {
    match kind {
        DriverKind::Inproc => Ok(Selected::Inproc(InprocDriver::new())),
        DriverKind::Container => Ok(Selected::Container(ContainerDriver::connect().await?)),
        other => Err(DriverError::NotAvailable(other.name().to_owned())),
    }
}

/// A way to run topologies.
pub trait Driver {
    type Target: Target;

    fn kind(&self) -> DriverKind;

    /// What this driver can do beyond HTTP.
    fn capabilities(&self) -> &'static [Capability];

    fn has(&self, capability: Capability) -> bool {
        self.capabilities().contains(&capability)
    }

    /// Boots the topology at `topology_dir` with `seed`, the topology's edits applied.
    fn boot(
        &self,
        topology_dir: &std::path::Path,
        seed: u64,
    ) -> impl std::future::Future<Output = Result<Self::Target, DriverError>>;
}

/// Why a gateway did not reach a state in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReached {
    /// What was last seen, for the report.
    pub last_seen: String,
}

/// A booted topology as the runner sees it: URLs, a client, signals, the clock.
pub trait Target {
    /// A client that resolves the topology's hostnames and trusts its certificates.
    fn client(&self) -> Client;

    /// The control plane's management URL (`https://localhost:9443`).
    fn control_plane_url(&self) -> Option<String>;

    /// An instance's management URL (`https://localhost:9444`).
    fn management_url(&self, instance: &str) -> Option<String>;

    /// A gateway's passthrough URL (`http://localhost:8281`), or a load balancer's front URL
    /// (`http://gw.wso2.com:8080`), by scheme.
    fn gateway_url(&self, instance: &str, https: bool) -> Option<String>;

    /// A mock backend's URL as an API endpoint points at it.
    fn backend_url(&self, backend: &str) -> Option<String>;

    /// Gateway instance names, in topology order.
    fn gateway_names(&self) -> Vec<String>;

    /// The gateways whose labels include `environment`.
    fn gateways_of(&self, environment: &str) -> Vec<String>;

    /// The sequence number of the last event the control plane published.
    fn event_seq(&self) -> impl std::future::Future<Output = u64>;

    /// Waits until `gateway` has applied event `seq`.
    fn wait_for_seq(
        &self,
        gateway: &str,
        seq: u64,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<(), NotReached>>;

    /// Waits until `gateway` serves revision `revision_id` of API `api_id`.
    fn wait_for_revision(
        &self,
        gateway: &str,
        api_id: &str,
        revision_id: &str,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<(), NotReached>>;

    /// The wall clock, Unix milliseconds.
    fn now_millis(&self) -> i64;

    /// Moves the virtual clock to `millis` (never backwards) on every member; `Err` says why
    /// it could not (no virtual time, a member that did not take it).
    fn set_clock(&mut self, millis: i64) -> impl std::future::Future<Output = Result<(), String>>;

    /// Waits until `gateway` holds (`throttled`), or no longer holds, a Traffic Manager
    /// decision throttling `key` at the topology's clock.
    fn wait_for_throttle(
        &self,
        gateway: &str,
        key: &str,
        throttled: bool,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<(), NotReached>>;

    /// Waits until every Traffic Manager of the topology has applied control-plane event
    /// `seq` (its policies), so the next request is counted against them.
    fn wait_for_traffic_managers(
        &self,
        seq: u64,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<(), NotReached>>;

    /// Rolls every Traffic Manager's windows by the clock at once (after the clock moved),
    /// instead of at the TM's next periodic tick.
    fn tick_traffic_managers(&self);

    /// Where the topology listens (an address, a URL), for humans; volatile.
    fn location(&self) -> String;

    /// Why this target cannot inject `fault`, beyond its driver's capabilities (a member the
    /// driver cannot fault on its own, a kill that would lose state the scenario relies on):
    /// the step is then skipped with this reason. `None`: it can.
    fn cannot(&self, _fault: &tollgate_scenario::Fault) -> Option<String> {
        None
    }

    /// Injects a fault step's fault; a restart returns once the member is ready. The error says
    /// why it could not (a member that is not running, a driver that cannot).
    fn inject(
        &mut self,
        fault: &tollgate_scenario::Fault,
    ) -> impl std::future::Future<Output = Result<(), String>>;

    /// Writes `content` to `relative_path` (no `..`) under `instance`'s runtime home (WSO2's
    /// `<APIM_HOME>`, e.g. `repository/deployment/server/synapse-configs/default/api/X.json`),
    /// creating folders, whether the instance runs or not: a file put on the node's disk, read
    /// by a gateway at its next start. The error says why it could not; a driver that cannot
    /// reach its nodes' disks keeps this refusal.
    fn place_file(
        &mut self,
        _instance: &str,
        _relative_path: &str,
        _content: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<(), String>> {
        std::future::ready(Err(
            "this driver cannot put files on a node's disk".to_owned()
        ))
    }

    /// The content of `relative_path` under `instance`'s runtime home; `Ok(None)` when there is
    /// no such file.
    fn read_file(
        &self,
        _instance: &str,
        _relative_path: &str,
    ) -> impl std::future::Future<Output = Result<Option<Vec<u8>>, String>> {
        std::future::ready(Err("this driver cannot read a node's disk".to_owned()))
    }

    fn shutdown(self) -> impl std::future::Future<Output = ()>;
}
