//! `wait`: a condition awaited with a timeout (convergence, revisions, throttle decisions).

use super::load::MAX_LOAD_REQUESTS;
use super::*;

const DEFAULT_WAIT: Duration = Duration::from_secs(30);

impl Reader<'_> {
    pub(super) fn wait(&mut self, node: &Node, path: &str) -> Option<Wait> {
        const CONDITIONS: [&str; 7] = [
            "revision_served",
            "revocation_reached",
            "gateway_synced",
            "throttled",
            "unthrottled",
            "load_sent",
            "responds",
        ];
        let known: Vec<&str> = CONDITIONS.iter().copied().chain(["timeout"]).collect();
        let t = self.table(node, path, &known)?;
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
            "load_sent" => self.load_sent(&entry.value, &p)?,
            "responds" => self.responds(&entry.value, &p)?,
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

    /// `responds = { <a request's keys>, expect = { … } }`: the request and what one answer
    /// must meet.
    fn responds(&mut self, node: &Node, path: &str) -> Option<Condition> {
        let request = self.request_with(node, path, &["expect"]);
        let expect = match node.entries()?.iter().find(|e| e.key == "expect") {
            Some(entry) => self
                .expect(&entry.value, &join(path, "expect"), &[])
                .map(|(e, _)| e),
            None => {
                self.error(
                    node.span.start,
                    path,
                    "`responds` waits until an answer meets its `expect`: give one (`expect = { status = 200 }`)",
                );
                None
            }
        };
        Some(Condition::Responds {
            request: Box::new(request?),
            expect: Box::new(expect?),
        })
    }

    /// `load_sent = { load = "reads", at_least = 100 }`: a load started earlier and still
    /// running.
    fn load_sent(&mut self, node: &Node, path: &str) -> Option<Condition> {
        let c = self.table(node, path, &["load", "at_least"])?;
        let load = self.req(&c, "load", Self::name);
        let at_least = self.req(&c, "at_least", |r, n, p| {
            r.integer(n, p, "request count", 1..=MAX_LOAD_REQUESTS)
        });
        let load = load?;
        let at = c
            .get("load")
            .map_or(node.span.start, |e| e.value.span.start);
        match self.scope.loads.get(&load) {
            Some((_, false)) => {}
            Some((started, true)) => {
                let message =
                    format!("the load `{load}` started by step[{started}] is already stopped");
                self.error(at, &c.sub("load"), message);
                return None;
            }
            None => {
                let known: Vec<&str> = self.scope.loads.keys().map(String::as_str).collect();
                let message = format!(
                    "no load named `{load}` is started by an earlier step{}",
                    hint(&load, &known)
                );
                self.error(at, &c.sub("load"), message);
                return None;
            }
        }
        Some(Condition::LoadSent {
            load,
            at_least: u64::try_from(at_least?).ok()?,
        })
    }
}
