//! All control-plane state, in memory behind one lock and written to the database
//! ([`crate::database`]) after every change: APIs with their revisions and
//! deployments, applications, key mappings, subscriptions, revoked tokens, and the event log.
//!
//! The event log lives under the same lock as the data it describes, so a snapshot and the
//! sequence number it is "as of" can never disagree.

use crate::model::{AUTH_ANY, Api, first_endpoint};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use tollgate_config::model::Environment;
use tollgate_protocol::artifact::{
    ApiArtifact, ArtifactEnvironment, EndpointConfig, EndpointMember, EndpointRouting,
    EndpointSecurity, EndpointSecurityType, Endpoints, Operation,
};
use tollgate_protocol::event::{Event, EventEnvelope};
use tollgate_protocol::store::{Application, KeyMapping, RevokedToken, Subscription};

/// One API: its working copy, its revisions and where they are deployed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiRecord {
    pub api: Api,
    /// By revision number (ascending).
    pub revisions: BTreeMap<u32, Revision>,
    /// WSO2 never reuses a revision number, even after deleting one.
    pub last_revision_number: u32,
    /// One deployment per environment name.
    pub deployments: BTreeMap<String, Deployment>,
    /// Every lifecycle change, creation first (`AM_API_LC_EVENT`).
    #[serde(default)]
    pub lifecycle_history: Vec<LifecycleEvent>,
    /// The OpenAPI definition the user supplied (`import-openapi`, `PUT /swagger`), as JSON;
    /// `None` for an API whose definition is generated from its resources.
    #[serde(default)]
    pub definition: Option<Value>,
    #[serde(default)]
    pub documents: Vec<crate::publisher::documents::Document>,
    #[serde(default)]
    pub thumbnail: Option<crate::publisher::documents::StoredFile>,
    /// Publisher and Developer Portal comments, oldest first.
    #[serde(default)]
    pub comments: Vec<crate::publisher::comments::Comment>,
    /// Developer Portal ratings (1 to 5) by user.
    #[serde(default)]
    pub ratings: BTreeMap<String, u8>,
    /// Environment-specific properties (`environments/{envId}/keys`) by environment id.
    #[serde(default)]
    pub environment_properties: BTreeMap<String, BTreeMap<String, String>>,
}

/// One row of an API's lifecycle history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    /// `None` for the creation.
    pub previous_state: Option<String>,
    pub post_state: String,
    pub user: String,
    pub time: i64,
}

