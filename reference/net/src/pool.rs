//! The gateway's proxy client: HTTP/1.1 keep-alive connections to backends, pooled per origin,
//! driven inside the request's own task.
//!
//! hyper's client connection runs in a task of its own: every request crosses to it over a
//! channel, and the response head and each body chunk cross back, each crossing a wake-up and a
//! poll of the other task. Here the request's task writes the request and reads the answer
//! itself — the head parsed by `httparse`, the parser hyper uses, the body framed by its
//! `Content-Length`, chunked coding or the connection's end — so a proxied request costs no
//! task switch on the backend side at all (callgrind, README "Benchmarks": the step from
//! hyper's connection task to this one). The response body hands its connection back the
//! moment its last byte is read.
//!
//! What a proxy needs from a client is kept, and written as hyper writes it: origin-form
//! request line, `Host` from the URL, `Content-Length` from the body's exact size or else
//! chunked coding (none for a `GET`, `HEAD` or `CONNECT` of unknown size), a custom reason phrase
//! kept as hyper's [`ReasonPhrase`]. A pooled connection is checked for a close the backend
//! already sent before it is used; a request that met a close on a reused connection before
//! any answer goes again, once, on a fresh one when that is safe (nothing of its body was sent,
//! or nothing written at all). Idle connections close after [`IDLE_TIMEOUT`] on tokio's timer
//! (virtual time too), at most [`MAX_IDLE_PER_ORIGIN`] wait per origin, and the dial goes
//! through the node's [`Connector`] (host map, fault plane, TLS).
//!
//! Not done: a backend that answers before it has read the request body is read only once the
//! body is sent (hyper reads and writes at once); upgrades (`101`) are refused as errors.

use crate::outbound::Connector;
use bytes::{Buf, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::{Body, Frame, SizeHint};
use hyper::ext::ReasonPhrase;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use tower::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// foldhash, not SipHash: an origin is looked up twice per request, and its keys are the
/// gateway's own endpoint URLs, not a caller's input.
type Hasher = foldhash::fast::RandomState;
/// A dialled connection, plain or TLS, with tokio's IO traits.
type Io = TokioIo<<Connector as Service<Uri>>::Response>;

/// How long a connection may sit idle before it is closed: the node's other pooled clients'
/// limit ([`Outbound::POOL_IDLE_TIMEOUT`](crate::Outbound::POOL_IDLE_TIMEOUT)), kept below the
/// listeners' idle close so a connection is not reused just as its server closes it.
pub const IDLE_TIMEOUT: Duration = crate::outbound::Outbound::POOL_IDLE_TIMEOUT;
/// Idle connections kept per origin; more are closed when their response ends.
pub const MAX_IDLE_PER_ORIGIN: usize = 256;
/// Header fields read in a response head (hyper's default limit).
const MAX_HEADERS: usize = 100;
/// Header fields a response's map has room for beyond the backend's own.
const RESPONSE_HEADROOM: usize = 8;
/// The largest response head, or chunk-size line and trailer section, read before giving up.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// What one read asks the socket for at least.
const READ_CHUNK: usize = 8 * 1024;
/// Request body chunks up to this size are copied behind their chunk line into one write.
const COPY_LIMIT: usize = 16 * 1024;

/// Why a backend call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("client error (Connect): {0}")]
    Connect(#[source] BoxError),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    /// The request body the caller handed in failed; its error is kept as the cause.
    #[error("error reading the request body: {0}")]
    RequestBody(#[source] BoxError),
    #[error("request body length does not match its Content-Length ({declared} declared)")]
    RequestBodyLength { declared: u64 },
    #[error("invalid response from the backend: {0}")]
    InvalidResponse(&'static str),
    #[error("connection closed before the response {0}")]
    Closed(&'static str),
    #[error("invalid backend URL `{0}`: no host")]
    NoHost(Uri),
    /// No response head within the time [`ProxyClient::request_within`] was given.
    #[error("no response within the timeout")]
    Timeout,
}

/// A pooled HTTP/1.1 client for request bodies of type `B`. Clones share the pool.
pub struct ProxyClient<B> {
    shared: Arc<Shared>,
    body: std::marker::PhantomData<fn(B)>,
}

impl<B> Clone for ProxyClient<B> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            body: std::marker::PhantomData,
        }
    }
}

impl<B> std::fmt::Debug for ProxyClient<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyClient").finish_non_exhaustive()
    }
}

struct Shared {
    connector: Connector,
    idle: Mutex<Idle>,
}

/// Idle connections by origin, newest last; the flag says a sweeper task is running.
struct Idle {
    http: HashMap<Origin, Vec<Parked>, Hasher>,
    https: HashMap<Origin, Vec<Parked>, Hasher>,
    sweeping: bool,
}

