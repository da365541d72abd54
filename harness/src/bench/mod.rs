//! `tollgate bench [TOPOLOGY]`: a topology's request path measured against the same mock
//! backend reached directly and through nginx, in one run, with honest latency accounting.
//!
//! - The system under test is a child process, `tollgate up TOPOLOGY --address 127.0.0.N`,
//!   pinned with `taskset` to its own CPU(s); nginx likewise (Debian's, with a config the bench
//!   writes into `--out`; without nginx its row says so, never an estimate).
//! - The load generator ([`generator`]) runs in this process on a thread pinned to its own
//!   CPU: open loop at `--rate` (latency from each scheduled time) or closed loop (as wrk;
//!   labelled as subject to coordinated omission). HdrHistogram percentiles.
//! - Warm-up discarded; `--rounds` rounds, each measuring every path once in an order
//!   shuffled by `--seed`; ratios are medians of per-round paired ratios; a generator that
//!   cannot keep up, or a `direct` that drifts between rounds, is flagged.
//! - Report ([`report`]): a terminal table, `bench.json` and `spectrum.svg` ([`plot`]) in
//!   `--out`.

pub mod generator;
pub mod http;
pub mod paths;
pub mod plot;
pub mod report;

#[cfg(test)]
mod honesty_tests;

use crate::client::Client;
use crate::topology::Topology;
use generator::{Figures, Mode, Plan, run_on_own_thread};
use paths::{Layout, NGINX_PORT, Setup, Tokens};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use report::{BenchReport, Config, Machine, Missing, Run};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tollgate_net::security::DEFAULT_CERT_PEM;
use tollgate_net::{HostMap, Outbound};

/// How long the topology may take to boot, and the gateways to serve the bench's API.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// `tollgate bench` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// A topology folder, or a name under scenarios/topologies/.
    #[arg(default_value = "guide")]
    pub topology: String,
    /// Paths to measure, comma-separated (default: every one the topology has): direct,
    /// nginx, gateway, gateway-counted, gateway-cold-jwt, lb.
    #[arg(long, value_delimiter = ',')]
    pub paths: Vec<String>,
    /// open (requests scheduled at t0 + i/rate, latency from the schedule) or closed (as wrk).
    #[arg(long, default_value = "closed")]
    pub mode: String,
    /// Open loop: requests per second offered.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open loop: find each path's highest rate it sustains (answers ≥ 97 % of offered, none
    /// dropped, generator not the bottleneck), bisecting below its closed-loop rate.
    #[arg(long)]
    pub find_max: bool,
    /// Requests in flight at most (keep-alive connections).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Measured time per path per round (`8s`, `500ms`).
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Time sent but not recorded before each measurement.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Rounds; each measures every path once, in an order shuffled by the seed.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Seed for the path order (and the topology's ids and keys).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Loopback address the topology binds.
    #[arg(long, default_value = "127.0.0.77")]
    pub address: IpAddr,
    /// CPU the load generator is pinned to.
    #[arg(long, default_value_t = 0)]
    pub generator_cpu: usize,
    /// CPUs (taskset list) the topology process and nginx are pinned to.
    #[arg(long, default_value = "1")]
    pub system_cpus: String,
    /// Tokens in `gateway-cold-jwt`'s pool (more than the gateway's 10 000-entry cache, so
    /// every request is a cache miss).
    #[arg(long, default_value_t = 10_007)]
    pub cold_tokens: usize,
    /// APIs deployed in all: the bench's own and `N − 1` more beside it (routing-table size;
    /// RSS is the topology process's, control plane included).
    #[arg(long, default_value_t = 1)]
    pub apis: usize,
    /// Closed loop: after each `direct` and `nginx` run, run wrk (pinned like the generator,
    /// same connections and duration) on the same path and report its rate beside ours.
    #[arg(long)]
    pub wrk: bool,
    /// Print the JSON report to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Folder for bench.json, spectrum.svg, nginx's config and the topology's log.
    #[arg(long, default_value = "target/tollgate-bench")]
    pub out: PathBuf,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((text, "s"), |at| text.split_at(at));
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("`{text}`: use ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

impl BenchArgs {
    fn mode(&self) -> Result<Mode, String> {
        match (self.mode.as_str(), self.rate, self.find_max) {
            ("closed", None, false) => Ok(Mode::Closed),
            ("closed", ..) => Err("--rate and --find-max are for --mode open".into()),
            ("open", Some(rate), false) if rate > 0.0 => Ok(Mode::Open { rate }),
            ("open", None, true) => Ok(Mode::Open { rate: 0.0 }),
            ("open", ..) => Err("--mode open needs either --rate N (N > 0) or --find-max".into()),
            (other, ..) => Err(format!("--mode is open or closed, not `{other}`")),
        }
    }

    fn plan(&self, mode: Mode) -> Plan {
        Plan {
            mode,
            connections: self.connections.max(1),
            duration: self.duration,
            warmup: self.warmup,
            drain: Duration::from_secs(10),
            precise: true,
        }
    }
}

/// A child process the bench started, stopped (SIGTERM, then SIGKILL) when dropped or ended.
struct Process {
    child: Child,
    name: &'static str,
}

impl Process {
    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        eprintln!(
            "tollgate bench: {} did not stop on SIGTERM; killing it",
            self.name
        );
        let _ = self.child.kill().await;
    }
}

/// Whether this machine can give the generator and the system under test CPUs of their own.
fn can_pin() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2) && which("taskset").is_some()
}

