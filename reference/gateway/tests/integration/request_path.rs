//! The request path end to end, through `Gateway::handle` and a loopback backend.

use crate::common::*;
use http::{Method, StatusCode};
use hyper::service::Service;
use tollgate_gateway::Transport;
use tollgate_protocol::ManualClock;
use tollgate_protocol::artifact::EnvironmentType;
use tollgate_protocol::event::Event;
use tollgate_protocol::store::{RevokedToken, SubscriptionStatus};

/// A gateway (label `Default`) serving `artifacts`, the clock it reads, and the backend.
async fn serving(
    artifacts: impl FnOnce(std::net::SocketAddr) -> Vec<tollgate_protocol::artifact::ApiArtifact>,
) -> (
    std::sync::Arc<tollgate_gateway::Gateway>,
    ManualClock,
    tokio_util::sync::CancellationToken,
) {
    let (addr, backend_stop) = backend().await;
    let clock = ManualClock::new(NOW_MILLIS);
    let gw = gateway_with(settings(&["Default"]), &clock);
    gw.apply_snapshot(&snapshot("Default", artifacts(addr), 10));
    (gw, clock, backend_stop)
}

async fn pizzashack() -> (
    std::sync::Arc<tollgate_gateway::Gateway>,
    ManualClock,
    tokio_util::sync::CancellationToken,
) {
    serving(|addr| {
        let (p, s) = endpoints(addr);
        vec![artifact(
            "pizza",
            "/pizzashack/1.0.0",
            EnvironmentType::Hybrid,
            p,
            s,
        )]
    })
    .await
}

/// (environment, API endpoints, key) → the endpoint that served, or (status, snapshot name).
type MatrixCase = (
    EnvironmentType,
    &'static str,
    &'static str,
    Result<&'static str, (u16, &'static str)>,
);

#[tokio::test]
async fn key_type_matrix_matches_wso2_for_every_environment_endpoint_and_key() {
    use EnvironmentType::*;
    let production_key = token(PROD_KEY);
    let sandbox_key = token(SANDBOX_KEY);
    let cases: &[MatrixCase] = &[
        (Hybrid, "both", "P", Ok("production")),
        (Hybrid, "both", "S", Ok("sandbox")),
        (Hybrid, "prod", "P", Ok("production")),
        (
            Hybrid,
            "prod",
            "S",
            Err((403, "sandbox_key_no_sandbox_endpoint")),
        ),
        (
            Hybrid,
            "sand",
            "P",
            Err((403, "production_key_no_production_endpoint")),
        ),
        (Hybrid, "sand", "S", Ok("sandbox")),
        (Production, "both", "P", Ok("production")),
        (
            Production,
            "both",
            "S",
            Err((401, "sandbox_key_on_production_gateway")),
        ),
        (Production, "prod", "P", Ok("production")),
        (
            Production,
            "prod",
            "S",
            Err((401, "sandbox_key_on_production_gateway")),
        ),
        // UNCONFIRMED on WSO2; we answer as hybrid does (see key_type.rs).
        (
            Production,
            "sand",
            "P",
            Err((403, "production_key_no_production_endpoint")),
        ),
        (
            Production,
            "sand",
            "S",
            Err((401, "sandbox_key_on_production_gateway")),
        ),
        (
            Sandbox,
            "both",
            "P",
            Err((401, "production_key_on_sandbox_gateway")),
        ),
        (Sandbox, "both", "S", Ok("sandbox")),
        (
            Sandbox,
            "prod",
            "P",
            Err((401, "production_key_on_sandbox_gateway")),
        ),
        (
            Sandbox,
            "prod",
            "S",
            Err((403, "sandbox_key_no_sandbox_endpoint")),
        ),
        (
            Sandbox,
            "sand",
            "P",
            Err((401, "production_key_on_sandbox_gateway")),
        ),
        (Sandbox, "sand", "S", Ok("sandbox")),
    ];
    for env in [Hybrid, Production, Sandbox] {
        let (gw, _clock, _stop) = serving(|addr| {
            let (p, s) = endpoints(addr);
            vec![
                artifact("both", "/both/1.0.0", env, p.clone(), s.clone()),
                artifact("prod", "/prod/1.0.0", env, p, None),
                artifact("sand", "/sand/1.0.0", env, None, s),
            ]
        })
        .await;
        for (case_env, api, key, expected) in cases.iter().filter(|c| c.0 == env) {
            let token = if *key == "P" {
                &production_key
            } else {
                &sandbox_key
            };
            let answer = get(&gw, &format!("/{api}/1.0.0/menu"), Some(token)).await;
            let case = format!("{case_env:?} / {api} / {key}");
            match expected {
                Ok(served) => {
                    assert_eq!(answer.status, StatusCode::OK, "{case}: {}", answer.body);
                    assert_eq!(answer.served(), *served, "{case}");
                }
                Err((status, name)) => {
                    assert_eq!(answer.status.as_u16(), *status, "{case}: {}", answer.body);
                    assert_wso2_snapshot!(*name, answer.rendered());
                }
            }
        }
    }
}

