//! The conformance report, in the shape of the Kubernetes Gateway API's `ConformanceReport`:
//! the implementation, the date and mode, one entry per profile with its `core` and `extended`
//! results, the features declared supported or not — plus what makes a Tollgate run
//! reproducible (version, a digest of the scenario suite, the seed and options) and one entry
//! per test. Profiles and tests are in a fixed order, so two runs differ only in the date and
//! durations.

use crate::report::{Outcome, RunReport, ScenarioReport};
use serde::Serialize;
use std::collections::BTreeSet;
use tollgate_scenario::{Scenario, Support, Tag};

use super::super::driver::external::target_file::Implementation;

/// The whole report (YAML with `--report`, the same data as JSON with `--json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConformanceReport {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// RFC 3339, UTC.
    pub date: String,
    pub implementation: Implementation,
    /// `external` (a target file) or `reference` (the reference, booted for the check).
    pub mode: String,
    pub tollgate_version: &'static str,
    /// `sha256:` over every scenario file of the suite, by path.
    pub suite_digest: String,
    pub seed: Option<u64>,
    pub options: Vec<String>,
    pub profiles: Vec<ProfileReport>,
    pub supported_features: Vec<String>,
    pub unsupported_features: Vec<String>,
    pub tests: Vec<TestReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileReport {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core: Option<LevelReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended: Option<LevelReport>,
}

/// One support level of one profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LevelReport {
    pub result: LevelResult,
    pub statistics: Statistics,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_tests: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_tests: Vec<String>,
}

/// `success` only when every test ran and passed; one skip makes it `partial`, one failure
/// `failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LevelResult {
    Success,
    Partial,
    Failure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statistics {
    pub passed: usize,
    pub skipped: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestReport {
    /// The file below `scenarios/`.
    pub name: String,
    pub description: String,
    pub result: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub features: Vec<String>,
    pub support: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
    pub duration_ms: u64,
    /// Of `duration_ms`, the time changes took to show on the gateways.
    pub convergence_ms: u64,
    /// What steps observed beyond pass or fail: a quota's overshoot (`until`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<FirstFailure>,
    pub replay: String,
}

/// The first failing step of a test: where, what was sent, what was expected and what came.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FirstFailure {
    pub step: String,
    pub at: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    pub expected: Vec<String>,
    pub actual: Vec<String>,
}

impl FirstFailure {
    fn of(report: &ScenarioReport) -> Option<Self> {
        let step = report.failed_steps().next()?;
        let failure = step.failure.as_ref()?;
        Some(Self {
            step: step.label.clone(),
            at: step.at.clone(),
            message: failure.message.clone(),
            request: failure
                .request
                .as_ref()
                .map(|r| format!("{} {}", r.method, r.url)),
            expected: failure
                .mismatches
                .iter()
                .map(|m| format!("{}: {}", m.what, m.expected))
                .collect(),
            actual: failure
                .mismatches
                .iter()
                .map(|m| format!("{}: {}", m.what, m.actual))
                .collect(),
        })
    }
}

/// Builds the report from the run and the scenarios it ran (in the same order).
pub(super) struct Inputs<'a> {
    pub date: String,
    pub implementation: Implementation,
    pub mode: &'a str,
    /// `--target` as given, for each test's replay line.
    pub target: &'a str,
    pub suite_digest: String,
    pub seed: Option<u64>,
    pub options: Vec<String>,
    pub profiles: &'a [Tag],
    /// `None`: every feature.
    pub supported: Option<&'a [String]>,
}

