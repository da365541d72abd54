//! The gateway's proxy client: HTTP/1.1 keep-alive connections to backends, pooled per origin.
//!
//! hyper-util's pooled client costs a task spawn, a oneshot channel and a delayed-EOF wrapper per
//! request to learn when a connection may be reused. Here the response body itself hands its
//! connection back when it is dropped after its last byte: no task, no channel (callgrind: the
//! gateway's whole chain went from 94.8 k to 87.5 k instructions per request with this alone).
//! What the legacy client does that a proxy needs is kept — a request that never left because
//! its pooled connection had just closed is sent again on a fresh one, idle connections close
//! after [`IDLE_TIMEOUT`] on tokio's timer (virtual time too), at most [`MAX_IDLE_PER_ORIGIN`]
//! wait per origin — and the dial goes through the node's [`Connector`] (host map, fault plane,
//! TLS).

use crate::outbound::Connector;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tower::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// foldhash, not SipHash: an origin is looked up twice per request, and its keys are the
/// gateway's own endpoint URLs, not a caller's input.
type Hasher = foldhash::fast::RandomState;

/// How long a connection may sit idle before it is closed: the node's other pooled clients'
/// limit ([`Outbound::POOL_IDLE_TIMEOUT`](crate::Outbound::POOL_IDLE_TIMEOUT)), kept below the
/// listeners' idle close so a connection is not reused just as its server closes it.
pub const IDLE_TIMEOUT: Duration = crate::outbound::Outbound::POOL_IDLE_TIMEOUT;
/// Idle connections kept per origin; more are closed when their response ends.
pub const MAX_IDLE_PER_ORIGIN: usize = 256;

/// Why a backend call failed: the dial, or the exchange (hyper's error keeps its cause, so a
/// failing request body is still found among the causes).
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("client error (Connect): {0}")]
    Connect(#[source] BoxError),
    #[error("{0}")]
    Http(#[from] hyper::Error),
    #[error("invalid backend URL `{0}`: no host")]
    NoHost(Uri),
}

/// A pooled HTTP/1.1 client for request bodies of type `B`. Clones share the pool.
pub struct ProxyClient<B> {
    shared: Arc<Shared<B>>,
}

impl<B> Clone for ProxyClient<B> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<B> std::fmt::Debug for ProxyClient<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyClient").finish_non_exhaustive()
    }
}

struct Shared<B> {
    connector: Connector,
    idle: Mutex<Idle<B>>,
    /// Spawns [`sweep`]; a pointer chosen where `B: 'static` is known, so the body's `Drop`
    /// needs no such bound (one on it makes callers' futures lose `Send` in rustc's eyes).
    start_sweeper: fn(Weak<Shared<B>>),
}

/// Idle connections by origin, newest last; the flag says a sweeper task is running.
struct Idle<B> {
    http: HashMap<Authority, Vec<Parked<B>>, Hasher>,
    https: HashMap<Authority, Vec<Parked<B>>, Hasher>,
    sweeping: bool,
}

impl<B> Idle<B> {
    fn origin(&mut self, https: bool) -> &mut HashMap<Authority, Vec<Parked<B>>, Hasher> {
        if https {
            &mut self.https
        } else {
            &mut self.http
        }
    }

    fn oldest(&self) -> Option<Instant> {
        self.http
            .values()
            .chain(self.https.values())
            .filter_map(|parked| parked.first().map(|p| p.since))
            .min()
    }

    fn drop_expired(&mut self, now: Instant) {
        for map in [&mut self.http, &mut self.https] {
            map.retain(|_, parked| {
                parked.retain(|p| !p.sender.is_closed() && now < p.since + IDLE_TIMEOUT);
                !parked.is_empty()
            });
        }
    }
}

struct Parked<B> {
    sender: SendRequest<B>,
    since: Instant,
}

