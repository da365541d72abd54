//! The simulated driver (`--driver sim`) against the in-process one and against itself: the
//! same per-step outcomes on the suite, one transcript per seed (in one process and across
//! processes), another seed another transcript, and a deliberately unseeded canary caught.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test binary: a panic is a failed test

use std::path::PathBuf;
use tollgate_harness::driver::sim::{WireLog, WireSummary};
use tollgate_harness::driver::{InprocDriver, SimDriver};
use tollgate_harness::report::{Outcome, RunReport};
use tollgate_harness::runner::{self, Record};
use tollgate_harness::transcript;
use tollgate_scenario::Scenario;

/// The suite's scenarios the simulated driver does not run, and why: each is reported as
/// skipped with its reason, never run half-way.
fn root() -> PathBuf {
    tollgate_harness::workspace_root().unwrap()
}

fn load(paths: &[&str]) -> Vec<Scenario> {
    let paths: Vec<PathBuf> = paths.iter().map(|p| root().join(p)).collect();
    let files = runner::discover(&paths).unwrap();
    let (scenarios, errors) = runner::load_all(&files);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!scenarios.is_empty());
    scenarios
}

/// `scenarios` under simulation with seed 7, keeping the transcript.
async fn simulated(scenarios: &[Scenario]) -> RunReport {
    SimDriver::new()
        .run_all(scenarios, Some(7), 1, Record::Transcript, &|_| {})
        .await
}

