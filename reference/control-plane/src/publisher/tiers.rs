//! Tiers as the Publisher and the Developer Portal show them (`ThrottlingPolicy`, built from
//! the Admin API's policies as `ThrottlingPolicyMappingUtil.fromTierToDTO` does): Publisher
//! `GET /throttling-policies/{policyLevel}` (`subscription`, `api`) and
//! `GET /apis/{apiId}/subscription-policies`, Developer Portal
//! `GET /throttling-policies/{policyLevel}` (`subscription`, `application`) and
//! `GET /key-managers`.

use super::apis::page;
use super::{RestResult, json_response};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::rest::{Path, Query};
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tollgate_protocol::throttle::{PolicyLevel, ThrottleLimit, ThrottlePolicy};

pub const TIER_VIEW: &str = "apim:tier_view";
pub const TIER_MANAGE: &str = "apim:tier_manage";

/// One policy as a `Tier`: `unitTime` in milliseconds, `requestCount` the count or the data
/// amount, FREE unless the policy has a commercial billing plan.
pub(crate) fn tier_json(policy: &ThrottlePolicy, level: &str, devportal: bool) -> Value {
    // Custom rules are not tiers (their limit is in their Siddhi query).
    let Some(limit) = policy.default_limit() else {
        return Value::Null;
    };
    let (count, unit_time, time_unit, quota_type, data_unit) = match limit {
        ThrottleLimit::RequestCount { request_count: l } => (
            l.request_count,
            i64::from(l.unit_time) * l.time_unit.millis(),
            l.time_unit.as_str(),
            "REQUESTCOUNT",
            None,
        ),
        ThrottleLimit::EventCount { event_count: l } => (
            l.event_count,
            i64::from(l.unit_time) * l.time_unit.millis(),
            l.time_unit.as_str(),
            "REQUESTCOUNT",
            None,
        ),
        ThrottleLimit::Bandwidth { bandwidth: l } => (
            l.data_amount,
            i64::from(l.unit_time) * l.time_unit.millis(),
            l.time_unit.as_str(),
            "BANDWIDTHVOLUME",
            Some(l.data_unit.clone()),
        ),
    };
    let (display_name, description) = match policy {
        ThrottlePolicy::Application(p) => (&p.display_name, &p.description),
        ThrottlePolicy::Subscription(p) => (&p.display_name, &p.description),
        ThrottlePolicy::Advanced(p) => (&p.display_name, &p.description),
        ThrottlePolicy::Custom(p) => (&p.display_name, &p.description),
    };
    let (rate_limit_count, rate_limit_time_unit, stop_on_quota_reach, plan) = match policy {
        ThrottlePolicy::Subscription(p) => (
            p.rate_limit_count,
            p.rate_limit_time_unit.map(|u| u.as_str()),
            p.stop_on_quota_reach,
            p.billing_plan.clone(),
        ),
        _ => (0, None, true, None),
    };
    let tier_plan = match plan.as_deref() {
        Some(p) if p.eq_ignore_ascii_case("COMMERCIAL") => "COMMERCIAL",
        _ => "FREE",
    };
    let mut tier = json!({
        "name": policy.name(),
        "description": description,
        "policyLevel": level,
        "attributes": {},
        "requestCount": count,
        "unitTime": unit_time,
        "timeUnit": time_unit,
        "rateLimitCount": rate_limit_count,
        "quotaPolicyType": quota_type,
        "tierPlan": tier_plan,
        "stopOnQuotaReach": stop_on_quota_reach,
    });
    if let Some(unit) = rate_limit_time_unit {
        tier["rateLimitTimeUnit"] = json!(unit);
    }
    if let Some(unit) = data_unit {
        tier["dataUnit"] = json!(unit);
    }
    if devportal {
        tier["monetizationAttributes"] = json!({});
    } else {
        tier["displayName"] = json!(if display_name.is_empty() {
            policy.name()
        } else {
            display_name
        });
        tier["monetizationProperties"] = json!({});
    }
    tier
}

fn unknown_level(level: &str, allowed: &str) -> RestError {
    RestError::bad_request(format!(
        "Unsupported policy level '{level}'; the supported levels are {allowed}"
    ))
}

fn tier_list(cp: &ControlPlane, level: PolicyLevel, name: &str, devportal: bool) -> Vec<Value> {
    cp.lock()
        .throttling
        .policies
        .iter()
        .filter(|p| p.level() == level)
        .map(|p| tier_json(p, name, devportal))
        .collect()
}

fn list_response(all: &[Value], params: &BTreeMap<String, String>) -> RestResult {
    let (list, offset, limit) = page(all, params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": crate::model::pagination(offset, limit, all.len())}),
    ))
}

/// Publisher `GET /throttling-policies/{policyLevel}`: `subscription` or `api` (advanced).
pub async fn publisher_list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(level): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, TIER_VIEW, TIER_MANAGE])?;
    let policy_level = match level.as_str() {
        "subscription" => PolicyLevel::Subscription,
        "api" => PolicyLevel::Advanced,
        other => return Err(unknown_level(other, "subscription, api")),
    };
    list_response(&tier_list(&cp, policy_level, &level, false), &params)
}

/// Publisher `GET /apis/{apiId}/subscription-policies`: the tiers the API offers. WSO2's
/// implementation answers a JSON array (its spec says one `ThrottlingPolicy`).
pub async fn api_subscription_policies(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE])?;
    let state = cp.lock();
    let api = &state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?
        .api;
    let tiers: Vec<Value> = api
        .policies
        .iter()
        .filter_map(|name| {
            state
                .throttling
                .policies
                .iter()
                .find(|p| p.level() == PolicyLevel::Subscription && p.name() == name)
        })
        .map(|p| tier_json(p, "subscription", false))
        .collect();
    Ok(json_response(StatusCode::OK, tiers))
}

