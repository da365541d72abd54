//! The catalogue of `deployment.toml` keys Tollgate knows: their shape and WSO2's defaults.
//!
//! One table per TOML table. The twin walker ([`crate::twin`]) checks the file against it
//! (unknown keys warn, with a suggestion from the siblings listed here), and `$ref{…}` falls back
//! to the `default` written here when the file does not set the key (docs/wso2-behaviour.md §2).

/// What a key holds.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// A string (numbers and booleans are taken as their text: WSO2 renders them into XML).
    Str,
    /// An integer, or a string that is one after placeholders resolve.
    Int,
    /// A boolean, or the string `"true"` / `"false"` (WSO2's defaults are strings).
    Bool,
    /// An array of strings.
    List,
    /// An array of strings, or one string split on commas (`allow_origins = "*"`).
    ListOrStr,
    /// A table of the listed keys.
    Table(&'static [Field]),
    /// A table whose other keys WSO2 passes through verbatim (Tomcat connector attributes).
    OpenTable(&'static [Field]),
    /// An array of tables (`[[...]]`), each of the listed keys.
    Tables(&'static [Field]),
    /// A table of named tables, each of the listed keys (`[database.<name>]`).
    Map(&'static [Field]),
    /// A WSO2 key Tollgate accepts and does not use; any value, no warning.
    Accepted,
    /// A WSO2 key or table Tollgate does not implement: accepted with a warning.
    Unsupported,
}

/// One key. `names[0]` is the canonical spelling; the others are accepted aliases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    pub(crate) names: &'static [&'static str],
    pub(crate) kind: Kind,
    /// WSO2's value when the key is missing, as the file would spell it (placeholders allowed).
    pub(crate) default: Option<&'static str>,
}

impl Field {
    pub(crate) fn name(&self) -> &'static str {
        self.names[0]
    }
}

const fn key(name: &'static [&'static str], kind: Kind) -> Field {
    Field {
        names: name,
        kind,
        default: None,
    }
}

const fn dflt(name: &'static [&'static str], kind: Kind, default: &'static str) -> Field {
    Field {
        names: name,
        kind,
        default: Some(default),
    }
}

use crate::model::SuperAdmin;
use Kind::{Accepted, Bool, Int, List, ListOrStr, Str, Unsupported};

pub(crate) const ROOT: &[Field] = &[
    key(&["server"], Kind::Table(SERVER)),
    key(&["super_admin"], Kind::Table(SUPER_ADMIN)),
    key(&["user_store"], Kind::OpenTable(USER_STORE)),
    key(&["database"], Kind::Map(DATABASE)),
    key(&["keystore"], Kind::Table(KEYSTORE)),
    key(&["truststore"], Kind::Table(TRUSTSTORE)),
    key(&["apim"], Kind::Table(APIM)),
    key(&["transport"], Kind::Table(TRANSPORT)),
    // Real WSO2 tables a stock deployment.toml carries that Tollgate does not implement.
    key(&["event_handler"], Unsupported),
    key(&["event_listener"], Unsupported),
    key(&["service_provider"], Unsupported),
    key(&["oauth"], Unsupported),
    key(&["tenant_mgt"], Unsupported),
    key(&["authentication"], Unsupported),
    key(&["system_parameter"], Unsupported),
    key(&["synapse_properties"], Unsupported),
];

const SERVER: &[Field] = &[
    dflt(&["hostname"], Str, "localhost"),
    dflt(&["node_ip"], Str, "127.0.0.1"),
    dflt(&["server_role"], Str, "default"),
    dflt(&["offset"], Int, "0"),
    dflt(&["mode"], Str, "single"),
    dflt(
        &["base_path"],
        Str,
        "${carbon.protocol}://${carbon.host}:${carbon.management.port}",
    ),
    key(&["discard_empty_caches"], Accepted),
    key(&["enable_shutdown_from_api"], Accepted),
    key(&["enable_restart_from_api"], Accepted),
];

const SUPER_ADMIN: &[Field] = &[
    dflt(&["username"], Str, SuperAdmin::DEFAULT_USERNAME),
    dflt(&["password"], Str, SuperAdmin::DEFAULT_PASSWORD),
    dflt(&["create_admin_account"], Bool, "true"),
    key(&["admin_role"], Accepted),
];

