//! The reader: file tree -> checked [`Scenario`], collecting every error on the way.
//!
//! One pass in file order. Shapes and types are checked where each value is read; names are
//! checked against a [`Scope`] of what earlier steps defined (APIs, applications, keys, tokens,
//! captures), which is why the pass follows step order. A value that is wrong is reported and
//! skipped, and reading goes on, so one run reports every error in the file.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::error::{ScenarioError, SourceMap, did_you_mean, suggest};
use crate::expect::{
    Capture, CaptureSource, CountExpect, Expect, HeaderExpect, JsonExpect, JsonMatch, Run,
    StatusMatch, TextMatch, Times,
};
use crate::facts::{Catalog, TopologyFacts};
use crate::jsonpath::JsonPath;
use crate::model::*;
use crate::template::{JsonTemplate, Template, Var, is_name};
use crate::time::{ClockMark, parse_duration};
use crate::tree::{Entry, Kind, Node};

/// `throttled` / `unthrottled` waits and what they need from earlier steps.
mod throttle_wait;

/// The action keys a step may have; exactly one per step.
pub(crate) const ACTIONS: [&str; 17] = [
    "publish",
    "revision",
    "deploy",
    "undeploy",
    "lifecycle",
    "application",
    "subscribe",
    "generate_keys",
    "token",
    "revoke",
    "request",
    "http",
    "advance",
    "wait",
    "fault",
    "load",
    "artifact",
];

const STEP_KEYS: [&str; 6] = [
    "name",
    "expect",
    "expect_counts",
    "repeat",
    "capture",
    "expect_load",
];

/// Background load: the most requests a second, and the longest run.
const MAX_RATE: i64 = 10_000;
const MAX_LOAD_DURATION: Duration = Duration::from_secs(600);
const DEFAULT_CONCURRENCY: u32 = 16;

const EXPECT_KEYS: [&str; 9] = [
    "status",
    "code",
    "message",
    "description",
    "headers",
    "json",
    "body",
    "body_contains",
    "backend",
];

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Largest `repeat`: a scenario is a test, not a load generator (that is what a `load` step is for).
const MAX_REPEAT: i64 = 100_000;

const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// A table being read: its entries, where it is, and its key path.
struct Table<'n> {
    entries: &'n [Entry],
    span: Range<usize>,
    path: String,
}

impl<'n> Table<'n> {
    fn get(&self, key: &str) -> Option<&'n Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn sub(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

fn join(path: &str, key: &str) -> String {
    // Keys that are not plain words (`"$.list[0]"`, `"Content-Type"` is fine) are quoted.
    let plain = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if plain {
        key.to_owned()
    } else {
        format!("\"{key}\"")
    };
    if path.is_empty() {
        key
    } else {
        format!("{path}.{key}")
    }
}

/// What earlier steps defined, for checking names.
#[derive(Default)]
struct Scope {
    /// API name -> (defining step, revisions created so far).
    apis: BTreeMap<String, (usize, u32)>,
    apps: BTreeMap<String, usize>,
    /// key name -> (defining step, application).
    keys: BTreeMap<String, (usize, String)>,
    /// token name -> its key.
    tokens: BTreeMap<String, String>,
    /// Capture and token names.
    vars: BTreeSet<String>,
    /// Background load name -> (starting step, stopped).
    loads: BTreeMap<String, (usize, bool)>,
    /// Published APIs and subscriptions, for throttle keys.
    throttle: throttle_wait::ThrottleScope,
}

pub(crate) struct Reader<'s> {
    file: &'s Path,
    source: &'s str,
    map: SourceMap<'s>,
    errors: Vec<ScenarioError>,
    scope: Scope,
    /// Where topologies live, when known: topology, instance, backend and environment names
    /// are then checked.
    catalog: Option<Catalog>,
    facts: Option<TopologyFacts>,
    /// Whether environment names are checked (not when overrides rewrite the environments).
    check_environments: bool,
    /// Whether the step being read has an `expect` (a deploy to an unknown environment may be
    /// the point of the step).
    step_has_expect: bool,
}

impl<'s> Reader<'s> {
    pub(crate) fn new(file: &'s Path, source: &'s str) -> Self {
        Self {
            file,
            source,
            map: SourceMap::new(source),
            errors: Vec::new(),
            scope: Scope::default(),
            catalog: None,
            facts: None,
            check_environments: true,
            step_has_expect: false,
        }
    }

    pub(crate) fn with_catalog(mut self, catalog: Option<Catalog>) -> Self {
        self.catalog = catalog;
        self
    }

    pub(crate) fn error(&mut self, at: usize, path: &str, message: impl Into<String>) {
        let location = self.map.locate(at);
        self.errors.push(ScenarioError {
            file: self.file.to_path_buf(),
            line: location.line,
            column: location.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// Every error, sorted by position.
    pub(crate) fn into_errors(self) -> Vec<ScenarioError> {
        let mut errors = self.errors;
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        errors
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    // ----- generic readers -------------------------------------------------------------------

    /// `node` as a table whose keys are all in `known`; unknown keys are errors with a
    /// suggestion.
    fn table<'n>(&mut self, node: &'n Node, path: &str, known: &[&str]) -> Option<Table<'n>> {
        let Some(entries) = node.entries() else {
            self.error(
                node.span.start,
                path,
                format!("expected a table, found {}", node.describe()),
            );
            return None;
        };
        for entry in entries {
            if !known.contains(&entry.key.as_str()) {
                let hint = did_you_mean(&entry.key, known.iter().copied());
                self.error(
                    entry.key_span.start,
                    &join(path, &entry.key),
                    format!("unknown key `{}`{hint}", entry.key),
                );
            }
        }
        Some(Table {
            entries,
            span: node.span.clone(),
            path: path.to_owned(),
        })
    }

    /// Reads `key` if present.
    fn opt<V>(
        &mut self,
        t: &Table<'_>,
        key: &str,
        conv: impl FnOnce(&mut Self, &Node, &str) -> Option<V>,
    ) -> Option<V> {
        let entry = t.get(key)?;
        conv(self, &entry.value, &t.sub(key))
    }

    /// The one entry of `t` whose key is in `keys`. None given is an error at the table
    /// (`none()`); a second is an error at its key (`twice(first key)`).
    fn one_of<'n>(
        &mut self,
        t: &Table<'n>,
        keys: &[&str],
        none: impl FnOnce() -> String,
        twice: impl FnOnce(&str) -> String,
    ) -> Option<&'n Entry> {
        let mut given = t.entries.iter().filter(|e| keys.contains(&e.key.as_str()));
        let Some(first) = given.next() else {
            self.error(t.span.start, &t.path, none());
            return None;
        };
        if let Some(second) = given.next() {
            self.error(
                second.key_span.start,
                &t.sub(&second.key),
                twice(&first.key),
            );
            return None;
        }
        Some(first)
    }

    /// Reads `key`, reporting it missing at the table.
    fn req<V>(
        &mut self,
        t: &Table<'_>,
        key: &str,
        conv: impl FnOnce(&mut Self, &Node, &str) -> Option<V>,
    ) -> Option<V> {
        if !t.has(key) {
            self.error(t.span.start, &t.path, format!("missing `{key}`"));
            return None;
        }
        self.opt(t, key, conv)
    }

