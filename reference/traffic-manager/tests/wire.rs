//! The TM and its gateway-side client over real loopback sockets. Nothing sleeps to wait:
//! every wait is on a status signal, bounded by a timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (house rule)

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tollgate_net::{DeadPort, HostMap, Outbound};
use tollgate_protocol::ManualClock;
use tollgate_protocol::throttle::{RequestEvent, defaults, key};
use tollgate_traffic_manager::{
    Backoff, DecisionFollower, EventPublisher, FollowerStatus, PublishGroup, PublisherSettings,
    PublisherStats, SEND_TIMEOUT, ServerSettings, TrafficManager,
};

/// 2026-11-26T12:00:00Z.
const NOON: i64 = 1_795_694_400_000;
const BOUND: Duration = Duration::from_secs(10);

struct RunningTm {
    tm: Arc<TrafficManager>,
    receiver: SocketAddr,
    decisions: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

async fn start_tm_on(clock: &ManualClock, receiver: &str, decisions: &str) -> RunningTm {
    let tm = TrafficManager::new(defaults(), Arc::new(clock.clone()));
    let r = TcpListener::bind(receiver).await.unwrap();
    let d = TcpListener::bind(decisions).await.unwrap();
    let (receiver, decisions) = (r.local_addr().unwrap(), d.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let task = {
        let tm = tm.clone();
        let shutdown = shutdown.clone();
        let settings = ServerSettings {
            heartbeat_interval: Duration::from_millis(200),
            ..ServerSettings::default()
        };
        tokio::spawn(async move { tm.serve_with(r, d, settings, shutdown).await })
    };
    RunningTm {
        tm,
        receiver,
        decisions,
        shutdown,
        task,
    }
}

async fn start_tm(clock: &ManualClock) -> RunningTm {
    start_tm_on(clock, "127.0.0.1:0", "127.0.0.1:0").await
}

impl RunningTm {
    async fn kill(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }
}

fn outbound() -> Outbound {
    Outbound::new(HostMap::new(), &[]).unwrap()
}

/// A gateway's event publisher to `groups`, with default settings, until `shutdown`.
fn publisher(groups: &[PublishGroup], shutdown: &CancellationToken) -> EventPublisher {
    EventPublisher::spawn(
        groups,
        &outbound(),
        PublisherSettings::default(),
        shutdown.clone(),
    )
    .unwrap()
}

fn tcp(addr: SocketAddr) -> String {
    format!("tcp://{addr}")
}

fn fast() -> Backoff {
    Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
    }
}

async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

async fn until_follower(
    status: &mut watch::Receiver<FollowerStatus>,
    what: &str,
    f: impl Fn(&FollowerStatus) -> bool,
) {
    bounded(what, status.wait_for(|s| f(s))).await.unwrap();
}

async fn until_stats(
    stats: &mut watch::Receiver<PublisherStats>,
    what: &str,
    f: impl Fn(&PublisherStats) -> bool,
) {
    bounded(what, stats.wait_for(|s| f(s))).await.unwrap();
}

fn app_event(app_key: &str) -> RequestEvent<'_> {
    RequestEvent {
        message_id: "m".into(),
        app_key: app_key.into(),
        app_tier: "10PerMin".into(),
        ..RequestEvent::default()
    }
}

