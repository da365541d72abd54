//! The load balancer against loopback hyper backends.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tollgate_load_balancer::{
    EjectionConfig, HealthCheckConfig, ListenerConfig, LoadBalancerConfig, LoadBalancerHandle,
    NodeConfig, NodeHealth, PoolConfig, Probe, start,
};
use tollgate_net::fault::FaultPlane;
use tollgate_net::security::DEFAULT_CERT_PEM;
use tollgate_net::{HostMap, HttpClient, Outbound, serve};

const BOUND: Duration = Duration::from_secs(5);

/// A mock node: answers JSON naming itself and echoing what the proxy sent; `/health` follows
/// `healthy`; `/hang` reports on `hung` and never answers.
struct Backend {
    name: &'static str,
    addr: SocketAddr,
    healthy: Arc<AtomicBool>,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Backend {
    async fn start(name: &'static str, hung: mpsc::UnboundedSender<&'static str>) -> Self {
        Self::start_on(name, hung, None).await
    }

    async fn start_on(
        name: &'static str,
        hung: mpsc::UnboundedSender<&'static str>,
        plane: Option<&FaultPlane>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let healthy = Arc::new(AtomicBool::new(true));
        let flag = healthy.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let flag = flag.clone();
            let hung = hung.clone();
            async move {
                if req.uri().path() == "/health" {
                    let status = if flag.load(Ordering::SeqCst) {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    let mut response = Response::new(Full::new(Bytes::new()));
                    *response.status_mut() = status;
                    return Ok::<_, Infallible>(response);
                }
                if req.uri().path() == "/hang" {
                    let _ = hung.send(name);
                    std::future::pending::<()>().await;
                }
                let header = |n: &str| {
                    req.headers()
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let answer = json!({
                    "node": name,
                    "method": req.method().as_str(),
                    "path": req.uri().path(),
                    "host": header("host"),
                    "x-forwarded-for": header("x-forwarded-for"),
                    "x-forwarded-proto": header("x-forwarded-proto"),
                    "x-forwarded-host": header("x-forwarded-host"),
                    "x-drop-me": header("x-drop-me"),
                    "transfer-encoding": header("transfer-encoding"),
                    "content-length": header("content-length"),
                    "body": String::from_utf8_lossy(&req.into_body().collect().await.unwrap().to_bytes()),
                });
                let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
                // A header named by the node's `Connection` is for the balancer's hop only.
                response
                    .headers_mut()
                    .insert("connection", "x-node-hop".parse().unwrap());
                response
                    .headers_mut()
                    .insert("x-node-hop", "1".parse().unwrap());
                Ok(response)
            }
        });
        let shutdown = CancellationToken::new();
        let server = match plane {
            Some(plane) => tokio::spawn(serve(
                plane.listener(listener, name).unwrap(),
                None,
                service,
                clock(),
                shutdown.clone(),
            )),
            None => tokio::spawn(serve(listener, None, service, clock(), shutdown.clone())),
        };
        Self {
            name,
            addr,
            healthy,
            shutdown,
            server: Some(server),
        }
    }

    /// The node dies: listener closed, open connections dropped.
    async fn kill(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }

    fn node(&self) -> NodeConfig {
        NodeConfig {
            name: self.name.into(),
            url: format!("http://{}", self.addr),
            health_url: None,
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn pool(backends: &[&Backend]) -> PoolConfig {
    PoolConfig {
        name: "gateways".into(),
        nodes: backends.iter().map(|b| b.node()).collect(),
        health_check: None,
        ejection: EjectionConfig {
            duration_ms: 60_000,
        },
        retries: 1,
        request_timeout_ms: 10_000,
        retry_body_limit: 1 << 20,
    }
}

/// The clock every server of these tests dates its answers by.
fn clock() -> tollgate_protocol::SharedClock {
    Arc::new(tollgate_protocol::ManualClock::new(0))
}

fn outbound() -> Outbound {
    Outbound::new(HostMap::new(), &[DEFAULT_CERT_PEM]).unwrap()
}

struct Lb {
    handle: LoadBalancerHandle,
    http: SocketAddr,
    https: SocketAddr,
    client: HttpClient<Full<Bytes>>,
}

async fn balance(pool: PoolConfig, outbound: Outbound) -> Lb {
    let config = LoadBalancerConfig {
        listeners: vec![
            ListenerConfig {
                name: "http".into(),
                pool: pool.name.clone(),
                tls: false,
            },
            ListenerConfig {
                name: "https".into(),
                pool: pool.name.clone(),
                tls: true,
            },
        ],
        pools: vec![pool],
    };
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (http_addr, https_addr) = (http.local_addr().unwrap(), https.local_addr().unwrap());
    let listeners = BTreeMap::from([("http".to_owned(), http), ("https".to_owned(), https)]);
    let handle = start(
        config,
        listeners,
        outbound,
        clock(),
        CancellationToken::new(),
    )
    .unwrap();
    Lb {
        handle,
        http: http_addr,
        https: https_addr,
        client: self::outbound().client(),
    }
}

impl Lb {
    async fn call(&self, method: Method, path: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.http))
            .body(Full::new(Bytes::from_static(b"payload")))
            .unwrap();
        self.send(request).await
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> (StatusCode, Value) {
        let response = tokio::time::timeout(BOUND, self.client.request(request))
            .await
            .unwrap()
            .unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }

    async fn get(&self) -> (StatusCode, Value) {
        self.call(Method::GET, "/pizzashack/1.0.0/menu").await
    }
}

async fn wait_for(handle: &LoadBalancerHandle, node: &str, health: NodeHealth) {
    let mut rx = handle.health("gateways", node).unwrap();
    tokio::time::timeout(BOUND, rx.wait_for(|h| *h == health))
        .await
        .unwrap_or_else(|_| panic!("{node} never became {health:?}"))
        .unwrap();
}

#[tokio::test]
async fn round_robin_alternates_between_healthy_nodes() {
    let (hung, _) = mpsc::unbounded_channel();
    let (a, b) = (
        Backend::start("gw-1", hung.clone()).await,
        Backend::start("gw-2", hung).await,
    );
    let lb = balance(pool(&[&a, &b]), outbound()).await;
    let mut served = Vec::new();
    for _ in 0..4 {
        let (status, body) = lb.get().await;
        assert_eq!(status, StatusCode::OK);
        served.push(body["node"].as_str().unwrap().to_owned());
    }
    assert_eq!(served, ["gw-1", "gw-2", "gw-1", "gw-2"]);
    let stats = lb.handle.stats();
    assert_eq!(stats.node("gateways", "gw-1").unwrap().requests, 2);
    assert_eq!(stats.node("gateways", "gw-2").unwrap().requests, 2);
}

#[tokio::test]
async fn idempotent_requests_to_a_killed_node_succeed_on_the_other_and_the_node_is_ejected() {
    let (hung, _) = mpsc::unbounded_channel();
    let a = Backend::start("gw-1", hung.clone()).await;
    let mut b = Backend::start("gw-2", hung).await;
    let lb = balance(pool(&[&a, &b]), outbound()).await;
    assert_eq!(lb.get().await.1["node"], "gw-1");
    b.kill().await;

    for method in [
        Method::GET,
        Method::PUT,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ] {
        let request = Request::builder()
            .method(method.clone())
            .uri(format!("http://{}/pizzashack/1.0.0/order/1", lb.http))
            .body(Full::new(Bytes::from_static(b"{\"qty\":2}")))
            .unwrap();
        let response = tokio::time::timeout(BOUND, lb.client.request(request))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        if method != Method::HEAD {
            let body: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["node"], "gw-1", "{method}");
            if method == Method::PUT {
                // The buffered body went to the second node intact.
                assert_eq!(body["body"], "{\"qty\":2}");
            }
        }
    }
    wait_for(&lb.handle, "gw-2", NodeHealth::Ejected).await;
    let stats = lb.handle.stats();
    let dead = stats.node("gateways", "gw-2").unwrap();
    assert_eq!((dead.requests, dead.failures, dead.ejections), (1, 1, 1));
    assert_eq!(stats.totals.retried, 1);
    assert_eq!(stats.totals.failed_non_idempotent, 0);
}

#[tokio::test]
async fn a_post_in_flight_on_a_node_that_dies_gets_502_and_is_counted_not_retried() {
    let (hung, mut hung_on) = mpsc::unbounded_channel();
    let mut backends = [
        Backend::start("gw-1", hung.clone()).await,
        Backend::start("gw-2", hung).await,
    ];
    let lb = Arc::new(balance(pool(&[&backends[0], &backends[1]]), outbound()).await);
    let post = tokio::spawn({
        let lb = lb.clone();
        async move { lb.call(Method::POST, "/hang").await }
    });
    let victim = tokio::time::timeout(BOUND, hung_on.recv())
        .await
        .unwrap()
        .unwrap();
    let other = if victim == "gw-1" { "gw-2" } else { "gw-1" };
    for backend in &mut backends {
        if backend.name == victim {
            backend.kill().await;
        }
    }
    let (status, body) = tokio::time::timeout(BOUND, post).await.unwrap().unwrap();
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "upstream_failed");
    assert!(
        body["message"].as_str().unwrap().contains("not idempotent"),
        "{body}"
    );
    let stats = lb.handle.stats();
    assert_eq!(stats.totals.failed_non_idempotent, 1);
    assert_eq!(stats.totals.retried, 0);
    assert_eq!(stats.node("gateways", other).unwrap().requests, 0);
    assert_eq!(stats.node("gateways", victim).unwrap().failures, 1);
    // Nothing reached the other node while the POST failed.
    assert!(hung_on.try_recv().is_err());
}

#[tokio::test]
async fn active_health_checks_take_a_node_out_and_bring_it_back() {
    let (hung, _) = mpsc::unbounded_channel();
    let (a, b) = (
        Backend::start("gw-1", hung.clone()).await,
        Backend::start("gw-2", hung).await,
    );
    let mut config = pool(&[&a, &b]);
    config.health_check = Some(HealthCheckConfig {
        probe: Probe::Http {
            path: "/health".into(),
        },
        interval_ms: 20,
        timeout_ms: 1_000,
        unhealthy_threshold: 2,
        healthy_threshold: 2,
    });
    let lb = balance(config, outbound()).await;

    b.healthy.store(false, Ordering::SeqCst);
    wait_for(&lb.handle, "gw-2", NodeHealth::Unhealthy).await;
    for _ in 0..3 {
        assert_eq!(lb.get().await.1["node"], "gw-1");
    }
    b.healthy.store(true, Ordering::SeqCst);
    wait_for(&lb.handle, "gw-2", NodeHealth::Healthy).await;
    let served: Vec<Value> = [lb.get().await.1, lb.get().await.1]
        .into_iter()
        .map(|b| b["node"].clone())
        .collect();
    assert!(served.contains(&json!("gw-2")), "{served:?}");
    assert_eq!(lb.handle.stats().totals.retried, 0);
}

#[tokio::test]
async fn tcp_health_checks_mark_a_dead_node_unhealthy() {
    let (hung, _) = mpsc::unbounded_channel();
    let a = Backend::start("gw-1", hung.clone()).await;
    let mut b = Backend::start("gw-2", hung).await;
    let mut config = pool(&[&a, &b]);
    config.health_check = Some(HealthCheckConfig {
        probe: Probe::Tcp,
        interval_ms: 20,
        timeout_ms: 1_000,
        unhealthy_threshold: 1,
        healthy_threshold: 1,
    });
    let lb = balance(config, outbound()).await;
    b.kill().await;
    wait_for(&lb.handle, "gw-2", NodeHealth::Unhealthy).await;
    assert_eq!(
        lb.handle.stats().node("gateways", "gw-2").unwrap().requests,
        0
    );
}

#[tokio::test]
async fn passive_ejection_ends_after_its_period() {
    let (hung, _) = mpsc::unbounded_channel();
    let a = Backend::start("gw-1", hung.clone()).await;
    let mut b = Backend::start("gw-2", hung).await;
    let mut config = pool(&[&b, &a]);
    config.ejection.duration_ms = 100;
    let lb = balance(config, outbound()).await;
    b.kill().await;
    let mut health = lb.handle.health("gateways", "gw-2").unwrap();
    assert_eq!(lb.get().await.1["node"], "gw-1");
    tokio::time::timeout(BOUND, health.wait_for(|h| *h == NodeHealth::Ejected))
        .await
        .unwrap()
        .unwrap();
    // While ejected, gw-2 gets nothing: no retries needed.
    assert_eq!(lb.get().await.1["node"], "gw-1");
    assert_eq!(lb.handle.stats().totals.retried, 1);
    tokio::time::timeout(BOUND, health.wait_for(|h| *h == NodeHealth::Healthy))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn no_healthy_node_answers_503_with_a_json_body() {
    let (hung, _) = mpsc::unbounded_channel();
    let mut a = Backend::start("gw-1", hung.clone()).await;
    let mut b = Backend::start("gw-2", hung).await;
    let lb = balance(pool(&[&a, &b]), outbound()).await;
    a.kill().await;
    b.kill().await;
    let (status, body) = lb.get().await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["attempts"].as_array().unwrap().len(), 2);
    let (status, body) = lb.get().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({
            "error": "no_healthy_upstream",
            "pool": "gateways",
            "message": "no healthy node in pool `gateways`",
        })
    );
    let totals = lb.handle.stats().totals;
    assert_eq!((totals.exhausted, totals.no_healthy_node), (1, 1));
}

