//! Applications and subscriptions. Each change is published to the gateways
//! (`APPLICATION_*`, `SUBSCRIPTIONS_*`), which validate tokens against this data.

use super::{api_info, visible_in_devportal};
use crate::ControlPlane;
use crate::access::{Caller, scope::*};
use crate::admin::ThrottlingState;
use crate::error::RestError;
use crate::publisher::apis::page;
use crate::publisher::{RestResult, json_response, parse_json};
use crate::rest::{DEVPORTAL_BASE, JsonBody, Path, Query, with_location};
use crate::state::{ApplicationRecord, State as Store};
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tollgate_protocol::event::Event;
use tollgate_protocol::store::{Application, Subscription, SubscriptionStatus};
use tollgate_protocol::throttle::PolicyLevel;

/// The default application-level policies (`APIUtil.addDefaultTenantAdvancedThrottlePolicies`).

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ApplicationInput {
    name: Option<String>,
    throttling_policy: Option<String>,
    description: Option<String>,
    token_type: Option<String>,
    attributes: Option<Map<String, Value>>,
}

impl ApplicationInput {
    /// The `Application` schema's constraints (`devportal-v3.yaml`), `POST` and `PUT` alike.
    fn check(&self) -> Result<(), RestError> {
        crate::constraints::Constraints::new()
            .required("name", self.name.is_some())
            .size("name", self.name.as_deref(), 1, 100)
            .required("throttlingPolicy", self.throttling_policy.is_some())
            .size(
                "throttlingPolicy",
                self.throttling_policy.as_deref(),
                1,
                usize::MAX,
            )
            .size("description", self.description.as_deref(), 0, 512)
            .check()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct SubscriptionInput {
    api_id: Option<String>,
    application_id: Option<String>,
    throttling_policy: Option<String>,
}

pub(crate) fn application_info(record: &ApplicationRecord, subscriptions: usize) -> Value {
    let app = &record.app;
    json!({
        "applicationId": app.id,
        "name": app.name,
        "throttlingPolicy": app.throttling_policy,
        "description": record.description,
        "status": "APPROVED",
        "groups": [],
        "subscriptionCount": subscriptions,
        "attributes": record.attributes,
        "owner": app.owner,
        "tokenType": app.token_type,
        "createdTime": record.created_time.to_string(),
        "updatedTime": record.updated_time.to_string(),
    })
}

fn application_json(state: &Store, record: &ApplicationRecord) -> Value {
    let subscriptions = subscription_count(state, &record.app.id);
    let mut value = application_info(record, subscriptions);
    if let Some(obj) = value.as_object_mut() {
        let keys: Vec<Value> = state
            .key_mappings
            .values()
            .filter(|k| k.mapping.application_id == record.app.id)
            .map(|k| super::keys::key_json(k, None, None))
            .collect();
        obj.insert("keys".into(), Value::Array(keys));
        obj.insert("subscriptionScopes".into(), json!([]));
        obj.insert("hashEnabled".into(), json!(false));
    }
    value
}

fn subscription_count(state: &Store, app_id: &str) -> usize {
    state
        .subscriptions
        .values()
        .filter(|s| s.application_id == app_id)
        .count()
}

/// The caller's application, or WSO2's 404 (another user's application is not found either).
pub(crate) fn owned_application<'a>(
    state: &'a Store,
    caller: &Caller,
    app_id: &str,
) -> Result<&'a ApplicationRecord, RestError> {
    state
        .applications
        .get(app_id)
        .filter(|a| a.app.owner == caller.username)
        .ok_or_else(|| RestError::not_found("Application", app_id))
}

/// An application's tier must be one of the tenant's application policies: the built-ins
/// (`10PerMin`, `20PerMin`, `50PerMin`, `Unlimited`) or one created through the Admin API.
fn check_policy(throttling: &ThrottlingState, policy: &str) -> Result<(), RestError> {
    let known = throttling
        .policies
        .iter()
        .any(|p| p.level() == PolicyLevel::Application && p.name() == policy);
    if known {
        Ok(())
    } else {
        Err(RestError::bad_request(format!(
            "Specified throttling policy {policy} is invalid"
        )))
    }
}

fn check_token_type(token_type: &str) -> Result<String, RestError> {
    let upper = token_type.to_ascii_uppercase();
    if upper == "JWT" || upper == "OAUTH" {
        Ok(upper)
    } else {
        Err(RestError::bad_request(format!(
            "Invalid token type {token_type}. Token type should be either JWT or OAUTH"
        )))
    }
}

fn duplicate_name(name: &str) -> RestError {
    RestError::conflict(format!(
        "A duplicate application already exists by the name - {name}"
    ))
}

