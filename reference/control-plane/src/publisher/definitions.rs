//! API definitions: the OpenAPI 3 document of an API, generated from its resources as WSO2's
//! `OAS3Parser.generateAPIDefinition` does for an API created without one. Publisher
//! `GET /apis/{apiId}/swagger` answers it with the Publisher's extensions (endpoints, base
//! path, transports); Developer Portal `GET /apis/{apiId}/swagger[?environmentName=]` answers it
//! with the gateway URLs of that environment (default: the first the API is shown in) as
//! `servers`, https first (`getOASDefinitionForStore`).

use super::{RestResult, json_response};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::model::Api;
use crate::rest::{Path, Query};
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `{name}` segments of a resource target, in order.
fn path_parameters(target: &str) -> Vec<String> {
    target
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// The document's common part: `info`, `paths` with WSO2's per-operation extensions, the
/// `default` OAuth2 scheme.
fn definition(api: &Api) -> Map<String, Value> {
    let mut paths = Map::new();
    for op in &api.operations {
        let parameters: Vec<Value> = path_parameters(&op.target)
            .into_iter()
            .map(|name| {
                json!({"name": name, "in": "path", "required": true, "style": "simple",
                    "explode": false, "schema": {"type": "string"}})
            })
            .collect();
        let mut operation = json!({
            "parameters": parameters,
            "responses": {"200": {"description": "OK"}},
            "security": [{"default": op.scopes}],
            "x-auth-type": op.auth_type,
            "x-throttling-tier": op.throttling_policy.clone().unwrap_or_else(|| "Unlimited".to_owned()),
        });
        if matches!(op.verb.as_str(), "POST" | "PUT" | "PATCH")
            && let Some(o) = operation.as_object_mut()
        {
            o.insert(
                "requestBody".to_owned(),
                json!({"content": {"application/json": {"schema": {"type": "object"}}}}),
            );
        }
        let item = paths
            .entry(op.target.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(item) = item.as_object_mut() {
            item.insert(op.verb.to_ascii_lowercase(), operation);
        }
    }
    let mut doc = Map::new();
    doc.insert("openapi".to_owned(), json!("3.0.1"));
    doc.insert(
        "info".to_owned(),
        json!({"title": api.name, "version": api.version}),
    );
    doc.insert("servers".to_owned(), json!([{"url": "/"}]));
    doc.insert("security".to_owned(), json!([{"default": []}]));
    doc.insert("paths".to_owned(), Value::Object(paths));
    doc.insert(
        "components".to_owned(),
        json!({"securitySchemes": {"default": {"type": "oauth2", "flows": {"implicit": {
            "authorizationUrl": "https://test.com", "scopes": {}}}}}}),
    );
    doc.insert(
        "x-wso2-auth-header".to_owned(),
        json!(api.authorization_header),
    );
    doc
}

/// Publisher `GET /apis/{apiId}/swagger`.
pub async fn publisher_get(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, API_IMPORT_EXPORT])?;
    let state = cp.lock();
    let api = &state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?
        .api;
    let mut doc = definition(api);
    let (production, sandbox) = api.endpoint_urls();
    if let Some(url) = production {
        doc.insert(
            "x-wso2-production-endpoints".to_owned(),
            json!({"urls": [url], "type": "http"}),
        );
    }
    if let Some(url) = sandbox {
        doc.insert(
            "x-wso2-sandbox-endpoints".to_owned(),
            json!({"urls": [url], "type": "http"}),
        );
    }
    doc.insert("x-wso2-basePath".to_owned(), json!(api.served_context()));
    doc.insert("x-wso2-transports".to_owned(), json!(api.transport));
    Ok(json_response(StatusCode::OK, Value::Object(doc)))
}

/// Developer Portal `GET /apis/{apiId}/swagger`: only for an API the portal shows; an
/// `environmentName` the API is not shown in is a 404.
pub async fn devportal_get(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    if headers.contains_key(http::header::AUTHORIZATION) {
        cp.authorize(&headers, &[])?;
    }
    let state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .filter(|r| crate::devportal::visible_in_devportal(&r.api))
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let environments = cp.environments(&state);
    let shown = crate::devportal::endpoint_urls(&environments, record);
    let chosen = match params.get("environmentName") {
        Some(name) => Some(
            shown
                .iter()
                .find(|e| e["environmentName"] == name.as_str())
                .ok_or_else(|| {
                    RestError::new(
                        StatusCode::NOT_FOUND,
                        404,
                        "Not Found",
                        format!("Gateway environment '{name}' not found for the API"),
                    )
                })?,
        ),
        None => shown.first(),
    };
    let servers: Vec<Value> = chosen
        .map(|e| {
            ["https", "http"]
                .iter()
                .filter_map(|scheme| e["URLs"][scheme].as_str())
                .map(|url| json!({"url": url}))
                .collect()
        })
        .unwrap_or_default();
    let mut doc = definition(&record.api);
    if !servers.is_empty() {
        doc.insert("servers".to_owned(), Value::Array(servers));
    }
    Ok(json_response(StatusCode::OK, Value::Object(doc)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_parameters_are_the_braced_segments() {
        assert_eq!(
            super::path_parameters("/order/{orderId}/items/{item}"),
            ["orderId", "item"]
        );
        assert!(super::path_parameters("/menu").is_empty());
    }
}
