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
//! values in order), bodies as UTF-8 text (base64 when they are not; past 64 KiB their length
//! and SHA-256: [`tollgate_net::exchange`]), and `to` the topology member the URL names (the
//! URL's authority when none does: addresses are per run). A client error is `"error"` instead
//! of `"response"`. The file ends with one closing record,
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
//! Under simulation the nodes' HTTP exchanges with each other are `http` lines too, `from` and
//! `to` naming members ([`TapSlot::with_exchanges`]): a gateway's snapshot, throttling data and
//! event stream from its control plane and its event batches and decision stream to its Traffic
//! Manager (a stream is its head alone: its messages are the records above), a load balancer's
//! forwarded requests and health probes, and every request a mock backend answers (recorded by
//! the backend, [`crate::backend::Recorder`]). The slot keeps what the nodes record from boot on
//! ([`TapSlot::from_boot`]), so a gateway's start-up snapshot opens the transcript.
//!
//! Under simulation the run is one thread, so these are in line with the runner's records in
//! the order they happened. In-process the nodes run on threads and their order against each
//! other is a race, so each node's records are kept in its own order and written after the
//! runner's, node by node ([`Transcript::keep_nodes_apart`]); there the nodes record no
//! exchanges, and what they apply during boot is not kept. The container driver's nodes are
//! processes: none of this is recorded there.

use bytes::Bytes;
use http::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tollgate_net::exchange::{body, headers};
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
/// transcript once the topology is up ([`crate::driver::Target::record_into`]). A default slot
/// is off until then, and in a run without a transcript a node's tap stays off and it builds no
/// record; a slot [`from_boot`](Self::from_boot) keeps the records made before the attach.
#[derive(Debug, Clone, Default)]
pub struct TapSlot(Arc<Slot>);

/// A line kept until the attach, and the node it belongs to.
type KeptLine = (String, String);

#[derive(Debug, Default)]
struct Slot {
    attached: OnceLock<Transcript>,
    /// Records made before the attach, rendered with their time by the clock given.
    early: Option<(SharedClock, Mutex<Vec<KeptLine>>)>,
    /// `host:port` → member, for the `to` of the nodes' exchanges; `None`: nodes record none.
    members: Option<BTreeMap<String, String>>,
}

impl TapSlot {
    /// A slot for a run that keeps a transcript: records are kept from now on, stamped by
    /// `clock` (the transcript's), and go into the transcript, in order, when it is attached.
    /// With `members` (`host:port` → member name, every way the nodes name each other), the
    /// nodes record their HTTP exchanges too.
    pub fn from_boot(clock: SharedClock, members: Option<BTreeMap<String, String>>) -> Self {
        Self(Arc::new(Slot {
            attached: OnceLock::new(),
            early: Some((clock, Mutex::new(Vec::new()))),
            members,
        }))
    }

    /// Sends every node's records to `transcript` from now on, after those kept since boot (the
    /// first one attached stays).
    pub fn attach(&self, transcript: &Transcript) {
        let Some((_, early)) = &self.0.early else {
            let _ = self.0.attached.set(transcript.clone());
            return;
        };
        // Under the lock a record either joins the kept ones or, once attached, follows them.
        let mut early = lock(early);
        if self.0.attached.set(transcript.clone()).is_ok() {
            for (node, line) in early.drain(..) {
                transcript.push_node_line(&node, line);
            }
        }
    }

    /// The tap of member `node`: its records carry `"node": node`.
    pub fn tap(&self, node: &str) -> SharedTap {
        Arc::new(NodeTap {
            node: node.into(),
            slot: self.clone(),
        })
    }

    fn enabled(&self) -> bool {
        self.0.early.is_some() || self.0.attached.get().is_some()
    }

    /// Whether exchanges between members are recorded now.
    pub fn exchanges(&self) -> bool {
        self.0.members.is_some() && self.enabled()
    }

    /// One line of `owner`'s (`kind`, `"node": node` when given, then `fields`), stamped now
    /// and written now, or kept until the attach.
    fn record(&self, owner: &str, kind: &str, node: Option<&str>, fields: Value) {
        if let Some(transcript) = self.0.attached.get() {
            let line = render(transcript.inner.clock.now_millis(), kind, node, fields);
            return transcript.push_node_line(owner, line);
        }
        let Some((clock, kept)) = &self.0.early else {
            return;
        };
        let line = render(clock.now_millis(), kind, node, fields);
        let mut kept = lock(kept);
        match self.0.attached.get() {
            // Attached while this waited for the lock: the kept lines are in already.
            Some(transcript) => transcript.push_node_line(owner, line),
            None => kept.push((owner.to_owned(), line)),
        }
    }

