//! Admin `/applications`: every user's applications, for an administrator to list, read,
//! delete or hand to another user, as WSO2's `ApplicationsApiServiceImpl` (admin v4) does.

use super::scope::ADMIN;
use crate::ControlPlane;
use crate::devportal::applications::{application_info, remove_application};
use crate::error::RestError;
use crate::model::pagination;
use crate::publisher::apis::limit_offset;
use crate::publisher::{RestResult, json_response};
use crate::rest::{Path, Query};
use crate::state::{ApplicationRecord, State as Store};
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tollgate_protocol::event::Event;

const VIEW: &[&str] = &[
    ADMIN,
    "apim:app_owner_change",
    "apim:app_import_export",
    "apim:admin_application_view",
];

fn find<'a>(state: &'a Store, id: &str) -> Result<&'a ApplicationRecord, RestError> {
    state
        .applications
        .get(id)
        .ok_or_else(|| RestError::not_found("application", id))
}

fn subscriptions(state: &Store, id: &str) -> usize {
    state
        .subscriptions
        .values()
        .filter(|s| s.application_id == id)
        .count()
}

/// `GET /applications[?user=&name=]`: `ApplicationInfo`s by name; `user` and `name` narrow
/// the list (a part of the name, in any case).
pub async fn list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, VIEW)?;
    let (limit, offset) = limit_offset(&params)?;
    let state = cp.lock();
    let name = params.get("name").map(|n| n.to_lowercase());
    let mut apps: Vec<&ApplicationRecord> = state
        .applications
        .values()
        .filter(|r| params.get("user").is_none_or(|u| *u == r.app.owner))
        .filter(|r| {
            name.as_deref()
                .is_none_or(|n| r.app.name.to_lowercase().contains(n))
        })
        .collect();
    apps.sort_by(|a, b| (&a.app.name, &a.app.id).cmp(&(&b.app.name, &b.app.id)));
    let list: Vec<Value> = apps
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| {
            json!({"applicationId": r.app.id, "name": r.app.name, "owner": r.app.owner,
                "status": "APPROVED", "groupId": ""})
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": pagination(offset, limit, apps.len())}),
    ))
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(
        &headers,
        &[
            ADMIN,
            "apim:app_import_export",
            "apim:admin_application_view",
        ],
    )?;
    let state = cp.lock();
    let record = find(&state, &id)?;
    let mut value = application_info(record, subscriptions(&state, &id));
    // The Admin spec's `Application` has no times.
    if let Some(o) = value.as_object_mut() {
        o.remove("createdTime");
        o.remove("updatedTime");
        o.insert("subscriptionScopes".to_owned(), json!([]));
    }
    Ok(json_response(StatusCode::OK, value))
}

/// `DELETE`: as the owner's own delete, subscriptions and keys included.
pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, "apim:app_import_export"])?;
    let mut state = cp.lock();
    find(&state, &id)?;
    remove_application(&cp, &mut state, id);
    Ok(StatusCode::OK.into_response())
}

/// `POST /applications/{id}/change-owner?owner=`: to a user of the user store (here the
/// super admin is the only one); another owner's application of the same name → 409.
pub async fn change_owner(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, "apim:app_owner_change"])?;
    // `changeApplicationOwner(owner, applicationId)`: `owner` is `@NotNull`.
    crate::constraints::Constraints::new()
        .required_param("changeApplicationOwner", 0, params.contains_key("owner"))
        .check()?;
    let owner = params
        .get("owner")
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .ok_or_else(|| RestError::bad_request("owner cannot be empty"))?;
    if owner != cp.settings().admin_username {
        return Err(RestError::bad_request(format!(
            "{owner} is not a valid user"
        )));
    }
    let mut state = cp.lock();
    let name = find(&state, &id)?.app.name.clone();
    if state
        .applications
        .values()
        .any(|r| r.app.id != id && r.app.owner == owner && r.app.name == name)
    {
        return Err(RestError::conflict(format!(
            "A duplicate application already exists by the name - {name}"
        )));
    }
    let Some(record) = state.applications.get_mut(&id) else {
        return Err(RestError::not_found("application", &id));
    };
    record.app.owner = owner;
    let application = record.app.clone();
    // The gateways key application quotas and JWT claims by the subscriber.
    cp.publish(&mut state, Event::ApplicationUpdate { application });
    Ok(StatusCode::OK.into_response())
}
