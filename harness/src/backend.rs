//! Mock backends: the services an API's production and sandbox endpoints point at.
//!
//! Every response is JSON saying who served it, so a test can tell which endpoint a gateway
//! routed to:
//!
//! ```json
//! {"backend":"pizzashack-production","endpoint":"production","method":"GET",
//!  "path":"/pizzashack/menu","query":"","headers":{"host":"localhost:9080"}}
//! ```
//!
//! with the header `X-Tollgate-Backend: pizzashack-production`. A [`BackendControl`] makes the
//! backend slow, failing, or resetting connections; faults are values of [`Fault`] so later
//! fault kinds are new variants, not new methods. Its `Date` is the topology's clock, as a
//! node's is.
//!
//! Under simulation a backend writes each exchange it answers into the transcript ([`Recorder`]):
//! the gateways' requests are recorded where they arrive, so the gateway's request path never
//! looks at a transcript.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tollgate_net::Listener;
use tollgate_protocol::SharedClock;
use tracing::Instrument;

/// The header naming the backend that served a response.
pub const BACKEND_HEADER: &str = "x-tollgate-backend";

/// How long a reset-mode backend waits for a request before closing an idle connection.
const RESET_WAIT: Duration = Duration::from_secs(5);

/// What a backend is told to do wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Answer normally.
    #[default]
    None,
    /// Answer every request with this status (and the usual JSON body).
    Fail(StatusCode),
    /// Close every connection with a TCP reset as soon as a request arrives.
    Reset,
    /// Read each request and never answer it (until the fault changes): a timeout upstream.
    Hang,
}

#[derive(Debug, Default)]
struct State {
    latency: Duration,
    fault: Fault,
}

/// A handle to a running backend's behaviour. Cheap to clone; every clone controls the same
/// backend.
#[derive(Debug, Clone)]
pub struct BackendControl {
    state: Arc<Mutex<State>>,
    served: Arc<AtomicU64>,
    /// Wakes hung requests when the fault changes.
    changed: Arc<tokio::sync::Notify>,
}

impl BackendControl {
    fn new() -> Self {
        Self {
            state: Arc::default(),
            served: Arc::default(),
            changed: Arc::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A poisoned lock means a test thread panicked while holding it; the state is plain data.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    /// Adds `latency` before every response (tokio time: paused-time tests see it instantly).
    pub fn set_latency(&self, latency: Duration) {
        self.with(|s| s.latency = latency);
    }

    pub fn set_fault(&self, fault: Fault) {
        self.with(|s| s.fault = fault);
        self.changed.notify_waiters();
    }

    /// Back to normal: no latency, no fault.
    pub fn heal(&self) {
        self.with(|s| *s = State::default());
        self.changed.notify_waiters();
    }

    /// A scenario's backend fault step.
    pub fn apply(&self, change: &tollgate_scenario::BackendChange) -> Result<(), String> {
        use tollgate_scenario::BackendChange;
        match *change {
            BackendChange::Latency(latency) => self.set_latency(latency),
            BackendChange::Reset => self.set_fault(Fault::Reset),
            BackendChange::Timeout => self.set_fault(Fault::Hang),
            BackendChange::Heal => self.heal(),
            BackendChange::Status(code) => {
                let status =
                    StatusCode::from_u16(code).map_err(|e| format!("status {code}: {e}"))?;
                self.set_fault(Fault::Fail(status));
            }
        }
        Ok(())
    }

    /// Resolves once the fault is no longer [`Fault::Hang`].
    async fn hang_over(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.fault() != Fault::Hang {
                return;
            }
            changed.await;
        }
    }

    pub fn latency(&self) -> Duration {
        self.with(|s| s.latency)
    }

    pub fn fault(&self) -> Fault {
        self.with(|s| s.fault)
    }

    /// Requests answered so far (faulted answers included, resets not).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

/// What a backend is: a name and which API endpoint it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendIdentity {
    /// `pizzashack-production`.
    pub name: String,
    /// `production` or `sandbox`: the endpoint kind it stands for.
    pub endpoint: String,
}

/// The JSON body every backend answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Echo {
    pub backend: String,
    pub endpoint: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: BTreeMap<String, String>,
    /// The `X-JWT-Assertion` a gateway sent (`[apim.jwt]`), decoded as a backend reads it:
    /// `{"header": {…}, "claims": {…}}`, the signature not checked. Absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_jwt: Option<serde_json::Value>,
}

