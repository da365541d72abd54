//! What a bench reports: per path per round figures, per path medians and paired ratios, the
//! flags that make a figure no capacity figure, as a terminal table and as JSON.

use super::generator::Figures;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The machine a bench ran on.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Machine {
    pub cpu_model: String,
    pub cpus: usize,
    pub kernel: String,
    pub nginx: Option<String>,
    pub generator_cpu: Option<usize>,
    pub system_cpus: Option<String>,
}

/// The bench's settings, as run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Config {
    pub topology: String,
    pub address: String,
    pub mode: String,
    pub rate: Option<f64>,
    pub find_max: bool,
    pub connections: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub rounds: usize,
    pub seed: u64,
    pub paths: Vec<String>,
    pub cold_tokens: usize,
    /// APIs deployed on the gateways.
    pub apis: usize,
}

/// One path in one round.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub path: String,
    pub round: usize,
    /// The position of the path in this round's shuffled order.
    pub order: usize,
    #[serde(flatten)]
    pub figures: Figures,
    /// CPU of the system under test (the topology process, and nginx's processes) per
    /// answered request, µs.
    pub sut_cpu_us_per_request: Option<f64>,
    /// Resident memory of the process serving the path after the run, kB.
    pub rss_kb: Option<u64>,
    /// `--wrk`: wrk's rate on the same path right after, requests a second.
    pub wrk_rate: Option<f64>,
}

/// A path that could not be measured, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub path: String,
    pub reason: String,
}

/// One path over all rounds.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub path: String,
    /// Medians over rounds.
    pub achieved_rate: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub errors: u64,
    pub sut_cpu_us_per_request: Option<f64>,
    pub rss_kb: Option<u64>,
    /// Medians of per-round paired ratios of achieved rate.
    pub vs_direct: Option<f64>,
    pub vs_nginx: Option<f64>,
    /// The same against the `gateway` path (how much `gateway-counted` and
    /// `gateway-cold-jwt` cost over the cached, uncounted chain).
    pub vs_gateway: Option<f64>,
    /// `--wrk`: medians of per-round paired ratios of our closed-loop rate to wrk's.
    pub vs_wrk: Option<f64>,
    /// Medians of per-round paired ratios of p99 (path ÷ nginx).
    pub p99_vs_nginx: Option<f64>,
    pub flags: Vec<String>,
}

/// The whole bench.
#[derive(Debug, Clone, Serialize, Default)]
pub struct BenchReport {
    pub machine: Machine,
    pub config: Config,
    pub runs: Vec<Run>,
    pub missing: Vec<Missing>,
    pub summary: Vec<Summary>,
    /// Run-wide flags (a drifting `direct`).
    pub flags: Vec<String>,
}

pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

fn median_u64(values: Vec<u64>) -> u64 {
    median(values.into_iter().map(|v| v as f64).collect()).map_or(0, |m| m.round() as u64)
}

/// `direct`'s achieved rates drifting by more than this between rounds flag the run.
pub const DRIFT: f64 = 0.10;

