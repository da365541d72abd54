//! Fuzzing `deployment.toml` on the stable toolchain: whatever the text, checking it gives a
//! config or located errors, never a panic. `cargo test` runs 256 cases per target;
//! `TOLLGATE_FUZZ_CASES=N` runs N and prints executions per second (docs/security.md).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::path::Path;

const GUIDE: &str = include_str!("../fixtures/guide-sample-gateway.toml");

fn cases() -> u32 {
    std::env::var("TOLLGATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value)) {
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
        .run(&strategy, |value| {
            test(value);
            Ok(())
        })
        .unwrap();
    let secs = started
        .elapsed()
        .unwrap_or_default()
        .as_secs_f64()
        .max(1e-9);
    eprintln!(
        "fuzz {name}: {cases} executions, {:.0}/s, 0 panics",
        f64::from(cases) / secs
    );
}

/// Every error is inside the file (line 0 is the file as a whole).
fn check(source: &str) {
    if let Err(errors) = tollgate_config::parse(source, Path::new("deployment.toml")) {
        let lines = source.lines().count() + 1;
        for e in &errors.0 {
            assert!(e.line <= lines, "{e} (file has {lines} lines)");
        }
    }
}

#[test]
fn fuzz_deployment_toml_never_panics() {
    let key = "[a-z_.]{1,24}";
    let value = prop_oneof![
        "\"[^\"\\n]{0,24}\"",
        "\"\\$\\{[a-z._]{0,16}\\}\"",
        "\"\\$env\\{[A-Z_]{0,8}\\}\"",
        "-?[0-9]{1,22}",
        Just("true".to_owned()),
        Just("[\"a\", 1]".to_owned()),
        Just("{ a = 1 }".to_owned()),
    ];
    let line = prop_oneof![
        "\\[[a-z_.]{1,30}\\]",
        "\\[\\[[a-z_.]{1,30}\\]\\]",
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        "\\PC{0,30}",
    ];
    let toml_shaped = prop::collection::vec(line, 0..30).prop_map(|l| l.join("\n"));
    // The guide's file cut and spliced: close to valid, so the checker's deep paths run.
    let spliced = (0..GUIDE.len(), 0..GUIDE.len(), "\\PC{0,12}").prop_map(|(a, b, junk)| {
        let (a, b) = (a.min(b), a.max(b));
        let (a, b) = (floor(a), floor(b));
        format!("{}{junk}{}", &GUIDE[..a], &GUIDE[b..])
    });
    fuzz(
        "deployment.toml",
        prop_oneof![toml_shaped, spliced, "\\PC{0,200}"],
        |source| check(&source),
    );
}

/// The nearest char boundary at or below `i`.
fn floor(mut i: usize) -> usize {
    while !GUIDE.is_char_boundary(i) {
        i -= 1;
    }
    i
}