/// The first scenario's transcript, a JSON value a line.
fn records(report: &RunReport) -> Vec<serde_json::Value> {
    report.scenarios[0]
        .transcript
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A scenario file of one test's own, in a folder of the system's temporary one removed on drop.
struct Written(PathBuf);

impl Written {
    fn new(name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tollgate-sim-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
        Self(dir)
    }

    fn scenarios(&self) -> Vec<Scenario> {
        load(&[self.0.to_str().unwrap()])
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The run's closed transcript (per scenario, as `tollgate run --transcript` writes it).
fn closed(report: &RunReport) -> Vec<String> {
    let mut lines = Vec::new();
    for scenario in &report.scenarios {
        lines.push(format!("scenario {} {:?}", scenario.file, scenario.outcome));
        lines.extend(scenario.transcript.iter().cloned());
    }
    transcript::closed(lines)
}

fn steps(report: &tollgate_harness::report::ScenarioReport) -> Vec<Outcome> {
    report.steps.iter().map(|s| s.outcome).collect()
}

/// Every scenario of the suite, on both drivers with one seed: the same outcome for each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_has_the_same_per_step_outcomes_in_process_and_simulated() {
    let scenarios = load(&["scenarios"]);
    let inproc = runner::run_all_with(
        &InprocDriver::new(),
        &scenarios,
        Some(11),
        4,
        Record::Nothing,
        &|_| {},
    )
    .await;
    let sim = SimDriver::new()
        .run_all(&scenarios, Some(11), 2, Record::Nothing, &|_| {})
        .await;
    let mut differences = Vec::new();
    let mut compared = 0;
    for (a, b) in inproc.scenarios.iter().zip(&sim.scenarios) {
        assert_eq!(a.file, b.file);
        compared += 1;
        if a.outcome != b.outcome || steps(a) != steps(b) {
            differences.push(format!(
                "{}: in-process {:?} {:?}, simulated {:?} {:?} ({})",
                a.file,
                a.outcome,
                steps(a),
                b.outcome,
                steps(b),
                b.reason.clone().unwrap_or_default()
            ));
        }
    }
    assert!(differences.is_empty(), "{differences:#?}");
    // The Traffic Manager faults included (each Traffic Manager is a host of its own).
    assert_eq!(compared, scenarios.len());
    assert!(compared >= 80, "only {compared} scenarios compared");
    let skipped: Vec<&str> = sim
        .scenarios
        .iter()
        .filter(|s| s.outcome == Outcome::Skipped)
        .map(|s| s.file.as_str())
        .collect();
    assert!(skipped.is_empty(), "skipped under sim: {skipped:?}");
}

/// A scenario whose `drivers` leaves `sim` out is skipped under simulation, saying why.
#[tokio::test]
async fn a_scenario_written_for_other_drivers_is_skipped_with_the_reason() {
    let elsewhere = Written::new(
        "written-for-inproc",
        r#"
[scenario]
name = "Written for the in-process driver"
description = "Only in-process."
topology = "guide"
drivers = ["inproc"]

[[step]]
advance = "1s"
"#,
    );
    let report = simulated(&elsewhere.scenarios()).await;
    assert_eq!(report.scenarios[0].outcome, Outcome::Skipped);
    assert_eq!(
        report.scenarios[0].reason.as_deref(),
        Some("written for the inproc driver(s), not `sim`")
    );
}

/// Scenarios that move the clock, kill and restart, partition, and run background loads.
const MIXED: [&str; 6] = [
    "scenarios/routing/two-versions-of-an-api-are-served-side-by-side.toml",
    "scenarios/throttling/the-quota-window-resets-exactly-at-the-minute-boundary.toml",
    "scenarios/ha/one-gateway-killed-under-load-fails-no-read-through-the-load-balancer.toml",
    "scenarios/ha/a-gateway-cut-off-from-the-control-plane-serves-what-it-has-and-catches-up-when-healed.toml",
    "scenarios/ha/node-down-during-deploy-and-undeploy-serves-the-new-state-when-back.toml",
    "scenarios/endpoints/a-suspended-load-balance-member-is-skipped-until-its-suspension-ends.toml",
];

/// One seed, five runs, one transcript hash; another seed, another transcript (other ids).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_seed_gives_one_transcript_five_times_and_another_seed_another() {
    let scenarios = load(&MIXED);
    let driver = SimDriver::new();
    let first = driver
        .run_all(&scenarios, Some(7), 2, Record::Transcript, &|_| {})
        .await;
    assert!(first.passed(), "{:?}", first.totals);
    let expected = closed(&first);
    assert!(expected.len() > 200, "{} lines", expected.len());
    nodes_recorded(&expected);
    load_balancer_exchanges_recorded(&expected);
    for _ in 0..4 {
        let again = driver
            .run_all(&scenarios, Some(7), 2, Record::Transcript, &|_| {})
            .await;
        let lines = closed(&again);
        assert_eq!(transcript::first_difference(&expected, &lines), None);
        assert_eq!(expected.last(), lines.last());
    }
    let other = driver
        .run_all(&scenarios, Some(8), 2, Record::Transcript, &|_| {})
        .await;
    assert!(other.passed(), "{:?}", other.totals);
    let other = closed(&other);
    let (_, one, two) =
        transcript::first_difference(&expected, &other).expect("seeds 7 and 8 agree");
    assert_ne!(expected.last(), other.last());
    // The first difference is an id or a secret the seed made.
    assert!(one.is_some() && two.is_some(), "{one:?} / {two:?}");
}

/// A Traffic Manager killed alone is its own host stopping: from the kill to the restart every
/// gateway's call to it fails, while its control plane serves on (no gateway loses its event
/// stream); after the restart the decision stream is back. The same transcript twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traffic_manager_killed_alone_is_its_own_host_and_its_control_plane_serves_on() {
    let scenarios = load(&[
        "scenarios/ha/traffic-manager-down-requests-flow-on-last-decisions-and-throttling-resumes.toml",
    ]);
    let driver = SimDriver::new();
    let report = driver
        .run_all(&scenarios, Some(7), 1, Record::Transcript, &|_| {})
        .await;
    assert!(report.passed(), "{:?}", report.totals);
    let lines = closed(&report);
    let again = driver
        .run_all(&scenarios, Some(7), 1, Record::Transcript, &|_| {})
        .await;
    assert_eq!(transcript::first_difference(&lines, &closed(&again)), None);
    let json: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let fault = |name: &str| {
        json.iter()
            .position(|l| l["kind"] == "fault" && l["fault"].as_str().unwrap().contains(name))
            .unwrap_or_else(|| panic!("no {name} fault line"))
    };
    let (killed, restarted) = (fault("Kill"), fault("Restart"));
    assert!(killed < restarted);
    let node_calls = |range: std::ops::Range<usize>, to: &str| -> Vec<&serde_json::Value> {
        json[range]
            .iter()
            .filter(|l| l["kind"] == "http" && l["to"] == to && l["from"] != "harness")
            .collect()
    };
    let down = node_calls(killed..restarted, "traffic-manager");
    assert!(!down.is_empty(), "no gateway tried the Traffic Manager");
    assert!(
        down.iter().all(|l| l.get("error").is_some()),
        "the Traffic Manager answered while killed: {down:#?}"
    );
    let refused_control_plane: Vec<_> = node_calls(killed..restarted, "control-plane")
        .into_iter()
        .filter(|l| l.get("error").is_some())
        .collect();
    assert!(
        refused_control_plane.is_empty(),
        "the control plane went down with its Traffic Manager: {refused_control_plane:#?}"
    );
    let back = node_calls(restarted..json.len(), "traffic-manager");
    assert!(
        back.iter().any(|l| {
            l["request"]["url"] == "/throttle/decisions" && l["response"]["status"] == 200
        }),
        "no decision stream after the restart"
    );
}

