//! Component tests: the control plane's router, driven with `oneshot`, no sockets.

use crate::common::*;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tollgate_control_plane::ControlPlaneSettings;
use tollgate_protocol::internal::{GatewaySnapshot, encode_labels};
use tower::ServiceExt;

fn types(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["label"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pair(t: &str, label: &str) -> (String, String) {
    (t.to_owned(), label.to_owned())
}

// --- access ------------------------------------------------------------------------------

#[tokio::test]
async fn publisher_call_without_a_token_is_refused_with_wso2s_401() {
    let h = harness().await;
    let (status, body) = h
        .call_as(None, "GET", &format!("{PUBLISHER}/apis"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body,
        json!({"code": 401, "message": "", "description": "Unauthenticated request",
            "moreInfo": "", "error": []})
    );
}

#[tokio::test]
async fn token_without_the_operations_scope_is_refused_with_401_as_wso2s_interceptor_does() {
    let h = harness().await;
    let viewer = h.token_with_scopes("apim:api_view").await;
    let (status, _) = h
        .call_as(Some(&viewer), "GET", &format!("{PUBLISHER}/apis"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = h
        .call_as(
            Some(&viewer),
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(json!({"name": "A", "context": "/a", "version": "1"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["description"], "Unauthenticated request");
}

#[tokio::test]
async fn garbage_token_is_refused_with_401() {
    let h = harness().await;
    let (status, _) = h
        .call_as(Some("not.a.jwt"), "GET", &format!("{PUBLISHER}/apis"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_json_is_a_400_in_wso2s_error_shape() {
    let h = harness().await;
    let response = h
        .app
        .clone()
        .oneshot(
            Request::post(format!("{PUBLISHER}/apis"))
                .header("authorization", format!("Bearer {}", h.token))
                .header("content-type", "application/json")
                .body(Body::from("{\"name\": "))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["code"], 400);
    assert_eq!(body["description"], "Malformed request body.");
    assert_eq!(body["error"], json!([]));
}

// --- publisher ---------------------------------------------------------------------------

#[tokio::test]
async fn created_api_keeps_its_context_and_gets_wso2s_defaults() {
    let h = harness().await;
    let (status, api) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(json!({"name": "Minimal", "context": "minimal", "version": "2.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    assert_eq!(api["context"], "/minimal");
    assert_eq!(api["lifeCycleStatus"], "CREATED");
    assert_eq!(api["provider"], "admin");
    assert_eq!(api["transport"], json!(["http", "https"]));
    let verbs: Vec<&str> = api["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["target"], "/*");
            o["verb"].as_str().unwrap()
        })
        .collect();
    assert_eq!(verbs, ["GET", "PUT", "POST", "DELETE", "PATCH"]);

    let id = api["id"].as_str().unwrap();
    let (status, fetched) = h.call("GET", &format!("{PUBLISHER}/apis/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, api);
    let (_, list) = h
        .call("GET", &format!("{PUBLISHER}/apis?query=name:mini"), None)
        .await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["list"][0]["id"], api["id"]);
}

#[tokio::test]
async fn same_ids_come_from_the_same_seed() {
    let a = harness().await;
    let b = harness().await;
    assert_eq!(a.create_pizzashack().await, b.create_pizzashack().await);
}

#[tokio::test]
async fn duplicate_api_and_missing_fields_are_refused() {
    let h = harness().await;
    h.create_pizzashack().await;
    let (status, body) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(json!({"name": "PizzaShackAPI", "context": "/other", "version": "1.0.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], 900300);
    let (status, body) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(json!({"name": "Other", "context": "/pizzashack", "version": "2.0.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], 900251);
    let (status, _) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(json!({"name": "NoContext", "version": "1"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sixth_revision_is_refused_with_900351() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    for n in 1..=5 {
        let (status, rev) = h
            .call(
                "POST",
                &format!("{PUBLISHER}/apis/{api_id}/revisions"),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(rev["displayName"], format!("Revision {n}"));
        assert_eq!(rev["apiInfo"]["id"], api_id.as_str());
    }
    let (status, body) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/revisions"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 900351);
    assert_eq!(body["message"], "Can not create API Revision ");
    assert!(
        body["description"]
            .as_str()
            .unwrap()
            .ends_with(&format!("API UUID: {api_id}"))
    );
}

#[tokio::test]
async fn deleting_a_revision_frees_a_slot_but_numbers_are_never_reused() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let first = h.create_revision(&api_id).await;
    let (status, remaining) = h
        .call(
            "DELETE",
            &format!("{PUBLISHER}/apis/{api_id}/revisions/{first}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(remaining["count"], 0);
    let (_, rev) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/revisions"),
            Some(json!({})),
        )
        .await;
    assert_eq!(rev["displayName"], "Revision 2");
}

#[tokio::test]
async fn deploying_to_both_environments_emits_one_artifact_per_label_with_its_type() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let revision = h.create_revision(&api_id).await;
    let before = h.cp.event_seq();
    let (status, deployments) = h
        .deploy(
            &api_id,
            &revision,
            json!([
                {"name": "Production Gateway", "vhost": "localhost", "displayOnDevportal": true},
                {"name": "Default", "vhost": "localhost", "displayOnDevportal": true},
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let names: Vec<&str> = deployments
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["revisionUuid"], revision.as_str());
            d["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, ["Production Gateway", "Default"]);

    let events = h.events_after(before).await;
    assert_eq!(
        types(&events),
        [
            pair("DEPLOY_API_IN_GATEWAY", "Production Gateway"),
            pair("DEPLOY_API_IN_GATEWAY", "Default")
        ]
    );
    let prod = &events[0]["artifact"];
    assert_eq!(
        prod["environment"],
        json!({"name": "Production Gateway", "type": "production"})
    );
    assert_eq!(prod["context"], "/pizzashack/1.0.0");
    assert_eq!(
        prod["endpoints"]["production"],
        "http://backend.prod:9000/pizza"
    );
    assert_eq!(
        prod["endpoints"]["sandbox"],
        "http://backend.sandbox:9000/pizza"
    );
    assert_eq!(prod["revisionNumber"], 1);
    assert_eq!(prod["lifecycleStatus"], "CREATED");
    assert_eq!(prod["operations"][0]["authType"], "Any");
    assert_eq!(events[1]["artifact"]["environment"]["type"], "hybrid");

    let (_, all) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/deployments"),
            None,
        )
        .await;
    assert_eq!(all.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn redeploying_an_environment_replaces_its_revision_with_remove_then_deploy() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let first = h.create_revision(&api_id).await;
    h.deploy_to_both(&api_id, &first).await;
    let second = h.create_revision(&api_id).await;
    let before = h.cp.event_seq();
    let (status, deployments) = h
        .deploy(
            &api_id,
            &second,
            json!([{"name": "Default", "vhost": "localhost"}]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(deployments.as_array().unwrap().len(), 1);

    let events = h.events_after(before).await;
    assert_eq!(
        types(&events),
        [
            pair("REMOVE_API_FROM_GATEWAY", "Default"),
            pair("DEPLOY_API_IN_GATEWAY", "Default")
        ]
    );
    assert_eq!(events[0]["apiId"], api_id.as_str());
    assert_eq!(events[0]["context"], "/pizzashack/1.0.0");
    assert_eq!(events[1]["artifact"]["revisionId"], second.as_str());

    let (_, deployed) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/revisions?query=deployed:true"),
            None,
        )
        .await;
    assert_eq!(
        deployed["count"], 2,
        "revision 1 stays on Production Gateway"
    );
    let (_, all) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/deployments"),
            None,
        )
        .await;
    let by_env: Vec<(&str, &str)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap(),
                d["revisionUuid"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_env,
        [
            ("Production Gateway", first.as_str()),
            ("Default", second.as_str())
        ]
    );
}

#[tokio::test]
async fn bad_deployment_targets_get_wso2s_codes() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let revision = h.create_revision(&api_id).await;

    let (status, body) = h
        .deploy(
            &api_id,
            &revision,
            json!([{"name": "Nowhere", "vhost": "localhost"}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 900504);
    assert_eq!(
        body["description"],
        "Gateway Environment with name 'name 'Nowhere'' not found"
    );

    let (status, body) = h
        .deploy(
            &api_id,
            &revision,
            json!([{"name": "Default", "vhost": "gw.example.com"}]),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 900512);

    let (status, body) = h
        .deploy(&api_id, &revision, json!([{"name": "Default"}]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 900511);

    let (status, body) = h
        .deploy(
            &api_id,
            "no-such-revision",
            json!([{"name": "Default", "vhost": "localhost"}]),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], 900347);

    let (status, body) = h
        .deploy(
            "no-such-api",
            &revision,
            json!([{"name": "Default", "vhost": "localhost"}]),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], 900308);

    assert_eq!(h.cp.event_seq(), 0, "nothing was deployed");
}

#[tokio::test]
async fn undeploying_removes_the_deployment_and_tells_the_label() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let revision = h.create_revision(&api_id).await;
    h.deploy_to_both(&api_id, &revision).await;

    let (status, body) = h
        .call(
            "DELETE",
            &format!("{PUBLISHER}/apis/{api_id}/revisions/{revision}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 900348);

    let before = h.cp.event_seq();
    let (status, remaining) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/undeploy-revision?revisionId={revision}"),
            Some(json!([{"name": "Production Gateway", "vhost": "localhost"}])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(remaining.as_array().unwrap().len(), 1);
    assert_eq!(remaining[0]["name"], "Default");
    assert_eq!(
        types(&h.events_after(before).await),
        [pair("REMOVE_API_FROM_GATEWAY", "Production Gateway")]
    );

    let (status, remaining) = h
        .call(
            "POST",
            &format!(
                "{PUBLISHER}/apis/{api_id}/undeploy-revision?revisionNumber=1&allEnvironments=true"
            ),
            Some(json!([])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(remaining, json!([]));
    let (status, _) = h
        .call(
            "DELETE",
            &format!("{PUBLISHER}/apis/{api_id}/revisions/{revision}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn lifecycle_follows_wso2s_transitions_and_resends_deployed_artifacts() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let revision = h.create_revision(&api_id).await;
    h.deploy_to_both(&api_id, &revision).await;

    let (status, body) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/change-lifecycle?apiId={api_id}&action=Retire"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], 900381);

    let before = h.cp.event_seq();
    let (status, body) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/change-lifecycle?apiId={api_id}&action=Publish"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["workflowStatus"], "APPROVED");
    assert_eq!(body["lifecycleState"]["state"], "Published");
    let events = h.events_after(before).await;
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e["artifact"]["lifecycleStatus"] == "PUBLISHED")
    );

    let before = h.cp.event_seq();
    let (status, _) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/change-lifecycle?apiId={api_id}&action=Block"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = h.events_after(before).await;
    assert!(
        events
            .iter()
            .all(|e| e["artifact"]["lifecycleStatus"] == "BLOCKED")
    );
}

#[tokio::test]
async fn publisher_settings_list_the_environments_with_vhosts() {
    let h = harness().await;
    let (status, settings) = h.call("GET", &format!("{PUBLISHER}/settings"), None).await;
    assert_eq!(status, StatusCode::OK);
    let envs = settings["environment"].as_array().unwrap();
    assert_eq!(envs.len(), 2);
    assert_eq!(envs[0]["name"], "Production Gateway");
    assert_eq!(envs[0]["type"], "production");
    assert_eq!(envs[0]["showInApiConsole"], true);
    assert_eq!(envs[0]["vhosts"][0]["httpsPort"], 8244);
    assert_eq!(
        envs[1]["endpointURIs"][1]["endpointURI"],
        "https://localhost:8245"
    );
}

// --- developer portal --------------------------------------------------------------------

#[tokio::test]
async fn devportal_shows_one_url_set_per_environment_of_the_guide() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let (status, api) = h
        .call_as(None, "GET", &format!("{DEVPORTAL}/apis/{api_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{api}");
    assert_eq!(api["context"], "/pizzashack/1.0.0");
    insta::with_settings!({snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots/control-plane"), prepend_module_to_snapshot => false}, {
        insta::assert_json_snapshot!("devportal_endpoint_urls_guide", api["endpointURLs"]);
    });
    assert_eq!(
        api["environmentList"],
        json!(["Production Gateway", "Default"])
    );
}

#[tokio::test]
async fn display_on_devportal_false_hides_that_environments_urls() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    // deploymentId = base64url("Production Gateway")
    let (status, body) = h
        .call(
            "PUT",
            &format!("{PUBLISHER}/apis/{api_id}/deployments/UHJvZHVjdGlvbiBHYXRld2F5"),
            Some(json!({"displayOnDevportal": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayOnDevportal"], false);
    let (_, api) = h
        .call("GET", &format!("{DEVPORTAL}/apis/{api_id}"), None)
        .await;
    let envs: Vec<&str> = api["endpointURLs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["environmentName"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["Default"]);
}

#[tokio::test]
async fn devportal_lists_only_published_apis() {
    let h = harness().await;
    let draft = h.create_pizzashack().await;
    let (_, list) = h.call("GET", &format!("{DEVPORTAL}/apis"), None).await;
    assert_eq!(list["count"], 0);
    let (status, _) = h
        .call("GET", &format!("{DEVPORTAL}/apis/{draft}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    h.publish(&draft).await;
    let (_, list) = h.call("GET", &format!("{DEVPORTAL}/apis"), None).await;
    assert_eq!(list["count"], 1);
    assert_eq!(
        list["list"][0]["throttlingPolicies"],
        json!(["Gold", "Unlimited"])
    );
}

#[tokio::test]
async fn devportal_settings_advertise_the_token_endpoint_environment_and_try_out_follows_the_console_flag()
 {
    let mut settings = ControlPlaneSettings::guide();
    settings.environments[0].show_as_token_endpoint_url = false;
    settings.environments[0].display_in_api_console = false;
    let h = harness_with(settings).await;
    let (status, body) = h
        .call_as(None, "GET", &format!("{DEVPORTAL}/settings"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["apiGatewayEndpoint"],
        "https://localhost:8245,http://localhost:8282"
    );
    let api_id = h.published_pizzashack().await;
    let (_, api) = h
        .call("GET", &format!("{DEVPORTAL}/apis/{api_id}"), None)
        .await;
    assert_eq!(api["endpointURLs"].as_array().unwrap().len(), 2);
    assert_eq!(api["environmentList"], json!(["Default"]));
}

#[tokio::test]
async fn applications_subscriptions_and_keys_per_key_type() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let app_id = h.create_application("PizzaApp").await;

    let (status, body) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications"),
            Some(json!({"name": "PizzaApp", "throttlingPolicy": "Unlimited"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, body) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/subscriptions"),
            Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Bronze"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "Bronze is not offered: {body}"
    );

    let (status, sub) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/subscriptions"),
            Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Gold"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sub}");
    assert_eq!(sub["status"], "UNBLOCKED");
    assert_eq!(sub["apiInfo"]["name"], "PizzaShackAPI");
    let (_, subs) = h
        .call(
            "GET",
            &format!("{DEVPORTAL}/subscriptions?applicationId={app_id}"),
            None,
        )
        .await;
    assert_eq!(subs["count"], 1);

    let mut keys = Vec::new();
    for key_type in ["PRODUCTION", "SANDBOX"] {
        let (status, key) = h
            .call(
                "POST",
                &format!("{DEVPORTAL}/applications/{app_id}/generate-keys"),
                Some(json!({"keyType": key_type, "grantTypesToBeSupported": ["client_credentials", "password"],
                    "keyManager": "Resident Key Manager", "callbackUrl": "", "scopes": ["default"],
                    "validityTime": "3600"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{key}");
        assert_eq!(key["keyType"], key_type);
        assert_eq!(key["token"]["validityTime"], 3600);
        let token = key["token"]["accessToken"].as_str().unwrap();
        let info = h.cp.key_manager().validate_access_token(token).unwrap();
        assert_eq!(info.consumer_key, key["consumerKey"].as_str().unwrap());
        keys.push(key);
    }
    assert_ne!(keys[0]["consumerKey"], keys[1]["consumerKey"]);

    let (status, body) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/generate-keys"),
            Some(
                json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], 901409);
    assert_eq!(body["message"], "Key Mappings already exists");

    let (status, sandbox) = h
        .call(
            "GET",
            &format!("{DEVPORTAL}/applications/{app_id}/keys/SANDBOX"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sandbox["consumerKey"], keys[1]["consumerKey"]);
    let (_, all) = h
        .call(
            "GET",
            &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys"),
            None,
        )
        .await;
    assert_eq!(all["count"], 2);

    let mapping = keys[0]["keyMappingId"].as_str().unwrap();
    let (status, token) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys/{mapping}/generate-token"),
            Some(
                json!({"consumerSecret": keys[0]["consumerSecret"], "validityPeriod": 600,
                "scopes": [], "grantType": "CLIENT_CREDENTIALS"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["validityTime"], 600);
    let (status, token) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/keys/SANDBOX/generate-token"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert!(token["accessToken"].as_str().is_some());

    // A wrong consumer secret is the client's mistake: the token endpoint's 401, not a 500.
    let (status, error) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys/{mapping}/generate-token"),
            Some(json!({"consumerSecret": "wrong", "validityPeriod": 600, "scopes": []})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert_eq!(error["error"], "invalid_client");
}

#[tokio::test]
async fn deleting_an_application_removes_its_subscriptions_and_keys_for_the_gateways() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let app_id = h.create_application("Gone").await;
    h.call(
        "POST",
        &format!("{DEVPORTAL}/subscriptions"),
        Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Gold"})),
    )
    .await;
    h.call(
        "POST",
        &format!("{DEVPORTAL}/applications/{app_id}/generate-keys"),
        Some(json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"]})),
    )
    .await;
    let before = h.cp.event_seq();
    let (status, _) = h
        .call(
            "DELETE",
            &format!("{DEVPORTAL}/applications/{app_id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<String> = types(&h.events_after(before).await)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        kinds,
        [
            "SUBSCRIPTIONS_DELETE",
            "REMOVE_APPLICATION_KEYMAPPING",
            "APPLICATION_DELETE"
        ]
    );
    let (status, _) = h
        .call("GET", &format!("{DEVPORTAL}/applications/{app_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// --- event hub ---------------------------------------------------------------------------

#[tokio::test]
async fn snapshot_holds_what_a_labelled_gateway_needs_as_of_its_event_seq() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let app_id = h.create_application("Snap").await;
    h.call(
        "POST",
        &format!("{DEVPORTAL}/subscriptions"),
        Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Gold"})),
    )
    .await;
    h.call(
        "POST",
        &format!("{DEVPORTAL}/applications/{app_id}/generate-keys"),
        Some(json!({"keyType": "SANDBOX", "grantTypesToBeSupported": ["client_credentials"]})),
    )
    .await;

    let uri = format!(
        "/internal/data/v1/runtime-artifacts?gatewayLabel={}",
        encode_labels(&["Default".to_owned()])
    );
    let (status, _) = h
        .send(Request::get(&uri).body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h
        .send(
            Request::get(&uri)
                .header("authorization", basic("admin", "wrong"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = h
        .send(
            Request::get(&uri)
                .header("authorization", basic("admin", "admin"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let snapshot: GatewaySnapshot = serde_json::from_value(body).unwrap();
    assert_eq!(snapshot.event_seq, h.cp.event_seq());
    assert_eq!(snapshot.count, 1);
    assert_eq!(snapshot.list[0].label, "Default");
    assert_eq!(snapshot.list[0].artifact.lifecycle_status, "PUBLISHED");
    assert_eq!(snapshot.applications.len(), 1);
    assert_eq!(snapshot.key_mappings.len(), 1);
    assert_eq!(snapshot.subscriptions.len(), 1);
    assert_eq!(snapshot.key_managers[0].name, "Resident Key Manager");
    assert_eq!(
        snapshot.key_managers[0].issuer,
        "https://localhost:9443/oauth2/token"
    );
}

#[tokio::test]
async fn revoked_tokens_are_published_and_kept_in_the_snapshot_until_they_expire() {
    let h = harness().await;
    let before = h.cp.event_seq();
    h.cp.key_manager().revoke(&h.token).unwrap();
    let events = h.events_after(before).await;
    assert_eq!(events[0]["type"], "TOKEN_REVOCATION");
    let snapshot = h.cp.gateway_snapshot(&[]);
    assert_eq!(snapshot.revoked_tokens.len(), 1);
    h.clock.advance_millis(3_601_000);
    assert!(h.cp.gateway_snapshot(&[]).revoked_tokens.is_empty());
}

#[tokio::test]
async fn notification_stream_replays_the_backlog_then_follows_live_events() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let revision = h.create_revision(&api_id).await;
    h.deploy_to_both(&api_id, &revision).await;

    let response = h
        .app
        .clone()
        .oneshot(
            Request::get("/internal/data/v1/notifications?after=1")
                .header("authorization", basic("admin", "admin"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut body = response.into_body();
    let mut next = async || -> Value {
        let frame = body.frame().await.unwrap().unwrap();
        let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
        assert!(text.ends_with('\n'));
        serde_json::from_str(text.trim_end()).unwrap()
    };
    let first = next().await;
    assert_eq!(first["seq"], 2);
    assert_eq!(first["label"], "Default");

    h.create_application("Live").await;
    let live = next().await;
    assert_eq!(live["seq"], 3);
    assert_eq!(live["type"], "APPLICATION_CREATE");
    assert_eq!(live["tenantDomain"], "carbon.super");
}

#[tokio::test(start_paused = true)]
async fn idle_notification_stream_sends_a_heartbeat_every_five_seconds() {
    let h = harness().await;
    let response = h
        .app
        .clone()
        .oneshot(
            Request::get("/internal/data/v1/notifications?after=0")
                .header("authorization", basic("admin", "admin"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut body = response.into_body();
    let started = tokio::time::Instant::now();
    let frame = body.frame().await.unwrap().unwrap();
    let line: Value = serde_json::from_slice(&frame.into_data().unwrap()).unwrap();
    assert_eq!(line["type"], "HEARTBEAT");
    assert_eq!(line["seq"], 0);
    assert_eq!(started.elapsed(), std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn following_from_before_the_retained_log_is_gone() {
    let mut settings = ControlPlaneSettings::guide();
    settings.max_retained_events = 1;
    let h = harness_with(settings).await;
    h.create_application("One").await;
    h.create_application("Two").await;
    let (status, body) = h
        .send(
            Request::get("/internal/data/v1/notifications?after=0")
                .header("authorization", basic("admin", "admin"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    let events = h.events_after(1).await;
    assert_eq!(events[0]["application"]["name"], "Two");
    let (status, _) = h
        .send(
            Request::get("/internal/data/v1/notifications?after=9")
                .header("authorization", basic("admin", "admin"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::GONE, "a sequence from a lost log");
}
