//! `tollgate soak`: mixed valid and hostile traffic through the guide's topology for a set
//! time, in-process and on loopback only, reporting the process's resident memory and open file
//! descriptors at the start and at the end (docs/security.md).
//!
//! The topology boots on a private loopback address with the system clock; PizzaShackAPI is
//! published to both gateways and an application gets a production token, as the guide's steps
//! 4 and 5 do. Then `connections` workers each open one connection per request, in turn: a
//! valid call (200), a lower-case `bearer` (401), a forged token (401), a traversal (400), a
//! broken chunked body (400), a 20 KiB header (431), binary garbage (400), and a request whose
//! head never ends, abandoned (the gateway closes it at its header-read timeout). Every answer
//! is checked against the status it must get.
//!
//! Everything runs in this one process, so the figures are the whole topology's plus the
//! harness's. They are read from `/proc/self` (Linux); elsewhere they are reported as unknown.

use crate::client::Client;
use crate::inproc::{BootError, RunningTopology};
use crate::topology::Topology;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollgate_node::PortRole;

/// How long and how hard.
#[derive(Debug, Clone)]
pub struct SoakOptions {
    pub duration: Duration,
    /// Workers, each with one connection at a time.
    pub connections: usize,
    pub seed: u64,
}

/// Resident memory and open file descriptors of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub rss_kib: Option<u64>,
    pub open_fds: Option<usize>,
}

impl Usage {
    /// Now, from `/proc/self`.
    pub fn now() -> Self {
        let rss_kib = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            });
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|dir| dir.count());
        Self { rss_kib, open_fds }
    }
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rss_kib {
            Some(kib) => write!(f, "RSS {:.1} MiB", kib as f64 / 1024.0)?,
            None => f.write_str("RSS unknown")?,
        }
        match self.open_fds {
            Some(n) => write!(f, ", {n} open fds"),
            None => f.write_str(", open fds unknown"),
        }
    }
}

/// What a soak did.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// After boot and setup, before the traffic.
    pub start: Usage,
    /// After the traffic, before shutdown.
    pub end: Usage,
    /// Requests sent, by what they were.
    pub sent: BTreeMap<&'static str, u64>,
    /// Answers that were not the status the request must get, by case: (count, last seen).
    pub unexpected: BTreeMap<&'static str, (u64, String)>,
    /// Whether a valid call still succeeds after the traffic.
    pub healthy_after: bool,
}

impl SoakReport {
    pub fn passed(&self) -> bool {
        self.unexpected.is_empty() && self.healthy_after
    }
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "start: {}", self.start)?;
        writeln!(f, "end:   {}", self.end)?;
        let total: u64 = self.sent.values().sum();
        writeln!(f, "requests: {total}")?;
        for (case, n) in &self.sent {
            writeln!(f, "  {case:<28} {n}")?;
        }
        for (case, (n, last)) in &self.unexpected {
            writeln!(f, "unexpected: {case}: {n} times, last {last}")?;
        }
        writeln!(
            f,
            "a valid call after the traffic: {}",
            if self.healthy_after { "200" } else { "FAILED" }
        )
    }
}

/// One kind of request and the status it must get.
struct Case {
    name: &'static str,
    request: Vec<u8>,
    /// The statuses it may get.
    status: &'static [u16],
    /// Leave the connection without reading an answer (the head never ends).
    abandon: bool,
}

fn cases(token: &str) -> Vec<Case> {
    let menu = "/pizzashack/1.0.0/menu";
    let head = |path: &str, auth: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n")
    };
    let bearer = format!("Authorization: Bearer {token}\r\n");
    let case = |name, request: String, status: &'static [u16]| Case {
        name,
        request: request.into_bytes(),
        status,
        abandon: false,
    };
    vec![
        case("valid", head(menu, &bearer), &[200]),
        case(
            "bearer in lower case",
            head(menu, &format!("Authorization: bearer {token}\r\n")),
            &[401],
        ),
        case(
            "forged token",
            head(menu, "Authorization: Bearer eyJhbGciOiJub25lIn0.e30.\r\n"),
            &[401],
        ),
        case(
            "traversal",
            head("/pizzashack/1.0.0/..%2f..%2fetc/passwd", &bearer),
            &[400],
        ),
        case(
            "broken chunked body",
            format!(
                "GET {menu} HTTP/1.1\r\nHost: localhost\r\n{bearer}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
            ),
            // The mock backend answers a GET without reading its body: its 200 may arrive
            // before the broken chunk does. Either way never a 5xx, never a suspension.
            &[200, 400],
        ),
        case(
            "20 KiB header",
            head(menu, &format!("X-Big: {}\r\n", "a".repeat(20 * 1024))),
            &[431],
        ),
        case("garbage", "\x16\x03\x01garbage\r\n\r\n".to_owned(), &[400]),
        Case {
            name: "head that never ends",
            request: format!("GET {menu} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").into_bytes(),
            status: &[0],
            abandon: true,
        },
    ]
}

