//! The scenario runner: finds scenario files, checks them, runs each on a driver and builds
//! the [`RunReport`].
//!
//! Each scenario boots its own topology (in-process: its own loopback address, so scenarios
//! run side by side with the guide's port numbers), runs its steps in order, and shuts the
//! topology down. The seed of a scenario is, first to last: `--seed`, the `TOLLGATE_SEED`
//! environment variable, the file's `seed`, or one derived from the file's path — so a run is
//! reproducible and every failure prints the one command that replays it.
//!
//! | module | what it holds |
//! |---|---|
//! | `exec` | the executor: one step at a time through the control plane's REST APIs and the gateways |
//! | `check` | expectations against responses, counts over repeats |
//! | `throttle` | `throttled` / `unthrottled` waits; Traffic Managers on `advance` and convergence |
//! | `overrides` | `topology.overrides`: an edited copy of the topology folder |
//! | `load` | background load: bounded traffic, its counts and latency percentiles |

mod check;
mod exec;
mod load;
mod overrides;
mod throttle;

pub use load::{LoadFigures, Percentiles};

use crate::driver::{Driver, DriverError, Target};
use crate::report::{Outcome, RunReport, ScenarioReport};
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use tollgate_scenario::{Catalog, Scenario, ScenarioErrors, Tag};

/// The environment variable that fixes every scenario's seed (replays from `cargo test`).
pub const SEED_ENV: &str = "TOLLGATE_SEED";

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "unknown tag `{0}` (tags: routing, key-types, token-auth, throttling, ha, control-plane)"
    )]
    UnknownTag(String),
    #[error("{SEED_ENV}=`{0}` is not a number")]
    BadSeedEnv(String),
}

/// Every scenario file under `paths`: files as given, folders recursively (in name order),
/// skipping every `topologies/` folder (topologies are not scenarios).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RunnerError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_file() {
            out.push(path.clone());
        } else if path.is_dir() {
            walk(path, &mut out)?;
        } else {
            return Err(RunnerError::Missing(path.clone()));
        }
    }
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RunnerError> {
    let io = |source| RunnerError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            if entry.file_name().is_some_and(|n| n == "topologies") {
                continue;
            }
            walk(&entry, out)?;
        } else if entry.extension().is_some_and(|e| e == "toml") {
            out.push(entry);
        }
    }
    Ok(())
}

/// Reads and checks every file; the errors of every bad file, not only the first.
pub fn load_all(files: &[PathBuf]) -> (Vec<Scenario>, Vec<ScenarioErrors>) {
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match tollgate_scenario::load(file) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e),
        }
    }
    (scenarios, errors)
}

/// `routing,key-types` -> tags.
pub fn parse_tags(list: &str) -> Result<Vec<Tag>, RunnerError> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            Tag::ALL
                .into_iter()
                .find(|tag| tag.name() == t)
                .ok_or_else(|| RunnerError::UnknownTag(t.to_owned()))
        })
        .collect()
}

/// A scenario's name in reports and test lists: its path below the nearest `scenarios/`
/// folder (`routing/unknown-context.toml`), else its path from the workspace root (or as
/// given, outside it).
pub fn display_path(file: &Path) -> String {
    let parts: Vec<_> = file.components().collect();
    match parts.iter().rposition(|c| c.as_os_str() == "scenarios") {
        Some(at) if at + 1 < parts.len() => parts[at + 1..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        _ => replay_path(file),
    }
}

/// The file as a replay command names it: relative to the workspace root when under it.
fn replay_path(file: &Path) -> String {
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    crate::workspace_root()
        .and_then(|root| absolute.strip_prefix(&root).ok().map(Path::to_path_buf))
        .unwrap_or(absolute)
        .display()
        .to_string()
}

/// The one command that replays a scenario.
pub fn replay_command(file: &Path, seed: u64, driver: &str) -> String {
    format!(
        "tollgate run {} --seed {seed} --driver {driver}",
        replay_path(file)
    )
}

/// `TOLLGATE_SEED`, if set.
pub fn seed_from_env() -> Result<Option<u64>, RunnerError> {
    match std::env::var(SEED_ENV) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| RunnerError::BadSeedEnv(text)),
        _ => Ok(None),
    }
}

/// The seed a scenario runs with: `forced` (command line or environment), else the file's,
/// else one derived from its display path (FNV-1a), so an unseeded file still replays.
pub fn seed_for(scenario: &Scenario, forced: Option<u64>) -> u64 {
    forced.or(scenario.seed).unwrap_or_else(|| {
        display_path(&scenario.file)
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
    })
}

/// Whether a scenario carries one of `tags` (every scenario when `tags` is empty).
pub fn selected(scenario: &Scenario, tags: &[Tag]) -> bool {
    tags.is_empty() || scenario.tags.iter().any(|t| tags.contains(t))
}

