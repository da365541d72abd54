//! The `tollgate` command.
//!
//! - `tollgate run [PATHS...] [--driver inproc] [--seed N] [--tags t1,t2] [--json F] [--junit F]`
//!   runs scenario files (default `scenarios/`, recursing, skipping `topologies/`) and prints
//!   the report; exit 0 only when none failed (skips do not fail), 1 when one did, 2 when a
//!   scenario file is wrong (every error printed with its place) or the driver is not built.
//! - `tollgate up [TOPOLOGY] [--seed N] [--address IP]` boots a topology in-process (default:
//!   the guide's, on 127.0.0.1 with the guide's ports), prints every endpoint and waits for
//!   Ctrl-C.
//! - `tollgate bench [TOPOLOGY] [--mode open|closed] [--rate N | --find-max] ...` measures the
//!   topology's gateway paths against `direct` and `nginx` (see [`crate::bench`]).
//! - `tollgate node --config deployment.toml [--seed N] [--address IP]` runs one node of
//!   whatever `server_role` the file names, on its own sockets (containers, manual runs).
//! - `tollgate soak [--duration 60s] [--connections 4]` sends valid and hostile traffic through
//!   the guide's topology (in-process, loopback) and reports RSS and open fds at start and end;
//!   exit 1 when an answer was not the one it must be.
//!
//! Exit codes: 0 after a clean Ctrl-C; 2 when a configuration is wrong (every diagnostic is
//! printed as `file:line:col: key: message`); 1 when the topology cannot start (a port is
//! taken, a node fails).

use crate::driver::Selected;
use crate::inproc::{BootOptions, RunningTopology};
use crate::topology::Topology;
use clap::{Parser, Subcommand};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tollgate_config::model::DeploymentConfig;
use tollgate_net::{HostMap, Outbound};
use tollgate_node::{NodeListeners, NodeResources, PortRole};
use tollgate_protocol::internal::NODE_CLOCK;
use tollgate_protocol::{ManualClock, SharedClock, SystemClock};

/// Exit code for a configuration that does not load.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a topology or node that cannot start.
pub const EXIT_START: u8 = 1;
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
        /// inproc or container (sim and external are planned).
        #[arg(long, default_value = "inproc")]
        driver: String,
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
    },
    /// Boot a topology (in-process, or in Docker containers), print its endpoints, run until
    /// Ctrl-C.
    Up {
        /// A topology folder, or a name under scenarios/topologies/.
        #[arg(default_value = "guide")]
        topology: String,
        /// inproc (every node in this process) or container (each in its own container).
        #[arg(long, default_value = "inproc")]
        driver: String,
        /// Seed for every id, key and token.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Loopback address every listener binds (ports stay the guide's).
        #[arg(long, default_value_t = crate::address::DEFAULT_ADDRESS)]
        address: IpAddr,
    },
    /// Run one node of whatever server_role its deployment.toml names.
    Node {
        /// The node's deployment.toml.
        #[arg(long)]
        config: PathBuf,
        /// Seed for every id, key and token.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Address to bind (0.0.0.0 in a container). A loopback address other than 127.0.0.1
        /// also becomes what `localhost` resolves to, so several nodes run by hand on
        /// 127.0.0.2 find each other as an in-process topology's nodes do.
        #[arg(long, default_value_t = crate::address::DEFAULT_ADDRESS)]
        address: IpAddr,
        /// Node name for logs and seeds; defaults to the config's folder name.
        #[arg(long)]
        name: Option<String>,
        /// The node's runtime home (WSO2's `<APIM_HOME>`), where a gateway keeps its API files
        /// and a control plane its database across restarts (delete the folder to start
        /// empty); defaults to `tollgate/<name>` in the system's temporary folder.
        #[arg(long, value_name = "DIR")]
        home: Option<PathBuf>,
        /// Run on a test clock starting at this instant instead of the system clock: virtual
        /// time for a harness outside the process (the container driver), moved forward with
        /// `PUT /_tollgate/clock` on the management port. Off unless given. A
        /// `tollgate-virtual-clock` file in the runtime home (Unix milliseconds, written by the
        /// harness before a restart) starts it there instead, so a restarted node keeps the
        /// topology's time.
        #[arg(long, value_name = "UNIX_MILLIS")]
        virtual_clock: Option<i64>,
        #[command(flatten)]
        network: NetworkArgs,
    },
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
    /// Run a topology's `[[load_balancer]]` on its own sockets (containers, manual runs).
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

