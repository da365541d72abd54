//! `fault`: kill, restart, pause, resume, partition or heal a member; break a mock backend.

use super::*;

impl Reader<'_> {
    /// What a kill, restart, pause or resume hits: an instance, a load balancer or a Traffic
    /// Manager (`traffic-manager`, inside its control-plane instance).
    pub(super) fn fault_member(&mut self, node: &Node, path: &str) -> Option<String> {
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
    pub(super) fn pair(&mut self, node: &Node, path: &str) -> Option<(String, String)> {
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

    pub(super) fn fault(&mut self, node: &Node, path: &str) -> Option<Fault> {
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
}
