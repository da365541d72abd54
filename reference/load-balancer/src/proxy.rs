//! The request path: pick a node, forward, retry on another node when that is safe, answer.

use crate::pool::Pool;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;
use tollgate_net::exchange::{self, Teed};
use tollgate_net::{HttpClient, RemoteAddr, strip_hop_by_hop};
use tollgate_protocol::SharedTap;

/// What goes upstream: the client's body streamed, or buffered so it can be sent twice. A
/// streamed body passes through a [`Teed`] that records it only when the harness's tap asks.
pub(crate) type UpstreamBody = Either<Teed<Incoming>, Full<Bytes>>;
/// What goes back to the client: the node's body streamed (through a [`Teed`], as upstream),
/// or the load balancer's own answer.
pub type ResponseBody = Either<Teed<Incoming>, Full<Bytes>>;

#[derive(Default)]
pub(crate) struct Totals {
    pub retried: AtomicU64,
    pub failed_non_idempotent: AtomicU64,
    pub no_healthy_node: AtomicU64,
    pub exhausted: AtomicU64,
    pub timed_out: AtomicU64,
}

/// One listener's service: its pool, whether it is HTTPS, the shared client and counters.
#[derive(Clone)]
pub(crate) struct Proxy {
    pub pool: Arc<Pool>,
    pub https: bool,
    /// One client per node of the pool, by index: hyper-util closes a pool's expired idle
    /// connections in its `HashMap`'s order, which differs per process; with one host per
    /// client there is no order to differ (a simulated run stays the same run after run).
    pub clients: Arc<[HttpClient<UpstreamBody>]>,
    pub totals: Arc<Totals>,
    pub shutdown: CancellationToken,
    /// The load balancer's tasks, which ejection timers join.
    pub tasks: tokio_util::task::TaskTracker,
    /// The harness's observer: each attempt on a node, when it asks for exchanges.
    pub tap: Option<SharedTap>,
}

impl hyper::service::Service<Request<Incoming>> for Proxy {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let proxy = self.clone();
        Box::pin(async move { Ok(proxy.forward(req).await) })
    }
}

/// GET, HEAD, OPTIONS, PUT, DELETE (and TRACE): RFC 9110 §9.2.2.
fn idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<ResponseBody> {
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(body.to_string()))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Why an attempt on a node failed.
enum Failure {
    /// No connection: refused, reset during connect, connect timeout, partition. The request
    /// was not sent.
    Connect(String),
    /// The connection broke before a response head arrived: reset, closed, incomplete.
    Broken(String),
    /// Not the node's fault (the client's own body failed, or a malformed request).
    Other(String),
}

fn classify(error: &hyper_util::client::legacy::Error) -> Failure {
    let text = error_chain(error);
    if error.is_connect() {
        return Failure::Connect(text);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            )
        {
            return Failure::Broken(text);
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_closed() || h.is_canceled())
        {
            return Failure::Broken(text);
        }
        source = e.source();
    }
    Failure::Other(text)
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

