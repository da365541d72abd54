//! `fault` and `load` steps and `expect_load`: read into the model, names checked against the
//! `ha` topology, every mistake located.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tollgate_scenario::{
    Action, BackendChange, Catalog, Fault, Load, LoadCount, Scenario, ScenarioErrors, parse_with,
};

const SETUP: &str = r#"[scenario]
name = "t"
topology = "ha"

[[step]]
publish = { api = "pizza", context = "/pizzashack", version = "1.0.0", production = "pizzashack-production", resources = ["GET /menu"] }

[[step]]
application = { app = "shop" }

[[step]]
generate_keys = { app = "shop", key_type = "production", key = "prod" }

[[step]]
token = { as = "tok", key = "prod" }
"#;

/// Steps in SETUP: the first step of a test's snippet is `step[4]`.
const FIRST: usize = 4;

fn file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/ha/t.toml")
}

fn read(steps: &str) -> Result<Scenario, ScenarioErrors> {
    let catalog = Catalog::discover(&file()).unwrap();
    parse_with(&format!("{SETUP}\n{steps}\n"), &file(), Some(&catalog))
}

fn actions(steps: &str) -> Vec<Action> {
    read(steps)
        .unwrap_or_else(|e| panic!("{e}"))
        .steps
        .into_iter()
        .skip(FIRST)
        .map(|s| s.action)
        .collect()
}

fn errors(steps: &str) -> String {
    read(steps).unwrap_err().to_string()
}

