//! Event-hub notifications, control plane → gateways.
//!
//! WSO2 publishes these on the JMS topics `notification` and `tokenRevocation` with type names
//! from `APIConstants.EventType`; we keep the type names and send each as one line of JSON on
//! an HTTP stream ([`crate::internal::EVENTS`]). Unlike WSO2, a deploy event carries its
//! artifact, so a gateway never needs a second round trip (and never deploys the wrong label's
//! artifact, the 4.2 quirk of §6.4). Every event is an idempotent upsert or removal: replaying
//! one is harmless, which is what lets a gateway catch up from any sequence number.

use crate::artifact::ApiArtifact;
use crate::store::{Application, KeyMapping, RevokedToken, Subscription};
use crate::throttle::{DenyPolicy, PolicyLevel, ThrottlePolicy};
use serde::{Deserialize, Serialize};

/// One event with its place in the control plane's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    /// Strictly increasing, from 1; a gateway resumes with `after=<last seq it applied>`.
    pub seq: u64,
    /// Milliseconds since the epoch, from the control plane's clock.
    pub time_stamp: i64,
    pub tenant_domain: String,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    /// A revision was deployed to `label`; replaces whatever revision of the API was there.
    DeployApiInGateway {
        label: String,
        artifact: Box<ApiArtifact>,
    },
    /// The API was undeployed from `label`.
    #[serde(rename_all = "camelCase")]
    RemoveApiFromGateway {
        label: String,
        api_id: String,
        context: String,
    },
    ApplicationCreate {
        application: Application,
    },
    ApplicationUpdate {
        application: Application,
    },
    #[serde(rename_all = "camelCase")]
    ApplicationDelete {
        application_id: String,
    },
    /// A key mapping (consumer key ↔ application, key type) was created.
    ApplicationRegistrationCreate {
        key_mapping: KeyMapping,
    },
    #[serde(rename_all = "camelCase")]
    RemoveApplicationKeymapping {
        consumer_key: String,
    },
    SubscriptionsCreate {
        subscription: Subscription,
    },
    SubscriptionsUpdate {
        subscription: Subscription,
    },
    #[serde(rename_all = "camelCase")]
    SubscriptionsDelete {
        subscription_id: String,
    },
    /// An access token was revoked (WSO2's `tokenRevocation` topic).
    TokenRevocation {
        token: RevokedToken,
    },
    /// A throttling policy was added (Admin API); WSO2's `POLICY_CREATE`.
    PolicyCreate {
        policy: Box<ThrottlePolicy>,
    },
    /// A throttling policy's limits changed; WSO2's `POLICY_UPDATE`.
    PolicyUpdate {
        policy: Box<ThrottlePolicy>,
    },
    /// A throttling policy was deleted; WSO2's `POLICY_DELETE`.
    #[serde(rename_all = "camelCase")]
    PolicyDelete {
        policy_level: PolicyLevel,
        policy_id: String,
        policy_name: String,
    },
    /// A deny policy came into force (`state` true) or left it (disabled or deleted: false);
    /// what WSO2 sends on `throttleData` from `org.wso2.blocking.request.stream`.
    Blocking {
        condition: DenyPolicy,
        state: bool,
    },
    /// The Developer Portal's `reset-throttle-policy`: the Traffic Manager starts the
    /// application's quota for `user` (with its tenant domain: `admin@carbon.super`) over —
    /// the key `{applicationId}:{user}` — and un-throttles it on every gateway.
    #[serde(rename_all = "camelCase")]
    ApplicationThrottleReset {
        application_id: String,
        user: String,
    },
    /// Sent when the stream is idle so a gateway can tell a live hub from a dead one.
    Heartbeat,
}

impl Event {
    /// The gateway label this event is about, when it concerns one environment only.
    pub fn label(&self) -> Option<&str> {
        match self {
            Self::DeployApiInGateway { label, .. } | Self::RemoveApiFromGateway { label, .. } => {
                Some(label)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_wso2_type_names_on_the_wire() {
        let e = EventEnvelope {
            seq: 3,
            time_stamp: 0,
            tenant_domain: "carbon.super".into(),
            event: Event::RemoveApiFromGateway {
                label: "Default".into(),
                api_id: "a".into(),
                context: "/pizza/1.0.0".into(),
            },
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "REMOVE_API_FROM_GATEWAY");
        assert_eq!(json["apiId"], "a");
        let back: EventEnvelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }
}
