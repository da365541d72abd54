//! API products (Publisher `/api-products…`): a named set of operations picked from existing
//! APIs, with its own context, tiers, lifecycle and thumbnail, as WSO2's
//! `ApiProductsApiServiceImpl` and `PublisherCommonUtils.addAPIProductWithGeneratedSwaggerDefinition`
//! keep them. Stored and answered; gateways do not serve products yet (no revisions or
//! deployments of products).

use super::apis::{lifecycle_state_json, page};
use super::{RestResult, json_response, parse_json};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::model::{OperationDto, pagination};
use crate::rest::{Form, JsonBody, PUBLISHER_BASE, Path, Query, with_location};
use crate::state::{LifecycleEvent, State as Store};
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Products have one version (`APIConstants.API_PRODUCT_VERSION`).
const VERSION: &str = "1.0.0";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductApi {
    pub api_id: String,
    /// `(target, verb)` of the API's resources the product offers.
    pub operations: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiProduct {
    pub id: String,
    pub name: String,
    pub context: String,
    pub description: Option<String>,
    pub provider: String,
    pub state: String,
    pub visibility: String,
    pub transport: Vec<String>,
    pub tags: Vec<String>,
    pub policies: Vec<String>,
    pub apis: Vec<ProductApi>,
    pub created_time: i64,
    pub last_updated_time: i64,
    pub lifecycle_history: Vec<LifecycleEvent>,
    pub thumbnail: Option<super::documents::StoredFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ProductApiInput {
    api_id: Option<String>,
    operations: Vec<OperationInput>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OperationInput {
    target: Option<String>,
    verb: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ProductInput {
    name: Option<String>,
    context: Option<String>,
    description: Option<String>,
    visibility: Option<String>,
    /// Read for `APIProductDTO`'s constraints only.
    provider: Option<String>,
    transport: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    policies: Option<Vec<String>>,
    apis: Option<Vec<ProductApiInput>>,
}

fn not_found(id: &str) -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        900360,
        "API Product Not Found",
        format!("Requested API Product with id '{id}' not found"),
    )
}

fn find<'a>(state: &'a Store, id: &str) -> Result<&'a ApiProduct, RestError> {
    state
        .api_products
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| not_found(id))
}

fn find_mut<'a>(state: &'a mut Store, id: &str) -> Result<&'a mut ApiProduct, RestError> {
    state
        .api_products
        .iter_mut()
        .find(|p| p.id == id)
        .ok_or_else(|| not_found(id))
}

