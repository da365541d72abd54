//! Operation policies (Publisher `/operation-policies…`, common to every API, and
//! `/apis/{apiId}/operation-policies…`, an API's own), as WSO2's
//! `OperationPoliciesApiServiceImpl` and `ApisApiServiceImpl` keep them: a specification
//! (JSON or YAML) and a definition per gateway kind. They are stored and answered; the
//! gateways do not apply them yet, and no built-in common policy is shipped.

use super::apis::page;
use super::{RestResult, json_response};
use crate::ControlPlane;
use crate::access::scope::*;
use crate::error::RestError;
use crate::model::pagination;
use crate::rest::{Form, PUBLISHER_BASE, Path, Query, with_location};
use crate::state::State as Store;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationPolicy {
    pub id: String,
    /// The API it belongs to; `None` for a common policy.
    pub api_id: Option<String>,
    /// `OperationPolicySpecification` as uploaded, with `version` defaulted.
    pub specification: Value,
    pub synapse_definition: Option<String>,
    pub cc_definition: Option<String>,
    pub md5: String,
}

impl OperationPolicy {
    fn name(&self) -> &str {
        self.specification["name"].as_str().unwrap_or_default()
    }

    fn version(&self) -> &str {
        self.specification["version"].as_str().unwrap_or("v1")
    }
}

/// `OperationPolicySpecification`'s mandatory fields, as `APIUtil.validateOperationPolicySpecification` lists them.
const MANDATORY: &[&str] = &["category", "name", "displayName", "description"];
const LIST_FIELDS: &[&str] = &[
    "applicableFlows",
    "supportedGateways",
    "supportedApiTypes",
    "policyAttributes",
];

fn not_found(id: &str) -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        902010,
        "Operation Policy Not Found",
        format!("Requested operation policy with id '{id}' not found"),
    )
}

fn invalid_specification(why: &str) -> RestError {
    RestError::new(
        StatusCode::BAD_REQUEST,
        902006,
        "Invalid operation policy specification found",
        format!("Invalid operation policy specification. {why}"),
    )
}

/// `OperationPolicyData`.
fn data_json(p: &OperationPolicy) -> Value {
    let s = &p.specification;
    let mut data = json!({
        "category": s["category"],
        "id": p.id,
        "name": p.name(),
        "version": p.version(),
        "displayName": s["displayName"],
        "description": s["description"],
        "applicableFlows": s["applicableFlows"],
        "supportedGateways": s["supportedGateways"],
        "supportedApiTypes": s["supportedApiTypes"],
        "isAPISpecific": p.api_id.is_some(),
        "md5": p.md5,
        "policyAttributes": s["policyAttributes"],
    });
    if let Some(map) = data.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    data
}

/// The specification and definitions of a multipart upload, checked as WSO2 checks them.
fn read_upload(form: &Form) -> Result<(Value, Option<String>, Option<String>), RestError> {
    let spec_part = form
        .0
        .get("policySpecFile")
        .filter(|p| !p.bytes.is_empty())
        .ok_or_else(|| invalid_specification("The policy specification file is missing"))?;
    let spec: Value = serde_norway::from_slice(&spec_part.bytes)
        .map_err(|_| invalid_specification("The specification is neither JSON nor YAML"))?;
    let Value::Object(mut spec) = spec else {
        return Err(invalid_specification("The specification is not an object"));
    };
    let missing: Vec<&str> = MANDATORY
        .iter()
        .copied()
        .filter(|f| {
            spec.get(*f)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        })
        .collect();
    if !missing.is_empty() {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            902009,
            "Missing mandatory operation policy attribute",
            format!(
                "Required attributes(s) {} for operation policy specification {} are either missing or empty",
                missing.join(", "),
                spec.get("name").and_then(Value::as_str).unwrap_or_default()
            ),
        ));
    }
    for field in LIST_FIELDS {
        if spec.get(*field).is_some_and(|v| !v.is_array()) {
            return Err(invalid_specification(&format!("{field} is not a list")));
        }
    }
    match spec.get("version") {
        None | Some(Value::Null) => {
            spec.insert("version".into(), json!("v1"));
        }
        Some(Value::String(_)) => {}
        Some(_) => return Err(invalid_specification("version is not a string")),
    }
    let definition = |name: &str| {
        form.0
            .get(name)
            .filter(|p| !p.bytes.is_empty())
            .map(|p| p.text())
    };
    let synapse = definition("synapsePolicyDefinitionFile");
    let cc = definition("ccPolicyDefinitionFile");
    if synapse.is_none() && cc.is_none() {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            903008,
            "Either Synapse or Choreo Gateway Definition files or both should be present",
            "Operation Policy cannot be imported due to the missing Gateway files.",
        ));
    }
    Ok((Value::Object(spec), synapse, cc))
}

