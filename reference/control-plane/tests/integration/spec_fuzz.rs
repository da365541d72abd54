//! A property-based run over WSO2's specs: requests generated from every operation's
//! parameters and request body schema (values of the declared types, constraints broken on
//! purpose, wrong types, unknown ids, hostile text), sent to the router with every scope
//! granted. Properties: no 5xx, apart from WSO2's own kept on purpose ([`WSO2_5XX`]), no
//! panic, and every successful JSON answer of its spec's shape (apart from
//! [`SHAPE_DEVIATIONS`]). `cargo test` runs a short pass; `TOLLGATE_FUZZ_CASES=N` runs N requests
//! (docs/rest-apis.md, "Server errors").

use crate::common::*;
use crate::coverage::{EVERY_SCOPE, WSO2_5XX, load};
use crate::openapi_shapes::{admin_spec, devportal, publisher};
use axum::body::Body;
use http::Request;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Requests per run: `TOLLGATE_FUZZ_CASES`, else 768.
fn cases() -> u32 {
    std::env::var("TOLLGATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(768)
}

const METHODS: &[&str] = &["get", "post", "put", "delete", "patch", "head"];

/// One spec with its `$ref`s resolvable.
struct Spec {
    root: Value,
}

impl Spec {
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..8 {
            match value.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    value = self
                        .root
                        .pointer(r.trim_start_matches('#'))
                        .unwrap_or(&Value::Null);
                }
                None => break,
            }
        }
        value
    }
}

/// Hostile or ordinary text.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        "[a-zA-Z0-9_ -]{0,12}",
        "\\PC{0,24}",
        Just(String::new()),
        Just("../../etc/passwd".to_owned()),
        Just("%00%ff".to_owned()),
        Just("x".repeat(70_000)),
        Just("{\"a\":".to_owned()),
    ]
    .boxed()
}

/// Any JSON value, shallow: what a client sends where the spec wants something else.
fn any_json() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1, "a", null])),
    ]
    .boxed()
}

/// Answers whose shape differs from the spec on purpose, as WSO2's own do
/// (docs/rest-apis.md, "Deliberate deviations"): `(method, spec path, what differs)`.
const SHAPE_DEVIATIONS: &[(&str, &str, &str)] = &[
    // WSO2's implementation answers a list of tiers; its spec declares one.
    (
        "GET",
        "/apis/{apiId}/subscription-policies",
        "array where the schema says object",
    ),
    // WSO2 4.2 answers the deployments as a bare array; the spec declares
    // `APIRevisionDeploymentList` (`openapi_shapes::revisions_and_deployments_…`).
    (
        "GET",
        "/apis/{apiId}/deployments",
        "array where the schema says object",
    ),
    // The spec types the definition as a string; WSO2 answers the JSON document itself.
    (
        "GET",
        "/apis/{apiId}/swagger",
        "object where the schema says string",
    ),
];

