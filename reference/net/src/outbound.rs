//! The outbound side: a node's connector, its host map and its truststore ([`Outbound`]).
//!
//! Names resolve through the [`HostMap`] handed in, never through the system resolver unless the
//! map says so (containers); a fault-aware `Outbound` (`Outbound::with_faults`) routes every
//! connection through the harness's [`FaultPlane`].

use crate::fault::{FaultIo, FaultPlane};
use crate::security::TlsError;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Hostname → address, like `/etc/hosts`. Names not in the map are resolved by the system
/// resolver only when `use_system_dns` is set (containers); in-process they are an error, so a
/// test can never reach outside the loopback range by accident.
///
/// Routes go one step further than `/etc/hosts`: `(host, port)` → socket address. A topology
/// whose instances share one host (`localhost:9443` is the control plane, `localhost:9444` a
/// gateway) keeps that view when each instance runs in its own container: every node, and the
/// harness, reaches `localhost:9444` at the gateway's container (or its mapped port).
#[derive(Debug, Clone, Default)]
pub struct HostMap {
    hosts: BTreeMap<String, IpAddr>,
    routes: BTreeMap<(String, u16), SocketAddr>,
    pub use_system_dns: bool,
}

impl HostMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, host: impl Into<String>, addr: IpAddr) {
        self.hosts.insert(host.into().to_ascii_lowercase(), addr);
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &IpAddr)> {
        self.hosts.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Connections to `host:port` go to `to` instead (see the type's docs).
    pub fn insert_route(&mut self, host: impl Into<String>, port: u16, to: SocketAddr) {
        self.routes
            .insert((host.into().to_ascii_lowercase(), port), to);
    }

    /// Where a connection to `host:port` goes, when a route says.
    pub fn route(&self, host: &str, port: u16) -> Option<SocketAddr> {
        if self.routes.is_empty() {
            return None;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.routes.get(&(host.to_ascii_lowercase(), port)).copied()
    }

    /// The address a name maps to: an IP literal is itself, `localhost` is 127.0.0.1 unless
    /// mapped otherwise.
    pub fn lookup(&self, host: &str) -> Option<IpAddr> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(ip);
        }
        let lower = host.to_ascii_lowercase();
        if let Some(ip) = self.hosts.get(&lower) {
            return Some(*ip);
        }
        (lower == "localhost").then_some(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}

/// A DNS resolver for hyper-util's connector that consults the [`HostMap`] first.
#[derive(Debug, Clone)]
pub struct HostResolver {
    map: Arc<HostMap>,
}

impl tower::Service<Name> for HostResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let map = self.map.clone();
        Box::pin(async move {
            if let Some(ip) = map.lookup(name.as_str()) {
                return Ok(vec![SocketAddr::new(ip, 0)].into_iter());
            }
            if map.use_system_dns {
                let addrs: Vec<SocketAddr> =
                    tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
                return Ok(addrs.into_iter());
            }
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("host `{}` is not in the topology's host map", name.as_str()),
            ))
        })
    }
}

/// The connector type every outbound HTTP(S) client uses: TLS over the fault layer over TCP.
pub type Connector = hyper_rustls::HttpsConnector<FaultConnector>;

/// The TCP layer of [`Connector`]: hyper-util's connector with the [`HostMap`] resolver, its
/// connections passed through the node's [`FaultPlane`] when it has one (a plain socket
/// otherwise). It sits under TLS, so a partition resets the TCP stream as a network would.
#[derive(Debug, Clone)]
pub struct FaultConnector {
    tcp: HttpConnector<HostResolver>,
    host_map: Arc<HostMap>,
    faults: Option<(FaultPlane, Arc<str>)>,
}

/// `uri` aimed at its route's socket address, if the host map routes its host and port. TLS
/// sits above this connector, so SNI and certificate checks still see the original name.
fn routed(map: &HostMap, uri: http::Uri) -> http::Uri {
    let Some(host) = uri.host() else { return uri };
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let Some(to) = map.route(host, port) else {
        return uri;
    };
    let mut parts = uri.clone().into_parts();
    match to.to_string().parse() {
        Ok(authority) => parts.authority = Some(authority),
        Err(_) => return uri,
    }
    http::Uri::from_parts(parts).unwrap_or(uri)
}

impl tower::Service<http::Uri> for FaultConnector {
    type Response = FaultIo<TokioIo<tokio::net::TcpStream>>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.tcp.call(routed(&self.host_map, uri));
        let faults = self.faults.clone();
        Box::pin(async move {
            let Some((plane, instance)) = faults else {
                return Ok(FaultIo::plain(connecting.await?));
            };
            // A paused instance initiates nothing until it resumes.
            plane.wait_resumed(&instance).await;
            let io = connecting.await?;
            let stream = io.inner();
            let fault = plane.connected(&instance, stream.local_addr()?, stream.peer_addr()?)?;
            Ok(FaultIo::attached(io, fault))
        })
    }
}

/// A pooled keep-alive client over [`Connector`].
pub type HttpClient<B> = Client<Connector, B>;

/// Outbound networking for one node: where names resolve and which certificates it trusts.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub host_map: Arc<HostMap>,
    tls: Arc<rustls::ClientConfig>,
    /// The plane this node's connections pass through, and the node's instance name on it.
    faults: Option<(FaultPlane, Arc<str>)>,
}

