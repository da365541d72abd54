//! A run's transcript: what crossed between the harness and the topology, one JSON object a
//! line, in order, stamped with the topology's virtual time — so two runs of one scenario and
//! seed can be compared line by line (`tollgate run --transcript FILE`, `--check-determinism`).
//!
//! Each HTTP exchange the runner's client makes is one line:
//!
//! ```json
//! {"kind":"http","at":1767225600000,"from":"harness","to":"control-plane","request":{...},"response":{...}}
//! ```
//!
//! with the request and response headers lower-cased and sorted (a name seen twice keeps its
//! values in order), bodies as UTF-8 text (base64 when they are not), and `to` the topology
//! member the URL names (the URL's authority when none does: addresses are per run). A client
//! error is `"error"` instead of `"response"`. The file ends with one closing record,
//! `{"kind":"end","lines":N,"sha256":"…"}`, the SHA-256 of the N lines before it (each with
//! its newline).
//!
//! The runner also writes each fault it injects (`{"kind":"fault","fault":"Kill(\"gateway-1\")"}`)
//! and, when it awaits convergence, each gateway seen to have applied the control plane's
//! events up to `seq` (`{"kind":"applied","gateway":…,"seq":…}`).
//!
//! Under the in-process and simulated drivers the nodes report too, through the
//! [`tollgate_protocol::tap`] seam the driver hands each node ([`TapSlot`]), each record naming
//! its `node`:
//!
//! - `applied-snapshot`: a gateway replaced its state with the control plane's snapshot (`seq`,
//!   each API of its labels with its revision, and how many applications, key mappings,
//!   subscriptions and revoked tokens it held);
//! - `applied-event`: a gateway applied event `seq` (`event`: its type and content, as on the
//!   wire; heartbeats and events it had already applied are not applied, so not recorded);
//! - `decision`: a Traffic Manager published a decision (`key`, `throttled`, `until`);
//! - `applied-decision`: a gateway applied one from its decision stream (same fields), and
//!   `applied-decisions` the decisions in force it was sent on connecting.
//!
//! Under simulation the run is one thread, so these are in line with the runner's records in
//! the order they happened. In-process the nodes run on threads and their order against each
//! other is a race, so each node's records are kept in its own order and written after the
//! runner's, node by node ([`Transcript::keep_nodes_apart`]). The container driver's nodes are
//! processes: none of this is recorded there. Not recorded under any driver: the nodes'
//! exchanges with each other (a gateway's sync, a load balancer's forwarded requests).

use base64::Engine;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tollgate_protocol::{SharedClock, SharedTap, Tap};

/// A transcript being written; clones append to the same one.
#[derive(Debug, Clone)]
pub struct Transcript {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    clock: SharedClock,
    /// URL authority (`127.0.0.9:9443`) → member name (`control-plane`).
    names: BTreeMap<String, String>,
    lines: Mutex<Vec<String>>,
    /// Set where the nodes run on threads (in-process): their records are kept per node, in
    /// each node's own order, and follow the runner's lines ([`Transcript::lines`]).
    apart: AtomicBool,
    /// Node → its records, when `apart`.
    nodes: Mutex<BTreeMap<String, Vec<String>>>,
}

/// Where the nodes of one booted topology report ([`tollgate_protocol::tap`]): a driver hands
/// each node `slot.tap(name)` (on its `Outbound`) at boot, and the runner attaches the scenario's
/// transcript once the topology is up ([`crate::driver::Target::record_into`]). Until then, and
/// in a run without a transcript, a node's tap is off and it builds no record.
#[derive(Debug, Clone, Default)]
pub struct TapSlot(Arc<OnceLock<Transcript>>);

impl TapSlot {
    /// Sends every node's records to `transcript` from now on (the first one attached stays).
    pub fn attach(&self, transcript: &Transcript) {
        let _ = self.0.set(transcript.clone());
    }

    /// The tap of member `node`: its records carry `"node": node`.
    pub fn tap(&self, node: &str) -> SharedTap {
        Arc::new(NodeTap {
            node: node.into(),
            slot: self.clone(),
        })
    }
}

#[derive(Debug)]
struct NodeTap {
    node: Arc<str>,
    slot: TapSlot,
}

impl Tap for NodeTap {
    fn enabled(&self) -> bool {
        self.slot.0.get().is_some()
    }

