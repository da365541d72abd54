//! `POST /internal/data/v1/basic-auth`: the user store gateways check Basic credentials with.

use crate::common::*;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};

async fn check(h: &Harness, hub: &str, body: Value) -> (StatusCode, Value) {
    h.send(
        Request::post("/internal/data/v1/basic-auth")
            .header("authorization", hub)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn the_admins_password_is_checked_for_event_hub_callers_only() {
    let h = harness().await;
    let hub = basic("admin", "admin");
    let (status, ok) = check(&h, &hub, json!({"username": "admin", "password": "admin"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ok["authenticated"], true);
    assert_eq!(ok["domainQualifiedUsername"], "admin@carbon.super");
    assert_eq!(ok["userRoleList"], json!(["admin", "Internal/everyone"]));
    let (_, tenant) = check(
        &h,
        &hub,
        json!({"username": "admin@carbon.super", "password": "admin"}),
    )
    .await;
    assert_eq!(tenant["domainQualifiedUsername"], "admin@carbon.super");
    let (_, wrong) = check(&h, &hub, json!({"username": "admin", "password": "x"})).await;
    assert_eq!(wrong["authenticated"], false);
    let (status, _) = check(
        &h,
        &basic("admin", "nope"),
        json!({"username": "admin", "password": "admin"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = check(&h, &hub, json!({"user": "admin"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
