//! The `tollgate` binary: exit codes and messages a user sees.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

fn tollgate() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn run(mut command: tokio::process::Command) -> (i32, String, String) {
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("tollgate did not exit within 60 s")
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn node_with_a_bad_config_prints_every_diagnostic_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("tollgate-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("deployment.toml");
    std::fs::write(
        &file,
        "[server]\noffset = \"one\"\nserver_role = \"gateway-wroker\"\n",
    )
    .unwrap();
    let mut command = tollgate();
    command.arg("node").arg("--config").arg(&file);
    let (code, _, stderr) = run(command).await;
    assert_eq!(code, 2, "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("deployment.toml:"))
        .collect();
    assert!(lines.len() >= 2, "{stderr}");
    assert!(stderr.contains("deployment.toml:2:"), "{stderr}");
    assert!(stderr.contains("deployment.toml:3:"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn up_on_a_taken_port_says_which_and_exits_non_zero() {
    let address = tollgate_harness::address::private_address();
    let _squatter = tokio::net::TcpListener::bind(SocketAddr::new(address, 8282))
        .await
        .unwrap();
    let mut command = tollgate();
    command
        .arg("up")
        .arg(tollgate_harness::resolve_topology("guide"))
        .arg("--address")
        .arg(address.to_string());
    let (code, _, stderr) = run(command).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "port 8282 (default-gateway: gateway HTTP) on {address} is already in use"
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn up_prints_the_endpoints_then_stops_cleanly_on_ctrl_c() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let address = tollgate_harness::address::private_address();
    let mut command = tollgate();
    command
        .arg("up")
        .arg("guide")
        .arg("--address")
        .arg(address.to_string());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.starts_with("Ready.");
            seen.push(line);
            if done {
                return;
            }
        }
        panic!("tollgate up ended before it was ready");
    })
    .await;
    assert!(ready.is_ok(), "not ready within 60 s:\n{}", seen.join("\n"));
    let text = seen.join("\n");
    assert!(
        text.contains("https://localhost:9443/api/am/publisher/v4"),
        "{text}"
    );
    assert!(text.contains("served by default-gateway"), "{text}");

    // Ctrl-C is SIGINT.
    let pid = child.id().unwrap().to_string();
    let status = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("tollgate up did not stop within 30 s of Ctrl-C")
        .unwrap();
    assert!(status.success(), "{status}");
}
