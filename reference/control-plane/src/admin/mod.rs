//! Admin v4 (`/api/am/admin/v4`): throttling policies per level ([`policies`]), custom rules
//! ([`custom`]), deny
//! policies ([`deny`]) and gateway environments ([`environments`]), plus the internal `throttling-data` pull for gateways and TMs.
//!
//! Every change is published on the event hub (`POLICY_CREATE`/`POLICY_UPDATE`/
//! `POLICY_DELETE`, `BLOCKING`), so the TM and the gateways follow it as they follow
//! deployments. WSO2's built-in policies (§4.1) are present from the start.

pub mod applications;
pub mod categories;
pub mod custom;
pub mod deny;
pub mod environments;
pub mod key_managers;
pub mod policies;
pub mod settings;
pub mod workflows;

use crate::ControlPlane;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::HeaderMap;
use std::sync::Arc;
use tollgate_protocol::throttle::{self, DenyPolicy, ThrottleData, ThrottlePolicy};

/// Admin API scopes, as WSO2's `admin-api.yaml` names them.
pub mod scope {
    pub const ADMIN: &str = "apim:admin";
    pub const TIER_VIEW: &str = "apim:tier_view";
    pub const TIER_MANAGE: &str = "apim:tier_manage";
    pub const POLICIES_IMPORT_EXPORT: &str = "apim:policies_import_export";
    pub const BL_VIEW: &str = "apim:bl_view";
    pub const BL_MANAGE: &str = "apim:bl_manage";
}

/// Throttling state of the control plane (kept in [`crate::state::State`], under its lock).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ThrottlingState {
    /// In creation order (the built-ins first, as WSO2 lists them by id).
    pub policies: Vec<ThrottlePolicy>,
    pub deny_policies: Vec<DenyPolicy>,
}

impl Default for ThrottlingState {
    fn default() -> Self {
        Self {
            policies: throttle::defaults(),
            deny_policies: Vec::new(),
        }
    }
}

/// The Admin API's throttling routes, to nest under `/api/am/admin/v4`.
pub fn router(cp: Arc<ControlPlane>) -> Router {
    use axum::routing::get as g;
    Router::new()
        .route("/throttling/policies/search", g(policies::search))
        .route(
            "/throttling/policies/custom",
            g(custom::list).post(custom::create),
        )
        .route(
            "/throttling/policies/custom/{rule_id}",
            g(custom::get_one)
                .put(custom::update)
                .delete(custom::delete),
        )
        .route(
            "/throttling/policies/{level}",
            g(policies::list).post(policies::create),
        )
        .route(
            "/throttling/policies/{level}/{policy_id}",
            g(policies::get_one)
                .put(policies::update)
                .delete(policies::delete),
        )
        .route(
            "/throttling/deny-policies",
            g(deny::list).post(deny::create),
        )
        .route(
            "/throttling/deny-policy/{condition_id}",
            g(deny::get_one).delete(deny::delete).patch(deny::patch),
        )
        .route(
            "/api-categories",
            g(categories::admin_list).post(categories::create),
        )
        .route(
            "/api-categories/{category_id}",
            axum::routing::put(categories::update).delete(categories::delete),
        )
        .route("/applications", g(applications::list))
        .route(
            "/applications/{application_id}",
            g(applications::get_one).delete(applications::delete),
        )
        .route(
            "/applications/{application_id}/change-owner",
            axum::routing::post(applications::change_owner),
        )
        .route("/workflows", g(workflows::list))
        .route(
            "/workflows/update-workflow-status",
            axum::routing::post(workflows::update_status),
        )
        .route("/workflows/{workflow_ref}", g(workflows::get_one))
        .route("/key-managers", g(key_managers::list))
        .route("/key-managers/{key_manager_id}", g(key_managers::get_one))
        .route("/settings", g(settings::settings))
        .route("/tenant-info/{username}", g(settings::tenant_info))
        .route("/system-scopes", g(settings::system_scopes_list))
        .route(
            "/system-scopes/role-aliases",
            g(settings::role_aliases).put(settings::put_role_aliases),
        )
        .route("/system-scopes/{scope_name}", g(settings::system_scope))
        .route(
            "/environments",
            g(environments::list).post(environments::create),
        )
        .route(
            "/environments/{environment_id}",
            axum::routing::put(environments::update).delete(environments::delete),
        )
        .with_state(cp)
}

/// The internal pull ([`throttle::THROTTLE_DATA`]), Basic auth as the event hub.
pub fn internal_router(cp: Arc<ControlPlane>) -> Router {
    Router::new()
        .route(throttle::THROTTLE_DATA, get(throttle_data))
        .with_state(cp)
}

impl ControlPlane {
    /// Every policy and deny policy, as of one event sequence.
    pub fn throttle_data(&self) -> ThrottleData {
        let state = self.lock();
        ThrottleData {
            event_seq: state.seq(),
            policies: state.throttling.policies.clone(),
            deny_policies: state.throttling.deny_policies.clone(),
        }
    }
}

async fn throttle_data(State(cp): State<Arc<ControlPlane>>, headers: HeaderMap) -> Response {
    if !cp.authorize_event_hub(&headers) {
        return crate::error::RestError::new(
            http::StatusCode::UNAUTHORIZED,
            401,
            "Unauthorized",
            "Invalid or missing event hub credentials",
        )
        .into_response();
    }
    axum::Json(cp.throttle_data()).into_response()
}