#[test]
fn every_member_fault_is_read() {
    let read = actions(
        r#"
[[step]]
fault = { kill = "gateway-1" }
[[step]]
fault = { restart = "gateway-1" }
[[step]]
fault = { pause = "load-balancer" }
[[step]]
fault = { resume = "load-balancer" }
[[step]]
fault = { partition = ["gateway-2", "control-plane"] }
[[step]]
fault = { heal = ["gateway-2", "pizzashack-production"] }
"#,
    );
    let faults: Vec<Fault> = read
        .into_iter()
        .map(|a| match a {
            Action::Fault(f) => f,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        faults,
        [
            Fault::Kill("gateway-1".into()),
            Fault::Restart("gateway-1".into()),
            Fault::Pause("load-balancer".into()),
            Fault::Resume("load-balancer".into()),
            Fault::Partition("gateway-2".into(), "control-plane".into()),
            Fault::Heal("gateway-2".into(), "pizzashack-production".into()),
        ]
    );
    assert!(faults[0].needs_crash_restart() && !faults[0].needs_partition());
    assert!(faults[4].needs_partition());
}

#[test]
fn every_backend_fault_is_read() {
    let read = actions(
        r#"
[[step]]
fault = { backend = "pizzashack-production", latency = "200ms" }
[[step]]
fault = { backend = "pizzashack-production", status = 503 }
[[step]]
fault = { backend = "pizzashack-production", reset = true }
[[step]]
fault = { backend = "pizzashack-production", timeout = true }
[[step]]
fault = { backend = "pizzashack-production", heal = true }
"#,
    );
    let changes: Vec<BackendChange> = read
        .into_iter()
        .map(|a| match a {
            Action::Fault(Fault::Backend { change, .. }) => change,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        changes,
        [
            BackendChange::Latency(Duration::from_millis(200)),
            BackendChange::Status(503),
            BackendChange::Reset,
            BackendChange::Timeout,
            BackendChange::Heal,
        ]
    );
}

#[test]
fn an_unknown_member_is_an_error_with_a_suggestion() {
    let e = errors("[[step]]\nfault = { kill = \"gateway-3\" }");
    assert!(
        e.contains("step[4].fault.kill: the topology has no instance or load balancer `gateway-3`; did you mean `gateway-1`?"),
        "{e}"
    );
}

#[test]
fn fault_mistakes_are_located() {
    let e = errors(
        r#"
[[step]]
fault = { kill = "gateway-1", pause = "gateway-2" }
[[step]]
fault = { partition = ["gateway-1", "gateway-1"] }
[[step]]
fault = { partition = ["gateway-1"] }
[[step]]
fault = { backend = "pizzashack-production", latency = "1s", status = 500 }
[[step]]
fault = { latency = "1s" }
[[step]]
fault = { backend = "pizzashack-production", reset = false }
"#,
    );
    for expected in [
        "step[4].fault.pause: a step has one fault, and this one already has `kill`",
        "step[5].fault.partition[1]: `gateway-1` cannot be cut from itself",
        "step[6].fault.partition: expected two names, found 1",
        "step[7].fault.status: one backend fault per step, and this one already has `latency`",
        "step[8].fault.latency: `latency` is a backend fault: add `backend = \"…\"`",
        "step[9].fault.reset: write `reset = true`, or leave the key out",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn a_fault_or_wait_without_its_one_key_is_an_error_at_the_table() {
    let e = errors(
        r#"
[[step]]
fault = { latency = "1s" }
[[step]]
fault = { backend = "pizzashack-production" }
[[step]]
wait = { timeout = "1s" }
"#,
    );
    for expected in [
        "step[4].fault: a fault needs one of: kill, restart, pause, resume, partition, heal, or `backend`",
        "step[5].fault: a backend fault says what goes wrong: latency, reset, status, timeout, heal",
        "step[6].wait: a wait needs a condition: revision_served, revocation_reached, gateway_synced, throttled, unthrottled",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn a_load_is_started_and_stopped_with_its_expectations() {
    let read = actions(
        r#"
[[step]]
load = { start = "bg", via = "load-balancer", path = "/pizzashack/1.0.0/menu", token = "${tok}", rate = 200, duration = "5s" }
[[step]]
load = { stop = "bg" }
expect_load = { failed = 0, lost = 0, status = { 200 = "all", 502 = 3 }, p99_below = "50ms" }
"#,
    );
    let Action::Load(Load::Start(start)) = &read[0] else {
        panic!("{:?}", read[0]);
    };
    assert_eq!(
        (
            start.rate,
            start.duration,
            start.concurrency,
            start.method.as_str()
        ),
        (200, Duration::from_secs(5), 16, "GET")
    );
    let Action::Load(Load::Stop(stop)) = &read[1] else {
        panic!("{:?}", read[1]);
    };
    assert!(!stop.finish);
    assert_eq!((stop.expect.failed, stop.expect.lost), (Some(0), Some(0)));
    assert_eq!(
        stop.expect.status,
        [(200, LoadCount::All), (502, LoadCount::Exactly(3))]
    );
    assert_eq!(stop.expect.p99_below, Some(Duration::from_millis(50)));
}

#[test]
fn load_mistakes_are_located() {
    let e = errors(
        r#"
[[step]]
load = { stop = "nothing" }
[[step]]
load = { start = "bg", via = "gateway-9", path = "/x", rate = 0, duration = "1s" }
[[step]]
load = { start = "ok", via = "gateway-1", path = "/x", rate = 10, duration = "1s" }
[[step]]
load = { finish = "ok", rate = 5 }
[[step]]
load = { stop = "ok" }
[[step]]
request = { via = "gateway-1", path = "/x" }
expect.status = 200
expect_load = { failed = 0 }
[[step]]
load = { stop = "ok2", finish = "ok2" }
"#,
    );
    for expected in [
        "step[4].load.stop: no load named `nothing` is started by an earlier step",
        "step[5].load.via: the topology has no instance or load balancer `gateway-9`",
        "step[5].load.rate: requests per second must be between 1 and 10000, found 0",
        "step[7].load.rate: `rate` belongs to the step that starts the load",
        "step[9].expect_load: `expect_load` checks the figures of a stopped background load",
        "step[10].load.finish: `stop` ends the load now, `finish` once it has sent everything: pick one",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn a_load_cannot_be_stopped_twice() {
    let e = errors(
        r#"
[[step]]
load = { start = "bg", via = "gateway-1", path = "/x", rate = 10, duration = "1s" }
[[step]]
load = { finish = "bg" }
[[step]]
load = { stop = "bg" }
"#,
    );
    assert!(
        e.contains("step[6].load.stop: the load `bg` started by step[4] is already stopped"),
        "{e}"
    );
}

#[test]
fn requests_may_go_through_the_load_balancer() {
    let read = actions(
        "[[step]]\nrequest = { via = \"load-balancer\", path = \"/pizzashack/1.0.0/menu\" }\nexpect.status = 200",
    );
    let Action::Request(request) = &read[0] else {
        panic!()
    };
    assert_eq!(request.via, "load-balancer");
}

#[test]
fn the_traffic_manager_can_be_cut_from_a_gateway() {
    let read = actions("[[step]]\nfault = { partition = [\"gateway-1\", \"traffic-manager\"] }");
    assert_eq!(
        read[0],
        Action::Fault(Fault::Partition(
            "gateway-1".into(),
            "traffic-manager".into()
        ))
    );
}
