//! The HA topology (guide step 6): a control plane, two identical gateway nodes and the load
//! balancer in front, booted in-process; every fault operation of [`RunningTopology`] on it.

use crate::common::*;
use std::time::Duration;
use tollgate_harness::RunningTopology;
use tollgate_harness::client::Client;
use tollgate_harness::topology::Topology;

const LB_MENU: &str = "http://gw.wso2.com:8080/pizzashack/1.0.0/menu";
const LB_MENU_HTTPS: &str = "https://gw.wso2.com:8443/pizzashack/1.0.0/menu";
const GW1_MENU: &str = "http://localhost:8281/pizzashack/1.0.0/menu";
const GW2_MENU: &str = "http://localhost:8282/pizzashack/1.0.0/menu";

/// Boots `ha`, deploys PizzaShack to `Default` (both nodes) and returns a production token.
async fn deployed(seed: u64) -> (RunningTopology, String) {
    let topology = boot("ha", seed).await;
    let token = deploy_pizzashack(&topology).await;
    (topology, token)
}

async fn deploy_pizzashack(topology: &RunningTopology) -> String {
    let session = Session::open(topology.client()).await;
    let api_id = session.create_pizzashack().await;
    // The HA environment's vhost is the cluster hostname (guide step 6).
    let revision = session
        .post(
            &format!("/api/am/publisher/v4/apis/{api_id}/revisions"),
            serde_json::json!({"description": "ha"}),
            201,
        )
        .await;
    let revision_id = revision["id"].as_str().unwrap();
    session
        .post(
            &format!("/api/am/publisher/v4/apis/{api_id}/deploy-revision?revisionId={revision_id}"),
            serde_json::json!([{"name": "Default", "vhost": "gw.wso2.com", "displayOnDevportal": true}]),
            201,
        )
        .await;
    session.publish(&api_id).await;
    let app_id = session.subscribed_application(&api_id).await;
    let token = session.key_token(&app_id, "PRODUCTION").await;
    topology.converge().await.unwrap();
    token
}

/// A GET that must fail at the transport level within a bound (refused, reset).
async fn refused(client: &Client, url: &str, token: &str) -> bool {
    let sent = client.get(url).bearer(token).send();
    matches!(
        tokio::time::timeout(Duration::from_secs(10), sent).await,
        Ok(Err(_))
    )
}

#[test]
fn the_ha_topology_declares_its_load_balancer_in_front_of_both_gateways() {
    let ha = topology("ha");
    let lb = ha.load_balancer("load-balancer").unwrap();
    assert_eq!(lb.fronts, ["gateway-1", "gateway-2"]);
    assert_eq!((lb.http, lb.https), (8080, 8443));
    assert_eq!(lb.hosts, ["gw.wso2.com"]);
    assert!(ha.member("load-balancer").is_some() && ha.member("gateway-2").is_some());
}

#[test]
fn a_load_balancer_fronting_a_control_plane_is_refused_with_the_reason() {
    let errors = ha_variant("fronts", |text| {
        text.replace(
            r#"fronts = ["gateway-1", "gateway-2"]"#,
            r#"fronts = ["gateway-1", "control-plane"]"#,
        )
    });
    assert!(
        errors.contains("`control-plane` is not a gateway instance of this topology"),
        "{errors}"
    );
}

#[test]
fn a_load_balancer_port_taken_by_a_backend_is_refused_naming_both() {
    let errors = ha_variant("port", |text| text.replace("http = 8080", "http = 9080"));
    assert!(
        errors.contains("port 9080 would be bound twice")
            && errors.contains("load-balancer (load balancer HTTP"),
        "{errors}"
    );
}

