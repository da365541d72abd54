//! Admin v4 gateway environments: `GET/POST /environments`, `PUT/DELETE /environments/{id}`.
//!
//! Environments from `deployment.toml` are listed read-only (their name is their id); the ones
//! created here are kept in the control plane's state (and database), get a UUID, are `hybrid`
//! (WSO2 4.2 stores no type for them) and are deployment targets, gateway labels and
//! Developer Portal URL sets like the others: [`ControlPlane::environments`] is the one list
//! every part of the control plane reads. WSO2's rules (`APIAdminImpl#addEnvironment`,
//! `updateEnvironment`, `deleteEnvironment`, `validateForUniqueVhostNames`; `ExceptionCodes`
//! 900506–900510): a taken name → 400/900507, duplicate vhost hosts → 400/900509, a
//! read-only environment → 400/900508, a rename → 400/900510, an unknown id → 404/900506.

use super::scope::ADMIN;
use crate::ControlPlane;
use crate::constraints::Constraints;
use crate::error::RestError;
use crate::publisher::{RestResult, json_response, parse_json};
use crate::rest::{JsonBody, Path};
use crate::state::State as Store;
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use tollgate_config::Ports;
use tollgate_config::model::{Environment, EnvironmentType, VHost};

pub const ENVIRONMENT_READ: &str = "apim:environment_read";
pub const ENVIRONMENT_MANAGE: &str = "apim:environment_manage";

/// An environment created through the Admin API, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DynamicEnvironment {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub provider: String,
    pub vhosts: Vec<StoredVHost>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredVHost {
    pub host: String,
    pub http_context: String,
    pub http_port: u16,
    pub https_port: u16,
    pub ws_host: String,
    pub ws_port: u16,
    pub wss_host: String,
    pub wss_port: u16,
}

impl DynamicEnvironment {
    /// The environment every other part of the control plane sees: hybrid, shown in the
    /// Try-Out console, not the token endpoint's.
    pub fn environment(&self) -> Environment {
        Environment {
            name: self.name.clone(),
            display_name: self.display_name.clone(),
            kind: EnvironmentType::Hybrid,
            description: self.description.clone(),
            display_in_api_console: true,
            show_as_token_endpoint_url: false,
            provider: self.provider.clone(),
            service_url: None,
            username: None,
            password: None,
            http_endpoint: None,
            https_endpoint: None,
            ws_endpoint: None,
            wss_endpoint: None,
            vhosts: self
                .vhosts
                .iter()
                .map(|v| VHost {
                    host: v.host.clone(),
                    http_context: v.http_context.clone(),
                    http_port: v.http_port,
                    https_port: v.https_port,
                    ws_host: v.ws_host.clone(),
                    ws_port: v.ws_port,
                    wss_host: v.wss_host.clone(),
                    wss_port: v.wss_port,
                    websub_http_port: Ports::BASE.websub_http,
                    websub_https_port: Ports::BASE.websub_https,
                })
                .collect(),
            visibility: Vec::new(),
        }
    }
}

impl ControlPlane {
    /// Every gateway environment: those of `deployment.toml` in their order, then those
    /// created through the Admin API in creation order.
    pub(crate) fn environments(&self, state: &Store) -> Vec<Environment> {
        let mut list = self.settings().environments.clone();
        list.extend(
            state
                .environments
                .iter()
                .map(DynamicEnvironment::environment),
        );
        list
    }

    /// The environment named `name` (the deployment target and gateway label).
    pub(crate) fn environment(&self, state: &Store, name: &str) -> Option<Environment> {
        if let Some(env) = self.settings().environment(name) {
            return Some(env.clone());
        }
        state
            .environments
            .iter()
            .find(|e| e.name == name)
            .map(DynamicEnvironment::environment)
    }
}

/// The request body (`Environment`; `id`, `isReadOnly` and `endpointURIs` are read-only).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvironmentInput {
    name: Option<String>,
    display_name: Option<String>,
    provider: Option<String>,
    description: Option<String>,
    vhosts: Option<Vec<VHostInput>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VHostInput {
    host: Option<String>,
    http_context: Option<String>,
    http_port: Option<u16>,
    https_port: Option<u16>,
    ws_port: Option<u16>,
    ws_host: Option<String>,
    wss_port: Option<u16>,
    wss_host: Option<String>,
}