fn pinned(cpus: &str, program: &Path) -> Command {
    if can_pin() && !cpus.is_empty() {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(cpus).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Boots the topology in a child and waits for its endpoint listing (printed once booted).
async fn boot(args: &BenchArgs, log: &Path) -> Result<Process, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let stderr = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = pinned(&args.system_cpus, &exe)
        .arg("up")
        .arg(&args.topology)
        .arg("--address")
        .arg(args.address.to_string())
        .arg("--seed")
        .arg(args.seed.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting `tollgate up`: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout from `tollgate up`")?;
    let mut lines = BufReader::new(stdout).lines();
    let booted = tokio::time::timeout(BOOT_TIMEOUT, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("Tollgate topology") {
                return true;
            }
        }
        false
    })
    .await;
    // Keep draining its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let process = Process {
        child,
        name: "the topology",
    };
    match booted {
        Ok(true) => Ok(process),
        _ => {
            process.stop().await;
            Err(format!(
                "`tollgate up {}` did not boot within {BOOT_TIMEOUT:?}; see {}",
                args.topology,
                log.display()
            ))
        }
    }
}

/// nginx's version line, if nginx is installed.
fn nginx_version(nginx: &Path) -> Option<String> {
    let out = std::process::Command::new(nginx).arg("-v").output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    Some(text.trim().trim_start_matches("nginx version: ").to_owned())
}

/// The config: one worker, no access log, upstream keep-alive, proxying to the backend.
fn nginx_config(layout: &Layout, dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "# Written by `tollgate bench`: a plain reverse proxy to the topology's mock backend.
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    keepalive_requests 1000000;
    upstream backend {{
        server {backend};
        keepalive 512;
    }}
    server {{
        listen {address}:{NGINX_PORT};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_set_header Host localhost:{port};
        }}
    }}
}}
",
        backend = layout.backend(),
        address = layout.address,
        port = layout.backend_port,
    )
}

async fn start_nginx(nginx: &Path, args: &BenchArgs, layout: &Layout) -> Result<Process, String> {
    let dir = std::path::absolute(args.out.join("nginx")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir.join("tmp")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_config(layout, &dir))
        .map_err(|e| format!("{}: {e}", conf.display()))?;
    let child = pinned(&args.system_cpus, nginx)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf)
        .arg("-g")
        .arg("daemon off;")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting nginx: {e}"))?;
    Ok(Process {
        child,
        name: "nginx",
    })
}