#[tokio::test]
async fn two_gateways_share_one_quota_and_both_followers_hear_the_decision() {
    let clock = ManualClock::new(NOON);
    let tm = start_tm(&clock).await;
    let shutdown = CancellationToken::new();
    let group = vec![PublishGroup {
        urls: vec![tcp(tm.receiver)],
        load_balance: false,
    }];
    let gw1 = EventPublisher::spawn(
        &group,
        &outbound(),
        PublisherSettings::default(),
        shutdown.clone(),
    )
    .unwrap();
    let gw2 = EventPublisher::spawn(
        &group,
        &outbound(),
        PublisherSettings::default(),
        shutdown.clone(),
    )
    .unwrap();
    let f1 = DecisionFollower::spawn(&[tcp(tm.decisions)], &outbound(), fast(), shutdown.clone())
        .unwrap();
    let f2 = DecisionFollower::spawn(&[tcp(tm.decisions)], &outbound(), fast(), shutdown.clone())
        .unwrap();
    let (mut s1, mut s2) = (f1.status(), f2.status());
    until_follower(&mut s1, "follower 1 to connect", |s| s.connected.is_some()).await;
    until_follower(&mut s2, "follower 2 to connect", |s| s.connected.is_some()).await;

    let k = key::application("app-1", "admin", "carbon.super");
    for _ in 0..5 {
        assert!(gw1.try_publish(&app_event(&k)));
        assert!(gw2.try_publish(&app_event(&k)));
    }
    until_stats(&mut gw1.watch_stats(), "gateway 1's events", |s| {
        s.delivered == 5
    })
    .await;
    until_stats(&mut gw2.watch_stats(), "gateway 2's events", |s| {
        s.delivered == 5
    })
    .await;
    assert_eq!(tm.tm.used(&k), Some(10), "one count over both gateways");

    until_follower(&mut s1, "the decision at gateway 1", |s| s.decisions >= 1).await;
    until_follower(&mut s2, "the decision at gateway 2", |s| s.decisions >= 1).await;
    assert_eq!(f1.is_throttled(&k, NOON + 1), Some(NOON + 60_000));
    assert_eq!(f2.is_throttled(&k, NOON + 1), Some(NOON + 60_000));

    // The window ends: the TM's tick releases the key everywhere.
    clock.set_millis(NOON + 60_000);
    assert_eq!(tm.tm.tick(), 1);
    until_follower(&mut s1, "the release at gateway 1", |s| s.decisions >= 2).await;
    assert_eq!(f1.is_throttled(&k, NOON + 60_000), None);
    shutdown.cancel();
    tm.kill().await;
}

#[tokio::test]
async fn every_url_group_receives_every_event() {
    let clock = ManualClock::new(NOON);
    let (tm1, tm2) = (start_tm(&clock).await, start_tm(&clock).await);
    let shutdown = CancellationToken::new();
    let groups = vec![
        PublishGroup {
            urls: vec![tcp(tm1.receiver)],
            load_balance: false,
        },
        PublishGroup {
            urls: vec![tcp(tm2.receiver)],
            load_balance: false,
        },
    ];
    let gw = publisher(&groups, &shutdown);
    for _ in 0..3 {
        gw.try_publish(&app_event("k"));
    }
    until_stats(&mut gw.watch_stats(), "both groups", |s| s.delivered == 6).await;
    assert_eq!(tm1.tm.used("k"), Some(3));
    assert_eq!(tm2.tm.used("k"), Some(3));
    shutdown.cancel();
}

#[tokio::test]
async fn a_failover_group_moves_to_the_next_tm_when_the_first_is_down() {
    let clock = ManualClock::new(NOON);
    let dead = DeadPort::new().unwrap();
    let tm = start_tm(&clock).await;
    let shutdown = CancellationToken::new();
    let groups = vec![PublishGroup {
        urls: vec![tcp(dead.addr()), tcp(tm.receiver)],
        load_balance: false,
    }];
    let gw = publisher(&groups, &shutdown);
    gw.try_publish(&app_event("k"));
    until_stats(&mut gw.watch_stats(), "the event", |s| s.delivered == 1).await;
    assert_eq!(tm.tm.used("k"), Some(1));
    shutdown.cancel();
}

/// Found by the simulator: a cut that drops segments left the batch in flight unanswered, and
/// every later event of the group queued behind it for good.
#[tokio::test(start_paused = true)]
async fn a_tm_that_never_answers_holds_a_batch_for_the_send_timeout_not_for_ever() {
    let clock = ManualClock::new(NOON);
    // Bound, never accepting: the kernel completes the handshake and takes the request, and no
    // answer ever comes, as from a TM gone silent without closing.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tm = start_tm(&clock).await;
    let shutdown = CancellationToken::new();
    let groups = vec![PublishGroup {
        urls: vec![tcp(silent.local_addr().unwrap()), tcp(tm.receiver)],
        load_balance: false,
    }];
    let gw = publisher(&groups, &shutdown);
    let started = tokio::time::Instant::now();
    gw.try_publish(&app_event("k"));
    // Paused time: the wait costs no wall time, and outlasts the timeout.
    tokio::time::timeout(
        SEND_TIMEOUT * 2,
        gw.watch_stats().wait_for(|s| s.delivered == 1),
    )
    .await
    .expect("the batch is still waiting for the silent TM")
    .unwrap();
    assert!(started.elapsed() >= SEND_TIMEOUT, "{:?}", started.elapsed());
    assert_eq!(tm.tm.used("k"), Some(1));
    shutdown.cancel();
    tm.kill().await;
}

