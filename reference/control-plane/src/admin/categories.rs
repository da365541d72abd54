//! API categories: Admin `/api-categories` (create, list with `numberOfAPIs`, update, delete)
//! as WSO2's `APIAdminImpl` keeps them, and the lists the Publisher and the Developer Portal
//! answer. An API names its categories in `categories`.

use crate::ControlPlane;
use crate::access::scope::{API_MANAGE, API_VIEW};
use crate::error::RestError;
use crate::publisher::{RestResult, json_response, parse_json};
use crate::rest::{JsonBody, Path};
use crate::state::State as Store;
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;

/// `APICategory.name` / `description` `maxLength` (Admin spec).
const NAME_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 1024;
/// The Admin spec's scopes for categories.
const ADMIN_SCOPES: &[&str] = &["apim:admin", "apim:admin_operations"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiCategory {
    pub id: String,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CategoryInput {
    name: Option<String>,
    description: Option<String>,
}

/// `APICategoryDTO`'s bean validation, then the implementation's blank-name check.
fn checked(input: CategoryInput) -> Result<(String, String), RestError> {
    crate::constraints::Constraints::new()
        .required("name", input.name.is_some())
        .size("name", input.name.as_deref(), 1, NAME_MAX)
        .size(
            "description",
            input.description.as_deref(),
            0,
            DESCRIPTION_MAX,
        )
        .check()?;
    let name = input
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RestError::bad_request("Category name cannot be empty"))?;
    let description = input.description.unwrap_or_default();
    Ok((name, description))
}

fn not_found(id: &str) -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        900487,
        "Category not found",
        format!("Category not found for id: {id}"),
    )
}

fn name_taken(state: &Store, name: &str, except: Option<&str>) -> Result<(), RestError> {
    if state
        .api_categories
        .iter()
        .any(|c| c.name.eq_ignore_ascii_case(name) && Some(c.id.as_str()) != except)
    {
        return Err(RestError::conflict(format!(
            "Category with name '{name}' already exists"
        )));
    }
    Ok(())
}

fn uses(state: &Store, name: &str) -> usize {
    state
        .apis
        .values()
        .filter(|r| r.api.categories.iter().any(|c| c == name))
        .count()
}

/// `APICategory` of the Admin API (with `numberOfAPIs`) or of the portals (without).
fn category_json(state: &Store, c: &ApiCategory, admin: bool) -> Value {
    let mut value = json!({"id": c.id, "name": c.name, "description": c.description});
    if admin {
        value["numberOfAPIs"] = json!(uses(state, &c.name));
    }
    value
}

fn list_json(state: &Store, admin: bool) -> Value {
    let list: Vec<Value> = state
        .api_categories
        .iter()
        .map(|c| category_json(state, c, admin))
        .collect();
    json!({"count": list.len(), "list": list})
}

pub async fn admin_list(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, ADMIN_SCOPES)?;
    Ok(json_response(StatusCode::OK, list_json(&cp.lock(), true)))
}

pub async fn create(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, ADMIN_SCOPES)?;
    let (name, description) = checked(parse_json(&body)?)?;
    let mut state = cp.lock();
    name_taken(&state, &name, None)?;
    let category = ApiCategory {
        id: cp.new_id(),
        name,
        description,
    };
    state.api_categories.push(category.clone());
    Ok(json_response(
        StatusCode::CREATED,
        category_json(&state, &category, true),
    ))
}

pub async fn update(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, ADMIN_SCOPES)?;
    let (name, description) = checked(parse_json(&body)?)?;
    let mut state = cp.lock();
    if !state.api_categories.iter().any(|c| c.id == id) {
        return Err(not_found(&id));
    }
    name_taken(&state, &name, Some(&id))?;
    let old_name = state
        .api_categories
        .iter()
        .find(|c| c.id == id)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    // The APIs that named the category follow its new name.
    for record in state.apis.values_mut() {
        for c in record.api.categories.iter_mut().filter(|c| **c == old_name) {
            c.clone_from(&name);
        }
    }
    let category = ApiCategory {
        id: id.clone(),
        name,
        description,
    };
    if let Some(c) = state.api_categories.iter_mut().find(|c| c.id == id) {
        *c = category.clone();
    }
    Ok(json_response(
        StatusCode::OK,
        category_json(&state, &category, true),
    ))
}

/// `DELETE`: refused while an API is in the category (`CATEGORY_USED`).
pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, ADMIN_SCOPES)?;
    let mut state = cp.lock();
    let category = state
        .api_categories
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| not_found(&id))?;
    if uses(&state, &category.name) > 0 {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            900488,
            "Category has usages",
            "Unable to delete the category. It is attached to API(s)",
        ));
    }
    state.api_categories.retain(|c| c.id != id);
    Ok(StatusCode::OK.into_response())
}

/// Publisher `GET /api-categories`.
pub async fn publisher_list(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE])?;
    Ok(json_response(StatusCode::OK, list_json(&cp.lock(), false)))
}

/// Developer Portal `GET /api-categories`: anonymous callers are served.
pub async fn devportal_list(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    if headers.contains_key(http::header::AUTHORIZATION) {
        cp.authorize(&headers, &[])?;
    }
    Ok(json_response(StatusCode::OK, list_json(&cp.lock(), false)))
}
