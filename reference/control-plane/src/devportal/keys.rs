//! Keys per key type: each of PRODUCTION and SANDBOX gets its own OAuth client from the Key
//! Manager, bound to the application by a key mapping (which is what decides a token's key
//! type at the gateway), plus token generation for those clients.

use super::applications::owned_application;
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::publisher::{RestResult, json_response, parse_json};
use crate::rest::{JsonBody, Path};
use crate::state::KeyMappingRecord;
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use tollgate_key_manager::{ClientSpec, Grant, TokenRequest, TokenResponse};
use tollgate_protocol::artifact::KeyType;
use tollgate_protocol::event::Event;
use tollgate_protocol::store::KeyMapping;

/// The one key manager there is (re-exported: its name is the Key Manager's to say).
pub use tollgate_key_manager::RESIDENT_KEY_MANAGER;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KeyGenerateRequest {
    key_type: Option<String>,
    key_manager: Option<String>,
    grant_types_to_be_supported: Option<Vec<String>>,
    callback_url: Option<String>,
    scopes: Option<Vec<String>>,
    /// A string in WSO2's spec (`"3600"`); numbers are accepted too.
    validity_time: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct TokenGenerateRequest {
    consumer_secret: Option<String>,
    validity_period: Option<i64>,
    scopes: Option<Vec<String>>,
    revoke_token: Option<String>,
    grant_type: Option<String>,
}

/// The key-type enum of WSO2's request DTOs: another value (`sandbox` too) is read as `null`,
/// so the required `keyType` is then missing.
const KEY_TYPES: &[&str] = &["PRODUCTION", "SANDBOX"];

fn parse_key_type(value: &str) -> Result<KeyType, RestError> {
    match value.to_ascii_uppercase().as_str() {
        "PRODUCTION" => Ok(KeyType::Production),
        "SANDBOX" => Ok(KeyType::Sandbox),
        _ => Err(RestError::new(
            StatusCode::BAD_REQUEST,
            904013,
            "Bad Request",
            "Invalid keyType. KeyType should be either PRODUCTION or SANDBOX",
        )),
    }
}

fn token_json(token: &TokenResponse) -> Value {
    json!({
        "accessToken": token.access_token,
        "tokenScopes": token.scope.split_whitespace().collect::<Vec<_>>(),
        "validityTime": token.expires_in,
    })
}

/// `ApplicationKey`; the secret is shown to the application's owner, as WSO2 does.
pub(crate) fn key_json(
    record: &KeyMappingRecord,
    consumer_secret: Option<&str>,
    token: Option<&TokenResponse>,
) -> Value {
    json!({
        "keyMappingId": record.id,
        "keyManager": record.mapping.key_manager,
        "consumerKey": record.mapping.consumer_key,
        "consumerSecret": consumer_secret,
        "supportedGrantTypes": record.supported_grant_types,
        "callbackUrl": record.callback_url,
        "keyState": "COMPLETED",
        "keyType": record.mapping.key_type.as_str(),
        "mode": if record.mapped { "MAPPED" } else { "CREATED" },
        "groupId": null,
        "token": token.map(token_json),
        "additionalProperties": {},
    })
}

fn token_error(e: impl std::fmt::Display) -> RestError {
    RestError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        900957,
        "Keymanagement Error",
        format!("Error while generating the application access token. {e}"),
    )
}

fn validity(value: Option<&Value>) -> Result<Option<i64>, RestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| RestError::bad_request(format!("Invalid validity time {s}"))),
        Some(other) => Err(RestError::bad_request(format!(
            "Invalid validity time {other}"
        ))),
    }
}

