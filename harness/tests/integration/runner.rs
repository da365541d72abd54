//! The runner and its reports: a wrong expectation fails readably (diff, seed, replay
//! command), JUnit XML parses with a JUnit parser, and the JSON report is a snapshot with its
//! volatile fields redacted (`snapshots/harness/`).

use serde_json::Value;
use std::path::{Path, PathBuf};
use tollgate_harness::client::Client;
use tollgate_harness::driver::{
    Capability, Driver, DriverError, InprocDriver, InprocTarget, Target,
};
use tollgate_harness::report::{self, Outcome, RunReport, terminal};
use tollgate_harness::runner;
use tollgate_scenario::Scenario;

fn root() -> PathBuf {
    tollgate_harness::workspace_root().unwrap()
}

fn load(path: &Path) -> Scenario {
    tollgate_scenario::load(path).unwrap_or_else(|e| panic!("{e}"))
}

async fn run(scenarios: &[Scenario]) -> RunReport {
    runner::run_all(&InprocDriver::new(), scenarios, None, 4, &|_| {}).await
}

/// A fixture written to a fresh temp folder: the runner must not depend on scenarios/.
fn temp_scenario(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tollgate-runner-{}-{}",
        std::process::id(),
        tollgate_harness::address::private_address()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file
}

const WRONG: &str = r#"
[scenario]
name = "A wrong expectation"
topology = "guide"
seed = 77

[[step]]
publish = { api = "pizza", name = "PizzaShackAPI", context = "/pizzashack", version = "1.0.0", production = "pizzashack-production", resources = ["GET /menu"] }

[[step]]
deploy = { api = "pizza", to = "Production Gateway" }

[[step]]
name = "No API has this context"
request = { via = "production-gateway", path = "/nosuchapi/1.0.0/menu", token = "x" }
expect = { status = 404, json = { "$" = { equals = { code = "404", message = "Not Found at all" } } } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_expectation_fails_with_a_diff_the_seed_and_the_replay_command() {
    let file = temp_scenario("wrong.toml", WRONG);
    let report = run(&[load(&file)]).await;
    assert!(!report.passed());
    let scenario = &report.scenarios[0];
    assert_eq!(scenario.outcome, Outcome::Failed);
    let text = terminal::scenario(scenario);
    // What was sent, what came back, what was expected as a diff.
    assert!(
        text.contains("GET http://localhost:8281/nosuchapi/1.0.0/menu"),
        "{text}"
    );
    assert!(text.contains("received:\n      404"), "{text}");
    assert!(
        text.contains("--- expected") && text.contains("+++ actual"),
        "{text}"
    );
    assert!(
        text.contains("-  \"message\": \"Not Found at all\""),
        "{text}"
    );
    assert!(text.contains("+  \"message\": \"Not Found\""), "{text}");
    // The seed and the one command that replays it.
    assert!(text.contains("seed: 77"), "{text}");
    assert!(
        text.contains(&format!(
            "replay: tollgate run {} --seed 77 --driver inproc",
            file.display()
        )),
        "{text}"
    );
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_follows_a_failed_control_plane_step_is_skipped_not_passed() {
    let file = temp_scenario(
        "stops.toml",
        r#"
[scenario]
name = "Deploying to an environment nobody has fails, and what follows is not run"
topology = "guide"

[[step]]
publish = { api = "pizza", name = "PizzaShackAPI", context = "/pizzashack", version = "1.0.0", production = "pizzashack-production", resources = ["GET /menu"] }

[[step]]
http = { method = "DELETE", path = "/api/am/publisher/v4/apis/${api.pizza.id}" }
expect.status = 200

[[step]]
deploy = { api = "pizza", to = "Production Gateway" }

[[step]]
request = { via = "production-gateway", path = "/pizzashack/1.0.0/menu", token = "x" }
expect.status = 401
"#,
    );
    let report = run(&[load(&file)]).await;
    let steps = &report.scenarios[0].steps;
    assert_eq!(steps[2].outcome, Outcome::Failed, "{:#?}", steps[2]);
    assert_eq!(steps[3].outcome, Outcome::Skipped);
    assert!(steps[3].reason.as_deref().unwrap().contains("failed"));
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_xml_parses_with_one_case_per_scenario_and_the_failure_message() {
    let fixtures = root().join("harness/tests/fixtures");
    let mut skipped = load(&fixtures.join("passes.toml"));
    skipped.drivers = vec![tollgate_scenario::Driver::Sim];
    let scenarios = vec![
        load(&fixtures.join("passes.toml")),
        load(&root().join("harness/tests/fixtures/deliberately-wrong.toml")),
        skipped,
    ];
    let report = run(&scenarios).await;
    let xml = report::junit::render(&report).unwrap();
    let parsed = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes())).unwrap();
    assert_eq!(parsed.tests, 3, "{xml}");
    assert_eq!(parsed.failures, 1, "{xml}");
    let suite = &parsed.suites[0];
    assert_eq!((suite.tests, suite.failures), (3, 1), "{xml}");
    let cases = &suite.cases;
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.status, junit_parser::TestStatus::Skipped(_)));
    assert_eq!(skipped.count(), 1, "{xml}");
    assert_eq!(cases[0].original_name, "harness/tests/fixtures/passes.toml");
    assert!(cases[0].status.is_success());
    let junit_parser::TestStatus::Failure(failure) = &cases[1].status else {
        panic!("{xml}")
    };
    assert!(
        failure.message.contains("expected, wrongly"),
        "{}",
        failure.message
    );
    assert!(
        failure
            .message
            .contains("replay: tollgate run harness/tests/fixtures/deliberately-wrong.toml --seed 5 --driver inproc"),
        "{}",
        failure.message
    );
    assert!(failure.text.contains("+++ actual"), "{}", failure.text);
    let junit_parser::TestStatus::Skipped(skip) = &cases[2].status else {
        panic!("{xml}")
    };
    assert!(skip.message.contains("not `inproc`"), "{}", skip.message);
}

