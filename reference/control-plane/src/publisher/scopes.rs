//! Shared scopes (Publisher `/scopes`): scopes kept apart from any API, which APIs then
//! attach (`{"scope": {"name": …}, "shared": true}`) and their resources require, as WSO2's
//! `ScopesApiServiceImpl` keeps them.

use super::apis::page;
use super::{RestResult, json_response, parse_json};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::model::pagination;
use crate::rest::{JsonBody, PUBLISHER_BASE, Path, Query, with_location};
use crate::state::State as Store;
use axum::extract::State;
use axum::response::IntoResponse;
use base64::Engine;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `Scope.name` / `displayName` `maxLength`, and `description`'s.
const NAME_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 512;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedScope {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub bindings: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ScopeInput {
    name: Option<String>,
    display_name: Option<String>,
    description: Option<String>,
    bindings: Option<Vec<String>>,
}

/// `ScopeDTO`'s bean validation (`POST` and `PUT`).
fn checked(input: &ScopeInput) -> Result<(), RestError> {
    crate::constraints::Constraints::new()
        .required("name", input.name.is_some())
        .size("name", input.name.as_deref(), 1, NAME_MAX)
        .size("displayName", input.display_name.as_deref(), 0, NAME_MAX)
        .size(
            "description",
            input.description.as_deref(),
            0,
            DESCRIPTION_MAX,
        )
        .check()
}

fn not_found(id: &str) -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        900981,
        "Shared Scope not found",
        format!("Shared Scope not found for scope ID: {id}"),
    )
}

/// The APIs that attach the scope, with the resources that require it.
fn users(state: &Store, name: &str) -> Vec<Value> {
    state
        .apis
        .values()
        .map(|r| &r.api)
        .filter(|api| {
            api.scopes
                .iter()
                .any(|s| s["scope"]["name"] == name && s["shared"] == true)
                || api
                    .operations
                    .iter()
                    .any(|o| o.scopes.iter().any(|s| s == name))
        })
        .map(|api| {
            let resources: Vec<Value> = api
                .operations
                .iter()
                .filter(|o| o.scopes.iter().any(|s| s == name))
                .map(|o| json!({"target": o.target, "verb": o.verb}))
                .collect();
            json!({"name": api.name, "context": api.context, "version": api.version,
                "provider": api.provider, "usedResourceList": resources})
        })
        .collect()
}

fn scope_json(state: &Store, s: &SharedScope) -> Value {
    json!({"id": s.id, "name": s.name, "displayName": s.display_name,
        "description": s.description, "bindings": s.bindings,
        "usageCount": users(state, &s.name).len()})
}

fn find<'a>(state: &'a Store, id: &str) -> Result<&'a SharedScope, RestError> {
    state
        .shared_scopes
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| not_found(id))
}

/// Whether a scope of that name exists: shared, or local to an API.
fn exists(state: &Store, name: &str) -> bool {
    state.shared_scopes.iter().any(|s| s.name == name)
        || state
            .apis
            .values()
            .any(|r| r.api.scopes.iter().any(|s| s["scope"]["name"] == name))
}

pub async fn list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, SHARED_SCOPE_MANAGE])?;
    let state = cp.lock();
    let all: Vec<Value> = state
        .shared_scopes
        .iter()
        .map(|s| scope_json(&state, s))
        .collect();
    let (list, offset, limit) = page(&all, &params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": pagination(offset, limit, all.len())}),
    ))
}

pub async fn create(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, &[SHARED_SCOPE_MANAGE])?;
    let input: ScopeInput = parse_json(&body)?;
    checked(&input)?;
    let name = input
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RestError::bad_request("Scope Name cannot be null or empty"))?;
    let display_name = input.display_name.unwrap_or_else(|| name.clone());
    let description = input.description.unwrap_or_default();
    let mut state = cp.lock();
    if exists(&state, &name) {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            900982,
            "Scope already exists",
            format!("Scope {name} already exists"),
        ));
    }
    let scope = SharedScope {
        id: cp.new_id(),
        name,
        display_name,
        description,
        bindings: input.bindings.unwrap_or_default(),
    };
    state.shared_scopes.push(scope.clone());
    Ok(with_location(
        json_response(StatusCode::CREATED, scope_json(&state, &scope)),
        &cp.settings().mgmt_base_url(),
        &format!("{PUBLISHER_BASE}/scopes/{}", scope.id),
    ))
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, SHARED_SCOPE_MANAGE])?;
    let state = cp.lock();
    Ok(json_response(
        StatusCode::OK,
        scope_json(&state, find(&state, &id)?),
    ))
}

/// `PUT`: display name, description and role bindings; the name stays.
pub async fn update(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, &[SHARED_SCOPE_MANAGE])?;
    let input: ScopeInput = parse_json(&body)?;
    checked(&input)?;
    let mut state = cp.lock();
    let mut scope = find(&state, &id)?.clone();
    if let Some(name) = input.name.as_deref().map(str::trim)
        && !name.is_empty()
        && name != scope.name
    {
        return Err(RestError::bad_request("Scope name cannot be changed"));
    }
    if let Some(d) = input.display_name {
        scope.display_name = d;
    }
    if let Some(d) = input.description {
        scope.description = d;
    }
    if let Some(b) = input.bindings {
        scope.bindings = b;
    }
    if let Some(s) = state.shared_scopes.iter_mut().find(|s| s.id == id) {
        *s = scope.clone();
    }
    Ok(json_response(StatusCode::OK, scope_json(&state, &scope)))
}

/// `DELETE`: refused while an API uses the scope.
pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[SHARED_SCOPE_MANAGE])?;
    let mut state = cp.lock();
    let name = find(&state, &id)?.name.clone();
    if !users(&state, &name).is_empty() {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            900983,
            "Shared Scope is in use",
            format!("Cannot remove the Shared Scope {name} as it is used by one or more APIs"),
        ));
    }
    state.shared_scopes.retain(|s| s.id != id);
    Ok(StatusCode::OK.into_response())
}

/// `HEAD /scopes/{scopeId}`: the id is the scope's name in base64url (WSO2's
/// `validateScope`); 200 when a shared or API scope has that name, else 404.
pub async fn exists_by_name(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(encoded): Path<String>,
) -> RestResult {
    cp.authorize(
        &headers,
        &[API_CREATE, API_PUBLISH, API_MANAGE, SHARED_SCOPE_MANAGE],
    )?;
    let name = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let state = cp.lock();
    match name {
        Some(name) if exists(&state, &name) => Ok(StatusCode::OK.into_response()),
        _ => Ok(StatusCode::NOT_FOUND.into_response()),
    }
}

pub async fn usage(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, SHARED_SCOPE_MANAGE])?;
    let state = cp.lock();
    let scope = find(&state, &id)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"id": scope.id, "name": scope.name, "usedApiList": users(&state, &scope.name)}),
    ))
}
