//! Throttling on the wire: policies, throttle keys, gateway → Traffic Manager request events,
//! Traffic Manager → gateway decisions, and deny (blocking) conditions.
//!
//! ## Our wire (instead of WSO2's data-bridge and JMS)
//!
//! WSO2 gateways publish request events over the binary data-bridge (Thrift-like TCP, port
//! `9611 + offset`) and receive decisions as JMS messages on the `throttleData` topic of the
//! Traffic Manager's AMQP broker (`5672 + offset`). Tollgate keeps those two ports and their
//! roles but speaks HTTP/1.1 with newline-delimited JSON on both (plain HTTP; loopback or a
//! private network is assumed, as WSO2's `tcp://` URLs are unencrypted too):
//!
//! - **events**: `POST {EVENTS_PATH}` on the TM's `tm_binary` port, body
//!   `application/x-ndjson`, one [`RequestEvent`] per line, answered `202 Accepted` with
//!   `{"accepted": n, "rejected": m}` (lines that do not parse are skipped and counted; `400`
//!   when no line parses). Gateways send batches and never wait on the answer to serve a
//!   request (fire-and-forget, like `DataPublisher.tryPublish`).
//! - **decisions**: `GET {DECISIONS_PATH}` on the TM's `amqp` port, answered with an
//!   `application/x-ndjson` stream of [`ThrottleDecision`]: first every decision currently in
//!   force (throttled keys whose window has not ended), then every change as it happens. A
//!   [`ThrottleDecision`] with an empty key is a heartbeat, sent when the stream is idle.
//!
//! The `tcp://host:port` URLs of `[apim.throttling]` (`url_group.traffic_manager_urls`,
//! `throttle_decision_endpoints`) keep their WSO2 spelling; [`http_base`] turns one into the
//! HTTP base URL the client uses.
//!
//! Blocking conditions do not travel on the TM's wire here (WSO2 sends them on `throttleData`
//! too): they are control-plane state, sent to gateways as `BLOCKING` events on the event hub
//! and pulled at start from [`THROTTLE_DATA`].

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// Gateway → TM: `POST`, ndjson [`RequestEvent`]s, on the `tm_binary` (9611 + offset) port.
pub const EVENTS_PATH: &str = "/throttle/events";

/// Gateway ← TM: `GET`, ndjson stream of [`ThrottleDecision`]s, on the `amqp` (5672 + offset)
/// port.
pub const DECISIONS_PATH: &str = "/throttle/decisions";

/// Control plane, event-hub Basic auth: `GET` → [`ThrottleData`], every policy and blocking
/// condition as of one event sequence (what a gateway or TM pulls at start, then follows
/// `POLICY_*`/`BLOCKING` events from `eventSeq`).
pub const THROTTLE_DATA: &str = "/internal/data/v1/throttling-data";

/// The name of the policy that is never counted (WSO2 never deploys it to the TM).
pub const UNLIMITED: &str = "Unlimited";

// --- policies ---------------------------------------------------------------------------

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

/// `AdvancedThrottlePolicy` (Admin v4): API- or resource-level. `conditionalGroups` are kept
/// and returned but not evaluated (Tollgate counts the default limit only).
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
    pub conditional_groups: Vec<serde_json::Value>,
}

/// The level a policy applies at (the Admin API's path segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyLevel {
    Application,
    Subscription,
    Advanced,
}

impl PolicyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Application => "application",
            Self::Subscription => "subscription",
            Self::Advanced => "advanced",
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
}

impl ThrottlePolicy {
    pub fn level(&self) -> PolicyLevel {
        match self {
            Self::Application(_) => PolicyLevel::Application,
            Self::Subscription(_) => PolicyLevel::Subscription,
            Self::Advanced(_) => PolicyLevel::Advanced,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Application(p) => &p.policy_name,
            Self::Subscription(p) => &p.policy_name,
            Self::Advanced(p) => &p.policy_name,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Application(p) => &p.policy_id,
            Self::Subscription(p) => &p.policy_id,
            Self::Advanced(p) => &p.policy_id,
        }
    }

    pub fn default_limit(&self) -> &ThrottleLimit {
        match self {
            Self::Application(p) => &p.default_limit,
            Self::Subscription(p) => &p.default_limit,
            Self::Advanced(p) => &p.default_limit,
        }
    }

    /// `Unlimited` is never counted by the TM (WSO2 never deploys it).
    pub fn is_unlimited(&self) -> bool {
        self.name() == UNLIMITED
    }
}

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

// --- throttle keys (§4.2) ---------------------------------------------------------------

/// The keys the gateway looks decisions up by and the TM counts by. Both sides build them
/// here, so they cannot disagree.
pub mod key {
    /// `{applicationId}:{user}@{tenant}`: application quotas are per application *per
    /// end user*. A user that already carries a tenant domain is not suffixed twice.
    pub fn application(app_id: &str, user: &str, tenant: &str) -> String {
        if user.contains('@') {
            format!("{app_id}:{user}")
        } else {
            format!("{app_id}:{user}@{tenant}")
        }
    }

