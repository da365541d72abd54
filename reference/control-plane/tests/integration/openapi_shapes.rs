//! The JSON our endpoints return, checked against WSO2's own OpenAPI specs
//! (`tests/wso2-openapi/publisher-v4.yaml`, `devportal-v3.yaml`, read at test time).
//!
//! The checker is a small one of our own rather than the `jsonschema` crate: the specs are
//! OpenAPI 3.0 (`nullable`, `$ref` into `components`, responses by status), so `jsonschema`
//! would need a conversion pass first, and it brings a large dependency tree to a 2-core
//! build for five rules. The rules:
//! - `$ref`s are followed (any depth), `allOf` branches are merged;
//! - required properties are present;
//! - types match (`string`, `integer`, `number`, `boolean`, `array`, `object`);
//! - `enum` values are among the allowed ones;
//! - no property the schema does not define. This is **stricter than OpenAPI** (whose
//!   `additionalProperties` defaults to true; no WSO2 schema sets it to false): WSO2 serialises
//!   generated DTOs, which only ever carry the spec's properties, so an extra property on our
//!   side is an invention. A schema that declares `additionalProperties` (a map) or no
//!   `properties` at all accepts any keys, and `type: object` with `properties: {}` (a
//!   `java.lang.Object` field, e.g. `endpointConfig`) accepts any value.
//! - `null` is accepted for a property that is not required (WSO2's Jackson writes unset DTO
//!   fields as `null`) or is `nullable`; a required property must not be `null`.
//!
//! Where WSO2 4.2's implementation deviates from its spec, the test follows the
//! implementation and says so (docs/wso2-behaviour.md §9).

use crate::common::*;
use http::StatusCode;
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::sync::OnceLock;

// --- the checker -------------------------------------------------------------------------

pub(crate) struct Spec {
    name: &'static str,
    root: Value,
}

/// WSO2's specs, kept unchanged in the repository (`tests/wso2-openapi/README.md`).
pub(crate) fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wso2-openapi")
}

