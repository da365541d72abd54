//! The gateway's side of the TM wire.
//!
//! - [`ThrottleDataHolder`]: throttled keys and their expiry, read on every request
//!   (WSO2's `ThrottleDataHolder`): a key is throttled while `expiryTimeStamp >= now`, expired
//!   entries are dropped lazily.
//! - [`DecisionFollower`]: keeps the holder in step with a TM's decision stream
//!   (`throttle_decision_endpoints`), failing over along the list and reconnecting with capped
//!   exponential backoff. While no TM answers, the holder keeps what it had (fail-open on the
//!   last decisions, §4.8).
//! - [`EventPublisher`]: `try_publish` never blocks the request path: events go into a bounded
//!   queue per url group and are dropped when it is full or when no TM of the group answers
//!   (WSO2's `tryPublish`). Every group receives every event; within a group the first
//!   answering URL is used (failover) unless the group is `loadbalance` (round-robin).

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tollgate_config::model::{UrlGroup, UrlGroupKind};
use tollgate_net::ndjson::{CONTENT_TYPE_NDJSON, LineReader};
use tollgate_net::{HttpClient, Outbound};
use tollgate_protocol::SharedTap;
use tollgate_protocol::throttle::{
    DECISIONS_PATH, EVENTS_PATH, RequestEvent, ThrottleDecision, http_base,
};

/// A decision stream silent for this long is taken for dead (the TM sends a heartbeat every
/// 5 s when idle), so a half-open connection cannot hold a follower forever.
const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{0}` is not a TM URL (expected tcp://host:port)")]
    BadUrl(String),
    #[error("no TM URL given")]
    NoEndpoints,
}

fn bases(urls: &[String]) -> Result<Vec<String>, ClientError> {
    if urls.is_empty() {
        return Err(ClientError::NoEndpoints);
    }
    urls.iter()
        .map(|u| http_base(u).ok_or_else(|| ClientError::BadUrl(u.clone())))
        .collect()
}

// --- decisions --------------------------------------------------------------------------

/// Throttled keys → expiry (epoch ms), as the TM decided them.
#[derive(Debug, Default)]
pub struct ThrottleDataHolder {
    keys: RwLock<HashMap<String, i64>>,
}

impl ThrottleDataHolder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The expiry of `key`'s throttling if it is throttled at `now` (`expiry >= now`, as
    /// WSO2's holder compares), else `None`. An expired entry is removed on the way.
    pub fn is_throttled(&self, key: &str, now: i64) -> Option<i64> {
        let expiry = *self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)?;
        if expiry >= now {
            return Some(expiry);
        }
        // Lazy expiry; skip it if a writer holds the lock, a later reader will do it.
        if let Ok(mut keys) = self.keys.try_write()
            && keys.get(key).is_some_and(|e| *e < now)
        {
            keys.remove(key);
        }
        None
    }

    /// Applies one decision: throttled → remember until its expiry, else forget the key.
    pub fn apply(&self, decision: &ThrottleDecision) {
        if decision.is_heartbeat() {
            return;
        }
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if decision.is_throttled {
            keys.insert(decision.throttle_key.clone(), decision.expiry_time_stamp);
        } else {
            keys.remove(&decision.throttle_key);
        }
    }

    /// Replaces everything with a TM's snapshot of the decisions in force.
    pub fn replace(&self, decisions: &[ThrottleDecision]) {
        let fresh = decisions
            .iter()
            .filter(|d| d.is_throttled && !d.is_heartbeat())
            .map(|d| (d.throttle_key.clone(), d.expiry_time_stamp))
            .collect();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }

    pub fn len(&self) -> usize {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A decision as a transcript shows it (the TM's own `decision` records use the same fields).
fn decision_record(decision: &ThrottleDecision) -> serde_json::Value {
    serde_json::json!({
        "key": decision.throttle_key,
        "throttled": decision.is_throttled,
        "until": decision.expiry_time_stamp,
    })
}

/// Reconnect pacing. WSO2's JMS listener waits 10 s, doubling, capped at 1 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The wait after `failures` consecutive rounds in which no endpoint answered (1-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// What a [`DecisionFollower`] is doing; watch it to await a connection without sleeping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowerStatus {
    /// The endpoint (index into the list) whose snapshot is applied and whose stream is
    /// followed, or `None` while disconnected.
    pub connected: Option<usize>,
    /// Successful connections so far (snapshot applied).
    pub connections: u64,
    /// Decisions applied from streams (snapshots excluded).
    pub decisions: u64,
    /// Consecutive rounds in which no endpoint answered.
    pub failures: u32,
}

/// Follows a TM's decision stream into a [`ThrottleDataHolder`].
pub struct DecisionFollower {
    holder: Arc<ThrottleDataHolder>,
    status: watch::Receiver<FollowerStatus>,
    tasks: TaskTracker,
}

impl DecisionFollower {
    /// Starts following `endpoints` (`throttle_decision_endpoints`, `tcp://host:port`) until
    /// `shutdown` fires. The first endpoint is tried first; on failure the next, round the
    /// list; after a whole round fails, the follower waits per `backoff`.
    pub fn spawn(
        endpoints: &[String],
        outbound: &Outbound,
        backoff: Backoff,
        shutdown: CancellationToken,
    ) -> Result<Self, ClientError> {
        let bases = bases(endpoints)?;
        let holder = Arc::new(ThrottleDataHolder::new());
        let (tx, status) = watch::channel(FollowerStatus::default());
        let task = FollowTask {
            bases,
            client: outbound.client(),
            holder: holder.clone(),
            status: tx,
            backoff,
            tap: outbound.tap().cloned(),
        };
        let tasks = TaskTracker::new();
        tasks.spawn(async move {
            tokio::select! {
                // Shutdown first, and the same branch every run (not tokio's random pick).
                biased;
                _ = shutdown.cancelled() => {}
                _ = task.run() => {}
            }
        });
        tasks.close();
        Ok(Self {
            holder,
            status,
            tasks,
        })
    }

    /// Its task: [`TaskTracker::wait`] resolves once it has ended (after `shutdown`).
    pub fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// The holder the gateway's throttle phase reads.
    pub fn holder(&self) -> &Arc<ThrottleDataHolder> {
        &self.holder
    }

    /// `key` is throttled at `now`: its expiry, for `Retry-After` and `nextAccessTime`.
    pub fn is_throttled(&self, key: &str, now: i64) -> Option<i64> {
        self.holder.is_throttled(key, now)
    }

    pub fn status(&self) -> watch::Receiver<FollowerStatus> {
        self.status.clone()
    }
}

