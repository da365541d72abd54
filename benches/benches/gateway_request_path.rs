//! The gateway's hot path (README.md, "Benchmarks"), phase by phase and whole, with a direct-to-backend
//! baseline measured in the same run.
//!
//! Runtime: a current-thread tokio runtime drives the client side, the gateway and the
//! loopback backend alike, so "through gateway" vs "direct" compares the CPU each request
//! costs on one core (the 2-core machine's other core stays free for the OS and noise).
#![allow(clippy::unwrap_used, clippy::expect_used)] // bench setup

use bytes::Bytes;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use http::{Method, Request};
use http_body_util::{BodyExt, Empty, Full};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tollgate_benches::fixtures;
use tollgate_gateway::authenticate::{JwtVerifier, TokenCache, verify_cached};
use tollgate_gateway::{Gateway, Transport};
use tollgate_net::security::{DEFAULT_CERT_PEM, DEFAULT_PUBLIC_KEY_PEM};
use tollgate_net::{HostMap, Outbound};
use tollgate_protocol::{ManualClock, SharedClock};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn gateway(
    rt: &tokio::runtime::Runtime,
    apis: usize,
) -> (Arc<Gateway>, std::net::SocketAddr, CancellationToken) {
    let stop = CancellationToken::new();
    let backend = rt.block_on(fixtures::spawn_backend(stop.clone())).unwrap();
    let outbound = Outbound::new(HostMap::new(), &[DEFAULT_CERT_PEM]).unwrap();
    let clock: SharedClock = Arc::new(ManualClock::new(fixtures::NOW_MILLIS));
    let gw = rt.block_on(async { Gateway::new(fixtures::settings(), &outbound, clock) });
    gw.apply_snapshot(&fixtures::snapshot(apis, backend));
    (gw, backend, stop)
}

fn route_lookup(c: &mut Criterion) {
    let rt = runtime();
    let (gw, _, stop) = gateway(&rt, 50);
    let routes = gw.routes();
    let mut group = c.benchmark_group("route");
    group.bench_function("lookup_template_of_50_apis", |b| {
        b.iter(|| {
            let selected = routes
                .select(
                    &Method::GET,
                    black_box("/api37/1.0.0/order/42?verbose=true"),
                    Transport::Https,
                    None,
                )
                .unwrap();
            black_box(selected.resource.template.len())
        })
    });
    group.finish();
    stop.cancel();
}

fn jwt(c: &mut Criterion) {
    let verifier = JwtVerifier::new(&[tollgate_gateway::authenticate::TrustedKey::new(
        tollgate_net::security::DEFAULT_KEY_ALIAS,
        DEFAULT_PUBLIC_KEY_PEM,
    )]);
    let clock = ManualClock::new(fixtures::NOW_MILLIS);
    let token = fixtures::token("bench-jti").unwrap();
    let mut group = c.benchmark_group("jwt");
    group.bench_function("verify_rs256_miss", |b| {
        b.iter(|| black_box(verifier.verify(black_box(&token)).unwrap()))
    });
    let cache = TokenCache::new(TokenCache::DEFAULT_CAPACITY);
    verify_cached(token.as_bytes(), &verifier, &cache, &clock).unwrap();
    group.bench_function("verify_cache_hit", |b| {
        b.iter(|| {
            black_box(
                verify_cached(black_box(token.as_bytes()), &verifier, &cache, &clock).unwrap(),
            )
        })
    });
    group.finish();
}

fn whole_request(c: &mut Criterion) {
    let rt = runtime();
    let (gw, backend, stop) = gateway(&rt, 50);
    let token = format!("Bearer {}", fixtures::token("bench-jti").unwrap());
    let outbound = Outbound::new(HostMap::new(), &[DEFAULT_CERT_PEM]).unwrap();
    let direct = rt.block_on(async { outbound.client::<Empty<Bytes>>() });
    let direct_uri: http::Uri = format!("http://{backend}/production/order/42")
        .parse()
        .unwrap();

    let mut group = c.benchmark_group("request");
    group.bench_function("direct_to_backend", |b| {
        b.to_async(&rt).iter(|| async {
            let response = direct.get(direct_uri.clone()).await.unwrap();
            black_box(response.into_body().collect().await.unwrap().to_bytes())
        })
    });
    group.bench_function("through_gateway", |b| {
        b.to_async(&rt).iter(|| async {
            let request = Request::get("/api37/1.0.0/order/42")
                .header(http::header::AUTHORIZATION, token.as_str())
                .body(Full::new(Bytes::new()))
                .unwrap();
            let response = gw.handle(request, Transport::Https).await;
            assert_eq!(response.status(), 200);
            black_box(response.into_body().collect().await.unwrap().to_bytes())
        })
    });
    group.finish();
    stop.cancel();
}

