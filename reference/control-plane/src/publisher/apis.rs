//! `POST/GET /apis`, `GET/PUT/DELETE /apis/{apiId}`, `POST /apis/change-lifecycle`.

use super::{RestResult, json_response, parse_json};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::constraints::Constraints;
use crate::error::RestError;
use crate::model::{
    AUTH_ANY, Api, ApiInput, OperationDto, api_list_pagination, keep_endpoint_passwords,
    served_context,
};
use crate::rest::{JsonBody, PUBLISHER_BASE, Path, Query, with_location};
use crate::state::{ApiRecord, LifecycleEvent, State as Store, artifact};
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tollgate_protocol::event::Event;

const VERBS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// WSO2's resources for an API created without any (`getDefaultOperationsList`): `/*` for
/// every common verb, any token, Unlimited.
fn default_operations() -> Vec<OperationDto> {
    ["GET", "PUT", "POST", "DELETE", "PATCH"]
        .iter()
        .map(|verb| OperationDto {
            id: String::new(),
            target: "/*".to_owned(),
            verb: (*verb).to_owned(),
            auth_type: AUTH_ANY.to_owned(),
            throttling_policy: Some("Unlimited".to_owned()),
            scopes: Vec::new(),
            used_product_ids: Vec::new(),
        })
        .collect()
}

fn normalise_operations(ops: Vec<OperationDto>) -> Result<Vec<OperationDto>, RestError> {
    ops.into_iter()
        .map(|mut op| {
            op.verb = op.verb.to_ascii_uppercase();
            if !VERBS.contains(&op.verb.as_str()) {
                return Err(RestError::bad_request(format!(
                    "Invalid HTTP verb '{}' in resource '{}'",
                    op.verb, op.target
                )));
            }
            if op.target.is_empty() {
                return Err(RestError::bad_request("Resource target cannot be empty"));
            }
            if !op.target.starts_with('/') {
                op.target.insert(0, '/');
            }
            if op.auth_type.eq_ignore_ascii_case("Any") || op.auth_type.is_empty() {
                op.auth_type = AUTH_ANY.to_owned();
            }
            if op.throttling_policy.is_none() {
                op.throttling_policy = Some("Unlimited".to_owned());
            }
            Ok(op)
        })
        .collect()
}

fn normalise_context(context: &str) -> Result<String, RestError> {
    let context = context.trim();
    if context.is_empty() || context == "/" {
        return Err(RestError::bad_request("Context cannot be empty"));
    }
    if context.ends_with('/') {
        return Err(RestError::bad_request(
            "Context cannot end with '/' character",
        ));
    }
    Ok(if context.starts_with('/') {
        context.to_owned()
    } else {
        format!("/{context}")
    })
}

fn required(value: Option<String>, field: &str) -> Result<String, RestError> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            RestError::bad_request(format!("{field} property value of payload cannot be blank"))
        })
}

/// The `API` schema's constraints on what `input` sets (`publisher-v4.yaml`).
fn check_constraints(input: &ApiInput) -> Result<(), RestError> {
    const NAME: &str = "~!@#;:%^*()+={}|\\<>\"',&$[]/";
    const VERSION: &str = "~!@#;:%^*()+={}|\\<>\"',&/$[]";
    const HEADER: &str = "~!@#;:%^*()+={}|\\<>\"',&$";
    // `type` is taken in any case (`http` becomes `HTTP`).
    let kind = input.kind.as_deref().map(str::to_ascii_uppercase);
    let business = input.business_information.as_ref();
    Constraints::new()
        .size("name", input.name.as_deref(), 1, 60)
        .none_of(
            "name",
            input.name.as_deref(),
            NAME,
            false,
            r#"(^[^~!@#;:%^*()+={}|\\<>"',&$\[\]\/]*$)"#,
        )
        .size("description", input.description.as_deref(), 0, 32766)
        .size("context", input.context.as_deref(), 1, 232)
        .size("version", input.version.as_deref(), 1, 30)
        .none_of(
            "version",
            input.version.as_deref(),
            VERSION,
            true,
            r#"^[^~!@#;:%^*()+={}|\\<>"',&/$\[\]\s+\/]+$"#,
        )
        .size("provider", input.provider.as_deref(), 0, 200)
        .one_of(
            "type",
            kind.as_deref(),
            &[
                "HTTP",
                "WS",
                "SOAPTOREST",
                "SOAP",
                "GRAPHQL",
                "WEBSUB",
                "SSE",
                "WEBHOOK",
                "ASYNC",
            ],
        )
        .none_of(
            "authorizationHeader",
            input.authorization_header.as_deref(),
            HEADER,
            true,
            r#"(^[^~!@#;:%^*()+={}|\\<>"',&$\s+]*$)"#,
        )
        .one_of(
            "visibility",
            input.visibility.as_deref(),
            &["PUBLIC", "PRIVATE", "RESTRICTED"],
        )
        .size(
            "businessInformation.businessOwner",
            business.and_then(|b| b.business_owner.as_deref()),
            0,
            120,
        )
        .size(
            "businessInformation.technicalOwner",
            business.and_then(|b| b.technical_owner.as_deref()),
            0,
            120,
        )
        .check()
}

