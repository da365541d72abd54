//! Deny policies (§4.7): blocking conditions as the Admin API shows them, parsed into what a
//! gateway matches a request against.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
