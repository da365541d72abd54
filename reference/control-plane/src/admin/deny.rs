//! `/throttling/deny-policies` (list, add) and `/throttling/deny-policy/{conditionId}` (get,
//! delete, patch the status) — WSO2's blocking conditions (§4.7).
//!
//! As in WSO2 (`ThrottlingApiServiceImpl`, `APIProviderImpl.addBlockCondition`): the same
//! type and value twice is 409 `"A black list item with type: API, value: /deny/1.0 already
//! exists"`; an API condition whose value is not the context (with version) of an existing
//! API is 500 `"… Couldn't Save Block Condition Due to Invalid API Context …"`, one whose
//! `{owner}:{name}` names no application 500 `"… Invalid Application name …"`, a malformed
//! address 500 `"… is an invalid ip address format"` (WSO2's Cucumber suite pins these 500s).
//! A USER value is not checked against existing users — WSO2 does not either — but is stored
//! with the tenant domain (`user@carbon.super`). A body without `conditionStatus` creates an
//! active condition.

use super::scope::*;
use crate::ControlPlane;
use crate::constraints::Constraints;
use crate::error::RestError;
use crate::publisher::{RestResult, json_response, parse_json};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tollgate_protocol::event::Event;
use tollgate_protocol::throttle::{BlockingCondition, ConditionError, ConditionType, DenyPolicy};

/// The only tenant the reference serves (WSO2's super tenant).
const TENANT_DOMAIN: &str = "carbon.super";

const RESOURCE: &str = "block condition";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DenyInput {
    #[serde(default)]
    condition_type: Option<String>,
    #[serde(default)]
    condition_value: Option<Value>,
    #[serde(default)]
    condition_status: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusInput {
    #[serde(default)]
    condition_status: Option<bool>,
}

const CONDITION_TYPES: &[&str] = &["API", "APPLICATION", "IP", "IPRANGE", "USER"];

/// How WSO2 prints a condition value in messages: strings bare, objects as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// WSO2's answer to a condition `ApiMgtDAO#addBlockConditions` refuses: a 500 whose
/// description names the condition and the reason (pinned by WSO2's own Cucumber suite).
fn not_saved(kind: ConditionType, value: &Value, reason: &str) -> RestError {
    RestError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        500,
        "Internal server error",
        format!(
            "Error while adding Blocking Condition. Condition type: {}, value: {}. {reason}",
            kind.as_str(),
            shown(value)
        ),
    )
}

fn to_json(policy: &DenyPolicy) -> Value {
    serde_json::to_value(policy).unwrap_or(Value::Null)
}

pub async fn list(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, &[ADMIN, BL_VIEW])?;
    let state = cp.lock();
    let list: Vec<Value> = state.throttling.deny_policies.iter().map(to_json).collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list}),
    ))
}

