//! Developer Portal v3 (`/api/am/devportal/v3`): published APIs with their gateway URLs per
//! environment (`endpointURLs`), `GET /settings`, applications and subscriptions
//! ([`applications`]), keys and tokens ([`keys`]) and API keys ([`api_keys`]).

pub mod api_keys;
pub mod applications;
pub mod catalog;
pub mod keys;

use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::model::Api;
use crate::publisher::apis::{matches_query, page};
use crate::publisher::comments::devportal as comments;
use crate::publisher::{RestResult, json_response};
use crate::rest::{Path, Query};
use crate::state::ApiRecord;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tollgate_config::model::Environment;
use tollgate_protocol::defect::Defect;

pub fn router(cp: Arc<ControlPlane>) -> Router {
    Router::new()
        .route("/apis", get(list_apis))
        .route("/apis/{api_id}", get(get_api))
        .route(
            "/apis/{api_id}/swagger",
            get(crate::publisher::definitions::devportal_get),
        )
        .route("/apis/{api_id}/ratings", get(catalog::ratings))
        .route(
            "/apis/{api_id}/user-rating",
            get(catalog::user_rating)
                .put(catalog::rate)
                .delete(catalog::unrate),
        )
        .route("/tags", get(catalog::tags))
        .route("/tenants", get(crate::publisher::misc::devportal_tenants))
        .route("/search", get(crate::publisher::misc::devportal_search))
        .route(
            "/settings/application-attributes",
            get(catalog::application_attributes),
        )
        .route(
            "/api-categories",
            get(crate::admin::categories::devportal_list),
        )
        .route(
            "/apis/{api_id}/subscription-policies",
            get(crate::publisher::tiers::devportal_api_subscription_policies),
        )
        .route(
            "/throttling-policies/{policy_level}/{policy_id}",
            get(crate::publisher::tiers::devportal_one),
        )
        .route(
            "/apis/{api_id}/documents",
            get(crate::publisher::documents::devportal::list),
        )
        .route(
            "/apis/{api_id}/documents/{document_id}",
            get(crate::publisher::documents::devportal::get_one),
        )
        .route(
            "/apis/{api_id}/documents/{document_id}/content",
            get(crate::publisher::documents::devportal::get_content),
        )
        .route(
            "/apis/{api_id}/thumbnail",
            get(crate::publisher::documents::devportal::get_thumbnail),
        )
        .route(
            "/apis/{api_id}/comments",
            get(comments::list).post(comments::add),
        )
        .route(
            "/apis/{api_id}/comments/{comment_id}",
            get(comments::get_one)
                .patch(comments::edit)
                .delete(comments::remove),
        )
        .route(
            "/apis/{api_id}/comments/{comment_id}/replies",
            get(comments::replies),
        )
        .route("/settings", get(settings))
        .route(
            "/throttling-policies/{policy_level}",
            get(crate::publisher::tiers::devportal_list),
        )
        .route("/key-managers", get(crate::publisher::tiers::key_managers))
        .route(
            "/applications",
            get(applications::list).post(applications::create),
        )
        .route(
            "/applications/{app_id}",
            get(applications::get_one)
                .put(applications::update)
                .delete(applications::delete),
        )
        .route(
            "/subscriptions",
            get(applications::list_subscriptions).post(applications::subscribe),
        )
        .route(
            "/subscriptions/multiple",
            post(applications::subscribe_many),
        )
        .route(
            "/subscriptions/{subscription_id}",
            get(applications::get_subscription)
                .put(applications::update_subscription)
                .delete(applications::unsubscribe),
        )
        .route(
            "/applications/{app_id}/generate-keys",
            post(keys::generate_keys),
        )
        .route("/applications/{app_id}/map-keys", post(keys::map_keys))
        .route("/applications/{app_id}/keys", get(keys::list))
        .route(
            "/applications/{app_id}/keys/{key_type}",
            get(keys::get_by_type).put(keys::update_by_type),
        )
        .route(
            "/applications/{app_id}/keys/{key_type}/regenerate-secret",
            post(keys::regenerate_secret_by_type),
        )
        .route(
            "/applications/{app_id}/keys/{key_type}/clean-up",
            post(keys::clean_up_by_type),
        )
        .route(
            "/applications/{app_id}/oauth-keys/{key_mapping_id}/regenerate-secret",
            post(keys::regenerate_secret_by_id),
        )
        .route(
            "/applications/{app_id}/oauth-keys/{key_mapping_id}/clean-up",
            post(keys::clean_up_by_id),
        )
        .route(
            "/applications/{app_id}/keys/{key_type}/generate-token",
            post(keys::generate_token_by_type),
        )
        .route(
            "/applications/{app_id}/reset-throttle-policy",
            post(applications::reset_throttle_policy),
        )
        .route(
            "/applications/{app_id}/api-keys/{key_type}/generate",
            post(api_keys::generate),
        )
        .route(
            "/applications/{app_id}/api-keys/{key_type}/revoke",
            post(api_keys::revoke),
        )
        .route("/applications/{app_id}/oauth-keys", get(keys::list))
        .route(
            "/applications/{app_id}/oauth-keys/{key_mapping_id}",
            get(keys::get_by_id).put(keys::update_by_id),
        )
        .route(
            "/applications/{app_id}/oauth-keys/{key_mapping_id}/generate-token",
            post(keys::generate_token_by_id),
        )
        .with_state(cp)
}

