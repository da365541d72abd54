//! The outbound side: a node's connector, its host map and its truststore ([`Outbound`]).
//!
//! Names resolve through the [`HostMap`] handed in, never through the system resolver unless the
//! map says so (containers); a fault-aware `Outbound` (`Outbound::with_faults`) routes every
//! connection through the harness's [`FaultPlane`].

use crate::fault::{FaultIo, FaultPlane};
use crate::security::{Crypto, TlsError};
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
use tollgate_protocol::SharedTap;

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

/// The TCP layer of [`Connector`]: a [`Dialer`] with the [`HostMap`], its connections passed
/// through the node's [`FaultPlane`] when it has one (a plain socket otherwise). It sits under
/// TLS, so a partition resets the TCP stream as a network would.
#[derive(Debug, Clone)]
pub struct FaultConnector {
    dialer: Dialer,
    host_map: Arc<HostMap>,
    faults: Option<(FaultPlane, Arc<str>)>,
}

/// How a [`FaultConnector`] opens TCP connections: hyper-util's connector over tokio's sockets
/// (every node, always), or — with the `sim` feature, which only the harness enables — turmoil's
/// simulated sockets. An enum, not a boxed trait object: without the feature it has one variant
/// and every match on it compiles away.
#[derive(Debug, Clone)]
enum Dialer {
    Tcp(HttpConnector<HostResolver>),
    /// turmoil's network, as seen from the host whose task dials (`--driver sim`).
    #[cfg(feature = "sim")]
    Sim,
}

/// A connection a [`Dialer`] opened.
#[derive(Debug)]
pub enum Stream {
    Tcp(TokioIo<tokio::net::TcpStream>),
    /// A simulated socket (`sim` feature).
    #[cfg(feature = "sim")]
    Sim(TokioIo<turmoil::net::TcpStream>),
}

impl Stream {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Self::Tcp(io) => io.inner().local_addr(),
            #[cfg(feature = "sim")]
            Self::Sim(io) => io.inner().local_addr(),
        }
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Self::Tcp(io) => io.inner().peer_addr(),
            #[cfg(feature = "sim")]
            Self::Sim(io) => io.inner().peer_addr(),
        }
    }
}

/// Forwards one method to whichever socket the [`Stream`] holds.
macro_rules! each_stream {
    ($self:expr, |$io:ident| $body:expr) => {
        match $self.get_mut() {
            Stream::Tcp($io) => {
                let $io = Pin::new($io);
                $body
            }
            #[cfg(feature = "sim")]
            Stream::Sim($io) => {
                let $io = Pin::new($io);
                $body
            }
        }
    };
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        each_stream!(self, |io| io.poll_read(cx, buf))
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, |io| io.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, |io| io.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self, |io| io.poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self, |io| io.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tcp(io) => io.is_write_vectored(),
            #[cfg(feature = "sim")]
            Self::Sim(io) => io.is_write_vectored(),
        }
    }
}

impl hyper_util::client::legacy::connect::Connection for Stream {
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        match self {
            Self::Tcp(io) => io.connected(),
            #[cfg(feature = "sim")]
            Self::Sim(_) => hyper_util::client::legacy::connect::Connected::new(),
        }
    }
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

/// Where a simulated dial of `uri` goes: its route, else its host through the map (an IP
/// literal is itself), else the host name as turmoil's DNS knows it.
#[cfg(feature = "sim")]
fn sim_destination(map: &HostMap, uri: &http::Uri) -> io::Result<SocketAddr> {
    let host = uri.host().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("`{uri}` has no host"))
    })?;
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    if let Some(to) = map.route(host, port) {
        return Ok(to);
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Some(ip) = map.lookup(bare).filter(|ip| !ip.is_loopback()) {
        return Ok(SocketAddr::new(ip, port));
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("host `{bare}:{port}` is not in the simulated topology's host map"),
    ))
}