pub async fn create(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: Bytes,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, BL_MANAGE])?;
    let input: DenyInput = parse_json(&body)?;
    // `BlockingConditionDTO`: `conditionType` (an enum) and `conditionValue` are `@NotNull`.
    Constraints::new()
        .required_enum(
            "conditionType",
            input.condition_type.as_deref(),
            CONDITION_TYPES,
        )
        .required(
            "conditionValue",
            input.condition_value.as_ref().is_some_and(|v| !v.is_null()),
        )
        .check()?;
    let (Some(kind), Some(mut value)) = (
        input
            .condition_type
            .and_then(|t| serde_json::from_value::<ConditionType>(Value::String(t)).ok()),
        input.condition_value,
    ) else {
        return Err(RestError::bad_request("Invalid conditionType"));
    };
    // WSO2 stores a user condition with the tenant domain (`ApiMgtDAO#addBlockConditions`).
    if kind == ConditionType::User
        && let Some(user) = value.as_str()
        && !user.contains('@')
    {
        value = Value::String(format!("{user}@{TENANT_DOMAIN}"));
    }
    match BlockingCondition::parse(kind, &value) {
        // `ApiMgtDAO#addBlockConditions` validates addresses and raises a plain
        // APIManagementException, which the REST layer answers with 500.
        Err(ConditionError::BadIp(ip)) => {
            return Err(not_saved(
                kind,
                &value,
                &format!("{ip} is an invalid ip address format"),
            ));
        }
        Err(error) => return Err(RestError::bad_request(error.to_string())),
        Ok(_) => {}
    }
    let id = cp.new_id();
    let mut state = cp.lock();
    if state
        .throttling
        .deny_policies
        .iter()
        .any(|d| d.condition_type == kind && d.condition_value == value)
    {
        return Err(RestError::conflict(format!(
            "A black list item with type: {}, value: {} already exists",
            kind.as_str(),
            shown(&value)
        )));
    }
    if kind == ConditionType::Api {
        let context = value.as_str().unwrap_or_default();
        if !state
            .apis
            .values()
            .any(|r| r.api.served_context() == context)
        {
            return Err(not_saved(
                kind,
                &value,
                &format!("Couldn't Save Block Condition Due to Invalid API Context {context}"),
            ));
        }
    }
    // `{subscriber}:{appName}` must name an existing application.
    if kind == ConditionType::Application {
        let text = value.as_str().unwrap_or_default();
        let (owner, name) = text.split_once(':').unwrap_or(("", text));
        let owner_name = owner.split('@').next().unwrap_or(owner);
        if !state
            .applications
            .values()
            .any(|a| a.app.name == name && a.app.owner == owner_name)
        {
            return Err(not_saved(
                kind,
                &value,
                &format!(
                    "Couldn't Save Block Condition Due to Invalid Application name {name} from \
                     Application Owner {owner}"
                ),
            ));
        }
    }
    let policy = DenyPolicy {
        condition_id: id.clone(),
        condition_type: kind,
        condition_value: value,
        condition_status: input.condition_status.unwrap_or(true),
    };
    state.throttling.deny_policies.push(policy.clone());
    let body = to_json(&policy);
    let status = policy.condition_status;
    cp.publish(
        &mut state,
        Event::Blocking {
            condition: policy,
            state: status,
        },
    );
    let mut response = json_response(StatusCode::CREATED, body);
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/am/admin/v4/throttling/deny-policy/{id}"))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

fn position(state: &crate::state::State, id: &str) -> Result<usize, RestError> {
    state
        .throttling
        .deny_policies
        .iter()
        .position(|d| d.condition_id == id)
        .ok_or_else(|| RestError::not_found(RESOURCE, id))
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, BL_VIEW])?;
    let state = cp.lock();
    let index = position(&state, &id)?;
    Ok(json_response(
        StatusCode::OK,
        to_json(&state.throttling.deny_policies[index]),
    ))
}

pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, BL_MANAGE])?;
    let mut state = cp.lock();
    let index = position(&state, &id)?;
    let policy = state.throttling.deny_policies.remove(index);
    cp.publish(
        &mut state,
        Event::Blocking {
            condition: policy,
            state: false,
        },
    );
    Ok(StatusCode::OK.into_response())
}

pub async fn patch(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, BL_MANAGE])?;
    let input: StatusInput = parse_json(&body)?;
    // `BlockingConditionStatusDTO.conditionStatus` is `@NotNull`.
    Constraints::new()
        .required("conditionStatus", input.condition_status.is_some())
        .check()?;
    let status = input.condition_status.unwrap_or_default();
    let mut state = cp.lock();
    let index = position(&state, &id)?;
    state.throttling.deny_policies[index].condition_status = status;
    let policy = state.throttling.deny_policies[index].clone();
    let body = to_json(&policy);
    cp.publish(
        &mut state,
        Event::Blocking {
            condition: policy,
            state: status,
        },
    );
    Ok(json_response(StatusCode::OK, body))
}
