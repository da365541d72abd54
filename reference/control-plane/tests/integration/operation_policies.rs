//! Operation policies (Publisher): common and API-specific, uploaded, listed, packed, deleted.

use crate::common::*;
use crate::openapi_shapes::{assert_conforms, publisher};
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const SPEC: &str = r#"
category: Mediation
name: addHeader
displayName: Add Header
description: Adds a header to the message
applicableFlows: [request, response]
supportedGateways: [Synapse]
supportedApiTypes: [HTTP]
policyAttributes:
  - name: headerName
    displayName: Header Name
    type: String
    required: true
"#;
const SYNAPSE: &str = r#"<property name="{{headerName}}" scope="transport" action="set"/>"#;

#[track_caller]
fn conforms(path: &str, method: &str, status: u16, body: &Value) {
    let p = publisher();
    assert_conforms(
        p,
        p.response_schema(path, method, status),
        body,
        &format!("{method} {path}"),
    );
}

async fn scoped() -> Harness {
    let mut h = harness().await;
    h.token = h
        .token_with_scopes(&format!(
            "{ALL_SCOPES} apim:common_operation_policy_view apim:common_operation_policy_manage \
             apim:mediation_policy_manage"
        ))
        .await;
    h
}

#[tokio::test]
async fn common_operation_policies_are_uploaded_listed_packed_and_deleted() {
    let h = scoped().await;
    let policies = format!("{PUBLISHER}/operation-policies");
    let upload = [
        ("policySpecFile", Some("addHeader.yaml"), SPEC),
        ("synapsePolicyDefinitionFile", Some("addHeader.j2"), SYNAPSE),
    ];
    let (status, created) = h.call_form("POST", &policies, &upload).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "addHeader");
    assert_eq!(created["version"], "v1");
    assert_eq!(created["isAPISpecific"], false);
    assert_eq!(created["md5"].as_str().unwrap().len(), 32);
    conforms("/operation-policies", "post", 201, &created);
    let id = created["id"].as_str().unwrap().to_owned();

    // The same name and version again; no gateway definition; a spec without its mandatory
    // fields; no spec.
    let (status, body) = h.call_form("POST", &policies, &upload).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::CONFLICT, &903001.into())
    );
    let (status, body) = h
        .call_form(
            "POST",
            &policies,
            &[("policySpecFile", Some("s.yaml"), SPEC)],
        )
        .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &903008.into())
    );
    let (status, body) = h
        .call_form(
            "POST",
            &policies,
            &[
                ("policySpecFile", Some("s.yaml"), "name: x"),
                ("synapsePolicyDefinitionFile", Some("x.j2"), SYNAPSE),
            ],
        )
        .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &902009.into())
    );
    let (status, _) = h.call_form("POST", &policies, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, list) = h.call("GET", &policies, None).await;
    assert_eq!(list["count"], 1);
    conforms("/operation-policies", "get", 200, &list);
    let (_, none) = h
        .call("GET", &format!("{policies}?query=name:other"), None)
        .await;
    assert_eq!(none["count"], 0);
    let (status, one) = h.call("GET", &format!("{policies}/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one, created);

    // The content is a zip holding the specification and the Synapse definition.
    let request = Request::builder()
        .uri(format!("{policies}/{id}/content"))
        .header("authorization", format!("Bearer {}", h.token))
        .body(Body::empty())
        .unwrap();
    let response = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert!(bytes.starts_with(b"PK"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("addHeader_v1/addHeader.yaml"), "{text}");
    assert!(text.contains(SYNAPSE), "{text}");

    let (status, _) = h.call("DELETE", &format!("{policies}/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = h.call("GET", &format!("{policies}/{id}"), None).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::NOT_FOUND, &902010.into())
    );
}

#[tokio::test]
async fn an_apis_own_operation_policies_are_apart_from_the_common_ones() {
    let h = scoped().await;
    let api_id = h.create_pizzashack().await;
    let own = format!("{PUBLISHER}/apis/{api_id}/operation-policies");
    let upload = [
        ("policySpecFile", Some("addHeader.yaml"), SPEC),
        ("synapsePolicyDefinitionFile", Some("addHeader.j2"), SYNAPSE),
    ];
    let (status, created) = h.call_form("POST", &own, &upload).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["isAPISpecific"], true);
    conforms("/apis/{apiId}/operation-policies", "post", 201, &created);
    let id = created["id"].as_str().unwrap().to_owned();
    // A common policy of the same name is another policy.
    let (status, _) = h
        .call_form("POST", &format!("{PUBLISHER}/operation-policies"), &upload)
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (_, list) = h.call("GET", &own, None).await;
    assert_eq!(list["count"], 1);
    conforms("/apis/{apiId}/operation-policies", "get", 200, &list);
    let (status, _) = h.call("GET", &format!("{own}/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .call("GET", &format!("{PUBLISHER}/operation-policies/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, content) = h.call("GET", &format!("{own}/{id}/content"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content.as_str().unwrap().starts_with("PK"));

    let (status, body) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/00000000-0000-0000-0000-000000000000/operation-policies"),
            None,
        )
        .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::NOT_FOUND, &900308.into())
    );
    let (status, _) = h.call("DELETE", &format!("{own}/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = h.call("GET", &own, None).await;
    assert_eq!(list["count"], 0);
}
