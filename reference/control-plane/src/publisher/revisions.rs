//! Revisions (at most [`crate::settings::DEFAULT_MAX_REVISIONS`] per API), deploying a revision
//! to named environments with a vhost (one revision per environment), undeploying, restoring,
//! and the deployment list.

use super::{RestResult, json_response, parse_json, rfc3339};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::constraints::{Constraints, HOST_NAME_PATTERN, is_host_name};
use crate::error::RestError;
use crate::rest::{JsonBody, PUBLISHER_BASE, Path, Query, with_location};
use crate::state::{ApiRecord, Deployment, Revision, artifact};
use axum::extract::State;
use base64::Engine;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tollgate_protocol::event::Event;

/// `APIRevisionDeployment` as a request element.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct DeploymentRequest {
    name: Option<String>,
    revision_uuid: Option<String>,
    vhost: Option<String>,
    display_on_devportal: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RevisionRequest {
    description: Option<String>,
}

pub(crate) fn deployment_json(d: &Deployment) -> Value {
    json!({
        "revisionUuid": d.revision_id,
        "name": d.environment,
        "vhost": d.vhost,
        "displayOnDevportal": d.display_on_devportal,
        "deployedTime": rfc3339(d.deployed_time),
        "successDeployedTime": rfc3339(d.deployed_time),
    })
}

/// Deployments in the order the environments are declared.
fn ordered_deployments<'a>(
    cp: &ControlPlane,
    record: &'a ApiRecord,
    revision_id: Option<&str>,
) -> Vec<&'a Deployment> {
    let position = |name: &str| {
        cp.settings()
            .environments
            .iter()
            .position(|e| e.name == name)
            .unwrap_or(usize::MAX)
    };
    let mut list: Vec<&Deployment> = record
        .deployments
        .values()
        .filter(|d| revision_id.is_none_or(|r| d.revision_id == r))
        .collect();
    list.sort_by_key(|d| (position(&d.environment), d.environment.clone()));
    list
}

/// The `APIRevisionDeployment` list of [`ordered_deployments`], as every deployment endpoint
/// and `deploymentInfo` answer it.
fn deployments_json(
    cp: &ControlPlane,
    record: &ApiRecord,
    revision_id: Option<&str>,
) -> Vec<Value> {
    ordered_deployments(cp, record, revision_id)
        .into_iter()
        .map(deployment_json)
        .collect()
}

fn revision_json(cp: &ControlPlane, record: &ApiRecord, revision: &Revision) -> Value {
    json!({
        "displayName": format!("Revision {}", revision.number),
        "id": revision.id,
        "description": revision.description,
        "createdTime": rfc3339(revision.created_time),
        "apiInfo": {"id": record.api.id},
        "deploymentInfo": deployments_json(cp, record, Some(&revision.id)),
    })
}

fn revision_list_json(cp: &ControlPlane, record: &ApiRecord, filter: Option<&str>) -> Value {
    let filter = filter.map(str::to_ascii_lowercase);
    let list: Vec<Value> = record
        .revisions
        .values()
        .filter(|r| {
            let deployed = record.deployments.values().any(|d| d.revision_id == r.id);
            match filter.as_deref() {
                Some("deployed:true") => deployed,
                Some("deployed:false") => !deployed,
                _ => true,
            }
        })
        .map(|r| revision_json(cp, record, r))
        .collect();
    json!({"count": list.len(), "list": list})
}

fn find_revision<'a>(record: &'a ApiRecord, revision_id: &str) -> Result<&'a Revision, RestError> {
    record
        .revisions
        .values()
        .find(|r| r.id == revision_id)
        .ok_or_else(|| RestError::revision_not_found(revision_id))
}

/// `GlobalThrowableMapper`'s generic 500; WSO2 answers it when a revision is created for an
/// API that does not exist (pinned by its own tests).
fn internal_error() -> RestError {
    RestError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        500,
        "Internal server error",
        "The server encountered an internal error. Please contact administrator.",
    )
}

