//! Every scenario file under `scenarios/` (topologies excluded) is its own test case, named by
//! its path below `scenarios/` (`key-types/hybrid-matrix.toml`), run on the in-process driver.
//! Scenarios run in parallel, each topology on its own loopback address.
//!
//! A failure's message is the readable report: each failed step with what was sent, what came
//! back and what was expected (as a diff), then the seed and the command that replays it.
//! `TOLLGATE_SEED=N` fixes every scenario's seed, as `--seed` does for `tollgate run`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test binary: a panic is a failed test

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::PathBuf;
use tollgate_harness::driver::InprocDriver;
use tollgate_harness::report::{Outcome, terminal};
use tollgate_harness::runner;

fn main() {
    let args = Arguments::from_args();
    let root = tollgate_harness::workspace_root().expect("no scenarios/topologies above here");
    let files = runner::discover(&[root.join("scenarios")]).expect("scenarios/ cannot be read");
    let trials = files.into_iter().map(trial).collect();
    libtest_mimic::run(&args, trials).exit();
}

fn trial(file: PathBuf) -> Trial {
    let name = runner::display_path(&file);
    Trial::ignorable_test(name, move || run(&file))
}

fn run(file: &std::path::Path) -> Result<Completion, Failed> {
    let scenario =
        tollgate_scenario::load(file).map_err(|errors| Failed::from(errors.to_string()))?;
    let forced = runner::seed_from_env().map_err(|e| Failed::from(e.to_string()))?;
    let seed = runner::seed_for(&scenario, forced);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(format!("cannot start a runtime: {e}")))?;
    let driver = InprocDriver::new();
    let report = runtime.block_on(runner::run_scenario(&driver, &scenario, seed));
    match report.outcome {
        Outcome::Passed => Ok(Completion::Completed),
        Outcome::Skipped => Ok(Completion::ignored_with(
            report.reason.unwrap_or_else(|| "skipped".into()),
        )),
        Outcome::Failed => Err(Failed::from(format!(
            "{}  or, from cargo: TOLLGATE_SEED={} cargo test -p tollgate-harness --test scenarios -- --exact {}\n",
            terminal::scenario(&report),
            report.seed,
            report.file,
        ))),
    }
}