/// The product's operations, each as its API defines it.
fn operations(state: &Store, p: &ProductApi) -> Vec<OperationDto> {
    state
        .apis
        .get(&p.api_id)
        .map(|r| {
            r.api
                .operations
                .iter()
                .filter(|o| {
                    p.operations
                        .iter()
                        .any(|(t, v)| *t == o.target && v.eq_ignore_ascii_case(&o.verb))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// `APIProduct`.
fn product_json(state: &Store, p: &ApiProduct) -> Value {
    let apis: Vec<Value> = p
        .apis
        .iter()
        .map(|a| {
            let api = state.apis.get(&a.api_id).map(|r| &r.api);
            json!({"name": api.map(|x| x.name.clone()), "apiId": a.api_id,
                "version": api.map(|x| x.version.clone()),
                "operations": operations(state, a)})
        })
        .collect();
    json!({
        "id": p.id, "name": p.name, "context": p.context, "description": p.description,
        "provider": p.provider, "hasThumbnail": p.thumbnail.is_some(),
        "state": p.state, "isRevision": false, "visibility": p.visibility,
        "visibleRoles": [], "accessControl": "NONE", "accessControlRoles": [],
        "apiType": "APIPRODUCT", "transport": p.transport, "tags": p.tags,
        "policies": p.policies, "authorizationHeader": "Authorization",
        "securityScheme": ["oauth2", "oauth_basic_auth_api_key_mandatory"],
        "subscriptionAvailability": "CURRENT_TENANT",
        "createdTime": p.created_time.to_string(),
        "lastUpdatedTime": super::rfc3339(p.last_updated_time),
        "lastUpdatedTimestamp": p.last_updated_time.to_string(),
        "gatewayVendor": "wso2", "apis": apis, "scopes": [], "categories": [],
    })
}

fn info_json(p: &ApiProduct) -> Value {
    json!({"id": p.id, "name": p.name, "context": p.context, "description": p.description,
        "provider": p.provider, "hasThumbnail": p.thumbnail.is_some(), "state": p.state,
        "securityScheme": ["oauth2", "oauth_basic_auth_api_key_mandatory"],
        "gatewayVendor": "wso2"})
}

/// The product's APIs, each of its operations one the API has; at least one operation.
fn read_apis(state: &Store, input: Vec<ProductApiInput>) -> Result<Vec<ProductApi>, RestError> {
    let mut apis = Vec::new();
    for a in input {
        let api_id = a
            .api_id
            .ok_or_else(|| RestError::bad_request("apiId of a product API is required"))?;
        let record = state
            .apis
            .get(&api_id)
            .ok_or_else(|| RestError::api_not_found(&api_id))?;
        let mut operations = Vec::new();
        for o in a.operations {
            let (Some(target), Some(verb)) = (o.target, o.verb) else {
                return Err(RestError::bad_request(
                    "target and verb of a product operation are required",
                ));
            };
            if !record
                .api
                .operations
                .iter()
                .any(|r| r.target == target && r.verb.eq_ignore_ascii_case(&verb))
            {
                return Err(RestError::bad_request(format!(
                    "Invalid resource {verb} {target} of API {api_id}"
                )));
            }
            operations.push((target, verb.to_ascii_uppercase()));
        }
        apis.push(ProductApi { api_id, operations });
    }
    if apis.iter().all(|a| a.operations.is_empty()) {
        return Err(RestError::bad_request(
            "An API Product must have at least one resource",
        ));
    }
    Ok(apis)
}

const VISIBILITIES: &[&str] = &["PUBLIC", "PRIVATE", "RESTRICTED"];

/// `APIProductDTO`'s bean validation (`POST` and `PUT`); its enums read an unknown value as
/// `null` (see `Constraints::required_enum`), so they refuse nothing.
fn checked(input: &ProductInput) -> Result<(), RestError> {
    crate::constraints::Constraints::new()
        .required("name", input.name.is_some())
        .size("name", input.name.as_deref(), 1, 50)
        .size("context", input.context.as_deref(), 1, 60)
        .size("provider", input.provider.as_deref(), 0, 50)
        .check()
}

fn check_visibility(v: &str) -> Result<(), RestError> {
    if VISIBILITIES.contains(&v) {
        Ok(())
    } else {
        Err(RestError::bad_request(format!("Invalid visibility {v}")))
    }
}

/// A name or context another product (or an API, for the context) already has → 409.
fn check_unique(state: &Store, id: &str, name: &str, context: &str) -> Result<(), RestError> {
    if state
        .api_products
        .iter()
        .any(|p| p.id != id && p.name.eq_ignore_ascii_case(name))
    {
        return Err(RestError::conflict(format!(
            "Error occurred while adding API Product. API Product with name {name} already exists."
        )));
    }
    if state
        .api_products
        .iter()
        .any(|p| p.id != id && p.context == context)
        || state.apis.values().any(|r| r.api.context == context)
    {
        return Err(RestError::conflict(format!(
            "Error occurred while adding API Product. API Product with context {context} already exists."
        )));
    }
    Ok(())
}

pub async fn list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(
        &headers,
        &[API_VIEW, API_MANAGE, API_IMPORT_EXPORT, API_LIST_VIEW],
    )?;
    let state = cp.lock();
    let query = params
        .get("query")
        .map(|q| q.trim_start_matches("name:").to_ascii_lowercase())
        .unwrap_or_default();
    let all: Vec<Value> = state
        .api_products
        .iter()
        .filter(|p| p.name.to_ascii_lowercase().contains(&query))
        .map(info_json)
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
    let caller = cp.authorize(&headers, &[API_CREATE, API_PUBLISH, API_MANAGE])?;
    let input: ProductInput = parse_json(&body)?;
    checked(&input)?;
    let name = input
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| RestError::bad_request("API Product name is required"))?;
    let context = input
        .context
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| RestError::bad_request("API Product context is required"))?;
    let context = if context.starts_with('/') {
        context
    } else {
        format!("/{context}")
    };
    let visibility = input.visibility.unwrap_or_else(|| "PUBLIC".to_owned());
    check_visibility(&visibility)?;
    let mut state = cp.lock();
    let apis = read_apis(&state, input.apis.unwrap_or_default())?;
    check_unique(&state, "", &name, &context)?;
    let now = cp.now_millis();
    let product = ApiProduct {
        id: cp.new_id(),
        name,
        context,
        description: input.description,
        provider: caller.username.clone(),
        state: "CREATED".to_owned(),
        visibility,
        transport: input
            .transport
            .unwrap_or_else(|| vec!["http".into(), "https".into()]),
        tags: input.tags.unwrap_or_default(),
        policies: input.policies.unwrap_or_default(),
        apis,
        created_time: now,
        last_updated_time: now,
        lifecycle_history: vec![LifecycleEvent {
            previous_state: None,
            post_state: "CREATED".to_owned(),
            user: caller.username.clone(),
            time: now,
        }],
        thumbnail: None,
    };
    state.api_products.push(product.clone());
    Ok(with_location(
        json_response(StatusCode::CREATED, product_json(&state, &product)),
        &cp.settings().mgmt_base_url(),
        &format!("{PUBLISHER_BASE}/api-products/{}", product.id),
    ))
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, API_IMPORT_EXPORT])?;
    let state = cp.lock();
    Ok(json_response(
        StatusCode::OK,
        product_json(&state, find(&state, &id)?),
    ))
}