/// Sends one case on a fresh connection; the status it got (0 for an abandoned one).
async fn send(addr: SocketAddr, case: &Case) -> Result<u16, String> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    // The gateway may answer (431, 400) and close before reading everything.
    let _ = stream.write_all(&case.request).await;
    if case.abandon {
        return Ok(0);
    }
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    match tokio::time::timeout(Duration::from_secs(10), read).await {
        Err(_) => return Err("no answer within 10 s".to_owned()),
        // A reset after the answer is still an answer.
        Ok(_) if answer.starts_with(b"HTTP/1.1 ") => {}
        Ok(result) => return Err(format!("no HTTP answer ({result:?})")),
    }
    std::str::from_utf8(&answer[9..answer.len().min(12)])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "unreadable status line".to_owned())
}

/// The guide's steps 4 and 5 over the REST APIs: a production token for PizzaShackAPI.
async fn production_token(client: &Client, cp: &str) -> Result<String, String> {
    async fn json(
        response: Result<crate::client::ClientResponse, crate::client::ClientError>,
        want: u16,
    ) -> Result<Value, String> {
        let response = response.map_err(|e| e.to_string())?;
        if response.status.as_u16() != want {
            return Err(format!("expected {want}: {response}"));
        }
        response.json::<Value>().map_err(|e| e.to_string())
    }
    let text = |v: &Value, key: &str| -> Result<String, String> {
        v[key]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no `{key}` in {v}"))
    };
    let dcr = json(
        client
            .post(format!("{cp}/client-registration/v0.17/register"))
            .basic_auth("admin", "admin")
            .json(
                &json!({"callbackUrl": "www.google.lk", "clientName": "soak_publisher",
                "owner": "admin", "grantType": "password", "saasApp": true}),
            )
            .send()
            .await,
        200,
    )
    .await?;
    let grant = |key: String, secret: String, scope: Option<&'static str>| {
        let client = client.clone();
        let cp = cp.to_owned();
        async move {
            let mut form = vec![
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", "admin"),
            ];
            if let Some(scope) = scope {
                form.push(("scope", scope));
            }
            let body = json(
                client
                    .post(format!("{cp}/oauth2/token"))
                    .basic_auth(&key, &secret)
                    .form(&form)
                    .send()
                    .await,
                200,
            )
            .await?;
            text(&body, "access_token")
        }
    };
    let rest = grant(
        text(&dcr, "clientId")?,
        text(&dcr, "clientSecret")?,
        Some("apim:api_view apim:api_create apim:api_publish apim:api_manage apim:subscribe apim:app_manage apim:sub_manage"),
    )
    .await?;
    let post = |path: String, body: Value, want: u16| {
        let request = client.post(format!("{cp}{path}")).bearer(&rest).json(&body);
        async move { json(request.send().await, want).await }
    };
    let api = post(
        "/api/am/publisher/v4/apis".into(),
        json!({"name": "PizzaShackAPI", "context": "/pizzashack", "version": "1.0.0",
            "policies": ["Unlimited"],
            "endpointConfig": {"endpoint_type": "http",
                "production_endpoints": {"url": "http://localhost:9080/pizzashack"},
                "sandbox_endpoints": {"url": "http://localhost:9081/pizzashack"}},
            "operations": [{"target": "/menu", "verb": "GET",
                "authType": "Application & Application User", "throttlingPolicy": "Unlimited"}]}),
        201,
    )
    .await?;
    let api_id = text(&api, "id")?;
    let revision = post(
        format!("/api/am/publisher/v4/apis/{api_id}/revisions"),
        json!({"description": "soak"}),
        201,
    )
    .await?;
    let revision_id = text(&revision, "id")?;
    post(
        format!("/api/am/publisher/v4/apis/{api_id}/deploy-revision?revisionId={revision_id}"),
        json!([{"name": "Production Gateway", "vhost": "localhost", "displayOnDevportal": true},
               {"name": "Default", "vhost": "localhost", "displayOnDevportal": true}]),
        201,
    )
    .await?;
    json(
        client
            .post(format!(
                "{cp}/api/am/publisher/v4/apis/change-lifecycle?apiId={api_id}&action=Publish"
            ))
            .bearer(&rest)
            .send()
            .await,
        200,
    )
    .await?;
    let app = post(
        "/api/am/devportal/v3/applications".into(),
        json!({"name": "SoakApp", "throttlingPolicy": "Unlimited", "description": "soak",
            "tokenType": "JWT"}),
        201,
    )
    .await?;
    let app_id = text(&app, "applicationId")?;
    post(
        "/api/am/devportal/v3/subscriptions".into(),
        json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Unlimited"}),
        201,
    )
    .await?;
    let keys = post(
        format!("/api/am/devportal/v3/applications/{app_id}/generate-keys"),
        json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["password", "client_credentials"]}),
        200,
    )
    .await?;
    grant(
        text(&keys, "consumerKey")?,
        text(&keys, "consumerSecret")?,
        None,
    )
    .await
}