    fn type_error(&mut self, node: &Node, path: &str, expected: &str) {
        self.error(
            node.span.start,
            path,
            format!("expected {expected}, found {}", node.describe()),
        );
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) => Some(s.clone()),
            _ => {
                self.type_error(node, path, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.kind {
            Kind::Bool(b) => Some(*b),
            _ => {
                self.type_error(node, path, "true or false");
                None
            }
        }
    }

    /// An integer in `range`.
    fn integer(
        &mut self,
        node: &Node,
        path: &str,
        what: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<i64> {
        match &node.kind {
            Kind::Int(i) if range.contains(i) => Some(*i),
            Kind::Int(i) => {
                self.error(
                    node.span.start,
                    path,
                    format!(
                        "{what} must be between {} and {}, found {i}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
            _ => {
                self.type_error(node, path, &format!("an integer {what}"));
                None
            }
        }
    }

    /// A string, or an array of strings (`to = "Default"` or `to = ["A", "B"]`), not empty.
    fn strings(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        match &node.kind {
            Kind::Str(s) => Some(vec![s.clone()]),
            Kind::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = self.string(item, &format!("{path}[{i}]")) {
                        out.push(s);
                    }
                }
                if items.is_empty() {
                    self.error(node.span.start, path, "the list is empty");
                    return None;
                }
                (out.len() == items.len()).then_some(out)
            }
            _ => {
                self.type_error(node, path, "a string or an array of strings");
                None
            }
        }
    }

    /// A name for something the scenario defines (`api = "pizza"`).
    fn name(&mut self, node: &Node, path: &str) -> Option<String> {
        let name = self.string(node, path)?;
        if !is_name(&name) {
            self.error(
                node.span.start,
                path,
                format!("`{name}` is not a name: use letters, digits, `_` and `-`"),
            );
            return None;
        }
        Some(name)
    }

    fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let text = self.string(node, path)?;
        match parse_duration(&text) {
            Ok(d) if d.is_zero() => {
                self.error(node.span.start, path, "the duration must be more than zero");
                None
            }
            Ok(d) => Some(d),
            Err(message) => {
                self.error(node.span.start, path, message);
                None
            }
        }
    }

    /// One of `choices` (matched without regard to case); the error lists them.
    fn choice<V: Copy>(&mut self, node: &Node, path: &str, choices: &[(&str, V)]) -> Option<V> {
        let text = self.string(node, path)?;
        if let Some((_, v)) = choices.iter().find(|(n, _)| n.eq_ignore_ascii_case(&text)) {
            return Some(*v);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let hint = suggest(&text, names.iter().copied())
            .map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"));
        let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        self.error(
            node.span.start,
            path,
            format!("`{text}` is not one of {}{hint}", list.join(", ")),
        );
        None
    }

    /// A string template whose references are all defined by earlier steps.
    fn template(&mut self, node: &Node, path: &str) -> Option<Template> {
        let text = self.string(node, path)?;
        self.template_text(&text, node, path)
    }

    fn template_text(&mut self, text: &str, node: &Node, path: &str) -> Option<Template> {
        match Template::parse(text) {
            Ok(template) => {
                let mut ok = true;
                for var in template.vars() {
                    if let Some(message) = self.undefined(var) {
                        let at = self.offset_in_string(node, text, var);
                        self.error(at, path, message);
                        ok = false;
                    }
                }
                ok.then_some(template)
            }
            Err(e) => {
                let at = self.string_offset(node, text, e.offset);
                self.error(at, path, e.message);
                None
            }
        }
    }

    /// Where `var` is written inside the string `node`.
    fn offset_in_string(&self, node: &Node, text: &str, var: &Var) -> usize {
        let written = var.to_string();
        let within = text.find(&written).unwrap_or(0);
        self.string_offset(node, text, within)
    }

    /// The file offset of byte `within` of string value `text`, when the string is written
    /// without escapes (else the string's start).
    fn string_offset(&self, node: &Node, text: &str, within: usize) -> usize {
        let raw = self.source.get(node.span.clone()).unwrap_or("");
        for quote in ["\"", "'"] {
            let unescaped = raw.len() == text.len() + 2
                && raw.starts_with(quote)
                && raw.ends_with(quote)
                && raw.get(1..raw.len() - 1) == Some(text);
            if unescaped {
                return node.span.start + 1 + within;
            }
        }
        node.span.start
    }

    /// Why `var` cannot be used here, if it cannot.
    fn undefined(&self, var: &Var) -> Option<String> {
        let (kind, name, known): (&str, &str, Vec<&str>) = match var {
            Var::Capture(name) => {
                let known = self.scope.vars.iter().map(String::as_str).collect();
                if self.scope.vars.contains(name) {
                    return None;
                }
                ("capture or token", name, known)
            }
            Var::ApiId(name) => {
                if self.scope.apis.contains_key(name) {
                    return None;
                }
                (
                    "API",
                    name,
                    self.scope.apis.keys().map(String::as_str).collect(),
                )
            }
            Var::AppId(name) => {
                if self.scope.apps.contains_key(name) {
                    return None;
                }
                (
                    "application",
                    name,
                    self.scope.apps.keys().map(String::as_str).collect(),
                )
            }
            Var::Key(name, _) => {
                if self.scope.keys.contains_key(name) {
                    return None;
                }
                (
                    "key",
                    name,
                    self.scope.keys.keys().map(String::as_str).collect(),
                )
            }
        };
        Some(format!(
            "`{var}`: no earlier step defines the {kind} `{name}`{}",
            hint(name, &known)
        ))
    }

    /// `name` must be defined in `defined`; else an error naming what is.
    fn known<T>(
        &mut self,
        node: &Node,
        path: &str,
        kind: &str,
        defined: &BTreeMap<String, T>,
    ) -> Option<String> {
        let name = self.string(node, path)?;
        if defined.contains_key(&name) {
            return Some(name);
        }
        let known: Vec<&str> = defined.keys().map(String::as_str).collect();
        let by = match kind {
            "API" => "published by",
            "application" => "created by",
            "key" => "generated by",
            _ => "obtained by",
        };
        self.error(
            node.span.start,
            path,
            format!(
                "no {kind} named `{name}` is {by} an earlier step{}",
                hint(&name, &known)
            ),
        );
        None
    }

    fn known_api(&mut self, t: &Table<'_>) -> Option<String> {
        let apis = self.scope.apis.clone();
        self.req(t, "api", |r, n, p| r.known(n, p, "API", &apis))
    }

    fn known_app(&mut self, t: &Table<'_>) -> Option<String> {
        let apps = self.scope.apps.clone();
        self.req(t, "app", |r, n, p| r.known(n, p, "application", &apps))
    }

    fn known_token(&mut self, t: &Table<'_>, key: &str) -> Option<String> {
        let tokens = self.scope.tokens.clone();
        self.req(t, key, |r, n, p| r.known(n, p, "token", &tokens))
    }

    /// A revision number of `api` that an earlier step created.
    fn revision_number(&mut self, node: &Node, path: &str, api: Option<&str>) -> Option<u32> {
        let n = self.integer(node, path, "revision number", 1..=i64::from(u32::MAX))?;
        let n = u32::try_from(n).ok()?;
        let api = api?;
        let created = self.scope.apis.get(api).map_or(0, |(_, r)| *r);
        if n > created {
            let so_far = match created {
                0 => "no revision yet".to_owned(),
                1 => "only revision 1 so far".to_owned(),
                c => format!("revisions 1 to {c} so far"),
            };
            self.error(
                node.span.start,
                path,
                format!("API `{api}` has {so_far} (a `revision` step or a `deploy` without `revision` creates one)"),
            );
            return None;
        }
        Some(n)
    }

    // ----- names from the topology -----------------------------------------------------------

    /// `name` must be in `set` (when the topology's facts are known).
    fn in_topology(
        &mut self,
        node: &Node,
        path: &str,
        name: String,
        what: &str,
        set: impl Fn(&TopologyFacts) -> &std::collections::BTreeSet<String>,
    ) -> Option<String> {
        let Some(facts) = &self.facts else {
            return Some(name);
        };
        let known = set(facts);
        if known.contains(&name) {
            return Some(name);
        }
        let list: Vec<&str> = known.iter().map(String::as_str).collect();
        let hint = match suggest(&name, list.iter().copied()) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => format!(" ({what}s: {})", list.join(", ")),
        };
        self.error(
            node.span.start,
            path,
            format!("the topology has no {what} `{name}`{hint}"),
        );
        None
    }

    /// An instance of the topology (`via`, `gateway`).
    fn instance(&mut self, node: &Node, path: &str) -> Option<String> {
        let name = self.name(node, path)?;
        self.in_topology(node, path, name, "instance", |f| &f.instances)
    }

    /// A mock backend of the topology.
    fn backend_name(&mut self, node: &Node, path: &str) -> Option<String> {
        let name = self.name(node, path)?;
        self.in_topology(node, path, name, "backend", |f| &f.backends)
    }

    /// One environment name or a list of them.
    fn environments(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let names = self.strings(node, path)?;
        if !self.check_environments || self.step_has_expect {
            return Some(names);
        }
        let mut ok = true;
        for (i, name) in names.iter().enumerate() {
            let (at, p) = match &node.kind {
                Kind::Array(items) => (&items[i], format!("{path}[{i}]")),
                _ => (node, path.to_owned()),
            };
            ok &= self
                .in_topology(at, &p, name.clone(), "environment", |f| &f.environments)
                .is_some();
        }
        ok.then_some(names)
    }

    fn environment(&mut self, node: &Node, path: &str) -> Option<String> {
        let name = self.string(node, path)?;
        if !self.check_environments {
            return Some(name);
        }
        self.in_topology(node, path, name, "environment", |f| &f.environments)
    }

    // ----- the file ----------------------------------------------------------------------------

    pub(crate) fn scenario(&mut self, root: &Node) -> Option<Scenario> {
        let root = self.table(root, "", &["scenario", "step"])?;
        let head = match root.get("scenario") {
            Some(entry) => self.head(&entry.value),
            None => {
                self.error(
                    0,
                    "scenario",
                    "missing the `[scenario]` table (name, topology, …)",
                );
                None
            }
        };
        if let (Some(catalog), Some((_, _, topology, ..))) = (&self.catalog, &head) {
            self.facts = catalog.facts(&topology.name);
            self.check_environments = !topology.overrides.values().any(|keys| {
                keys.keys()
                    .any(|k| k.starts_with("apim.gateway.environment"))
            });
        }
        let steps = match root.get("step") {
            Some(entry) => self.steps(&entry.value),
            None => {
                self.error(
                    self.source.len(),
                    "step",
                    "a scenario has at least one `[[step]]`",
                );
                None
            }
        };
        let (name, description, topology, seed, tags, drivers) = head?;
        Some(Scenario {
            file: self.file.to_path_buf(),
            name,
            description,
            topology,
            seed,
            tags,
            drivers,
            steps: steps?,
        })
    }

    #[allow(clippy::type_complexity)]
    fn head(
        &mut self,
        node: &Node,
    ) -> Option<(
        String,
        Option<String>,
        TopologyRef,
        Option<u64>,
        Vec<Tag>,
        Vec<Driver>,
    )> {
        let t = self.table(
            node,
            "scenario",
            &["name", "description", "topology", "seed", "tags", "drivers"],
        )?;
        let name = self.req(&t, "name", Self::string);
        let description = self.opt(&t, "description", Self::string);
        let topology = self.req(&t, "topology", Self::topology);
        let seed = self.opt(&t, "seed", |r, n, p| {
            r.integer(n, p, "seed", 0..=i64::MAX)
                .map(|s| s.unsigned_abs())
        });
        let tags = self
            .opt(&t, "tags", |r, n, p| {
                let choices: Vec<(&str, Tag)> = Tag::ALL.iter().map(|t| (t.name(), *t)).collect();
                r.choices(n, p, "tag", &choices, true)
            })
            .unwrap_or_default();
        let drivers = self
            .opt(&t, "drivers", |r, n, p| {
                let choices: Vec<(&str, Driver)> =
                    Driver::ALL.iter().map(|d| (d.name(), *d)).collect();
                r.choices(n, p, "driver", &choices, false)
            })
            .unwrap_or_else(|| Driver::ALL.to_vec());
        let name = name?;
        if let (true, Some(entry)) = (name.trim().is_empty(), t.get("name")) {
            self.error(entry.value.span.start, "scenario.name", "the name is empty");
        }
        Some((name, description, topology?, seed, tags, drivers))
    }

    /// An array of names from `choices`, without duplicates (`tags`, `drivers`).
    fn choices<V: Copy + PartialEq>(
        &mut self,
        node: &Node,
        path: &str,
        what: &str,
        choices: &[(&str, V)],
        may_be_empty: bool,
    ) -> Option<Vec<V>> {
        let Kind::Array(items) = &node.kind else {
            self.type_error(node, path, &format!("an array of {what}s"));
            return None;
        };
        if items.is_empty() && !may_be_empty {
            self.error(node.span.start, path, format!("lists no {what}"));
            return None;
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            let Some(text) = self.string(item, &item_path) else {
                ok = false;
                continue;
            };
            match choices.iter().find(|(n, _)| *n == text) {
                Some((_, v)) if out.contains(v) => {
                    self.error(
                        item.span.start,
                        &item_path,
                        format!("`{text}` is listed twice"),
                    );
                    ok = false;
                }
                Some((_, v)) => out.push(*v),
                None => {
                    let hint = suggest(&text, names.iter().copied())
                        .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
                    self.error(
                        item.span.start,
                        &item_path,
                        format!(
                            "unknown {what} `{text}`{hint} ({what}s: {})",
                            names.join(", ")
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// `topology = "guide"` or `topology = { name = "guide", overrides = { … } }`.
    fn topology(&mut self, node: &Node, path: &str) -> Option<TopologyRef> {
        if let Kind::Str(name) = &node.kind {
            return self
                .topology_name(node, path, name)
                .map(|name| TopologyRef {
                    name,
                    overrides: BTreeMap::new(),
                });
        }
        let t = self.table(node, path, &["name", "overrides"])?;
        let name = self.req(&t, "name", |r, n, p| {
            let name = r.string(n, p)?;
            r.topology_name(n, p, &name)
        });
        let overrides = self
            .opt(&t, "overrides", Self::overrides)
            .unwrap_or_default();
        Some(TopologyRef {
            name: name?,
            overrides,
        })
    }

    fn topology_name(&mut self, node: &Node, path: &str, name: &str) -> Option<String> {
        if is_name(name) {
            if let Some(catalog) = &self.catalog {
                let names = catalog.names();
                if !names.iter().any(|n| n == name) {
                    let message = format!(
                        "no topology `{name}` in {}{}",
                        catalog.dir.display(),
                        hint(name, &names.iter().map(String::as_str).collect::<Vec<_>>())
                    );
                    self.error(node.span.start, path, message);
                    return None;
                }
            }
            Some(name.to_owned())
        } else {
            self.error(
                node.span.start,
                path,
                format!("`{name}` is not a folder name under scenarios/topologies/"),
            );
            None
        }
    }

    /// instance -> table of `deployment.toml` keys, flattened to dotted keys.
    fn overrides(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<BTreeMap<String, BTreeMap<String, Value>>> {
        let Some(entries) = node.entries() else {
            self.type_error(node, path, "a table of instance names");
            return None;
        };
        let mut out = BTreeMap::new();
        for entry in entries {
            let instance_path = join(path, &entry.key);
            let Some(keys) = entry.value.entries() else {
                self.type_error(
                    &entry.value,
                    &instance_path,
                    "a table of deployment.toml keys",
                );
                continue;
            };
            let mut flat = BTreeMap::new();
            self.flatten(keys, "", &instance_path, &mut flat);
            out.insert(entry.key.clone(), flat);
        }
        Some(out)
    }

    fn flatten(
        &mut self,
        entries: &[Entry],
        prefix: &str,
        path: &str,
        out: &mut BTreeMap<String, Value>,
    ) {
        for entry in entries {
            let key = if prefix.is_empty() {
                entry.key.clone()
            } else {
                format!("{prefix}.{}", entry.key)
            };
            match &entry.value.kind {
                Kind::Table(inner) => self.flatten(inner, &key, path, out),
                _ => {
                    if let Some(value) = self.plain_json(&entry.value, &join(path, &key)) {
                        out.insert(key, value);
                    }
                }
            }
        }
    }

    /// A TOML value as JSON, strings as written (no templates).
    fn plain_json(&mut self, node: &Node, path: &str) -> Option<Value> {
        Some(match &node.kind {
            Kind::Str(s) | Kind::Datetime(s) => Value::String(s.clone()),
            Kind::Int(i) => Value::from(*i),
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => Value::Number(n),
                None => {
                    self.error(node.span.start, path, "NaN and infinity have no JSON form");
                    return None;
                }
            },
            Kind::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.plain_json(item, &format!("{path}[{i}]")))
                    .collect::<Option<_>>()?,
            ),
            Kind::Table(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| {
                        Some((
                            e.key.clone(),
                            self.plain_json(&e.value, &join(path, &e.key))?,
                        ))
                    })
                    .collect::<Option<_>>()?,
            ),
        })
    }

    /// A TOML value as a JSON template: strings may hold `${…}`.
    fn json_template(&mut self, node: &Node, path: &str) -> Option<JsonTemplate> {
        Some(match &node.kind {
            Kind::Str(s) => JsonTemplate::String(self.template_text(s, node, path)?),
            Kind::Datetime(s) => JsonTemplate::String(Template::literal(s.clone())),
            Kind::Int(i) => JsonTemplate::Number((*i).into()),
            Kind::Bool(b) => JsonTemplate::Bool(*b),
            Kind::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => JsonTemplate::Number(n),
                None => {
                    self.error(node.span.start, path, "NaN and infinity have no JSON form");
                    return None;
                }
            },
            Kind::Array(items) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.json_template(item, &format!("{path}[{i}]")) {
                        Some(v) => out.push(v),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                JsonTemplate::Array(out)
            }
            Kind::Table(entries) => {
                let mut out = Vec::new();
                let mut ok = true;
                for e in entries {
                    match self.json_template(&e.value, &join(path, &e.key)) {
                        Some(v) => out.push((e.key.clone(), v)),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                JsonTemplate::Object(out)
            }
        })
    }

    fn steps(&mut self, node: &Node) -> Option<Vec<Step>> {
        let Kind::Array(items) = &node.kind else {
            self.type_error(node, "step", "`[[step]]` tables");
            return None;
        };
        if items.is_empty() {
            self.error(node.span.start, "step", "a scenario has at least one step");
            return None;
        }
        let mut steps = Vec::new();
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            match self.step(index, item) {
                Some(step) => steps.push(step),
                None => ok = false,
            }
        }
        ok.then_some(steps)
    }

    fn step(&mut self, index: usize, node: &Node) -> Option<Step> {
        let path = format!("step[{index}]");
        let known: Vec<&str> = ACTIONS.iter().chain(STEP_KEYS.iter()).copied().collect();
        let t = self.table(node, &path, &known)?;
        let errors_before = self.errors.len();
        let name = self.opt(&t, "name", Self::string);
        self.step_has_expect = t.has("expect");

        let actions: Vec<&Entry> = t
            .entries
            .iter()
            .filter(|e| ACTIONS.contains(&e.key.as_str()))
            .collect();
        let action = match actions.as_slice() {
            [] => {
                self.error(
                    t.span.start,
                    &path,
                    format!("a step needs one action: {}", ACTIONS.join(", ")),
                );
                None
            }
            [one] => self.action(index, one),
            [first, rest @ ..] => {
                for extra in rest {
                    self.error(
                        extra.key_span.start,
                        &t.sub(&extra.key),
                        format!(
                            "a step has one action, and this one already has `{}`: put `{}` in a step of its own",
                            first.key, extra.key
                        ),
                    );
                }
                None
            }
        };
        let kind = actions.first().map(|e| e.key.as_str());
        let responds = !matches!(
            kind,
            Some("advance" | "wait" | "fault" | "load" | "artifact")
        );
        let stops_load = matches!(&action, Some(Action::Load(Load::Stop(_))));
        if let (Some(entry), false) = (t.get("expect_load"), stops_load)
            && (kind != Some("load") || action.is_some())
        {
            self.error(
                entry.key_span.start,
                &t.sub("expect_load"),
                "`expect_load` checks the figures of a stopped background load: use it with `load = { stop = \"…\" }` or `finish`",
            );
        }
        let action = match (action, t.get("expect_load")) {
            (Some(Action::Load(Load::Stop(mut stop))), Some(entry)) => {
                let expect = self.load_expect(&entry.value, &t.sub("expect_load"));
                stop.expect = expect.unwrap_or_default();
                Some(Action::Load(Load::Stop(stop)))
            }
            (other, _) => other,
        };
        for key in ["expect", "capture"] {
            if let (Some(entry), false) = (t.get(key), responds) {
                self.error(
                    entry.key_span.start,
                    &t.sub(key),
                    format!(
                        "`{key}` reads an HTTP response, and `{}` makes no HTTP call",
                        kind.unwrap_or_default()
                    ),
                );
            }
        }

        let expect = if responds {
            self.opt(&t, "expect", |r, n, p| r.expect(n, p, &[]).map(|(e, _)| e))
        } else {
            None
        };

        let repeat = self.repeat(&t, kind);
        if matches!(kind, Some("request" | "http"))
            && !t.has("repeat")
            && !t.has("expect")
            && !t.has("expect_counts")
            && !t.has("capture")
        {
            self.error(
                t.span.start,
                &path,
                format!(
                    "a `{}` step checks nothing: add `expect` (or `capture` a value for later)",
                    kind.unwrap_or_default()
                ),
            );
        }

        let captures = if responds {
            self.opt(&t, "capture", Self::captures).unwrap_or_default()
        } else {
            Vec::new()
        };
        for capture in &captures {
            self.scope.vars.insert(capture.name.clone());
        }

        if self.errors.len() > errors_before {
            return None;
        }
        Some(Step {
            index,
            name,
            location: self.map.locate(t.span.start),
            action: action?,
            expect,
            repeat: repeat?,
            captures,
        })
    }

    /// `repeat` and `expect_counts`; `Some(None)` when the step has neither.
    fn repeat(&mut self, t: &Table<'_>, kind: Option<&str>) -> Option<Option<Repeat>> {
        let Some(entry) = t.get("repeat") else {
            if let Some(counts) = t.get("expect_counts") {
                self.error(
                    counts.key_span.start,
                    &t.sub("expect_counts"),
                    "`expect_counts` counts the responses of a `repeat`, and this step has no `repeat`",
                );
                return None;
            }
            return Some(None);
        };
        if kind != Some("request") {
            self.error(
                entry.key_span.start,
                &t.sub("repeat"),
                "`repeat` applies to `request` steps",
            );
            return None;
        }
        let times = self.integer(
            &entry.value,
            &t.sub("repeat"),
            "repeat count",
            1..=MAX_REPEAT,
        );
        if !t.has("expect") && !t.has("expect_counts") {
            self.error(
                entry.key_span.start,
                &t.sub("repeat"),
                "a `repeat` needs an expectation: `expect` (checked on every response) or `expect_counts`",
            );
        }
        let times = times.and_then(|n| u32::try_from(n).ok());
        // Counts are read even when the repeat count is wrong, to report their own mistakes.
        let counts = match t.get("expect_counts") {
            Some(e) => Some(self.counts(&e.value, &t.sub("expect_counts"), times)?),
            None => None,
        };
        Some(Some(Repeat {
            times: times?,
            counts,
        }))
    }

    // ----- actions -----------------------------------------------------------------------------

    fn action(&mut self, index: usize, entry: &Entry) -> Option<Action> {
        let path = format!("step[{index}].{}", entry.key);
        let node = &entry.value;
        match entry.key.as_str() {
            "publish" => self.publish(index, node, &path).map(|p| {
                self.scope.throttle.published(&p);
                Action::Publish(p)
            }),
            "revision" => self.revision(node, &path).map(Action::Revision),
            "deploy" => self.deploy(node, &path).map(Action::Deploy),
            "undeploy" => self.undeploy(node, &path).map(Action::Undeploy),
            "lifecycle" => self.lifecycle(node, &path).map(Action::Lifecycle),
            "application" => self
                .application(index, node, &path)
                .map(Action::Application),
            "subscribe" => self.subscribe(node, &path).map(|s| {
                self.scope.throttle.subscribed(&s);
                Action::Subscribe(s)
            }),
            "generate_keys" => self
                .generate_keys(index, node, &path)
                .map(Action::GenerateKeys),
            "token" => self.token(node, &path).map(Action::Token),
            "revoke" => self.revoke(node, &path).map(Action::Revoke),
            "request" => self.request(node, &path).map(Action::Request),
            "http" => self.http(node, &path).map(Action::Http),
            "advance" => self.advance(node, &path).map(Action::Advance),
            "wait" => self.wait(node, &path).map(Action::Wait),
            "fault" => self.fault(node, &path).map(Action::Fault),
            "load" => self.load(index, node, &path).map(Action::Load),
            "artifact" => self.artifact(node, &path).map(Action::Artifact),
            _ => None,
        }
    }

    // ----- faults and background load ----------------------------------------------------------

    /// A name in any of `sets` of the topology's facts (unchecked without facts).
    fn in_any(
        &mut self,
        node: &Node,
        path: &str,
        what: &str,
        sets: &[fn(&TopologyFacts) -> &BTreeSet<String>],
    ) -> Option<String> {
        let name = self.name(node, path)?;
        let Some(facts) = &self.facts else {
            return Some(name);
        };
        let known: BTreeSet<&str> = sets
            .iter()
            .flat_map(|set| set(facts).iter().map(String::as_str))
            .collect();
        if known.contains(name.as_str()) {
            return Some(name);
        }
        let list: Vec<&str> = known.into_iter().collect();
        let hint = match suggest(&name, list.iter().copied()) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => format!(" (names: {})", list.join(", ")),
        };
        self.error(
            node.span.start,
            path,
            format!("the topology has no {what} `{name}`{hint}"),
        );
        None
    }

    /// An instance or a load balancer: what a fault hits and a request goes through.
    fn member(&mut self, node: &Node, path: &str) -> Option<String> {
        let has_lb = self
            .facts
            .as_ref()
            .is_some_and(|f| !f.load_balancers.is_empty());
        let what = if has_lb {
            "instance or load balancer"
        } else {
            "instance"
        };
        self.in_any(node, path, what, &[|f| &f.instances, |f| &f.load_balancers])
    }

    /// What a kill, restart, pause or resume hits: an instance, a load balancer or a Traffic
    /// Manager (`traffic-manager`, inside its control-plane instance).
    fn fault_member(&mut self, node: &Node, path: &str) -> Option<String> {
        // Named as `member` names them: Traffic Managers are the rarer target.
        let has_lb = self
            .facts
            .as_ref()
            .is_some_and(|f| !f.load_balancers.is_empty());
        let what = if has_lb {
            "instance or load balancer"
        } else {
            "instance"
        };
        self.in_any(
            node,
            path,
            what,
            &[
                |f| &f.instances,
                |f| &f.load_balancers,
                |f| &f.traffic_managers,
            ],
        )
    }

    /// Two members (or mock backends) of the topology: `["gateway-1", "control-plane"]`.
    fn pair(&mut self, node: &Node, path: &str) -> Option<(String, String)> {
        let Kind::Array(items) = &node.kind else {
            self.type_error(node, path, "a list of two names");
            return None;
        };
        let [a, b] = items.as_slice() else {
            self.error(
                node.span.start,
                path,
                format!("expected two names, found {}", items.len()),
            );
            return None;
        };
        let sets: [fn(&TopologyFacts) -> &BTreeSet<String>; 4] = [
            |f| &f.instances,
            |f| &f.load_balancers,
            |f| &f.backends,
            |f| &f.traffic_managers,
        ];
        let what = "instance, load balancer, Traffic Manager or backend";
        let first = self.in_any(a, &format!("{path}[0]"), what, &sets);
        let second = self.in_any(b, &format!("{path}[1]"), what, &sets);
        let (first, second) = (first?, second?);
        if first == second {
            self.error(
                b.span.start,
                &format!("{path}[1]"),
                format!("`{first}` cannot be cut from itself: name two members"),
            );
            return None;
        }
        Some((first, second))
    }

    fn fault(&mut self, node: &Node, path: &str) -> Option<Fault> {
        const MEMBER_FAULTS: [&str; 6] =
            ["kill", "restart", "pause", "resume", "partition", "heal"];
        const BACKEND_FAULTS: [&str; 5] = ["latency", "reset", "status", "timeout", "heal"];
        let t = self.table(
            node,
            path,
            &[
                "kill",
                "restart",
                "pause",
                "resume",
                "partition",
                "heal",
                "backend",
                "latency",
                "reset",
                "status",
                "timeout",
            ],
        )?;
        if t.has("backend") {
            let backend = self.opt(&t, "backend", Self::backend_name);
            let entry = self.one_of(
                &t,
                &BACKEND_FAULTS,
                || {
                    format!(
                        "a backend fault says what goes wrong: {}",
                        BACKEND_FAULTS.join(", ")
                    )
                },
                |first| format!("one backend fault per step, and this one already has `{first}`"),
            )?;
            for extra in t
                .entries
                .iter()
                .filter(|e| MEMBER_FAULTS.contains(&e.key.as_str()) && e.key != "heal")
            {
                self.error(
                    extra.key_span.start,
                    &t.sub(&extra.key),
                    format!(
                        "`{}` is a fault of its own: put it in another step",
                        extra.key
                    ),
                );
            }
            let p = t.sub(&entry.key);
            let flag = |r: &mut Self, what: &str| -> Option<()> {
                match r.boolean(&entry.value, &p)? {
                    true => Some(()),
                    false => {
                        r.error(
                            entry.value.span.start,
                            &p,
                            format!("write `{what} = true`, or leave the key out"),
                        );
                        None
                    }
                }
            };
            let change = match entry.key.as_str() {
                "latency" => BackendChange::Latency(self.duration(&entry.value, &p)?),
                "reset" => flag(self, "reset").map(|()| BackendChange::Reset)?,
                "timeout" => flag(self, "timeout").map(|()| BackendChange::Timeout)?,
                "heal" => flag(self, "heal").map(|()| BackendChange::Heal)?,
                _ => {
                    let code = self.integer(&entry.value, &p, "HTTP status", 100..=599)?;
                    BackendChange::Status(u16::try_from(code).ok()?)
                }
            };
            return Some(Fault::Backend {
                backend: backend?,
                change,
            });
        }
        for extra in t
            .entries
            .iter()
            .filter(|e| BACKEND_FAULTS.contains(&e.key.as_str()) && e.key != "heal")
        {
            self.error(
                extra.key_span.start,
                &t.sub(&extra.key),
                format!("`{}` is a backend fault: add `backend = \"…\"`", extra.key),
            );
        }
        let entry = self.one_of(
            &t,
            &MEMBER_FAULTS,
            || {
                format!(
                    "a fault needs one of: {}, or `backend`",
                    MEMBER_FAULTS.join(", ")
                )
            },
            |first| {
                format!("a step has one fault, and this one already has `{first}`: use two steps")
            },
        )?;
        let p = t.sub(&entry.key);
        let value = &entry.value;
        match entry.key.as_str() {
            "kill" => self.fault_member(value, &p).map(Fault::Kill),
            "restart" => self.fault_member(value, &p).map(Fault::Restart),
            "pause" => self.fault_member(value, &p).map(Fault::Pause),
            "resume" => self.fault_member(value, &p).map(Fault::Resume),
            "partition" => self.pair(value, &p).map(|(a, b)| Fault::Partition(a, b)),
            _ => self.pair(value, &p).map(|(a, b)| Fault::Heal(a, b)),
        }
    }

    /// `artifact = { on = "gateway-1", place | present | absent = "api/X.json", … }`.
    fn artifact(&mut self, node: &Node, path: &str) -> Option<Artifact> {
        const MODES: [&str; 3] = ["place", "present", "absent"];
        let t = self.table(
            node,
            path,
            &[
                "on", "place", "present", "absent", "json", "body", "contains",
            ],
        )?;
        let on = self.req(&t, "on", Self::instance);
        let mode = self.one_of(
            &t,
            &MODES,
            || {
                "an artifact step says what to do with its file: `place` (with `json` or `body`), `present` or `absent`".to_owned()
            },
            |first| format!("an artifact step does one thing, and this one already has `{first}`: use two steps"),
        );
        let mode = mode?;
        let file = self.artifact_file(&mode.value, &t.sub(&mode.key));
        let content: Vec<&Entry> = t
            .entries
            .iter()
            .filter(|e| matches!(e.key.as_str(), "json" | "body"))
            .collect();
        let check = match mode.key.as_str() {
            "place" => {
                if let Some(e) = t.get("contains") {
                    self.error(
                        e.key_span.start,
                        &t.sub("contains"),
                        "`contains` checks a file that is `present`, not one being placed",
                    );
                }
                let entry = match content.as_slice() {
                    [] => {
                        self.error(
                            t.span.start,
                            &t.path,
                            "a placed file needs its content: `json = { … }` or `body = \"…\"`",
                        );
                        return None;
                    }
                    [one] => *one,
                    [first, second, ..] => {
                        self.error(
                            second.key_span.start,
                            &t.sub(&second.key),
                            format!(
                                "a placed file has one content: `{}` or `{}`, not both",
                                first.key, second.key
                            ),
                        );
                        return None;
                    }
                };
                let p = t.sub(&entry.key);
                ArtifactCheck::Place(match entry.key.as_str() {
                    "json" => Body::Json(self.json_template(&entry.value, &p)?),
                    _ => Body::Text(self.template(&entry.value, &p)?),
                })
            }
            other => {
                for e in &content {
                    self.error(
                        e.key_span.start,
                        &t.sub(&e.key),
                        format!(
                            "`{}` is the content of a placed file: `{other}` checks one",
                            e.key
                        ),
                    );
                }
                match other {
                    "present" => ArtifactCheck::Present {
                        contains: match t.get("contains") {
                            Some(e) => self.templates(&e.value, &t.sub("contains"))?,
                            None => Vec::new(),
                        },
                    },
                    _ => {
                        if let Some(e) = t.get("contains") {
                            self.error(
                                e.key_span.start,
                                &t.sub("contains"),
                                "`contains` checks a file that is `present`",
                            );
                        }
                        ArtifactCheck::Absent
                    }
                }
            }
        };
        Some(Artifact {
            on: on?,
            file: file?,
            check,
        })
    }

    /// `api/CustomAPI_v1.json`: one of the Synapse artifact folders, then a file name.
    fn artifact_file(&mut self, node: &Node, path: &str) -> Option<String> {
        let text = self.string(node, path)?;
        let (folder, name) = text.split_once('/').unwrap_or(("", text.as_str()));
        if !ARTIFACT_FOLDERS.contains(&folder) {
            let folders = ARTIFACT_FOLDERS.join(", ");
            let message = if folder.is_empty() {
                format!(
                    "\"{text}\" names no folder: write `<folder>/<file>`, the folder one of {folders} (in {SYNAPSE_DEFAULT}/)"
                )
            } else {
                match suggest(folder, ARTIFACT_FOLDERS.iter().copied()) {
                    Some(s) => format!("`{folder}` is not an artifact folder; did you mean `{s}`?"),
                    None => format!("`{folder}` is not an artifact folder (folders: {folders})"),
                }
            };
            self.error(node.span.start, path, message);
            return None;
        }
        if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
            self.error(
                node.span.start,
                path,
                format!("\"{text}\": `{name}` is not a file name (no `/`, not `.` or `..`)"),
            );
            return None;
        }
        Some(text)
    }

    /// One text or a list of them, each a template.
    fn templates(&mut self, node: &Node, path: &str) -> Option<Vec<Template>> {
        match &node.kind {
            Kind::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.push(self.template(item, &format!("{path}[{i}]")));
                }
                out.into_iter().collect()
            }
            _ => Some(vec![self.template(node, path)?]),
        }
    }

    fn load(&mut self, index: usize, node: &Node, path: &str) -> Option<Load> {
        let t = self.table(
            node,
            path,
            &[
                "start",
                "stop",
                "finish",
                "via",
                "scheme",
                "method",
                "path",
                "headers",
                "token",
                "rate",
                "duration",
                "concurrency",
            ],
        )?;
        if let (Some(_), Some(finish)) = (t.get("stop"), t.get("finish")) {
            self.error(
                finish.key_span.start,
                &t.sub("finish"),
                "`stop` ends the load now, `finish` once it has sent everything: pick one",
            );
            return None;
        }
        let finish = t.has("finish");
        let stop_key = if finish { "finish" } else { "stop" };
        match (t.get("start"), t.get(stop_key)) {
            (Some(_), None) => {}
            (None, Some(stop)) => {
                for extra in t.entries.iter().filter(|e| e.key != stop_key) {
                    self.error(
                        extra.key_span.start,
                        &t.sub(&extra.key),
                        format!(
                            "`{}` belongs to the step that starts the load, not the one that stops it",
                            extra.key
                        ),
                    );
                }
                let p = t.sub(stop_key);
                let name = self.name(&stop.value, &p)?;
                match self.scope.loads.get_mut(&name) {
                    Some((_, stopped @ false)) => *stopped = true,
                    Some((at, true)) => {
                        let at = *at;
                        self.error(
                            stop.value.span.start,
                            &p,
                            format!("the load `{name}` started by step[{at}] is already stopped"),
                        );
                        return None;
                    }
                    None => {
                        let known: Vec<&str> =
                            self.scope.loads.keys().map(String::as_str).collect();
                        let message = format!(
                            "no load named `{name}` is started by an earlier step{}",
                            hint(&name, &known)
                        );
                        self.error(stop.value.span.start, &p, message);
                        return None;
                    }
                }
                return Some(Load::Stop(LoadStop {
                    name,
                    finish,
                    expect: LoadExpect::default(),
                }));
            }
            (Some(_), Some(stop)) => {
                self.error(
                    stop.key_span.start,
                    &t.sub(stop_key),
                    "a load step either starts or stops a load: use two steps",
                );
                return None;
            }
            (None, None) => {
                self.error(
                    t.span.start,
                    path,
                    "missing `start = \"name\"` (with via, path, rate, duration), `stop = \"name\"` or `finish = \"name\"`",
                );
                return None;
            }
        }
        let loads = self.scope.loads.clone();
        let name = self.opt(&t, "start", |r, n, p| {
            r.new_name(n, p, "load", &loads, |(at, _)| *at)
        });
        let via = self.req(&t, "via", Self::member);
        let scheme = self
            .opt(&t, "scheme", |r, n, p| {
                r.choice(n, p, &[("http", Scheme::Http), ("https", Scheme::Https)])
            })
            .unwrap_or(Scheme::Http);
        let method = self.method(&t);
        let request_path = self.req(&t, "path", Self::request_path);
        let headers = self.opt(&t, "headers", Self::headers);
        let token = self.opt(&t, "token", Self::template);
        let rate = self.req(&t, "rate", |r, n, p| {
            r.integer(n, p, "requests per second", 1..=MAX_RATE)
        });
        let duration = self.req(&t, "duration", Self::duration);
        if let (Some(d), Some(entry)) = (duration, t.get("duration"))
            && d > MAX_LOAD_DURATION
        {
            self.error(
                entry.value.span.start,
                &t.sub("duration"),
                format!("a background load runs at most {MAX_LOAD_DURATION:?}"),
            );
            return None;
        }
        let concurrency = match t.get("concurrency") {
            Some(entry) => {
                Some(self.integer(&entry.value, &t.sub("concurrency"), "concurrency", 1..=1024)?)
            }
            None => None,
        };
        if t.has("headers") && headers.is_none() || t.has("token") && token.is_none() {
            return None;
        }
        let name = name?;
        self.scope.loads.insert(name.clone(), (index, false));
        Some(Load::Start(LoadStart {
            name,
            via: via?,
            scheme,
            method: method?,
            path: request_path?,
            token,
            headers: headers.unwrap_or_default(),
            rate: u32::try_from(rate?).ok()?,
            duration: duration?,
            concurrency: concurrency
                .and_then(|c| u32::try_from(c).ok())
                .unwrap_or(DEFAULT_CONCURRENCY),
        }))
    }

    /// `expect_load = { failed = 0, lost = 0, status = { 200 = "all" }, p99_below = "50ms" }`.
    fn load_expect(&mut self, node: &Node, path: &str) -> Option<LoadExpect> {
        let t = self.table(
            node,
            path,
            &[
                "sent_at_least",
                "failed",
                "lost",
                "status",
                "p50_below",
                "p90_below",
                "p99_below",
                "max_below",
            ],
        )?;
        let count = |r: &mut Self, key: &str| {
            r.opt(&t, key, |r, n, p| {
                r.integer(n, p, "count", 0..=i64::MAX)
                    .and_then(|c| u64::try_from(c).ok())
            })
        };
        let mut expect = LoadExpect {
            sent_at_least: count(self, "sent_at_least"),
            failed: count(self, "failed"),
            lost: count(self, "lost"),
            p50_below: self.opt(&t, "p50_below", Self::duration),
            p90_below: self.opt(&t, "p90_below", Self::duration),
            p99_below: self.opt(&t, "p99_below", Self::duration),
            max_below: self.opt(&t, "max_below", Self::duration),
            status: Vec::new(),
        };
        if let Some(entry) = t.get("status") {
            let p = t.sub("status");
            let Some(entries) = entry.value.entries() else {
                self.type_error(&entry.value, &p, "a table of status = count (or \"all\")");
                return None;
            };
            for e in entries {
                let ep = join(&p, &e.key);
                let Some(code) = e
                    .key
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                else {
                    self.error(
                        e.key_span.start,
                        &ep,
                        format!("`{}` is not an HTTP status (100-599)", e.key),
                    );
                    continue;
                };
                let count = match &e.value.kind {
                    Kind::Str(s) if s == "all" => Some(LoadCount::All),
                    Kind::Int(n) if *n >= 0 => u64::try_from(*n).ok().map(LoadCount::Exactly),
                    _ => {
                        self.type_error(&e.value, &ep, "a count or \"all\"");
                        None
                    }
                };
                if let Some(count) = count {
                    expect.status.push((code, count));
                }
            }
        }
        Some(expect)
    }

    /// A new name in `defined`: an error if an earlier step defined it.
    fn new_name<T>(
        &mut self,
        node: &Node,
        path: &str,
        kind: &str,
        defined: &BTreeMap<String, T>,
        step_of: impl Fn(&T) -> usize,
    ) -> Option<String> {
        let name = self.name(node, path)?;
        if let Some(existing) = defined.get(&name) {
            self.error(
                node.span.start,
                path,
                format!(
                    "step[{}] already defines the {kind} `{name}`: give this one another name",
                    step_of(existing)
                ),
            );
            return None;
        }
        Some(name)
    }

    fn publish(&mut self, index: usize, node: &Node, path: &str) -> Option<Publish> {
        let t = self.table(
            node,
            path,
            &[
                "api",
                "name",
                "context",
                "version",
                "production",
                "sandbox",
                "resources",
                "policies",
                "transport",
                "published",
            ],
        )?;
        let apis = self.scope.apis.clone();
        let api = self.req(&t, "api", |r, n, p| {
            r.new_name(n, p, "API", &apis, |(step, _)| *step)
        });
        let name = self.opt(&t, "name", Self::string);
        let context = self.req(&t, "context", |r, n, p| r.absolute(n, p, "context"));
        let version = self.req(&t, "version", Self::string);
        let production = self.opt(&t, "production", Self::endpoint);
        let sandbox = self.opt(&t, "sandbox", Self::endpoint);
        if !t.has("production") && !t.has("sandbox") {
            self.error(
                t.span.start,
                path,
                "an API needs a `production` or a `sandbox` endpoint, or both",
            );
        }
        let resources = self.req(&t, "resources", Self::resources);
        let policies = self
            .opt(&t, "policies", Self::strings)
            .unwrap_or_else(|| vec!["Unlimited".into()]);
        let transports = self
            .opt(&t, "transport", |r, n, p| {
                let list = r.strings(n, p)?;
                for transport in &list {
                    if transport != "http" && transport != "https" {
                        r.error(
                            n.span.start,
                            p,
                            format!("`{transport}` is not a transport: \"http\" or \"https\""),
                        );
                        return None;
                    }
                }
                Some(list)
            })
            .unwrap_or_else(|| vec!["http".into(), "https".into()]);
        let published = self.opt(&t, "published", Self::boolean).unwrap_or(true);
        if let Some(api) = &api {
            self.scope.apis.insert(api.clone(), (index, 0));
        }
        let api = api?;
        Some(Publish {
            name: name.unwrap_or_else(|| api.clone()),
            api,
            context: context?,
            version: version?,
            production,
            sandbox,
            resources: resources?,
            policies,
            transports,
            published,
        })
    }

    /// A string starting with `/`.
    fn absolute(&mut self, node: &Node, path: &str, what: &str) -> Option<String> {
        let text = self.string(node, path)?;
        if !text.starts_with('/') {
            self.error(
                node.span.start,
                path,
                format!("a {what} starts with `/`, found \"{text}\""),
            );
            return None;
        }
        Some(text)
    }

    fn endpoint(&mut self, node: &Node, path: &str) -> Option<Endpoint> {
        let text = self.string(node, path)?;
        if text.contains("://") {
            return Some(Endpoint::Url(text));
        }
        if is_name(&text) {
            return self
                .in_topology(node, path, text, "backend", |f| &f.backends)
                .map(Endpoint::Backend);
        }
        self.error(
            node.span.start,
            path,
            format!("`{text}` is neither a backend name (`pizzashack-production`) nor a URL (`http://…`)"),
        );
        None
    }

    fn resources(&mut self, node: &Node, path: &str) -> Option<Vec<Resource>> {
        let Kind::Array(items) = &node.kind else {
            self.type_error(
                node,
                path,
                "an array of resources (\"GET /menu\" or tables)",
            );
            return None;
        };
        if items.is_empty() {
            self.error(node.span.start, path, "an API needs at least one resource");
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.resource(item, &format!("{path}[{i}]")) {
                Some(r) => out.push(r),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn resource(&mut self, node: &Node, path: &str) -> Option<Resource> {
        if let Kind::Str(text) = &node.kind {
            let Some((verb, target)) = text.trim().split_once(' ') else {
                self.error(
                    node.span.start,
                    path,
                    format!("`{text}` is not a resource: write a method and a path, \"GET /menu\""),
                );
                return None;
            };
            let verb = self.verb(verb, node, path)?;
            let target = target.trim();
            if !target.starts_with('/') {
                self.error(
                    node.span.start,
                    path,
                    format!("a resource path starts with `/`, found \"{target}\""),
                );
                return None;
            }
            return Some(Resource {
                verb,
                target: target.to_owned(),
                auth_type: AuthType::Any,
                scopes: Vec::new(),
                throttling_policy: "Unlimited".into(),
            });
        }
        let t = self.table(
            node,
            path,
            &["verb", "target", "auth_type", "scopes", "throttling_policy"],
        )?;
        let verb = self.req(&t, "verb", |r, n, p| {
            let text = r.string(n, p)?;
            r.verb(&text, n, p)
        });
        let target = self.req(&t, "target", |r, n, p| r.absolute(n, p, "resource path"));
        let auth_type = self
            .opt(&t, "auth_type", |r, n, p| r.choice(n, p, &AuthType::ALL))
            .unwrap_or(AuthType::Any);
        let scopes = self.opt(&t, "scopes", Self::strings).unwrap_or_default();
        let throttling_policy = self
            .opt(&t, "throttling_policy", Self::string)
            .unwrap_or_else(|| "Unlimited".into());
        Some(Resource {
            verb: verb?,
            target: target?,
            auth_type,
            scopes,
            throttling_policy,
        })
    }

    fn verb(&mut self, text: &str, node: &Node, path: &str) -> Option<String> {
        let upper = text.to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) {
            return Some(upper);
        }
        self.error(
            node.span.start,
            path,
            format!("`{text}` is not an HTTP method ({})", METHODS.join(", ")),
        );
        None
    }

    fn revision(&mut self, node: &Node, path: &str) -> Option<CreateRevision> {
        let t = self.table(node, path, &["api", "description"])?;
        let api = self.known_api(&t)?;
        let description = self.opt(&t, "description", Self::string);
        let number = self.next_revision(&api);
        Some(CreateRevision {
            api,
            number,
            description,
        })
    }

    fn next_revision(&mut self, api: &str) -> u32 {
        let entry = self.scope.apis.entry(api.to_owned()).or_insert((0, 0));
        entry.1 += 1;
        entry.1
    }

    fn deploy(&mut self, node: &Node, path: &str) -> Option<Deploy> {
        let t = self.table(
            node,
            path,
            &["api", "to", "revision", "vhost", "display_on_devportal"],
        )?;
        let api = self.known_api(&t);
        let revision = self.opt(&t, "revision", |r, n, p| {
            r.revision_number(n, p, api.as_deref())
        });
        let environments = self.req(&t, "to", Self::environments);
        let vhost = self
            .opt(&t, "vhost", Self::string)
            .unwrap_or_else(|| "localhost".into());
        let display_on_devportal = self
            .opt(&t, "display_on_devportal", Self::boolean)
            .unwrap_or(true);
        let api = api?;
        let (revision, creates_revision) = match (t.has("revision"), revision) {
            (false, _) => (self.next_revision(&api), true),
            (true, Some(n)) => (n, false),
            (true, None) => return None,
        };
        Some(Deploy {
            api,
            revision,
            creates_revision,
            environments: environments?,
            vhost,
            display_on_devportal,
        })
    }

    fn undeploy(&mut self, node: &Node, path: &str) -> Option<Undeploy> {
        let t = self.table(node, path, &["api", "from", "revision"])?;
        let api = self.known_api(&t);
        let revision = self.opt(&t, "revision", |r, n, p| {
            r.revision_number(n, p, api.as_deref())
        });
        let environments = self.req(&t, "from", Self::environments);
        if t.has("revision") && revision.is_none() {
            return None;
        }
        Some(Undeploy {
            api: api?,
            revision,
            environments: environments?,
        })
    }

    fn lifecycle(&mut self, node: &Node, path: &str) -> Option<Lifecycle> {
        let t = self.table(node, path, &["api", "action"])?;
        let api = self.known_api(&t);
        let action = self.req(&t, "action", |r, n, p| {
            r.choice(n, p, &LifecycleAction::ALL)
        });
        Some(Lifecycle {
            api: api?,
            action: action?,
        })
    }

    fn application(&mut self, index: usize, node: &Node, path: &str) -> Option<Application> {
        let t = self.table(
            node,
            path,
            &["app", "name", "policy", "token_type", "description"],
        )?;
        let apps = self.scope.apps.clone();
        let app = self.req(&t, "app", |r, n, p| {
            r.new_name(n, p, "application", &apps, |step| *step)
        });
        let name = self.opt(&t, "name", Self::string);
        let policy = self
            .opt(&t, "policy", Self::string)
            .unwrap_or_else(|| "Unlimited".into());
        let token_type = self
            .opt(&t, "token_type", |r, n, p| {
                r.choice(n, p, &[("JWT", "JWT"), ("OAUTH", "OAUTH")])
            })
            .unwrap_or("JWT");
        let description = self.opt(&t, "description", Self::string);
        let app = app?;
        self.scope.apps.insert(app.clone(), index);
        Some(Application {
            name: name.unwrap_or_else(|| app.clone()),
            app,
            policy,
            token_type: token_type.to_owned(),
            description,
        })
    }

    fn subscribe(&mut self, node: &Node, path: &str) -> Option<Subscribe> {
        let t = self.table(node, path, &["app", "api", "policy"])?;
        let app = self.known_app(&t);
        let api = self.known_api(&t);
        let policy = self
            .opt(&t, "policy", Self::string)
            .unwrap_or_else(|| "Unlimited".into());
        Some(Subscribe {
            app: app?,
            api: api?,
            policy,
        })
    }

    fn generate_keys(&mut self, index: usize, node: &Node, path: &str) -> Option<GenerateKeys> {
        let t = self.table(
            node,
            path,
            &["app", "key_type", "key", "grant_types", "scopes"],
        )?;
        let app = self.known_app(&t);
        let key_type = self.req(&t, "key_type", |r, n, p| {
            r.choice(
                n,
                p,
                &[
                    ("production", KeyType::Production),
                    ("sandbox", KeyType::Sandbox),
                ],
            )
        });
        let keys = self.scope.keys.clone();
        let key = self.opt(&t, "key", |r, n, p| {
            r.new_name(n, p, "key", &keys, |(step, _)| *step)
        });
        let grant_types = self
            .opt(&t, "grant_types", Self::strings)
            .unwrap_or_else(|| {
                ["password", "client_credentials", "refresh_token"]
                    .map(String::from)
                    .to_vec()
            });
        let scopes = self.opt(&t, "scopes", Self::strings).unwrap_or_default();
        let (app, key_type) = (app?, key_type?);
        let key = match key {
            Some(key) => key,
            None if t.has("key") => return None,
            None => {
                let key = format!("{app}-{}", key_type.name());
                if let Some((step, _)) = self.scope.keys.get(&key) {
                    self.error(
                        t.span.start,
                        path,
                        format!(
                            "step[{step}] already defines the key `{key}` (the default name for {} keys of `{app}`): give this one a `key` name",
                            key_type.name()
                        ),
                    );
                    return None;
                }
                key
            }
        };
        self.scope.keys.insert(key.clone(), (index, app.clone()));
        Some(GenerateKeys {
            app,
            key_type,
            key,
            grant_types,
            scopes,
        })
    }

    fn token(&mut self, node: &Node, path: &str) -> Option<TokenRequest> {
        let t = self.table(
            node,
            path,
            &[
                "as", "key", "grant", "username", "password", "refresh", "scope", "validity",
            ],
        )?;
        let name = self.req(&t, "as", Self::name);
        let grant_name = self
            .opt(&t, "grant", |r, n, p| {
                r.choice(
                    n,
                    p,
                    &[
                        ("client_credentials", "client_credentials"),
                        ("password", "password"),
                        ("refresh_token", "refresh_token"),
                    ],
                )
            })
            .unwrap_or(if t.has("grant") {
                ""
            } else {
                "client_credentials"
            });
        let keys = self.scope.keys.clone();
        let key = if grant_name == "refresh_token" {
            self.opt(&t, "key", |r, n, p| r.known(n, p, "key", &keys))
        } else {
            self.req(&t, "key", |r, n, p| r.known(n, p, "key", &keys))
        };
        for (field, grant) in [
            ("username", "password"),
            ("password", "password"),
            ("refresh", "refresh_token"),
        ] {
            if let (Some(entry), true) =
                (t.get(field), grant_name != grant && !grant_name.is_empty())
            {
                self.error(
                    entry.key_span.start,
                    &t.sub(field),
                    format!("`{field}` applies to grant = \"{grant}\", and this token's grant is \"{grant_name}\""),
                );
            }
        }
        let grant = match grant_name {
            "client_credentials" => Some(Grant::ClientCredentials),
            "password" => {
                let username = self
                    .opt(&t, "username", Self::template)
                    .unwrap_or_else(|| Template::literal("admin"));
                let password = self
                    .opt(&t, "password", Self::template)
                    .unwrap_or_else(|| Template::literal("admin"));
                Some(Grant::Password { username, password })
            }
            "refresh_token" => self
                .known_token(&t, "refresh")
                .map(|token| Grant::RefreshToken { token }),
            _ => None,
        };
        let scope = self.opt(&t, "scope", |r, n, p| {
            r.strings(n, p).map(|list| list.join(" "))
        });
        let validity = self.opt(&t, "validity", Self::duration);
        let grant = grant?;
        let key = match (&grant, key) {
            (_, Some(key)) => key,
            (Grant::RefreshToken { token }, None) if !t.has("key") => {
                self.scope.tokens.get(token).cloned()?
            }
            _ => return None,
        };
        let name = name?;
        self.scope.tokens.insert(name.clone(), key.clone());
        self.scope.vars.insert(name.clone());
        Some(TokenRequest {
            name,
            key,
            grant,
            scope,
            validity,
        })
    }

    fn revoke(&mut self, node: &Node, path: &str) -> Option<Revoke> {
        let t = self.table(node, path, &["token"])?;
        let token = self.known_token(&t, "token")?;
        let key = self.scope.tokens.get(&token).cloned()?;
        Some(Revoke { token, key })
    }

    fn method(&mut self, t: &Table<'_>) -> Option<String> {
        match t.get("method") {
            None => Some("GET".into()),
            Some(entry) => {
                let path = t.sub("method");
                let text = self.string(&entry.value, &path)?;
                self.verb(&text, &entry.value, &path)
            }
        }
    }

    fn headers(&mut self, node: &Node, path: &str) -> Option<Vec<(String, Template)>> {
        let Some(entries) = node.entries() else {
            self.type_error(node, path, "a table of header names and values");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for entry in entries {
            match self.template(&entry.value, &join(path, &entry.key)) {
                Some(v) => out.push((entry.key.clone(), v)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// `body`, `json` or `form`: at most one.
    fn body(&mut self, t: &Table<'_>) -> Option<Option<Body>> {
        let given: Vec<&Entry> = ["body", "json", "form"]
            .iter()
            .filter_map(|k| t.get(k))
            .collect();
        if let [first, second, ..] = given.as_slice() {
            self.error(
                second.key_span.start,
                &t.sub(&second.key),
                format!(
                    "a request has one body: `{}` or `{}`, not both",
                    first.key, second.key
                ),
            );
            return None;
        }
        let Some(entry) = given.first() else {
            return Some(None);
        };
        let path = t.sub(&entry.key);
        let body = match entry.key.as_str() {
            "body" => Body::Text(self.template(&entry.value, &path)?),
            "json" => Body::Json(self.json_template(&entry.value, &path)?),
            _ => {
                let Some(entries) = entry.value.entries() else {
                    self.type_error(&entry.value, &path, "a table of form fields");
                    return None;
                };
                let mut fields = Vec::new();
                for e in entries {
                    fields.push((
                        e.key.clone(),
                        self.template(&e.value, &join(&path, &e.key))?,
                    ));
                }
                Body::Form(fields)
            }
        };
        Some(Some(body))
    }

    fn request_path(&mut self, node: &Node, path: &str) -> Option<Template> {
        let template = self.template(node, path)?;
        if !template.source().starts_with('/') {
            self.error(
                node.span.start,
                path,
                format!("a path starts with `/`, found \"{}\"", template.source()),
            );
            return None;
        }
        Some(template)
    }

    fn request(&mut self, node: &Node, path: &str) -> Option<Request> {
        let t = self.table(
            node,
            path,
            &[
                "via",
                "scheme",
                "method",
                "path",
                "headers",
                "token",
                "token_variant",
                "body",
                "json",
                "form",
            ],
        )?;
        let via = self.req(&t, "via", Self::member);
        let scheme = self
            .opt(&t, "scheme", |r, n, p| {
                r.choice(n, p, &[("http", Scheme::Http), ("https", Scheme::Https)])
            })
            .unwrap_or(Scheme::Http);
        let method = self.method(&t);
        let request_path = self.req(&t, "path", Self::request_path);
        let headers = self.opt(&t, "headers", Self::headers);
        let token = self.opt(&t, "token", Self::template);
        let token_variant = self.opt(&t, "token_variant", |r, n, p| {
            r.choice(n, p, &TokenVariant::ALL)
        });
        if let (Some(entry), false) = (t.get("token_variant"), t.has("token")) {
            self.error(
                entry.key_span.start,
                &t.sub("token_variant"),
                "`token_variant` alters the request's `token`: give a `token` too",
            );
            return None;
        }
        let body = self.body(&t);
        if t.has("headers") && headers.is_none()
            || t.has("token") && token.is_none()
            || t.has("token_variant") && token_variant.is_none()
        {
            return None;
        }
        Some(Request {
            via: via?,
            scheme,
            method: method?,
            path: request_path?,
            headers: headers.unwrap_or_default(),
            token,
            token_variant,
            body: body?,
        })
    }

    fn http(&mut self, node: &Node, path: &str) -> Option<Http> {
        let t = self.table(
            node,
            path,
            &[
                "via", "method", "path", "headers", "auth", "token", "basic", "body", "json",
                "form",
            ],
        )?;
        let via = self.opt(&t, "via", Self::instance);
        let method = self.method(&t);
        let request_path = self.req(&t, "path", Self::request_path);
        let headers = self.opt(&t, "headers", Self::headers);
        let body = self.body(&t);
        let auth_keys: Vec<&Entry> = ["auth", "token", "basic"]
            .iter()
            .filter_map(|k| t.get(k))
            .collect();
        let auth = match auth_keys.as_slice() {
            [] => Some(HttpAuth::Session),
            [one] => {
                let p = t.sub(&one.key);
                match one.key.as_str() {
                    "auth" => self
                        .choice(&one.value, &p, &[("session", false), ("none", true)])
                        .map(|none| {
                            if none {
                                HttpAuth::None
                            } else {
                                HttpAuth::Session
                            }
                        }),
                    "token" => self.template(&one.value, &p).map(HttpAuth::Bearer),
                    _ => self.basic(&one.value, &p),
                }
            }
            [first, second, ..] => {
                self.error(
                    second.key_span.start,
                    &t.sub(&second.key),
                    format!(
                        "a call authenticates one way: `{}` or `{}`, not both",
                        first.key, second.key
                    ),
                );
                None
            }
        };
        if t.has("headers") && headers.is_none() {
            return None;
        }
        Some(Http {
            via,
            method: method?,
            path: request_path?,
            headers: headers.unwrap_or_default(),
            auth: auth?,
            body: body?,
        })
    }

    fn basic(&mut self, node: &Node, path: &str) -> Option<HttpAuth> {
        let t = self.table(node, path, &["user", "password"])?;
        let user = self.req(&t, "user", Self::template);
        let password = self.req(&t, "password", Self::template);
        Some(HttpAuth::Basic {
            user: user?,
            password: password?,
        })
    }

    fn advance(&mut self, node: &Node, path: &str) -> Option<Advance> {
        if let Kind::Str(_) = node.kind {
            return self.duration(node, path).map(Advance::By);
        }
        let t = self.table(node, path, &["by", "to"])?;
        match (t.get("by"), t.get("to")) {
            (Some(_), None) => self.opt(&t, "by", Self::duration).map(Advance::By),
            (None, Some(_)) => self
                .opt(&t, "to", |r, n, p| r.choice(n, p, &ClockMark::ALL))
                .map(Advance::To),
            (Some(_), Some(to)) => {
                self.error(
                    to.key_span.start,
                    &t.sub("to"),
                    "advance either `by` a duration or `to` a mark, not both",
                );
                None
            }
            (None, None) => {
                self.error(
                    t.span.start,
                    path,
                    "missing `by = \"…\"` (a duration) or `to = \"next-minute\"`",
                );
                None
            }
        }
    }

    fn wait(&mut self, node: &Node, path: &str) -> Option<Wait> {
        const CONDITIONS: [&str; 5] = [
            "revision_served",
            "revocation_reached",
            "gateway_synced",
            "throttled",
            "unthrottled",
        ];
        let t = self.table(
            node,
            path,
            &[
                "revision_served",
                "revocation_reached",
                "gateway_synced",
                "throttled",
                "unthrottled",
                "timeout",
            ],
        )?;
        let timeout = self
            .opt(&t, "timeout", Self::duration)
            .unwrap_or(DEFAULT_WAIT);
        let entry = self.one_of(
            &t,
            &CONDITIONS,
            || format!("a wait needs a condition: {}", CONDITIONS.join(", ")),
            |first| {
                format!(
                    "a wait has one condition, and this one already has `{first}`: wait in two steps"
                )
            },
        )?;
        let p = t.sub(&entry.key);
        let condition = match entry.key.as_str() {
            "revision_served" => {
                let c = self.table(&entry.value, &p, &["api", "environment", "revision"])?;
                let api = self.known_api(&c);
                let environment = self.req(&c, "environment", Self::environment);
                let revision = match c.get("revision") {
                    Some(e) => self.revision_number(&e.value, &c.sub("revision"), api.as_deref()),
                    None => {
                        let latest = api
                            .as_deref()
                            .and_then(|a| self.scope.apis.get(a))
                            .map_or(0, |(_, r)| *r);
                        if latest == 0 && api.is_some() {
                            self.error(
                                c.span.start,
                                &p,
                                format!(
                                    "API `{}` has no revision yet: deploy it before waiting for it",
                                    api.as_deref().unwrap_or_default()
                                ),
                            );
                        }
                        (latest > 0).then_some(latest)
                    }
                };
                Condition::RevisionServed {
                    api: api?,
                    environment: environment?,
                    revision: revision?,
                }
            }
            "throttled" => self.throttle_condition(&entry.value, &p, true)?,
            "unthrottled" => self.throttle_condition(&entry.value, &p, false)?,
            "revocation_reached" => {
                let c = self.table(&entry.value, &p, &["token", "gateway"])?;
                let token = self.known_token(&c, "token");
                let gateway = self.req(&c, "gateway", Self::instance);
                Condition::RevocationReached {
                    token: token?,
                    gateway: gateway?,
                }
            }
            _ => {
                let gateways = match &entry.value.kind {
                    Kind::Bool(true) => Vec::new(),
                    Kind::Str(_) | Kind::Array(_) => {
                        let list = self.strings(&entry.value, &p)?;
                        let mut ok = true;
                        for (i, name) in list.iter().enumerate() {
                            let (at, ip) = match &entry.value.kind {
                                Kind::Array(items) => (&items[i], format!("{p}[{i}]")),
                                _ => (&entry.value, p.clone()),
                            };
                            ok &= self
                                .in_topology(at, &ip, name.clone(), "instance", |f| &f.instances)
                                .is_some();
                        }
                        if !ok {
                            return None;
                        }
                        list
                    }
                    _ => {
                        self.error(
                            entry.value.span.start,
                            &p,
                            format!(
                                "expected `true` (every gateway), a gateway name or a list of names, found {}",
                                entry.value.describe()
                            ),
                        );
                        return None;
                    }
                };
                Condition::GatewaySynced { gateways }
            }
        };
        Some(Wait { condition, timeout })
    }

    // ----- expectations ------------------------------------------------------------------------

    /// An `expect` table (or a sequence run, which also has `extra` keys): the expectation and
    /// the extra keys' entries.
    fn expect<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        extra: &[&str],
    ) -> Option<(Expect, Vec<&'n Entry>)> {
        let known: Vec<&str> = EXPECT_KEYS.iter().chain(extra.iter()).copied().collect();
        let t = self.table(node, path, &known)?;
        let errors_before = self.errors.len();
        let status = self.opt(&t, "status", Self::status);
        let code = self.opt(&t, "code", |r, n, p| match &n.kind {
            Kind::Int(i) => Some(i.to_string()),
            Kind::Str(s) if !s.is_empty() => Some(s.clone()),
            _ => {
                r.type_error(n, p, "a WSO2 error code (900901 or \"900901\")");
                None
            }
        });
        let message = self.opt(&t, "message", Self::template);
        let description = self.opt(&t, "description", Self::template);
        let headers = self
            .opt(&t, "headers", Self::header_expects)
            .unwrap_or_default();
        let json = self.opt(&t, "json", Self::json_expects).unwrap_or_default();
        let body = self.opt(&t, "body", Self::template);
        let body_contains = self
            .opt(&t, "body_contains", |r, n, p| {
                let texts = r.strings(n, p)?;
                texts
                    .iter()
                    .map(|s| r.template_text(s, n, p))
                    .collect::<Option<Vec<_>>>()
            })
            .unwrap_or_default();
        let backend = self.opt(&t, "backend", Self::backend_name);
        if self.errors.len() > errors_before {
            return None;
        }
        let extras = extra.iter().filter_map(|k| t.get(k)).collect();
        Some((
            Expect {
                status,
                code,
                message,
                description,
                headers,
                json,
                body,
                body_contains,
                backend,
            },
            extras,
        ))
    }

    fn status(&mut self, node: &Node, path: &str) -> Option<StatusMatch> {
        match &node.kind {
            Kind::Int(_) => self.status_code(node, path).map(StatusMatch::Exact),
            Kind::Str(s)
                if s.len() == 3 && s.ends_with("xx") && matches!(s.as_bytes()[0], b'1'..=b'5') =>
            {
                Some(StatusMatch::Class(u16::from(s.as_bytes()[0] - b'0')))
            }
            _ => {
                self.type_error(
                    node,
                    path,
                    "an integer status code (or a class like \"4xx\")",
                );
                None
            }
        }
    }

    fn status_code(&mut self, node: &Node, path: &str) -> Option<u16> {
        let code = self.integer(node, path, "status code", 100..=599)?;
        u16::try_from(code).ok()
    }

    fn header_expects(&mut self, node: &Node, path: &str) -> Option<Vec<HeaderExpect>> {
        let Some(entries) = node.entries() else {
            self.type_error(node, path, "a table of header names");
            return None;
        };
        let mut out = Vec::new();
        for entry in entries {
            let p = join(path, &entry.key);
            let matcher = match &entry.value.kind {
                Kind::Table(_) => {
                    let t = self.table(&entry.value, &p, &["contains", "exists"])?;
                    match (t.get("contains"), t.get("exists")) {
                        (Some(c), None) => {
                            TextMatch::Contains(self.template(&c.value, &t.sub("contains"))?)
                        }
                        (None, Some(e)) => {
                            if self.boolean(&e.value, &t.sub("exists"))? {
                                TextMatch::Present
                            } else {
                                TextMatch::Absent
                            }
                        }
                        (None, None) if !t.entries.is_empty() => return None, // unknown keys, reported
                        _ => {
                            self.error(
                                entry.value.span.start,
                                &p,
                                "a header matcher is `{ contains = \"…\" }` or `{ exists = true/false }`",
                            );
                            return None;
                        }
                    }
                }
                _ => TextMatch::Equals(self.template(&entry.value, &p)?),
            };
            out.push(HeaderExpect {
                name: entry.key.clone(),
                matcher,
            });
        }
        Some(out)
    }

    fn json_expects(&mut self, node: &Node, path: &str) -> Option<Vec<JsonExpect>> {
        const MATCHERS: [&str; 4] = ["equals", "contains", "exists", "length"];
        let Some(entries) = node.entries() else {
            self.type_error(node, path, "a table of JSON paths (`\"$.a.b\" = value`)");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for entry in entries {
            let p = join(path, &entry.key);
            let json_path = match JsonPath::parse(&entry.key) {
                Ok(jp) => Some(jp),
                Err(message) => {
                    self.error(entry.key_span.start, &p, message);
                    None
                }
            };
            let matcher = match entry.value.entries() {
                Some(inner) => {
                    let is_matcher = inner.len() == 1 && MATCHERS.contains(&inner[0].key.as_str());
                    if !is_matcher {
                        self.error(
                            entry.value.span.start,
                            &p,
                            "a table here is a matcher with one key: `equals`, `contains`, `exists` or `length` (compare a whole object with `{ equals = { … } }`)",
                        );
                        None
                    } else {
                        let m = &inner[0];
                        let mp = join(&p, &m.key);
                        match m.key.as_str() {
                            "equals" => self.json_template(&m.value, &mp).map(JsonMatch::Equals),
                            "contains" => {
                                self.json_template(&m.value, &mp).map(JsonMatch::Contains)
                            }
                            "exists" => self.boolean(&m.value, &mp).map(JsonMatch::Exists),
                            _ => self
                                .integer(&m.value, &mp, "length", 0..=i64::from(u32::MAX))
                                .and_then(|n| usize::try_from(n).ok())
                                .map(JsonMatch::Length),
                        }
                    }
                }
                None => self.json_template(&entry.value, &p).map(JsonMatch::Equals),
            };
            match (json_path, matcher) {
                (Some(path), Some(matcher)) => out.push(JsonExpect { path, matcher }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn times(&mut self, node: &Node, path: &str) -> Option<Times> {
        match &node.kind {
            Kind::Str(s) if s == "rest" => Some(Times::Rest),
            Kind::Int(_) => self
                .integer(node, path, "count", 0..=MAX_REPEAT)
                .and_then(|n| u32::try_from(n).ok())
                .map(Times::Exactly),
            _ => {
                self.type_error(node, path, "a count (an integer, or \"rest\")");
                None
            }
        }
    }

    /// `expect_counts`; sums are checked against `repeat` when it is known.
    fn counts(&mut self, node: &Node, path: &str, repeat: Option<u32>) -> Option<CountExpect> {
        let t = self.table(node, path, &["status", "backend", "sequence"])?;
        if let Some(sequence) = t.get("sequence") {
            for other in ["status", "backend"] {
                if let Some(entry) = t.get(other) {
                    self.error(
                        entry.key_span.start,
                        &t.sub(other),
                        "counts are either totals (`status`, `backend`) or a `sequence`, not both",
                    );
                }
            }
            let p = t.sub("sequence");
            let Kind::Array(items) = &sequence.value.kind else {
                self.type_error(
                    &sequence.value,
                    &p,
                    "an array of runs (`{ times = 10, status = 200 }`)",
                );
                return None;
            };
            let mut runs = Vec::new();
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                let rp = format!("{p}[{i}]");
                let Some((expect, extras)) = self.expect(item, &rp, &["times"]) else {
                    ok = false;
                    continue;
                };
                let times = match extras.first() {
                    Some(e) => self.times(&e.value, &join(&rp, "times")),
                    None => {
                        self.error(
                            item.span.start,
                            &rp,
                            "missing `times` (a count or \"rest\")",
                        );
                        None
                    }
                };
                match times {
                    Some(times) => runs.push(Run { times, expect }),
                    None => ok = false,
                }
            }
            if items.is_empty() {
                self.error(sequence.value.span.start, &p, "the sequence is empty");
                return None;
            }
            if !ok {
                return None;
            }
            let counts: Vec<Times> = runs.iter().map(|r| r.times).collect();
            self.check_sum(&counts, repeat, sequence.value.span.start, &p)?;
            return Some(CountExpect::Sequence(runs));
        }
        if !t.has("status") && !t.has("backend") {
            self.error(
                t.span.start,
                path,
                "missing `status = { 200 = 10, … }`, `backend = { … }` or `sequence = [ … ]`",
            );
            return None;
        }
        let status = self.opt(&t, "status", |r, n, p| {
            let entries = n.entries().or_else(|| {
                r.type_error(
                    n,
                    p,
                    "a table of status codes and counts (`{ 200 = 10, 429 = \"rest\" }`)",
                );
                None
            })?;
            let mut out = Vec::new();
            let mut ok = true;
            for e in entries {
                let ep = join(p, &e.key);
                let code = e
                    .key
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (100..=599).contains(c));
                if code.is_none() {
                    r.error(
                        e.key_span.start,
                        &ep,
                        format!("`{}` is not a status code (100 to 599)", e.key),
                    );
                }
                match (code, r.times(&e.value, &ep)) {
                    (Some(code), Some(times)) => out.push((code, times)),
                    _ => ok = false,
                }
            }
            if ok {
                let counts: Vec<Times> = out.iter().map(|(_, t)| *t).collect();
                r.check_sum(&counts, repeat, n.span.start, p)?;
            }
            ok.then_some(out)
        });
        let backend = self.opt(&t, "backend", |r, n, p| {
            let entries = n.entries().or_else(|| {
                r.type_error(n, p, "a table of backend names and counts");
                None
            })?;
            let mut out = Vec::new();
            let mut ok = true;
            for e in entries {
                let ep = join(p, &e.key);
                let name = r.in_topology(&e.value, &ep, e.key.clone(), "backend", |f| &f.backends);
                match (name, r.times(&e.value, &ep)) {
                    (Some(name), Some(times)) => out.push((name, times)),
                    _ => ok = false,
                }
            }
            if ok {
                let counts: Vec<Times> = out.iter().map(|(_, t)| *t).collect();
                r.check_sum(&counts, repeat, n.span.start, p)?;
            }
            ok.then_some(out)
        });
        if t.has("status") && status.is_none() || t.has("backend") && backend.is_none() {
            return None;
        }
        Some(CountExpect::Totals {
            status: status.unwrap_or_default(),
            backend: backend.unwrap_or_default(),
        })
    }

    /// Counts must add up to the repeat count (`rest` takes what is left, zero or more).
    fn check_sum(
        &mut self,
        counts: &[Times],
        repeat: Option<u32>,
        at: usize,
        path: &str,
    ) -> Option<()> {
        let Some(repeat) = repeat else {
            return Some(());
        };
        let fixed: u64 = counts
            .iter()
            .map(|t| match t {
                Times::Exactly(n) => u64::from(*n),
                Times::Rest => 0,
            })
            .sum();
        let rests = counts.iter().filter(|t| **t == Times::Rest).count();
        let repeat64 = u64::from(repeat);
        let message = if rests > 1 {
            Some("\"rest\" may appear once".to_owned())
        } else if rests == 1 && fixed > repeat64 {
            Some(format!(
                "the counts add up to {fixed} before \"rest\", more than repeat = {repeat}"
            ))
        } else if rests == 0 && fixed != repeat64 {
            Some(format!(
                "the counts add up to {fixed}, and repeat = {repeat} (use \"rest\" for \"all the others\")"
            ))
        } else {
            None
        };
        match message {
            Some(message) => {
                self.error(at, path, message);
                None
            }
            None => Some(()),
        }
    }

    fn captures(&mut self, node: &Node, path: &str) -> Option<Vec<Capture>> {
        let Some(entries) = node.entries() else {
            self.type_error(node, path, "a table of names and sources (`id = \"$.id\"`)");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for entry in entries {
            let p = join(path, &entry.key);
            if !is_name(&entry.key) {
                self.error(
                    entry.key_span.start,
                    &p,
                    format!(
                        "`{}` is not a capture name: use letters, digits, `_` and `-`",
                        entry.key
                    ),
                );
                ok = false;
                continue;
            }
            if ["api", "app", "key"].contains(&entry.key.as_str()) {
                self.error(
                    entry.key_span.start,
                    &p,
                    format!(
                        "`{}` is reserved (`${{{}.NAME.…}}`): choose another capture name",
                        entry.key, entry.key
                    ),
                );
                ok = false;
                continue;
            }
            let Some(text) = self.string(&entry.value, &p) else {
                ok = false;
                continue;
            };
            let source = if text == "body" {
                Some(CaptureSource::Body)
            } else if text == "status" {
                Some(CaptureSource::Status)
            } else if let Some(header) = text.strip_prefix("header:") {
                let header = header.trim();
                if header.is_empty() {
                    self.error(entry.value.span.start, &p, "`header:` names no header");
                    None
                } else {
                    Some(CaptureSource::Header(header.to_owned()))
                }
            } else if text.starts_with('$') {
                match JsonPath::parse(&text) {
                    Ok(jp) => Some(CaptureSource::Json(jp)),
                    Err(message) => {
                        self.error(entry.value.span.start, &p, message);
                        None
                    }
                }
            } else {
                self.error(
                    entry.value.span.start,
                    &p,
                    format!("`{text}` is not a capture source: a JSON path (\"$.id\"), \"header:Name\", \"body\" or \"status\""),
                );
                None
            };
            match source {
                Some(source) => out.push(Capture {
                    name: entry.key.clone(),
                    source,
                }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

/// `; did you mean `x`?`, or the list of what is defined (or that nothing is).
fn hint(name: &str, known: &[&str]) -> String {
    if let Some(s) = suggest(name, known.iter().copied()) {
        return format!("; did you mean `{s}`?");
    }
    match known.len() {
        0 => String::new(),
        1..=6 => format!(" (defined so far: {})", known.join(", ")),
        _ => String::new(),
    }
}
