//! The in-process fault layer: partitions and pauses between named instances.
//!
//! The harness owns one [`FaultPlane`] per topology and hands it to every node: to its
//! [`Outbound`](crate::Outbound) (`Outbound::with_faults(plane, "gateway-1")`) and to each
//! of its listeners ([`FaultPlane::listener`]). Instances are named as the topology names them;
//! addresses are mapped to instances by [`FaultPlane::register`] (done by `listener` for the
//! listener it wraps).
//!
//! | fault | new connections | established connections | listeners |
//! |---|---|---|---|
//! | `partition(a, b)` | a→b and b→a refused (`ConnectionRefused`, at once, no timeout) | broken: IO returns `ConnectionReset`, even after `heal` | unchanged |
//! | `pause(a)` | a's own connects wait for `resume` | every IO on a's accepted and outbound connections stalls (`Pending`) until `resume` | accepted connections are held until `resume` (the kernel's backlog) |
//!
//! Partitions refuse rather than drop: a refused connect is what a peer on an unreachable or
//! firewalled-with-reject path returns, it keeps tests bounded without waiting on connect
//! timeouts, and a hang is what [`FaultPlane::pause`] is for.
//!
//! Who is on the other end: an outbound connection's destination is the instance registered for
//! the socket address it reached; an accepted connection's source is known when the connecting
//! side is a fault-aware `Outbound` of the same plane (it records its ephemeral address). Traffic
//! from outside the plane (a test's own client) is never partitioned, but its connections to a
//! paused instance stall all the same.
//!
//! Cost: a connection made without a plane is the plain socket behind one `Option` check. With
//! a plane, each poll loads one atomic generation counter; only when it moved (a fault changed)
//! does the connection take a lock to re-evaluate, and when the socket is not ready it registers
//! its waker so a fault change breaks or stalls it at once, not on its next byte.

use futures_util::task::AtomicWaker;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll};
use tokio::sync::watch;

/// One topology's faults. Cheap to clone: clones share the state.
#[derive(Clone, Default)]
pub struct FaultPlane {
    inner: Arc<Plane>,
}

impl fmt::Debug for FaultPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("FaultPlane")
            .field("partitions", &state.partitions)
            .field("paused", &state.paused)
            .finish_non_exhaustive()
    }
}

struct Plane {
    /// Bumped on every fault change: the per-poll fast path compares against it.
    generation: AtomicU64,
    /// Same generation, for tasks that await a change (connects, accepts).
    changed: watch::Sender<u64>,
    state: Mutex<State>,
}

impl Default for Plane {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(0),
            changed: watch::Sender::new(0),
            state: Mutex::new(State::default()),
        }
    }
}

#[derive(Default)]
struct State {
    /// Unordered pairs, stored with the smaller name first.
    partitions: BTreeSet<(Arc<str>, Arc<str>)>,
    paused: BTreeSet<Arc<str>>,
    /// Listener address → instance.
    listeners: HashMap<SocketAddr, Arc<str>>,
    /// Ephemeral address of a fault-aware outbound connection → its instance.
    clients: HashMap<SocketAddr, Arc<str>>,
    /// Every live attached connection, woken when a fault changes.
    connections: Vec<Weak<Conn>>,
}

impl State {
    fn partitioned(&self, a: &str, b: &str) -> bool {
        let (x, y) = if a <= b { (a, b) } else { (b, a) };
        self.partitions
            .iter()
            .any(|(p, q)| p.as_ref() == x && q.as_ref() == y)
    }

    fn verdict(&self, conn: &Conn) -> Verdict {
        let peer = match conn.peer.get() {
            Some(peer) => Some(peer.clone()),
            None => {
                let found = match conn.side {
                    Side::Outbound => self.listeners.get(&conn.remote),
                    Side::Accepted => self.clients.get(&conn.remote),
                };
                found.map(|peer| conn.peer.get_or_init(|| peer.clone()).clone())
            }
        };
        if let Some(peer) = &peer
            && self.partitioned(&conn.local, peer)
        {
            return Verdict::Broken;
        }
        if self.paused.contains(&conn.local) {
            return Verdict::Stalled;
        }
        Verdict::Flowing
    }
}

fn pair(a: &str, b: &str) -> (Arc<str>, Arc<str>) {
    if a <= b {
        (a.into(), b.into())
    } else {
        (b.into(), a.into())
    }
}

impl FaultPlane {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere mid-update of plain collections.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Says that connections to `addr` reach `instance`. Call once for every listener bound.
    pub fn register(&self, addr: SocketAddr, instance: &str) {
        self.lock().listeners.insert(addr, instance.into());
    }

