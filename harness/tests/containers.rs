//! The container tier: scenario files run on the container driver, every member of their
//! topology in its own Docker container `FROM scratch` (the image is built here from a
//! statically linked `tollgate-node`, and reused while the binary is unchanged).
//!
//! Which scenarios: the guide's walk-through, the key-type matrix and the HA scenarios
//! (kills, restarts, the rest skip the steps this driver cannot do, with the reason). Without a
//! Docker engine every case is reported *ignored* with the reason, never passed.
//!
//! One more case checks the clean-up: `tollgate up --driver container` stopped with Ctrl-C
//! removes its containers and networks; killed, it leaves them to the next driver's sweep.
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
    let clean_up = {
        let (driver, runtime) = (driver.clone(), runtime.clone());
        Trial::ignorable_test(
            "container/up-removes-its-containers-and-a-killed-run-is-swept",
            move || match driver {
                Ok(driver) => runtime
                    .block_on(up_cleans_up_and_a_killed_run_is_swept(&driver))
                    .map(|()| Completion::Completed)
                    .map_err(Failed::from),
                Err(reason) => Ok(Completion::ignored_with(format!(
                    "no container tier here: {reason}"
                ))),
            },
        )
    };
    let scenarios = files.into_iter().map(|file| {
        let name = format!("container/{}", runner::display_path(&file));
        let driver = driver.clone();
        let runtime = runtime.clone();
        Trial::ignorable_test(name, move || match driver {
            Ok(driver) => run(&runtime, &driver, &file),
            Err(reason) => Ok(Completion::ignored_with(format!(
                "no container tier here: {reason}"
            ))),
        })
    });
    let trials = std::iter::once(clean_up).chain(scenarios).collect();
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

/// `tollgate up --driver container` stopped with Ctrl-C removes every container and network it
/// made; one killed outright leaves them behind, and the next driver to start sweeps them.
async fn up_cleans_up_and_a_killed_run_is_swept(driver: &ContainerDriver) -> Result<(), String> {
    use tokio::io::AsyncBufReadExt;
    let engine = driver.engine();
    for interrupt in [true, false] {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["up", "guide", "--driver", "container"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting tollgate up: {e}"))?;
        let pid = child.id().ok_or("tollgate up exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(std::time::Duration::from_secs(300), async {
            while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
                if line.starts_with("Ready.") {
                    return Ok(());
                }
            }
            Err("tollgate up ended before it was ready".to_owned())
        })
        .await
        .map_err(|_| "tollgate up was not ready within 300 s".to_owned())?;
        ready?;
        let made = engine.resources_of(pid).await?;
        // Three containers, their network and one network per pair of them.
        if made.len() != 7 {
            return Err(format!(
                "tollgate up made {made:?}, not 3 containers and 4 networks"
            ));
        }
        if interrupt {
            let sent = std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()
                .map_err(|e| format!("kill -INT: {e}"))?;
            if !sent.success() {
                return Err("kill -INT failed".into());
            }
        } else {
            child
                .start_kill()
                .map_err(|e| format!("killing tollgate up: {e}"))?;
        }
        tokio::time::timeout(std::time::Duration::from_secs(60), child.wait())
            .await
            .map_err(|_| "tollgate up did not end within 60 s".to_owned())?
            .map_err(|e| e.to_string())?;
        let left = engine.resources_of(pid).await?;
        if interrupt {
            if !left.is_empty() {
                return Err(format!("after Ctrl-C, tollgate up left {left:?}"));
            }
        } else {
            if left.len() != 7 {
                return Err(format!(
                    "a killed tollgate up left {left:?}, not its 7 resources"
                ));
            }
            ContainerDriver::connect()
                .await
                .map_err(|e| e.to_string())?;
            let swept = engine.resources_of(pid).await?;
            if !swept.is_empty() {
                return Err(format!("the sweep left {swept:?}"));
            }
        }
    }
    Ok(())
}