pub async fn create(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(
        &headers,
        &[API_CREATE, API_MANAGE, API_PUBLISH, API_IMPORT_EXPORT],
    )?;
    let request: RevisionRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RevisionRequest::default()
    } else {
        parse_json(&body)?
    };
    // `APIRevision.description`: `@Size(min=0, max=255)`.
    Constraints::new()
        .size("description", request.description.as_deref(), 0, 255)
        .check()?;
    let id = cp.new_id();
    let now = cp.now_millis();
    let max = cp.settings().max_revisions;
    let mut state = cp.lock();
    let record = state.apis.get_mut(&api_id).ok_or_else(internal_error)?;
    if record.revisions.len() >= max {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            900351,
            "Can not create API Revision ",
            format!(
                "Maximum number of revisions per API has reached.Need to remove any revision to \
                 create a new Revision for API with API UUID: {api_id}"
            ),
        ));
    }
    let number = record.last_revision_number + 1;
    let mut snapshot = record.api.clone();
    snapshot.is_revision = true;
    snapshot.revisioned_api_id = Some(api_id.clone());
    snapshot.revision_id = number;
    let revision = Revision {
        id,
        number,
        description: request.description,
        created_time: now,
        snapshot,
    };
    record.last_revision_number = number;
    record.revisions.insert(number, revision.clone());
    let body = revision_json(&cp, record, &revision);
    // `createAPIRevision`: `"/apis/" + apiId + "/" + "/revisions" + "/" + id`. Its doubled
    // slash is not reproduced: whether CXF's `UriBuilder.path` collapses it is UNCONFIRMED.
    Ok(with_location(
        json_response(StatusCode::CREATED, body),
        &cp.settings().mgmt_base_url(),
        &format!("{PUBLISHER_BASE}/apis/{api_id}/revisions/{}", revision.id),
    ))
}

pub async fn list(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(
        &headers,
        &[
            API_VIEW,
            API_CREATE,
            API_MANAGE,
            API_PUBLISH,
            API_IMPORT_EXPORT,
        ],
    )?;
    let state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let body = revision_list_json(&cp, record, params.get("query").map(String::as_str));
    Ok(json_response(StatusCode::OK, body))
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((api_id, revision_id)): Path<(String, String)>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_CREATE, API_MANAGE, API_PUBLISH])?;
    let state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let revision = find_revision(record, &revision_id)?;
    Ok(json_response(
        StatusCode::OK,
        revision_json(&cp, record, revision),
    ))
}

pub async fn delete(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((api_id, revision_id)): Path<(String, String)>,
) -> RestResult {
    cp.authorize(
        &headers,
        &[API_CREATE, API_MANAGE, API_PUBLISH, API_IMPORT_EXPORT],
    )?;
    let mut state = cp.lock();
    let record = state
        .apis
        .get_mut(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let number = find_revision(record, &revision_id)?.number;
    if record
        .deployments
        .values()
        .any(|d| d.revision_id == revision_id)
    {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            900348,
            "Can not delete API Revision ",
            format!(
                "Couldn't delete API revision since API revision is currently deployed to a \
                 gateway. You need to undeploy the API Revision from the gateway before \
                 attempting deleting API Revision: {revision_id} "
            ),
        ));
    }
    record.revisions.remove(&number);
    let body = revision_list_json(&cp, record, None);
    Ok(json_response(StatusCode::OK, body))
}

fn parse_deployments(body: &[u8]) -> Result<Vec<DeploymentRequest>, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let requests: Vec<DeploymentRequest> = parse_json(body)?;
    let mut constraints = Constraints::new();
    for (i, request) in requests.iter().enumerate() {
        deployment_constraints(&mut constraints, &format!("[{i}]."), request);
    }
    constraints.check()?;
    Ok(requests)
}

/// `APIRevisionDeployment`'s `@Size` and `@Pattern`s, each field named under `prefix`.
fn deployment_constraints(c: &mut Constraints, prefix: &str, request: &DeploymentRequest) {
    let name = |field: &str| format!("{prefix}{field}");
    c.size(&name("name"), request.name.as_deref(), 1, 255)
        .size(
            &name("revisionUuid"),
            request.revision_uuid.as_deref(),
            0,
            255,
        )
        .size(&name("vhost"), request.vhost.as_deref(), 1, 255)
        .pattern(
            &name("vhost"),
            request.vhost.as_deref().filter(|v| !v.is_empty()),
            is_host_name,
            HOST_NAME_PATTERN,
        );
}

