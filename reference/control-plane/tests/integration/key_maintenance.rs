//! Developer Portal key maintenance: list, update, regenerate the secret, clean up.

use crate::common::*;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::json;

#[tokio::test]
async fn keys_are_listed_updated_regenerated_and_cleaned_up() {
    let h = harness().await;
    let app_id = h.create_application("Keys").await;
    let (status, key) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/generate-keys"),
            Some(json!({"keyType": "PRODUCTION",
                "grantTypesToBeSupported": ["client_credentials"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let mapping = key["keyMappingId"].as_str().unwrap().to_owned();
    let consumer_key = key["consumerKey"].as_str().unwrap().to_owned();
    let old_secret = key["consumerSecret"].as_str().unwrap().to_owned();

    // The legacy list answers as oauth-keys.
    let (status, list) = h
        .call(
            "GET",
            &format!("{DEVPORTAL}/applications/{app_id}/keys"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["count"], 1);
    assert_eq!(list["list"][0]["consumerKey"], consumer_key.as_str());

    // Update: grant types and callback, by key type and by mapping id.
    let (status, updated) = h
        .call(
            "PUT",
            &format!("{DEVPORTAL}/applications/{app_id}/keys/PRODUCTION"),
            Some(
                json!({"supportedGrantTypes": ["client_credentials", "password"],
                "callbackUrl": "https://shop.example/cb"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["supportedGrantTypes"],
        json!(["client_credentials", "password"])
    );
    assert_eq!(updated["callbackUrl"], "https://shop.example/cb");
    let client = h.cp.key_manager().client(&consumer_key).unwrap();
    assert_eq!(client.grant_types, ["client_credentials", "password"]);
    let (status, updated) = h
        .call(
            "PUT",
            &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys/{mapping}"),
            Some(json!({"supportedGrantTypes": ["client_credentials"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["supportedGrantTypes"],
        json!(["client_credentials"])
    );

    // Regenerate: a new secret for the same key; the old one no longer authenticates.
    let (status, regenerated) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys/{mapping}/regenerate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{regenerated}");
    assert_eq!(regenerated["consumerKey"], consumer_key.as_str());
    let new_secret = regenerated["consumerSecret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);
    let token_with = |secret: String| {
        let key = consumer_key.clone();
        let h = &h;
        async move {
            h.send(
                Request::post("/oauth2/token")
                    .header("authorization", basic(&key, &secret))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from("grant_type=client_credentials"))
                    .unwrap(),
            )
            .await
            .0
        }
    };
    assert_eq!(token_with(old_secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(token_with(new_secret).await, StatusCode::OK);
    let (status, again) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/keys/PRODUCTION/regenerate-secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");

    // Clean-up: the mapping goes and the gateways are told.
    let before = h.cp.event_seq();
    let (status, body) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys/{mapping}/clean-up"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = h.events_after(before).await;
    assert_eq!(events[0]["type"], "REMOVE_APPLICATION_KEYMAPPING");
    assert_eq!(events[0]["consumerKey"], consumer_key.as_str());
    let (_, list) = h
        .call(
            "GET",
            &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys"),
            None,
        )
        .await;
    assert_eq!(list["count"], 0);
    let (status, error) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/keys/PRODUCTION/clean-up"),
            None,
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(900331))
    );
    let (status, error) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/keys/BOTH/regenerate-secret"),
            None,
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(904013))
    );
}
