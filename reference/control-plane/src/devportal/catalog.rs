//! What the Developer Portal shows around its APIs: ratings (`/apis/{apiId}/ratings`,
//! `/user-rating`), the tag cloud (`/tags`) and the application attributes it asks for
//! (`/settings/application-attributes`), as WSO2's `ApisApiServiceImpl`, `TagsApiServiceImpl`
//! and `SettingsApiServiceImpl` answer them.

use super::visible_in_devportal;
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::model::pagination;
use crate::publisher::apis::page;
use crate::publisher::{RestResult, json_response, parse_json};
use crate::rest::{JsonBody, Path, Query};
use crate::state::{ApiRecord, State as Store};
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

fn shown<'a>(state: &'a Store, api_id: &str) -> Result<&'a ApiRecord, RestError> {
    state
        .apis
        .get(api_id)
        .filter(|r| visible_in_devportal(&r.api))
        .ok_or_else(|| RestError::api_not_found(api_id))
}

/// `Rating`; its id is the user's, as one user has one rating per API.
fn rating_json(api_id: &str, user: &str, rating: u8) -> Value {
    json!({"ratingId": format!("{api_id}:{user}"), "apiId": api_id, "ratedBy": user,
        "rating": rating})
}

/// `GET /apis/{apiId}/ratings`: every rating, their average as text (`"4.5"`, `"0.0"` with
/// none) and the caller's own (0 for an anonymous caller or none).
pub async fn ratings(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    let caller = if headers.contains_key(http::header::AUTHORIZATION) {
        Some(cp.authorize(&headers, &[])?)
    } else {
        None
    };
    let state = cp.lock();
    let record = shown(&state, &api_id)?;
    let all: Vec<Value> = record
        .ratings
        .iter()
        .map(|(user, r)| rating_json(&api_id, user, *r))
        .collect();
    let average = if record.ratings.is_empty() {
        0.0
    } else {
        let sum: u32 = record.ratings.values().map(|r| u32::from(*r)).sum();
        f64::from(sum) / record.ratings.len() as f64
    };
    let own = caller
        .and_then(|c| record.ratings.get(&c.username).copied())
        .unwrap_or(0);
    let (list, offset, limit) = page(&all, &params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"avgRating": format!("{average:.1}"), "userRating": own, "count": list.len(),
            "list": list, "pagination": pagination(offset, limit, all.len())}),
    ))
}

pub async fn user_rating(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE])?;
    let state = cp.lock();
    let record = shown(&state, &api_id)?;
    let rating = record
        .ratings
        .get(&caller.username)
        .ok_or_else(|| RestError::not_found("rating", &format!("{api_id}:{}", caller.username)))?;
    Ok(json_response(
        StatusCode::OK,
        rating_json(&api_id, &caller.username, *rating),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RatingInput {
    rating: Option<i64>,
}

/// `PUT /apis/{apiId}/user-rating`: 1 to 5 (`APIConsumerImpl.rateAPI`'s `APIRating`).
pub async fn rate(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE])?;
    let input: RatingInput = parse_json(&body)?;
    // `RatingDTO.rating` is `@NotNull`; its range is the implementation's.
    crate::constraints::Constraints::new()
        .required("rating", input.rating.is_some())
        .check()?;
    let rating = input
        .rating
        .and_then(|r| u8::try_from(r).ok())
        .filter(|r| (1..=5).contains(r))
        .ok_or_else(|| {
            RestError::bad_request("Provided API Rating is not in the range of 1 to 5")
        })?;
    let mut state = cp.lock();
    shown(&state, &api_id)?;
    if let Some(record) = state.apis.get_mut(&api_id) {
        record.ratings.insert(caller.username.clone(), rating);
    }
    Ok(json_response(
        StatusCode::OK,
        rating_json(&api_id, &caller.username, rating),
    ))
}

pub async fn unrate(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE])?;
    let mut state = cp.lock();
    shown(&state, &api_id)?;
    if let Some(record) = state.apis.get_mut(&api_id) {
        record.ratings.remove(&caller.username);
    }
    Ok(StatusCode::OK.into_response())
}

/// `GET /tags`: the tags of the APIs the portal shows, each with how many use it, by name.
pub async fn tags(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    if headers.contains_key(http::header::AUTHORIZATION) {
        cp.authorize(&headers, &[])?;
    }
    let state = cp.lock();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for record in state.apis.values().filter(|r| visible_in_devportal(&r.api)) {
        for tag in &record.api.tags {
            *counts.entry(tag.as_str()).or_default() += 1;
        }
    }
    let all: Vec<Value> = counts
        .into_iter()
        .map(|(value, count)| json!({"value": value, "count": count}))
        .collect();
    let (list, offset, limit) = page(&all, &params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": pagination(offset, limit, all.len())}),
    ))
}

/// `GET /settings/application-attributes`: the extra fields an application form asks for.
/// WSO2's default `deployment.toml` declares none; neither does any here.
pub async fn application_attributes(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
) -> RestResult {
    cp.authorize(&headers, &[SUBSCRIBE])?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": 0, "list": []}),
    ))
}
