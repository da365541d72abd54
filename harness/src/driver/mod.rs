//! Drivers: the ways a scenario's topology can run, each declaring what it can do.
//!
//! The design has four drivers (in-process, simulated, container, external); all four exist.
//! A step that needs a [`Capability`] the target lacks, or a fault the driver cannot express
//! ([`Faults::cannot`]), is reported as *skipped* with the reason, never as passed.
//!
//! | module | what it holds |
//! |---|---|
//! | [`inproc`] | [`InprocDriver`]: every node in this process, a private loopback address per scenario, a virtual clock, kills, restarts, pauses and partitions through the fault plane |
//! | [`sim`] | [`SimDriver`]: each scenario in a seeded turmoil simulation, one simulated host per instance, backend and load balancer, the runner a client host; virtual time for every timer; kills, restarts, holds and partitions of whole hosts |
//! | [`container`] | [`ContainerDriver`]: every node in its own Docker container `FROM scratch`, a private network per scenario, a virtual clock on every node, kills, restarts, pauses and partitions through the engine |
//! | [`external`] | [`ExternalDriver`]: a deployment someone else runs, described by a [`TargetFile`]; public interfaces only, black-box convergence, no capability traits |

pub mod container;
pub mod external;
pub mod inproc;
pub mod sim;

pub use container::{ContainerDriver, ContainerTarget};
pub use external::{ExternalDriver, ExternalTarget, TargetFile};
pub use inproc::{InprocDriver, InprocTarget, START_MILLIS};
pub use sim::{SimDriver, SimNetwork, SimTarget};

use crate::client::Client;
use std::fmt;
use std::future::Future;
use std::time::Duration;
use tollgate_scenario::Driver as DriverKind;

/// Something a step may need from a target beyond HTTP and convergence signals. A target has
/// one when it implements the capability's trait (its accessor on [`Target`] answers `Some`):
/// this enum names them for skip reasons and listings, it is not a second list to keep in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// Knowing when gateways and Traffic Managers have applied a change: [`Signals`].
    Signals,
    /// Moving the topology's wall clock (`advance`): [`VirtualClock`].
    VirtualTime,
    /// Killing, restarting, pausing and partitioning members, breaking backends: [`Faults`].
    Faults,
    /// Putting files on a node's disk and reading them: [`Disk`].
    Disk,
    /// Seeing which Traffic Manager decisions a gateway holds (`wait = { throttled … }`):
    /// [`DecisionView`].
    DecisionView,
}

impl Capability {
    pub const ALL: [Self; 5] = [
        Self::Signals,
        Self::VirtualTime,
        Self::Faults,
        Self::Disk,
        Self::DecisionView,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Signals => "convergence signals",
            Self::VirtualTime => "virtual time",
            Self::Faults => "fault injection (kill, restart, pause, partition)",
            Self::Disk => "access to nodes' disks",
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
        "driver `{0}` cannot do this: `inproc`, `sim` and `container` run scenarios, `external` checks a deployment (through `tollgate conform`)"
    )]
    NotAvailable(String),
    /// The driver is built but cannot run here (no Docker engine answers, no image).
    #[error("{0}")]
    Unusable(String),
    /// The target cannot stand for this scenario's topology (an external deployment without a
    /// gateway it needs): the scenario is skipped with this reason.
    #[error("{0}")]
    Unsupported(String),
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

/// `--driver`'s values: the scenario crate's driver kinds, under the names it gives them, so
/// clap lists them in `--help` and refuses any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverArg(pub DriverKind);

impl clap::ValueEnum for DriverArg {
    fn value_variants<'a>() -> &'a [Self] {
        const ALL: [DriverArg; 4] = [
            DriverArg(DriverKind::Inproc),
            DriverArg(DriverKind::Sim),
            DriverArg(DriverKind::Container),
            DriverArg(DriverKind::External),
        ];
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match self.0 {
            DriverKind::Inproc => "every node in this process (built)",
            DriverKind::Container => "every node in its own Docker container (built)",
            DriverKind::Sim => "a deterministic network simulator, seeded (built)",
            DriverKind::External => "a deployment someone else runs (use `tollgate conform`)",
        };
        Some(clap::builder::PossibleValue::new(self.0.name()).help(help))
    }
}

