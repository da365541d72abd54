//! `artifact` steps: files put on a node's disk and checked there, read into the model, names
//! checked against the `ha` topology, every mistake located.

use std::path::{Path, PathBuf};
use tollgate_scenario::{
    Action, Artifact, ArtifactCheck, Body, Catalog, Scenario, ScenarioErrors, parse_with,
};

const SETUP: &str = r#"[scenario]
name = "t"
topology = "ha"

[[step]]
publish = { api = "pizza", context = "/pizzashack", version = "1.0.0", production = "pizzashack-production", resources = ["GET /menu"] }
"#;

fn file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/ha/t.toml")
}

fn read(steps: &str) -> Result<Scenario, ScenarioErrors> {
    let catalog = Catalog::discover(&file()).unwrap();
    parse_with(&format!("{SETUP}\n{steps}\n"), &file(), Some(&catalog))
}

fn artifacts(steps: &str) -> Vec<Artifact> {
    read(steps)
        .unwrap_or_else(|e| panic!("{e}"))
        .steps
        .into_iter()
        .skip(1)
        .map(|s| match s.action {
            Action::Artifact(a) => a,
            other => panic!("{other:?}"),
        })
        .collect()
}

fn errors(steps: &str) -> String {
    read(steps).unwrap_err().to_string()
}

#[test]
fn place_present_and_absent_are_read() {
    let read = artifacts(
        r#"
[[step]]
artifact = { on = "gateway-1", place = "api/Custom_v1.json", json = { apiId = "${api.pizza.id}" } }
[[step]]
artifact = { on = "gateway-2", place = "sequences/mine.xml", body = "<sequence/>" }
[[step]]
artifact = { on = "gateway-1", present = "api/Custom_v1.json", contains = ["a", "${api.pizza.id}"] }
[[step]]
artifact = { on = "gateway-1", present = "local-entries/x.xml" }
[[step]]
artifact = { on = "gateway-1", absent = "endpoints/ep.xml" }
"#,
    );
    assert_eq!(read.len(), 5);
    assert_eq!(read[0].on, "gateway-1");
    assert_eq!(
        read[0].relative_path(),
        "repository/deployment/server/synapse-configs/default/api/Custom_v1.json"
    );
    assert!(matches!(
        &read[0].check,
        ArtifactCheck::Place(Body::Json(_))
    ));
    assert!(matches!(
        &read[1].check,
        ArtifactCheck::Place(Body::Text(_))
    ));
    let ArtifactCheck::Present { contains } = &read[2].check else {
        panic!("{:?}", read[2]);
    };
    assert_eq!(contains.len(), 2);
    assert_eq!(
        read[3].check,
        ArtifactCheck::Present {
            contains: Vec::new()
        }
    );
    assert_eq!(read[4].check, ArtifactCheck::Absent);
    assert_eq!(read[4].file, "endpoints/ep.xml");
}

#[test]
fn artifact_mistakes_are_located() {
    let e = errors(
        r#"
[[step]]
artifact = { on = "gateway-3", place = "api/X.json", json = {} }
[[step]]
artifact = { on = "gateway-1", place = "apis/X.json", json = {} }
[[step]]
artifact = { on = "gateway-1", place = "X.json", json = {} }
[[step]]
artifact = { on = "gateway-1", place = "api/../X.json", json = {} }
[[step]]
artifact = { on = "gateway-1", place = "api/X.json" }
[[step]]
artifact = { on = "gateway-1", present = "api/X.json", absent = "api/X.json" }
[[step]]
artifact = { on = "gateway-1", absent = "api/X.json", json = {}, contains = "x" }
[[step]]
artifact = { on = "gateway-1" }
[[step]]
artifact = { present = "api/X.json" }
[[step]]
artifact = { on = "gateway-1", absent = "api/X.json" }
expect = { status = 200 }
[[step]]
artifact = { on = "gateway-1", place = "api/X.json", json = {}, body = "x" }
"#,
    );
    for expected in [
        "step[1].artifact.on: the topology has no instance `gateway-3`; did you mean `gateway-1`?",
        "step[2].artifact.place: `apis` is not an artifact folder; did you mean `api`?",
        "step[3].artifact.place: \"X.json\" names no folder: write `<folder>/<file>`, the folder one of api, endpoints, sequences, local-entries (in repository/deployment/server/synapse-configs/default/)",
        "step[4].artifact.place: \"api/../X.json\": `../X.json` is not a file name",
        "step[5].artifact: a placed file needs its content: `json = { … }` or `body = \"…\"`",
        "step[6].artifact.absent: an artifact step does one thing, and this one already has `present`: use two steps",
        "step[7].artifact.json: `json` is the content of a placed file: `absent` checks one",
        "step[7].artifact.contains: `contains` checks a file that is `present`",
        "step[8].artifact: an artifact step says what to do with its file: `place` (with `json` or `body`), `present` or `absent`",
        "step[9].artifact: missing `on`",
        "step[10].expect: `expect` reads an HTTP response, and `artifact` makes no HTTP call",
        "step[11].artifact.body: a placed file has one content: `json` or `body`, not both",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
    assert!(
        e.contains("t.toml:10:19: step[1].artifact.on"),
        "located: {e}"
    );
}