/// `APIScope`s as WSO2's DTOs read them: unknown properties dropped (Jackson ignores them),
/// a missing or ill-typed `scope` or `name` → bean validation's 400.
fn api_scopes(scopes: Vec<Value>) -> Result<Vec<Value>, RestError> {
    let invalid = |i: usize, why: &str| {
        RestError::validation(vec![(format!("scopes[{i}].scope"), why.to_owned())])
    };
    let mut out = Vec::new();
    for (i, item) in scopes.into_iter().enumerate() {
        let Some(scope) = item.get("scope").and_then(Value::as_object) else {
            return Err(invalid(i, "must not be null"));
        };
        let mut kept = serde_json::Map::new();
        for (key, value) in scope {
            let fits = match key.as_str() {
                "id" | "name" | "displayName" | "description" => value.is_string(),
                "bindings" => value
                    .as_array()
                    .is_some_and(|b| b.iter().all(Value::is_string)),
                "usageCount" => value.is_i64(),
                _ => continue,
            };
            if !fits {
                return Err(invalid(i, &format!("{key} is of the wrong type")));
            }
            kept.insert(key.clone(), value.clone());
        }
        if kept
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(|n| n.is_empty() || n.chars().count() > 255)
        {
            return Err(invalid(i, "name: size must be between 1 and 255"));
        }
        let mut api_scope = json!({"scope": kept});
        if let Some(shared) = item.get("shared") {
            let Some(shared) = shared.as_bool() else {
                return Err(invalid(i, "shared is not a boolean"));
            };
            api_scope["shared"] = json!(shared);
        }
        out.push(api_scope);
    }
    Ok(out)
}

/// Applies the optional fields of `input` over `api`.
fn apply(api: &mut Api, input: ApiInput) -> Result<(), RestError> {
    check_constraints(&input)?;
    if let Some(d) = input.description {
        api.description = Some(d);
    }
    if let Some(v) = input.is_default_version {
        api.is_default_version = v;
    }
    if let Some(t) = input.transport {
        api.transport = t;
    }
    if let Some(t) = input.tags {
        api.tags = t;
    }
    if let Some(p) = input.policies {
        api.policies = p;
    }
    if input.api_throttling_policy.is_some() {
        api.api_throttling_policy = input.api_throttling_policy;
    }
    if let Some(h) = input.authorization_header {
        api.authorization_header = h;
    }
    if let Some(s) = input.security_scheme.filter(|s| !s.is_empty()) {
        api.security_scheme = s;
    }
    if input.max_tps.is_some() {
        api.max_tps = input.max_tps;
    }
    if let Some(v) = input.visibility {
        api.visibility = v;
    }
    if let Some(r) = input.visible_roles {
        api.visible_roles = r;
    }
    if let Some(mut config) = input.endpoint_config {
        keep_endpoint_passwords(&mut config, api.endpoint_config.as_ref());
        api.endpoint_config = Some(config);
    }
    if let Some(s) = input.scopes {
        api.scopes = api_scopes(s)?;
    }
    if let Some(c) = input.categories {
        api.categories = c;
    }
    if let Some(b) = input.business_information {
        api.business_information = b;
    }
    if let Some(ops) = input.operations {
        api.operations = if ops.is_empty() {
            default_operations()
        } else {
            normalise_operations(ops)?
        };
    }
    Ok(())
}