    /// Forgets `addr` (its listener was dropped for good).
    pub fn unregister(&self, addr: SocketAddr) {
        self.lock().listeners.remove(&addr);
    }

    /// The instance registered for `addr`.
    pub fn instance_at(&self, addr: SocketAddr) -> Option<String> {
        self.lock()
            .listeners
            .get(&addr)
            .map(|name| name.to_string())
    }

    /// Wraps `listener` as `instance`'s and registers its address.
    pub fn listener<L: crate::Listener>(
        &self,
        listener: L,
        instance: &str,
    ) -> io::Result<FaultListener<L>> {
        self.register(listener.local_addr()?, instance);
        Ok(FaultListener {
            inner: listener,
            plane: self.clone(),
            instance: instance.into(),
        })
    }

    /// Cuts `a` and `b` apart: new connections between them are refused, established ones reset.
    pub fn partition(&self, a: &str, b: &str) {
        self.change(|state| {
            state.partitions.insert(pair(a, b));
        });
    }

    /// Undoes [`partition`](Self::partition) for new connections (broken ones stay broken).
    pub fn heal(&self, a: &str, b: &str) {
        self.change(|state| {
            state.partitions.remove(&pair(a, b));
        });
    }

    /// Freezes `instance`'s network: a hang, not a crash.
    pub fn pause(&self, instance: &str) {
        self.change(|state| {
            state.paused.insert(instance.into());
        });
    }

    pub fn resume(&self, instance: &str) {
        self.change(|state| {
            state.paused.remove(instance);
        });
    }

    /// Heals every partition and resumes every instance.
    pub fn clear(&self) {
        self.change(|state| {
            state.partitions.clear();
            state.paused.clear();
        });
    }

    pub fn is_partitioned(&self, a: &str, b: &str) -> bool {
        self.lock().partitioned(a, b)
    }

    pub fn is_paused(&self, instance: &str) -> bool {
        self.lock().paused.contains(instance)
    }

    fn change(&self, apply: impl FnOnce(&mut State)) {
        let wake = {
            let mut state = self.lock();
            apply(&mut state);
            let generation = self.inner.generation.fetch_add(1, Ordering::AcqRel) + 1;
            self.inner.changed.send_replace(generation);
            state.connections.retain(|conn| conn.strong_count() > 0);
            state
                .connections
                .iter()
                .filter_map(Weak::upgrade)
                .collect::<Vec<_>>()
        };
        // Wake outside the lock: a woken task may poll at once on another thread.
        for conn in wake {
            conn.read.wake();
            conn.write.wake();
        }
    }

    /// Returns once `instance` is not paused.
    pub async fn wait_resumed(&self, instance: &str) {
        let mut changed = self.inner.changed.subscribe();
        // Subscribe first, then look: a resume between the two is not lost.
        while self.is_paused(instance) {
            if changed.changed().await.is_err() {
                return;
            }
        }
    }

    fn attach(&self, local: Arc<str>, remote: SocketAddr, side: Side) -> ConnFault {
        let conn = Arc::new(Conn {
            local,
            remote,
            side,
            peer: OnceLock::new(),
            read: AtomicWaker::new(),
            write: AtomicWaker::new(),
            client_addr: None,
        });
        self.finish_attach(conn)
    }

    fn finish_attach(&self, conn: Arc<Conn>) -> ConnFault {
        let mut state = self.lock();
        // Prune now and then so churned connections do not pile up.
        if state.connections.len() >= 64 && state.connections.len().is_power_of_two() {
            state.connections.retain(|conn| conn.strong_count() > 0);
        }
        state.connections.push(Arc::downgrade(&conn));
        let verdict = state.verdict(&conn);
        drop(state);
        ConnFault {
            plane: self.clone(),
            seen: self.inner.generation.load(Ordering::Acquire),
            verdict,
            conn,
        }
    }

    /// Checks a fresh outbound TCP connection of `local` and attaches it, or refuses it.
    pub(crate) fn connected(
        &self,
        local: &Arc<str>,
        own_addr: SocketAddr,
        remote: SocketAddr,
    ) -> io::Result<ConnFault> {
        let peer = {
            let mut state = self.lock();
            let peer = state.listeners.get(&remote).cloned();
            if let Some(peer) = &peer
                && state.partitioned(local, peer)
            {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!("fault layer: `{local}` and `{peer}` are partitioned"),
                ));
            }
            state.clients.insert(own_addr, local.clone());
            peer
        };
        let conn = Arc::new(Conn {
            local: local.clone(),
            remote,
            side: Side::Outbound,
            peer: peer.map(OnceLock::from).unwrap_or_default(),
            read: AtomicWaker::new(),
            write: AtomicWaker::new(),
            client_addr: Some(own_addr),
        });
        Ok(self.finish_attach(conn))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Outbound,
    Accepted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Flowing,
    Stalled,
    /// Sticky: a reset connection stays dead after a heal, as a real one does.
    Broken,
}