pub async fn generate_keys(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(app_id): Path<String>,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, APP_MANAGE])?;
    let request: KeyGenerateRequest = parse_json(&body)?;
    // The spec's required properties are the DTO's `@NotNull`s.
    crate::constraints::Constraints::new()
        .required(
            "grantTypesToBeSupported",
            request.grant_types_to_be_supported.is_some(),
        )
        .required_enum("keyType", request.key_type.as_deref(), KEY_TYPES)
        .check()?;
    let key_type = parse_key_type(request.key_type.as_deref().unwrap_or_default())?;
    let grant_types = request
        .grant_types_to_be_supported
        .filter(|g| !g.is_empty())
        .ok_or_else(|| RestError::bad_request("grantTypesToBeSupported cannot be empty"))?;
    let key_manager = request
        .key_manager
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| RESIDENT_KEY_MANAGER.to_owned());
    if key_manager != RESIDENT_KEY_MANAGER {
        return Err(RestError::new(
            StatusCode::NOT_FOUND,
            901411,
            "Key Manager not Found",
            "Key Manager not found",
        ));
    }
    let validity_secs = validity(request.validity_time.as_ref())?;

    // The whole exchange runs under the store lock so two concurrent calls cannot both map
    // a key type; the Key Manager never calls back into this lock while issuing.
    let mut state = cp.lock();
    let app = owned_application(&state, &caller, &app_id)?.app.clone();
    if state.key_mappings.values().any(|k| {
        k.mapping.application_id == app_id
            && k.mapping.key_type == key_type
            && k.mapping.key_manager == key_manager
    }) {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            901409,
            "Key Mappings already exists",
            "Key Mappings already exists",
        ));
    }
    let client = cp.key_manager().create_client(ClientSpec {
        client_name: format!("{}_{}_{}", app.owner, app.name, key_type.as_str()),
        owner: app.owner.clone(),
        grant_types: grant_types.clone(),
        callback_url: request.callback_url.clone().filter(|c| !c.is_empty()),
    });
    let token = if grant_types.iter().any(|g| g == "client_credentials") {
        let response = cp
            .key_manager()
            .issue_token(
                &client.consumer_key,
                &client.consumer_secret,
                TokenRequest {
                    grant: Grant::ClientCredentials,
                    scopes: request.scopes.unwrap_or_default(),
                    validity_secs,
                },
            )
            .map_err(token_error)?;
        Some(response)
    } else {
        None
    };
    let record = KeyMappingRecord {
        id: cp.new_id(),
        mapping: KeyMapping {
            consumer_key: client.consumer_key.clone(),
            application_id: app_id,
            key_type,
            key_manager,
        },
        supported_grant_types: grant_types,
        callback_url: request.callback_url,
        mapped: false,
    };
    state.key_mappings.insert(record.id.clone(), record.clone());
    cp.publish(
        &mut state,
        Event::ApplicationRegistrationCreate {
            key_mapping: record.mapping.clone(),
        },
    );
    Ok(json_response(
        StatusCode::OK,
        key_json(&record, Some(&client.consumer_secret), token.as_ref()),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KeyMappingRequest {
    consumer_key: Option<String>,
    consumer_secret: Option<String>,
    key_manager: Option<String>,
    key_type: Option<String>,
}

/// `POST /applications/{applicationId}/map-keys`: an OAuth client that already exists at the
/// Key Manager (registered through DCR, say) becomes the application's keys of one type
/// (`APIConsumerImpl.mapExistingOAuthClient`). The gateways learn the mapping as they learn
/// generated keys.
pub async fn map_keys(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(app_id): Path<String>,
    body: JsonBody,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, APP_MANAGE])?;
    let request: KeyMappingRequest = parse_json(&body)?;
    // `ApplicationKeyMappingRequest`'s required properties are the DTO's `@NotNull`s.
    crate::constraints::Constraints::new()
        .required("consumerKey", request.consumer_key.is_some())
        .required_enum("keyType", request.key_type.as_deref(), KEY_TYPES)
        .check()?;
    let consumer_key = request
        .consumer_key
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| RestError::bad_request("consumerKey cannot be empty"))?;
    let key_type = parse_key_type(request.key_type.as_deref().unwrap_or_default())?;
    let key_manager = request
        .key_manager
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| RESIDENT_KEY_MANAGER.to_owned());
    if key_manager != RESIDENT_KEY_MANAGER {
        return Err(RestError::new(
            StatusCode::NOT_FOUND,
            901411,
            "Key Manager not Found",
            "Key Manager not found",
        ));
    }
    let mut state = cp.lock();
    let app = owned_application(&state, &caller, &app_id)?.app.clone();
    // `isKeyMappingExistsForConsumerKeyOrApplication`: one client per application and key
    // type, and one application per client.
    if state.key_mappings.values().any(|k| {
        k.mapping.consumer_key == consumer_key
            || (k.mapping.application_id == app_id
                && k.mapping.key_type == key_type
                && k.mapping.key_manager == key_manager)
    }) {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            901409,
            "Key Mappings already exists",
            format!(
                "Key Mappings already exists for application {} or consumer key {consumer_key}",
                app.name
            ),
        ));
    }
    // `AMDefaultKeyManagerImpl.mapOAuthApplication`: the client must exist and the secret,
    // when given, must be its own. WSO2 answers both with its generic 500; they are the
    // caller's mistakes, so 400 here.
    let client = cp
        .key_manager()
        .client(&consumer_key)
        .ok_or_else(|| {
            RestError::bad_request(format!(
                "Something went wrong while getting OAuth application for given consumer key {consumer_key}"
            ))
        })?;
    if let Some(secret) = request.consumer_secret.filter(|s| !s.is_empty())
        && secret != client.consumer_secret
    {
        return Err(RestError::bad_request(format!(
            "The secret key is wrong for the given consumer key {consumer_key}"
        )));
    }
    let record = KeyMappingRecord {
        id: cp.new_id(),
        mapping: KeyMapping {
            consumer_key,
            application_id: app_id,
            key_type,
            key_manager,
        },
        supported_grant_types: client.grant_types.clone(),
        callback_url: client.callback_url.clone(),
        mapped: true,
    };
    state.key_mappings.insert(record.id.clone(), record.clone());
    cp.publish(
        &mut state,
        Event::ApplicationRegistrationCreate {
            key_mapping: record.mapping.clone(),
        },
    );
    Ok(json_response(
        StatusCode::OK,
        key_json(&record, Some(&client.consumer_secret), None),
    ))
}