impl Outbound {
    pub fn new(host_map: HostMap, trusted_pems: &[&str]) -> Result<Self, TlsError> {
        Ok(Self {
            host_map: Arc::new(host_map),
            tls: crate::security::client_config(trusted_pems)?,
            faults: None,
        })
    }

    /// Outbound networking that accepts any server certificate
    /// ([`insecure_client_config`](crate::security::insecure_client_config)): for a conformance
    /// target file's `insecure_tls = true`, never for a node.
    pub fn insecure(host_map: HostMap) -> Result<Self, TlsError> {
        Ok(Self {
            host_map: Arc::new(host_map),
            tls: crate::security::insecure_client_config()?,
            faults: None,
        })
    }

    /// The same outbound networking, its connections owned by `instance` on `plane`: a
    /// partition or pause of `instance` applies to every client made afterwards.
    pub fn with_faults(mut self, plane: FaultPlane, instance: &str) -> Self {
        self.faults = Some((plane, instance.into()));
        self
    }

    /// The plane and instance name given by [`with_faults`](Self::with_faults).
    pub fn faults(&self) -> Option<(&FaultPlane, &str)> {
        self.faults
            .as_ref()
            .map(|(plane, instance)| (plane, instance.as_ref()))
    }

    pub fn connector(&self) -> Connector {
        let mut http = HttpConnector::new_with_resolver(HostResolver {
            map: self.host_map.clone(),
        });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*self.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(FaultConnector {
                tcp: http,
                host_map: self.host_map.clone(),
                faults: self.faults.clone(),
            })
    }

    /// How long a pooled connection may sit idle before the pool closes it (hyper-util's
    /// default).
    pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

    /// A pooled client. Keep one per node and clone it: clones share the pool.
    pub fn client<B>(&self) -> HttpClient<B>
    where
        B: hyper::body::Body + Send + 'static + Unpin,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Client::builder(TokioExecutor::new())
            // Without a timer the idle timeout never fires (connections are only found stale
            // on check-out, by `std::time::Instant`); on tokio's it does, in virtual time too.
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Self::POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(256)
            .build(self.connector())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn host_map_resolves_mapped_names_literals_and_localhost() {
        let mut map = HostMap::new();
        map.insert("GW.wso2.com", "127.0.1.2".parse().unwrap());
        assert_eq!(
            map.lookup("gw.wso2.com"),
            Some("127.0.1.2".parse().unwrap())
        );
        assert_eq!(map.lookup("10.0.0.1"), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(map.lookup("localhost"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(map.lookup("km.wso2.com"), None);
    }

    #[test]
    fn a_route_sends_one_host_and_port_elsewhere_and_leaves_the_rest() {
        let mut map = HostMap::new();
        map.insert_route("LocalHost", 9444, "10.1.0.3:9444".parse().unwrap());
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(
            routed(&map, uri("https://localhost:9444/api/x?y=1")),
            uri("https://10.1.0.3:9444/api/x?y=1")
        );
        assert_eq!(
            routed(&map, uri("https://localhost:9443/")),
            uri("https://localhost:9443/")
        );
        map.insert_route("gw.wso2.com", 80, "127.0.0.1:49160".parse().unwrap());
        assert_eq!(
            routed(&map, uri("http://gw.wso2.com/pizzashack")),
            uri("http://127.0.0.1:49160/pizzashack")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_pooled_connection_is_closed_at_the_idle_timeout_in_tokio_time() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let closed = Arc::new(AtomicUsize::new(0));
        let shutdown = tokio_util::sync::CancellationToken::new();
        let ended = closed.clone();
        tokio::spawn(crate::accept_loop(
            listener,
            shutdown.clone(),
            move |io, _| {
                let ended = ended.clone();
                async move {
                    let service = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(http::Response::new(
                            http_body_util::Empty::<Bytes>::new(),
                        ))
                    });
                    // No timeouts of its own: only the client can close this connection.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service)
                        .await;
                    ended.fetch_add(1, Ordering::SeqCst);
                }
            },
        ));
        let client = Outbound::new(HostMap::new(), &[])
            .unwrap()
            .client::<http_body_util::Empty<Bytes>>();
        let url: http::Uri = format!("http://{addr}/").parse().unwrap();
        let response = client.get(url).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        drop(response);
        tokio::time::sleep(Outbound::POOL_IDLE_TIMEOUT / 2).await;
        assert_eq!(
            closed.load(Ordering::SeqCst),
            0,
            "closed before the timeout"
        );
        // Bounded: three more idle periods of virtual time at most.
        for _ in 0..300 {
            if closed.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(Outbound::POOL_IDLE_TIMEOUT / 100).await;
        }
        assert_eq!(
            closed.load(Ordering::SeqCst),
            1,
            "the idle connection was kept"
        );
        shutdown.cancel();
    }

    #[tokio::test]
    async fn a_routed_request_keeps_its_host_header_and_reaches_the_route() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let to = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = vec![0u8; 1024];
            let n = stream.read(&mut head).await.unwrap();
            stream
                .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&head[..n]).into_owned()
        });
        let mut map = HostMap::new();
        map.insert_route("km.wso2.com", 9443, to);
        let client = Outbound::new(map, &[])
            .unwrap()
            .client::<http_body_util::Empty<Bytes>>();
        let response = client
            .get("http://km.wso2.com:9443/ping".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), http::StatusCode::NO_CONTENT);
        let head = server.await.unwrap().to_ascii_lowercase();
        assert!(head.contains("host: km.wso2.com:9443"), "{head}");
    }
}
