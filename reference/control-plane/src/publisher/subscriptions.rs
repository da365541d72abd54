//! Publisher `GET /subscriptions`, `POST /subscriptions/block-subscription` and
//! `unblock-subscription` (`SubscriptionsApiServiceImpl`): a provider sees who subscribed to
//! its APIs and blocks a subscription entirely (`BLOCKED`) or for production keys only
//! (`PROD_ONLY_BLOCKED`). A change is a `SUBSCRIPTIONS_UPDATE` event, so every gateway refuses
//! the blocked calls with 401/900907 (`tollgate_gateway::authorize`).

use super::apis::page;
use super::{RestResult, json_response};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::constraints::Constraints;
use crate::error::RestError;
use crate::rest::Query;
use crate::state::State as Store;
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tollgate_protocol::event::Event;
use tollgate_protocol::store::{Subscription, SubscriptionStatus};

/// The Publisher's `Subscription`, with its `ApplicationInfo`.
fn subscription_json(state: &Store, sub: &Subscription) -> Value {
    let app = state.applications.get(&sub.application_id);
    let subscription_count = state
        .subscriptions
        .values()
        .filter(|s| s.application_id == sub.application_id)
        .count();
    json!({
        "subscriptionId": sub.id,
        "applicationInfo": {
            "applicationId": sub.application_id,
            "name": app.map(|a| a.app.name.clone()),
            "subscriber": app.map(|a| a.app.owner.clone()),
            "description": app.and_then(|a| a.description.clone()),
            "subscriptionCount": subscription_count,
        },
        "throttlingPolicy": sub.throttling_policy,
        "subscriptionStatus": sub.status,
    })
}

pub async fn list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(
        &headers,
        &[API_VIEW, SUBSCRIPTION_VIEW, SUBSCRIPTION_MANAGE],
    )?;
    let state = cp.lock();
    let api_id = params.get("apiId");
    if let Some(api_id) = api_id
        && !state.apis.contains_key(api_id)
    {
        return Err(RestError::api_not_found(api_id));
    }
    let all: Vec<Value> = state
        .subscriptions
        .values()
        .filter(|s| api_id.is_none_or(|a| s.api_id == *a))
        .map(|s| subscription_json(&state, s))
        .collect();
    let (list, offset, limit) = page(&all, &params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": crate::model::pagination(offset, limit, all.len())}),
    ))
}

fn subscription_id(params: &BTreeMap<String, String>) -> Result<String, RestError> {
    params
        .get("subscriptionId")
        .filter(|s| !s.is_empty())
        .cloned()
        .ok_or_else(|| RestError::bad_request("subscriptionId cannot be empty"))
}

/// Sets the subscription's status and tells the gateways; `Response.ok().build()`.
fn set_status(cp: &ControlPlane, id: &str, status: SubscriptionStatus) -> RestResult {
    let mut state = cp.lock();
    let sub = state
        .subscriptions
        .get_mut(id)
        .ok_or_else(|| RestError::not_found("subscription", id))?;
    sub.status = status;
    let subscription = sub.clone();
    cp.publish(&mut state, Event::SubscriptionsUpdate { subscription });
    Ok(StatusCode::OK.into_response())
}

pub async fn block(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[SUBSCRIPTION_BLOCK, SUBSCRIPTION_MANAGE])?;
    // `blockSubscription(subscriptionId, blockState, …)`: both `@NotNull`.
    Constraints::new()
        .required_param(
            "blockSubscription",
            0,
            params.contains_key("subscriptionId"),
        )
        .required_param("blockSubscription", 1, params.contains_key("blockState"))
        .check()?;
    let id = subscription_id(&params)?;
    let block_state = params.get("blockState").map_or("", String::as_str);
    let status = match block_state {
        "BLOCKED" => SubscriptionStatus::Blocked,
        "PROD_ONLY_BLOCKED" => SubscriptionStatus::ProdOnlyBlocked,
        other => {
            return Err(RestError::bad_request(format!(
                "Invalid blockState {other}"
            )));
        }
    };
    set_status(&cp, &id, status)
}

pub async fn unblock(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[SUBSCRIPTION_BLOCK, SUBSCRIPTION_MANAGE])?;
    Constraints::new()
        .required_param(
            "unBlockSubscription",
            0,
            params.contains_key("subscriptionId"),
        )
        .check()?;
    let id = subscription_id(&params)?;
    set_status(&cp, &id, SubscriptionStatus::Unblocked)
}

/// `GET /subscriptions/{subscriptionId}/subscriber-info`: who subscribed (the application's
/// owner) and their claims (none kept here).
pub async fn subscriber_info(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    crate::rest::Path(id): crate::rest::Path<String>,
) -> RestResult {
    cp.authorize(
        &headers,
        &[API_VIEW, SUBSCRIPTION_VIEW, SUBSCRIPTION_MANAGE],
    )?;
    let state = cp.lock();
    let sub = state
        .subscriptions
        .get(&id)
        .ok_or_else(|| RestError::not_found("subscription", &id))?;
    let owner = state
        .applications
        .get(&sub.application_id)
        .map(|a| a.app.owner.clone())
        .unwrap_or_default();
    Ok(json_response(
        StatusCode::OK,
        json!({"name": owner, "claims": []}),
    ))
}