/// A JWT's header and claims, each part in base64 or base64url (WSO2 writes either, unpadded).
fn decode_backend_jwt(token: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let part = |text: &str| -> Option<serde_json::Value> {
        let text = text.trim_end_matches('=');
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let mut parts = token.split('.');
    let header = part(parts.next()?)?;
    let claims = part(parts.next()?)?;
    Some(serde_json::json!({"header": header, "claims": claims}))
}

/// Where a backend records the exchanges it answers, and who its peers are: the sender of a
/// request is the member whose address the connection comes from (under simulation each
/// member is a host of its own). A connection from an address not in `peers` (the runner's,
/// which records its own exchanges) is not recorded.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub slot: crate::transcript::TapSlot,
    pub peers: Arc<BTreeMap<std::net::IpAddr, String>>,
}

/// One connection's recorder: the slot, and the member that sent it.
type Recording = Option<(crate::transcript::TapSlot, Arc<str>)>;

/// A running backend.
#[derive(Debug)]
pub struct RunningBackend {
    pub identity: BackendIdentity,
    pub local_addr: SocketAddr,
    pub control: BackendControl,
    task: tokio::task::JoinHandle<()>,
    shutdown: CancellationToken,
}

impl RunningBackend {
    /// Stops accepting and drops open connections.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// Serves `identity` on `listener` until `shutdown` fires (or [`RunningBackend::shutdown`]),
/// dating its answers by `clock`.
pub fn spawn<L>(
    identity: BackendIdentity,
    listener: L,
    clock: SharedClock,
    shutdown: CancellationToken,
) -> std::io::Result<RunningBackend>
where
    L: Listener,
    L::Io: BackendIo,
{
    spawn_recorded(identity, listener, clock, shutdown, None)
}

/// [`spawn`], each exchange answered written by `recorder` when there is one.
pub fn spawn_recorded<L>(
    identity: BackendIdentity,
    listener: L,
    clock: SharedClock,
    shutdown: CancellationToken,
    recorder: Option<Recorder>,
) -> std::io::Result<RunningBackend>
where
    L: Listener,
    L::Io: BackendIo,
{
    let local_addr = listener.local_addr()?;
    let control = BackendControl::new();
    let shutdown = shutdown.child_token();
    let task = tokio::spawn(accept_loop(
        Arc::new(identity.clone()),
        listener,
        control.clone(),
        clock,
        shutdown.clone(),
        recorder,
    ));
    Ok(RunningBackend {
        identity,
        local_addr,
        control,
        task,
        shutdown,
    })
}

/// A backend's connection: a socket that can wait for a request to arrive unread.
pub trait BackendIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {
    /// Resolves once bytes are waiting to be read (or the peer closed).
    fn arrived(&mut self) -> impl std::future::Future<Output = ()> + Send;
}

impl BackendIo for tokio::net::TcpStream {
    async fn arrived(&mut self) {
        let _ = self.readable().await;
    }
}

/// A backend on a simulated host (`--driver sim`).
impl BackendIo for turmoil::net::TcpStream {
    async fn arrived(&mut self) {
        let mut byte = [0u8; 1];
        let _ = self.peek(&mut byte).await;
    }
}

async fn accept_loop<L>(
    identity: Arc<BackendIdentity>,
    listener: L,
    control: BackendControl,
    clock: SharedClock,
    shutdown: CancellationToken,
    recorder: Option<Recorder>,
) where
    L: Listener,
    L::Io: BackendIo,
{
    let span = tracing::info_span!("backend", name = %identity.name);
    // Not `tollgate_net::serve`: a backend keeps hyper's own limits and no header-read timeout,
    // and in reset mode must not speak HTTP at all.
    tollgate_net::accept_loop(listener, shutdown, move |mut stream, remote| {
        // Decided at accept, as the connection arrives.
        let reset = control.fault() == Fault::Reset;
        let identity = identity.clone();
        let control = control.clone();
        let clock = clock.clone();
        let recording: Recording = recorder.as_ref().and_then(|r| {
            let from = r.peers.get(&remote.ip())?;
            Some((r.slot.clone(), from.as_str().into()))
        });
        async move {
            if reset {
                // Closing a socket with unread data makes Linux send RST instead of FIN: wait for
                // the request to arrive, then drop it unread.
                let _ = tokio::time::timeout(RESET_WAIT, stream.arrived()).await;
                drop(stream);
                return;
            }
            let service = hyper::service::service_fn(move |req| {
                respond(
                    identity.clone(),
                    control.clone(),
                    clock.clone(),
                    recording.clone(),
                    req,
                )
            });
            let _ = hyper::server::conn::http1::Builder::new()
                // The date is the clock's (`respond`), not the system's.
                .auto_date_header(false)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    })
    .instrument(span)
    .await;
}

/// Error returned to hyper to close a connection that turned to reset mode mid keep-alive.
#[derive(Debug, thiserror::Error)]
#[error("backend is resetting connections")]
struct ResetConnection;

async fn respond(
    identity: Arc<BackendIdentity>,
    control: BackendControl,
    clock: SharedClock,
    recording: Recording,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let (latency, fault) = control.with(|s| (s.latency, s.fault));
    let (parts, body) = req.into_parts();
    let mut record = ExchangeRecord::begin(recording, &identity.name, &parts);
    if fault == Fault::Reset {
        // Its head read, its body not: the connection is reset instead of any answer.
        record.unanswered(None, "reset by the backend");
        return Err(ResetConnection);
    }
    // Read the body so keep-alive connections stay usable; its content is not echoed.
    let received = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    record.received(&received);
    let response = answer(&identity, &control, &clock, &parts, latency, fault).await;
    record.answered(&response);
    Ok(response.map(Full::new))
}

/// The transcript record of one request a backend took, when its connection is recorded. A
/// request dropped before its answer (its sender closed the connection while the backend
/// hung, or the backend stopped) is recorded as unanswered when it is dropped.
struct ExchangeRecord {
    open: Option<OpenRecord>,
}

struct OpenRecord {
    slot: crate::transcript::TapSlot,
    from: Arc<str>,
    to: String,
    request: serde_json::Value,
}

impl ExchangeRecord {
    fn begin(recording: Recording, to: &str, parts: &http::request::Parts) -> Self {
        let open = recording
            .filter(|(slot, _)| slot.exchanges())
            .map(|(slot, from)| OpenRecord {
                slot,
                from,
                to: to.to_owned(),
                request: serde_json::json!({
                    "method": parts.method.as_str(),
                    "url": parts.uri.path_and_query().map_or("/", |p| p.as_str()),
                    "headers": tollgate_net::exchange::headers(&parts.headers),
                }),
            });
        Self { open }
    }

    fn received(&mut self, body: &[u8]) {
        if let Some(open) = &mut self.open {
            open.request["body"] = tollgate_net::exchange::body(body);
        }
    }

    fn answered(&mut self, response: &Response<Bytes>) {
        use tollgate_net::exchange::{body, headers};
        if let Some(open) = self.open.take() {
            let answered = serde_json::json!({
                "status": response.status().as_u16(),
                "headers": headers(response.headers()),
                "body": body(response.body()),
            });
            open.write(serde_json::json!({ "request": open.request, "response": answered }));
        }
    }

    /// No answer: `body` when it was read, and why.
    fn unanswered(&mut self, body: Option<&[u8]>, why: &str) {
        if let Some(body) = body {
            self.received(body);
        }
        if let Some(open) = self.open.take() {
            open.write(serde_json::json!({ "request": open.request, "error": why }));
        }
    }
}

impl OpenRecord {
    fn write(&self, exchange: serde_json::Value) {
        self.slot.exchange(&self.from, &self.to, exchange);
    }
}

impl Drop for ExchangeRecord {
    fn drop(&mut self) {
        self.unanswered(None, "not answered: the request was dropped first");
    }
}

/// The answer to a request of `parts`, once the fault and latency allow.
async fn answer(
    identity: &BackendIdentity,
    control: &BackendControl,
    clock: &SharedClock,
    parts: &http::request::Parts,
    latency: Duration,
    fault: Fault,
) -> Response<Bytes> {
    if fault == Fault::Hang {
        control.hang_over().await;
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let echo = Echo {
        backend: identity.name.clone(),
        endpoint: identity.endpoint.clone(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        backend_jwt: parts
            .headers
            .get("x-jwt-assertion")
            .and_then(|v| v.to_str().ok())
            .and_then(decode_backend_jwt),
    };
    let body = serde_json::to_vec(&echo).unwrap_or_default();
    let status = match fault {
        Fault::Fail(status) => status,
        _ => StatusCode::OK,
    };
    control.served.fetch_add(1, Ordering::Relaxed);
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(&identity.name) {
        headers.insert(BACKEND_HEADER, value);
    }
    headers.insert(http::header::DATE, tollgate_net::listen::date_header(clock));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// 2026-01-01T00:00:00Z, the in-process driver's virtual start.
    const START: i64 = 1_767_225_600_000;

    async fn start() -> RunningBackend {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        spawn(
            BackendIdentity {
                name: "pizzashack-production".into(),
                endpoint: "production".into(),
            },
            listener,
            Arc::new(tollgate_protocol::ManualClock::new(START)),
            CancellationToken::new(),
        )
        .unwrap()
    }

    async fn raw_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut out = String::new();
        stream.read_to_string(&mut out).await?;
        Ok(out)
    }

    #[tokio::test]
    async fn every_response_names_the_backend_and_echoes_the_request() {
        let backend = start().await;
        let response = raw_get(backend.local_addr, "/pizzashack/menu?size=large")
            .await
            .unwrap();
        assert!(response.starts_with("HTTP/1.1 200"));
        assert!(response.contains("x-tollgate-backend: pizzashack-production"));
        let body = response.split("\r\n\r\n").nth(1).unwrap();
        let echo: Echo = serde_json::from_str(body).unwrap();
        assert_eq!(echo.backend, "pizzashack-production");
        assert_eq!(echo.endpoint, "production");
        assert_eq!(echo.path, "/pizzashack/menu");
        assert_eq!(echo.query, "size=large");
        assert_eq!(echo.headers["host"], "localhost");
        assert_eq!(backend.control.served(), 1);
        backend.shutdown().await;
    }

    #[tokio::test]
    async fn the_date_is_the_injected_clocks_not_the_systems() {
        let backend = start().await;
        let response = raw_get(backend.local_addr, "/").await.unwrap();
        let lower = response.to_ascii_lowercase();
        assert_eq!(lower.matches("\r\ndate:").count(), 1, "{response}");
        assert!(
            lower.contains("date: thu, 01 jan 2026 00:00:00 gmt"),
            "{response}"
        );
        backend.shutdown().await;
    }

    #[tokio::test]
    async fn a_failing_backend_answers_with_the_status_it_was_given() {
        let backend = start().await;
        backend
            .control
            .set_fault(Fault::Fail(StatusCode::SERVICE_UNAVAILABLE));
        let response = raw_get(backend.local_addr, "/x").await.unwrap();
        assert!(response.starts_with("HTTP/1.1 503"));
        backend.control.heal();
        let response = raw_get(backend.local_addr, "/x").await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"));
        backend.shutdown().await;
    }

    #[tokio::test]
    async fn a_resetting_backend_answers_nothing() {
        let backend = start().await;
        backend.control.set_fault(Fault::Reset);
        let outcome = raw_get(backend.local_addr, "/x").await;
        match outcome {
            Ok(text) => assert!(text.is_empty(), "got {text}"),
            Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
        }
        assert_eq!(backend.control.served(), 0);
        backend.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_backend_waits_in_tokio_time() {
        let backend = start().await;
        backend.control.set_latency(Duration::from_secs(30));
        let started = tokio::time::Instant::now();
        let response = raw_get(backend.local_addr, "/x").await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"));
        assert!(started.elapsed() >= Duration::from_secs(30));
        backend.shutdown().await;
    }
}
