//! Publisher v4 (`/api/am/publisher/v4`): APIs and their lifecycle ([`apis`]), revisions and
//! deployments ([`revisions`]), and `GET /settings` with the gateway environments.

pub mod apis;
pub mod certificates;
pub mod comments;
pub mod definitions;
pub mod documents;
pub mod internal_key;
pub mod misc;
pub mod operation_policies;
pub mod products;
pub mod revisions;
pub mod scopes;
pub mod subscriptions;
pub mod tiers;

use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use tollgate_config::model::{Environment, VHost};

pub(crate) type RestResult = Result<Response, RestError>;

pub fn router(cp: Arc<ControlPlane>) -> Router {
    Router::new()
        .route("/apis", get(apis::list).post(apis::create))
        .route("/apis/change-lifecycle", post(apis::change_lifecycle))
        .route("/apis/{api_id}/lifecycle-state", get(apis::lifecycle_state))
        .route("/apis/{api_id}/generate-key", post(internal_key::generate))
        .route(
            "/apis/{api_id}/swagger",
            get(definitions::publisher_get).put(definitions::publisher_put),
        )
        .route("/apis/validate-openapi", post(definitions::validate))
        .route("/apis/import-openapi", post(definitions::import))
        .route(
            "/apis/{api_id}/lifecycle-history",
            get(apis::lifecycle_history),
        )
        .route(
            "/apis/{api_id}/documents",
            get(documents::list).post(documents::create),
        )
        .route(
            "/apis/{api_id}/documents/validate",
            post(documents::validate_name),
        )
        .route(
            "/apis/{api_id}/documents/{document_id}",
            get(documents::get_one)
                .put(documents::update)
                .delete(documents::delete),
        )
        .route(
            "/apis/{api_id}/documents/{document_id}/content",
            get(documents::get_content).post(documents::add_content),
        )
        .route(
            "/apis/{api_id}/thumbnail",
            get(documents::get_thumbnail).put(documents::put_thumbnail),
        )
        .route(
            "/apis/{api_id}/comments",
            get(comments::publisher::list).post(comments::publisher::add),
        )
        .route(
            "/apis/{api_id}/comments/{comment_id}",
            get(comments::publisher::get_one)
                .patch(comments::publisher::edit)
                .delete(comments::publisher::remove),
        )
        .route(
            "/apis/{api_id}/comments/{comment_id}/replies",
            get(comments::publisher::replies),
        )
        .route(
            "/api-categories",
            get(crate::admin::categories::publisher_list),
        )
        .route("/key-managers", get(tiers::publisher_key_managers))
        .route(
            "/throttling-policies/{policy_level}/{policy_name}",
            get(tiers::publisher_one),
        )
        .route("/apis/validate", post(apis::validate))
        .route("/apis/copy-api", post(apis::copy))
        .route("/apis/{api_id}/resource-paths", get(apis::resource_paths))
        .route(
            "/subscriptions/{subscription_id}/subscriber-info",
            get(subscriptions::subscriber_info),
        )
        .route("/scopes", get(scopes::list).post(scopes::create))
        .route(
            "/scopes/{scope_id}",
            get(scopes::get_one)
                .put(scopes::update)
                .delete(scopes::delete)
                .head(scopes::exists_by_name),
        )
        .route("/scopes/{scope_id}/usage", get(scopes::usage))
        .route("/tenants", get(misc::publisher_tenants))
        .route(
            "/tenants/{tenant_domain}",
            axum::routing::head(misc::tenant_exists),
        )
        .route("/search", get(misc::publisher_search))
        .route(
            "/apis/{api_id}/external-stores",
            get(misc::api_external_stores),
        )
        .route(
            "/apis/{api_id}/lifecycle-state/pending-tasks",
            axum::routing::delete(misc::delete_pending_tasks),
        )
        .route("/subscriptions", get(subscriptions::list))
        .route(
            "/throttling-policies/{policy_level}",
            get(tiers::publisher_list),
        )
        .route(
            "/apis/{api_id}/subscription-policies",
            get(tiers::api_subscription_policies),
        )
        .route(
            "/subscriptions/block-subscription",
            post(subscriptions::block),
        )
        .route(
            "/subscriptions/unblock-subscription",
            post(subscriptions::unblock),
        )
        .route(
            "/apis/{api_id}",
            get(apis::get_one).put(apis::update).delete(apis::delete),
        )
        .route(
            "/apis/{api_id}/revisions",
            get(revisions::list).post(revisions::create),
        )
        .route(
            "/apis/{api_id}/revisions/{revision_id}",
            get(revisions::get_one).delete(revisions::delete),
        )
        .route("/apis/{api_id}/deploy-revision", post(revisions::deploy))
        .route(
            "/apis/{api_id}/undeploy-revision",
            post(revisions::undeploy),
        )
        .route("/apis/{api_id}/restore-revision", post(revisions::restore))
        .route("/apis/{api_id}/deployments", get(revisions::deployments))
        .route(
            "/apis/{api_id}/deployments/{deployment_id}",
            put(revisions::update_deployment),
        )
        .route(
            "/endpoint-certificates",
            get(certificates::endpoint::list).post(certificates::endpoint::add),
        )
        .route(
            "/endpoint-certificates/{alias}",
            get(certificates::endpoint::get_one)
                .put(certificates::endpoint::update)
                .delete(certificates::endpoint::delete),
        )
        .route(
            "/endpoint-certificates/{alias}/content",
            get(certificates::endpoint::get_content),
        )
        .route(
            "/endpoint-certificates/{alias}/usage",
            get(certificates::endpoint::usage),
        )
        .route(
            "/apis/{api_id}/client-certificates",
            get(certificates::client::list).post(certificates::client::add),
        )
        .route(
            "/apis/{api_id}/client-certificates/{alias}",
            get(certificates::client::get_one)
                .put(certificates::client::update)
                .delete(certificates::client::delete),
        )
        .route(
            "/apis/{api_id}/client-certificates/{alias}/content",
            get(certificates::client::get_content),
        )
        .route(
            "/operation-policies",
            get(operation_policies::common::list).post(operation_policies::common::create),
        )
        .route(
            "/operation-policies/{operation_policy_id}",
            get(operation_policies::common::get_one).delete(operation_policies::common::delete),
        )
        .route(
            "/operation-policies/{operation_policy_id}/content",
            get(operation_policies::common::get_content),
        )
        .route(
            "/apis/{api_id}/operation-policies",
            get(operation_policies::api::list).post(operation_policies::api::create),
        )
        .route(
            "/apis/{api_id}/operation-policies/{operation_policy_id}",
            get(operation_policies::api::get_one).delete(operation_policies::api::delete),
        )
        .route(
            "/apis/{api_id}/operation-policies/{operation_policy_id}/content",
            get(operation_policies::api::get_content),
        )
        .route("/api-products", get(products::list).post(products::create))
        .route(
            "/api-products/change-lifecycle",
            post(products::change_lifecycle),
        )
        .route(
            "/api-products/{api_product_id}",
            get(products::get_one)
                .put(products::update)
                .delete(products::delete),
        )
        .route(
            "/api-products/{api_product_id}/swagger",
            get(products::swagger),
        )
        .route(
            "/api-products/{api_product_id}/is-outdated",
            get(products::is_outdated),
        )
        .route(
            "/api-products/{api_product_id}/thumbnail",
            get(products::get_thumbnail).put(products::put_thumbnail),
        )
        .route(
            "/api-products/{api_product_id}/lifecycle-state",
            get(products::lifecycle_state),
        )
        .route(
            "/api-products/{api_product_id}/lifecycle-history",
            get(products::lifecycle_history),
        )
        .route(
            "/api-products/{api_product_id}/lifecycle-state/pending-tasks",
            axum::routing::delete(products::delete_pending_tasks),
        )
        .route(
            "/apis/{api_id}/environments/{env_id}/keys",
            get(misc::get_environment_properties).put(misc::put_environment_properties),
        )
        .route("/settings", get(settings))
        .with_state(cp)
}

