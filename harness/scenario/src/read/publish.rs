//! `publish`: an API created in the Publisher, with endpoints and resources, then published.

use super::*;

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

impl Reader<'_> {
    pub(super) fn publish(&mut self, index: usize, node: &Node, path: &str) -> Option<Publish> {
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
    pub(super) fn absolute(&mut self, node: &Node, path: &str, what: &str) -> Option<String> {
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

    pub(super) fn endpoint(&mut self, node: &Node, path: &str) -> Option<Endpoint> {
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

    pub(super) fn resources(&mut self, node: &Node, path: &str) -> Option<Vec<Resource>> {
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

    pub(super) fn resource(&mut self, node: &Node, path: &str) -> Option<Resource> {
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

    pub(super) fn verb(&mut self, text: &str, node: &Node, path: &str) -> Option<String> {
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
}
