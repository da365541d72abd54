//! Throttling policies as the Admin API (v4) writes them: limits, their windows, and the three
//! levels (application, subscription, advanced).

use super::custom::CustomRule;
use serde::{Deserialize, Serialize};

/// The name of the policy that is never counted (WSO2 never deploys it to the TM).
pub const UNLIMITED: &str = "Unlimited";

/// `ThrottleLimitBase.timeUnit`: `sec`, `min`, `hour`, `day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Sec,
    Min,
    Hour,
    Day,
}

impl TimeUnit {
    pub fn millis(self) -> i64 {
        match self {
            Self::Sec => 1_000,
            Self::Min => 60_000,
            Self::Hour => 3_600_000,
            Self::Day => 86_400_000,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sec => "sec",
            Self::Min => "min",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// Parses WSO2's spelling (`sec`, `min`, `hour`, `day`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sec" => Some(Self::Sec),
            "min" => Some(Self::Min),
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestCountLimit {
    pub time_unit: TimeUnit,
    pub unit_time: u32,
    pub request_count: i64,
}

/// `BandwidthLimit`: `dataAmount` in `dataUnit` (`KB`, `MB`, `GB`; 1024-based, as WSO2's
/// policy template builder converts them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BandwidthLimit {
    pub time_unit: TimeUnit,
    pub unit_time: u32,
    pub data_amount: i64,
    pub data_unit: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventCountLimit {
    pub time_unit: TimeUnit,
    pub unit_time: u32,
    pub event_count: i64,
}

/// `ThrottleLimit`, tagged by `type` exactly as the Admin API writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ThrottleLimit {
    #[serde(rename = "REQUESTCOUNTLIMIT", rename_all = "camelCase")]
    RequestCount { request_count: RequestCountLimit },
    #[serde(rename = "BANDWIDTHLIMIT")]
    Bandwidth { bandwidth: BandwidthLimit },
    #[serde(rename = "EVENTCOUNTLIMIT", rename_all = "camelCase")]
    EventCount { event_count: EventCountLimit },
}

/// What a window counts and how much of it is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// Requests (or events) per window.
    Count(i64),
    /// Bytes (`messageSize`) per window.
    Bytes(i64),
}

impl ThrottleLimit {
    /// `n` requests per `unit_time` `time_unit`.
    pub fn requests(n: i64, unit_time: u32, time_unit: TimeUnit) -> Self {
        Self::RequestCount {
            request_count: RequestCountLimit {
                time_unit,
                unit_time,
                request_count: n,
            },
        }
    }

    /// The window length in milliseconds (`timeBatch(unitTime timeUnit)`); at least 1 ms.
    pub fn window_millis(&self) -> i64 {
        let (unit, n) = match self {
            Self::RequestCount { request_count: l } => (l.time_unit, l.unit_time),
            Self::Bandwidth { bandwidth: l } => (l.time_unit, l.unit_time),
            Self::EventCount { event_count: l } => (l.time_unit, l.unit_time),
        };
        (unit.millis() * i64::from(n.max(1))).max(1)
    }

    pub fn quota(&self) -> Quota {
        match self {
            Self::RequestCount { request_count: l } => Quota::Count(l.request_count),
            Self::EventCount { event_count: l } => Quota::Count(l.event_count),
            Self::Bandwidth { bandwidth: l } => {
                let factor: i64 = match l.data_unit.to_ascii_uppercase().as_str() {
                    "GB" => 1 << 30,
                    "MB" => 1 << 20,
                    "KB" => 1 << 10,
                    _ => 1,
                };
                Quota::Bytes(l.data_amount.saturating_mul(factor))
            }
        }
    }