/// CPU time (user + system, in clock ticks) of `pid` and its direct children, and the
/// resident memory of the same, kB: `/proc`.
fn tree_usage(pid: u32) -> Option<(u64, u64)> {
    let mut pids = vec![pid];
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if stat_fields(child)
                .is_some_and(|f| f.get(1).and_then(|p| p.parse().ok()) == Some(pid))
            {
                pids.push(child);
            }
        }
    }
    let mut ticks = 0;
    let mut rss = 0;
    for p in pids {
        let fields = stat_fields(p)?;
        // After the command: state(0) ppid(1) ... utime(11) stime(12) ... rss pages(21).
        let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
        ticks += field(11)? + field(12)?;
        rss += field(21)? * 4;
    }
    Some((ticks, rss))
}

/// `/proc/PID/stat` after the `(command)` field.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = text.rsplit_once(')')?.1;
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// Clock ticks per second for `/proc` CPU times.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn machine(args: &BenchArgs, nginx: Option<String>) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Machine {
        cpu_model: cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown CPU".into()),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_owned())
            .unwrap_or_default(),
        nginx,
        generator_cpu: can_pin().then_some(args.generator_cpu),
        system_cpus: can_pin().then(|| args.system_cpus.clone()),
    }
}

/// Runs `tollgate bench`.
pub async fn run(args: BenchArgs) -> ExitCode {
    match bench(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tollgate bench: {error}");
            ExitCode::from(crate::cli::EXIT_START)
        }
    }
}

async fn bench(args: BenchArgs) -> Result<(), String> {
    let mode = args.mode()?;
    let path = crate::resolve_topology(&args.topology);
    let topology = Topology::load(&path).map_err(|errors| {
        let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        format!(
            "topology {} does not load:\n{}",
            path.display(),
            lines.join("\n")
        )
    })?;
    let layout = Layout::of(&topology, args.address)?;
    let mut wanted: Vec<String> = if args.paths.is_empty() {
        paths::ALL
            .iter()
            .filter(|p| **p != "lb" || layout.lb.is_some())
            .map(|p| (*p).to_owned())
            .collect()
    } else {
        args.paths.clone()
    };
    if let Some(unknown) = wanted.iter().find(|p| !paths::ALL.contains(&p.as_str())) {
        return Err(format!(
            "unknown path `{unknown}`; paths are {}",
            paths::ALL.join(", ")
        ));
    }
    wanted.dedup();
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;

    let mut report = BenchReport::default();
    let nginx_bin = which("nginx");
    let nginx_version = nginx_bin.as_deref().and_then(nginx_version);
    report.machine = machine(&args, nginx_version);
    report.config = Config {
        topology: topology.name.clone(),
        address: args.address.to_string(),
        mode: args.mode.clone(),
        rate: args.rate,
        find_max: args.find_max,
        connections: args.connections,
        duration_s: args.duration.as_secs_f64(),
        warmup_s: args.warmup.as_secs_f64(),
        rounds: args.rounds,
        seed: args.seed,
        paths: wanted.clone(),
        cold_tokens: args.cold_tokens,
        apis: args.apis,
    };

    eprintln!(
        "tollgate bench: booting `{}` on {}",
        topology.name, args.address
    );
    let system = boot(&args, &args.out.join("topology.log")).await?;
    let result = measure(
        &args,
        mode,
        &layout,
        &system,
        nginx_bin.as_deref(),
        &mut report,
    )
    .await;
    system.stop().await;
    result?;

    report.summarise();
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    let json_path = args.out.join("bench.json");
    std::fs::write(&json_path, &json).map_err(|e| format!("{}: {e}", json_path.display()))?;
    let svg_path = args.out.join("spectrum.svg");
    std::fs::write(&svg_path, plot::spectrum_svg(&report))
        .map_err(|e| format!("{}: {e}", svg_path.display()))?;
    if args.json {
        println!("{json}");
    } else {
        print!("{}", report.table());
        println!(
            "\nwritten: {} and {}",
            json_path.display(),
            svg_path.display()
        );
    }
    Ok(())
}