fn mapping_not_found() -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        900331,
        "Application Key mapping not found",
        "Application Key mapping not found",
    )
}

/// The key mapping selected by `select`, with its current secret.
fn find_key(
    cp: &ControlPlane,
    headers: &HeaderMap,
    app_id: &str,
    select: impl Fn(&KeyMappingRecord) -> bool,
) -> Result<(KeyMappingRecord, Option<String>), RestError> {
    let caller = cp.authorize(headers, &[SUBSCRIBE, APP_MANAGE])?;
    let state = cp.lock();
    owned_application(&state, &caller, app_id)?;
    let record = state
        .key_mappings
        .values()
        .find(|k| k.mapping.application_id == app_id && select(k))
        .cloned()
        .ok_or_else(mapping_not_found)?;
    drop(state);
    let secret = cp
        .key_manager()
        .client(&record.mapping.consumer_key)
        .map(|c| c.consumer_secret);
    Ok((record, secret))
}

pub async fn get_by_type(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_type)): Path<(String, String)>,
) -> RestResult {
    let key_type = parse_key_type(&key_type)?;
    let (record, secret) = find_key(&cp, &headers, &app_id, |k| k.mapping.key_type == key_type)?;
    Ok(json_response(
        StatusCode::OK,
        key_json(&record, secret.as_deref(), None),
    ))
}

pub async fn get_by_id(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_mapping_id)): Path<(String, String)>,
) -> RestResult {
    let (record, secret) = find_key(&cp, &headers, &app_id, |k| k.id == key_mapping_id)?;
    Ok(json_response(
        StatusCode::OK,
        key_json(&record, secret.as_deref(), None),
    ))
}

