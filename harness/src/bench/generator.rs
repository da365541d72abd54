//! The load generator shared by `tollgate bench` and the scenario runner's background loads.
//!
//! **Open loop** (the default for loads, `--mode open` for the bench): request *i* is due at
//! `t0 + i / rate` whatever happened to the requests before it, and its latency is measured
//! from that **scheduled** time, so a system that stalls is charged for every request that
//! queued behind the stall (no coordinated omission). At most `connections` requests are in
//! flight; a request due while all of them are busy waits for one, and that wait is part of
//! its latency. Four figures are kept apart:
//!
//! | figure | what it is |
//! |---|---|
//! | `latency` | answer received − scheduled time: what a user arriving at that time saw |
//! | `service` | answer received − actual send: what the system took once it had the request |
//! | `lag` | actual send − scheduled time (waiting for a connection, or a late generator) |
//! | `late_sends` | sends more than [`LATE`] (and more than one period) behind schedule although a connection was free: the generator's own fault |
//! | `dropped` | requests due before the end that could not be sent before it (all connections stayed busy) |
//!
//! **Closed loop**: `connections` workers each send, await the answer and send again, as wrk
//! does. Latency is measured from the actual send, so a stall delays the senders instead of
//! showing in the percentiles: the figures say so (`coordinated_omission`).
//!
//! A run is **generator-bound** when the generator could not issue the offered rate itself:
//! its own CPU time per request (thread CPU time minus the time it spent waiting for a due
//! time) says it cannot send `rate` requests a second on its core, or more than 5 % of the
//! sends missed their slot with a connection free (late by over 1 ms and over one period; 5 %:
//! a loaded machine preempts a generator now and then, which shows in the latencies but alone
//! does not make the generator the bottleneck). Such a run is flagged, never reported as capacity.
//!
//! Requests due during the warm-up are sent but not recorded. After the last due time the
//! requests still in flight get `drain` to be answered; the rest are **lost**.

use futures_util::future::BoxFuture;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A send further behind schedule than this (or than one period between sends, if longer),
/// with a connection free, is late: the generator missed its slot.
pub const LATE: Duration = Duration::from_millis(1);

/// Tokio's timers tick in milliseconds: a precise generator sleeps until this long before a
/// due time, then yields until it.
const SPIN: Duration = Duration::from_micros(1500);

/// Open or closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Mode {
    /// Requests due at `t0 + i / rate`.
    Open { rate: f64 },
    /// `connections` senders, each sending again as soon as it is answered.
    Closed,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    pub mode: Mode,
    /// Most requests in flight at once (connections for a pooled sender).
    pub connections: usize,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Time sent but not recorded, before `duration`.
    pub warmup: Duration,
    /// How long requests in flight at the end may still take.
    pub drain: Duration,
    /// Open loop: yield (rather than sleep) the last 1.5 ms before each due time, so sends are
    /// on time to the microsecond instead of to tokio's millisecond tick. For a generator on
    /// its own core (the bench); a shared runtime (scenario loads) leaves it off.
    pub precise: bool,
}

/// The result of one request: an HTTP status, or a transport error by kind (`connect`,
/// `timeout`, `reset`, ...).
pub type Outcome = Result<u16, String>;

/// Sends request number `i`. Called only while a connection permit is held, so a sender that
/// pools `connections` connections always finds one free.
pub type SendFn = Arc<dyn Fn(u64) -> BoxFuture<'static, Outcome> + Send + Sync>;

/// Latency percentiles in microseconds (HdrHistogram, 3 significant digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// The percentiles the spectrum plot draws (and the JSON lists).
pub const SPECTRUM: [f64; 16] = [
    0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999, 99.9995,
    99.9999, 100.0,
];

fn histogram() -> Histogram<u64> {
    // 1 µs .. 1 h; the bounds are valid constants, so this cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable_histogram()))
}