impl Proxy {
    async fn forward(self, req: Request<Incoming>) -> Response<ResponseBody> {
        let (mut parts, body) = req.into_parts();
        let client_ip = parts.extensions.get::<RemoteAddr>().map(|r| r.0.ip());
        strip_hop_by_hop(&mut parts.headers);
        self.forwarded_headers(&mut parts.headers, client_ip);
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let method = parts.method.clone();
        let config = &self.pool.config;

        // An idempotent request is buffered (when small enough) so another node can get it.
        let small = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .is_some_and(|len| len <= config.retry_body_limit);
        let chunked_or_none = !parts.headers.contains_key(header::CONTENT_LENGTH);
        let mut body = Some(body);
        let buffered = if idempotent(&method) && (small || chunked_or_none) {
            let Some(incoming) = body.take() else {
                return self.internal("request body already taken");
            };
            match Limited::new(incoming, config.retry_body_limit)
                .collect()
                .await
            {
                Ok(collected) => Some(collected.to_bytes()),
                Err(error) => {
                    // Only a body without Content-Length can get here over the limit.
                    let too_large = error.is::<http_body_util::LengthLimitError>();
                    let (status, message) = if too_large {
                        (
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!(
                                "a chunked {method} body over {} bytes cannot be buffered for retry; send Content-Length to stream it",
                                config.retry_body_limit
                            ),
                        )
                    } else {
                        (
                            StatusCode::BAD_REQUEST,
                            format!("reading the request body failed: {error}"),
                        )
                    };
                    return json(
                        status,
                        serde_json::json!({ "error": "request_body", "message": message }),
                    );
                }
            }
        } else {
            None
        };
        let attempts = if buffered.is_some() {
            1 + config.retries as usize
        } else {
            1
        };

        let mut tried: Vec<usize> = Vec::with_capacity(attempts);
        let mut errors: Vec<serde_json::Value> = Vec::new();
        while tried.len() < attempts {
            let Some(index) = self.pool.pick(&tried) else {
                break;
            };
            if !tried.is_empty() {
                self.totals.retried.fetch_add(1, Ordering::Relaxed);
            }
            tried.push(index);
            let node = &self.pool.nodes[index];
            let uri = match upstream_uri(&node.base, &path_and_query) {
                Ok(uri) => uri,
                Err(error) => return self.internal(&error),
            };
            let mut pending = exchange::begin(
                self.tap.as_ref(),
                &method,
                &uri,
                &parts.headers,
                buffered.as_deref().unwrap_or_default(),
            );
            let upstream_body = match (&buffered, body.take()) {
                (Some(bytes), _) => Either::Right(Full::new(bytes.clone())),
                (None, Some(incoming)) => Either::Left(match pending.as_mut() {
                    Some(pending) => pending.tee_request(incoming),
                    None => Teed::plain(incoming),
                }),
                (None, None) => return self.internal("request body already sent"),
            };
            let mut request = Request::from_parts(parts.clone(), upstream_body);
            *request.uri_mut() = uri;
            node.requests.fetch_add(1, Ordering::Relaxed);
            let sent = tokio::time::timeout(
                config.request_timeout(),
                self.clients[index].request(request),
            )
            .await;
            let result = match sent {
                Ok(result) => result,
                Err(_) => {
                    if let Some(pending) = pending {
                        pending.failed(&format!(
                            "no response within {} ms",
                            config.request_timeout_ms
                        ));
                    }
                    self.totals.timed_out.fetch_add(1, Ordering::Relaxed);
                    node.failures.fetch_add(1, Ordering::Relaxed);
                    return json(
                        StatusCode::GATEWAY_TIMEOUT,
                        serde_json::json!({
                            "error": "upstream_timeout",
                            "pool": config.name,
                            "node": node.name,
                            "message": format!(
                                "node `{}` sent no response within {} ms; not retried (it may have acted on the request)",
                                node.name, config.request_timeout_ms
                            ),
                        }),
                    );
                }
            };
            match result {
                Ok(response) => {
                    // Recorded as the node answered, before the hop-by-hop headers go.
                    let response = match pending {
                        Some(pending) => pending.tee_response(response),
                        None => response.map(Teed::plain),
                    };
                    let (mut head, body) = response.into_parts();
                    strip_hop_by_hop(&mut head.headers);
                    return Response::from_parts(head, Either::Left(body));
                }
                Err(error) => {
                    if let Some(pending) = pending {
                        pending.failed(&error_chain(&error));
                    }
                    node.failures.fetch_add(1, Ordering::Relaxed);
                    let (kind, text, node_fault) = match classify(&error) {
                        Failure::Connect(text) => ("connect", text, true),
                        Failure::Broken(text) => ("reset", text, true),
                        Failure::Other(text) => ("other", text, false),
                    };
                    tracing::debug!(node = %node.name, kind, error = %text, "attempt failed");
                    if node_fault {
                        node.eject(
                            config.ejection.duration(),
                            config.health_check.is_some(),
                            &self.shutdown,
                            &self.tasks,
                        );
                    }
                    errors.push(
                        serde_json::json!({ "node": node.name, "failure": kind, "error": text }),
                    );
                    if !idempotent(&method) {
                        self.totals
                            .failed_non_idempotent
                            .fetch_add(1, Ordering::Relaxed);
                        return json(
                            StatusCode::BAD_GATEWAY,
                            serde_json::json!({
                                "error": "upstream_failed",
                                "pool": config.name,
                                "message": format!(
                                    "node `{}` failed before responding; {method} is not idempotent, so it was not retried on another node",
                                    node.name
                                ),
                                "attempts": errors,
                            }),
                        );
                    }
                    if !node_fault || buffered.is_none() {
                        break;
                    }
                }
            }
        }
        if tried.is_empty() {
            self.totals.no_healthy_node.fetch_add(1, Ordering::Relaxed);
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({
                    "error": "no_healthy_upstream",
                    "pool": config.name,
                    "message": format!("no healthy node in pool `{}`", config.name),
                }),
            );
        }
        self.totals.exhausted.fetch_add(1, Ordering::Relaxed);
        json(
            StatusCode::BAD_GATEWAY,
            serde_json::json!({
                "error": "upstream_failed",
                "pool": config.name,
                "message": format!(
                    "{} node(s) tried, none responded",
                    tried.len()
                ),
                "attempts": errors,
            }),
        )
    }

    /// `X-Forwarded-For` (appended), `-Proto` (this listener's scheme), `-Host` (the client's
    /// `Host`). `Host` itself goes upstream as the client sent it.
    fn forwarded_headers(&self, headers: &mut HeaderMap, client_ip: Option<std::net::IpAddr>) {
        if let Some(ip) = client_ip {
            let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
                Some(earlier) if !earlier.trim().is_empty() => format!("{earlier}, {ip}"),
                _ => ip.to_string(),
            };
            if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
                headers.insert("x-forwarded-for", value);
            }
        }
        headers.insert(
            "x-forwarded-proto",
            HeaderValue::from_static(if self.https { "https" } else { "http" }),
        );
        if let Some(host) = headers.get(header::HOST).cloned() {
            headers.insert("x-forwarded-host", host);
        }
    }

    fn internal(&self, message: &str) -> Response<ResponseBody> {
        json(
            StatusCode::INTERNAL_SERVER_ERROR,
            serde_json::json!({ "error": "load_balancer", "message": message }),
        )
    }
}

fn upstream_uri(base: &Uri, path_and_query: &str) -> Result<Uri, String> {
    let mut parts = base.clone().into_parts();
    let prefix = base.path().trim_end_matches('/');
    let joined = format!("{prefix}{path_and_query}");
    parts.path_and_query = Some(
        joined
            .parse()
            .map_err(|e| format!("building the upstream URI from `{joined}`: {e}"))?,
    );
    Uri::from_parts(parts).map_err(|e| format!("building the upstream URI: {e}"))
}
