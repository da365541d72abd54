//! Booting the guide's topology (control plane + two gateways + mock backends), ready to serve:
//! in-process, and in Docker containers with the image already built. Boot to "every gateway
//! has done its start-up sync", then shutdown (containers removed) outside the timing.
//!
//! `cargo bench -p tollgate-benches --bench topology_boot`. The container case is left out,
//! with a line saying why, when no Docker engine answers.

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use std::time::Duration;
use tollgate_harness::driver::{ContainerDriver, Driver, InprocDriver, Signals, Target};

fn boot(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let Some(root) = tollgate_harness::workspace_root() else {
        panic!("no scenarios/topologies above here");
    };
    let guide = root.join("scenarios/topologies/guide");
    let mut group = c.benchmark_group("boot_guide_topology");
    // A boot takes seconds: ten samples of one boot each.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));

    let inproc = InprocDriver::new();
    group.bench_function("inproc", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let (inproc, guide) = (inproc.clone(), guide.clone());
            async move { timed(&inproc, &guide, iters).await }
        });
    });

    match runtime.block_on(async {
        let driver = ContainerDriver::connect().await?;
        driver.image().await?;
        Ok::<_, tollgate_harness::driver::DriverError>(driver)
    }) {
        Ok(containers) => {
            group.bench_function("container_image_cached", |b| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let (containers, guide) = (containers.clone(), guide.clone());
                    async move { timed(&containers, &guide, iters).await }
                });
            });
        }
        Err(error) => eprintln!("boot_guide_topology/container_image_cached: left out: {error}"),
    }
    group.finish();
}

/// `iters` boots, each timed from `boot` to every gateway synced; shutdowns not timed.
async fn timed<D: Driver>(driver: &D, topology: &std::path::Path, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        #[allow(clippy::disallowed_types)] // a benchmark measures wall time
        let started = std::time::Instant::now();
        let target = driver
            .boot(topology, 1)
            .await
            .unwrap_or_else(|e| panic!("boot: {e}"));
        let signals = target
            .signals()
            .unwrap_or_else(|| panic!("a booted topology gives convergence signals"));
        for gateway in target.gateway_names() {
            signals
                .wait_for_seq(&gateway, 0, Duration::from_secs(60))
                .await
                .unwrap_or_else(|e| panic!("{gateway}: {}", e.last_seen));
        }
        total += started.elapsed();
        target.shutdown().await;
    }
    total
}

criterion_group!(benches, boot);
criterion_main!(benches);
