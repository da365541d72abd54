//! JUnit XML: one `<testsuite>` per run, one `<testcase>` per scenario file (named by its
//! path, classed by its folder), a `<failure>` whose message is the first failure and whose
//! text is the readable report with the replay command, a `<skipped>` with its reason.

use super::{Outcome, RunReport, terminal};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// The run as JUnit XML.
pub fn render(report: &RunReport) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new(format!("tollgate scenarios ({})", report.driver));
    for scenario in &report.scenarios {
        let status = match scenario.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Skipped => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(scenario.reason.clone().unwrap_or_default());
                status
            }
            Outcome::Failed => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let first = scenario
                    .failed_steps()
                    .next()
                    .and_then(|s| {
                        s.failure
                            .as_ref()
                            .map(|f| format!("{}: {}", s.label, f.message))
                    })
                    .or_else(|| scenario.reason.clone())
                    .unwrap_or_default();
                status.set_message(format!("{first} (replay: {})", scenario.replay));
                status.set_type("scenario failure");
                status.set_description(terminal::scenario(scenario));
                status
            }
        };
        let mut case = TestCase::new(scenario.file.clone(), status);
        let class = match scenario.file.rsplit_once('/') {
            Some((folder, _)) => folder.replace('/', "."),
            None => "scenarios".to_owned(),
        };
        case.set_classname(class);
        case.set_time(Duration::from_millis(scenario.duration_ms));
        suite.add_test_case(case);
    }
    suite.set_time(Duration::from_millis(report.duration_ms));
    let mut junit = Report::new("tollgate");
    junit.add_test_suite(suite);
    junit.set_time(Duration::from_millis(report.duration_ms));
    junit.to_string()
}