/// The same request with counted tiers: subscription `Gold`, application `10PerMin`, so the
/// throttle phase builds every key, looks each up in the held decisions, and publishes one
/// event per request to a Traffic Manager on loopback (served on the same thread, so its
/// receiving cost is in the figure too). The TM holds no policy, so nothing gets throttled
/// however many iterations run.
fn whole_request_counted(c: &mut Criterion) {
    counted(c, "through_gateway_counted", std::time::Duration::ZERO);
    // Events of one-after-another requests gathered for 1 ms before each send.
    counted(
        c,
        "through_gateway_counted_linger_1ms",
        std::time::Duration::from_millis(1),
    );
}

fn counted(c: &mut Criterion, name: &str, linger: std::time::Duration) {
    use tollgate_protocol::event::{Event, EventEnvelope};
    use tollgate_protocol::store::{Application, Subscription, SubscriptionStatus};
    use tollgate_traffic_manager::{
        EventPublisher, PublishGroup, PublisherSettings, ThrottleDataHolder, TrafficManager,
    };
    let rt = runtime();
    let (gw, _, stop) = gateway(&rt, 50);
    let envelope = |seq, event| EventEnvelope {
        seq,
        time_stamp: fixtures::NOW_MILLIS,
        tenant_domain: "carbon.super".into(),
        event,
    };
    gw.apply_event(&envelope(
        2,
        Event::SubscriptionsUpdate {
            subscription: Subscription {
                id: "sub-37".into(),
                api_id: "api-37".into(),
                application_id: "app".into(),
                throttling_policy: "Gold".into(),
                status: SubscriptionStatus::Unblocked,
            },
        },
    ));
    gw.apply_event(&envelope(
        3,
        Event::ApplicationUpdate {
            application: Application {
                id: "app".into(),
                name: "BenchApp".into(),
                owner: "admin".into(),
                throttling_policy: "10PerMin".into(),
                token_type: "JWT".into(),
            },
        },
    ));
    // The TM on its own thread and runtime, as it would be on its own node: the figure is
    // the gateway's cost (keys, lookups, serialising and sending events), not the TM's.
    let clock: SharedClock = Arc::new(ManualClock::new(fixtures::NOW_MILLIS));
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let tm_stop = stop.clone();
    std::thread::spawn(move || {
        let tm_rt = runtime();
        tm_rt.block_on(async move {
            let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let decisions = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            url_tx
                .send(format!("tcp://{}", receiver.local_addr().unwrap()))
                .unwrap();
            TrafficManager::new(Vec::new(), clock)
                .serve(receiver, decisions, tm_stop)
                .await
        })
    });
    let receiver_url = url_rx.recv().unwrap();
    let outbound = Outbound::new(HostMap::new(), &[DEFAULT_CERT_PEM]).unwrap();
    let publisher = rt
        .block_on(async {
            EventPublisher::spawn(
                &[PublishGroup {
                    urls: vec![receiver_url],
                    load_balance: false,
                }],
                &outbound,
                PublisherSettings {
                    linger,
                    ..PublisherSettings::default()
                },
                stop.clone(),
            )
        })
        .unwrap();
    gw.throttle()
        .attach_decisions(Arc::new(ThrottleDataHolder::new()));
    gw.throttle().attach_publisher(publisher);
    let token = format!("Bearer {}", fixtures::token("bench-jti").unwrap());

    let mut group = c.benchmark_group("request");
    group.bench_function(name, |b| {
        b.to_async(&rt).iter(|| async {
            let request = Request::get("/api37/1.0.0/order/42")
                .header(http::header::AUTHORIZATION, token.as_str())
                .body(Full::new(Bytes::new()))
                .unwrap();
            let response = gw.handle(request, Transport::Https).await;
            assert_eq!(response.status(), 200);
            black_box(response.into_body().collect().await.unwrap().to_bytes())
        })
    });
    group.finish();
    let delivered = gw.throttle().publisher_stats().unwrap();
    println!("{name}: {delivered:?}");
    stop.cancel();
}

criterion_group!(
    benches,
    route_lookup,
    jwt,
    whole_request,
    whole_request_counted
);
criterion_main!(benches);
