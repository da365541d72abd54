//! A node or a load balancer on its own sockets, as a process: what the `tollgate-node` binary
//! runs (the container image's only program), and the harness's `tollgate node` /
//! `tollgate load-balancer` aliases with it.
//!
//! - [`node`]: one node of whatever `server_role` its `deployment.toml` names ([`NodeArgs`]).
//! - [`load_balancer`]: `tollgate-load-balancer` in front of the gateways it is given
//!   ([`LoadBalancerArgs`], one `--gateway` per node; no topology file is read here, the
//!   harness resolves a topology's `[[load_balancer]]` into that list).
//!
//! Both bind every listener first, print what they serve, then `Ready. Ctrl-C stops.` once they
//! serve it (a gateway: after its start-up sync), the line the container driver waits for; they
//! end on SIGINT or SIGTERM ([`StopSignals`]) after [`NodeHandle::shutdown`] (or the load
//! balancer's) has closed every socket. Errors come back as [`RunError`]: the caller prints them
//! under its own name and exits with [`RunError::exit_code`].

use crate::{NodeListeners, NodeResources};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tollgate_config::model::DeploymentConfig;
use tollgate_load_balancer::GatewayNode;
use tollgate_net::{HostMap, Outbound};
use tollgate_protocol::internal::NODE_CLOCK;
use tollgate_protocol::{ManualClock, SharedClock, SystemClock};

/// The address a node binds unless told otherwise.
pub const DEFAULT_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Exit code for a configuration that does not load.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code for a node or load balancer that cannot start.
pub const EXIT_START: u8 = 1;

/// The file in a node's runtime home that starts its test clock (see
/// [`NodeArgs::virtual_clock`]).
pub const VIRTUAL_CLOCK_FILE: &str = "tollgate-virtual-clock";

/// Why a run ended with a failure.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration does not load: every diagnostic, formatted `file:line:col: key: message`.
    #[error("{}", .0.join("\n"))]
    Config(Vec<String>),
    /// It cannot start (a port is taken, a node fails).
    #[error("{0}")]
    Start(String),
}

impl RunError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => EXIT_CONFIG,
            Self::Start(_) => EXIT_START,
        }
    }

    /// Prints the error on stderr as `program` reports it: diagnostics as they are, a start
    /// failure prefixed with `program:`.
    pub fn report(&self, program: &str) {
        match self {
            Self::Config(diagnostics) => {
                for diagnostic in diagnostics {
                    eprintln!("{diagnostic}");
                }
            }
            Self::Start(message) => eprintln!("{program}: {message}"),
        }
    }
}

/// Run one node of whatever server_role its deployment.toml names.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// The node's deployment.toml.
    #[arg(long)]
    pub config: PathBuf,
    /// Seed for every id, key and token.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Address to bind (0.0.0.0 in a container). A loopback address other than 127.0.0.1
    /// also becomes what `localhost` resolves to, so several nodes run by hand on
    /// 127.0.0.2 find each other as an in-process topology's nodes do.
    #[arg(long, default_value_t = DEFAULT_ADDRESS)]
    pub address: IpAddr,
    /// Node name for logs and seeds; defaults to the config's folder name.
    #[arg(long)]
    pub name: Option<String>,
    /// The node's runtime home (WSO2's `<APIM_HOME>`), where a gateway keeps its API files
    /// and a control plane its database across restarts (delete the folder to start
    /// empty); defaults to `tollgate/<name>` in the system's temporary folder.
    #[arg(long, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Run on a test clock starting at this instant instead of the system clock: virtual
    /// time for a harness outside the process (the container driver), moved forward with
    /// `PUT /_tollgate/clock` on the management port. Off unless given. A
    /// `tollgate-virtual-clock` file in the runtime home (Unix milliseconds, written by the
    /// harness before a restart) starts it there instead, so a restarted node keeps the
    /// topology's time.
    #[arg(long, value_name = "UNIX_MILLIS")]
    pub virtual_clock: Option<i64>,
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// Run a load balancer (round robin, health checks, retries) in front of gateway nodes.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadBalancerArgs {
    /// Its name, for its output and logs.
    #[arg(long)]
    pub name: String,
    /// Plain HTTP front port (forwarded to each node's passthrough HTTP).
    #[arg(long)]
    pub http: u16,
    /// HTTPS front port (forwarded to each node's passthrough HTTPS, re-encrypted).
    #[arg(long)]
    pub https: u16,
    /// `NAME=HTTP_URL,HTTPS_URL,MANAGEMENT_URL`: a gateway node, in pool order (repeatable; at
    /// least one). The health check calls its management URL.
    #[arg(long = "gateway", value_name = "NAME=HTTP,HTTPS,MGMT", required = true, value_parser = parse_gateway)]
    pub gateways: Vec<GatewayNode>,
    /// Address to bind (0.0.0.0 in a container).
    #[arg(long, default_value_t = DEFAULT_ADDRESS)]
    pub address: IpAddr,
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// `gateway` as a [`LoadBalancerArgs::gateways`] argument (what `--gateway` parses back).
pub fn gateway_arg(gateway: &GatewayNode) -> String {
    format!(
        "{}={},{},{}",
        gateway.name, gateway.http, gateway.https, gateway.management
    )
}

