//! Definitions supplied by `url` (fetched by the control plane) and as `.zip` archives (the
//! root definition and the files it `$ref`s), as WSO2's `OASParserUtil` takes them.

use crate::common::*;
use crate::definitions::{MENU_YAML, properties, resources};
use http::StatusCode;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback HTTP server answering by path: `/menu.yaml` the definition, `/hello` text that
/// is no definition, `/huge` a body past the fetch bound, anything else 404.
async fn definition_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0_u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let (status, body) = match path.as_str() {
                    "/menu.yaml" => ("200 OK", MENU_YAML.as_bytes().to_vec()),
                    "/hello" => ("200 OK", b"hello, not a definition".to_vec()),
                    "/huge" => ("200 OK", vec![b' '; 3 * 1024 * 1024]),
                    _ => ("404 Not Found", b"no".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

async fn validate_url(h: &Harness, url: &str) -> Value {
    let (status, body) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/validate-openapi"),
            &[("url", None, url)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn fetch_failure(code: &str, description: &str) -> Value {
    json!({"isValid": false, "errors": [{"code": code,
        "message": "OpenAPI definition retrieval from URL failed", "description": description}]})
}

#[tokio::test]
async fn a_definition_named_by_url_is_fetched_validated_and_imported() {
    let h = harness().await;
    let addr = definition_server().await;
    let url = format!("http://{addr}/menu.yaml");

    let body = validate_url(&h, &url).await;
    assert_eq!(body["isValid"], true, "{body}");
    assert_eq!(body["info"]["name"], "Menu Service");
    assert_eq!(body["info"]["openAPIVersion"], "3.0.1");

    let props = properties("MenuByUrl", "/menu-by-url");
    let (status, api) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/import-openapi"),
            &[("url", None, &url), ("additionalProperties", None, &props)],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    let paths: Vec<(String, String)> = resources(&api)
        .into_iter()
        .map(|(verb, target, ..)| (verb, target))
        .collect();
    assert_eq!(
        paths,
        [
            ("GET".to_owned(), "/items".to_owned()),
            ("POST".to_owned(), "/items".to_owned()),
            ("GET".to_owned(), "/items/{itemId}".to_owned()),
        ]
    );
    // The stored definition is the fetched one.
    let api_id = api["id"].as_str().unwrap();
    let (status, doc) = h
        .call("GET", &format!("{PUBLISHER}/apis/{api_id}/swagger"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["info"]["title"], "Menu Service");

    // `PUT /swagger` takes a URL too.
    let (status, doc) = h
        .call_form(
            "PUT",
            &format!("{PUBLISHER}/apis/{api_id}/swagger"),
            &[("url", None, &url)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
}

#[tokio::test]
async fn a_url_that_gives_no_definition_gets_wso2s_retrieval_errors() {
    let h = harness().await;
    let addr = definition_server().await;
    // A port nothing listens on: bound, then released.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let failed = "Exception occurred while retrieving the OpenAPI definition from URL";
    for (url, expected) in [
        (
            format!("http://{addr}/missing.yaml"),
            fetch_failure("900757", "Response didn't return a 200 OK status"),
        ),
        (
            format!("http://{dead}/menu.yaml"),
            fetch_failure("900756", failed),
        ),
        // Past the 2 MiB bound: not read further.
        (
            format!("http://{addr}/huge"),
            fetch_failure("900756", failed),
        ),
        // Only http and https are fetched; a name the host map does not know is not resolved.
        (
            "file:///etc/passwd".to_owned(),
            fetch_failure("900756", failed),
        ),
        ("not a url".to_owned(), fetch_failure("900756", failed)),
        (
            "http://definitions.invalid/menu.yaml".to_owned(),
            fetch_failure("900756", failed),
        ),
    ] {
        assert_eq!(validate_url(&h, &url).await, expected, "{url}");
    }
    // A body that is no definition: swagger-parser's reasons, as for an upload.
    let body = validate_url(&h, &format!("http://{addr}/hello")).await;
    assert_eq!(body["isValid"], false);
    assert_eq!(body["errors"][0]["code"], "900754", "{body}");

    // Importing from such a URL is WSO2's 400 with the first error as the body.
    let props = properties("NoMenu", "/no-menu");
    let (status, error) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/import-openapi"),
            &[
                ("url", None, &format!("http://{addr}/missing.yaml")),
                ("additionalProperties", None, &props),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(
        (&error["code"], &error["message"], &error["description"]),
        (
            &json!(900757),
            &json!("OpenAPI definition retrieval from URL failed"),
            &json!("Response didn't return a 200 OK status")
        )
    );
}

/// A deflated archive of `(path, content)` entries, as an archiver writes one.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// The root definition refers to a path item and, from there, a schema in other files.
const ROOT: &str = r#"openapi: 3.0.1
info:
  title: Archived Menu
  version: 1.0.0
paths:
  /items:
    $ref: 'paths/items.yaml'
  /items/{itemId}:
    get:
      parameters:
        - {name: itemId, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          description: one item
          content:
            application/json:
              schema: {$ref: 'schemas/item.json#/Item'}
"#;
const ITEMS: &str = r#"get:
  x-throttling-tier: Gold
  responses:
    '200':
      description: the items
      content:
        application/json:
          schema:
            type: array
            items: {$ref: '../schemas/item.json#/Item'}
post:
  responses:
    '201': {description: created}
"#;
const ITEM: &str = r#"{"Item": {"type": "object", "properties": {"name": {"type": "string"}}}}"#;

#[tokio::test]
async fn an_archive_with_cross_file_refs_is_validated_and_imported_whole() {
    let h = harness().await;
    let archive = zip_of(&[
        ("menu/swagger.yaml", ROOT.as_bytes()),
        ("menu/paths/items.yaml", ITEMS.as_bytes()),
        ("menu/schemas/item.json", ITEM.as_bytes()),
    ]);
    let (status, body) = h
        .call_form_bytes(
            "POST",
            &format!("{PUBLISHER}/apis/validate-openapi?returnContent=true"),
            &[("file", Some("menu.zip"), &archive)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["isValid"], true, "{body}");
    assert_eq!(body["info"]["name"], "Archived Menu");

    let props = properties("ArchivedMenu", "/archived-menu");
    let (status, api) = h
        .call_form_bytes(
            "POST",
            &format!("{PUBLISHER}/apis/import-openapi"),
            &[
                ("file", Some("menu.zip"), &archive),
                ("additionalProperties", None, props.as_bytes()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    let served: Vec<(String, String, String)> = resources(&api)
        .into_iter()
        .map(|(verb, target, _, tier, _)| (verb, target, tier))
        .collect();
    assert_eq!(
        served,
        [
            ("GET".to_owned(), "/items".to_owned(), "Gold".to_owned()),
            (
                "POST".to_owned(),
                "/items".to_owned(),
                "Unlimited".to_owned()
            ),
            (
                "GET".to_owned(),
                "/items/{itemId}".to_owned(),
                "Unlimited".to_owned()
            ),
        ]
    );
    // The stored definition is one document: the other files' content is inlined.
    let api_id = api["id"].as_str().unwrap();
    let (_, doc) = h
        .call("GET", &format!("{PUBLISHER}/apis/{api_id}/swagger"), None)
        .await;
    let items = &doc["paths"]["/items"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        ["items"];
    assert_eq!(items["properties"]["name"]["type"], "string", "{doc}");
    assert!(!doc.to_string().contains("item.json"), "{doc}");
}

#[tokio::test]
async fn a_malicious_or_malformed_archive_is_refused_with_a_400_saying_why() {
    let h = harness().await;
    let bomb = vec![b' '; 17 * 1024 * 1024];
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            zip_of(&[
                ("menu/swagger.yaml", ROOT.as_bytes()),
                ("menu/../../../etc/cron.d/x", b"* * * * * root true"),
            ]),
            "Attempt to upload invalid zip archive with file at menu/../../../etc/cron.d/x. \
             File path is outside target directory",
        ),
        (
            zip_of(&[("menu/swagger.yaml", &bomb)]),
            "File being unzipped is too big.",
        ),
        (
            zip_of(&[(
                "menu/swagger.yaml",
                b"openapi: 3.0.1\npaths: {$ref: '../../secrets.yaml'}" as &[u8],
            )]),
            "The reference ../../secrets.yaml in menu/swagger.yaml points outside the archive",
        ),
        (
            zip_of(&[("menu/openapi.yaml", ROOT.as_bytes())]),
            "Could not find a master swagger file with the name of swagger.json /swagger.yaml",
        ),
        (
            zip_of(&[
                ("menu/swagger.yaml", ROOT.as_bytes()),
                ("other/swagger.yaml", ROOT.as_bytes()),
            ]),
            "Swagger Definitions should be placed under one root folder.",
        ),
    ];
    for (archive, why) in cases {
        assert!(archive.len() < 1024 * 1024);
        for uri in [
            format!("{PUBLISHER}/apis/validate-openapi"),
            format!("{PUBLISHER}/apis/import-openapi"),
        ] {
            let props = properties("Refused", "/refused");
            let (status, error) = h
                .call_form_bytes(
                    "POST",
                    &uri,
                    &[
                        ("file", Some("menu.zip"), &archive),
                        ("additionalProperties", None, props.as_bytes()),
                    ],
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {error}");
            assert_eq!(
                (&error["code"], &error["description"]),
                (&json!(400), &json!(why)),
                "{uri}"
            );
        }
    }
    // Nothing was created.
    let (_, apis) = h.call("GET", &format!("{PUBLISHER}/apis"), None).await;
    assert_eq!(apis["count"], 0, "{apis}");
}

#[tokio::test]
async fn an_https_url_is_fetched_when_the_nodes_truststore_trusts_the_host() {
    use tokio_util::sync::CancellationToken;
    use tollgate_net::security::{DEFAULT_CERT_PEM, DEFAULT_KEY_PEM, server_config};
    use tollgate_net::{HostMap, Outbound};

    // The Developer Portal of this control plane, served over TLS with the built-in
    // certificate, answers a published API's definition to anyone: the URL to fetch.
    let h = harness().await;
    let api_id = h.published_pizzashack().await;
    let https = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = https.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn({
        let (cp, shutdown) = (h.cp.clone(), shutdown.clone());
        let tls = server_config(DEFAULT_CERT_PEM, DEFAULT_KEY_PEM).unwrap();
        async move { cp.serve(https, http, tls, shutdown).await }
    });
    let url = format!("https://localhost:{port}/api/am/devportal/v3/apis/{api_id}/swagger");

    // Without the node's truststore (nothing handed in: no CA trusted), the handshake fails.
    let untrusting = harness().await;
    assert_eq!(
        validate_url(&untrusting, &url).await,
        fetch_failure(
            "900756",
            "Exception occurred while retrieving the OpenAPI definition from URL"
        )
    );

    // A node hands its outbound networking in; its truststore holds the certificate.
    h.cp.set_outbound(Outbound::new(HostMap::new(), &[DEFAULT_CERT_PEM]).unwrap());
    let body = validate_url(&h, &url).await;
    assert_eq!(body["isValid"], true, "{body}");
    assert_eq!(body["info"]["name"], "PizzaShackAPI");

    shutdown.cancel();
    let _ = server.await;
}