fn invalid_environment(name: &str) -> RestError {
    // `ExceptionCodes.from(INVALID_GATEWAY_ENVIRONMENT, "name '<x>'")` formats into a template
    // that already quotes: WSO2's own tests pin the doubled quoting.
    RestError::new(
        StatusCode::BAD_REQUEST,
        900504,
        "Invalid Gateway Environment",
        format!("Gateway Environment with name 'name '{name}'' not found"),
    )
}

fn missing_parameter() -> RestError {
    RestError::new(
        StatusCode::BAD_REQUEST,
        900700,
        "Parameter value missing",
        "Some of the mandatory parameter values were missing",
    )
}

pub async fn deploy(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE, API_PUBLISH])?;
    let revision_id = params
        .get("revisionId")
        .ok_or_else(missing_parameter)?
        .clone();
    let requests = parse_deployments(&body)?;
    let now = cp.now_millis();
    let mut state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let revision = find_revision(record, &revision_id)?.clone();
    if record.api.life_cycle_status == "RETIRED" {
        return Err(RestError::bad_request(
            "Deploying API Revisions is not supported for retired APIs",
        ));
    }

    // Validate every target before changing anything (`mapAPIRevisionDeploymentWithValidation`).
    let mut targets = Vec::new();
    for request in requests {
        let name = request.name.unwrap_or_default();
        let env = cp
            .environment(&state, &name)
            .ok_or_else(|| invalid_environment(&name))?;
        let vhost = request.vhost.unwrap_or_default();
        if vhost.is_empty() {
            return Err(RestError::new(
                StatusCode::BAD_REQUEST,
                900511,
                "Gateway Environment virtual hosts name not provided",
                "Gateway Environment VHOST name not provided",
            ));
        }
        // A WebSocket API's deployment names the ws host; it stands for its vhost.
        let Some(host) = env
            .vhosts
            .iter()
            .find(|v| v.host == vhost)
            .or_else(|| env.vhosts.iter().find(|v| v.ws_host == vhost))
            .map(|v| v.host.clone())
        else {
            return Err(RestError::new(
                StatusCode::BAD_REQUEST,
                900512,
                "Invalid virtual host name provided",
                "Virtual host with provided vhost name does not exist",
            ));
        };
        targets.push((
            env.clone(),
            host,
            request.display_on_devportal.unwrap_or(true),
        ));
    }

    let lifecycle = record.api.life_cycle_status.clone();
    let previous = record.deployments.clone();
    let revisions = record.revisions.clone();
    for (env, vhost, display) in targets {
        let deployment = Deployment {
            environment: env.name.clone(),
            revision_id: revision.id.clone(),
            vhost,
            display_on_devportal: display,
            deployed_time: now,
        };
        // One revision per environment: the one there is undeployed first.
        if let Some(old) = previous.get(&env.name)
            && old.revision_id != revision.id
        {
            let context = revisions
                .values()
                .find(|r| r.id == old.revision_id)
                .map_or_else(
                    || revision.snapshot.served_context(),
                    |r| r.snapshot.served_context(),
                );
            cp.publish(
                &mut state,
                Event::RemoveApiFromGateway {
                    label: env.name.clone(),
                    api_id: api_id.clone(),
                    context,
                },
            );
        }
        let event = Event::DeployApiInGateway {
            label: env.name.clone(),
            artifact: Box::new(artifact(&revision, &lifecycle, &env, &deployment)),
        };
        if let Some(r) = state.apis.get_mut(&api_id) {
            r.deployments.insert(env.name.clone(), deployment);
        }
        cp.publish(&mut state, event);
    }
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let list = deployments_json(&cp, record, Some(&revision.id));
    Ok(json_response(StatusCode::CREATED, list))
}

