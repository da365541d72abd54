//! Every scenario the README's examples table links to exists and parses (the whole shipped
//! suite is checked by `shipped_suite.rs`; this keeps the README's links from going stale).

use std::path::PathBuf;

const README: &str = include_str!("../../../../scenarios/README.md");

/// The `(path.toml)` link targets of the README's `## Examples` section.
fn examples() -> Vec<PathBuf> {
    let section = README.split("\n## Examples").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    section
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|target| target.ends_with(".toml"))
        .map(|target| dir.join(target))
        .collect()
}

#[test]
fn every_example_scenario_parses() {
    let files = examples();
    for file in &files {
        if let Err(errors) = tollgate_scenario::load(file) {
            panic!("{}\n{errors}", file.display());
        }
    }
    assert!(files.len() >= 4, "{files:?}");
}