struct FollowTask {
    bases: Vec<String>,
    client: HttpClient<Full<Bytes>>,
    holder: Arc<ThrottleDataHolder>,
    status: watch::Sender<FollowerStatus>,
    backoff: Backoff,
    /// The harness's observer ([`tollgate_protocol::tap`]): each decision applied.
    tap: Option<SharedTap>,
}

impl FollowTask {
    async fn run(self) {
        let mut next = 0usize;
        loop {
            let mut followed = false;
            for attempt in 0..self.bases.len() {
                let index = (next + attempt) % self.bases.len();
                if self.follow(index).await {
                    // It answered and then ended: start the next round with the next one,
                    // as a broker list moves on from a dead broker.
                    followed = true;
                    next = (index + 1) % self.bases.len();
                    break;
                }
            }
            if followed {
                self.status.send_modify(|s| s.failures = 0);
                continue;
            }
            let failures = self.status.borrow().failures.saturating_add(1);
            self.status.send_modify(|s| s.failures = failures);
            tokio::time::sleep(self.backoff.delay(failures)).await;
        }
    }

    /// Follows one endpoint until its stream ends; `true` if it got as far as a snapshot.
    async fn follow(&self, index: usize) -> bool {
        let uri = format!("{}{DECISIONS_PATH}", self.bases[index]);
        let Ok(request) = Request::builder()
            .method(Method::GET)
            .uri(&uri)
            .body(Full::new(Bytes::new()))
        else {
            return false;
        };
        let pending = tollgate_net::exchange::begin(
            self.tap.as_ref(),
            request.method(),
            request.uri(),
            request.headers(),
            b"",
        );
        let sent = self.client.request(request).await;
        // A stream: its head is the record; its decisions are the `applied-decision(s)` records.
        if let Some(pending) = pending {
            match &sent {
                Ok(response) => pending.answered(response.status(), response.headers(), None),
                Err(error) => pending.failed(error),
            }
        }
        let response = match sent {
            Ok(r) if r.status() == StatusCode::OK => r,
            Ok(r) => {
                tracing::debug!(%uri, status = %r.status(), "decision stream refused");
                return false;
            }
            Err(error) => {
                tracing::debug!(%uri, %error, "decision stream unreachable");
                return false;
            }
        };
        // No line limit: the TM is trusted to send decisions, each a few hundred bytes.
        let mut lines = LineReader::new(response.into_body(), STREAM_IDLE_TIMEOUT, usize::MAX);
        let mut snapshot: Option<Vec<ThrottleDecision>> = Some(Vec::new());
        // Idle, broken or ended alike: this endpoint is done.
        while let Ok(Some(line)) = lines.next_line().await {
            let Ok(decision) = serde_json::from_slice::<ThrottleDecision>(&line) else {
                continue;
            };
            match snapshot.as_mut() {
                // The first heartbeat ends the snapshot: it replaces what we had.
                Some(active) if decision.is_heartbeat() => {
                    self.holder.replace(active);
                    tollgate_protocol::tap::record(self.tap.as_ref(), "applied-decisions", || {
                        let decisions: Vec<serde_json::Value> =
                            active.iter().map(decision_record).collect();
                        serde_json::json!({ "decisions": decisions })
                    });
                    snapshot = None;
                    self.status.send_modify(|s| {
                        s.connected = Some(index);
                        s.connections += 1;
                    });
                }
                Some(active) => active.push(decision),
                None if decision.is_heartbeat() => {}
                None => {
                    self.holder.apply(&decision);
                    tollgate_protocol::tap::record(self.tap.as_ref(), "applied-decision", || {
                        decision_record(&decision)
                    });
                    self.status.send_modify(|s| s.decisions += 1);
                }
            }
        }
        // Fail-open: the holder keeps the last decisions until they expire.
        self.status.send_modify(|s| s.connected = None);
        snapshot.is_none()
    }
}

