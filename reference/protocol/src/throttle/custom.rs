//! Custom rules (WSO2's "global" policies): a Siddhi query the Traffic Manager counts by, and a
//! key template the gateway looks decisions up by.
//!
//! The two meet in the throttle key: the query's `throttleKey` (say
//! `str:concat('admin@carbon.super','')`) is what the TM counts and names in its decision; the
//! gateway fills the rule's key template (`$userId`) with the request's values and refuses the
//! request (429, 900806) while a decision holds that key. As in WSO2, writing a template that
//! yields the same string as the query is the rule author's job.

use super::siddhi::{self, SiddhiError};
use super::wire::RequestEvent;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `CustomRule` (Admin v4 `/throttling/policies/custom`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomRule {
    #[serde(default)]
    pub policy_id: String,
    #[serde(default)]
    pub policy_name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub is_deployed: bool,
    #[serde(default)]
    pub siddhi_query: String,
    #[serde(default)]
    pub key_template: String,
}

impl CustomRule {
    /// The query as the TM runs it.
    pub fn compile(&self) -> Result<CustomPlan, SiddhiError> {
        siddhi::compile(&self.siddhi_query)
    }
}

/// A `RequestStream` attribute a custom rule may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    MessageId,
    AppKey,
    AppTier,
    ApiKey,
    ApiTier,
    SubscriptionKey,
    SubscriptionTier,
    ResourceKey,
    ResourceTier,
    UserId,
    ApiContext,
    ApiVersion,
    AppTenant,
    ApiTenant,
    AppId,
    ApiName,
}

impl Attribute {
    /// The attribute named `name` in `org.wso2.throttle.processed.request.stream`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "messageID" => Self::MessageId,
            "appKey" => Self::AppKey,
            "appTier" => Self::AppTier,
            "apiKey" => Self::ApiKey,
            "apiTier" => Self::ApiTier,
            "subscriptionKey" => Self::SubscriptionKey,
            "subscriptionTier" => Self::SubscriptionTier,
            "resourceKey" => Self::ResourceKey,
            "resourceTier" => Self::ResourceTier,
            "userId" => Self::UserId,
            "apiContext" => Self::ApiContext,
            "apiVersion" => Self::ApiVersion,
            "appTenant" => Self::AppTenant,
            "apiTenant" => Self::ApiTenant,
            "appId" => Self::AppId,
            "apiName" => Self::ApiName,
            _ => return None,
        })
    }

    fn value<'e>(self, e: &'e RequestEvent<'_>) -> &'e str {
        match self {
            Self::MessageId => &e.message_id,
            Self::AppKey => &e.app_key,
            Self::AppTier => &e.app_tier,
            Self::ApiKey => &e.api_key,
            Self::ApiTier => &e.api_tier,
            Self::SubscriptionKey => &e.subscription_key,
            Self::SubscriptionTier => &e.subscription_tier,
            Self::ResourceKey => &e.resource_key,
            Self::ResourceTier => &e.resource_tier,
            Self::UserId => &e.user_id,
            Self::ApiContext => &e.api_context,
            Self::ApiVersion => &e.api_version,
            Self::AppTenant => &e.app_tenant,
            Self::ApiTenant => &e.api_tenant,
            Self::AppId => &e.app_id,
            Self::ApiName => &e.api_name,
        }
    }
}

/// The query's `isEligible`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Const(bool),
    Equals {
        attribute: Attribute,
        value: String,
        negated: bool,
    },
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

impl Condition {
    pub fn holds(&self, e: &RequestEvent) -> bool {
        match self {
            Self::Const(b) => *b,
            Self::Equals {
                attribute,
                value,
                negated,
            } => (attribute.value(e) == value) != *negated,
            Self::Not(c) => !c.holds(e),
            Self::And(a, b) => a.holds(e) && b.holds(e),
            Self::Or(a, b) => a.holds(e) || b.holds(e),
        }
    }
}

