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

/// Sends `POST path` with a body of `size` bytes over a raw socket, writing while it
/// reads; answers what was read (the response) and whether the connection ended with an EOF
/// (clean) rather than a reset.
async fn post_body(port: u16, path: &str, size: usize, write_first: bool) -> (String, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\n\
         Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    );
    let write = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            writer.write_all(&chunk[..n]).await?;
            left -= n;
        }
        writer.flush().await
    });
    // A client like curl sends its whole body before it reads anything.
    let write = if write_first {
        let written = write.await.unwrap();
        assert!(
            written.is_ok(),
            "{size} bytes: the body could not be sent: {written:?}"
        );
        None
    } else {
        Some(write)
    };
    let mut response = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    // Until the server ends the connection (EOF: clean; an error: reset), or, once the whole
    // answer is in, keeps it open for another request (also clean: it read the body).
    let clean = loop {
        let answered = {
            let text = String::from_utf8_lossy(&response);
            text.contains("\r\n\r\n") && text.ends_with('}')
        };
        let wait = Duration::from_secs(if answered { 2 } else { 20 });
        match timeout(wait, reader.read(&mut buf)).await {
            Ok(Ok(0)) => break true,
            Ok(Ok(n)) => response.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => {
                eprintln!("{size} bytes: read error {e}");
                break false;
            }
            Err(_) if answered => break true,
            Err(_) => panic!("no answer within 20 s"),
        }
    };
    // The writer may be cut short once the server has answered; that is the point.
    if let Some(write) = write {
        let _ = write.await;
    }
    (String::from_utf8_lossy(&response).into_owned(), clean)
}

#[tokio::test]
async fn a_body_sent_to_an_unknown_path_gets_the_404_and_a_clean_end() {
    let cp = ControlPlane::new(
        ControlPlaneSettings::guide(),
        Arc::new(ManualClock::new(1_700_000_000_000)),
        1,
    )
    .unwrap();
    let https = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_port = http.local_addr().unwrap().port();
    let tls = security::server_config(DEFAULT_CERT_PEM, DEFAULT_KEY_PEM).unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn({
        let (cp, shutdown) = (cp.clone(), shutdown.clone());
        async move { cp.serve(https, http, tls, shutdown).await }
    });
    // Within the body limit (read, then answered: even a client that writes its whole body
    // before reading gets the 404), and four times past it (answered, then the connection
    // closed, as Tomcat's `maxSwallowSize` closes it).
    for (size, write_first) in [
        (1024 * 1024, true),
        (2 * 1024 * 1024 - 1, true),
        (1024 * 1024, false),
        (8 * 1024 * 1024, false),
        (64 * 1024 * 1024, false),
    ] {
        let (response, clean) =
            post_body(http_port, "/api/am/publisher/v4/nowhere", size, write_first).await;
        assert!(
            response.starts_with("HTTP/1.1 404"),
            "{size} bytes: {response}"
        );
        assert!(
            response.contains("The requested resource is not available."),
            "{size} bytes: {response}"
        );
        assert!(clean, "{size} bytes: the connection was reset");
    }
    // Past the limit on a known path: the 413 is written, then the connection ends.
    for size in [8 * 1024 * 1024, 64 * 1024 * 1024] {
        let (response, clean) =
            post_body(http_port, "/api/am/publisher/v4/apis", size, false).await;
        assert!(
            response.starts_with("HTTP/1.1 413") || response.starts_with("HTTP/1.1 401"),
            "{size} bytes: {response}"
        );
        assert!(clean, "{size} bytes: the connection was reset");
    }
    shutdown.cancel();
    timeout(Duration::from_secs(10), server)
        .await
        .expect("stopped in time")
        .unwrap();
}
