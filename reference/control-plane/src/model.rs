//! REST shapes shared by the Publisher and the Developer Portal (WSO2's DTOs, camelCase JSON).
//!
//! Inputs are lenient (every field optional, unknown fields ignored) because clients commonly
//! send back the whole object they read, read-only fields included; outputs are complete.

use serde::{Deserialize, Serialize};
use serde_json::Value;
/// `APIMaxTps` (backend requests per second, per node) has the artifact's shape exactly.
pub use tollgate_protocol::artifact::MaxTps;

/// `API` as the Publisher stores and returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Api {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// As given (`/pizzashack`); the gateway serves `/{context}/{version}` (see [`Api::served_context`]).
    pub context: String,
    pub version: String,
    pub provider: String,
    pub life_cycle_status: String,
    pub is_default_version: bool,
    pub is_revision: bool,
    pub revisioned_api_id: Option<String>,
    pub revision_id: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub transport: Vec<String>,
    pub tags: Vec<String>,
    pub policies: Vec<String>,
    pub api_throttling_policy: Option<String>,
    pub authorization_header: String,
    pub security_scheme: Vec<String>,
    pub max_tps: Option<MaxTps>,
    pub visibility: String,
    pub visible_roles: Vec<String>,
    pub endpoint_config: Option<Value>,
    pub endpoint_implementation_type: String,
    pub scopes: Vec<Value>,
    pub operations: Vec<OperationDto>,
    pub categories: Vec<String>,
    pub gateway_vendor: String,
    pub gateway_type: String,
    pub created_time: String,
    pub last_updated_time: String,
    pub workflow_status: Option<String>,
}

/// `APIOperations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationDto {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub verb: String,
    #[serde(default = "default_auth_type")]
    pub auth_type: String,
    #[serde(default)]
    pub throttling_policy: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub used_product_ids: Vec<String>,
}

/// How WSO2 renders `AUTH_APPLICATION_OR_USER_LEVEL_TOKEN` (`Any`) in REST responses.
pub const AUTH_ANY: &str = "Application & Application User";

fn default_auth_type() -> String {
    AUTH_ANY.to_owned()
}

/// The body of `POST /apis` and `PUT /apis/{id}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub context: Option<String>,
    pub version: Option<String>,
    pub provider: Option<String>,
    pub is_default_version: Option<bool>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub transport: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub policies: Option<Vec<String>>,
    pub api_throttling_policy: Option<String>,
    pub authorization_header: Option<String>,
    pub security_scheme: Option<Vec<String>>,
    pub max_tps: Option<MaxTps>,
    pub visibility: Option<String>,
    pub visible_roles: Option<Vec<String>>,
    pub endpoint_config: Option<Value>,
    pub scopes: Option<Vec<Value>>,
    pub operations: Option<Vec<OperationDto>>,
    pub categories: Option<Vec<String>>,
}

impl Api {
    /// The context the gateway serves: `{version}` substituted, else `/{context}/{version}`.
    pub fn served_context(&self) -> String {
        served_context(&self.context, &self.version)
    }

    /// The production and sandbox URLs of an `http` endpoint config (first of a list).
    pub fn endpoint_urls(&self) -> (Option<String>, Option<String>) {
        let Some(config) = &self.endpoint_config else {
            return (None, None);
        };
        let url = |key: &str| -> Option<String> {
            first_endpoint(config, key)?
                .get("url")?
                .as_str()
                .map(str::to_owned)
                .filter(|u| !u.is_empty())
        };
        (url("production_endpoints"), url("sandbox_endpoints"))
    }

    /// `APIInfo` (Publisher list entries).
    pub fn info(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "context": self.context,
            "additionalProperties": [],
            "additionalPropertiesMap": {},
            "version": self.version,
            "provider": self.provider,
            "type": self.kind,
            "audience": null,
            "lifeCycleStatus": self.life_cycle_status,
            "workflowStatus": self.workflow_status,
            "hasThumbnail": false,
            "securityScheme": self.security_scheme,
            "createdTime": self.created_time,
            "updatedTime": self.last_updated_time,
            "updatedBy": self.provider,
            "gatewayVendor": self.gateway_vendor,
            "advertiseOnly": false,
        })
    }
}

/// `endpointConfig.<key>` (`production_endpoints` / `sandbox_endpoints`): one endpoint
/// object, or a list of which the first is the one served.
pub(crate) fn first_endpoint<'a>(config: &'a Value, key: &str) -> Option<&'a Value> {
    match config.get(key)? {
        Value::Array(list) => list.first(),
        other => Some(other),
    }
}

pub fn served_context(context: &str, version: &str) -> String {
    if context.contains("{version}") {
        context.replace("{version}", version)
    } else {
        format!("{}/{}", context.trim_end_matches('/'), version)
    }
}

/// `Pagination` without next/previous links.
pub fn pagination(offset: usize, limit: usize, total: usize) -> Value {
    serde_json::json!({"offset": offset, "limit": limit, "total": total, "next": "", "previous": ""})
}

/// `Pagination` of an API list, as `APIMappingUtil.setPaginationParams` fills it: `next` and
/// `previous` are `/apis?limit=..&offset=..&query=..` links (`RestApiCommonUtil.
/// getAPIPaginatedURL`), empty when there is no such page (`getPaginationParams`: none at all
/// when `offset` is past the end; `previous` starts at 0 at the earliest).
pub fn api_list_pagination(offset: usize, limit: usize, total: usize, query: &str) -> Value {
    let link = |offset: usize| format!("/apis?limit={limit}&offset={offset}&query={query}");
    let (mut next, mut previous) = (String::new(), String::new());
    if offset < total {
        if offset.saturating_add(limit) < total {
            next = link(offset + limit);
        }
        if offset > 0 {
            previous = link(offset.saturating_sub(limit));
        }
    }
    serde_json::json!({"offset": offset, "limit": limit, "total": total, "next": next, "previous": previous})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_context_appends_version_unless_templated() {
        assert_eq!(served_context("/pizzashack", "1.0.0"), "/pizzashack/1.0.0");
        assert_eq!(served_context("/{version}/pizza", "2"), "/2/pizza");
    }
}
