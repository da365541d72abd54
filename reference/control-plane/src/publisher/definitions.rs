//! API definitions. An API created without one answers the OpenAPI 3 document WSO2's
//! `OAS3Parser.generateAPIDefinition` generates from its resources; an API created from one
//! (`POST /apis/import-openapi`) or given one (`PUT /apis/{apiId}/swagger`) keeps the user's
//! document (OpenAPI 3 or Swagger 2.0), brought in line with the API's resources as WSO2's
//! `generateAPIDefinition(swaggerData, existing)` does on every update: each operation keeps
//! what the user wrote and gets WSO2's `x-auth-type`, `x-throttling-tier` and `default`
//! security; operations no longer among the resources are dropped.
//!
//! Publisher `GET /apis/{apiId}/swagger` adds the Publisher's extensions (endpoints, base
//! path, transports); Developer Portal `GET /apis/{apiId}/swagger[?environmentName=]` sets the
//! gateway URLs of that environment (default: the first the API is shown in), https first, as
//! `servers` (Swagger 2.0: `host`, `basePath`, `schemes`), as `getOASDefinitionForStore` does.
//!
//! `POST /apis/validate-openapi` and `POST /apis/import-openapi` take the definition as a
//! `file` part or an `inlineAPIDefinition` part (`ApisApiCommonImpl.validateOpenAPIDefinition`
//! and `importOpenAPIDefinition`), `PUT /apis/{apiId}/swagger` as `apiDefinition` or `file`.
//! A `url` is fetched (`crate::fetch`) and its body taken as if uploaded; a `file` named
//! `*.zip` is an archive whose root definition and the files it refers to are read
//! (`crate::archive`).

use super::apis::{add, new_api};
use super::{RestResult, json_response};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::archive;
use crate::error::RestError;
use crate::fetch::{self, FetchError};
use crate::model::{Api, ApiInput};
use crate::openapi::{self, Definition, Flavour, PARSE_ERROR_CODE, PARSE_ERROR_MESSAGE};
use crate::rest::{Form, Path, Query};
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

fn flavour_of(doc: &Value) -> Flavour {
    if doc.get("swagger").is_some() {
        Flavour::Swagger2
    } else {
        Flavour::Oas3
    }
}

/// WSO2's generated document for an API without a definition, before its paths.
fn skeleton(api: &Api) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("openapi".to_owned(), json!("3.0.1"));
    doc.insert(
        "info".to_owned(),
        json!({"title": api.name, "version": api.version}),
    );
    doc.insert("servers".to_owned(), json!([{"url": "/"}]));
    doc.insert("security".to_owned(), json!([{"default": []}]));
    doc.insert("paths".to_owned(), json!({}));
    doc
}

/// A generated operation: its path parameters, a 200, a JSON object body for verbs that
/// carry one.
pub(crate) fn generated_operation(
    target: &str,
    verb: &str,
    flavour: Flavour,
) -> Map<String, Value> {
    let with_body = matches!(verb, "POST" | "PUT" | "PATCH");
    let mut parameters: Vec<Value> = path_parameters(target)
        .into_iter()
        .map(|name| match flavour {
            Flavour::Oas3 => json!({"name": name, "in": "path", "required": true,
                "style": "simple", "explode": false, "schema": {"type": "string"}}),
            Flavour::Swagger2 => {
                json!({"name": name, "in": "path", "required": true, "type": "string"})
            }
        })
        .collect();
    if with_body && flavour == Flavour::Swagger2 {
        parameters.push(json!({"in": "body", "name": "Payload", "required": false,
            "schema": {"type": "object"}}));
    }
    let mut operation = Map::new();
    operation.insert("parameters".to_owned(), Value::Array(parameters));
    operation.insert(
        "responses".to_owned(),
        json!({"200": {"description": "OK"}}),
    );
    operation
}