/// An idle map's key: the authority's bytes as written, hashed in one call. `Authority`'s own
/// `Hash` and `Eq` fold case byte by byte (≈ 1.2 k instructions for the two lookups of every
/// request); endpoints are the gateway's own URLs, so one spelling per origin is all there is.
struct Origin(Authority);

impl std::hash::Hash for Origin {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(self.0.as_str().as_bytes());
    }
}

impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Origin {}

impl Idle {
    fn origin(&mut self, https: bool) -> &mut HashMap<Origin, Vec<Parked>, Hasher> {
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
                parked.retain(|p| now < p.since + IDLE_TIMEOUT);
                !parked.is_empty()
            });
        }
    }
}

struct Parked {
    conn: Box<Conn>,
    since: Instant,
}

/// One connection to a backend and the bytes read from it but not yet used. Always boxed: a
/// TLS stream holds rustls's state inline, kilobytes that would be copied at every move.
struct Conn {
    io: Io,
    read: BytesMut,
    write: Vec<u8>,
    /// The deadline of the exchange under way, kept from one exchange to the next: moving a
    /// registered timer later is one atomic update, where a new timer per request costs a
    /// registration and a removal in tokio's wheel (and an allocation).
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Conn {
    fn new(io: Io) -> Box<Self> {
        Box::new(Self {
            io,
            read: BytesMut::new(),
            write: Vec::with_capacity(1024),
            deadline: None,
        })
    }

    /// Reads what the socket has into `read`; `Ok(0)` is the peer's end.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.read.capacity() - self.read.len() < READ_CHUNK / 2 {
            self.read.reserve(READ_CHUNK);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read)
    }

    async fn fill(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// Whether an idle connection can take a request: the backend has not closed it or sent
    /// anything unasked. A read that would wait means nothing came (tokio answers that from
    /// its readiness flags, without a system call, unless the socket has news).
    fn is_usable(&mut self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        matches!(self.poll_fill(&mut cx), Poll::Pending) && self.read.is_empty()
    }
}

/// How a request body goes on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outgoing {
    None,
    Length(u64),
    Chunked,
}

/// How far a failed exchange got, to know whether sending it again is safe.
enum Failure {
    /// Nothing of the request's body was taken and no answer came: it can go again.
    Retriable(ProxyError),
    Final(ProxyError),
}

/// What the response head says about the body after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

/// Where a chunked body's decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
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
            }),
            body: std::marker::PhantomData,
        }
    }

    /// Sends `request` (an absolute URI; `Host` is set from it) and answers the response head.
    /// The body streams; its last byte read, it returns the connection to the pool.
    pub fn request(
        &self,
        request: Request<B>,
    ) -> impl Future<Output = Result<Response<BackendBody>, ProxyError>> + Send + 'static {
        // Owned, so the future is `Send` whatever the caller borrows (one reference count).
        let shared = self.shared.clone();
        async move { send(shared, request, None).await }
    }

    /// [`request`](Self::request), failing with [`ProxyError::Timeout`] when the response head
    /// has not come within `timeout` (connecting included); the body is not timed.
    pub fn request_within(
        &self,
        request: Request<B>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Response<BackendBody>, ProxyError>> + Send + 'static {
        let shared = self.shared.clone();
        async move { send(shared, request, Some(timeout)).await }
    }
}

async fn send<B>(
    shared: Arc<Shared>,
    request: Request<B>,
    timeout: Option<Duration>,
) -> Result<Response<BackendBody>, ProxyError>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let (mut parts, mut body) = request.into_parts();
    let https = parts.uri.scheme() == Some(&Scheme::HTTPS);
    let authority = Origin(
        parts
            .uri
            .authority()
            .cloned()
            .ok_or_else(|| ProxyError::NoHost(parts.uri.clone()))?,
    );
    let outgoing = outgoing(&mut parts, &body);
    let now = Instant::now();
    let deadline = timeout.map(|timeout| now + timeout);
    let mut pooled = checkout(&shared, https, &authority, now);
    let (conn, head) = loop {
        let reused = pooled.is_some();
        let mut conn = match pooled.take() {
            Some(conn) => conn,
            None => {
                let dialing = Box::pin(dial(&shared, &parts.uri));
                match deadline {
                    Some(deadline) => tokio::time::timeout_at(deadline, dialing)
                        .await
                        .map_err(|_| ProxyError::Timeout)??,
                    None => dialing.await?,
                }
            }
        };
        let exchanged = match deadline {
            None => exchange(&mut conn, &parts, &authority.0, https, outgoing, &mut body).await,
            Some(deadline) => {
                let mut timer = match conn.deadline.take() {
                    Some(mut timer) => {
                        timer.as_mut().reset(deadline);
                        timer
                    }
                    None => Box::pin(tokio::time::sleep_until(deadline)),
                };
                let exchanged = tokio::select! {
                    biased;
                    exchanged = exchange(&mut conn, &parts, &authority.0, https, outgoing, &mut body) => exchanged,
                    () = timer.as_mut() => return Err(ProxyError::Timeout),
                };
                conn.deadline = Some(timer);
                exchanged
            }
        };
        match exchanged {
            Ok(head) => break (conn, head),
            // Once, on a fresh connection: `pooled` is empty now.
            Err(Failure::Retriable(_)) if reused => {}
            Err(Failure::Retriable(e) | Failure::Final(e)) => return Err(e),
        }
    };
    let (mut response, framing, keep_alive) = head;
    let mut body = BackendBody {
        conn: Some(conn),
        framing,
        keep_alive,
        home: Some(Home {
            pool: Arc::downgrade(&shared),
            https,
            authority,
        }),
    };
    if body.is_end_stream() {
        body.finish();
    }
    *response.body_mut() = body;
    Ok(response)
}

