//! Small reads both portals serve about the deployment as it is: its one tenant
//! (`/tenants`), unified search over APIs (`/search`), the external stores an API is
//! published to (none: no `[[apim.external_stores]]` is read), and the lifecycle's pending workflow tasks (none: every workflow here is approved at once,
//! WSO2's default executors).

use super::apis::{matches_query, page};
use super::{RestResult, json_response};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::model::{Api, pagination, served_context};
use crate::rest::{JsonBody, Path, Query};
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `TenantList`: the super tenant, active. `state=inactive` lists none.
fn tenants(cp: &ControlPlane, params: &BTreeMap<String, String>) -> RestResult {
    let active = params
        .get("state")
        .is_none_or(|s| s.eq_ignore_ascii_case("active"));
    let all: Vec<Value> = if active {
        vec![json!({"domain": cp.settings().tenant_domain, "status": "active"})]
    } else {
        Vec::new()
    };
    let (list, offset, limit) = page(&all, params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": pagination(offset, limit, all.len())}),
    ))
}

pub async fn publisher_tenants(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE])?;
    tenants(&cp, &params)
}

pub async fn devportal_tenants(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    if headers.contains_key(http::header::AUTHORIZATION) {
        cp.authorize(&headers, &[])?;
    }
    tenants(&cp, &params)
}

/// `HEAD /tenants/{tenantDomain}`: 200 for the deployment's tenant, else 404.
pub async fn tenant_exists(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(domain): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE])?;
    if domain == cp.settings().tenant_domain {
        Ok(StatusCode::OK.into_response())
    } else {
        Ok(StatusCode::NOT_FOUND.into_response())
    }
}

/// One `APISearchResult` (the Publisher's or the Developer Portal's fields).
fn search_result(api: &Api, devportal: bool) -> Value {
    let mut value = json!({
        "id": api.id,
        "name": api.name,
        "type": "API",
        "transportType": api.kind,
        "description": api.description,
        "context": api.served_context(),
        "version": api.version,
        "provider": api.provider,
        "status": api.life_cycle_status,
    });
    if !devportal {
        value["contextTemplate"] = json!(served_context(&api.context, "{version}"));
        value["advertiseOnly"] = json!(false);
    }
    value
}

/// `GET /search?query=`: APIs matching the query as `GET /apis` matches it (`content:` searches
/// the name, as WSO2 turns content searches into name searches), the Developer Portal's over
/// the APIs it shows.
fn search(cp: &ControlPlane, params: &BTreeMap<String, String>, devportal: bool) -> RestResult {
    let query = params
        .get("query")
        .map(|q| q.replace("content:", "name:"))
        .unwrap_or_default();
    let state = cp.lock();
    let mut apis: Vec<&Api> = state
        .apis
        .values()
        .map(|r| &r.api)
        .filter(|a| !devportal || crate::devportal::visible_in_devportal(a))
        .filter(|a| matches_query(a, &query))
        .collect();
    apis.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    let all: Vec<Value> = apis.iter().map(|a| search_result(a, devportal)).collect();
    let (list, offset, limit) = page(&all, params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": pagination(offset, limit, all.len())}),
    ))
}

pub async fn publisher_search(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, API_IMPORT_EXPORT])?;
    search(&cp, &params, false)
}

pub async fn devportal_search(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    if headers.contains_key(http::header::AUTHORIZATION) {
        cp.authorize(&headers, &[])?;
    }
    search(&cp, &params, true)
}

/// `GET /apis/{apiId}/external-stores`: where the API is published outside; nowhere.
pub async fn api_external_stores(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE])?;
    if !cp.lock().apis.contains_key(&api_id) {
        return Err(RestError::api_not_found(&api_id));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({"count": 0, "list": []}),
    ))
}

/// `DELETE /apis/{apiId}/lifecycle-state/pending-tasks`: no lifecycle change ever waits for
/// approval here, so there is nothing to cancel: 200 for an API that exists.
pub async fn delete_pending_tasks(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_PUBLISH, API_MANAGE])?;
    if !cp.lock().apis.contains_key(&api_id) {
        return Err(RestError::api_not_found(&api_id));
    }
    Ok(StatusCode::OK.into_response())
}

/// The name of the environment `env_id` names (an Admin one by its id, any by its name; names
/// never change), or WSO2's 404 (`GATEWAY_ENVIRONMENT_NOT_FOUND`).
fn environment_name(
    cp: &ControlPlane,
    state: &crate::state::State,
    env_id: &str,
) -> Result<String, RestError> {
    state
        .environments
        .iter()
        .find(|e| e.id == env_id)
        .map(|e| e.name.clone())
        .or_else(|| {
            cp.environments(state)
                .iter()
                .find(|e| e.name == env_id)
                .map(|e| e.name.clone())
        })
        .ok_or_else(|| {
            RestError::new(
                StatusCode::NOT_FOUND,
                900506,
                "Gateway Environment not found",
                format!("Gateway Environment with {env_id} not found"),
            )
        })
}

/// `GET /apis/{apiId}/environments/{envId}/keys`: the API's properties for that environment
/// (`EnvironmentProperties`, string values), `{}` when none were set.
pub async fn get_environment_properties(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((api_id, env_id)): Path<(String, String)>,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE])?;
    let state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let env = environment_name(&cp, &state, &env_id)?;
    Ok(json_response(
        StatusCode::OK,
        record
            .environment_properties
            .get(&env)
            .cloned()
            .unwrap_or_default(),
    ))
}

/// `PUT`: replaces them; a body that is not an object of strings → 400.
pub async fn put_environment_properties(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((api_id, env_id)): Path<(String, String)>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE])?;
    let properties: BTreeMap<String, String> = super::parse_json(&body)?;
    let mut state = cp.lock();
    if !state.apis.contains_key(&api_id) {
        return Err(RestError::api_not_found(&api_id));
    }
    let env = environment_name(&cp, &state, &env_id)?;
    if let Some(record) = state.apis.get_mut(&api_id) {
        record
            .environment_properties
            .insert(env, properties.clone());
    }
    Ok(json_response(StatusCode::OK, properties))
}
