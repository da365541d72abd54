//! WSO2's performance client (`create-api.sh` in `wso2/performance-apim`,
//! `distribution/scripts/apim/`) against the guide's control plane: the same calls in the same
//! order, with the script's payloads, its one-scope-per-token password grants and its paths —
//! the versionless `POST /api/am/devportal/applications` included — and the fields its `jq`
//! filters read.
//!
//! The script's versioned paths name the majors of the 4.x release it was written for
//! (`publisher/v2`…`v3`, `devportal/v2`); WSO2 4.2 serves only its current majors and the
//! versionless form, so those calls go to `publisher/v4` and `devportal/v3` here
//! (docs/rest-apis.md, "Versionless paths").

use crate::common::*;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};

const BASE: &str = "";
const DEVPORTAL_VERSIONED: &str = "/api/am/devportal/v3";
const PUBLISHER_VERSIONED: &str = "/api/am/publisher/v4";

/// The admin token's scope string, `+`-separated as the script sends it in the form body.
const ADMIN_SCOPES: &str = "apim:admin+apim:api_create+apim:api_delete+apim:api_generate_key+\
apim:api_import_export+apim:api_product_import_export+apim:api_publish+apim:api_view+\
apim:app_import_export+apim:client_certificates_add+apim:client_certificates_update+\
apim:client_certificates_view+apim:comment_view+apim:comment_write+apim:document_create+\
apim:document_manage+apim:ep_certificates_add+apim:ep_certificates_update+\
apim:ep_certificates_view+apim:mediation_policy_create+apim:mediation_policy_manage+\
apim:mediation_policy_view+apim:pub_alert_manage+apim:publisher_settings+\
apim:shared_scope_manage+apim:subscription_block+apim:subscription_view+\
apim:threat_protection_policy_create+apim:threat_protection_policy_manage+openid+\
service_catalog:service_view+service_catalog:service_write";

/// `curl -sk -H "Authorization: Bearer $token" [-H "Content-Type: application/json" -d ...]`.
async fn curl(
    h: &Harness,
    method: &str,
    token: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("{BASE}{uri}"))
        .header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(b) => {
            request = request.header("content-type", "application/json");
            Body::from(b.to_owned())
        }
        None => Body::empty(),
    };
    h.send(request.body(body).unwrap()).await
}

/// `jq -r` of a path: a string, or `"null"` as jq prints a missing value.
fn jq(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "null".to_owned(),
        Some(other) => other.to_string(),
    }
}

