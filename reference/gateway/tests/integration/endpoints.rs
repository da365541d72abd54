//! The Publisher's endpoint policies on the request path: URL templates, load-balanced and
//! failover endpoints (each member with its own suspension state), Basic and Digest
//! credentials to the backend.

use crate::common::*;
use crate::endpoint_suspension::{Backend, OK, RESET};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use md5::{Digest as _, Md5};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tollgate_gateway::Gateway;
use tollgate_protocol::ManualClock;
use tollgate_protocol::artifact::{
    ApiArtifact, EndpointConfig, EndpointMember, EndpointRouting, EndpointSecurity,
    EndpointSecurityType, EnvironmentType,
};

fn serving(api: ApiArtifact) -> (Arc<Gateway>, ManualClock) {
    let clock = ManualClock::new(NOW_MILLIS);
    let gw = gateway_with(settings(&["Default"]), &clock);
    gw.apply_snapshot(&snapshot("Default", vec![api], 1));
    (gw, clock)
}

fn api_at(production: String) -> ApiArtifact {
    let mut api = artifact(
        "pizza",
        "/pizzashack/1.0.0",
        EnvironmentType::Hybrid,
        Some(production),
        None,
    );
    api.name = "PizzaShackAPI".into();
    api.operations.push(op("GET", "/{val}"));
    api.operations.push(op("GET", "/search"));
    api
}

fn member(url: String, config: Option<EndpointConfig>) -> EndpointMember {
    EndpointMember { url, config }
}

fn suspending() -> EndpointConfig {
    EndpointConfig {
        suspend_error_codes: vec![101503, 101504],
        suspend_duration_ms: Some(30_000),
        ..EndpointConfig::default()
    }
}

async fn menu(gw: &Gateway) -> Answer {
    get(gw, "/pizzashack/1.0.0/menu", Some(&token(PROD_KEY))).await
}

#[tokio::test]
async fn a_path_variable_is_expanded_into_the_endpoint_and_the_path_is_still_appended() {
    let (addr, _stop) = backend().await;
    let (gw, _clock) = serving(api_at(format!("http://{addr}/echo/sub{{uri.var.val}}")));
    let plain = get(&gw, "/pizzashack/1.0.0/plainseg", Some(&token(PROD_KEY))).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    assert_eq!(plain.json()["path"], "/echo/subplainseg/plainseg");
    // An encoded segment is decoded, then encoded again by RFC 6570 simple expansion.
    let encoded = get(
        &gw,
        "/pizzashack/1.0.0/S2222-0496%2815%2927436-0",
        Some(&token(PROD_KEY)),
    )
    .await;
    assert_eq!(
        encoded.json()["path"],
        "/echo/subS2222-0496%2815%2927436-0/S2222-0496%2815%2927436-0"
    );
}

