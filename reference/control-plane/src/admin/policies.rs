//! `/throttling/policies/{application,subscription,advanced}[/{policyId}]`
//! (`ThrottlingApiServiceImpl`): list, add, get, update, delete.
//!
//! As in WSO2: a duplicate name is 409 (`"<Level> Policy with name X already exists"`), an
//! update keeps the policy's id and name whatever the body says, and a policy still attached
//! (to an application, a subscription or an API) cannot be deleted — WSO2 answers that with
//! a 500. Built-in policies have no other protection in WSO2 and none here.

use super::scope::*;
use crate::ControlPlane;
use crate::error::RestError;
use crate::publisher::{RestResult, json_response, parse_json};
use crate::state::State as Store;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use std::sync::Arc;
use tollgate_protocol::event::Event;
use tollgate_protocol::throttle::{
    AdvancedPolicy, ApplicationPolicy, PolicyLevel, SubscriptionPolicy, ThrottleLimit,
    ThrottlePolicy,
};

const BASE: &str = "/api/am/admin/v4/throttling/policies";

fn level(segment: &str) -> Result<PolicyLevel, RestError> {
    match segment {
        "application" => Ok(PolicyLevel::Application),
        "subscription" => Ok(PolicyLevel::Subscription),
        "advanced" => Ok(PolicyLevel::Advanced),
        other => Err(RestError::new(
            StatusCode::NOT_FOUND,
            404,
            "Not Found",
            format!("No throttling policy level `{other}`"),
        )),
    }
}

/// `RestApiConstants.RESOURCE_*_POLICY`, for 404 descriptions.
fn resource(level: PolicyLevel) -> &'static str {
    match level {
        PolicyLevel::Application => "application policy",
        PolicyLevel::Subscription => "subscription policy",
        PolicyLevel::Advanced => "advanced policy",
        PolicyLevel::Custom => "custom rule",
    }
}

fn title(level: PolicyLevel) -> &'static str {
    match level {
        PolicyLevel::Application => "Application",
        PolicyLevel::Subscription => "Subscription",
        PolicyLevel::Advanced => "Advanced",
        PolicyLevel::Custom => "Custom",
    }
}

fn to_json(policy: &ThrottlePolicy) -> Value {
    serde_json::to_value(policy).unwrap_or(Value::Null)
}

/// `AdvancedThrottlePolicyInfo` in lists: no conditional groups.
fn list_item(policy: &ThrottlePolicy) -> Value {
    let mut value = to_json(policy);
    if let (ThrottlePolicy::Advanced(_), Some(object)) = (policy, value.as_object_mut()) {
        object.remove("conditionalGroups");
    }
    value
}

/// Parses a body of `level`'s DTO (its `type`, if any, is ignored: the path decides).
fn parse(level: PolicyLevel, body: &[u8]) -> Result<ThrottlePolicy, RestError> {
    let mut value: Value = parse_json(body)?;
    if let Some(object) = value.as_object_mut() {
        object.remove("type");
    }
    // `ThrottlePolicy`'s constraints, as its DTO's bean validation checks them.
    let text = |key: &str| value.get(key).and_then(Value::as_str);
    crate::constraints::Constraints::new()
        .required(
            "policyName",
            value.get("policyName").is_some_and(|v| !v.is_null()),
        )
        .size("policyName", text("policyName"), 1, 60)
        .size("displayName", text("displayName"), 0, 512)
        .size("description", text("description"), 0, 1024)
        .check()?;
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    let policy = match level {
        PolicyLevel::Application => {
            ThrottlePolicy::Application(parse_json::<ApplicationPolicy>(&bytes)?)
        }
        PolicyLevel::Subscription => {
            ThrottlePolicy::Subscription(parse_json::<SubscriptionPolicy>(&bytes)?)
        }
        PolicyLevel::Advanced => ThrottlePolicy::Advanced(parse_json::<AdvancedPolicy>(&bytes)?),
        // `/throttling/policies/custom` has its own handlers (`custom.rs`).
        PolicyLevel::Custom => ThrottlePolicy::Custom(parse_json(&bytes)?),
    };
    policy
        .default_limit()
        .map_or(Ok(()), ThrottleLimit::validate)
        .map_err(RestError::bad_request)?;
    if let ThrottlePolicy::Advanced(advanced) = &policy {
        for group in &advanced.conditional_groups {
            group.limit.validate().map_err(RestError::bad_request)?;
        }
    }
    if let ThrottlePolicy::Subscription(SubscriptionPolicy {
        permissions: Some(p),
        ..
    }) = &policy
        && p.roles.is_empty()
    {
        // ExceptionCodes.ROLES_CANNOT_BE_EMPTY
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            900915,
            "Role list cannot be empty",
            "Role list cannot be empty",
        ));
    }
    Ok(policy)
}

