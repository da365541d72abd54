//! Admin `/workflows`: the tasks waiting for approval. Every workflow here runs WSO2's default
//! executors (approved at once), so none ever waits: the list is empty and a reference is
//! unknown, as on a WSO2 without an approval workflow configured.

use super::scope::ADMIN;
use crate::ControlPlane;
use crate::constraints::Constraints;
use crate::error::RestError;
use crate::publisher::{RestResult, json_response, parse_json};
use crate::rest::{JsonBody, Path, Query};
use axum::extract::State;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

fn not_found(reference: &str) -> RestError {
    RestError::new(
        StatusCode::NOT_FOUND,
        900505,
        "Workflow Not Found",
        format!("Requested Workflow with reference id '{reference}' not found"),
    )
}

pub async fn list(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> RestResult {
    cp.authorize(&headers, &[ADMIN, "apim:api_workflow_view"])?;
    Ok(json_response(
        StatusCode::OK,
        json!({"count": 0, "next": "", "previous": "", "list": []}),
    ))
}

pub async fn get_one(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, "apim:api_workflow_view"])?;
    Err(not_found(&reference))
}

/// `WorkflowDTO`: only `status` is checked (a required enum; the rest is never used here).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct WorkflowInput {
    status: Option<String>,
}

/// `POST /workflows/update-workflow-status?workflowReferenceId=`: no task has that reference.
/// Bean validation first: the `@NotNull` query parameter (`updateWorkflowStatus.arg0`), then
/// the body's `status`.
pub async fn update_status(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    Query(params): Query<BTreeMap<String, String>>,
    body: JsonBody,
) -> RestResult {
    cp.authorize(&headers, &[ADMIN, "apim:api_workflow_approve"])?;
    let mut constraints = Constraints::new();
    constraints.required_param(
        "updateWorkflowStatus",
        0,
        params.contains_key("workflowReferenceId"),
    );
    if !body.iter().all(u8::is_ascii_whitespace) {
        let input: WorkflowInput = parse_json(&body)?;
        constraints.required_enum("status", input.status.as_deref(), &["APPROVED", "REJECTED"]);
    }
    constraints.check()?;
    let reference = params
        .get("workflowReferenceId")
        .ok_or_else(|| RestError::bad_request("workflowReferenceId cannot be empty"))?;
    Err(not_found(reference))
}