#[tokio::test]
async fn wso2s_create_api_script_runs_to_its_subscription() {
    let h = harness().await;

    // client_request: DCR with the super admin.
    let (status, dcr) = h
        .send(
            Request::post("/client-registration/v0.17/register")
                .header("authorization", basic("admin", "admin"))
                .header("content-type", "application/json")
                .body(Body::from(
                    r#"{
    "callbackUrl": "wso2.org",
    "clientName": "setup_apim_script",
    "tokenScope": "Production",
    "owner": "admin",
    "grantType": "password refresh_token",
    "saasApp": true
}"#,
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dcr}");
    let client = basic(&jq(&dcr, "/clientId"), &jq(&dcr, "/clientSecret"));

    // get_access_token / get_admin_access_token: `curl -d` is form-encoded, `+` a space.
    let token = |scope: String| {
        let client = client.clone();
        let h = &h;
        async move {
            let (status, body) = h
                .send(
                    Request::post("/oauth2/token")
                        .header("authorization", client)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Body::from(format!(
                            "grant_type=password&username=admin&password=admin&scope={scope}"
                        )))
                        .unwrap(),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{scope}: {body}");
            let token = jq(&body, "/access_token");
            assert_ne!(token, "null");
            (token, jq(&body, "/scope"))
        }
    };
    let (view, _) = token("apim:api_view".into()).await;
    let (create, _) = token("apim:api_create".into()).await;
    let (publish, _) = token("apim:api_publish".into()).await;
    let (subscribe, _) = token("apim:subscribe".into()).await;
    let (app_manage, _) = token("apim:app_manage".into()).await;
    let (_mediation, _) = token("apim:mediation_policy_create".into()).await;
    let (sub_manage, _) = token("apim:sub_manage".into()).await;
    let (_admin, admin_scopes) = token(ADMIN_SCOPES.into()).await;
    assert!(
        admin_scopes.contains("apim:api_create") && admin_scopes.contains("apim:admin"),
        "{admin_scopes}"
    );

    // Find "PerformanceTestAPP": none yet, so `.list[0] | .applicationId` is null.
    let (status, apps) = curl(
        &h,
        "GET",
        &subscribe,
        &format!("{DEVPORTAL_VERSIONED}/applications?query=PerformanceTestAPP"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{apps}");
    assert_eq!(jq(&apps, "/list/0/applicationId"), "null");

    // Create it through the versionless path, with the app_manage token.
    let (status, app) = curl(
        &h,
        "POST",
        &app_manage,
        "/api/am/devportal/applications",
        Some(
            r#"{ 
   "name":"PerformanceTestAPP",
   "throttlingPolicy":"Unlimited",
   "description":"PerformanceTestAPP",
   "tokenType":"JWT",
   "attributes":{ 
   }
}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{app}");
    let application_id = jq(&app, "/applicationId");
    assert_ne!(application_id, "null");

    // The script's second run finds it by name.
    let (_, apps) = curl(
        &h,
        "GET",
        &subscribe,
        &format!("{DEVPORTAL_VERSIONED}/applications?query=PerformanceTestAPP"),
        None,
    )
    .await;
    assert_eq!(jq(&apps, "/list/0/applicationId"), application_id);

    // No keys yet: `.consumerKey` of the answer is null.
    let (_, keys) = curl(
        &h,
        "GET",
        &subscribe,
        &format!("{DEVPORTAL_VERSIONED}/applications/{application_id}/keys/PRODUCTION"),
        None,
    )
    .await;
    assert_eq!(jq(&keys, "/consumerKey"), "null", "{keys}");

    let (status, keys) = curl(
        &h,
        "POST",
        &app_manage,
        &format!("{DEVPORTAL_VERSIONED}/applications/{application_id}/generate-keys"),
        Some(
            r#"{ 
   "keyType":"PRODUCTION",
   "grantTypesToBeSupported":[ 
      "refresh_token",
      "password",
      "client_credentials",
      "urn:ietf:params:oauth:grant-type:jwt-bearer"
   ],
   "callbackUrl":"wso2.org"
}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let consumer_key = jq(&keys, "/consumerKey");
    assert_ne!(consumer_key, "null");
    // A rerun reads the same key back.
    let (_, again) = curl(
        &h,
        "GET",
        &subscribe,
        &format!("{DEVPORTAL_VERSIONED}/applications/{application_id}/keys/PRODUCTION"),
        None,
    )
    .await;
    assert_eq!(jq(&again, "/consumerKey"), consumer_key);

    // create_api "echo": no API named so yet.
    let (status, existing) = curl(
        &h,
        "GET",
        &view,
        &format!("{PUBLISHER_VERSIONED}/apis?query=name:echo$"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{existing}");
    assert_eq!(jq(&existing, "/list/0/id"), "null");

    let api_request = json!({
        "name": "echoAPI",
        "description": "Echo API",
        "context": "/echo",
        "version": "1.0.0",
        "provider": "admin",
        "policies": ["Unlimited"],
        "endpointConfig": {
            "endpoint_type": "http",
            "sandbox_endpoints": {"url": "http://netty:8688"},
            "production_endpoints": {"url": "http://netty:8688"},
        },
        "operations": [{"target": "/*", "verb": "POST", "throttlingPolicy": "Unlimited"}],
    })
    .to_string();
    let (status, api) = curl(
        &h,
        "POST",
        &create,
        &format!("{PUBLISHER_VERSIONED}/apis"),
        Some(&api_request),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    let api_id = jq(&api, "/id");

    let (status, revision) = curl(
        &h,
        "POST",
        &create,
        &format!("{PUBLISHER_VERSIONED}/apis/{api_id}/revisions"),
        Some(r#"{"description": "first revision"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{revision}");
    let rev_id = jq(&revision, "/id");
    let (status, deployed) = curl(
        &h,
        "POST",
        &create,
        &format!("{PUBLISHER_VERSIONED}/apis/{api_id}/deploy-revision?revisionId={rev_id}"),
        Some(r#"[{"name": "Default", "vhost": "localhost" ,"displayOnDevportal": true}]"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{deployed}");
    assert_eq!(jq(&deployed, "/0/revisionUuid"), rev_id);

    // `curl -w "%{http_code}"`: the script wants exactly 200.
    let (status, body) = curl(
        &h,
        "POST",
        &publish,
        &format!("{PUBLISHER_VERSIONED}/apis/change-lifecycle?action=Publish&apiId={api_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, subscription) = curl(
        &h,
        "POST",
        &sub_manage,
        &format!("{DEVPORTAL_VERSIONED}/subscriptions"),
        Some(
            &json!({"apiId": api_id, "applicationId": application_id,
                "throttlingPolicy": "Unlimited"})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{subscription}");
    assert_ne!(jq(&subscription, "/subscriptionId"), "null");

    // The rerun's lookup now finds the API (`name:echoAPI`), and the versionless Publisher
    // path answers as the versioned one.
    let (status, found) = curl(
        &h,
        "GET",
        &view,
        "/api/am/publisher/apis?query=name:echoAPI",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(jq(&found, "/list/0/id"), api_id);
}

#[tokio::test]
async fn versionless_paths_serve_every_rest_api_as_the_versioned_ones() {
    let h = harness().await;
    let token = h
        .token_with_scopes(&format!("{ALL_SCOPES} apim:admin"))
        .await;
    for (versioned, versionless) in [
        (
            "/api/am/publisher/v4/settings",
            "/api/am/publisher/settings",
        ),
        (
            "/api/am/devportal/v3/settings",
            "/api/am/devportal/settings",
        ),
        (
            "/api/am/admin/v4/throttling/policies/subscription",
            "/api/am/admin/throttling/policies/subscription",
        ),
    ] {
        let a = h.call_as(Some(&token), "GET", versioned, None).await;
        let b = h.call_as(Some(&token), "GET", versionless, None).await;
        assert_eq!(a.0, StatusCode::OK, "{versioned}: {}", a.1);
        assert_eq!(a, b, "{versionless}");
    }
    // A version this release does not serve is no route at all.
    let (status, body) = h.call("GET", "/api/am/publisher/v3/settings", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}