pub(super) fn build(
    inputs: Inputs<'_>,
    scenarios: &[Scenario],
    run: &RunReport,
) -> ConformanceReport {
    let tests: Vec<TestReport> = scenarios
        .iter()
        .zip(&run.scenarios)
        .map(|(scenario, report)| TestReport {
            name: report.file.clone(),
            description: scenario.name.clone(),
            result: report.outcome,
            reason: report.reason.clone(),
            features: scenario.tags.iter().map(|t| t.name().to_owned()).collect(),
            support: scenario.support.name(),
            follows: scenario.follows.clone(),
            duration_ms: report.duration_ms,
            convergence_ms: report.convergence_ms,
            observed: report
                .steps
                .iter()
                .filter_map(|s| s.observed.as_ref().map(|o| format!("{}: {o}", s.label)))
                .collect(),
            first_failure: FirstFailure::of(report),
            replay: format!(
                "tollgate conform --target {} --run-test {} --seed {}",
                inputs.target, report.file, report.seed
            ),
        })
        .collect();
    let profiles = inputs
        .profiles
        .iter()
        .map(|tag| {
            let level = |support: Support| {
                let of_level: Vec<&TestReport> = scenarios
                    .iter()
                    .zip(&tests)
                    .filter(|(s, _)| s.support == support && s.tags.contains(tag))
                    .map(|(_, t)| t)
                    .collect();
                LevelReport::of(&of_level)
            };
            ProfileReport {
                name: tag.name().to_owned(),
                core: level(Support::Core),
                extended: level(Support::Extended),
            }
        })
        .collect();
    let all: BTreeSet<&str> = Tag::ALL.iter().map(|t| t.name()).collect();
    let supported: BTreeSet<&str> = match inputs.supported {
        Some(list) => list.iter().map(String::as_str).collect(),
        None => all.clone(),
    };
    ConformanceReport {
        api_version: "tollgate.dev/v1alpha1",
        kind: "ConformanceReport",
        date: inputs.date,
        implementation: inputs.implementation,
        mode: inputs.mode.to_owned(),
        tollgate_version: env!("CARGO_PKG_VERSION"),
        suite_digest: inputs.suite_digest,
        seed: inputs.seed,
        options: inputs.options,
        profiles,
        supported_features: supported.iter().map(|s| (*s).to_owned()).collect(),
        unsupported_features: all
            .difference(&supported)
            .map(|s| (*s).to_owned())
            .collect(),
        tests,
    }
}

impl LevelReport {
    fn of(tests: &[&TestReport]) -> Option<Self> {
        if tests.is_empty() {
            return None;
        }
        let mut statistics = Statistics::default();
        let (mut failed_tests, mut skipped_tests) = (Vec::new(), Vec::new());
        for test in tests {
            match test.result {
                Outcome::Passed => statistics.passed += 1,
                Outcome::Failed => {
                    statistics.failed += 1;
                    failed_tests.push(test.name.clone());
                }
                Outcome::Skipped => {
                    statistics.skipped += 1;
                    skipped_tests.push(test.name.clone());
                }
            }
        }
        let result = if statistics.failed > 0 {
            LevelResult::Failure
        } else if statistics.skipped > 0 {
            LevelResult::Partial
        } else {
            LevelResult::Success
        };
        Some(Self {
            result,
            statistics,
            failed_tests,
            skipped_tests,
        })
    }
}

impl ConformanceReport {
    /// Whether every profile's core level is a success: the run's exit status.
    pub fn core_conforms(&self) -> bool {
        self.profiles.iter().all(|p| {
            p.core
                .as_ref()
                .is_none_or(|c| c.result == LevelResult::Success)
        })
    }

    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "Conformance of {} {} {} ({}):\n",
            self.implementation.organization,
            self.implementation.project,
            self.implementation.version,
            self.mode
        );
        for profile in &self.profiles {
            let level = |l: &Option<LevelReport>| match l {
                None => "-".to_owned(),
                Some(l) => format!(
                    "{:?} ({} passed, {} skipped, {} failed)",
                    l.result, l.statistics.passed, l.statistics.skipped, l.statistics.failed
                )
                .to_lowercase(),
            };
            out.push_str(&format!(
                "  {:<14} core: {:<40} extended: {}\n",
                profile.name,
                level(&profile.core),
                level(&profile.extended)
            ));
        }
        out
    }
}
