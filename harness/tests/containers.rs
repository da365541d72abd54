//! The container tier: scenario files run on the container driver, every member of their
//! topology in its own Docker container `FROM scratch` (the image is built here from a
//! statically linked `tollgate`, and reused while the binary is unchanged).
//!
//! Which scenarios: the guide's walk-through, the key-type matrix and the HA scenarios
//! (kills, restarts, the rest skip the steps this driver cannot do, with the reason). Without a
//! Docker engine every case is reported *ignored* with the reason, never passed.
//!
//! `cargo test -p tollgate-harness --test containers` runs it alone; failures print the report
//! and the command that replays the scenario on this driver.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test binary: a panic is a failed test

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::PathBuf;
use std::sync::Arc;
use tollgate_harness::driver::ContainerDriver;
use tollgate_harness::report::{Outcome, terminal};
use tollgate_harness::runner;

/// Folders of `scenarios/` this tier runs.
const FOLDERS: [&str; 3] = ["guide", "key-types", "ha"];

fn main() {
    let mut args = Arguments::from_args();
    // Each case boots several containers: two at once is what two cores carry.
    args.test_threads = args.test_threads.or(Some(2));
    let root = tollgate_harness::workspace_root().expect("no scenarios/ above here");
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a runtime"),
    );
    // One engine connection and one image for the whole tier; no engine → every case ignored.
    let driver = runtime.block_on(async {
        let driver = ContainerDriver::connect()
            .await
            .map_err(|e| e.to_string())?;
        driver.image().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(driver)
    });
    let paths: Vec<PathBuf> = FOLDERS
        .iter()
        .map(|f| root.join("scenarios").join(f))
        .collect();
    let files = runner::discover(&paths).expect("scenarios/ cannot be read");
    let trials = files
        .into_iter()
        .map(|file| {
            let name = format!("container/{}", runner::display_path(&file));
            let driver = driver.clone();
            let runtime = runtime.clone();
            Trial::ignorable_test(name, move || match driver {
                Ok(driver) => run(&runtime, &driver, &file),
                Err(reason) => Ok(Completion::ignored_with(format!(
                    "no container tier here: {reason}"
                ))),
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn run(
    runtime: &tokio::runtime::Runtime,
    driver: &ContainerDriver,
    file: &std::path::Path,
) -> Result<Completion, Failed> {
    let scenario =
        tollgate_scenario::load(file).map_err(|errors| Failed::from(errors.to_string()))?;
    let forced = runner::seed_from_env().map_err(|e| Failed::from(e.to_string()))?;
    let seed = runner::seed_for(&scenario, forced);
    let report = runtime.block_on(runner::run_scenario(driver, &scenario, seed));
    match report.outcome {
        Outcome::Passed => Ok(Completion::Completed),
        Outcome::Skipped => Ok(Completion::ignored_with(
            report.reason.unwrap_or_else(|| "skipped".into()),
        )),
        Outcome::Failed => Err(Failed::from(format!(
            "{}  or, from cargo: TOLLGATE_SEED={} cargo test -p tollgate-harness --test containers -- --exact container/{}\n",
            terminal::scenario(&report),
            report.seed,
            report.file,
        ))),
    }
}