/// A value for `schema`: mostly of its type and within its constraints, sometimes at or past
/// them, sometimes of another type altogether.
fn value_for(spec: &Spec, schema: &Value, depth: usize) -> BoxedStrategy<Value> {
    let schema = spec.resolve(schema);
    if depth > 4 {
        return any_json();
    }
    let typed: BoxedStrategy<Value> = if let Some(all) = schema["allOf"].as_array() {
        // The branches merged: their properties together.
        let mut merged = Map::new();
        for branch in all {
            if let Some(props) = spec.resolve(branch)["properties"].as_object() {
                merged.extend(props.clone());
            }
        }
        object_for(spec, &merged, depth)
    } else if let Some(options) = schema["enum"].as_array().filter(|o| !o.is_empty()) {
        let options = options.clone();
        prop_oneof![
            4 => proptest::sample::select(options),
            1 => text().prop_map(Value::String),
        ]
        .boxed()
    } else {
        match schema["type"].as_str() {
            Some("string") => {
                let max = schema["maxLength"].as_u64().unwrap_or(64) as usize;
                prop_oneof![
                    4 => "[a-zA-Z0-9:/._-]{1,16}".prop_map(Value::String),
                    1 => Just(Value::String("y".repeat(max + 1))),
                    1 => text().prop_map(Value::String),
                ]
                .boxed()
            }
            Some("integer") | Some("number") => prop_oneof![
                4 => (0i64..100).prop_map(|n| json!(n)),
                1 => any::<i64>().prop_map(|n| json!(n)),
                1 => Just(json!(-1)),
            ]
            .boxed(),
            Some("boolean") => any::<bool>().prop_map(Value::Bool).boxed(),
            Some("array") => {
                let items = value_for(spec, &schema["items"], depth + 1);
                prop::collection::vec(items, 0..3)
                    .prop_map(Value::Array)
                    .boxed()
            }
            _ => match schema["properties"].as_object() {
                Some(props) => object_for(spec, props, depth),
                None => any_json(),
            },
        }
    };
    prop_oneof![9 => typed, 1 => any_json()].boxed()
}

/// An object with some of `props` (each present or not) and sometimes a property no schema
/// has.
fn object_for(spec: &Spec, props: &Map<String, Value>, depth: usize) -> BoxedStrategy<Value> {
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = props
        .iter()
        .map(|(name, schema)| {
            let name = name.clone();
            prop::option::weighted(0.8, value_for(spec, schema, depth + 1))
                .prop_map(move |v| v.map(|v| (name.clone(), v)))
                .boxed()
        })
        .collect();
    (fields, any::<bool>())
        .prop_map(|(fields, extra)| {
            let mut object: Map<String, Value> = fields.into_iter().flatten().collect();
            if extra {
                object.insert("zzUnknown".to_owned(), json!("?"));
            }
            Value::Object(object)
        })
        .boxed()
}

/// The ids a path parameter may take: one that exists (when the world has one), or not.
fn param_value(name: &str, world: &BTreeMap<&'static str, String>) -> BoxedStrategy<String> {
    let real = match name {
        "apiId" => world.get("api").cloned(),
        "applicationId" => world.get("app").cloned(),
        "subscriptionId" => world.get("subscription").cloned(),
        "documentId" => world.get("document").cloned(),
        "commentId" => world.get("comment").cloned(),
        "scopeId" => world.get("scope").cloned(),
        "apiCategoryId" => world.get("category").cloned(),
        "keyMappingId" => world.get("key").cloned(),
        "revisionId" => world.get("revision").cloned(),
        "apiProductId" => world.get("product").cloned(),
        "operationPolicyId" => world.get("operation_policy").cloned(),
        "alias" => world.get("alias").cloned(),
        "envId" => Some("Default".to_owned()),
        "keyType" => Some("PRODUCTION".to_owned()),
        "policyLevel" | "level" => Some("subscription".to_owned()),
        "policyName" | "policyId" => Some("Gold".to_owned()),
        "username" => Some("admin".to_owned()),
        "scopeName" => Some("apim:api_view".to_owned()),
        _ => None,
    };
    let junk = prop_oneof![
        "[a-zA-Z0-9._~-]{1,24}",
        Just("00000000-0000-0000-0000-000000000000".to_owned()),
        Just("%25%00".to_owned()),
        Just("%F0%9F%8D%95".to_owned()),
    ];
    match real {
        Some(real) => prop_oneof![3 => Just(real), 1 => junk].boxed(),
        None => junk.boxed(),
    }
}