/// The request's framing, hyper's way: the caller's own `Transfer-Encoding` or
/// `Content-Length` first, then the body's exact size, then chunked — except a body of unknown
/// size on a method that almost never has one, which is not sent.
fn outgoing<B: Body>(parts: &mut http::request::Parts, body: &B) -> Outgoing {
    if body.is_end_stream() {
        parts.headers.remove(header::TRANSFER_ENCODING);
        return Outgoing::None;
    }
    if parts.headers.contains_key(header::TRANSFER_ENCODING) {
        parts.headers.remove(header::CONTENT_LENGTH);
        if !crate::headers::is_chunked(&parts.headers) {
            parts.headers.append(
                header::TRANSFER_ENCODING,
                HeaderValue::from_static("chunked"),
            );
        }
        return Outgoing::Chunked;
    }
    if let Some(declared) = content_length(&parts.headers) {
        return Outgoing::Length(declared);
    }
    if let Some(exact) = body.size_hint().exact() {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(exact));
        return Outgoing::Length(exact);
    }
    if matches!(parts.method, Method::GET | Method::HEAD | Method::CONNECT) {
        return Outgoing::None;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::TRANSFER_ENCODING,
        HeaderValue::from_static("chunked"),
    );
    Outgoing::Chunked
}

/// The one length all `Content-Length` fields agree on, if they are valid.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut found = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for part in value.to_str().ok()?.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u64 = part.parse().ok()?;
            if found.is_some_and(|f| f != n) {
                return None;
            }
            found = Some(n);
        }
    }
    found
}

/// The newest idle connection to the origin that can take a request now.
fn checkout(shared: &Shared, https: bool, authority: &Origin, now: Instant) -> Option<Box<Conn>> {
    let mut idle = shared.idle.lock().unwrap_or_else(|e| e.into_inner());
    let parked = idle.origin(https).get_mut(authority)?;
    while let Some(mut p) = parked.pop() {
        if now < p.since + IDLE_TIMEOUT && p.conn.is_usable() {
            return Some(p.conn);
        }
    }
    None
}

async fn dial(shared: &Shared, uri: &Uri) -> Result<Box<Conn>, ProxyError> {
    let mut connector = shared.connector.clone();
    let io = connector
        .call(uri.clone())
        .await
        .map_err(ProxyError::Connect)?;
    Ok(Conn::new(TokioIo::new(io)))
}

type Head = (Response<BackendBody>, Framing, bool);

/// Writes the request on `conn` and reads the response head, skipping interim `1xx` answers.
async fn exchange<B>(
    conn: &mut Conn,
    parts: &http::request::Parts,
    authority: &Authority,
    https: bool,
    outgoing: Outgoing,
    body: &mut B,
) -> Result<Head, Failure>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    write_head(&mut conn.write, parts, authority, https);
    // The head goes with the body's first chunk in one write when that chunk is small.
    let mut taken = false;
    if outgoing != Outgoing::None {
        taken = true;
        // Boxed: most proxied requests have no body, and their futures stay small without it.
        Box::pin(send_body(conn, outgoing, body)).await?;
    } else {
        flush_buffer(conn).await.map_err(Failure::Retriable)?;
    }
    conn.io.flush().await.map_err(|e| {
        if taken {
            Failure::Final(e.into())
        } else {
            Failure::Retriable(e.into())
        }
    })?;
    let idempotent = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    );
    let head_request = parts.method == Method::HEAD;
    loop {
        match read_head(conn, head_request).await {
            Ok(Some(head)) => return Ok(head),
            Ok(None) => continue, // 1xx
            // The backend closed before answering: as hyper-util's legacy client retries a
            // request a reused connection lost, but only where a second send cannot do twice
            // what the first did.
            Err(error @ (ProxyError::Closed(_) | ProxyError::Io(_)))
                if !taken && idempotent && conn.read.is_empty() =>
            {
                return Err(Failure::Retriable(error));
            }
            Err(error) => return Err(Failure::Final(error)),
        }
    }
}

