//! The Publisher's internal key on the request path (`InternalAPIKeyAuthenticator`): the
//! `Internal-Key` header, read before any other credential, for the API it names only.

use crate::common::*;
use http::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use tollgate_gateway::Gateway;
use tollgate_gateway::route::Transport;
use tollgate_net::security::DEFAULT_KEY_PEM;
use tollgate_protocol::ManualClock;
use tollgate_protocol::artifact::EnvironmentType;

fn serving(addr: std::net::SocketAddr) -> (Arc<Gateway>, ManualClock) {
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
    // A scope on every resource: the internal key skips scope checks.
    for operation in &mut api.operations {
        operation.scopes = vec!["pizza:admin".into()];
    }
    gw.apply_snapshot(&snapshot("Default", vec![api], 1));
    (gw, clock)
}

/// An internal key as the Publisher signs it.
fn internal_key(context: &str, token_type: &str, exp: i64, kid: &str) -> String {
    let claims = json!({
        "sub": "admin@carbon.super", "iss": ISSUER, "iat": NOW, "exp": exp, "jti": "ik-1",
        "subscribedAPIs": [{"name": "pizza", "context": context, "version": "1.0.0",
            "publisher": "admin"}],
        "keytype": "PRODUCTION", "token_type": token_type,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(DEFAULT_KEY_PEM.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn with(gw: &Gateway, headers: &[(&str, &str)]) -> Answer {
    call(
        gw,
        Method::GET,
        "/pizzashack/1.0.0/menu",
        headers,
        Transport::Https,
    )
    .await
}

#[tokio::test]
async fn an_internal_key_for_the_api_is_served_without_subscription_or_scope() {
    let (addr, _stop) = backend().await;
    let (gw, _clock) = serving(addr);
    let key = internal_key(
        "/pizzashack/1.0.0",
        "InternalKey",
        NOW + 60_000,
        "gateway_certificate_alias",
    );
    let answer = with(&gw, &[("Internal-Key", &key)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.served(), "production");
    // Read before the bearer token: a broken token beside it changes nothing.
    let answer = with(
        &gw,
        &[("Internal-Key", &key), ("Authorization", "Bearer broken")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn internal_keys_of_another_api_type_signer_or_time_are_refused_as_wso2_refuses_them() {
    let (addr, _stop) = backend().await;
    let (gw, clock) = serving(addr);
    let alias = "gateway_certificate_alias";
    let other_api = internal_key("/other/1.0.0", "InternalKey", NOW + 60, alias);
    let answer = with(&gw, &[("Internal-Key", &other_api)]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(answer.json()["code"], "900908");

    for (key, why) in [
        (
            internal_key("/pizzashack/1.0.0", "apiKey", NOW + 60, alias),
            "an API key is not an internal key",
        ),
        (
            internal_key("/pizzashack/1.0.0", "InternalKey", NOW + 60, "wso2carbon"),
            "signed under another alias",
        ),
        ("not.a.jwt".to_owned(), "malformed"),
    ] {
        let answer = with(&gw, &[("Internal-Key", &key)]).await;
        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{why}: {}",
            answer.body
        );
        assert_eq!(answer.json()["code"], "900901", "{why}");
    }

    let key = internal_key("/pizzashack/1.0.0", "InternalKey", NOW + 60, alias);
    assert_eq!(with(&gw, &[("Internal-Key", &key)]).await.status, 200);
    clock.set_millis((NOW + 60) * 1000);
    let expired = with(&gw, &[("Internal-Key", &key)]).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert_eq!(expired.json()["code"], "900901");
}
