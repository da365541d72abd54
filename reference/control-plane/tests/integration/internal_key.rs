//! Publisher `POST /apis/{apiId}/generate-key`: the internal key's answer, claims and refusals.

use crate::common::*;
use base64::Engine;
use http::StatusCode;
use serde_json::Value;

fn claims(key: &str) -> Value {
    let payload = key.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn an_internal_key_names_its_api_alone_and_lasts_as_wso2s_generator_makes_it() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let (status, answer) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/generate-key"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["validityTime"], 60_000);
    let key = answer["apikey"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], "gateway_certificate_alias");
    assert_eq!(header["alg"], "RS256");
    let claims = claims(key);
    assert_eq!(claims["token_type"], "InternalKey");
    assert_eq!(claims["keytype"], "PRODUCTION");
    assert_eq!(claims["sub"], "admin@carbon.super");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60_000
    );
    let apis = claims["subscribedAPIs"].as_array().unwrap();
    assert_eq!(apis.len(), 1);
    assert_eq!(apis[0]["context"], "/pizzashack/1.0.0");
    assert_eq!(apis[0]["version"], "1.0.0");
    assert_eq!(apis[0]["publisher"], "admin");

    let (status, missing) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/no-such-api/generate-key"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    // Without apim:api_generate_key or apim:api_manage: WSO2's 401.
    let viewer = h.token_with_scopes("apim:api_view").await;
    let (status, _) = h
        .call_as(
            Some(&viewer),
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/generate-key"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