#[allow(clippy::panic)]
fn unreachable_histogram() -> Histogram<u64> {
    panic!("HdrHistogram rejects 3 significant digits")
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// What one run measured.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Figures {
    /// `open` or `closed`.
    pub mode: String,
    /// Open loop: the rate asked for, requests a second.
    pub offered_rate: Option<f64>,
    pub connections: usize,
    /// The measured window, seconds.
    pub window_s: f64,
    /// Open loop: requests due in the measured window.
    pub scheduled: u64,
    /// Requests of the measured window that were sent.
    pub sent: u64,
    /// Answers by HTTP status (measured window).
    pub status: BTreeMap<u16, u64>,
    /// Requests without an answer, by kind (measured window).
    pub errors: BTreeMap<String, u64>,
    /// The first transport error seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// Due in the window but never sent: every connection stayed busy until the end.
    pub dropped: u64,
    /// Sent, and neither answered nor failed before the drain ended.
    pub lost: u64,
    /// Sends more than 1 ms and one period behind schedule although a connection was free.
    pub late_sends: u64,
    /// Answers per second over the measured window.
    pub achieved_rate: f64,
    /// Answered requests, warm-up included (for CPU per request of the system under test).
    pub answered_total: u64,
    /// Open loop: from the scheduled time. Closed loop: from the send.
    pub latency_us: Percentiles,
    /// From the actual send.
    pub service_us: Percentiles,
    /// Actual send − scheduled time (open loop).
    pub lag_us: Percentiles,
    /// `[percentile, latency µs]` for the spectrum plot.
    pub spectrum: Vec<(f64, u64)>,
    /// The generator's CPU time per request sent, excluding its waits for due times, µs
    /// (when the platform tells thread CPU time).
    pub generator_cpu_us_per_request: Option<f64>,
    /// The generator could not issue the offered rate: not a capacity figure.
    pub generator_bound: bool,
    /// Closed loop: a stall delays the senders instead of showing in the percentiles.
    pub coordinated_omission: bool,
    /// Human-readable flags and labels.
    pub notes: Vec<String>,
}

impl Figures {
    pub fn answered(&self) -> u64 {
        self.status.values().sum()
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum::<u64>()
            + self
                .status
                .iter()
                .filter(|(s, _)| !(200..400).contains(*s))
                .map(|(_, n)| n)
                .sum::<u64>()
    }
}

#[derive(Default)]
struct Tally {
    latency: Option<Histogram<u64>>,
    service: Option<Histogram<u64>>,
    lag: Option<Histogram<u64>>,
    status: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    first_error: Option<String>,
    answered_total: u64,
    sent: u64,
    late_sends: u64,
}

impl Tally {
    fn new() -> Self {
        Self {
            latency: Some(histogram()),
            service: Some(histogram()),
            lag: Some(histogram()),
            ..Self::default()
        }
    }

    fn record(&mut self, measured: bool, outcome: &Outcome, latency: Duration, service: Duration) {
        if outcome.is_ok() {
            self.answered_total += 1;
        }
        if !measured {
            return;
        }
        match outcome {
            Ok(status) => {
                *self.status.entry(*status).or_default() += 1;
                if let Some(h) = &mut self.latency {
                    h.saturating_record(micros(latency));
                }
                if let Some(h) = &mut self.service {
                    h.saturating_record(micros(service));
                }
            }
            Err(kind) => {
                self.first_error.get_or_insert_with(|| kind.clone());
                *self.errors.entry(kind.clone()).or_default() += 1;
            }
        }
    }
}

type Shared = Arc<Mutex<Tally>>;

fn lock(tally: &Shared) -> std::sync::MutexGuard<'_, Tally> {
    tally.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `plan` with `send` until its end (or `stop`), drains, and counts.