/// The records from inside the nodes are in a transcript: the events each gateway applied, with
/// their content, and each Traffic Manager decision with every gateway applying it.
fn nodes_recorded(lines: &[String]) {
    let records: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let of = |kind: &str| -> Vec<&serde_json::Value> {
        records.iter().filter(|r| r["kind"] == kind).collect()
    };
    let deployed = of("applied-event")
        .into_iter()
        .filter(|r| r["event"]["type"] == "DEPLOY_API_IN_GATEWAY")
        .collect::<Vec<_>>();
    assert!(!deployed.is_empty(), "no deploy event applied");
    for record in &deployed {
        assert!(
            record["node"]
                .as_str()
                .is_some_and(|n| n.contains("gateway"))
        );
        assert!(record["seq"].as_u64().is_some_and(|seq| seq > 0));
        assert!(
            record["event"]["artifact"]["context"].is_string(),
            "{record}"
        );
    }
    let decisions = of("decision");
    assert!(!decisions.is_empty(), "no Traffic Manager decision");
    let applied = of("applied-decision");
    for decision in decisions {
        assert_eq!(decision["node"], "control-plane");
        let same = |r: &&&serde_json::Value| {
            ["key", "throttled", "until"]
                .iter()
                .all(|f| r[*f] == decision[*f])
        };
        assert!(
            applied.iter().filter(same).count() >= 2,
            "not applied by both gateways: {decision}"
        );
    }
}

/// The load balancer's forwarded requests are in a simulated transcript, each to a gateway
/// node, and each gateway's requests to the backend it proxies to.
fn load_balancer_exchanges_recorded(lines: &[String]) {
    let exchanges: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["kind"] == "http" && r["from"] != "harness")
        .collect();
    let between = |from: &str, to: &str, path: &str| {
        exchanges
            .iter()
            .filter(|r| r["from"] == from && r["to"] == to)
            .filter(|r| {
                r["request"]["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with(path))
            })
            .count()
    };
    for gateway in ["gateway-1", "gateway-2"] {
        assert!(
            between("load-balancer", gateway, "/pizzashack/1.0.0/") > 0,
            "no request forwarded to {gateway}"
        );
        assert!(
            between(gateway, "pizzashack-production", "/pizzashack/") > 0,
            "{gateway} sent nothing to its backend"
        );
    }
}

/// Under simulation the transcript holds the members' exchanges with each other from boot on:
/// each gateway's start-up snapshot (the control plane's answer, then `applied-snapshot`) before
/// the runner's first request, its decision stream as a head without a body, and for every
/// runner request a backend answered, the gateway's request to that backend with the path the
/// backend saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_transcript_holds_the_members_exchanges_from_boot_on() {
    let scenarios =
        load(&["scenarios/routing/two-versions-of-an-api-are-served-side-by-side.toml"]);
    let report = simulated(&scenarios).await;
    assert!(report.passed(), "{:?}", report.scenarios[0].reason);
    let records = records(&report);
    let first_runner = records
        .iter()
        .position(|r| r["from"] == "harness")
        .expect("no runner exchange");
    let boot = &records[..first_runner];
    for gateway in ["production-gateway", "default-gateway"] {
        let fetched = boot.iter().position(|r| {
            r["from"] == gateway
                && r["to"] == "control-plane"
                && r["request"]["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("/internal/data/v1/runtime-artifacts"))
        });
        let fetched = fetched.unwrap_or_else(|| panic!("{gateway}: no snapshot fetched at boot"));
        assert!(
            boot[fetched]["response"]["body"]
                .as_str()
                .is_some_and(|b| b.contains("eventSeq")),
            "{}",
            boot[fetched]
        );
        let applied = boot
            .iter()
            .position(|r| r["kind"] == "applied-snapshot" && r["node"] == gateway);
        assert!(
            applied.is_some_and(|a| a > fetched),
            "{gateway}: no boot snapshot applied after its fetch"
        );
        let stream = boot
            .iter()
            .find(|r| r["from"] == gateway && r["request"]["url"] == "/throttle/decisions")
            .unwrap_or_else(|| panic!("{gateway}: no decision stream"));
        assert_eq!(stream["to"], "traffic-manager");
        assert_eq!(stream["response"]["status"], 200);
        assert!(stream["response"].get("body").is_none(), "{stream}");
    }
    let mut served = 0;
    for (i, runner) in records.iter().enumerate() {
        let backend = &runner["response"]["headers"]["x-tollgate-backend"];
        if runner["from"] != "harness" || !backend.is_string() {
            continue;
        }
        served += 1;
        let body: serde_json::Value =
            serde_json::from_str(runner["response"]["body"].as_str().unwrap()).unwrap();
        // The backend's record comes before the runner's, which is written once answered.
        let proxied = records[..i]
            .iter()
            .rev()
            .find(|r| r["kind"] == "http" && r["from"] == runner["to"] && r["to"] == *backend);
        let proxied = proxied.unwrap_or_else(|| panic!("no backend exchange before {runner}"));
        let url = proxied["request"]["url"].as_str().unwrap();
        assert_eq!(url.split('?').next(), body["path"].as_str(), "{proxied}");
        assert_eq!(proxied["response"]["status"], runner["response"]["status"]);
    }
    assert!(served >= 2, "{served} requests served by a backend");
}