/// A generated call: what to send and which operation it stands for.
#[derive(Debug, Clone)]
struct Call {
    /// Which spec: 0 Publisher, 1 Developer Portal, 2 Admin.
    spec: usize,
    operation: (String, String),
    method: String,
    uri: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// Every operation of `spec` as a strategy for [`Call`]s against `base`.
fn operations(
    spec: &Spec,
    index: usize,
    base: &str,
    world: &BTreeMap<&'static str, String>,
) -> Vec<BoxedStrategy<Call>> {
    let mut out = Vec::new();
    let Some(paths) = spec.root["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            // Path parameters in order; query parameters by name.
            let mut path_params = Vec::new();
            let mut query_params = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let p = spec.resolve(p);
                let name = p["name"].as_str().unwrap_or_default().to_owned();
                match p["in"].as_str() {
                    Some("query") => query_params.push((
                        name,
                        prop::option::weighted(0.5, value_for(spec, &p["schema"], 3)).boxed(),
                    )),
                    Some("path") => path_params.push(name),
                    _ => {}
                }
            }
            let segments: Vec<BoxedStrategy<String>> = path
                .split('/')
                .map(
                    |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => param_value(name, world),
                        None => Just(segment.to_owned()).boxed(),
                    },
                )
                .collect();
            let content = &spec.resolve(&op["requestBody"])["content"];
            let body: BoxedStrategy<(Option<String>, Vec<u8>)> = if let Some(schema) =
                content.get("application/json").map(|c| &c["schema"])
            {
                prop_oneof![
                        8 => value_for(spec, schema, 0).prop_map(|v| (Some("application/json".to_owned()), v.to_string().into_bytes())),
                        1 => text().prop_map(|t| (Some("application/json".to_owned()), t.into_bytes())),
                        1 => Just((Some("text/plain".to_owned()), b"x".to_vec())),
                    ]
                    .boxed()
            } else if let Some(schema) = content.get("multipart/form-data").map(|c| &c["schema"]) {
                let names: Vec<String> = spec.resolve(schema)["properties"]
                    .as_object()
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default();
                multipart(names)
            } else {
                Just((None, Vec::new())).boxed()
            };
            let operation = (method.to_ascii_uppercase(), path.clone());
            let base = base.to_owned();
            out.push(
                (
                    segments,
                    query_params
                        .into_iter()
                        .map(|(n, v)| v.prop_map(move |v| v.map(|v| (n.clone(), v))))
                        .collect::<Vec<_>>(),
                    body,
                )
                    .prop_map(move |(segments, query, (content_type, body))| {
                        let query: Vec<String> = query
                            .into_iter()
                            .flatten()
                            .map(|(n, v)| {
                                let v = match v {
                                    Value::String(s) => s,
                                    other => other.to_string(),
                                };
                                format!("{n}={}", percent(&v))
                            })
                            .collect();
                        let mut uri = format!("{base}{}", segments.join("/"));
                        if !query.is_empty() {
                            uri = format!("{uri}?{}", query.join("&"));
                        }
                        Call {
                            spec: index,
                            operation: operation.clone(),
                            method: operation.0.clone(),
                            uri,
                            content_type,
                            body,
                        }
                    })
                    .boxed(),
            );
        }
    }
    out
}

/// A multipart body with some of the form's parts, each holding a definition, JSON or junk.
fn multipart(names: Vec<String>) -> BoxedStrategy<(Option<String>, Vec<u8>)> {
    let part = prop_oneof![
        Just("openapi: 3.0.1\ninfo: {title: F, version: '1'}\npaths: {/a: {get: {}}}".to_owned()),
        Just("{\"name\": \"Fuzz\", \"version\": \"1\", \"context\": \"/fuzz\"}".to_owned()),
        Just("swagger: '2.0'".to_owned()),
        "\\PC{0,40}",
    ];
    let parts: Vec<BoxedStrategy<Option<(String, String)>>> = names
        .into_iter()
        .map(|name| {
            prop::option::weighted(0.6, part.clone())
                .prop_map(move |p| p.map(|p| (name.clone(), p)))
                .boxed()
        })
        .collect();
    (parts, any::<bool>())
        .prop_map(|(parts, broken)| {
            let mut body = String::new();
            for (name, content) in parts.into_iter().flatten() {
                body.push_str(&format!(
                    "--b\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f.yaml\"\r\n\r\n{content}\r\n"
                ));
            }
            if !broken {
                body.push_str("--b--\r\n");
            }
            (Some("multipart/form-data; boundary=b".to_owned()), body.into_bytes())
        })
        .boxed()
}

