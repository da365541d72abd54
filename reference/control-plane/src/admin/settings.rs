//! Admin reads about the deployment itself: `GET /settings`, `GET /tenant-info/{username}`,
//! the REST API scopes and their roles (`/system-scopes`) and role aliases, as WSO2's
//! `SettingsApiServiceImpl`, `TenantInfoApiServiceImpl` and `SystemScopesApiServiceImpl`
//! answer them for the super tenant.

use super::scope::*;
use crate::ControlPlane;
use crate::access::scope as rest;
use crate::error::RestError;
use crate::publisher::{RestResult, json_response, parse_json};
use crate::rest::{JsonBody, Path, Query};
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The super tenant's id (`MultitenantConstants.SUPER_TENANT_ID`).
const SUPER_TENANT_ID: i64 = -1234;

/// The Admin API's own scopes (`Settings.scopes`).
const ADMIN_API_SCOPES: &[&str] = &[
    ADMIN,
    TIER_VIEW,
    TIER_MANAGE,
    BL_VIEW,
    BL_MANAGE,
    POLICIES_IMPORT_EXPORT,
    "apim:environment_read",
    "apim:environment_manage",
    "apim:admin_settings",
    "apim:scope_manage",
    "apim:tenantInfo",
    "apim:admin_operations",
    "apim:app_owner_change",
    "apim:admin_application_view",
];

/// Every REST API scope this control plane checks. Each is the super admin's (`admin`
/// role): the only user of its user store.
fn system_scopes() -> Vec<&'static str> {
    let mut scopes: Vec<&str> = vec![
        rest::API_VIEW,
        rest::API_CREATE,
        rest::API_PUBLISH,
        rest::API_DELETE,
        rest::API_MANAGE,
        rest::API_IMPORT_EXPORT,
        rest::API_LIST_VIEW,
        rest::PUBLISHER_SETTINGS,
        rest::SUBSCRIBE,
        rest::APP_MANAGE,
        rest::APP_IMPORT_EXPORT,
        rest::SUB_MANAGE,
        rest::STORE_SETTINGS,
        rest::API_KEY,
        rest::SUBSCRIPTION_VIEW,
        rest::SUBSCRIPTION_BLOCK,
        rest::SUBSCRIPTION_MANAGE,
        rest::DOCUMENT_CREATE,
        rest::DOCUMENT_MANAGE,
        rest::COMMENT_VIEW,
        rest::COMMENT_WRITE,
        rest::COMMENT_MANAGE,
        rest::SHARED_SCOPE_MANAGE,
    ];
    scopes.extend_from_slice(ADMIN_API_SCOPES);
    scopes.sort_unstable();
    scopes.dedup();
    scopes
}

const SCOPE_READ: &[&str] = &[ADMIN, "apim:scope_manage"];

pub async fn settings(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, &[ADMIN, "apim:admin_settings"])?;
    Ok(json_response(
        StatusCode::OK,
        json!({
            "scopes": ADMIN_API_SCOPES,
            "keyManagerConfiguration": [{"type": "default",
                "displayName": cp.key_manager().key_manager_info().name,
                "defaultConsumerKeyClaim": "azp", "defaultScopesClaim": "scope",
                "configurations": []}],
            "analyticsEnabled": false,
        }),
    ))
}

/// `GET /tenant-info/{username}`: the user's tenant, 404 for a user the store does not have.
pub async fn tenant_info(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(username): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, "apim:tenantInfo"])?;
    let s = cp.settings();
    let bare = username
        .strip_suffix(&format!("@{}", s.tenant_domain))
        .unwrap_or(&username);
    if bare != s.admin_username {
        return Err(RestError::not_found("user", &username));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({"username": username, "tenantDomain": s.tenant_domain,
            "tenantId": SUPER_TENANT_ID}),
    ))
}

/// `GET /system-scopes`: each scope with the roles that hold it.
pub async fn system_scopes_list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
) -> RestResult {
    cp.authorize(&headers, SCOPE_READ)?;
    let list: Vec<_> = system_scopes()
        .into_iter()
        .map(|name| json!({"name": name, "roles": ["admin"]}))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list}),
    ))
}

/// `GET /system-scopes/{scopeName}?username=`: 200 with the name when the user holds the scope,
/// else 404.
pub async fn system_scope(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, SCOPE_READ)?;
    let user = params.get("username").map(String::as_str);
    let held = user.is_none_or(|u| u == cp.settings().admin_username);
    if !held || !system_scopes().contains(&name.as_str()) {
        return Err(RestError::not_found("scope", &name));
    }
    Ok(json_response(StatusCode::OK, json!({"name": name})))
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RoleAlias {
    pub role: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RoleAliasList {
    list: Vec<RoleAlias>,
}

pub async fn role_aliases(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, SCOPE_READ)?;
    let list = cp.lock().role_aliases.clone();
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list}),
    ))
}

/// `PUT /system-scopes/role-aliases`: the list replaces the stored one; a role without a
/// name is a 400.
pub async fn put_role_aliases(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, SCOPE_READ)?;
    let input: RoleAliasList = parse_json(&body)?;
    if input.list.iter().any(|a| a.role.trim().is_empty()) {
        return Err(RestError::bad_request("Role name cannot be empty"));
    }
    let mut state = cp.lock();
    state.role_aliases = input.list.clone();
    Ok(json_response(
        StatusCode::OK,
        json!({"count": input.list.len(), "list": input.list}),
    ))
}