pub async fn list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(app_id): Path<String>,
) -> RestResult {
    let caller = cp.authorize(&headers, &[SUBSCRIBE, APP_MANAGE])?;
    let state = cp.lock();
    owned_application(&state, &caller, &app_id)?;
    let records: Vec<KeyMappingRecord> = state
        .key_mappings
        .values()
        .filter(|k| k.mapping.application_id == app_id)
        .cloned()
        .collect();
    drop(state);
    let list: Vec<Value> = records
        .iter()
        .map(|r| {
            let secret = cp
                .key_manager()
                .client(&r.mapping.consumer_key)
                .map(|c| c.consumer_secret);
            key_json(r, secret.as_deref(), None)
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list}),
    ))
}

async fn generate_token(
    cp: &ControlPlane,
    headers: &HeaderMap,
    app_id: &str,
    body: &[u8],
    select: impl Fn(&KeyMappingRecord) -> bool,
) -> RestResult {
    let request: TokenGenerateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TokenGenerateRequest::default()
    } else {
        parse_json(body)?
    };
    // `ApplicationTokenGenerateRequestDTO.grantType`: a value its enum does not know is read
    // as `null`, i.e. the default, client credentials.
    if let Some(grant) = request
        .grant_type
        .as_deref()
        .filter(|g| ["CLIENT_CREDENTIALS", "TOKEN_EXCHANGE"].contains(g))
        && grant != "CLIENT_CREDENTIALS"
    {
        return Err(RestError::bad_request(format!(
            "Grant type {grant} is not supported"
        )));
    }
    let (record, secret) = find_key(cp, headers, app_id, select)?;
    // Revoking happens outside the store lock: the Key Manager reports it back through the
    // event hub, which takes that lock.
    if let Some(old) = request.revoke_token.as_deref().filter(|t| !t.is_empty()) {
        let _ = cp.key_manager().revoke(old);
    }
    let secret = request
        .consumer_secret
        .filter(|s| !s.is_empty())
        .or(secret)
        .unwrap_or_default();
    let issued = cp.key_manager().issue_token(
        &record.mapping.consumer_key,
        &secret,
        TokenRequest {
            grant: Grant::ClientCredentials,
            scopes: request.scopes.unwrap_or_default(),
            validity_secs: request.validity_period.filter(|v| *v > 0),
        },
    );
    match issued {
        Ok(token) => Ok(json_response(StatusCode::OK, token_json(&token))),
        // A client's mistake (a wrong `consumerSecret`) is answered as the token endpoint
        // answers it (401 `invalid_client`), not as a server failure.
        Err(e) if e.status() != StatusCode::INTERNAL_SERVER_ERROR => {
            Ok(axum::response::IntoResponse::into_response(e))
        }
        Err(e) => Err(token_error(e)),
    }
}

pub async fn generate_token_by_id(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_mapping_id)): Path<(String, String)>,
    body: JsonBody,
) -> RestResult {
    generate_token(&cp, &headers, &app_id, &body, |k| k.id == key_mapping_id).await
}

pub async fn generate_token_by_type(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_type)): Path<(String, String)>,
    body: JsonBody,
) -> RestResult {
    let key_type = parse_key_type(&key_type)?;
    generate_token(&cp, &headers, &app_id, &body, |k| {
        k.mapping.key_type == key_type
    })
    .await
}

// --- key maintenance -----------------------------------------------------------------------

/// The key mapping of an application the caller owns, selected by `select`, under the lock.
fn owned_key(
    state: &crate::state::State,
    caller: &crate::access::Caller,
    app_id: &str,
    select: &dyn Fn(&KeyMappingRecord) -> bool,
) -> Result<KeyMappingRecord, RestError> {
    owned_application(state, caller, app_id)?;
    state
        .key_mappings
        .values()
        .find(|k| k.mapping.application_id == app_id && select(k))
        .cloned()
        .ok_or_else(mapping_not_found)
}

fn by_type(key_type: &str) -> Result<impl Fn(&KeyMappingRecord) -> bool, RestError> {
    let key_type = parse_key_type(key_type)?;
    Ok(move |k: &KeyMappingRecord| k.mapping.key_type == key_type)
}

fn by_id(id: String) -> impl Fn(&KeyMappingRecord) -> bool {
    move |k: &KeyMappingRecord| k.id == id
}