const USER_STORE: &[Field] = &[dflt(&["type"], Str, "database_unique_id")];

const DATABASE: &[Field] = &[
    key(&["type"], Str),
    key(&["hostname"], Str),
    key(&["name"], Str),
    key(&["port"], Str),
    key(&["username"], Str),
    key(&["password"], Str),
    key(&["url"], Str),
    key(&["driver"], Accepted),
    key(&["validationQuery"], Accepted),
    key(&["pool_options"], Accepted),
];

const KEYSTORE: &[Field] = &[
    key(&["tls"], Kind::Table(KEYSTORE_TLS)),
    key(&["primary"], Unsupported),
    key(&["internal"], Unsupported),
];

const KEYSTORE_TLS: &[Field] = &[
    dflt(&["file_name"], Str, "wso2carbon.jks"),
    dflt(&["type"], Str, "JKS"),
    dflt(&["password"], Str, "wso2carbon"),
    dflt(&["alias"], Str, "wso2carbon"),
    dflt(&["key_password"], Str, "wso2carbon"),
];

const TRUSTSTORE: &[Field] = &[
    dflt(&["file_name"], Str, "client-truststore.jks"),
    dflt(&["type"], Str, "JKS"),
    dflt(&["password"], Str, "wso2carbon"),
];

const APIM: &[Field] = &[
    key(&["gateway"], Kind::Table(APIM_GATEWAY)),
    key(&["key_manager"], Kind::Table(KEY_MANAGER)),
    key(&["throttling"], Kind::Table(THROTTLING)),
    key(&["sync_runtime_artifacts"], Kind::Table(SYNC)),
    key(&["event_hub"], Kind::Table(EVENT_HUB)),
    key(&["cors"], Kind::Table(CORS)),
    key(&["analytics"], Unsupported),
    key(&["devportal"], Unsupported),
    key(&["publisher"], Unsupported),
    key(&["jwt"], Kind::Table(JWT)),
    key(&["oauth_config"], Unsupported),
    key(&["token"], Unsupported),
    key(&["ai"], Unsupported),
    key(&["cache"], Unsupported),
];

const APIM_GATEWAY: &[Field] = &[key(&["environment"], Kind::Tables(ENVIRONMENT))];

pub(crate) const ENVIRONMENT: &[Field] = &[
    key(&["name"], Str),
    key(&["display_name"], Str),
    key(&["type"], Str),
    key(&["gateway_type"], Accepted),
    key(&["provider"], Str),
    key(&["display_in_api_console"], Bool),
    key(&["description"], Str),
    key(&["show_as_token_endpoint_url"], Bool),
    key(&["service_url"], Str),
    key(&["username"], Str),
    key(&["password"], Str),
    key(&["ws_endpoint"], Str),
    key(&["wss_endpoint"], Str),
    key(&["http_endpoint"], Str),
    key(&["https_endpoint"], Str),
    key(&["websub_event_receiver_http_endpoint"], Str),
    key(&["websub_event_receiver_https_endpoint"], Str),
    key(&["visibility"], List),
    key(&["virtual_host"], Kind::Tables(VIRTUAL_HOST)),
    key(&["properties"], Accepted),
];

const VIRTUAL_HOST: &[Field] = &[
    key(&["ws_endpoint"], Str),
    key(&["wss_endpoint"], Str),
    key(&["http_endpoint"], Str),
    key(&["https_endpoint"], Str),
    key(&["websub_event_receiver_http_endpoint"], Str),
    key(&["websub_event_receiver_https_endpoint"], Str),
];

const KEY_MANAGER: &[Field] = &[
    dflt(
        &["service_url"],
        Str,
        "https://localhost:${mgt.transport.https.port}/services/",
    ),
    dflt(&["username"], Str, "$ref{super_admin.username}"),
    dflt(&["password"], Str, "$ref{super_admin.password}"),
    dflt(&["type"], Str, "default"),
    key(&["key_validation_handler_impl"], Accepted),
    key(&["enable_retriever"], Accepted),
    key(&["enable_provisioned_app_validation"], Accepted),
    key(&["enable_apikey_subscription_validation"], Accepted),
    key(&["enable_lightweight_apikey_generation"], Accepted),
    key(&["allow_subscription_validation_disabling"], Accepted),
    key(&["enable_registration"], Accepted),
    key(&["pool"], Accepted),
];