pub async fn create(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[API_CREATE, API_MANAGE])?;
    let api = new_api(&cp, &caller.username, parse_json(&body)?)?;
    add(&cp, &caller.username, api, None)
}

/// An API built from a create body, with WSO2's defaults for what the body leaves out.
pub(crate) fn new_api(
    cp: &ControlPlane,
    username: &str,
    mut input: ApiInput,
) -> Result<Api, RestError> {
    check_constraints(&input)?;
    let name = required(input.name.take(), "name")?;
    let version = required(input.version.take(), "version")?;
    let context = normalise_context(&required(input.context.take(), "context")?)?;
    let now = cp.now_millis();
    let mut api = Api {
        id: String::new(),
        name,
        description: None,
        context,
        version,
        provider: input
            .provider
            .take()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| username.to_owned()),
        life_cycle_status: "CREATED".to_owned(),
        is_default_version: false,
        is_revision: false,
        revisioned_api_id: None,
        revision_id: 0,
        kind: input
            .kind
            .take()
            .unwrap_or_else(|| "HTTP".to_owned())
            .to_ascii_uppercase(),
        transport: vec!["http".to_owned(), "https".to_owned()],
        tags: Vec::new(),
        policies: Vec::new(),
        api_throttling_policy: None,
        authorization_header: "Authorization".to_owned(),
        security_scheme: vec![
            "oauth2".to_owned(),
            "oauth_basic_auth_api_key_mandatory".to_owned(),
        ],
        max_tps: None,
        visibility: "PUBLIC".to_owned(),
        visible_roles: Vec::new(),
        endpoint_config: None,
        endpoint_implementation_type: "ENDPOINT".to_owned(),
        scopes: Vec::new(),
        operations: default_operations(),
        categories: Vec::new(),
        gateway_vendor: "wso2".to_owned(),
        gateway_type: "wso2/synapse".to_owned(),
        created_time: now.to_string(),
        last_updated_time: now.to_string(),
        workflow_status: None,
        business_information: Default::default(),
    };
    apply(&mut api, input)?;
    Ok(api)
}

/// Stores a new API, with the user's definition when it was created from one, and answers
/// 201 with its `Location`.
pub(crate) fn add(
    cp: &ControlPlane,
    username: &str,
    mut api: Api,
    definition: Option<Value>,
) -> RestResult {
    let now = cp.now_millis();
    let mut state = cp.lock();
    check_duplicates(&state, &api)?;
    api.id = cp.new_id();
    state.apis.insert(
        api.id.clone(),
        ApiRecord {
            api: api.clone(),
            revisions: BTreeMap::new(),
            last_revision_number: 0,
            deployments: BTreeMap::new(),
            // `addAPI` records the creation as a lifecycle event from no state.
            lifecycle_history: vec![LifecycleEvent {
                previous_state: None,
                post_state: "CREATED".to_owned(),
                user: username.to_owned(),
                time: now,
            }],
            definition,
            documents: Vec::new(),
            thumbnail: None,
            comments: Vec::new(),
            ratings: BTreeMap::new(),
            environment_properties: BTreeMap::new(),
        },
    );
    // `ApisApiServiceImpl.createAPI`: `Response.created(new URI("/apis/" + id))`.
    Ok(with_location(
        json_response(StatusCode::CREATED, api.masked()),
        &cp.settings().mgmt_base_url(),
        &format!("{PUBLISHER_BASE}/apis/{}", api.id),
    ))
}

