//! The control plane on real loopback sockets, and built from the guide's `deployment.toml`.

use bytes::Bytes;
use http_body_util::Full;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tollgate_control_plane::{ControlPlane, ControlPlaneSettings};
use tollgate_net::security::{self, DEFAULT_CERT_PEM, DEFAULT_KEY_PEM};
use tollgate_net::{HostMap, Outbound};
use tollgate_protocol::ManualClock;

#[tokio::test]
async fn serve_answers_over_https_and_plain_http_until_shutdown() {
    let cp = ControlPlane::new(
        ControlPlaneSettings::guide(),
        Arc::new(ManualClock::new(1_700_000_000_000)),
        1,
    )
    .unwrap();
    let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (https_port, http_port) = (
        https.local_addr().unwrap().port(),
        http.local_addr().unwrap().port(),
    );
    let tls = security::server_config(DEFAULT_CERT_PEM, DEFAULT_KEY_PEM).unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn({
        let (cp, shutdown) = (cp.clone(), shutdown.clone());
        async move { cp.serve(https, http, tls, shutdown).await }
    });

    let client = Outbound::new(HostMap::new(), &[DEFAULT_CERT_PEM])
        .unwrap()
        .client::<Full<Bytes>>();
    for url in [
        format!("https://localhost:{https_port}/api/am/devportal/v3/settings"),
        format!("http://127.0.0.1:{http_port}/api/am/devportal/v3/settings"),
        format!("https://localhost:{https_port}/oauth2/jwks"),
    ] {
        let response = timeout(Duration::from_secs(10), client.get(url.parse().unwrap()))
            .await
            .expect("answered in time")
            .unwrap();
        assert_eq!(response.status(), http::StatusCode::OK, "{url}");
    }

    shutdown.cancel();
    timeout(Duration::from_secs(10), server)
        .await
        .expect("stopped in time")
        .unwrap();
}

#[test]
fn the_guides_control_plane_file_gives_the_guides_environments() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/topologies/guide/control-plane/deployment.toml");
    let loaded = tollgate_config::load(&path).unwrap();
    let settings = ControlPlaneSettings::from_loaded(&loaded);
    assert_eq!(settings.mgmt_https_port, 9443);
    assert_eq!(settings.admin_username, "admin");
    let guide = ControlPlaneSettings::guide();
    let summary = |s: &ControlPlaneSettings| {
        s.environments
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.kind,
                    e.display_in_api_console,
                    e.show_as_token_endpoint_url,
                    e.vhosts.first().map(|v| (v.http_url(), v.https_url())),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(summary(&settings), summary(&guide));
}
