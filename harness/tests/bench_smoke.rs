//! CI smoke of `tollgate bench`: the guide topology, every path, one short round. It checks that
//! the command runs end to end and that its report is whole and well-formed, never how fast
//! anything is (CI machines are noisy; figures are taken on a quiet machine, see README).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn tollgate_bench_runs_every_path_for_a_second_and_writes_its_report() {
    let out = std::env::temp_dir().join(format!("tollgate-bench-smoke-{}", std::process::id()));
    let address = tollgate_harness::address::private_address();
    let run = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["bench", "guide", "--duration", "1s", "--rounds", "1"])
        .args([
            "--warmup",
            "200ms",
            "--cold-tokens",
            "32",
            "--connections",
            "8",
        ])
        .arg("--address")
        .arg(address.to_string())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    for path in ["direct", "gateway", "gateway-counted", "gateway-cold-jwt"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(path)),
            "no row for {path}:\n{stdout}"
        );
    }
    // nginx is measured when installed, and otherwise its row says it is missing.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("nginx ") && (l.contains('×') || l.contains("not installed"))),
        "{stdout}"
    );

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bench.json")).unwrap()).unwrap();
    assert_eq!(report["config"]["rounds"], 1);
    for run in report["runs"].as_array().unwrap() {
        let path = run["path"].as_str().unwrap();
        let answered: u64 = run["status"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert!(answered > 0, "{path} answered nothing: {run}");
        assert_eq!(run["status"].as_object().unwrap().len(), 1, "{run}");
        assert!(run["status"]["200"].as_u64().is_some(), "{path}: {run}");
        assert!(
            run["errors"].as_object().unwrap().is_empty(),
            "{path}: {run}"
        );
        assert!(run["latency_us"]["p99"].as_u64().unwrap() > 0);
        assert!(run["coordinated_omission"].as_bool().unwrap());
    }
    let svg = std::fs::read_to_string(out.join("spectrum.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(">gateway</text>"));
    let _ = std::fs::remove_dir_all(&out);
}
