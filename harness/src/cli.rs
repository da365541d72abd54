//! The `tollgate` command.
//!
//! - `tollgate run [PATHS...] [--driver inproc|sim|container] [--seed N] [--seeds A..B] [--tags t1,t2] [--json F] [--junit F]
//!   [--transcript F] [--check-determinism]` runs scenario files (default `scenarios/`, recursing, skipping `topologies/`) and prints
//!   the report; exit 0 only when none failed (skips do not fail), 1 when one did, 2 when a
//!   scenario file is wrong (every error printed with its place) or the driver is not built.
//! - `tollgate up [TOPOLOGY] [--seed N] [--address IP]` boots a topology in-process (default:
//!   the guide's, on 127.0.0.1 with the guide's ports), prints every endpoint and waits for
//!   Ctrl-C.
//! - `tollgate bench [TOPOLOGY] [--mode open|closed] [--rate N | --find-max] ...` measures the
//!   topology's gateway paths against `direct` and `nginx` (see [`crate::bench`]).
//! - `tollgate node --config deployment.toml [--seed N] [--address IP]` runs one node of
//!   whatever `server_role` the file names, on its own sockets (manual runs): the same run as
//!   `tollgate-node node` ([`tollgate_node::run::node`]), the container image's program.
//! - `tollgate load-balancer --topology DIR --name NAME` runs a topology's `[[load_balancer]]`:
//!   `tollgate-node load-balancer` given that load balancer's gateways.
//! - `tollgate soak [--duration 60s] [--connections 4]` sends valid and hostile traffic through
//!   the guide's topology (in-process, loopback) and reports RSS and open fds at start and end;
//!   exit 1 when an answer was not the one it must be.
//!
//! Exit codes: 0 after a clean Ctrl-C; 2 when a configuration is wrong (every diagnostic is
//! printed as `file:line:col: key: message`); 1 when the topology cannot start (a port is
//! taken, a node fails).

use crate::driver::{DriverArg, Selected};
use crate::inproc::{BootOptions, RunningTopology};
use crate::topology::Topology;
use clap::{Parser, Subcommand};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tollgate_node::PortRole;
use tollgate_node::run::{LoadBalancerArgs, NetworkArgs, NodeArgs, RunError, StopSignals};
use tollgate_protocol::{SharedClock, SystemClock};
use tollgate_scenario::Driver as DriverKind;

/// Exit code for a configuration that does not load.
pub const EXIT_CONFIG: u8 = tollgate_node::run::EXIT_CONFIG;
/// Exit code for a topology or node that cannot start.
pub const EXIT_START: u8 = tollgate_node::run::EXIT_START;
/// Exit code of `tollgate run` when a scenario failed.
pub const EXIT_FAILED: u8 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "A WSO2 API Manager 4.x multi-gateway deployment, reimplemented: boot it, explore it, test it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenario files on a driver and report: terminal, and optionally JSON and JUnit XML.
    Run {
        /// Scenario files or folders (recursively, skipping topologies/); default scenarios/.
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "inproc")]
        driver: DriverArg,
        /// Seed for every scenario (default: TOLLGATE_SEED, else each file's own).
        #[arg(long)]
        seed: Option<u64>,
        /// Only scenarios with one of these tags (comma-separated).
        #[arg(long)]
        tags: Option<String>,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also write the report as JUnit XML to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// How many scenarios run at once (default: twice the cores).
        #[arg(long)]
        parallel: Option<usize>,
        /// Write the run's transcript (JSON lines, virtual time, closed by its SHA-256) to
        /// this file (in-process and simulated drivers).
        #[arg(long)]
        transcript: Option<PathBuf>,
        /// Run everything twice and compare the transcripts: print the first line that
        /// differs, and fail when one does.
        #[arg(long)]
        check_determinism: bool,
        /// Run the selection once per seed of `FIRST..=LAST` (`1..100`): one line per seed
        /// (results, transcript hash with `--check-determinism`), then the failing seeds'
        /// replay commands and the wall time. Under `--driver sim` each seed also draws other
        /// network latencies and orderings.
        #[arg(long, value_parser = parse_seeds, conflicts_with_all = ["seed", "transcript", "json", "junit"])]
        seeds: Option<std::ops::RangeInclusive<u64>>,
    },
    /// Check another deployment (a WSO2 API Manager 4.x, another gateway, `tollgate up`) with
    /// the scenarios, through its public URLs only, and report by profile: exit 0 only when
    /// every selected profile's core tests all pass.
    Conform(crate::conform::ConformArgs),
    /// Boot a topology (in-process, or in Docker containers), print its endpoints, run until
    /// Ctrl-C.
    Up {
        /// A topology folder, or a name under scenarios/topologies/.
        #[arg(default_value = "guide")]
        topology: String,
        #[arg(long, value_enum, default_value = "inproc")]
        driver: DriverArg,
        /// Seed for every id, key and token.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Loopback address every listener binds (ports stay the guide's).
        #[arg(long, default_value_t = crate::address::DEFAULT_ADDRESS)]
        address: IpAddr,
    },
    /// Run one node of whatever server_role its deployment.toml names (as `tollgate-node node`).
    Node(NodeArgs),
    /// Valid and hostile traffic through the guide's topology, in-process on loopback, for a
    /// set time; reports RSS and open file descriptors at start and end.
    Soak {
        /// How long the traffic runs (`90s`, `30m`).
        #[arg(long, default_value = "60s", value_parser = tollgate_scenario::parse_duration)]
        duration: std::time::Duration,
        /// Concurrent clients, each one connection at a time.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Seed for every id, key and token.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Benchmark a topology's gateway against its backend reached directly and through nginx.
    Bench(crate::bench::BenchArgs),
    /// Run a topology's `[[load_balancer]]` on its own sockets (manual runs): `tollgate-node
    /// load-balancer` with the gateways it fronts.
    LoadBalancer {
        /// The topology folder (or its topology.toml).
        #[arg(long)]
        topology: PathBuf,
        /// The load balancer's name in the topology.
        #[arg(long)]
        name: String,
        /// Address to bind (0.0.0.0 in a container).
        #[arg(long, default_value_t = crate::address::DEFAULT_ADDRESS)]
        address: IpAddr,
        #[command(flatten)]
        network: NetworkArgs,
    },
}

