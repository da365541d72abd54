//! WSO2's built-in throttling tiers (§4.1), with ids that do not depend on a seed.

use super::policy::*;
use sha2::{Digest, Sha256};

/// A stable id for a built-in policy (WSO2 mints a random UUID per tenant; ours derive from
/// level and name so one seed-free start always shows the same ids).
pub fn default_policy_id(level: PolicyLevel, name: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(level.as_str().as_bytes());
    hasher.update(b"/");
    hasher.update(name.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

const MAX: i64 = i32::MAX as i64; // WSO2's Integer.MAX_VALUE for Unlimited

fn app(name: &str, count: i64, description: &str) -> ThrottlePolicy {
    ThrottlePolicy::Application(ApplicationPolicy {
        policy_id: default_policy_id(PolicyLevel::Application, name),
        policy_name: name.into(),
        display_name: name.into(),
        description: description.into(),
        is_deployed: true,
        default_limit: ThrottleLimit::requests(count, 1, TimeUnit::Min),
    })
}

fn sub(name: &str, count: i64, description: &str) -> ThrottlePolicy {
    ThrottlePolicy::Subscription(SubscriptionPolicy {
        policy_id: default_policy_id(PolicyLevel::Subscription, name),
        policy_name: name.into(),
        display_name: name.into(),
        description: description.into(),
        is_deployed: true,
        graphql_max_complexity: 0,
        graphql_max_depth: 0,
        default_limit: ThrottleLimit::requests(count, 1, TimeUnit::Min),
        rate_limit_count: 0,
        rate_limit_time_unit: None,
        subscriber_count: None,
        custom_attributes: Vec::new(),
        stop_on_quota_reach: true,
        billing_plan: Some("FREE".into()),
        permissions: None,
    })
}

fn advanced(name: &str, count: i64, description: &str) -> ThrottlePolicy {
    ThrottlePolicy::Advanced(AdvancedPolicy {
        policy_id: default_policy_id(PolicyLevel::Advanced, name),
        policy_name: name.into(),
        display_name: name.into(),
        description: description.into(),
        is_deployed: true,
        default_limit: ThrottleLimit::requests(count, 1, TimeUnit::Min),
        conditional_groups: Vec::new(),
    })
}

/// WSO2's built-in policies for a tenant (§4.1; names and descriptions from `APIConstants`),
/// all per one minute. The async (WS/SSE/WebSub) subscription tiers are not included.
pub fn defaults() -> Vec<ThrottlePolicy> {
    vec![
        app("50PerMin", 50, "Allows 50 request per minute"),
        app("20PerMin", 20, "Allows 20 request per minute"),
        app("10PerMin", 10, "Allows 10 request per minute"),
        app(UNLIMITED, MAX, "Allows unlimited requests"),
        sub("Gold", 5000, "Allows 5000 requests per minute"),
        sub("Silver", 2000, "Allows 2000 requests per minute"),
        sub("Bronze", 1000, "Allows 1000 requests per minute"),
        sub("Unauthenticated", 500, "Allows 500 request(s) per minute"),
        sub(UNLIMITED, MAX, "Allows unlimited requests"),
        advanced("50KPerMin", 50_000, "Allows 50000 requests per minute"),
        advanced("20KPerMin", 20_000, "Allows 20000 requests per minute"),
        advanced("10KPerMin", 10_000, "Allows 10000 requests per minute"),
        advanced(UNLIMITED, MAX, "Allows unlimited requests"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policies_are_wso2s_thirteen_per_minute_tiers() {
        let all = defaults();
        let names: Vec<(PolicyLevel, &str, i64)> = all
            .iter()
            .map(|p| {
                let Quota::Count(n) = p.default_limit().unwrap().quota() else {
                    panic!("count limits only")
                };
                assert_eq!(p.default_limit().unwrap().window_millis(), 60_000);
                (p.level(), p.name(), n)
            })
            .collect();
        assert!(names.contains(&(PolicyLevel::Application, "10PerMin", 10)));
        assert!(names.contains(&(PolicyLevel::Subscription, "Gold", 5000)));
        assert!(names.contains(&(PolicyLevel::Subscription, "Unauthenticated", 500)));
        assert!(names.contains(&(PolicyLevel::Advanced, "10KPerMin", 10_000)));
        assert_eq!(names.len(), 13);
        assert!(all.iter().filter(|p| p.is_unlimited()).count() == 3);
        let gold = all.iter().find(|p| p.name() == "Gold").unwrap();
        let ThrottlePolicy::Subscription(gold) = gold else {
            panic!()
        };
        assert!(gold.stop_on_quota_reach);
        assert_eq!(gold.rate_limit_count, 0);
    }
}
