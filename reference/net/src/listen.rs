//! The inbound side: [`Listener`]s and the one HTTP(S) accept/serve loop every node and the
//! harness's backends run ([`serve`], [`serve_with`]), under one [`ListenerLimits`].
//!
//! Every response's `Date` is the node's injected clock ([`date_header`]), not the system's:
//! hyper's own date header is turned off, so two runs on the same virtual clock answer the same
//! bytes.

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tollgate_protocol::SharedClock;

/// Something that accepts connections: a bound TCP socket in-process and in containers, a
/// simulated one elsewhere.
pub trait Listener: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

impl Listener for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, addr) = tokio::net::TcpListener::accept(self).await?;
        // Small request/response exchanges: don't let Nagle hold the last segment.
        let _ = stream.set_nodelay(true);
        Ok((stream, addr))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        tokio::net::TcpListener::local_addr(self)
    }
}

/// A simulated host's listener (`sim` feature): bound inside a turmoil host, accepting
/// connections dialed over turmoil's network.
#[cfg(feature = "sim")]
impl Listener for turmoil::net::TcpListener {
    type Io = turmoil::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        turmoil::net::TcpListener::accept(self).await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        turmoil::net::TcpListener::local_addr(self)
    }
}

/// The client's address, put into every request's extensions by [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// What every listener of every node refuses or closes, one policy for all (docs/security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// How long a client has to finish its TLS handshake, and then each request head, counted
    /// from the moment the connection waits for it: a connection that trickles its headers, or
    /// sits idle between keep-alive requests, is closed when it runs out.
    pub header_read_timeout: Duration,
    /// The largest request head (request line and header fields), in bytes: 431 beyond.
    pub max_header_bytes: usize,
    /// The most header fields in one request: 431 beyond.
    pub max_headers: usize,
}

impl ListenerLimits {
    /// 60 s: WSO2's servlet connector gives a request 20 s (Tomcat's `connectionTimeout`) and
    /// its PassThrough transport closes a socket idle for 180 s (`http.socket.timeout`); one
    /// figure between them serves both kinds of listener without cutting a pooled client off.
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);
    /// 16 KiB of head: twice Tomcat's `maxHttpHeaderSize`, room for a large JWT.
    pub const MAX_HEADER_BYTES: usize = 16 * 1024;
    /// hyper's own default (`DEFAULT_MAX_HEADERS`), spelled out.
    pub const MAX_HEADERS: usize = 100;
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Self::HEADER_READ_TIMEOUT,
            max_header_bytes: Self::MAX_HEADER_BYTES,
            max_headers: Self::MAX_HEADERS,
        }
    }
}

/// One connection's HTTP/1.1 settings under `limits`.
fn http1_builder(limits: ListenerLimits) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        // hyper's `Date` reads the system clock; [`WithRemote`] sets it from the node's.
        .auto_date_header(false)
        // Timed by [`serve_connection`] instead: hyper's own makes a timer per request head.
        .header_read_timeout(None)
        .max_header_size(limits.max_header_bytes);
    // Set only when it differs from hyper's default: any set value, even 100, makes hyper fill
    // its header array for every request head it parses (≈ 1.4 k instructions per request,
    // callgrind) instead of leaving it uninitialised until httparse writes it.
    if limits.max_headers != ListenerLimits::MAX_HEADERS {
        builder.max_headers(limits.max_headers);
    }
    builder
}

/// Serves HTTP/1.1 (over TLS when `tls` is given) on `listener` until `shutdown` is cancelled,
/// under the default [`ListenerLimits`], every response dated by `clock`.
///
/// Cancelling stops accepting and drops every open connection at once: to a client it looks
/// like a node that died, which is what the harness's kill means.
pub async fn serve<L, S, B>(
    listener: L,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: S,
    clock: SharedClock,
    shutdown: CancellationToken,
) where
    L: Listener,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_with(
        listener,
        tls,
        service,
        clock,
        shutdown,
        ListenerLimits::default(),
    )
    .await;
}

