//! Placeholders, resolved as WSO2 resolves them.
//!
//! - `$ref{a.b}`: the value of another key of the same file, or WSO2's default for it
//!   (Carbon's config mapper).
//! - `$env{NAME}` / `$sys{name}`: environment variables and Java system properties, taken from
//!   an injected [`Vars`] so tests stay deterministic.
//! - `${name}`: system properties Carbon sets at start: the offset ports
//!   (`${mgt.transport.https.port}`, `${http.nio.port}`, `${receiver.url.port}`, ...),
//!   `${carbon.host}`, `${carbon.local.ip}`, `${admin.username}`; any other name falls back to
//!   [`Vars::sys`], as a `-D` property would.

use std::collections::BTreeMap;

use crate::ports::Ports;
use crate::schema;
use crate::twin::{Node, TwinTable};

/// Environment variables and system properties a file may name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// `$env{NAME}`.
    pub env: BTreeMap<String, String>,
    /// `$sys{name}`, and `${name}` for names Carbon does not set itself.
    pub sys: BTreeMap<String, String>,
}

impl Vars {
    /// This process's environment variables, no system properties.
    pub fn from_process() -> Self {
        Self {
            env: std::env::vars().collect(),
            sys: BTreeMap::new(),
        }
    }
}

/// Resolves the placeholders of one file.
pub(crate) struct Resolver<'a> {
    pub(crate) twin: &'a TwinTable,
    pub(crate) vars: &'a Vars,
    /// `None` while the ports themselves are being read.
    pub(crate) ports: Option<Ports>,
}

enum Kind {
    Ref,
    Env,
    Sys,
    Property,
}

