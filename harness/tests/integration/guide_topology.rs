//! The guide ("Publish Through Multiple API Gateways") end to end, through WSO2's REST APIs, on
//! topologies booted in-process on private loopback addresses with the guide's ports.

use crate::common::*;
use std::net::SocketAddr;
use tollgate_harness::inproc::BootOptions;
use tollgate_harness::topology::TopologyError;
use tollgate_harness::{Topology, address};

const MENU_PROD_HTTP: &str = "http://localhost:8281/pizzashack/1.0.0/menu";
const MENU_PROD_HTTPS: &str = "https://localhost:8244/pizzashack/1.0.0/menu";
const MENU_THIRD_HTTP: &str = "http://localhost:8282/pizzashack/1.0.0/menu";
const MENU_THIRD_HTTPS: &str = "https://localhost:8245/pizzashack/1.0.0/menu";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_routes_each_key_type_where_the_guide_says() {
    let topology = boot("guide", 1).await;
    let session = Session::open(topology.client()).await;

    // Step 4: create, revision, deploy to both gateways, publish.
    let api_id = session
        .published_pizzashack(&["Production Gateway", "Default"])
        .await;

    // Step 4.4: the Developer Portal shows two sets of URLs.
    let api = session
        .get(&format!("/api/am/devportal/v3/apis/{api_id}"), 200)
        .await;
    let urls = api["endpointURLs"].as_array().unwrap();
    assert_eq!(urls.len(), 2, "{api}");
    let url_of = |env: &str, scheme: &str| {
        urls.iter()
            .find(|u| u["environmentName"] == env)
            .unwrap_or_else(|| panic!("no endpointURLs entry for {env}: {api}"))["URLs"][scheme]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        url_of("Production Gateway", "http"),
        "http://localhost:8281/pizzashack/1.0.0"
    );
    assert_eq!(
        url_of("Production Gateway", "https"),
        "https://localhost:8244/pizzashack/1.0.0"
    );
    assert_eq!(
        url_of("Default", "http"),
        "http://localhost:8282/pizzashack/1.0.0"
    );
    assert_eq!(
        url_of("Default", "https"),
        "https://localhost:8245/pizzashack/1.0.0"
    );

    // Step 5: application, subscription, keys of both types.
    let app_id = session.subscribed_application(&api_id).await;
    let production = session.key_token(&app_id, "PRODUCTION").await;
    let sandbox = session.key_token(&app_id, "SANDBOX").await;
    topology.converge().await.unwrap();

    let client = topology.client();
    for url in [
        MENU_PROD_HTTP,
        MENU_PROD_HTTPS,
        MENU_THIRD_HTTP,
        MENU_THIRD_HTTPS,
    ] {
        served_by(
            &call(&client, url, &production).await,
            "pizzashack-production",
        );
    }

    let refused = call(&client, MENU_PROD_HTTP, &sandbox).await;
    assert_eq!(refused.status.as_u16(), 401, "{refused}");
    assert_eq!(
        refused.text(),
        "<error><message>Sandbox Key Provided for Production Gateway</message></error>"
    );
    for url in [MENU_THIRD_HTTP, MENU_THIRD_HTTPS] {
        served_by(&call(&client, url, &sandbox).await, "pizzashack-sandbox");
    }
    assert_eq!(
        topology
            .backend("pizzashack-sandbox")
            .unwrap()
            .control
            .served(),
        2
    );
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_variant_refuses_production_keys_on_the_sandbox_gateway() {
    let topology = boot("guide-sandbox", 2).await;
    let session = Session::open(topology.client()).await;
    let api_id = session
        .published_pizzashack(&["Production Gateway", "Sandbox"])
        .await;
    let app_id = session.subscribed_application(&api_id).await;
    let production = session.key_token(&app_id, "PRODUCTION").await;
    let sandbox = session.key_token(&app_id, "SANDBOX").await;
    topology.converge().await.unwrap();

    let client = topology.client();
    served_by(
        &call(&client, MENU_PROD_HTTP, &production).await,
        "pizzashack-production",
    );
    let refused = call(&client, MENU_THIRD_HTTP, &production).await;
    assert_eq!(refused.status.as_u16(), 401, "{refused}");
    assert_eq!(
        refused.text(),
        "<error><message>Production Key Provided for Sandbox Gateway</message></error>"
    );
    served_by(
        &call(&client, MENU_THIRD_HTTPS, &sandbox).await,
        "pizzashack-sandbox",
    );
    let refused = call(&client, MENU_PROD_HTTPS, &sandbox).await;
    assert_eq!(refused.status.as_u16(), 401, "{refused}");
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_topologies_booted_at_once_do_not_collide() {
    let (a, b) = tokio::join!(boot("guide", 3), boot("guide", 4));
    assert_ne!(a.address, b.address);
    for topology in [&a, &b] {
        let cp = topology.node("control-plane").unwrap();
        let mgmt = cp.endpoint(tollgate_node::PortRole::MgmtHttps).unwrap();
        assert_eq!(mgmt.url, "https://localhost:9443");
        assert_eq!(mgmt.addr, SocketAddr::new(topology.address, 9443));
        // Each topology's own client reaches its own control plane on the guide's port.
        Session::open(topology.client()).await;
    }
    // Work on one is invisible to the other.
    let session_a = Session::open(a.client()).await;
    session_a.create_pizzashack().await;
    let session_b = Session::open(b.client()).await;
    let list = session_b.get("/api/am/publisher/v4/apis", 200).await;
    assert_eq!(list["count"], 0, "{list}");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_fails_the_boot_naming_port_instance_and_role() {
    let address = address::private_address();
    let _squatter = tokio::net::TcpListener::bind(SocketAddr::new(address, 9444))
        .await
        .unwrap();
    let error = tollgate_harness::boot(&topology("guide"), BootOptions::new(5, clock(), address))
        .await
        .unwrap_err();
    assert!(error.is_port_in_use());
    assert_eq!(
        error.to_string(),
        format!("port 9444 (production-gateway: management HTTPS) on {address} is already in use")
    );
    // Nothing was left bound: the control plane's port is free again.
    tokio::net::TcpListener::bind(SocketAddr::new(address, 9443))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_started_after_a_deployment_gets_it_at_start() {
    let mut topology = boot_holding("guide", 6, &["default-gateway"]).await;
    assert!(topology.gateway("default-gateway").is_none());
    let session = Session::open(topology.client()).await;
    let api_id = session
        .published_pizzashack(&["Production Gateway", "Default"])
        .await;
    let app_id = session.subscribed_application(&api_id).await;
    let sandbox = session.key_token(&app_id, "SANDBOX").await;

    // Started now, the gateway pulls everything for its label at start: ready means served.
    topology.start_instance("default-gateway").await.unwrap();
    served_by(
        &call(&topology.client(), MENU_THIRD_HTTP, &sandbox).await,
        "pizzashack-sandbox",
    );
    topology.shutdown().await;
}

#[test]
fn the_guide_topologies_load_with_the_guides_ports() {
    let guide = topology("guide");
    let names: Vec<&str> = guide.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        ["control-plane", "production-gateway", "default-gateway"]
    );
    let ports = |name: &str| -> Vec<u16> {
        guide
            .instance(name)
            .unwrap()
            .ports
            .iter()
            .map(|(_, p)| *p)
            .collect()
    };
    assert_eq!(ports("control-plane"), [9443, 9763, 9611, 5672]);
    assert_eq!(ports("production-gateway"), [9444, 8281, 8244]);
    assert_eq!(ports("default-gateway"), [9445, 8282, 8245]);
    assert_eq!(guide.backends.len(), 2);

    let sandbox = topology("guide-sandbox");
    assert!(sandbox.instance("sandbox-gateway").is_some());
}

/// Copies the guide into a scratch folder, with `edit` applied to one file.
fn scratch_guide(test: &str, file: &str, edit: impl Fn(String) -> String) -> std::path::PathBuf {
    let source = tollgate_harness::resolve_topology("guide");
    let target = std::env::temp_dir().join(format!(
        "tollgate-{test}-{}-{}",
        std::process::id(),
        address::private_address()
    ));
    for dir in ["", "control-plane", "production-gateway", "default-gateway"] {
        std::fs::create_dir_all(target.join(dir)).unwrap();
    }
    for rel in [
        "topology.toml",
        "control-plane/deployment.toml",
        "production-gateway/deployment.toml",
        "default-gateway/deployment.toml",
    ] {
        let text = std::fs::read_to_string(source.join(rel)).unwrap();
        let text = if rel == file { edit(text) } else { text };
        std::fs::write(target.join(rel), text).unwrap();
    }
    target
}

#[test]
fn a_port_collision_between_instances_names_both_instances_and_files() {
    let dir = scratch_guide("collision", "default-gateway/deployment.toml", |text| {
        text.replace("offset = 2", "offset = 1")
    });
    let errors = Topology::load(&dir).unwrap_err();
    let collisions: Vec<String> = errors
        .0
        .iter()
        .filter(|e| matches!(e, TopologyError::PortCollision { .. }))
        .map(ToString::to_string)
        .collect();
    assert_eq!(collisions.len(), 3, "{errors}");
    assert!(
        collisions[0].starts_with(
            "port 9444 would be bound twice: by production-gateway (management HTTPS, "
        ),
        "{}",
        collisions[0]
    );
    assert!(
        collisions[0].contains("default-gateway/deployment.toml)"),
        "{}",
        collisions[0]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_gateway_label_no_environment_declares_is_reported_in_the_gateways_file() {
    let dir = scratch_guide("labels", "default-gateway/deployment.toml", |text| {
        text.replace(
            "gateway_labels =[\"Default\"]",
            "gateway_labels = [\"Defualt\"]",
        )
    });
    let errors = Topology::load(&dir).unwrap_err().to_string();
    assert!(
        errors.contains("default-gateway/deployment.toml:"),
        "{errors}"
    );
    assert!(errors.contains("Defualt"), "{errors}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_lists_every_endpoint_with_the_guides_numbers() {
    let definition = topology("guide-sandbox");
    let running = boot("guide-sandbox", 8).await;
    let text = tollgate_harness::cli::describe(&definition, &running);
    for line in [
        "  Publisher REST API         : https://localhost:9443/api/am/publisher/v4",
        "  Token endpoint             : https://localhost:9443/oauth2/token",
        "  Gateway management         : https://localhost:9445/api/am/gateway/v2",
        "  gateway HTTPS              : https://localhost:8244",
        "  Production Gateway         : http://localhost:8281  https://localhost:8244 (type production, served by production-gateway)",
        "  Sandbox                    : http://localhost:8282  https://localhost:8245 (type sandbox, served by sandbox-gateway)",
        "  pizzashack-sandbox         : http://localhost:9081/pizzashack (sandbox endpoint)",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    running.shutdown().await;
}