/// Only these lifecycle states reach the Developer Portal.
pub(crate) fn visible_in_devportal(api: &Api) -> bool {
    matches!(api.life_cycle_status.as_str(), "PUBLISHED" | "PROTOTYPED")
}

fn urls(api: &Api, base: Option<(String, String)>, context: &str) -> Value {
    let has = |t: &str| api.transport.iter().any(|x| x.eq_ignore_ascii_case(t));
    match base {
        Some((http, https)) => json!({
            "http": has("http").then(|| format!("{http}{context}")),
            "https": has("https").then(|| format!("{https}{context}")),
            "ws": null,
            "wss": null,
        }),
        None => json!({"http": null, "https": null, "ws": null, "wss": null}),
    }
}

/// `endpointURLs`: one entry per deployment shown on the Developer Portal whose environment
/// still exists, in declaration order; URLs are the deployment's vhost URL plus the context
/// (`fromAPIRevisionToEndpoints`). `ws`/`wss` stay null for REST APIs.
pub(crate) fn endpoint_urls(environments: &[Environment], record: &ApiRecord) -> Vec<Value> {
    let api = &record.api;
    environments
        .iter()
        .filter_map(|env| {
            let deployment = record.deployments.get(&env.name)?;
            if !deployment.display_on_devportal {
                return None;
            }
            let vhost = env
                .vhosts
                .iter()
                .find(|v| v.host == deployment.vhost)
                .or_else(|| env.vhosts.first())?;
            let base = Some((vhost.http_url(), vhost.https_url()));
            let default_urls = if api.is_default_version {
                let ctx = api.served_context();
                let unversioned = ctx
                    .strip_suffix(&api.version)
                    .map(str::to_owned)
                    .unwrap_or(ctx);
                urls(api, base.clone(), &unversioned)
            } else {
                urls(api, None, "")
            };
            Some(json!({
                "environmentName": env.name,
                "environmentDisplayName": env.display_name,
                "environmentType": env.kind.as_str(),
                "URLs": urls(api, base, &api.served_context()),
                "defaultVersionURLs": default_urls,
            }))
        })
        .collect()
}

fn tiers(api: &Api) -> Vec<Value> {
    api.policies
        .iter()
        .map(|p| json!({"tierName": p, "tierPlan": "FREE", "monetizationAttributes": null}))
        .collect()
}

fn advertise_info() -> Value {
    json!({"advertised": false, "apiExternalProductionEndpoint": null,
        "apiExternalSandboxEndpoint": null, "originalDevPortalUrl": null, "apiOwner": null, "vendor": "WSO2"})
}

/// DevPortal `APIInfo`.
pub(crate) fn api_info(api: &Api) -> Value {
    json!({
        "id": api.id,
        "name": api.name,
        "description": api.description,
        "context": api.served_context(),
        "version": api.version,
        "type": api.kind,
        "createdTime": api.created_time,
        "provider": api.provider,
        "lifeCycleStatus": api.life_cycle_status,
        "thumbnailUri": null,
        "avgRating": "0.0",
        "throttlingPolicies": api.policies,
        "advertiseInfo": advertise_info(),
        "businessInformation": api.business_information,
        "isSubscriptionAvailable": true,
        "monetizationLabel": "FREE",
        "gatewayVendor": api.gateway_vendor,
        "additionalProperties": [],
    })
}