pub async fn create(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, APP_MANAGE])?;
    let input: ApplicationInput = parse_json(&body)?;
    input.check()?;
    let name = input
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RestError::bad_request("Application name cannot be empty"))?;
    let policy = input
        .throttling_policy
        .filter(|p| !p.is_empty())
        .ok_or_else(|| RestError::bad_request("Throttling tier cannot be null"))?;
    let token_type = check_token_type(input.token_type.as_deref().unwrap_or("JWT"))?;
    let now = cp.now_millis();
    let mut state = cp.lock();
    check_policy(&state.throttling, &policy)?;
    if state.application_by_name(&caller.username, &name).is_some() {
        return Err(duplicate_name(&name));
    }
    let record = ApplicationRecord {
        app: Application {
            id: cp.new_id(),
            name,
            owner: caller.username.clone(),
            throttling_policy: policy,
            token_type,
        },
        description: input.description,
        attributes: input.attributes.unwrap_or_default(),
        created_time: now,
        updated_time: now,
    };
    state
        .applications
        .insert(record.app.id.clone(), record.clone());
    cp.publish(
        &mut state,
        Event::ApplicationCreate {
            application: record.app.clone(),
        },
    );
    // `ApplicationsApiServiceImpl.applicationsPost`: `Response.created("/applications/" + id)`.
    Ok(with_location(
        json_response(StatusCode::CREATED, application_json(&state, &record)),
        &cp.settings().mgmt_base_url(),
        &format!("{DEVPORTAL_BASE}/applications/{}", record.app.id),
    ))
}

pub async fn list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, APP_MANAGE, APP_IMPORT_EXPORT])?;
    let query = params
        .get("query")
        .map(|q| q.to_ascii_lowercase())
        .unwrap_or_default();
    let state = cp.lock();
    let mut apps: Vec<&ApplicationRecord> = state
        .applications
        .values()
        .filter(|a| a.app.owner == caller.username)
        .filter(|a| a.app.name.to_ascii_lowercase().contains(&query))
        .collect();
    apps.sort_by(|a, b| a.app.name.cmp(&b.app.name));
    let infos: Vec<Value> = apps
        .iter()
        .map(|a| application_info(a, subscription_count(&state, &a.app.id)))
        .collect();
    let (list, offset, limit) = page(&infos, &params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": crate::model::pagination(offset, limit, infos.len())}),
    ))
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(app_id): Path<String>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, APP_MANAGE])?;
    let state = cp.lock();
    let record = owned_application(&state, &caller, &app_id)?;
    Ok(json_response(
        StatusCode::OK,
        application_json(&state, record),
    ))
}

pub async fn update(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(app_id): Path<String>,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, APP_MANAGE])?;
    let input: ApplicationInput = parse_json(&body)?;
    input.check()?;
    let now = cp.now_millis();
    let mut state = cp.lock();
    let mut record = owned_application(&state, &caller, &app_id)?.clone();
    if let Some(name) = input
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
    {
        if state
            .application_by_name(&caller.username, &name)
            .is_some_and(|other| other.app.id != app_id)
        {
            return Err(duplicate_name(&name));
        }
        record.app.name = name;
    }
    if let Some(policy) = input.throttling_policy {
        check_policy(&state.throttling, &policy)?;
        record.app.throttling_policy = policy;
    }
    if let Some(token_type) = input.token_type {
        record.app.token_type = check_token_type(&token_type)?;
    }
    if input.description.is_some() {
        record.description = input.description;
    }
    if let Some(attributes) = input.attributes {
        record.attributes = attributes;
    }
    record.updated_time = now;
    state.applications.insert(app_id, record.clone());
    cp.publish(
        &mut state,
        Event::ApplicationUpdate {
            application: record.app.clone(),
        },
    );
    Ok(json_response(
        StatusCode::OK,
        application_json(&state, &record),
    ))
}

/// Deleting an application removes its subscriptions and key mappings too; gateways hear each
/// removal before the application's own.
pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(app_id): Path<String>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, APP_MANAGE, APP_IMPORT_EXPORT])?;
    let mut state = cp.lock();
    owned_application(&state, &caller, &app_id)?;
    remove_application(&cp, &mut state, app_id);
    // `Response.ok().build()`: no body.
    Ok(StatusCode::OK.into_response())
}