#[tokio::test]
async fn the_follower_keeps_its_decisions_while_the_tm_is_down_and_resumes_after_a_restart() {
    let clock = ManualClock::new(NOON);
    let tm = start_tm(&clock).await;
    let decisions_addr = tm.decisions;
    let shutdown = CancellationToken::new();
    let follower = DecisionFollower::spawn(
        &[tcp(decisions_addr)],
        &outbound(),
        fast(),
        shutdown.clone(),
    )
    .unwrap();
    let mut status = follower.status();
    until_follower(&mut status, "the first connection", |s| s.connections == 1).await;
    for _ in 0..10 {
        tm.tm.process(&app_event("k"));
    }
    until_follower(&mut status, "the decision", |s| s.decisions == 1).await;

    tm.kill().await;
    until_follower(&mut status, "the disconnect", |s| s.connected.is_none()).await;
    until_follower(&mut status, "a failed reconnect", |s| s.failures >= 1).await;
    assert_eq!(
        follower.is_throttled("k", NOON + 30_000),
        Some(NOON + 60_000),
        "fail-open on the last decision, until it expires"
    );
    assert_eq!(follower.is_throttled("other", NOON + 30_000), None);

    // A fresh TM on the same port: the follower reconnects and takes its (empty) state.
    let tm = start_tm_on(&clock, "127.0.0.1:0", &decisions_addr.to_string()).await;
    for _ in 0..10 {
        tm.tm.process(&app_event("j"));
    }
    until_follower(&mut status, "the reconnection", |s| s.connections == 2).await;
    assert_eq!(follower.is_throttled("j", NOON + 1), Some(NOON + 60_000));
    assert_eq!(
        follower.is_throttled("k", NOON + 1),
        None,
        "the new TM's snapshot rules"
    );
    shutdown.cancel();
    tm.kill().await;
}

#[tokio::test]
async fn the_follower_fails_over_to_the_next_decision_endpoint() {
    let clock = ManualClock::new(NOON);
    let dead = DeadPort::new().unwrap();
    let tm = start_tm(&clock).await;
    let shutdown = CancellationToken::new();
    let follower = DecisionFollower::spawn(
        &[tcp(dead.addr()), tcp(tm.decisions)],
        &outbound(),
        fast(),
        shutdown.clone(),
    )
    .unwrap();
    let mut status = follower.status();
    until_follower(&mut status, "a connection", |s| s.connected == Some(1)).await;
    shutdown.cancel();
    tm.kill().await;
}

#[tokio::test]
async fn the_publisher_drops_without_blocking_when_the_tm_is_down() {
    let dead = DeadPort::new().unwrap();
    let shutdown = CancellationToken::new();
    let gw = EventPublisher::spawn(
        &[PublishGroup {
            urls: vec![tcp(dead.addr())],
            load_balance: false,
        }],
        &outbound(),
        PublisherSettings {
            queue: 4,
            batch: 2,
            linger: Duration::ZERO,
        },
        shutdown.clone(),
    )
    .unwrap();
    // The current-thread runtime cannot run the sender while this loop runs: exactly the
    // queue's worth is accepted, the rest dropped on the spot.
    let accepted = (0..100).filter(|_| gw.try_publish(&app_event("k"))).count();
    assert_eq!(accepted, 4);
    assert_eq!(gw.stats().dropped_full, 96);
    until_stats(&mut gw.watch_stats(), "the queued events to fail", |s| {
        s.dropped_unreachable == 4
    })
    .await;
    assert_eq!(gw.stats().delivered, 0);
    shutdown.cancel();
}
