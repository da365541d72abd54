//! Component tests: the router driven through `tower::ServiceExt::oneshot`, no sockets.

use crate::*;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tollgate_protocol::store::RevokedToken;
use tollgate_protocol::{ManualClock, SeededRng};
use tower::ServiceExt;

const START_MILLIS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const START: i64 = START_MILLIS / 1000;
const ADMIN_BASIC: &str = "Basic YWRtaW46YWRtaW4="; // admin:admin

#[derive(Default)]
struct RecordingSink(Mutex<Vec<RevokedToken>>);

impl RevocationSink for RecordingSink {
    fn token_revoked(&self, token: RevokedToken) {
        self.0.lock().unwrap().push(token);
    }
}

struct Fixture {
    km: Arc<KeyManager>,
    clock: ManualClock,
    sink: Arc<RecordingSink>,
}

fn fixture(seed: u64) -> Fixture {
    let clock = ManualClock::new(START_MILLIS);
    let sink = Arc::new(RecordingSink::default());
    let km = KeyManager::new(
        KeyManagerSettings::new("localhost", 9443),
        Arc::new(clock.clone()),
        Arc::new(SeededRng::derive(seed, "control-plane")),
        sink.clone(),
    )
    .unwrap();
    Fixture { km, clock, sink }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn send(km: &Arc<KeyManager>, request: Request<Body>) -> Reply {
    let response = km.router().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

fn basic(user: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
    )
}

fn form_post(path: &str, authorization: Option<&str>, body: &str) -> Request<Body> {
    let mut builder =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(auth) = authorization {
        builder = builder.header(header::AUTHORIZATION, auth);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

fn dcr_request(authorization: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::post("/client-registration/v0.17/register")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(auth) = authorization {
        builder = builder.header(header::AUTHORIZATION, auth);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

const GUIDE_DCR_BODY: &str = r#"{
    "callbackUrl": "www.google.lk",
    "clientName": "rest_api_publisher",
    "owner": "admin",
    "grantType": "client_credentials password refresh_token",
    "saasApp": true
}"#;

/// Registers the guide's DCR client and returns `(clientId, clientSecret)`.
async fn register(km: &Arc<KeyManager>) -> (String, String) {
    let reply = send(km, dcr_request(Some(ADMIN_BASIC), GUIDE_DCR_BODY)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    (
        json["clientId"].as_str().unwrap().to_owned(),
        json["clientSecret"].as_str().unwrap().to_owned(),
    )
}

async fn password_token(km: &Arc<KeyManager>, key: &str, secret: &str) -> Value {
    let reply = send(
        km,
        form_post(
            "/oauth2/token",
            Some(&basic(key, secret)),
            "grant_type=password&username=admin&password=admin&scope=apim:api_create apim:api_publish",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.json()
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

// ---------------------------------------------------------------------------------------------
// DCR

#[tokio::test]
async fn dcr_with_the_super_admin_registers_a_client_in_wso2_shape() {
    let f = fixture(1);
    let reply = send(&f.km, dcr_request(Some(ADMIN_BASIC), GUIDE_DCR_BODY)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "clientId",
            "clientName",
            "callBackURL",
            "clientSecret",
            "isSaasApplication",
            "appOwner",
            "jsonString",
            "jsonAppAttribute",
            "tokenType"
        ]
    );
    assert_eq!(json["clientId"].as_str().unwrap().len(), 28);
    assert_eq!(json["clientName"], "rest_api_publisher");
    assert_eq!(json["callBackURL"], "www.google.lk");
    assert_eq!(json["isSaasApplication"], true);
    assert_eq!(json["appOwner"], "admin");
    assert_eq!(
        json["jsonString"],
        r#"{"grant_types":"client_credentials password refresh_token","redirect_uris":"www.google.lk","client_name":"rest_api_publisher"}"#
    );
    assert_eq!(json["jsonAppAttribute"], "{}");
    assert_eq!(json["tokenType"], "DEFAULT");
    let client = f.km.client(json["clientId"].as_str().unwrap()).unwrap();
    assert_eq!(
        client.grant_types,
        ["client_credentials", "password", "refresh_token"]
    );
}

#[tokio::test]
async fn dcr_without_or_with_wrong_credentials_is_refused_with_401() {
    let f = fixture(1);
    for auth in [
        None,
        Some(basic("admin", "wrong").as_str()),
        Some("Bearer x"),
    ] {
        let reply = send(&f.km, dcr_request(auth, GUIDE_DCR_BODY)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.json(),
            json!({"code":401,"message":"","description":"Unauthenticated request","moreInfo":"","error":[]})
        );
    }
}

#[tokio::test]
async fn dcr_with_malformed_json_is_a_400_in_wso2_shape() {
    let f = fixture(1);
    let reply = send(&f.km, dcr_request(Some(ADMIN_BASIC), "{\"clientName\":")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"code":400,"message":"Bad Request","description":"Malformed request body.","moreInfo":"","error":[]})
    );
    let reply = send(&f.km, dcr_request(Some(ADMIN_BASIC), "")).await;
    assert_eq!(
        reply.json()["description"],
        "Request payload cannot be empty."
    );
}

#[tokio::test]
async fn dcr_for_the_same_name_and_owner_hands_back_the_existing_client() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let reply = send(&f.km, dcr_request(Some(ADMIN_BASIC), GUIDE_DCR_BODY)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    assert_eq!(json["clientId"], key.as_str());
    assert_eq!(json["clientSecret"], secret.as_str());
    // As carbon-apimgt's `getExistingApp`: no owner, only the grants in jsonString.
    assert_eq!(json["appOwner"], Value::Null);
    assert_eq!(
        json["jsonString"],
        r#"{"grant_types":"client_credentials password refresh_token"}"#
    );
}

#[tokio::test]
async fn dcr_for_a_name_owned_by_another_user_is_forbidden() {
    let f = fixture(1);
    register(&f.km).await;
    let other = GUIDE_DCR_BODY.replace("\"owner\": \"admin\"", "\"owner\": \"bob\"");
    let reply = send(&f.km, dcr_request(Some(ADMIN_BASIC), &other)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.json(),
        json!({"code":403,"message":"Forbidden","description":"Access is forbidden to the application","moreInfo":"","error":[]})
    );
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

#[tokio::test]
async fn the_guides_password_grant_curl_gets_a_token_with_the_requested_scopes() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    // Exactly what `curl -k -d "grant_type=password&...&scope=apim:api_create apim:api_publish"
    // -H "Authorization: Basic <b64>"` sends: a raw space in the body, curl's form content type.
    let reply = send(
        &f.km,
        form_post(
            "/oauth2/token",
            Some(&basic(&key, &secret)),
            "grant_type=password&username=admin&password=admin&scope=apim:api_create apim:api_publish",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let json = reply.json();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "refresh_token",
            "scope",
            "token_type",
            "expires_in"
        ]
    );
    assert_eq!(json["scope"], "apim:api_create apim:api_publish");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    let info =
        f.km.validate_access_token(json["access_token"].as_str().unwrap())
            .unwrap();
    assert_eq!(info.subject, "admin");
    assert_eq!(info.consumer_key, key);
    assert!(!info.application_token);
    assert_eq!(info.expires_at, START + 3600);
}

#[tokio::test]
async fn client_credentials_gets_default_scope_no_refresh_token_and_an_application_token() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    // Credentials as form fields instead of the Basic header.
    let body = format!("grant_type=client_credentials&client_id={key}&client_secret={secret}");
    let reply = send(&f.km, form_post("/oauth2/token", None, &body)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    assert!(json.get("refresh_token").is_none());
    assert_eq!(json["scope"], "default");
    let token = json["access_token"].as_str().unwrap();
    let info = f.km.validate_access_token(token).unwrap();
    assert!(info.application_token);
    assert_eq!(info.subject, "admin"); // the application's owner
    assert_eq!(jwt_part(token, 1)["aut"], "APPLICATION");
}

#[tokio::test]
async fn access_token_carries_wso2_4x_claims_and_header() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let json = password_token(&f.km, &key, &secret).await;
    let token = json["access_token"].as_str().unwrap();
    let header = jwt_part(token, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["kid"], f.km.settings().key_id.as_str());
    let claims = jwt_part(token, 1);
    let names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "sub",
            "aut",
            "aud",
            "nbf",
            "azp",
            "scope",
            "iss",
            "exp",
            "iat",
            "jti",
            "client_id"
        ]
    );
    assert_eq!(claims["sub"], "admin");
    assert_eq!(claims["aut"], "APPLICATION_USER");
    assert_eq!(claims["aud"], key.as_str());
    assert_eq!(claims["azp"], key.as_str());
    assert_eq!(claims["client_id"], key.as_str());
    assert_eq!(claims["iss"], "https://localhost:9443/oauth2/token");
    assert_eq!(claims["scope"], "apim:api_create apim:api_publish");
    assert_eq!(claims["iat"], START);
    assert_eq!(claims["nbf"], START);
    assert_eq!(claims["exp"], START + 3600);
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
    assert!(claims.get("keytype").is_none());
}

#[tokio::test]
async fn validity_period_sets_expires_in_and_exp() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let reply = send(
        &f.km,
        form_post(
            "/oauth2/token",
            Some(&basic(&key, &secret)),
            "grant_type=client_credentials&validity_period=60",
        ),
    )
    .await;
    let json = reply.json();
    assert_eq!(json["expires_in"], 60);
    assert_eq!(
        jwt_part(json["access_token"].as_str().unwrap(), 1)["exp"],
        START + 60
    );
}

#[tokio::test]
async fn refresh_token_is_single_use_and_rotated() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let first = password_token(&f.km, &key, &secret).await;
    let refresh = first["refresh_token"].as_str().unwrap();
    let auth = basic(&key, &secret);
    let body = format!("grant_type=refresh_token&refresh_token={refresh}");

    let second = send(&f.km, form_post("/oauth2/token", Some(&auth), &body)).await;
    assert_eq!(second.status, StatusCode::OK);
    let second = second.json();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["scope"], "apim:api_create apim:api_publish");
    let info =
        f.km.validate_access_token(second["access_token"].as_str().unwrap())
            .unwrap();
    assert_eq!(info.subject, "admin");
    assert!(!info.application_token);

    let replay = send(&f.km, form_post("/oauth2/token", Some(&auth), &body)).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        replay.json(),
        json!({"error_description":"Persisted access token data not found","error":"invalid_grant"})
    );

    // The rotated one works once more.
    let body = format!(
        "grant_type=refresh_token&refresh_token={}",
        second["refresh_token"].as_str().unwrap()
    );
    let third = send(&f.km, form_post("/oauth2/token", Some(&auth), &body)).await;
    assert_eq!(third.status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_secret_and_unknown_client_are_401_invalid_client_as_wso2_is() {
    let f = fixture(1);
    let (key, _) = register(&f.km).await;
    let reply = send(
        &f.km,
        form_post(
            "/oauth2/token",
            Some(&basic(&key, "wrong")),
            "grant_type=client_credentials",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.headers[header::WWW_AUTHENTICATE],
        "Basic realm=localhost"
    );
    assert_eq!(
        reply.json(),
        json!({"error_description":"Client credentials are invalid.","error":"invalid_client"})
    );

    let reply = send(
        &f.km,
        form_post(
            "/oauth2/token",
            Some(&basic("nobody", "x")),
            "grant_type=client_credentials",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json()["error_description"],
        "A valid OAuth client could not be found for client_id: nobody"
    );

    let reply = send(
        &f.km,
        form_post("/oauth2/token", None, "grant_type=client_credentials"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.json()["error_description"],
        "Client Authentication failed."
    );
}

#[tokio::test]
async fn wrong_user_password_is_400_invalid_grant() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let reply = send(
        &f.km,
        form_post(
            "/oauth2/token",
            Some(&basic(&key, &secret)),
            "grant_type=password&username=admin&password=nope",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.json(),
        json!({"error_description":"Authentication failed for admin","error":"invalid_grant"})
    );
}

#[tokio::test]
async fn bad_token_requests_get_wso2_is_errors() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let auth = basic(&key, &secret);
    let cases = [
        (
            "scope=default",
            "invalid_request",
            "Missing grant_type parameter value",
        ),
        (
            "grant_type=urn:foo",
            "invalid_request",
            "Unsupported grant_type value",
        ),
        (
            "grant_type=password&username=admin",
            "invalid_request",
            "Missing parameters: password",
        ),
        (
            "grant_type=refresh_token",
            "invalid_request",
            "Missing parameters: refresh_token",
        ),
        (
            "grant_type=client_credentials&scope=a&scope=b",
            "invalid_request",
            "Invalid request with repeated parameters.",
        ),
    ];
    for (body, error, description) in cases {
        let reply = send(&f.km, form_post("/oauth2/token", Some(&auth), body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            reply.json(),
            json!({"error_description": description, "error": error}),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_client_without_the_password_grant_cannot_use_it() {
    let f = fixture(1);
    let client = f.km.create_client(ClientSpec {
        client_name: "admin_App_PRODUCTION".into(),
        owner: "admin".into(),
        grant_types: vec!["client_credentials".into()],
        callback_url: None,
    });
    let err =
        f.km.issue_token(
            &client.consumer_key,
            &client.consumer_secret,
            TokenRequest {
                grant: Grant::Password {
                    username: "admin".into(),
                    password: "admin".into(),
                },
                scopes: vec![],
                validity_secs: None,
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "unauthorized_client");
    assert!(
        f.km.issue_token(
            &client.consumer_key,
            &client.consumer_secret,
            TokenRequest {
                grant: Grant::ClientCredentials,
                scopes: vec![],
                validity_secs: None,
            },
        )
        .unwrap()
        .refresh_token
        .is_none()
    );
}

// ---------------------------------------------------------------------------------------------
// Validation, expiry, revocation, introspection

#[tokio::test]
async fn an_expired_token_is_rejected_by_validate_access_token() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let token = password_token(&f.km, &key, &secret).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    f.clock.advance_millis(3_599_000);
    assert!(f.km.validate_access_token(&token).is_ok());
    f.clock.advance_millis(1_000);
    let err = f.km.validate_access_token(&token).unwrap_err();
    assert_eq!(err, OAuthError::InvalidToken("Access Token Expired".into()));
}

#[tokio::test]
async fn a_token_from_another_key_or_garbage_is_rejected() {
    let f = fixture(1);
    assert_eq!(
        f.km.validate_access_token("not.a.jwt").unwrap_err().code(),
        "invalid_token"
    );
    // Same key, another issuer: a key manager on another port.
    let other = KeyManager::new(
        KeyManagerSettings::new("localhost", 9444),
        Arc::new(f.clock.clone()),
        Arc::new(SeededRng::derive(1, "other")),
        Arc::new(RecordingSink::default()),
    )
    .unwrap();
    let c = other.create_client(ClientSpec {
        client_name: "x".into(),
        owner: "admin".into(),
        grant_types: vec![],
        callback_url: None,
    });
    let token = other
        .issue_token(
            &c.consumer_key,
            &c.consumer_secret,
            TokenRequest {
                grant: Grant::ClientCredentials,
                scopes: vec![],
                validity_secs: None,
            },
        )
        .unwrap()
        .access_token;
    assert!(f.km.validate_access_token(&token).is_err());
}

#[tokio::test]
async fn revoking_an_access_token_fails_validation_and_tells_the_sink_once() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let issued = password_token(&f.km, &key, &secret).await;
    let token = issued["access_token"].as_str().unwrap();
    let jti = f.km.validate_access_token(token).unwrap().jti;

    let auth = basic(&key, &secret);
    let body = format!("token={token}&token_type_hint=access_token");
    let reply = send(&f.km, form_post("/oauth2/revoke", Some(&auth), &body)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.is_empty());

    assert_eq!(
        f.km.validate_access_token(token).unwrap_err(),
        OAuthError::InvalidToken("Access Token Revoked".into())
    );
    let again = send(&f.km, form_post("/oauth2/revoke", Some(&auth), &body)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        *f.sink.0.lock().unwrap(),
        vec![RevokedToken {
            jti: jti.clone(),
            expiry_time: START + 3600
        }]
    );
    assert_eq!(f.km.revoked_tokens().len(), 1);

    // Its refresh token went with it.
    let refresh = format!(
        "grant_type=refresh_token&refresh_token={}",
        issued["refresh_token"].as_str().unwrap()
    );
    let reply = send(&f.km, form_post("/oauth2/token", Some(&auth), &refresh)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    // Forgotten once it would have expired anyway.
    f.clock.advance_millis(3_600_000);
    assert!(f.km.revoked_tokens().is_empty());
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_token() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let issued = password_token(&f.km, &key, &secret).await;
    let auth = basic(&key, &secret);
    let body = format!("token={}", issued["refresh_token"].as_str().unwrap());
    let reply = send(&f.km, form_post("/oauth2/revoke", Some(&auth), &body)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        f.km.validate_access_token(issued["access_token"].as_str().unwrap())
            .is_err()
    );
    assert_eq!(f.sink.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn revoke_needs_an_authenticated_client_and_refuses_another_clients_token() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let token = password_token(&f.km, &key, &secret).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = send(
        &f.km,
        form_post(
            "/oauth2/revoke",
            Some(&basic(&key, "bad")),
            &format!("token={token}"),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let other = f.km.create_client(ClientSpec {
        client_name: "other".into(),
        owner: "admin".into(),
        grant_types: vec![],
        callback_url: None,
    });
    let reply = send(
        &f.km,
        form_post(
            "/oauth2/revoke",
            Some(&basic(&other.consumer_key, &other.consumer_secret)),
            &format!("token={token}"),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "unauthorized_client");
    assert!(f.km.validate_access_token(&token).is_ok());
    assert!(f.sink.0.lock().unwrap().is_empty());

    // Unknown tokens are fine (RFC 7009 §2.2).
    let reply = send(
        &f.km,
        form_post(
            "/oauth2/revoke",
            Some(&basic(&key, &secret)),
            "token=whatever",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn introspection_reports_active_tokens_and_inactive_ones() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let token = password_token(&f.km, &key, &secret).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = format!("token={token}");

    let refused = send(&f.km, form_post("/oauth2/introspect", None, &body)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    let reply = send(
        &f.km,
        form_post("/oauth2/introspect", Some(ADMIN_BASIC), &body),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let json = reply.json();
    assert_eq!(json["active"], true);
    assert_eq!(json["scope"], "apim:api_create apim:api_publish");
    assert_eq!(json["client_id"], key.as_str());
    assert_eq!(json["username"], "admin@carbon.super");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["exp"], START + 3600);
    assert_eq!(json["iat"], START);
    assert_eq!(json["nbf"], START);
    assert_eq!(json["aut"], "APPLICATION_USER");
    assert!(json["jti"].is_string());

    f.km.revoke(&token).unwrap();
    let reply = send(
        &f.km,
        form_post("/oauth2/introspect", Some(ADMIN_BASIC), &body),
    )
    .await;
    assert_eq!(reply.json(), json!({"active": false}));
    let reply = send(
        &f.km,
        form_post("/oauth2/introspect", Some(ADMIN_BASIC), "token=garbage"),
    )
    .await;
    assert_eq!(reply.json(), json!({"active": false}));
}

// ---------------------------------------------------------------------------------------------
// JWKS, determinism, info

#[tokio::test]
async fn the_jwks_verifies_a_token_the_key_manager_issued() {
    let f = fixture(1);
    let (key, secret) = register(&f.km).await;
    let token = password_token(&f.km, &key, &secret).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = send(
        &f.km,
        Request::get("/oauth2/jwks").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let raw = reply.json();
    assert_eq!(raw["keys"][0]["kty"], "RSA");
    assert_eq!(raw["keys"][0]["use"], "sig");
    assert_eq!(raw["keys"][0]["alg"], "RS256");
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&reply.body).unwrap();
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let jwk = set.find(&kid).unwrap();
    let key_from_jwk = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Value>(&token, &key_from_jwk, &validation).unwrap();
    assert_eq!(data.claims["azp"], key.as_str());
}

async fn scripted_run(seed: u64) -> Vec<String> {
    let f = fixture(seed);
    let (key, secret) = register(&f.km).await;
    let first = password_token(&f.km, &key, &secret).await;
    f.clock.advance_millis(1_500);
    let cc = send(
        &f.km,
        form_post(
            "/oauth2/token",
            Some(&basic(&key, &secret)),
            "grant_type=client_credentials&scope=apim:subscribe",
        ),
    )
    .await
    .json();
    vec![
        key,
        secret,
        first["access_token"].as_str().unwrap().to_owned(),
        first["refresh_token"].as_str().unwrap().to_owned(),
        cc["access_token"].as_str().unwrap().to_owned(),
    ]
}

#[tokio::test]
async fn the_same_seed_and_calls_give_byte_identical_clients_and_tokens() {
    let a = scripted_run(42).await;
    let b = scripted_run(42).await;
    assert_eq!(a, b);
    let c = scripted_run(43).await;
    assert_ne!(a[0], c[0]);
    assert_ne!(a[2], c[2]);
}

#[tokio::test]
async fn key_manager_info_names_the_resident_key_manager() {
    let f = fixture(1);
    let info = f.km.key_manager_info();
    assert_eq!(info.name, "Resident Key Manager");
    assert_eq!(info.issuer, "https://localhost:9443/oauth2/token");
    assert_eq!(info.jwks_endpoint, "https://localhost:9443/oauth2/jwks");
}

#[test]
fn a_non_positive_default_validity_is_refused() {
    let mut settings = KeyManagerSettings::new("localhost", 9443);
    settings.default_validity_secs = 0;
    let built = KeyManager::new(
        settings,
        Arc::new(ManualClock::new(0)),
        Arc::new(SeededRng::derive(1, "x")),
        Arc::new(RecordingSink::default()),
    );
    assert!(matches!(built, Err(KeyManagerError::Validity(0))));
}