/// One argument of the query's `throttleKey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    Text(String),
    Attribute(Attribute),
}

/// A compiled custom rule: which events count, under which key, how many per window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPlan {
    pub eligible: Condition,
    pub key: Vec<KeyPart>,
    /// `timeBatch` length, aligned to epoch multiples.
    pub window_millis: i64,
    /// Throttled once the window's count reaches this (`count(…) >= limit`).
    pub limit: i64,
}

impl CustomPlan {
    /// The throttle key `e` counts against, or `None` when `e` is not eligible.
    pub fn key_of(&self, e: &RequestEvent) -> Option<String> {
        self.eligible.holds(e).then(|| {
            self.key
                .iter()
                .map(|part| match part {
                    KeyPart::Text(t) => t.as_str(),
                    KeyPart::Attribute(a) => a.value(e),
                })
                .collect()
        })
    }
}

/// The request's values a key template may name (`ThrottleHandler#validateCustomPolicy`).
#[derive(Debug, Clone, Copy)]
pub struct KeyFacts<'a> {
    pub resource_key: &'a str,
    pub user_id: &'a str,
    pub api_context: &'a str,
    pub api_version: &'a str,
    pub app_tenant: &'a str,
    pub api_tenant: &'a str,
    pub app_id: &'a str,
    pub client_ip: Option<IpAddr>,
}

