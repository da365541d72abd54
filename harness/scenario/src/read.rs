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
// One module per step kind (each an `impl Reader` block), plus what every step shares.
mod advance;
mod application;
mod artifact;
mod deploy;
mod expect;
mod fault;
mod generate_keys;
mod http;
mod lifecycle;
mod load;
mod publish;
mod request;
mod revision;
mod revoke;
mod subscribe;
mod throttle_wait;
mod token;
mod undeploy;
mod wait;

const STEP_KEYS: [&str; 7] = [
    "name",
    "expect",
    "expect_counts",
    "repeat",
    "until",
    "capture",
    "expect_load",
];

/// The `[scenario]` table.
struct Head {
    name: String,
    description: Option<String>,
    topology: TopologyRef,
    seed: Option<u64>,
    tags: Vec<Tag>,
    support: Support,
    follows: Option<String>,
    drivers: Vec<Driver>,
}

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
        if let (Some(catalog), Some(Head { topology, .. })) = (&self.catalog, &head) {
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
        let head = head?;
        Some(Scenario {
            file: self.file.to_path_buf(),
            name: head.name,
            description: head.description,
            topology: head.topology,
            seed: head.seed,
            tags: head.tags,
            support: head.support,
            follows: head.follows,
            drivers: head.drivers,
            steps: steps?,
        })
    }

    fn head(&mut self, node: &Node) -> Option<Head> {
        let t = self.table(
            node,
            "scenario",
            &[
                "name",
                "description",
                "topology",
                "seed",
                "tags",
                "support",
                "follows",
                "drivers",
            ],
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
        let support = self
            .opt(&t, "support", |r, n, p| {
                r.choice(
                    n,
                    p,
                    &[("core", Support::Core), ("extended", Support::Extended)],
                )
            })
            .unwrap_or_default();
        let follows = self.opt(&t, "follows", Self::string);
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
        Some(Head {
            name,
            description,
            topology: topology?,
            seed,
            tags,
            support,
            follows,
            drivers,
        })
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
        let known: Vec<&str> = StepKind::ALL
            .iter()
            .map(|kind| kind.key())
            .chain(STEP_KEYS)
            .collect();
        let t = self.table(node, &path, &known)?;
        let errors_before = self.errors.len();
        let name = self.opt(&t, "name", Self::string);
        self.step_has_expect = t.has("expect");

        let actions: Vec<&Entry> = t
            .entries
            .iter()
            .filter(|e| StepKind::from_key(&e.key).is_some())
            .collect();
        let action = match actions.as_slice() {
            [] => {
                self.error(
                    t.span.start,
                    &path,
                    format!(
                        "a step needs one action: {}",
                        StepKind::ALL.map(StepKind::key).join(", ")
                    ),
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
        let kind = actions.first().and_then(|e| StepKind::from_key(&e.key));
        let responds = kind.is_some_and(StepKind::has_response);
        let stops_load = matches!(&action, Some(Action::Load(Load::Stop(_))));
        if let (Some(entry), false) = (t.get("expect_load"), stops_load)
            && (kind != Some(StepKind::Load) || action.is_some())
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
                        kind.map(StepKind::key).unwrap_or_default()
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
        let until = self.until(&t, kind);
        if kind.is_some_and(StepKind::is_probe)
            && !t.has("repeat")
            && !t.has("until")
            && !t.has("expect")
            && !t.has("expect_counts")
            && !t.has("capture")
        {
            self.error(
                t.span.start,
                &path,
                format!(
                    "a `{}` step checks nothing: add `expect` (or `capture` a value for later)",
                    kind.map(StepKind::key).unwrap_or_default()
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
            until: until?,
            captures,
        })
    }

    // ----- actions -----------------------------------------------------------------------------

    /// The step's action, read by its kind's module (one dispatch line per kind).
    fn action(&mut self, index: usize, entry: &Entry) -> Option<Action> {
        let path = format!("step[{index}].{}", entry.key);
        let node = &entry.value;
        Some(match StepKind::from_key(&entry.key)? {
            StepKind::Publish => {
                let publish = self.publish(index, node, &path)?;
                self.scope.throttle.published(&publish);
                Action::Publish(publish)
            }
            StepKind::Revision => Action::Revision(self.revision(node, &path)?),
            StepKind::Deploy => Action::Deploy(self.deploy(node, &path)?),
            StepKind::Undeploy => Action::Undeploy(self.undeploy(node, &path)?),
            StepKind::Lifecycle => Action::Lifecycle(self.lifecycle(node, &path)?),
            StepKind::Application => Action::Application(self.application(index, node, &path)?),
            StepKind::Subscribe => {
                let subscribe = self.subscribe(node, &path)?;
                self.scope.throttle.subscribed(&subscribe);
                Action::Subscribe(subscribe)
            }
            StepKind::GenerateKeys => Action::GenerateKeys(self.generate_keys(index, node, &path)?),
            StepKind::Token => Action::Token(self.token(node, &path)?),
            StepKind::Revoke => Action::Revoke(self.revoke(node, &path)?),
            StepKind::Request => Action::Request(self.request(node, &path)?),
            StepKind::Http => Action::Http(self.http(node, &path)?),
            StepKind::Advance => Action::Advance(self.advance(node, &path)?),
            StepKind::Wait => Action::Wait(self.wait(node, &path)?),
            StepKind::Fault => Action::Fault(self.fault(node, &path)?),
            StepKind::Load => Action::Load(self.load(index, node, &path)?),
            StepKind::Artifact => Action::Artifact(self.artifact(node, &path)?),
        })
    }

    // ----- members, shared by `fault`, `load` and `request` -----------------------------------

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

    // ----- expectations ------------------------------------------------------------------------
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