#[tokio::test]
async fn a_query_parameter_template_encodes_reserved_characters() {
    let (addr, _stop) = backend().await;
    let (gw, _clock) = serving(api_at(format!("http://{addr}/find?term={{query.param.q}}")));
    let answer = get(
        &gw,
        "/pizzashack/1.0.0/search?q=APIM:WSO2+x",
        Some(&token(PROD_KEY)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["path"], "/find/search");
    assert_eq!(answer.json()["query"], "term=APIM%3AWSO2%2Bx&q=APIM:WSO2+x");
}

#[tokio::test]
async fn a_load_balanced_endpoint_sends_requests_round_robin_to_its_members() {
    let (a, _stop_a) = backend().await;
    let (b, _stop_b) = backend().await;
    let mut api = api_at(format!("http://{a}/first"));
    api.endpoints.routing = EndpointRouting::LoadBalance { failover: false };
    api.endpoints.production_more = vec![member(format!("http://{b}/second"), None)];
    let (gw, _clock) = serving(api);
    let mut served = Vec::new();
    for _ in 0..4 {
        served.push(menu(&gw).await.served());
    }
    assert_eq!(served, ["first", "second", "first", "second"]);
}

#[tokio::test]
async fn a_load_balanced_member_that_is_suspended_is_skipped_until_its_suspension_ends() {
    let broken = Backend::start(RESET).await;
    let (good, _stop) = backend().await;
    let mut api = api_at(format!("http://{}/first", broken.addr));
    api.endpoints.production_config = Some(suspending());
    api.endpoints.routing = EndpointRouting::LoadBalance { failover: false };
    api.endpoints.production_more = vec![member(format!("http://{good}/second"), None)];
    let (gw, clock) = serving(api);
    // The first member fails and is suspended; without failover the failure is the answer.
    let first = menu(&gw).await;
    assert_eq!(first.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(first.json()["code"], "101503");
    let reached = broken.reached();
    for _ in 0..4 {
        assert_eq!(menu(&gw).await.served(), "second");
    }
    assert_eq!(
        broken.reached(),
        reached,
        "a suspended member is not called"
    );
    broken.set(OK);
    clock.advance_millis(30_000);
    for _ in 0..2 {
        assert_eq!(menu(&gw).await.status, StatusCode::OK);
    }
    assert!(
        broken.reached() > reached,
        "after the suspension it is tried again"
    );
}

#[tokio::test]
async fn a_failover_endpoint_sends_to_the_next_member_when_the_first_fails() {
    let broken = Backend::start(RESET).await;
    let (good, _stop) = backend().await;
    let mut api = api_at(format!("http://{}/primary", broken.addr));
    api.endpoints.routing = EndpointRouting::Failover;
    api.endpoints.production_more = vec![member(format!("http://{good}/standby"), None)];
    let (gw, _clock) = serving(api);
    let answer = menu(&gw).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.served(), "standby");
    broken.set(OK);
    assert_eq!(
        menu(&gw).await.status,
        StatusCode::OK,
        "the primary serves again"
    );
}

#[tokio::test]
async fn a_failover_with_every_member_suspended_answers_303000_without_calling_any() {
    let first = Backend::start(RESET).await;
    let second = Backend::start(RESET).await;
    let mut api = api_at(format!("http://{}/primary", first.addr));
    api.endpoints.production_config = Some(suspending());
    api.endpoints.routing = EndpointRouting::Failover;
    api.endpoints.production_more = vec![member(
        format!("http://{}/standby", second.addr),
        Some(suspending()),
    )];
    let (gw, _clock) = serving(api);
    let failed = menu(&gw).await;
    assert_eq!(failed.json()["code"], "101503", "the last member's failure");
    let reached = (first.reached(), second.reached());
    let refused = menu(&gw).await;
    assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(refused.json()["code"], "303000");
    assert_eq!(
        refused.json()["description"],
        "Failover endpoint : PizzaShackAPI--v1.0.0_APIproductionEndpoint - no ready child endpoints"
    );
    assert_eq!((first.reached(), second.reached()), reached);
}

#[tokio::test]
async fn a_basic_secured_endpoint_receives_the_publishers_credentials_not_the_callers_token() {
    let (addr, _stop) = backend().await;
    let mut api = api_at(format!("http://{addr}/production"));
    api.endpoints.production_security = Some(EndpointSecurity {
        kind: EndpointSecurityType::Basic,
        username: "backend".into(),
        password: "s3cret".into(),
    });
    let (gw, _clock) = serving(api);
    let answer = menu(&gw).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // base64("backend:s3cret")
    assert_eq!(answer.json()["authorization"], "Basic YmFja2VuZDpzM2NyZXQ=");
}

/// A backend that demands RFC 7616 Digest (MD5, qop=auth) from `user` / `pass` and answers
/// `{"digest":"ok"}` once the response is right.
async fn digest_backend() -> (SocketAddr, CancellationToken) {
    const CHALLENGE: &str = r#"Digest realm="backend", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let service = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
        let answer = |status: StatusCode, body: &'static str| {
            let mut builder = http::Response::builder().status(status);
            if status == StatusCode::UNAUTHORIZED {
                builder = builder.header("www-authenticate", CHALLENGE);
            }
            Ok::<_, std::convert::Infallible>(builder.body(Full::new(Bytes::from(body))).unwrap())
        };
        let Some(header) = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
        else {
            return answer(StatusCode::UNAUTHORIZED, "{}");
        };
        let field = |name: &str| -> String {
            header
                .trim_start_matches("Digest ")
                .split(", ")
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap_or("")
                .trim_matches('"')
                .to_owned()
        };
        let hex = |s: String| format!("{:x}", Md5::digest(s.as_bytes()));
        let ha1 = hex("user:backend:pass".to_owned());
        let ha2 = hex(format!("{}:{}", req.method(), field("uri")));
        let expected = hex(format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            field("nonce"),
            field("nc"),
            field("cnonce")
        ));
        if field("response") == expected
            && field("uri") == req.uri().path()
            && field("username") == "user"
        {
            answer(StatusCode::OK, r#"{"digest":"ok"}"#)
        } else {
            answer(StatusCode::UNAUTHORIZED, "{}")
        }
    });
    tokio::spawn(tollgate_net::serve(
        listener,
        None,
        service,
        std::sync::Arc::new(tollgate_protocol::ManualClock::new(0)),
        shutdown.clone(),
    ));
    (addr, shutdown)
}

#[tokio::test]
async fn a_digest_secured_endpoint_is_answered_with_a_correct_digest_response() {
    let (addr, _stop) = digest_backend().await;
    let secured = |password: &str| EndpointSecurity {
        kind: EndpointSecurityType::Digest,
        username: "user".into(),
        password: password.into(),
    };
    let mut api = api_at(format!("http://{addr}/production"));
    api.endpoints.production_security = Some(secured("pass"));
    let (gw, _clock) = serving(api.clone());
    let answer = menu(&gw).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["digest"], "ok");

    // A wrong password: the backend's second 401 is the answer.
    api.endpoints.production_security = Some(secured("wrong"));
    let (gw, _clock) = serving(api);
    assert_eq!(menu(&gw).await.status, StatusCode::UNAUTHORIZED);
}
