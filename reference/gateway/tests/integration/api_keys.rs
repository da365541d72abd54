//! API keys on the request path (`ApiKeyAuthenticator`): the `apikey` header or query
//! parameter, signed keys with `token_type = "apiKey"`, their key type, subscription, revocation
//! and permitted addresses and referers.

use crate::common::*;
use http::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use tollgate_gateway::Gateway;
use tollgate_gateway::route::Transport;
use tollgate_net::security::DEFAULT_KEY_PEM;
use tollgate_protocol::ManualClock;
use tollgate_protocol::artifact::EnvironmentType;
use tollgate_protocol::event::Event;
use tollgate_protocol::store::RevokedToken;

fn serving(schemes: &[&str], addr: std::net::SocketAddr) -> (Arc<Gateway>, ManualClock) {
    let clock = ManualClock::new(NOW_MILLIS);
    let gw = gateway_with(settings(&["Default"]), &clock);
    let (production, sandbox) = endpoints(addr);
    let mut api = artifact(
        "pizza",
        "/pizzashack/1.0.0",
        EnvironmentType::Hybrid,
        production,
        sandbox,
    );
    api.security_scheme = schemes.iter().map(|s| s.to_string()).collect();
    gw.apply_snapshot(&snapshot("Default", vec![api], 1));
    (gw, clock)
}

/// An API key as the Developer Portal signs it for application `app`.
fn api_key(app: &str, keytype: &str, extra: serde_json::Value) -> String {
    let mut claims = json!({
        "sub": "admin@carbon.super",
        "iss": ISSUER,
        "iat": NOW,
        "jti": format!("apikey-{app}-{keytype}"),
        "keytype": keytype,
        "token_type": "apiKey",
        "application": {"id": app, "uuid": app, "name": app, "owner": "admin",
            "tier": "Unlimited", "tierQuotaType": "requestCount"},
        "subscribedAPIs": [], "tierInfo": {},
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    sign_api_key(&claims, "gateway_certificate_alias")
}

fn sign_api_key(claims: &serde_json::Value, kid: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.into());
    header.typ = Some("JWT".into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(DEFAULT_KEY_PEM.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

async fn with_key(gw: &Gateway, key: &str, extra: &[(&str, &str)]) -> Answer {
    let mut headers = vec![("apikey", key)];
    headers.extend_from_slice(extra);
    call(
        gw,
        Method::GET,
        "/pizzashack/1.0.0/menu",
        &headers,
        Transport::Https,
    )
    .await
}

#[tokio::test]
async fn an_api_key_reaches_the_endpoint_of_its_key_type_without_the_key() {
    let (addr, _stop) = backend().await;
    let (gw, _clock) = serving(&["oauth2", "api_key"], addr);
    let production = with_key(&gw, &api_key(APP, "PRODUCTION", json!({})), &[]).await;
    assert_eq!(production.status, StatusCode::OK, "{}", production.body);
    assert_eq!(production.served(), "production");
    let sandbox = with_key(&gw, &api_key(APP, "SANDBOX", json!({})), &[]).await;
    assert_eq!(sandbox.served(), "sandbox");
    // In the query too; a bearer token still works on the same API.
    let key = api_key(APP, "PRODUCTION", json!({}));
    let by_query = call(
        &gw,
        Method::GET,
        &format!("/pizzashack/1.0.0/menu?apikey={key}"),
        &[],
        Transport::Https,
    )
    .await;
    assert_eq!(by_query.status, StatusCode::OK, "{}", by_query.body);
    assert_eq!(
        get(&gw, "/pizzashack/1.0.0/menu", Some(&token(PROD_KEY)))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_api_without_the_api_key_scheme_ignores_api_keys() {
    let (addr, _stop) = backend().await;
    let (gw, _clock) = serving(&["oauth2"], addr);
    let answer = with_key(&gw, &api_key(APP, "PRODUCTION", json!({})), &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["code"], "900902");
}

#[tokio::test]
async fn an_api_key_only_api_refuses_bearer_tokens_as_missing_credentials() {
    let (addr, _stop) = backend().await;
    let (gw, _clock) = serving(&["api_key"], addr);
    let answer = get(&gw, "/pizzashack/1.0.0/menu", Some(&token(PROD_KEY))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["code"], "900902");
}

#[tokio::test]
async fn a_bad_expired_or_revoked_api_key_is_invalid_credentials() {
    let (addr, _stop) = backend().await;
    let (gw, clock) = serving(&["api_key"], addr);
    let not_an_api_key = sign(&claims(PROD_KEY, "default", "j1", NOW + 3600));
    let valid_claims: serde_json::Value = {
        let key = api_key(APP, "PRODUCTION", json!({}));
        let payload = key.split('.').nth(1).unwrap().to_owned();
        use base64::Engine as _;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    for key in [
        not_an_api_key,
        sign_api_key(&valid_claims, "wso2carbon"),
        sign_api_key(&valid_claims, "../../etc/passwd"),
        "a.b.c".to_owned(),
        api_key(APP, "PRODUCTION", json!({"exp": NOW - 1})),
        api_key(APP, "TESTING", json!({})),
    ] {
        let answer = with_key(&gw, &key, &[]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{key}");
        assert_eq!(answer.json()["code"], "900901");
    }
    // A key with an `exp` works until then.
    let expiring = api_key(APP, "PRODUCTION", json!({"exp": NOW + 60}));
    assert_eq!(with_key(&gw, &expiring, &[]).await.status, StatusCode::OK);
    clock.advance_millis(60_000);
    assert_eq!(
        with_key(&gw, &expiring, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    let key = api_key(APP, "PRODUCTION", json!({}));
    assert_eq!(with_key(&gw, &key, &[]).await.status, StatusCode::OK);
    gw.apply_event(&envelope(
        2,
        Event::TokenRevocation {
            token: RevokedToken {
                jti: format!("apikey-{APP}-PRODUCTION"),
                expiry_time: i64::MAX,
            },
        },
    ));
    let revoked = with_key(&gw, &key, &[]).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked.json()["code"], "900901");
}

#[tokio::test]
async fn an_api_key_of_an_unsubscribed_application_is_forbidden() {
    let (addr, _stop) = backend().await;
    let (gw, _clock) = serving(&["api_key"], addr);
    let answer = with_key(&gw, &api_key("app-2", "PRODUCTION", json!({})), &[]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.json()["code"], "900908");
}

#[tokio::test]
async fn permitted_addresses_and_referers_are_enforced() {
    let (addr, _stop) = backend().await;
    let (gw, _clock) = serving(&["api_key"], addr);
    let key = api_key(
        APP,
        "PRODUCTION",
        json!({"permittedIP": "10.0.0.0/8, 192.168.1.7"}),
    );
    let inside = with_key(&gw, &key, &[("x-forwarded-for", "10.2.3.4")]).await;
    assert_eq!(inside.status, StatusCode::OK, "{}", inside.body);
    let outside = with_key(&gw, &key, &[("x-forwarded-for", "11.0.0.1")]).await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN);
    assert_eq!(outside.json()["code"], "900908");
    assert_eq!(
        outside.json()["description"],
        "Access forbidden for the invocations"
    );
    let key = api_key(
        APP,
        "PRODUCTION",
        json!({"permittedReferer": "www.example.com/*"}),
    );
    let from_site = with_key(&gw, &key, &[("referer", "www.example.com/shop")]).await;
    assert_eq!(from_site.status, StatusCode::OK);
    let elsewhere = with_key(&gw, &key, &[("referer", "evil.example/")]).await;
    assert_eq!(elsewhere.status, StatusCode::FORBIDDEN);
}