    /// `{applicationId}:{apiContext}:{apiVersion}:{subscriptionTier}`.
    pub fn subscription(app_id: &str, api_context: &str, api_version: &str, tier: &str) -> String {
        format!("{app_id}:{api_context}:{api_version}:{tier}")
    }

    /// `{apiContext}:{apiVersion}`, the context already carrying the version in 4.x
    /// (`/pizza/1.0.0:1.0.0`).
    pub fn api(api_context: &str, api_version: &str) -> String {
        format!("{api_context}:{api_version}")
    }

    /// `{apiContext}/{apiVersion}{uriTemplate}:{VERB}` (`/pizza/1.0.0/1.0.0/menu:GET`).
    pub fn resource(
        api_context: &str,
        api_version: &str,
        uri_template: &str,
        verb: &str,
    ) -> String {
        format!("{api_context}/{api_version}{uri_template}:{verb}")
    }
}

// --- events and decisions ----------------------------------------------------------------

/// `properties` of a request event: what bandwidth and conditional policies read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventProperties {
    /// Client address as the gateway saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Request payload size in bytes (what `BANDWIDTHLIMIT` sums).
    #[serde(default)]
    pub message_size: u64,
}

/// One non-throttled request, gateway → TM (`org.wso2.throttle.request.stream:1.0.0`, §4.4).
/// Each `*Key` is counted against the policy named by the matching `*Tier`; an empty tier or
/// `Unlimited` is not counted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEvent {
    #[serde(rename = "messageID")]
    pub message_id: String,
    pub app_key: String,
    pub app_tier: String,
    pub api_key: String,
    pub api_tier: String,
    pub subscription_key: String,
    pub subscription_tier: String,
    pub resource_key: String,
    pub resource_tier: String,
    pub user_id: String,
    pub api_context: String,
    pub api_version: String,
    pub app_tenant: String,
    pub api_tenant: String,
    pub app_id: String,
    pub api_name: String,
    #[serde(default)]
    pub properties: EventProperties,
}

/// TM → gateway (`org.wso2.throttle.globalThrottle.stream:1.0.0`, §4.6): `throttleKey` is
/// throttled until `expiryTimeStamp` (epoch ms, the end of the counting window), or no
/// longer throttled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleDecision {
    pub throttle_key: String,
    pub is_throttled: bool,
    pub expiry_time_stamp: i64,
}

impl ThrottleDecision {
    /// An idle-stream marker: empty key, never applied.
    pub fn heartbeat() -> Self {
        Self {
            throttle_key: String::new(),
            is_throttled: false,
            expiry_time_stamp: 0,
        }
    }

    pub fn is_heartbeat(&self) -> bool {
        self.throttle_key.is_empty()
    }
}

// --- deny policies (§4.7) ----------------------------------------------------------------

/// `BlockingCondition.conditionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConditionType {
    Api,
    Application,
    Ip,
    Iprange,
    User,
}

impl ConditionType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "API",
            Self::Application => "APPLICATION",
            Self::Ip => "IP",
            Self::Iprange => "IPRANGE",
            Self::User => "USER",
        }
    }
}

/// A deny policy as the Admin API shows it (`BlockingCondition`): `conditionValue` is a
/// string for API (`/deny/1.0`, context with version), APPLICATION (`{subscriber}:{appName}`)
/// and USER (`{user}@{tenant}`), an object for IP (`{"fixedIp", "invert"}`) and IPRANGE
/// (`{"startingIp", "endingIp", "invert"}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DenyPolicy {
    #[serde(default)]
    pub condition_id: String,
    pub condition_type: ConditionType,
    pub condition_value: serde_json::Value,
    /// True when the condition is in force.
    #[serde(default)]
    pub condition_status: bool,
}

/// A deny policy parsed into what a gateway matches a request against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockingCondition {
    Api(String),
    Application(String),
    User(String),
    Ip {
        ip: IpAddr,
        invert: bool,
    },
    IpRange {
        start: IpAddr,
        end: IpAddr,
        invert: bool,
    },
}