pub async fn generate(plan: &Plan, send: SendFn, stop: CancellationToken) -> Figures {
    let cpu_before = thread_cpu();
    let tally: Shared = Arc::new(Mutex::new(Tally::new()));
    let started = Instant::now();
    let measure_from = started + plan.warmup;
    let end = measure_from + plan.duration;
    let permits = Arc::new(Semaphore::new(plan.connections.max(1)));
    let mut inflight: JoinSet<()> = JoinSet::new();
    let mut spun = Duration::ZERO;
    let mut scheduled_in_window = 0u64;
    let mut dropped = 0u64;
    match plan.mode {
        Mode::Open { rate } => {
            let period = Duration::from_secs_f64(1.0 / rate.max(1e-3));
            let late = LATE.max(period);
            let mut i: u64 = 0;
            loop {
                let due = started + period.mul_f64(i as f64);
                if due >= end || stop.is_cancelled() {
                    break;
                }
                let measured = due >= measure_from;
                let now = Instant::now();
                if due > now {
                    if plan.precise && due - now > SPIN {
                        sleep_or_stop(due - SPIN, &stop).await;
                    } else if !plan.precise {
                        sleep_or_stop(due, &stop).await;
                    }
                    // Spinning is CPU time spent waiting, not sending: it is taken out of the
                    // generator's cost below (sleeping is not CPU time at all).
                    let spin_from = Instant::now();
                    while plan.precise && Instant::now() < due && !stop.is_cancelled() {
                        tokio::task::yield_now().await;
                    }
                    spun += Instant::now().saturating_duration_since(spin_from);
                }
                // Answers that arrived meanwhile are reaped as they come (the tasks record
                // themselves); only finished handles are dropped here.
                while inflight.try_join_next().is_some() {}
                let (permit, free) = match permits.clone().try_acquire_owned() {
                    Ok(permit) => (permit, true),
                    Err(_) => {
                        let acquired = tokio::select! {
                            biased;
                            () = stop.cancelled() => None,
                            () = tokio::time::sleep_until(end) => None,
                            permit = permits.clone().acquire_owned() => permit.ok(),
                        };
                        match acquired {
                            Some(permit) => (permit, false),
                            None if stop.is_cancelled() => break,
                            None => {
                                // Due times from here to the end are never sent.
                                let left = remaining(due, end, period, measure_from);
                                dropped += left;
                                scheduled_in_window += left;
                                break;
                            }
                        }
                    }
                };
                let sent_at = Instant::now();
                let lag = sent_at.saturating_duration_since(due);
                if measured {
                    scheduled_in_window += 1;
                    let mut t = lock(&tally);
                    t.sent += 1;
                    if free && lag > late {
                        t.late_sends += 1;
                    }
                    if let Some(h) = &mut t.lag {
                        h.saturating_record(micros(lag));
                    }
                }
                let request = send(i);
                let tally = tally.clone();
                inflight.spawn(async move {
                    let outcome = request.await;
                    let done = Instant::now();
                    drop(permit);
                    lock(&tally).record(measured, &outcome, done - due, done - sent_at);
                });
                i += 1;
            }
        }
        Mode::Closed => {
            let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
            for _ in 0..plan.connections.max(1) {
                let (send, tally, next, stop) =
                    (send.clone(), tally.clone(), next.clone(), stop.clone());
                inflight.spawn(async move {
                    loop {
                        let sent_at = Instant::now();
                        if sent_at >= end || stop.is_cancelled() {
                            break;
                        }
                        let measured = sent_at >= measure_from;
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if measured {
                            lock(&tally).sent += 1;
                        }
                        let outcome = send(i).await;
                        let took = sent_at.elapsed();
                        lock(&tally).record(measured, &outcome, took, took);
                    }
                });
            }
            sleep_or_stop(end, &stop).await;
        }
    }
    let sending_ended = Instant::now();
    let drained = sending_ended + plan.drain;
    loop {
        tokio::select! {
            // Biased, answers first: under the simulated driver this runs in the runner's host,
            // where an unbiased select would pick its branch by an unseeded random draw.
            biased;
            joined = inflight.join_next() => if joined.is_none() { break },
            () = tokio::time::sleep_until(drained) => break,
        }
    }
    inflight.abort_all();
    let cpu = thread_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before).saturating_sub(spun));
    let window = plan
        .duration
        .min(sending_ended.saturating_duration_since(measure_from))
        .max(Duration::from_millis(1));
    let tally = lock(&tally);
    finish(plan, &tally, window, scheduled_in_window, dropped, cpu)
}

