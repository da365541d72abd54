//! Sources of nondeterminism kept out of the reference nodes (checked over their source), and
//! the transcript that shows it: one seed, one transcript.
//!
//! tokio's `select!` polls its branches in a random order unless told `biased;`: two runs with
//! one seed could take different branches when both are ready. Every `select!` of a node must
//! say `biased;` first (and a comment why its order is right).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `file:line` of every `select!` in `source` whose first token is not `biased;`.
fn unbiased_selects(file: &Path, source: &str) -> Vec<String> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.contains("select! {") || line.trim_start().starts_with("//") {
            continue;
        }
        let first = lines[i + 1..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty() && !l.starts_with("//"));
        if first != Some("biased;") {
            found.push(format!("{}:{}", file.display(), i + 1));
        }
    }
    found
}

#[test]
fn every_select_in_the_reference_nodes_is_biased() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reference");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&reference).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    files.sort();
    assert!(files.len() > 20, "the reference sources were not found");
    let unbiased: Vec<String> = files
        .iter()
        .flat_map(|f| unbiased_selects(f, &std::fs::read_to_string(f).unwrap()))
        .collect();
    assert!(
        unbiased.is_empty(),
        "`select!` without `biased;`: {unbiased:#?}"
    );
}

#[test]
fn the_check_sees_an_unbiased_select() {
    let source = "tokio::select! {\n    _ = a => {}\n    _ = b => {}\n}\n";
    assert_eq!(unbiased_selects(Path::new("x.rs"), source), ["x.rs:1"]);
    let biased = "tokio::select! {\n    // why\n    biased;\n    _ = a => {}\n}\n";
    assert!(unbiased_selects(Path::new("x.rs"), biased).is_empty());
}

/// The routing scenarios' transcript with `seed`, closed by its hash.
async fn routing_transcript(seed: u64) -> Vec<String> {
    use tollgate_harness::driver::InprocDriver;
    use tollgate_harness::runner;
    let root = tollgate_harness::workspace_root().unwrap();
    let files = runner::discover(&[root.join("scenarios/routing")]).unwrap();
    let (scenarios, errors) = runner::load_all(&files);
    assert!(errors.is_empty() && !scenarios.is_empty());
    let report = runner::run_all_with(
        &InprocDriver::new(),
        &scenarios,
        Some(seed),
        4,
        runner::Record::Transcript,
        &|_| {},
    )
    .await;
    assert!(report.passed());
    let lines: Vec<String> = report
        .scenarios
        .iter()
        .flat_map(|s| s.transcript.iter().cloned())
        .collect();
    tollgate_harness::transcript::closed(lines)
}

/// In-process, on the virtual clock, the runner's exchanges (tokens, ids, `Date`s, bodies)
/// are the same for one seed and differ for another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_seed_gives_one_transcript_in_process_and_another_seed_another() {
    let first = routing_transcript(7).await;
    let second = routing_transcript(7).await;
    assert!(first.len() > 50, "{} lines", first.len());
    assert_eq!(
        tollgate_harness::transcript::first_difference(&first, &second),
        None
    );
    assert!(
        first
            .iter()
            .any(|l| l.contains(r#""date":"Thu, 01 Jan 2026"#))
    );
    let other = routing_transcript(8).await;
    assert_ne!(first.last(), other.last(), "another seed, another hash");
}

/// The check is not blind: a scenario made nondeterministic on purpose (a real-time background
/// load beside foreground requests) gives two different transcripts within 20 seeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deliberately_nondeterministic_canary_is_caught_within_20_seeds() {
    use tollgate_harness::driver::InprocDriver;
    use tollgate_harness::runner;
    let root = tollgate_harness::workspace_root().unwrap();
    let file = root.join("harness/tests/fixtures/nondeterministic-canary.toml");
    let scenario = tollgate_scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let driver = InprocDriver::new();
    let mut caught = None;
    for seed in 1..=20 {
        let run =
            || runner::run_scenario_with(&driver, &scenario, seed, runner::Record::Transcript);
        let (first, second) = (run().await, run().await);
        assert!(first.transcript.len() > 10, "{:?}", first.reason);
        if tollgate_harness::transcript::first_difference(&first.transcript, &second.transcript)
            .is_some()
        {
            caught = Some(seed);
            break;
        }
    }
    assert!(
        caught.is_some(),
        "20 seeds, and the canary was never caught"
    );
}