/// The API's definition: the user's document (or the generated one) with one operation per
/// resource carrying WSO2's extensions.
fn definition(api: &Api, stored: Option<&Value>) -> Map<String, Value> {
    let (mut doc, flavour) = match stored.and_then(Value::as_object) {
        Some(doc) => (doc.clone(), flavour_of(&Value::Object(doc.clone()))),
        None => (skeleton(api), Flavour::Oas3),
    };
    let old_paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut paths = Map::new();
    for op in &api.operations {
        let old_item = old_paths.get(&op.target).and_then(Value::as_object);
        let verb = op.verb.to_ascii_lowercase();
        let item = paths.entry(op.target.clone()).or_insert_with(|| {
            // What the user wrote beside the operations (summary, shared parameters).
            let kept: Map<String, Value> = old_item
                .into_iter()
                .flatten()
                .filter(|(k, _)| !openapi::is_verb(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(kept)
        });
        let mut operation = old_item
            .and_then(|i| i.get(&verb))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(|| generated_operation(&op.target, &op.verb, flavour));
        operation.insert("security".to_owned(), json!([{"default": op.scopes}]));
        operation.insert("x-auth-type".to_owned(), json!(op.auth_type));
        operation.insert(
            "x-throttling-tier".to_owned(),
            json!(op.throttling_policy.as_deref().unwrap_or("Unlimited")),
        );
        if stored.is_none() && matches!(op.verb.as_str(), "POST" | "PUT" | "PATCH") {
            operation.insert(
                "requestBody".to_owned(),
                json!({"content": {"application/json": {"schema": {"type": "object"}}}}),
            );
        }
        if let Some(item) = item.as_object_mut() {
            item.insert(verb, Value::Object(operation));
        }
    }
    // In place, so the document keeps its key order.
    match doc.get_mut("paths") {
        Some(p) => *p = Value::Object(paths),
        None => {
            doc.insert("paths".to_owned(), Value::Object(paths));
        }
    }
    add_default_scheme(&mut doc, api, flavour);
    doc.insert(
        "x-wso2-auth-header".to_owned(),
        json!(api.authorization_header),
    );
    doc
}

/// The `default` OAuth2 scheme every WSO2 definition has, holding the API's scopes and their
/// role bindings (`updateSwaggerSecurityDefinition`).
fn add_default_scheme(doc: &mut Map<String, Value>, api: &Api, flavour: Flavour) {
    let mut scopes = Map::new();
    let mut bindings = Map::new();
    for entry in &api.scopes {
        let scope = &entry["scope"];
        let Some(name) = scope["name"].as_str() else {
            continue;
        };
        scopes.insert(
            name.to_owned(),
            json!(scope["description"].as_str().unwrap_or_default()),
        );
        let roles: Vec<&str> = scope["bindings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !roles.is_empty() {
            bindings.insert(name.to_owned(), json!(roles.join(",")));
        }
    }
    let mut holder = json!({"scopes": scopes});
    if !bindings.is_empty() {
        holder["x-scopes-bindings"] = Value::Object(bindings);
    }
    let scheme = match flavour {
        Flavour::Oas3 => {
            let mut flow = json!({"authorizationUrl": "https://test.com"});
            if let (Some(flow), Some(holder)) = (flow.as_object_mut(), holder.as_object()) {
                flow.extend(holder.clone());
            }
            json!({"type": "oauth2", "flows": {"implicit": flow}})
        }
        Flavour::Swagger2 => {
            let mut scheme = json!({"type": "oauth2",
                "authorizationUrl": "https://test.com", "flow": "implicit"});
            if let (Some(scheme), Some(holder)) = (scheme.as_object_mut(), holder.as_object()) {
                scheme.extend(holder.clone());
            }
            scheme
        }
    };
    let (outer, inner) = match flavour {
        Flavour::Oas3 => ("components", Some("securitySchemes")),
        Flavour::Swagger2 => ("securityDefinitions", None),
    };
    let container = doc.entry(outer.to_owned()).or_insert_with(|| json!({}));
    let Some(container) = container.as_object_mut() else {
        return;
    };
    let schemes = match inner {
        Some(inner) => container
            .entry(inner.to_owned())
            .or_insert_with(|| json!({})),
        None => {
            container.insert("default".to_owned(), scheme);
            return;
        }
    };
    if let Some(schemes) = schemes.as_object_mut() {
        schemes.insert("default".to_owned(), scheme);
    }
}

/// Publisher `GET /apis/{apiId}/swagger`.
pub async fn publisher_get(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_MANAGE, API_IMPORT_EXPORT])?;
    let state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    Ok(json_response(
        StatusCode::OK,
        publisher_definition(&record.api, record.definition.as_ref()),
    ))
}

/// The definition with the Publisher's extensions.
fn publisher_definition(api: &Api, stored: Option<&Value>) -> Value {
    let mut doc = definition(api, stored);
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
    Value::Object(doc)
}