fn percent(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A control plane with one of everything, so generated ids sometimes hit.
async fn world(h: &Harness) -> BTreeMap<&'static str, String> {
    let mut world = BTreeMap::new();
    let api = h.published_pizzashack().await;
    let app = h.create_application("Fuzz").await;
    let (_, sub) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/subscriptions"),
            Some(json!({"apiId": api, "applicationId": app, "throttlingPolicy": "Gold"})),
        )
        .await;
    let (_, key) = h
        .call(
            "POST",
            &format!("{DEVPORTAL}/applications/{app}/generate-keys"),
            Some(
                json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"]}),
            ),
        )
        .await;
    let (_, doc) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/{api}/documents"),
            Some(json!({"name": "D", "type": "HOWTO", "sourceType": "INLINE", "visibility": "API_LEVEL"})),
        )
        .await;
    let (_, comment) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/apis/{api}/comments"),
            Some(json!({"content": "c"})),
        )
        .await;
    let (_, scope) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/scopes"),
            Some(json!({"name": "fuzz:scope"})),
        )
        .await;
    let (_, category) = h
        .call(
            "POST",
            "/api/am/admin/v4/api-categories",
            Some(json!({"name": "Fuzz"})),
        )
        .await;
    let (_, revisions) = h
        .call("GET", &format!("{PUBLISHER}/apis/{api}/revisions"), None)
        .await;
    let (_, product) = h
        .call(
            "POST",
            &format!("{PUBLISHER}/api-products"),
            Some(json!({"name": "FuzzProduct", "context": "fuzzproduct",
                "apis": [{"apiId": api, "operations": [{"target": "/menu", "verb": "GET"}]}]})),
        )
        .await;
    // One certificate under the same alias in both stores (endpoint and this API's client ones).
    const PEM: &str = include_str!("../../../net/security/wso2carbon.cert.pem");
    for (uri, third) in [
        (
            format!("{PUBLISHER}/endpoint-certificates"),
            ("endpoint", "http://backend.prod:9000"),
        ),
        (
            format!("{PUBLISHER}/apis/{api}/client-certificates"),
            ("tier", "Gold"),
        ),
    ] {
        let parts = [
            ("certificate", Some("c.pem"), PEM),
            ("alias", None, "fuzz"),
            (third.0, None, third.1),
        ];
        let (status, body) = h.call_form("POST", &uri, &parts).await;
        assert_eq!(status, http::StatusCode::OK, "{body}");
    }
    let (_, policy) = h
        .call_form(
            "POST",
            &format!("{PUBLISHER}/operation-policies"),
            &[
                (
                    "policySpecFile",
                    Some("p.json"),
                    r#"{"category": "Mediation", "name": "fuzzPolicy", "displayName": "Fuzz",
                    "description": "d", "applicableFlows": ["request"],
                    "supportedGateways": ["Synapse"], "supportedApiTypes": ["HTTP"],
                    "policyAttributes": []}"#,
                ),
                ("synapsePolicyDefinitionFile", Some("p.j2"), "<log/>"),
            ],
        )
        .await;
    for (name, value) in [
        ("api", json!(api)),
        ("app", json!(app)),
        ("subscription", sub["subscriptionId"].clone()),
        ("key", key["keyMappingId"].clone()),
        ("document", doc["documentId"].clone()),
        ("comment", comment["id"].clone()),
        ("scope", scope["id"].clone()),
        ("category", category["id"].clone()),
        ("revision", revisions["list"][0]["id"].clone()),
        ("product", product["id"].clone()),
        ("operation_policy", policy["id"].clone()),
        ("alias", json!("fuzz")),
    ] {
        if let Some(v) = value.as_str() {
            world.insert(name, v.to_owned());
        }
    }
    world
}