/// Removes an application with its subscriptions and keys, telling the gateways of each.
pub(crate) fn remove_application(cp: &ControlPlane, state: &mut Store, app_id: String) {
    let subscriptions: Vec<String> = state
        .subscriptions
        .values()
        .filter(|s| s.application_id == app_id)
        .map(|s| s.id.clone())
        .collect();
    for id in subscriptions {
        state.subscriptions.remove(&id);
        cp.publish(
            state,
            Event::SubscriptionsDelete {
                subscription_id: id,
            },
        );
    }
    let mappings: Vec<(String, String)> = state
        .key_mappings
        .values()
        .filter(|k| k.mapping.application_id == app_id)
        .map(|k| (k.id.clone(), k.mapping.consumer_key.clone()))
        .collect();
    for (id, consumer_key) in mappings {
        state.key_mappings.remove(&id);
        cp.publish(state, Event::RemoveApplicationKeymapping { consumer_key });
    }
    state.applications.remove(&app_id);
    cp.publish(
        state,
        Event::ApplicationDelete {
            application_id: app_id,
        },
    );
}

fn subscription_json(state: &Store, sub: &Subscription) -> Value {
    let api = state.apis.get(&sub.api_id).map(|r| api_info(&r.api));
    let app = state
        .applications
        .get(&sub.application_id)
        .map(|a| application_info(a, subscription_count(state, &a.app.id)));
    json!({
        "subscriptionId": sub.id,
        "applicationId": sub.application_id,
        "apiId": sub.api_id,
        "apiInfo": api,
        "applicationInfo": app,
        "throttlingPolicy": sub.throttling_policy,
        "requestedThrottlingPolicy": sub.throttling_policy,
        "status": sub.status,
        "redirectionParams": null,
    })
}

/// The API a subscription may target: published (or prototyped) and offering `policy`.
fn check_subscribable(state: &Store, api_id: &str, policy: &str) -> Result<(), RestError> {
    let api = state
        .apis
        .get(api_id)
        .map(|r| &r.api)
        .filter(|a| visible_in_devportal(a))
        .ok_or_else(|| RestError::api_not_found(api_id))?;
    if !api.policies.iter().any(|p| p == policy) {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            900305,
            "The tier name is invalid.",
            format!(
                "Tier {policy} is not allowed for API {}-{}. Only {:?} Tiers are allowed.",
                api.name, api.version, api.policies
            ),
        ));
    }
    Ok(())
}

pub async fn subscribe(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, SUB_MANAGE])?;
    let input: SubscriptionInput = parse_json(&body)?;
    let mut state = cp.lock();
    let checked = checked_subscription(&state, &caller, input, &[])?;
    let subscription = add_subscription(&cp, &mut state, checked);
    // `SubscriptionsApiServiceImpl.subscriptionsPost`: `Response.created("/subscriptions/" + id)`.
    Ok(with_location(
        json_response(
            StatusCode::CREATED,
            subscription_json(&state, &subscription),
        ),
        &cp.settings().mgmt_base_url(),
        &format!("{DEVPORTAL_BASE}/subscriptions/{}", subscription.id),
    ))
}

/// `POST /subscriptions/multiple`: several subscriptions in one call, all or none (each is
/// checked as `POST /subscriptions` checks one, a pair twice in the list included); 200 with
/// them in order.
pub async fn subscribe_many(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, SUB_MANAGE])?;
    let inputs: Vec<SubscriptionInput> = parse_json(&body)?;
    let mut state = cp.lock();
    let mut accepted: Vec<Subscription> = Vec::new();
    for input in inputs {
        let subscription = checked_subscription(&state, &caller, input, &accepted)?;
        accepted.push(subscription);
    }
    let stored: Vec<Subscription> = accepted
        .into_iter()
        .map(|s| add_subscription(&cp, &mut state, s))
        .collect();
    let body: Vec<Value> = stored
        .iter()
        .map(|s| subscription_json(&state, s))
        .collect();
    Ok(json_response(StatusCode::OK, body))
}

/// A new subscription from `input`, checked against the store and the ones `pending` beside it.
fn checked_subscription(
    state: &Store,
    caller: &Caller,
    input: SubscriptionInput,
    pending: &[Subscription],
) -> Result<Subscription, RestError> {
    // The spec's required properties are the DTO's `@NotNull`s; `apiId` is not one of them, but
    // nothing can be subscribed to without it.
    crate::constraints::Constraints::new()
        .required("applicationId", input.application_id.is_some())
        .required("throttlingPolicy", input.throttling_policy.is_some())
        .check()?;
    let (Some(api_id), Some(app_id), Some(policy)) =
        (input.api_id, input.application_id, input.throttling_policy)
    else {
        return Err(RestError::bad_request("apiId is required"));
    };
    owned_application(state, caller, &app_id)?;
    check_subscribable(state, &api_id, &policy)?;
    if state
        .subscriptions
        .values()
        .chain(pending)
        .any(|s| s.api_id == api_id && s.application_id == app_id)
    {
        return Err(RestError::conflict(format!(
            "Specified subscription already exists for API {api_id}, for application {app_id}"
        )));
    }
    Ok(Subscription {
        // Filled in when stored, so a refused batch takes no ids.
        id: String::new(),
        api_id,
        application_id: app_id,
        throttling_policy: policy,
        status: SubscriptionStatus::Unblocked,
    })
}