/// Runs the soak on a booted guide topology.
pub async fn soak_running(
    running: &RunningTopology,
    options: &SoakOptions,
) -> Result<SoakReport, String> {
    let endpoint = |node: &str, role| {
        running
            .node(node)
            .and_then(|n| n.endpoint(role))
            .cloned()
            .ok_or_else(|| format!("the topology has no {node} with a {role:?} port"))
    };
    let cp = endpoint("control-plane", PortRole::MgmtHttps)?.url;
    let gateway = endpoint("production-gateway", PortRole::PassthruHttp)?.addr;
    let token = production_token(&running.client(), &cp).await?;
    running.converge().await.map_err(|e| e.to_string())?;
    let cases = Arc::new(cases(&token));

    let start = Usage::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..options.connections.max(1) {
        let (cases, stop) = (cases.clone(), stop.clone());
        workers.spawn(async move {
            let mut sent: BTreeMap<&'static str, u64> = BTreeMap::new();
            let mut unexpected: BTreeMap<&'static str, (u64, String)> = BTreeMap::new();
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let case = &cases[i % cases.len()];
                i += 1;
                *sent.entry(case.name).or_default() += 1;
                match send(gateway, case).await {
                    Ok(status) if case.status.contains(&status) => {}
                    Ok(status) => {
                        let e = unexpected.entry(case.name).or_default();
                        e.0 += 1;
                        e.1 = format!("status {status}, want one of {:?}", case.status);
                    }
                    Err(error) => {
                        let e = unexpected.entry(case.name).or_default();
                        e.0 += 1;
                        e.1 = error;
                    }
                }
            }
            (sent, unexpected)
        });
    }
    tokio::time::sleep(options.duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut sent: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut unexpected: BTreeMap<&'static str, (u64, String)> = BTreeMap::new();
    while let Some(done) = workers.join_next().await {
        let (s, u) = done.map_err(|e| e.to_string())?;
        for (k, v) in s {
            *sent.entry(k).or_default() += v;
        }
        for (k, (n, last)) in u {
            let e = unexpected.entry(k).or_default();
            e.0 += n;
            e.1 = last;
        }
    }
    let end = Usage::now();
    let healthy_after = matches!(send(gateway, &cases[0]).await, Ok(200));
    Ok(SoakReport {
        start,
        end,
        sent,
        unexpected,
        healthy_after,
    })
}

/// Boots `topology` (the guide's) on a private loopback address with the system clock, soaks
/// it, shuts it down.
pub async fn soak(topology: &Topology, options: &SoakOptions) -> Result<SoakReport, String> {
    let clock: tollgate_protocol::SharedClock = Arc::new(tollgate_protocol::SystemClock);
    let running = crate::inproc::boot_private(topology, options.seed, clock, Default::default())
        .await
        .map_err(|e: BootError| e.to_string())?;
    let report = soak_running(&running, options).await;
    running.shutdown().await;
    report
}