fn api_json(environments: &[Environment], record: &ApiRecord) -> Value {
    let api = &record.api;
    let endpoint_urls = endpoint_urls(environments, record);
    // The Try-Out console offers the environments the API is shown in that are
    // `display_in_api_console`.
    let environment_list: Vec<&str> = endpoint_urls
        .iter()
        .filter_map(|e| e["environmentName"].as_str())
        .filter(|name| {
            environments
                .iter()
                .any(|e| e.name == *name && e.display_in_api_console)
        })
        .collect();
    json!({
        "id": api.id,
        "name": api.name,
        "description": api.description,
        "context": api.served_context(),
        "version": api.version,
        "provider": api.provider,
        "apiDefinition": null,
        "wsdlUri": null,
        "lifeCycleStatus": api.life_cycle_status,
        "isDefaultVersion": api.is_default_version,
        "type": api.kind,
        "transport": api.transport,
        "operations": api.operations.iter()
            .map(|o| json!({"id": o.id, "target": o.target, "verb": o.verb}))
            .collect::<Vec<_>>(),
        "authorizationHeader": api.authorization_header,
        "securityScheme": api.security_scheme,
        "tags": api.tags,
        "tiers": tiers(api),
        "hasThumbnail": false,
        "additionalProperties": [],
        "monetization": {"enabled": false},
        "endpointURLs": endpoint_urls,
        "businessInformation": api.business_information,
        "environmentList": environment_list,
        "scopes": [],
        "avgRating": "0.0",
        "advertiseInfo": advertise_info(),
        "isSubscriptionAvailable": true,
        "categories": api.categories,
        "keyManagers": ["all"],
        "createdTime": api.created_time,
        "lastUpdatedTime": api.last_updated_time,
        "gatewayVendor": api.gateway_vendor,
        "asyncTransportProtocols": [],
    })
}

/// Anonymous access is allowed (the spec lists no scope); a token, if sent, must be valid.
fn check_optional_token(cp: &ControlPlane, headers: &HeaderMap) -> Result<(), RestError> {
    if headers.contains_key(http::header::AUTHORIZATION) {
        cp.authorize(headers, &[])?;
    }
    Ok(())
}

async fn list_apis(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    check_optional_token(&cp, &headers)?;
    let state = cp.lock();
    let mut apis: Vec<&Api> = state
        .apis
        .values()
        .map(|r| &r.api)
        .filter(|a| visible_in_devportal(a))
        .filter(|a| matches_query(a, params.get("query").map_or("", String::as_str)))
        .collect();
    apis.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    let infos: Vec<Value> = apis.iter().map(|a| api_info(a)).collect();
    let (list, offset, limit) = page(&infos, &params)?;
    let query = params.get("query").map_or("", String::as_str);
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": crate::model::api_list_pagination(offset, limit, infos.len(), query)}),
    ))
}

async fn get_api(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    check_optional_token(&cp, &headers)?;
    let state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .filter(|r| visible_in_devportal(&r.api))
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let environments = cp.environments(&state);
    if cp.defects().has(Defect::DisplayOnDevportalIgnored) {
        let mut shown = record.clone();
        shown
            .deployments
            .values_mut()
            .for_each(|d| d.display_on_devportal = true);
        return Ok(json_response(
            StatusCode::OK,
            api_json(&environments, &shown),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        api_json(&environments, record),
    ))
}

/// `apiGatewayEndpoint`: the `<GatewayEndpoint>` (`https,http`) of the first environment that
/// is `show_as_token_endpoint_url`, else of the first environment, else WSO2's built-in one.
pub(crate) fn api_gateway_endpoint(environments: &[Environment]) -> String {
    let env = environments
        .iter()
        .find(|e| e.show_as_token_endpoint_url)
        .or_else(|| environments.first());
    let Some(env) = env else {
        let base = tollgate_config::Ports::BASE;
        return format!(
            "http://localhost:{}, https://localhost:{}",
            base.passthru_http, base.passthru_https
        );
    };
    let vhost = env.vhosts.first();
    let https = env
        .https_endpoint
        .clone()
        .or_else(|| vhost.map(|v| v.https_url()));
    let http = env
        .http_endpoint
        .clone()
        .or_else(|| vhost.map(|v| v.http_url()));
    [https, http]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(",")
}

const DEVPORTAL_SCOPES: &[&str] = &[
    SUBSCRIBE,
    APP_MANAGE,
    SUB_MANAGE,
    APP_IMPORT_EXPORT,
    STORE_SETTINGS,
];

async fn settings(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    // WSO2 serves the portal's settings before login; a token, if sent, must be valid.
    check_optional_token(&cp, &headers)?;
    Ok(json_response(
        StatusCode::OK,
        json!({
            "grantTypes": ["refresh_token", "password", "client_credentials"],
            "scopes": DEVPORTAL_SCOPES,
            "applicationSharingEnabled": false,
            "mapExistingAuthApps": false,
            "apiGatewayEndpoint": api_gateway_endpoint(&cp.environments(&cp.lock())),
            "monetizationEnabled": false,
            "recommendationEnabled": false,
            "IsUnlimitedTierPaid": false,
            "identityProvider": {"external": false},
            "IsAnonymousModeEnabled": true,
            "IsPasswordChangeEnabled": true,
            "userStorePasswordPattern": "^[\\S]{5,30}$",
            "passwordPolicyPattern": "",
            "passwordPolicyMinLength": -1,
            "passwordPolicyMaxLength": -1,
        }),
    ))
}
