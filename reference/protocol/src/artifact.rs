//! The runtime artifact: one API revision as deployed to one gateway environment.
//!
//! WSO2's control plane renders a Synapse XML file per environment label, with the environment's
//! type baked in (`SynapseArtifactGenerator`, docs/wso2-behaviour.md §3.3). Ours is the same content
//! as JSON: the gateway needs nothing the control plane did not put here.

use serde::{Deserialize, Serialize};

/// Gateway environment type (`[[apim.gateway.environment]] type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentType {
    Hybrid,
    Production,
    Sandbox,
}

impl EnvironmentType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hybrid => "hybrid",
            Self::Production => "production",
            Self::Sandbox => "sandbox",
        }
    }
}

/// The key type of an application key mapping, and so of every token issued to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyType {
    Production,
    Sandbox,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Production => "PRODUCTION",
            Self::Sandbox => "SANDBOX",
        }
    }
}

/// The artifact of one API revision for one environment label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiArtifact {
    pub api_id: String,
    pub revision_id: String,
    /// 1-based revision number ("Revision 3" → 3).
    pub revision_number: u32,
    pub name: String,
    pub version: String,
    /// Context as the gateway serves it, version included: `/pizzashack/1.0.0`.
    pub context: String,
    pub provider: String,
    /// `PUBLISHED`, `CREATED`, `PROTOTYPED`, `BLOCKED`, ...
    pub lifecycle_status: String,
    /// The environment (label) this artifact was generated for, with its type baked in.
    pub environment: ArtifactEnvironment,
    pub vhost: String,
    pub endpoints: Endpoints,
    pub operations: Vec<Operation>,
    /// Advanced (API-level) throttling policy; `None` or `Unlimited` means resource level applies.
    #[serde(default)]
    pub api_throttling_policy: Option<String>,
    /// Subscription tiers the API allows.
    #[serde(default)]
    pub policies: Vec<String>,
    /// `http` and/or `https`.
    #[serde(default)]
    pub transport: Vec<String>,
    /// Security schemes (`oauth2`, `api_key`, `basic_auth`, `oauth_basic_auth_api_key_mandatory`).
    #[serde(default)]
    pub security_scheme: Vec<String>,
    /// Scopes the API declares (`name` → roles), as in the Publisher's `scopes`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Backend hard limit (`maxTps`), requests per second per node; `None` = no hard limit.
    #[serde(default)]
    pub max_tps: Option<MaxTps>,
    pub deployed_time: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactEnvironment {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: EnvironmentType,
}

/// Backend endpoints; either may be absent (a "production only" or "sandbox only" API).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoints {
    #[serde(default)]
    pub production: Option<String>,
    #[serde(default)]
    pub sandbox: Option<String>,
    /// `endpointConfig.production_endpoints.config` (the Publisher's "Advanced Endpoint
    /// Configuration"); `None` is the 4.x template's default: no suspension, no TIMEOUT state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_config: Option<EndpointConfig>,
    /// `endpointConfig.sandbox_endpoints.config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_config: Option<EndpointConfig>,
    /// `endpointConfig.endpoint_type`: how the members of each key type share the traffic.
    #[serde(default, skip_serializing_if = "EndpointRouting::is_address")]
    pub routing: EndpointRouting,
    /// Production members after the first (`production` above): the other load-balance
    /// members, or the `production_failovers`, in the Publisher's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub production_more: Vec<EndpointMember>,
    /// Sandbox members after the first (`sandbox_failovers` for failover).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sandbox_more: Vec<EndpointMember>,
    /// `endpointConfig.endpoint_security.production`, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub production_security: Option<EndpointSecurity>,
    /// `endpointConfig.endpoint_security.sandbox`, when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_security: Option<EndpointSecurity>,
}

impl Endpoints {
    /// The members after the first for a key type.
    pub fn more(&self, key_type: KeyType) -> &[EndpointMember] {
        match key_type {
            KeyType::Production => &self.production_more,
            KeyType::Sandbox => &self.sandbox_more,
        }
    }