fn finish(
    plan: &Plan,
    tally: &Tally,
    window: Duration,
    scheduled: u64,
    dropped: u64,
    cpu: Option<Duration>,
) -> Figures {
    let empty = histogram();
    let latency = tally.latency.as_ref().unwrap_or(&empty);
    let mut figures = Figures {
        mode: match plan.mode {
            Mode::Open { .. } => "open".into(),
            Mode::Closed => "closed".into(),
        },
        offered_rate: match plan.mode {
            Mode::Open { rate } => Some(rate),
            Mode::Closed => None,
        },
        connections: plan.connections,
        window_s: window.as_secs_f64(),
        scheduled,
        sent: tally.sent,
        status: tally.status.clone(),
        errors: tally.errors.clone(),
        first_error: tally.first_error.clone(),
        dropped,
        late_sends: tally.late_sends,
        answered_total: tally.answered_total,
        latency_us: percentiles(latency),
        service_us: tally.service.as_ref().map(percentiles).unwrap_or_default(),
        lag_us: tally.lag.as_ref().map(percentiles).unwrap_or_default(),
        spectrum: if latency.is_empty() {
            Vec::new()
        } else {
            SPECTRUM
                .iter()
                .map(|p| (*p, latency.value_at_quantile(p / 100.0)))
                .collect()
        },
        ..Figures::default()
    };
    figures.lost = figures
        .sent
        .saturating_sub(figures.answered() + figures.errors.values().sum::<u64>());
    if figures.lost > 0 {
        figures.errors.insert("lost".into(), figures.lost);
    }
    figures.achieved_rate = figures.answered() as f64 / window.as_secs_f64();
    let all_sent = tally.answered_total.max(figures.sent).max(1);
    figures.generator_cpu_us_per_request = cpu.map(|c| c.as_secs_f64() * 1e6 / all_sent as f64);
    match plan.mode {
        Mode::Open { rate } => {
            if let Some(cost) = figures.generator_cpu_us_per_request
                && cost > 0.0
            {
                let most = 1e6 / cost;
                if rate > 0.8 * most {
                    figures.generator_bound = true;
                    figures.notes.push(format!(
                        "generator-bound: it costs the generator {cost:.1} µs of CPU to send one request, so it can issue about {most:.0}/s, not the {rate:.0}/s offered"
                    ));
                }
            }
            if figures.late_sends * 20 > figures.sent.max(1) {
                figures.generator_bound = true;
                figures.notes.push(format!(
                    "generator-bound: {} of {} sends were over 1 ms and a period late with a connection free",
                    figures.late_sends, figures.sent
                ));
            }
            if figures.dropped > 0 {
                figures.notes.push(format!(
                    "{} requests due were never sent: all {} connections stayed busy",
                    figures.dropped, plan.connections
                ));
            }
        }
        Mode::Closed => {
            figures.coordinated_omission = true;
            figures.notes.push(
                "closed loop: latency from each actual send; a stall delays the senders instead of showing in the percentiles (coordinated omission)"
                    .into(),
            );
        }
    }
    figures
}

/// Due times in `[due, end)` that fall in the measured window.
fn remaining(due: Instant, end: Instant, period: Duration, measure_from: Instant) -> u64 {
    let from = due.max(measure_from);
    if from >= end {
        return 0;
    }
    ((end - from).as_secs_f64() / period.as_secs_f64()).ceil() as u64
}

async fn sleep_or_stop(until: Instant, stop: &CancellationToken) {
    tokio::select! {
        // Biased (either branch ends the wait): no unseeded draw under the simulated driver.
        biased;
        () = stop.cancelled() => {}
        () = tokio::time::sleep_until(until) => {}
    }
}

/// This thread's CPU time (Linux: `/proc/thread-self/schedstat`, nanoseconds on the CPU).
pub fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Runs `plan` on a thread of its own with a current-thread runtime, pinned to `cpu` when
/// given (and when the platform allows), so the generator's CPU time is its own.
pub fn run_on_own_thread(
    plan: Plan,
    send: impl FnOnce() -> SendFn + Send + 'static,
    cpu: Option<usize>,
) -> std::io::Result<Figures> {
    let handle = std::thread::Builder::new()
        .name("bench-generator".into())
        .spawn(move || {
            let pinned =
                cpu.is_some_and(|id| core_affinity::set_for_current(core_affinity::CoreId { id }));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let mut figures = runtime.block_on(generate(&plan, send(), CancellationToken::new()));
            if cpu.is_some() && !pinned {
                figures
                    .notes
                    .push("the generator could not be pinned to its CPU".into());
            }
            Ok(figures)
        })?;
    handle
        .join()
        .map_err(|_| std::io::Error::other("the generator thread panicked"))?
}