/// A built driver, chosen at run time.
#[derive(Debug, Clone)]
pub enum Selected {
    Inproc(InprocDriver),
    Sim(SimDriver),
    Container(ContainerDriver),
}

/// The driver of `kind`, if it is built and can run here.
pub async fn select(kind: DriverKind) -> Result<Selected, DriverError> {
    match kind {
        DriverKind::Inproc => Ok(Selected::Inproc(InprocDriver::new())),
        DriverKind::Sim => Ok(Selected::Sim(SimDriver::new())),
        DriverKind::Container => Ok(Selected::Container(ContainerDriver::connect().await?)),
        DriverKind::External => Err(DriverError::Unusable(
            "the external driver checks a deployment described in a target file: `tollgate conform --target FILE`".into(),
        )),
    }
}

/// A way to run topologies.
pub trait Driver {
    type Target: Target;

    fn kind(&self) -> DriverKind;

    /// Whether it can boot a topology with edited `deployment.toml` files
    /// (`topology.overrides`); a scenario that needs that is skipped on a driver that cannot.
    fn edits_topologies(&self) -> bool {
        true
    }

    /// Boots the topology at `topology_dir` with `seed`, the topology's edits applied.
    fn boot(
        &self,
        topology_dir: &std::path::Path,
        seed: u64,
    ) -> impl Future<Output = Result<Self::Target, DriverError>>;
}

/// Why a gateway did not reach a state in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReached {
    /// What was last seen, for the report.
    pub last_seen: String,
}

/// Awaits `gateway` serving `revision_id` of `api_id` (its sync status, no polling), for the
/// drivers that hold the gateway's handle (in-process, simulated).
pub(crate) async fn wait_for_revision_on(
    handle: Option<&tollgate_gateway::GatewayHandle>,
    gateway: &str,
    api_id: &str,
    revision_id: &str,
    timeout: Duration,
) -> Result<(), NotReached> {
    let Some(handle) = handle else {
        return Err(NotReached {
            last_seen: format!("no running gateway named `{gateway}`"),
        });
    };
    let mut status = handle.gateway().subscribe_status();
    let serves = |s: &tollgate_protocol::internal::SyncStatus| {
        s.apis.get(api_id).is_some_and(|r| r == revision_id)
    };
    match tokio::time::timeout(timeout, status.wait_for(serves)).await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(NotReached {
            last_seen: match handle.status().apis.get(api_id) {
                Some(r) => format!("`{gateway}` serves revision id {r} of the API"),
                None => format!("`{gateway}` does not serve the API"),
            },
        }),
    }
}

/// The black-box propagation bound when a target does not say otherwise.
pub const DEFAULT_PROPAGATION: Duration = Duration::from_secs(60);

/// Why a target could not do what a step asked.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("the topology has no member `{0}`")]
    UnknownMember(String),
    #[error("`{0}` is not running")]
    NotRunning(String),
    /// A path under a node's home that leaves it (`..`, absolute).
    #[error("`{0}` is not a path inside the node's home")]
    OutsideHome(String),
    /// The member or its runtime (the container engine, a listener, a file) failed.
    #[error("{0}")]
    Failed(String),
}

