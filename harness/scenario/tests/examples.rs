//! Every file under `scenarios/examples/` parses.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a failed test

use std::path::PathBuf;

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_scenario_parses() {
    let files = examples();
    for file in &files {
        if let Err(errors) = tollgate_scenario::load(file) {
            panic!("{}\n{errors}", file.display());
        }
    }
    assert!(files.len() >= 3, "{files:?}");
}