// --- events -----------------------------------------------------------------------------

/// One `[[apim.throttling.url_group]]`: its TMs' receiver URLs and how to spread events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishGroup {
    pub urls: Vec<String>,
    pub load_balance: bool,
}

impl From<&UrlGroup> for PublishGroup {
    fn from(group: &UrlGroup) -> Self {
        Self {
            urls: group.traffic_manager_urls.clone(),
            load_balance: group.kind == UrlGroupKind::LoadBalance,
        }
    }
}

/// How long a batch waits for its TM's answer (each of the head and the body) before it counts
/// as unanswered, as WSO2's binary data agent gives up on a socket (`SocketTimeoutMS`, whose
/// default, 30 000 ms, API-M keeps: docs/wso2-behaviour.md §4.9).
/// Without it a TM that goes silent without closing the connection (a host gone, a cut that
/// drops segments) wedges its group: every later event queues behind the one batch.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes reserved for one serialised event.
const EVENT_CAPACITY: usize = 768;

/// Publisher tuning.
#[derive(Debug, Clone, Copy)]
pub struct PublisherSettings {
    /// Events queued per group before `try_publish` drops.
    pub queue: usize,
    /// Events sent in one request at most.
    pub batch: usize,
    /// How long a batch that is not full waits for more events before it is sent. Zero (the
    /// default) sends at once: the TM hears of every request as early as possible, which is
    /// what bounds a quota's overshoot. Under concurrent load batches fill by themselves
    /// (events queue while the previous batch is in flight); a linger only pays off for a
    /// gateway serving requests one after another, trading decision latency for fewer
    /// requests to the TM.
    pub linger: Duration,
}

impl Default for PublisherSettings {
    fn default() -> Self {
        Self {
            queue: 10_000,
            batch: 512,
            linger: Duration::ZERO,
        }
    }
}

/// Counters of one publisher, summed over its groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublisherStats {
    /// Events a TM accepted.
    pub delivered: u64,
    /// Events dropped because a group's queue was full.
    pub dropped_full: u64,
    /// Events dropped because no TM of a group answered.
    pub dropped_unreachable: u64,
}

/// Sends request events to every url group, never blocking the caller.
pub struct EventPublisher {
    groups: Vec<mpsc::Sender<Bytes>>,
    dropped_full: AtomicU64,
    stats: watch::Receiver<PublisherStats>,
    tasks: TaskTracker,
}

