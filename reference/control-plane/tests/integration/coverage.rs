//! How much of WSO2's three REST APIs is implemented, counted against WSO2's own OpenAPI specs
//! (`tests/wso2-openapi/*.yaml`, read at test time as `openapi_shapes` does).
//!
//! Every operation of a spec is sent to the router, versioned and versionless, with its path
//! parameters filled in and a token holding every scope; an operation is implemented when
//! neither of the router's fallbacks answers it (404 "The requested resource is not
//! available." for no route, 405 for no such method on the route; no handler answers with
//! those). The figures are printed (`cargo test -p tollgate-control-plane --test integration
//! coverage -- --nocapture`) and recorded in docs/rest-apis.md; the assertions are floors, so a
//! route that goes missing fails the test.

use crate::common::*;
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::Value;

/// 5xx answers that are WSO2's own for a client's mistake, kept on purpose
/// (docs/rest-apis.md, "Server errors").
pub(crate) const WSO2_5XX: &[(&str, &str)] = &[
    // A revision of an API that does not exist: WSO2's generic 500, pinned by its tests.
    ("post", "/apis/{apiId}/revisions"),
    // A deny condition WSO2's DAO refuses (malformed address, unknown API context or
    // application): WSO2's 500, pinned by its Cucumber suite (docs/gateway-policies.md).
    ("post", "/throttling/deny-policies"),
];

const NONSENSE: &str = "zz-no-such-route";

const METHODS: &[&str] = &["get", "post", "put", "delete", "patch", "head", "options"];

/// Every scope the three APIs define, so no operation is refused for its scope.
pub(crate) const EVERY_SCOPE: &str = "apim:api_view apim:api_create apim:api_publish apim:api_delete \
    apim:api_manage apim:api_import_export apim:api_list_view apim:publisher_settings \
    apim:subscribe apim:app_manage apim:sub_manage apim:app_import_export apim:store_settings \
    apim:subscription_view apim:subscription_block apim:admin apim:tier_view apim:tier_manage \
    apim:bl_view apim:bl_manage apim:policies_import_export apim:environment_read \
    apim:environment_manage apim:admin_settings apim:api_key \
    apim:common_operation_policy_view apim:common_operation_policy_manage \
    apim:mediation_policy_view apim:mediation_policy_manage";

struct Count {
    implemented: Vec<String>,
    missing: Vec<String>,
    /// Probes answered with a 5xx: a client's mistake (no body, `{}`, unknown ids) must never
    /// be a server error.
    server_errors: Vec<String>,
}

pub(crate) fn load(name: &str) -> Value {
    let path = crate::openapi_shapes::spec_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is missing ({e})", path.display()));
    serde_norway::from_str(&text).unwrap()
}

