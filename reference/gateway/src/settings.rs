//! What a gateway node is built from: its labels, the control plane it follows, CORS and the
//! keys it trusts. Built from the checked `deployment.toml` model, or directly by tests.

use tollgate_config::model::{Cors, DeploymentConfig};
use tollgate_net::security::{DEFAULT_KEY_ALIAS, DEFAULT_PUBLIC_KEY_PEM};

/// `[apim.cors]` as `CORSRequestHandler` uses it (docs/wso2-behaviour.md §2.7).
#[derive(Debug, Clone, PartialEq)]
pub struct CorsSettings {
    /// `enable`, default true. When false no CORS header is ever added and `OPTIONS` is routed
    /// like any other verb.
    pub enable: bool,
    /// `allow_origins`, default `["*"]`. `*` answers every origin with `*`; otherwise the
    /// request's `Origin` is echoed when listed, and no `Access-Control-Allow-Origin` is sent
    /// when it is not.
    pub allow_origins: Vec<String>,
    /// `allow_methods`, default `GET,PUT,POST,DELETE,PATCH,OPTIONS`; a resource advertises the
    /// intersection of its own verbs with these.
    pub allow_methods: Vec<String>,
    /// `allow_headers`, default `authorization,Access-Control-Allow-Origin,Content-Type,SOAPAction`;
    /// `*` echoes the preflight's `Access-Control-Request-Headers`.
    pub allow_headers: Vec<String>,
    /// `allow_credentials`, default false; only ever sent when the allowed origin is not `*`.
    pub allow_credentials: bool,
    /// `expose_headers`, default empty.
    pub expose_headers: Vec<String>,
}

/// WSO2's defaults, as the config crate owns them.
impl Default for CorsSettings {
    fn default() -> Self {
        Self::from(&Cors::default())
    }
}

impl From<&Cors> for CorsSettings {
    fn from(cors: &Cors) -> Self {
        Self {
            enable: cors.enable,
            allow_origins: cors.allow_origins.clone(),
            allow_methods: cors.allow_methods.clone(),
            allow_headers: cors.allow_headers.clone(),
            allow_credentials: cors.allow_credentials,
            expose_headers: cors.expose_headers.clone(),
        }
    }
}

/// Everything a gateway node needs besides its sockets, TLS, outbound network and clock.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySettings {
    /// For logs and the mock backends' echo (`production-gateway`).
    pub node_name: String,
    /// `[apim.sync_runtime_artifacts.gateway] gateway_labels`, in file order: when two labels
    /// carry the same API, the first one here wins.
    pub labels: Vec<String>,
    /// Base of `/internal/data/v1`: `[apim.event_hub] service_url` without `/services/`.
    pub control_plane_url: String,
    pub event_hub_username: String,
    pub event_hub_password: String,
    /// `[super_admin] username` / `password` (default `admin`/`admin`): the Basic credentials
    /// the gateway REST API (`/api/am/gateway/v2`) requires, as WSO2 checks them against the
    /// node's user store.
    pub admin_username: String,
    pub admin_password: String,
    pub cors: CorsSettings,
    /// Public keys whose signatures the gateway accepts on JWT access tokens, by `kid`.
    pub trusted_keys: Vec<crate::authenticate::TrustedKey>,
    pub tenant_domain: String,
    /// `[apim.throttling]`: where decisions come from and events go to.
    pub throttle: ThrottleSettings,
    /// `[apim.jwt]`: the backend JWT (off by default).
    pub backend_jwt: tollgate_config::model::Jwt,
    /// What backend JWTs are signed with: the node's `[keystore.tls]` pair (`None`: the
    /// built-in `wso2carbon` one).
    pub signing_key: Option<crate::backend_jwt::SigningKey>,
    /// `data_retrieval_mode = "sync"`: start-up deployment blocks the server's start, so the
    /// API ports accept nothing until the start-up sync is done. `async` (WSO2's default):
    /// they serve at once, 404 for what has not arrived yet.
    pub blocking_startup: bool,
}

/// `[apim.throttling]` as a gateway uses it (docs/wso2-behaviour.md §2.5). The default is a gateway
/// with no Traffic Manager: deny policies, burst control and hard limits still apply (they are
/// local); quotas counted by a TM do not.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThrottleSettings {
    /// `throttle_decision_endpoints` when `enable_decision_connection`, else empty.
    pub decision_endpoints: Vec<String>,
    /// `[[apim.throttling.url_group]]`s when `enable_data_publishing`, else empty.
    pub publish_groups: Vec<tollgate_traffic_manager::PublishGroup>,
    /// `enable_blacklist_condition`: whether deny policies are enforced.
    pub enable_blocking: bool,
}

impl ThrottleSettings {
    pub fn from_config(throttling: &tollgate_config::model::Throttling) -> Self {
        Self {
            decision_endpoints: if throttling.enable_decision_connection {
                throttling.throttle_decision_endpoints.clone()
            } else {
                Vec::new()
            },
            publish_groups: if throttling.enable_data_publishing {
                throttling.url_groups.iter().map(Into::into).collect()
            } else {
                Vec::new()
            },
            enable_blocking: throttling.enable_blacklist_condition,
        }
    }
}

impl GatewaySettings {
    /// The settings a `gateway-worker` (or all-in-one) node reads from its `deployment.toml`.
    pub fn from_config(cfg: &DeploymentConfig, node_name: &str) -> Self {
        Self {
            node_name: node_name.to_owned(),
            labels: cfg.sync_gateway.gateway_labels.clone(),
            blocking_startup: cfg
                .sync_gateway
                .data_retrieval_mode
                .eq_ignore_ascii_case("sync"),
            control_plane_url: control_plane_base(&cfg.event_hub.service_url),
            event_hub_username: cfg.event_hub.username.clone(),
            event_hub_password: cfg.event_hub.password.clone(),
            admin_username: cfg.super_admin.username.clone(),
            admin_password: cfg.super_admin.password.clone(),
            cors: CorsSettings::from(&cfg.cors),
            trusted_keys: vec![crate::authenticate::TrustedKey::new(
                DEFAULT_KEY_ALIAS,
                DEFAULT_PUBLIC_KEY_PEM,
            )],
            tenant_domain: "carbon.super".to_owned(),
            throttle: ThrottleSettings::from_config(&cfg.throttling),
            backend_jwt: cfg.jwt.clone(),
            signing_key: None,
        }
    }
}

/// WSO2 strips `/services` (with or without the trailing slash) from the event hub's
/// `service_url` to find `/internal/data/v1` (§2.4).
pub fn control_plane_base(service_url: &str) -> String {
    let url = service_url.trim_end_matches('/');
    url.strip_suffix("/services").unwrap_or(url).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_suffix_is_stripped_from_the_event_hub_url() {
        assert_eq!(
            control_plane_base("https://localhost:9443/services/"),
            "https://localhost:9443"
        );
        assert_eq!(
            control_plane_base("https://cp.wso2.com:9443/services"),
            "https://cp.wso2.com:9443"
        );
        assert_eq!(
            control_plane_base("https://cp.wso2.com:9443"),
            "https://cp.wso2.com:9443"
        );
    }
}
