//! The in-process driver: [`crate::inproc`] on a private loopback address per scenario, with a
//! [`ManualClock`] that starts at a fixed instant so tokens, ids and reports are reproducible.

use super::{
    DecisionView, Disk, Driver, DriverError, Faults, NotReached, Signals, Target, TargetError,
    VirtualClock,
};
use crate::client::Client;
use crate::inproc::RunningTopology;
use crate::topology::Topology;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tollgate_node::PortRole;
use tollgate_protocol::{Clock, ManualClock, SharedClock};
use tollgate_scenario::Driver as DriverKind;

/// 2026-01-01T00:00:00Z: every in-process scenario starts its clock here.
pub const START_MILLIS: i64 = 1_767_225_600_000;

/// Boots topologies in this process.
#[derive(Debug, Clone, Default)]
pub struct InprocDriver {
    _private: (),
}

impl InprocDriver {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Driver for InprocDriver {
    type Target = InprocTarget;

    fn kind(&self) -> DriverKind {
        DriverKind::Inproc
    }

    async fn boot(&self, topology_dir: &Path, seed: u64) -> Result<InprocTarget, DriverError> {
        let topology = super::load_topology(topology_dir)?;
        let clock = Arc::new(ManualClock::new(START_MILLIS));
        let shared: SharedClock = clock.clone();
        let running = crate::inproc::boot_private(&topology, seed, shared, Default::default())
            .await
            .map_err(|e| DriverError::Boot {
                topology: topology.name.clone(),
                message: e.to_string(),
            })?;
        Ok(InprocTarget {
            topology,
            running,
            clock,
        })
    }
}

/// A topology booted by [`InprocDriver`].
#[derive(Debug)]
pub struct InprocTarget {
    pub topology: Topology,
    pub running: RunningTopology,
    clock: Arc<ManualClock>,
}

impl InprocTarget {
    fn url(&self, instance: &str, role: PortRole) -> Option<String> {
        self.running
            .node(instance)
            .and_then(|n| n.endpoint(role))
            .map(|e| e.url.clone())
    }
}

impl Target for InprocTarget {
    fn client(&self) -> Client {
        self.running.client()
    }

    fn control_plane_url(&self) -> Option<String> {
        self.running
            .nodes
            .iter()
            .find(|n| n.role.runs_control_plane())
            .and_then(|n| n.endpoint(PortRole::MgmtHttps))
            .map(|e| e.url.clone())
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
            self.running
                .load_balancer(instance)
                .and_then(|_| self.running.load_balancer_url(instance, https))
        })
    }

    fn backend_url(&self, backend: &str) -> Option<String> {
        self.topology.backend(backend).map(|b| b.url.clone())
    }

    fn gateway_names(&self) -> Vec<String> {
        self.running
            .gateways()
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    fn gateways_of(&self, environment: &str) -> Vec<String> {
        self.topology.gateways_of(environment)
    }

    fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }

    fn shared_clock(&self) -> Option<SharedClock> {
        Some(self.clock.clone())
    }

    fn record_into(&self, transcript: &crate::transcript::Transcript) {
        // The nodes run on the runtime's threads: their order against each other is a race.
        transcript.keep_nodes_apart();
        self.running.record_into(transcript);
    }

    fn location(&self) -> String {
        self.running.address.to_string()
    }

    async fn shutdown(self) {
        self.running.shutdown().await;
    }
    fn signals(&self) -> Option<&impl Signals> {
        Some(self)
    }

    fn clock(&mut self) -> Option<&mut impl VirtualClock> {
        Some(self)
    }

    /// Kills, restarts, pauses and partitions go through the topology's fault plane.
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

impl Signals for InprocTarget {
    async fn event_seq(&self) -> u64 {
        self.running.control_plane().map_or(0, |cp| cp.event_seq())
    }

    async fn wait_for_seq(
        &self,
        gateway: &str,
        seq: u64,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        let Some(handle) = self.running.gateway(gateway) else {
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
        let handle = self.running.gateway(gateway);
        super::wait_for_revision_on(handle, gateway, api_id, revision_id, timeout).await
    }

    async fn wait_for_traffic_managers(
        &self,
        seq: u64,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        for node in &self.running.nodes {
            let Some(tm) = node.handle().traffic_manager() else {
                continue;
            };
            if !tm.is_running() {
                // A stopped TM applies nothing; requests fail open meanwhile.
                continue;
            }
            if tokio::time::timeout(timeout, tm.wait_for_seq(seq))
                .await
                .is_err()
            {
                return Err(NotReached {
                    last_seen: format!(
                        "the Traffic Manager of `{}` applied event {} of {seq}",
                        node.name,
                        tm.applied_seq()
                    ),
                });
            }
        }
        Ok(())
    }
}

impl VirtualClock for InprocTarget {
    async fn move_to(&mut self, millis: i64) -> Result<(), TargetError> {
        self.clock.move_to(millis);
        Ok(())
    }

    fn roll_traffic_managers(&self) {
        for node in &self.running.nodes {
            if let Some(tm) = node.handle().traffic_manager() {
                tm.tick();
            }
        }
    }
}

impl Faults for InprocTarget {
    async fn inject(&mut self, fault: &tollgate_scenario::Fault) -> Result<(), TargetError> {
        use tollgate_scenario::Fault;
        let running = &mut self.running;
        let done = match fault {
            Fault::Kill(name) => running.kill(name).await,
            Fault::Restart(name) => running.restart(name).await,
            Fault::Pause(name) => running.pause(name),
            Fault::Resume(name) => running.resume(name),
            Fault::Partition(a, b) => running.partition(a, b),
            Fault::Heal(a, b) => running.heal(a, b),
            Fault::Backend { backend, change } => {
                return running
                    .backend(backend)
                    .ok_or_else(|| TargetError::UnknownMember(backend.clone()))?
                    .control
                    .apply(change)
                    .map_err(TargetError::Failed);
            }
        };
        done.map_err(TargetError::from)
    }
}

impl Disk for InprocTarget {
    async fn place_file(
        &mut self,
        instance: &str,
        relative_path: &str,
        content: Vec<u8>,
    ) -> Result<(), TargetError> {
        self.running
            .place_file(instance, relative_path, &content)
            .map_err(TargetError::Failed)
    }

    async fn read_file(
        &self,
        instance: &str,
        relative_path: &str,
    ) -> Result<Option<Vec<u8>>, TargetError> {
        self.running
            .read_file(instance, relative_path)
            .map_err(TargetError::Failed)
    }
}

impl DecisionView for InprocTarget {
    async fn wait_for_throttle(
        &self,
        gateway: &str,
        key: &str,
        throttled: bool,
        timeout: Duration,
    ) -> Result<(), NotReached> {
        let Some(handle) = self.running.gateway(gateway) else {
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
        // The follower applies a decision to the holder before it bumps its status, so every
        // change of the status is a moment to look at the holder again.
        let clock = self.clock.clone();
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

/// What a fault's failure means to the runner.
impl From<crate::inproc::BootError> for TargetError {
    fn from(error: crate::inproc::BootError) -> Self {
        use crate::inproc::BootError;
        match error {
            BootError::UnknownInstance(name) => Self::UnknownMember(name),
            BootError::NotRunning(name) => Self::NotRunning(name),
            other => Self::Failed(other.to_string()),
        }
    }
}
