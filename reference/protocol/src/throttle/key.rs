//! Throttle keys (§4.2): the keys the gateway looks decisions up by and the TM counts by. Both
//! sides build them here, so they cannot disagree.
//!
//! The gateway builds three of them for every request, so they are concatenated into one
//! allocation of the exact size rather than through `format!`'s machinery.

/// `parts` end to end, in one allocation.
fn join(parts: &[&str]) -> String {
    let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        key.push_str(part);
    }
    key
}

/// `{applicationId}:{user}@{tenant}`: application quotas are per application *per
/// end user*. A user that already carries a tenant domain is not suffixed twice.
pub fn application(app_id: &str, user: &str, tenant: &str) -> String {
    if user.contains('@') {
        join(&[app_id, ":", user])
    } else {
        join(&[app_id, ":", user, "@", tenant])
    }
}

/// `{applicationId}:{apiContext}:{apiVersion}:{subscriptionTier}`.
pub fn subscription(app_id: &str, api_context: &str, api_version: &str, tier: &str) -> String {
    join(&[app_id, ":", api_context, ":", api_version, ":", tier])
}

/// `{apiContext}:{apiVersion}`, the context already carrying the version in 4.x
/// (`/pizza/1.0.0:1.0.0`).
pub fn api(api_context: &str, api_version: &str) -> String {
    join(&[api_context, ":", api_version])
}

/// `{apiContext}/{apiVersion}{uriTemplate}:{VERB}` (`/pizza/1.0.0/1.0.0/menu:GET`).
pub fn resource(api_context: &str, api_version: &str, uri_template: &str, verb: &str) -> String {
    join(&[api_context, "/", api_version, uri_template, ":", verb])
}

#[cfg(test)]
mod tests {
    use crate::throttle::key;

    #[test]
    fn keys_are_built_exactly_as_wso2s_throttle_handler_builds_them() {
        assert_eq!(
            key::application("42", "admin", "carbon.super"),
            "42:admin@carbon.super"
        );
        assert_eq!(
            key::application("42", "admin@carbon.super", "carbon.super"),
            "42:admin@carbon.super"
        );
        assert_eq!(
            key::subscription("42", "/pizza/1.0.0", "1.0.0", "Gold"),
            "42:/pizza/1.0.0:1.0.0:Gold"
        );
        assert_eq!(key::api("/pizza/1.0.0", "1.0.0"), "/pizza/1.0.0:1.0.0");
        assert_eq!(
            key::resource("/pizza/1.0.0", "1.0.0", "/menu", "GET"),
            "/pizza/1.0.0/1.0.0/menu:GET"
        );
    }
}