    /// Checks what the Admin API's model would refuse: non-positive amounts or unit times.
    pub fn validate(&self) -> Result<(), String> {
        let (unit_time, amount, what) = match self {
            Self::RequestCount { request_count: l } => {
                (l.unit_time, l.request_count, "requestCount")
            }
            Self::Bandwidth { bandwidth: l } => {
                if !matches!(
                    l.data_unit.to_ascii_uppercase().as_str(),
                    "KB" | "MB" | "GB"
                ) {
                    return Err(format!("dataUnit `{}` is not KB, MB or GB", l.data_unit));
                }
                (l.unit_time, l.data_amount, "dataAmount")
            }
            Self::EventCount { event_count: l } => (l.unit_time, l.event_count, "eventCount"),
        };
        if unit_time == 0 {
            return Err("unitTime must be positive".into());
        }
        if amount < 0 {
            return Err(format!("{what} must not be negative"));
        }
        Ok(())
    }
}

/// `SubscriptionThrottlePolicyPermission`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyPermissions {
    pub permission_type: String,
    pub roles: Vec<String>,
}

/// `ApplicationThrottlePolicy` (Admin v4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationPolicy {
    #[serde(default)]
    pub policy_id: String,
    pub policy_name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub is_deployed: bool,
    pub default_limit: ThrottleLimit,
}

/// `SubscriptionThrottlePolicy` (Admin v4), with burst control (`rateLimitCount` per
/// `rateLimitTimeUnit`, counted locally by each gateway) and `stopOnQuotaReach`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionPolicy {
    #[serde(default)]
    pub policy_id: String,
    pub policy_name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub is_deployed: bool,
    #[serde(default, rename = "graphQLMaxComplexity")]
    pub graphql_max_complexity: i64,
    #[serde(default, rename = "graphQLMaxDepth")]
    pub graphql_max_depth: i64,
    pub default_limit: ThrottleLimit,
    /// Burst control: 0 means none.
    #[serde(default)]
    pub rate_limit_count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_time_unit: Option<TimeUnit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_count: Option<i64>,
    #[serde(default)]
    pub custom_attributes: Vec<serde_json::Value>,
    /// False lets throttled requests through (the decision is only a flag). The Admin API's
    /// default is false; WSO2's built-in tiers set it true.
    #[serde(default)]
    pub stop_on_quota_reach: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<PolicyPermissions>,
}

/// `AdvancedThrottlePolicy` (Admin v4): API- or resource-level. `conditionalGroups` are read,
/// checked, kept and returned as WSO2's DTOs hold them, but not evaluated (Tollgate counts the
/// default limit only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvancedPolicy {
    #[serde(default)]
    pub policy_id: String,
    pub policy_name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub is_deployed: bool,
    pub default_limit: ThrottleLimit,
    #[serde(default)]
    pub conditional_groups: Vec<ConditionalGroup>,
}

/// `ConditionalGroup`: a limit that applies when every condition holds. As with WSO2's DTOs
/// (Jackson), properties the schema does not name are dropped, and a missing required one or
/// a value of the wrong type (a negative or fractional `unitTime`) refuses the whole body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub conditions: Vec<ThrottleCondition>,
    pub limit: ThrottleLimit,
}