/// `PublisherCommonUtils`' checks: an API of the same name and version, a context template
/// already used, a name differing only in case.
fn check_duplicates(state: &Store, api: &Api) -> Result<(), RestError> {
    for other in state.apis.values().map(|r| &r.api) {
        if other.name == api.name && other.version == api.version {
            return Err(RestError::new(
                StatusCode::CONFLICT,
                900300,
                "The API already exists.",
                "The API already exists",
            ));
        }
    }
    let template = |a: &Api| served_context(&a.context, "{version}");
    if state
        .apis
        .values()
        .any(|r| template(&r.api) == template(api) && r.api.name != api.name)
    {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            900251,
            "The API context already exists.",
            format!("An API with context '{}' already exists", api.context),
        ));
    }
    if state
        .apis
        .values()
        .any(|r| r.api.name != api.name && r.api.name.eq_ignore_ascii_case(&api.name))
    {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            900250,
            "The API name already exists.",
            format!("An API with name '{}' already exists", api.name),
        ));
    }
    Ok(())
}

/// `query` search, as WSO2's basic searches behave: space-separated `field:value` terms that
/// must all match, `field` one of `name`, `context`, `version`, `provider`, `status`, `tags`,
/// `description`; a bare word searches the name. Values match case-insensitively as
/// substrings (`name:pizza` finds `PizzaShackAPI`), or whole when quoted
/// (`name:"PizzaShackAPI"`). `context` matches the served context (`/pizzashack/1.0.0`), as
/// WSO2 stores it. An unknown field matches nothing.
pub(crate) fn matches_query(api: &Api, query: &str) -> bool {
    query_terms(query).iter().all(|(field, value, exact)| {
        let hits = |haystack: &str| {
            let haystack = haystack.to_lowercase();
            if *exact {
                haystack == *value
            } else {
                haystack.contains(value.as_str())
            }
        };
        match field.as_str() {
            "name" => hits(&api.name),
            "context" => hits(&api.served_context()) || hits(&api.context),
            "version" => hits(&api.version),
            "provider" => hits(&api.provider),
            "status" => hits(&api.life_cycle_status),
            "tags" | "tag" => api.tags.iter().any(|t| hits(t)),
            "description" => api.description.as_deref().is_some_and(hits),
            _ => false,
        }
    })
}

/// `(field, lower-cased value, exact?)` per whitespace-separated term; quotes may hold spaces.
fn query_terms(query: &str) -> Vec<(String, String, bool)> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in query.trim().chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms
        .into_iter()
        .map(|term| {
            let (field, value) = match term.split_once(':') {
                Some((f, v)) => (f.to_lowercase(), v.to_owned()),
                None => ("name".to_owned(), term),
            };
            let exact = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
            let value = value.trim_matches('"').to_lowercase();
            (field, value, exact)
        })
        .collect()
}

/// WSO2's `PAGINATION_LIMIT_DEFAULT` / `PAGINATION_OFFSET_DEFAULT`.
pub(crate) const DEFAULT_LIMIT: usize = 25;

/// `limit` and `offset` from the query; a value that is not a non-negative integer is CXF's
/// 404 for an unconvertible query parameter.
pub(crate) fn limit_offset(params: &BTreeMap<String, String>) -> Result<(usize, usize), RestError> {
    let number = |name: &str, default: usize| match params.get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            RestError::parameter_not_convertible(format!(
                "Invalid value '{v}' for query parameter '{name}': expected a non-negative integer"
            ))
        }),
    };
    Ok((number("limit", DEFAULT_LIMIT)?, number("offset", 0)?))
}

/// The page of `items` that `limit`/`offset` select, with the offset and limit used.
pub(crate) fn page<T: Clone>(
    items: &[T],
    params: &BTreeMap<String, String>,
) -> Result<(Vec<T>, usize, usize), RestError> {
    let (limit, offset) = limit_offset(params)?;
    let slice = items.iter().skip(offset).take(limit).cloned().collect();
    Ok((slice, offset, limit))
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
    let mut apis: Vec<&Api> = state
        .apis
        .values()
        .map(|r| &r.api)
        .filter(|a| matches_query(a, params.get("query").map_or("", String::as_str)))
        .collect();
    apis.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    let infos: Vec<Value> = apis.iter().map(|a| a.info()).collect();
    let (list, offset, limit) = page(&infos, &params)?;
    let query = params.get("query").map_or("", String::as_str);
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": api_list_pagination(offset, limit, infos.len(), query)}),
    ))
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, API_IMPORT_EXPORT])?;
    let state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    Ok(json_response(StatusCode::OK, record.api.masked()))
}

