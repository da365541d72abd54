//! Background load: bounded traffic that runs while later steps act, then is stopped and
//! counted.
//!
//! A load is the bench's open-loop generator ([`crate::bench::generator`]) at `rate`: request
//! *i* is due at `t0 + i / rate`, at most `concurrency` are in flight, until its duration is
//! over or a step stops it. Latency is measured from each request's **scheduled** time, so a
//! node that stalls is charged for every request that queued behind the stall (timing from
//! the actual send would hide it: the sender waits instead), and `p99_below` checks what users
//! arriving at those times saw. Every request is sent once (no retries: retrying is the load
//! balancer's job, and its effect is what the counts show). Stopping ends the sending at once,
//! then gives the requests still in flight [`DRAIN`] to be answered; whatever is still
//! unanswered is **lost**.
//!
//! | figure | what it counts |
//! |---|---|
//! | `sent` | requests whose sending began |
//! | `status` | answers by HTTP status |
//! | `failed` | requests that got no HTTP answer: refused, reset, timed out in the client |
//! | `lost` | sent and neither answered nor failed before the drain ended (a hung node) |
//! | `p50/p90/p99/max` | latency of the answered requests from their scheduled time (HdrHistogram), microseconds |

use crate::bench::generator::{self, Mode, Plan, SendFn};
use crate::client::Client;
use http::Method;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
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

/// Latency percentiles over answered requests, from their scheduled time, microseconds (3
/// significant digits); zero without any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl From<generator::Percentiles> for Percentiles {
    fn from(p: generator::Percentiles) -> Self {
        Self {
            p50: p.p50,
            p90: p.p90,
            p99: p.p99,
            max: p.max,
        }
    }
}

/// A load being generated. Dropping it aborts it.
pub(crate) struct RunningLoad {
    stop: CancellationToken,
    task: JoinSet<LoadFigures>,
    /// Requests sent so far; the sender side closes when the generator ends.
    sent: watch::Receiver<u64>,
}

impl RunningLoad {
    pub fn start(plan: LoadPlan, client: Client) -> Self {
        let stop = CancellationToken::new();
        let mut task = JoinSet::new();
        let (sent_tx, sent) = watch::channel(0);
        task.spawn(generate(plan, client, sent_tx, stop.clone()));
        Self { stop, task, sent }
    }

    /// Waits until the load has sent `at_least` requests. `Err` holds how many it had sent when
    /// it ended without reaching that.
    pub async fn sent_at_least(&self, at_least: u64) -> Result<(), u64> {
        let mut sent = self.sent.clone();
        let reached = sent.wait_for(|n| *n >= at_least).await.is_ok();
        if reached { Ok(()) } else { Err(*sent.borrow()) }
    }

    /// Requests sent so far.
    pub fn sent(&self) -> u64 {
        *self.sent.borrow()
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

/// Sends the plan's request; a transport error is its message (the first one is reported).
/// Every send bumps `sent`, which `wait = { load_sent … }` watches.
fn sender(plan: &LoadPlan, client: Client, sent: watch::Sender<u64>) -> SendFn {
    let (method, url, headers) = (plan.method.clone(), plan.url.clone(), plan.headers.clone());
    let headers = Arc::new(headers);
    Arc::new(move |_| {
        sent.send_modify(|n| *n += 1);
        let mut builder = client.request(method.clone(), url.clone());
        for (name, value) in headers.iter() {
            builder = builder.header(name, value);
        }
        Box::pin(async move {
            builder
                .send()
                .await
                .map(|r| r.status.as_u16())
                .map_err(|e| e.to_string())
        })
    })
}

async fn generate(
    plan: LoadPlan,
    client: Client,
    sent: watch::Sender<u64>,
    stop: CancellationToken,
) -> LoadFigures {
    let request = format!(
        "{} {}",
        plan.method,
        plan.url
            .splitn(4, '/')
            .nth(3)
            .map_or("/".to_owned(), |p| format!("/{p}"))
    );
    let total = plan.total();
    let run = Plan {
        mode: Mode::Open {
            rate: f64::from(plan.rate.max(1)),
        },
        connections: plan.concurrency.max(1) as usize,
        // Exactly `total` due times: the last one just before the end.
        duration: plan.duration,
        warmup: Duration::ZERO,
        drain: DRAIN,
        precise: false,
    };
    let figures = generator::generate(&run, sender(&plan, client, sent), stop).await;
    let failed = figures
        .errors
        .iter()
        .filter(|(kind, _)| kind.as_str() != "lost")
        .map(|(_, n)| n)
        .sum();
    LoadFigures {
        name: plan.name,
        via: plan.via,
        request,
        planned: total,
        sent: figures.sent,
        status: figures.status,
        failed,
        lost: figures.lost,
        first_error: figures.first_error,
        latency_us: figures.latency_us.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_generator() {
        let p = Percentiles::from(generator::Percentiles {
            p50: 5,
            p90: 9,
            p99: 12,
            p999: 13,
            max: 14,
        });
        assert_eq!((p.p50, p.p90, p.p99, p.max), (5, 9, 12, 14));
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

    /// The stall a node causes shows in the load's p99: requests due while the backend held
    /// both connections waited for one, and their latency runs from their scheduled time.
    /// (Timed from the actual send, only the two requests caught in the stall were slow: under
    /// 1 % of 600, invisible at p99.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stall_shows_in_p99_because_latency_runs_from_the_scheduled_time() {
        use tollgate_net::{HostMap, Outbound};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let identity = crate::backend::BackendIdentity {
            name: "slow".into(),
            endpoint: "production".into(),
        };
        let stop = CancellationToken::new();
        let backend = crate::backend::spawn(
            identity,
            listener,
            Arc::new(tollgate_protocol::ManualClock::new(0)),
            stop.clone(),
        )
        .unwrap();
        let client = Client::new(&Outbound::new(HostMap::new(), &[]).unwrap());
        let plan = LoadPlan {
            name: "bg".into(),
            via: "backend".into(),
            method: Method::GET,
            url: format!("http://{}/x", backend.local_addr),
            headers: Vec::new(),
            rate: 200,
            duration: Duration::from_secs(3),
            concurrency: 2,
        };
        let load = RunningLoad::start(plan, client);
        // The fault's timing, not a wait for readiness: a 1 s stall from 0.5 s to 0.55 s.
        tokio::time::sleep(Duration::from_millis(500)).await;
        backend.control.set_latency(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
        backend.control.set_latency(Duration::ZERO);
        let figures = load.end(true).await.unwrap();
        stop.cancel();
        assert_eq!(figures.planned, 600);
        assert_eq!(figures.answered(), figures.sent, "{figures:?}");
        assert!(figures.sent >= 590, "{figures:?}");
        assert!(
            figures.latency_us.p99 >= 500_000,
            "the stall is hidden: {figures:?}"
        );
        assert!(figures.latency_us.p50 < 100_000, "{figures:?}");
    }
}