/// A gateway's Basic-auth check with the control plane is in the transcript, before the
/// runner's request that caused it: the user's credentials as the gateway sent them and the
/// control plane's verdict, `authenticated` true for the admin's password and false for a wrong
/// one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateways_basic_auth_check_with_the_control_plane_is_recorded() {
    let scenarios = load(&[
        "scenarios/auth/an-api-secured-with-basic-auth-checks-the-users-password-with-the-control-plane.toml",
    ]);
    let report = simulated(&scenarios).await;
    assert!(report.passed(), "{:?}", report.scenarios[0].reason);
    let records = records(&report);
    let checks: Vec<(usize, &serde_json::Value)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r["from"] == "production-gateway"
                && r["to"] == "control-plane"
                && r["request"]["url"] == "/internal/data/v1/basic-auth"
        })
        .collect();
    let verdict = |check: &serde_json::Value| -> (String, bool) {
        let sent: serde_json::Value =
            serde_json::from_str(check["request"]["body"].as_str().unwrap()).unwrap();
        let answer: serde_json::Value =
            serde_json::from_str(check["response"]["body"].as_str().unwrap()).unwrap();
        let password = sent["password"].as_str().unwrap().to_owned();
        (password, answer["authenticated"].as_bool().unwrap())
    };
    let verdicts: Vec<(String, bool)> = checks.iter().map(|(_, c)| verdict(c)).collect();
    assert!(
        verdicts.contains(&("admin".to_owned(), true)),
        "{verdicts:?}"
    );
    assert!(
        verdicts.contains(&("wrong".to_owned(), false)),
        "{verdicts:?}"
    );
    for (at, check) in checks {
        assert_eq!(check["response"]["status"], 200, "{check}");
        let next = records[at..]
            .iter()
            .find(|r| r["from"] == "harness")
            .expect("no runner exchange after the check");
        assert_eq!(next["to"], "production-gateway", "{next}");
    }
}

