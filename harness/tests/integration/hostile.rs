//! Hostile input at the harness's level: a short `tollgate soak` through the guide's topology,
//! and fuzzing `topology.toml` (docs/security.md).

use crate::common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_gets_every_answer_right_and_the_gateway_serves_after_it() {
    let options = tollgate_harness::soak::SoakOptions {
        duration: Duration::from_secs(3),
        connections: 4,
        seed: 3,
    };
    let report = tollgate_harness::soak::soak(&topology("guide"), &options)
        .await
        .unwrap();
    eprintln!("{report}");
    assert!(report.passed(), "{report}");
    let total: u64 = report.sent.values().sum();
    assert!(total >= 8, "{report}");
    assert!(report.sent.contains_key("broken chunked body"), "{report}");
}

/// Cases: `TOLLGATE_FUZZ_CASES`, else 128 (each case writes a file).
fn cases() -> u32 {
    std::env::var("TOLLGATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

#[test]
fn fuzz_topology_toml_never_panics() {
    const GUIDE: &str = include_str!("../../../scenarios/topologies/guide/topology.toml");
    let dir = std::env::temp_dir().join(format!("tollgate-fuzz-topology-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let line = prop_oneof![
        Just("[[instance]]".to_owned()),
        Just("[[backend]]".to_owned()),
        Just("[[load_balancer]]".to_owned()),
        Just("[hosts]".to_owned()),
        "[a-z_]{1,10} = \"[^\"\\n]{0,20}\"",
        "[a-z_]{1,10} = -?[0-9]{1,8}",
        "\\PC{0,30}",
    ];
    let shaped = prop::collection::vec(line, 0..20).prop_map(|l| l.join("\n"));
    let spliced = (0..GUIDE.len(), 0..GUIDE.len(), "\\PC{0,8}").prop_map(|(a, b, junk)| {
        let floor = |mut i: usize| {
            while !GUIDE.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let (a, b) = (floor(a.min(b)), floor(a.max(b)));
        format!("{}{junk}{}", &GUIDE[..a], &GUIDE[b..])
    });
    let bytes = prop::collection::vec(any::<u8>(), 0..200);
    let strategy = prop_oneof![
        shaped.prop_map(String::into_bytes),
        spliced.prop_map(String::into_bytes),
        bytes
    ];
    let cases = cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    // The one wall-clock reading here: how fast the target runs, for the report only.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::SystemTime::now();
    runner
        .run(&strategy, |source| {
            std::fs::write(dir.join("topology.toml"), &source).unwrap();
            // Loads or refuses, never panics; instance folders do not exist, so deeper checks
            // refuse with a location too.
            let _ = tollgate_harness::Topology::load(&dir);
            Ok(())
        })
        .unwrap();
    let secs = started
        .elapsed()
        .unwrap_or_default()
        .as_secs_f64()
        .max(1e-9);
    eprintln!(
        "fuzz topology.toml: {cases} executions, {:.0}/s, 0 panics",
        f64::from(cases) / secs
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Finding 5: the control plane takes the same head limit as the gateways (431 beyond 16 KiB),
/// and a gateway's REST API refuses a caller without the admin's Basic credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listener_of_the_guide_refuses_a_20_kib_header_with_431() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tollgate_node::PortRole;
    let running = boot("guide", 5).await;
    let request = format!(
        "GET /api/am/publisher/v4/apis HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    for (node, role) in [
        ("control-plane", PortRole::ServletHttp),
        ("production-gateway", PortRole::PassthruHttp),
        ("default-gateway", PortRole::PassthruHttp),
    ] {
        let addr = running.node(node).unwrap().endpoint(role).unwrap().addr;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = stream.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let read = stream.read_to_end(&mut answer);
        let _ = tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 431"), "{node}: {answer}");
    }
    let apis = running
        .client()
        .get("https://localhost:9445/api/am/gateway/v2/apis")
        .send()
        .await
        .unwrap();
    assert_eq!(apis.status.as_u16(), 401, "{apis}");
    running.shutdown().await;
}