struct Conn {
    local: Arc<str>,
    remote: SocketAddr,
    side: Side,
    peer: OnceLock<Arc<str>>,
    read: AtomicWaker,
    write: AtomicWaker,
    /// The ephemeral address recorded in `State::clients`, removed on drop.
    client_addr: Option<SocketAddr>,
}

/// The fault state one attached connection carries.
pub(crate) struct ConnFault {
    plane: FaultPlane,
    conn: Arc<Conn>,
    seen: u64,
    verdict: Verdict,
}

impl Drop for ConnFault {
    fn drop(&mut self) {
        if let Some(addr) = self.conn.client_addr {
            self.plane.lock().clients.remove(&addr);
        }
    }
}

#[derive(Clone, Copy)]
enum Dir {
    Read,
    Write,
}

impl ConnFault {
    fn refresh(&mut self) {
        let generation = self.plane.inner.generation.load(Ordering::Acquire);
        if generation != self.seen {
            self.seen = generation;
            if self.verdict != Verdict::Broken {
                self.verdict = self.plane.lock().verdict(&self.conn);
            }
        }
    }

    fn waker(&self, dir: Dir) -> &AtomicWaker {
        match dir {
            Dir::Read => &self.conn.read,
            Dir::Write => &self.conn.write,
        }
    }

    /// Ready(Ok) = go on with the IO; Ready(Err) = the connection is reset; Pending = stalled.
    fn gate(&mut self, cx: &mut Context<'_>, dir: Dir) -> Poll<io::Result<()>> {
        loop {
            self.refresh();
            match self.verdict {
                Verdict::Flowing => return Poll::Ready(Ok(())),
                Verdict::Broken => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "fault layer: connection reset by a partition",
                    )));
                }
                Verdict::Stalled => {
                    self.waker(dir).register(cx.waker());
                    // A change between the check and the registration would be lost: look again.
                    if self.plane.inner.generation.load(Ordering::Acquire) == self.seen {
                        return Poll::Pending;
                    }
                }
            }
        }
    }

    /// The socket is not ready: be woken by a fault change as well.
    fn park(&mut self, cx: &mut Context<'_>, dir: Dir) {
        self.waker(dir).register(cx.waker());
        if self.plane.inner.generation.load(Ordering::Acquire) != self.seen {
            cx.waker().wake_by_ref();
        }
    }
}

/// A connection, plain or under a [`FaultPlane`].
pub struct FaultIo<T> {
    inner: T,
    fault: Option<Box<ConnFault>>,
}

impl<T: fmt::Debug> fmt::Debug for FaultIo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultIo")
            .field("inner", &self.inner)
            .field("attached", &self.fault.is_some())
            .finish()
    }
}

impl<T> FaultIo<T> {
    /// A connection no fault touches.
    pub fn plain(inner: T) -> Self {
        Self { inner, fault: None }
    }

    pub(crate) fn attached(inner: T, fault: ConnFault) -> Self {
        Self {
            inner,
            fault: Some(Box::new(fault)),
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// Runs one IO poll through the gate: stalled or reset first, then the socket, then a waker
/// registration when the socket is not ready.
macro_rules! gated {
    ($self:ident, $cx:ident, $dir:expr, |$inner:ident| $poll:expr) => {{
        let this = $self.get_mut();
        match &mut this.fault {
            None => {
                let $inner = Pin::new(&mut this.inner);
                $poll
            }
            Some(fault) => {
                match fault.gate($cx, $dir) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
                let $inner = Pin::new(&mut this.inner);
                let result = $poll;
                if result.is_pending() {
                    fault.park($cx, $dir);
                }
                result
            }
        }
    }};
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for FaultIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        gated!(self, cx, Dir::Read, |inner| inner.poll_read(cx, buf))
    }
}

/// The write half, the same for tokio's `AsyncWrite` and hyper's `Write`: their methods share
/// names and signatures.
macro_rules! gated_write_methods {
    () => {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            gated!(self, cx, Dir::Write, |inner| inner.poll_write(cx, buf))
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            gated!(self, cx, Dir::Write, |inner| inner.poll_flush(cx))
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            gated!(self, cx, Dir::Write, |inner| inner.poll_shutdown(cx))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            gated!(self, cx, Dir::Write, |inner| inner
                .poll_write_vectored(cx, bufs))
        }

        fn is_write_vectored(&self) -> bool {
            self.inner.is_write_vectored()
        }
    };
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for FaultIo<T> {
    gated_write_methods!();
}

impl<T: hyper::rt::Read + Unpin> hyper::rt::Read for FaultIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        gated!(self, cx, Dir::Read, |inner| inner.poll_read(cx, buf))
    }
}

