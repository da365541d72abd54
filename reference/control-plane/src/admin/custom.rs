//! `/throttling/policies/custom[/{ruleId}]` (`ThrottlingApiServiceImpl#throttlingPoliciesCustom*`):
//! custom rules, kept with the other policies as [`ThrottlePolicy::Custom`] and published with
//! the same `POLICY_*` events, so the Traffic Manager counts them and gateways learn their key
//! templates as they learn every policy.
//!
//! As in WSO2: `policyName` (on POST), `siddhiQuery` and `keyTemplate` must not be blank (400,
//! 900705, `RestApiAdminUtils#validateCustomRuleRequiredProperties`); a taken name is 409
//! (`"Custom rule with name X already exists"`); an update keeps the rule's id and name. Where
//! WSO2 hands the query to Siddhi, Tollgate compiles the subset it runs
//! (`tollgate_protocol::throttle::siddhi`) and refuses anything else with a 400 naming the
//! line and column.

use super::policies::stamp;
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
use tollgate_protocol::throttle::{CustomRule, PolicyLevel, ThrottlePolicy};

const BASE: &str = "/api/am/admin/v4/throttling/policies/custom";
/// `RestApiConstants.RESOURCE_CUSTOM_RULE`.
const RESOURCE: &str = "custom rule";

/// `CustomRule` as the Admin API answers it (no `type`: the DTO has no discriminator value).
fn to_json(rule: &CustomRule) -> Value {
    serde_json::to_value(rule).unwrap_or(Value::Null)
}

fn answer(policy: &ThrottlePolicy) -> Value {
    match policy {
        ThrottlePolicy::Custom(rule) => to_json(rule),
        _ => Value::Null,
    }
}

/// `ExceptionCodes.BLANK_PROPERTY_VALUE`.
fn blank(property: &str) -> RestError {
    RestError::new(
        StatusCode::BAD_REQUEST,
        900705,
        "Blank value for required property",
        format!("{property} property value of payload cannot be blank"),
    )
}

/// Parses and checks a body; `post` also requires a name.
fn parse(body: &[u8], post: bool) -> Result<CustomRule, RestError> {
    let rule: CustomRule = parse_json(body)?;
    if post && rule.policy_name.trim().is_empty() {
        return Err(blank("policyName"));
    }
    if rule.siddhi_query.trim().is_empty() {
        return Err(blank("siddhiQuery"));
    }
    if rule.key_template.trim().is_empty() {
        return Err(blank("keyTemplate"));
    }
    rule.compile().map_err(|e| {
        RestError::bad_request(format!(
            "Invalid Siddhi query at line {}, column {}: {}",
            e.line, e.column, e.message
        ))
    })?;
    Ok(rule)
}

fn rules(state: &Store) -> impl Iterator<Item = (usize, &CustomRule)> {
    state
        .throttling
        .policies
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            ThrottlePolicy::Custom(rule) => Some((i, rule)),
            _ => None,
        })
}

fn find(state: &Store, id: &str) -> Result<(usize, CustomRule), RestError> {
    rules(state)
        .find(|(_, r)| r.policy_id == id)
        .map(|(i, r)| (i, r.clone()))
        .ok_or_else(|| RestError::not_found(RESOURCE, id))
}

pub async fn list(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, &[ADMIN, TIER_VIEW])?;
    let state = cp.lock();
    let list: Vec<Value> = rules(&state).map(|(_, r)| to_json(r)).collect();
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
    cp.authorize(&headers, &[ADMIN, TIER_MANAGE])?;
    let rule = parse(&body, true)?;
    let id = cp.new_id();
    let mut policy = ThrottlePolicy::Custom(rule);
    stamp(&mut policy, &id, None);
    let mut state = cp.lock();
    if rules(&state).any(|(_, r)| r.policy_name == policy.name()) {
        return Err(RestError::conflict(format!(
            "Custom rule with name {} already exists",
            policy.name()
        )));
    }
    state.throttling.policies.push(policy.clone());
    let body = answer(&policy);
    cp.publish(
        &mut state,
        Event::PolicyCreate {
            policy: Box::new(policy),
        },
    );
    let mut response = json_response(StatusCode::CREATED, body);
    if let Ok(location) = HeaderValue::from_str(&format!("{BASE}/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, TIER_VIEW])?;
    let (_, rule) = find(&cp.lock(), &id)?;
    Ok(json_response(StatusCode::OK, to_json(&rule)))
}

pub async fn update(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, TIER_MANAGE])?;
    let rule = parse(&body, false)?;
    let mut state = cp.lock();
    let (index, existing) = find(&state, &id)?;
    // The id and the name are the existing rule's, whatever the body says.
    let mut policy = ThrottlePolicy::Custom(rule);
    stamp(&mut policy, &id, Some(&existing.policy_name));
    state.throttling.policies[index] = policy.clone();
    let body = answer(&policy);
    cp.publish(
        &mut state,
        Event::PolicyUpdate {
            policy: Box::new(policy),
        },
    );
    Ok(json_response(StatusCode::OK, body))
}

pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, TIER_MANAGE, POLICIES_IMPORT_EXPORT])?;
    let mut state = cp.lock();
    let (index, existing) = find(&state, &id)?;
    state.throttling.policies.remove(index);
    cp.publish(
        &mut state,
        Event::PolicyDelete {
            policy_level: PolicyLevel::Custom,
            policy_id: id,
            policy_name: existing.policy_name,
        },
    );
    Ok(StatusCode::OK.into_response())
}