/// The request line and header section, in origin form, with `Host` from the URL when the
/// request has none.
fn write_head(out: &mut Vec<u8>, parts: &http::request::Parts, authority: &Authority, https: bool) {
    out.clear();
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    match parts.uri.path_and_query() {
        Some(pq) if !pq.as_str().is_empty() => out.extend_from_slice(pq.as_str().as_bytes()),
        _ => out.push(b'/'),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !parts.headers.contains_key(header::HOST) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(host_header(authority, https).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Sends the head (already in `conn.write`) and the body in `outgoing`'s framing.
async fn send_body<B>(conn: &mut Conn, outgoing: Outgoing, body: &mut B) -> Result<(), Failure>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let fail = |e: ProxyError| Failure::Final(e);
    let mut left = match outgoing {
        Outgoing::Length(n) => Some(n),
        _ => None,
    };
    let mut trailers = None;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx))
            .await
            .map(|frame| frame.map_err(Into::<BoxError>::into));
        let data = match frame {
            None => break,
            Some(Err(e)) => return Err(fail(ProxyError::RequestBody(e))),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(frame) => {
                    trailers = frame.into_trailers().ok();
                    continue;
                }
            },
        };
        if data.is_empty() {
            continue;
        }
        if let Some(left) = &mut left {
            *left = left
                .checked_sub(data.len() as u64)
                .ok_or(ProxyError::RequestBodyLength {
                    declared: declared(outgoing),
                })
                .map_err(fail)?;
        }
        let chunked = outgoing == Outgoing::Chunked;
        if chunked {
            conn.write
                .extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        }
        if data.len() <= COPY_LIMIT {
            conn.write.extend_from_slice(&data);
            if chunked {
                conn.write.extend_from_slice(b"\r\n");
            }
            flush_buffer(conn).await.map_err(fail)?;
        } else {
            flush_buffer(conn).await.map_err(fail)?;
            conn.io.write_all(&data).await.map_err(|e| fail(e.into()))?;
            if chunked {
                conn.write.extend_from_slice(b"\r\n");
            }
        }
    }
    if left.is_some_and(|left| left > 0) {
        return Err(fail(ProxyError::RequestBodyLength {
            declared: declared(outgoing),
        }));
    }
    if outgoing == Outgoing::Chunked {
        conn.write.extend_from_slice(b"0\r\n");
        for (name, value) in trailers.iter().flatten() {
            conn.write.extend_from_slice(name.as_str().as_bytes());
            conn.write.extend_from_slice(b": ");
            conn.write.extend_from_slice(value.as_bytes());
            conn.write.extend_from_slice(b"\r\n");
        }
        conn.write.extend_from_slice(b"\r\n");
    }
    flush_buffer(conn).await.map_err(fail)
}

fn declared(outgoing: Outgoing) -> u64 {
    match outgoing {
        Outgoing::Length(n) => n,
        _ => 0,
    }
}

/// Writes out and clears `conn.write`.
async fn flush_buffer(conn: &mut Conn) -> Result<(), ProxyError> {
    if conn.write.is_empty() {
        return Ok(());
    }
    let pending = std::mem::take(&mut conn.write);
    let written = conn.io.write_all(&pending).await;
    conn.write = pending;
    conn.write.clear();
    Ok(written?)
}

/// Reads one response head: `None` for an interim `1xx`, which is skipped.
async fn read_head(conn: &mut Conn, head_request: bool) -> Result<Option<Head>, ProxyError> {
    loop {
        if !conn.read.is_empty()
            && let Some(head) = parse_head(&mut conn.read, head_request)?
        {
            return Ok(head);
        }
        if conn.read.len() > MAX_HEAD_BYTES {
            return Err(ProxyError::InvalidResponse("response head too large"));
        }
        if conn.fill().await? == 0 {
            return Err(ProxyError::Closed(if conn.read.is_empty() {
                "began"
            } else {
                "head ended"
            }));
        }
    }
}

