//! Request constraints of WSO2's specs (`maxLength`, `minLength`, `pattern`, `enum`), property
//! by property: a body within them is accepted, a body breaking one is WSO2's bean-validation
//! 400 (`"description": "Validation Error"`, one `error` item naming the field).

use crate::common::*;
use http::StatusCode;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

/// One way to break the `API` schema, and the field it names.
fn broken_api() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        "[a-zA-Z0-9 ._-]{61,80}".prop_map(|n| ("name", json!(n))),
        "[a-z]{1,8}[~!@#;:%^*()+={}|<>\"',&$/\\[\\]][a-z]{0,8}".prop_map(|n| ("name", json!(n))),
        "[0-9.]{31,40}".prop_map(|v| ("version", json!(v))),
        "[0-9]{1,3}[ ~!@#;:%^*()+={}|<>\"',&/$]{1,2}[0-9]{0,3}".prop_map(|v| ("version", json!(v))),
        "/[a-z]{232,240}".prop_map(|c| ("context", json!(c))),
        "[A-Z]{2,8}"
            .prop_filter("not a type", |t| ![
                "HTTP",
                "WS",
                "SOAPTOREST",
                "SOAP",
                "GRAPHQL",
                "WEBSUB",
                "SSE",
                "WEBHOOK",
                "ASYNC"
            ]
            .contains(&t.as_str()))
            .prop_map(|t| ("type", json!(t))),
        "[A-Z]{3,9}"
            .prop_filter("not a visibility", |v| !["PUBLIC", "PRIVATE", "RESTRICTED"]
                .contains(&v.as_str()))
            .prop_map(|v| ("visibility", json!(v))),
        "[A-Za-z]{1,6}[ ;:,]{1,2}".prop_map(|h| ("authorizationHeader", json!(h))),
    ]
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

#[test]
fn an_api_breaking_one_constraint_is_refused_and_one_within_them_is_created() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(harness());
    let n = std::cell::Cell::new(0u32);
    runner(64)
        .run(&broken_api(), |(field, value)| {
            n.set(n.get() + 1);
            let mut body = json!({"name": format!("Api{}", n.get()),
                "context": format!("/c{}", n.get()), "version": "1.0.0"});
            body[field] = value.clone();
            let (status, error) =
                rt.block_on(h.call("POST", &format!("{PUBLISHER}/apis"), Some(body)));
            prop_assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{}={}: {}",
                field,
                value,
                error
            );
            prop_assert_eq!(&error["description"], "Validation Error");
            prop_assert_eq!(&error["error"][0]["code"], &json!(format!("400_{field}")));
            Ok(())
        })
        .unwrap();

    let valid = (
        "[A-Za-z][A-Za-z0-9 ._-]{0,59}",
        "[0-9]{1,3}(\\.[0-9]{1,3}){0,2}",
        prop_oneof![Just("PUBLIC"), Just("PRIVATE"), Just("RESTRICTED")],
    );
    runner(32)
        .run(&valid, |(name, version, visibility)| {
            n.set(n.get() + 1);
            let body = json!({"name": format!("{}{}", name.trim(), n.get()), "version": version,
                "context": format!("/v{}", n.get()), "visibility": visibility});
            let (status, api) =
                rt.block_on(h.call("POST", &format!("{PUBLISHER}/apis"), Some(body.clone())));
            prop_assert_eq!(status, StatusCode::CREATED, "{}: {}", body, api);
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn an_application_name_or_description_past_its_length_is_refused() {
    let h = harness().await;
    for (body, field) in [
        (
            json!({"name": "a".repeat(101), "throttlingPolicy": "Unlimited"}),
            "name",
        ),
        (
            json!({"name": "ok", "throttlingPolicy": "Unlimited", "description": "d".repeat(513)}),
            "description",
        ),
    ] {
        let (status, error) = h
            .call("POST", &format!("{DEVPORTAL}/applications"), Some(body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(
            error,
            json!({"code": 400, "message": "Bad Request", "description": "Validation Error",
                "moreInfo": "", "error": [{"code": format!("400_{field}"),
                "message": format!("{field}: size must be between {} and {}",
                    if field == "name" { 1 } else { 0 }, if field == "name" { 100 } else { 512 })}]})
        );
    }
}

#[tokio::test]
async fn a_subscription_without_its_required_properties_is_refused_naming_each() {
    let h = harness().await;
    let (status, error) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/subscriptions"),
            Some(json!({"apiId": "an-api"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(
        error,
        json!({"code": 400, "message": "Bad Request", "description": "Validation Error",
            "moreInfo": "", "error": [
                {"code": "400_applicationId", "message": "applicationId: must not be null"},
                {"code": "400_throttlingPolicy", "message": "throttlingPolicy: must not be null"}]})
    );
}

#[tokio::test]
async fn key_generation_without_its_required_properties_gets_the_validation_400() {
    let h = harness().await;
    let (status, app) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications"),
            Some(json!({"name": "keys", "throttlingPolicy": "Unlimited"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{app}");
    let app_id = app["applicationId"].as_str().unwrap();
    let (status, error) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/generate-keys"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let fields: Vec<&str> = error["error"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["400_grantTypesToBeSupported", "400_keyType"]);
}
