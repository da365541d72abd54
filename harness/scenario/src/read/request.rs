//! `request`: a call through a gateway (or a load balancer) to an API.

use super::*;

impl Reader<'_> {
    pub(super) fn request(&mut self, node: &Node, path: &str) -> Option<Request> {
        self.request_with(node, path, &[])
    }

    /// A request table that may also have the `extra` keys (read by the caller).
    pub(super) fn request_with(
        &mut self,
        node: &Node,
        path: &str,
        extra: &[&str],
    ) -> Option<Request> {
        let keys = [
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
        ];
        let known: Vec<&str> = keys.iter().chain(extra).copied().collect();
        let t = self.table(node, path, &known)?;
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
}