/// `PUT /apis/{id}`: name, version, context, provider and lifecycle state stay as they are;
/// deployed revisions are frozen, so gateways hear nothing until a new revision is deployed.
pub async fn update(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE, API_PUBLISH])?;
    let input: ApiInput = parse_json(&body)?;
    let now = cp.now_millis();
    let mut state = cp.lock();
    let record = state
        .apis
        .get_mut(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let mut api = record.api.clone();
    apply(&mut api, input)?;
    api.last_updated_time = now.to_string();
    record.api = api.clone();
    Ok(json_response(StatusCode::OK, api.masked()))
}

pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_DELETE, API_MANAGE, API_IMPORT_EXPORT])?;
    let mut state = cp.lock();
    if !state.apis.contains_key(&api_id) {
        return Err(RestError::api_not_found(&api_id));
    }
    if state.subscriptions.values().any(|s| s.api_id == api_id) {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            900366,
            "Failed to delete the API",
            "Cannot remove the API as active subscriptions exist",
        ));
    }
    let Some(record) = state.apis.remove(&api_id) else {
        return Err(RestError::api_not_found(&api_id));
    };
    for (label, deployment) in record.deployments {
        let context = record
            .revisions
            .values()
            .find(|r| r.id == deployment.revision_id)
            .map_or_else(
                || record.api.served_context(),
                |r| r.snapshot.served_context(),
            );
        cp.publish(
            &mut state,
            Event::RemoveApiFromGateway {
                label,
                api_id: api_id.clone(),
                context,
            },
        );
    }
    // `deleteAPI`: `Response.ok().build()`, no body (the spec's `content: {}`).
    Ok(StatusCode::OK.into_response())
}

/// The default API lifecycle (`APILifeCycle`): `(action, target state)` from each state.
fn transitions(status: &str) -> &'static [(&'static str, &'static str)] {
    match status {
        "CREATED" => &[
            ("Publish", "PUBLISHED"),
            ("Deploy as a Prototype", "PROTOTYPED"),
        ],
        "PROTOTYPED" => &[
            ("Publish", "PUBLISHED"),
            ("Demote to Created", "CREATED"),
            ("Deploy as a Prototype", "PROTOTYPED"),
        ],
        "PUBLISHED" => &[
            ("Block", "BLOCKED"),
            ("Deploy as a Prototype", "PROTOTYPED"),
            ("Demote to Created", "CREATED"),
            ("Deprecate", "DEPRECATED"),
            ("Publish", "PUBLISHED"),
        ],
        "BLOCKED" => &[("Deprecate", "DEPRECATED"), ("Re-Publish", "PUBLISHED")],
        "DEPRECATED" => &[("Retire", "RETIRED")],
        _ => &[],
    }
}

/// The state `action` leads to from `status`, if the default lifecycle allows it.
pub(crate) fn transition_target(status: &str, action: &str) -> Option<&'static str> {
    transitions(status)
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(action))
        .map(|(_, target)| *target)
}

/// `PUBLISHED` → `Published`, as `LifecycleState.state` names states.
fn display_state(status: &str) -> String {
    let lower = status.to_ascii_lowercase();
    let mut chars = lower.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

pub(crate) fn lifecycle_state_json(status: &str) -> Value {
    json!({
        "state": display_state(status),
        "checkItems": [],
        "availableTransitions": transitions(status)
            .iter()
            .map(|(event, target)| json!({"event": event, "targetState": display_state(target)}))
            .collect::<Vec<_>>(),
    })
}

/// `GET /apis/{apiId}/lifecycle-state`: the state and the actions available from it.
pub async fn lifecycle_state(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_PUBLISH, API_CREATE, API_MANAGE])?;
    let state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    Ok(json_response(
        StatusCode::OK,
        lifecycle_state_json(&record.api.life_cycle_status),
    ))
}

