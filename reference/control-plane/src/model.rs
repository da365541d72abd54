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
    /// Owners and their addresses, shown on both portals.
    #[serde(default)]
    pub business_information: BusinessInformation,
}

/// `APIBusinessInformation`: every field optional, answered as `null` when unset (as WSO2's
/// DTO serialises it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BusinessInformation {
    pub business_owner: Option<String>,
    pub business_owner_email: Option<String>,
    pub technical_owner: Option<String>,
    pub technical_owner_email: Option<String>,
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
    pub business_information: Option<BusinessInformation>,
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

    /// The API as REST responses show it: endpoint-security passwords blanked, as WSO2's
    /// Publisher never returns them (`APIMappingUtil#fromAPItoDTO`). The stored API keeps
    /// them; a `PUT` that sends a blank password back keeps the stored one
    /// ([`keep_endpoint_passwords`]).
    pub fn masked(&self) -> Api {
        let mut api = self.clone();
        if let Some(security) = api
            .endpoint_config
            .as_mut()
            .and_then(|c| c.get_mut("endpoint_security"))
            .and_then(Value::as_object_mut)
        {
            for entry in security.values_mut().filter_map(Value::as_object_mut) {
                if entry.contains_key("password") {
                    entry.insert("password".to_owned(), Value::String(String::new()));
                }
            }
        }
        api
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

/// An `endpointConfig` sent on update: each `endpoint_security.<key type>` whose password is
/// blank or absent keeps the stored password, as WSO2 does for a client that sends back the
/// masked API it read.
pub(crate) fn keep_endpoint_passwords(incoming: &mut Value, stored: Option<&Value>) {
    let Some(stored) = stored.and_then(|s| s.get("endpoint_security")) else {
        return;
    };
    let Some(security) = incoming
        .get_mut("endpoint_security")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (key_type, entry) in security.iter_mut() {
        let Some(entry) = entry.as_object_mut() else {
            continue;
        };
        let blank = entry
            .get("password")
            .is_none_or(|p| p.as_str().is_some_and(str::is_empty) || p.is_null());
        if let Some(old) = stored.get(key_type).and_then(|s| s.get("password"))
            && blank
        {
            entry.insert("password".to_owned(), old.clone());
        }
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
    fn endpoint_passwords_are_blanked_in_answers_and_a_blank_sent_back_keeps_the_stored_one() {
        let stored = serde_json::json!({"endpoint_security": {
            "production": {"enabled": true, "type": "BASIC", "username": "u", "password": "secret"},
            "sandbox": {"enabled": true, "type": "BASIC", "username": "v", "password": "other"},
        }});
        let mut incoming = stored.clone();
        incoming["endpoint_security"]["production"]["password"] = serde_json::json!("");
        incoming["endpoint_security"]["sandbox"]["password"] = serde_json::json!("changed");
        keep_endpoint_passwords(&mut incoming, Some(&stored));
        assert_eq!(
            incoming["endpoint_security"]["production"]["password"],
            "secret"
        );
        assert_eq!(
            incoming["endpoint_security"]["sandbox"]["password"],
            "changed"
        );
        let masked = |config: &Value| {
            let mut blank = config.clone();
            for key in ["production", "sandbox"] {
                blank["endpoint_security"][key]["password"] = serde_json::json!("");
            }
            blank
        };
        let api: Api = serde_json::from_value(serde_json::json!({
            "id": "a", "name": "n", "description": null, "context": "/c", "version": "1",
            "provider": "admin", "lifeCycleStatus": "CREATED", "isDefaultVersion": false,
            "isRevision": false, "revisionedApiId": null, "revisionId": 0, "type": "HTTP",
            "transport": [], "tags": [], "policies": [], "apiThrottlingPolicy": null,
            "authorizationHeader": "Authorization", "securityScheme": [], "maxTps": null,
            "visibility": "PUBLIC", "visibleRoles": [], "endpointConfig": stored,
            "endpointImplementationType": "ENDPOINT", "scopes": [], "operations": [],
            "categories": [], "gatewayVendor": "wso2", "gatewayType": "wso2/synapse",
            "createdTime": "0", "lastUpdatedTime": "0", "workflowStatus": null,
        }))
        .unwrap();
        assert_eq!(api.masked().endpoint_config, Some(masked(&stored)));
        assert_eq!(
            api.endpoint_config,
            Some(stored),
            "the stored API keeps them"
        );
    }

    #[test]
    fn served_context_appends_version_unless_templated() {
        assert_eq!(served_context("/pizzashack", "1.0.0"), "/pizzashack/1.0.0");
        assert_eq!(served_context("/{version}/pizza", "2"), "/2/pizza");
    }
}