/// MD5 of the specification and definitions, as WSO2 hashes a policy to tell versions apart.
fn md5_of(spec: &Value, synapse: Option<&str>, cc: Option<&str>) -> String {
    let mut hasher = Md5::new();
    hasher.update(spec.to_string());
    hasher.update(synapse.unwrap_or_default());
    hasher.update(cc.unwrap_or_default());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `GET …/content`: a zip of `<name>.yaml` (the specification) and `<name>.j2` / `<name>.gotmpl`
/// (the Synapse and Choreo Connect definitions), as WSO2's `exportOperationPolicy` packs it.
fn content(p: &OperationPolicy) -> Result<Response, RestError> {
    let name = p.name();
    let spec = json!({"type": "operation_policy_specification", "version": "v4.2.0",
        "data": p.specification});
    let yaml = serde_norway::to_string(&spec).unwrap_or_default();
    let mut files = vec![(format!("{name}.yaml"), yaml)];
    if let Some(d) = &p.synapse_definition {
        files.push((format!("{name}.j2"), d.clone()));
    }
    if let Some(d) = &p.cc_definition {
        files.push((format!("{name}.gotmpl"), d.clone()));
    }
    let failed = |_| RestError::bad_request("Could not pack the operation policy");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        // A fixed time, so one policy always packs to the same bytes.
        .last_modified_time(zip::DateTime::default());
    for (file, text) in files {
        zip.start_file(format!("{name}_{}/{file}", p.version()), options)
            .map_err(failed)?;
        zip.write_all(text.as_bytes())
            .map_err(|_| RestError::bad_request("Could not pack the operation policy"))?;
    }
    let bytes = zip.finish().map_err(failed)?.into_inner();
    let mut response = (StatusCode::OK, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{name}_{}.zip\"",
        p.version()
    )) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// `query=name:<n> version:<v>` (either, both or none), as WSO2 filters the list.
fn matches_query(p: &OperationPolicy, query: Option<&String>) -> bool {
    let Some(query) = query else { return true };
    query
        .split_whitespace()
        .all(|term| match term.split_once(':') {
            Some(("name", n)) => p.name() == n,
            Some(("version", v)) => p.version() == v,
            _ => true,
        })
}

fn list_of(state: &Store, api_id: Option<&str>, params: &BTreeMap<String, String>) -> RestResult {
    let all: Vec<Value> = state
        .operation_policies
        .iter()
        .filter(|p| p.api_id.as_deref() == api_id)
        .filter(|p| matches_query(p, params.get("query")))
        .map(data_json)
        .collect();
    let (list, offset, limit) = page(&all, params)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": list.len(), "list": list,
            "pagination": pagination(offset, limit, all.len())}),
    ))
}

fn find<'a>(
    state: &'a Store,
    api_id: Option<&str>,
    id: &str,
) -> Result<&'a OperationPolicy, RestError> {
    if let Some(api_id) = api_id
        && !state.apis.contains_key(api_id)
    {
        return Err(RestError::api_not_found(api_id));
    }
    state
        .operation_policies
        .iter()
        .find(|p| p.id == id && p.api_id.as_deref() == api_id)
        .ok_or_else(|| not_found(id))
}

fn add(cp: &ControlPlane, api_id: Option<String>, form: &Form) -> RestResult {
    let (specification, synapse_definition, cc_definition) = read_upload(form)?;
    let mut state = cp.lock();
    if let Some(api_id) = &api_id
        && !state.apis.contains_key(api_id)
    {
        return Err(RestError::api_not_found(api_id));
    }
    let policy = OperationPolicy {
        id: cp.new_id(),
        md5: md5_of(
            &specification,
            synapse_definition.as_deref(),
            cc_definition.as_deref(),
        ),
        api_id,
        specification,
        synapse_definition,
        cc_definition,
    };
    if state.operation_policies.iter().any(|p| {
        p.api_id == policy.api_id && p.name() == policy.name() && p.version() == policy.version()
    }) {
        return Err(RestError::new(
            StatusCode::CONFLICT,
            903001,
            "The Operation Policy already exists.",
            format!(
                "An Operation Policy with name '{}' and version '{}' already exists",
                policy.name(),
                policy.version()
            ),
        ));
    }
    state.operation_policies.push(policy.clone());
    let path = match &policy.api_id {
        Some(api_id) => format!(
            "{PUBLISHER_BASE}/apis/{api_id}/operation-policies/{}",
            policy.id
        ),
        None => format!("{PUBLISHER_BASE}/operation-policies/{}", policy.id),
    };
    Ok(with_location(
        json_response(StatusCode::CREATED, data_json(&policy)),
        &cp.settings().mgmt_base_url(),
        &path,
    ))
}