/// `ThrottleCondition`: its `type` names which of the four condition objects applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleCondition {
    #[serde(rename = "type")]
    pub kind: ThrottleConditionType,
    #[serde(default)]
    pub invert_condition: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_condition: Option<HeaderCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_condition: Option<IpCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_claims_condition: Option<JwtClaimsCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_parameter_condition: Option<QueryParameterCondition>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThrottleConditionType {
    #[serde(rename = "HEADERCONDITION")]
    Header,
    #[serde(rename = "IPCONDITION")]
    Ip,
    #[serde(rename = "JWTCLAIMSCONDITION")]
    JwtClaims,
    #[serde(rename = "QUERYPARAMETERCONDITION")]
    QueryParameter,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderCondition {
    pub header_name: String,
    pub header_value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpCondition {
    #[serde(
        rename = "ipConditionType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ip_condition_type: Option<IpConditionType>,
    #[serde(
        rename = "specificIP",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub specific_ip: Option<String>,
    #[serde(
        rename = "startingIP",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub starting_ip: Option<String>,
    #[serde(rename = "endingIP", default, skip_serializing_if = "Option::is_none")]
    pub ending_ip: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IpConditionType {
    #[serde(rename = "IPRANGE")]
    Range,
    #[serde(rename = "IPSPECIFIC")]
    Specific,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtClaimsCondition {
    pub claim_url: String,
    pub attribute: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryParameterCondition {
    pub parameter_name: String,
    pub parameter_value: String,
}

/// The level a policy applies at (the Admin API's path segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyLevel {
    Application,
    Subscription,
    Advanced,
    /// Custom rules (WSO2's `GLOBAL` level).
    Custom,
}

impl PolicyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Subscription => "subscription",
            Self::Advanced => "advanced",
            Self::Custom => "custom",
        }
    }
}

/// Any policy, tagged by `type` as the Admin API's responses are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ThrottlePolicy {
    #[serde(rename = "ApplicationThrottlePolicy")]
    Application(ApplicationPolicy),
    #[serde(rename = "SubscriptionThrottlePolicy")]
    Subscription(SubscriptionPolicy),
    #[serde(rename = "AdvancedThrottlePolicy")]
    Advanced(AdvancedPolicy),
    #[serde(rename = "CustomRule")]
    Custom(CustomRule),
}

impl ThrottlePolicy {
    pub fn level(&self) -> PolicyLevel {
        match self {
            Self::Application(_) => PolicyLevel::Application,
            Self::Subscription(_) => PolicyLevel::Subscription,
            Self::Advanced(_) => PolicyLevel::Advanced,
            Self::Custom(_) => PolicyLevel::Custom,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Application(p) => &p.policy_name,
            Self::Subscription(p) => &p.policy_name,
            Self::Advanced(p) => &p.policy_name,
            Self::Custom(p) => &p.policy_name,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Application(p) => &p.policy_id,
            Self::Subscription(p) => &p.policy_id,
            Self::Advanced(p) => &p.policy_id,
            Self::Custom(p) => &p.policy_id,
        }
    }

    /// The limit of the three levels; a custom rule's is in its Siddhi query.
    pub fn default_limit(&self) -> Option<&ThrottleLimit> {
        match self {
            Self::Application(p) => Some(&p.default_limit),
            Self::Subscription(p) => Some(&p.default_limit),
            Self::Advanced(p) => Some(&p.default_limit),
            Self::Custom(_) => None,
        }
    }

    /// `Unlimited` is never counted by the TM (WSO2 never deploys it).
    pub fn is_unlimited(&self) -> bool {
        self.name() == UNLIMITED
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throttle::tiers::defaults;
    use serde_json::json;

    #[test]
    fn policies_serialise_as_the_admin_apis_dtos() {
        let policy = defaults()
            .into_iter()
            .find(|p| p.name() == "20PerMin")
            .unwrap();
        let json = serde_json::to_value(&policy).unwrap();
        assert_eq!(json["type"], "ApplicationThrottlePolicy");
        assert_eq!(
            json["defaultLimit"],
            json!({"type": "REQUESTCOUNTLIMIT",
                "requestCount": {"timeUnit": "min", "unitTime": 1, "requestCount": 20}})
        );
        let back: ThrottlePolicy = serde_json::from_value(json).unwrap();
        assert_eq!(back, policy);
    }

    #[test]
    fn bandwidth_limits_count_bytes_1024_based() {
        let limit: ThrottleLimit = serde_json::from_value(json!({"type": "BANDWIDTHLIMIT",
            "bandwidth": {"timeUnit": "hour", "unitTime": 2, "dataAmount": 3, "dataUnit": "KB"}}))
        .unwrap();
        assert_eq!(limit.quota(), Quota::Bytes(3072));
        assert_eq!(limit.window_millis(), 7_200_000);
    }
}
