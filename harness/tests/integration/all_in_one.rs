//! `server_role = "default"`: one node runs the control plane and a gateway, sharing the
//! management port as WSO2's all-in-one pack does.

use crate::common::*;

const ALL_IN_ONE: &str = r#"
[server]
hostname = "localhost"
server_role = "default"

[super_admin]
username = "admin"
password = "admin"

[[apim.gateway.environment]]
name = "Default"
type = "hybrid"
display_in_api_console = true
description = "This is a hybrid gateway that handles both production and sandbox token traffic."
show_as_token_endpoint_url = true
http_endpoint = "http://localhost:${http.nio.port}"
https_endpoint = "https://localhost:${https.nio.port}"
"#;

const TOPOLOGY: &str = r#"
name = "all-in-one"
description = "One WSO2 API-M pack with every component"

[[instance]]
name = "all-in-one"

[hosts]
"localhost" = "*"

[[backend]]
name = "pizzashack-production"
endpoint = "production"
url = "http://localhost:9080/pizzashack"

[[backend]]
name = "pizzashack-sandbox"
endpoint = "sandbox"
url = "http://localhost:9081/pizzashack"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_all_in_one_node_serves_both_halves_with_one_management_port() {
    let dir = std::env::temp_dir().join(format!(
        "tollgate-all-in-one-{}-{}",
        std::process::id(),
        tollgate_harness::address::private_address()
    ));
    std::fs::create_dir_all(dir.join("all-in-one")).unwrap();
    std::fs::write(dir.join("topology.toml"), TOPOLOGY).unwrap();
    std::fs::write(dir.join("all-in-one/deployment.toml"), ALL_IN_ONE).unwrap();
    let topology = tollgate_harness::Topology::load(&dir).unwrap();
    assert_eq!(
        topology.instances[0]
            .ports
            .iter()
            .map(|(_, p)| *p)
            .collect::<Vec<_>>(),
        [9443, 9763, 9611, 5672, 8280, 8243]
    );
    let running = tollgate_harness::boot_private(&topology, 7, clock(), Default::default())
        .await
        .unwrap();

    // The gateway's node-local routes answer on the control plane's port.
    let client = running.client();
    let health = client
        .get("https://localhost:9443/api/am/gateway/v2/server-startup-healthcheck")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status.as_u16(), 200, "{health}");

    let session = Session::open(client.clone()).await;
    let api_id = session.published_pizzashack(&["Default"]).await;
    let app_id = session.subscribed_application(&api_id).await;
    let production = session.key_token(&app_id, "PRODUCTION").await;
    let sandbox = session.key_token(&app_id, "SANDBOX").await;
    running.converge().await.unwrap();

    let menu = "http://localhost:8280/pizzashack/1.0.0/menu";
    served_by(
        &call(&client, menu, &production).await,
        "pizzashack-production",
    );
    served_by(&call(&client, menu, &sandbox).await, "pizzashack-sandbox");
    let deployed = client
        .get("https://localhost:9443/api/am/gateway/v2/apis")
        .basic_auth("admin", "admin")
        .send()
        .await
        .unwrap();
    let deployed = expect(&deployed, 200);
    assert_eq!(deployed["count"], 1, "{deployed}");
    running.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}
