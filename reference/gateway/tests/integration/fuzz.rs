//! Fuzzing on the stable toolchain: the token parser and the request path, with proptest.
//!
//! `cargo test` runs a short pass (256 cases per target). `TOLLGATE_FUZZ_CASES=N` runs N per
//! target; each prints its executions per second so a long run can be sized (docs/security.md).
//! A panic anywhere fails the test with the shrunk input.

use crate::common::*;
use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::sync::Arc;
use tollgate_gateway::authenticate::{JwtVerifier, TokenCache, TrustedKey, authenticate};
use tollgate_gateway::{Gateway, Transport};
use tollgate_net::security::{DEFAULT_KEY_ALIAS, DEFAULT_PUBLIC_KEY_PEM};
use tollgate_protocol::ManualClock;
use tollgate_protocol::artifact::EnvironmentType;

/// Cases per target: `TOLLGATE_FUZZ_CASES`, else 256.
fn cases() -> u32 {
    std::env::var("TOLLGATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Runs `test` over `strategy` for [`cases`] cases and prints the rate.
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value)) {
    let cases = cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    // The one wall-clock reading here: how fast the target runs, for the report only.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::SystemTime::now();
    runner
        .run(&strategy, |value| {
            test(value);
            Ok(())
        })
        .unwrap();
    let secs = started
        .elapsed()
        .unwrap_or_default()
        .as_secs_f64()
        .max(1e-9);
    eprintln!(
        "fuzz {name}: {cases} executions, {:.0}/s, 0 panics",
        f64::from(cases) / secs
    );
}

/// Token-shaped text: base64url-ish parts joined by dots, with hostile bytes mixed in.
fn token_text() -> impl Strategy<Value = String> {
    let part = "[A-Za-z0-9_=+/%.-]{0,40}|eyJ[A-Za-z0-9_-]{0,60}|\\PC{0,20}";
    prop::collection::vec(part, 0..6).prop_map(|parts| parts.join("."))
}

/// A JOSE header or claims object as JSON, valid or close to it, base64url-encoded.
fn json_part() -> impl Strategy<Value = String> {
    use base64::Engine;
    let value = prop_oneof![
        Just("\"RS256\"".to_owned()),
        Just("\"wso2carbon\"".to_owned()),
        Just("null".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        "\"\\PC{0,12}\"",
        Just("[]".to_owned()),
        Just("{}".to_owned()),
    ];
    let key = prop_oneof![
        Just("alg"),
        Just("kid"),
        Just("crit"),
        Just("exp"),
        Just("nbf"),
        Just("iss"),
        Just("azp"),
        Just("scope"),
        Just("jti"),
    ];
    prop::collection::vec((key, value), 0..8).prop_map(|fields| {
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{{}}}", body.join(",")))
    })
}

#[test]
fn fuzz_the_token_parser_never_panics() {
    let verifier = JwtVerifier::new(&[TrustedKey::new(DEFAULT_KEY_ALIAS, DEFAULT_PUBLIC_KEY_PEM)]);
    let cache = TokenCache::new(64);
    let gw = gateway_with(settings(&["Default"]), &ManualClock::new(NOW_MILLIS));
    let store = gw.store();
    let clock = ManualClock::new(NOW_MILLIS);
    let strategy = prop_oneof![
        token_text(),
        (json_part(), json_part(), "[A-Za-z0-9_-]{0,350}")
            .prop_map(|(h, p, s)| format!("{h}.{p}.{s}")),
    ];
    fuzz("token parser", strategy, |token| {
        let _ = verifier.verify(&token);
        let mut headers = http::HeaderMap::new();
        if let Ok(value) = http::HeaderValue::from_bytes(format!("Bearer {token}").as_bytes()) {
            headers.insert(http::header::AUTHORIZATION, value);
        }
        let _ = authenticate(&headers, &verifier, &cache, &store, &clock);
    });
}

/// A request path: the context or not, segments with dots, encodings and control bytes.
fn path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("pizzashack".to_owned()),
        Just("1.0.0".to_owned()),
        Just("menu".to_owned()),
        Just("order".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just("%2e%2e".to_owned()),
        Just("..%2f".to_owned()),
        Just("%5c".to_owned()),
        Just("*".to_owned()),
        "[a-z0-9%.?=&#;{}\\\\]{0,12}",
        "\\PC{0,6}",
    ];
    prop::collection::vec(segment, 0..8).prop_map(|s| format!("/{}", s.join("/")))
}

#[test]
fn fuzz_the_request_path_never_panics() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dead = tollgate_net::DeadPort::new().unwrap();
    let gw: Arc<Gateway> = runtime.block_on(async {
        // The endpoint refuses: what passes every phase meets a refused connection.
        let gw = gateway_with(settings(&["Default"]), &ManualClock::new(NOW_MILLIS));
        let (p, s) = (
            Some(format!("http://{}/production", dead.addr())),
            Some(format!("http://{}/sandbox", dead.addr())),
        );
        gw.apply_snapshot(&snapshot(
            "Default",
            vec![artifact(
                "pizza",
                "/pizzashack/1.0.0",
                EnvironmentType::Hybrid,
                p,
                s,
            )],
            1,
        ));
        gw
    });
    let valid = format!("Bearer {}", token(PROD_KEY));
    let method = prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::OPTIONS),
        Just(Method::DELETE),
        "[A-Z]{1,10}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ];
    let header = (
        prop_oneof![
            Just("authorization".to_owned()),
            Just("origin".to_owned()),
            Just("access-control-request-method".to_owned()),
            Just("content-length".to_owned()),
            Just("transfer-encoding".to_owned()),
            Just("connection".to_owned()),
            "[a-z-]{1,12}",
        ],
        prop_oneof![Just(valid.clone()), "\\PC{0,30}", "[ -~]{0,30}"],
    );
    let strategy = (
        method,
        path(),
        prop::collection::vec(header, 0..5),
        any::<bool>(),
    );
    fuzz(
        "request path",
        strategy,
        |(method, path, headers, https)| {
            let Ok(uri) = path.parse::<http::Uri>() else {
                return;
            };
            let mut request = http::Request::new(Full::new(Bytes::new()));
            *request.method_mut() = method;
            *request.uri_mut() = uri;
            for (name, value) in headers {
                if let (Ok(n), Ok(v)) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    http::HeaderValue::from_bytes(value.as_bytes()),
                ) {
                    request.headers_mut().append(n, v);
                }
            }
            let transport = if https {
                Transport::Https
            } else {
                Transport::Http
            };
            let response = runtime.block_on(gw.handle(request, transport));
            assert!(response.status().as_u16() >= 200);
        },
    );
}