/// The backend records the requests it takes and never answers: one on a kept-alive
/// connection it resets (its head, and why), and one it hangs on, when its sender gives up and
/// the request is dropped — here the runner's 30 s timeout, which closes its connection to the
/// gateway and so the gateway's to the backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_a_backend_never_answers_are_recorded_as_unanswered() {
    let unanswered = |records: &[serde_json::Value]| -> Vec<String> {
        records
            .iter()
            .filter(|r| r["to"] == "pizzashack-production" && r.get("response").is_none())
            .map(|r| {
                assert_eq!(r["from"], "production-gateway", "{r}");
                assert_eq!(r["request"]["url"], "/pizzashack/menu", "{r}");
                r["error"].as_str().unwrap().to_owned()
            })
            .collect()
    };

    let failover = load(&[
        "scenarios/endpoints/a-failover-endpoint-serves-from-the-next-member-while-the-first-is-down.toml",
    ]);
    let report = simulated(&failover).await;
    assert!(report.passed(), "{:?}", report.scenarios[0].reason);
    assert_eq!(
        unanswered(&records(&report)),
        ["reset by the backend"],
        "the pooled connection's request is reset once; the retry's new connection is reset \
         before any request is read"
    );

    let hangs = Written::new(
        "a-backend-that-hangs",
        r#"
[scenario]
name = "A backend that hangs"
description = "The production backend takes a request and never answers it."
topology = "guide"

[[step]]
publish = { api = "pizza", name = "PizzaShackAPI", context = "/pizzashack", version = "1.0.0", production = "pizzashack-production", resources = ["GET /menu"] }

[[step]]
deploy = { api = "pizza", to = "Production Gateway" }

[[step]]
application = { app = "shop" }

[[step]]
subscribe = { app = "shop", api = "pizza" }

[[step]]
generate_keys = { app = "shop", key_type = "production", key = "prod" }

[[step]]
token = { as = "token", key = "prod" }

[[step]]
name = "Served"
request = { via = "production-gateway", path = "/pizzashack/1.0.0/menu", token = "${token}" }
expect = { status = 200, backend = "pizzashack-production" }

[[step]]
fault = { backend = "pizzashack-production", timeout = true }

[[step]]
name = "Never answered: the runner gives up"
request = { via = "production-gateway", path = "/pizzashack/1.0.0/menu", token = "${token}" }
expect = { status = 200 }
"#,
    );
    let report = simulated(&hangs.scenarios()).await;
    let steps = &report.scenarios[0].steps;
    assert_eq!(steps.last().unwrap().outcome, Outcome::Failed, "{steps:?}");
    let records = records(&report);
    assert_eq!(
        unanswered(&records),
        ["not answered: the request was dropped first"]
    );
    let dropped = records
        .iter()
        .position(|r| r["to"] == "pizzashack-production" && r.get("error").is_some())
        .unwrap();
    let gave_up = records
        .iter()
        .rposition(|r| r["from"] == "harness" && r["to"] == "production-gateway")
        .unwrap();
    assert!(
        records[gave_up].get("error").is_some(),
        "{}",
        records[gave_up]
    );
    assert!(
        records[dropped]["at"].as_i64() >= records[gave_up]["at"].as_i64(),
        "dropped when its sender gave up, not before"
    );
}

/// A load balancer's health probe that times out is in the transcript as unanswered: while
/// gateway-2 is paused, its probes end with the check's timeout, and gateway-1's are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_balancers_probe_of_a_paused_node_is_recorded_as_timed_out() {
    let paused = Written::new(
        "a-paused-node",
        r#"
[scenario]
name = "A paused node"
description = "gateway-2 is paused for five seconds behind the load balancer."
topology = "ha"

[[step]]
fault = { pause = "gateway-2" }

[[step]]
advance = "5s"

[[step]]
fault = { resume = "gateway-2" }
"#,
    );
    let report = simulated(&paused.scenarios()).await;
    assert!(report.passed(), "{:?}", report.scenarios[0].reason);
    let probes = |node: &str| -> Vec<serde_json::Value> {
        records(&report)
            .into_iter()
            .filter(|r| {
                r["from"] == "load-balancer"
                    && r["to"] == node
                    && r["request"]["url"]
                        .as_str()
                        .is_some_and(|u| u.ends_with("server-startup-healthcheck"))
            })
            .collect()
    };
    let timed_out = probes("gateway-2")
        .iter()
        .filter(|r| r["error"] == "no answer within 1s")
        .count();
    assert!(timed_out >= 3, "{:?}", probes("gateway-2"));
    assert!(
        probes("gateway-1")
            .iter()
            .all(|r| r["response"]["status"] == 200),
        "{:?}",
        probes("gateway-1")
    );
}

/// Under the in-process driver the nodes' records are in the transcript too (in the order the
/// threads made them: not compared across runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_transcript_holds_the_events_and_decisions_the_nodes_applied() {
    let scenarios =
        load(&["scenarios/throttling/the-quota-window-resets-exactly-at-the-minute-boundary.toml"]);
    let report = runner::run_all_with(
        &InprocDriver::new(),
        &scenarios,
        Some(7),
        1,
        Record::Transcript,
        &|_| {},
    )
    .await;
    assert!(report.passed(), "{:?}", report.totals);
    nodes_recorded(&closed(&report));
}

/// Across processes: `tollgate run --driver sim --seed 7 --transcript` twice writes one file.
#[test]
fn two_processes_write_the_same_transcript_for_a_seed() {
    let dir = std::env::temp_dir().join(format!("tollgate-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |name: &str| {
        let file = dir.join(name);
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .current_dir(root())
            .args(["run", "--driver", "sim", "--seed", "7", "scenarios/routing"])
            .arg("--transcript")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stdout)
        );
        std::fs::read_to_string(file).unwrap()
    };
    let (first, second) = (run("a.jsonl"), run("b.jsonl"));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(first.lines().count() > 50);
    assert_eq!(first, second);
}

