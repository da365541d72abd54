//! `POST /apis/{apiId}/generate-key`: the Publisher's internal key, a short-lived JWT with which
//! the API's publisher tries it out on a gateway before anyone subscribes
//! (`ApisApiCommonImpl#generateInternalAPIKey`, `InternalAPIKeyGenerator`).
//!
//! Claims as WSO2 writes them: `sub` (the caller with the tenant domain), `jti`, `iss`, `iat`,
//! `exp`, `subscribedAPIs` (this API alone: `name`, `context`, `version`, `publisher`),
//! `keytype` `PRODUCTION`, `token_type` `InternalKey`; header `kid` `gateway_certificate_alias`,
//! signed with the key API keys are signed with. WSO2 asks for an expiry of `60 * 1000`, which
//! its generator adds to `iat` as seconds, and answers `validityTime: 60000`; so does Tollgate.
//! Gateways accept the key in the `Internal-Key` header for this API only.

use crate::ControlPlane;
use crate::access::scope::API_MANAGE;
use crate::error::RestError;
use crate::publisher::RestResult;
use crate::publisher::json_response;
use crate::rest::Path;
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// `apim:api_generate_key` (publisher-v4.yaml); `apim:api_manage` also allows it.
pub const API_GENERATE_KEY: &str = "apim:api_generate_key";
/// `InternalAPIKeyGenerator`'s expiry, as `iat` + seconds.
pub const VALIDITY: i64 = 60 * 1000;

pub async fn generate(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[API_GENERATE_KEY, API_MANAGE])?;
    let claims = {
        let state = cp.lock();
        let record = state
            .apis
            .get(&api_id)
            .ok_or_else(|| RestError::api_not_found(&api_id))?;
        let api = &record.api;
        let tenant = &cp.settings().tenant_domain;
        let mut claims = Map::new();
        claims.insert("sub".into(), format!("{}@{tenant}", caller.username).into());
        claims.insert(
            "subscribedAPIs".into(),
            json!([{
                "name": api.name,
                "context": api.served_context(),
                "version": api.version,
                "publisher": api.provider,
            }]),
        );
        claims.insert("keytype".into(), "PRODUCTION".into());
        claims.insert("token_type".into(), "InternalKey".into());
        claims
    };
    let (apikey, _jti) = cp
        .key_manager()
        .sign_api_key(claims, VALIDITY)
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
        json!({"apikey": apikey, "validityTime": Value::from(VALIDITY)}),
    ))
}