/// Runs the parsed command to completion.
pub async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run {
            paths,
            driver,
            seed,
            tags,
            json,
            junit,
            parallel,
            transcript,
            check_determinism,
            seeds,
        } => {
            let options = RunCommand {
                paths,
                driver: driver.0,
                seed,
                tags,
                json,
                junit,
                parallel,
                transcript,
                check_determinism,
                seeds,
            };
            run_scenarios(options).await
        }
        Command::Up {
            topology,
            driver,
            seed,
            address,
        } => match driver.0 {
            DriverKind::Inproc => up(&topology, seed, address).await,
            DriverKind::Container => up_in_containers(&topology, seed).await,
            DriverKind::Sim => {
                eprintln!(
                    "tollgate up: a simulated topology lives only inside a scenario's simulation \
                     (nothing outside it can reach its sockets): `tollgate run --driver sim`"
                );
                ExitCode::from(EXIT_CONFIG)
            }
            other => {
                let error = crate::driver::DriverError::NotAvailable(other.name().to_owned());
                eprintln!("tollgate up: {error}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Command::Node(args) => reported(tollgate_node::run::node(args).await),
        Command::LoadBalancer {
            topology,
            name,
            address,
            network,
        } => load_balancer(&topology, &name, address, network).await,
        Command::Soak {
            duration,
            connections,
            seed,
        } => soak(duration, connections, seed).await,
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Conform(args) => crate::conform::run(args).await,
    }
}

async fn up(topology: &str, seed: u64, address: IpAddr) -> ExitCode {
    let path = crate::resolve_topology(topology);
    let topology = match Topology::load(&path) {
        Ok(topology) => topology,
        Err(errors) => {
            eprintln!("tollgate: topology {} does not load:", path.display());
            for error in &errors.0 {
                eprintln!("{error}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for warning in &topology.warnings {
        eprintln!("warning: {warning}");
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let running = match crate::inproc::boot(&topology, BootOptions::new(seed, clock, address)).await
    {
        Ok(running) => running,
        Err(error) => {
            eprintln!("tollgate: {error}");
            return ExitCode::from(EXIT_START);
        }
    };
    let stop = StopSignals::listen();
    print!("{}", describe(&topology, &running));
    stop.wait().await;
    eprintln!("tollgate: stopping");
    running.shutdown().await;
    ExitCode::SUCCESS
}

async fn up_in_containers(topology: &str, seed: u64) -> ExitCode {
    use crate::driver::{ContainerDriver, Driver};
    let path = crate::resolve_topology(topology);
    let driver = match ContainerDriver::connect().await {
        Ok(driver) => driver.with_system_clocks(),
        Err(error) => {
            eprintln!("tollgate up: {error}");
            return ExitCode::from(EXIT_START);
        }
    };
    let target = match driver.boot(&path, seed).await {
        Ok(target) => target,
        Err(error @ crate::driver::DriverError::Topology { .. }) => {
            eprintln!("tollgate up: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(error) => {
            eprintln!("tollgate up: {error}");
            return ExitCode::from(EXIT_START);
        }
    };
    let stop = StopSignals::listen();
    print!("{}", target.describe());
    stop.wait().await;
    eprintln!("tollgate: stopping (removing the containers and the network)");
    crate::driver::Target::shutdown(target).await;
    ExitCode::SUCCESS
}

async fn soak(duration: std::time::Duration, connections: usize, seed: u64) -> ExitCode {
    let path = crate::resolve_topology("guide");
    let topology = match Topology::load(&path) {
        Ok(topology) => topology,
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("{error}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let options = crate::soak::SoakOptions {
        duration,
        connections,
        seed,
    };
    match crate::soak::soak(&topology, &options).await {
        Ok(report) => {
            print!("{report}");
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("tollgate soak: {error}");
            ExitCode::from(EXIT_START)
        }
    }
}

/// The endpoint listing `tollgate up` prints, in the spirit of WSO2's start-up console lines.
pub fn describe(topology: &Topology, running: &RunningTopology) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Tollgate topology `{}`: {}\n  seed {}, listening on {}",
        topology.name, topology.description, running.seed, running.address
    );
    if running.address != crate::address::DEFAULT_ADDRESS {
        let _ = writeln!(
            out,
            "  hostnames resolve to {0}: curl -k --connect-to localhost::{0}: https://localhost:9443/...",
            running.address
        );
    }
    for node in &running.nodes {
        let Some(instance) = topology.instance(&node.name) else {
            continue;
        };
        let _ = writeln!(
            out,
            "\n{} ({}, offset {}, {})",
            node.name,
            node.role.as_str(),
            instance.config.server.offset,
            instance.file.display()
        );
        if let Some(mgmt) = node.endpoint(PortRole::MgmtHttps) {
            let base = &mgmt.url;
            if node.role.runs_control_plane() {
                let lines = [
                    ("Publisher REST API", format!("{base}/api/am/publisher/v4")),
                    (
                        "Developer Portal REST API",
                        format!("{base}/api/am/devportal/v3"),
                    ),
                    (
                        "Client registration (DCR)",
                        format!("{base}/client-registration/v0.17/register"),
                    ),
                    ("Token endpoint", format!("{base}/oauth2/token")),
                    ("JWKS", format!("{base}/oauth2/jwks")),
                    ("Event hub", format!("{base}/internal/data/v1")),
                ];
                for (what, url) in lines {
                    let _ = writeln!(out, "  {what:<27}: {url}");
                }
            }
            if node.role.runs_gateway() {
                let _ = writeln!(
                    out,
                    "  {:<27}: {base}/api/am/gateway/v2",
                    "Gateway management"
                );
            }
        }
        if let Some(servlet) = node.endpoint(PortRole::ServletHttp) {
            let _ = writeln!(out, "  {:<27}: {}", "Servlet HTTP", servlet.url);
        }
        for role in [PortRole::PassthruHttp, PortRole::PassthruHttps] {
            if let Some(endpoint) = node.endpoint(role) {
                let _ = writeln!(out, "  {:<27}: {}", role.to_string(), endpoint.url);
            }
        }
        if node.role.runs_gateway() {
            let labels = instance.config.sync_gateway.gateway_labels.join("\", \"");
            let _ = writeln!(out, "  {:<27}: [\"{labels}\"]", "gateway_labels");
        }
    }
    let environments = topology
        .control_planes()
        .next()
        .map(|cp| cp.config.environments.clone())
        .unwrap_or_default();
    if !environments.is_empty() {
        let _ = writeln!(
            out,
            "\nGateway environments (as the Developer Portal lists them)"
        );
        for env in &environments {
            let served_by: Vec<&str> = topology
                .instances
                .iter()
                .filter(|i| i.role().runs_gateway())
                .filter(|i| i.config.sync_gateway.gateway_labels.contains(&env.name))
                .map(|i| i.name.as_str())
                .collect();
            let urls: Vec<String> = env
                .vhosts
                .first()
                .map(|v| vec![v.http_url(), v.https_url()])
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<27}: {} (type {}, served by {})",
                env.name,
                urls.join("  "),
                env.kind.as_str(),
                if served_by.is_empty() {
                    "no instance".to_owned()
                } else {
                    served_by.join(", ")
                }
            );
        }
    }
    if !topology.backends.is_empty() {
        let _ = writeln!(out, "\nMock backends");
        for backend in &topology.backends {
            let _ = writeln!(
                out,
                "  {:<27}: {} ({} endpoint)",
                backend.name, backend.url, backend.endpoint
            );
        }
    }
    for lb in &topology.load_balancers {
        let _ = writeln!(
            out,
            "\n{} (load balancer in front of {})",
            lb.name,
            lb.fronts.join(", ")
        );
        for https in [false, true] {
            if let Some(url) = running.load_balancer_url(&lb.name, https) {
                let scheme = if https { "HTTPS" } else { "HTTP" };
                let _ = writeln!(out, "  {:<27}: {url}", format!("API traffic ({scheme})"));
            }
        }
    }
    let _ = writeln!(out, "\nReady. Ctrl-C stops.");
    out
}

/// A node's or load balancer's run, its error printed as `tollgate` reports it.
fn reported(result: Result<(), RunError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error.report("tollgate");
            ExitCode::from(error.exit_code())
        }
    }
}

/// `tollgate load-balancer`: the topology's load balancer `name`, run as `tollgate-node
/// load-balancer` with the gateways it fronts.
async fn load_balancer(
    topology: &std::path::Path,
    name: &str,
    address: IpAddr,
    network: NetworkArgs,
) -> ExitCode {
    let topology = match Topology::load(topology) {
        Ok(topology) => topology,
        Err(errors) => {
            eprintln!("tollgate: topology {} does not load:", topology.display());
            for error in &errors.0 {
                eprintln!("{error}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let args = match load_balancer_args(&topology, name) {
        Ok(args) => LoadBalancerArgs {
            address,
            network,
            ..args
        },
        Err(message) => {
            eprintln!("tollgate: {message}");
            return ExitCode::from(EXIT_START);
        }
    };
    reported(tollgate_node::run::load_balancer(args).await)
}

/// What `tollgate-node load-balancer` needs to run `topology`'s load balancer `name` (on the
/// default address, with no network arguments).
fn load_balancer_args(topology: &Topology, name: &str) -> Result<LoadBalancerArgs, String> {
    let spec = topology.load_balancer(name).ok_or_else(|| {
        let names: Vec<&str> = topology
            .load_balancers
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        format!(
            "topology `{}` has no load balancer `{name}` (it has: {})",
            topology.name,
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )
    })?;
    Ok(LoadBalancerArgs {
        name: spec.name.clone(),
        http: spec.http,
        https: spec.https,
        gateways: crate::topology::gateway_nodes(&topology.instances, spec)?,
        address: tollgate_node::run::DEFAULT_ADDRESS,
        network: NetworkArgs::default(),
    })
}

/// `tollgate run`'s arguments.
#[derive(Debug, Clone)]
pub struct RunCommand {
    pub paths: Vec<PathBuf>,
    pub driver: DriverKind,
    pub seed: Option<u64>,
    pub tags: Option<String>,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub parallel: Option<usize>,
    pub transcript: Option<PathBuf>,
    pub check_determinism: bool,
    pub seeds: Option<std::ops::RangeInclusive<u64>>,
}

/// `FIRST..LAST`, both included.
fn parse_seeds(text: &str) -> Result<std::ops::RangeInclusive<u64>, String> {
    let (first, last) = text
        .split_once("..")
        .ok_or_else(|| format!("`{text}`: expected FIRST..LAST, e.g. 1..100"))?;
    let number = |s: &str| {
        s.trim_start_matches('=')
            .parse::<u64>()
            .map_err(|e| format!("`{s}`: {e}"))
    };
    let (first, last) = (number(first)?, number(last)?);
    if first > last {
        return Err(format!("`{text}`: {first} is after {last}"));
    }
    Ok(first..=last)
}

/// `tollgate run`: see the module docs for exit codes.
pub async fn run_scenarios(options: RunCommand) -> ExitCode {
    use crate::runner;
    let usage = |message: String| {
        eprintln!("tollgate run: {message}");
        ExitCode::from(EXIT_CONFIG)
    };
    let kind = options.driver;
    let seed = match options
        .seed
        .map_or_else(runner::seed_from_env, |s| Ok(Some(s)))
    {
        Ok(seed) => seed,
        Err(error) => return usage(error.to_string()),
    };
    let tags = match options.tags.as_deref().map(runner::parse_tags).transpose() {
        Ok(tags) => tags.unwrap_or_default(),
        Err(error) => return usage(error.to_string()),
    };
    let paths = if options.paths.is_empty() {
        let local = PathBuf::from("scenarios");
        vec![if local.is_dir() {
            local
        } else {
            crate::workspace_root().map_or(local, |root| root.join("scenarios"))
        }]
    } else {
        options.paths
    };
    let files = match runner::discover(&paths) {
        Ok(files) => files,
        Err(error) => return usage(error.to_string()),
    };
    let (scenarios, errors) = runner::load_all(&files);
    if !errors.is_empty() {
        let count: usize = errors.iter().map(|e| e.len()).sum();
        for file_errors in &errors {
            for error in file_errors {
                eprintln!("{error}");
            }
        }
        return usage(format!(
            "{count} error{} in {} scenario file{}; nothing was run",
            if count == 1 { "" } else { "s" },
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        ));
    }
    let scenarios: Vec<_> = scenarios
        .into_iter()
        .filter(|s| runner::selected(s, &tags))
        .collect();
    if scenarios.is_empty() {
        return usage("no scenario file matches".into());
    }
    let progress = crate::report::terminal::Progress::new(scenarios.len());
    let parallel = options.parallel.unwrap_or_else(runner::default_parallelism);
    let driver = match crate::driver::select(kind).await {
        Ok(driver) => driver,
        Err(error) => return usage(error.to_string()),
    };
    if let Some(seeds) = options.seeds {
        drop(progress);
        let check = options.check_determinism;
        return match &driver {
            Selected::Inproc(d) => {
                let run = |seed, record| {
                    runner::run_all_with(d, &scenarios, Some(seed), parallel, record, &|_| {})
                };
                sweep(run, seeds, check).await
            }
            Selected::Sim(d) => {
                let run =
                    |seed, record| d.run_all(&scenarios, Some(seed), parallel, record, &|_| {});
                sweep(run, seeds, check).await
            }
            Selected::Container(_) => {
                usage("--seeds runs on the inproc and sim drivers only".into())
            }
        };
    }
    let done = |r: &crate::report::ScenarioReport| progress.done(r);
    let recording = options.transcript.is_some() || options.check_determinism;
    let record = if recording {
        if matches!(driver, Selected::Container(_)) {
            return usage(format!(
                "--transcript and --check-determinism need a driver whose clock the harness \
                 holds (inproc, sim), not `{}`",
                kind.name()
            ));
        }
        runner::Record::Transcript
    } else {
        runner::Record::Nothing
    };
    let report = match &driver {
        Selected::Inproc(d) => {
            runner::run_all_with(d, &scenarios, seed, parallel, record, &done).await
        }
        Selected::Sim(d) => d.run_all(&scenarios, seed, parallel, record, &done).await,
        Selected::Container(d) => {
            // Each scenario boots a container per member: more at once only thrash 2 cores.
            let parallel = options.parallel.unwrap_or(1);
            if let Err(error) = d.image().await {
                return usage(error.to_string());
            }
            runner::run_all(d, &scenarios, seed, parallel, &done).await
        }
    };
    progress.finish();
    print!("{}", crate::report::terminal::render(&report));
    if let Some(path) = &options.json {
        let written = crate::report::to_json(&report)
            .map_err(|e| e.to_string())
            .and_then(|json| std::fs::write(path, json + "\n").map_err(|e| e.to_string()));
        if let Err(error) = written {
            eprintln!("tollgate run: cannot write {}: {error}", path.display());
            return ExitCode::from(EXIT_FAILED);
        }
    }
    if let Some(path) = &options.junit {
        let written = crate::report::junit::render(&report)
            .map_err(|e| e.to_string())
            .and_then(|xml| std::fs::write(path, xml).map_err(|e| e.to_string()));
        if let Err(error) = written {
            eprintln!("tollgate run: cannot write {}: {error}", path.display());
            return ExitCode::from(EXIT_FAILED);
        }
    }
    let transcript = transcript_of(&report);
    if let Some(path) = &options.transcript {
        let mut text = transcript.join("\n");
        text.push('\n');
        if let Err(error) = std::fs::write(path, text) {
            eprintln!("tollgate run: cannot write {}: {error}", path.display());
            return ExitCode::from(EXIT_FAILED);
        }
    }
    let mut deterministic = true;
    // (Refused above on the container driver.)
    let again = match &driver {
        _ if !options.check_determinism => None,
        Selected::Inproc(d) => {
            Some(runner::run_all_with(d, &scenarios, seed, parallel, record, &|_| {}).await)
        }
        Selected::Sim(d) => Some(d.run_all(&scenarios, seed, parallel, record, &|_| {}).await),
        Selected::Container(_) => None,
    };
    if let Some(again) = again {
        let second = transcript_of(&again);
        if crate::transcript::first_difference(&transcript, &second).is_none() {
            println!(
                "determinism: two runs gave the same transcript ({} lines, {})",
                transcript.len(),
                transcript.last().map_or("", String::as_str)
            );
        } else {
            deterministic = false;
            // Per scenario, so one that differs does not hide the others.
            for (a, b) in report.scenarios.iter().zip(&again.scenarios) {
                if let Some((line, first, second)) =
                    crate::transcript::first_difference(&a.transcript, &b.transcript)
                {
                    println!("determinism: {} differs at its line {line}:", a.file);
                    println!("  first:  {}", first.unwrap_or("(ended)"));
                    println!("  second: {}", second.unwrap_or("(ended)"));
                    println!("  replay: {} --check-determinism", a.replay);
                }
            }
        }
    }
    if report.passed() && deterministic {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

/// `tollgate run --seeds`: the selection once per seed (`run(seed, record)`), one line each;
/// with `check`, each seed twice, its transcripts compared.
async fn sweep<F, Fut>(run: F, seeds: std::ops::RangeInclusive<u64>, check: bool) -> ExitCode
where
    F: Fn(u64, crate::runner::Record) -> Fut,
    Fut: std::future::Future<Output = crate::report::RunReport>,
{
    use crate::runner::Record;
    let started = tokio::time::Instant::now();
    let record = if check {
        Record::Transcript
    } else {
        Record::Nothing
    };
    let mut failing: Vec<String> = Vec::new();
    let count = seeds.clone().count();
    for seed in seeds {
        let report = run(seed, record).await;
        let totals = &report.totals;
        let mut line = format!(
            "seed {seed}: {} passed, {} failed, {} skipped",
            totals.passed, totals.failed, totals.skipped
        );
        failing.extend(
            report
                .scenarios
                .iter()
                .filter(|s| s.outcome == crate::report::Outcome::Failed)
                .map(|s| s.replay.clone()),
        );
        if check {
            let again = run(seed, record).await;
            let first = transcript_of(&report);
            let hash = |t: &[String]| {
                t.last()
                    .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .and_then(|v| v["sha256"].as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            line.push_str(&format!("; transcript {}", hash(&first)));
            for (a, b) in report.scenarios.iter().zip(&again.scenarios) {
                if let Some((at, _, _)) =
                    crate::transcript::first_difference(&a.transcript, &b.transcript)
                {
                    line.push_str(&format!("; {} differs at its line {at}", a.file));
                    failing.push(format!("{} --check-determinism", a.replay));
                }
            }
        }
        println!("{line}");
    }
    let wall = started.elapsed();
    println!(
        "{count} seed{} in {:.1} s ({:.2} s a seed)",
        if count == 1 { "" } else { "s" },
        wall.as_secs_f64(),
        wall.as_secs_f64() / count as f64
    );
    if failing.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("replay:");
        for replay in &failing {
            println!("  {replay}");
        }
        ExitCode::from(EXIT_FAILED)
    }
}

/// The run's transcript: per scenario in order, a header line and its lines; then the closing
/// record.
fn transcript_of(report: &crate::report::RunReport) -> Vec<String> {
    let mut lines = Vec::new();
    for scenario in &report.scenarios {
        let header = serde_json::json!({
            "kind": "scenario",
            "file": scenario.file,
            "seed": scenario.seed,
            "outcome": scenario.outcome,
        });
        lines.push(header.to_string());
        lines.extend(scenario.transcript.iter().cloned());
    }
    crate::transcript::closed(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_a_range_with_both_ends_included() {
        assert_eq!(parse_seeds("1..100"), Ok(1..=100));
        assert_eq!(parse_seeds("5..=5"), Ok(5..=5));
        assert!(parse_seeds("3..1").unwrap_err().contains("after"));
        assert!(parse_seeds("7").is_err());
        assert!(parse_seeds("a..2").is_err());
    }
}
