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

/// An OAuth client registered through DCR, as a client registers one outside the portal.
async fn registered_client(h: &Harness, name: &str) -> (String, String) {
    let (status, dcr) = h
        .send(
            Request::post("/client-registration/v0.17/register")
                .header("authorization", basic("admin", "admin"))
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"clientName": name, "owner": "admin",
                        "grantType": "client_credentials password", "saasApp": true})
                    .to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dcr}");
    (
        dcr["clientId"].as_str().unwrap().to_owned(),
        dcr["clientSecret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn map_keys_makes_an_existing_client_the_applications_keys() {
    let h = harness().await;
    let app_id = h.create_application("Mapped").await;
    let (key, secret) = registered_client(&h, "outside_client").await;
    let uri = format!("{DEVPORTAL}/applications/{app_id}/map-keys");

    let before = h.cp.event_seq();
    let (status, mapped) = h
        .call(
            "POST",
            &uri,
            Some(json!({"consumerKey": key, "consumerSecret": secret,
                "keyManager": "Resident Key Manager", "keyType": "PRODUCTION"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mapped}");
    assert_eq!(mapped["consumerKey"], key.as_str());
    assert_eq!(mapped["consumerSecret"], secret.as_str());
    assert_eq!(mapped["keyType"], "PRODUCTION");
    assert_eq!(mapped["mode"], "MAPPED");
    assert_eq!(
        mapped["supportedGrantTypes"],
        json!(["client_credentials", "password"])
    );
    let events = h.events_after(before).await;
    assert_eq!(
        events[0]["type"], "APPLICATION_REGISTRATION_CREATE",
        "{events:?}"
    );

    // The application's keys now include it, and tokens come from it.
    let (_, list) = h
        .call(
            "GET",
            &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys"),
            None,
        )
        .await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["list"][0]["consumerKey"], key.as_str());
    let (status, token) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/keys/PRODUCTION/generate-token"),
            Some(json!({"consumerSecret": secret, "grantType": "client_credentials"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert!(token["accessToken"].as_str().is_some_and(|t| !t.is_empty()));

    // One client per application and key type, one application per client.
    let other_app = h.create_application("Other").await;
    let (status, error) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{other_app}/map-keys"),
            Some(json!({"consumerKey": key, "consumerSecret": secret, "keyType": "SANDBOX"})),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::CONFLICT, Some(901409))
    );
    let (second, second_secret) = registered_client(&h, "second_client").await;
    let (status, error) = h
        .call(
            "POST",
            &uri,
            Some(
                json!({"consumerKey": second, "consumerSecret": second_secret,
                "keyType": "PRODUCTION"}),
            ),
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::CONFLICT, Some(901409))
    );

    // The caller's mistakes.
    for (body, code) in [
        (
            json!({"consumerKey": second, "consumerSecret": "wrong", "keyType": "SANDBOX"}),
            400,
        ),
        (
            json!({"consumerKey": "no-such-client", "keyType": "SANDBOX"}),
            400,
        ),
        // Not among `keyType`'s enum: read as null, so the required property is missing.
        (json!({"consumerKey": second, "keyType": "BOTH"}), 400),
        (json!({"keyType": "SANDBOX"}), 400),
        (
            json!({"consumerKey": second, "keyType": "SANDBOX", "keyManager": "Okta"}),
            901411,
        ),
    ] {
        let (status, error) = h.call("POST", &uri, Some(body.clone())).await;
        assert!(status.is_client_error(), "{body}: {status} {error}");
        assert_eq!(error["code"], code, "{body}: {error}");
    }
    let (status, _) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/no-such-app/map-keys"),
            Some(json!({"consumerKey": second, "keyType": "SANDBOX"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Without a secret the client is mapped as it is (the secret is WSO2's to check only
    // when given).
    let (status, mapped) = h
        .call(
            "POST",
            &uri,
            Some(json!({"consumerKey": second, "keyType": "SANDBOX"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mapped}");
    assert_eq!(mapped["keyType"], "SANDBOX");
}