fn parse_gateway(value: &str) -> Result<GatewayNode, String> {
    let malformed = || format!("`{value}` is not NAME=HTTP_URL,HTTPS_URL,MANAGEMENT_URL");
    let (name, urls) = value.split_once('=').ok_or_else(malformed)?;
    let urls: Vec<&str> = urls.split(',').collect();
    let [http, https, management] = urls.as_slice() else {
        return Err(malformed());
    };
    if name.is_empty() || [http, https, management].iter().any(|u| u.is_empty()) {
        return Err(malformed());
    }
    Ok(GatewayNode {
        name: name.to_owned(),
        http: (*http).to_owned(),
        https: (*https).to_owned(),
        management: (*management).to_owned(),
    })
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
        if address.is_loopback() && address != DEFAULT_ADDRESS {
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

/// Ctrl-C (SIGINT) and SIGTERM (`docker stop`: a container's PID 1 gets no default handler for
/// it), listened for from the moment this is made: a caller makes it before it says it is
/// ready, so a signal sent right after that line ends the wait instead of killing the process
/// with the default action.
pub struct StopSignals {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    pub fn listen() -> Self {
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

    pub async fn wait(mut self) {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            // Either signal stops the node; polled in order, as every `select!` here is.
            biased;
            () = next(&mut self.interrupt) => {}
            () = next(&mut self.terminate) => {}
        }
    }
}

/// Runs one node until SIGINT or SIGTERM.
pub async fn node(args: NodeArgs) -> Result<(), RunError> {
    let NodeArgs {
        config,
        seed,
        address,
        name,
        home,
        virtual_clock,
        network,
    } = args;
    let loaded = tollgate_config::load(&config)
        .map_err(|errors| RunError::Config(errors.0.iter().map(ToString::to_string).collect()))?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let base_dir = config.parent().map(Path::to_path_buf).unwrap_or_default();
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
        Some(start) => Arc::new(test_clock(start, &home).map_err(RunError::Start)?),
    };
    run_node(
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
    .map_err(RunError::Start)
}

/// A test clock at `start`, or at what `home`'s [`VIRTUAL_CLOCK_FILE`] holds.
fn test_clock(start: i64, home: &Path) -> Result<ManualClock, String> {
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
    base_dir: &Path,
    NodeClock {
        clock,
        test_clock,
        seed,
    }: NodeClock,
    address: IpAddr,
    host_map: HostMap,
    home: PathBuf,
) -> Result<(), String> {
    let ports = crate::required_ports(&config).map_err(|e| e.to_string())?;
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
    let keystores = crate::tls::load(&config, base_dir).map_err(|e| e.to_string())?;
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
    let handle = crate::start(name, config, resources, CancellationToken::new())
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

/// Runs a load balancer until SIGINT or SIGTERM.
pub async fn load_balancer(args: LoadBalancerArgs) -> Result<(), RunError> {
    let LoadBalancerArgs {
        name,
        http,
        https,
        gateways,
        address,
        network,
    } = args;
    let config = tollgate_load_balancer::LoadBalancerConfig::gateway_cluster(&gateways);
    let mut listeners = std::collections::BTreeMap::new();
    let mut lines = Vec::new();
    for (listener, port, scheme) in [("http", http, "http"), ("https", https, "https")] {
        let (socket, bound) = bind(address, port, &format!("{name}: {listener}"))
            .await
            .map_err(RunError::Start)?;
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
    .map_err(|e| RunError::Start(e.to_string()))?;
    let handle = tollgate_load_balancer::start(
        config,
        listeners,
        outbound,
        Arc::new(SystemClock),
        CancellationToken::new(),
    )
    .map_err(|e| RunError::Start(format!("{name}: {e}")))?;
    let fronts: Vec<&str> = gateways.iter().map(|g| g.name.as_str()).collect();
    println!(
        "Tollgate load balancer `{name}` in front of {}",
        fronts.join(", ")
    );
    let stop = StopSignals::listen();
    for line in lines {
        println!("{line}");
    }
    println!("Ready. Ctrl-C stops.");
    stop.wait().await;
    handle.shutdown().await;
    Ok(())
}

/// What every Tollgate binary does first: logs to stderr at `default_level` unless `RUST_LOG`
/// says otherwise (colour only on a terminal), then the runtime (multi-threaded unless the
/// process may use one CPU only). The error is the
/// line to print before exiting with [`EXIT_START`].
pub fn start(default_level: &str) -> Result<tokio::runtime::Runtime, String> {
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // On one CPU (a node pinned with `taskset`, a one-CPU container) a worker pool only adds
    // hand-offs between threads: one thread runs everything, as nginx's single worker does.
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = match one_cpu {
        true => tokio::runtime::Builder::new_current_thread(),
        false => tokio::runtime::Builder::new_multi_thread(),
    };
    builder
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_protocol::Clock;

    #[test]
    fn a_test_clock_starts_at_its_flag_or_at_the_time_its_home_was_given() {
        let home = std::env::temp_dir().join(format!("tollgate-run-clock-{}", std::process::id()));
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

    #[test]
    fn a_gateway_argument_reads_back_as_the_node_it_was_made_from() {
        let node = GatewayNode {
            name: "gateway-1".into(),
            http: "http://localhost:8281".into(),
            https: "https://localhost:8244".into(),
            management: "https://localhost:9444".into(),
        };
        assert_eq!(parse_gateway(&gateway_arg(&node)).unwrap(), node);
        for wrong in [
            "gateway-1",
            "gateway-1=http://a,https://b",
            "=http://a,https://b,https://c",
            "g=http://a,,https://c",
        ] {
            assert!(parse_gateway(wrong).is_err(), "{wrong}");
        }
    }
}