async fn measure(
    args: &BenchArgs,
    mode: Mode,
    layout: &Layout,
    system: &Process,
    nginx_bin: Option<&Path>,
    report: &mut BenchReport,
) -> Result<(), String> {
    let mut hosts = HostMap::new();
    hosts.insert("localhost", layout.address);
    let outbound = Outbound::new(hosts, &[DEFAULT_CERT_PEM]).map_err(|e| e.to_string())?;
    let client = Client::new(&outbound);

    let mut wanted = report.config.paths.clone();
    let needs_gateway = wanted.iter().any(|p| p.starts_with("gateway") || p == "lb");
    let mut tokens = Tokens::default();
    if needs_gateway {
        eprintln!("tollgate bench: publishing the bench API and issuing tokens");
        let setup = Setup::admin(client.clone(), layout).await?;
        let cold = if wanted.iter().any(|p| p == "gateway-cold-jwt") {
            args.cold_tokens
        } else {
            0
        };
        tokens = setup.provision(layout, cold).await?;
        if args.apis > 1 {
            eprintln!("tollgate bench: deploying {} more APIs", args.apis - 1);
            setup.extra_apis(layout, args.apis - 1).await?;
        }
    }
    let mut nginx = None;
    if wanted.iter().any(|p| p == "nginx") {
        match nginx_bin {
            None => {
                report.missing.push(Missing {
                    path: "nginx".into(),
                    reason: "nginx is not installed (Debian: apt-get install nginx-light)".into(),
                });
                wanted.retain(|p| p != "nginx");
            }
            Some(bin) => nginx = Some(start_nginx(bin, args, layout).await?),
        }
    }
    let mut targets = Vec::new();
    for path in &wanted {
        let Some(target) = paths::target(path, layout, &tokens) else {
            report.missing.push(Missing {
                path: path.clone(),
                reason: "the topology has no load balancer".into(),
            });
            continue;
        };
        paths::await_served(&client, &target, BOOT_TIMEOUT)
            .await
            .map_err(|e| format!("path `{path}`: {e}"))?;
        targets.push((path.clone(), target));
    }
    let ticks = clock_ticks();
    let nginx_pid = nginx.as_ref().and_then(Process::pid);
    let system_pid = system.pid();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let result: Result<(), String> = async {
        for round in 0..args.rounds.max(1) {
            let mut order: Vec<usize> = (0..targets.len()).collect();
            order.shuffle(&mut rng);
            for (position, &k) in order.iter().enumerate() {
                let (path, target) = &targets[k];
                eprintln!(
                    "tollgate bench: round {} of {}: {path}",
                    round + 1,
                    args.rounds
                );
                let serving = if path == "nginx" {
                    nginx_pid
                } else {
                    system_pid
                };
                let usage = || {
                    let s = system_pid.and_then(tree_usage).map_or(0, |u| u.0);
                    let n = nginx_pid.and_then(tree_usage).map_or(0, |u| u.0);
                    s + n
                };
                let before = usage();
                let figures = measure_path(args, mode, target.clone()).await?;
                let after = usage();
                let answered = figures.answered_total.max(1) as f64;
                let wrk_rate =
                    if args.wrk && mode == Mode::Closed && (path == "direct" || path == "nginx") {
                        Some(wrk(args, target).await?)
                    } else {
                        None
                    };
                report.runs.push(Run {
                    path: path.clone(),
                    round,
                    order: position,
                    sut_cpu_us_per_request: Some(
                        after.saturating_sub(before) as f64 / ticks * 1e6 / answered,
                    ),
                    rss_kb: serving.and_then(tree_usage).map(|u| u.1),
                    wrk_rate,
                    figures,
                });
            }
        }
        Ok(())
    }
    .await;
    if let Some(nginx) = nginx {
        nginx.stop().await;
    }
    result
}

