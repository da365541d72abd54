//! The REST edge: requests that fail before a handler's logic still get WSO2's JSON `Error`
//! (or OAuth's error under `/oauth2/`), with the status CXF would answer; `Location` on
//! creation; the Publisher's search and pagination.

use crate::common::*;
use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Status, `Content-Type` and body (parsed as JSON, or `Value::String` when it is not JSON).
async fn raw(h: &Harness, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = h.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, content_type, body)
}

fn authed(method: &str, uri: &str, h: &Harness) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {}", h.token))
}

#[track_caller]
fn assert_wso2_error(status: StatusCode, content_type: Option<&str>, body: &Value, want: u16) {
    assert_eq!(status.as_u16(), want, "{body}");
    assert_eq!(content_type, Some("application/json"), "{body}");
    assert_eq!(body["code"], want, "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert!(body["description"].is_string(), "{body}");
    assert_eq!(body["moreInfo"], "", "{body}");
    assert_eq!(body["error"], json!([]), "{body}");
}

// --- routing -----------------------------------------------------------------------------

#[tokio::test]
async fn unknown_resource_under_the_publisher_is_a_404_in_wso2s_error_shape() {
    let h = harness().await;
    let (status, ct, body) = raw(
        &h,
        authed("GET", &format!("{PUBLISHER}/no-such-thing"), &h)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_wso2_error(status, ct.as_deref(), &body, 404);
    assert_eq!(body["message"], "Not Found");
}

#[tokio::test]
async fn unknown_path_outside_every_api_is_a_404_in_wso2s_error_shape() {
    let h = harness().await;
    let (status, ct, body) = raw(&h, Request::get("/nowhere").body(Body::empty()).unwrap()).await;
    assert_wso2_error(status, ct.as_deref(), &body, 404);
}

#[tokio::test]
async fn known_resource_with_another_method_is_a_405_in_wso2s_error_shape() {
    let h = harness().await;
    for (method, uri) in [
        ("DELETE", format!("{PUBLISHER}/apis")),
        ("PATCH", format!("{DEVPORTAL}/applications")),
        ("GET", format!("{PUBLISHER}/apis/change-lifecycle")),
    ] {
        let (status, ct, body) =
            raw(&h, authed(method, &uri, &h).body(Body::empty()).unwrap()).await;
        assert_wso2_error(status, ct.as_deref(), &body, 405);
        assert_eq!(body["message"], "Method Not Allowed", "{method} {uri}");
    }
}

#[tokio::test]
async fn oauth_endpoints_keep_the_oauth_error_shape_for_unknown_paths_and_methods() {
    let h = harness().await;
    let (status, ct, body) = raw(
        &h,
        Request::get("/oauth2/token").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(ct.as_deref(), Some("application/json"));
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    assert!(body.get("code").is_none(), "{body}");

    let (status, _, body) = raw(
        &h,
        Request::get("/oauth2/nothing").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "invalid_request", "{body}");
}

// --- parameters --------------------------------------------------------------------------

#[tokio::test]
async fn a_non_numeric_limit_is_cxfs_404_for_an_unconvertible_query_parameter() {
    let h = harness().await;
    for query in ["limit=ten", "offset=-1", "limit=1.5"] {
        let (status, ct, body) = raw(
            &h,
            authed("GET", &format!("{PUBLISHER}/apis?{query}"), &h)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_wso2_error(status, ct.as_deref(), &body, 404);
        assert!(
            body["description"]
                .as_str()
                .unwrap()
                .contains("query parameter"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_query_with_bytes_that_are_not_utf8_is_searched_not_refused() {
    let h = harness().await;
    // `%FF` decodes (lossily) to U+FFFD: a search that finds nothing.
    let (status, ct, body) = raw(
        &h,
        authed("GET", &format!("{PUBLISHER}/apis?query=%FF"), &h)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ct.as_deref(), Some("application/json"));
    assert_eq!(body["count"], 0);
}

#[tokio::test]
async fn a_path_parameter_that_is_not_utf8_is_cxfs_404_in_wso2s_error_shape() {
    let h = harness().await;
    let (status, ct, body) = raw(
        &h,
        authed("GET", &format!("{PUBLISHER}/apis/%FF%FE"), &h)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_wso2_error(status, ct.as_deref(), &body, 404);
}

// --- bodies ------------------------------------------------------------------------------

#[tokio::test]
async fn json_with_wrong_types_is_a_400_with_wso2s_mapping_exception_description() {
    let h = harness().await;
    let (status, ct, body) = raw(
        &h,
        authed("POST", &format!("{PUBLISHER}/apis"), &h)
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"name": 5, "context": ["/x"], "version": true}"#,
            ))
            .unwrap(),
    )
    .await;
    assert_wso2_error(status, ct.as_deref(), &body, 400);
    assert_eq!(
        body["description"],
        "One or more request body parameters contain disallowed values."
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_by_its_content_type_is_a_415() {
    let h = harness().await;
    for content_type in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
    ] {
        let (status, ct, body) = raw(
            &h,
            authed("POST", &format!("{PUBLISHER}/apis"), &h)
                .header("content-type", content_type)
                .body(Body::from(r#"{"name":"A","context":"/a","version":"1"}"#))
                .unwrap(),
        )
        .await;
        assert_wso2_error(status, ct.as_deref(), &body, 415);
        assert_eq!(body["message"], "Unsupported Media Type");
    }
}

#[tokio::test]
async fn a_body_without_a_content_type_is_a_415_but_an_empty_one_is_fine() {
    let h = harness().await;
    let (status, ct, body) = raw(
        &h,
        authed("POST", &format!("{DEVPORTAL}/applications"), &h)
            .body(Body::from(r#"{"name":"A","throttlingPolicy":"Unlimited"}"#))
            .unwrap(),
    )
    .await;
    assert_wso2_error(status, ct.as_deref(), &body, 415);

    // Revisions take an optional body: none at all, and no type, is a plain creation.
    let api_id = h.create_pizzashack().await;
    let (status, _, body) = raw(
        &h,
        authed("POST", &format!("{PUBLISHER}/apis/{api_id}/revisions"), &h)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_in_wso2s_error_shape() {
    let h = harness().await;
    let big = format!(
        r#"{{"name":"Big","context":"/big","version":"1","description":"{}"}}"#,
        "x".repeat(tollgate_control_plane::rest::MAX_BODY_BYTES)
    );
    let (status, ct, body) = raw(
        &h,
        authed("POST", &format!("{PUBLISHER}/apis"), &h)
            .header("content-type", "application/json")
            .body(Body::from(big.clone()))
            .unwrap(),
    )
    .await;
    assert_wso2_error(status, ct.as_deref(), &body, 413);

    // The Admin API parses its own bodies; the edge still answers in WSO2's shape.
    let (status, ct, body) = raw(
        &h,
        authed(
            "POST",
            "/api/am/admin/v4/throttling/policies/application",
            &h,
        )
        .header("content-type", "application/json")
        .body(Body::from(big.clone()))
        .unwrap(),
    )
    .await;
    assert_wso2_error(status, ct.as_deref(), &body, 413);

    // The token endpoint answers in OAuth's shape.
    let (status, _, body) = raw(
        &h,
        Request::post("/oauth2/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(big))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"], "invalid_request", "{body}");
}

// --- Location ----------------------------------------------------------------------------

async fn location_of(h: &Harness, uri: &str, body: Value) -> (String, Value) {
    let response = h
        .app
        .clone()
        .oneshot(
            authed("POST", uri, h)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response
        .headers()
        .get(header::LOCATION)
        .expect("a 201 carries Location")
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (location, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn created_resources_carry_their_location_as_wso2_sets_it() {
    let h = harness().await;
    let base = "https://localhost:9443";
    let (location, api) = location_of(
        &h,
        &format!("{PUBLISHER}/apis"),
        json!({"name": "Located", "context": "/located", "version": "1.0.0",
            "policies": ["Unlimited"]}),
    )
    .await;
    let api_id = api["id"].as_str().unwrap();
    assert_eq!(location, format!("{base}{PUBLISHER}/apis/{api_id}"));

    let (location, revision) = location_of(
        &h,
        &format!("{PUBLISHER}/apis/{api_id}/revisions"),
        json!({"description": "r"}),
    )
    .await;
    assert_eq!(
        location,
        format!(
            "{base}{PUBLISHER}/apis/{api_id}/revisions/{}",
            revision["id"].as_str().unwrap()
        )
    );

    let (location, app) = location_of(
        &h,
        &format!("{DEVPORTAL}/applications"),
        json!({"name": "LocatedApp", "throttlingPolicy": "Unlimited"}),
    )
    .await;
    let app_id = app["applicationId"].as_str().unwrap();
    assert_eq!(location, format!("{base}{DEVPORTAL}/applications/{app_id}"));

    let published = h.published_pizzashack().await;
    let (location, sub) = location_of(
        &h,
        &format!("{DEVPORTAL}/subscriptions"),
        json!({"apiId": published, "applicationId": app_id, "throttlingPolicy": "Gold"}),
    )
    .await;
    assert_eq!(
        location,
        format!(
            "{base}{DEVPORTAL}/subscriptions/{}",
            sub["subscriptionId"].as_str().unwrap()
        )
    );
}

// --- search and pagination ---------------------------------------------------------------

async fn create(h: &Harness, name: &str, context: &str, version: &str) {
    let (status, body) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(json!({"name": name, "context": context, "version": version})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn names(h: &Harness, query: &str) -> Vec<String> {
    let (status, body) = h
        .call("GET", &format!("{PUBLISHER}/apis?{query}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn publisher_search_understands_name_context_and_version_prefixes() {
    let h = harness().await;
    create(&h, "PizzaShackAPI", "/pizzashack", "1.0.0").await;
    create(&h, "PizzaShackAPI", "/pizzashack", "2.0.0").await;
    create(&h, "Weather", "/weather", "1.0.0").await;

    assert_eq!(names(&h, "query=name:pizza").await.len(), 2);
    assert_eq!(
        names(&h, "query=pizza").await.len(),
        2,
        "a bare word is a name search"
    );
    assert_eq!(
        names(&h, "query=name:%22PizzaShackAPI%22").await.len(),
        2,
        "quoted: the whole name"
    );
    assert!(names(&h, "query=name:%22Pizza%22").await.is_empty());
    assert_eq!(names(&h, "query=context:/weather").await, vec!["Weather"]);
    assert_eq!(
        names(&h, "query=context:/pizzashack/2.0.0").await.len(),
        1,
        "context matches the served context"
    );
    assert_eq!(names(&h, "query=version:1.0.0").await.len(), 2);
    assert_eq!(
        names(&h, "query=name:pizza%20version:2.0.0").await.len(),
        1,
        "terms must all match"
    );
    assert!(names(&h, "query=colour:blue").await.is_empty());
}

#[tokio::test]
async fn publisher_list_pages_with_limit_and_offset_and_links_like_wso2() {
    let h = harness().await;
    for i in 0..5 {
        create(&h, &format!("Api{i}"), &format!("/api{i}"), "1").await;
    }
    let (_, body) = h
        .call("GET", &format!("{PUBLISHER}/apis?limit=2&offset=2"), None)
        .await;
    assert_eq!(body["count"], 2);
    assert_eq!(
        body["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["Api2", "Api3"]
    );
    assert_eq!(
        body["pagination"],
        json!({"offset": 2, "limit": 2, "total": 5,
            "next": "/apis?limit=2&offset=4&query=", "previous": "/apis?limit=2&offset=0&query="})
    );

    let (_, body) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis?limit=2&offset=4&query=api"),
            None,
        )
        .await;
    assert_eq!(body["count"], 1);
    assert_eq!(body["pagination"]["next"], "");
    assert_eq!(
        body["pagination"]["previous"],
        "/apis?limit=2&offset=2&query=api"
    );

    let (_, body) = h
        .call("GET", &format!("{PUBLISHER}/apis?offset=9"), None)
        .await;
    assert_eq!(body["count"], 0);
    assert_eq!(
        body["pagination"],
        json!({"offset": 9, "limit": 25, "total": 5, "next": "", "previous": ""})
    );
}

// --- fuzzing the edge --------------------------------------------------------------------

/// One control plane for every generated case (building one issues tokens).
fn fuzz_harness() -> (tokio::runtime::Runtime, Harness) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let h = rt.block_on(harness());
    (rt, h)
}

#[track_caller]
fn assert_json_not_5xx(status: StatusCode, ct: Option<&str>, body: &Value, input: &str) {
    assert!(!status.is_server_error(), "{status} for {input:?}: {body}");
    assert_eq!(
        ct,
        Some("application/json"),
        "{status} for {input:?}: {body}"
    );
    assert!(!body.is_string(), "not JSON for {input:?}: {body}");
}

#[test]
fn random_bytes_posted_as_an_api_never_get_a_5xx_or_a_non_json_answer() {
    let (rt, h) = fuzz_harness();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    });
    let bodies = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        // Near-JSON: fragments of a valid body, so parsing gets past the first byte.
        "[{}\\[\\]\":,a-z0-9 /.\\-]{0,80}".prop_map(String::into_bytes),
    ];
    runner
        .run(&bodies, |bytes| {
            let (status, ct, body) = rt.block_on(raw(
                &h,
                authed("POST", &format!("{PUBLISHER}/apis"), &h)
                    .header("content-type", "application/json")
                    .body(Body::from(bytes.clone()))
                    .unwrap(),
            ));
            // A random body may even be a valid API; what matters is the shape of the answer.
            assert_json_not_5xx(
                status,
                ct.as_deref(),
                &body,
                &String::from_utf8_lossy(&bytes),
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn random_query_strings_never_get_a_5xx_or_a_non_json_answer() {
    let (rt, h) = fuzz_harness();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    });
    let queries = prop_oneof![
        "[a-zA-Z0-9=&%:/._~+\\-\"]{0,60}",
        (
            "[a-z0-9%\\-.]{0,6}",
            "[a-z0-9%\\-.]{0,6}",
            "[a-z:%0-9\"]{0,12}"
        )
            .prop_map(|(l, o, q)| format!("limit={l}&offset={o}&query={q}")),
    ];
    runner
        .run(&queries, |query| {
            let uri = format!("{PUBLISHER}/apis?{query}");
            let Ok(request) = authed("GET", &uri, &h).body(Body::empty()) else {
                return Ok(()); // not a URI at all: nothing a client could send
            };
            let (status, ct, body) = rt.block_on(raw(&h, request));
            assert_json_not_5xx(status, ct.as_deref(), &body, &query);
            Ok(())
        })
        .unwrap();
}

/// `API.scopes` items are WSO2's `APIScope`: unknown properties dropped, no `scope` → 400.
#[tokio::test]
async fn api_scopes_are_read_as_wso2s_dtos_read_them() {
    let h = harness().await;
    let body = |scopes: serde_json::Value| {
        serde_json::json!({"name": "Scoped", "context": "/scoped", "version": "1",
            "scopes": scopes})
    };
    let (status, error) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(body(serde_json::json!([{"zzUnknown": 1}]))),
        )
        .await;
    assert_eq!(status, http::StatusCode::BAD_REQUEST, "{error}");
    let (status, api) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(body(
                serde_json::json!([{"scope": {"name": "s", "zz": 1}, "shared": false,
                "zzUnknown": 1}]),
            )),
        )
        .await;
    assert_eq!(status, http::StatusCode::CREATED, "{api}");
    assert_eq!(
        api["scopes"],
        serde_json::json!([{"scope": {"name": "s"}, "shared": false}])
    );
}