/// [`serve`] under `limits`.
pub async fn serve_with<L, S, B>(
    listener: L,
    tls: Option<Arc<rustls::ServerConfig>>,
    service: S,
    clock: SharedClock,
    shutdown: CancellationToken,
    limits: ListenerLimits,
) where
    L: Listener,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    accept_loop(listener, shutdown, move |io, remote| {
        let head_wait = Arc::new(HeadWait::new());
        let service = WithRemote {
            inner: service.clone(),
            remote,
            clock: clock.clone(),
            head_wait: head_wait.clone(),
        };
        let acceptor = acceptor.clone();
        async move {
            let builder = http1_builder(limits);
            let timeout = limits.header_read_timeout;
            let result = match acceptor {
                Some(acceptor) => {
                    let handshake = acceptor.accept(io);
                    match tokio::time::timeout(timeout, handshake).await {
                        Ok(Ok(tls)) => {
                            let connection = builder.serve_connection(TokioIo::new(tls), service);
                            serve_connection(connection, &head_wait, timeout).await
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%error, %remote, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%remote, "TLS handshake timed out");
                            return;
                        }
                    }
                }
                None => {
                    let connection = builder.serve_connection(TokioIo::new(io), service);
                    serve_connection(connection, &head_wait, timeout).await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
        }
    })
    .await;
}

/// Runs one connection, closing it when a request head has been awaited for `timeout`: from
/// the connection's start, or from the end of the last response body, until the next head is
/// read (hyper's `header_read_timeout`, timed once per connection rather than once per head).
///
/// One timer serves the connection's life. When it fires it looks at [`HeadWait`]: a head
/// awaited for `timeout` closes the connection; anything else moves the timer to the next
/// moment that could (tokio moves a timer later without touching its wheel).
async fn serve_connection<C>(connection: C, head_wait: &HeadWait, timeout: Duration) -> C::Output
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let connection = std::pin::pin!(connection);
    let mut connection = connection;
    let timer = tokio::time::sleep(timeout);
    let mut timer = std::pin::pin!(timer);
    loop {
        tokio::select! {
            biased;
            result = connection.as_mut() => return result,
            () = timer.as_mut() => {
                let now = tokio::time::Instant::now();
                match head_wait.since() {
                    Some(since) if since + timeout <= now => {
                        tracing::debug!("request head not read in time: connection closed");
                        return Ok(());
                    }
                    Some(since) => timer.as_mut().reset(since + timeout),
                    None => timer.as_mut().reset(now + timeout),
                }
            }
        }
    }
}

/// When a connection began waiting for its next request head, if it is waiting: set when the
/// connection starts and when a response body is done with, cleared when a head has been read
/// (the service is called). Shared by the connection's service, its response bodies and
/// [`serve_connection`]'s timer.
struct HeadWait {
    base: tokio::time::Instant,
    /// Nanoseconds after `base`; [`HeadWait::IN_REQUEST`] while a request is being served.
    since: AtomicU64,
}

impl HeadWait {
    const IN_REQUEST: u64 = u64::MAX;

    fn new() -> Self {
        Self {
            base: tokio::time::Instant::now(),
            since: AtomicU64::new(0),
        }
    }

    fn in_request(&self) {
        self.since.store(Self::IN_REQUEST, Ordering::Relaxed);
    }

    fn waiting(&self) {
        let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(Self::IN_REQUEST - 1);
        self.since.store(nanos, Ordering::Relaxed);
    }

    fn since(&self) -> Option<tokio::time::Instant> {
        match self.since.load(Ordering::Relaxed) {
            Self::IN_REQUEST => None,
            nanos => Some(self.base + Duration::from_nanos(nanos)),
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that starts its connection's wait for the next head when hyper is done
    /// with it (at its end, or when a `HEAD` answer or a closing connection drops it unread).
    pub struct Served<B> {
        #[pin]
        inner: B,
        done: DoneGuard,
    }
}

/// Marks the connection waiting for a head when dropped.
struct DoneGuard(Arc<HeadWait>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.waiting();
    }
}

impl<B: hyper::body::Body> hyper::body::Body for Served<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Accepts connections on `listener` until `shutdown` is cancelled, running each in its own task
/// made by `connection`; [`serve`] is this with HTTP/1.1 (and TLS) per connection, and a mock
/// backend that must sometimes not speak HTTP at all uses it directly.
///
/// Cancelling stops accepting and aborts every connection task at once; it returns once they
/// have ended. A failed accept (EMFILE
/// and friends) is logged and retried after a short pause instead of spinning.
pub async fn accept_loop<L, F, Fut>(mut listener: L, shutdown: CancellationToken, mut connection: F)
where
    L: Listener,
    F: FnMut(L::Io, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (io, remote) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        connections.spawn(connection(io, remote));
    }
    // Joined, not only aborted: when this returns, no connection of the listener is left open
    // (a restart binds the same port at once).
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// The `Date` header value for `clock`'s now (RFC 9110's IMF-fixdate).
///
/// Formatted once per second per thread, as hyper's own `Date` is: the value depends on the
/// second alone, so whichever clock asked last, a hit is the right answer.
pub fn date_header(clock: &SharedClock) -> http::HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(u64, http::HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    let secs = u64::try_from(clock.now_millis()).unwrap_or(0) / 1000;
    LAST.with_borrow_mut(|last| match last {
        Some((at, value)) if *at == secs => value.clone(),
        _ => {
            let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
            let value =
                http::HeaderValue::from_str(&date).unwrap_or(http::HeaderValue::from_static(""));
            *last = Some((secs, value.clone()));
            value
        }
    })
}

/// Puts the client's address into each request and the node's `Date` on each response (one a
/// proxied backend already dated keeps its own, as hyper's would).
/// It also tells the connection's [`HeadWait`] when a request is read and when its answer is
/// done with.
#[derive(Clone)]
struct WithRemote<S> {
    inner: S,
    remote: SocketAddr,
    clock: SharedClock,
    head_wait: Arc<HeadWait>,
}

impl<S, B> hyper::service::Service<Request<Incoming>> for WithRemote<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>,
{
    type Response = Response<Served<B>>;
    type Error = S::Error;
    type Future = Dated<S::Future>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        self.head_wait.in_request();
        req.extensions_mut().insert(RemoteAddr(self.remote));
        Dated {
            inner: self.inner.call(req),
            clock: self.clock.clone(),
            head_wait: Some(self.head_wait.clone()),
        }
    }
}