    /// One HTTP exchange between members, `from` the one that sent it ([`Transcript::exchange`]'s
    /// shape; `fields` holds `request` and `response` or `error`).
    pub fn exchange(&self, from: &str, to: &str, fields: Value) {
        if self.exchanges() {
            self.record(from, "http", None, exchange_fields(from, to, fields));
        }
    }

    /// The member a node names `authority` (`host:port`), or the authority itself.
    fn member(&self, authority: &str) -> String {
        self.0
            .members
            .as_ref()
            .and_then(|m| m.get(authority))
            .cloned()
            .unwrap_or_else(|| authority.to_owned())
    }
}

#[derive(Debug)]
struct NodeTap {
    node: Arc<str>,
    slot: TapSlot,
}

impl Tap for NodeTap {
    fn enabled(&self) -> bool {
        self.slot.enabled()
    }

    fn record(&self, kind: &str, fields: Value) {
        self.slot.record(&self.node, kind, Some(&self.node), fields);
    }

    fn exchanges(&self) -> bool {
        self.slot.exchanges()
    }

    fn exchange(&self, authority: &str, fields: Value) {
        self.slot
            .exchange(&self.node, &self.slot.member(authority), fields);
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

    /// One line of node `node`: in line with the runner's where the run is one thread
    /// (simulated), else apart ([`Self::keep_nodes_apart`]).
    fn push_node_line(&self, node: &str, line: String) {
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
        render(self.inner.clock.now_millis(), kind, node, fields)
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
        fields.insert("request".into(), request);
        fields.insert(outcome.0.into(), outcome.1);
        self.record("http", exchange_fields(from, &to, Value::Object(fields)));
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

/// One line: `kind`, the time, the node when there is one, then `fields`.
fn render(at: i64, kind: &str, node: Option<&str>, fields: Value) -> String {
    let mut line = serde_json::Map::new();
    line.insert("kind".into(), kind.into());
    line.insert("at".into(), at.into());
    if let Some(node) = node {
        line.insert("node".into(), node.into());
    }
    if let Value::Object(fields) = fields {
        line.extend(fields);
    }
    Value::Object(line).to_string()
}

/// An exchange's fields: `from`, `to`, then `fields` (request, and response or error).
fn exchange_fields(from: &str, to: &str, fields: Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("from".into(), from.into());
    out.insert("to".into(), to.into());
    if let Value::Object(fields) = fields {
        out.extend(fields);
    }
    Value::Object(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_protocol::{Clock, ManualClock};

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
    fn a_slot_from_boot_keeps_records_until_the_attach_and_names_exchanges_by_member() {
        let clock = Arc::new(ManualClock::new(5));
        let members = BTreeMap::from([("localhost:9443".to_owned(), "control-plane".to_owned())]);
        let slot = TapSlot::from_boot(clock.clone(), Some(members));
        let gateway = slot.tap("gateway-1");
        assert!(gateway.enabled() && gateway.exchanges());
        gateway.record("applied-snapshot", json!({ "seq": 0 }));
        gateway.exchange("localhost:9443", json!({ "request": {} }));
        gateway.exchange("elsewhere:1", json!({ "request": {} }));
        clock.move_to(9);
        let transcript = Transcript::new(clock, BTreeMap::new());
        transcript.record("fault", json!({}));
        slot.attach(&transcript);
        gateway.record("applied-event", json!({ "seq": 1 }));
        assert_eq!(
            transcript.lines(),
            [
                r#"{"kind":"fault","at":9}"#,
                r#"{"kind":"applied-snapshot","at":5,"node":"gateway-1","seq":0}"#,
                r#"{"kind":"http","at":5,"from":"gateway-1","to":"control-plane","request":{}}"#,
                r#"{"kind":"http","at":5,"from":"gateway-1","to":"elsewhere:1","request":{}}"#,
                r#"{"kind":"applied-event","at":9,"node":"gateway-1","seq":1}"#
            ]
        );
        // A default slot keeps nothing before the attach, and its nodes record no exchanges.
        let off = TapSlot::default();
        assert!(!off.tap("gateway-1").enabled());
        off.attach(&Transcript::new(
            Arc::new(ManualClock::new(0)),
            BTreeMap::new(),
        ));
        assert!(!off.tap("gateway-1").exchanges());
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