/// Parses a JSON body, answering WSO2's 400s for empty, malformed or ill-typed payloads.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RestError::bad_request("Request payload cannot be empty."));
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            RestError::bad_request("One or more request body parameters contain disallowed values.")
        } else {
            RestError::malformed_body()
        }
    })
}

pub(crate) fn json_response(status: http::StatusCode, value: impl serde::Serialize) -> Response {
    (status, Json(value)).into_response()
}

/// RFC 3339 in UTC, for the spec's `date-time` fields.
pub(crate) fn rfc3339(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `ws://host[:port]{ctx}`: WSO2 omits the port only when it is 80 (443 for wss).
fn ws_url(scheme: &str, host: &str, port: u16, default: u16, ctx: &str) -> String {
    if port == default {
        format!("{scheme}://{host}{ctx}")
    } else {
        format!("{scheme}://{host}:{port}{ctx}")
    }
}

fn vhost_json(v: &VHost) -> Value {
    json!({
        "host": v.host,
        "httpContext": v.http_context,
        "httpPort": v.http_port,
        "httpsPort": v.https_port,
        "wsPort": v.ws_port,
        "wsHost": v.ws_host,
        "wssPort": v.wss_port,
        "wssHost": v.wss_host,
        "websubHttpPort": v.websub_http_port,
        "websubHttpsPort": v.websub_https_port,
    })
}

/// `Environment` of the Publisher's settings. Environments from `deployment.toml` have their
/// name as id (WSO2's `Environment.setName` sets the UUID too).
pub(crate) fn environment_json(env: &Environment) -> Value {
    let endpoint_uris: Vec<Value> = env
        .vhosts
        .first()
        .map(|v| {
            vec![
                json!({"protocol": "http", "endpointURI": v.http_url()}),
                json!({"protocol": "https", "endpointURI": v.https_url()}),
                json!({"protocol": "ws", "endpointURI": ws_url("ws", &v.ws_host, v.ws_port, 80, &v.http_context)}),
                json!({"protocol": "wss", "endpointURI": ws_url("wss", &v.wss_host, v.wss_port, 443, &v.http_context)}),
            ]
        })
        .unwrap_or_default();
    json!({
        "id": env.name,
        "name": env.name,
        "displayName": env.display_name,
        "type": env.kind.as_str(),
        "serverUrl": env.service_url.clone().unwrap_or_default(),
        "provider": env.provider,
        "showInApiConsole": env.display_in_api_console,
        "vhosts": env.vhosts.iter().map(vhost_json).collect::<Vec<_>>(),
        "endpointURIs": endpoint_uris,
        "additionalProperties": [],
    })
}

/// The scopes the Publisher REST API defines (`Settings.scopes`).
const PUBLISHER_SCOPES: &[&str] = &[
    API_VIEW,
    API_CREATE,
    API_PUBLISH,
    API_DELETE,
    API_MANAGE,
    API_IMPORT_EXPORT,
    API_LIST_VIEW,
    PUBLISHER_SETTINGS,
];

async fn settings(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, PUBLISHER_SETTINGS])?;
    let s = cp.settings();
    let environments = cp.environments(&cp.lock());
    Ok(json_response(
        http::StatusCode::OK,
        json!({
            "devportalUrl": format!("{}/devportal", s.mgmt_base_url()),
            "environment": environments.iter().map(environment_json).collect::<Vec<_>>(),
            "scopes": PUBLISHER_SCOPES,
            "monetizationAttributes": [],
            "subscriberContactAttributes": {},
            "securityAuditProperties": {},
            "externalStoresEnabled": false,
            "docVisibilityEnabled": false,
            "crossTenantSubscriptionEnabled": false,
            "defaultAdvancePolicy": "Unlimited",
            "defaultSubscriptionPolicy": "Unlimited",
            "authorizationHeader": "Authorization",
            "customProperties": [],
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_renders_utc_with_fraction() {
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