const THROTTLING: &[Field] = &[
    dflt(&["username"], Str, "$ref{super_admin.username}"),
    dflt(&["password"], Str, "$ref{super_admin.password}"),
    dflt(
        &["service_url"],
        Str,
        "https://localhost:${mgt.transport.https.port}/services/",
    ),
    key(&["throttle_decision_endpoints"], List),
    key(&["url_group"], Kind::Tables(URL_GROUP)),
    key(&["receiver_url"], Str),
    key(&["receiver_auth_url"], Str),
    dflt(&["enable_data_publishing"], Bool, "true"),
    dflt(&["enable_decision_connection"], Bool, "true"),
    dflt(&["enable_unlimited_tier"], Bool, "true"),
    dflt(&["enable_advanced_throttling"], Bool, "true"),
    dflt(&["enable_blacklist_condition"], Bool, "true"),
    key(&["enable_policy_deploy"], Accepted),
    key(&["enable_policy_deployment"], Accepted),
    key(&["enable_header_based_throttling"], Accepted),
    key(&["enable_jwt_claim_based_throttling"], Accepted),
    key(&["enable_query_param_based_throttling"], Accepted),
    key(&["skip_redeploying_policies"], Accepted),
    key(&["event_type"], Accepted),
    key(&["receiver_username"], Accepted),
    key(&["receiver_password"], Accepted),
    key(&["event_duplicate_url"], Accepted),
    key(&["sequential_failover_from_beginning"], Accepted),
    key(&["publisher"], Accepted),
    key(&["jms"], Accepted),
    key(&["blacklist_condition"], Accepted),
];

const URL_GROUP: &[Field] = &[
    key(&["traffic_manager_urls"], List),
    key(&["traffic_manager_auth_urls"], List),
    key(&["type"], Str),
];

const SYNC: &[Field] = &[
    key(&["gateway"], Kind::Table(SYNC_GATEWAY)),
    key(&["publisher"], Accepted),
];

const SYNC_GATEWAY: &[Field] = &[
    key(&["gateway_labels"], List),
    dflt(&["enable"], Bool, "true"),
    dflt(&["artifact_retriever"], Str, "DBRetriever"),
    dflt(&["data_retrieval_mode"], Str, "async"),
    key(&["skip_list"], Kind::Table(SKIP_LIST)),
    key(&["deployment_retry_duration"], Accepted),
    key(&["retry_progression_factor"], Accepted),
    key(&["max_retry_count"], Accepted),
    key(&["event_waiting_time"], Accepted),
    key(&["enable_on_demand_loading"], Accepted),
];

const SKIP_LIST: &[Field] = &[
    key(&["apis"], List),
    key(&["endpoints"], List),
    key(&["sequences"], List),
    // The template key is `local_entries`; the guide writes `local-entries`. Both are taken.
    key(&["local_entries", "local-entries"], List),
];

const EVENT_HUB: &[Field] = &[
    dflt(&["enable"], Bool, "true"),
    dflt(&["service_url"], Str, "$ref{apim.key_manager.service_url}"),
    dflt(&["username"], Str, "$ref{apim.throttling.username}"),
    dflt(&["password"], Str, "$ref{apim.throttling.password}"),
    key(&["event_listening_endpoints"], List),
    key(&["event_waiting_time"], Accepted),
    key(&["init_delay"], Accepted),
    key(&["event_type"], Accepted),
    key(&["publish"], Accepted),
    key(&["jms"], Accepted),
    key(&["event_duplicate_url"], Accepted),
];