/// The errors of a copy of `ha` whose `topology.toml` is edited by `edit`.
fn ha_variant(tag: &str, edit: impl Fn(String) -> String) -> String {
    let dir = std::env::temp_dir().join(format!("tollgate-ha-{tag}-{}", std::process::id()));
    let source = tollgate_harness::resolve_topology("ha");
    for instance in ["control-plane", "gateway-1", "gateway-2"] {
        std::fs::create_dir_all(dir.join(instance)).unwrap();
        std::fs::copy(
            source.join(instance).join("deployment.toml"),
            dir.join(instance).join("deployment.toml"),
        )
        .unwrap();
    }
    let text = edit(std::fs::read_to_string(source.join("topology.toml")).unwrap());
    std::fs::write(dir.join("topology.toml"), text).unwrap();
    let errors = Topology::load(&dir).unwrap_err().to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_balancer_spreads_requests_over_both_gateways() {
    let (topology, token) = deployed(51).await;
    let client = topology.client();
    for _ in 0..4 {
        served_by(
            &call(&client, LB_MENU, &token).await,
            "pizzashack-production",
        );
    }
    served_by(
        &call(&client, LB_MENU_HTTPS, &token).await,
        "pizzashack-production",
    );
    let stats = topology.load_balancer("load-balancer").unwrap().stats();
    for node in ["gateway-1", "gateway-2"] {
        let n = stats.node("gateways-http", node).unwrap();
        assert_eq!(n.requests, 2, "{stats:?}");
    }
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_gateway_refuses_connections_and_the_load_balancer_serves_from_the_other() {
    let (mut topology, token) = deployed(52).await;
    let client = topology.client();
    topology.kill("gateway-1").await.unwrap();
    assert!(!topology.is_running("gateway-1"));
    assert!(refused(&client, GW1_MENU, &token).await);
    for _ in 0..4 {
        served_by(
            &call(&client, LB_MENU, &token).await,
            "pizzashack-production",
        );
    }
    assert!(topology.kill("gateway-1").await.is_err(), "killed twice");

    topology.restart("gateway-1").await.unwrap();
    served_by(
        &call(&client, GW1_MENU, &token).await,
        "pizzashack-production",
    );
    assert!(
        topology.restart("gateway-1").await.is_err(),
        "restarted while running"
    );
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_down_during_a_deployment_serves_it_as_soon_as_it_is_back() {
    let mut topology = boot("ha", 53).await;
    topology.kill("gateway-2").await.unwrap();
    let token = deploy_pizzashack(&topology).await;
    topology.restart("gateway-2").await.unwrap();
    // No wait: a restart returns once the node's start-up sync is done.
    served_by(
        &call(&topology.client(), GW2_MENU, &token).await,
        "pizzashack-production",
    );
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_gateway_hangs_until_it_is_resumed() {
    let (topology, token) = deployed(54).await;
    let client = topology.client();
    topology.pause("gateway-1").unwrap();
    let pending = {
        let client = client.clone();
        let token = token.clone();
        tokio::spawn(async move { call(&client, GW1_MENU, &token).await })
    };
    let mut pending = pending;
    // A hang, not a refusal: nothing comes back while paused (a bounded look).
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut pending)
            .await
            .is_err()
    );
    topology.resume("gateway-1").unwrap();
    served_by(&pending.await.unwrap(), "pizzashack-production");
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_cut_from_the_load_balancer_gets_no_traffic_until_healed() {
    let (topology, token) = deployed(55).await;
    let client = topology.client();
    topology.partition("load-balancer", "gateway-1").unwrap();
    assert!(
        topology
            .faults()
            .is_partitioned("gateway-1", "load-balancer")
    );
    for _ in 0..4 {
        served_by(
            &call(&client, LB_MENU, &token).await,
            "pizzashack-production",
        );
    }
    // The test's own client is outside the plane: gateway-1 itself still answers it.
    served_by(
        &call(&client, GW1_MENU, &token).await,
        "pizzashack-production",
    );
    let stats = topology.load_balancer("load-balancer").unwrap().stats();
    assert!(
        stats.node("gateways-http", "gateway-1").unwrap().failures >= 1,
        "{stats:?}"
    );
    topology.heal("load-balancer", "gateway-1").unwrap();
    assert!(
        !topology
            .faults()
            .is_partitioned("gateway-1", "load-balancer")
    );
    topology.shutdown().await;
}

/// The cut is real: a change made while gateway-1 is cut reaches gateway-2 at once and
/// gateway-1 only after the heal, while gateway-1 keeps serving what it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_cut_from_the_control_plane_keep_serving_deployed_apis() {
    let (topology, token) = deployed(56).await;
    let client = topology.client();
    topology.partition("gateway-1", "control-plane").unwrap();
    let session = Session::open(client.clone()).await;
    let apis = session.get("/api/am/publisher/v4/apis", 200).await;
    let api_id = apis["list"][0]["id"].as_str().unwrap().to_owned();
    session
        .post(
            &format!("/api/am/publisher/v4/apis/change-lifecycle?apiId={api_id}&action=Block"),
            serde_json::json!({}),
            200,
        )
        .await;
    let seq = topology.control_plane().unwrap().event_seq();
    let (gateway_1, gateway_2) = (
        topology.gateway("gateway-1").unwrap(),
        topology.gateway("gateway-2").unwrap(),
    );
    tokio::time::timeout(Duration::from_secs(30), gateway_2.wait_for_seq(seq))
        .await
        .unwrap();
    expect(&call(&client, GW2_MENU, &token).await, 503);
    // gateway-1 heard nothing of the block: it serves the API as deployed.
    assert!(gateway_1.status().applied_seq < seq);
    served_by(
        &call(&client, GW1_MENU, &token).await,
        "pizzashack-production",
    );
    topology.heal("gateway-1", "control-plane").unwrap();
    tokio::time::timeout(Duration::from_secs(30), gateway_1.wait_for_seq(seq))
        .await
        .unwrap();
    expect(&call(&client, GW1_MENU, &token).await, 503);
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_members_are_errors_naming_them() {
    let mut topology = boot("ha", 57).await;
    let error = topology.kill("gateway-9").await.unwrap_err().to_string();
    assert!(error.contains("gateway-9"), "{error}");
    assert!(topology.partition("gateway-1", "nobody").is_err());
    assert!(topology.pause("pizzashack-production").is_err());
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_load_balancer_refuses_and_serves_again_once_restarted() {
    let (mut topology, token) = deployed(58).await;
    let client = topology.client();
    topology.kill("load-balancer").await.unwrap();
    assert!(topology.load_balancer("load-balancer").is_none());
    assert!(refused(&client, LB_MENU, &token).await);
    topology.restart("load-balancer").await.unwrap();
    served_by(
        &call(&client, LB_MENU, &token).await,
        "pizzashack-production",
    );
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_cut_from_a_gateway_is_not_reached_until_healed() {
    let (topology, token) = deployed(59).await;
    let client = topology.client();
    topology
        .partition("gateway-1", "pizzashack-production")
        .unwrap();
    let cut = call(&client, GW1_MENU, &token).await;
    assert!(cut.status.is_server_error(), "{cut}");
    served_by(
        &call(&client, GW2_MENU, &token).await,
        "pizzashack-production",
    );
    topology.heal("gateway-1", "pizzashack-production").unwrap();
    served_by(
        &call(&client, GW1_MENU, &token).await,
        "pizzashack-production",
    );
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_control_plane_keeps_its_state_and_the_gateways_follow_its_next_event() {
    let (mut topology, token) = deployed(60).await;
    let before = topology.control_plane().unwrap().clone();
    let seq = before.event_seq();
    topology.kill("control-plane").await.unwrap();
    assert!(topology.control_plane().is_none());
    assert!(!topology.is_running("traffic-manager"));
    // Gateways serve without it.
    served_by(
        &call(&topology.client(), GW1_MENU, &token).await,
        "pizzashack-production",
    );
    topology.restart("control-plane").await.unwrap();
    // A new process over the same database ("the process died, the database did not"), its
    // event log at the same seq.
    let after = topology.control_plane().unwrap();
    assert!(
        !std::sync::Arc::ptr_eq(&before, after),
        "a new control plane"
    );
    let database = topology
        .home("control-plane")
        .unwrap()
        .join(tollgate_control_plane::DATABASE_FILE);
    assert!(database.is_file(), "{}", database.display());
    assert_eq!(after.event_seq(), seq);
    assert!(topology.is_running("traffic-manager"));
    let session = Session::open(topology.client()).await;
    let apis = session.get("/api/am/publisher/v4/apis", 200).await;
    assert_eq!(apis["count"], 1, "{apis}");
    let api_id = apis["list"][0]["id"].as_str().unwrap().to_owned();
    // A new event after the restart: a second revision deployed to both nodes. Each gateway
    // applies it (its stream resumed with `after=<seq>`) and serves that revision.
    let revision = session
        .post(
            &format!("/api/am/publisher/v4/apis/{api_id}/revisions"),
            serde_json::json!({"description": "after the restart"}),
            201,
        )
        .await;
    let revision_id = revision["id"].as_str().unwrap().to_owned();
    session
        .post(
            &format!("/api/am/publisher/v4/apis/{api_id}/deploy-revision?revisionId={revision_id}"),
            serde_json::json!([{"name": "Default", "vhost": "gw.wso2.com", "displayOnDevportal": true}]),
            201,
        )
        .await;
    let new_seq = topology.control_plane().unwrap().event_seq();
    assert!(new_seq > seq);
    topology.converge().await.unwrap();
    for (name, gateway) in topology.gateways() {
        let status = gateway.status();
        assert!(status.applied_seq >= new_seq, "{name}: {status:?}");
        assert_eq!(
            status.apis.get(&api_id),
            Some(&revision_id),
            "{name}: {status:?}"
        );
    }
    // The token issued before the restart is still good everywhere.
    for url in [GW1_MENU, GW2_MENU, LB_MENU] {
        served_by(
            &call(&topology.client(), url, &token).await,
            "pizzashack-production",
        );
    }
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_plane_restarted_fresh_starts_empty() {
    let (mut topology, _token) = deployed(62).await;
    topology.kill("control-plane").await.unwrap();
    topology.restart_fresh("control-plane").await.unwrap();
    let session = Session::open(topology.client()).await;
    let apis = session.get("/api/am/publisher/v4/apis", 200).await;
    assert_eq!(apis["count"], 0, "{apis}");
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_traffic_manager_stops_and_restarts_on_its_own_with_located_errors() {
    let (mut topology, token) = deployed(63).await;
    // A scenario's own cut is left alone by the stop and the restart.
    topology.partition("gateway-2", "traffic-manager").unwrap();
    topology.kill("traffic-manager").await.unwrap();
    assert!(!topology.is_running("traffic-manager"));
    assert!(topology.is_running("control-plane"));
    // Refused like a dead process's ports: every member is cut from it.
    assert!(
        topology
            .faults()
            .is_partitioned("gateway-1", "traffic-manager")
    );
    assert!(
        !topology
            .faults()
            .is_partitioned("gateway-1", "control-plane")
    );
    // Fail-open: nothing is throttled, so calls flow without the TM.
    served_by(
        &call(&topology.client(), GW1_MENU, &token).await,
        "pizzashack-production",
    );
    let error = topology
        .kill("traffic-manager")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`traffic-manager` is not running"),
        "{error}"
    );
    topology.restart("traffic-manager").await.unwrap();
    assert!(topology.is_running("traffic-manager"));
    assert!(
        !topology
            .faults()
            .is_partitioned("gateway-1", "traffic-manager")
    );
    assert!(
        topology
            .faults()
            .is_partitioned("gateway-2", "traffic-manager")
    );
    let error = topology
        .restart("traffic-manager")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("`traffic-manager` is running"), "{error}");
    // With its control plane's instance down, the TM is too, and cannot start alone.
    topology.kill("control-plane").await.unwrap();
    let error = topology
        .restart("traffic-manager")
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("`control-plane` is not running"), "{error}");
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_traffic_manager_is_cut_from_a_gateway_apart_from_its_control_plane() {
    let (topology, token) = deployed(61).await;
    let cp = topology.node("control-plane").unwrap();
    let tm_addr = cp.endpoint(tollgate_node::PortRole::TmBinary).unwrap().addr;
    let mgmt_addr = cp
        .endpoint(tollgate_node::PortRole::MgmtHttps)
        .unwrap()
        .addr;
    assert_eq!(
        topology.faults().instance_at(tm_addr).as_deref(),
        Some("traffic-manager")
    );
    assert_eq!(
        topology.faults().instance_at(mgmt_addr).as_deref(),
        Some("control-plane")
    );
    topology.partition("gateway-1", "traffic-manager").unwrap();
    assert!(
        !topology
            .faults()
            .is_partitioned("gateway-1", "control-plane")
    );
    served_by(
        &call(&topology.client(), GW1_MENU, &token).await,
        "pizzashack-production",
    );
    // Pausing the control plane's instance freezes the Traffic Manager inside it too.
    topology.pause("control-plane").unwrap();
    assert!(topology.faults().is_paused("traffic-manager"));
    topology.resume("control-plane").unwrap();
    assert!(!topology.faults().is_paused("traffic-manager"));
    topology.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_gateway_keeps_its_api_files_in_a_runtime_home_that_outlives_restarts_not_the_topology()
 {
    const PIZZA_FILE: &str =
        "repository/deployment/server/synapse-configs/default/api/admin--PizzaShackAPI_v1.0.0.json";
    const STRAY_FILE: &str = "repository/deployment/server/synapse-configs/default/api/Stray.json";
    let (mut topology, _token) = deployed(59).await;
    let home = topology.home("gateway-1").unwrap();
    assert_ne!(home, topology.home("gateway-2").unwrap());
    assert!(topology.home("no-such-node").is_none());
    for gateway in ["gateway-1", "gateway-2"] {
        let file = topology.read_file(gateway, PIZZA_FILE).unwrap();
        let text = String::from_utf8(file.expect("the served API's file")).unwrap();
        assert!(
            text.contains("\"context\": \"/pizzashack/1.0.0\""),
            "{text}"
        );
    }
    assert!(topology.place_file("gateway-1", "../escape", b"x").is_err());
    assert!(topology.place_file("gateway-1", "/etc/x", b"x").is_err());

    // The ha topology has no skip list: at restart the stray file goes, the synchronised API's
    // file is written again from the control plane's state.
    topology.place_file("gateway-1", STRAY_FILE, b"{}").unwrap();
    topology.kill("gateway-1").await.unwrap();
    assert!(
        topology
            .read_file("gateway-1", STRAY_FILE)
            .unwrap()
            .is_some()
    );
    topology.restart("gateway-1").await.unwrap();
    assert_eq!(topology.home("gateway-1").unwrap(), home);
    assert!(
        topology
            .read_file("gateway-1", STRAY_FILE)
            .unwrap()
            .is_none()
    );
    assert!(
        topology
            .read_file("gateway-1", PIZZA_FILE)
            .unwrap()
            .is_some()
    );

    let root = home.parent().unwrap().to_path_buf();
    topology.shutdown().await;
    assert!(!root.exists(), "{} is left behind", root.display());
}
