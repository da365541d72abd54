//! API definitions generated from an API's resources: Publisher and Developer Portal
//! `GET /apis/{apiId}/swagger`.

use crate::common::*;
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_publisher_and_the_devportal_answer_the_apis_openapi_document() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;

    let (status, doc) = h
        .call("GET", &format!("{PUBLISHER}/apis/{api_id}/swagger"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["openapi"], "3.0.1");
    assert_eq!(
        doc["info"],
        json!({"title": "PizzaShackAPI", "version": "1.0.0"})
    );
    assert_eq!(
        doc["paths"]["/menu"]["get"]["x-auth-type"],
        "Application & Application User"
    );
    assert!(doc["paths"]["/order"]["post"]["requestBody"].is_object());
    assert_eq!(doc["x-wso2-basePath"], "/pizzashack/1.0.0");
    assert_eq!(
        doc["x-wso2-production-endpoints"]["urls"][0],
        "http://backend.prod:9000/pizza"
    );

    // The Developer Portal's copy names the gateway URLs of one environment.
    let (status, doc) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/swagger?environmentName=Default"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let urls: Vec<&str> = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), 2, "{doc}");
    assert!(urls[0].starts_with("https://") && urls[0].ends_with("/pizzashack/1.0.0"));
    assert!(urls[1].starts_with("http://"));
    assert!(doc.get("x-wso2-production-endpoints").is_none());
    let (status, _) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/swagger?environmentName=Nowhere"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An API the portal does not show has no definition there.
    let (status, created) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(json!({"name": "Hidden", "context": "/hidden", "version": "1.0.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let created = created["id"].as_str().unwrap();
    let (status, _) = h
        .call("GET", &format!("{DEVPORTAL}/apis/{created}/swagger"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
