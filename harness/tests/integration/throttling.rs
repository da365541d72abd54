//! Issue 4's core path on the guide topology: a subscription quota created through the Admin
//! API is counted by the control plane's Traffic Manager for the sum of both gateways, its
//! overshoot under concurrent load is measured, its window ends with the injected clock, and
//! the gateways fail open on what they hold while the TM is down.

use crate::common::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tollgate_gateway::throttle::FollowerStatus;
use tollgate_harness::RunningTopology;
use tollgate_harness::client::Client;
use tollgate_node::TrafficManagerHandle;
use tollgate_protocol::ManualClock;

const PRODUCTION_GATEWAY: &str = "http://localhost:8281/pizzashack/1.0.0/menu";
const DEFAULT_GATEWAY: &str = "http://localhost:8282/pizzashack/1.0.0/menu";
const GATEWAYS: [&str; 2] = [PRODUCTION_GATEWAY, DEFAULT_GATEWAY];
const LIMIT: usize = 5;
const MINUTE: i64 = 60_000;
/// Bounds every wait on a signal: a healthy topology takes milliseconds.
const BOUNDED: Duration = Duration::from_secs(20);

fn tm(topology: &RunningTopology) -> &TrafficManagerHandle {
    topology
        .node("control-plane")
        .and_then(|n| n.handle().traffic_manager())
        .expect("the control plane runs a Traffic Manager")
}

fn followers(topology: &RunningTopology) -> Vec<tokio::sync::watch::Receiver<FollowerStatus>> {
    topology
        .gateways()
        .map(|(name, g)| {
            g.gateway()
                .throttle()
                .follower_status()
                .unwrap_or_else(|| panic!("{name} follows no TM"))
        })
        .collect()
}

/// Waits until every gateway's follower satisfies `ready`.
async fn await_followers(topology: &RunningTopology, ready: impl Fn(&FollowerStatus) -> bool) {
    for mut status in followers(topology) {
        let reached = tokio::time::timeout(BOUNDED, status.wait_for(&ready))
            .await
            .is_ok();
        assert!(reached, "follower never got there: {:?}", *status.borrow());
    }
}

/// Waits until the gateways' publishers have delivered `at_least` request events in all, so
/// that moving the clock cannot push an earlier window's events into the next one (the TM
/// counts an event in the window it arrives in, as Siddhi's timeBatch does).
async fn await_delivered(topology: &RunningTopology, at_least: u64) {
    let mut stats: Vec<_> = topology
        .gateways()
        .map(|(name, g)| {
            g.gateway()
                .throttle()
                .watch_publisher()
                .unwrap_or_else(|| panic!("{name} publishes no events"))
        })
        .collect();
    let settled = tokio::time::timeout(BOUNDED, async {
        loop {
            let delivered: u64 = stats.iter().map(|s| s.borrow().delivered).sum();
            if delivered >= at_least {
                return;
            }
            let changes = stats.iter_mut().map(|s| Box::pin(s.changed()));
            let (changed, _, _) = futures_util::future::select_all(changes).await;
            // A closed watch means a publisher is gone: it will never deliver more.
            changed.expect("a gateway's event publisher stopped");
        }
    })
    .await;
    assert!(
        settled.is_ok(),
        "the gateways never delivered {at_least} events"
    );
}

/// A token with the Admin API's throttling scopes.
async fn admin_token(client: &Client) -> String {
    let dcr = client
        .post(format!("{CP}/client-registration/v0.17/register"))
        .basic_auth("admin", "admin")
        .json(&json!({
            "callbackUrl": "www.google.lk",
            "clientName": "rest_api_admin",
            "owner": "admin",
            "grantType": "client_credentials password refresh_token",
            "saasApp": true
        }))
        .send()
        .await
        .unwrap();
    let dcr = expect(&dcr, 200);
    password_grant(
        client,
        dcr["clientId"].as_str().unwrap(),
        dcr["clientSecret"].as_str().unwrap(),
        Some("apim:admin apim:tier_manage apim:tier_view"),
    )
    .await
}

