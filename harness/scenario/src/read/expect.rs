//! What a step checks of its response: `expect`, `expect_counts` and `capture`.

use super::*;

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
/// Largest `repeat`: a scenario is a test, not a load generator (that is what a `load` step is for).
const MAX_REPEAT: i64 = 100_000;

impl Reader<'_> {
    /// `until`; `Some(None)` when the step has none.
    pub(super) fn until(&mut self, t: &Table<'_>, kind: Option<StepKind>) -> Option<Option<Until>> {
        let Some(entry) = t.get("until") else {
            return Some(None);
        };
        let path = t.sub("until");
        if kind != Some(StepKind::Request) || t.has("repeat") {
            self.error(
                entry.key_span.start,
                &path,
                "`until` applies to a `request` step without `repeat`",
            );
            return None;
        }
        let u = self.table(&entry.value, &path, &["status", "served", "slack"])?;
        let status = self.req(&u, "status", |r, n, p| r.integer(n, p, "status", 100..=599));
        let served = self.req(&u, "served", |r, n, p| {
            r.integer(n, p, "served count", 0..=MAX_REPEAT)
        });
        let slack = self
            .opt(&u, "slack", |r, n, p| {
                r.integer(n, p, "slack", 0..=MAX_REPEAT)
            })
            .unwrap_or(0);
        Some(Some(Until {
            status: u16::try_from(status?).ok()?,
            served: u32::try_from(served?).ok()?,
            slack: u32::try_from(slack).ok()?,
        }))
    }

    /// `repeat` and `expect_counts`; `Some(None)` when the step has neither.
    pub(super) fn repeat(
        &mut self,
        t: &Table<'_>,
        kind: Option<StepKind>,
    ) -> Option<Option<Repeat>> {
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
        if !kind.is_some_and(StepKind::repeats) {
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

    /// An `expect` table (or a sequence run, which also has `extra` keys): the expectation and
    /// the extra keys' entries.
    pub(super) fn expect<'n>(
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

    pub(super) fn status(&mut self, node: &Node, path: &str) -> Option<StatusMatch> {
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

    pub(super) fn status_code(&mut self, node: &Node, path: &str) -> Option<u16> {
        let code = self.integer(node, path, "status code", 100..=599)?;
        u16::try_from(code).ok()
    }

    pub(super) fn header_expects(&mut self, node: &Node, path: &str) -> Option<Vec<HeaderExpect>> {
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

    pub(super) fn json_expects(&mut self, node: &Node, path: &str) -> Option<Vec<JsonExpect>> {
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

    pub(super) fn times(&mut self, node: &Node, path: &str) -> Option<Times> {
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
    pub(super) fn counts(
        &mut self,
        node: &Node,
        path: &str,
        repeat: Option<u32>,
    ) -> Option<CountExpect> {
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
    pub(super) fn check_sum(
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

    pub(super) fn captures(&mut self, node: &Node, path: &str) -> Option<Vec<Capture>> {
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