/// `[apim.jwt]`: the backend JWT the gateway sends (`JWTConfigurationDto`, keys from WSO2's
/// "Passing End User Attributes to the Backend"). Generator and claim-retriever classes are Java
/// plug-ins: accepted, not run.
const JWT: &[Field] = &[
    dflt(&["enable"], Bool, "false"),
    dflt(&["header"], Str, "X-JWT-Assertion"),
    dflt(&["encoding"], Str, "base64"),
    dflt(&["claim_dialect"], Str, "http://wso2.org/claims"),
    dflt(&["signing_algorithm"], Str, "SHA256withRSA"),
    dflt(&["enable_user_claims"], Bool, "false"),
    dflt(&["use_sha256_hash"], Bool, "false"),
    dflt(&["use_kid_property"], Bool, "true"),
    key(&["convert_dialect"], Accepted),
    key(&["generator_impl"], Accepted),
    key(&["claims_extractor_impl"], Accepted),
    key(&["binding_federated_user_claims"], Accepted),
    key(&["gateway_generator"], Kind::Table(JWT_GATEWAY_GENERATOR)),
];

const JWT_GATEWAY_GENERATOR: &[Field] = &[
    key(&["impl"], Accepted),
    key(&["excluded_claims"], ListOrStr),
];

const CORS: &[Field] = &[
    dflt(&["enable"], Bool, "true"),
    key(&["allow_origins"], ListOrStr),
    key(&["allow_methods"], ListOrStr),
    key(&["allow_headers"], ListOrStr),
    dflt(&["allow_credentials"], Bool, "false"),
    key(&["expose_headers"], ListOrStr),
    key(&["enable_validation_for_ws"], Accepted),
];

const TRANSPORT: &[Field] = &[
    key(&["http"], Kind::OpenTable(SERVLET_TRANSPORT)),
    key(&["https"], Kind::OpenTable(SERVLET_TRANSPORT)),
    key(&["passthru_http"], Kind::OpenTable(PASSTHRU)),
    key(&["passthru_https"], Kind::OpenTable(PASSTHRU)),
];

const SERVLET_TRANSPORT: &[Field] = &[key(&["properties"], Kind::OpenTable(CONNECTOR))];

const CONNECTOR: &[Field] = &[key(&["port"], Int), key(&["proxyPort"], Int)];

const PASSTHRU: &[Field] = &[key(&["listener"], Kind::OpenTable(PASSTHRU_LISTENER))];

const PASSTHRU_LISTENER: &[Field] = &[key(&["parameters"], Kind::OpenTable(PASSTHRU_PARAMS))];

const PASSTHRU_PARAMS: &[Field] = &[key(&["port"], Int)];

/// The field at a dotted path (`apim.key_manager.service_url`), through plain tables only.
pub(crate) fn field_at(path: &str) -> Option<&'static Field> {
    let mut fields = ROOT;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = fields.iter().find(|f| f.names.contains(&part))?;
        if parts.peek().is_none() {
            return Some(field);
        }
        fields = match field.kind {
            Kind::Table(inner) | Kind::OpenTable(inner) => inner,
            _ => return None,
        };
    }
    None
}

/// WSO2's default for a dotted path, when it has one.
pub(crate) fn default_at(path: &str) -> Option<&'static str> {
    field_at(path).and_then(|f| f.default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_found_by_dotted_path() {
        assert_eq!(default_at("super_admin.username"), Some("admin"));
        assert_eq!(
            default_at("apim.event_hub.service_url"),
            Some("$ref{apim.key_manager.service_url}")
        );
        assert_eq!(default_at("apim.gateway.environment"), None);
        assert_eq!(default_at("no.such.key"), None);
    }

    #[test]
    fn the_cors_flags_defaults_agree_with_the_model() {
        // `$ref{apim.cors.*}` falls back to these strings; the checker to the model's consts.
        let text = |b: bool| if b { "true" } else { "false" };
        assert_eq!(
            default_at("apim.cors.enable"),
            Some(text(crate::model::Cors::DEFAULT_ENABLE))
        );
        assert_eq!(
            default_at("apim.cors.allow_credentials"),
            Some(text(crate::model::Cors::DEFAULT_ALLOW_CREDENTIALS))
        );
    }

    #[test]
    fn the_guides_hyphenated_skip_list_key_is_an_alias() {
        let field = field_at("apim.sync_runtime_artifacts.gateway.skip_list.local-entries");
        assert_eq!(field.map(Field::name), Some("local_entries"));
    }
}