impl<T: hyper::rt::Write + Unpin> hyper::rt::Write for FaultIo<T> {
    gated_write_methods!();
}

impl<T: hyper_util::client::legacy::connect::Connection>
    hyper_util::client::legacy::connect::Connection for FaultIo<T>
{
    fn connected(&self) -> hyper_util::client::legacy::connect::Connected {
        self.inner.connected()
    }
}

/// An instance's listener under a [`FaultPlane`]: while the instance is paused, accepted
/// connections are held (as a kernel's backlog holds them) and handed over on resume; every
/// accepted connection's IO goes through the plane.
pub struct FaultListener<L> {
    inner: L,
    plane: FaultPlane,
    instance: Arc<str>,
}

impl<L> fmt::Debug for FaultListener<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultListener")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl<L> FaultListener<L> {
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn get_ref(&self) -> &L {
        &self.inner
    }
}

impl<L: crate::Listener> crate::Listener for FaultListener<L> {
    type Io = FaultIo<L::Io>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (io, remote) = self.inner.accept().await?;
        self.plane.wait_resumed(&self.instance).await;
        let fault = self
            .plane
            .attach(self.instance.clone(), remote, Side::Accepted);
        Ok((FaultIo::attached(io, fault), remote))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::{DEFAULT_CERT_PEM, DEFAULT_KEY_PEM, server_config};
    use crate::{HostMap, Listener, Outbound, serve};
    use bytes::Bytes;
    use http::{Request, Response, StatusCode};
    use http_body_util::{BodyExt, Empty, Full};
    use hyper::body::Incoming;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    const BOUND: Duration = Duration::from_secs(5);

