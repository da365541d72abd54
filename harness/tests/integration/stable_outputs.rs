//! Snapshots (insta, `snapshots/harness/`) of outputs that must not drift: every WSO2 error
//! body the gateway produces, and the Developer Portal's URL lists for the guide's deployment.
//! A change here is a change users see; review it with `cargo insta review`.

use crate::common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tollgate_gateway::respond::{self, InvalidToken};
use tollgate_gateway::{GatewayError, ThrottleCode};

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots/harness"), prepend_module_to_snapshot => false}, {
            insta::assert_json_snapshot!($name, $value);
        });
    };
}

/// Every refusal, as WSO2 4.2 renders it: status, the headers that matter, the body.
#[tokio::test]
async fn every_wso2_error_body_the_gateway_produces_is_a_snapshot() {
    // One minute after the scenarios' clock start: a throttle decision's expiry.
    let expiry = START_MILLIS + 60_000;
    let errors = [
        ("no API at this context", GatewayError::NoApi),
        (
            "transport not allowed",
            GatewayError::UnsupportedTransport("https"),
        ),
        ("API blocked", GatewayError::ApiBlocked),
        ("no matching resource", GatewayError::NoMatchingResource),
        ("method not allowed", GatewayError::MethodNotAllowed),
        ("missing credentials", GatewayError::MissingCredentials),
        (
            "invalid credentials",
            GatewayError::InvalidCredentials(InvalidToken::Expired),
        ),
        ("no subscription", GatewayError::Forbidden),
        ("subscription blocked", GatewayError::SubscriptionBlocked),
        ("subscription inactive", GatewayError::SubscriptionInactive),
        (
            "scope missing",
            GatewayError::InvalidScope {
                resource: "/menu:GET".into(),
            },
        ),
        (
            "sandbox key on a production gateway",
            GatewayError::SandboxKeyOnProductionGateway,
        ),
        (
            "production key on a sandbox gateway",
            GatewayError::ProductionKeyOnSandboxGateway,
        ),
        ("no sandbox endpoint", GatewayError::NoSandboxEndpoint),
        ("no production endpoint", GatewayError::NoProductionEndpoint),
        (
            "backend unreachable",
            GatewayError::BackendUnreachable("connection refused".into()),
        ),
        ("backend timed out", GatewayError::BackendTimeout),
        ("deny policy", GatewayError::MessageBlocked),
        (
            "subscription quota spent",
            GatewayError::ThrottledOut {
                code: ThrottleCode::Subscription,
                next_access: Some(expiry),
            },
        ),
        (
            "subscription burst",
            GatewayError::ThrottledOut {
                code: ThrottleCode::SubscriptionBurst,
                next_access: None,
            },
        ),
        ("hard limit", GatewayError::HardLimit),
    ];
    let mut rendered = Vec::new();
    for (what, error) in errors {
        let response = respond::error(&error, None);
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| Value::from(v.to_str().unwrap()))
        };
        let mut headers = serde_json::Map::new();
        for name in ["content-type", "www-authenticate", "retry-after"] {
            if let Some(value) = header(name) {
                headers.insert(name.to_owned(), value);
            }
        }
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(body.to_vec()).unwrap();
        rendered.push(json!({
            "when": what,
            "status": status,
            "headers": headers,
            // The body byte for byte: key order is part of what WSO2 clients may see.
            "body": text,
        }));
    }
    snapshot!("gateway_error_bodies", rendered);
}

/// The guide's step 4.4: one revision deployed to both environments shows two sets of URLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_developer_portal_url_lists_of_the_guides_deployment_are_a_snapshot() {
    let topology = boot("guide", 1).await;
    let session = Session::open(topology.client()).await;
    let api_id = session
        .published_pizzashack(&["Production Gateway", "Default"])
        .await;
    let api = session
        .get(&format!("/api/am/devportal/v3/apis/{api_id}"), 200)
        .await;
    snapshot!("devportal_endpoint_urls_guide", api["endpointURLs"]);
    topology.shutdown().await;
}
