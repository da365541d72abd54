//! HTTP exchanges as the harness's transcript records them: one JSON object per exchange, with
//! the request's method, path and query, headers and body, and the response's status, headers
//! and body (or the error). The runner's own exchanges and the nodes' exchanges with each other
//! are written by these same functions, so their records have one shape.
//!
//! - Headers: names lower-cased and sorted; a name seen twice keeps its values, in order, as an
//!   array.
//! - Bodies: up to [`BODY_LIMIT`] bytes in full, as UTF-8 text (`{"base64": …}` when they are
//!   not); a longer body as `{"length": N, "sha256": "…"}` of all its bytes.
//! - A long-lived stream (event stream, decision stream) is its head alone: the response has no
//!   `body` (its messages are the node's own records, `applied-event`, `applied-decision`).
//!
//! A node reports through its [`Tap`](tollgate_protocol::Tap) ([`begin`]), only while the tap
//! asks for exchanges ([`Tap::exchanges`](tollgate_protocol::Tap::exchanges)): with no tap the
//! cost is one branch on an `Option`, and nothing is built.

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode, Uri};
use hyper::body::{Body, Frame, SizeHint};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tollgate_protocol::SharedTap;

/// The longest body recorded in full; a longer one is recorded as its length and SHA-256.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Lower-cased names, sorted; a repeated name keeps its values in the order sent.
pub fn headers(map: &HeaderMap) -> Value {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in map {
        out.entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let object = out
        .into_iter()
        .map(|(name, mut values)| {
            let value = if values.len() == 1 {
                Value::String(values.remove(0))
            } else {
                Value::from(values)
            };
            (name, value)
        })
        .collect();
    Value::Object(object)
}

/// A whole body: text, base64, or beyond [`BODY_LIMIT`] its length and SHA-256.
pub fn body(bytes: &[u8]) -> Value {
    if bytes.len() > BODY_LIMIT {
        return digest(bytes.len(), Sha256::digest(bytes).as_slice());
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

fn digest(length: usize, sha256: &[u8]) -> Value {
    let hex: String = sha256.iter().map(|b| format!("{b:02x}")).collect();
    json!({ "length": length, "sha256": hex })
}

/// A body seen frame by frame: its first [`BODY_LIMIT`] bytes kept, every byte hashed, so
/// [`Self::to_json`] equals [`body`] of the whole.
#[derive(Debug, Default)]
pub struct BodySeen {
    kept: Vec<u8>,
    hash: Sha256,
    length: usize,
}

impl BodySeen {
    pub fn push(&mut self, data: &[u8]) {
        self.length += data.len();
        self.hash.update(data);
        let room = BODY_LIMIT.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&data[..data.len().min(room)]);
    }

    pub fn to_json(&self) -> Value {
        if self.length > BODY_LIMIT {
            return digest(self.length, self.hash.clone().finalize().as_slice());
        }
        body(&self.kept)
    }
}

/// The request of an exchange a node is making, until its answer is known.
#[derive(Debug)]
pub struct Pending {
    tap: SharedTap,
    authority: String,
    method: Method,
    url: String,
    headers: Value,
    body: RequestBody,
}

#[derive(Debug)]
enum RequestBody {
    Known(Value),
    /// Streamed through a [`Teed`] body as it is sent.
    Streamed(Arc<Mutex<BodySeen>>),
}

/// Starts the record of a request to `uri` when `tap` asks for exchanges (`None` otherwise: no
/// tap, or a tap that is off, costs this check alone). `body` is the whole request body; a
/// streamed one is given by [`Pending::tee_request`] instead.
pub fn begin(
    tap: Option<&SharedTap>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Pending> {
    let tap = tap.filter(|t| t.exchanges())?;
    Some(Pending {
        tap: tap.clone(),
        authority: authority(uri),
        method: method.clone(),
        url: uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        headers: self::headers(headers),
        body: RequestBody::Known(self::body(body)),
    })
}

/// `host:port` of `uri`, the scheme's port written when the URI has none.
fn authority(uri: &Uri) -> String {
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    format!("{host}:{port}")
}

impl Pending {
    /// The request's body, recorded as it is streamed out.
    pub fn tee_request<B>(&mut self, body: B) -> Teed<B> {
        let seen = Arc::new(Mutex::new(BodySeen::default()));
        self.body = RequestBody::Streamed(seen.clone());
        Teed {
            inner: body,
            sink: Some(Sink::Request(seen)),
        }
    }

    fn request(&self) -> Value {
        let body = match &self.body {
            RequestBody::Known(body) => body.clone(),
            RequestBody::Streamed(seen) => lock(seen).to_json(),
        };
        json!({ "method": self.method.as_str(), "url": self.url, "headers": self.headers, "body": body })
    }

    /// The answer: its head, and its whole body when the node read it (`None`: a stream, or a
    /// body the node did not read; the record has no `body` then).
    pub fn answered(self, status: StatusCode, headers: &HeaderMap, body: Option<&[u8]>) {
        let mut response = json!({ "status": status.as_u16(), "headers": self::headers(headers) });
        if let Some(bytes) = body {
            response["body"] = self::body(bytes);
        }
        self.write(json!({ "request": self.request(), "response": response }));
    }

    /// No answer: the error the node saw instead.
    pub fn failed(self, error: &dyn std::fmt::Display) {
        self.write(json!({ "request": self.request(), "error": error.to_string() }));
    }

    /// The answer, its body recorded as the node streams it on: the record is written when the
    /// body ends (`"incomplete": true` in the response when it is dropped before its end).
    pub fn tee_response<B: Body>(self, response: Response<B>) -> Response<Teed<B>> {
        let (parts, inner) = response.into_parts();
        let mut answer = Answer {
            status: parts.status,
            headers: parts.headers.clone(),
            seen: BodySeen::default(),
            pending: Some(self),
        };
        if inner.is_end_stream() {
            answer.finish(None);
        }
        Response::from_parts(
            parts,
            Teed {
                inner,
                sink: Some(Sink::Response(Box::new(answer))),
            },
        )
    }

    fn write(&self, fields: Value) {
        self.tap.exchange(&self.authority, fields);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pin_project_lite::pin_project! {
    /// A body passed through as it is, and recorded on the way when an exchange is recorded
    /// ([`Pending::tee_request`], [`Pending::tee_response`]); [`Teed::plain`] records nothing.
    #[derive(Debug)]
    pub struct Teed<B> {
        #[pin]
        inner: B,
        sink: Option<Sink>,
    }
}

#[derive(Debug)]
enum Sink {
    Request(Arc<Mutex<BodySeen>>),
    Response(Box<Answer>),
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    seen: BodySeen,
    /// Taken when the record is written.
    pending: Option<Pending>,
}

impl Answer {
    fn finish(&mut self, cut: Option<String>) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let mut response = json!({
            "status": self.status.as_u16(),
            "headers": headers(&self.headers),
            "body": self.seen.to_json(),
        });
        if let Some(error) = cut {
            response["incomplete"] = Value::String(error);
        }
        pending.write(json!({ "request": pending.request(), "response": response }));
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.finish(Some("the body was dropped before its end".into()));
    }
}

impl<B> Teed<B> {
    /// `inner`, recorded nowhere.
    pub fn plain(inner: B) -> Self {
        Self { inner, sink: None }
    }
}

impl<B> Body for Teed<B>
where
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let mut inner = this.inner;
        let polled = inner.as_mut().poll_frame(cx);
        let Some(sink) = this.sink.as_mut() else {
            return polled;
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    match sink {
                        Sink::Request(seen) => lock(seen).push(data),
                        Sink::Response(answer) => answer.seen.push(data),
                    }
                }
            }
            Poll::Ready(Some(Err(error))) => {
                if let Sink::Response(answer) = sink {
                    answer.finish(Some(error.to_string()));
                }
            }
            Poll::Ready(None) | Poll::Pending => {}
        }
        // hyper stops polling a body that says it has ended: the record is written then.
        if let Sink::Response(answer) = sink
            && (matches!(polled, Poll::Ready(None)) || inner.is_end_stream())
        {
            answer.finish(None);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};
    use tollgate_protocol::Tap;

    #[derive(Debug, Default)]
    struct Kept(Mutex<Vec<(String, Value)>>);

    impl Tap for Kept {
        fn enabled(&self) -> bool {
            true
        }
        fn record(&self, _: &str, _: Value) {}
        fn exchanges(&self) -> bool {
            true
        }
        fn exchange(&self, authority: &str, fields: Value) {
            lock(&self.0).push((authority.to_owned(), fields));
        }
    }

    #[test]
    fn a_body_past_the_limit_is_its_length_and_hash_whole_or_streamed() {
        assert_eq!(body(b"{}"), json!("{}"));
        assert_eq!(body(&[0xff]), json!({ "base64": "/w==" }));
        let big = vec![b'a'; BODY_LIMIT + 1];
        let whole = body(&big);
        assert_eq!(whole["length"], BODY_LIMIT + 1);
        assert_eq!(whole["sha256"].as_str().map(str::len), Some(64));
        let mut seen = BodySeen::default();
        for chunk in big.chunks(1000) {
            seen.push(chunk);
        }
        assert_eq!(seen.to_json(), whole);
        let mut small = BodySeen::default();
        small.push(b"ab");
        small.push(b"c");
        assert_eq!(small.to_json(), json!("abc"));
    }

    #[test]
    fn nothing_is_begun_without_a_tap_that_asks_for_exchanges() {
        let uri: Uri = "http://x:1/".parse().unwrap();
        assert!(begin(None, &Method::GET, &uri, &HeaderMap::new(), b"").is_none());
        let off: SharedTap = Arc::new(Off);
        assert!(begin(Some(&off), &Method::GET, &uri, &HeaderMap::new(), b"").is_none());
    }

    #[derive(Debug)]
    struct Off;
    impl Tap for Off {
        fn enabled(&self) -> bool {
            true
        }
        fn record(&self, _: &str, _: Value) {}
    }

    #[tokio::test]
    async fn a_streamed_exchange_is_written_when_the_response_body_ends() {
        let kept = Arc::new(Kept::default());
        let tap: SharedTap = kept.clone();
        let uri: Uri = "https://GW.example:8243/a?b=1".parse().unwrap();
        let mut sent = HeaderMap::new();
        sent.insert("X-B", "2".parse().unwrap());
        let mut pending = begin(Some(&tap), &Method::POST, &uri, &sent, b"").unwrap();
        let request = pending.tee_request(Full::new(Bytes::from_static(b"ping")));
        let _ = request.collect().await.unwrap();
        let chunks = futures_util::stream::iter([
            Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(b"po"))),
            Ok(Frame::data(Bytes::from_static(b"ng"))),
        ]);
        let response = pending.tee_response(Response::new(StreamBody::new(chunks)));
        assert!(lock(&kept.0).is_empty(), "written before the body ended");
        let _ = response.into_body().collect().await.unwrap();
        let records = lock(&kept.0).clone();
        assert_eq!(
            records,
            [(
                "gw.example:8243".to_owned(),
                json!({
                    "request": {"method": "POST", "url": "/a?b=1", "headers": {"x-b": "2"}, "body": "ping"},
                    "response": {"status": 200, "headers": {}, "body": "pong"}
                })
            )]
        );
    }

    #[test]
    fn a_response_dropped_before_its_end_is_written_as_incomplete() {
        let kept = Arc::new(Kept::default());
        let tap: SharedTap = kept.clone();
        let uri: Uri = "http://x/".parse().unwrap();
        let pending = begin(Some(&tap), &Method::GET, &uri, &HeaderMap::new(), b"").unwrap();
        let chunks =
            futures_util::stream::pending::<Result<Frame<Bytes>, std::convert::Infallible>>();
        drop(pending.tee_response(Response::new(StreamBody::new(chunks))));
        let records = lock(&kept.0).clone();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0, "x:80");
        assert!(records[0].1["response"]["incomplete"].is_string());
    }
}
