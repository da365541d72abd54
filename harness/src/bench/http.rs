//! The bench's HTTP/1.1 sender: plain keep-alive connections to one address, as wrk opens
//! them, pooled so that a request sent while holding one of the generator's `connections`
//! permits always finds an idle connection.

use super::generator::{Outcome, SendFn};
use bytes::Bytes;
use http::{HeaderValue, Request, header};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;

/// One request's budget: longer than any stall a test provokes.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every request of a path is: `GET path` to `address` with `Host: host`, and an
/// `Authorization` header from `auth` (request *i* takes entry `i % len`), if any.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    pub address: SocketAddr,
    pub host: String,
    pub path: String,
    pub auth: Arc<Vec<HeaderValue>>,
}

type Connection = SendRequest<Empty<Bytes>>;

struct Pool {
    target: HttpTarget,
    host: HeaderValue,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    fn take(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(connection) = idle.pop() {
            if !connection.is_closed() {
                return Some(connection);
            }
        }
        None
    }

    fn give_back(&self, connection: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(connection);
    }

    async fn connect(&self) -> Result<Connection, String> {
        let stream = TcpStream::connect(self.target.address)
            .await
            .map_err(|e| format!("connect: {}", e.kind()))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| "connect: handshake".to_owned())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    async fn exchange(self: Arc<Self>, i: u64) -> Outcome {
        let mut connection = match self.take() {
            Some(c) => c,
            None => self.connect().await?,
        };
        let mut request = Request::get(self.target.path.as_str())
            .body(Empty::<Bytes>::new())
            .map_err(|e| format!("request: {e}"))?;
        request
            .headers_mut()
            .insert(header::HOST, self.host.clone());
        if !self.target.auth.is_empty() {
            let at = usize::try_from(i).unwrap_or(0) % self.target.auth.len();
            request
                .headers_mut()
                .insert(header::AUTHORIZATION, self.target.auth[at].clone());
        }
        if connection.ready().await.is_err() {
            connection = self.connect().await?;
        }
        let response = connection
            .send_request(request)
            .await
            .map_err(|e| kind(&e))?;
        let status = response.status().as_u16();
        let keep = !response
            .headers()
            .get(header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {}", kind(&e)))?;
        if keep {
            self.give_back(connection);
        }
        Ok(status)
    }
}

fn kind(error: &hyper::Error) -> String {
    if error.is_incomplete_message() {
        "reset".into()
    } else if error.is_canceled() || error.is_closed() {
        "closed".into()
    } else if error.is_timeout() {
        "timeout".into()
    } else {
        "http".into()
    }
}

/// A sender for `target`.
pub fn sender(target: HttpTarget) -> Result<SendFn, String> {
    let host = HeaderValue::from_str(&target.host).map_err(|e| format!("host: {e}"))?;
    let pool = Arc::new(Pool {
        target,
        host,
        idle: Mutex::new(Vec::new()),
    });
    Ok(Arc::new(move |i| {
        let pool = pool.clone();
        Box::pin(async move {
            match tokio::time::timeout(REQUEST_TIMEOUT, pool.exchange(i)).await {
                Ok(outcome) => outcome,
                Err(_) => Err("timeout".into()),
            }
        })
    }))
}
