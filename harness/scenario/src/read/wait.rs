//! `wait`: a condition awaited with a timeout (convergence, revisions, throttle decisions).

use super::*;

const DEFAULT_WAIT: Duration = Duration::from_secs(30);

impl Reader<'_> {
    pub(super) fn wait(&mut self, node: &Node, path: &str) -> Option<Wait> {
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
}