/// Sets id, name and the fields WSO2 fills in.
pub(super) fn stamp(policy: &mut ThrottlePolicy, id: &str, name: Option<&str>) {
    fn fill(
        policy_id: &mut String,
        policy_name: &mut String,
        display_name: &mut String,
        is_deployed: &mut bool,
        id: &str,
        name: Option<&str>,
    ) {
        *policy_id = id.to_owned();
        if let Some(name) = name {
            *policy_name = name.to_owned();
        }
        if display_name.is_empty() {
            *display_name = policy_name.clone();
        }
        *is_deployed = true;
    }
    match policy {
        ThrottlePolicy::Application(p) => fill(
            &mut p.policy_id,
            &mut p.policy_name,
            &mut p.display_name,
            &mut p.is_deployed,
            id,
            name,
        ),
        ThrottlePolicy::Subscription(p) => fill(
            &mut p.policy_id,
            &mut p.policy_name,
            &mut p.display_name,
            &mut p.is_deployed,
            id,
            name,
        ),
        ThrottlePolicy::Advanced(p) => fill(
            &mut p.policy_id,
            &mut p.policy_name,
            &mut p.display_name,
            &mut p.is_deployed,
            id,
            name,
        ),
        ThrottlePolicy::Custom(p) => fill(
            &mut p.policy_id,
            &mut p.policy_name,
            &mut p.display_name,
            &mut p.is_deployed,
            id,
            name,
        ),
    }
}

fn find(state: &Store, level: PolicyLevel, id: &str) -> Option<usize> {
    state
        .throttling
        .policies
        .iter()
        .position(|p| p.level() == level && p.id() == id)
}

pub async fn list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(segment): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, TIER_VIEW])?;
    let level = level(&segment)?;
    let state = cp.lock();
    let list: Vec<Value> = state
        .throttling
        .policies
        .iter()
        .filter(|p| p.level() == level)
        .map(list_item)
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list}),
    ))
}

/// `GET /throttling/policies/search?query=type:<t> name:<n>`: policies of every level as
/// `ThrottlePolicyDetails`, `type` as WSO2 names levels (`app`, `sub`, `api`). Each term is
/// optional; `name` matches a part of the name, in any case. The numeric `policyId` (a database
/// key in WSO2) is left out: policies here have only their UUID.
pub async fn search(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    crate::rest::Query(params): crate::rest::Query<std::collections::BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, TIER_VIEW, POLICIES_IMPORT_EXPORT])?;
    let query = params.get("query").map_or("", String::as_str);
    let (mut kind, mut name) = (None, None);
    for term in query.split_whitespace() {
        match term.split_once(':') {
            Some(("type", t)) => kind = Some(t.to_ascii_lowercase()),
            Some(("name", n)) => name = Some(n.to_ascii_lowercase()),
            _ => name = Some(term.to_ascii_lowercase()),
        }
    }
    let short = |level: PolicyLevel| match level {
        PolicyLevel::Application => "app",
        PolicyLevel::Subscription => "sub",
        PolicyLevel::Advanced => "api",
        PolicyLevel::Custom => "global",
    };
    let state = cp.lock();
    let list: Vec<Value> = state
        .throttling
        .policies
        .iter()
        .filter(|p| {
            kind.as_deref()
                .is_none_or(|k| k == "all" || k == short(p.level()))
        })
        .filter(|p| {
            name.as_deref()
                .is_none_or(|n| p.name().to_ascii_lowercase().contains(n))
        })
        .map(|p| {
            let (display_name, description, deployed) = match p {
                ThrottlePolicy::Application(x) => (&x.display_name, &x.description, x.is_deployed),
                ThrottlePolicy::Subscription(x) => (&x.display_name, &x.description, x.is_deployed),
                ThrottlePolicy::Advanced(x) => (&x.display_name, &x.description, x.is_deployed),
                ThrottlePolicy::Custom(x) => (&x.display_name, &x.description, x.is_deployed),
            };
            json!({"uuid": p.id(), "policyName": p.name(), "displayName": display_name,
                "description": description, "isDeployed": deployed, "type": short(p.level())})
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list}),
    ))
}