impl<B> ProxyClient<B>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    pub fn new(connector: Connector) -> Self {
        Self {
            shared: Arc::new(Shared {
                connector,
                idle: Mutex::new(Idle {
                    http: HashMap::default(),
                    https: HashMap::default(),
                    sweeping: false,
                }),
                start_sweeper: |pool| {
                    match tokio::runtime::Handle::try_current() {
                        Ok(runtime) => drop(runtime.spawn(sweep(pool))),
                        // No runtime to time it: the next check-in tries again.
                        Err(_) => {
                            if let Some(shared) = pool.upgrade() {
                                shared
                                    .idle
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .sweeping = false;
                            }
                        }
                    }
                },
            }),
        }
    }

    /// Sends `request` (an absolute URI; `Host` is set from it) and answers the response head.
    /// The body streams; dropped after its end, it returns the connection to the pool.
    pub fn request(
        &self,
        request: Request<B>,
    ) -> impl Future<Output = Result<Response<BackendBody<B>>, ProxyError>> + Send + 'static {
        // Owned, so the future is `Send` whatever the caller borrows (one reference count).
        let client = self.clone();
        async move { client.send(request).await }
    }

    async fn send(self, mut request: Request<B>) -> Result<Response<BackendBody<B>>, ProxyError> {
        let uri = request.uri().clone();
        let https = uri.scheme() == Some(&Scheme::HTTPS);
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| ProxyError::NoHost(uri.clone()))?;
        if !request.headers().contains_key(header::HOST) {
            let host = host_header(&authority, https);
            request.headers_mut().insert(header::HOST, host);
        }
        *request.uri_mut() = Uri::from(
            uri.path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/")),
        );
        // A pooled connection the backend has just closed gives the request back unsent: it goes
        // again, once, on a fresh connection.
        let (mut sender, fresh) = match self.checkout(https, &authority) {
            Some(sender) => (sender, false),
            None => (self.dial(&uri).await?, true),
        };
        let response = match sender.try_send_request(request).await {
            Ok(response) => response,
            Err(mut failed) => match failed.take_message() {
                Some(request) if !fresh => {
                    sender = self.dial(&uri).await?;
                    sender.send_request(request).await?
                }
                _ => return Err(failed.into_error().into()),
            },
        };
        let (parts, body) = response.into_parts();
        let body = BackendBody {
            inner: body,
            ended: false,
            home: Some(Home {
                pool: Arc::downgrade(&self.shared),
                https,
                authority,
                sender,
            }),
        };
        Ok(Response::from_parts(parts, body))
    }

    /// The newest idle connection to the origin that can take a request now.
    fn checkout(&self, https: bool, authority: &Authority) -> Option<SendRequest<B>> {
        let mut idle = self.shared.idle.lock().unwrap_or_else(|e| e.into_inner());
        let parked = idle.origin(https).get_mut(authority)?;
        let now = Instant::now();
        let mut waiting = Vec::new();
        let mut found = None;
        while let Some(mut p) = parked.pop() {
            if p.sender.is_closed() || now >= p.since + IDLE_TIMEOUT {
                continue;
            }
            // The dispatcher signals readiness as soon as it has read the previous response's
            // end, which came before the body handed the connection back: normally ready.
            let mut cx = Context::from_waker(std::task::Waker::noop());
            match p.sender.poll_ready(&mut cx) {
                Poll::Ready(Ok(())) => {
                    found = Some(p.sender);
                    break;
                }
                Poll::Ready(Err(_)) => {}
                Poll::Pending => waiting.push(p),
            }
        }
        parked.extend(waiting.into_iter().rev());
        found
    }

    async fn dial(&self, uri: &Uri) -> Result<SendRequest<B>, ProxyError> {
        let mut connector = self.shared.connector.clone();
        let io = connector
            .call(uri.clone())
            .await
            .map_err(ProxyError::Connect)?;
        let (sender, connection) = http1::Builder::new().handshake(io).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "backend connection ended");
            }
        });
        Ok(sender)
    }
}

