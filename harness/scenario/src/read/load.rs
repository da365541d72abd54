//! `load`: bounded background traffic, started and stopped (with `expect_load`).

use super::*;

/// Background load: the most requests a second, and the longest run.
const MAX_RATE: i64 = 10_000;
const MAX_LOAD_DURATION: Duration = Duration::from_secs(600);
/// The most requests a load can send: its largest rate for its longest run.
pub(super) const MAX_LOAD_REQUESTS: i64 = MAX_RATE * MAX_LOAD_DURATION.as_secs() as i64;
const DEFAULT_CONCURRENCY: u32 = 16;

impl Reader<'_> {
    pub(super) fn load(&mut self, index: usize, node: &Node, path: &str) -> Option<Load> {
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
    pub(super) fn load_expect(&mut self, node: &Node, path: &str) -> Option<LoadExpect> {
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
}