/// Where a scenario's topology folder is: `topologies/<name>` beside or above the file, else
/// under the workspace's `scenarios/topologies/`.
/// The topology folder `scenario` runs on, its `topology.overrides` applied (an edited copy,
/// removed when dropped): what the simulated driver builds its hosts from before the runner
/// starts inside the simulation.
pub(crate) fn prepared_topology(
    scenario: &Scenario,
) -> Result<overrides::PreparedTopology, String> {
    overrides::prepare(&topology_dir(scenario), &scenario.topology.overrides)
}

fn topology_dir(scenario: &Scenario) -> PathBuf {
    Catalog::discover(&scenario.file)
        .map(|c| c.dir.join(&scenario.topology.name))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| crate::resolve_topology(&scenario.topology.name))
}

/// The report of a scenario not run at all, saying why.
pub fn skipped_report(
    scenario: &Scenario,
    seed: u64,
    driver: &str,
    reason: String,
) -> ScenarioReport {
    ScenarioReport {
        file: display_path(&scenario.file),
        name: scenario.name.clone(),
        tags: scenario.tags.iter().map(|t| t.name().to_owned()).collect(),
        seed,
        outcome: Outcome::Skipped,
        reason: Some(reason),
        replay: replay_command(&scenario.file, seed, driver),
        steps: Vec::new(),
        location: None,
        duration_ms: 0,
        convergence_ms: 0,
        transcript: Vec::new(),
    }
}

/// Runs one scenario on `driver`; never panics, never returns an error: what went wrong is in
/// the report.
pub async fn run_scenario<D: Driver>(driver: &D, scenario: &Scenario, seed: u64) -> ScenarioReport {
    run_scenario_with(driver, scenario, seed, Record::Nothing).await
}

/// Whether a run keeps a transcript of each scenario ([`crate::transcript`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Nothing,
    /// Into [`ScenarioReport::transcript`]; a driver whose target holds no shared clock
    /// ([`Target::shared_clock`]) records nothing.
    Transcript,
}

/// [`run_scenario`], recording as `record` says.
pub async fn run_scenario_with<D: Driver>(
    driver: &D,
    scenario: &Scenario,
    seed: u64,
    record: Record,
) -> ScenarioReport {
    let started = tokio::time::Instant::now();
    let file = display_path(&scenario.file);
    let mut report = ScenarioReport {
        file: file.clone(),
        name: scenario.name.clone(),
        tags: scenario.tags.iter().map(|t| t.name().to_owned()).collect(),
        seed,
        outcome: Outcome::Passed,
        reason: None,
        replay: replay_command(&scenario.file, seed, driver.kind().name()),
        steps: Vec::new(),
        location: None,
        duration_ms: 0,
        convergence_ms: 0,
        transcript: Vec::new(),
    };
    let finish = |mut report: ScenarioReport, outcome, reason: Option<String>| {
        report.outcome = outcome;
        report.reason = reason;
        report.duration_ms = exec::millis(started.elapsed());
        report
    };
    if !scenario.runs_on(driver.kind()) {
        let drivers: Vec<&str> = scenario.drivers.iter().map(|d| d.name()).collect();
        let reason = format!(
            "written for the {} driver(s), not `{}`",
            drivers.join(", "),
            driver.kind().name()
        );
        return finish(report, Outcome::Skipped, Some(reason));
    }
    if !scenario.topology.overrides.is_empty() && !driver.edits_topologies() {
        let reason = format!(
            "it edits `deployment.toml` (topology.overrides), which driver `{}` cannot",
            driver.kind().name()
        );
        return finish(report, Outcome::Skipped, Some(reason));
    }
    let prepared = match overrides::prepare(&topology_dir(scenario), &scenario.topology.overrides) {
        Ok(prepared) => prepared,
        Err(message) => return finish(report, Outcome::Failed, Some(message)),
    };
    let mut target = match driver.boot(&prepared.dir, seed).await {
        Ok(target) => target,
        Err(DriverError::Unsupported(reason)) => {
            return finish(report, Outcome::Skipped, Some(reason));
        }
        Err(error) => return finish(report, Outcome::Failed, Some(error.to_string())),
    };
    report.location = Some(target.location());
    let transcript = match (record, target.shared_clock()) {
        (Record::Transcript, Some(clock)) => {
            let names = member_authorities(&target, &prepared.dir);
            Some(crate::transcript::Transcript::new(clock, names))
        }
        _ => None,
    };
    if let Some(transcript) = &transcript {
        target.record_into(transcript);
    }
    let mut executor = exec::Executor::new(driver, &mut target);
    if let Some(transcript) = &transcript {
        executor.record(transcript.clone());
    }
    let steps = executor.run(scenario, &replay_path(&scenario.file)).await;
    report.convergence_ms = exec::millis(executor.convergence());
    executor.clean_up().await;
    target.shutdown().await;
    if let Some(transcript) = transcript {
        report.transcript = transcript.lines();
    }
    let failed = steps
        .iter()
        .filter(|s| s.outcome == Outcome::Failed)
        .count();
    let skipped: Vec<String> = steps
        .iter()
        .filter(|s| s.outcome == Outcome::Skipped)
        .filter_map(|s| s.reason.clone())
        .collect();
    report.steps = steps;
    if failed > 0 {
        let reason = format!("{failed} step{} failed", if failed == 1 { "" } else { "s" });
        finish(report, Outcome::Failed, Some(reason))
    } else if let Some(first) = skipped.first() {
        let reason = format!("{} step(s) skipped: {first}", skipped.len());
        finish(report, Outcome::Skipped, Some(reason))
    } else {
        finish(report, Outcome::Passed, None)
    }
}

