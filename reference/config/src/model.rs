//! The checked model of a `deployment.toml`: what a node is built from.
//!
//! Every field here is already validated and has WSO2's default applied
//! (docs/wso2-behaviour.md §2). Placeholders (`$ref{…}`, `${…}`) are resolved. Field docs say what
//! WSO2 does with the key.

use std::collections::BTreeMap;

/// One instance's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentConfig {
    pub server: Server,
    pub super_admin: SuperAdmin,
    pub user_store: UserStore,
    /// `[database.*]` sections by name (`shared_db`, `apim_db`); kept, not used.
    pub databases: BTreeMap<String, Database>,
    pub keystore_tls: Keystore,
    pub truststore: Truststore,
    /// `[[apim.gateway.environment]]`, in file order (declared on the control plane).
    pub environments: Vec<Environment>,
    pub key_manager: KeyManagerConfig,
    pub throttling: Throttling,
    pub sync_gateway: SyncRuntimeArtifactsGateway,
    pub event_hub: EventHub,
    pub cors: Cors,
    pub jwt: Jwt,
    pub transport: Transport,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// Default `localhost`. Used in advertised URLs and the token issuer.
    pub hostname: String,
    /// Default `127.0.0.1`.
    pub node_ip: String,
    /// Default `default` (all-in-one).
    pub server_role: ServerRole,
    /// Default 0; shifts every listener port (§1).
    pub offset: u16,
    /// Default `single`.
    pub mode: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerRole {
    /// All in one: control plane, traffic manager and gateway.
    Default,
    ControlPlane,
    GatewayWorker,
    TrafficManager,
}

impl ServerRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::ControlPlane => "control-plane",
            Self::GatewayWorker => "gateway-worker",
            Self::TrafficManager => "traffic-manager",
        }
    }

    /// Whether this role runs the Publisher, Developer Portal, Key Manager and event hub.
    pub fn runs_control_plane(self) -> bool {
        matches!(self, Self::Default | Self::ControlPlane)
    }

    /// Whether this role runs a gateway.
    pub fn runs_gateway(self) -> bool {
        matches!(self, Self::Default | Self::GatewayWorker)
    }
}

/// `[super_admin]`. Defaults `admin` / `admin`, `create_admin_account = true`.
#[derive(Debug, Clone, PartialEq)]
pub struct SuperAdmin {
    pub username: String,
    pub password: String,
    pub create_admin_account: bool,
}

impl SuperAdmin {
    /// WSO2's `[super_admin] username` (the schema's default, which `$ref{…}` falls back to).
    pub const DEFAULT_USERNAME: &str = "admin";
    pub const DEFAULT_PASSWORD: &str = "admin";
}

/// `[user_store]`. Default type `database_unique_id`; kept, not used.
#[derive(Debug, Clone, PartialEq)]
pub struct UserStore {
    pub kind: String,
}

/// `[database.<name>]`; kept so the guide's files load, not used (a control plane keeps its
/// data in one JSON file, `tollgate_control_plane::database`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Database {
    pub kind: Option<String>,
    pub hostname: Option<String>,
    pub name: Option<String>,
    pub port: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub url: Option<String>,
}

/// `[keystore.tls]`: the key that serves HTTPS and signs tokens.
/// Defaults `wso2carbon.jks`, `JKS`, `wso2carbon` ×3. JKS is not read: the built-in
/// `wso2carbon` PEM pair stands in for it; PEM files are read when named.
#[derive(Debug, Clone, PartialEq)]
pub struct Keystore {
    pub file_name: String,
    pub kind: String,
    pub password: String,
    pub alias: String,
    pub key_password: String,
}

/// `[truststore]`. Defaults `client-truststore.jks`, `JKS`, `wso2carbon`.
#[derive(Debug, Clone, PartialEq)]
pub struct Truststore {
    pub file_name: String,
    pub kind: String,
    pub password: String,
}

/// Gateway environment type.
pub use tollgate_protocol::artifact::EnvironmentType;

