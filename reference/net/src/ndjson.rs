//! Newline-delimited JSON streams with heartbeats: the control plane's event hub and the Traffic
//! Manager's decision stream are both a long-lived `application/x-ndjson` response that sends
//! what changed and, after an idle period, a heartbeat line so the follower can tell a quiet
//! stream from a dead one.
//!
//! Sending side: a [`Feed`] says what comes next and what a heartbeat is; [`response`] turns it
//! into the HTTP response. Reading side: [`LineReader`] splits a body into lines under an idle
//! timeout, leaving each line's meaning (and what a bad line means) to the follower.

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Body, Frame};
use serde::Serialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// The media type of every stream here.
pub const CONTENT_TYPE_NDJSON: &str = "application/x-ndjson";

/// Lines queued to send, each one `T` as JSON plus `\n`.
#[derive(Debug)]
pub struct Lines<T> {
    pending: VecDeque<Bytes>,
    item: PhantomData<fn(&T)>,
}

impl<T> Default for Lines<T> {
    fn default() -> Self {
        Self {
            pending: VecDeque::new(),
            item: PhantomData,
        }
    }
}

impl<T: Serialize> Lines<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues `item` as one line.
    pub fn push(&mut self, item: &T) {
        // Our own wire types always serialize; an empty line would be skipped by a follower.
        let mut bytes = serde_json::to_vec(item).unwrap_or_default();
        bytes.push(b'\n');
        self.pending.push_back(Bytes::from(bytes));
    }
}

/// What a stream sends besides heartbeats.
pub trait Feed: Send + 'static {
    type Item: Serialize;

    /// Waits for what comes next and queues it on `out`; `false` ends the stream once `out` is
    /// sent (the source is gone, or this follower fell behind and must start again).
    fn next(&mut self, out: &mut Lines<Self::Item>) -> impl Future<Output = bool> + Send;

    /// The line sent when nothing else was for one heartbeat period.
    fn heartbeat(&self) -> Self::Item;
}

/// `first` (a backlog or snapshot), then whatever `feed` yields, with a heartbeat after every
/// `period` without a line. The heartbeat timer restarts on every change, not on every line.
pub fn stream<F: Feed>(
    feed: F,
    first: Lines<F::Item>,
    period: Duration,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send
where
    F::Item: Send,
{
    let mut idle = tokio::time::interval_at(Instant::now() + period, period);
    idle.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let state = Follower {
        feed,
        lines: first,
        idle,
        ended: false,
    };
    futures_util::stream::unfold(state, Follower::next)
}

/// [`stream`] as a `200 OK` `application/x-ndjson` response.
pub fn response<F: Feed>(
    feed: F,
    first: Lines<F::Item>,
    period: Duration,
) -> Response<impl Body<Data = Bytes, Error = Infallible> + Send + 'static>
where
    F::Item: Send,
{
    use futures_util::StreamExt;
    let frames = stream(feed, first, period).map(|line| line.map(Frame::data));
    let mut response = Response::new(StreamBody::new(frames));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_NDJSON));
    response
}

struct Follower<F: Feed> {
    feed: F,
    lines: Lines<F::Item>,
    idle: Interval,
    ended: bool,
}

impl<F: Feed> Follower<F> {
    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        loop {
            if let Some(bytes) = self.lines.pending.pop_front() {
                return Some((Ok(bytes), self));
            }
            if self.ended {
                return None;
            }
            tokio::select! {
                // Lines before a heartbeat when both are ready, the same way every run.
                biased;
                more = self.feed.next(&mut self.lines) => {
                    if !more {
                        self.ended = true;
                    }
                    self.idle.reset();
                }
                _ = self.idle.tick() => {
                    let heartbeat = self.feed.heartbeat();
                    self.lines.push(&heartbeat);
                }
            }
        }
    }
}