/// Where a node's outbound connections go, beyond the system's resolver.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NetworkArgs {
    /// `HOST=IP`: resolve HOST to IP, as an /etc/hosts line would (repeatable).
    #[arg(long = "host", value_name = "HOST=IP", value_parser = parse_host)]
    pub hosts: Vec<(String, IpAddr)>,
    /// `HOST:PORT=IP:PORT`: connections to HOST:PORT go to IP:PORT (repeatable). How instances
    /// that share one host in the topology (`localhost:9443`, `localhost:9444`) keep finding each
    /// other when each runs in its own container.
    #[arg(long = "route", value_name = "HOST:PORT=IP:PORT", value_parser = parse_route)]
    pub routes: Vec<(String, u16, SocketAddr)>,
}

impl NetworkArgs {
    /// The host map of a node run from the command line: these entries, then the system's
    /// resolver (/etc/hosts, Docker's DNS), as WSO2's nodes resolve names.
    pub fn host_map(&self, address: IpAddr) -> HostMap {
        let mut map = HostMap::new();
        map.use_system_dns = true;
        // Nodes run by hand on a private loopback address find each other there, as in-process
        // topologies do: `localhost` in their files means that address.
        if address.is_loopback() && address != crate::address::DEFAULT_ADDRESS {
            map.insert("localhost", address);
        }
        for (host, ip) in &self.hosts {
            map.insert(host.clone(), *ip);
        }
        for (host, port, to) in &self.routes {
            map.insert_route(host.clone(), *port, *to);
        }
        map
    }
}

fn parse_host(value: &str) -> Result<(String, IpAddr), String> {
    let (host, ip) = value
        .split_once('=')
        .ok_or_else(|| format!("`{value}` is not HOST=IP"))?;
    let ip = ip.parse().map_err(|e| format!("`{ip}`: {e}"))?;
    Ok((host.to_owned(), ip))
}

