//! `http`: any other REST call to the control plane or an instance's management port.

use super::*;

impl Reader<'_> {
    pub(super) fn http(&mut self, node: &Node, path: &str) -> Option<Http> {
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

    pub(super) fn basic(&mut self, node: &Node, path: &str) -> Option<HttpAuth> {
        let t = self.table(node, path, &["user", "password"])?;
        let user = self.req(&t, "user", Self::template);
        let password = self.req(&t, "password", Self::template);
        Some(HttpAuth::Basic {
            user: user?,
            password: password?,
        })
    }
}