/// `host[:port]`, the port only when it is not the scheme's default (as hyper-util writes it).
fn host_header(authority: &Authority, https: bool) -> HeaderValue {
    let default = if https { 443 } else { 80 };
    let value = match authority.port_u16() {
        Some(port) if port != default => authority.as_str(),
        _ => authority.host(),
    };
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Where a response body's connection goes back to.
struct Home<B> {
    pool: Weak<Shared<B>>,
    https: bool,
    authority: Authority,
    sender: SendRequest<B>,
}

/// A backend response body. Dropped after its end, its connection goes back to the pool;
/// dropped before, the connection closes (HTTP/1.1 cannot skip the rest of a body).
pub struct BackendBody<B> {
    inner: Incoming,
    /// Whether the body has answered its end (a chunked body never says so by its length).
    ended: bool,
    home: Option<Home<B>>,
}

impl<B> std::fmt::Debug for BackendBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendBody")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<B> Body for BackendBody<B> {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = frame {
            self.ended = true;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for BackendBody<B> {
    fn drop(&mut self) {
        let Some(home) = self.home.take() else { return };
        let ended = self.ended || self.inner.is_end_stream();
        if !ended || home.sender.is_closed() {
            return;
        }
        let Some(shared) = home.pool.upgrade() else {
            return;
        };
        let start_sweeper = {
            let mut idle = shared.idle.lock().unwrap_or_else(|e| e.into_inner());
            let parked = idle.origin(home.https).entry(home.authority).or_default();
            if parked.len() >= MAX_IDLE_PER_ORIGIN {
                return;
            }
            parked.push(Parked {
                sender: home.sender,
                since: Instant::now(),
            });
            !std::mem::replace(&mut idle.sweeping, true)
        };
        if start_sweeper {
            (shared.start_sweeper)(Arc::downgrade(&shared));
        }
    }
}

/// Closes idle connections as they pass the idle timeout; ends when none is left (the next
/// check-in starts another) or the pool is gone.
async fn sweep<B: Send + 'static>(pool: Weak<Shared<B>>) {
    loop {
        let next = {
            let Some(shared) = pool.upgrade() else { return };
            let mut idle = shared.idle.lock().unwrap_or_else(|e| e.into_inner());
            idle.drop_expired(Instant::now());
            match idle.oldest() {
                Some(oldest) => oldest + IDLE_TIMEOUT,
                None => {
                    idle.sweeping = false;
                    return;
                }
            }
        };
        tokio::time::sleep_until(next).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HostMap, Outbound};
    use http_body_util::{BodyExt, Empty, Full};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    type TestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

    fn client() -> ProxyClient<TestBody> {
        ProxyClient::new(Outbound::new(HostMap::new(), &[]).unwrap().connector())
    }

    fn get(addr: std::net::SocketAddr, path: &str) -> Request<TestBody> {
        let body = Empty::<Bytes>::new().map_err(|e| match e {}).boxed_unsync();
        let mut request = Request::new(body);
        *request.uri_mut() = format!("http://{addr}{path}").parse().unwrap();
        request
    }

    /// A hyper backend that counts its connections and answers each request with `respond`.
    async fn backend(
        respond: fn(&http::request::Parts) -> Response<TestBody>,
    ) -> (
        std::net::SocketAddr,
        Arc<AtomicUsize>,
        tokio::sync::watch::Receiver<usize>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let opened = Arc::new(AtomicUsize::new(0));
        let (closed_tx, closed) = tokio::sync::watch::channel(0usize);
        let (o, c) = (opened.clone(), Arc::new(closed_tx));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                o.fetch_add(1, Ordering::SeqCst);
                let c = c.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (parts, _) = request.into_parts();
                        async move { Ok::<_, std::convert::Infallible>(respond(&parts)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                    c.send_modify(|n| *n += 1);
                });
            }
        });
        (addr, opened, closed)
    }

    fn text(parts: &http::request::Parts) -> Response<TestBody> {
        let host = parts.headers.get(header::HOST).cloned();
        let body = format!(
            "{} {}",
            parts.uri,
            host.map(|h| h.to_str().unwrap().to_owned())
                .unwrap_or_default()
        );
        Response::new(
            Full::new(Bytes::from(body))
                .map_err(|e| match e {})
                .boxed_unsync(),
        )
    }

    fn chunked(_: &http::request::Parts) -> Response<TestBody> {
        let frames = futures_util::stream::iter([
            Ok::<_, BoxError>(Frame::data(Bytes::from("a"))),
            Ok(Frame::data(Bytes::from("b"))),
        ]);
        Response::new(http_body_util::StreamBody::new(frames).boxed_unsync())
    }

    async fn read(response: Response<BackendBody<TestBody>>) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn requests_one_after_another_share_one_connection_in_origin_form_with_host() {
        let (addr, opened, _) = backend(text).await;
        let client = client();
        for i in 0..5 {
            let response = client
                .request(get(addr, &format!("/menu?i={i}")))
                .await
                .unwrap();
            assert_eq!(read(response).await, format!("/menu?i={i} {addr}"));
        }
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_chunked_body_read_to_its_end_gives_its_connection_back() {
        let (addr, opened, _) = backend(chunked).await;
        let client = client();
        for _ in 0..3 {
            assert_eq!(
                read(client.request(get(addr, "/")).await.unwrap()).await,
                "ab"
            );
        }
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_closes_its_connection() {
        let (addr, opened, mut closed) = backend(chunked).await;
        let client = client();
        let response = client.request(get(addr, "/")).await.unwrap();
        drop(response);
        assert_eq!(
            read(client.request(get(addr, "/")).await.unwrap()).await,
            "ab"
        );
        assert_eq!(opened.load(Ordering::SeqCst), 2);
        // The abandoned connection ends: awaited as the backend's signal, bounded.
        let ended = tokio::time::timeout(Duration::from_secs(10), closed.wait_for(|n| *n == 1));
        assert!(ended.await.is_ok(), "the abandoned connection stayed open");
    }

    #[tokio::test]
    async fn concurrent_requests_open_connections_that_are_all_kept() {
        let (addr, opened, _) = backend(text).await;
        let client = client();
        let responses =
            futures_util::future::join_all((0..4).map(|_| client.request(get(addr, "/")))).await;
        for response in responses {
            read(response.unwrap()).await;
        }
        assert_eq!(opened.load(Ordering::SeqCst), 4);
        let responses =
            futures_util::future::join_all((0..4).map(|_| client.request(get(addr, "/")))).await;
        for response in responses {
            read(response.unwrap()).await;
        }
        assert_eq!(
            opened.load(Ordering::SeqCst),
            4,
            "the four idle connections were reused"
        );
    }

    #[tokio::test]
    async fn a_pooled_connection_the_backend_closed_is_replaced_without_failing_the_request() {
        // A raw backend that answers one request per connection, keep-alive in its headers, and
        // then closes: the pooled connection is dead by the time the next request takes it.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let opened = Arc::new(AtomicUsize::new(0));
        let o = opened.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                o.fetch_add(1, Ordering::SeqCst);
                let mut head = [0u8; 1024];
                let _ = stream.read(&mut head).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                drop(stream);
            }
        });
        let client = client();
        for _ in 0..3 {
            assert_eq!(
                read(client.request(get(addr, "/")).await.unwrap()).await,
                "ok"
            );
        }
        assert_eq!(opened.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_refused_dial_is_a_connect_error() {
        let dead = crate::DeadPort::new().unwrap();
        let error = client().request(get(dead.addr(), "/")).await.unwrap_err();
        assert!(matches!(error, ProxyError::Connect(_)), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_closed_at_the_idle_timeout_in_tokio_time() {
        let (addr, _, mut closed) = backend(text).await;
        let client = client();
        read(client.request(get(addr, "/")).await.unwrap()).await;
        tokio::time::sleep(IDLE_TIMEOUT / 2).await;
        assert_eq!(*closed.borrow(), 0, "closed before the timeout");
        // Virtual time: the sweeper's timer fires at the timeout, no wall time passes.
        let ended = tokio::time::timeout(IDLE_TIMEOUT, closed.wait_for(|n| *n == 1));
        assert!(ended.await.is_ok(), "the idle connection was kept");
        // The pool works on after its sweeper ended.
        read(client.request(get(addr, "/")).await.unwrap()).await;
    }
}