fn parse_route(value: &str) -> Result<(String, u16, SocketAddr), String> {
    let (from, to) = value
        .split_once('=')
        .ok_or_else(|| format!("`{value}` is not HOST:PORT=IP:PORT"))?;
    let (host, port) = from
        .rsplit_once(':')
        .ok_or_else(|| format!("`{from}` is not HOST:PORT"))?;
    let port = port.parse().map_err(|e| format!("port `{port}`: {e}"))?;
    let to = to.parse().map_err(|e| format!("`{to}`: {e}"))?;
    Ok((host.to_owned(), port, to))
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
        } => {
            let options = RunCommand {
                paths,
                driver,
                seed,
                tags,
                json,
                junit,
                parallel,
            };
            run_scenarios(options).await
        }
        Command::Up {
            topology,
            driver,
            seed,
            address,
        } => match driver.as_str() {
            "inproc" => up(&topology, seed, address).await,
            "container" => up_in_containers(&topology, seed).await,
            other => {
                let error = crate::driver::parse_kind(other).err().map_or_else(
                    || format!("`tollgate up` runs on inproc or container, not `{other}`"),
                    |e| e.to_string(),
                );
                eprintln!("tollgate up: {error}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Command::Node {
            config,
            seed,
            address,
            name,
            home,
            virtual_clock,
            network,
        } => {
            let start = NodeStart {
                seed,
                address,
                name,
                home,
                virtual_clock,
            };
            node(&config, start, &network).await
        }
        Command::LoadBalancer {
            topology,
            name,
            address,
            network,
        } => load_balancer(&topology, &name, address, &network).await,
        Command::Soak {
            duration,
            connections,
            seed,
        } => soak(duration, connections, seed).await,
        Command::Bench(args) => crate::bench::run(args).await,
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

/// Ctrl-C, or SIGTERM (`docker stop`: a container's PID 1 gets no default handler for it).
/// Ctrl-C (SIGINT) and SIGTERM, listened for from the moment this is made: a caller makes it
/// before it says it is ready, so a signal sent right after that line ends the wait instead of
/// killing the process with the default action.
struct StopSignals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind| match signal(kind) {
            Ok(signal) => Some(signal),
            Err(error) => {
                // No handler (unusual): keep serving rather than exit at once.
                tracing::warn!(%error, "cannot listen for a stop signal; stop the process to end it");
                None
            }
        };
        Self {
            interrupt: listen(SignalKind::interrupt()),
            terminate: listen(SignalKind::terminate()),
        }
    }

    async fn wait(mut self) {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = next(&mut self.interrupt) => {}
            () = next(&mut self.terminate) => {}
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

/// The file in a node's runtime home that starts its test clock (see `tollgate node
/// --virtual-clock`).
pub const VIRTUAL_CLOCK_FILE: &str = "tollgate-virtual-clock";

/// `tollgate node`'s options beside its config and network.
struct NodeStart {
    seed: u64,
    address: IpAddr,
    name: Option<String>,
    home: Option<PathBuf>,
    virtual_clock: Option<i64>,
}

async fn node(config: &std::path::Path, start: NodeStart, network: &NetworkArgs) -> ExitCode {
    let NodeStart {
        seed,
        address,
        name,
        home,
        virtual_clock,
    } = start;
    let loaded = match tollgate_config::load(config) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for diagnostic in &errors.0 {
                eprintln!("{diagnostic}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let base_dir = config
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let name = name.unwrap_or_else(|| {
        base_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "node".to_owned())
    });
    let host_map = network.host_map(address);
    // Outside any checkout, and the same for every run of the node: a restart finds its files.
    let home = home.unwrap_or_else(|| std::env::temp_dir().join("tollgate").join(&name));
    let clock: SharedClock = match virtual_clock {
        None => Arc::new(SystemClock),
        Some(start) => match test_clock(start, &home) {
            Ok(clock) => Arc::new(clock),
            Err(message) => {
                eprintln!("tollgate: {message}");
                return ExitCode::from(EXIT_START);
            }
        },
    };
    match run_node(
        &name,
        loaded.config,
        &base_dir,
        NodeClock {
            clock,
            test_clock: virtual_clock.is_some(),
            seed,
        },
        address,
        host_map,
        home,
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tollgate: {message}");
            ExitCode::from(EXIT_START)
        }
    }
}

/// A test clock at `start`, or at what `home`'s [`VIRTUAL_CLOCK_FILE`] holds.
fn test_clock(start: i64, home: &std::path::Path) -> Result<ManualClock, String> {
    let file = home.join(VIRTUAL_CLOCK_FILE);
    let start = match std::fs::read_to_string(&file) {
        Ok(text) => text.trim().parse::<i64>().map_err(|e| {
            format!(
                "{}: not a time in Unix milliseconds ({e}): {text:?}",
                file.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => start,
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    Ok(ManualClock::new(start))
}

/// What a node's time and randomness come from.
struct NodeClock {
    clock: SharedClock,
    /// `clock` is a test clock (`--virtual-clock`).
    test_clock: bool,
    seed: u64,
}

async fn run_node(
    name: &str,
    config: DeploymentConfig,
    base_dir: &std::path::Path,
    NodeClock {
        clock,
        test_clock,
        seed,
    }: NodeClock,
    address: IpAddr,
    host_map: HostMap,
    home: PathBuf,
) -> Result<(), String> {
    let ports = tollgate_node::required_ports(&config).map_err(|e| e.to_string())?;
    let mut listeners = NodeListeners::default();
    let mut lines = Vec::new();
    for (role, port) in ports {
        let (socket, listener) = bind(address, port, &format!("{name}: {role}")).await?;
        lines.push(format!(
            "  {:<27}: {}://{socket}",
            role.to_string(),
            role.scheme()
        ));
        listeners.insert(role, listener);
    }
    let keystores = tollgate_node::tls::load(&config, base_dir).map_err(|e| e.to_string())?;
    let trusted: Vec<&str> = keystores.trusted_pems.iter().map(String::as_str).collect();
    let outbound = Outbound::new(host_map, &trusted).map_err(|e| e.to_string())?;
    let role = config.server.server_role;
    let resources = NodeResources {
        listeners,
        outbound,
        clock: clock.clone(),
        seed,
        tls: keystores.server,
        signing: keystores.signing,
        home: Some(home.clone()),
    };
    let shutdown = CancellationToken::new();
    let handle = tollgate_node::start(name, config, resources, shutdown.clone())
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    println!("Tollgate node `{name}` ({}), seed {seed}", role.as_str());
    for line in lines {
        println!("{line}");
    }
    if test_clock {
        println!(
            "  {:<27}: {} ms (moved by PUT {NODE_CLOCK})",
            "test clock",
            clock.now_millis()
        );
    }
    if role.runs_gateway() {
        println!("  {:<27}: {}", "runtime home", home.display());
        println!("  waiting for the start-up sync with the control plane…");
    }
    handle.ready().await;
    let stop = StopSignals::listen();
    println!("Ready. Ctrl-C stops.");
    stop.wait().await;
    handle.shutdown().await;
    Ok(())
}

async fn bind(
    address: IpAddr,
    port: u16,
    what: &str,
) -> Result<(SocketAddr, tokio::net::TcpListener), String> {
    let socket = SocketAddr::new(address, port);
    match tokio::net::TcpListener::bind(socket).await {
        Ok(listener) => Ok((socket, listener)),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(format!(
            "port {port} ({what}) on {address} is already in use"
        )),
        Err(e) => Err(format!(
            "cannot bind port {port} ({what}) on {address}: {e}"
        )),
    }
}

async fn load_balancer(
    topology: &std::path::Path,
    name: &str,
    address: IpAddr,
    network: &NetworkArgs,
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
    match run_load_balancer(&topology, name, address, network).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tollgate: {message}");
            ExitCode::from(EXIT_START)
        }
    }
}

async fn run_load_balancer(
    topology: &Topology,
    name: &str,
    address: IpAddr,
    network: &NetworkArgs,
) -> Result<(), String> {
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
    let nodes = crate::topology::gateway_nodes(&topology.instances, spec)?;
    let config = tollgate_load_balancer::LoadBalancerConfig::gateway_cluster(&nodes);
    let mut listeners = std::collections::BTreeMap::new();
    let mut lines = Vec::new();
    for (listener, port, scheme) in [("http", spec.http, "http"), ("https", spec.https, "https")] {
        let (socket, bound) = bind(address, port, &format!("{name}: {listener}")).await?;
        lines.push(format!(
            "  {:<27}: {scheme}://{socket}",
            format!("API traffic ({})", scheme.to_uppercase())
        ));
        listeners.insert(listener.to_owned(), bound);
    }
    let outbound = Outbound::new(
        network.host_map(address),
        &[tollgate_net::security::DEFAULT_CERT_PEM],
    )
    .map_err(|e| e.to_string())?;
    let shutdown = CancellationToken::new();
    let _handle = tollgate_load_balancer::start(config, listeners, outbound, shutdown.clone())
        .map_err(|e| format!("{name}: {e}"))?;
    println!(
        "Tollgate load balancer `{name}` in front of {}",
        spec.fronts.join(", ")
    );
    let stop = StopSignals::listen();
    for line in lines {
        println!("{line}");
    }
    println!("Ready. Ctrl-C stops.");
    stop.wait().await;
    shutdown.cancel();
    Ok(())
}

/// `tollgate run`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct RunCommand {
    pub paths: Vec<PathBuf>,
    pub driver: String,
    pub seed: Option<u64>,
    pub tags: Option<String>,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub parallel: Option<usize>,
}

/// `tollgate run`: see the module docs for exit codes.
pub async fn run_scenarios(options: RunCommand) -> ExitCode {
    use crate::runner;
    let usage = |message: String| {
        eprintln!("tollgate run: {message}");
        ExitCode::from(EXIT_CONFIG)
    };
    let kind = match crate::driver::parse_kind(&options.driver) {
        Ok(kind) => kind,
        Err(error) => return usage(error.to_string()),
    };
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
    let done = |r: &crate::report::ScenarioReport| progress.done(r);
    let report = match &driver {
        Selected::Inproc(d) => runner::run_all(d, &scenarios, seed, parallel, &done).await,
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
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tollgate_protocol::Clock;

    #[test]
    fn a_test_clock_starts_at_its_flag_or_at_the_time_its_home_was_given() {
        let home = std::env::temp_dir().join(format!("tollgate-cli-clock-{}", std::process::id()));
        std::fs::create_dir_all(&home).unwrap();
        let _ = std::fs::remove_file(home.join(VIRTUAL_CLOCK_FILE));
        assert_eq!(test_clock(1_000, &home).unwrap().now_millis(), 1_000);
        std::fs::write(home.join(VIRTUAL_CLOCK_FILE), "90000\n").unwrap();
        assert_eq!(test_clock(1_000, &home).unwrap().now_millis(), 90_000);
        std::fs::write(home.join(VIRTUAL_CLOCK_FILE), "soon").unwrap();
        let error = test_clock(1_000, &home).err().unwrap();
        assert!(
            error.contains(VIRTUAL_CLOCK_FILE) && error.contains("soon"),
            "{error}"
        );
        std::fs::remove_dir_all(&home).unwrap();
    }
}