/// How long a dial may take before it fails (hyper-util's connector under the same bound).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl tower::Service<http::Uri> for FaultConnector {
    type Response = FaultIo<Stream>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match &mut self.dialer {
            Dialer::Tcp(tcp) => tcp.poll_ready(cx).map_err(Into::into),
            #[cfg(feature = "sim")]
            Dialer::Sim => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting: Pin<Box<dyn Future<Output = Result<Stream, Self::Error>> + Send>> =
            match &mut self.dialer {
                Dialer::Tcp(tcp) => {
                    let connecting = tcp.call(routed(&self.host_map, uri));
                    Box::pin(async move { Ok(Stream::Tcp(connecting.await?)) })
                }
                #[cfg(feature = "sim")]
                Dialer::Sim => {
                    let to = sim_destination(&self.host_map, &uri);
                    Box::pin(async move {
                        let to = to?;
                        let dial = turmoil::net::TcpStream::connect(to);
                        let stream =
                            tokio::time::timeout(CONNECT_TIMEOUT, dial)
                                .await
                                .map_err(|_| {
                                    io::Error::new(
                                        io::ErrorKind::TimedOut,
                                        format!("connecting to {to} timed out"),
                                    )
                                })??;
                        Ok(Stream::Sim(TokioIo::new(stream)))
                    })
                }
            };
        let faults = self.faults.clone();
        Box::pin(async move {
            let Some((plane, instance)) = faults else {
                return Ok(FaultIo::plain(connecting.await?));
            };
            // A paused instance initiates nothing until it resumes.
            plane.wait_resumed(&instance).await;
            let io = connecting.await?;
            let fault = plane.connected(&instance, io.local_addr()?, io.peer_addr()?)?;
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
    /// The harness's observer of this node ([`tollgate_protocol::tap`]); `None` outside one.
    tap: Option<SharedTap>,
    /// Dial turmoil's simulated network instead of tokio's sockets.
    #[cfg(feature = "sim")]
    simulated: bool,
}

impl Outbound {
    pub fn new(host_map: HostMap, trusted_pems: &[&str]) -> Result<Self, TlsError> {
        Self::new_with_crypto(host_map, trusted_pems, &Crypto::system())
    }

    /// [`new`](Self::new) with TLS drawing its randomness and time from `crypto` (the
    /// simulated driver hands each host one seeded from the run).
    pub fn new_with_crypto(
        host_map: HostMap,
        trusted_pems: &[&str],
        crypto: &Crypto,
    ) -> Result<Self, TlsError> {
        Ok(Self {
            host_map: Arc::new(host_map),
            tls: crypto.client_config(trusted_pems)?,
            faults: None,
            tap: None,
            #[cfg(feature = "sim")]
            simulated: false,
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
            tap: None,
            #[cfg(feature = "sim")]
            simulated: false,
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

    /// The same outbound networking for a node the harness observes: what the node applies
    /// and decides is reported to `tap` (every component handed this `Outbound` reads it here,
    /// as it reads the fault plane).
    pub fn with_tap(mut self, tap: SharedTap) -> Self {
        self.tap = Some(tap);
        self
    }

    /// The tap given by [`with_tap`](Self::with_tap).
    pub fn tap(&self) -> Option<&SharedTap> {
        self.tap.as_ref()
    }

    /// The same outbound networking on turmoil's simulated network: every connection dials a
    /// `turmoil::net::TcpStream` from the simulated host whose task makes it, to the address
    /// the host map gives (routes first). Only inside a turmoil simulation.
    #[cfg(feature = "sim")]
    pub fn simulated(mut self) -> Self {
        self.simulated = true;
        self
    }

    fn dialer(&self) -> Dialer {
        #[cfg(feature = "sim")]
        if self.simulated {
            return Dialer::Sim;
        }
        let mut http = HttpConnector::new_with_resolver(HostResolver {
            map: self.host_map.clone(),
        });
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        Dialer::Tcp(http)
    }

    pub fn connector(&self) -> Connector {
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*self.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(FaultConnector {
                dialer: self.dialer(),
                host_map: self.host_map.clone(),
                faults: self.faults.clone(),
            })
    }

    /// How long a pooled connection may sit idle before the pool stops reusing it and closes
    /// it: half of every listener's idle limit
    /// ([`ListenerLimits::HEADER_READ_TIMEOUT`](crate::ListenerLimits::HEADER_READ_TIMEOUT),
    /// 60 s). With hyper-util's default (90 s) a client reused a connection idle for about a
    /// minute just as the server closed it, and the request failed (`SendRequest`): a race the
    /// simulated driver's seed sweep hit after a one-minute `advance`.
    pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

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

#[cfg(all(test, feature = "sim"))]
mod sim_tests {
    use super::*;
    use bytes::Bytes;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A node's real serve loop on a turmoil listener, reached by an `Outbound` that dials
    /// through turmoil by a routed name, twice on one pooled connection; then a partition
    /// refuses a new connection at once.
    #[test]
    fn a_simulated_outbound_reaches_a_simulated_listener_by_its_route() {
        let mut sim = turmoil::Builder::new()
            .rng_seed(7)
            .simulation_duration(Duration::from_secs(60))
            .build();
        let served = Arc::new(AtomicU64::new(0));
        let count = served.clone();
        sim.host("server", move || {
            let count = count.clone();
            async move {
                let listener = turmoil::net::TcpListener::bind(("0.0.0.0", 9443)).await?;
                let service = hyper::service::service_fn(move |_req| {
                    count.fetch_add(1, Ordering::SeqCst);
                    async {
                        Ok::<_, std::convert::Infallible>(http::Response::new(
                            http_body_util::Full::new(Bytes::from_static(b"simulated")),
                        ))
                    }
                });
                let clock: tollgate_protocol::SharedClock =
                    Arc::new(tollgate_protocol::ManualClock::new(1_767_225_600_000));
                crate::serve(
                    listener,
                    None,
                    service,
                    clock,
                    tokio_util::sync::CancellationToken::new(),
                )
                .await;
                Ok(())
            }
        });
        let server = sim.lookup("server");
        sim.client("client", async move {
            use http_body_util::BodyExt;
            let mut map = HostMap::new();
            map.insert_route("localhost", 9443, SocketAddr::new(server, 9443));
            let client = Outbound::new(map, &[])?
                .simulated()
                .client::<http_body_util::Empty<Bytes>>();
            for _ in 0..2 {
                let response = client.get("http://localhost:9443/x".parse()?).await?;
                assert_eq!(response.status(), http::StatusCode::OK);
                let date = response.headers()[http::header::DATE].clone();
                assert_eq!(date, "Thu, 01 Jan 2026 00:00:00 GMT");
                let body = response.into_body().collect().await?.to_bytes();
                assert_eq!(&body[..], b"simulated");
            }
            turmoil::partition("client", "server");
            let fresh = Outbound::new(HostMap::new(), &[])?
                .simulated()
                .client::<http_body_util::Empty<Bytes>>();
            let url = format!("http://{server}:9443/x");
            assert!(fresh.get(url.parse()?).await.is_err());
            Ok(())
        });
        sim.run().unwrap();
        assert_eq!(served.load(Ordering::SeqCst), 2);
    }
}