impl EventPublisher {
    /// Starts one sender task per group, until `shutdown` fires.
    pub fn spawn(
        groups: &[PublishGroup],
        outbound: &Outbound,
        settings: PublisherSettings,
        shutdown: CancellationToken,
    ) -> Result<Self, ClientError> {
        if groups.is_empty() {
            return Err(ClientError::NoEndpoints);
        }
        let (stats_tx, stats) = watch::channel(PublisherStats::default());
        let stats_tx = Arc::new(stats_tx);
        let mut senders = Vec::with_capacity(groups.len());
        let tasks = TaskTracker::new();
        for group in groups {
            let (tx, rx) = mpsc::channel(settings.queue.max(1));
            let task = GroupTask {
                bases: bases(&group.urls)?,
                load_balance: group.load_balance,
                next: 0,
                client: outbound.client(),
                stats: stats_tx.clone(),
                batch: settings.batch.max(1),
                linger: settings.linger,
                tap: outbound.tap().cloned(),
            };
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => {}
                    _ = task.run(rx) => {}
                }
            });
            senders.push(tx);
        }
        tasks.close();
        Ok(Self {
            groups: senders,
            dropped_full: AtomicU64::new(0),
            stats,
            tasks,
        })
    }

    /// Its sender tasks: [`TaskTracker::wait`] resolves once they have ended (after `shutdown`).
    pub fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// Queues `event` for every group; `false` if some group's queue was full (that group
    /// drops it). Never waits.
    pub fn try_publish(&self, event: &RequestEvent<'_>) -> bool {
        // Room for a whole event up front: serde_json's own start (128 bytes) would grow three
        // times for a typical one (≈ 500 bytes of keys, names and tenants).
        let mut line = Vec::with_capacity(EVENT_CAPACITY);
        if serde_json::to_writer(&mut line, event).is_err() {
            return false;
        }
        line.push(b'\n');
        let line = Bytes::from(line);
        let mut all = true;
        for group in &self.groups {
            if group.try_send(line.clone()).is_err() {
                self.dropped_full.fetch_add(1, Ordering::Relaxed);
                all = false;
            }
        }
        all
    }

    pub fn stats(&self) -> PublisherStats {
        PublisherStats {
            dropped_full: self.dropped_full.load(Ordering::Relaxed),
            ..*self.stats.borrow()
        }
    }

    /// Watches `delivered` and `dropped_unreachable` (updated per batch) to await delivery
    /// without sleeping.
    pub fn watch_stats(&self) -> watch::Receiver<PublisherStats> {
        self.stats.clone()
    }
}

struct GroupTask {
    bases: Vec<String>,
    load_balance: bool,
    next: usize,
    client: HttpClient<Full<Bytes>>,
    stats: Arc<watch::Sender<PublisherStats>>,
    batch: usize,
    linger: Duration,
    /// The harness's observer: each batch sent, when it asks for exchanges.
    tap: Option<SharedTap>,
}

impl GroupTask {
    async fn run(mut self, mut rx: mpsc::Receiver<Bytes>) {
        let mut lines = Vec::with_capacity(self.batch);
        while rx.recv_many(&mut lines, self.batch).await > 0 {
            if !self.linger.is_zero() && lines.len() < self.batch {
                tokio::time::sleep(self.linger).await;
                while lines.len() < self.batch
                    && let Ok(line) = rx.try_recv()
                {
                    lines.push(line);
                }
            }
            let count = lines.len() as u64;
            let body: Bytes = lines.concat().into();
            lines.clear();
            let delivered = self.send(body).await;
            self.stats.send_modify(|s| {
                if delivered {
                    s.delivered += count;
                } else {
                    s.dropped_unreachable += count;
                }
            });
        }
    }

