//! `tollgate conform`: the shipped scenarios against a deployment someone else runs, through
//! the [external driver](crate::driver::external), with a report by profile and support level
//! ([`report`]) in the manner of the Kubernetes Gateway API conformance suite.
//!
//! `--target FILE` names a target file; `--target reference` boots the reference's guide
//! topology in this process, on the system clock, and checks it through its public URLs only
//! (a self-check of the checker). Scenarios run one at a time (they share the target and its
//! mock backends' ports); every name they create carries the run's prefix and is deleted when
//! the scenario ends, unless `--keep`. `--sweep` deletes what an interrupted run left.

pub mod report;

use crate::driver::external::target_file::{
    Backend, ControlPlane, Gateway, GatewayType, Implementation, LoadBalancer,
};
use crate::driver::{ExternalDriver, TargetFile};
use crate::report::junit;
use crate::runner;
use crate::topology::Topology;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tollgate_config::model::EnvironmentType;
use tollgate_protocol::{Clock, SharedClock, SystemClock};
use tollgate_scenario::{Scenario, Support, Tag};

/// `tollgate conform`'s command line.
#[derive(Debug, Clone, clap::Args)]
pub struct ConformArgs {
    /// A target file (see README, "Check another gateway"), or `reference` to boot the
    /// reference in this process and check it.
    #[arg(long)]
    target: String,
    /// Scenario files or folders; default scenarios/.
    paths: Vec<PathBuf>,
    /// Profiles to check (comma-separated; default all).
    #[arg(long)]
    profiles: Option<String>,
    /// Write the conformance report as YAML to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the same report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the run as JUnit XML to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Run only this test (its path below scenarios/).
    #[arg(long)]
    run_test: Option<String>,
    /// Skip these tests (comma-separated paths below scenarios/).
    #[arg(long, value_delimiter = ',')]
    skip_tests: Vec<String>,
    /// How long a change may take to show on the gateways before a test fails as
    /// propagation-lost.
    #[arg(long, default_value = "60s")]
    propagation: String,
    /// Keep what each test created (for debugging) instead of deleting it.
    #[arg(long)]
    keep: bool,
    /// First delete what interrupted runs left on the target (names starting `tollgate`).
    #[arg(long)]
    sweep: bool,
    /// Seed for every scenario.
    #[arg(long)]
    seed: Option<u64>,
}

impl ConformArgs {
    /// The options, checked: an unknown profile or a bad duration is a usage error.
    pub fn options(self) -> Result<ConformOptions, String> {
        let profiles = match self.profiles.as_deref().map(runner::parse_tags) {
            None => Vec::new(),
            Some(tags) => tags.map_err(|e| e.to_string())?,
        };
        let propagation = tollgate_scenario::parse_duration(&self.propagation)
            .map_err(|e| format!("--propagation: {e}"))?;
        Ok(ConformOptions {
            target: self.target,
            paths: self.paths,
            profiles,
            report: self.report,
            json: self.json,
            junit: self.junit,
            run_test: self.run_test,
            skip_tests: self.skip_tests,
            propagation,
            keep: self.keep,
            sweep: self.sweep,
            seed: self.seed,
        })
    }
}

/// What `tollgate conform` was asked.
#[derive(Debug, Clone)]
pub struct ConformOptions {
    /// A target file, or `reference`.
    pub target: String,
    pub paths: Vec<PathBuf>,
    /// Profiles to check; every profile when empty.
    pub profiles: Vec<Tag>,
    pub report: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    /// Only this test (its path below `scenarios/`).
    pub run_test: Option<String>,
    pub skip_tests: Vec<String>,
    pub propagation: Duration,
    pub keep: bool,
    pub sweep: bool,
    pub seed: Option<u64>,
}

const EXIT_CONFIG: u8 = 2;