/// A frozen copy of the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revision {
    pub id: String,
    pub number: u32,
    pub description: Option<String>,
    pub created_time: i64,
    pub snapshot: Api,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub environment: String,
    pub revision_id: String,
    pub vhost: String,
    pub display_on_devportal: bool,
    pub deployed_time: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationRecord {
    pub app: Application,
    pub description: Option<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub created_time: i64,
    pub updated_time: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyMappingRecord {
    pub id: String,
    pub mapping: KeyMapping,
    pub supported_grant_types: Vec<String>,
    pub callback_url: Option<String>,
    /// An OAuth client that existed before and was mapped to the application (`map-keys`),
    /// not created for it: WSO2's key `mode` `MAPPED` rather than `CREATED`.
    #[serde(default)]
    pub mapped: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub apis: BTreeMap<String, ApiRecord>,
    pub applications: BTreeMap<String, ApplicationRecord>,
    /// By key mapping id.
    pub key_mappings: BTreeMap<String, KeyMappingRecord>,
    pub subscriptions: BTreeMap<String, Subscription>,
    pub revoked: Vec<RevokedToken>,
    /// Throttling and deny policies (Admin API), the built-ins from the start.
    pub throttling: crate::admin::ThrottlingState,
    /// Gateway environments created through the Admin API (`deployment.toml`'s are settings).
    #[serde(default)]
    pub environments: Vec<crate::admin::environments::DynamicEnvironment>,
    /// Admin API categories, in creation order.
    #[serde(default)]
    pub api_categories: Vec<crate::admin::categories::ApiCategory>,
    /// Publisher shared scopes, in creation order.
    #[serde(default)]
    pub shared_scopes: Vec<crate::publisher::scopes::SharedScope>,
    /// Admin `system-scopes/role-aliases`.
    #[serde(default)]
    pub role_aliases: Vec<crate::admin::settings::RoleAlias>,
    /// Publisher endpoint certificates (the gateways' trust store), in upload order.
    #[serde(default)]
    pub endpoint_certificates: Vec<crate::publisher::certificates::EndpointCertificate>,
    /// Publisher client certificates (mutual TLS), of every API, in upload order.
    #[serde(default)]
    pub client_certificates: Vec<crate::publisher::certificates::ClientCertificate>,
    /// Publisher API products, in creation order.
    #[serde(default)]
    pub api_products: Vec<crate::publisher::products::ApiProduct>,
    /// Publisher operation policies, common and API-specific, in upload order.
    #[serde(default)]
    pub operation_policies: Vec<crate::publisher::operation_policies::OperationPolicy>,
    log: VecDeque<EventEnvelope>,
    seq: u64,
}

impl State {
    /// Appends an event to the log and returns its sequence number.
    pub fn publish(&mut self, now_millis: i64, tenant: &str, event: Event, retain: usize) -> u64 {
        self.seq += 1;
        self.log.push_back(EventEnvelope {
            seq: self.seq,
            time_stamp: now_millis,
            tenant_domain: tenant.to_owned(),
            event,
        });
        while self.log.len() > retain.max(1) {
            self.log.pop_front();
        }
        self.seq
    }

    /// The last published sequence number (0 before the first event).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Every retained event after `after`, or `None` if some of them were already dropped, or
    /// if `after` is beyond the log (a follower of an earlier control plane whose log was lost
    /// with it: it must pull the snapshot again rather than skip new events).
    pub fn events_after(&self, after: u64) -> Option<Vec<EventEnvelope>> {
        if after > self.seq {
            return None;
        }
        let first = self.log.front().map_or(self.seq + 1, |e| e.seq);
        if after + 1 < first {
            return None;
        }
        Some(self.log.iter().filter(|e| e.seq > after).cloned().collect())
    }

    pub fn application_by_name(&self, owner: &str, name: &str) -> Option<&ApplicationRecord> {
        self.applications
            .values()
            .find(|a| a.app.owner == owner && a.app.name.eq_ignore_ascii_case(name))
    }
}

/// The artifact of `revision` for `environment`: the revision's frozen API, the current
/// lifecycle state (lifecycle is API-wide in WSO2, revisions share it) and the environment's
/// type baked in, as `SynapseArtifactGenerator` does per label.
pub fn artifact(
    revision: &Revision,
    lifecycle_status: &str,
    environment: &Environment,
    deployment: &Deployment,
) -> ApiArtifact {
    let api = &revision.snapshot;
    let (production, sandbox) = api.endpoint_urls();
    let (routing, production_more, sandbox_more) = endpoint_members(api.endpoint_config.as_ref());
    let operations = api
        .operations
        .iter()
        .map(|op| Operation {
            verb: op.verb.clone(),
            target: op.target.clone(),
            auth_type: if op.auth_type == AUTH_ANY {
                "Any".to_owned()
            } else {
                op.auth_type.clone()
            },
            throttling_policy: op.throttling_policy.clone(),
            scopes: op.scopes.clone(),
        })
        .collect();
    let scopes = api
        .scopes
        .iter()
        .filter_map(|s| {
            s.pointer("/scope/name")
                .or_else(|| s.get("name"))
                .and_then(|n| n.as_str())
                .map(str::to_owned)
        })
        .collect();
    ApiArtifact {
        api_id: api.id.clone(),
        revision_id: revision.id.clone(),
        revision_number: revision.number,
        name: api.name.clone(),
        version: api.version.clone(),
        context: api.served_context(),
        provider: api.provider.clone(),
        lifecycle_status: lifecycle_status.to_owned(),
        environment: ArtifactEnvironment {
            name: environment.name.clone(),
            kind: environment.kind,
        },
        vhost: deployment.vhost.clone(),
        endpoints: Endpoints {
            production,
            sandbox,
            production_config: endpoint_config(
                api.endpoint_config.as_ref(),
                "production_endpoints",
            ),
            sandbox_config: endpoint_config(api.endpoint_config.as_ref(), "sandbox_endpoints"),
            routing,
            production_more,
            sandbox_more,
            production_security: endpoint_security(api.endpoint_config.as_ref(), "production"),
            sandbox_security: endpoint_security(api.endpoint_config.as_ref(), "sandbox"),
        },
        operations,
        api_throttling_policy: api.api_throttling_policy.clone(),
        policies: api.policies.clone(),
        transport: api.transport.clone(),
        security_scheme: api.security_scheme.clone(),
        scopes,
        max_tps: api.max_tps.clone(),
        deployed_time: deployment.deployed_time,
    }
}

/// `endpoint_type` and the members after the first of each key type: the rest of a
/// `load_balance` list, or a `failover` endpoint's `production_failovers` / `sandbox_failovers`.
/// Any other type (`http`, `address`, none) serves the first endpoint alone.
fn endpoint_members(
    config: Option<&Value>,
) -> (EndpointRouting, Vec<EndpointMember>, Vec<EndpointMember>) {
    let Some(config) = config else {
        return (EndpointRouting::Address, Vec::new(), Vec::new());
    };
    let members = |value: Option<&Value>, skip: usize| -> Vec<EndpointMember> {
        let list = match value {
            Some(Value::Array(list)) => list.as_slice(),
            Some(one @ Value::Object(_)) => std::slice::from_ref(one),
            _ => &[],
        };
        list.iter()
            .skip(skip)
            .filter_map(|member| {
                let url = member.get("url")?.as_str()?.trim();
                (!url.is_empty()).then(|| EndpointMember {
                    url: url.to_owned(),
                    config: member_config(member),
                })
            })
            .collect()
    };
    match config.get("endpoint_type").and_then(Value::as_str) {
        Some("load_balance") => {
            // The Publisher writes `failOver` as the string "True"/"False" (or a boolean).
            let failover = match config.get("failOver") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
                _ => false,
            };
            (
                EndpointRouting::LoadBalance { failover },
                members(config.get("production_endpoints"), 1),
                members(config.get("sandbox_endpoints"), 1),
            )
        }
        Some("failover") => (
            EndpointRouting::Failover,
            members(config.get("production_failovers"), 0),
            members(config.get("sandbox_failovers"), 0),
        ),
        _ => (EndpointRouting::Address, Vec::new(), Vec::new()),
    }
}