/// Why a [`LineReader`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// No data for the reader's idle timeout (heartbeats included).
    Idle(Duration),
    /// The body failed (connection reset, …).
    Body(String),
    /// More than the reader's line limit arrived without a newline.
    LineTooLong,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Idle(after) => write!(f, "no data for {after:?}"),
            Self::Body(error) => write!(f, "{error}"),
            Self::LineTooLong => write!(f, "line too long"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Splits an ndjson body into lines as they arrive.
#[derive(Debug)]
pub struct LineReader<B> {
    body: B,
    buffer: BytesMut,
    /// How much of `buffer` is known to hold no newline.
    scanned: usize,
    idle: Duration,
    max_line: usize,
}

impl<B> LineReader<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: fmt::Display,
{
    /// A reader that gives up after `idle` without data, and on a partial line longer than
    /// `max_line` bytes.
    pub fn new(body: B, idle: Duration, max_line: usize) -> Self {
        Self {
            body,
            buffer: BytesMut::new(),
            scanned: 0,
            idle,
            max_line,
        }
    }

    /// The next line, without its `\n` (a `\r` before it is kept); `None` when the body ends.
    /// Bytes after the last newline of an ended body are dropped.
    pub async fn next_line(&mut self) -> Result<Option<BytesMut>, ReadError> {
        loop {
            if let Some(at) = self.buffer[self.scanned..].iter().position(|b| *b == b'\n') {
                let mut line = self.buffer.split_to(self.scanned + at + 1);
                line.truncate(line.len() - 1);
                self.scanned = 0;
                return Ok(Some(line));
            }
            self.scanned = self.buffer.len();
            if self.buffer.len() > self.max_line {
                return Err(ReadError::LineTooLong);
            }
            let frame = tokio::time::timeout(self.idle, self.body.frame())
                .await
                .map_err(|_| ReadError::Idle(self.idle))?;
            let Some(frame) = frame else {
                return Ok(None);
            };
            let frame = frame.map_err(|e| ReadError::Body(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                self.buffer.extend_from_slice(&data);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio::sync::mpsc;

    /// Sends what arrives on a channel; a heartbeat is `0`.
    struct Numbers(mpsc::UnboundedReceiver<u32>);

    impl Feed for Numbers {
        type Item = u32;

        async fn next(&mut self, out: &mut Lines<u32>) -> bool {
            match self.0.recv().await {
                Some(n) => {
                    out.push(&n);
                    true
                }
                None => false,
            }
        }

        fn heartbeat(&self) -> u32 {
            0
        }
    }

    #[tokio::test(start_paused = true)]
    async fn first_lines_then_changes_then_heartbeats_when_idle_and_the_end() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut first = Lines::new();
        first.push(&7);
        let mut lines = Box::pin(stream(Numbers(rx), first, Duration::from_secs(5)));
        assert_eq!(lines.next().await.unwrap().unwrap(), "7\n");
        tx.send(1).unwrap();
        assert_eq!(lines.next().await.unwrap().unwrap(), "1\n");
        let before = Instant::now();
        assert_eq!(lines.next().await.unwrap().unwrap(), "0\n");
        assert_eq!(before.elapsed(), Duration::from_secs(5));
        tx.send(2).unwrap();
        drop(tx);
        assert_eq!(lines.next().await.unwrap().unwrap(), "2\n");
        assert!(lines.next().await.is_none());
    }

    #[tokio::test]
    async fn the_response_is_ndjson() {
        let (_tx, rx) = mpsc::unbounded_channel();
        let response = response(Numbers(rx), Lines::new(), Duration::from_secs(5));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], CONTENT_TYPE_NDJSON);
    }

    fn body(chunks: &[&'static str]) -> impl Body<Data = Bytes, Error = Infallible> + Unpin {
        let frames: Vec<Result<Frame<Bytes>, Infallible>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes()))))
            .collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn lines_split_across_and_within_frames_come_out_whole() {
        let mut reader = LineReader::new(
            body(&["{\"a\":", "1}\n{\"b\"", ":2}\r\n\n{\"c\":3}\n{\"d"]),
            Duration::from_secs(5),
            1024,
        );
        let mut lines = Vec::new();
        while let Some(line) = reader.next_line().await.unwrap() {
            lines.push(String::from_utf8(line.to_vec()).unwrap());
        }
        assert_eq!(lines, ["{\"a\":1}", "{\"b\":2}\r", "", "{\"c\":3}"]);
    }

    #[tokio::test]
    async fn a_partial_line_over_the_limit_is_an_error_after_the_whole_lines() {
        let mut reader = LineReader::new(body(&["ok\n0123456789"]), Duration::from_secs(5), 8);
        assert_eq!(&reader.next_line().await.unwrap().unwrap()[..], b"ok");
        assert_eq!(reader.next_line().await, Err(ReadError::LineTooLong));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_body_is_idle() {
        let silent = StreamBody::new(futures_util::stream::pending::<
            Result<Frame<Bytes>, Infallible>,
        >());
        let mut reader = LineReader::new(silent, Duration::from_secs(15), 8);
        assert_eq!(
            reader.next_line().await,
            Err(ReadError::Idle(Duration::from_secs(15)))
        );
    }
}