/// A booted topology as every driver gives it: URLs, a client, the clock's reading. What a
/// driver can do beyond that is a capability trait ([`Signals`], [`VirtualClock`], [`Faults`],
/// [`Disk`], [`DecisionView`]) that its target implements and hands out through the accessor of
/// the same name; the defaults answer `None`, and a step that needs a capability the
/// target lacks is skipped with the reason.
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

    /// The wall clock, Unix milliseconds.
    fn now_millis(&self) -> i64;

    /// The clock every node of the topology reads, when the harness holds it (in-process): a
    /// transcript is stamped by it. `None` where each node keeps its own.
    fn shared_clock(&self) -> Option<tollgate_protocol::SharedClock> {
        None
    }

    /// Sends what the nodes apply and decide (events, snapshots, Traffic Manager decisions) to
    /// `transcript`, when the driver runs the nodes itself (in-process, simulated). A driver
    /// whose nodes are processes (containers, a deployment) cannot: the default does nothing.
    fn record_into(&self, _transcript: &crate::transcript::Transcript) {}

    /// Where the topology listens (an address, a URL), for humans; volatile.
    fn location(&self) -> String;

    fn shutdown(self) -> impl Future<Output = ()>;

    /// The control plane's admin user and password, for the runner's REST session.
    fn admin_credentials(&self) -> (String, String) {
        ("admin".to_owned(), "admin".to_owned())
    }

    /// What every API and application name the runner creates starts with (contexts too), so
    /// runs sharing a deployment never collide. `None` (a topology booted for the scenario):
    /// names as written.
    fn run_prefix(&self) -> Option<&str> {
        None
    }

    /// Whether the runner deletes what a scenario created when it ends: on a deployment that
    /// outlives the run, unless kept for debugging. A booted topology is thrown away whole.
    fn cleans_up(&self) -> bool {
        false
    }

    /// How long a change may take to show on the gateways when the runner converges black-box
    /// (without [`Signals`]): past it, the request fails as `propagation-lost`.
    fn propagation(&self) -> Duration {
        DEFAULT_PROPAGATION
    }

    /// Convergence signals, when the driver can see inside the nodes. Without them the runner
    /// converges black-box: a gateway request after a change is retried until its expectation
    /// holds on consecutive tries, within the propagation bound.
    fn signals(&self) -> Option<&impl Signals> {
        None::<&Unsupported>
    }

    /// The topology's clock, when the driver can move it.
    fn clock(&mut self) -> Option<&mut impl VirtualClock> {
        None::<&mut Unsupported>
    }

    /// Fault injection, when the driver can.
    fn faults(&mut self) -> Option<&mut impl Faults> {
        None::<&mut Unsupported>
    }

    /// The nodes' disks, when the driver can reach them.
    fn disk(&mut self) -> Option<&mut impl Disk> {
        None::<&mut Unsupported>
    }

    /// The gateways' throttle decisions, when the driver can see them.
    fn decisions(&self) -> Option<&impl DecisionView> {
        None::<&Unsupported>
    }

    /// What this target can do, as its accessors answer.
    fn capabilities(&mut self) -> Vec<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|capability| match capability {
                Capability::Signals => self.signals().is_some(),
                Capability::VirtualTime => self.clock().is_some(),
                Capability::Faults => self.faults().is_some(),
                Capability::Disk => self.disk().is_some(),
                Capability::DecisionView => self.decisions().is_some(),
            })
            .collect()
    }
}

/// What the nodes say of their progress ([`Capability::Signals`]): the runner awaits these
/// instead of polling.
pub trait Signals {
    /// The sequence number of the last event the control plane published.
    fn event_seq(&self) -> impl Future<Output = u64>;

    /// Waits until `gateway` has applied event `seq`.
    fn wait_for_seq(
        &self,
        gateway: &str,
        seq: u64,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), NotReached>>;

    /// Waits until `gateway` serves revision `revision_id` of API `api_id`.
    fn wait_for_revision(
        &self,
        gateway: &str,
        api_id: &str,
        revision_id: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), NotReached>>;

    /// Waits until every Traffic Manager of the topology has applied control-plane event
    /// `seq` (its policies), so the next request is counted against them.
    fn wait_for_traffic_managers(
        &self,
        seq: u64,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), NotReached>>;
}

