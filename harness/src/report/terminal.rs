//! The readable report: a progress bar while scenarios run (on a terminal; plain lines when
//! stderr is not one, or under `CI=true`), then every failure in full and a summary.

use super::{Failure, Outcome, RunReport, ScenarioReport};
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write as _;
use std::io::IsTerminal as _;

/// Shows scenarios finishing.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar on an interactive stderr, plain lines otherwise.
    pub fn new(total: usize) -> Self {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        let bar = (std::io::stderr().is_terminal() && !ci).then(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {elapsed} {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self { bar }
    }

    /// Plain lines only (tests).
    pub fn plain() -> Self {
        Self { bar: None }
    }

    pub fn done(&self, report: &ScenarioReport) {
        let line = format!(
            "{:<7} {} ({} ms)",
            report.outcome.word(),
            report.file,
            report.duration_ms
        );
        match &self.bar {
            Some(bar) => {
                if report.outcome != Outcome::Passed {
                    bar.println(line);
                }
                bar.set_message(report.file.clone());
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One scenario's failure in full: each failed step with what was sent, what came back, what
/// was expected (as a diff), then the seed and the replay command.
pub fn scenario(report: &ScenarioReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} — {} (seed {})",
        report.outcome.word(),
        report.file,
        report.name,
        report.seed
    );
    if let Some(reason) = &report.reason {
        let _ = writeln!(out, "  {reason}");
    }
    for step in report.failed_steps() {
        let _ = writeln!(out, "\n  {} ({})", step.label, step.at);
        if let Some(failure) = &step.failure {
            failure_text(&mut out, failure);
        }
    }
    if report.outcome == Outcome::Failed {
        let _ = writeln!(out, "\n  seed: {}", report.seed);
        let _ = writeln!(out, "  replay: {}", report.replay);
    }
    out
}

fn indent(out: &mut String, prefix: &str, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "{prefix}{line}");
    }
}

fn failure_text(out: &mut String, failure: &Failure) {
    let _ = writeln!(out, "    {}", failure.message);
    if let Some(request) = &failure.request {
        let _ = writeln!(out, "    sent:");
        let _ = writeln!(out, "      {} {}", request.method, request.url);
        for (name, value) in &request.headers {
            let _ = writeln!(out, "      {name}: {value}");
        }
        if let Some(body) = &request.body {
            indent(out, "      ", body);
        }
    }
    if let Some(response) = &failure.response {
        let _ = writeln!(out, "    received:");
        let _ = writeln!(out, "      {}", response.status);
        for (name, value) in &response.headers {
            let _ = writeln!(out, "      {name}: {value}");
        }
        if !response.body.is_empty() {
            indent(out, "      ", &response.body);
        }
    }
    for m in &failure.mismatches {
        let _ = writeln!(out, "    {}:", m.what);
        match &m.diff {
            Some(diff) => indent(out, "      ", diff),
            None => {
                let _ = writeln!(out, "      expected: {}", m.expected);
                let _ = writeln!(out, "      actual:   {}", m.actual);
            }
        }
    }
}

/// The whole report: every scenario that did not pass, in full, then one line per scenario
/// and the totals.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    for s in report
        .scenarios
        .iter()
        .filter(|s| s.outcome == Outcome::Failed)
    {
        out.push_str(&scenario(s));
        out.push('\n');
    }
    let _ = writeln!(out, "Scenarios on driver `{}`:", report.driver);
    for s in &report.scenarios {
        let _ = write!(out, "  {:<7} {}", s.outcome.word(), s.file);
        match (&s.outcome, &s.reason) {
            (Outcome::Skipped, Some(reason)) => {
                let _ = write!(out, " — {reason}");
            }
            (Outcome::Failed, _) => {
                let _ = write!(out, " — replay: {}", s.replay);
            }
            _ => {}
        }
        out.push('\n');
        for observed in s.steps.iter().filter_map(|step| step.observed.as_ref()) {
            let _ = writeln!(out, "            {observed}");
        }
        for figures in s.steps.iter().filter_map(|step| step.figures.as_ref()) {
            let _ = writeln!(out, "            {}", figures.line());
        }
    }
    let t = report.totals;
    let _ = writeln!(
        out,
        "\n{} passed, {} failed, {} skipped in {:.1} s{}",
        t.passed,
        t.failed,
        t.skipped,
        report.duration_ms as f64 / 1000.0,
        if t.skipped > 0 && t.failed == 0 {
            " (skips do not fail a run)"
        } else {
            ""
        }
    );
    out
}