/// Common policies (`/operation-policies…`).
pub mod common {
    use super::*;

    const VIEW: &[&str] = &[
        COMMON_OPERATION_POLICY_VIEW,
        COMMON_OPERATION_POLICY_MANAGE,
        POLICIES_IMPORT_EXPORT,
    ];

    pub async fn list(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Query(params): Query<BTreeMap<String, String>>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        list_of(&cp.lock(), None, &params)
    }

    pub async fn create(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        form: Form,
    ) -> RestResult {
        cp.authorize(&headers, &[COMMON_OPERATION_POLICY_MANAGE])?;
        add(&cp, None, &form)
    }

    pub async fn get_one(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(id): Path<String>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        Ok(json_response(
            StatusCode::OK,
            data_json(find(&state, None, &id)?),
        ))
    }

    pub async fn delete(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(id): Path<String>,
    ) -> RestResult {
        cp.authorize(
            &headers,
            &[COMMON_OPERATION_POLICY_MANAGE, POLICIES_IMPORT_EXPORT],
        )?;
        let mut state = cp.lock();
        find(&state, None, &id)?;
        state
            .operation_policies
            .retain(|p| !(p.id == id && p.api_id.is_none()));
        Ok(StatusCode::OK.into_response())
    }

    pub async fn get_content(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(id): Path<String>,
    ) -> RestResult {
        cp.authorize(
            &headers,
            &[COMMON_OPERATION_POLICY_VIEW, COMMON_OPERATION_POLICY_MANAGE],
        )?;
        let state = cp.lock();
        content(find(&state, None, &id)?)
    }
}

/// An API's own policies (`/apis/{apiId}/operation-policies…`).
pub mod api {
    use super::*;

    const VIEW: &[&str] = &[
        API_VIEW,
        API_MANAGE,
        MEDIATION_POLICY_VIEW,
        MEDIATION_POLICY_MANAGE,
        API_MEDIATION_POLICY_MANAGE,
    ];
    const MANAGE: &[&str] = &[
        API_MANAGE,
        MEDIATION_POLICY_CREATE,
        MEDIATION_POLICY_MANAGE,
        API_MEDIATION_POLICY_MANAGE,
    ];

    pub async fn list(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(api_id): Path<String>,
        Query(params): Query<BTreeMap<String, String>>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        if !state.apis.contains_key(&api_id) {
            return Err(RestError::api_not_found(&api_id));
        }
        list_of(&state, Some(&api_id), &params)
    }

    pub async fn create(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path(api_id): Path<String>,
        form: Form,
    ) -> RestResult {
        cp.authorize(&headers, MANAGE)?;
        if !cp.lock().apis.contains_key(&api_id) {
            return Err(RestError::api_not_found(&api_id));
        }
        add(&cp, Some(api_id), &form)
    }

    pub async fn get_one(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path((api_id, id)): Path<(String, String)>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        Ok(json_response(
            StatusCode::OK,
            data_json(find(&state, Some(&api_id), &id)?),
        ))
    }

    pub async fn delete(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path((api_id, id)): Path<(String, String)>,
    ) -> RestResult {
        cp.authorize(&headers, MANAGE)?;
        let mut state = cp.lock();
        find(&state, Some(&api_id), &id)?;
        state
            .operation_policies
            .retain(|p| !(p.id == id && p.api_id.as_deref() == Some(api_id.as_str())));
        Ok(StatusCode::OK.into_response())
    }

    pub async fn get_content(
        State(cp): State<Arc<ControlPlane>>,
        headers: http::HeaderMap,
        Path((api_id, id)): Path<(String, String)>,
    ) -> RestResult {
        cp.authorize(&headers, VIEW)?;
        let state = cp.lock();
        content(find(&state, Some(&api_id), &id)?)
    }
}
