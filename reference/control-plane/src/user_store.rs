//! `POST /internal/data/v1/basic-auth`: a gateway checks a Basic-auth caller's password here,
//! as WSO2 gateways ask the Key Manager's `RemoteUserStoreManagerService`. The user store is the
//! Key Manager's: the super admin, with the `admin` and `Internal/everyone` roles.

use crate::ControlPlane;
use crate::error::RestError;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};
use std::sync::Arc;
use tollgate_protocol::internal::{BASIC_AUTH, BasicAuthRequest, BasicAuthValidation};

/// The super admin's roles (WSO2's default `admin` user).
const ADMIN_ROLES: [&str; 2] = ["admin", "Internal/everyone"];

pub fn internal_router(cp: Arc<ControlPlane>) -> Router {
    Router::new()
        .route(BASIC_AUTH, post(validate))
        .with_state(cp)
}

async fn validate(
    State(cp): State<Arc<ControlPlane>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !cp.authorize_event_hub(&headers) {
        return RestError::new(
            StatusCode::UNAUTHORIZED,
            401,
            "Unauthorized",
            "Invalid or missing event hub credentials",
        )
        .into_response();
    }
    let request: BasicAuthRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return RestError::bad_request(e.to_string()).into_response(),
    };
    let tenant = &cp.settings().tenant_domain;
    let answer = if cp
        .key_manager()
        .authenticate_user(&request.username, &request.password)
    {
        let bare = request
            .username
            .strip_suffix(&format!("@{tenant}"))
            .unwrap_or(&request.username);
        BasicAuthValidation {
            authenticated: true,
            domain_qualified_username: format!("{bare}@{tenant}"),
            user_role_list: ADMIN_ROLES.iter().map(|r| (*r).to_owned()).collect(),
        }
    } else {
        BasicAuthValidation::default()
    };
    axum::Json(answer).into_response()
}