/// Where an uploaded definition comes from, by part name.
const FILE: &str = "file";
const URL: &str = "url";

/// Why a supplied definition was not taken: WSO2's `ErrorHandler`s of a validation response.
#[derive(Debug)]
enum Refusal {
    /// swagger-parser's reasons (`OPENAPI_PARSE_EXCEPTION`, 900754).
    Invalid(Vec<String>),
    /// The `url` gave no definition (900756, 900757).
    Fetch(FetchError),
}

impl Refusal {
    /// The `errors` items of `OpenAPIDefinitionValidationResponse`.
    fn items(&self) -> Vec<Value> {
        let item = |code: i64, message: &str, description: &str| json!({"code": code.to_string(), "message": message, "description": description});
        match self {
            Self::Invalid(errors) => errors
                .iter()
                .map(|e| item(PARSE_ERROR_CODE, PARSE_ERROR_MESSAGE, e))
                .collect(),
            Self::Fetch(e) => vec![item(e.code(), e.message(), e.description())],
        }
    }

    /// The 400 of the operations that take the definition (`import-openapi`, `PUT /swagger`).
    fn into_error(self) -> RestError {
        match self {
            Self::Invalid(errors) => parse_error(&errors),
            // `getErrorDTOFromErrorListItems`: the first (only) item becomes the error.
            Self::Fetch(e) => RestError::new(
                StatusCode::BAD_REQUEST,
                e.code(),
                e.message(),
                e.description(),
            ),
        }
    }
}

/// The one definition a form carries under `inline` (`inlineAPIDefinition` or
/// `apiDefinition`), `file` or `url` (fetched), parsed; more or fewer than one is a 400
/// (`handleInvalidParams`).
async fn uploaded(
    cp: &ControlPlane,
    form: &Form,
    inline: &str,
) -> Result<Result<Definition, Refusal>, RestError> {
    let given: Vec<&str> = [FILE, URL, inline]
        .into_iter()
        .filter(|name| form.0.contains_key(*name))
        .collect();
    match given.as_slice() {
        [] => Err(RestError::bad_request(format!(
            "Either '{FILE}', '{URL}' or '{inline}' should be specified"
        ))),
        [URL] => {
            let url = form.0[URL].text();
            let fetched = match cp.outbound() {
                Some(outbound) => fetch::fetch(outbound, &url).await,
                None => Err(FetchError::Failed),
            };
            Ok(match fetched {
                Ok(body) => {
                    openapi::parse(&String::from_utf8_lossy(&body)).map_err(Refusal::Invalid)
                }
                Err(e) => Err(Refusal::Fetch(e)),
            })
        }
        // By its name, as WSO2 tells an archive (`fileName.endsWith(".zip")`). WSO2 throws
        // for a refused archive (its generic 500); the caller's mistake is a 400 here.
        [FILE]
            if form.0[FILE]
                .file_name
                .as_deref()
                .is_some_and(|name| name.ends_with(".zip")) =>
        {
            let text =
                archive::root_definition(&form.0[FILE].bytes).map_err(RestError::bad_request)?;
            Ok(openapi::parse(&text).map_err(Refusal::Invalid))
        }
        [one] => Ok(openapi::parse(&form.0[*one].text()).map_err(Refusal::Invalid)),
        _ => Err(RestError::bad_request(format!(
            "Only one of '{FILE}', '{URL}' and '{inline}' should be specified"
        ))),
    }
}

/// `OPENAPI_PARSE_EXCEPTION_WITH_CUSTOM_MESSAGE`: 400, code 900754, the reasons quoted.
fn parse_error(errors: &[String]) -> RestError {
    RestError::new(
        StatusCode::BAD_REQUEST,
        PARSE_ERROR_CODE,
        PARSE_ERROR_MESSAGE,
        format!("'{}'", errors.join(", ")),
    )
}

/// Publisher `PUT /apis/{apiId}/swagger`: the definition replaces the API's resources and
/// scopes and is answered back as `GET` would answer it.
pub async fn publisher_put(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    form: Form,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE])?;
    if !cp.lock().apis.contains_key(&api_id) {
        return Err(RestError::api_not_found(&api_id));
    }
    let parsed = uploaded(&cp, &form, "apiDefinition")
        .await?
        .map_err(Refusal::into_error)?;
    let now = cp.now_millis();
    let mut state = cp.lock();
    let record = state
        .apis
        .get_mut(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    record.api.operations = parsed.operations();
    record.api.scopes = parsed.scopes();
    record.api.last_updated_time = now.to_string();
    record.definition = Some(parsed.doc);
    Ok(json_response(
        StatusCode::OK,
        publisher_definition(&record.api, record.definition.as_ref()),
    ))
}

