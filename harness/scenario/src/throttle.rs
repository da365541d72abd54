//! Throttle keys: what a `wait = { throttled = … }` step watches on a gateway.
//!
//! A gateway asks its Traffic Manager's decisions about four keys per request
//! (docs/wso2-behaviour.md §4.2); a decision arrives asynchronously after the request that used up
//! the quota, so a scenario awaits it instead of counting on timing. The parser resolves
//! everything it can from earlier steps (the API's served context, the subscription tier); the
//! runner fills in the one thing only the control plane knows, the application's id.

/// The tenant every scenario runs in (WSO2's super tenant).
pub const TENANT: &str = "carbon.super";

/// The user an application quota is counted for when the file names none: the owner of the
/// runner's applications, whom client-credentials and password-grant tokens name in `sub`.
pub const DEFAULT_USER: &str = "admin";

/// Which quota a throttle key counts, with what the gateway needs to build the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThrottleKey {
    /// The API's advanced (API-level) policy: `{context}:{version}`; refusal code 900800.
    Api {
        api: String,
        /// The context as gateways serve it, version included (`/pizzashack/1.0.0`).
        context: String,
        version: String,
    },
    /// One resource's advanced policy: `{context}/{version}{target}:{VERB}`; 900802.
    Resource {
        api: String,
        context: String,
        version: String,
        verb: String,
        target: String,
    },
    /// The subscription quota: `{applicationId}:{context}:{version}:{tier}`; 900804.
    Subscription {
        app: String,
        api: String,
        context: String,
        version: String,
        /// The subscription policy of the latest earlier `subscribe` of `app` to `api`.
        tier: String,
    },
    /// The application quota, per application per end user: `{applicationId}:{user}@{tenant}`;
    /// 900803.
    Application { app: String, user: String },
    /// A custom rule's key, as its Siddhi query's `throttleKey` names it and its key template
    /// yields it on the gateway (`admin@carbon.super`); 900806.
    Custom { key: String },
}

impl ThrottleKey {
    /// The names used in files: `level = "subscription"`.
    pub const LEVELS: [&'static str; 5] =
        ["api", "resource", "subscription", "application", "custom"];

    pub fn level(&self) -> &'static str {
        match self {
            Self::Api { .. } => "api",
            Self::Resource { .. } => "resource",
            Self::Subscription { .. } => "subscription",
            Self::Application { .. } => "application",
            Self::Custom { .. } => "custom",
        }
    }

    /// The scenario's name of the application whose id the key holds, if any.
    pub fn app(&self) -> Option<&str> {
        match self {
            Self::Subscription { app, .. } | Self::Application { app, .. } => Some(app),
            Self::Api { .. } | Self::Resource { .. } | Self::Custom { .. } => None,
        }
    }

    /// The key as the gateway computes it, given the application's id (ignored by the API and
    /// resource levels). Written here again rather than taken from `tollgate_protocol::throttle::key`
    /// (this crate depends on nothing of Tollgate's); the harness's `copies` test pins the two.
    pub fn render(&self, app_id: &str) -> String {
        match self {
            Self::Api {
                context, version, ..
            } => format!("{context}:{version}"),
            Self::Resource {
                context,
                version,
                verb,
                target,
                ..
            } => format!("{context}/{version}{target}:{verb}"),
            Self::Subscription {
                context,
                version,
                tier,
                ..
            } => format!("{app_id}:{context}:{version}:{tier}"),
            Self::Application { user, .. } if user.contains('@') => format!("{app_id}:{user}"),
            Self::Application { user, .. } => format!("{app_id}:{user}@{TENANT}"),
            Self::Custom { key } => key.clone(),
        }
    }

    /// For reports: "the subscription quota of `shop` on `pizza`".
    pub fn describe(&self) -> String {
        match self {
            Self::Api { api, .. } => format!("the API-level quota of `{api}`"),
            Self::Resource {
                api, verb, target, ..
            } => format!("the quota of resource {verb} {target} of `{api}`"),
            Self::Subscription { app, api, tier, .. } => {
                format!("the {tier} subscription quota of `{app}` on `{api}`")
            }
            Self::Application { app, user } => {
                format!("the application quota of `{app}` for user `{user}`")
            }
            Self::Custom { key } => format!("the custom rule key `{key}`"),
        }
    }
}

/// The context an API is served at: `context` with `{version}` filled in, else
/// `{context}/{version}` (as the Publisher does in 4.x). A copy of the control plane's
/// `model::served_context`, pinned equal to it by the harness's `copies` test.
pub fn served_context(context: &str, version: &str) -> String {
    if context.contains("{version}") {
        context.replace("{version}", version)
    } else {
        format!("{}/{version}", context.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_render_as_the_gateway_computes_them() {
        let context = served_context("/pizzashack", "1.0.0");
        let api = ThrottleKey::Api {
            api: "pizza".into(),
            context: context.clone(),
            version: "1.0.0".into(),
        };
        assert_eq!(api.render("x"), "/pizzashack/1.0.0:1.0.0");
        let resource = ThrottleKey::Resource {
            api: "pizza".into(),
            context: context.clone(),
            version: "1.0.0".into(),
            verb: "GET".into(),
            target: "/menu".into(),
        };
        assert_eq!(resource.render("x"), "/pizzashack/1.0.0/1.0.0/menu:GET");
        let subscription = ThrottleKey::Subscription {
            app: "shop".into(),
            api: "pizza".into(),
            context,
            version: "1.0.0".into(),
            tier: "Gold".into(),
        };
        assert_eq!(
            subscription.render("app-1"),
            "app-1:/pizzashack/1.0.0:1.0.0:Gold"
        );
        let application = ThrottleKey::Application {
            app: "shop".into(),
            user: "admin".into(),
        };
        assert_eq!(application.render("app-1"), "app-1:admin@carbon.super");
        assert_eq!(application.app(), Some("shop"));
    }

    #[test]
    fn a_templated_context_takes_the_version_in_place() {
        assert_eq!(served_context("/{version}/pizza", "2"), "/2/pizza");
    }
}