/// `^[a-zA-Z0-9_-]+$` (the length is `@Size`'s).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks `input` against the spec's constraints (`EnvironmentDTO`'s and, for each vhost,
/// `VHostDTO`'s bean validation; the host is not matched against its pattern, WSO2 takes it
/// verbatim) and builds the stored form (ports default to WSO2's 80/443/9099/8099, ws/wss
/// hosts to the host).
fn validate(id: String, input: EnvironmentInput) -> Result<DynamicEnvironment, RestError> {
    let mut constraints = Constraints::new();
    constraints
        .required("name", input.name.is_some())
        .size("name", input.name.as_deref(), 1, 255)
        .pattern(
            "name",
            input.name.as_deref(),
            valid_name,
            "^[a-zA-Z0-9_-]+$",
        )
        .size("displayName", input.display_name.as_deref(), 1, 255)
        .size("description", input.description.as_deref(), 0, 1023)
        .required("vhosts", input.vhosts.is_some())
        .items(
            "vhosts",
            input.vhosts.as_ref().map(Vec::len),
            1,
            i32::MAX as usize,
        );
    for (i, v) in input.vhosts.iter().flatten().enumerate() {
        let field = format!("vhosts[{i}].host");
        constraints
            .required(&field, v.host.is_some())
            .size(&field, v.host.as_deref(), 1, 255);
    }
    constraints.check()?;
    let name = input.name.unwrap_or_default();
    let display_name = input.display_name.unwrap_or_else(|| name.clone());
    let description = input.description.unwrap_or_default();
    let vhosts = input.vhosts.unwrap_or_default();
    let mut stored = Vec::new();
    for v in vhosts {
        let host = v.host.unwrap_or_default();
        if stored.iter().any(|s: &StoredVHost| s.host == host) {
            return Err(RestError::new(
                StatusCode::BAD_REQUEST,
                900509,
                "Gateway Environment with duplicate virtual hosts",
                "A Gateway Environment cannot exists with duplicate virtual hosts",
            ));
        }
        stored.push(StoredVHost {
            http_context: v.http_context.unwrap_or_default(),
            http_port: v.http_port.unwrap_or(80),
            https_port: v.https_port.unwrap_or(443),
            ws_host: v.ws_host.unwrap_or_else(|| host.clone()),
            ws_port: v.ws_port.unwrap_or(Ports::BASE.ws),
            wss_host: v.wss_host.unwrap_or_else(|| host.clone()),
            wss_port: v.wss_port.unwrap_or(Ports::BASE.wss),
            host,
        });
    }
    Ok(DynamicEnvironment {
        id,
        name,
        display_name,
        description,
        provider: input
            .provider
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "wso2".to_owned()),
        vhosts: stored,
    })
}

/// The Admin API's `Environment`.
fn environment_json(id: &str, env: &Environment, read_only: bool) -> Value {
    let mut value = crate::publisher::environment_json(env);
    let vhosts: Vec<Value> = env
        .vhosts
        .iter()
        .map(|v| {
            json!({"host": v.host, "httpContext": v.http_context, "httpPort": v.http_port,
                "httpsPort": v.https_port, "wsPort": v.ws_port, "wsHost": v.ws_host,
                "wssPort": v.wss_port, "wssHost": v.wss_host})
        })
        .collect();
    json!({
        "id": id,
        "name": env.name,
        "displayName": env.display_name,
        "provider": env.provider,
        "description": env.description,
        "isReadOnly": read_only,
        "vhosts": vhosts,
        "endpointURIs": value["endpointURIs"].take(),
        "additionalProperties": [],
    })
}

fn not_found(id: &str) -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        900506,
        "Gateway Environment not found",
        format!("Gateway Environment with UUID '{id}' not found"),
    )
}

fn read_only(id: &str) -> RestError {
    RestError::new(
        StatusCode::BAD_REQUEST,
        900508,
        "Gateway Environment is read only",
        format!("A Gateway Environment with UUID '{id}' is read only"),
    )
}

pub async fn list(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, &[ADMIN, ENVIRONMENT_READ])?;
    let state = cp.lock();
    let mut list: Vec<Value> = cp
        .settings()
        .environments
        .iter()
        .map(|e| environment_json(&e.name, e, true))
        .collect();
    list.extend(
        state
            .environments
            .iter()
            .map(|e| environment_json(&e.id, &e.environment(), false)),
    );
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list}),
    ))
}

pub async fn create(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, ENVIRONMENT_MANAGE])?;
    let input: EnvironmentInput = parse_json(&body)?;
    let env = validate(cp.new_id(), input)?;
    let mut state = cp.lock();
    if cp.environment(&state, &env.name).is_some() {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            900507,
            "Gateway Environment already exists",
            format!(
                "A Gateway Environment with name '{}' already exists",
                env.name
            ),
        ));
    }
    let answer = environment_json(&env.id, &env.environment(), false);
    let location = format!("/api/am/admin/v4/environments/{}", env.id);
    state.environments.push(env);
    Ok(crate::rest::with_location(
        json_response(StatusCode::CREATED, answer),
        &cp.settings().mgmt_base_url(),
        &location,
    ))
}

pub async fn update(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, ENVIRONMENT_MANAGE])?;
    let input: EnvironmentInput = parse_json(&body)?;
    let mut state = cp.lock();
    if cp.settings().environment(&id).is_some() {
        return Err(read_only(&id));
    }
    let position = state
        .environments
        .iter()
        .position(|e| e.id == id)
        .ok_or_else(|| not_found(&id))?;
    let env = validate(id.clone(), input)?;
    if env.name != state.environments[position].name {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            900510,
            "Names of Gateway Environment cannot be changed",
            "Name of the gateway is read only",
        ));
    }
    let answer = environment_json(&env.id, &env.environment(), false);
    state.environments[position] = env;
    Ok(json_response(StatusCode::OK, answer))
}

pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, ENVIRONMENT_MANAGE])?;
    let mut state = cp.lock();
    if cp.settings().environment(&id).is_some() {
        return Err(read_only(&id));
    }
    let before = state.environments.len();
    state.environments.retain(|e| e.id != id);
    if state.environments.len() == before {
        return Err(not_found(&id));
    }
    Ok(axum::response::IntoResponse::into_response(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_specs_pattern() {
        assert!(valid_name("us-region_2"));
        assert!(!valid_name("us region"));
        assert!(!valid_name(""));
        // The pattern has no length: that is `@Size`'s (1-255).
        assert!(valid_name(&"a".repeat(256)));
    }
}
