//! Gateway environments through the Admin API (`/api/am/admin/v4/environments`): WSO2's rules
//! and codes, and an environment created at run time serving as a deployment target, a gateway
//! label and a Developer Portal URL set like those of `deployment.toml`.

use crate::common::*;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tollgate_protocol::internal::{GatewaySnapshot, encode_labels};

const ENVIRONMENTS: &str = "/api/am/admin/v4/environments";

async fn admin(h: &Harness) -> String {
    h.token_with_scopes(&format!("{ALL_SCOPES} apim:admin"))
        .await
}

fn us_region() -> Value {
    json!({"name": "us-region", "displayName": "US Region",
        "description": "Gateway environment in US Region",
        "vhosts": [{"host": "us.gw.example", "httpPort": 8290, "httpsPort": 8253}]})
}

#[tokio::test]
async fn environments_are_listed_created_updated_and_deleted_with_wso2s_rules() {
    let h = harness().await;
    let token = admin(&h).await;

    // The guide's environments are there, read-only, their name as id.
    let (status, list) = h.call_as(Some(&token), "GET", ENVIRONMENTS, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let names: Vec<&str> = list["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Production Gateway", "Default"]);
    assert_eq!(list["list"][0]["id"], "Production Gateway");
    assert_eq!(list["list"][0]["isReadOnly"], true);

    // The Publisher-scoped token of the guide is not an admin's.
    let (status, _) = h.call("GET", ENVIRONMENTS, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, created) = h
        .call_as(Some(&token), "POST", ENVIRONMENTS, Some(us_region()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_ne!(id, "us-region");
    assert_eq!(created["isReadOnly"], false);
    assert_eq!(created["provider"], "wso2");
    assert_eq!(
        created["vhosts"][0],
        json!({"host": "us.gw.example", "httpContext": "", "httpPort": 8290, "httpsPort": 8253,
            "wsPort": 9099, "wsHost": "us.gw.example", "wssPort": 8099, "wssHost": "us.gw.example"})
    );
    assert_eq!(
        created["endpointURIs"][1],
        json!({"protocol": "https", "endpointURI": "https://us.gw.example:8253"})
    );

    // A name taken (run-time or deployment.toml), a bad name, no vhosts, duplicate vhosts.
    for (body, code) in [
        (us_region(), 900507),
        (
            json!({"name": "Default", "vhosts": [{"host": "a"}]}),
            900507,
        ),
        (json!({"name": "us region", "vhosts": [{"host": "a"}]}), 400),
        (json!({"name": "eu", "vhosts": []}), 400),
        (json!({"name": "eu"}), 400),
        (
            json!({"name": "eu", "vhosts": [{"host": "a"}, {"host": "a"}]}),
            900509,
        ),
    ] {
        let (status, error) = h
            .call_as(Some(&token), "POST", ENVIRONMENTS, Some(body.clone()))
            .await;
        assert_eq!(
            (status, error["code"].as_i64()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{body}: {error}"
        );
    }

    // deployment.toml's environments are read-only.
    let (status, error) = h
        .call_as(
            Some(&token),
            "PUT",
            &format!("{ENVIRONMENTS}/Default"),
            Some(json!({"name": "Default", "vhosts": [{"host": "x"}]})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(900508))
    );
    let (status, error) = h
        .call_as(
            Some(&token),
            "DELETE",
            &format!("{ENVIRONMENTS}/Default"),
            None,
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(900508))
    );

    // A rename is refused; the rest updates.
    let (status, error) = h
        .call_as(
            Some(&token),
            "PUT",
            &format!("{ENVIRONMENTS}/{id}"),
            Some(json!({"name": "eu-region", "vhosts": [{"host": "x"}]})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(900510))
    );
    let (status, updated) = h
        .call_as(
            Some(&token),
            "PUT",
            &format!("{ENVIRONMENTS}/{id}"),
            Some(json!({"name": "us-region", "displayName": "US",
                "vhosts": [{"host": "us2.gw.example"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["displayName"], "US");
    assert_eq!(updated["vhosts"][0]["host"], "us2.gw.example");

    let (status, _) = h
        .call_as(
            Some(&token),
            "DELETE",
            &format!("{ENVIRONMENTS}/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = h
        .call_as(
            Some(&token),
            "DELETE",
            &format!("{ENVIRONMENTS}/{id}"),
            None,
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(900506))
    );
    let (_, list) = h.call_as(Some(&token), "GET", ENVIRONMENTS, None).await;
    assert_eq!(list["count"], 2);
}

#[tokio::test]
async fn a_run_time_environment_is_a_deployment_target_label_and_devportal_url_set() {
    let h = harness().await;
    let token = admin(&h).await;
    let (status, created) = h
        .call_as(Some(&token), "POST", ENVIRONMENTS, Some(us_region()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    // The Publisher lists it with the others.
    let (_, settings) = h.call("GET", &format!("{PUBLISHER}/settings"), None).await;
    let names: Vec<&str> = settings["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Production Gateway", "Default", "us-region"]);

    // Deploying to it needs one of its vhosts.
    let api_id = h.create_pizzashack().await;
    let revision = h.create_revision(&api_id).await;
    let (status, error) = h
        .deploy(
            &api_id,
            &revision,
            json!([{"name": "us-region", "vhost": "localhost", "displayOnDevportal": true}]),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(900512))
    );
    let before = h.cp.event_seq();
    let (status, body) = h
        .deploy(
            &api_id,
            &revision,
            json!([{"name": "us-region", "vhost": "us.gw.example", "displayOnDevportal": true}]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let events = h.events_after(before).await;
    assert_eq!(events[0]["type"], "DEPLOY_API_IN_GATEWAY");
    assert_eq!(events[0]["label"], "us-region");
    h.publish(&api_id).await;

    // A gateway labelled `us-region` gets the API in its snapshot, as a hybrid environment's.
    let uri = format!(
        "/internal/data/v1/runtime-artifacts?gatewayLabel={}",
        encode_labels(&["us-region".to_owned()])
    );
    let (status, body) = h
        .send(
            Request::get(&uri)
                .header("authorization", basic("admin", "admin"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let snapshot: GatewaySnapshot = serde_json::from_value(body).unwrap();
    assert_eq!(snapshot.count, 1);
    assert_eq!(snapshot.list[0].label, "us-region");
    assert_eq!(snapshot.list[0].artifact.environment.name, "us-region");
    assert_eq!(
        snapshot.list[0].artifact.environment.kind.as_str(),
        "hybrid"
    );
    assert_eq!(snapshot.list[0].artifact.vhost, "us.gw.example");

    // The Developer Portal shows its URLs.
    let (status, api) = h
        .call("GET", &format!("{DEVPORTAL}/apis/{api_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{api}");
    assert_eq!(
        api["endpointURLs"],
        json!([{"environmentName": "us-region", "environmentDisplayName": "US Region",
            "environmentType": "hybrid",
            "URLs": {"http": "http://us.gw.example:8290/pizzashack/1.0.0",
                "https": "https://us.gw.example:8253/pizzashack/1.0.0", "ws": null, "wss": null},
            "defaultVersionURLs": {"http": null, "https": null, "ws": null, "wss": null}}])
    );
    assert_eq!(api["environmentList"], json!(["us-region"]));
}

/// `environments/{envId}/keys`: an API's properties per gateway environment, stored as given.
#[tokio::test]
async fn environment_specific_api_properties_are_kept_per_environment() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let keys = |env: &str| format!("{PUBLISHER}/apis/{api_id}/environments/{env}/keys");
    let (status, none) = h.call("GET", &keys("Default"), None).await;
    assert_eq!((status, none), (StatusCode::OK, json!({})));
    let props = json!({"productionEndpoint": "https://prod.example.com/pizza"});
    let (status, put) = h.call("PUT", &keys("Default"), Some(props.clone())).await;
    assert_eq!((status, &put), (StatusCode::OK, &props));
    let (_, got) = h.call("GET", &keys("Default"), None).await;
    assert_eq!(got, props);
    let p = crate::openapi_shapes::publisher();
    crate::openapi_shapes::assert_conforms(
        p,
        p.response_schema("/apis/{apiId}/environments/{envId}/keys", "get", 200),
        &got,
        "GET keys",
    );
    let (status, _) = h
        .call("PUT", &keys("Default"), Some(json!({"retries": 3})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = h.call("GET", &keys("Nowhere"), None).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::NOT_FOUND, &900506.into())
    );
}