/// `[[apim.gateway.environment]]` (§2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// Deployment target name and the gateway label gateways follow; unique.
    pub name: String,
    /// Empty in the file → `name`.
    pub display_name: String,
    pub kind: EnvironmentType,
    pub description: String,
    /// Listed in the Developer Portal's Try-Out console.
    pub display_in_api_console: bool,
    /// Its endpoint is shown as the token endpoint URL.
    pub show_as_token_endpoint_url: bool,
    /// `wso2` when absent.
    pub provider: String,
    pub service_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub http_endpoint: Option<String>,
    pub https_endpoint: Option<String>,
    pub ws_endpoint: Option<String>,
    pub wss_endpoint: Option<String>,
    /// The default vhost built from `http_endpoint`/`https_endpoint` (`VHost.fromEndpointUrls`)
    /// first, then each `[[apim.gateway.environment.virtual_host]]`.
    pub vhosts: Vec<VHost>,
    /// 4.5+ `visibility` roles; empty → public.
    pub visibility: Vec<String>,
}

/// A virtual host of an environment: how its gateways are advertised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VHost {
    pub host: String,
    /// Path prefix from the endpoint URL, `""` when none.
    pub http_context: String,
    /// Explicit port, or 80 when the URL has none.
    pub http_port: u16,
    /// Explicit port, or 443 when the URL has none.
    pub https_port: u16,
    pub ws_host: String,
    pub ws_port: u16,
    pub wss_host: String,
    pub wss_port: u16,
    pub websub_http_port: u16,
    pub websub_https_port: u16,
}

impl VHost {
    /// `http://host[:port]{context}`, `:80` omitted.
    pub fn http_url(&self) -> String {
        let port = if self.http_port == 80 {
            String::new()
        } else {
            format!(":{}", self.http_port)
        };
        format!("http://{}{}{}", self.host, port, self.http_context)
    }

    /// `https://host[:port]{context}`, `:443` omitted.
    pub fn https_url(&self) -> String {
        let port = if self.https_port == 443 {
            String::new()
        } else {
            format!(":{}", self.https_port)
        };
        format!("https://{}{}{}", self.host, port, self.http_context)
    }
}

/// `[apim.key_manager]` (§2.6).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyManagerConfig {
    /// Default `https://localhost:${mgt.transport.https.port}/services/`.
    pub service_url: String,
    pub username: String,
    pub password: String,
    pub kind: String,
}

/// `[apim.throttling]` and its url groups (§2.5).
#[derive(Debug, Clone, PartialEq)]
pub struct Throttling {
    pub username: String,
    pub password: String,
    pub service_url: String,
    /// Default `["tcp://${carbon.local.ip}:${jms.port}"]`.
    pub throttle_decision_endpoints: Vec<String>,
    /// Each group receives every event; within a group failover unless `type = "loadbalance"`.
    pub url_groups: Vec<UrlGroup>,
    pub enable_data_publishing: bool,
    pub enable_decision_connection: bool,
    pub enable_unlimited_tier: bool,
    pub enable_advanced_throttling: bool,
    pub enable_blacklist_condition: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UrlGroup {
    pub traffic_manager_urls: Vec<String>,
    pub traffic_manager_auth_urls: Vec<String>,
    pub kind: UrlGroupKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlGroupKind {
    /// Missing or anything but `loadbalance`.
    Failover,
    LoadBalance,
}

/// `[apim.sync_runtime_artifacts.gateway]` (§2.3).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRuntimeArtifactsGateway {
    /// Default `["Default"]`.
    pub gateway_labels: Vec<String>,
    /// Default true; the control-plane role infers false.
    pub enable: bool,
    pub artifact_retriever: String,
    pub data_retrieval_mode: String,
    pub skip_list: SkipList,
}

/// `[apim.sync_runtime_artifacts.gateway.skip_list]`: files kept at gateway start.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SkipList {
    pub apis: Vec<String>,
    pub endpoints: Vec<String>,
    pub sequences: Vec<String>,
    pub local_entries: Vec<String>,
}