    /// A server that answers 200 "ok" and counts requests, and the flag it reads on each.
    struct Server {
        addr: SocketAddr,
        hits: Arc<AtomicUsize>,
        shutdown: CancellationToken,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.shutdown.cancel();
        }
    }

    async fn start<L: Listener>(listener: L, tls: bool) -> Server {
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok")))) }
        });
        let shutdown = CancellationToken::new();
        let tls = tls.then(|| server_config(DEFAULT_CERT_PEM, DEFAULT_KEY_PEM).unwrap());
        let clock: tollgate_protocol::SharedClock =
            Arc::new(tollgate_protocol::ManualClock::new(0));
        tokio::spawn(serve(listener, tls, service, clock, shutdown.clone()));
        Server {
            addr,
            hits,
            shutdown,
        }
    }

    async fn bind() -> tokio::net::TcpListener {
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
    }

    fn fresh() -> Outbound {
        Outbound::new(HostMap::new(), &[DEFAULT_CERT_PEM]).unwrap()
    }

    async fn get(
        client: &crate::HttpClient<Empty<Bytes>>,
        url: &str,
    ) -> Result<(StatusCode, Bytes), hyper_util::client::legacy::Error> {
        let response = tokio::time::timeout(BOUND, client.get(url.parse().unwrap()))
            .await
            .unwrap()?;
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Ok((status, body))
    }

    fn caused_by(error: &(dyn std::error::Error + 'static), kind: io::ErrorKind) -> bool {
        let mut source = Some(error);
        while let Some(error) = source {
            if error
                .downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == kind)
            {
                return true;
            }
            source = error.source();
        }
        false
    }

    #[tokio::test]
    async fn partition_resets_established_connections_refuses_new_ones_and_heal_restores() {
        let plane = FaultPlane::new();
        let server = start(plane.listener(bind().await, "b").unwrap(), false).await;
        let url = format!("http://{}/", server.addr);
        let outbound = fresh().with_faults(plane.clone(), "a");

        // An established keep-alive connection, driven by its own task.
        let mut connector = outbound.connector();
        let io = tower::ServiceExt::oneshot(&mut connector, url.parse().unwrap())
            .await
            .unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let _ = ended_tx.send(connection.await);
        });
        let request = Request::get(&url).body(Empty::<Bytes>::new()).unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body().collect().await.unwrap();

        plane.partition("b", "a");
        assert!(plane.is_partitioned("a", "b"));
        let ended = tokio::time::timeout(BOUND, ended_rx)
            .await
            .unwrap()
            .unwrap();
        let error = ended.expect_err("the idle connection is reset by the partition");
        assert!(
            caused_by(&error, io::ErrorKind::ConnectionReset),
            "{error:?}"
        );

        let client = outbound.client::<Empty<Bytes>>();
        let error = get(&client, &url)
            .await
            .expect_err("refused while partitioned");
        assert!(error.is_connect(), "{error:?}");
        assert!(
            caused_by(&error, io::ErrorKind::ConnectionRefused),
            "{error:?}"
        );

        // Instances outside the pair are not affected.
        let bystander = fresh().with_faults(plane.clone(), "c").client();
        assert_eq!(get(&bystander, &url).await.unwrap().0, StatusCode::OK);

        plane.heal("a", "b");
        assert_eq!(
            get(&client, &url).await.unwrap(),
            (StatusCode::OK, Bytes::from_static(b"ok"))
        );
    }

    #[tokio::test]
    async fn partition_applies_over_https_too() {
        let plane = FaultPlane::new();
        let server = start(plane.listener(bind().await, "gw").unwrap(), true).await;
        let url = format!("https://localhost:{}/", server.addr.port());
        let client = fresh().with_faults(plane.clone(), "lb").client();
        assert_eq!(get(&client, &url).await.unwrap().0, StatusCode::OK);
        plane.partition("lb", "gw");
        assert!(get(&client, &url).await.unwrap_err().is_connect());
        plane.heal("lb", "gw");
        assert_eq!(get(&client, &url).await.unwrap().0, StatusCode::OK);
    }

    #[tokio::test]
    async fn paused_instance_answers_only_after_resume() {
        let plane = FaultPlane::new();
        let server = start(plane.listener(bind().await, "gw").unwrap(), false).await;
        let url = format!("http://{}/", server.addr);
        // The caller is outside the plane: the pause is the server's alone.
        let client = fresh().client::<Empty<Bytes>>();
        assert_eq!(get(&client, &url).await.unwrap().0, StatusCode::OK);

        plane.pause("gw");
        let resumed = Arc::new(AtomicBool::new(false));
        let seen = resumed.clone();
        let mut request = tokio::spawn({
            let client = client.clone();
            let url = url.clone();
            async move {
                let answer = get(&client, &url).await;
                (answer, seen.load(Ordering::SeqCst))
            }
        });
        // Bounded check that nothing comes back while paused (a hang, not an error).
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut request)
                .await
                .is_err()
        );
        assert_eq!(server.hits.load(Ordering::SeqCst), 1);

        resumed.store(true, Ordering::SeqCst);
        plane.resume("gw");
        let (answer, after_resume) = tokio::time::timeout(BOUND, request).await.unwrap().unwrap();
        assert_eq!(answer.unwrap().0, StatusCode::OK);
        assert!(after_resume);
        assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn paused_caller_sends_nothing_until_resumed() {
        let plane = FaultPlane::new();
        let server = start(plane.listener(bind().await, "cp").unwrap(), false).await;
        let url = format!("http://{}/", server.addr);
        let client = fresh().with_faults(plane.clone(), "gw").client();

        plane.pause("gw");
        let mut request = tokio::spawn({
            let client = client.clone();
            async move { get(&client, &url).await }
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut request)
                .await
                .is_err()
        );
        assert_eq!(server.hits.load(Ordering::SeqCst), 0);
        plane.resume("gw");
        let answer = tokio::time::timeout(BOUND, request).await.unwrap().unwrap();
        assert_eq!(answer.unwrap().0, StatusCode::OK);
        assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn nodes_without_a_plane_connect_as_before_over_http_and_https() {
        let plain = start(bind().await, false).await;
        let secure = start(bind().await, true).await;
        let client = fresh().client::<Empty<Bytes>>();
        assert!(fresh().faults().is_none());
        let http = format!("http://{}/", plain.addr);
        let https = format!("https://localhost:{}/", secure.addr.port());
        assert_eq!(get(&client, &http).await.unwrap().0, StatusCode::OK);
        assert_eq!(get(&client, &https).await.unwrap().0, StatusCode::OK);
    }

    #[tokio::test]
    async fn plain_fault_io_passes_bytes_through() {
        let (a, b) = tokio::io::duplex(64);
        let (mut a, mut b) = (FaultIo::plain(a), FaultIo::plain(b));
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        a.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    }
}