    fn record(&self, kind: &str, fields: Value) {
        if let Some(transcript) = self.slot.0.get() {
            transcript.record_node(&self.node, kind, fields);
        }
    }
}

/// One request as the client sent it.
pub struct Sent<'a> {
    pub method: &'a http::Method,
    pub url: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
}

impl Transcript {
    /// A transcript stamped by `clock`, naming each URL authority in `names` by its member.
    pub fn new(clock: SharedClock, names: BTreeMap<String, String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                clock,
                names,
                lines: Mutex::new(Vec::new()),
                apart: AtomicBool::new(false),
                nodes: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// Appends one record of `kind`, stamped with the virtual time; `fields` are merged in.
    pub fn record(&self, kind: &str, fields: Value) {
        let line = self.line(kind, None, fields);
        lock(&self.inner.lines).push(line);
    }

    /// One record of node `node` (`"node": node` after the time): in line with the runner's
    /// where the run is one thread (simulated), else apart ([`Self::keep_nodes_apart`]).
    pub fn record_node(&self, node: &str, kind: &str, fields: Value) {
        let line = self.line(kind, Some(node), fields);
        if self.inner.apart.load(Ordering::Relaxed) {
            lock(&self.inner.nodes)
                .entry(node.to_owned())
                .or_default()
                .push(line);
        } else {
            lock(&self.inner.lines).push(line);
        }
    }

    /// Keeps the nodes' records out of the runner's order: for nodes on threads (in-process),
    /// whose order against each other and the runner is a race. Each node's own order is kept
    /// and [`Self::lines`] writes them after the runner's, node by node in name order.
    pub fn keep_nodes_apart(&self) {
        self.inner.apart.store(true, Ordering::Relaxed);
    }

    fn line(&self, kind: &str, node: Option<&str>, fields: Value) -> String {
        let mut line = serde_json::Map::new();
        line.insert("kind".into(), kind.into());
        line.insert("at".into(), self.inner.clock.now_millis().into());
        if let Some(node) = node {
            line.insert("node".into(), node.into());
        }
        if let Value::Object(fields) = fields {
            line.extend(fields);
        }
        Value::Object(line).to_string()
    }

    /// One HTTP exchange by `from`: the request, and the response or the error.
    pub fn exchange(
        &self,
        from: &str,
        sent: Sent<'_>,
        answer: Result<(http::StatusCode, &HeaderMap, &Bytes), String>,
    ) {
        let to = authority(sent.url)
            .map(|a| self.inner.names.get(&a).cloned().unwrap_or(a))
            .unwrap_or_default();
        let request = json!({
            "method": sent.method.as_str(),
            "url": path_and_query(sent.url),
            "headers": headers(sent.headers),
            "body": body(sent.body),
        });
        let outcome = match answer {
            Ok((status, headers_, body_)) => (
                "response",
                json!({ "status": status.as_u16(), "headers": headers(headers_), "body": body(body_) }),
            ),
            Err(error) => ("error", Value::String(error)),
        };
        let mut fields = serde_json::Map::new();
        fields.insert("from".into(), from.into());
        fields.insert("to".into(), to.into());
        fields.insert("request".into(), request);
        fields.insert(outcome.0.into(), outcome.1);
        self.record("http", Value::Object(fields));
    }

    /// The lines so far (no closing record): the runner's, with the nodes' in line or after.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = lock(&self.inner.lines).clone();
        lines.extend(lock(&self.inner.nodes).values().flatten().cloned());
        lines
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// `lines` followed by the closing record: their count and SHA-256.
pub fn closed(mut lines: Vec<String>) -> Vec<String> {
    let mut hash = Sha256::new();
    for line in &lines {
        hash.update(line.as_bytes());
        hash.update(b"\n");
    }
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let end = json!({ "kind": "end", "lines": lines.len(), "sha256": digest });
    lines.push(end.to_string());
    lines
}

/// The first line where `a` and `b` differ: its 1-based number and both sides (`None` past an
/// end). `None` when they are the same.
pub fn first_difference<'a>(
    a: &'a [String],
    b: &'a [String],
) -> Option<(usize, Option<&'a str>, Option<&'a str>)> {
    (0..a.len().max(b.len())).find_map(|i| {
        let (x, y) = (a.get(i).map(String::as_str), b.get(i).map(String::as_str));
        (x != y).then_some((i + 1, x, y))
    })
}

fn authority(url: &str) -> Option<String> {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()))
}

