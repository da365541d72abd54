//! `scripts/guide-walkthrough.sh` — the guide's steps 3-5 with curl — passes against a guide
//! topology booted in-process on a private loopback address.

use std::process::Stdio;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_walkthrough_passes_against_the_guide_topology() {
    let missing: Vec<&str> = ["bash", "curl", "python3"]
        .into_iter()
        .filter(|tool| !on_path(tool))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "skipped: the walk-through needs {} on PATH (not found)",
            missing.join(", ")
        );
        return;
    }
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

/// Whether an executable file named `tool` is in one of PATH's folders.
fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|folder| {
            let candidate = folder.join(tool);
            std::fs::metadata(&candidate).is_ok_and(|meta| {
                use std::os::unix::fs::PermissionsExt;
                meta.is_file() && meta.permissions().mode() & 0o111 != 0
            })
        })
    })
}

#[test]
fn on_path_finds_the_shell_and_not_a_made_up_name() {
    assert!(on_path("sh"));
    assert!(!on_path("tollgate-no-such-tool-7f3a"));
}