/// `endpointConfig.endpoint_security.<key>` (`production` / `sandbox`) when `enabled` and of a
/// type the gateway answers (`BASIC`, `DIGEST`); other types (`OAUTH`, `APIKEY`) are not built.
fn endpoint_security(config: Option<&Value>, key: &str) -> Option<EndpointSecurity> {
    let security = config?.get("endpoint_security")?.get(key)?;
    let enabled = match security.get("enabled") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if !enabled {
        return None;
    }
    let kind = match security.get("type").and_then(Value::as_str)? {
        t if t.eq_ignore_ascii_case("BASIC") => EndpointSecurityType::Basic,
        t if t.eq_ignore_ascii_case("DIGEST") => EndpointSecurityType::Digest,
        _ => return None,
    };
    let text = |field: &str| {
        security
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(EndpointSecurity {
        kind,
        username: text("username"),
        password: text("password"),
    })
}

/// `endpointConfig.<key>.config` (the first endpoint when a list), as the velocity template
/// reads it into `<suspendOnFailure>` / `<markForSuspension>`. The Publisher keeps numbers as
/// strings or numbers alike (`"30000"`, `["101503"]`); both are read. `None` when there is no
/// `config` object, the 4.x default (suspension off).
fn endpoint_config(config: Option<&Value>, key: &str) -> Option<EndpointConfig> {
    member_config(first_endpoint(config?, key)?)
}

/// One endpoint object's `config`.
fn member_config(member: &Value) -> Option<EndpointConfig> {
    let config = member.get("config")?.as_object()?;
    let number = |field: &str| -> Option<f64> {
        match config.get(field)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    };
    let millis = |field: &str| number(field).map(|n| n as i64);
    let codes = |field: &str| -> Vec<u32> {
        let list = match config.get(field) {
            Some(Value::Array(list)) => list.as_slice(),
            Some(one @ (Value::String(_) | Value::Number(_))) => std::slice::from_ref(one),
            _ => &[],
        };
        list.iter()
            .filter_map(|c| match c {
                Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            .collect()
    };
    Some(EndpointConfig {
        suspend_error_codes: codes("suspendErrorCode"),
        suspend_duration_ms: millis("suspendDuration"),
        suspend_max_duration_ms: millis("suspendMaxDuration"),
        factor: number("factor"),
        retry_error_codes: codes("retryErroCode"),
        retries_before_suspension: number("retryTimeOut").map(|n| n as u32),
        retry_delay_ms: millis("retryDelay"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_after_reports_a_gap_once_the_log_has_been_trimmed() {
        let mut state = State::default();
        for _ in 0..5 {
            state.publish(0, "carbon.super", Event::Heartbeat, 3);
        }
        assert_eq!(state.seq(), 5);
        assert!(state.events_after(1).is_none());
        let rest = state.events_after(2).unwrap();
        assert_eq!(
            rest.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert!(state.events_after(5).unwrap().is_empty());
        assert!(state.events_after(6).is_none(), "ahead of the log");
    }

    #[test]
    fn the_publishers_advanced_endpoint_config_reaches_the_artifact_strings_or_numbers() {
        let config = serde_json::json!({
            "endpoint_type": "http",
            "production_endpoints": {"url": "http://b", "config": {
                "suspendErrorCode": ["101503", 101504], "suspendDuration": "30000",
                "suspendMaxDuration": 120000, "factor": "2", "retryErroCode": [],
                "retryTimeOut": "3", "retryDelay": 0, "actionSelect": "fault"
            }},
            "sandbox_endpoints": {"url": "http://s"}
        });
        let prod = super::endpoint_config(Some(&config), "production_endpoints").unwrap();
        assert_eq!(prod.suspend_error_codes, [101503, 101504]);
        assert_eq!(prod.suspend_duration_ms, Some(30_000));
        assert_eq!(prod.suspend_max_duration_ms, Some(120_000));
        assert_eq!(prod.factor, Some(2.0));
        assert!(prod.retry_error_codes.is_empty());
        assert_eq!(prod.retries_before_suspension, Some(3));
        assert_eq!(prod.retry_delay_ms, Some(0));
        assert_eq!(
            super::endpoint_config(Some(&config), "sandbox_endpoints"),
            None
        );
    }

    #[test]
    fn load_balance_members_after_the_first_and_failovers_reach_the_artifact() {
        let lb = serde_json::json!({
            "endpoint_type": "load_balance", "failOver": "False",
            "production_endpoints": [{"url": "http://a"}, {"url": "http://b", "config": {"suspendDuration": "5"}}],
            "sandbox_endpoints": [{"url": "http://c"}],
        });
        let (routing, production, sandbox) = super::endpoint_members(Some(&lb));
        assert_eq!(routing, EndpointRouting::LoadBalance { failover: false });
        assert_eq!(production.len(), 1);
        assert_eq!(production[0].url, "http://b");
        assert_eq!(
            production[0].config.as_ref().unwrap().suspend_duration_ms,
            Some(5)
        );
        assert!(sandbox.is_empty());

        let fo = serde_json::json!({
            "endpoint_type": "failover",
            "production_endpoints": {"url": "http://a"},
            "production_failovers": [{"url": "http://b"}, {"url": ""}, {"url": "http://c"}],
        });
        let (routing, production, _) = super::endpoint_members(Some(&fo));
        assert_eq!(routing, EndpointRouting::Failover);
        let urls: Vec<_> = production.iter().map(|m| m.url.as_str()).collect();
        assert_eq!(urls, ["http://b", "http://c"], "blank URLs are skipped");

        let http = serde_json::json!({"endpoint_type": "http", "production_endpoints": [{"url": "http://a"}, {"url": "http://b"}]});
        assert_eq!(
            super::endpoint_members(Some(&http)),
            (EndpointRouting::Address, vec![], vec![])
        );
    }

    #[test]
    fn enabled_basic_and_digest_endpoint_security_reach_the_artifact_other_types_do_not() {
        let config = serde_json::json!({"endpoint_security": {
            "production": {"enabled": true, "type": "BASIC", "username": "u", "password": "p"},
            "sandbox": {"enabled": "true", "type": "digest", "username": "d", "password": "q"},
        }});
        let production = super::endpoint_security(Some(&config), "production").unwrap();
        assert_eq!(production.kind, EndpointSecurityType::Basic);
        assert_eq!(
            (production.username.as_str(), production.password.as_str()),
            ("u", "p")
        );
        let sandbox = super::endpoint_security(Some(&config), "sandbox").unwrap();
        assert_eq!(sandbox.kind, EndpointSecurityType::Digest);
        let off = serde_json::json!({"endpoint_security": {
            "production": {"enabled": false, "type": "BASIC", "username": "u", "password": "p"},
            "sandbox": {"enabled": true, "type": "OAUTH"},
        }});
        assert_eq!(super::endpoint_security(Some(&off), "production"), None);
        assert_eq!(super::endpoint_security(Some(&off), "sandbox"), None);
    }
}
