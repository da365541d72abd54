//! The Tollgate harness: boots topologies of Tollgate nodes and is the `tollgate` command.
//!
//! A topology is a folder under `scenarios/topologies/` holding a `topology.toml` and one
//! `deployment.toml` per instance (WSO2's own file, unchanged). The harness loads and checks
//! it, binds every listener on one loopback address (the guide's port numbers), starts mock
//! backends, the control plane, the gateways and then any load balancer, and hands back handles
//! to drive them — and to break them: kill, restart, pause, partition (one fault plane per
//! topology).
//!
//! | module | what it holds |
//! |---|---|
//! | [`topology`] | `topology.toml` + `deployment.toml`s → a checked [`Topology`], and its members' names |
//! | [`address`] | one private loopback address per booted topology |
//! | [`backend`] | mock backends that say who served a request; slow / fail / reset / hang faults |
//! | [`inproc`] | the in-process driver: [`inproc::boot`] → [`inproc::RunningTopology`] (with its load balancers and fault plane) |
//! | [`client`] | a small HTTP(S) client over the nodes' own `Outbound` (host map, trust) |
//! | [`driver`] | `Driver` and `Target`, the capability traits a target implements (clock, faults, disk, decisions); [`driver::InprocDriver`], [`driver::SimDriver`] (turmoil, seeded) and [`driver::ContainerDriver`] |
//! | [`transcript`] | a run's exchanges and what its nodes applied and decided (their taps, [`transcript::TapSlot`]) as JSON lines in virtual time, closed by their SHA-256; the first difference between two |
//! | [`runner`] | scenario files → steps run against a booted topology → a [`report::RunReport`] |
//! | [`report`] | the run told three ways: terminal (with progress), JSON, JUnit XML |
//! | [`conform`] | `tollgate conform`: the scenarios against another deployment through the external driver, and the conformance report |
//! | [`soak`] | `tollgate soak`: valid and hostile traffic through the guide's topology, RSS and open fds at start and end |
//! | [`bench`] | `tollgate bench`: the open-loop load generator, the measured paths, the report and its plot |
//! | [`cli`] | `tollgate run`, `tollgate up`, `tollgate soak`, `tollgate bench`; `tollgate node` and `tollgate load-balancer` (aliases of the `tollgate-node` binary's runs, [`tollgate_node::run`]) |

pub mod address;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod client;
pub mod conform;
pub mod driver;
pub mod inproc;
pub mod report;
pub mod runner;
pub mod soak;
pub mod topology;
pub mod transcript;

pub use inproc::{BootError, BootOptions, RunningTopology, boot, boot_private};
pub use topology::{Topology, TopologyErrors};

use std::path::{Path, PathBuf};

/// The workspace root: the nearest ancestor of the current directory (or of this crate, when
/// run through cargo) holding `scenarios/topologies`.
pub fn workspace_root() -> Option<PathBuf> {
    let from_cwd = std::env::current_dir().ok();
    let from_crate = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    [from_cwd, from_crate]
        .into_iter()
        .flatten()
        .find_map(|start| {
            start
                .ancestors()
                .find(|dir| dir.join("scenarios").join("topologies").is_dir())
                .map(Path::to_path_buf)
        })
}

/// A topology named on the command line: a path as given if it exists, else
/// `scenarios/topologies/<name>` under the workspace root.
pub fn resolve_topology(name_or_path: &str) -> PathBuf {
    let given = PathBuf::from(name_or_path);
    if given.exists() {
        return given;
    }
    match workspace_root() {
        Some(root) => root.join("scenarios").join("topologies").join(name_or_path),
        None => given,
    }
}