    /// The backend credentials for a key type.
    pub fn security(&self, key_type: KeyType) -> Option<&EndpointSecurity> {
        match key_type {
            KeyType::Production => self.production_security.as_ref(),
            KeyType::Sandbox => self.sandbox_security.as_ref(),
        }
    }

    /// The first member's suspension `config` for a key type.
    pub fn config(&self, key_type: KeyType) -> Option<&EndpointConfig> {
        match key_type {
            KeyType::Production => self.production_config.as_ref(),
            KeyType::Sandbox => self.sandbox_config.as_ref(),
        }
    }
}

/// `endpoint_type` of the Publisher's `endpointConfig`, as the velocity template turns it into
/// a Synapse `<address>`/`<http>`, `<loadbalance>` or `<failover>` endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EndpointRouting {
    /// `http` / `address`: one endpoint per key type.
    #[default]
    Address,
    /// `load_balance`: Synapse's `RoundRobin` over the members that are ready (WSO2's only
    /// algorithm without a custom class, and session-less by default). `failover` is the
    /// Publisher's `failOver` flag: a failed member hands the request to the next ready one.
    LoadBalance { failover: bool },
    /// `failover`: the first ready member in order; a member that fails hands the request to
    /// the next one.
    Failover,
}

impl EndpointRouting {
    pub fn is_address(&self) -> bool {
        *self == Self::Address
    }
}

/// A further member of a load-balance or failover endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointMember {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<EndpointConfig>,
}

/// Credentials the gateway presents to a backend (`endpoint_security.<key type>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSecurity {
    #[serde(rename = "type")]
    pub kind: EndpointSecurityType,
    pub username: String,
    pub password: String,
}

/// `endpoint_security.<key type>.type`: the schemes the gateway can answer for a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EndpointSecurityType {
    /// `Authorization: Basic base64(username:password)` on every request.
    Basic,
    /// RFC 7616 Digest: the gateway answers the backend's `401` challenge.
    Digest,
}

/// An endpoint's failure handling, as the Publisher stores it under `config` and the velocity
/// template turns it into Synapse's `<suspendOnFailure>`, `<markForSuspension>` and `<timeout>`.
/// Absent values keep Synapse's own defaults (see the gateway's `endpoint` module).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConfig {
    /// `suspendErrorCode`: Synapse error codes that suspend the endpoint at once.
    #[serde(default)]
    pub suspend_error_codes: Vec<u32>,
    /// `suspendDuration` (ms): the first suspension (`initialDuration`).
    #[serde(default)]
    pub suspend_duration_ms: Option<i64>,
    /// `suspendMaxDuration` (ms): the longest suspension (`maximumDuration`).
    #[serde(default)]
    pub suspend_max_duration_ms: Option<i64>,
    /// `factor`: each further suspension is the last one times this (`progressionFactor`).
    #[serde(default)]
    pub factor: Option<f64>,
    /// `retryErroCode` (sic): error codes that put the endpoint in TIMEOUT first.
    #[serde(default)]
    pub retry_error_codes: Vec<u32>,
    /// `retryTimeOut`: TIMEOUT failures allowed before suspension (`retriesBeforeSuspension`).
    #[serde(default)]
    pub retries_before_suspension: Option<u32>,
    /// `retryDelay` (ms): how long a TIMEOUT endpoint is skipped.
    #[serde(default)]
    pub retry_delay_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MaxTps {
    #[serde(default)]
    pub production: Option<u64>,
    #[serde(default)]
    pub sandbox: Option<u64>,
}

/// One resource: verb + URI template (`/order/{orderId}`, `/menu`, `/*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub verb: String,
    pub target: String,
    /// `Any` / `Application & Application User` (default), `Application`, `Application User`,
    /// `None` (no authentication: key type PRODUCTION, tier Unauthenticated).
    #[serde(default = "default_auth_type")]
    pub auth_type: String,
    #[serde(default)]
    pub throttling_policy: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

fn default_auth_type() -> String {
    "Any".to_owned()
}

impl Operation {
    /// Whether this resource is open without credentials.
    pub fn is_unsecured(&self) -> bool {
        self.auth_type.eq_ignore_ascii_case("None")
    }
}
