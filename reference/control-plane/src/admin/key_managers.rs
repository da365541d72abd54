//! Admin `GET /key-managers` and `GET /key-managers/{keyManagerId}`: the Resident Key Manager,
//! the only one (third-party key managers cannot be added: docs/rest-apis.md).

use super::scope::ADMIN;
use crate::ControlPlane;
use crate::error::RestError;
use crate::publisher::tiers::resident_key_manager_id;
use crate::publisher::{RestResult, json_response};
use crate::rest::Path;
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use std::sync::Arc;

const SCOPES: &[&str] = &[ADMIN, "apim:admin_operations"];
const DESCRIPTION: &str = "This is Resident Key Manager";

pub async fn list(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, SCOPES)?;
    let info = cp.key_manager().key_manager_info();
    Ok(json_response(
        StatusCode::OK,
        json!({"count": 1, "list": [{"id": resident_key_manager_id(&cp), "name": info.name,
            "type": "default", "description": DESCRIPTION, "enabled": true,
            "tokenType": "DIRECT"}]}),
    ))
}

/// `KeyManager`: its endpoints on this control plane, its JWKS as the certificate, WSO2's
/// grant types.
pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, SCOPES)?;
    if id != resident_key_manager_id(&cp) {
        return Err(RestError::new(
            StatusCode::NOT_FOUND,
            901411,
            "Key Manager not Found",
            format!("Key Manager not found for id {id}"),
        ));
    }
    let info = cp.key_manager().key_manager_info();
    let base = cp.settings().mgmt_base_url();
    Ok(json_response(
        StatusCode::OK,
        json!({
            "id": id,
            "name": info.name,
            "displayName": info.name,
            "type": "default",
            "description": DESCRIPTION,
            "issuer": info.issuer,
            "clientRegistrationEndpoint": format!("{base}/client-registration/v0.17/register"),
            "tokenEndpoint": format!("{base}/oauth2/token"),
            "revokeEndpoint": format!("{base}/oauth2/revoke"),
            "introspectionEndpoint": format!("{base}/oauth2/introspect"),
            "certificates": {"type": "JWKS", "value": info.jwks_endpoint},
            "availableGrantTypes": ["refresh_token", "password", "client_credentials",
                "urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "enableTokenGeneration": true,
            "enableTokenEncryption": false,
            "enableTokenHashing": false,
            "enableMapOAuthConsumerApps": true,
            "enableOAuthAppCreation": true,
            "enableSelfValidationJWT": true,
            "claimMapping": [],
            "consumerKeyClaim": "azp",
            "scopesClaim": "scope",
            "tokenValidation": [],
            "enabled": true,
            "additionalProperties": {},
            "tokenType": "DIRECT",
        }),
    ))
}
