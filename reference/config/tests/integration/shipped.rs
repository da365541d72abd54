//! The deployment.toml files shipped under scenarios/topologies/ and the guide's own samples.

use std::path::{Path, PathBuf};

use tollgate_config::model::{EnvironmentType, ServerRole, UrlGroupKind, VHost};
use tollgate_config::{Loaded, Location, Ports, Vars, check_gateway_labels, load_with};

fn topologies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/topologies")
}

fn load_instance(topology: &str, instance: &str) -> Loaded {
    let path = topologies()
        .join(topology)
        .join(instance)
        .join("deployment.toml");
    match load_with(&path, &Vars::default()) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("{errors}"),
    }
}

fn fixture(name: &str) -> Loaded {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    match load_with(&path, &Vars::default()) {
        Ok(loaded) => loaded,
        Err(errors) => panic!("{errors}"),
    }
}

#[test]
fn every_shipped_deployment_toml_parses_without_errors_or_warnings() {
    let mut seen = 0;
    for topology in std::fs::read_dir(topologies()).unwrap() {
        let topology = topology.unwrap().path();
        if !topology.is_dir() {
            continue;
        }
        for instance in std::fs::read_dir(&topology).unwrap() {
            let file = instance.unwrap().path().join("deployment.toml");
            if !file.is_file() {
                continue;
            }
            let loaded = load_with(&file, &Vars::default()).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                loaded.warnings.is_empty(),
                "{}: {:?}",
                file.display(),
                loaded.warnings
            );
            seen += 1;
        }
    }
    assert!(
        seen >= 6,
        "expected the guide's two topologies, found {seen} files"
    );
}

#[test]
fn the_guides_control_plane_declares_both_environments_with_their_vhosts() {
    let cp = load_instance("guide", "control-plane");
    let config = &cp.config;
    assert_eq!(config.server.server_role, ServerRole::ControlPlane);
    assert_eq!(cp.ports, Ports::with_offset(0).unwrap());
    assert!(
        !config.sync_gateway.enable,
        "a control plane infers enable = false"
    );
    assert!(!config.throttling.enable_data_publishing);
    assert!(!config.throttling.enable_decision_connection);

    let names: Vec<_> = config
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["Production Gateway", "Default"]);
    let production = &config.environments[0];
    assert_eq!(production.kind, EnvironmentType::Production);
    assert_eq!(production.display_name, "Production Gateway");
    assert_eq!(production.provider, "wso2");
    assert!(production.display_in_api_console && production.show_as_token_endpoint_url);
    assert_eq!(
        production.service_url.as_deref(),
        Some("https://localhost:9444/services/")
    );
    assert_eq!(
        production.vhosts,
        [VHost {
            host: "localhost".into(),
            http_context: String::new(),
            http_port: 8281,
            https_port: 8244,
            ws_host: "localhost".into(),
            ws_port: 9099,
            wss_host: "localhost".into(),
            wss_port: 8099,
            websub_http_port: 9021,
            websub_https_port: 8021,
        }]
    );
    assert_eq!(production.vhosts[0].https_url(), "https://localhost:8244");
    let default = &config.environments[1];
    assert_eq!(default.kind, EnvironmentType::Hybrid);
    assert_eq!(default.vhosts[0].http_url(), "http://localhost:8282");
    assert_eq!(config.databases.len(), 2);
    assert_eq!(config.databases["shared_db"].kind.as_deref(), Some("mysql"));
    assert_eq!(config.cors.allow_origins, ["*"]);
}

#[test]
fn the_guides_gateways_take_offsets_one_and_two_and_point_at_the_control_plane() {
    for (instance, offset, label) in [
        ("production-gateway", 1, "Production Gateway"),
        ("default-gateway", 2, "Default"),
    ] {
        let gw = load_instance("guide", instance);
        let config = &gw.config;
        assert_eq!(config.server.server_role, ServerRole::GatewayWorker);
        assert_eq!(config.server.offset, offset);
        assert_eq!(gw.ports.mgmt_https, 9443 + offset);
        assert_eq!(gw.ports.passthru_http, 8280 + offset);
        assert_eq!(gw.ports.passthru_https, 8243 + offset);
        assert_eq!(config.sync_gateway.gateway_labels, [label]);
        assert!(config.sync_gateway.enable);
        assert_eq!(
            config.key_manager.service_url,
            "https://localhost:9443/services/"
        );
        assert_eq!(
            config.key_manager.username, "admin",
            "$ref{{super_admin.username}}"
        );
        assert_eq!(config.key_manager.password, "admin");
        assert_eq!(config.throttling.url_groups.len(), 1);
        let group = &config.throttling.url_groups[0];
        assert_eq!(group.traffic_manager_urls, ["tcp://localhost:9611"]);
        assert_eq!(group.traffic_manager_auth_urls, ["ssl://localhost:9711"]);
        assert_eq!(group.kind, UrlGroupKind::Failover);
        assert_eq!(
            config.throttling.throttle_decision_endpoints,
            ["tcp://localhost:5672"]
        );
        assert!(config.throttling.enable_data_publishing);
        assert!(config.throttling.enable_decision_connection);
        assert_eq!(config.event_hub.service_url, "https://localhost:9443");
        assert_eq!(
            config.event_hub.event_listening_endpoints,
            ["tcp://localhost:5672"]
        );
        assert_eq!(config.event_hub.username, "admin");
        assert!(config.environments.is_empty());
    }
}