/// Parses a complete head off the front of `read`: `None` when more bytes are needed,
/// `Some(None)` for a `1xx`.
fn parse_head(read: &mut BytesMut, head_request: bool) -> Result<Option<Option<Head>>, ProxyError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let len = match config.parse_response_with_uninit_headers(&mut parsed, read, &mut slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ProxyError::InvalidResponse("too many header fields"));
        }
        Err(_) => return Err(ProxyError::InvalidResponse("malformed response head")),
    };
    let code = parsed.code.unwrap_or_default();
    let status = StatusCode::from_u16(code)
        .map_err(|_| ProxyError::InvalidResponse("invalid status code"))?;
    let version = if parsed.version == Some(1) {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    // Header values are cut out of the head's own bytes: no copy per value.
    let base = read.as_ptr() as usize;
    let mut fields = Vec::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| ProxyError::InvalidResponse("invalid header name"))?;
        let start = h.value.as_ptr() as usize - base;
        fields.push((name, start..start + h.value.len()));
    }
    let reason = parsed
        .reason
        .filter(|reason| Some(*reason) != status.canonical_reason())
        .map(|reason| Bytes::copy_from_slice(reason.as_bytes()));
    let head = read.split_to(len).freeze();
    if status.is_informational() {
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(ProxyError::InvalidResponse("upgrades are not proxied"));
        }
        return Ok(Some(None));
    }
    // Room for what the gateway adds on the way out (CORS, `Date`): a full map would grow,
    // rehashing every field, for each response (≈ 1.7 k instructions).
    let mut headers = HeaderMap::with_capacity(fields.len() + RESPONSE_HEADROOM);
    for (name, range) in fields {
        let value = HeaderValue::from_maybe_shared(head.slice(range))
            .map_err(|_| ProxyError::InvalidResponse("invalid header value"))?;
        headers.append(name, value);
    }
    // A bodiless answer is framed by its status or the request alone, as in hyper's client.
    // Otherwise, both framings in one answer (RFC 9112 §6.3, item 3): the transfer coding
    // decides, the length must not travel on (a proxy forwarding both would hand its client a
    // length the decoded body does not have), and a backend that sends both does not get the
    // connection back. HTTP/1.0 has no transfer codings: hyper's client refuses one there.
    let mut conflicting = false;
    let framing =
        if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            Framing::Length(0)
        } else if headers.contains_key(header::TRANSFER_ENCODING) {
            if version == Version::HTTP_10 {
                return Err(ProxyError::InvalidResponse(
                    "Transfer-Encoding in an HTTP/1.0 response",
                ));
            }
            conflicting = headers.remove(header::CONTENT_LENGTH).is_some();
            if crate::headers::is_chunked(&headers) {
                Framing::Chunked(Chunk::Size)
            } else {
                Framing::UntilClose
            }
        } else if headers.contains_key(header::CONTENT_LENGTH) {
            Framing::Length(
                content_length(&headers)
                    .ok_or(ProxyError::InvalidResponse("invalid Content-Length"))?,
            )
        } else {
            Framing::UntilClose
        };
    let keep_alive = framing != Framing::UntilClose
        && !conflicting
        && match version {
            Version::HTTP_11 => !has_token(&headers, "close"),
            _ => has_token(&headers, "keep-alive"),
        };
    let mut response = Response::new(BackendBody::empty());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    if let Some(reason) = reason
        && let Ok(reason) = ReasonPhrase::try_from(reason)
    {
        response.extensions_mut().insert(reason);
    }
    Ok(Some(Some((response, framing, keep_alive))))
}

/// Whether the `Connection` field lists `token`.
fn has_token(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `host[:port]`, the port only when it is not the scheme's default (as hyper-util writes it).
fn host_header(authority: &Authority, https: bool) -> &str {
    let default = if https { 443 } else { 80 };
    match authority.port_u16() {
        Some(port) if port != default => authority.as_str(),
        _ => authority.host(),
    }
}

/// Where a response body's connection goes back to.
struct Home {
    pool: Weak<Shared>,
    https: bool,
    authority: Origin,
}

/// A backend response body, read from the connection as the caller polls it. Its last byte
/// read, the connection goes back to the pool; dropped before, the connection closes
/// (HTTP/1.1 cannot skip the rest of a body).
pub struct BackendBody {
    /// `None` once the body has ended.
    conn: Option<Box<Conn>>,
    framing: Framing,
    keep_alive: bool,
    home: Option<Home>,
}

impl std::fmt::Debug for BackendBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendBody")
            .field("framing", &self.framing)
            .field("ended", &self.conn.is_none())
            .finish_non_exhaustive()
    }
}

impl BackendBody {
    fn empty() -> Self {
        Self {
            conn: None,
            framing: Framing::Length(0),
            keep_alive: false,
            home: None,
        }
    }