/// Stores a checked subscription under a new id and tells the gateways.
fn add_subscription(
    cp: &ControlPlane,
    state: &mut Store,
    mut subscription: Subscription,
) -> Subscription {
    subscription.id = cp.new_id();
    state
        .subscriptions
        .insert(subscription.id.clone(), subscription.clone());
    cp.publish(
        state,
        Event::SubscriptionsCreate {
            subscription: subscription.clone(),
        },
    );
    subscription
}

pub async fn list_subscriptions(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, SUB_MANAGE])?;
    let app_id = params.get("applicationId");
    let api_id = params.get("apiId");
    if app_id.is_none() && api_id.is_none() {
        return Err(RestError::bad_request(
            "Either applicationId or apiId should be available",
        ));
    }
    let state = cp.lock();
    if let Some(app_id) = app_id {
        owned_application(&state, &caller, app_id)?;
    }
    let subs: Vec<Value> = state
        .subscriptions
        .values()
        .filter(|s| app_id.is_none_or(|a| &s.application_id == a))
        .filter(|s| api_id.is_none_or(|a| &s.api_id == a))
        .filter(|s| {
            state
                .applications
                .get(&s.application_id)
                .is_some_and(|a| a.app.owner == caller.username)
        })
        .map(|s| subscription_json(&state, s))
        .collect();
    let (list, offset, limit) = page(&subs, &params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": crate::model::pagination(offset, limit, subs.len())}),
    ))
}

fn owned_subscription(state: &Store, caller: &Caller, id: &str) -> Result<Subscription, RestError> {
    state
        .subscriptions
        .get(id)
        .filter(|s| {
            state
                .applications
                .get(&s.application_id)
                .is_some_and(|a| a.app.owner == caller.username)
        })
        .cloned()
        .ok_or_else(|| RestError::not_found("Subscription", id))
}

pub async fn get_subscription(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, SUB_MANAGE])?;
    let state = cp.lock();
    let sub = owned_subscription(&state, &caller, &id)?;
    Ok(json_response(
        StatusCode::OK,
        subscription_json(&state, &sub),
    ))
}

/// Changing a subscription's tier (`PUT /subscriptions/{id}`).
pub async fn update_subscription(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, SUB_MANAGE])?;
    let input: SubscriptionInput = parse_json(&body)?;
    let mut state = cp.lock();
    let mut sub = owned_subscription(&state, &caller, &id)?;
    if let Some(policy) = input.throttling_policy {
        check_subscribable(&state, &sub.api_id, &policy)?;
        sub.throttling_policy = policy;
    }
    state.subscriptions.insert(id, sub.clone());
    cp.publish(
        &mut state,
        Event::SubscriptionsUpdate {
            subscription: sub.clone(),
        },
    );
    Ok(json_response(
        StatusCode::OK,
        subscription_json(&state, &sub),
    ))
}

pub async fn unsubscribe(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, SUB_MANAGE])?;
    let mut state = cp.lock();
    owned_subscription(&state, &caller, &id)?;
    state.subscriptions.remove(&id);
    cp.publish(
        &mut state,
        Event::SubscriptionsDelete {
            subscription_id: id,
        },
    );
    // `Response.ok().build()`: no body.
    Ok(StatusCode::OK.into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ThrottleResetRequest {
    user_name: Option<String>,
}

/// `POST /applications/{applicationId}/reset-throttle-policy` `{userName}` (WSO2 4.7): the
/// application's quota for that user starts over on the Traffic Manager, and every gateway is
/// told it is no longer throttled. 200 with no body.
pub async fn reset_throttle_policy(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(app_id): Path<String>,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, APP_MANAGE])?;
    let request: ThrottleResetRequest = parse_json(&body)?;
    let user = request
        .user_name
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| RestError::bad_request("userName is required"))?;
    let mut state = cp.lock();
    owned_application(&state, &caller, &app_id)?;
    let user = if user.contains('@') {
        user
    } else {
        format!("{user}@carbon.super")
    };
    cp.publish(
        &mut state,
        Event::ApplicationThrottleReset {
            application_id: app_id,
            user,
        },
    );
    Ok(StatusCode::OK.into_response())
}