impl Resolver<'_> {
    /// `raw` with every placeholder replaced, or why one cannot be.
    pub(crate) fn resolve(&self, raw: &str) -> Result<String, String> {
        self.resolve_in(raw, &mut Vec::new())
    }

    fn resolve_in(&self, raw: &str, stack: &mut Vec<String>) -> Result<String, String> {
        if !raw.contains('$') {
            return Ok(raw.to_owned());
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let tail = &rest[i..];
            let (kind, after) = if let Some(after) = tail.strip_prefix("$ref{") {
                (Kind::Ref, after)
            } else if let Some(after) = tail.strip_prefix("$env{") {
                (Kind::Env, after)
            } else if let Some(after) = tail.strip_prefix("$sys{") {
                (Kind::Sys, after)
            } else if let Some(after) = tail.strip_prefix("${") {
                (Kind::Property, after)
            } else {
                // A lone `$` is text (passwords may hold one).
                out.push('$');
                rest = &tail[1..];
                continue;
            };
            let Some(end) = after.find('}') else {
                return Err(format!("unterminated placeholder in \"{raw}\""));
            };
            let name = &after[..end];
            let value =
                match kind {
                    Kind::Ref => self.reference(name, stack)?,
                    Kind::Env => self.vars.env.get(name).cloned().ok_or_else(|| {
                        format!("$env{{{name}}}: environment variable {name} is not set")
                    })?,
                    Kind::Sys => self.vars.sys.get(name).cloned().ok_or_else(|| {
                        format!("$sys{{{name}}}: system property {name} is not set")
                    })?,
                    Kind::Property => self.property(name, stack)?,
                };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn reference(&self, key: &str, stack: &mut Vec<String>) -> Result<String, String> {
        if stack.iter().any(|k| k == key) {
            let mut cycle = stack.clone();
            cycle.push(key.to_owned());
            return Err(format!("$ref cycle: {}", cycle.join(" -> ")));
        }
        let raw = match self.twin.node(key) {
            Some(Node::Scalar(s)) => s.value.text(),
            Some(_) => {
                return Err(format!(
                    "$ref{{{key}}} names a table or a list, not a value"
                ));
            }
            None => match schema::default_at(key) {
                Some(default) => default.to_owned(),
                None => {
                    return Err(format!(
                        "$ref{{{key}}} names no key of this file, and WSO2 has no default for it"
                    ));
                }
            },
        };
        stack.push(key.to_owned());
        let resolved = self.resolve_in(&raw, stack);
        stack.pop();
        resolved.map_err(|e| {
            // Name the first `$ref` hop only; a cycle already lists every hop.
            if e.starts_with("$ref cycle") || e.contains("(via $ref{") {
                e
            } else {
                format!("{e} (via $ref{{{key}}})")
            }
        })
    }

    fn property(&self, name: &str, stack: &mut Vec<String>) -> Result<String, String> {
        let port = |pick: fn(&Ports) -> u16| match self.ports {
            Some(ports) => Ok(pick(&ports).to_string()),
            None => Err(format!(
                "${{{name}}} cannot be used here: ports are known only after [server] offset and [transport] ports are read"
            )),
        };
        match name {
            "mgt.transport.https.port" | "carbon.management.port" => port(|p| p.mgmt_https),
            "mgt.transport.http.port" => port(|p| p.servlet_http),
            "http.nio.port" => port(|p| p.passthru_http),
            "https.nio.port" => port(|p| p.passthru_https),
            "receiver.url.port" => port(|p| p.tm_binary),
            "auth.url.port" => port(|p| p.tm_binary_ssl),
            "jms.port" => port(|p| p.amqp),
            "carbon.protocol" => Ok("https".to_owned()),
            "carbon.host" => self.reference("server.hostname", stack),
            "carbon.local.ip" => self.reference("server.node_ip", stack),
            "admin.username" => self.reference("super_admin.username", stack),
            "admin.password" => self.reference("super_admin.password", stack),
            other => self.vars.sys.get(other).cloned().ok_or_else(|| {
                format!("unknown placeholder ${{{other}}}: not a property Carbon sets, nor a given system property")
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver<'a>(twin: &'a TwinTable, vars: &'a Vars) -> Resolver<'a> {
        Resolver {
            twin,
            vars,
            ports: Some(Ports::with_offset(2).unwrap()),
        }
    }

    #[test]
    fn carbon_properties_resolve_to_the_offset_ports_and_defaults() {
        let twin = TwinTable::default();
        let vars = Vars::default();
        let r = resolver(&twin, &vars);
        assert_eq!(
            r.resolve("https://${carbon.host}:${mgt.transport.https.port}/services/")
                .unwrap(),
            "https://localhost:9445/services/"
        );
        assert_eq!(
            r.resolve("tcp://${carbon.local.ip}:${receiver.url.port}|${auth.url.port}|${jms.port}|${http.nio.port}|${https.nio.port}").unwrap(),
            "tcp://127.0.0.1:9613|9713|5674|8282|8245"
        );
        assert_eq!(r.resolve("$ref{super_admin.username}").unwrap(), "admin");
        assert_eq!(r.resolve("pa$$word").unwrap(), "pa$$word");
    }

    #[test]
    fn env_and_sys_come_from_the_injected_vars_only() {
        let twin = TwinTable::default();
        let mut vars = Vars::default();
        vars.env.insert("DB_PASSWORD".into(), "s3cret".into());
        vars.sys.insert("my.prop".into(), "x".into());
        let r = resolver(&twin, &vars);
        assert_eq!(
            r.resolve("$env{DB_PASSWORD}-$sys{my.prop}-${my.prop}")
                .unwrap(),
            "s3cret-x-x"
        );
        assert_eq!(
            r.resolve("$env{MISSING}").unwrap_err(),
            "$env{MISSING}: environment variable MISSING is not set"
        );
        assert!(
            r.resolve("${no.such}")
                .unwrap_err()
                .starts_with("unknown placeholder ${no.such}")
        );
        assert!(
            r.resolve("${unterminated")
                .unwrap_err()
                .starts_with("unterminated")
        );
    }

    #[test]
    fn port_placeholders_are_refused_while_ports_are_being_read() {
        let twin = TwinTable::default();
        let vars = Vars::default();
        let r = Resolver {
            twin: &twin,
            vars: &vars,
            ports: None,
        };
        assert!(
            r.resolve("${http.nio.port}")
                .unwrap_err()
                .contains("cannot be used here")
        );
    }
}
