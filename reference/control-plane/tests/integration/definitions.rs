//! API definitions: generated from an API's resources, or supplied by the user
//! (`import-openapi`, `PUT /apis/{apiId}/swagger`) and then the source of its resources;
//! `validate-openapi`; Publisher and Developer Portal `GET /apis/{apiId}/swagger`.

use crate::common::*;
use http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn the_publisher_and_the_devportal_answer_the_apis_openapi_document() {
    let h = harness().await;
    let api_id = h.published_pizzashack().await;

    let (status, doc) = h
        .call("GET", &format!("{PUBLISHER}/apis/{api_id}/swagger"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["openapi"], "3.0.1");
    assert_eq!(
        doc["info"],
        json!({"title": "PizzaShackAPI", "version": "1.0.0"})
    );
    assert_eq!(
        doc["paths"]["/menu"]["get"]["x-auth-type"],
        "Application & Application User"
    );
    assert!(doc["paths"]["/order"]["post"]["requestBody"].is_object());
    assert_eq!(doc["x-wso2-basePath"], "/pizzashack/1.0.0");
    assert_eq!(
        doc["x-wso2-production-endpoints"]["urls"][0],
        "http://backend.prod:9000/pizza"
    );

    // The Developer Portal's copy names the gateway URLs of one environment.
    let (status, doc) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/swagger?environmentName=Default"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let urls: Vec<&str> = doc["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), 2, "{doc}");
    assert!(urls[0].starts_with("https://") && urls[0].ends_with("/pizzashack/1.0.0"));
    assert!(urls[1].starts_with("http://"));
    assert!(doc.get("x-wso2-production-endpoints").is_none());
    let (status, _) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/swagger?environmentName=Nowhere"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An API the portal does not show has no definition there.
    let (status, created) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(json!({"name": "Hidden", "context": "/hidden", "version": "1.0.0"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let created = created["id"].as_str().unwrap();
    let (status, _) = h
        .call("GET", &format!("{DEVPORTAL}/apis/{created}/swagger"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A user's definition, in YAML, with WSO2's per-operation extensions and a scope.
pub const MENU_YAML: &str = r#"openapi: 3.0.1
info:
  title: Menu Service
  version: 2.0.0
  description: The pizza menu
servers:
  - url: http://menu.example.com/api
paths:
  /items:
    summary: the menu
    get:
      operationId: listItems
      x-throttling-tier: Gold
      responses:
        200:
          description: the items
          content:
            application/json:
              schema:
                type: array
                items: {type: string}
    post:
      security:
        - default: [menu:write]
      responses:
        201:
          description: created
  /items/{itemId}:
    get:
      x-auth-type: None
      parameters:
        - {name: itemId, in: path, required: true, schema: {type: integer}}
      responses:
        200:
          description: one item
components:
  securitySchemes:
    default:
      type: oauth2
      flows:
        implicit:
          authorizationUrl: https://test.com
          scopes:
            menu:write: change the menu
          x-scopes-bindings:
            menu:write: admin
"#;

pub fn properties(name: &str, context: &str) -> String {
    json!({"name": name, "version": "2.0.0", "context": context,
        "policies": ["Unlimited"],
        "endpointConfig": {"endpoint_type": "http",
            "production_endpoints": {"url": "http://backend.prod:9000/menu"}},
        // Ignored: the resources come from the definition.
        "operations": [{"target": "/ignored", "verb": "GET"}]})
    .to_string()
}

pub fn resources(api: &serde_json::Value) -> Vec<(String, String, String, String, Vec<String>)> {
    api["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["verb"].as_str().unwrap().to_owned(),
                o["target"].as_str().unwrap().to_owned(),
                o["authType"].as_str().unwrap().to_owned(),
                o["throttlingPolicy"].as_str().unwrap().to_owned(),
                serde_json::from_value(o["scopes"].clone()).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_imported_definition_gives_the_api_its_resources_and_is_answered_back() {
    let h = harness().await;
    let props = properties("MenuAPI", "/menu");
    let (status, api) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/import-openapi"),
            &[
                ("file", Some("menu.yaml"), MENU_YAML),
                ("additionalProperties", None, &props),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    let api_id = api["id"].as_str().unwrap().to_owned();
    assert_eq!(
        resources(&api),
        [
            (
                "GET".into(),
                "/items".into(),
                "Application & Application User".into(),
                "Gold".into(),
                vec![]
            ),
            (
                "POST".into(),
                "/items".into(),
                "Application & Application User".into(),
                "Unlimited".into(),
                vec!["menu:write".into()]
            ),
            (
                "GET".into(),
                "/items/{itemId}".into(),
                "None".into(),
                "Unlimited".into(),
                vec![]
            ),
        ]
    );
    assert_eq!(api["scopes"][0]["scope"]["name"], "menu:write");
    assert_eq!(api["scopes"][0]["scope"]["bindings"], json!(["admin"]));

    // The Publisher answers the user's document (as JSON), with WSO2's extensions.
    let (status, doc) = h
        .call("GET", &format!("{PUBLISHER}/apis/{api_id}/swagger"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["info"]["description"], "The pizza menu");
    assert_eq!(doc["paths"]["/items"]["summary"], "the menu");
    assert_eq!(doc["paths"]["/items"]["get"]["operationId"], "listItems");
    assert_eq!(
        doc["paths"]["/items"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["type"],
        "array"
    );
    assert_eq!(doc["paths"]["/items"]["get"]["x-throttling-tier"], "Gold");
    assert_eq!(
        doc["paths"]["/items"]["post"]["security"],
        json!([{"default": ["menu:write"]}])
    );
    assert_eq!(
        doc["paths"]["/items/{itemId}"]["get"]["parameters"][0]["schema"]["type"],
        "integer"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["default"]["flows"]["implicit"]["scopes"],
        json!({"menu:write": "change the menu"})
    );
    assert_eq!(doc["x-wso2-basePath"], "/menu/2.0.0");
    assert_eq!(
        doc["x-wso2-production-endpoints"]["urls"][0],
        "http://backend.prod:9000/menu"
    );

    // Published, the Developer Portal's copy points at a gateway instead of the user's server.
    let revision = h.create_revision(&api_id).await;
    h.deploy_to_both(&api_id, &revision).await;
    h.publish(&api_id).await;
    let (status, doc) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/swagger?environmentName=Default"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let first = doc["servers"][0]["url"].as_str().unwrap();
    assert!(
        first.starts_with("https://") && first.ends_with("/menu/2.0.0"),
        "{doc}"
    );
    assert_eq!(doc["paths"]["/items"]["get"]["operationId"], "listItems");

    // Resources changed through `PUT /apis/{id}` reshape the stored definition: what stays
    // keeps the user's text, what went is gone, what is new is generated.
    let (status, updated) = h
        .call(
            "PUT",
            &format!("{PUBLISHER}/apis/{api_id}"),
            Some(json!({"operations": [
                {"target": "/items", "verb": "GET", "throttlingPolicy": "Unlimited"},
                {"target": "/specials", "verb": "GET"},
            ]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let (_, doc) = h
        .call("GET", &format!("{PUBLISHER}/apis/{api_id}/swagger"), None)
        .await;
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(
        paths.keys().collect::<Vec<_>>(),
        ["/items", "/specials"],
        "{doc}"
    );
    assert!(paths["/items"].get("post").is_none());
    assert_eq!(paths["/items"]["get"]["operationId"], "listItems");
    assert_eq!(paths["/items"]["get"]["x-throttling-tier"], "Unlimited");
    assert_eq!(
        paths["/specials"]["get"]["responses"]["200"]["description"],
        "OK"
    );
}

#[tokio::test]
async fn put_swagger_replaces_the_resources_and_swagger_2_keeps_its_own_shape() {
    let h = harness().await;
    let api_id = h.create_pizzashack().await;
    let swagger = json!({
        "swagger": "2.0",
        "info": {"title": "PizzaShackAPI", "version": "1.0.0"},
        "paths": {
            "/menu": {"get": {"x-auth-type": "Application", "responses": {"200": {"description": "menu"}}}},
            "/order/{orderId}": {"delete": {"x-scope": "order:cancel",
                "responses": {"200": {"description": "gone"}}}},
        },
    })
    .to_string();
    let (status, doc) = h
        .call_form(
            "PUT",
            &format!("{PUBLISHER}/apis/{api_id}/swagger"),
            &[("apiDefinition", None, &swagger)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["swagger"], "2.0");
    assert!(doc.get("openapi").is_none());
    assert_eq!(doc["paths"]["/menu"]["get"]["x-auth-type"], "Application");
    assert_eq!(doc["securityDefinitions"]["default"]["type"], "oauth2");

    let (_, api) = h
        .call("GET", &format!("{PUBLISHER}/apis/{api_id}"), None)
        .await;
    assert_eq!(
        resources(&api),
        [
            (
                "GET".into(),
                "/menu".into(),
                "Application".into(),
                "Unlimited".into(),
                vec![]
            ),
            (
                "DELETE".into(),
                "/order/{orderId}".into(),
                "Application & Application User".into(),
                "Unlimited".into(),
                vec!["order:cancel".into()]
            ),
        ]
    );

    // On the Developer Portal a Swagger 2.0 document names the gateway by host and base path.
    let revision = h.create_revision(&api_id).await;
    h.deploy_to_both(&api_id, &revision).await;
    h.publish(&api_id).await;
    let (status, doc) = h
        .call_as(
            None,
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/swagger?environmentName=Default"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(doc["basePath"], "/pizzashack/1.0.0", "{doc}");
    assert_eq!(doc["schemes"], json!(["https", "http"]));
    assert!(doc["host"].as_str().unwrap().contains(':'), "{doc}");
    assert!(doc.get("servers").is_none());

    // A broken definition changes nothing and says why.
    let (status, error) = h
        .call_form(
            "PUT",
            &format!("{PUBLISHER}/apis/{api_id}/swagger"),
            &[("file", Some("broken.yaml"), "openapi: 3.0.0\npaths: {}\n")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["code"], 900754);
    assert_eq!(error["message"], "Error while parsing OpenAPI definition");
    assert_eq!(error["description"], "'attribute info is missing'");
    let (_, after) = h
        .call("GET", &format!("{PUBLISHER}/apis/{api_id}"), None)
        .await;
    assert_eq!(after["operations"], api["operations"]);

    let (status, error) = h
        .call_form(
            "PUT",
            &format!("{PUBLISHER}/apis/no-such-api/swagger"),
            &[("apiDefinition", None, &swagger)],
        )
        .await;
    assert_eq!(
        (status, error["code"].as_i64()),
        (StatusCode::NOT_FOUND, Some(900308))
    );
}

#[tokio::test]
async fn validate_openapi_summarises_a_definition_or_lists_its_errors() {
    let h = harness().await;
    let (status, body) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/validate-openapi?returnContent=true"),
            &[("inlineAPIDefinition", None, MENU_YAML)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["isValid"], true);
    assert_eq!(
        body["info"],
        json!({"name": "Menu Service", "version": "2.0.0", "context": "/menuservice",
            "description": "The pizza menu", "openAPIVersion": "3.0.1",
            "endpoints": ["http://menu.example.com/api"]})
    );
    let content: serde_json::Value =
        serde_json::from_str(body["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["info"]["title"], "Menu Service");

    // Without `returnContent` there is no content.
    let (_, body) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/validate-openapi"),
            &[("file", Some("menu.yaml"), MENU_YAML)],
        )
        .await;
    assert_eq!(body["isValid"], true);
    assert!(body.get("content").is_none());

    let (status, body) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/validate-openapi"),
            &[(
                "file",
                Some("x.json"),
                r#"{"openapi": "3.0.0", "info": {"title": "t"}}"#,
            )],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"isValid": false, "errors": [
            {"code": "900754", "message": "Error while parsing OpenAPI definition",
                "description": "attribute info.version is missing"},
            {"code": "900754", "message": "Error while parsing OpenAPI definition",
                "description": "attribute paths is missing"},
        ]})
    );

    // Exactly one source.
    for parts in [
        vec![],
        vec![
            ("file", Some("a.yaml"), MENU_YAML),
            ("inlineAPIDefinition", None, MENU_YAML),
        ],
        vec![
            ("url", None, "http://127.0.0.1:9/openapi.yaml"),
            ("inlineAPIDefinition", None, MENU_YAML),
        ],
    ] {
        let (status, body) = h
            .call_form(
                "POST",
                &format!("{PUBLISHER}/apis/validate-openapi"),
                &parts,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["code"], 400);
    }
    // The operation takes multipart/form-data only.
    let (status, body) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/validate-openapi"),
            Some(json!({"inlineAPIDefinition": MENU_YAML})),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
}

#[tokio::test]
async fn import_openapi_refuses_missing_properties_and_broken_definitions() {
    let h = harness().await;
    let uri = format!("{PUBLISHER}/apis/import-openapi");
    let (status, body) = h
        .call_form("POST", &uri, &[("file", Some("menu.yaml"), MENU_YAML)])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], 900700);

    let (status, body) = h
        .call_form(
            "POST",
            &uri,
            &[
                ("file", Some("menu.yaml"), MENU_YAML),
                ("additionalProperties", None, "{not json"),
            ],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(400))
    );

    let props = properties("Broken", "/broken");
    let (status, body) = h
        .call_form(
            "POST",
            &uri,
            &[
                (
                    "inlineAPIDefinition",
                    None,
                    "swagger: '2.0'\ninfo: {title: t, version: v}\n",
                ),
                ("additionalProperties", None, &props),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], 900754);

    // A name WSO2 needs but the properties lack is the create call's 400.
    let (status, body) = h
        .call_form(
            "POST",
            &uri,
            &[
                ("file", Some("menu.yaml"), MENU_YAML),
                (
                    "additionalProperties",
                    None,
                    r#"{"version": "1", "context": "/x"}"#,
                ),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Nothing was created.
    let (_, list) = h.call("GET", &format!("{PUBLISHER}/apis"), None).await;
    assert_eq!(list["count"], 0);
}