    /// The body has ended: its connection goes back to the pool if it can carry another
    /// exchange (kept alive, nothing read past the body).
    fn finish(&mut self) {
        let (Some(conn), Some(home)) = (self.conn.take(), self.home.take()) else {
            return;
        };
        if !self.keep_alive || !conn.read.is_empty() {
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
                conn,
                since: Instant::now(),
            });
            !std::mem::replace(&mut idle.sweeping, true)
        };
        if start_sweeper {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn(sweep(Arc::downgrade(&shared)))),
                // No runtime to time it: the next check-in tries again.
                Err(_) => {
                    shared
                        .idle
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .sweeping = false
                }
            }
        }
    }

    /// The next frame from bytes already read, or `None` when more must be read first.
    fn decode(&mut self) -> Result<Option<Option<Frame<Bytes>>>, ProxyError> {
        let Some(conn) = &mut self.conn else {
            return Ok(Some(None));
        };
        let read = &mut conn.read;
        loop {
            match &mut self.framing {
                Framing::Length(0) => return Ok(Some(None)),
                Framing::Length(left) => {
                    if read.is_empty() {
                        return Ok(None);
                    }
                    let n = (*left).min(read.len() as u64) as usize;
                    *left -= n as u64;
                    return Ok(Some(Some(Frame::data(read.split_to(n).freeze()))));
                }
                Framing::UntilClose => {
                    if read.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some(Some(Frame::data(read.split().freeze()))));
                }
                Framing::Chunked(chunk) => match chunk {
                    Chunk::Size => match httparse::parse_chunk_size(read) {
                        Ok(httparse::Status::Complete((used, size))) => {
                            read.advance(used);
                            *chunk = if size == 0 {
                                Chunk::Trailers
                            } else {
                                Chunk::Data(size)
                            };
                        }
                        Ok(httparse::Status::Partial) => return Self::more(read),
                        Err(_) => return Err(ProxyError::InvalidResponse("invalid chunk size")),
                    },
                    Chunk::Data(left) => {
                        if read.is_empty() {
                            return Ok(None);
                        }
                        let n = (*left).min(read.len() as u64) as usize;
                        *left -= n as u64;
                        if *left == 0 {
                            *chunk = Chunk::DataEnd;
                        }
                        return Ok(Some(Some(Frame::data(read.split_to(n).freeze()))));
                    }
                    Chunk::DataEnd => {
                        if read.len() < 2 {
                            return Ok(None);
                        }
                        if &read[..2] != b"\r\n" {
                            return Err(ProxyError::InvalidResponse("chunk without its CRLF"));
                        }
                        read.advance(2);
                        *chunk = Chunk::Size;
                    }
                    Chunk::Trailers => {
                        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                        match httparse::parse_headers(read, &mut fields) {
                            Ok(httparse::Status::Complete((used, fields))) => {
                                let mut trailers = HeaderMap::new();
                                for f in fields.iter() {
                                    if let (Ok(name), Ok(value)) = (
                                        HeaderName::from_bytes(f.name.as_bytes()),
                                        HeaderValue::from_bytes(f.value),
                                    ) {
                                        trailers.append(name, value);
                                    }
                                }
                                read.advance(used);
                                self.framing = Framing::Length(0);
                                if !trailers.is_empty() {
                                    return Ok(Some(Some(Frame::trailers(trailers))));
                                }
                            }
                            Ok(httparse::Status::Partial) => return Self::more(read),
                            Err(_) => return Err(ProxyError::InvalidResponse("invalid trailers")),
                        }
                    }
                },
            }
        }
    }

    /// More bytes are needed for a chunk line or the trailers, within bounds.
    fn more(read: &BytesMut) -> Result<Option<Option<Frame<Bytes>>>, ProxyError> {
        if read.len() > MAX_HEAD_BYTES {
            return Err(ProxyError::InvalidResponse(
                "chunk line or trailers too large",
            ));
        }
        Ok(None)
    }
}

impl Body for BackendBody {
    type Data = Bytes;
    type Error = ProxyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ProxyError>>> {
        let this = &mut *self;
        loop {
            match this.decode() {
                Err(error) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(error)));
                }
                Ok(Some(None)) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(Some(Some(frame))) => {
                    // Its last byte is in hand: the connection can go back before the caller
                    // comes for the end (hyper's server may never ask, having the length).
                    if this.is_end_stream() {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Ok(None) => {}
            }
            let Some(conn) = &mut this.conn else {
                return Poll::Ready(None);
            };
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if this.framing == Framing::UntilClose => {
                    this.keep_alive = false;
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(ProxyError::Closed("body ended"))));
                }
                Ok(_) => {}
                Err(error) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(error.into())));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none() || self.framing == Framing::Length(0)
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