/// `PUT`: description, visibility, transports, tags, tiers, APIs and context change; the
/// name stays (a rename → 400, as for APIs).
pub async fn update(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_PUBLISH, API_MANAGE])?;
    let input: ProductInput = parse_json(&body)?;
    checked(&input)?;
    let mut state = cp.lock();
    let mut product = find(&state, &id)?.clone();
    if let Some(name) = &input.name
        && *name != product.name
    {
        return Err(RestError::bad_request("API Product name cannot be changed"));
    }
    if let Some(v) = input.visibility {
        check_visibility(&v)?;
        product.visibility = v;
    }
    if let Some(c) = input.context.filter(|c| !c.trim().is_empty()) {
        product.context = if c.starts_with('/') {
            c
        } else {
            format!("/{c}")
        };
    }
    if let Some(apis) = input.apis {
        product.apis = read_apis(&state, apis)?;
    }
    check_unique(&state, &id, &product.name, &product.context)?;
    if input.description.is_some() {
        product.description = input.description;
    }
    if let Some(t) = input.transport {
        product.transport = t;
    }
    if let Some(t) = input.tags {
        product.tags = t;
    }
    if let Some(p) = input.policies {
        product.policies = p;
    }
    product.last_updated_time = cp.now_millis();
    *find_mut(&mut state, &id)? = product.clone();
    Ok(json_response(
        StatusCode::OK,
        product_json(&state, &product),
    ))
}

pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_DELETE, API_MANAGE, API_IMPORT_EXPORT])?;
    let mut state = cp.lock();
    find(&state, &id)?;
    state.api_products.retain(|p| p.id != id);
    Ok(StatusCode::OK.into_response())
}

/// `GET …/swagger`: the OpenAPI 3 document WSO2 generates for a product, one path item per
/// operation it offers, with the operation's auth type, tier and scopes.
pub async fn swagger(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, API_IMPORT_EXPORT])?;
    let state = cp.lock();
    let product = find(&state, &id)?;
    let mut paths = serde_json::Map::new();
    for a in &product.apis {
        for op in operations(&state, a) {
            let mut operation = super::definitions::generated_operation(
                &op.target,
                &op.verb,
                crate::openapi::Flavour::Oas3,
            );
            operation.insert("security".into(), json!([{"default": op.scopes}]));
            operation.insert("x-auth-type".into(), json!(op.auth_type));
            operation.insert(
                "x-throttling-tier".into(),
                json!(op.throttling_policy.as_deref().unwrap_or("Unlimited")),
            );
            if let Some(item) = paths
                .entry(op.target.clone())
                .or_insert_with(|| json!({}))
                .as_object_mut()
            {
                item.insert(op.verb.to_ascii_lowercase(), Value::Object(operation));
            }
        }
    }
    Ok(json_response(
        StatusCode::OK,
        json!({
            "openapi": "3.0.1",
            "info": {"title": product.name, "version": VERSION},
            "servers": [{"url": "/"}],
            "security": [{"default": []}],
            "paths": paths,
            "components": {"securitySchemes": {"default": {"type": "oauth2",
                "flows": {"implicit": {"authorizationUrl": "https://test.com", "scopes": {}}}}}},
        }),
    ))
}