/// `/apis/{apiId}/x` with every `{param}` replaced by a value that reaches a handler.
fn fill(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let name = &rest[open + 1..close];
        out.push_str(match name {
            "keyType" => "PRODUCTION",
            "policyLevel" | "level" => "subscription",
            _ => "00000000-0000-0000-0000-000000000000",
        });
        rest = &rest[(close + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

fn is_fallback(method: &str, status: StatusCode, body: &Value) -> bool {
    // A HEAD answer has no body to tell a fallback by.
    if method == "head" {
        return matches!(
            status,
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
        );
    }
    (status == StatusCode::NOT_FOUND
        && body["description"] == "The requested resource is not available.")
        || (status == StatusCode::METHOD_NOT_ALLOWED
            && body["description"] == "The requested method is not allowed for the resource.")
}

/// The indexes of `path`'s literal segments (not `{parameter}`s).
fn literals(path: &str) -> Vec<usize> {
    path.split('/')
        .enumerate()
        .filter(|(_, s)| !s.is_empty() && !s.starts_with('{'))
        .map(|(i, _)| i)
        .collect()
}

fn replace_segment(path: &str, index: usize, with: &str) -> String {
    path.split('/')
        .enumerate()
        .map(|(i, s)| if i == index { with } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// One call without a body (`{}` for the methods that take one), every scope granted.
async fn probe(h: &Harness, token: &str, method: &str, uri: &str) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method.to_ascii_uppercase().as_str())
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    let body = if matches!(method, "post" | "put" | "patch") {
        request = request.header("content-type", "application/json");
        Body::from("{}")
    } else {
        Body::empty()
    };
    h.send(request.body(body).unwrap()).await
}

async fn count(h: &Harness, token: &str, spec: &str, bases: [&str; 2]) -> Count {
    let root = load(spec);
    let mut implemented = Vec::new();
    let mut missing = Vec::new();
    let mut server_errors = Vec::new();
    let paths = root["paths"].as_object().unwrap();
    for (path, item) in paths {
        for method in METHODS {
            if item.get(*method).is_none() {
                continue;
            }
            let mut answered = true;
            for base in bases {
                let (status, body) =
                    probe(h, token, method, &format!("{base}{}", fill(path))).await;
                if status.is_server_error() && !WSO2_5XX.contains(&(*method, path.as_str())) {
                    server_errors.push(format!(
                        "{} {base}{path}: {status} {body}",
                        method.to_ascii_uppercase()
                    ));
                }
                answered &= !is_fallback(method, status, &body);
                // A literal segment (`/apis/export`) the router takes for a parameter
                // (`/apis/{apiId}`) reaches a handler without being implemented: the same
                // call with that segment replaced by nonsense must answer differently (the
                // nonsense put back in the description, which may quote it).
                for literal in literals(path) {
                    let word = path.split('/').nth(literal).unwrap_or_default();
                    let nonsense = fill(&replace_segment(path, literal, NONSENSE));
                    let (other, other_body) =
                        probe(h, token, method, &format!("{base}{nonsense}")).await;
                    let description = |b: &Value| {
                        b["description"]
                            .as_str()
                            .unwrap_or_default()
                            .replace(NONSENSE, word)
                    };
                    if !is_fallback(method, other, &other_body)
                        && (other, &other_body["code"], description(&other_body))
                            == (status, &body["code"], description(&body))
                    {
                        answered = false;
                    }
                }
            }
            let name = format!("{} {path}", method.to_ascii_uppercase());
            if answered {
                implemented.push(name);
            } else {
                missing.push(name);
            }
        }
    }
    Count {
        implemented,
        missing,
        server_errors,
    }
}

#[tokio::test]
async fn operations_implemented_per_wso2_spec() {
    let h = harness().await;
    let token = h.token_with_scopes(EVERY_SCOPE).await;
    let mut report = String::new();
    // (spec, versioned base, versionless base, floor of implemented operations)
    for (spec, versioned, versionless, floor) in [
        (
            "publisher-v4.yaml",
            "/api/am/publisher/v4",
            "/api/am/publisher",
            99,
        ),
        (
            "devportal-v3.yaml",
            "/api/am/devportal/v3",
            "/api/am/devportal",
            54,
        ),
        ("admin-v4.yaml", "/api/am/admin/v4", "/api/am/admin", 49),
    ] {
        let c = count(&h, &token, spec, [versioned, versionless]).await;
        let total = c.implemented.len() + c.missing.len();
        report.push_str(&format!(
            "{spec}: {}/{total} operations ({:.0} %)\n  implemented: {}\n",
            c.implemented.len(),
            100.0 * c.implemented.len() as f64 / total as f64,
            c.implemented.join(", "),
        ));
        assert!(
            c.server_errors.is_empty(),
            "{spec}: 5xx for a client's mistake:\n{}",
            c.server_errors.join("\n")
        );
        assert!(
            c.implemented.len() >= floor,
            "{spec}: {} implemented, fewer than {floor}\n{report}",
            c.implemented.len()
        );
    }
    println!("{report}");
}