impl BenchReport {
    /// Fills `summary` and `flags` from `runs`.
    pub fn summarise(&mut self) {
        let mut by_path: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
        for run in &self.runs {
            by_path.entry(run.path.as_str()).or_default().push(run);
        }
        let rate_in = |path: &str, round: usize| {
            self.runs
                .iter()
                .find(|r| r.path == path && r.round == round)
                .map(|r| r.figures.achieved_rate)
        };
        let p99_in = |path: &str, round: usize| {
            self.runs
                .iter()
                .find(|r| r.path == path && r.round == round)
                .map(|r| r.figures.latency_us.p99 as f64)
        };
        let paired = |runs: &[&Run], base: &str, of: &dyn Fn(&str, usize) -> Option<f64>| {
            median(
                runs.iter()
                    .filter_map(|r| {
                        let b = of(base, r.round)?;
                        let v = of(&r.path, r.round)?;
                        (b > 0.0).then(|| v / b)
                    })
                    .collect(),
            )
        };
        let mut summary = Vec::new();
        for path in &self.config.paths {
            let Some(runs) = by_path.get(path.as_str()) else {
                continue;
            };
            let f = |g: fn(&Run) -> u64| median_u64(runs.iter().map(|r| g(r)).collect());
            let mut flags: Vec<String> = Vec::new();
            for run in runs {
                for note in &run.figures.notes {
                    let note = format!("round {}: {note}", run.round);
                    if (run.figures.generator_bound || !note.contains("closed loop"))
                        && !flags.contains(&note)
                    {
                        flags.push(note);
                    }
                }
            }
            if runs.iter().any(|r| r.figures.generator_bound) {
                flags.insert(0, "GENERATOR-BOUND: not a capacity figure".into());
            }
            summary.push(Summary {
                path: path.clone(),
                achieved_rate: median(runs.iter().map(|r| r.figures.achieved_rate).collect())
                    .unwrap_or(0.0),
                p50_us: f(|r| r.figures.latency_us.p50),
                p90_us: f(|r| r.figures.latency_us.p90),
                p99_us: f(|r| r.figures.latency_us.p99),
                p999_us: f(|r| r.figures.latency_us.p999),
                max_us: f(|r| r.figures.latency_us.max),
                errors: runs.iter().map(|r| r.figures.errors_total()).sum(),
                sut_cpu_us_per_request: median(
                    runs.iter()
                        .filter_map(|r| r.sut_cpu_us_per_request)
                        .collect(),
                ),
                rss_kb: runs.iter().filter_map(|r| r.rss_kb).max(),
                vs_direct: paired(runs, "direct", &rate_in),
                vs_nginx: paired(runs, "nginx", &rate_in),
                vs_gateway: paired(runs, "gateway", &rate_in),
                vs_wrk: median(
                    runs.iter()
                        .filter_map(|r| Some(r.figures.achieved_rate / r.wrk_rate?))
                        .collect(),
                ),
                p99_vs_nginx: paired(runs, "nginx", &p99_in),
                flags,
            });
        }
        self.summary = summary;
        let direct: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.path == "direct")
            .map(|r| r.figures.achieved_rate)
            .collect();
        if let (Some(m), Some(lo), Some(hi)) = (
            median(direct.clone()),
            direct.iter().copied().reduce(f64::min),
            direct.iter().copied().reduce(f64::max),
        ) && m > 0.0
            && (hi - lo) / m > DRIFT
        {
            self.flags.push(format!(
                "DRIFT: `direct` ranged {lo:.0}..{hi:.0} req/s over the rounds ({:.0} % of its median): the machine was not steady, ratios are suspect",
                (hi - lo) / m * 100.0
            ));
        }
    }

    /// The terminal table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let c = &self.config;
        let _ = writeln!(
            out,
            "tollgate bench `{}` ({} API{} deployed) on {} ({} CPUs: generator on {}, system under test on {}); {} loop{}, {} connections, {} s × {} rounds after {} s warm-up",
            c.topology,
            c.apis,
            if c.apis == 1 { "" } else { "s" },
            self.machine.cpu_model,
            self.machine.cpus,
            self.machine
                .generator_cpu
                .map_or("any".into(), |c| c.to_string()),
            self.machine.system_cpus.as_deref().unwrap_or("any"),
            c.mode,
            c.rate.map_or(String::new(), |r| format!(" at {r:.0}/s")),
            c.connections,
            c.duration_s,
            c.rounds,
            c.warmup_s,
        );
        if c.mode == "closed" {
            let _ = writeln!(
                out,
                "closed loop: latencies are from each actual send and subject to coordinated omission (a stall delays senders instead of showing)"
            );
        }
        let _ = writeln!(
            out,
            "\n{:<18} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9} {:>8} {:>8}",
            "path",
            "req/s",
            "vs_direct",
            "vs_nginx",
            "vs_gw",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "errors",
            "max ms",
            "cpu µs/rq",
            "RSS MB",
            "p99/ngx"
        );
        let ratio = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.2}×"));
        let ms = |us: u64| format!("{:.2}", us as f64 / 1000.0);
        for s in &self.summary {
            let _ = writeln!(
                out,
                "{:<18} {:>10.0} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9} {:>8} {:>8}",
                s.path,
                s.achieved_rate,
                ratio(s.vs_direct),
                ratio(s.vs_nginx),
                ratio(s.vs_gateway),
                ms(s.p50_us),
                ms(s.p90_us),
                ms(s.p99_us),
                ms(s.p999_us),
                s.errors,
                ms(s.max_us),
                s.sut_cpu_us_per_request
                    .map_or("-".into(), |c| format!("{c:.1}")),
                s.rss_kb
                    .map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0)),
                ratio(s.p99_vs_nginx),
            );
        }
        for s in self.summary.iter().filter(|s| s.vs_wrk.is_some()) {
            let _ = writeln!(
                out,
                "{:<18} closed-loop rate {} of wrk's on the same path",
                s.path,
                ratio(s.vs_wrk)
            );
        }
        for m in &self.missing {
            let _ = writeln!(out, "{:<18} not measured: {}", m.path, m.reason);
        }
        for s in &self.summary {
            for flag in &s.flags {
                let _ = writeln!(out, "  {}: {flag}", s.path);
            }
        }
        for flag in &self.flags {
            let _ = writeln!(out, "{flag}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn run(path: &str, round: usize, rate: f64, p99: u64) -> Run {
        let mut figures = Figures {
            achieved_rate: rate,
            ..Figures::default()
        };
        figures.latency_us.p99 = p99;
        Run {
            path: path.into(),
            round,
            order: 0,
            figures,
            sut_cpu_us_per_request: None,
            rss_kb: None,
            wrk_rate: None,
        }
    }

    #[test]
    fn ratios_are_medians_of_per_round_paired_ratios() {
        let mut report = BenchReport {
            config: Config {
                paths: vec!["direct".into(), "nginx".into(), "gateway".into()],
                ..Config::default()
            },
            runs: vec![
                run("direct", 0, 100.0, 10),
                run("nginx", 0, 50.0, 20),
                run("gateway", 0, 60.0, 10),
                run("direct", 1, 200.0, 10),
                run("nginx", 1, 100.0, 20),
                run("gateway", 1, 80.0, 40),
                run("direct", 2, 100.0, 10),
                run("nginx", 2, 40.0, 20),
                run("gateway", 2, 50.0, 20),
            ],
            ..BenchReport::default()
        };
        report.summarise();
        let gw = report.summary.iter().find(|s| s.path == "gateway").unwrap();
        // Paired: 0.6, 0.4, 0.5 → 0.5 (a ratio of medians would say 60/100 = 0.6).
        assert_eq!(gw.vs_direct, Some(0.5));
        // 1.2, 0.8, 1.25 → 1.2.
        assert_eq!(gw.vs_nginx, Some(1.2));
        assert_eq!(gw.p99_vs_nginx, Some(1.0));
        // direct ranged 100..200 around a median of 100: drift.
        assert!(report.flags.iter().any(|f| f.starts_with("DRIFT")));
        assert!(report.table().contains("gateway"));
    }

    #[test]
    fn a_steady_direct_is_not_flagged() {
        let mut report = BenchReport {
            config: Config {
                paths: vec!["direct".into()],
                ..Config::default()
            },
            runs: vec![run("direct", 0, 100.0, 1), run("direct", 1, 105.0, 1)],
            ..BenchReport::default()
        };
        report.summarise();
        assert!(report.flags.is_empty());
    }
}
