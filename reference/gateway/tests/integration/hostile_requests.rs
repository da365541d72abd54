//! The attack corpus, HTTP: smuggling forms, oversized and slow parts, broken chunking,
//! traversal and control characters, written as raw bytes on TCP to a passthrough listener.
//! Each case gets the status (and WSO2 code, where the gateway answers rather than the HTTP
//! layer) it must get; no backend ever sees a dot segment; a broken body never suspends the
//! endpoint; the gateway serves a valid request after all of it.

use crate::common::*;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tollgate_gateway::endpoint::State;
use tollgate_gateway::{Gateway, Transport};
use tollgate_net::ListenerLimits;
use tollgate_protocol::ManualClock;
use tollgate_protocol::artifact::{EndpointConfig, EnvironmentType};

/// A backend that reads each request's body whole and records its path (and how the body
/// ended), answering 200.
async fn recording_backend() -> (SocketAddr, Arc<Mutex<Vec<String>>>, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let shutdown = CancellationToken::new();
    let (s, stop) = (seen.clone(), shutdown.clone());
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => accepted.unwrap().0,
            };
            let s = s.clone();
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let s = s.clone();
                async move {
                    let path = req.uri().to_string();
                    let body = req.into_body().collect().await;
                    s.lock()
                        .unwrap()
                        .push(format!("{path} body_ok={}", body.is_ok()));
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        Bytes::from_static(br#"{"served":"production"}"#),
                    )))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (addr, seen, shutdown)
}

/// The gateway on a loopback passthrough listener (2 s header timeout), its address, the
/// backend's record, and what stops them.
async fn gateway() -> (
    Arc<Gateway>,
    SocketAddr,
    Arc<Mutex<Vec<String>>>,
    CancellationToken,
) {
    let (backend, seen, backend_stop) = recording_backend().await;
    let clock = ManualClock::new(NOW_MILLIS);
    let gw = gateway_with(settings(&["Default"]), &clock);
    let mut api = artifact(
        "pizza",
        "/pizzashack/1.0.0",
        EnvironmentType::Hybrid,
        Some(format!("http://{backend}/production")),
        None,
    );
    // Suspends on the codes a dead backend gets: a client's broken body must not be one.
    api.endpoints.production_config = Some(EndpointConfig {
        suspend_error_codes: vec![101503, 101504],
        suspend_duration_ms: Some(30_000),
        suspend_max_duration_ms: Some(60_000),
        factor: Some(1.0),
        ..EndpointConfig::default()
    });
    gw.apply_snapshot(&snapshot("Default", vec![api], 1));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let limits = ListenerLimits {
        header_read_timeout: Duration::from_secs(2),
        ..ListenerLimits::default()
    };
    tokio::spawn(tollgate_net::serve_with(
        listener,
        None,
        gw.passthrough(Transport::Http),
        std::sync::Arc::new(tollgate_protocol::ManualClock::new(0)),
        shutdown.clone(),
        limits,
    ));
    let stop = CancellationToken::new();
    let (s1, s2) = (stop.clone(), backend_stop);
    tokio::spawn(async move {
        s1.cancelled().await;
        shutdown.cancel();
        s2.cancel();
    });
    (gw, addr, seen, stop)
}

/// Writes `request` (then half-closes when `close` is set), reads until the gateway closes or
/// 5 s of silence, and gives the statuses and WSO2 codes of every response it sent.
async fn exchange(addr: SocketAddr, request: &[u8], close: bool) -> Vec<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The gateway may answer and close before it read everything: a reset is an answer too.
    let _ = stream.write_all(request).await;
    if close {
        let _ = stream.shutdown().await;
    }
    let mut all = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => all.extend_from_slice(&chunk[..n]),
        }
        // Every case's request ends its exchange: one response (or two, smuggled) is enough
        // once the connection is marked for closing or the response is complete.
        if responses(&all).iter().any(|(status, _)| *status >= 400) && close_or_complete(&all) {
            break;
        }
    }
    responses(&all)
}

