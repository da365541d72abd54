//! What the simulated wire carries, for the simulated driver's own tests: every byte each
//! accepted connection of a node's or load balancer's listener reads and writes, digested per
//! connection and direction ([`WireLog`]; `SimDriver::record_wire`). turmoil has no hook on
//! payloads, so the listeners' sockets are wrapped; a run without a log wraps nothing.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// (listening host, port, the connection's number on that listener, written by the listener).
type Key = (String, u16, u64, bool);

#[derive(Debug, Default)]
struct Inner {
    /// Connections accepted so far, per (host, port).
    accepted: BTreeMap<(String, u16), u64>,
    streams: BTreeMap<Key, (Sha256, u64)>,
}

/// Digests of the bytes of every connection the recorded listeners accepted. Per connection,
/// not per segment: how reads and writes were split does not count, the bytes do.
#[derive(Debug, Clone, Default)]
pub struct WireLog(Arc<Mutex<Inner>>);

/// What a [`WireLog`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireSummary {
    /// Accepted connections.
    pub connections: u64,
    /// Bytes, both directions.
    pub bytes: u64,
    /// SHA-256 over every connection's key, length and digest in key order, hex.
    pub digest: String,
}

impl WireLog {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection `host` just accepted on `port`, recorded.
    pub(super) fn accepted<S>(&self, host: &str, port: u16, inner: S) -> Recorded<S> {
        let mut log = self.lock();
        let count = log.accepted.entry((host.to_owned(), port)).or_default();
        let number = *count;
        *count += 1;
        Recorded {
            inner,
            log: Some((self.clone(), (host.to_owned(), port, number))),
        }
    }

    fn add(&self, (host, port, number): &(String, u16, u64), written: bool, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut log = self.lock();
        let key = (host.clone(), *port, *number, written);
        let (hasher, length) = log.streams.entry(key).or_default();
        hasher.update(bytes);
        *length += bytes.len() as u64;
    }

    pub fn summary(&self) -> WireSummary {
        let log = self.lock();
        let mut all = Sha256::new();
        let mut bytes = 0;
        for ((host, port, number, written), (hasher, length)) in &log.streams {
            all.update(format!("{host}:{port}#{number} {written} {length} ").as_bytes());
            all.update(hasher.clone().finalize());
            bytes += length;
        }
        let digest = all.finalize().iter().map(|b| format!("{b:02x}")).collect();
        WireSummary {
            connections: log.accepted.values().sum(),
            bytes,
            digest,
        }
    }
}

/// An accepted socket, its bytes added to a [`WireLog`] when there is one.
#[derive(Debug)]
pub struct Recorded<S> {
    inner: S,
    log: Option<(WireLog, (String, u16, u64))>,
}

impl<S> Recorded<S> {
    /// `inner`, not recorded.
    pub(super) fn plain(inner: S) -> Self {
        Self { inner, log: None }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some((log, key))) = (&polled, &self.log) {
            log.add(key, false, &buf.filled()[before..]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let (Poll::Ready(Ok(n)), Some((log, key))) = (&polled, &self.log) {
            log.add(key, true, &buf[..*n]);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let (Poll::Ready(Ok(n)), Some((log, key))) = (&polled, &self.log) {
            let mut left = *n;
            for buf in bufs {
                let taken = left.min(buf.len());
                log.add(key, true, &buf[..taken]);
                left -= taken;
            }
        }
        polled
    }

    /// As the socket's: recording must not change how the serve loop writes.
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