async fn status(client: &Client, url: &str, token: &str) -> (u16, String) {
    let response = call(client, url, token).await;
    let code = response
        .json()
        .ok()
        .and_then(|v: serde_json::Value| v["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (response.status.as_u16(), code)
}

/// `count` requests through each gateway at once; how many were served.
async fn burst(client: &Client, token: &str, count: usize) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        for url in GATEWAYS {
            let (client, token) = (client.clone(), token.to_owned());
            tasks.spawn(async move { status(&client, url, &token).await.0 });
        }
    }
    let mut served = 0;
    while let Some(status) = tasks.join_next().await {
        match status.unwrap() {
            200 => served += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    served
}

/// `workers` clients per gateway, each sending one request after another until refused (at
/// most 100 each); how many were served.
async fn sustained(client: &Client, token: &str, workers: usize) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        for url in GATEWAYS {
            let (client, token) = (client.clone(), token.to_owned());
            tasks.spawn(async move {
                let mut served = 0;
                for _ in 0..100 {
                    match status(&client, url, &token).await.0 {
                        200 => served += 1,
                        429 => break,
                        other => panic!("unexpected status {other}"),
                    }
                }
                served
            });
        }
    }
    let mut served = 0;
    while let Some(n) = tasks.join_next().await {
        served += n.unwrap();
    }
    served
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_quota_holds_for_the_sum_of_both_gateways_and_fails_open_without_a_tm() {
    let clock = ManualClock::new(START_MILLIS);
    let topology = tollgate_harness::boot_private(
        &topology("guide"),
        41,
        Arc::new(clock.clone()),
        BTreeSet::new(),
    )
    .await
    .unwrap();
    let client = topology.client();
    let session = Session::open(client.clone()).await;

    // A small subscription tier, through the Admin API.
    let admin = admin_token(&client).await;
    let created = client
        .post(format!(
            "{CP}/api/am/admin/v4/throttling/policies/subscription"
        ))
        .bearer(&admin)
        .json(&json!({
            "policyName": "FivePerMin",
            "displayName": "FivePerMin",
            "description": "Allows 5 requests per minute",
            "defaultLimit": {"type": "REQUESTCOUNTLIMIT",
                "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": LIMIT}},
            "stopOnQuotaReach": true
        }))
        .send()
        .await
        .unwrap();
    expect(&created, 201);

    // The guide's walk, subscribing with that tier.
    let api = session
        .post(
            "/api/am/publisher/v4/apis",
            json!({
                "name": "PizzaShackAPI",
                "context": "/pizzashack",
                "version": "1.0.0",
                "policies": ["FivePerMin"],
                "endpointConfig": {
                    "endpoint_type": "http",
                    "production_endpoints": {"url": PRODUCTION_BACKEND},
                    "sandbox_endpoints": {"url": SANDBOX_BACKEND}
                },
                "operations": [{"target": "/menu", "verb": "GET",
                    "authType": "Application & Application User", "throttlingPolicy": "Unlimited"}]
            }),
            201,
        )
        .await;
    let api_id = api["id"].as_str().unwrap().to_owned();
    session
        .deploy(&api_id, &["Production Gateway", "Default"])
        .await;
    session.publish(&api_id).await;
    let app = session
        .post(
            "/api/am/devportal/v3/applications",
            json!({"name": "QuotaApp", "throttlingPolicy": "Unlimited", "tokenType": "JWT"}),
            201,
        )
        .await;
    let app_id = app["applicationId"].as_str().unwrap().to_owned();
    session
        .post(
            "/api/am/devportal/v3/subscriptions",
            json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "FivePerMin"}),
            201,
        )
        .await;
    let token = session.key_token(&app_id, "PRODUCTION").await;
    topology.converge().await.unwrap();
    let seq = topology.control_plane().unwrap().event_seq();
    tokio::time::timeout(BOUNDED, tm(&topology).wait_for_seq(seq))
        .await
        .expect("the TM follows the control plane's policies");
    await_followers(&topology, |s| s.connected.is_some()).await;

    // 1. Sequential, alternating gateways: the quota is for the sum.
    for i in 0..LIMIT {
        let (code, body) = status(&client, GATEWAYS[i % 2], &token).await;
        assert_eq!(code, 200, "request {} ({body})", i + 1);
    }
    await_followers(&topology, |s| s.decisions >= 1).await;
    for url in GATEWAYS {
        assert_eq!(
            status(&client, url, &token).await,
            (429, "900804".to_owned())
        );
    }

    // 2. Past the window, traffic flows again (the gateways compare the expiry with the clock).
    clock.set_millis(START_MILLIS + MINUTE + 1);
    for url in GATEWAYS {
        assert_eq!(status(&client, url, &token).await.0, 200);
    }

    // 3. Overshoot under concurrent load, in a fresh window: 2 × N at once, limit 5.
    // Every request served so far (LIMIT + one per gateway) has published one event.
    let mut published = (LIMIT + GATEWAYS.len()) as u64;
    await_delivered(&topology, published).await;
    clock.set_millis(START_MILLIS + 2 * MINUTE + 1);
    tm(&topology).tick();
    const N: usize = 100;
    let before: Vec<u64> = followers(&topology)
        .iter()
        .map(|s| s.borrow().decisions)
        .collect();
    let served = burst(&client, &token, N).await;
    println!(
        "throttling overshoot: {served} of {} concurrent requests served through 2 gateways \
         with a limit of {LIMIT} (overshoot {})",
        2 * N,
        served.saturating_sub(LIMIT)
    );
    assert!(served >= LIMIT, "the quota itself is served ({served})");
    // Once the decision is in, both refuse.
    for (mut status, before) in followers(&topology).into_iter().zip(before) {
        tokio::time::timeout(BOUNDED, status.wait_for(|s| s.decisions > before))
            .await
            .expect("the window's decision reaches every gateway")
            .unwrap();
    }
    for url in GATEWAYS {
        assert_eq!(status(&client, url, &token).await.0, 429);
    }
    // And under sustained load (4 sequential clients per gateway, each until refused).
    published += served as u64;
    await_delivered(&topology, published).await;
    clock.set_millis(START_MILLIS + 3 * MINUTE + 1);
    tm(&topology).tick();
    let served = sustained(&client, &token, 4).await;
    println!(
        "throttling overshoot: {served} served to 8 sequential clients through 2 gateways with \
         a limit of {LIMIT} (overshoot {})",
        served.saturating_sub(LIMIT)
    );
    assert!(served >= LIMIT, "the quota itself is served ({served})");

    // 4. TM down: gateways keep the decisions they hold, and fail open past their expiry.
    let tm_handle = tm(&topology);
    tm_handle.stop();
    await_followers(&topology, |s| s.connected.is_none()).await;
    for url in GATEWAYS {
        assert_eq!(status(&client, url, &token).await.0, 429, "held decision");
    }
    clock.set_millis(START_MILLIS + 4 * MINUTE + 1);
    for i in 0..(2 * LIMIT) {
        assert_eq!(
            status(&client, GATEWAYS[i % 2], &token).await.0,
            200,
            "fail-open: no TM counts"
        );
    }

    // 5. TM back: the followers reconnect, the events held meanwhile are counted, and the
    // quota is enforced again.
    let connections: Vec<u64> = followers(&topology)
        .iter()
        .map(|s| s.borrow().connections)
        .collect();
    tm_handle.restart();
    for (mut status, before) in followers(&topology).into_iter().zip(connections) {
        tokio::time::timeout(BOUNDED, status.wait_for(|s| s.connections > before))
            .await
            .expect("the follower reconnects")
            .unwrap();
    }
    let key = format!("{app_id}:/pizzashack/1.0.0:1.0.0:FivePerMin");
    let mut refused = false;
    // Bounded: each request is one more event towards the decision.
    for i in 0..50 {
        if status(&client, GATEWAYS[i % 2], &token).await.0 == 429 {
            refused = true;
            break;
        }
    }
    assert!(
        refused,
        "the quota is enforced again (TM counted {:?})",
        tm_handle.traffic_manager().used(&key)
    );
    topology.shutdown().await;
}