#[tokio::test]
async fn sandbox_key_on_production_gateway_is_refused_with_401_xml() {
    let (gw, _clock, _stop) = serving(|addr| {
        let (p, s) = endpoints(addr);
        vec![artifact("a", "/a/1.0.0", EnvironmentType::Production, p, s)]
    })
    .await;
    let answer = get(&gw, "/a/1.0.0/menu", Some(&token(SANDBOX_KEY))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.headers["content-type"], "application/xml");
    assert_eq!(
        answer.body,
        "<error><message>Sandbox Key Provided for Production Gateway</message></error>"
    );
}

#[tokio::test]
async fn a_request_without_a_token_is_refused_as_missing_credentials() {
    let (gw, _clock, _stop) = pizzashack().await;
    let answer = get(&gw, "/pizzashack/1.0.0/menu", None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["code"], "900902");
    assert_wso2_snapshot!("missing_credentials", answer.rendered());
    // A non-Bearer scheme is no credential either.
    let basic = call(
        &gw,
        Method::GET,
        "/pizzashack/1.0.0/menu",
        &[("authorization", "Basic YWRtaW46YWRtaW4=")],
        Transport::Https,
    )
    .await;
    assert_eq!(basic.json()["code"], "900902");
}

#[tokio::test]
async fn malformed_forged_unsigned_and_foreign_tokens_are_invalid_credentials() {
    let (gw, _clock, _stop) = pizzashack().await;
    let good = token(PROD_KEY);
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    // Flip one signature character: a bad signature.
    let mut forged_sig: Vec<u8> = signature.bytes().collect();
    forged_sig[5] = if forged_sig[5] == b'A' { b'B' } else { b'A' };
    let forged = format!(
        "{head}.{payload}.{}",
        String::from_utf8(forged_sig).unwrap()
    );
    // `alg: none`, unsigned.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none_header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{payload}.");
    // HS256 "signed" with the public key as secret: the classic confusion attack.
    let hs_header = b64.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let hs = format!("{hs_header}.{payload}.{signature}");
    // Signed right, issued by a key manager this gateway does not know.
    let mut foreign = claims(PROD_KEY, "default", "jti-foreign", NOW + 3600);
    foreign["iss"] = "https://evil.example.com/oauth2/token".into();
    let foreign = sign(&foreign);
    for (what, token) in [
        ("malformed", "not-a-jwt".to_owned()),
        ("two parts", format!("{head}.{payload}")),
        ("bad signature", forged),
        ("alg none", unsigned),
        ("alg HS256", hs),
        ("unknown issuer", foreign),
    ] {
        let answer = get(&gw, "/pizzashack/1.0.0/menu", Some(&token)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(answer.json()["code"], "900901", "{what}");
        assert_wso2_snapshot!("invalid_credentials", answer.rendered());
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_even_after_it_was_cached() {
    let (gw, clock, _stop) = pizzashack().await;
    let short = sign(&claims(PROD_KEY, "default", "jti-short", NOW + 60));
    assert_eq!(
        get(&gw, "/pizzashack/1.0.0/menu", Some(&short))
            .await
            .status,
        StatusCode::OK
    );
    clock.advance_millis(60_000);
    let answer = get(&gw, "/pizzashack/1.0.0/menu", Some(&short)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["code"], "900901");
    // Minted already expired: never cached, same answer.
    let stale = sign(&claims(PROD_KEY, "default", "jti-stale", NOW - 1));
    assert_eq!(
        get(&gw, "/pizzashack/1.0.0/menu", Some(&stale))
            .await
            .json()["code"],
        "900901"
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_from_the_next_request_on() {
    let (gw, _clock, _stop) = pizzashack().await;
    let t = token(PROD_KEY);
    assert_eq!(
        get(&gw, "/pizzashack/1.0.0/menu", Some(&t)).await.status,
        StatusCode::OK
    );
    gw.apply_event(&envelope(
        11,
        Event::TokenRevocation {
            token: RevokedToken {
                jti: format!("jti-{PROD_KEY}"),
                expiry_time: NOW + 3600,
            },
        },
    ));
    let answer = get(&gw, "/pizzashack/1.0.0/menu", Some(&t)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["code"], "900901");
    assert_eq!(gw.status().applied_seq, 11);
}

#[tokio::test]
async fn a_client_without_a_subscription_or_key_mapping_is_forbidden() {
    let (gw, _clock, _stop) = pizzashack().await;
    for key in [UNSUBSCRIBED_KEY, "unknownConsumerKey"] {
        let answer = get(&gw, "/pizzashack/1.0.0/menu", Some(&token(key))).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{key}");
        assert!(!answer.headers.contains_key("www-authenticate"));
        assert_wso2_snapshot!("resource_forbidden", answer.rendered());
    }
}

#[tokio::test]
async fn subscription_states_block_or_deactivate_as_wso2_does() {
    let cases = [
        (
            SubscriptionStatus::Blocked,
            PROD_KEY,
            401,
            Some("subscription_blocked"),
        ),
        (
            SubscriptionStatus::Blocked,
            SANDBOX_KEY,
            401,
            Some("subscription_blocked"),
        ),
        (
            SubscriptionStatus::ProdOnlyBlocked,
            PROD_KEY,
            401,
            Some("subscription_blocked"),
        ),
        (SubscriptionStatus::ProdOnlyBlocked, SANDBOX_KEY, 200, None),
        (
            SubscriptionStatus::OnHold,
            PROD_KEY,
            401,
            Some("subscription_inactive"),
        ),
        (
            SubscriptionStatus::Rejected,
            PROD_KEY,
            401,
            Some("subscription_inactive"),
        ),
        (SubscriptionStatus::TierUpdatePending, PROD_KEY, 200, None),
    ];
    let (gw, _clock, _stop) = pizzashack().await;
    for (seq, (status, key, expected, name)) in (11..).zip(cases) {
        gw.apply_event(&envelope(
            seq,
            Event::SubscriptionsUpdate {
                subscription: subscription("sub-pizza", APP, "pizza", status),
            },
        ));
        let answer = get(&gw, "/pizzashack/1.0.0/menu", Some(&token(key))).await;
        assert_eq!(
            answer.status.as_u16(),
            expected,
            "{status:?} {key}: {}",
            answer.body
        );
        if let Some(name) = name {
            assert_wso2_snapshot!(name, answer.rendered());
        }
    }
}

#[tokio::test]
async fn any_one_of_the_resource_scopes_is_enough_and_none_is_forbidden() {
    let (gw, _clock, _stop) = serving(|addr| {
        let (p, s) = endpoints(addr);
        let mut a = artifact("pizza", "/pizzashack/1.0.0", EnvironmentType::Hybrid, p, s);
        a.operations[0].scopes = vec!["menu:read".into(), "admin".into()];
        vec![a]
    })
    .await;
    let without = sign(&claims(PROD_KEY, "default", "j1", NOW + 3600));
    let answer = get(&gw, "/pizzashack/1.0.0/menu", Some(&without)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_wso2_snapshot!("invalid_scope", answer.rendered());
    let with = sign(&claims(PROD_KEY, "default admin", "j2", NOW + 3600));
    assert_eq!(
        get(&gw, "/pizzashack/1.0.0/menu", Some(&with)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_context_unmatched_path_and_wrong_verb_get_wso2s_404_and_405() {
    let (gw, _clock, _stop) = pizzashack().await;
    let t = token(PROD_KEY);
    let answer = get(&gw, "/nowhere/1.0.0/menu", Some(&t)).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_wso2_snapshot!("unknown_context", answer.rendered());
    let answer = get(&gw, "/pizzashack/1.0.0/drinks", Some(&t)).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_wso2_snapshot!("no_matching_resource", answer.rendered());
    let auth = format!("Bearer {t}");
    let answer = call(
        &gw,
        Method::DELETE,
        "/pizzashack/1.0.0/menu",
        &[("authorization", &auth)],
        Transport::Https,
    )
    .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_wso2_snapshot!("method_not_allowed", answer.rendered());
}

#[tokio::test]
async fn path_parameters_wildcards_and_query_reach_the_backend_without_the_token() {
    let (gw, _clock, _stop) = pizzashack().await;
    let t = token(PROD_KEY);
    let answer = get(&gw, "/pizzashack/1.0.0/order/42?verbose=true", Some(&t)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let echo = answer.json();
    assert_eq!(echo["path"], "/production/order/42");
    assert_eq!(echo["query"], "verbose=true");
    assert_eq!(
        echo["authorization"],
        serde_json::Value::Null,
        "Authorization is stripped"
    );
    assert!(echo["host"].as_str().unwrap().starts_with("127.0.0.1:"));
    let answer = get(&gw, "/pizzashack/1.0.0/files/a/b.txt", Some(&t)).await;
    assert_eq!(answer.json()["path"], "/production/files/a/b.txt");
    // Other request headers are forwarded.
    let auth = format!("Bearer {t}");
    let answer = call(
        &gw,
        Method::GET,
        "/pizzashack/1.0.0/menu",
        &[("authorization", &auth), ("x-custom", "kept")],
        Transport::Http,
    )
    .await;
    assert_eq!(answer.json()["custom"], "kept");
}

#[tokio::test]
async fn a_resource_without_authentication_runs_as_a_production_key() {
    let (gw, _clock, _stop) = serving(|addr| {
        let (p, s) = endpoints(addr);
        let mut hybrid = artifact(
            "open",
            "/open/1.0.0",
            EnvironmentType::Hybrid,
            p.clone(),
            s.clone(),
        );
        hybrid.operations[0].auth_type = "None".into();
        let mut sandbox = artifact("opensb", "/opensb/1.0.0", EnvironmentType::Sandbox, p, s);
        sandbox.operations[0].auth_type = "None".into();
        vec![hybrid, sandbox]
    })
    .await;
    let answer = get(&gw, "/open/1.0.0/menu", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.served(), "production");
    // 4.2's filter still runs on a protected API: PRODUCTION on a sandbox gateway is refused.
    let answer = get(&gw, "/opensb/1.0.0/menu", None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_wso2_snapshot!("production_key_on_sandbox_gateway", answer.rendered());
    // Other resources of the API still need a token.
    assert_eq!(
        get(&gw, "/open/1.0.0/order/1", None).await.json()["code"],
        "900902"
    );
}

#[tokio::test]
async fn preflight_is_answered_by_the_gateway_and_responses_carry_cors_headers() {
    let (gw, _clock, _stop) = pizzashack().await;
    let answer = call(
        &gw,
        Method::OPTIONS,
        "/pizzashack/1.0.0/order",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "POST"),
        ],
        Transport::Https,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "", "no backend involved");
    assert_eq!(answer.headers["access-control-allow-origin"], "*");
    assert_eq!(answer.headers["access-control-allow-methods"], "POST");
    assert_eq!(
        answer.headers["access-control-allow-headers"],
        "authorization,Access-Control-Allow-Origin,Content-Type,SOAPAction"
    );
    assert!(
        !answer
            .headers
            .contains_key("access-control-allow-credentials")
    );
    // A normal response and an auth failure both carry them.
    let ok = get(&gw, "/pizzashack/1.0.0/menu", Some(&token(PROD_KEY))).await;
    assert_eq!(ok.headers["access-control-allow-origin"], "*");
    assert_eq!(ok.headers["access-control-allow-methods"], "GET");
    let refused = get(&gw, "/pizzashack/1.0.0/menu", None).await;
    assert_eq!(refused.headers["access-control-allow-origin"], "*");
    // 404 is answered before a resource is chosen: no CORS headers, as on WSO2.
    let missing = get(&gw, "/pizzashack/1.0.0/nothing", None).await;
    assert!(!missing.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn a_listed_origin_is_echoed_with_credentials_when_enabled() {
    let (addr, _stop) = backend().await;
    let clock = ManualClock::new(NOW_MILLIS);
    let mut s = settings(&["Default"]);
    s.cors.allow_origins = vec!["https://app.example.com".into()];
    s.cors.allow_credentials = true;
    let gw = gateway_with(s, &clock);
    let (p, sb) = endpoints(addr);
    gw.apply_snapshot(&snapshot(
        "Default",
        vec![artifact(
            "pizza",
            "/pizzashack/1.0.0",
            EnvironmentType::Hybrid,
            p,
            sb,
        )],
        1,
    ));
    let answer = call(
        &gw,
        Method::OPTIONS,
        "/pizzashack/1.0.0/menu",
        &[
            ("origin", "https://app.example.com"),
            ("access-control-request-method", "GET"),
        ],
        Transport::Https,
    )
    .await;
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(answer.headers["access-control-allow-credentials"], "true");
}

#[tokio::test]
async fn a_blocked_api_answers_503_and_a_refused_transport_403() {
    let (gw, _clock, _stop) = serving(|addr| {
        let (p, s) = endpoints(addr);
        let mut blocked = artifact(
            "blocked",
            "/blocked/1.0.0",
            EnvironmentType::Hybrid,
            p.clone(),
            s.clone(),
        );
        blocked.lifecycle_status = "BLOCKED".into();
        let mut tls_only = artifact("tls", "/tls/1.0.0", EnvironmentType::Hybrid, p, s);
        tls_only.transport = vec!["https".into()];
        vec![blocked, tls_only]
    })
    .await;
    let answer = get(&gw, "/blocked/1.0.0/menu", Some(&token(PROD_KEY))).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_wso2_snapshot!("api_blocked", answer.rendered());
    let answer = call(&gw, Method::GET, "/tls/1.0.0/menu", &[], Transport::Http).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_wso2_snapshot!("unsupported_transport", answer.rendered());
}

#[tokio::test]
async fn a_dead_backend_is_wso2s_101503_fault() {
    // Held for the test: connections to it are refused, and no other bind can take it.
    let dead = tollgate_net::DeadPort::new().unwrap();
    let clock = ManualClock::new(NOW_MILLIS);
    let gw = gateway_with(settings(&["Default"]), &clock);
    gw.apply_snapshot(&snapshot(
        "Default",
        vec![artifact(
            "pizza",
            "/pizzashack/1.0.0",
            EnvironmentType::Hybrid,
            Some(format!("http://{}/production", dead.addr())),
            None,
        )],
        1,
    ));
    let answer = get(&gw, "/pizzashack/1.0.0/menu", Some(&token(PROD_KEY))).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.headers["access-control-allow-origin"], "*");
    assert_wso2_snapshot!("backend_connection_failed", answer.rendered());
}

#[tokio::test]
async fn the_passthrough_service_serves_the_same_path_as_handle() {
    let (gw, _clock, _stop) = pizzashack().await;
    let service = gw.passthrough(Transport::Https);
    let request = http::Request::get("/pizzashack/1.0.0/menu")
        .header("authorization", format!("Bearer {}", token(PROD_KEY)))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let response = service.call(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
