//! `scripts/guide-walkthrough.sh` — the guide's steps 3-5 with curl — passes against a guide
//! topology booted in-process on a private loopback address.

use std::process::Stdio;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_walkthrough_passes_against_the_guide_topology() {
    let topology = crate::common::boot("guide", 11).await;
    let root = tollgate_harness::workspace_root().unwrap();
    let mut command = tokio::process::Command::new("bash");
    command
        .arg(root.join("scripts/guide-walkthrough.sh"))
        .env("TOLLGATE_ADDRESS", topology.address.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("the walk-through did not finish within 180 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "walk-through failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("The guide walk-through passed"), "{stdout}");
    topology.shutdown().await;
}