/// Closes idle connections as they pass the idle timeout; ends when none is left (the next
/// check-in starts another) or the pool is gone.
async fn sweep(pool: Weak<Shared>) {
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
                    let service = hyper::service::service_fn(
                        move |request: Request<hyper::body::Incoming>| {
                            let (parts, _) = request.into_parts();
                            async move { Ok::<_, std::convert::Infallible>(respond(&parts)) }
                        },
                    );
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

    async fn read(response: Response<BackendBody>) -> String {
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

    /// A raw backend: each connection reads one request head (and `body_len` body bytes, or a
    /// chunked body to its end) and writes `answer`, then keeps the connection open unless
    /// `close`. What it read arrives on the returned channel, one request per message.
    async fn raw_backend(
        answer: &'static [u8],
        close: bool,
    ) -> (
        std::net::SocketAddr,
        Arc<AtomicUsize>,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let opened = Arc::new(AtomicUsize::new(0));
        let (seen_tx, seen) = tokio::sync::mpsc::unbounded_channel();
        let o = opened.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                o.fetch_add(1, Ordering::SeqCst);
                let seen_tx = seen_tx.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    loop {
                        let mut buf = [0u8; 4096];
                        let Ok(n) = stream.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&got).into_owned();
                        let Some(end) = text.find("\r\n\r\n") else {
                            continue;
                        };
                        let head = text[..end].to_ascii_lowercase();
                        let body = &text[end + 4..];
                        let complete = if head.contains("transfer-encoding: chunked") {
                            body.ends_with("0\r\n\r\n")
                        } else if let Some(cl) = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                        {
                            body.len() >= cl.trim().parse::<usize>().unwrap()
                        } else {
                            true
                        };
                        if !complete {
                            continue;
                        }
                        let _ = seen_tx.send(text);
                        got.clear();
                        if stream.write_all(answer).await.is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        (addr, opened, seen)
    }

    fn with_body(addr: std::net::SocketAddr, body: TestBody) -> Request<TestBody> {
        let mut request = Request::new(body);
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = format!("http://{addr}/orders").parse().unwrap();
        request
    }

    #[tokio::test]
    async fn a_chunked_answer_with_extensions_and_trailers_is_decoded_and_the_connection_kept() {
        let (addr, opened, _) = raw_backend(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
              3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nx-sum: 19\r\n\r\n",
            false,
        )
        .await;
        let client = client();
        for _ in 0..2 {
            let collected = client
                .request(get(addr, "/"))
                .await
                .unwrap()
                .into_body()
                .collect()
                .await
                .unwrap();
            assert_eq!(collected.trailers().unwrap()["x-sum"], "19");
            assert_eq!(collected.to_bytes(), "abc0123456789abcdef");
        }
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_answer_without_length_is_read_to_the_close_and_its_connection_not_reused() {
        let (addr, opened, _) =
            raw_backend(b"HTTP/1.1 200 OK\r\nx-kind: eof\r\n\r\nuntil the end", true).await;
        let client = client();
        for _ in 0..2 {
            let response = client.request(get(addr, "/")).await.unwrap();
            assert!(response.body().size_hint().exact().is_none());
            assert_eq!(read(response).await, "until the end");
        }
        assert_eq!(opened.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn head_204_and_304_answers_have_no_body_whatever_their_length_says() {
        let (addr, opened, _) = raw_backend(
            b"HTTP/1.1 304 Not Modified\r\ncontent-length: 42\r\n\r\n",
            false,
        )
        .await;
        let client = client();
        for _ in 0..3 {
            let response = client.request(get(addr, "/")).await.unwrap();
            assert_eq!(response.status(), 304);
            assert_eq!(response.headers()["content-length"], "42");
            assert_eq!(read(response).await, "");
        }
        assert_eq!(opened.load(Ordering::SeqCst), 1, "the connection was kept");
    }

    #[tokio::test]
    async fn interim_answers_are_skipped_and_a_custom_reason_phrase_is_kept() {
        let (addr, _, _) = raw_backend(
            b"HTTP/1.1 100 Continue\r\n\r\n\
              HTTP/1.1 201 Made It\r\ncontent-length: 2\r\nx-a: 1\r\nx-a: 2\r\n\r\nok",
            false,
        )
        .await;
        let response = client().request(get(addr, "/")).await.unwrap();
        assert_eq!(response.status(), 201);
        let reason = response.extensions().get::<ReasonPhrase>().unwrap();
        assert_eq!(reason.as_bytes(), b"Made It");
        let values: Vec<_> = response.headers().get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert_eq!(read(response).await, "ok");
    }

    #[tokio::test]
    async fn request_bodies_go_with_their_length_or_chunked_and_a_bodyless_get_with_neither() {
        let (addr, opened, mut seen) =
            raw_backend(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).await;
        let client = client();
        let known = Full::new(Bytes::from("{\"a\":1}")).map_err(|e| match e {});
        client
            .request(with_body(addr, known.boxed_unsync()))
            .await
            .unwrap();
        let text = seen.recv().await.unwrap();
        assert!(text.starts_with("POST /orders HTTP/1.1\r\n"), "{text}");
        assert!(text.contains("content-length: 7\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n{\"a\":1}"), "{text}");

        let frames = futures_util::stream::iter([
            Ok::<_, BoxError>(Frame::data(Bytes::from("ab"))),
            Ok(Frame::data(Bytes::from("cde"))),
        ]);
        let streamed = http_body_util::StreamBody::new(frames).boxed_unsync();
        client.request(with_body(addr, streamed)).await.unwrap();
        let text = seen.recv().await.unwrap();
        assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
        assert!(
            text.ends_with("\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"),
            "{text}"
        );

        client.request(get(addr, "/menu")).await.unwrap();
        let text = seen.recv().await.unwrap();
        assert!(!text.contains("content-length") && !text.contains("transfer-encoding"));
        assert_eq!(opened.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failing_request_body_is_reported_as_its_own_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("client went away")]
        struct Gone;
        let (addr, _, _) =
            raw_backend(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).await;
        let frames = futures_util::stream::iter([
            Ok::<_, BoxError>(Frame::data(Bytes::from("ab"))),
            Err(Box::new(Gone) as BoxError),
        ]);
        let body = http_body_util::StreamBody::new(frames).boxed_unsync();
        let error = client().request(with_body(addr, body)).await.unwrap_err();
        let cause = std::error::Error::source(&error).unwrap();
        assert!(cause.is::<Gone>(), "{error}");
    }

    #[tokio::test]
    async fn malformed_answers_are_errors_not_panics() {
        for answer in [
            &b"HTTP/1.1 2000 Huge\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 2, 3\r\n\r\nok",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabXY",
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort",
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
            b"garbage\r\n\r\n",
        ] {
            let (addr, _, _) = raw_backend(answer, true).await;
            let outcome = match client().request(get(addr, "/")).await {
                Err(error) => Err(error.to_string()),
                Ok(response) => response
                    .into_body()
                    .collect()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            assert!(
                outcome.is_err(),
                "{:?} was accepted",
                String::from_utf8_lossy(answer)
            );
        }
    }

    #[tokio::test]
    async fn an_answer_with_both_framings_is_decoded_by_its_coding_without_its_length() {
        // The length (5) would cut the decoded body (11 bytes) if it were forwarded.
        let (addr, opened, _) = raw_backend(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n\
              b\r\nhello world\r\n0\r\n\r\n",
            false,
        )
        .await;
        let client = client();
        for _ in 0..2 {
            let response = client.request(get(addr, "/")).await.unwrap();
            assert!(!response.headers().contains_key(header::CONTENT_LENGTH));
            assert_eq!(read(response).await, "hello world");
        }
        assert_eq!(
            opened.load(Ordering::SeqCst),
            2,
            "such a connection is not reused"
        );
    }

    #[tokio::test]
    async fn a_chunked_http_1_0_answer_is_an_error() {
        let (addr, _, _) = raw_backend(
            b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            true,
        )
        .await;
        let error = client().request(get(addr, "/")).await.unwrap_err();
        assert!(error.to_string().contains("HTTP/1.0"), "{error}");
    }

    #[tokio::test]
    async fn a_refused_dial_is_a_connect_error() {
        let dead = crate::DeadPort::new().unwrap();
        let error = client().request(get(dead.addr(), "/")).await.unwrap_err();
        assert!(matches!(error, ProxyError::Connect(_)), "{error}");
    }

    /// A hyper backend that answers `/wait?s=N` after N seconds of tokio time.
    async fn slow_backend() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        |request: Request<hyper::body::Incoming>| async move {
                            let secs = request
                                .uri()
                                .query()
                                .and_then(|q| q.strip_prefix("s="))
                                .and_then(|s| s.parse().ok())
                                .unwrap_or(0);
                            tokio::time::sleep(Duration::from_secs(secs)).await;
                            Ok::<_, std::convert::Infallible>(text(&request.into_parts().0))
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        addr
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_head_later_than_the_timeout_is_a_timeout_error() {
        let addr = slow_backend().await;
        let client = client();
        let timeout = Duration::from_secs(60);
        let error = client
            .request_within(get(addr, "/wait?s=61"), timeout)
            .await
            .unwrap_err();
        assert!(matches!(error, ProxyError::Timeout), "{error}");
        // Within it, the answer comes (and, untimed, so does a slower one).
        let response = client
            .request_within(get(addr, "/wait?s=59"), timeout)
            .await;
        assert_eq!(read(response.unwrap()).await, format!("/wait?s=59 {addr}"));
        let response = client.request(get(addr, "/wait?s=61")).await;
        assert_eq!(read(response.unwrap()).await, format!("/wait?s=61 {addr}"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reused_connection_times_each_exchange_from_its_own_start() {
        let addr = slow_backend().await;
        let client = client();
        let timeout = Duration::from_secs(60);
        let response = client.request_within(get(addr, "/wait?s=0"), timeout).await;
        read(response.unwrap()).await;
        // The connection idles 20 s in the pool; its timer, armed for the first exchange,
        // would fire 60 s after that one began.
        tokio::time::sleep(Duration::from_secs(20)).await;
        let response = client
            .request_within(get(addr, "/wait?s=50"), timeout)
            .await;
        assert_eq!(read(response.unwrap()).await, format!("/wait?s=50 {addr}"));
        // Its timer fires unobserved at 80 s, while it idles again; the next exchange re-arms it.
        tokio::time::sleep(Duration::from_secs(25)).await;
        let response = client
            .request_within(get(addr, "/wait?s=59"), timeout)
            .await;
        assert_eq!(read(response.unwrap()).await, format!("/wait?s=59 {addr}"));
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