/// `GET …/is-outdated`: whether an API of the product has changed since the product last did
/// (`isOutdated`), as WSO2 compares their update times.
pub async fn is_outdated(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, API_IMPORT_EXPORT])?;
    let state = cp.lock();
    let product = find(&state, &id)?;
    let outdated = product.apis.iter().any(|a| {
        state.apis.get(&a.api_id).is_some_and(|r| {
            r.api
                .last_updated_time
                .parse::<i64>()
                .is_ok_and(|t| t > product.last_updated_time)
        })
    });
    Ok(json_response(
        StatusCode::OK,
        json!({"isOutdated": outdated}),
    ))
}

pub async fn put_thumbnail(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Form,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE, API_PUBLISH])?;
    let file = super::documents::thumbnail_file(&form)?;
    let media_type = file.media_type.clone();
    let mut state = cp.lock();
    find_mut(&mut state, &id)?.thumbnail = Some(file);
    Ok(json_response(
        StatusCode::OK,
        json!({"relativePath": format!("/api-products/{id}/thumbnail"), "mediaType": media_type}),
    ))
}

pub async fn get_thumbnail(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE])?;
    let state = cp.lock();
    Ok(match &find(&state, &id)?.thumbnail {
        Some(file) => file.response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

pub async fn lifecycle_state(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_PUBLISH, API_CREATE, API_MANAGE])?;
    let state = cp.lock();
    Ok(json_response(
        StatusCode::OK,
        lifecycle_state_json(&find(&state, &id)?.state),
    ))
}

pub async fn lifecycle_history(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_PUBLISH, API_MANAGE])?;
    let state = cp.lock();
    Ok(json_response(
        StatusCode::OK,
        super::apis::lifecycle_history_json(&find(&state, &id)?.lifecycle_history),
    ))
}

/// `POST /api-products/change-lifecycle?apiProductId=&action=`: the APIs' lifecycle, the
/// same actions and errors.
pub async fn change_lifecycle(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[API_PUBLISH, API_MANAGE])?;
    // `changeAPIProductLifecycle(action, apiProductId, …)`: both `@NotNull` query parameters.
    let (Some(id), Some(action)) = (params.get("apiProductId"), params.get("action")) else {
        crate::constraints::Constraints::new()
            .required_param(
                "changeAPIProductLifecycle",
                0,
                params.contains_key("action"),
            )
            .required_param(
                "changeAPIProductLifecycle",
                1,
                params.contains_key("apiProductId"),
            )
            .check()?;
        return Err(RestError::bad_request("Parameter value missing"));
    };
    let now = cp.now_millis();
    let mut state = cp.lock();
    let product = find_mut(&mut state, id)?;
    let current = product.state.clone();
    let Some(target) = super::apis::transition_target(&current, action) else {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            900381,
            "Unsupported state change action",
            format!("Lifecycle state change action {action} is not allowed"),
        ));
    };
    product.state = target.to_owned();
    product.last_updated_time = now;
    product.lifecycle_history.push(LifecycleEvent {
        previous_state: Some(current),
        post_state: target.to_owned(),
        user: caller.username.clone(),
        time: now,
    });
    Ok(json_response(
        StatusCode::OK,
        json!({"workflowStatus": "APPROVED", "jsonPayload": "",
            "lifecycleState": lifecycle_state_json(target)}),
    ))
}

/// `DELETE …/lifecycle-state/pending-tasks`: no workflow ever waits here (WSO2's default
/// executors), so there is nothing to cancel.
pub async fn delete_pending_tasks(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_PUBLISH, API_MANAGE])?;
    find(&cp.lock(), &id)?;
    Ok(StatusCode::OK.into_response())
}
