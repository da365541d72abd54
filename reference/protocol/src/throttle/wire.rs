//! The Traffic Manager's wire: request events in, decisions out (see the module above for the
//! protocol), and the control plane's throttle data pulled at start.

use super::deny::DenyPolicy;
use super::policy::ThrottlePolicy;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

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
pub struct EventProperties<'a> {
    /// Client address as the gateway saw it.
    #[serde(
        default,
        borrow,
        deserialize_with = "optional_borrowed",
        skip_serializing_if = "Option::is_none"
    )]
    pub ip: Option<Cow<'a, str>>,
    /// Request payload size in bytes (what `BANDWIDTHLIMIT` sums).
    #[serde(default)]
    pub message_size: u64,
}

/// An optional string read in place: serde borrows a `Cow` field only when it is the field's
/// own type, not inside an `Option`.
fn optional_borrowed<'de, D>(deserializer: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed<'de>>::deserialize(deserializer)?.map(|b| b.0))
}

/// One non-throttled request, gateway → TM (`org.wso2.throttle.request.stream:1.0.0`, §4.4).
/// Each `*Key` is counted against the policy named by the matching `*Tier`; an empty tier or
/// `Unlimited` is not counted.
///
/// Its strings are borrowed where they can be: the gateway serialises one straight from its
/// request's own fields, and the TM reads one in place from the batch's bytes (a string with a
/// JSON escape in it is the only one copied). One event per request crosses this wire, so a
/// copy of every key on each side was a measurable part of a request's cost.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEvent<'a> {
    #[serde(rename = "messageID", borrow)]
    pub message_id: Cow<'a, str>,
    #[serde(borrow)]
    pub app_key: Cow<'a, str>,
    #[serde(borrow)]
    pub app_tier: Cow<'a, str>,
    #[serde(borrow)]
    pub api_key: Cow<'a, str>,
    #[serde(borrow)]
    pub api_tier: Cow<'a, str>,
    #[serde(borrow)]
    pub subscription_key: Cow<'a, str>,
    #[serde(borrow)]
    pub subscription_tier: Cow<'a, str>,
    #[serde(borrow)]
    pub resource_key: Cow<'a, str>,
    #[serde(borrow)]
    pub resource_tier: Cow<'a, str>,
    #[serde(borrow)]
    pub user_id: Cow<'a, str>,
    #[serde(borrow)]
    pub api_context: Cow<'a, str>,
    #[serde(borrow)]
    pub api_version: Cow<'a, str>,
    #[serde(borrow)]
    pub app_tenant: Cow<'a, str>,
    #[serde(borrow)]
    pub api_tenant: Cow<'a, str>,
    #[serde(borrow)]
    pub app_id: Cow<'a, str>,
    #[serde(borrow)]
    pub api_name: Cow<'a, str>,
    #[serde(default, borrow)]
    pub properties: EventProperties<'a>,
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
    fn a_read_event_borrows_its_strings_from_the_batch_unless_they_carry_an_escape() {
        let sent = RequestEvent {
            message_id: "gw-1".into(),
            subscription_key: "a:/p/1:1:Gold".into(),
            user_id: "ad\"min@carbon.super".into(),
            properties: EventProperties {
                ip: Some("10.0.0.1".into()),
                message_size: 3,
            },
            ..RequestEvent::default()
        };
        let line = serde_json::to_vec(&sent).unwrap();
        let read: RequestEvent<'_> = serde_json::from_slice(&line).unwrap();
        assert_eq!(read, sent);
        assert!(matches!(read.subscription_key, Cow::Borrowed(_)));
        assert!(matches!(read.properties.ip, Some(Cow::Borrowed(_))));
        assert!(
            matches!(read.user_id, Cow::Owned(_)),
            "unescaped on the way in"
        );
        assert_eq!(serde_json::to_vec(&read).unwrap(), line);
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