#[tokio::test]
async fn forwarded_headers_are_set_and_host_is_kept() {
    let (hung, _) = mpsc::unbounded_channel();
    let a = Backend::start("gw-1", hung).await;
    let lb = balance(pool(&[&a]), outbound()).await;
    let request = Request::get(format!("http://{}/menu?x=1", lb.http))
        .header("host", "gw.wso2.com")
        .header("x-forwarded-for", "10.0.0.7")
        .header("connection", "keep-alive, x-drop-me")
        .header("x-drop-me", "1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, body) = lb.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["host"], "gw.wso2.com");
    assert_eq!(body["x-forwarded-host"], "gw.wso2.com");
    assert_eq!(body["x-forwarded-for"], "10.0.0.7, 127.0.0.1");
    assert_eq!(body["x-forwarded-proto"], "http");

    // Over the HTTPS listener (built-in wso2carbon certificate).
    let request = Request::get(format!("https://localhost:{}/menu", lb.https.port()))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, body) = lb.send(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["x-forwarded-proto"], "https");
    assert_eq!(body["x-forwarded-for"], "127.0.0.1");
    assert_eq!(body["host"], format!("localhost:{}", lb.https.port()));
}

#[tokio::test]
async fn hop_by_hop_headers_stop_at_the_balancer_both_ways() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (hung, _) = mpsc::unbounded_channel();
    let a = Backend::start("gw-1", hung).await;
    let lb = balance(pool(&[&a]), outbound()).await;
    // Raw, so the request really arrives chunked with its own `Transfer-Encoding`: a PUT is
    // buffered for retry, and must reach the node re-framed with a Content-Length, not with the
    // client's framing header beside it.
    let mut stream = tokio::net::TcpStream::connect(lb.http).await.unwrap();
    stream
        .write_all(
            b"PUT /menu HTTP/1.1\r\nHost: gw.wso2.com\r\nConnection: close, X-Drop-Me\r\n\
              X-Drop-Me: 1\r\nTransfer-Encoding: chunked\r\n\r\n7\r\npayload\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("http/1.1 200"), "{answer}");
    assert!(!head.contains("x-node-hop"), "{head}");
    assert!(body.contains(r#""body":"payload""#), "{body}");
    assert!(body.contains(r#""x-drop-me":null"#), "{body}");
    assert!(body.contains(r#""transfer-encoding":null"#), "{body}");
    assert!(body.contains(r#""content-length":"7""#), "{body}");
}

#[tokio::test]
async fn a_partition_between_the_balancer_and_a_node_is_routed_around() {
    let plane = FaultPlane::new();
    let (hung, _) = mpsc::unbounded_channel();
    let a = Backend::start_on("gw-1", hung.clone(), Some(&plane)).await;
    let b = Backend::start_on("gw-2", hung, Some(&plane)).await;
    let lb = balance(
        pool(&[&a, &b]),
        outbound().with_faults(plane.clone(), "load-balancer"),
    )
    .await;
    assert_eq!(lb.get().await.1["node"], "gw-1");
    assert_eq!(lb.get().await.1["node"], "gw-2");
    plane.partition("load-balancer", "gw-1");
    for _ in 0..3 {
        let (status, body) = lb.get().await;
        assert_eq!(
            (status, body["node"].as_str()),
            (StatusCode::OK, Some("gw-2"))
        );
    }
    wait_for(&lb.handle, "gw-1", NodeHealth::Ejected).await;
}

#[test]
fn config_reads_from_toml_with_defaults() {
    let config: LoadBalancerConfig = toml::from_str(
        r#"
        [[listener]]
        name = "http"
        pool = "gateways-http"

        [[pool]]
        name = "gateways-http"
        [[pool.node]]
        name = "gateway-1"
        url = "http://gw1.wso2.com:8281"
        health_url = "https://gw1.wso2.com:9444/api/am/gateway/v2/server-startup-healthcheck"
        [[pool.node]]
        name = "gateway-2"
        url = "http://gw2.wso2.com:8282"
        [pool.health_check]
        probe = { kind = "http", path = "/api/am/gateway/v2/server-startup-healthcheck" }
        "#,
    )
    .unwrap();
    let pool = &config.pools[0];
    assert!(!config.listeners[0].tls);
    assert_eq!((pool.retries, pool.ejection.duration_ms), (1, 10_000));
    let check = pool.health_check.as_ref().unwrap();
    assert_eq!(
        (
            check.interval_ms,
            check.unhealthy_threshold,
            check.healthy_threshold
        ),
        (1_000, 3, 2)
    );
    let error =
        toml::from_str::<LoadBalancerConfig>("[[pool]]\nname = \"p\"\nnodes = []\n").unwrap_err();
    assert!(error.to_string().contains("nodes"), "{error}");
}

#[tokio::test]
async fn a_listener_naming_an_unknown_pool_is_refused() {
    let config = LoadBalancerConfig {
        listeners: vec![ListenerConfig {
            name: "http".into(),
            pool: "nowhere".into(),
            tls: false,
        }],
        pools: vec![],
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = start(
        config,
        BTreeMap::from([("http".to_owned(), listener)]),
        outbound(),
        clock(),
        CancellationToken::new(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "listener `http` forwards to pool `nowhere`, which is not configured"
    );
}

#[tokio::test]
async fn a_paused_node_fails_its_health_checks_and_traffic_moves_to_the_other() {
    let plane = FaultPlane::new();
    let (hung, _) = mpsc::unbounded_channel();
    let a = Backend::start_on("gw-1", hung.clone(), Some(&plane)).await;
    let b = Backend::start_on("gw-2", hung, Some(&plane)).await;
    let mut config = pool(&[&a, &b]);
    config.health_check = Some(HealthCheckConfig {
        probe: Probe::Http {
            path: "/health".into(),
        },
        interval_ms: 20,
        timeout_ms: 100,
        unhealthy_threshold: 1,
        healthy_threshold: 1,
    });
    let lb = balance(
        config,
        outbound().with_faults(plane.clone(), "load-balancer"),
    )
    .await;
    plane.pause("gw-1");
    wait_for(&lb.handle, "gw-1", NodeHealth::Unhealthy).await;
    for _ in 0..3 {
        assert_eq!(lb.get().await.1["node"], "gw-2");
    }
    plane.resume("gw-1");
    wait_for(&lb.handle, "gw-1", NodeHealth::Healthy).await;
}