/// Each member's URL authorities (`127.0.0.9:9443`) → its name, so a transcript says
/// `control-plane` where the address changes from run to run.
fn member_authorities<T: Target>(
    target: &T,
    topology: &Path,
) -> std::collections::BTreeMap<String, String> {
    let mut names = std::collections::BTreeMap::new();
    let Ok(topology) = crate::topology::Topology::load(topology) else {
        return names;
    };
    for member in topology.members() {
        let name = &member.name;
        let urls = [
            target.management_url(name),
            target.gateway_url(name, false),
            target.gateway_url(name, true),
            target.backend_url(name),
        ];
        for url in urls.into_iter().flatten() {
            if let Some(authority) = url
                .parse::<http::Uri>()
                .ok()
                .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()))
            {
                names.entry(authority).or_insert_with(|| name.clone());
            }
        }
    }
    names
}

/// How many scenarios run at once: each mostly waits on sockets, so a few per core.
pub fn default_parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
}

/// Runs `scenarios` on `driver`, `parallel` at a time; `on_done` sees each report as it
/// finishes. The report lists scenarios in the order given.
pub async fn run_all<D: Driver>(
    driver: &D,
    scenarios: &[Scenario],
    forced_seed: Option<u64>,
    parallel: usize,
    on_done: &(dyn Fn(&ScenarioReport) + Sync),
) -> RunReport {
    run_all_with(
        driver,
        scenarios,
        forced_seed,
        parallel,
        Record::Nothing,
        on_done,
    )
    .await
}

/// [`run_all`], recording as `record` says.
pub async fn run_all_with<D: Driver>(
    driver: &D,
    scenarios: &[Scenario],
    forced_seed: Option<u64>,
    parallel: usize,
    record: Record,
    on_done: &(dyn Fn(&ScenarioReport) + Sync),
) -> RunReport {
    let started = tokio::time::Instant::now();
    let mut reports: Vec<(usize, ScenarioReport)> =
        futures_util::stream::iter(scenarios.iter().enumerate())
            .map(|(i, scenario)| async move {
                let seed = seed_for(scenario, forced_seed);
                let report = run_scenario_with(driver, scenario, seed, record).await;
                on_done(&report);
                (i, report)
            })
            .buffer_unordered(parallel.max(1))
            .collect()
            .await;
    reports.sort_by_key(|(i, _)| *i);
    RunReport::new(
        driver.kind().name(),
        reports.into_iter().map(|(_, r)| r).collect(),
        exec::millis(started.elapsed()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_is_named_by_its_path_below_scenarios() {
        assert_eq!(
            display_path(Path::new("/x/scenarios/key-types/hybrid.toml")),
            "key-types/hybrid.toml"
        );
        assert_eq!(display_path(Path::new("scenarios/a.toml")), "a.toml");
    }

    #[test]
    fn discovery_recurses_in_name_order_and_skips_topologies() {
        let dir = std::env::temp_dir().join(format!(
            "tollgate-discover-{}-{}",
            std::process::id(),
            crate::address::private_address()
        ));
        for file in [
            "b/two.toml",
            "a.toml",
            "topologies/guide/topology.toml",
            "notes.md",
        ] {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let found = discover(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(found, [dir.join("a.toml"), dir.join("b/two.toml")]);
        assert!(matches!(
            discover(&[dir.join("missing")]),
            Err(RunnerError::Missing(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_seed_is_forced_else_the_files_else_derived_from_the_path() {
        let file = |seed: &str, path: &str| {
            let source = format!(
                "[scenario]\nname = \"t\"\ntopology = \"guide\"\n{seed}\n[[step]]\nadvance = \"1s\"\n"
            );
            tollgate_scenario::parse(&source, Path::new(path)).unwrap()
        };
        let seeded = file("seed = 9", "scenarios/a.toml");
        let unseeded = file("", "scenarios/a.toml");
        assert_eq!(seed_for(&seeded, Some(1)), 1);
        assert_eq!(seed_for(&seeded, None), 9);
        assert_eq!(seed_for(&unseeded, None), seed_for(&unseeded, None));
        let other = file("", "scenarios/b.toml");
        assert_ne!(seed_for(&unseeded, None), seed_for(&other, None));
    }

    #[test]
    fn tags_are_checked_by_name() {
        assert_eq!(
            parse_tags("routing, key-types").unwrap(),
            [Tag::Routing, Tag::KeyTypes]
        );
        assert!(matches!(parse_tags("auth"), Err(RunnerError::UnknownTag(t)) if t == "auth"));
    }
}