/// `regenerate-secret`: a new consumer secret; the consumer key stays.
fn regenerate(
    cp: &ControlPlane,
    headers: &HeaderMap,
    app_id: &str,
    select: &dyn Fn(&KeyMappingRecord) -> bool,
) -> RestResult {
    let caller = cp.authorize(headers, &[SUBSCRIBE, APP_MANAGE])?;
    let record = owned_key(&cp.lock(), &caller, app_id, select)?;
    let client = cp
        .key_manager()
        .regenerate_secret(&record.mapping.consumer_key)
        .ok_or_else(mapping_not_found)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"consumerKey": client.consumer_key, "consumerSecret": client.consumer_secret}),
    ))
}

pub async fn regenerate_secret_by_id(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_mapping_id)): Path<(String, String)>,
) -> RestResult {
    regenerate(&cp, &headers, &app_id, &by_id(key_mapping_id))
}

pub async fn regenerate_secret_by_type(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_type)): Path<(String, String)>,
) -> RestResult {
    regenerate(&cp, &headers, &app_id, &by_type(&key_type)?)
}

/// `clean-up`: the key mapping goes (WSO2 offers it for a key generation left incomplete);
/// the gateways forget the consumer key. 200, no body.
fn clean_up(
    cp: &ControlPlane,
    headers: &HeaderMap,
    app_id: &str,
    select: &dyn Fn(&KeyMappingRecord) -> bool,
) -> RestResult {
    let caller = cp.authorize(headers, &[SUBSCRIBE, APP_MANAGE])?;
    let mut state = cp.lock();
    let record = owned_key(&state, &caller, app_id, select)?;
    state.key_mappings.remove(&record.id);
    cp.publish(
        &mut state,
        Event::RemoveApplicationKeymapping {
            consumer_key: record.mapping.consumer_key,
        },
    );
    Ok(axum::response::IntoResponse::into_response(StatusCode::OK))
}

pub async fn clean_up_by_id(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_mapping_id)): Path<(String, String)>,
) -> RestResult {
    clean_up(&cp, &headers, &app_id, &by_id(key_mapping_id))
}

pub async fn clean_up_by_type(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_type)): Path<(String, String)>,
) -> RestResult {
    clean_up(&cp, &headers, &app_id, &by_type(&key_type)?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KeyUpdateRequest {
    supported_grant_types: Option<Vec<String>>,
    callback_url: Option<String>,
}

/// Key update (`PUT`): the supported grant types and the callback URL of the OAuth client.
fn update(
    cp: &ControlPlane,
    headers: &HeaderMap,
    app_id: &str,
    body: &[u8],
    select: &dyn Fn(&KeyMappingRecord) -> bool,
) -> RestResult {
    let caller = cp.authorize(headers, &[SUBSCRIBE, APP_MANAGE])?;
    let request: KeyUpdateRequest = parse_json(body)?;
    let mut state = cp.lock();
    let mut record = owned_key(&state, &caller, app_id, select)?;
    if let Some(grants) = request.supported_grant_types {
        record.supported_grant_types = grants;
    }
    if request.callback_url.is_some() {
        record.callback_url = request.callback_url.filter(|u| !u.is_empty());
    }
    let client = cp
        .key_manager()
        .update_client(
            &record.mapping.consumer_key,
            record.supported_grant_types.clone(),
            record.callback_url.clone(),
        )
        .ok_or_else(mapping_not_found)?;
    state.key_mappings.insert(record.id.clone(), record.clone());
    Ok(json_response(
        StatusCode::OK,
        key_json(&record, Some(&client.consumer_secret), None),
    ))
}

pub async fn update_by_id(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_mapping_id)): Path<(String, String)>,
    body: JsonBody,
) -> RestResult {
    update(&cp, &headers, &app_id, &body, &by_id(key_mapping_id))
}

pub async fn update_by_type(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((app_id, key_type)): Path<(String, String)>,
    body: JsonBody,
) -> RestResult {
    update(&cp, &headers, &app_id, &body, &by_type(&key_type)?)
}