pin_project_lite::pin_project! {
    /// A response future whose response gets the clock's `Date` when it has none.
    pub struct Dated<F> {
        #[pin]
        inner: F,
        clock: SharedClock,
        head_wait: Option<Arc<HeadWait>>,
    }
}

impl<F, B, E> Future for Dated<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<Served<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let http::header::Entry::Vacant(date) = response.headers_mut().entry(http::header::DATE)
        {
            date.insert(date_header(this.clock));
        }
        let head_wait = this
            .head_wait
            .take()
            .unwrap_or_else(|| Arc::new(HeadWait::new()));
        Poll::Ready(Ok(response.map(|inner| Served {
            inner,
            done: DoneGuard(head_wait),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain-HTTP server answering 204 under `limits`, and its address.
    async fn limited_server(limits: ListenerLimits) -> (SocketAddr, CancellationToken) {
        let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
            Ok::<_, std::convert::Infallible>(
                Response::builder()
                    .status(204)
                    .body(http_body_util::Empty::<Bytes>::new())
                    .unwrap(),
            )
        });
        server_with(service, limits).await
    }

    /// `service` served over plain HTTP under `limits`, and its address.
    async fn server_with<S, B>(
        service: S,
        limits: ListenerLimits,
    ) -> (SocketAddr, CancellationToken)
    where
        S: hyper::service::Service<
                Request<Incoming>,
                Response = Response<B>,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let clock: SharedClock = Arc::new(tollgate_protocol::ManualClock::new(0));
        tokio::spawn(serve_with(
            listener,
            None,
            service,
            clock,
            shutdown.clone(),
            limits,
        ));
        (addr, shutdown)
    }

    /// Bytes the server sends until it closes the connection (bounded by 10 s).
    async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
        use tokio::io::AsyncReadExt;
        let mut all = Vec::new();
        let read = stream.read_to_end(&mut all);
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("the server never closed the connection")
            .unwrap();
        String::from_utf8_lossy(&all).into_owned()
    }

    #[test]
    fn the_cached_date_follows_each_clock_to_the_second() {
        let at = |millis| -> SharedClock { Arc::new(tollgate_protocol::ManualClock::new(millis)) };
        let (a, b) = (at(1_767_225_600_000), at(1_767_225_600_999));
        let later = at(1_767_225_601_000);
        let day = "Thu, 01 Jan 2026 00:00:00 GMT";
        assert_eq!(date_header(&a), day);
        assert_eq!(date_header(&b), day, "the same second");
        assert_eq!(date_header(&later), "Thu, 01 Jan 2026 00:00:01 GMT");
        assert_eq!(date_header(&a), day, "back to an earlier clock");
    }

    #[tokio::test]
    async fn the_date_header_is_the_injected_clocks_and_a_dated_response_keeps_its_own() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        // 2026-01-01T00:00:00Z, the harness's virtual start.
        let clock: SharedClock = Arc::new(tollgate_protocol::ManualClock::new(1_767_225_600_000));
        let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
            let mut response = Response::builder().status(204);
            if req.uri().path() == "/dated" {
                response = response.header("date", "Mon, 01 Jan 2024 00:00:00 GMT");
            }
            Ok::<_, std::convert::Infallible>(
                response
                    .body(http_body_util::Empty::<Bytes>::new())
                    .unwrap(),
            )
        });
        tokio::spawn(serve(listener, None, service, clock, shutdown.clone()));
        for (path, date) in [
            ("/", "date: Thu, 01 Jan 2026 00:00:00 GMT"),
            ("/dated", "date: Mon, 01 Jan 2024 00:00:00 GMT"),
        ] {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            stream.write_all(request.as_bytes()).await.unwrap();
            let answer = read_until_closed(&mut stream).await.to_ascii_lowercase();
            assert_eq!(
                answer.matches("date:").count(),
                1,
                "one date header: {answer}"
            );
            assert!(answer.contains(&date.to_ascii_lowercase()), "{answer}");
        }
        shutdown.cancel();
    }

    #[tokio::test]
    async fn a_connection_that_trickles_its_headers_is_closed_at_the_header_read_timeout() {
        use tokio::io::AsyncWriteExt;
        let limits = ListenerLimits {
            header_read_timeout: Duration::from_millis(300),
            ..ListenerLimits::default()
        };
        let (addr, shutdown) = limited_server(limits).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a")
            .await
            .unwrap();
        // Never finishes the head: the server must hang up on its own.
        let answer = read_until_closed(&mut stream).await;
        assert!(!answer.contains("204"), "{answer}");
        shutdown.cancel();
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_at_the_header_read_timeout() {
        use tokio::io::AsyncWriteExt;
        let limits = ListenerLimits {
            header_read_timeout: Duration::from_millis(300),
            ..ListenerLimits::default()
        };
        let (addr, shutdown) = limited_server(limits).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_until_closed(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
        shutdown.cancel();
    }

    /// Sends `GET path` on `stream` and reads one answer: empty, or chunked to its last chunk.
    async fn get_one(stream: &mut tokio::net::TcpStream, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf));
            let n = read.await.expect("no answer").unwrap();
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer);
            let done = if text.contains("transfer-encoding: chunked") {
                text.ends_with("\r\n0\r\n\r\n")
            } else {
                text.ends_with("\r\n\r\n") && text.contains("content-length: 0")
            };
            if done {
                return text.into_owned();
            }
        }
    }

    #[tokio::test]
    async fn the_head_wait_restarts_after_each_response_and_a_slow_body_is_not_cut() {
        let limits = ListenerLimits {
            header_read_timeout: Duration::from_millis(800),
            ..ListenerLimits::default()
        };
        // `/slow` streams its body over 1.2 s, longer than the head timeout.
        let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
            let body = if req.uri().path() == "/slow" {
                let frames = futures_util::stream::unfold(0, |i| async move {
                    if i == 3 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    let data = if i == 2 { "the end" } else { "... " };
                    Some((
                        Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from(
                            data,
                        ))),
                        i + 1,
                    ))
                });
                http_body_util::combinators::BoxBody::new(http_body_util::StreamBody::new(frames))
            } else {
                http_body_util::combinators::BoxBody::new(http_body_util::Empty::<Bytes>::new())
            };
            Ok::<_, std::convert::Infallible>(Response::new(body))
        });
        let (addr, shutdown) = server_with(service, limits).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Three requests 500 ms apart: 1.5 s on one connection, each head within 800 ms of
        // the answer before it.
        for _ in 0..3 {
            let answer = get_one(&mut stream, "/").await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let answer = get_one(&mut stream, "/slow").await;
        assert!(answer.contains("the end"), "{answer}");
        let answer = get_one(&mut stream, "/").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // Then idle: closed at the timeout.
        let rest = read_until_closed(&mut stream).await;
        assert!(rest.is_empty(), "{rest}");
        shutdown.cancel();
    }

    #[tokio::test]
    async fn a_head_over_the_limit_is_431_on_every_listener() {
        use tokio::io::AsyncWriteExt;
        let (addr, shutdown) = limited_server(ListenerLimits::default()).await;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let big = "a".repeat(ListenerLimits::MAX_HEADER_BYTES);
        let request = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let many: String = (0..=ListenerLimits::MAX_HEADERS)
            .map(|i| format!("X-H{i}: 1\r\n"))
            .collect();
        let request = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        shutdown.cancel();
    }
}