const ALL_IN_ONE: &str = r#"
[server]
hostname = "localhost"
server_role = "default"

[[apim.gateway.environment]]
name = "Default"
type = "hybrid"
http_endpoint = "http://localhost:${http.nio.port}"
https_endpoint = "https://localhost:${https.nio.port}"
"#;

const ALL_IN_ONE_TOPOLOGY: &str = r#"
name = "all-in-one-throttling"

[[instance]]
name = "all-in-one"

[hosts]
"localhost" = "*"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_in_one_gateway_follows_the_traffic_manager_of_its_own_node() {
    let dir = std::env::temp_dir().join(format!(
        "tollgate-all-in-one-throttling-{}-{}",
        std::process::id(),
        tollgate_harness::address::private_address()
    ));
    std::fs::create_dir_all(dir.join("all-in-one")).unwrap();
    std::fs::write(dir.join("topology.toml"), ALL_IN_ONE_TOPOLOGY).unwrap();
    std::fs::write(dir.join("all-in-one/deployment.toml"), ALL_IN_ONE).unwrap();
    let topology = tollgate_harness::Topology::load(&dir).unwrap();
    let running = tollgate_harness::boot_private(&topology, 9, clock(), BTreeSet::new())
        .await
        .unwrap();
    let node = running.node("all-in-one").unwrap();
    // `[apim.throttling]` defaults name `node_ip` (127.0.0.1); the node points them at the
    // listeners it was given.
    let receiver = node
        .endpoint(tollgate_node::PortRole::TmBinary)
        .unwrap()
        .addr;
    let throttle = &node
        .handle()
        .gateway()
        .unwrap()
        .gateway()
        .settings()
        .throttle;
    assert_eq!(
        throttle.publish_groups[0].urls,
        [format!("tcp://{receiver}")]
    );
    await_followers(&running, |s| s.connected.is_some()).await;
    running.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}