/// `[apim.event_hub]` (§2.4).
#[derive(Debug, Clone, PartialEq)]
pub struct EventHub {
    pub enable: bool,
    /// Base of `/internal/data/v1`; default the key manager's service URL.
    pub service_url: String,
    /// Default throttling credentials.
    pub username: String,
    pub password: String,
    pub event_listening_endpoints: Vec<String>,
}

/// `[apim.cors]` (§2.7). [`Cors::default`] is WSO2's, what a file without the table gets; the
/// gateway's own default is this one too.
#[derive(Debug, Clone, PartialEq)]
pub struct Cors {
    pub enable: bool,
    /// Default `["*"]`.
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub allow_credentials: bool,
    pub expose_headers: Vec<String>,
}

impl Cors {
    pub const DEFAULT_ENABLE: bool = true;
    pub const DEFAULT_ALLOW_ORIGINS: &[&str] = &["*"];
    pub const DEFAULT_ALLOW_METHODS: &[&str] =
        &["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"];
    pub const DEFAULT_ALLOW_HEADERS: &[&str] = &[
        "authorization",
        "Access-Control-Allow-Origin",
        "Content-Type",
        "SOAPAction",
    ];
    pub const DEFAULT_ALLOW_CREDENTIALS: bool = false;
    pub const DEFAULT_EXPOSE_HEADERS: &[&str] = &[];
}

impl Default for Cors {
    fn default() -> Self {
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        Self {
            enable: Self::DEFAULT_ENABLE,
            allow_origins: list(Self::DEFAULT_ALLOW_ORIGINS),
            allow_methods: list(Self::DEFAULT_ALLOW_METHODS),
            allow_headers: list(Self::DEFAULT_ALLOW_HEADERS),
            allow_credentials: Self::DEFAULT_ALLOW_CREDENTIALS,
            expose_headers: list(Self::DEFAULT_EXPOSE_HEADERS),
        }
    }
}

/// `[apim.jwt]`: the JWT a gateway sends its backends (WSO2's "backend JWT"). Off by default.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwt {
    pub enable: bool,
    /// The header it travels in; default `X-JWT-Assertion`.
    pub header: String,
    /// `base64` (default: standard alphabet, no padding) or `base64url`.
    pub encoding: JwtEncoding,
    /// Prefix of WSO2's claims; default `http://wso2.org/claims`.
    pub claim_dialect: String,
    /// `SHA256withRSA` (default, RS256 with the node's key) or `NONE` (unsigned).
    pub signed: bool,
    /// User-store claims for opaque tokens; read, not used (no opaque tokens here).
    pub enable_user_claims: bool,
    /// `x5t` from the SHA-256 thumbprint instead of SHA-1.
    pub use_sha256_hash: bool,
    /// `use_kid_property`, default true: the header names the key (`kid`).
    pub use_kid: bool,
    /// `[apim.jwt.gateway_generator] excluded_claims`: token claims not copied.
    pub excluded_claims: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtEncoding {
    Base64,
    Base64Url,
}

impl Default for Jwt {
    fn default() -> Self {
        Self {
            enable: false,
            header: "X-JWT-Assertion".to_owned(),
            encoding: JwtEncoding::Base64,
            claim_dialect: "http://wso2.org/claims".to_owned(),
            signed: true,
            enable_user_claims: false,
            use_sha256_hash: false,
            use_kid: true,
            excluded_claims: Vec::new(),
        }
    }
}

/// `[transport.http]` / `[transport.https]` (servlet connectors) and passthrough ports.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Transport {
    /// `properties.port`; default 9763 / 9443 (before offset).
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
    /// `properties.proxyPort`: the port clients see behind a load balancer.
    pub http_proxy_port: Option<u16>,
    pub https_proxy_port: Option<u16>,
    /// `[transport.passthru_http.listener.parameters] port`; default 8280.
    pub passthru_http_port: Option<u16>,
    /// `[transport.passthru_https.listener.parameters] port`; default 8243.
    pub passthru_https_port: Option<u16>,
}