#[test]
fn the_sandbox_variant_declares_a_sandbox_environment_for_its_third_instance() {
    let cp = load_instance("guide-sandbox", "control-plane");
    let sandbox = &cp.config.environments[1];
    assert_eq!(sandbox.name, "Sandbox");
    assert_eq!(sandbox.kind, EnvironmentType::Sandbox);
    assert_eq!(sandbox.description, "Sandbox Gateway Environment");
    assert_eq!(
        sandbox.service_url.as_deref(),
        Some("https://localhost:9445/services/")
    );
    assert_eq!(
        (sandbox.vhosts[0].http_port, sandbox.vhosts[0].https_port),
        (8282, 8245)
    );
    let gw = load_instance("guide-sandbox", "sandbox-gateway");
    assert_eq!(gw.config.server.offset, 2);
    assert_eq!(gw.config.sync_gateway.gateway_labels, ["Sandbox"]);
}

#[test]
fn every_shipped_gateway_label_names_an_environment_of_its_control_plane() {
    for (topology, gateways) in [
        ("guide", ["production-gateway", "default-gateway"]),
        ("guide-sandbox", ["production-gateway", "sandbox-gateway"]),
    ] {
        let cp = load_instance(topology, "control-plane");
        for gateway in gateways {
            let gw = load_instance(topology, gateway);
            assert_eq!(check_gateway_labels(&cp, &gw), [], "{topology}/{gateway}");
        }
    }
    // The Default gateway of one topology follows a label the other does not declare.
    let sandbox_cp = load_instance("guide-sandbox", "control-plane");
    let default_gw = load_instance("guide", "default-gateway");
    let errors = check_gateway_labels(&sandbox_cp, &default_gw);
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].line, errors[0].key.as_str()),
        (75, "apim.sync_runtime_artifacts.gateway.gateway_labels[0]")
    );
    assert_eq!(
        default_gw.location("apim.sync_runtime_artifacts.gateway.gateway_labels[0]"),
        Some(Location {
            line: 75,
            column: 18
        })
    );
}

#[test]
fn the_guides_sample_gateway_configuration_loads_without_warnings() {
    let sample = fixture("guide-sample-gateway.toml");
    assert_eq!(sample.warnings, []);
    let config = &sample.config;
    assert_eq!(config.server.hostname, "gw.wso2.com");
    assert_eq!(config.server.offset, 4);
    assert_eq!(sample.ports.mgmt_https, 9447);
    assert_eq!(sample.ports.passthru_https, 8247);
    assert_eq!(config.server.server_role, ServerRole::GatewayWorker);
    assert_eq!(
        config.key_manager.service_url,
        "https://km.wso2.com:9443/services/"
    );
    // Not set in the sample: WSO2's defaults.
    assert_eq!(config.key_manager.username, "admin");
    assert_eq!(config.key_manager.kind, "default");
    assert_eq!(
        config.throttling.service_url,
        "https://tm.wso2.com:9446/services/"
    );
    assert_eq!(
        config.throttling.url_groups[0].traffic_manager_urls,
        ["tcp://tm.wso2.com:9614"]
    );
    assert_eq!(
        config.throttling.throttle_decision_endpoints,
        ["tcp://tm.wso2.com:5675"]
    );
    // The event hub defaults to the key manager's URL (without /services/) and the throttling
    // credentials.
    assert_eq!(config.event_hub.service_url, "https://km.wso2.com:9443");
    assert_eq!(config.event_hub.username, "admin");
    assert_eq!(
        config.event_hub.event_listening_endpoints,
        ["tcp://127.0.0.1:5676"]
    );
    assert_eq!(config.databases["shared_db"].port.as_deref(), Some("3306"));
    assert_eq!(config.cors.allow_origins, ["*"]);
    assert_eq!(config.cors.allow_methods.len(), 6);
    assert!(!config.cors.allow_credentials);
    assert_eq!(config.sync_gateway.gateway_labels, ["Default"]);
}

#[test]
fn the_guides_skip_list_spelling_and_transport_ports_are_honoured() {
    let ha = fixture("guide-skip-list-and-ha.toml");
    assert_eq!(ha.warnings, []);
    let skip = &ha.config.sync_gateway.skip_list;
    assert_eq!(skip.apis, ["api1.xml", "api2.xml"]);
    assert_eq!(skip.endpoints, ["endpoint1.xml"]);
    assert_eq!(skip.sequences, ["post_with_nobody.xml"]);
    assert_eq!(skip.local_entries, ["file.xml"]);
    let transport = &ha.config.transport;
    assert_eq!(
        (transport.http_port, transport.http_proxy_port),
        (Some(9763), Some(80))
    );
    assert_eq!(
        (transport.https_port, transport.https_proxy_port),
        (Some(9443), Some(443))
    );
    assert_eq!(Ports::for_config(&ha.config).unwrap(), ha.ports);
}