/// Fills `template` as WSO2's gateway does: each `$name` replaced in this order, everywhere
/// it occurs; `$clientIp` becomes the address as an integer (`APIUtil.ipToBigInteger`:
/// `127.0.0.1` → `2130706433`). `$customProperty.*` is left as written (no custom properties
/// here).
pub fn fill_key_template(template: &str, facts: &KeyFacts<'_>) -> String {
    let mut key = template
        .replace("$resourceKey", facts.resource_key)
        .replace("$userId", facts.user_id)
        .replace("$apiContext", facts.api_context)
        .replace("$apiVersion", facts.api_version)
        .replace("$appTenant", facts.app_tenant)
        .replace("$apiTenant", facts.api_tenant)
        .replace("$appId", facts.app_id);
    if let Some(ip) = facts.client_ip {
        let number = match ip {
            IpAddr::V4(v4) => u32::from(v4).to_string(),
            IpAddr::V6(v6) => u128::from(v6).to_string(),
        };
        key = key.replace("$clientIp", &number);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CustomRuleDTO`'s own example (admin-v4.yaml), as the Admin Portal writes it.
    pub const WSO2_EXAMPLE: &str = "FROM RequestStream\nSELECT userId, ( userId == 'admin@carbon.super' ) AS isEligible , str:concat('admin@carbon.super','') as throttleKey\nINSERT INTO EligibilityStream; \n\nFROM EligibilityStream[isEligible==true]#throttler:timeBatch(1 min) \nSELECT throttleKey, (count(userId) >= 10) as isThrottled, expiryTimeStamp group by throttleKey \nINSERT ALL EVENTS into ResultStream;";

    fn event<'a>(user: &'a str, context: &'a str) -> RequestEvent<'a> {
        RequestEvent {
            user_id: user.into(),
            api_context: context.into(),
            api_version: "1.0.0".into(),
            ..RequestEvent::default()
        }
    }

    #[test]
    fn wso2s_example_compiles_to_ten_per_minute_for_admin() {
        let plan = siddhi::compile(WSO2_EXAMPLE).unwrap();
        assert_eq!(plan.window_millis, 60_000);
        assert_eq!(plan.limit, 10);
        assert_eq!(
            plan.key_of(&event("admin@carbon.super", "/p/1")).as_deref(),
            Some("admin@carbon.super")
        );
        assert_eq!(plan.key_of(&event("bob@carbon.super", "/p/1")), None);
    }

    #[test]
    fn the_documented_per_user_per_api_rule_keys_by_attributes() {
        let plan = siddhi::compile(
            "-- 5 a minute per user and API\n\
             from RequestStream select userId, apiContext, apiVersion,\n\
             (not (userId != 'admin@carbon.super') and (apiContext == '/pizzashack/1.0.0' or false)) as isEligible,\n\
             str:concat(userId, ':', apiContext, ':', apiVersion) as throttleKey\n\
             insert into EligibilityStream;\n\
             from EligibilityStream[isEligible]#throttler:timeBatch(2 hours, 0)\n\
             select throttleKey, (count(throttleKey) >= 5) as isThrottled group by throttleKey\n\
             insert into ResultStream",
        )
        .unwrap();
        assert_eq!(plan.window_millis, 7_200_000);
        assert_eq!(
            plan.key_of(&event("admin@carbon.super", "/pizzashack/1.0.0"))
                .as_deref(),
            Some("admin@carbon.super:/pizzashack/1.0.0:1.0.0")
        );
        assert_eq!(plan.key_of(&event("admin@carbon.super", "/other/1")), None);
    }

    fn refusal(query: &str) -> (usize, usize, String) {
        let e = siddhi::compile(query).unwrap_err();
        (e.line, e.column, e.message)
    }

    #[test]
    fn forms_outside_the_subset_are_refused_where_they_start() {
        let sliding = WSO2_EXAMPLE.replace("#throttler:timeBatch(1 min)", "#window.time(1 min)");
        let (line, column, message) = refusal(&sliding);
        assert_eq!((line, column), (5, 42), "{message}");
        assert!(message.contains("throttler:timeBatch"), "{message}");

        let (line, column, message) = refusal(&WSO2_EXAMPLE.replace(">= 10", "> 10"));
        assert_eq!((line, column), (6, 21), "{message}");
        assert!(message.contains("count(<column>) >= <limit>"), "{message}");

        let (line, column, message) =
            refusal(&WSO2_EXAMPLE.replace("( userId ==", "( clientIp =="));
        assert_eq!((line, column), (2, 18), "{message}");
        assert_eq!(message, "`clientIp` is not a RequestStream attribute");

        let (line, column, message) = refusal(&WSO2_EXAMPLE.replace("str:concat", "str:upper"));
        assert_eq!((line, column), (2, 67), "{message}");
        assert!(
            message.contains("`str:upper` is not supported"),
            "{message}"
        );

        let (line, column, message) = refusal(&WSO2_EXAMPLE.replace("1 min", "1 fortnight"));
        assert_eq!((line, column), (5, 64), "{message}");
        assert!(message.contains("not a time unit"), "{message}");

        let (line, column, message) = refusal("FROM RequestStream SELECT");
        assert_eq!((line, column), (1, 26), "{message}");
        assert!(message.contains("the end of the query"), "{message}");

        let (_, _, message) = refusal(&format!("{WSO2_EXAMPLE} FROM X"));
        assert!(
            message.contains("expected the end of the query, found `FROM`"),
            "{message}"
        );
    }

    #[test]
    fn key_templates_are_filled_as_wso2s_throttle_handler_fills_them() {
        let facts = KeyFacts {
            resource_key: "/p/1/1/menu:GET",
            user_id: "admin@carbon.super",
            api_context: "/p/1",
            api_version: "1",
            app_tenant: "carbon.super",
            api_tenant: "carbon.super",
            app_id: "7",
            client_ip: Some("127.0.0.1".parse().unwrap()),
        };
        assert_eq!(
            fill_key_template("$userId:$apiContext:$apiVersion", &facts),
            "admin@carbon.super:/p/1:1"
        );
        assert_eq!(
            fill_key_template("$clientIp-$appId-$resourceKey", &facts),
            "2130706433-7-/p/1/1/menu:GET"
        );
        assert_eq!(
            fill_key_template("$customProperty.x", &facts),
            "$customProperty.x"
        );
    }
}