/// Runs the check; exit 0 only when every selected profile's core level is a success. On
/// Ctrl-C, what this run created on the target is deleted (by its prefix) before exiting.
pub async fn run(args: ConformArgs) -> ExitCode {
    let options = match args.options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("tollgate conform: {message}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let checked = tokio::select! {
        checked = check(&options) => checked,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("tollgate conform: interrupted; deleting what this run created");
            if options.target != "reference" && !options.keep {
                let swept = async {
                    let target = TargetFile::load(&PathBuf::from(&options.target))
                        .map_err(|e| e.to_string())?;
                    let driver = ExternalDriver::new(target, run_id(), options.propagation)
                        .map_err(|e| e.to_string())?;
                    sweep(&driver, &driver.run_prefix()).await
                };
                match swept.await {
                    Ok(n) => eprintln!("tollgate conform: deleted {n}"),
                    Err(e) => eprintln!("tollgate conform: {e}; `--sweep` removes leftovers later"),
                }
            }
            return ExitCode::from(130);
        }
    };
    match checked {
        Ok(report) => {
            print!("{}", report.summary());
            if report.core_conforms() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(message) => {
            eprintln!("tollgate conform: {message}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// The run, its report written where asked.
pub async fn check(options: &ConformOptions) -> Result<report::ConformanceReport, String> {
    if options.target == "reference" {
        let (target, running) = reference_target(options.seed.unwrap_or(1)).await?;
        let report = check_target(options, target, "reference").await;
        running.shutdown().await;
        report
    } else {
        let file = PathBuf::from(&options.target);
        let target = TargetFile::load(&file).map_err(|e| e.to_string())?;
        check_target(options, target, "external").await
    }
}

/// The run against `target` (`mode` for the report: `external` or `reference`).
pub async fn check_target(
    options: &ConformOptions,
    target: TargetFile,
    mode: &str,
) -> Result<report::ConformanceReport, String> {
    let mut driver = ExternalDriver::new(target.clone(), run_id(), options.propagation)
        .map_err(|e| e.to_string())?;
    if options.keep {
        driver = driver.keeping();
    }
    if options.sweep {
        let removed = sweep(&driver, crate::driver::external::NAME_PREFIX).await?;
        eprintln!("tollgate conform: swept {removed} leftover(s) of earlier runs");
    }

    let paths = if options.paths.is_empty() {
        vec![
            crate::workspace_root()
                .map_or_else(|| PathBuf::from("scenarios"), |r| r.join("scenarios")),
        ]
    } else {
        options.paths.clone()
    };
    let files = runner::discover(&paths).map_err(|e| e.to_string())?;
    let (scenarios, errors) = runner::load_all(&files);
    if let Some(first) = errors.first() {
        return Err(first.to_string());
    }
    let digest = suite_digest(&files)?;
    let selected: Vec<Scenario> = scenarios
        .into_iter()
        .filter(|s| runner::selected(s, &options.profiles))
        .filter(|s| {
            let name = runner::display_path(&s.file);
            options.run_test.as_ref().is_none_or(|t| *t == name)
                && !options.skip_tests.contains(&name)
        })
        .collect();
    if selected.is_empty() {
        return Err("no scenario is selected".into());
    }
    let unsupported = |s: &Scenario| -> Option<String> {
        let supported = target.supported.as_ref()?;
        if s.support != Support::Extended {
            return None;
        }
        let missing: Vec<&str> = s
            .tags
            .iter()
            .map(|t| t.name())
            .filter(|name| !supported.iter().any(|f| f == name))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "the implementation does not support the feature(s) {}",
                missing.join(", ")
            )
        })
    };
    let done = |r: &crate::report::ScenarioReport| {
        eprintln!("{:<7} {}", r.outcome.word(), r.file);
    };
    let started = tokio::time::Instant::now();
    let mut reports = Vec::new();
    for scenario in &selected {
        let seed = runner::seed_for(scenario, options.seed);
        let report = match unsupported(scenario) {
            Some(reason) => runner::skipped_report(scenario, seed, "external", reason),
            None => runner::run_scenario(&driver, scenario, seed).await,
        };
        done(&report);
        reports.push(report);
    }
    let run = crate::report::RunReport::new(
        "external",
        reports,
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    );

    // The profiles asked for, else every profile some selected test belongs to.
    let profiles: Vec<Tag> = if options.profiles.is_empty() {
        Tag::ALL
            .into_iter()
            .filter(|tag| selected.iter().any(|s| s.tags.contains(tag)))
            .collect()
    } else {
        options.profiles.clone()
    };
    let report = report::build(
        report::Inputs {
            date: now_rfc3339(),
            implementation: target.implementation.clone(),
            mode,
            target: &options.target,
            suite_digest: digest,
            seed: options.seed,
            options: describe(options),
            profiles: &profiles,
            supported: target.supported.as_deref(),
        },
        &selected,
        &run,
    );
    write(options, &report, &run)?;
    Ok(report)
}

fn write(
    options: &ConformOptions,
    report: &report::ConformanceReport,
    run: &crate::report::RunReport,
) -> Result<(), String> {
    let save = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    if let Some(path) = &options.report {
        save(
            path,
            serde_norway::to_string(report).map_err(|e| e.to_string())?,
        )?;
    }
    if let Some(path) = &options.json {
        save(
            path,
            serde_json::to_string_pretty(report).map_err(|e| e.to_string())?,
        )?;
    }
    if let Some(path) = &options.junit {
        save(path, junit::render(run).map_err(|e| e.to_string())?)?;
    }
    Ok(())
}

/// The options as given, for the report (stable order).
fn describe(options: &ConformOptions) -> Vec<String> {
    let mut out = vec![format!("--target {}", options.target)];
    if !options.profiles.is_empty() {
        let names: Vec<&str> = options.profiles.iter().map(|t| t.name()).collect();
        out.push(format!("--profiles {}", names.join(",")));
    }
    if let Some(test) = &options.run_test {
        out.push(format!("--run-test {test}"));
    }
    if !options.skip_tests.is_empty() {
        out.push(format!("--skip-tests {}", options.skip_tests.join(",")));
    }
    out.push(format!("--propagation {}s", options.propagation.as_secs()));
    if options.keep {
        out.push("--keep".into());
    }
    out
}

/// `sha256:` over every scenario file, path and content, in path order.
fn suite_digest(files: &[PathBuf]) -> Result<String, String> {
    let mut sorted: Vec<&PathBuf> = files.iter().collect();
    sorted.sort();
    let mut hash = Sha256::new();
    for file in sorted {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        hash.update(runner::display_path(file).as_bytes());
        hash.update([0]);
        hash.update(&bytes);
    }
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{digest}"))
}

/// The report's date, from the system clock (a conformance run is on real time).
fn now_rfc3339() -> String {
    let nanos = i128::from(SystemClock.now_millis()) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// This run's part of every name it creates: unique across runs on one target (the process id
/// and the start second), short enough for WSO2's name rules; the same all through a process.
fn run_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let secs = u64::try_from(SystemClock.now_millis() / 1000).unwrap_or(0);
        let mut n = (secs << 20) ^ u64::from(std::process::id());
        let mut out = String::new();
        while n > 0 {
            out.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
            n /= 36;
        }
        out
    })
}

