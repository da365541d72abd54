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

/// The `error` items' codes of a validation 400, after checking its envelope.
fn violated(status: StatusCode, error: &Value) -> Vec<String> {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(
        (&error["code"], &error["message"], &error["description"]),
        (
            &json!(400),
            &json!("Bad Request"),
            &json!("Validation Error")
        ),
        "{error}"
    );
    error["error"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let code = e["code"].as_str().unwrap();
            // Each item's message names its field first, as WSO2's mapper writes it.
            assert!(
                e["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{}: ", &code[4..])),
                "{e}"
            );
            code.to_owned()
        })
        .collect()
}

async fn application_with_keys(h: &Harness) -> (String, String) {
    let app_id = h.create_application("constrained").await;
    let (status, key) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/generate-keys"),
            Some(
                json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    (app_id, key["keyMappingId"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn request_enums_read_an_unknown_value_as_missing() {
    // WSO2's DTO enums (`fromValue`) answer `null` for a value they do not know: an optional
    // one is dropped, a required one is then missing.
    let h = harness().await;
    let (app_id, mapping) = application_with_keys(&h).await;
    let (status, key) = h
        .call(
            "PUT",
            &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys/{mapping}"),
            Some(
                json!({"keyType": "TESTING", "mode": "BORROWED", "callbackUrl": "https://x",
                "supportedGrantTypes": ["client_credentials"]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(
        (&key["callbackUrl"], &key["keyType"]),
        (&json!("https://x"), &json!("PRODUCTION"))
    );
    let (status, error) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/generate-keys"),
            Some(json!({"keyType": "sandbox", "grantTypesToBeSupported": ["client_credentials"]})),
        )
        .await;
    assert_eq!(violated(status, &error), ["400_keyType"]);
    assert_eq!(error["error"][0]["message"], "keyType: must not be null");
    // An unknown grant type of token generation is the default, client credentials.
    let (status, token) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys/{mapping}/generate-token"),
            Some(json!({"grantType": "password", "consumerSecret": key["consumerSecret"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
}

#[tokio::test]
async fn map_keys_without_consumer_key_or_key_type_is_refused_naming_each() {
    let h = harness().await;
    let app_id = h.create_application("mapped").await;
    let (status, error) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app_id}/map-keys"),
            Some(json!({"keyManager": "Resident Key Manager"})),
        )
        .await;
    assert_eq!(violated(status, &error), ["400_consumerKey", "400_keyType"]);
    assert_eq!(
        error["error"][0]["message"],
        "consumerKey: must not be null"
    );
}

#[tokio::test]
async fn an_api_key_validity_past_int32_is_refused() {
    let h = harness().await;
    let app_id = h.create_application("api-keys").await;
    let uri = format!("{DEVPORTAL}/applications/{app_id}/api-keys/PRODUCTION/generate");
    let (status, error) = h
        .call("POST", &uri, Some(json!({"validityPeriod": 1_i64 << 31})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    let (status, key) = h
        .call("POST", &uri, Some(json!({"validityPeriod": 3600})))
        .await;
    assert_eq!(status, StatusCode::OK, "{key}");
}

#[tokio::test]
async fn a_revision_description_past_255_characters_is_refused() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let (status, error) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/revisions"),
            Some(json!({"description": "d".repeat(256)})),
        )
        .await;
    assert_eq!(violated(status, &error), ["400_description"]);
    assert_eq!(
        error["error"][0]["message"],
        "description: size must be between 0 and 255"
    );
    let (status, revision) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/revisions"),
            Some(json!({"description": "d".repeat(255)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{revision}");
}

#[tokio::test]
async fn deployments_breaking_api_revision_deployments_constraints_are_refused() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let revision = h.create_revision(&api_id).await;
    let (status, error) = h
        .deploy(
            &api_id,
            &revision,
            json!([
                {"name": "Default", "vhost": "localhost"},
                {"name": "", "vhost": "bad_host.example"},
                {"name": "Default", "vhost": "-x", "revisionUuid": "r".repeat(256)},
            ]),
        )
        .await;
    assert_eq!(
        violated(status, &error),
        [
            "400_[1].name",
            "400_[1].vhost",
            "400_[2].revisionUuid",
            "400_[2].vhost"
        ]
    );
    let (status, error) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/undeploy-revision?revisionId={revision}"),
            Some(json!([{"name": "Default", "vhost": "a..b"}])),
        )
        .await;
    assert_eq!(violated(status, &error), ["400_[0].vhost"]);
    // Nothing was deployed by the refused call; a valid one still is.
    h.deploy_to_both(&api_id, &revision).await;
}

#[tokio::test]
async fn lifecycle_and_copy_calls_without_their_required_parameters_get_method_validation() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let (status, error) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/change-lifecycle?apiId={api_id}"),
            None,
        )
        .await;
    assert_eq!(violated(status, &error), ["400_changeAPILifecycle.arg0"]);
    assert_eq!(
        error["error"][0]["message"],
        "changeAPILifecycle.arg0: must not be null"
    );
    let (status, error) = h
        .call("POST", &format!("{PUBLISHER}/apis/change-lifecycle"), None)
        .await;
    assert_eq!(
        violated(status, &error),
        ["400_changeAPILifecycle.arg0", "400_changeAPILifecycle.arg1"]
    );
    let (status, error) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/api-products/change-lifecycle?action=Publish"),
            None,
        )
        .await;
    assert_eq!(
        violated(status, &error),
        ["400_changeAPIProductLifecycle.arg1"]
    );
    let (status, error) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/copy-api?apiId={api_id}"),
            None,
        )
        .await;
    assert_eq!(violated(status, &error), ["400_createNewAPIVersion.arg0"]);

    let admin = h
        .token_with_scopes(&format!(
            "{} apim:subscription_block",
            crate::coverage::EVERY_SCOPE
        ))
        .await;
    for (uri, expected) in [
        (
            format!("{PUBLISHER}/subscriptions/block-subscription"),
            vec!["400_blockSubscription.arg0", "400_blockSubscription.arg1"],
        ),
        (
            format!("{PUBLISHER}/subscriptions/unblock-subscription"),
            vec!["400_unBlockSubscription.arg0"],
        ),
        (
            format!("{PUBLISHER}/apis/validate"),
            vec!["400_validateAPI.arg0"],
        ),
        (
            format!("{PUBLISHER}/apis/{api_id}/documents/validate"),
            vec!["400_validateDocument.arg1"],
        ),
        (
            "/api/am/admin/v4/applications/some-app/change-owner".to_owned(),
            vec!["400_changeApplicationOwner.arg0"],
        ),
    ] {
        let (status, error) = h.call_as(Some(&admin), "POST", &uri, None).await;
        assert_eq!(violated(status, &error), expected, "{uri}");
    }
}

#[tokio::test]
async fn documents_scopes_categories_ratings_and_products_get_bean_validation() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let cases: Vec<(&str, String, Value, Vec<&str>)> = vec![
        (
            "POST",
            format!("{PUBLISHER}/apis/{api_id}/documents"),
            json!({"name": "d".repeat(61), "type": "howto", "summary": ""}),
            vec![
                "400_name",
                "400_type",
                "400_summary",
                "400_sourceType",
                "400_visibility",
            ],
        ),
        (
            "POST",
            format!("{PUBLISHER}/scopes"),
            json!({"displayName": "x".repeat(256), "description": "x".repeat(513)}),
            vec!["400_name", "400_displayName", "400_description"],
        ),
        (
            "POST",
            "/api/am/admin/v4/api-categories".to_owned(),
            json!({"name": "", "description": "x".repeat(1025)}),
            vec!["400_name", "400_description"],
        ),
        (
            "PUT",
            format!("{DEVPORTAL}/apis/{api_id}/user-rating"),
            json!({}),
            vec!["400_rating"],
        ),
        (
            "POST",
            format!("{PUBLISHER}/api-products"),
            json!({"context": "", "provider": "p".repeat(51)}),
            vec!["400_name", "400_context", "400_provider"],
        ),
        (
            "POST",
            format!("{DEVPORTAL}/applications"),
            json!({"throttlingPolicy": ""}),
            vec!["400_name", "400_throttlingPolicy"],
        ),
        (
            "POST",
            "/api/am/admin/v4/environments".to_owned(),
            json!({"name": "bad name", "displayName": "", "vhosts": [{"httpPort": 80}]}),
            vec!["400_name", "400_displayName", "400_vhosts[0].host"],
        ),
        (
            "POST",
            "/api/am/admin/v4/environments".to_owned(),
            json!({"name": "ok", "vhosts": []}),
            vec!["400_vhosts"],
        ),
        (
            "POST",
            "/api/am/admin/v4/throttling/deny-policies".to_owned(),
            json!({"conditionType": "HOST"}),
            vec!["400_conditionType", "400_conditionValue"],
        ),
        (
            "POST",
            "/api/am/admin/v4/workflows/update-workflow-status".to_owned(),
            json!({"status": "approved"}),
            vec!["400_updateWorkflowStatus.arg0", "400_status"],
        ),
    ];
    let every_scope = h
        .token_with_scopes(&format!(
            "{} apim:shared_scope_manage",
            crate::coverage::EVERY_SCOPE
        ))
        .await;
    for (method, uri, body, expected) in cases {
        let (status, error) = h
            .call_as(Some(&every_scope), method, &uri, Some(body))
            .await;
        assert_eq!(violated(status, &error), expected, "{method} {uri}");
    }
    let (status, error) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/documents"),
            Some(
                json!({"name": "d".repeat(61), "type": "HOWTO", "sourceType": "INLINE",
                "visibility": "API_LEVEL"}),
            ),
        )
        .await;
    assert_eq!(violated(status, &error), ["400_name"]);
    assert_eq!(
        error["error"][0]["message"],
        "name: size must be between 1 and 60"
    );
}
