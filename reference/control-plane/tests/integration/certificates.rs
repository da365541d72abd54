//! Endpoint and client certificates (Publisher): stored, parsed, answered in WSO2's shapes.

use crate::common::*;
use crate::openapi_shapes::{assert_conforms, publisher};
use http::StatusCode;
use serde_json::Value;

/// A self-signed certificate of the tree (subject `C=US, ST=CA, L=Mountain View, O=WSO2,
/// CN=localhost`, valid for a century).
const PEM: &str = include_str!("../../../net/security/wso2carbon.cert.pem");

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
async fn endpoint_certificates_are_uploaded_parsed_listed_replaced_and_deleted() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let certs = format!("{PUBLISHER}/endpoint-certificates");

    let (status, created) = h
        .call_form(
            "POST",
            &certs,
            &[
                ("certificate", Some("backend.pem"), PEM),
                ("alias", None, "backend"),
                ("endpoint", None, "http://backend.prod:9000"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["alias"], "backend");
    conforms("/endpoint-certificates", "post", 200, &created);

    // The same alias again, no alias, a certificate that is not one, an over-long alias.
    for (parts, expected) in [
        (
            vec![
                ("certificate", Some("c.pem"), PEM),
                ("alias", None, "backend"),
                ("endpoint", None, "http://x"),
            ],
            StatusCode::CONFLICT,
        ),
        (
            vec![
                ("certificate", Some("c.pem"), PEM),
                ("endpoint", None, "http://x"),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![
                ("certificate", Some("c.pem"), "not a certificate"),
                ("alias", None, "other"),
                ("endpoint", None, "http://x"),
            ],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![
                ("certificate", Some("c.pem"), PEM),
                ("alias", None, "a-very-long-alias-beyond-thirty-chars"),
                ("endpoint", None, "http://x"),
            ],
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, body) = h.call_form("POST", &certs, &parts).await;
        assert_eq!(status, expected, "{parts:?}: {body}");
    }

    let (status, list) = h
        .call(
            "GET",
            &format!("{certs}?endpoint=http://backend.prod:9000"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["count"], 1);
    assert_eq!(list["certificates"][0]["alias"], "backend");
    conforms("/endpoint-certificates", "get", 200, &list);
    let (_, none) = h.call("GET", &format!("{certs}?alias=nobody"), None).await;
    assert_eq!(none["count"], 0);

    let (status, info) = h.call("GET", &format!("{certs}/backend"), None).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["status"], "Active");
    assert_eq!(info["version"], "3");
    assert!(
        info["subject"].as_str().unwrap().contains("CN=localhost"),
        "{info}"
    );
    assert!(
        info["validity"]["to"].as_str().unwrap().ends_with("2126"),
        "{info}"
    );
    conforms("/endpoint-certificates/{alias}", "get", 200, &info);

    // The download is the certificate, PEM.
    let (status, content) = h
        .call("GET", &format!("{certs}/backend/content"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let strip = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(strip(content.as_str().unwrap()), strip(PEM));

    // PizzaShack's production endpoint lies under the certificate's endpoint.
    let (status, usage) = h.call("GET", &format!("{certs}/backend/usage"), None).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["count"], 1);
    assert_eq!(usage["list"][0]["id"], api_id.as_str());
    conforms("/endpoint-certificates/{alias}/usage", "get", 200, &usage);

    let (status, replaced) = h
        .call_form(
            "PUT",
            &format!("{certs}/backend"),
            &[("certificate", Some("c.pem"), PEM)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["endpoint"], "http://backend.prod:9000");

    let (status, _) = h.call("DELETE", &format!("{certs}/backend"), None).await;
    assert_eq!(status, StatusCode::OK);
    for method in ["GET", "DELETE"] {
        let (status, _) = h.call(method, &format!("{certs}/backend"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
    }
}

#[tokio::test]
async fn client_certificates_belong_to_an_api_and_one_of_its_tiers() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let certs = format!("{PUBLISHER}/apis/{api_id}/client-certificates");

    // A tier the API does not offer, then one it does.
    let (status, body) = h
        .call_form(
            "POST",
            &certs,
            &[
                ("certificate", Some("c.pem"), PEM),
                ("alias", None, "partner"),
                ("tier", None, "Bronze"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, created) = h
        .call_form(
            "POST",
            &certs,
            &[
                ("certificate", Some("c.pem"), PEM),
                ("alias", None, "partner"),
                ("tier", None, "Gold"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["apiId"], api_id.as_str());
    conforms("/apis/{apiId}/client-certificates", "post", 200, &created);

    let (_, list) = h.call("GET", &certs, None).await;
    assert_eq!(list["count"], 1);
    conforms("/apis/{apiId}/client-certificates", "get", 200, &list);
    let (status, info) = h.call("GET", &format!("{certs}/partner"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["status"], "Active");
    conforms(
        "/apis/{apiId}/client-certificates/{alias}",
        "get",
        200,
        &info,
    );

    let (status, updated) = h
        .call_form(
            "PUT",
            &format!("{certs}/partner"),
            &[("tier", None, "Unlimited")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["tier"], "Unlimited");
    let (status, _) = h.call_form("PUT", &format!("{certs}/partner"), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, content) = h
        .call("GET", &format!("{certs}/partner/content"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    // Unknown API, unknown alias.
    let (status, body) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/00000000-0000-0000-0000-000000000000/client-certificates"),
            None,
        )
        .await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::NOT_FOUND, &900308.into())
    );
    let (status, _) = h.call("DELETE", &format!("{certs}/partner"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.call("GET", &format!("{certs}/partner"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
