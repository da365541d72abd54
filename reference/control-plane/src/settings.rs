//! What the control plane is built from: a few values of the checked `deployment.toml` model.

use std::time::Duration;
use tollgate_config::Ports;
use tollgate_config::model::{DeploymentConfig, Environment, EnvironmentType, SuperAdmin, VHost};
use tollgate_net::security;

/// WSO2's default cap on revisions per API (`ApiMaxRevisionCount` overrides it per tenant).
pub const DEFAULT_MAX_REVISIONS: usize = 5;

/// Everything the control plane needs; built by [`ControlPlaneSettings::from_config`] or, in
/// tests, as a literal.
#[derive(Debug, Clone)]
pub struct ControlPlaneSettings {
    /// `[server] hostname`: used in the token issuer and JWKS URL.
    pub hostname: String,
    /// The management HTTPS port as served (9443 + offset).
    pub mgmt_https_port: u16,
    /// `[[apim.gateway.environment]]` in file order.
    pub environments: Vec<Environment>,
    /// `[super_admin]`: the user the password grant and the event hub accept.
    pub admin_username: String,
    pub admin_password: String,
    /// Extra credentials the event hub accepts (the control plane's own `[apim.event_hub]`),
    /// when they differ from the super admin's.
    pub event_hub_credentials: Option<(String, String)>,
    /// `carbon.super` unless multi-tenancy is added.
    pub tenant_domain: String,
    /// Token signing key pair (PKCS#8 / SPKI PEM) and its `kid` (default: the built-in
    /// `wso2carbon` pair, `kid` derived from its certificate).
    pub signing_key_pem: String,
    pub public_key_pem: String,
    pub key_id: String,
    /// Default access-token validity (WSO2: 3600 s).
    pub token_validity_secs: i64,
    /// Revisions per API before `900351`.
    pub max_revisions: usize,
    /// Idle time after which the event stream sends a `HEARTBEAT` line.
    pub heartbeat_interval: Duration,
    /// Events kept for followers; an `after` older than the log gets `410 Gone`.
    pub max_retained_events: usize,
}

impl ControlPlaneSettings {
    /// Settings from a checked `deployment.toml` and the management HTTPS port it resolves to.
    pub fn from_config(config: &DeploymentConfig, mgmt_https_port: u16) -> Self {
        let event_hub = &config.event_hub;
        let extra = (event_hub.username != config.super_admin.username
            || event_hub.password != config.super_admin.password)
            .then(|| (event_hub.username.clone(), event_hub.password.clone()));
        Self {
            hostname: config.server.hostname.clone(),
            mgmt_https_port,
            environments: config.environments.clone(),
            admin_username: config.super_admin.username.clone(),
            admin_password: config.super_admin.password.clone(),
            event_hub_credentials: extra,
            ..Self::defaults()
        }
    }

    /// Settings from a loaded `deployment.toml`, on the management port it resolves to.
    pub fn from_loaded(loaded: &tollgate_config::Loaded) -> Self {
        Self::from_config(&loaded.config, loaded.ports.mgmt_https)
    }

    /// The guide's control plane: `localhost:9443`, admin/admin, and its two environments
    /// (`Production Gateway` on 8281/8244, `Default` hybrid on 8282/8245).
    pub fn guide() -> Self {
        Self {
            environments: vec![
                guide_environment(
                    "Production Gateway",
                    EnvironmentType::Production,
                    "Production Gateway Environment",
                    8281,
                    8244,
                ),
                guide_environment(
                    "Default",
                    EnvironmentType::Hybrid,
                    "Hybrid Gateway Environment",
                    8282,
                    8245,
                ),
            ],
            ..Self::defaults()
        }
    }

    fn defaults() -> Self {
        Self {
            hostname: "localhost".to_owned(),
            mgmt_https_port: Ports::BASE.mgmt_https,
            environments: Vec::new(),
            admin_username: SuperAdmin::DEFAULT_USERNAME.to_owned(),
            admin_password: SuperAdmin::DEFAULT_PASSWORD.to_owned(),
            event_hub_credentials: None,
            tenant_domain: "carbon.super".to_owned(),
            signing_key_pem: security::DEFAULT_KEY_PEM.to_owned(),
            public_key_pem: security::DEFAULT_PUBLIC_KEY_PEM.to_owned(),
            // The `kid` WSO2 IS derives from the signing certificate, as the Key Manager does.
            key_id: tollgate_key_manager::KeyManagerSettings::new(
                "localhost",
                Ports::BASE.mgmt_https,
            )
            .key_id,
            token_validity_secs: 3600,
            max_revisions: DEFAULT_MAX_REVISIONS,
            heartbeat_interval: tollgate_protocol::internal::EVENTS_HEARTBEAT,
            max_retained_events: 100_000,
        }
    }

    /// `https://<hostname>:<port>`, the base of the token issuer and JWKS URLs.
    pub fn mgmt_base_url(&self) -> String {
        format!("https://{}:{}", self.hostname, self.mgmt_https_port)
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }
}

/// One environment as the guide's step 1 declares it.
pub fn guide_environment(
    name: &str,
    kind: EnvironmentType,
    description: &str,
    http_port: u16,
    https_port: u16,
) -> Environment {
    Environment {
        name: name.to_owned(),
        display_name: name.to_owned(),
        kind,
        description: description.to_owned(),
        display_in_api_console: true,
        show_as_token_endpoint_url: true,
        provider: "wso2".to_owned(),
        service_url: None,
        username: Some("admin".to_owned()),
        password: Some("admin".to_owned()),
        http_endpoint: Some(format!("http://localhost:{http_port}")),
        https_endpoint: Some(format!("https://localhost:{https_port}")),
        ws_endpoint: None,
        wss_endpoint: None,
        vhosts: vec![VHost {
            host: "localhost".to_owned(),
            http_context: String::new(),
            http_port,
            https_port,
            ws_host: "localhost".to_owned(),
            ws_port: Ports::BASE.ws,
            wss_host: "localhost".to_owned(),
            wss_port: Ports::BASE.wss,
            websub_http_port: Ports::BASE.websub_http,
            websub_https_port: Ports::BASE.websub_https,
        }],
        visibility: Vec::new(),
    }
}