/// Publisher `POST /apis/validate-openapi[?returnContent=]`: always 200, `isValid` saying
/// whether the definition would be accepted, with its summary or the reasons.
pub async fn validate(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
    form: Form,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE])?;
    // JAX-RS reads a Boolean parameter with `Boolean.valueOf`: anything but "true" is false.
    let return_content = params
        .get("returnContent")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let body = match uploaded(&cp, &form, "inlineAPIDefinition").await? {
        Ok(definition) => {
            let info = definition.info();
            let mut body = json!({"isValid": true});
            if return_content {
                body["content"] = json!(definition.doc.to_string());
            }
            body["info"] = json!({
                "name": info.name,
                "version": info.version,
                "context": info.context,
                "description": info.description,
                "openAPIVersion": info.openapi_version,
                "endpoints": info.endpoints,
            });
            body
        }
        Err(refusal) => json!({"isValid": false, "errors": refusal.items()}),
    };
    Ok(json_response(StatusCode::OK, body))
}

/// Publisher `POST /apis/import-openapi`: an API whose name, version, context, endpoints
/// and other fields come from `additionalProperties` (the `API` object as JSON) and whose
/// resources and scopes come from the definition.
pub async fn import(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    form: Form,
) -> RestResult {
    let caller = cp.authorize(&headers, &[API_CREATE, API_MANAGE])?;
    let properties = form
        .0
        .get("additionalProperties")
        .map(|p| p.text())
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| {
            RestError::new(
                StatusCode::BAD_REQUEST,
                900700,
                "Parameter value missing",
                "'additionalProperties' is required and should not be null",
            )
        })?;
    let input: ApiInput = serde_json::from_str(&properties)
        .map_err(|_| RestError::bad_request("Error while parsing 'additionalProperties'"))?;
    let parsed = uploaded(&cp, &form, "inlineAPIDefinition")
        .await?
        .map_err(Refusal::into_error)?;
    let mut api = new_api(&cp, &caller.username, input)?;
    api.operations = parsed.operations();
    api.scopes = parsed.scopes();
    add(&cp, &caller.username, api, Some(parsed.doc))
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
    let urls: Vec<&str> = chosen
        .map(|e| {
            ["https", "http"]
                .iter()
                .filter_map(|scheme| e["URLs"][scheme].as_str())
                .collect()
        })
        .unwrap_or_default();
    let stored = record.definition.as_ref();
    let mut doc = definition(&record.api, stored);
    if !urls.is_empty() {
        match stored.map_or(Flavour::Oas3, flavour_of) {
            Flavour::Oas3 => {
                let servers = urls.iter().map(|url| json!({"url": url})).collect();
                doc.insert("servers".to_owned(), Value::Array(servers));
            }
            Flavour::Swagger2 => {
                let split: Vec<(&str, &str, &str)> =
                    urls.iter().filter_map(|u| split_url(u)).collect();
                if let Some((_, host, base)) = split.first() {
                    doc.insert("host".to_owned(), json!(host));
                    doc.insert("basePath".to_owned(), json!(base));
                    let schemes: Vec<&str> = split.iter().map(|(s, _, _)| *s).collect();
                    doc.insert("schemes".to_owned(), json!(schemes));
                }
            }
        }
    }
    Ok(json_response(StatusCode::OK, Value::Object(doc)))
}

/// `https://host:8243/ctx/1.0` → `("https", "host:8243", "/ctx/1.0")`.
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let slash = rest.find('/').unwrap_or(rest.len());
    let (host, path) = rest.split_at(slash);
    Some((scheme, host, if path.is_empty() { "/" } else { path }))
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

    #[test]
    fn urls_split_into_scheme_host_and_base_path() {
        assert_eq!(
            super::split_url("https://gw.example.com:8243/menu/1.0"),
            Some(("https", "gw.example.com:8243", "/menu/1.0"))
        );
        assert_eq!(super::split_url("http://h"), Some(("http", "h", "/")));
        assert_eq!(super::split_url("nonsense"), None);
    }
}