pub async fn undeploy(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(
        &headers,
        &[API_CREATE, API_MANAGE, API_PUBLISH, API_IMPORT_EXPORT],
    )?;
    let all = params
        .get("allEnvironments")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let requests = parse_deployments(&body)?;
    let mut state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let revision = match (params.get("revisionId"), params.get("revisionNumber")) {
        (Some(id), _) => find_revision(record, id)?.clone(),
        (None, Some(number)) => number
            .parse::<u32>()
            .ok()
            .and_then(|n| record.revisions.get(&n))
            .cloned()
            .ok_or_else(|| RestError::revision_not_found(number))?,
        (None, None) => return Err(missing_parameter()),
    };
    let names: Vec<String> = if all {
        record
            .deployments
            .values()
            .filter(|d| d.revision_id == revision.id)
            .map(|d| d.environment.clone())
            .collect()
    } else {
        let mut names = Vec::new();
        for request in requests {
            let name = request.name.unwrap_or_default();
            if cp.environment(&state, &name).is_none() {
                return Err(invalid_environment(&name));
            }
            names.push(name);
        }
        names
    };
    for name in names {
        let removed = state.apis.get_mut(&api_id).and_then(|r| {
            let matches = r
                .deployments
                .get(&name)
                .is_some_and(|d| d.revision_id == revision.id);
            if matches {
                r.deployments.remove(&name)
            } else {
                None
            }
        });
        if removed.is_some() {
            cp.publish(
                &mut state,
                Event::RemoveApiFromGateway {
                    label: name,
                    api_id: api_id.clone(),
                    context: revision.snapshot.served_context(),
                },
            );
        }
    }
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let list = deployments_json(&cp, record, Some(&revision.id));
    Ok(json_response(StatusCode::CREATED, list))
}

/// `GET /apis/{id}/deployments`: 4.2 answers a bare array (the spec says `{list}`).
pub async fn deployments(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[API_VIEW, API_CREATE, API_MANAGE, API_PUBLISH])?;
    let state = cp.lock();
    let record = state
        .apis
        .get(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let list = deployments_json(&cp, record, None);
    Ok(json_response(StatusCode::OK, list))
}

/// `deploymentId` is the environment name, base64url-encoded.
pub(crate) fn decode_deployment_id(id: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id.trim_end_matches('='))
        .ok()?;
    String::from_utf8(bytes).ok()
}

pub async fn update_deployment(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path((api_id, deployment_id)): Path<(String, String)>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE, API_PUBLISH])?;
    let request: DeploymentRequest = parse_json(&body)?;
    let mut constraints = Constraints::new();
    deployment_constraints(&mut constraints, "", &request);
    constraints.check()?;
    let mut state = cp.lock();
    let record = state
        .apis
        .get_mut(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let not_found = || {
        RestError::new(
            StatusCode::NOT_FOUND,
            900356,
            "Existing Deployment Not Found",
            format!("Deployment with {deployment_id} not found"),
        )
    };
    let name = decode_deployment_id(&deployment_id).ok_or_else(not_found)?;
    let deployment = record.deployments.get_mut(&name).ok_or_else(not_found)?;
    if let Some(display) = request.display_on_devportal {
        deployment.display_on_devportal = display;
    }
    Ok(json_response(StatusCode::OK, deployment_json(deployment)))
}

/// `POST /apis/{id}/restore-revision`: the working copy becomes the revision's copy again;
/// the lifecycle state is not part of a revision and stays.
pub async fn restore(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(api_id): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
) -> RestResult {
    cp.authorize(&headers, &[API_CREATE, API_MANAGE, API_PUBLISH])?;
    let revision_id = params
        .get("revisionId")
        .ok_or_else(missing_parameter)?
        .clone();
    let now = cp.now_millis();
    let mut state = cp.lock();
    let record = state
        .apis
        .get_mut(&api_id)
        .ok_or_else(|| RestError::api_not_found(&api_id))?;
    let mut api = find_revision(record, &revision_id)?.snapshot.clone();
    api.is_revision = false;
    api.revisioned_api_id = None;
    api.revision_id = 0;
    api.life_cycle_status = record.api.life_cycle_status.clone();
    api.last_updated_time = now.to_string();
    record.api = api.clone();
    Ok(json_response(StatusCode::CREATED, api.masked()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_ids_are_base64url_environment_names() {
        assert_eq!(
            decode_deployment_id("UHJvZHVjdGlvbiBhbmQgU2FuZGJveA").as_deref(),
            Some("Production and Sandbox")
        );
        assert_eq!(
            decode_deployment_id("RGVmYXVsdA==").as_deref(),
            Some("Default")
        );
        assert_eq!(decode_deployment_id("!!"), None);
    }
}