/// What [`BlockingCondition::parse`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("conditionValue of a {0} condition must be a string")]
    NotAString(&'static str),
    #[error("conditionValue of a {0} condition must be an object")]
    NotAnObject(&'static str),
    #[error("`{0}` is not a valid IP address")]
    BadIp(String),
    #[error("an IP range must have addresses of one family")]
    MixedFamilies,
}

fn ip_field(value: &serde_json::Value, field: &str) -> Result<IpAddr, ConditionError> {
    let text = value
        .get(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    text.trim()
        .parse()
        .map_err(|_| ConditionError::BadIp(text.to_owned()))
}

impl BlockingCondition {
    pub fn parse(kind: ConditionType, value: &serde_json::Value) -> Result<Self, ConditionError> {
        let text = || {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or(ConditionError::NotAString(kind.as_str()))
        };
        let invert = value
            .get("invert")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        match kind {
            ConditionType::Api => Ok(Self::Api(text()?)),
            ConditionType::Application => Ok(Self::Application(text()?)),
            ConditionType::User => Ok(Self::User(text()?)),
            ConditionType::Ip | ConditionType::Iprange if !value.is_object() => {
                Err(ConditionError::NotAnObject(kind.as_str()))
            }
            ConditionType::Ip => Ok(Self::Ip {
                ip: ip_field(value, "fixedIp")?,
                invert,
            }),
            ConditionType::Iprange => {
                let start = ip_field(value, "startingIp")?;
                let end = ip_field(value, "endingIp")?;
                if start.is_ipv4() != end.is_ipv4() {
                    return Err(ConditionError::MixedFamilies);
                }
                Ok(Self::IpRange { start, end, invert })
            }
        }
    }

    /// Whether a request with these facts is blocked by this condition (§4.7 match keys).
    pub fn blocks(&self, request: &BlockingFacts<'_>) -> bool {
        match self {
            Self::Api(context) => context == request.api_context,
            Self::Application(key) => key == request.application,
            Self::User(user) => user == request.user,
            Self::Ip { ip, invert } => request.ip.is_some_and(|r| (r == *ip) != *invert),
            Self::IpRange { start, end, invert } => request.ip.is_some_and(|r| {
                let inside = ip_in_range(r, *start, *end);
                inside != *invert
            }),
        }
    }
}

fn ip_in_range(ip: IpAddr, start: IpAddr, end: IpAddr) -> bool {
    match (ip, start, end) {
        (IpAddr::V4(ip), IpAddr::V4(s), IpAddr::V4(e)) => (s..=e).contains(&ip),
        (IpAddr::V6(ip), IpAddr::V6(s), IpAddr::V6(e)) => (s..=e).contains(&ip),
        _ => false,
    }
}

/// The facts of one request that deny policies match on.
#[derive(Debug, Clone, Copy)]
pub struct BlockingFacts<'a> {
    /// Context with version (`/pizzashack/1.0.0`).
    pub api_context: &'a str,
    /// `{subscriber}:{appName}`.
    pub application: &'a str,
    /// `{user}@{tenant}`.
    pub user: &'a str,
    pub ip: Option<IpAddr>,
}

/// What [`THROTTLE_DATA`] answers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleData {
    /// The last event these lists include.
    pub event_seq: u64,
    pub policies: Vec<ThrottlePolicy>,
    pub deny_policies: Vec<DenyPolicy>,
}

/// `tcp://host:port` (WSO2's spelling in `[apim.throttling]`), `ssl://…`, `http://…` or a bare
/// `host:port` → `http://host:port`. `None` for anything else.
pub fn http_base(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = ["tcp://", "ssl://", "http://", "amqp://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))
        .unwrap_or(url);
    if rest.is_empty() || rest.contains("://") {
        return None;
    }
    // Only the authority: WSO2 brokerlist entries may carry `?retries='5'…`.
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    (!authority.is_empty()).then(|| format!("http://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn default_policies_are_wso2s_thirteen_per_minute_tiers() {
        let all = defaults();
        let names: Vec<(PolicyLevel, &str, i64)> = all
            .iter()
            .map(|p| {
                let Quota::Count(n) = p.default_limit().quota() else {
                    panic!("count limits only")
                };
                assert_eq!(p.default_limit().window_millis(), 60_000);
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

    #[test]
    fn request_events_use_wso2s_stream_attribute_names() {
        let event = RequestEvent {
            message_id: "m1".into(),
            app_key: "k".into(),
            ..RequestEvent::default()
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["messageID"], "m1");
        assert_eq!(json["appKey"], "k");
        assert_eq!(json["properties"]["messageSize"], 0);
    }

    #[test]
    fn ip_range_deny_conditions_match_inside_or_outside_when_inverted() {
        let range = BlockingCondition::parse(
            ConditionType::Iprange,
            &json!({"startingIp": "10.0.0.1", "endingIp": "10.0.0.9", "invert": false}),
        )
        .unwrap();
        let facts = |ip: &str| BlockingFacts {
            api_context: "/a/1",
            application: "admin:app",
            user: "admin@carbon.super",
            ip: Some(ip.parse().unwrap()),
        };
        assert!(range.blocks(&facts("10.0.0.5")));
        assert!(!range.blocks(&facts("10.0.0.10")));
        let inverted = BlockingCondition::parse(
            ConditionType::Ip,
            &json!({"fixedIp": "10.0.0.5", "invert": true}),
        )
        .unwrap();
        assert!(!inverted.blocks(&facts("10.0.0.5")));
        assert!(inverted.blocks(&facts("10.0.0.6")));
        assert_eq!(
            BlockingCondition::parse(ConditionType::Ip, &json!({"fixedIp": "nope"})),
            Err(ConditionError::BadIp("nope".into()))
        );
        assert!(BlockingCondition::parse(ConditionType::Api, &json!({"x": 1})).is_err());
    }

    #[test]
    fn wso2_tcp_urls_become_http_bases() {
        assert_eq!(
            http_base("tcp://tm1.wso2.com:9611").as_deref(),
            Some("http://tm1.wso2.com:9611")
        );
        assert_eq!(
            http_base("tcp://tm1:5672?retries='5'").as_deref(),
            Some("http://tm1:5672")
        );
        assert_eq!(
            http_base("127.0.0.1:1").as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(http_base("ws://x:1"), None);
    }
}
