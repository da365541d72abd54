//! `wait = { throttled = { … } }` and `unthrottled`: reading the throttle key a gateway is
//! watched for. The parser resolves the API's served context and the subscription tier from
//! earlier steps, so a file names things the way a person does (`app`, `api`, `level`).

use std::collections::BTreeMap;

use super::Reader;
use crate::model::{Condition, Publish, Subscribe};
use crate::throttle::{DEFAULT_USER, ThrottleKey, served_context};
use crate::tree::Node;

/// What earlier steps published and subscribed, as throttle keys need it.
#[derive(Default)]
pub(super) struct ThrottleScope {
    apis: BTreeMap<String, PublishedApi>,
    /// (app, api) -> the subscription policy of the latest `subscribe`.
    tiers: BTreeMap<(String, String), String>,
}

#[derive(Clone)]
struct PublishedApi {
    /// Served context, version included.
    context: String,
    version: String,
    /// `(VERB, target)` of each resource.
    resources: Vec<(String, String)>,
}

impl ThrottleScope {
    pub(super) fn published(&mut self, p: &Publish) {
        self.apis.insert(
            p.api.clone(),
            PublishedApi {
                context: served_context(&p.context, &p.version),
                version: p.version.clone(),
                resources: p
                    .resources
                    .iter()
                    .map(|r| (r.verb.clone(), r.target.clone()))
                    .collect(),
            },
        );
    }

    pub(super) fn subscribed(&mut self, s: &Subscribe) {
        self.tiers
            .insert((s.app.clone(), s.api.clone()), s.policy.clone());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Api,
    Resource,
    Subscription,
    Application,
    Custom,
}

const LEVELS: [(&str, Level); 5] = [
    ("api", Level::Api),
    ("resource", Level::Resource),
    ("subscription", Level::Subscription),
    ("application", Level::Application),
    ("custom", Level::Custom),
];

const KEYS: [&str; 7] = ["gateway", "level", "api", "app", "resource", "user", "key"];

impl Reader<'_> {
    /// `{ gateway = "production-gateway", level = "subscription", app = "shop", api = "pizza" }`.
    pub(super) fn throttle_condition(
        &mut self,
        node: &Node,
        path: &str,
        throttled: bool,
    ) -> Option<Condition> {
        let t = self.table(node, path, &KEYS)?;
        let gateway = self.req(&t, "gateway", Self::instance);
        let level = self.req(&t, "level", |r, n, p| r.choice(n, p, &LEVELS))?;
        let (level_name, takes): (&str, &[&str]) = match level {
            Level::Api => ("api", &["api"]),
            Level::Resource => ("resource", &["api", "resource"]),
            Level::Subscription => ("subscription", &["app", "api"]),
            Level::Application => ("application", &["app", "user"]),
            Level::Custom => ("custom", &["key"]),
        };
        let mut misplaced = false;
        for key in ["api", "app", "resource", "user", "key"] {
            if takes.contains(&key) {
                continue;
            }
            if let Some(e) = t.get(key) {
                misplaced = true;
                self.error(
                    e.key_span.start,
                    &t.sub(key),
                    format!(
                        "`{key}` is not part of a `{level_name}` throttle key (it takes: {})",
                        takes.join(", ")
                    ),
                );
            }
        }
        let key = match level {
            Level::Api => {
                let api = self.known_api(&t)?;
                let published = self.published(&api)?;
                ThrottleKey::Api {
                    api,
                    context: published.context,
                    version: published.version,
                }
            }
            Level::Resource => {
                let api = self.known_api(&t);
                let resource = self.req(&t, "resource", Self::string);
                let (api, resource) = (api?, resource?);
                let published = self.published(&api)?;
                let at = t
                    .get("resource")
                    .map_or(t.span.start, |e| e.value.span.start);
                let found = resource.split_once(' ').and_then(|(verb, target)| {
                    let verb = verb.trim().to_ascii_uppercase();
                    let target = target.trim();
                    published
                        .resources
                        .iter()
                        .find(|(v, t)| *v == verb && t == target)
                        .cloned()
                });
                let Some((verb, target)) = found else {
                    let list: Vec<String> = published
                        .resources
                        .iter()
                        .map(|(v, t)| format!("\"{v} {t}\""))
                        .collect();
                    self.error(
                        at,
                        &t.sub("resource"),
                        format!(
                            "API `{api}` has no resource `{resource}` (its resources: {})",
                            list.join(", ")
                        ),
                    );
                    return None;
                };
                ThrottleKey::Resource {
                    api,
                    context: published.context,
                    version: published.version,
                    verb,
                    target,
                }
            }
            Level::Subscription => {
                let app = self.known_app(&t);
                let api = self.known_api(&t);
                let (app, api) = (app?, api?);
                let published = self.published(&api)?;
                let tier = self
                    .scope
                    .throttle
                    .tiers
                    .get(&(app.clone(), api.clone()))
                    .cloned();
                let Some(tier) = tier else {
                    self.error(
                        t.span.start,
                        path,
                        format!(
                            "application `{app}` is not subscribed to API `{api}` by an earlier step: a subscription quota needs a `subscribe`"
                        ),
                    );
                    return None;
                };
                ThrottleKey::Subscription {
                    tier,
                    app,
                    api,
                    context: published.context,
                    version: published.version,
                }
            }
            Level::Application => {
                let app = self.known_app(&t)?;
                let user = self
                    .opt(&t, "user", Self::string)
                    .unwrap_or_else(|| DEFAULT_USER.to_owned());
                ThrottleKey::Application { app, user }
            }
            Level::Custom => ThrottleKey::Custom {
                key: self.req(&t, "key", Self::string)?,
            },
        };
        if misplaced {
            return None;
        }
        Some(Condition::Throttle {
            gateway: gateway?,
            key,
            throttled,
        })
    }

