//! The HA topology's deployment.toml files load cleanly and say what the guide's step 6 says.

use std::path::PathBuf;
use tollgate_config::Loaded;

fn load(instance: &str) -> Loaded {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios/topologies/ha")
        .join(instance)
        .join("deployment.toml");
    let loaded = tollgate_config::load(&path)
        .unwrap_or_else(|errors| panic!("{}: {errors}", path.display()));
    assert!(
        loaded.warnings.is_empty(),
        "{}: {:#?}",
        path.display(),
        loaded.warnings
    );
    loaded
}

#[test]
fn ha_files_load_without_errors_or_warnings() {
    for instance in ["control-plane", "gateway-1", "gateway-2"] {
        load(instance);
    }
}

#[test]
fn both_gateway_nodes_are_identical_but_for_their_offset() {
    let (one, two) = (load("gateway-1"), load("gateway-2"));
    let (mut a, mut b) = (one.config.clone(), two.config.clone());
    assert_eq!((a.server.offset, b.server.offset), (1, 2));
    a.server.offset = 0;
    b.server.offset = 0;
    assert_eq!(a, b);
    assert_eq!(a.server.hostname, "gw.wso2.com");
    assert_eq!(a.transport.http_proxy_port, Some(80));
    assert_eq!(a.transport.https_proxy_port, Some(443));
    assert_ne!(one.ports, two.ports);
    assert!(tollgate_config::check_gateway_labels(&load("control-plane"), &one).is_empty());
    assert!(tollgate_config::check_gateway_labels(&load("control-plane"), &two).is_empty());
}

#[test]
fn the_control_plane_environment_points_at_the_load_balancer() {
    let cp = load("control-plane");
    let envs = &cp.config.environments;
    assert_eq!(envs.len(), 1);
    let text = format!("{:?}", envs[0]);
    assert!(text.contains("gw.wso2.com"), "{text}");
    assert!(text.contains("8080") && text.contains("8443"), "{text}");
}
