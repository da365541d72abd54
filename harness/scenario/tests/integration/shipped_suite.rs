//! Every scenario shipped under `scenarios/` (all folders but `topologies/`) loads: the file
//! parses and its topology, instance, backend and environment names exist. A broken file fails
//! CI here, before any runner boots a topology for it.

use std::path::{Path, PathBuf};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

/// `.toml` files under `dir`, recursively, skipping `topologies/`, sorted.
fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "topologies") {
                continue;
            }
            scenario_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    out.sort();
}

#[test]
fn every_shipped_scenario_loads() {
    let mut files = Vec::new();
    scenario_files(&scenarios_dir(), &mut files);
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            tollgate_scenario::load(file)
                .err()
                .map(|errors| format!("{}\n{errors}", file.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(files.len() >= 30, "{} files: {files:?}", files.len());
}

#[test]
fn every_shipped_scenario_is_named_as_a_sentence_and_tagged() {
    let mut files = Vec::new();
    scenario_files(&scenarios_dir(), &mut files);
    for file in &files {
        let stem = file.file_stem().unwrap().to_str().unwrap();
        assert!(
            stem.split('-').count() >= 3
                && stem
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{}: file names are sentences in kebab case",
            file.display()
        );
        let scenario = tollgate_scenario::load(file).unwrap();
        assert!(!scenario.tags.is_empty(), "{}: no tags", file.display());
        assert!(
            scenario.description.is_some(),
            "{}: no description",
            file.display()
        );
    }
}