impl Spec {
    fn load(name: &'static str) -> Self {
        let path = spec_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("WSO2's OpenAPI spec {} is missing ({e})", path.display()));
        let root: Value = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not readable YAML: {e}", path.display()));
        Self { name, root }
    }

    /// Follows `$ref: '#/a/b'` until a schema without one.
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..64 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return value;
            };
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{}: external $ref {reference}", self.name));
            value = self
                .root
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{}: dangling $ref {reference}", self.name));
        }
        panic!("{}: $ref cycle", self.name)
    }

    fn schema(&self, name: &str) -> &Value {
        self.root
            .pointer(&format!("/components/schemas/{name}"))
            .unwrap_or_else(|| panic!("{}: no schema {name}", self.name))
    }

    /// The JSON schema of `method path`'s `status` response, as the spec declares it.
    pub(crate) fn response_schema(&self, path: &str, method: &str, status: u16) -> &Value {
        self.response_body(path, method, status)
            .unwrap_or_else(|| panic!("{}: {method} {path} {status} has no JSON body", self.name))
    }

    /// `None` when the response declares no body (`content: {}`).
    /// `components.schemas.<name>`, for other test modules.
    pub(crate) fn schema_named(&self, name: &str) -> &Value {
        self.schema(name)
    }

    /// Whether `method path` declares a `status` response at all.
    pub(crate) fn declares(&self, path: &str, method: &str, status: u16) -> bool {
        self.root["paths"][path][method]["responses"]
            .get(status.to_string())
            .is_some()
    }

    pub(crate) fn response_body(&self, path: &str, method: &str, status: u16) -> Option<&Value> {
        let operation = self
            .root
            .get("paths")
            .and_then(|p| p.get(path))
            .and_then(|p| p.get(method))
            .unwrap_or_else(|| panic!("{}: no operation {method} {path}", self.name));
        let responses = &operation["responses"];
        let response = responses.get(status.to_string()).unwrap_or_else(|| {
            panic!(
                "{}: {method} {path} declares no {status} response (it has {:?})",
                self.name,
                responses.as_object().map(|o| o.keys().collect::<Vec<_>>())
            )
        });
        self.resolve(response)
            .pointer("/content/application~1json/schema")
    }

    /// A schema with its `allOf` branches merged into one object schema.
    fn flatten(&self, schema: &Value) -> Value {
        let schema = self.resolve(schema);
        let Some(branches) = schema.get("allOf").and_then(Value::as_array) else {
            return schema.clone();
        };
        let mut merged = schema.as_object().cloned().unwrap_or_default();
        merged.remove("allOf");
        let mut properties = Map::new();
        let mut required = Vec::new();
        for branch in branches {
            let branch = self.flatten(branch);
            if let Some(p) = branch.get("properties").and_then(Value::as_object) {
                properties.extend(p.clone());
            }
            if let Some(r) = branch.get("required").and_then(Value::as_array) {
                required.extend(r.clone());
            }
            if let Some(t) = branch.get("type") {
                merged.insert("type".into(), t.clone());
            }
        }
        if let Some(p) = schema.get("properties").and_then(Value::as_object) {
            properties.extend(p.clone());
        }
        merged.insert("properties".into(), Value::Object(properties));
        merged.insert("required".into(), Value::Array(required));
        Value::Object(merged)
    }

    /// Every way `value` breaks `schema`, as `at: problem` lines.
    pub(crate) fn check(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check_at(schema, value, "$", &mut errors);
        errors
    }

    fn check_at(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.flatten(schema);
        if value.is_null() {
            if schema.get("nullable") != Some(&Value::Bool(true)) {
                errors.push(format!("{at}: null where the schema does not allow it"));
            }
            return;
        }
        let declared = schema.get("type").and_then(Value::as_str).or_else(|| {
            if schema.get("properties").is_some() {
                Some("object")
            } else if schema.get("items").is_some() {
                Some("array")
            } else {
                None
            }
        });
        // `type: object` with `properties: {}` is how WSO2's specs spell a `java.lang.Object`
        // DTO field (codegen maps it so): it holds any JSON, e.g. DevPortal's
        // `keyManagers: ["all"]` (the spec's own example) or `endpointConfig`.
        let any_object = schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty);
        if any_object {
            return;
        }
        let type_ok = match declared {
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            Some("array") => value.is_array(),
            Some("object") => value.is_object(),
            _ => true,
        };
        if !type_ok {
            errors.push(format!(
                "{at}: {} where the schema says {}",
                kind(value),
                declared.unwrap_or("?")
            ));
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
        match value {
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check_at(item_schema, item, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            Value::Object(object) => self.check_object(&schema, object, at, errors),
            _ => {}
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        object: &Map<String, Value>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for name in &required {
            if !object.contains_key(*name) {
                errors.push(format!("{at}: required property '{name}' is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let extra = schema.get("additionalProperties");
        for (name, value) in object {
            let path = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(property) => {
                    let nullable =
                        self.flatten(property).get("nullable") == Some(&Value::Bool(true));
                    if value.is_null() && !required.contains(&name.as_str())
                        || nullable && value.is_null()
                    {
                        continue;
                    }
                    self.check_at(property, value, &path, errors);
                }
                None => match extra {
                    Some(Value::Bool(false)) => errors.push(format!(
                        "{path}: not defined, additionalProperties is false"
                    )),
                    Some(Value::Object(s)) => {
                        if !value.is_null() {
                            self.check_at(&Value::Object(s.clone()), value, &path, errors);
                        }
                    }
                    Some(_) => {}
                    // Free-form object: anything goes.
                    None if properties.is_none() => {}
                    None => errors.push(format!("{path}: not defined by the schema")),
                },
            }
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(crate) fn publisher() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::load("publisher-v4.yaml"))
}

pub(crate) fn devportal() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::load("devportal-v3.yaml"))
}

#[track_caller]
pub(crate) fn assert_conforms(spec: &Spec, schema: &Value, body: &Value, what: &str) {
    let errors = spec.check(schema, body);
    assert!(
        errors.is_empty(),
        "{what} does not conform to {}:\n  {}\nbody: {body:#}",
        spec.name,
        errors.join("\n  ")
    );
}

/// Calls `method uri` and checks the body against the spec's response for `spec_path`.
pub(crate) async fn call_and_check(
    h: &Harness,
    spec: &Spec,
    spec_path: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
    status: StatusCode,
) -> Value {
    let (got, response) = h.call(method, uri, body).await;
    assert_eq!(got, status, "{method} {uri}: {response}");
    match spec.response_body(spec_path, &method.to_ascii_lowercase(), status.as_u16()) {
        Some(schema) => assert_conforms(spec, schema, &response, &format!("{method} {uri}")),
        // `content: {}`: WSO2 answers `Response.ok().build()`, no body at all.
        None => assert_eq!(response, Value::Null, "{method} {uri} should have no body"),
    }
    response
}

// --- the checker itself ------------------------------------------------------------------

#[test]
fn checker_reports_missing_required_wrong_types_bad_enums_and_unknown_properties() {
    let spec = publisher();
    let schema = spec.schema("Error");
    assert!(
        spec.check(schema, &json!({"code": 1, "message": "m"}))
            .is_empty()
    );
    let errors = spec.check(
        schema,
        &json!({"code": "1", "description": 5, "surprise": true}),
    );
    assert_eq!(
        errors,
        vec![
            "$: required property 'message' is missing",
            "$.code: string where the schema says integer",
            "$.description: integer where the schema says string",
            "$.surprise: not defined by the schema",
        ]
    );
    let deployment = spec.schema("APIRevisionDeployment");
    let wrong_enum = spec.check(&json!({"type": "string", "enum": ["A", "B"]}), &json!("C"));
    assert_eq!(wrong_enum.len(), 1, "{wrong_enum:?}");
    assert!(
        spec.check(
            deployment,
            &json!({"name": "Default", "vhost": "localhost"})
        )
        .is_empty()
    );
}

#[test]
fn specs_load_and_refs_resolve() {
    let spec = devportal();
    let schema = spec.response_schema("/applications/{applicationId}", "get", 200);
    assert_eq!(
        spec.resolve(schema)["properties"]["applicationId"]["type"],
        "string"
    );
}

// --- publisher ---------------------------------------------------------------------------

#[tokio::test]
async fn publisher_api_calls_answer_the_shapes_of_the_publisher_spec() {
    let h = harness().await;
    let spec = publisher();
    let created = call_and_check(
        &h,
        spec,
        "/apis",
        "POST",
        &format!("{PUBLISHER}/apis"),
        Some(
            json!({"name": "Shapes", "context": "/shapes", "version": "1.0.0",
            "policies": ["Unlimited"], "tags": ["t"],
            "endpointConfig": {"endpoint_type": "http",
                "production_endpoints": {"url": "http://backend:9000"}}}),
        ),
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    call_and_check(
        &h,
        spec,
        "/apis/{apiId}",
        "GET",
        &format!("{PUBLISHER}/apis/{id}"),
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/apis/{apiId}",
        "PUT",
        &format!("{PUBLISHER}/apis/{id}"),
        Some(json!({"description": "now described"})),
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/apis",
        "GET",
        &format!("{PUBLISHER}/apis?limit=1"),
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/settings",
        "GET",
        &format!("{PUBLISHER}/settings"),
        None,
        StatusCode::OK,
    )
    .await;
    let (_, second) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis"),
            Some(json!({"name": "Doomed", "context": "/doomed", "version": "1"})),
        )
        .await;
    call_and_check(
        &h,
        spec,
        "/apis/{apiId}",
        "DELETE",
        &format!("{PUBLISHER}/apis/{}", second["id"].as_str().unwrap()),
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/apis/change-lifecycle",
        "POST",
        &format!("{PUBLISHER}/apis/change-lifecycle?apiId={id}&action=Publish"),
        None,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn revisions_and_deployments_answer_the_publisher_spec_with_wso2s_documented_deviations() {
    let h = harness().await;
    let spec = publisher();
    let api_id = h.create_pizzashack().await;
    let revision = call_and_check(
        &h,
        spec,
        "/apis/{apiId}/revisions",
        "POST",
        &format!("{PUBLISHER}/apis/{api_id}/revisions"),
        Some(json!({"description": "first"})),
        StatusCode::CREATED,
    )
    .await;
    let revision_id = revision["id"].as_str().unwrap();
    call_and_check(
        &h,
        spec,
        "/apis/{apiId}/revisions",
        "GET",
        &format!("{PUBLISHER}/apis/{api_id}/revisions"),
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/apis/{apiId}/revisions/{revisionId}",
        "GET",
        &format!("{PUBLISHER}/apis/{api_id}/revisions/{revision_id}"),
        None,
        StatusCode::OK,
    )
    .await;

    // Deviation (docs/wso2-behaviour.md §9): 4.2's deploy-revision answers 201, the spec says 200.
    // The body is the spec's 200 body, an array of APIRevisionDeployment.
    let (status, deployed) = h
        .deploy(
            &api_id,
            revision_id,
            json!([
                {"name": "Production Gateway", "vhost": "localhost", "displayOnDevportal": true},
                {"name": "Default", "vhost": "localhost", "displayOnDevportal": true},
            ]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{deployed}");
    let schema = spec.response_schema("/apis/{apiId}/deploy-revision", "post", 200);
    assert_conforms(spec, schema, &deployed, "deploy-revision");

    // Deviation (§9): 4.2's GET deployments answers a bare array; the spec says
    // `APIRevisionDeploymentList{list}`. Each element is checked against the list's items.
    let (status, deployments) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/deployments"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(deployments.is_array(), "{deployments}");
    let list_schema = spec.response_schema("/apis/{apiId}/deployments", "get", 200);
    let item_schema = spec.flatten(list_schema)["properties"]["list"].clone();
    assert_conforms(
        spec,
        &item_schema,
        &deployments,
        "GET deployments (as its list)",
    );

    // Undeploy: 201 like deploy (WSO2's tests), the spec's 200 body.
    let (status, undeployed) = h
        .call(
            "POST",
            &format!(
                "{PUBLISHER}/apis/{api_id}/undeploy-revision?revisionId={revision_id}\
                 &allEnvironments=true"
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{undeployed}");
    let schema = spec.response_schema("/apis/{apiId}/undeploy-revision", "post", 201);
    assert_conforms(spec, schema, &undeployed, "undeploy-revision");

    // Deployed again, its visibility toggled through the deployment id (base64url name).
    let (status, _) = h
        .deploy(
            &api_id,
            revision_id,
            json!([{"name": "Default", "vhost": "localhost", "displayOnDevportal": true}]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    call_and_check(
        &h,
        spec,
        "/apis/{apiId}/deployments/{deploymentId}",
        "PUT",
        &format!("{PUBLISHER}/apis/{api_id}/deployments/RGVmYXVsdA"),
        Some(json!({"name": "Default", "displayOnDevportal": false})),
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/apis/{apiId}/restore-revision",
        "POST",
        &format!("{PUBLISHER}/apis/{api_id}/restore-revision?revisionId={revision_id}"),
        None,
        StatusCode::CREATED,
    )
    .await;
    let second = h.create_revision(&api_id).await;
    call_and_check(
        &h,
        spec,
        "/apis/{apiId}/revisions/{revisionId}",
        "DELETE",
        &format!("{PUBLISHER}/apis/{api_id}/revisions/{second}"),
        None,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn publisher_errors_answer_the_error_schema() {
    let h = harness().await;
    let spec = publisher();
    call_and_check(
        &h,
        spec,
        "/apis/{apiId}",
        "GET",
        &format!("{PUBLISHER}/apis/no-such-api"),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/apis",
        "POST",
        &format!("{PUBLISHER}/apis"),
        Some(json!({"name": "NoContext", "version": "1"})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let error = spec.schema("Error");
    for (method, uri, body) in [
        ("GET", format!("{PUBLISHER}/no-such-resource"), None),
        ("DELETE", format!("{PUBLISHER}/apis"), None),
        ("GET", format!("{PUBLISHER}/apis?limit=many"), None),
        (
            "POST",
            format!("{PUBLISHER}/apis"),
            Some(json!({"name": 5})),
        ),
    ] {
        let (status, response) = h.call(method, &uri, body).await;
        assert!(status.is_client_error(), "{method} {uri}: {status}");
        assert_conforms(spec, error, &response, &format!("{method} {uri}"));
    }
    let (_, unauthenticated) = h
        .call_as(None, "GET", &format!("{PUBLISHER}/apis"), None)
        .await;
    assert_conforms(spec, error, &unauthenticated, "401");
}

// --- devportal ---------------------------------------------------------------------------

#[tokio::test]
async fn devportal_calls_answer_the_shapes_of_the_devportal_spec() {
    let h = harness().await;
    let spec = devportal();
    let api_id = h.published_pizzashack().await;
    let api = call_and_check(
        &h,
        spec,
        "/apis/{apiId}",
        "GET",
        &format!("{DEVPORTAL}/apis/{api_id}"),
        None,
        StatusCode::OK,
    )
    .await;
    assert_eq!(api["endpointURLs"].as_array().map(Vec::len), Some(2));
    call_and_check(
        &h,
        spec,
        "/apis",
        "GET",
        &format!("{DEVPORTAL}/apis"),
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/settings",
        "GET",
        &format!("{DEVPORTAL}/settings"),
        None,
        StatusCode::OK,
    )
    .await;

    let app = call_and_check(
        &h,
        spec,
        "/applications",
        "POST",
        &format!("{DEVPORTAL}/applications"),
        Some(json!({"name": "ShapesApp", "throttlingPolicy": "Unlimited",
            "description": "d", "tokenType": "JWT"})),
        StatusCode::CREATED,
    )
    .await;
    let app_id = app["applicationId"].as_str().unwrap();
    call_and_check(
        &h,
        spec,
        "/applications",
        "GET",
        &format!("{DEVPORTAL}/applications"),
        None,
        StatusCode::OK,
    )
    .await;

    let subscription = call_and_check(
        &h,
        spec,
        "/subscriptions",
        "POST",
        &format!("{DEVPORTAL}/subscriptions"),
        Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Gold"})),
        StatusCode::CREATED,
    )
    .await;
    let subscription_id = subscription["subscriptionId"].as_str().unwrap();
    call_and_check(
        &h,
        spec,
        "/subscriptions/{subscriptionId}",
        "GET",
        &format!("{DEVPORTAL}/subscriptions/{subscription_id}"),
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/subscriptions",
        "GET",
        &format!("{DEVPORTAL}/subscriptions?applicationId={app_id}"),
        None,
        StatusCode::OK,
    )
    .await;

    let key = call_and_check(
        &h,
        spec,
        "/applications/{applicationId}/generate-keys",
        "POST",
        &format!("{DEVPORTAL}/applications/{app_id}/generate-keys"),
        Some(
            json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"],
            "keyManager": "Resident Key Manager", "validityTime": "3600"}),
        ),
        StatusCode::OK,
    )
    .await;
    assert!(key["token"]["accessToken"].is_string(), "{key}");
    let mapping = key["keyMappingId"].as_str().unwrap();
    call_and_check(
        &h,
        spec,
        "/applications/{applicationId}/oauth-keys",
        "GET",
        &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys"),
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/applications/{applicationId}/oauth-keys/{keyMappingId}/generate-token",
        "POST",
        &format!("{DEVPORTAL}/applications/{app_id}/oauth-keys/{mapping}/generate-token"),
        Some(json!({"grantType": "CLIENT_CREDENTIALS", "validityPeriod": 3600})),
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/applications/{applicationId}/keys/{keyType}",
        "GET",
        &format!("{DEVPORTAL}/applications/{app_id}/keys/PRODUCTION"),
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/applications/{applicationId}/keys/{keyType}/generate-token",
        "POST",
        &format!("{DEVPORTAL}/applications/{app_id}/keys/PRODUCTION/generate-token"),
        Some(json!({"validityPeriod": 3600, "scopes": []})),
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/subscriptions/{subscriptionId}",
        "PUT",
        &format!("{DEVPORTAL}/subscriptions/{subscription_id}"),
        Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Unlimited"})),
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/applications/{applicationId}",
        "PUT",
        &format!("{DEVPORTAL}/applications/{app_id}"),
        Some(json!({"name": "ShapesApp", "throttlingPolicy": "10PerMin"})),
        StatusCode::OK,
    )
    .await;
    // The application now carries its keys.
    call_and_check(
        &h,
        spec,
        "/applications/{applicationId}",
        "GET",
        &format!("{DEVPORTAL}/applications/{app_id}"),
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/subscriptions/{subscriptionId}",
        "DELETE",
        &format!("{DEVPORTAL}/subscriptions/{subscription_id}"),
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/applications/{applicationId}",
        "DELETE",
        &format!("{DEVPORTAL}/applications/{app_id}"),
        None,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn devportal_errors_answer_the_error_schema() {
    let h = harness().await;
    let spec = devportal();
    call_and_check(
        &h,
        spec,
        "/apis/{apiId}",
        "GET",
        &format!("{DEVPORTAL}/apis/no-such-api"),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    call_and_check(
        &h,
        spec,
        "/applications/{applicationId}",
        "GET",
        &format!("{DEVPORTAL}/applications/no-such-app"),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let error = spec.schema("Error");
    let (status, response) = h
        .call("GET", &format!("{DEVPORTAL}/applications?limit=-1"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_conforms(spec, error, &response, "limit=-1");
}

pub(crate) fn admin_spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::load("admin-v4.yaml"))
}

#[tokio::test]
async fn lifecycle_subscriptions_tiers_key_managers_and_environments_answer_their_specs() {
    let mut h = harness().await;
    h.token = h
        .token_with_scopes(&format!("{ALL_SCOPES} apim:admin"))
        .await;
    let api_id = h.published_pizzashack().await;
    let app_id = h.create_application("Shapes").await;
    h.call(
        "POST",
        &format!("{DEVPORTAL}/subscriptions"),
        Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Gold"})),
    )
    .await;
    let p = publisher();
    for (spec_path, uri) in [
        (
            "/apis/{apiId}/lifecycle-state",
            format!("{PUBLISHER}/apis/{api_id}/lifecycle-state"),
        ),
        (
            "/apis/{apiId}/lifecycle-history",
            format!("{PUBLISHER}/apis/{api_id}/lifecycle-history"),
        ),
        (
            "/subscriptions",
            format!("{PUBLISHER}/subscriptions?apiId={api_id}"),
        ),
        (
            "/throttling-policies/{policyLevel}",
            format!("{PUBLISHER}/throttling-policies/subscription"),
        ),
        (
            "/throttling-policies/{policyLevel}",
            format!("{PUBLISHER}/throttling-policies/api"),
        ),
    ] {
        call_and_check(&h, p, spec_path, "GET", &uri, None, StatusCode::OK).await;
    }
    // WSO2's implementation answers a list of the spec's `ThrottlingPolicy`.
    let (status, tiers) = h
        .call(
            "GET",
            &format!("{PUBLISHER}/apis/{api_id}/subscription-policies"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for tier in tiers.as_array().unwrap() {
        assert_conforms(
            p,
            p.schema("ThrottlingPolicy"),
            tier,
            "subscription-policies",
        );
    }

    let d = devportal();
    for (spec_path, uri) in [
        (
            "/throttling-policies/{policyLevel}",
            format!("{DEVPORTAL}/throttling-policies/application"),
        ),
        (
            "/throttling-policies/{policyLevel}",
            format!("{DEVPORTAL}/throttling-policies/subscription"),
        ),
        ("/key-managers", format!("{DEVPORTAL}/key-managers")),
    ] {
        call_and_check(&h, d, spec_path, "GET", &uri, None, StatusCode::OK).await;
    }

    let a = admin_spec();
    let created = call_and_check(
        &h,
        a,
        "/environments",
        "POST",
        "/api/am/admin/v4/environments",
        Some(json!({"name": "shapes", "vhosts": [{"host": "shapes.example"}]})),
        StatusCode::CREATED,
    )
    .await;
    call_and_check(
        &h,
        a,
        "/environments",
        "GET",
        "/api/am/admin/v4/environments",
        None,
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        a,
        "/environments/{environmentId}",
        "PUT",
        &format!(
            "/api/am/admin/v4/environments/{}",
            created["id"].as_str().unwrap()
        ),
        Some(json!({"name": "shapes", "vhosts": [{"host": "shapes2.example"}]})),
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn definition_uploads_answer_the_publisher_spec() {
    let h = harness().await;
    let p = publisher();
    let definition = r#"{"openapi": "3.0.1", "info": {"title": "Shapes", "version": "1"},
        "servers": [{"url": "http://shapes.example.com"}],
        "paths": {"/s": {"get": {"responses": {"200": {"description": "ok"}}}}}}"#;
    let (status, valid) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/validate-openapi?returnContent=true"),
            &[("inlineAPIDefinition", None, definition)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{valid}");
    let schema = p.response_schema("/apis/validate-openapi", "post", 200);
    assert_conforms(p, schema, &valid, "validate-openapi (valid)");
    let (_, invalid) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/validate-openapi"),
            &[("inlineAPIDefinition", None, "{}")],
        )
        .await;
    assert_conforms(p, schema, &invalid, "validate-openapi (invalid)");

    let props = r#"{"name": "Shapes", "version": "1", "context": "/shapes"}"#;
    let (status, api) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/import-openapi"),
            &[
                ("file", Some("shapes.json"), definition),
                ("additionalProperties", None, props),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    let schema = p.response_schema("/apis/import-openapi", "post", 201);
    assert_conforms(p, schema, &api, "import-openapi");
    let (status, error) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/import-openapi"),
            &[
                ("file", Some("shapes.json"), "{}"),
                ("additionalProperties", None, props),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_conforms(p, p.schema("Error"), &error, "import-openapi (broken)");
}

#[tokio::test]
async fn documents_comments_categories_ratings_and_admin_reads_answer_their_specs() {
    let mut h = harness().await;
    h.token = h
        .token_with_scopes(&format!(
            "{ALL_SCOPES} apim:admin apim:comment_write apim:comment_view apim:document_manage \
             apim:shared_scope_manage"
        ))
        .await;
    let api_id = h.published_pizzashack().await;
    let app_id = h.create_application("Shapes").await;
    let (_, sub) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/subscriptions"),
            Some(json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Gold"})),
        )
        .await;
    let sub_id = sub["subscriptionId"].as_str().unwrap().to_owned();
    let (p, d, a) = (publisher(), devportal(), admin_spec());
    const ADMIN: &str = "/api/am/admin/v4";

    let doc = call_and_check(
        &h,
        p,
        "/apis/{apiId}/documents",
        "POST",
        &format!("{PUBLISHER}/apis/{api_id}/documents"),
        Some(
            json!({"name": "Guide", "type": "HOWTO", "sourceType": "INLINE",
            "visibility": "API_LEVEL", "inlineContent": "read me"}),
        ),
        StatusCode::CREATED,
    )
    .await;
    let doc_id = doc["documentId"].as_str().unwrap().to_owned();
    let comment = call_and_check(
        &h,
        p,
        "/apis/{apiId}/comments",
        "POST",
        &format!("{PUBLISHER}/apis/{api_id}/comments"),
        Some(json!({"content": "nice"})),
        StatusCode::CREATED,
    )
    .await;
    let comment_id = comment["id"].as_str().unwrap().to_owned();
    call_and_check(
        &h,
        d,
        "/apis/{apiId}/comments",
        "POST",
        &format!("{DEVPORTAL}/apis/{api_id}/comments?replyTo={comment_id}"),
        Some(json!({"content": "agreed"})),
        StatusCode::CREATED,
    )
    .await;
    call_and_check(
        &h,
        d,
        "/apis/{apiId}/user-rating",
        "PUT",
        &format!("{DEVPORTAL}/apis/{api_id}/user-rating"),
        Some(json!({"rating": 5})),
        StatusCode::OK,
    )
    .await;
    call_and_check(
        &h,
        a,
        "/api-categories",
        "POST",
        &format!("{ADMIN}/api-categories"),
        Some(json!({"name": "Food"})),
        StatusCode::CREATED,
    )
    .await;

    let scope = call_and_check(
        &h,
        p,
        "/scopes",
        "POST",
        &format!("{PUBLISHER}/scopes"),
        Some(json!({"name": "shapes:read"})),
        StatusCode::CREATED,
    )
    .await;
    let scope_id = scope["id"].as_str().unwrap().to_owned();
    for (spec, spec_path, uri) in [
        (
            p,
            "/apis/{apiId}/documents",
            format!("{PUBLISHER}/apis/{api_id}/documents"),
        ),
        (
            p,
            "/apis/{apiId}/documents/{documentId}",
            format!("{PUBLISHER}/apis/{api_id}/documents/{doc_id}"),
        ),
        (
            p,
            "/apis/{apiId}/comments",
            format!("{PUBLISHER}/apis/{api_id}/comments"),
        ),
        (
            p,
            "/apis/{apiId}/comments/{commentId}",
            format!("{PUBLISHER}/apis/{api_id}/comments/{comment_id}"),
        ),
        (
            p,
            "/apis/{apiId}/comments/{commentId}/replies",
            format!("{PUBLISHER}/apis/{api_id}/comments/{comment_id}/replies"),
        ),
        (p, "/api-categories", format!("{PUBLISHER}/api-categories")),
        (p, "/scopes", format!("{PUBLISHER}/scopes")),
        (
            p,
            "/scopes/{scopeId}",
            format!("{PUBLISHER}/scopes/{scope_id}"),
        ),
        (
            p,
            "/scopes/{scopeId}/usage",
            format!("{PUBLISHER}/scopes/{scope_id}/usage"),
        ),
        (p, "/key-managers", format!("{PUBLISHER}/key-managers")),
        (
            p,
            "/throttling-policies/{policyLevel}/{policyName}",
            format!("{PUBLISHER}/throttling-policies/subscription/Gold"),
        ),
        (
            p,
            "/apis/{apiId}/resource-paths",
            format!("{PUBLISHER}/apis/{api_id}/resource-paths"),
        ),
        (
            p,
            "/subscriptions/{subscriptionId}/subscriber-info",
            format!("{PUBLISHER}/subscriptions/{sub_id}/subscriber-info"),
        ),
        (
            d,
            "/apis/{apiId}/documents",
            format!("{DEVPORTAL}/apis/{api_id}/documents"),
        ),
        (
            d,
            "/apis/{apiId}/documents/{documentId}",
            format!("{DEVPORTAL}/apis/{api_id}/documents/{doc_id}"),
        ),
        (
            d,
            "/apis/{apiId}/comments",
            format!("{DEVPORTAL}/apis/{api_id}/comments"),
        ),
        (
            d,
            "/apis/{apiId}/comments/{commentId}",
            format!("{DEVPORTAL}/apis/{api_id}/comments/{comment_id}"),
        ),
        (
            d,
            "/apis/{apiId}/ratings",
            format!("{DEVPORTAL}/apis/{api_id}/ratings"),
        ),
        (
            d,
            "/apis/{apiId}/user-rating",
            format!("{DEVPORTAL}/apis/{api_id}/user-rating"),
        ),
        (d, "/tags", format!("{DEVPORTAL}/tags")),
        (d, "/api-categories", format!("{DEVPORTAL}/api-categories")),
        (
            d,
            "/settings/application-attributes",
            format!("{DEVPORTAL}/settings/application-attributes"),
        ),
        (
            d,
            "/throttling-policies/{policyLevel}/{policyId}",
            format!("{DEVPORTAL}/throttling-policies/subscription/Gold"),
        ),
        (a, "/api-categories", format!("{ADMIN}/api-categories")),
        (a, "/applications", format!("{ADMIN}/applications")),
        (
            a,
            "/applications/{applicationId}",
            format!("{ADMIN}/applications/{app_id}"),
        ),
        (a, "/settings", format!("{ADMIN}/settings")),
        (
            a,
            "/tenant-info/{username}",
            format!("{ADMIN}/tenant-info/admin"),
        ),
        (a, "/system-scopes", format!("{ADMIN}/system-scopes")),
        (
            a,
            "/system-scopes/{scopeName}",
            format!("{ADMIN}/system-scopes/apim:api_view"),
        ),
        (
            a,
            "/system-scopes/role-aliases",
            format!("{ADMIN}/system-scopes/role-aliases"),
        ),
    ] {
        call_and_check(&h, spec, spec_path, "GET", &uri, None, StatusCode::OK).await;
    }
    // As WSO2's implementation, an array of the spec's `ThrottlingPolicy`.
    let (_, tiers) = h
        .call(
            "GET",
            &format!("{DEVPORTAL}/apis/{api_id}/subscription-policies"),
            None,
        )
        .await;
    for tier in tiers.as_array().unwrap() {
        assert_conforms(
            d,
            d.schema("ThrottlingPolicy"),
            tier,
            "subscription-policies",
        );
    }
    let (status, copy) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/copy-api?apiId={api_id}&newVersion=9"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_conforms(
        p,
        p.response_schema("/apis/copy-api", "post", 201),
        &copy,
        "copy-api",
    );
    let (_, info) = h
        .call_form(
            "PUT",
            &format!("{PUBLISHER}/apis/{api_id}/thumbnail"),
            &[("file", Some("a.png"), "PNG")],
        )
        .await;
    assert_conforms(
        p,
        p.response_schema("/apis/{apiId}/thumbnail", "put", 200),
        &info,
        "thumbnail",
    );
    let (_, with_content) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/documents/{doc_id}/content"),
            &[("inlineContent", None, "more")],
        )
        .await;
    assert_conforms(
        p,
        p.response_schema("/apis/{apiId}/documents/{documentId}/content", "post", 200),
        &with_content,
        "document content",
    );
}