/// The in-process canary (a background load beside foreground requests) is nondeterministic on
/// real time; in the simulation it is not. A simulation whose network is not seeded from the
/// run (the canary driver) is caught by the same comparison within 20 seeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulation_tames_the_real_time_canary_and_an_unseeded_network_is_caught() {
    let file = root().join("harness/tests/fixtures/nondeterministic-canary.toml");
    let scenario = tollgate_scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let scenarios = vec![scenario];
    let seeded = SimDriver::new();
    for seed in 1..=3 {
        let first = seeded
            .run_all(&scenarios, Some(seed), 1, Record::Transcript, &|_| {})
            .await;
        let second = seeded
            .run_all(&scenarios, Some(seed), 1, Record::Transcript, &|_| {})
            .await;
        assert!(first.passed(), "{:?}", first.scenarios[0].reason);
        assert_eq!(
            transcript::first_difference(&closed(&first), &closed(&second)),
            None,
            "seed {seed}"
        );
    }
    let canary = SimDriver::new().unseeded_canary();
    let mut caught = None;
    for seed in 1..=20 {
        let first = canary
            .run_all(&scenarios, Some(seed), 1, Record::Transcript, &|_| {})
            .await;
        let second = canary
            .run_all(&scenarios, Some(seed), 1, Record::Transcript, &|_| {})
            .await;
        assert!(first.scenarios[0].transcript.len() > 10);
        if transcript::first_difference(&closed(&first), &closed(&second)).is_some() {
            caught = Some(seed);
            break;
        }
    }
    assert!(
        caught.is_some(),
        "20 seeds, and the canary was never caught"
    );
}

/// What the first seed sweep found: after a one-minute `advance`, a pooled connection idle for
/// that minute was reused as the gateway closed it (seeds 3 and 5). Pools no longer reuse a
/// connection idle past half the listeners' idle limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_idle_for_an_advanced_minute_is_not_reused_as_the_gateway_closes_it() {
    let scenarios = load(&[
        "scenarios/throttling/a-custom-rule-limits-one-user-to-five-requests-a-minute-with-429-code-900806.toml",
    ]);
    for seed in [3, 5] {
        let report = SimDriver::new()
            .run_all(&scenarios, Some(seed), 1, Record::Nothing, &|_| {})
            .await;
        assert!(
            report.passed(),
            "seed {seed}: {:?}",
            report.scenarios[0].reason
        );
    }
}

/// The bytes the listeners of `scenarios`' nodes and load balancers read and write, run one
/// after another with `seed` on `driver`; every scenario must pass.
fn wire(driver: SimDriver, scenarios: &[Scenario], seed: u64) -> WireSummary {
    let log = WireLog::new();
    let driver = driver.record_wire(log.clone());
    for scenario in scenarios {
        let report = driver.run_scenario(scenario, seed, Record::Nothing);
        assert_eq!(
            report.outcome,
            Outcome::Passed,
            "{} seed {seed}: {:?}",
            report.file,
            report.reason
        );
    }
    log.summary()
}

/// TLS is seeded too: one seed puts the same bytes on the simulated wire run after run —
/// hello randoms, key shares, `CertificateVerify` signatures, session tickets and a resumed
/// session's ticket age included — and another seed other bytes. With every host's TLS drawing
/// from the system (the canary), two runs of one seed carry as many bytes but not the same.
#[test]
fn one_seed_puts_the_same_bytes_on_the_simulated_wire_tls_included() {
    let scenarios = load(&[
        "scenarios/ha/one-gateway-killed-under-load-fails-no-read-through-the-load-balancer.toml",
        "scenarios/routing/two-versions-of-an-api-are-served-side-by-side.toml",
    ]);
    let first = wire(SimDriver::new(), &scenarios, 7);
    assert!(first.connections > 20 && first.bytes > 100_000, "{first:?}");
    assert_eq!(first, wire(SimDriver::new(), &scenarios, 7));
    assert_ne!(first.digest, wire(SimDriver::new(), &scenarios, 8).digest);
    let canary = wire(SimDriver::new().system_tls_canary(), &scenarios, 7);
    let again = wire(SimDriver::new().system_tls_canary(), &scenarios, 7);
    assert_eq!(
        (canary.connections, canary.bytes),
        (again.connections, again.bytes)
    );
    assert_ne!(
        canary.digest, again.digest,
        "system TLS, and the wire agreed"
    );
}
