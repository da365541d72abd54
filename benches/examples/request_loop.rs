//! N requests, one after another on one keep-alive connection, through the gateway's HTTP
//! passthrough listener (the whole chain: hyper server, route, cached JWT, subscription, key
//! type, throttle on Unlimited tiers, proxy; `gateway-cold`: a new token each request) or
//! straight to the backend: a fixed workload for
//! counting instructions per request with callgrind, which counts the same on a busy machine
//! as on an idle one.
//!
//! ```text
//! cargo build --release -p tollgate-benches --example request_loop
//! valgrind --tool=callgrind --callgrind-out-file=cg.%p target/release/examples/request_loop gateway 2000
//! ```
//!
//! `scripts/instructions-per-request.sh` runs it at two request counts and prints the difference
//! per request, so start-up cost drops out.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring tool

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tollgate_benches::fixtures;
use tollgate_gateway::{Gateway, Transport};
use tollgate_net::security::DEFAULT_CERT_PEM;
use tollgate_net::{HostMap, Outbound};
use tollgate_protocol::{ManualClock, SharedClock};

/// The nodes' allocator (`tollgate`, `tollgate-node`), so counts match what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod client {
    use bytes::Bytes;
    use http_body_util::Empty;
    use hyper::client::conn::http1::SendRequest;
    use std::net::SocketAddr;

    /// One HTTP/1.1 keep-alive connection, driven on this runtime.
    pub async fn connect(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let (sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(connection);
        sender
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "gateway".into());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let apis: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stop = CancellationToken::new();
        let backend = fixtures::spawn_backend(stop.clone()).await.unwrap();
        let (addr, path, auth) = match what.as_str() {
            "direct" => (backend, "/production/menu".to_owned(), Vec::<String>::new()),
            "gateway" | "gateway-cold" => {
                let outbound = Outbound::new(HostMap::new(), &[DEFAULT_CERT_PEM]).unwrap();
                let clock: SharedClock = Arc::new(ManualClock::new(fixtures::NOW_MILLIS));
                let gw = Gateway::new(fixtures::settings(), &outbound, clock);
                gw.apply_snapshot(&fixtures::snapshot(apis, backend));
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                tokio::spawn(tollgate_net::serve(
                    listener,
                    None,
                    gw.passthrough(Transport::Http),
                    Arc::new(ManualClock::new(fixtures::NOW_MILLIS)),
                    stop.clone(),
                ));
                // `gateway-cold`: a token never seen before on every request (signature checked).
                let distinct = if what == "gateway-cold" { n } else { 1 };
                let tokens = (0..distinct)
                    .map(|i| format!("Bearer {}", fixtures::token(&format!("loop-{i}")).unwrap()))
                    .collect();
                (addr, "/api0/1.0.0/menu".to_owned(), tokens)
            }
            other => panic!("request_loop: `{other}` is none of gateway, gateway-cold, direct"),
        };
        let mut sender = client::connect(addr).await;
        let started = tokio::time::Instant::now();
        for i in 0..n {
            let mut request = Request::get(path.as_str()).header(http::header::HOST, "localhost");
            if let Some(auth) = auth.get(i as usize % auth.len().max(1)) {
                request = request.header(http::header::AUTHORIZATION, auth.as_str());
            }
            let request = request.body(Empty::<Bytes>::new()).unwrap();
            sender.ready().await.unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap();
        }
        // Wall time is only a hint (the machine may be busy); instructions are the measure.
        let per_request = started.elapsed() / u32::try_from(n.max(1)).unwrap_or(u32::MAX);
        eprintln!("request_loop {what} ({apis} APIs): {per_request:?} per request (wall)");
        stop.cancel();
    });
    // The process's memory: with `gateway`, one gateway (its routing table, subscriptions and
    // pools for `apis` APIs), a mock backend and this client — no control plane beside it.
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status
            .lines()
            .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        {
            eprintln!("request_loop {what} ({apis} APIs): {line}");
        }
    }
}