/// A topology clock the harness moves ([`Capability::VirtualTime`]).
pub trait VirtualClock {
    /// Moves the clock to `millis` (never backwards) on every member.
    fn move_to(&mut self, millis: i64) -> impl Future<Output = Result<(), TargetError>>;

    /// After the clock moved: the Traffic Managers roll their windows now rather than at their
    /// next periodic tick.
    fn roll_traffic_managers(&self);
}

/// Faults injected into a running topology ([`Capability::Faults`]).
pub trait Faults {
    /// Why this target cannot inject `fault` (a member the driver cannot fault on its own):
    /// the step is then skipped with this reason. `None`: it can.
    fn cannot(&self, _fault: &tollgate_scenario::Fault) -> Option<String> {
        None
    }

    /// Injects `fault`; a restart returns once the member is ready.
    fn inject(
        &mut self,
        fault: &tollgate_scenario::Fault,
    ) -> impl Future<Output = Result<(), TargetError>>;
}

/// The nodes' runtime homes (WSO2's `<APIM_HOME>`), whether a node runs or not
/// ([`Capability::Disk`]).
pub trait Disk {
    /// Writes `content` to `relative_path` (no `..`) under `instance`'s home, creating folders:
    /// a file put on the node's disk, read by a gateway at its next start.
    fn place_file(
        &mut self,
        instance: &str,
        relative_path: &str,
        content: Vec<u8>,
    ) -> impl Future<Output = Result<(), TargetError>>;

    /// The content of `relative_path` under `instance`'s home; `Ok(None)` when there is no such
    /// file.
    fn read_file(
        &self,
        instance: &str,
        relative_path: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, TargetError>>;
}

/// The Traffic Manager decisions gateways hold ([`Capability::DecisionView`]).
pub trait DecisionView {
    /// Waits until `gateway` holds (`throttled`), or no longer holds, a decision throttling
    /// `key` at the topology's clock.
    fn wait_for_throttle(
        &self,
        gateway: &str,
        key: &str,
        throttled: bool,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), NotReached>>;
}

/// The type a [`Target`] accessor's default `None` names: no value of it exists.
#[derive(Debug)]
pub enum Unsupported {}

impl Signals for Unsupported {
    async fn event_seq(&self) -> u64 {
        match *self {}
    }

    async fn wait_for_seq(
        &self,
        _gateway: &str,
        _seq: u64,
        _timeout: Duration,
    ) -> Result<(), NotReached> {
        match *self {}
    }

    async fn wait_for_revision(
        &self,
        _gateway: &str,
        _api_id: &str,
        _revision_id: &str,
        _timeout: Duration,
    ) -> Result<(), NotReached> {
        match *self {}
    }

    async fn wait_for_traffic_managers(
        &self,
        _seq: u64,
        _timeout: Duration,
    ) -> Result<(), NotReached> {
        match *self {}
    }
}

impl VirtualClock for Unsupported {
    async fn move_to(&mut self, _millis: i64) -> Result<(), TargetError> {
        match *self {}
    }

    fn roll_traffic_managers(&self) {
        match *self {}
    }
}

impl Faults for Unsupported {
    async fn inject(&mut self, _fault: &tollgate_scenario::Fault) -> Result<(), TargetError> {
        match *self {}
    }
}

impl Disk for Unsupported {
    async fn place_file(
        &mut self,
        _instance: &str,
        _relative_path: &str,
        _content: Vec<u8>,
    ) -> Result<(), TargetError> {
        match *self {}
    }

    async fn read_file(
        &self,
        _instance: &str,
        _relative_path: &str,
    ) -> Result<Option<Vec<u8>>, TargetError> {
        match *self {}
    }
}

impl DecisionView for Unsupported {
    async fn wait_for_throttle(
        &self,
        _gateway: &str,
        _key: &str,
        _throttled: bool,
        _timeout: Duration,
    ) -> Result<(), NotReached> {
        match *self {}
    }
}