    /// An API known to the scope (`known_api` has reported an unknown name already).
    fn published(&self, api: &str) -> Option<PublishedApi> {
        self.scope.throttle.apis.get(api).cloned()
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Action, Condition};
    use crate::throttle::ThrottleKey;
    use std::path::Path;

    const SETUP: &str = r#"[scenario]
name = "t"
topology = "guide"

[[step]]
publish = { api = "pizza", context = "/pizzashack", version = "1.0.0", production = "pizzashack-production", resources = ["GET /menu", "POST /order"], policies = ["FivePerMin"] }

[[step]]
application = { app = "shop" }

[[step]]
subscribe = { app = "shop", api = "pizza", policy = "FivePerMin" }
"#;

    fn condition(step: &str) -> Condition {
        let source = format!("{SETUP}\n[[step]]\n{step}\n");
        let scenario = crate::parse(&source, Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        match &scenario.steps[3].action {
            Action::Wait(w) => w.condition.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn errors(step: &str) -> Vec<String> {
        let source = format!("{SETUP}\n[[step]]\n{step}\n");
        crate::parse(&source, Path::new("t.toml"))
            .unwrap_err()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_subscription_wait_resolves_the_context_and_the_tier_from_earlier_steps() {
        let c = condition(
            r#"wait = { throttled = { gateway = "production-gateway", level = "subscription", app = "shop", api = "pizza" }, timeout = "5s" }"#,
        );
        let Condition::Throttle {
            gateway,
            key,
            throttled,
        } = c
        else {
            panic!("{c:?}")
        };
        assert_eq!(gateway, "production-gateway");
        assert!(throttled);
        assert_eq!(
            key.render("app-1"),
            "app-1:/pizzashack/1.0.0:1.0.0:FivePerMin"
        );
    }

    #[test]
    fn unthrottled_and_the_other_levels_read_too() {
        let c = condition(
            r#"wait = { unthrottled = { gateway = "default-gateway", level = "resource", api = "pizza", resource = "post /order" } }"#,
        );
        let Condition::Throttle { key, throttled, .. } = c else {
            panic!("{c:?}")
        };
        assert!(!throttled);
        assert_eq!(key.render(""), "/pizzashack/1.0.0/1.0.0/order:POST");
        let c = condition(
            r#"wait = { throttled = { gateway = "default-gateway", level = "api", api = "pizza" } }"#,
        );
        assert!(
            matches!(
                c,
                Condition::Throttle {
                    key: ThrottleKey::Api { .. },
                    ..
                }
            ),
            "{c:?}"
        );
        let c = condition(
            r#"wait = { throttled = { gateway = "default-gateway", level = "application", app = "shop" } }"#,
        );
        let Condition::Throttle { key, .. } = c else {
            panic!("{c:?}")
        };
        assert_eq!(key.render("app-1"), "app-1:admin@carbon.super");
    }

    #[test]
    fn mistakes_are_located_and_say_what_is_expected() {
        let e = errors(
            r#"wait = { throttled = { gateway = "production-gateway", level = "subscription", app = "shop", api = "pizza", resource = "GET /menu" } }"#,
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("t.toml:15:109: step[3].wait.throttled.resource: `resource` is not part of a `subscription` throttle key (it takes: app, api)"),
            "{e:?}"
        );
        let e = errors(
            r#"wait = { throttled = { gateway = "production-gateway", level = "resource", api = "pizza", resource = "GET /orders" } }"#,
        );
        assert!(
            e[0].contains(r#"API `pizza` has no resource `GET /orders` (its resources: "GET /menu", "POST /order")"#),
            "{e:?}"
        );
        let e = errors(
            r#"wait = { throttled = { gateway = "production-gateway", level = "quota", api = "pizza" } }"#,
        );
        assert!(
            e[0].contains("step[3].wait.throttled.level: `quota` is not one of"),
            "{e:?}"
        );
        let e = errors(r#"wait = { throttled = { level = "api", api = "pizza" } }"#);
        assert!(
            e[0].contains("step[3].wait.throttled: missing `gateway`"),
            "{e:?}"
        );
    }

    #[test]
    fn a_subscription_quota_needs_an_earlier_subscribe() {
        let source = SETUP.replace(
            r#"subscribe = { app = "shop", api = "pizza", policy = "FivePerMin" }"#,
            r#"advance = "1s""#,
        );
        let source = format!(
            "{source}\n[[step]]\nwait = {{ throttled = {{ gateway = \"production-gateway\", level = \"subscription\", app = \"shop\", api = \"pizza\" }} }}\n"
        );
        let e = crate::parse(&source, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("application `shop` is not subscribed to API `pizza` by an earlier step"),
            "{e}"
        );
    }
}