/// Developer Portal `GET /throttling-policies/{policyLevel}`: `subscription` or
/// `application`; anonymous callers are served.
pub async fn devportal_list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(level): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    if headers.contains_key(http::header::AUTHORIZATION) {
        cp.authorize(&headers, &[])?;
    }
    let policy_level = match level.as_str() {
        "subscription" => PolicyLevel::Subscription,
        "application" => PolicyLevel::Application,
        other => return Err(unknown_level(other, "application, subscription")),
    };
    list_response(&tier_list(&cp, policy_level, &level, true), &params)
}

/// The Resident Key Manager's id. WSO2 mints a random UUID for it per tenant and keeps it in
/// its database; here it is a name-based UUID of the tenant and the name (SHA-256, version
/// nibble 8 as RFC 9562 gives custom UUIDs), so it never changes and needs no storage.
pub(crate) fn resident_key_manager_id(cp: &ControlPlane) -> String {
    use sha2::Digest;
    let name = cp.key_manager().key_manager_info().name;
    let digest = sha2::Sha256::digest(format!("{}/{name}", cp.settings().tenant_domain));
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Developer Portal `GET /key-managers`: the Resident Key Manager, the only one.
pub async fn key_managers(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, &[SUBSCRIBE])?;
    let base = cp.settings().mgmt_base_url();
    let info = cp.key_manager().key_manager_info();
    let km = json!({
        "id": resident_key_manager_id(&cp),
        "name": info.name,
        "type": "default",
        "displayName": info.name,
        "description": "This is Resident Key Manager",
        "enabled": true,
        "availableGrantTypes": ["refresh_token", "password", "client_credentials",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        "tokenEndpoint": format!("{base}/oauth2/token"),
        "revokeEndpoint": format!("{base}/oauth2/revoke"),
        "userInfoEndpoint": "",
        "enableTokenGeneration": true,
        "enableTokenEncryption": false,
        "enableTokenHashing": false,
        "enableOAuthAppCreation": true,
        "enableMapOAuthConsumerApps": true,
        "applicationConfiguration": [],
        "alias": info.issuer,
        "additionalProperties": {},
        "tokenType": "DIRECT",
    });
    Ok(json_response(
        StatusCode::OK,
        json!({"count": 1, "list": [km]}),
    ))
}

/// One tier of a level, by name, or WSO2's 404 for a tier.
fn one_tier(
    cp: &ControlPlane,
    level: PolicyLevel,
    level_name: &str,
    name: &str,
    devportal: bool,
) -> RestResult {
    let state = cp.lock();
    let policy = state
        .throttling
        .policies
        .iter()
        .find(|p| p.level() == level && p.name() == name)
        .ok_or_else(|| RestError::not_found("Tier", name))?;
    Ok(json_response(
        StatusCode::OK,
        tier_json(policy, level_name, devportal),
    ))
}

/// Publisher `GET /throttling-policies/{policyLevel}/{policyName}`.
pub async fn publisher_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((level, name)): Path<(String, String)>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, TIER_VIEW, TIER_MANAGE])?;
    let policy_level = match level.as_str() {
        "subscription" => PolicyLevel::Subscription,
        "api" => PolicyLevel::Advanced,
        other => return Err(unknown_level(other, "subscription, api")),
    };
    one_tier(&cp, policy_level, &level, &name, false)
}

/// Developer Portal `GET /throttling-policies/{policyLevel}/{policyId}` (the id is the name).
pub async fn devportal_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((level, name)): Path<(String, String)>,
) -> RestResult {
    if headers.contains_key(http::header::AUTHORIZATION) {
        cp.authorize(&headers, &[])?;
    }
    let policy_level = match level.as_str() {
        "subscription" => PolicyLevel::Subscription,
        "application" => PolicyLevel::Application,
        other => return Err(unknown_level(other, "application, subscription")),
    };
    one_tier(&cp, policy_level, &level, &name, true)
}

/// Developer Portal `GET /apis/{apiId}/subscription-policies`: the tiers a published API
/// offers, as a JSON array (as the Publisher's, and WSO2's implementation).
pub async fn devportal_api_subscription_policies(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    if headers.contains_key(http::header::AUTHORIZATION) {
        cp.authorize(&headers, &[])?;
    }
    let state = cp.lock();
    let api = &state
        .apis
        .get(&api_id)
        .filter(|r| crate::devportal::visible_in_devportal(&r.api))
        .ok_or_else(|| RestError::api_not_found(&api_id))?
        .api;
    let tiers: Vec<Value> = api
        .policies
        .iter()
        .filter_map(|name| {
            state
                .throttling
                .policies
                .iter()
                .find(|p| p.level() == PolicyLevel::Subscription && p.name() == name)
        })
        .map(|p| tier_json(p, "subscription", true))
        .collect();
    Ok(json_response(StatusCode::OK, tiers))
}

/// Publisher `GET /key-managers`: the Resident Key Manager as `KeyManagerInfo`.
pub async fn publisher_key_managers(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_CREATE, API_MANAGE])?;
    let info = cp.key_manager().key_manager_info();
    Ok(json_response(
        StatusCode::OK,
        json!({"count": 1, "list": [{"id": resident_key_manager_id(&cp), "name": info.name,
            "displayName": info.name,
            "type": "default", "description": "This is Resident Key Manager", "enabled": true,
            "additionalProperties": []}]}),
    ))
}