fn path_and_query(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|u| u.path_and_query().map(|p| p.as_str().to_owned()))
        .unwrap_or_else(|| url.to_owned())
}

/// Lower-cased names, sorted; a repeated name keeps its values in the order sent.
fn headers(map: &HeaderMap) -> BTreeMap<String, Value> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in map {
        out.entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    out.into_iter()
        .map(|(name, mut values)| {
            let value = if values.len() == 1 {
                Value::String(values.remove(0))
            } else {
                Value::from(values)
            };
            (name, value)
        })
        .collect()
}

fn body(bytes: &Bytes) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_protocol::ManualClock;

    #[test]
    fn an_exchange_is_one_line_with_sorted_lower_cased_headers_and_the_members_name() {
        let clock = Arc::new(ManualClock::new(1_000));
        let names = BTreeMap::from([("127.0.0.9:9443".to_owned(), "control-plane".to_owned())]);
        let transcript = Transcript::new(clock, names);
        let mut sent = HeaderMap::new();
        sent.insert("X-B", "2".parse().unwrap());
        sent.insert("a", "1".parse().unwrap());
        let mut got = HeaderMap::new();
        got.append("set-cookie", "x".parse().unwrap());
        got.append("set-cookie", "y".parse().unwrap());
        transcript.exchange(
            "harness",
            Sent {
                method: &http::Method::GET,
                url: "https://127.0.0.9:9443/api?q=1",
                headers: &sent,
                body: &Bytes::new(),
            },
            Ok((http::StatusCode::OK, &got, &Bytes::from_static(b"{}"))),
        );
        assert_eq!(
            transcript.lines(),
            [
                r#"{"kind":"http","at":1000,"from":"harness","to":"control-plane","request":{"method":"GET","url":"/api?q=1","headers":{"a":"1","x-b":"2"},"body":""},"response":{"status":200,"headers":{"set-cookie":["x","y"]},"body":"{}"}}"#
            ]
        );
    }

    #[test]
    fn node_records_are_in_line_unless_kept_apart_then_follow_node_by_node() {
        let clock = Arc::new(ManualClock::new(5));
        let transcript = Transcript::new(clock, BTreeMap::new());
        let slot = TapSlot::default();
        let gateway = slot.tap("gateway-2");
        assert!(!gateway.enabled(), "off until a transcript is attached");
        gateway.record("applied-event", json!({ "seq": 0 }));
        slot.attach(&transcript);
        transcript.record("fault", json!({}));
        gateway.record("applied-event", json!({ "seq": 1 }));
        assert_eq!(
            transcript.lines(),
            [
                r#"{"kind":"fault","at":5}"#,
                r#"{"kind":"applied-event","at":5,"node":"gateway-2","seq":1}"#
            ]
        );
        let apart = Transcript::new(Arc::new(ManualClock::new(5)), BTreeMap::new());
        apart.keep_nodes_apart();
        let slot = TapSlot::default();
        slot.attach(&apart);
        slot.tap("gateway-2")
            .record("applied-event", json!({ "seq": 1 }));
        slot.tap("gateway-1")
            .record("applied-event", json!({ "seq": 1 }));
        apart.record("fault", json!({}));
        slot.tap("gateway-2")
            .record("applied-event", json!({ "seq": 2 }));
        let nodes: Vec<String> = apart
            .lines()
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|r| format!("{} {}", r["node"], r["seq"]))
            .collect();
        assert_eq!(
            nodes,
            [
                "null null",
                "\"gateway-1\" 1",
                "\"gateway-2\" 1",
                "\"gateway-2\" 2"
            ]
        );
    }

    #[test]
    fn the_closing_record_hashes_the_lines_and_a_difference_is_found_by_line() {
        let a = closed(vec!["x".into(), "y".into()]);
        // sha256("x\ny\n")
        assert_eq!(
            a[2],
            r#"{"kind":"end","lines":2,"sha256":"09834d488008f5f1ef589a2d7cedc52425bee9dd23b2212e4c1d673c5cbb54e4"}"#
        );
        let b = closed(vec!["x".into(), "z".into()]);
        assert_eq!(first_difference(&a, &a), None);
        assert_eq!(first_difference(&a, &b), Some((2, Some("y"), Some("z"))));
        assert_eq!(first_difference(&a[..1], &a), Some((2, None, Some("y"))));
    }
}