/// `GET /apis/{apiId}/lifecycle-history`: every change, oldest first, states as stored
/// (`CREATED`, `PUBLISHED`, ...); the creation has no `previousState`.
pub async fn lifecycle_history(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_PUBLISH, API_MANAGE])?;
    let state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    Ok(json_response(
        StatusCode::OK,
        lifecycle_history_json(&record.lifecycle_history),
    ))
}

/// `LifecycleHistory`: every change, oldest first (APIs and API products alike).
pub(super) fn lifecycle_history_json(history: &[LifecycleEvent]) -> Value {
    let list: Vec<Value> = history
        .iter()
        .map(|e| {
            let mut item = json!({"postState": e.post_state, "user": e.user,
                "updatedTime": super::rfc3339(e.time)});
            if let Some(previous) = &e.previous_state {
                item["previousState"] = json!(previous);
            }
            item
        })
        .collect();
    json!({"count": list.len(), "list": list})
}

pub async fn change_lifecycle(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[API_PUBLISH, API_MANAGE, API_IMPORT_EXPORT])?;
    // `changeAPILifecycle(action, apiId, …)`: both `@NotNull` query parameters.
    let (Some(api_id), Some(action)) = (params.get("apiId"), params.get("action")) else {
        Constraints::new()
            .required_param("changeAPILifecycle", 0, params.contains_key("action"))
            .required_param("changeAPILifecycle", 1, params.contains_key("apiId"))
            .check()?;
        return Err(RestError::bad_request("Parameter value missing"));
    };
    let mut state = cp.lock();
    let record = state
        .apis
        .get_mut(api_id)
        .ok_or_else(|| RestError::api_not_found(api_id))?;
    let current = record.api.life_cycle_status.clone();
    let Some((_, target)) = transitions(&current)
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(action))
    else {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            900381,
            "Unsupported state change action",
            format!("Lifecycle state change action {action} is not allowed"),
        ));
    };
    record.api.life_cycle_status = (*target).to_owned();
    record.api.last_updated_time = cp.now_millis().to_string();
    record.lifecycle_history.push(LifecycleEvent {
        previous_state: Some(current.clone()),
        post_state: (*target).to_owned(),
        user: caller.username.clone(),
        time: cp.now_millis(),
    });
    let record = record.clone();

    // Lifecycle is API-wide: every deployed artifact is re-sent with the new state, or
    // removed when the API is retired.
    for (label, deployment) in &record.deployments {
        let Some(revision) = record
            .revisions
            .values()
            .find(|r| r.id == deployment.revision_id)
        else {
            continue;
        };
        let event = if *target == "RETIRED" {
            Event::RemoveApiFromGateway {
                label: label.clone(),
                api_id: record.api.id.clone(),
                context: revision.snapshot.served_context(),
            }
        } else {
            let Some(env) = cp.environment(&state, label) else {
                continue;
            };
            Event::DeployApiInGateway {
                label: label.clone(),
                artifact: Box::new(artifact(revision, target, &env, deployment)),
            }
        };
        cp.publish(&mut state, event);
    }
    if *target == "RETIRED"
        && let Some(r) = state.apis.get_mut(api_id)
    {
        r.deployments.clear();
    }
    Ok(json_response(
        StatusCode::OK,
        json!({
            "workflowStatus": "APPROVED",
            "jsonPayload": "",
            "lifecycleState": lifecycle_state_json(target),
        }),
    ))
}

