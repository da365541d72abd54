//! Background load: bounded traffic that runs while later steps act, then is stopped and
//! counted.
//!
//! A load sends one request every `1 s / rate` (monotonic tokio time), at most `concurrency`
//! in flight, until it has sent `rate × duration` requests, its duration is over, or a step
//! stops it. Every request is sent once (no retries: retrying is the load balancer's job, and
//! its effect is what the counts show). Stopping ends the sending at once, then gives the
//! requests still in flight [`DRAIN`] to be answered; whatever is still unanswered is **lost**.
//!
//! | figure | what it counts |
//! |---|---|
//! | `sent` | requests whose sending began |
//! | `status` | answers by HTTP status |
//! | `failed` | requests that got no HTTP answer: refused, reset, timed out in the client |
//! | `lost` | sent and neither answered nor failed before the drain ended (a hung node) |
//! | `p50/p90/p99/max` | latency of the answered requests (nearest rank), microseconds |

use crate::client::Client;
use http::Method;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// How long requests in flight at a stop may still take to be answered.
pub(crate) const DRAIN: Duration = Duration::from_secs(5);

/// What to send.
#[derive(Debug, Clone)]
pub(crate) struct LoadPlan {
    pub name: String,
    pub via: String,
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub rate: u32,
    pub duration: Duration,
    pub concurrency: u32,
}

impl LoadPlan {
    /// `rate × duration`, at least one.
    pub fn total(&self) -> u64 {
        let total = (f64::from(self.rate) * self.duration.as_secs_f64()).ceil();
        // Bounded by the reader (rate ≤ 10 000/s, duration ≤ 10 min): fits easily.
        (total as u64).max(1)
    }
}

/// A load's figures, in the report and its JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct LoadFigures {
    pub name: String,
    pub via: String,
    /// `GET /pizzashack/1.0.0/menu`.
    pub request: String,
    /// What the plan allowed: `rate × duration`.
    pub planned: u64,
    pub sent: u64,
    /// Answers by status.
    pub status: BTreeMap<u16, u64>,
    pub failed: u64,
    pub lost: u64,
    /// The first transport error, for the report.
    pub first_error: Option<String>,
    pub latency_us: Percentiles,
}

impl LoadFigures {
    pub fn answered(&self) -> u64 {
        self.status.values().sum()
    }

    /// One line for the terminal report.
    pub fn line(&self) -> String {
        let status: Vec<String> = self
            .status
            .iter()
            .map(|(code, n)| format!("{code}×{n}"))
            .collect();
        let ms = |us: u64| us as f64 / 1000.0;
        let l = &self.latency_us;
        format!(
            "load `{}` via {} ({}): sent {} of {}, answered {} [{}], failed {}, lost {}; latency ms p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}",
            self.name,
            self.via,
            self.request,
            self.sent,
            self.planned,
            self.answered(),
            status.join(" "),
            self.failed,
            self.lost,
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.max)
        )
    }
}

/// Latency percentiles (nearest rank) over answered requests, microseconds; zero without any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Percentiles {
    fn of(mut samples: Vec<u64>) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let rank = |p: f64| {
            let n = samples.len();
            let index = ((p / 100.0) * n as f64).ceil() as usize;
            samples[index.clamp(1, n) - 1]
        };
        Self {
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: samples[samples.len() - 1],
        }
    }
}

/// A load being generated. Dropping it aborts it.
pub(crate) struct RunningLoad {
    stop: CancellationToken,
    task: JoinSet<LoadFigures>,
}

impl RunningLoad {
    pub fn start(plan: LoadPlan, client: Client) -> Self {
        let stop = CancellationToken::new();
        let mut task = JoinSet::new();
        task.spawn(generate(plan, client, stop.clone()));
        Self { stop, task }
    }

    /// Stops sending now (or, with `finish`, once everything planned is sent), drains, counts.
    pub async fn end(mut self, finish: bool) -> Option<LoadFigures> {
        if !finish {
            self.stop.cancel();
        }
        match self.task.join_next().await {
            Some(Ok(figures)) => Some(figures),
            _ => None,
        }
    }
}

type Outcome = (Result<u16, String>, Duration);

async fn generate(plan: LoadPlan, client: Client, stop: CancellationToken) -> LoadFigures {
    let total = plan.total();
    let mut figures = LoadFigures {
        name: plan.name.clone(),
        via: plan.via.clone(),
        request: format!(
            "{} {}",
            plan.method,
            plan.url
                .splitn(4, '/')
                .nth(3)
                .map_or("/".to_owned(), |p| format!("/{p}"))
        ),
        planned: total,
        ..LoadFigures::default()
    };
    let period = Duration::from_secs_f64(1.0 / f64::from(plan.rate.max(1)));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = Instant::now() + plan.duration;
    let permits = Arc::new(Semaphore::new(plan.concurrency.max(1) as usize));
    let mut inflight: JoinSet<Outcome> = JoinSet::new();
    let mut samples = Vec::new();
    let record =
        |figures: &mut LoadFigures, samples: &mut Vec<u64>, outcome: Outcome| match outcome.0 {
            Ok(status) => {
                *figures.status.entry(status).or_default() += 1;
                samples.push(u64::try_from(outcome.1.as_micros()).unwrap_or(u64::MAX));
            }
            Err(error) => {
                figures.failed += 1;
                figures.first_error.get_or_insert(error);
            }
        };
    while figures.sent < total {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(deadline) => break,
            Some(Ok(done)) = inflight.join_next(), if !inflight.is_empty() => {
                record(&mut figures, &mut samples, done);
                continue;
            }
            _ = ticker.tick() => {}
        }
        let permit = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(deadline) => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        figures.sent += 1;
        let mut builder = client.request(plan.method.clone(), plan.url.clone());
        for (name, value) in &plan.headers {
            builder = builder.header(name, value);
        }
        inflight.spawn(async move {
            let started = Instant::now();
            let result = builder.send().await;
            drop(permit);
            (
                result.map(|r| r.status.as_u16()).map_err(|e| e.to_string()),
                started.elapsed(),
            )
        });
    }
    let drained = Instant::now() + DRAIN;
    loop {
        tokio::select! {
            joined = inflight.join_next() => match joined {
                Some(Ok(done)) => record(&mut figures, &mut samples, done),
                Some(Err(_)) => {}
                None => break,
            },
            _ = tokio::time::sleep_until(drained) => break,
        }
    }
    inflight.abort_all();
    figures.lost = figures
        .sent
        .saturating_sub(figures.answered() + figures.failed);
    figures.latency_us = Percentiles::of(samples);
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let p = Percentiles::of((1..=100).collect());
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50, 90, 99, 100));
        let one = Percentiles::of(vec![7]);
        assert_eq!((one.p50, one.p99, one.max), (7, 7, 7));
        assert_eq!(Percentiles::of(Vec::new()), Percentiles::default());
    }

    #[test]
    fn a_plan_sends_rate_times_duration_requests() {
        let plan = LoadPlan {
            name: "bg".into(),
            via: "load-balancer".into(),
            method: Method::GET,
            url: "http://gw.wso2.com:8080/x".into(),
            headers: Vec::new(),
            rate: 200,
            duration: Duration::from_millis(1500),
            concurrency: 8,
        };
        assert_eq!(plan.total(), 300);
    }
}