/// Deletes every application and API whose name starts with `prefix` (every conformance run's
/// [`NAME_PREFIX`](crate::driver::external::NAME_PREFIX), or one run's): what an interrupted
/// run left. Returns how many went.
pub async fn sweep(driver: &ExternalDriver, prefix: &str) -> Result<usize, String> {
    let target = driver.target_file();
    let client = driver.client();
    let base = &target.control_plane.url;
    let cp = &target.control_plane;
    let token = client
        .password_grant_token(
            base,
            (&cp.username, &cp.password),
            "tollgate_conform_sweep",
            "apim:api_view apim:api_delete apim:app_manage apim:subscribe",
        )
        .await?;
    let mut removed = 0;
    for (list, delete, id_field) in [
        (
            "/api/am/devportal/v3/applications?limit=1000",
            "/api/am/devportal/v3/applications/",
            "applicationId",
        ),
        (
            "/api/am/publisher/v4/apis?limit=1000",
            "/api/am/publisher/v4/apis/",
            "id",
        ),
    ] {
        let listed = client
            .get(format!("{base}{list}"))
            .bearer(&token)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: serde_json::Value = listed.json().map_err(|e| e.to_string())?;
        let items = body["list"].as_array().cloned().unwrap_or_default();
        for item in items {
            let (Some(name), Some(id)) = (item["name"].as_str(), item[id_field].as_str()) else {
                continue;
            };
            if !name.starts_with(prefix) {
                continue;
            }
            let gone = client
                .delete(format!("{base}{delete}{id}"))
                .bearer(&token)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if gone.status.is_success() {
                removed += 1;
            } else {
                eprintln!("tollgate conform: {name} not deleted: {}", gone.status);
            }
        }
    }
    Ok(removed)
}

