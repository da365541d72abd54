//! API keys (`/applications/{id}/api-keys/{keyType}/generate` and `…/revoke`): self-contained
//! signed JWTs, as WSO2 4.x's `DefaultApiKeyGenerator` makes them.
//!
//! Claims: `sub` (`user@carbon.super`), `iss`, `iat`, `jti`, `exp` unless the validity period is
//! negative (never expires), `keytype`, `token_type = "apiKey"`, the `application`
//! (`id`, `uuid`, `name`, `owner`, `tier`, `tierQuotaType`), the application's subscriptions at
//! the time (`subscribedAPIs`: `name`, `context`, `version`, `publisher`, `subscriptionTier`,
//! `subscriberTenantDomain`) and their tiers (`tierInfo`), and `permittedIP` /
//! `permittedReferer` from `additionalProperties` when given. The header's `kid` is WSO2's
//! API-key alias, `gateway_certificate_alias`.
//!
//! Revoking publishes the key's `jti` to the gateways like a revoked access token. Deviation:
//! WSO2 base64url-encodes the parts of an API key *with* padding; Tollgate's keys are plain
//! JWTs without it.

use super::applications::owned_application;
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::publisher::{RestResult, json_response, parse_json};
use crate::rest::{JsonBody, Path};
use axum::extract::State;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tollgate_protocol::artifact::KeyType;
use tollgate_protocol::event::Event;
use tollgate_protocol::store::RevokedToken;
use tollgate_protocol::throttle::ThrottlePolicy;

/// The only tenant the reference serves.
const TENANT_DOMAIN: &str = "carbon.super";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct GenerateRequest {
    /// `format: int32`: a number past it is refused as Jackson refuses it for an `Integer`.
    validity_period: Option<i32>,
    additional_properties: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RevokeRequest {
    apikey: Option<String>,
}

fn key_type(value: &str) -> Result<KeyType, RestError> {
    match value.to_ascii_uppercase().as_str() {
        "PRODUCTION" => Ok(KeyType::Production),
        "SANDBOX" => Ok(KeyType::Sandbox),
        _ => Err(RestError::bad_request(
            "Invalid keyType. KeyType should be either PRODUCTION or SANDBOX",
        )),
    }
}

fn body_or_default<T: Default + for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(body)
    }
}

/// `POST /applications/{applicationId}/api-keys/{keyType}/generate` → 200 `APIKey`.
pub async fn generate(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_type_name)): Path<(String, String)>,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[API_KEY, APP_MANAGE])?;
    let key_type = key_type(&key_type_name)?;
    let request: GenerateRequest = body_or_default(&body)?;
    // WSO2's DevPortal sends -1 for "never expires"; a missing period is the same.
    let validity = request.validity_period.unwrap_or(-1);
    let claims = {
        let state = cp.lock();
        let record = owned_application(&state, &caller, &app_id)?;
        let app = &record.app;
        let policy_of = |name: &str, level| {
            state
                .throttling
                .policies
                .iter()
                .find(|p: &&ThrottlePolicy| p.level() == level && p.name() == name)
        };
        let mut subscribed = Vec::new();
        let mut tier_info = Map::new();
        for subscription in state
            .subscriptions
            .values()
            .filter(|s| s.application_id == app.id)
        {
            let Some(api) = state.apis.get(&subscription.api_id) else {
                continue;
            };
            let api = &api.api;
            subscribed.push(json!({
                "name": api.name,
                "context": api.served_context(),
                "version": api.version,
                "publisher": api.provider,
                "subscriptionTier": subscription.throttling_policy,
                "subscriberTenantDomain": TENANT_DOMAIN,
            }));
            let tier = &subscription.throttling_policy;
            let policy = policy_of(tier, tollgate_protocol::throttle::PolicyLevel::Subscription);
            let (stop, spike, unit) = match policy {
                Some(ThrottlePolicy::Subscription(p)) => (
                    p.stop_on_quota_reach,
                    p.rate_limit_count,
                    p.rate_limit_time_unit.map(|u| u.as_str()),
                ),
                _ => (true, 0, None),
            };
            tier_info.insert(
                tier.clone(),
                json!({
                    "tierQuotaType": "requestCount",
                    "graphQLMaxComplexity": 0,
                    "graphQLMaxDepth": 0,
                    "stopOnQuotaReach": stop,
                    "spikeArrestLimit": spike,
                    "spikeArrestUnit": unit,
                }),
            );
        }
        let mut claims = Map::new();
        claims.insert(
            "sub".into(),
            format!("{}@{TENANT_DOMAIN}", caller.username).into(),
        );
        claims.insert("subscribedAPIs".into(), Value::Array(subscribed));
        claims.insert("tierInfo".into(), Value::Object(tier_info));
        claims.insert(
            "application".into(),
            json!({
                "id": app.id,
                "uuid": app.id,
                "name": app.name,
                "owner": app.owner,
                "tier": app.throttling_policy,
                "tierQuotaType": "requestCount",
            }),
        );
        claims.insert("keytype".into(), key_type.as_str().into());
        claims.insert("token_type".into(), "apiKey".into());
        let properties = request.additional_properties.unwrap_or_default();
        for name in ["permittedIP", "permittedReferer"] {
            if let Some(value) = properties
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
            {
                claims.insert(name.into(), value.into());
            }
        }
        claims
    };
    let (apikey, _jti) = cp
        .key_manager()
        .sign_api_key(claims, validity.into())
        .map_err(|e| {
            RestError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                500,
                "Internal server error",
                e.to_string(),
            )
        })?;
    Ok(json_response(
        StatusCode::OK,
        json!({"apikey": apikey, "validityTime": validity}),
    ))
}

/// `POST /applications/{applicationId}/api-keys/{keyType}/revoke` `{apikey}` → 200: the key's
/// `jti` joins the revoked list every gateway checks.
pub async fn revoke(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_type_name)): Path<(String, String)>,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[API_KEY, APP_MANAGE])?;
    key_type(&key_type_name)?;
    let request: RevokeRequest = body_or_default(&body)?;
    let apikey = request
        .apikey
        .filter(|k| !k.is_empty())
        .ok_or_else(|| RestError::bad_request("apikey is required"))?;
    // The key's own claims name it; only this application's keys may be revoked here.
    let claims = apikey
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .ok_or_else(|| RestError::bad_request("The API key is not valid"))?;
    let mut state = cp.lock();
    owned_application(&state, &caller, &app_id)?;
    if claims.pointer("/application/uuid").and_then(Value::as_str) != Some(app_id.as_str()) {
        return Err(RestError::bad_request(
            "The API key does not belong to this application",
        ));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .ok_or_else(|| RestError::bad_request("The API key is not valid"))?
        .to_owned();
    let expiry_time = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MAX);
    let token = RevokedToken { jti, expiry_time };
    if !state.revoked.contains(&token) {
        state.revoked.push(token.clone());
        cp.publish(&mut state, Event::TokenRevocation { token });
    }
    Ok(StatusCode::OK.into_response())
}
