//! What a run found, and the three ways it is told: a terminal report, JSON and JUnit XML.
//!
//! The model here is plain data (serde, fields in a fixed order) built by the runner; the
//! renderers never re-run anything. Volatile fields (durations, the loopback address a
//! topology got) are kept apart by name (`duration_ms`, `location`) so snapshots can redact
//! them.
//!
//! | module | what it holds |
//! |---|---|
//! | [`terminal`] | the readable report, a progress bar on a terminal, plain lines elsewhere |
//! | [`junit`] | JUnit XML: one test case per scenario file |

pub mod junit;
pub mod terminal;

use serde::Serialize;

/// A whole `tollgate run`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub driver: String,
    pub scenarios: Vec<ScenarioReport>,
    pub totals: Totals,
    pub duration_ms: u64,
}

impl RunReport {
    pub fn new(driver: &str, scenarios: Vec<ScenarioReport>, duration_ms: u64) -> Self {
        let mut totals = Totals::default();
        for s in &scenarios {
            match s.outcome {
                Outcome::Passed => totals.passed += 1,
                Outcome::Failed => totals.failed += 1,
                Outcome::Skipped => totals.skipped += 1,
            }
        }
        Self {
            driver: driver.to_owned(),
            scenarios,
            totals,
            duration_ms,
        }
    }

    /// True when nothing failed (skips do not fail a run).
    pub fn passed(&self) -> bool {
        self.totals.failed == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// Passed, failed or skipped: of a scenario or a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Self::Passed => "ok",
            Self::Failed => "FAILED",
            Self::Skipped => "skipped",
        }
    }
}

/// One scenario file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioReport {
    /// The path as reported: relative to `scenarios/` when under it (`examples/routing.toml`).
    pub file: String,
    pub name: String,
    pub tags: Vec<String>,
    pub seed: u64,
    pub outcome: Outcome,
    /// Why the whole scenario was skipped or could not run (a topology that does not boot,
    /// a driver it is not written for); step failures are in `steps`.
    pub reason: Option<String>,
    /// The one command that replays this scenario.
    pub replay: String,
    pub steps: Vec<StepReport>,
    /// Where the topology ran (a loopback address); volatile.
    pub location: Option<String>,
    pub duration_ms: u64,
    /// Of `duration_ms`, the time spent waiting for gateways to apply changes (by signal, or
    /// polling on a black-box target); volatile.
    pub convergence_ms: u64,
    /// The scenario's transcript lines, when the run records one (`tollgate run
    /// --transcript`); not part of the report's own outputs.
    #[serde(skip)]
    pub transcript: Vec<String>,
}

impl ScenarioReport {
    pub fn failed_steps(&self) -> impl Iterator<Item = &StepReport> {
        self.steps.iter().filter(|s| s.outcome == Outcome::Failed)
    }
}

/// One step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    pub index: usize,
    /// The step's name, or `step[3] request`.
    pub label: String,
    /// `file:line:col` of the step.
    pub at: String,
    pub outcome: Outcome,
    /// Why it was skipped.
    pub reason: Option<String>,
    pub failure: Option<Failure>,
    /// A stopped background load's counts and latencies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<crate::runner::LoadFigures>,
    /// What the step observed beyond pass or fail (`until`: how many were served before the
    /// refusal, and the overshoot past the quota).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    pub duration_ms: u64,
}

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// One line: what went wrong.
    pub message: String,
    /// The request that was sent, when there was one.
    pub request: Option<SentRequest>,
    /// What came back.
    pub response: Option<ReceivedResponse>,
    /// Each expectation that did not hold.
    pub mismatches: Vec<Mismatch>,
}

/// A request as sent (long header values and bodies cut).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// A response as received (the body cut past a few kilobytes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    /// What was checked: `status`, `json $.name`, `header Content-Type`, `response 3 of 10: status`.
    pub what: String,
    pub expected: String,
    pub actual: String,
    /// A line diff of expected against actual, for bodies and JSON values.
    pub diff: Option<String>,
}

/// The longest body or header value a report keeps.
pub const BODY_EXCERPT: usize = 4096;
pub const HEADER_EXCERPT: usize = 120;

/// `text`, cut at `max` characters with a note saying how much was cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… ({} more characters)", count - max)
}

/// A unified line diff of `expected` against `actual` (`-` expected, `+` actual).
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

/// The report as JSON, fields in declaration order.
pub fn to_json(report: &RunReport) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(report)
}
