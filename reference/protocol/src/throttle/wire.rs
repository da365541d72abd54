//! The Traffic Manager's wire: request events in, decisions out (see the module above for the
//! protocol), and the control plane's throttle data pulled at start.

use super::deny::DenyPolicy;
use super::policy::ThrottlePolicy;
use serde::{Deserialize, Serialize};

/// Gateway → TM: `POST`, ndjson [`RequestEvent`]s, on the `tm_binary` (9611 + offset) port.
pub const EVENTS_PATH: &str = "/throttle/events";

/// Gateway ← TM: `GET`, ndjson stream of [`ThrottleDecision`]s, on the `amqp` (5672 + offset)
/// port.
pub const DECISIONS_PATH: &str = "/throttle/decisions";

/// Control plane, event-hub Basic auth: `GET` → [`ThrottleData`], every policy and blocking
/// condition as of one event sequence (what a gateway or TM pulls at start, then follows
/// `POLICY_*`/`BLOCKING` events from `eventSeq`).
pub const THROTTLE_DATA: &str = "/internal/data/v1/throttling-data";
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