    /// Tries each URL once, starting from the current one; the batch is dropped if none
    /// answers (fail-open: the request path never waits for a TM).
    async fn send(&mut self, body: Bytes) -> bool {
        let n = self.bases.len();
        let start = self.next;
        if self.load_balance {
            self.next = (self.next + 1) % n;
        }
        for attempt in 0..n {
            let index = (start + attempt) % n;
            let Ok(request) = Request::builder()
                .method(Method::POST)
                .uri(format!("{}{EVENTS_PATH}", self.bases[index]))
                .header(http::header::CONTENT_TYPE, CONTENT_TYPE_NDJSON)
                .body(Full::new(body.clone()))
            else {
                return false;
            };
            let pending = tollgate_net::exchange::begin(
                self.tap.as_ref(),
                request.method(),
                request.uri(),
                request.headers(),
                &body,
            );
            let sent = tokio::time::timeout(SEND_TIMEOUT, self.client.request(request)).await;
            match sent {
                Ok(Ok(response)) if response.status().is_success() => {
                    let (head, answer) = response.into_parts();
                    // Drain so the connection goes back to the pool.
                    let read = tokio::time::timeout(SEND_TIMEOUT, answer.collect())
                        .await
                        .map(|read| read.map(|c| c.to_bytes()));
                    if let Some(pending) = pending {
                        match &read {
                            Ok(Ok(bytes)) => {
                                pending.answered(head.status, &head.headers, Some(bytes))
                            }
                            Ok(Err(error)) => pending.failed(error),
                            Err(elapsed) => pending.failed(elapsed),
                        }
                    }
                    if !self.load_balance {
                        // Failover sticks with the URL that answered.
                        self.next = index;
                    }
                    return true;
                }
                Ok(Ok(response)) => {
                    if let Some(pending) = pending {
                        pending.answered(response.status(), response.headers(), None);
                    }
                    tracing::debug!(status = %response.status(), "TM refused an event batch")
                }
                Ok(Err(error)) => {
                    if let Some(pending) = pending {
                        pending.failed(&error);
                    }
                    tracing::debug!(%error, "TM unreachable")
                }
                Err(elapsed) => {
                    if let Some(pending) = pending {
                        pending.failed(&elapsed);
                    }
                    tracing::debug!(%elapsed, "TM did not answer an event batch")
                }
            }
        }
        false
    }
}

/// Builds the [`ThrottleDataHolder`]-backed follower and the publisher the way a gateway's
/// `[apim.throttling]` asks (`None` when decision following or data publishing is off).
pub fn from_config(
    throttling: &tollgate_config::model::Throttling,
    outbound: &Outbound,
    shutdown: &CancellationToken,
) -> Result<(Option<DecisionFollower>, Option<EventPublisher>), ClientError> {
    let follower = if throttling.enable_decision_connection {
        Some(DecisionFollower::spawn(
            &throttling.throttle_decision_endpoints,
            outbound,
            Backoff::default(),
            shutdown.clone(),
        )?)
    } else {
        None
    };
    let publisher = if throttling.enable_data_publishing {
        let groups: Vec<PublishGroup> = throttling.url_groups.iter().map(Into::into).collect();
        Some(EventPublisher::spawn(
            &groups,
            outbound,
            PublisherSettings::default(),
            shutdown.clone(),
        )?)
    } else {
        None
    };
    Ok((follower, publisher))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_initial_wait_up_to_the_cap() {
        let b = Backoff::default();
        assert_eq!(b.delay(1), Duration::from_secs(10));
        assert_eq!(b.delay(2), Duration::from_secs(20));
        assert_eq!(b.delay(9), Duration::from_secs(2560));
        assert_eq!(b.delay(10), Duration::from_secs(3600));
        assert_eq!(b.delay(100), Duration::from_secs(3600));
    }

    #[test]
    fn holder_keeps_a_key_throttled_through_its_expiry_millisecond_then_forgets_it() {
        let holder = ThrottleDataHolder::new();
        holder.apply(&ThrottleDecision {
            throttle_key: "k".into(),
            is_throttled: true,
            expiry_time_stamp: 1_000,
        });
        assert_eq!(holder.is_throttled("k", 999), Some(1_000));
        assert_eq!(holder.is_throttled("k", 1_000), Some(1_000));
        assert_eq!(holder.is_throttled("k", 1_001), None);
        assert!(holder.is_empty(), "expired entries are removed lazily");
        holder.apply(&ThrottleDecision {
            throttle_key: "k".into(),
            is_throttled: true,
            expiry_time_stamp: 5_000,
        });
        holder.apply(&ThrottleDecision {
            throttle_key: "k".into(),
            is_throttled: false,
            expiry_time_stamp: 5_000,
        });
        assert_eq!(holder.is_throttled("k", 0), None);
    }

    #[test]
    fn url_groups_without_loadbalance_fail_over() {
        let group = UrlGroup {
            traffic_manager_urls: vec!["tcp://a:9611".into(), "tcp://b:9611".into()],
            traffic_manager_auth_urls: vec![],
            kind: UrlGroupKind::Failover,
        };
        assert!(!PublishGroup::from(&group).load_balance);
        assert!(matches!(
            bases(&["ws://x".into()]),
            Err(ClientError::BadUrl(_))
        ));
    }
}