/// The reference's guide topology booted in this process on the system clock, described as a
/// target file: what a user would write for `tollgate up`.
pub async fn reference_target(seed: u64) -> Result<(TargetFile, crate::RunningTopology), String> {
    let topology = Topology::load(crate::resolve_topology("guide")).map_err(|e| e.to_string())?;
    let address = crate::address::private_address();
    let clock: SharedClock = Arc::new(SystemClock);
    let running = crate::inproc::boot(&topology, crate::BootOptions::new(seed, clock, address))
        .await
        .map_err(|e| e.to_string())?;
    Ok((describe_topology(&topology, address), running))
}

/// A target file for `topology` running on `address` (`tollgate up --address`).
pub fn describe_topology(topology: &Topology, address: std::net::IpAddr) -> TargetFile {
    use tollgate_node::PortRole;
    let control = topology.control_planes().next();
    let port = |instance: &crate::topology::Instance, role| instance.port(role).unwrap_or(0);
    let mut resolve = BTreeMap::new();
    resolve.insert("localhost".to_owned(), address);
    for host in topology.hosts.keys() {
        resolve.insert(host.clone(), address);
    }
    let environments = control.map(|c| &c.config.environments);
    let mut gateways = Vec::new();
    for instance in topology
        .instances
        .iter()
        .filter(|i| i.role().runs_gateway())
    {
        for label in &instance.config.sync_gateway.gateway_labels {
            let kind = environments
                .and_then(|envs| envs.iter().find(|e| &e.name == label))
                .map_or(GatewayType::Hybrid, |e| match e.kind {
                    EnvironmentType::Production => GatewayType::Production,
                    EnvironmentType::Sandbox => GatewayType::Sandbox,
                    EnvironmentType::Hybrid => GatewayType::Hybrid,
                });
            gateways.push(Gateway {
                instance: instance.name.clone(),
                environment: label.clone(),
                kind,
                http: format!(
                    "http://localhost:{}",
                    port(instance, PortRole::PassthruHttp)
                ),
                https: format!(
                    "https://localhost:{}",
                    port(instance, PortRole::PassthruHttps)
                ),
                management: Some(format!(
                    "https://localhost:{}",
                    port(instance, PortRole::MgmtHttps)
                )),
            });
        }
    }
    TargetFile {
        file: topology.root.join("target.toml"),
        implementation: Implementation {
            organization: "Tollgate".into(),
            project: "Tollgate reference".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            url: "https://github.com/tollgate".into(),
            contact: Vec::new(),
        },
        control_plane: ControlPlane {
            url: control.map_or_else(String::new, |c| {
                format!("https://localhost:{}", port(c, PortRole::MgmtHttps))
            }),
            username: "admin".into(),
            password: "admin".into(),
            trusted_pems: Vec::new(),
            insecure_tls: false,
        },
        gateways,
        load_balancers: topology
            .load_balancers
            .iter()
            .map(|lb| {
                for host in &lb.hosts {
                    resolve.insert(host.clone(), address);
                }
                LoadBalancer {
                    name: lb.name.clone(),
                    http: lb.url(false),
                    https: lb.url(true),
                }
            })
            .collect(),
        resolve,
        // The topology's own mock backends serve under these names already.
        backends: topology
            .backends
            .iter()
            .map(|b| {
                (
                    b.name.clone(),
                    Backend {
                        bind: None,
                        url: b.url.clone(),
                    },
                )
            })
            .collect(),
        supported: None,
    }
}