fn close_or_complete(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.to_ascii_lowercase().contains("connection: close")
        || text
            .split("\r\n\r\n")
            .nth(1)
            .is_some_and(|body| body.ends_with('}') || body.is_empty())
}

/// Statuses and codes of the responses in `bytes`.
fn responses(bytes: &[u8]) -> Vec<(u16, String)> {
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| {
            let status = text.get(at + 9..at + 12)?.parse().ok()?;
            let rest = &text[at..];
            let code = rest
                .find("\"code\":\"")
                .filter(|i| !rest[..*i].contains("\r\nHTTP/1.1 ") && *i < 2000)
                .and_then(|i| rest[i + 8..].split('"').next())
                .unwrap_or_default()
                .to_owned();
            Some((status, code))
        })
        .collect()
}

struct Case {
    what: &'static str,
    request: Vec<u8>,
    /// Half-close after writing (the client went away mid-body).
    close: bool,
    status: u16,
    /// The WSO2 code in the body, or "" when the HTTP layer answers without one.
    code: &'static str,
}

fn case(what: &'static str, request: impl AsRef<[u8]>, status: u16, code: &'static str) -> Case {
    Case {
        what,
        request: request.as_ref().to_vec(),
        close: false,
        status,
        code,
    }
}

fn corpus(token: &str) -> Vec<Case> {
    let auth = format!("Authorization: Bearer {token}\r\n");
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nHost: gw\r\n{auth}\r\n");
    let post = |extra: &str, body: &str| {
        format!("POST /pizzashack/1.0.0/order HTTP/1.1\r\nHost: gw\r\n{auth}{extra}\r\n{body}")
    };
    let chunked = |body: &str| post("Transfer-Encoding: chunked\r\n", body);
    let smuggled = "GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\n\r\n";
    let mut cases = vec![
        // Request smuggling forms.
        // Both framings: read as chunked, Content-Length dropped (RFC 9112 §6.3), one answer,
        // and what follows the chunked body is never a second request on the connection.
        case(
            "CL.TE",
            post(
                "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n",
                &format!("0\r\n\r\n{smuggled}"),
            ),
            200,
            "",
        ),
        case(
            "TE.CL",
            post(
                "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
                "8\r\nSMUGGLED\r\n0\r\n\r\n",
            ),
            200,
            "",
        ),
        case(
            "two Transfer-Encoding headers",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
                "0\r\n\r\n",
            ),
            400,
            "",
        ),
        case(
            "Transfer-Encoding xchunked",
            post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"),
            400,
            "",
        ),
        case(
            "space before the colon",
            post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n"),
            400,
            "",
        ),
        case(
            "Transfer-Encoding chunked, identity",
            post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"),
            400,
            "",
        ),
        case(
            "two different Content-Length",
            post("Content-Length: 2\r\nContent-Length: 4\r\n", "abcd"),
            400,
            "",
        ),
        case(
            "Content-Length negative",
            post("Content-Length: -1\r\n", ""),
            400,
            "",
        ),
        case(
            "Content-Length with a plus",
            post("Content-Length: +4\r\n", "abcd"),
            400,
            "",
        ),
        case(
            "Content-Length in hex",
            post("Content-Length: 0x4\r\n", "abcd"),
            400,
            "",
        ),
        case(
            "Content-Length overflowing u64",
            post("Content-Length: 99999999999999999999999\r\n", "abcd"),
            400,
            "",
        ),
        case(
            "obs-fold continuation line",
            format!(
                "GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nX-A: 1\r\n folded\r\n{auth}\r\n"
            ),
            400,
            "",
        ),
        case(
            "bare CR in a header",
            format!("GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nX-A: a\rb\r\n{auth}\r\n"),
            400,
            "",
        ),
        case(
            "HTTP/1.0 with chunked",
            format!(
                "POST /pizzashack/1.0.0/order HTTP/1.0\r\n{auth}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            400,
            "",
        ),
        // Broken chunking: the client's fault, 400, never the backend's (finding 3).
        case(
            "chunk size not hex",
            chunked("zz\r\nabc\r\n0\r\n\r\n"),
            400,
            "101001",
        ),
        case(
            "chunk size overflowing",
            chunked("fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
            400,
            "101001",
        ),
        case(
            "chunk data without its CRLF",
            chunked("3\r\nabcX\r\n0\r\n\r\n"),
            400,
            "101001",
        ),
        case(
            "chunk size negative",
            chunked("-1\r\nabc\r\n0\r\n\r\n"),
            400,
            "101001",
        ),
        case(
            "chunk size with junk after it",
            chunked("3 junk\r\nabc\r\n0\r\n\r\n"),
            400,
            "101001",
        ),
        case(
            "last chunk followed by a junk trailer",
            chunked("3\r\nabc\r\n0\r\nno colon here\r\n\r\n"),
            400,
            "101001",
        ),
        case(
            "chunk longer than its size",
            chunked("2\r\nabcdef\r\n0\r\n\r\n"),
            400,
            "101001",
        ),
        // Oversized parts.
        case(
            "a 20 KiB header",
            format!(
                "GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nX-Big: {}\r\n{auth}\r\n",
                "a".repeat(20 * 1024)
            ),
            431,
            "",
        ),
        case(
            "101 headers",
            format!(
                "GET /pizzashack/1.0.0/menu HTTP/1.1\r\n{}{auth}\r\n",
                (0..101)
                    .map(|i| format!("X-H{i}: 1\r\n"))
                    .collect::<String>()
            ),
            431,
            "",
        ),
        // The URI counts against the head limit before hyper's own 64 KiB URI limit.
        case(
            "a 70 KB URI",
            get(&format!("/pizzashack/1.0.0/menu?q={}", "a".repeat(70_000))),
            431,
            "",
        ),
        case(
            "an 18 KiB method",
            format!(
                "{} /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\n\r\n",
                "G".repeat(18 * 1024)
            ),
            431,
            "",
        ),
        // A long unknown verb within the limit is an unknown verb: WSO2's 405.
        case(
            "a 2 KB method",
            format!(
                "{} /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\n\r\n",
                "G".repeat(2048)
            ),
            405,
            "405",
        ),
        // Path traversal (finding 6).
        case(
            "dot-dot",
            get("/pizzashack/1.0.0/../../etc/passwd"),
            400,
            "400",
        ),
        case("dot", get("/pizzashack/1.0.0/./menu"), 400, "400"),
        case(
            "%2e%2e",
            get("/pizzashack/1.0.0/%2e%2e/%2e%2e/etc/passwd"),
            400,
            "400",
        ),
        case(
            "%2E%2E upper case",
            get("/pizzashack/1.0.0/%2E%2E/x"),
            400,
            "400",
        ),
        case(
            "..%2f",
            get("/pizzashack/1.0.0/..%2f..%2fetc/passwd"),
            400,
            "400",
        ),
        case(
            "..%5c",
            get("/pizzashack/1.0.0/..%5c..%5cetc/passwd"),
            400,
            "400",
        ),
        case(
            "..\\ literal",
            get("/pizzashack/1.0.0/..\\..\\etc/passwd"),
            400,
            "400",
        ),
        case(
            "dot-dot before the context",
            get("/x/../pizzashack/1.0.0/menu"),
            400,
            "400",
        ),
        case(
            "asterisk-form",
            "GET * HTTP/1.1\r\nHost: gw\r\n\r\n",
            404,
            "404",
        ),
        // Read as authority-form: no path, so no API.
        case(
            "path without its slash",
            "GET pizzashack HTTP/1.1\r\nHost: gw\r\n\r\n",
            404,
            "404",
        ),
        // Control characters and malformed heads.
        case(
            "NUL in a header value",
            format!("GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nX-A: a\0b\r\n{auth}\r\n"),
            400,
            "",
        ),
        case("NUL in the path", get("/pizzashack/1.0.0/me\0nu"), 400, ""),
        case(
            "DEL in the path",
            get("/pizzashack/1.0.0/me\x7fnu"),
            400,
            "",
        ),
        case(
            "space in a header name",
            "GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nX Bad: 1\r\n\r\n",
            400,
            "",
        ),
        case(
            "header without a colon",
            "GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nnocolon\r\n\r\n",
            400,
            "",
        ),
        case(
            "empty header name",
            "GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\n: x\r\n\r\n",
            400,
            "",
        ),
        case(
            "NUL in the method",
            "G\0T /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\n\r\n",
            400,
            "",
        ),
        case(
            "no HTTP version",
            "GET /pizzashack/1.0.0/menu\r\nHost: gw\r\n\r\n",
            400,
            "",
        ),
        case(
            "HTTP/2.0 in an HTTP/1 request line",
            "GET /pizzashack/1.0.0/menu HTTP/2.0\r\nHost: gw\r\n\r\n",
            400,
            "",
        ),
        case(
            "binary garbage",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
            400,
            "",
        ),
        case(
            "NUL in the Authorization header",
            "GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer a\0b\r\n\r\n",
            400,
            "",
        ),
        case(
            "non-ASCII in the token",
            [
                format!(
                    "GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {}",
                    &token[..10]
                )
                .as_bytes(),
                "é".as_bytes(),
                format!("{}\r\n\r\n", &token[10..]).as_bytes(),
            ]
            .concat(),
            401,
            "900901",
        ),
        case(
            "bearer in lower case",
            format!(
                "GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nAuthorization: bearer {token}\r\n\r\n"
            ),
            401,
            "900902",
        ),
        case(
            "method in lower case",
            format!("get /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\n{auth}\r\n"),
            405,
            "405",
        ),
    ];
    // The client goes away mid-body: its own broken request (finding 3).
    cases.push(Case {
        what: "Content-Length larger than the body, then EOF",
        request: post("Content-Length: 1000\r\n", "only a little").into_bytes(),
        close: true,
        status: 400,
        code: "101001",
    });
    cases.push(Case {
        what: "chunked body cut off, then EOF",
        request: chunked("a\r\nabc").into_bytes(),
        close: true,
        status: 400,
        code: "101001",
    });
    cases
}

#[tokio::test]
async fn every_hostile_request_gets_its_status_and_code_and_nothing_reaches_or_hurts_the_backend() {
    let (gw, addr, seen, stop) = gateway().await;
    let token = token(PROD_KEY);
    let menu = format!(
        "GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        exchange(addr, menu.as_bytes(), false).await,
        vec![(200, String::new())]
    );

    let corpus = corpus(&token);
    assert!(corpus.len() >= 40, "{} cases", corpus.len());
    eprintln!("{} cases", corpus.len());
    let mut wrong = Vec::new();
    for c in &corpus {
        let got = exchange(addr, &c.request, c.close).await;
        let want = vec![(c.status, c.code.to_owned())];
        if got != want {
            wrong.push(format!("{}: got {got:?}, want {want:?}", c.what));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        corpus.len(),
        wrong.join("\n")
    );

    // No backend saw a dot segment or a smuggled request.
    let seen = seen.lock().unwrap().clone();
    for path in &seen {
        assert!(!path.contains(".."), "{path}");
        assert!(!path.contains("%2e") && !path.contains("%2E"), "{path}");
    }
    // Only the one valid menu call reached the backend's menu: nothing was smuggled.
    let menus = seen
        .iter()
        .filter(|p| p.contains("/production/menu"))
        .count();
    assert_eq!(menus, 1, "{seen:?}");
    // The endpoint suspends on 101503, yet no client's broken body suspended it.
    let routes = gw.routes();
    let api = routes.apis().next().unwrap();
    let url = api.production.as_deref().unwrap();
    assert_eq!(gw.endpoint_state(api, url), Some(State::Active), "{seen:?}");
    // And the gateway still serves.
    assert_eq!(
        exchange(addr, menu.as_bytes(), false).await,
        vec![(200, String::new())]
    );
    stop.cancel();
}

#[tokio::test]
async fn a_header_trickled_slower_than_the_header_read_timeout_closes_the_connection() {
    let (_gw, addr, _seen, stop) = gateway().await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /pizzashack/1.0.0/menu HTTP/1.1\r\nHost: gw\r\nX-Slow: ")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(_))),
        "the gateway never closed the connection"
    );
    stop.cancel();
}