/// wrk's requests a second on `target`, pinned to the generator's CPU, with the bench's
/// connections and duration.
async fn wrk(args: &BenchArgs, target: &http::HttpTarget) -> Result<f64, String> {
    let wrk = which("wrk").ok_or("--wrk: wrk is not installed (Debian: apt-get install wrk)")?;
    let output = pinned(&args.generator_cpu.to_string(), &wrk)
        .arg("-t1")
        .arg(format!("-c{}", args.connections.max(1)))
        .arg(format!("-d{}s", args.duration.as_secs().max(1)))
        .arg("-H")
        .arg(format!("Host: {}", target.host))
        .arg(format!("http://{}{}", target.address, target.path))
        .output()
        .await
        .map_err(|e| format!("running wrk: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    wrk_rate(&text).ok_or_else(|| format!("wrk said:\n{text}"))
}

/// The `Requests/sec:` figure of wrk's report.
fn wrk_rate(report: &str) -> Option<f64> {
    report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

/// One path, one round: a run at the plan's mode, or for `--find-max` the highest rate found.
async fn measure_path(
    args: &BenchArgs,
    mode: Mode,
    target: http::HttpTarget,
) -> Result<Figures, String> {
    let once = |mode: Mode| {
        let target = target.clone();
        let plan = args.plan(mode);
        let cpu = can_pin().then_some(args.generator_cpu);
        async move {
            tokio::task::spawn_blocking(move || {
                run_on_own_thread(
                    plan,
                    move || match http::sender(target) {
                        Ok(send) => send,
                        Err(error) => std::sync::Arc::new(move |_| {
                            let error = error.clone();
                            Box::pin(async move { Err(error) })
                        }),
                    },
                    cpu,
                )
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
        }
    };
    if !args.find_max {
        return once(mode).await;
    }
    // Bisect between nothing and 1.2× the closed-loop rate.
    let closed = once(Mode::Closed).await?;
    let (mut low, mut high) = (0.0_f64, closed.achieved_rate * 1.2);
    let mut best: Option<Figures> = None;
    for _ in 0..6 {
        let rate = if best.is_none() && low == 0.0 {
            closed.achieved_rate * 0.9
        } else {
            (low + high) / 2.0
        };
        if rate < 1.0 {
            break;
        }
        let figures = once(Mode::Open { rate }).await?;
        if sustained(&figures, rate) {
            low = rate;
            best = Some(figures);
        } else {
            high = rate;
        }
    }
    Ok(best.unwrap_or_else(|| {
        let mut f = closed;
        f.notes
            .push("find-max: no open-loop rate was sustained; closed-loop figures".into());
        f
    }))
}

/// An open-loop run that kept up: answers ≥ 97 % of the offer, nothing dropped or failed,
/// and not generator-bound.
fn sustained(figures: &Figures, rate: f64) -> bool {
    figures.achieved_rate >= 0.97 * rate
        && figures.dropped == 0
        && figures.errors_total() == 0
        && !figures.generator_bound
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wrks_rate_is_read_from_its_report() {
        let report = "Running 1s test @ http://127.0.0.1:9080/x\n  1 threads and 8 connections\nRequests/sec:  31234.56\nTransfer/sec:      4.02MB\n";
        assert_eq!(wrk_rate(report), Some(31234.56));
        assert_eq!(wrk_rate("unable to connect"), None);
    }

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("1h").is_err());
    }

    #[test]
    fn nginx_proxies_with_upstream_keepalive_to_the_backend() {
        let layout = Layout {
            address: "127.0.0.9".parse().unwrap(),
            control_plane: String::new(),
            backend_port: 9080,
            backend_path: "/pizzashack".into(),
            gateway_port: 8281,
            environments: Vec::new(),
            lb: None,
        };
        let conf = nginx_config(&layout, Path::new("/tmp/x"));
        assert!(conf.contains("server 127.0.0.9:9080;"));
        assert!(conf.contains("keepalive 512;"));
        assert!(conf.contains("listen 127.0.0.9:18080;"));
        assert!(conf.contains("proxy_set_header Connection \"\";"));
    }

    #[test]
    fn own_process_usage_is_readable() {
        let (ticks, rss) = tree_usage(std::process::id()).unwrap();
        assert!(rss > 0);
        let _ = ticks;
    }
}
