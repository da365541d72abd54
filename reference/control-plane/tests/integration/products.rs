//! API products (Publisher): made of other APIs' operations, with their own lifecycle.

use crate::common::*;
use crate::openapi_shapes::{assert_conforms, publisher};
use http::StatusCode;
use serde_json::{Value, json};

#[track_caller]
fn conforms(path: &str, method: &str, status: u16, body: &Value) {
    let p = publisher();
    assert_conforms(
        p,
        p.response_schema(path, method, status),
        body,
        &format!("{method} {path}"),
    );
}

#[tokio::test]
async fn an_api_product_is_made_of_api_operations_and_has_a_lifecycle() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let products = format!("{PUBLISHER}/api-products");
    let body = json!({"name": "PizzaBundle", "context": "bundle", "policies": ["Gold"],
        "apis": [{"apiId": api_id, "operations": [{"target": "/menu", "verb": "GET"}]}]});
    let (status, created) = h.call("POST", &products, Some(body.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["context"], "/bundle");
    assert_eq!(created["state"], "CREATED");
    assert_eq!(created["apis"][0]["name"], "PizzaShackAPI");
    assert_eq!(created["apis"][0]["operations"][0]["target"], "/menu");
    conforms("/api-products", "post", 201, &created);
    let id = created["id"].as_str().unwrap().to_owned();

    // The same name; an operation the API lacks; an unknown API; no name; no resource.
    for (bad, expected) in [
        (body.clone(), StatusCode::CONFLICT),
        (
            json!({"name": "B", "context": "b", "apis": [{"apiId": api_id,
                "operations": [{"target": "/nowhere", "verb": "GET"}]}]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "B", "context": "b", "apis": [{"apiId": "nope",
                "operations": [{"target": "/menu", "verb": "GET"}]}]}),
            StatusCode::NOT_FOUND,
        ),
        (json!({"context": "b"}), StatusCode::BAD_REQUEST),
        (
            json!({"name": "B", "context": "b", "apis": []}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, answer) = h.call("POST", &products, Some(bad.clone())).await;
        assert_eq!(status, expected, "{bad}: {answer}");
    }

    let (_, list) = h.call("GET", &products, None).await;
    assert_eq!(list["count"], 1);
    conforms("/api-products", "get", 200, &list);
    let (status, one) = h.call("GET", &format!("{products}/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    conforms("/api-products/{apiProductId}", "get", 200, &one);

    // Both resources now; a rename is refused.
    let (status, updated) = h
        .call(
            "PUT",
            &format!("{products}/{id}"),
            // `name` is required by `APIProductDTO`, on `PUT` too.
            Some(
                json!({"name": "PizzaBundle", "apis": [{"apiId": api_id, "operations": [
                {"target": "/menu", "verb": "GET"}, {"target": "/order", "verb": "POST"}]}]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["apis"][0]["operations"].as_array().unwrap().len(),
        2
    );
    let (status, _) = h
        .call(
            "PUT",
            &format!("{products}/{id}"),
            Some(json!({"name": "Other"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, swagger) = h
        .call("GET", &format!("{products}/{id}/swagger"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(swagger["info"]["title"], "PizzaBundle");
    assert!(swagger["paths"]["/menu"]["get"].is_object(), "{swagger}");
    assert!(swagger["paths"]["/order"]["post"].is_object(), "{swagger}");

    let (_, outdated) = h
        .call("GET", &format!("{products}/{id}/is-outdated"), None)
        .await;
    assert_eq!(outdated["isOutdated"], false);

    let (status, changed) = h
        .call(
            "POST",
            &format!("{products}/change-lifecycle?apiProductId={id}&action=Publish"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["lifecycleState"]["state"], "Published");
    let (status, _) = h
        .call(
            "POST",
            &format!("{products}/change-lifecycle?apiProductId={id}&action=Retire"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, lc) = h
        .call("GET", &format!("{products}/{id}/lifecycle-state"), None)
        .await;
    assert_eq!(lc["state"], "Published");
    let (_, history) = h
        .call("GET", &format!("{products}/{id}/lifecycle-history"), None)
        .await;
    assert_eq!(history["count"], 2);
    conforms(
        "/api-products/{apiProductId}/lifecycle-history",
        "get",
        200,
        &history,
    );

    let (status, _) = h
        .call("GET", &format!("{products}/{id}/thumbnail"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h
        .call_form(
            "PUT",
            &format!("{products}/{id}/thumbnail"),
            &[("file", Some("logo.png"), "png bytes")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, image) = h
        .call("GET", &format!("{products}/{id}/thumbnail"), None)
        .await;
    assert_eq!(
        (status, image.as_str()),
        (StatusCode::OK, Some("png bytes"))
    );

    let (status, _) = h.call("DELETE", &format!("{products}/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = h.call("GET", &format!("{products}/{id}"), None).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::NOT_FOUND, &900360.into())
    );
}