/// The in-process driver with none of its capabilities: what a driver that can only send HTTP
/// and await convergence does. Its target keeps the trait's defaults (`None`) for all of them.
struct Bare(InprocDriver);

struct BareTarget(InprocTarget);

impl Driver for Bare {
    type Target = BareTarget;

    fn kind(&self) -> tollgate_scenario::Driver {
        self.0.kind()
    }

    async fn boot(&self, topology: &Path, seed: u64) -> Result<BareTarget, DriverError> {
        self.0.boot(topology, seed).await.map(BareTarget)
    }
}

impl Target for BareTarget {
    fn client(&self) -> Client {
        self.0.client()
    }
    fn control_plane_url(&self) -> Option<String> {
        self.0.control_plane_url()
    }
    fn management_url(&self, instance: &str) -> Option<String> {
        self.0.management_url(instance)
    }
    fn gateway_url(&self, instance: &str, https: bool) -> Option<String> {
        self.0.gateway_url(instance, https)
    }
    fn backend_url(&self, backend: &str) -> Option<String> {
        self.0.backend_url(backend)
    }
    fn gateway_names(&self) -> Vec<String> {
        self.0.gateway_names()
    }
    fn gateways_of(&self, environment: &str) -> Vec<String> {
        self.0.gateways_of(environment)
    }
    fn now_millis(&self) -> i64 {
        self.0.now_millis()
    }
    fn location(&self) -> String {
        self.0.location()
    }
    async fn shutdown(self) {
        self.0.shutdown().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_needing_a_capability_the_driver_lacks_is_skipped_with_the_reason_never_passed() {
    let file = temp_scenario(
        "clock.toml",
        r#"
[scenario]
name = "Needs the clock"
topology = "guide"

[[step]]
advance = "61s"

[[step]]
http = { method = "GET", path = "/api/am/publisher/v4/apis" }
expect.status = 200
"#,
    );
    let driver = Bare(InprocDriver::new());
    let report = runner::run_scenario(&driver, &load(&file), 1).await;
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert_eq!(report.steps[0].outcome, Outcome::Skipped);
    assert_eq!(
        report.steps[0].reason.as_deref(),
        Some("driver `inproc` has no virtual time")
    );
    assert_eq!(report.steps[1].outcome, Outcome::Skipped);
    assert!(report.reason.unwrap().contains("virtual time"));
    // What a target can do follows from what it implements: no second list.
    let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/topologies/guide");
    let mut bare = driver.boot(&guide, 1).await.unwrap();
    assert_eq!(bare.capabilities(), []);
    bare.shutdown().await;
    let mut full = InprocDriver::new().boot(&guide, 1).await.unwrap();
    assert_eq!(full.capabilities(), Capability::ALL);
    full.shutdown().await;
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

/// Durations and addresses change from run to run; everything else must not.
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match key.as_str() {
                    "duration_ms" | "convergence_ms" => *v = Value::from("[duration]"),
                    "location" if !v.is_null() => *v = Value::from("[address]"),
                    _ => redact(v),
                }
            }
        }
        Value::Array(items) => {
            // A response header `["date", "…"]` carries the real time.
            if let [Value::String(name), date] = items.as_mut_slice()
                && name == "date"
            {
                *date = Value::from("[date]");
            }
            items.iter_mut().for_each(redact);
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_report_of_a_run_is_stable_once_durations_and_addresses_are_redacted() {
    let scenarios = vec![
        load(&root().join("harness/tests/fixtures/passes.toml")),
        load(&root().join("harness/tests/fixtures/deliberately-wrong.toml")),
    ];
    let report = run(&scenarios).await;
    let mut json: Value = serde_json::from_str(&report::to_json(&report).unwrap()).unwrap();
    redact(&mut json);
    insta::with_settings!({snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots/harness"), prepend_module_to_snapshot => false}, {
        insta::assert_json_snapshot!("run_report", json);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_on_a_driver_that_cannot_crash_nodes_is_skipped_with_the_reason() {
    let file = temp_scenario(
        "kill.toml",
        r#"
[scenario]
name = "Needs crash / restart"
topology = "ha"

[[step]]
fault = { kill = "gateway-1" }

[[step]]
request = { via = "gateway-1", path = "/nosuch/1.0.0/x" }
expect.status = 404
"#,
    );
    let driver = Bare(InprocDriver::new());
    let report = runner::run_scenario(&driver, &load(&file), 1).await;
    assert_eq!(report.outcome, Outcome::Skipped, "{report:#?}");
    assert_eq!(
        report.steps[0].reason.as_deref(),
        Some("driver `inproc` has no fault injection (kill, restart, pause, partition)")
    );
    assert_eq!(report.steps[1].outcome, Outcome::Skipped);
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_load_reports_its_counts_and_percentiles_and_checks_them() {
    let file = temp_scenario(
        "load.toml",
        r#"
[scenario]
name = "A small load"
topology = "ha"

[[step]]
load = { start = "bg", via = "load-balancer", path = "/nosuch/1.0.0/x", rate = 40, duration = "250ms", concurrency = 4 }

[[step]]
name = "Every request answered 404"
load = { finish = "bg" }
expect_load = { sent_at_least = 10, failed = 0, lost = 0, status = { 404 = "all" }, max_below = "5s" }

[[step]]
load = { start = "again", via = "gateway-1", path = "/nosuch/1.0.0/x", rate = 40, duration = "250ms" }

[[step]]
name = "A wrong expectation fails with the figures"
load = { finish = "again" }
expect_load = { status = { 200 = "all" } }
"#,
    );
    let report = runner::run_scenario(&InprocDriver::new(), &load(&file), 1).await;
    let first = &report.steps[1];
    assert_eq!(first.outcome, Outcome::Passed, "{report:#?}");
    let figures = first.figures.as_ref().unwrap();
    assert_eq!((figures.planned, figures.sent), (10, 10));
    assert_eq!(figures.status.get(&404), Some(&10));
    assert!(figures.latency_us.max >= figures.latency_us.p50);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["steps"][1]["figures"]["status"]["404"], 10, "{json}");
    assert!(json["steps"][0].get("figures").is_none(), "{json}");

    let second = &report.steps[3];
    assert_eq!(second.outcome, Outcome::Failed);
    let failure = second.failure.as_ref().unwrap();
    assert_eq!(failure.mismatches[0].what, "status 200");
    assert_eq!(failure.mismatches[0].actual, "0");
    assert!(second.figures.is_some());
    let text = terminal::render(&RunReport::new("inproc", vec![report.clone()], 0));
    assert!(
        text.contains("load `bg` via load-balancer (GET /nosuch/1.0.0/x): sent 10 of 10"),
        "{text}"
    );
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
}