#[test]
fn no_request_generated_from_the_specs_gets_a_server_error() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut h = rt.block_on(harness());
    h.token = rt.block_on(h.token_with_scopes(&format!(
        "{EVERY_SCOPE} apim:document_manage apim:comment_write apim:comment_manage \
         apim:shared_scope_manage apim:admin_operations apim:scope_manage"
    )));
    let world = rt.block_on(world(&h));
    let mut all = Vec::new();
    for (index, (file, bases)) in [
        (
            "publisher-v4.yaml",
            ["/api/am/publisher/v4", "/api/am/publisher"],
        ),
        (
            "devportal-v3.yaml",
            ["/api/am/devportal/v3", "/api/am/devportal"],
        ),
        ("admin-v4.yaml", ["/api/am/admin/v4", "/api/am/admin"]),
    ]
    .into_iter()
    .enumerate()
    {
        let spec = Spec { root: load(file) };
        for base in bases {
            all.extend(operations(&spec, index, base, &world));
        }
    }
    let shapes = [publisher(), devportal(), admin_spec()];
    let violations: std::cell::RefCell<std::collections::BTreeSet<String>> = Default::default();
    let strategy = Union::new(all);
    // A fixed stream, so a failure replays; more cases explore further along it.
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let statuses: std::cell::RefCell<BTreeMap<u16, u32>> = Default::default();
    let result = runner.run(&strategy, |call| {
        let mut request = Request::builder()
            .method(call.method.as_str())
            .uri(&call.uri)
            .header("authorization", format!("Bearer {}", h.token));
        if let Some(ct) = &call.content_type {
            request = request.header("content-type", ct);
        }
        let request = request
            .body(Body::from(call.body.clone()))
            .map_err(|e| TestCaseError::reject(e.to_string()))?;
        let (status, body) = rt.block_on(h.send(request));
        *statuses.borrow_mut().entry(status.as_u16()).or_default() += 1;
        let kept = WSO2_5XX
            .iter()
            .any(|(m, p)| m.eq_ignore_ascii_case(&call.operation.0) && *p == call.operation.1);
        // A successful answer has its spec's shape.
        if status.is_success() && (body.is_object() || body.is_array()) {
            let (method, path) = (call.operation.0.to_ascii_lowercase(), &call.operation.1);
            let shape = shapes[call.spec];
            let found = if !shape.declares(path, &method, status.as_u16()) {
                vec![format!("status {status} is not declared")]
            } else {
                shape
                    .response_body(path, &method, status.as_u16())
                    .map(|schema| shape.check(schema, &body))
                    .unwrap_or_default()
            };
            let deliberate = |v: &String| {
                SHAPE_DEVIATIONS
                    .iter()
                    .any(|(m, p, what)| *m == call.operation.0 && p == path && v.ends_with(what))
            };
            for v in found.into_iter().filter(|v| !deliberate(v)) {
                violations.borrow_mut().insert(format!(
                    "{} {path} {}: {v}",
                    call.operation.0,
                    status.as_u16()
                ));
            }
        }
        prop_assert!(
            !status.is_server_error() || kept,
            "{} {} ({} {}): {status} {body}",
            call.method,
            call.uri,
            call.operation.0,
            call.operation.1
        );
        Ok(())
    });
    eprintln!(
        "spec fuzz: {} requests, statuses {:?}",
        cases(),
        statuses.borrow()
    );
    result.unwrap();
    let violations = violations.into_inner();
    assert!(
        violations.is_empty(),
        "{} schema violations in 2xx answers:{}",
        violations.len(),
        violations
            .iter()
            .map(|v| format!("\n  {v}"))
            .collect::<String>()
    );
}