/// `POST /apis/validate?query=`: 200 when an API has that name (`name:` or a bare word) or
/// context (`context:`, as given or as served), 404 when none has (`validateAPI`).
pub async fn validate(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE])?;
    // `validateAPI(query, …)`: `@NotNull`.
    Constraints::new()
        .required_param("validateAPI", 0, params.contains_key("query"))
        .check()?;
    let query = params
        .get("query")
        .map(|q| q.trim())
        .filter(|q| !q.is_empty())
        .ok_or_else(|| RestError::bad_request("The query should not be empty"))?;
    let (field, value) = query.split_once(':').unwrap_or(("name", query));
    let state = cp.lock();
    let exists = state.apis.values().map(|r| &r.api).any(|a| match field {
        "name" => a.name.eq_ignore_ascii_case(value),
        "context" => {
            let wanted = value.trim_end_matches('/');
            a.context == wanted || a.served_context() == wanted
        }
        _ => false,
    });
    if exists {
        Ok(StatusCode::OK.into_response())
    } else {
        Err(RestError::new(
            StatusCode::NOT_FOUND,
            404,
            "Not Found",
            format!("No API matches '{query}'"),
        ))
    }
}

/// `POST /apis/copy-api?apiId=&newVersion=[&defaultVersion=]`: a new version of an API,
/// CREATED, with the same context, resources, endpoints, definition and documents
/// (`createNewAPIVersion`); a version the API already has → 409, code 900252.
pub async fn copy(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[API_CREATE, API_MANAGE])?;
    let (Some(api_id), Some(version)) = (
        params.get("apiId"),
        params
            .get("newVersion")
            .map(|v| v.trim())
            .filter(|v| !v.is_empty()),
    ) else {
        // `createNewAPIVersion(newVersion, apiId, …)`: both `@NotNull`; present but blank is
        // the implementation's 900700.
        Constraints::new()
            .required_param("createNewAPIVersion", 0, params.contains_key("newVersion"))
            .required_param("createNewAPIVersion", 1, params.contains_key("apiId"))
            .check()?;
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            900700,
            "Parameter value missing",
            "Some of the mandatory parameter values were missing",
        ));
    };
    let default_version = params
        .get("defaultVersion")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let now = cp.now_millis();
    let mut state = cp.lock();
    let source = state
        .apis
        .get(api_id)
        .ok_or_else(|| RestError::api_not_found(api_id))?
        .clone();
    if state
        .apis
        .values()
        .any(|r| r.api.name == source.api.name && r.api.version == version)
    {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            900252,
            "API version already exists",
            format!(
                "Version {version} of API {} already exists",
                source.api.name
            ),
        ));
    }
    let mut api = source.api.clone();
    api.id = cp.new_id();
    api.version = version.to_owned();
    api.life_cycle_status = "CREATED".to_owned();
    api.is_default_version = default_version;
    api.is_revision = false;
    api.revisioned_api_id = None;
    api.revision_id = 0;
    api.created_time = now.to_string();
    api.last_updated_time = now.to_string();
    if default_version {
        for other in state.apis.values_mut().filter(|r| r.api.name == api.name) {
            other.api.is_default_version = false;
        }
    }
    state.apis.insert(
        api.id.clone(),
        ApiRecord {
            api: api.clone(),
            revisions: BTreeMap::new(),
            last_revision_number: 0,
            deployments: BTreeMap::new(),
            lifecycle_history: vec![LifecycleEvent {
                previous_state: None,
                post_state: "CREATED".to_owned(),
                user: caller.username.clone(),
                time: now,
            }],
            definition: source.definition.clone(),
            documents: source.documents.clone(),
            thumbnail: source.thumbnail.clone(),
            comments: Vec::new(),
            ratings: BTreeMap::new(),
            environment_properties: BTreeMap::new(),
        },
    );
    Ok(with_location(
        json_response(StatusCode::CREATED, api.masked()),
        &cp.settings().mgmt_base_url(),
        &format!("{PUBLISHER_BASE}/apis/{}", api.id),
    ))
}

/// `GET /apis/{apiId}/resource-paths`: the API's resources as `ResourcePath`s, numbered in
/// order.
pub async fn resource_paths(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE])?;
    let state = cp.lock();
    let api = &state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?
        .api;
    let all: Vec<Value> = api
        .operations
        .iter()
        .enumerate()
        .map(|(i, op)| json!({"id": i + 1, "resourcePath": op.target, "httpVerb": op.verb}))
        .collect();
    let (list, offset, limit) = page(&all, &params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": crate::model::pagination(offset, limit, all.len())}),
    ))
}