pub async fn create(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(segment): Path<String>,
    body: Bytes,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, TIER_MANAGE])?;
    let level = level(&segment)?;
    let mut policy = parse(level, &body)?;
    if policy.name().trim().is_empty() {
        // RestApiAdminUtils.validateThrottlePolicyNameProperty
        return Err(RestError::bad_request(
            "policyName property value of payload cannot be blank",
        ));
    }
    let id = cp.new_id();
    stamp(&mut policy, &id, None);
    let mut state = cp.lock();
    if state
        .throttling
        .policies
        .iter()
        .any(|p| p.level() == level && p.name() == policy.name())
    {
        return Err(RestError::conflict(format!(
            "{} Policy with name {} already exists",
            title(level),
            policy.name()
        )));
    }
    state.throttling.policies.push(policy.clone());
    let body = to_json(&policy);
    cp.publish(
        &mut state,
        Event::PolicyCreate {
            policy: Box::new(policy),
        },
    );
    let mut response = json_response(StatusCode::CREATED, body);
    if let Ok(location) = HeaderValue::from_str(&format!("{BASE}/{}/{id}", level.as_str())) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((segment, id)): Path<(String, String)>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, TIER_VIEW])?;
    let level = level(&segment)?;
    let state = cp.lock();
    let index =
        find(&state, level, &id).ok_or_else(|| RestError::not_found(resource(level), &id))?;
    Ok(json_response(
        StatusCode::OK,
        to_json(&state.throttling.policies[index]),
    ))
}

pub async fn update(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((segment, id)): Path<(String, String)>,
    body: Bytes,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, TIER_MANAGE])?;
    let level = level(&segment)?;
    let mut policy = parse(level, &body)?;
    let mut state = cp.lock();
    let index =
        find(&state, level, &id).ok_or_else(|| RestError::not_found(resource(level), &id))?;
    // The id and the name are the existing policy's, whatever the body says.
    let name = state.throttling.policies[index].name().to_owned();
    stamp(&mut policy, &id, Some(&name));
    state.throttling.policies[index] = policy.clone();
    let body = to_json(&policy);
    cp.publish(
        &mut state,
        Event::PolicyUpdate {
            policy: Box::new(policy),
        },
    );
    Ok(json_response(StatusCode::OK, body))
}

/// WSO2's `hasAttachments`: who still uses the policy.
fn attached(state: &Store, level: PolicyLevel, name: &str) -> bool {
    match level {
        // Nothing names a custom rule: it applies to every request.
        PolicyLevel::Custom => false,
        PolicyLevel::Application => state
            .applications
            .values()
            .any(|a| a.app.throttling_policy == name),
        PolicyLevel::Subscription => {
            state
                .subscriptions
                .values()
                .any(|s| s.throttling_policy == name)
                || state
                    .apis
                    .values()
                    .any(|r| r.api.policies.iter().any(|p| p == name))
        }
        PolicyLevel::Advanced => state.apis.values().any(|r| {
            r.api.api_throttling_policy.as_deref() == Some(name)
                || r.api
                    .operations
                    .iter()
                    .any(|op| op.throttling_policy.as_deref() == Some(name))
        }),
    }
}

/// WSO2's delete message for each level (`ThrottlingApiServiceImpl`), logged there and
/// returned here as the 500's description.
fn delete_error(level: PolicyLevel, id: &str) -> RestError {
    let what = match level {
        PolicyLevel::Application => "Application level policy",
        PolicyLevel::Subscription => "Subscription level policy",
        PolicyLevel::Advanced => "Advanced level policy",
        PolicyLevel::Custom => "custom rule",
    };
    RestError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        500,
        "Internal server error",
        format!("Error while deleting {what} : {id}"),
    )
}

pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((segment, id)): Path<(String, String)>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, TIER_MANAGE, POLICIES_IMPORT_EXPORT])?;
    let level = level(&segment)?;
    let mut state = cp.lock();
    let index =
        find(&state, level, &id).ok_or_else(|| RestError::not_found(resource(level), &id))?;
    let name = state.throttling.policies[index].name().to_owned();
    if attached(&state, level, &name) {
        // WSO2 answers an advanced policy in use with its own code (ExceptionCodes
        // ALREADY_ASSIGNED_ADVANCED_POLICY_DELETE_ERROR); the other levels with a plain 500.
        if level == PolicyLevel::Advanced {
            return Err(RestError::new(
                StatusCode::FORBIDDEN,
                900971,
                "Cannot delete the advanced throttling policy",
                format!(
                    "Cannot delete the advanced policy with the name {name} because it is \
                     already assigned to an API/Resource"
                ),
            ));
        }
        return Err(delete_error(level, &id));
    }
    state.throttling.policies.remove(index);
    cp.publish(
        &mut state,
        Event::PolicyDelete {
            policy_level: level,
            policy_id: id,
            policy_name: name,
        },
    );
    Ok(StatusCode::OK.into_response())
}
