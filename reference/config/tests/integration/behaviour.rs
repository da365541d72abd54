//! WSO2's defaults, role inference, placeholders, vhost construction and label checks.

use std::path::Path;

use tollgate_config::model::{Cors, EnvironmentType, ServerRole, UrlGroupKind, VHost};
use tollgate_config::{Loaded, Location, Ports, Vars, check_gateway_labels, parse, parse_with};

fn loaded(source: &str) -> Loaded {
    parse(source, Path::new("deployment.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn named(source: &str, file: &str) -> Loaded {
    parse(source, Path::new(file)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn an_empty_file_is_wso2s_all_in_one_node_with_every_default() {
    let file = loaded("");
    assert_eq!(file.warnings, []);
    let c = &file.config;
    assert_eq!(c.server.hostname, "localhost");
    assert_eq!(c.server.node_ip, "127.0.0.1");
    assert_eq!(c.server.server_role, ServerRole::Default);
    assert_eq!(c.server.offset, 0);
    assert_eq!(c.server.mode, "single");
    assert_eq!(file.ports, Ports::BASE);
    assert_eq!(
        (
            c.super_admin.username.as_str(),
            c.super_admin.password.as_str()
        ),
        ("admin", "admin")
    );
    assert!(c.super_admin.create_admin_account);
    assert_eq!(c.user_store.kind, "database_unique_id");
    assert!(c.databases.is_empty());
    assert_eq!(c.keystore_tls.file_name, "wso2carbon.jks");
    assert_eq!(c.keystore_tls.kind, "JKS");
    assert_eq!(c.keystore_tls.alias, "wso2carbon");
    assert_eq!(c.keystore_tls.key_password, "wso2carbon");
    assert_eq!(c.truststore.file_name, "client-truststore.jks");
    assert_eq!(c.truststore.password, "wso2carbon");
    assert!(c.environments.is_empty());
    assert_eq!(
        c.key_manager.service_url,
        "https://localhost:9443/services/"
    );
    assert_eq!(c.key_manager.username, "admin");
    assert_eq!(c.key_manager.kind, "default");
    let t = &c.throttling;
    assert_eq!(t.service_url, "https://localhost:9443/services/");
    assert_eq!(t.throttle_decision_endpoints, ["tcp://127.0.0.1:5672"]);
    assert_eq!(t.url_groups.len(), 1);
    assert_eq!(
        t.url_groups[0].traffic_manager_urls,
        ["tcp://127.0.0.1:9611"]
    );
    assert_eq!(
        t.url_groups[0].traffic_manager_auth_urls,
        ["ssl://127.0.0.1:9711"]
    );
    assert_eq!(t.url_groups[0].kind, UrlGroupKind::Failover);
    assert!(t.enable_data_publishing && t.enable_decision_connection);
    assert!(
        t.enable_unlimited_tier && t.enable_advanced_throttling && t.enable_blacklist_condition
    );
    let s = &c.sync_gateway;
    assert_eq!(s.gateway_labels, ["Default"]);
    assert!(s.enable);
    assert_eq!(s.artifact_retriever, "DBRetriever");
    assert_eq!(s.data_retrieval_mode, "async");
    assert!(s.skip_list.apis.is_empty());
    let e = &c.event_hub;
    assert!(e.enable);
    assert_eq!(e.service_url, "https://localhost:9443");
    assert_eq!(
        (e.username.as_str(), e.password.as_str()),
        ("admin", "admin")
    );
    assert_eq!(e.event_listening_endpoints, ["tcp://127.0.0.1:5672"]);
    let cors = &c.cors;
    assert!(cors.enable);
    assert_eq!(cors.allow_origins, ["*"]);
    assert_eq!(
        cors.allow_methods,
        ["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]
    );
    assert_eq!(
        cors.allow_headers,
        [
            "authorization",
            "Access-Control-Allow-Origin",
            "Content-Type",
            "SOAPAction"
        ]
    );
    assert!(!cors.allow_credentials);
    assert!(cors.expose_headers.is_empty());
    // The model's own default (the gateway's too) is this same file-less one.
    assert_eq!(*cors, Cors::default());
    assert_eq!(c.transport, Default::default());
}

#[test]
fn roles_infer_what_infer_json_says_and_explicit_keys_win() {
    let cp = loaded("[server]\nserver_role = \"control-plane\"\n");
    assert!(cp.config.server.server_role.runs_control_plane());
    assert!(!cp.config.sync_gateway.enable);
    assert!(!cp.config.throttling.enable_data_publishing);
    assert!(!cp.config.throttling.enable_decision_connection);
    assert!(cp.config.throttling.enable_blacklist_condition);

    let gw = loaded("[server]\nserver_role = \"gateway-worker\"\n");
    assert!(gw.config.server.server_role.runs_gateway());
    assert!(gw.config.sync_gateway.enable);
    assert!(gw.config.throttling.enable_data_publishing);
    assert!(gw.config.throttling.enable_decision_connection);
    assert!(gw.config.throttling.enable_blacklist_condition);

    let tm = loaded("[server]\nserver_role = \"traffic-manager\"\n");
    assert_eq!(tm.config.server.server_role, ServerRole::TrafficManager);
    assert!(!tm.config.throttling.enable_data_publishing);
    assert!(!tm.config.throttling.enable_blacklist_condition);

    let explicit = loaded(
        "[server]\nserver_role = \"control-plane\"\n\n[apim.sync_runtime_artifacts.gateway]\nenable = \"true\"\n",
    );
    assert!(
        explicit.config.sync_gateway.enable,
        "the file's own value wins over inference"
    );
}

#[test]
fn placeholders_resolve_against_the_offset_the_host_and_injected_variables() {
    let mut vars = Vars::default();
    vars.env.insert("ADMIN_PASSWORD".into(), "s3cret".into());
    vars.env.insert("GW_OFFSET".into(), "3".into());
    vars.sys.insert("cp.host".into(), "cp.wso2.com".into());
    let source = r#"
[server]
hostname = "gw.wso2.com"
node_ip = "10.0.0.7"
offset = "$env{GW_OFFSET}"
base_path = "${carbon.protocol}://${carbon.host}:${carbon.management.port}"

[super_admin]
username = "root"
password = "$env{ADMIN_PASSWORD}"

[apim.key_manager]
service_url = "https://$sys{cp.host}:9443/services/"
username = "$ref{super_admin.username}"
password = "$ref{super_admin.password}"

[apim.throttling]
service_url = "https://${carbon.host}:${mgt.transport.https.port}/services/"

[[apim.throttling.url_group]]
traffic_manager_urls = ["tcp://${carbon.local.ip}:${receiver.url.port}"]
traffic_manager_auth_urls = ["ssl://${carbon.local.ip}:${auth.url.port}"]

[[apim.gateway.environment]]
name = "Default"
type = "hybrid"
username = "${admin.username}"
password = "${admin.password}"
http_endpoint = "http://${carbon.host}:${http.nio.port}"
https_endpoint = "https://${carbon.host}:${https.nio.port}"
"#;
    let file = parse_with(source, Path::new("deployment.toml"), &vars).unwrap();
    let c = &file.config;
    assert_eq!(c.server.offset, 3);
    assert_eq!(c.super_admin.password, "s3cret");
    assert_eq!(
        c.key_manager.service_url,
        "https://cp.wso2.com:9443/services/"
    );
    assert_eq!(c.key_manager.username, "root");
    assert_eq!(c.key_manager.password, "s3cret");
    assert_eq!(
        c.throttling.service_url,
        "https://gw.wso2.com:9446/services/"
    );
    assert_eq!(
        c.throttling.url_groups[0].traffic_manager_urls,
        ["tcp://10.0.0.7:9614"]
    );
    assert_eq!(
        c.throttling.url_groups[0].traffic_manager_auth_urls,
        ["ssl://10.0.0.7:9714"]
    );
    // Defaults that name placeholders follow the file too.
    assert_eq!(
        c.throttling.throttle_decision_endpoints,
        ["tcp://10.0.0.7:5675"]
    );
    let env = &c.environments[0];
    assert_eq!(env.username.as_deref(), Some("root"));
    assert_eq!(env.password.as_deref(), Some("s3cret"));
    assert_eq!(
        env.http_endpoint.as_deref(),
        Some("http://gw.wso2.com:8283")
    );
    assert_eq!(env.vhosts[0].https_url(), "https://gw.wso2.com:8246");

    // Without the variables the same file fails where they are named.
    let errors = parse(source, Path::new("deployment.toml")).unwrap_err().0;
    let keys: Vec<_> = errors.iter().map(|d| d.key.as_str()).collect();
    assert!(keys.contains(&"server.offset"), "{keys:?}");
    assert!(keys.contains(&"super_admin.password"), "{keys:?}");
}

#[test]
fn vhosts_follow_vhost_from_endpoint_urls() {
    let file = loaded(
        r#"
[[apim.gateway.environment]]
name = "Edge"
display_name = ""
provider = ""
type = "production"
http_endpoint = "http://plain.example.com"
https_endpoint = "https://gw.example.com/edge/"
ws_endpoint = "ws://ws.example.com:9199"
websub_event_receiver_https_endpoint = "https://gw.example.com:8121"

[[apim.gateway.environment.virtual_host]]
http_endpoint = "http://second.example.com:8080/api"

[[apim.gateway.environment]]
name = "Bare"
display_name = "The bare one"
provider = "Solace"
https_endpoint = "https://bare.example.com"
display_in_api_console = false
visibility = ["admin", "internal/publisher"]
"#,
    );
    let edge = &file.config.environments[0];
    assert_eq!(edge.display_name, "Edge", "empty display_name -> name");
    assert_eq!(edge.provider, "wso2", "empty provider -> wso2");
    assert!(edge.display_in_api_console, "omitted -> true (UNCONFIRMED)");
    assert!(!edge.show_as_token_endpoint_url);
    assert_eq!(
        edge.vhosts,
        [
            VHost {
                host: "gw.example.com".into(),
                http_context: "/edge".into(),
                http_port: 80,
                https_port: 443,
                ws_host: "ws.example.com".into(),
                ws_port: 9199,
                wss_host: "gw.example.com".into(),
                wss_port: 8099,
                websub_http_port: 9021,
                websub_https_port: 8121,
            },
            VHost {
                host: "second.example.com".into(),
                http_context: "/api".into(),
                http_port: 8080,
                https_port: 443,
                ws_host: "second.example.com".into(),
                ws_port: 9099,
                wss_host: "second.example.com".into(),
                wss_port: 8099,
                websub_http_port: 9021,
                websub_https_port: 8021,
            },
        ]
    );
    assert_eq!(edge.vhosts[0].https_url(), "https://gw.example.com/edge");
    assert_eq!(edge.vhosts[0].http_url(), "http://gw.example.com/edge");
    let bare = &file.config.environments[1];
    assert_eq!(
        bare.kind,
        EnvironmentType::Hybrid,
        "omitted type -> hybrid (UNCONFIRMED)"
    );
    assert_eq!(bare.display_name, "The bare one");
    assert_eq!(bare.provider, "Solace");
    assert!(!bare.display_in_api_console);
    assert_eq!(bare.visibility, ["admin", "internal/publisher"]);
    assert_eq!(bare.vhosts[0].http_port, 80);
}

#[test]
fn wso2s_stock_default_environment_loads_with_its_placeholders() {
    // The `[[apim.gateway.environment]]` block of WSO2 4.2's shipped deployment.toml.
    let file = loaded(
        r#"
[server]
hostname = "localhost"
base_path = "${carbon.protocol}://${carbon.host}:${carbon.management.port}"
server_role = "default"

[[apim.gateway.environment]]
name = "Default"
type = "hybrid"
gateway_type = "Regular"
provider = "wso2"
display_in_api_console = true
description = "This is a hybrid gateway that handles both production and sandbox token traffic."
show_as_token_endpoint_url = true
service_url = "https://localhost:${mgt.transport.https.port}/services/"
username= "${admin.username}"
password= "${admin.password}"
ws_endpoint = "ws://localhost:9099"
wss_endpoint = "wss://localhost:8099"
http_endpoint = "http://localhost:${http.nio.port}"
https_endpoint = "https://localhost:${https.nio.port}"
websub_event_receiver_http_endpoint = "http://localhost:9021"
websub_event_receiver_https_endpoint = "https://localhost:8021"
"#,
    );
    assert_eq!(file.warnings, []);
    let env = &file.config.environments[0];
    assert_eq!(
        env.service_url.as_deref(),
        Some("https://localhost:9443/services/")
    );
    assert_eq!(env.username.as_deref(), Some("admin"));
    assert_eq!(env.vhosts[0].http_port, 8280);
    assert_eq!(env.vhosts[0].https_port, 8243);
    assert_eq!(env.vhosts[0].wss_port, 8099);
}

#[test]
fn url_group_type_is_failover_unless_it_says_loadbalance() {
    let file = loaded(
        r#"
[[apim.throttling.url_group]]
traffic_manager_urls = ["tcp://tm1:9611", "tcp://tm2:9611"]
traffic_manager_auth_urls = ["ssl://tm1:9711", "ssl://tm2:9711"]
type = "loadbalance"

[[apim.throttling.url_group]]
traffic_manager_urls = ["tcp://tm3:9611"]
type = "round-robin"

[[apim.throttling.url_group]]
traffic_manager_urls = ["tcp://tm4:9611"]
"#,
    );
    let kinds: Vec<_> = file
        .config
        .throttling
        .url_groups
        .iter()
        .map(|g| g.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            UrlGroupKind::LoadBalance,
            UrlGroupKind::Failover,
            UrlGroupKind::Failover
        ]
    );
    assert!(
        file.config.throttling.url_groups[1]
            .traffic_manager_auth_urls
            .is_empty()
    );
}

#[test]
fn raw_receiver_urls_are_read_as_data_bridge_groups() {
    let file = loaded(
        r#"
[apim.throttling]
receiver_url = "{tcp://tm1:9611|tcp://tm2:9611},{tcp://tm3:9611}"
receiver_auth_url = "{ssl://tm1:9711|ssl://tm2:9711},{ssl://tm3:9711}"
"#,
    );
    let groups = &file.config.throttling.url_groups;
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups[0].traffic_manager_urls,
        ["tcp://tm1:9611", "tcp://tm2:9611"]
    );
    assert_eq!(groups[1].traffic_manager_auth_urls, ["ssl://tm3:9711"]);
}

#[test]
fn strings_stand_for_booleans_and_integers_as_in_wso2s_own_defaults() {
    let file = loaded(
        r#"
[server]
offset = "2"

[apim.throttling]
enable_advanced_throttling = "false"
enable_unlimited_tier = "TRUE"

[apim.cors]
allow_methods = "GET, POST"
"#,
    );
    assert_eq!(file.config.server.offset, 2);
    assert!(!file.config.throttling.enable_advanced_throttling);
    assert!(file.config.throttling.enable_unlimited_tier);
    assert_eq!(file.config.cors.allow_methods, ["GET", "POST"]);
}

#[test]
fn locations_name_every_key_the_file_sets() {
    let file = loaded(
        "[server]\noffset = 1\n\n[[apim.gateway.environment]]\nname = \"A\"\nhttp_endpoint = \"http://a\"\n",
    );
    assert_eq!(
        file.location("server.offset"),
        Some(Location { line: 2, column: 1 })
    );
    assert_eq!(
        file.location("apim.gateway.environment[0]"),
        Some(Location { line: 4, column: 1 })
    );
    assert_eq!(
        file.location("apim.gateway.environment[0].name"),
        Some(Location { line: 5, column: 1 })
    );
    let d = file.diagnostic("apim.gateway.environment[0].type", "missing");
    assert_eq!(
        (d.line, d.column),
        (4, 1),
        "falls back to the enclosing table"
    );
}

const CONTROL_PLANE: &str = r#"
[server]
server_role = "control-plane"

[[apim.gateway.environment]]
name = "Production Gateway"
type = "production"
http_endpoint = "http://localhost:8281"

[[apim.gateway.environment]]
name = "Default"
type = "hybrid"
http_endpoint = "http://localhost:8282"
"#;

#[test]
fn a_gateway_label_that_names_no_environment_is_an_error_in_the_gateway_file() {
    let cp = named(CONTROL_PLANE, "cp/deployment.toml");
    let gw = named(
        "[server]\nserver_role = \"gateway-worker\"\n\n[apim.sync_runtime_artifacts.gateway]\ngateway_labels = [\"Default\", \"production gateway\", \"Sandbox\"]\n",
        "gw/deployment.toml",
    );
    let errors = check_gateway_labels(&cp, &gw);
    let found: Vec<_> = errors
        .iter()
        .map(|d| (d.file.to_str().unwrap(), d.line, d.column, d.key.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "gw/deployment.toml",
                5,
                30,
                "apim.sync_runtime_artifacts.gateway.gateway_labels[1]"
            ),
            (
                "gw/deployment.toml",
                5,
                52,
                "apim.sync_runtime_artifacts.gateway.gateway_labels[2]"
            ),
        ]
    );
    assert!(
        errors[0]
            .message
            .contains("did you mean \"Production Gateway\"?")
    );

    // An unset gateway_labels is ["Default"]; against a control plane without "Default" the
    // error says so, at the top of the file.
    let sandbox_cp = named(
        "[[apim.gateway.environment]]\nname = \"Sandbox\"\ntype = \"sandbox\"\nhttp_endpoint = \"http://localhost:8282\"\n",
        "sandbox-cp/deployment.toml",
    );
    let bare_gw = named(
        "[server]\nserver_role = \"gateway-worker\"\n",
        "bare-gw/deployment.toml",
    );
    let defaulted = check_gateway_labels(&sandbox_cp, &bare_gw);
    assert_eq!(defaulted.len(), 1);
    assert_eq!((defaulted[0].line, defaulted[0].column), (1, 1));

    let mut all = errors;
    all.extend(defaulted);
    let rendered = all
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    insta::with_settings!({
        snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots/config"),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!("gateway_labels", rendered);
    });
}

#[test]
fn a_label_near_a_declared_environment_is_a_typo_and_another_may_name_a_run_time_one() {
    let cp = named(CONTROL_PLANE, "cp/deployment.toml");
    let gw = named(
        "[server]\nserver_role = \"gateway-worker\"\n\n[apim.sync_runtime_artifacts.gateway]\ngateway_labels = [\"Defualt\", \"us-region\", \"production gateway\"]\n",
        "gw/deployment.toml",
    );
    let (typos, others) = tollgate_config::split_gateway_labels(&cp, &gw);
    let keys = |d: &[tollgate_config::Diagnostic]| -> Vec<String> {
        d.iter().map(|d| d.key.clone()).collect()
    };
    assert_eq!(
        keys(&typos),
        [
            "apim.sync_runtime_artifacts.gateway.gateway_labels[0]",
            "apim.sync_runtime_artifacts.gateway.gateway_labels[2]"
        ]
    );
    assert_eq!(
        keys(&others),
        ["apim.sync_runtime_artifacts.gateway.gateway_labels[1]"]
    );
    assert_eq!(check_gateway_labels(&cp, &gw).len(), 3);
}

#[test]
fn the_backend_jwt_is_off_by_default_and_read_with_wso2s_keys() {
    let off = loaded("[server]\noffset = 1\n");
    assert_eq!(off.config.jwt, tollgate_config::model::Jwt::default());
    assert!(!off.config.jwt.enable);
    assert_eq!(off.config.jwt.header, "X-JWT-Assertion");

    let on = loaded(
        r#"
[apim.jwt]
enable = true
encoding = "base64url"
claim_dialect = "http://example.com/claims"
signing_algorithm = "NONE"
use_kid_property = false
claims_extractor_impl = "org.wso2.carbon.apimgt.impl.token.ExtendedDefaultClaimsRetriever"

[apim.jwt.gateway_generator]
excluded_claims = ["scope", "azp"]
"#,
    );
    let jwt = &on.config.jwt;
    assert!(jwt.enable);
    assert_eq!(jwt.header, "X-JWT-Assertion");
    assert_eq!(jwt.encoding, tollgate_config::model::JwtEncoding::Base64Url);
    assert_eq!(jwt.claim_dialect, "http://example.com/claims");
    assert!(!jwt.signed);
    assert!(!jwt.use_kid);
    assert_eq!(jwt.excluded_claims, ["scope", "azp"]);
}
