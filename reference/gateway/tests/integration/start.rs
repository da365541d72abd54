//! `start()` on real loopback sockets: the passthrough listeners (HTTP and HTTPS) and the
//! management HTTPS listener, with the control plane unreachable (the node serves what it has
//! and keeps retrying in the background).

use crate::common::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tollgate_gateway::{GatewayListeners, start};
use tollgate_net::security::{DEFAULT_CERT_PEM, DEFAULT_KEY_PEM, server_config};
use tollgate_protocol::artifact::EnvironmentType;
use tollgate_protocol::{ManualClock, SharedClock};

async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

#[tokio::test]
async fn a_started_node_serves_passthrough_and_management_while_the_control_plane_is_down() {
    let (backend_addr, _backend_stop) = backend().await;
    // A port that refuses every connection: the control plane is down.
    let dead = tollgate_net::DeadPort::new().unwrap();
    let mut s = settings(&["Default"]);
    s.control_plane_url = format!("http://{}", dead.addr());
    let (http, https, management) = (bind().await, bind().await, bind().await);
    let (http_addr, https_addr, mgmt_addr) = (
        http.local_addr().unwrap(),
        https.local_addr().unwrap(),
        management.local_addr().unwrap(),
    );
    let clock: SharedClock = Arc::new(ManualClock::new(NOW_MILLIS));
    let shutdown = CancellationToken::new();
    let handle = start(
        s,
        GatewayListeners {
            passthru_http: http,
            passthru_https: https,
            management,
        },
        server_config(DEFAULT_CERT_PEM, DEFAULT_KEY_PEM).unwrap(),
        outbound(),
        clock,
        None,
        shutdown.clone(),
    );
    let client = outbound().client::<Empty<Bytes>>();
    let fetch = |uri: String| {
        let client = client.clone();
        async move {
            let response = client.get(uri.parse().unwrap()).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status.as_u16(), String::from_utf8(body.to_vec()).unwrap())
        }
    };

    let (status, _) = fetch(format!(
        "https://localhost:{}/api/am/gateway/v2/server-startup-healthcheck",
        mgmt_addr.port()
    ))
    .await;
    assert_eq!(status, 503, "not synced while the control plane is down");
    let (status, body) = fetch(format!("http://{http_addr}/pizzashack/1.0.0/menu")).await;
    assert_eq!(status, 404);
    assert!(body.contains("The requested resource is not available."));

    // State arrives (here by hand): both passthrough listeners serve it.
    let (p, sb) = endpoints(backend_addr);
    handle.gateway().apply_snapshot(&snapshot(
        "Default",
        vec![artifact(
            "pizza",
            "/pizzashack/1.0.0",
            EnvironmentType::Hybrid,
            p,
            sb,
        )],
        3,
    ));
    handle.wait_for_seq(3).await;
    assert_eq!(handle.status().applied_seq, 3);
    let token = token(PROD_KEY);
    for base in [
        format!("http://{http_addr}"),
        format!("https://localhost:{}", https_addr.port()),
    ] {
        let request = http::Request::get(format!("{base}/pizzashack/1.0.0/menu"))
            .header("authorization", format!("Bearer {token}"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), 200, "{base}");
    }
    let apis = format!(
        "https://localhost:{}/api/am/gateway/v2/apis",
        mgmt_addr.port()
    );
    let (status, _) = fetch(apis.clone()).await;
    assert_eq!(status, 401, "the gateway REST API takes Basic auth");
    let request = http::Request::get(apis)
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("\"revisionId\":\"pizza-rev-1\""), "{body}");
    shutdown.cancel();
}
