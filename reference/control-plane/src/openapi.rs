//! OpenAPI definitions supplied by users: read (JSON or YAML, OpenAPI 3.x or Swagger 2.0),
//! checked as WSO2's `OASParserUtil.validateAPIDefinition` checks them, and turned into an
//! API's resources and scopes as `OAS3Parser` / `OAS2Parser.getURITemplates` and `getScopes`
//! do.
//!
//! A definition is kept as JSON (WSO2 stores the JSON form too, whatever the upload was).

use crate::model::{AUTH_ANY, OperationDto};
use serde_json::{Map, Value, json};

/// `ExceptionCodes.OPENAPI_PARSE_EXCEPTION`: the code and message of every validation error.
pub const PARSE_ERROR_CODE: i64 = 900754;
pub const PARSE_ERROR_MESSAGE: &str = "Error while parsing OpenAPI definition";

/// The verbs WSO2 reads from a path item, in swagger-core's `readOperationsMap` order.
const VERBS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// Whether a path item's key names an operation (`trace` included, which WSO2 never reads).
pub fn is_verb(key: &str) -> bool {
    key == "trace" || VERBS.contains(&key)
}

/// Which specification a definition follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `openapi: 3.x`
    Oas3,
    /// `swagger: "2.0"`
    Swagger2,
}

/// A definition that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub doc: Value,
    pub flavour: Flavour,
}

/// `OpenAPIDefinitionValidationResponse.info`.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub context: String,
    pub description: Option<String>,
    pub openapi_version: String,
    pub endpoints: Vec<String>,
}

/// Reads and checks a definition; on failure, the reasons (each one of WSO2's `ErrorListItem`
/// descriptions, as swagger-parser words them).
pub fn parse(text: &str) -> Result<Definition, Vec<String>> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err(vec!["The definition is empty".to_owned()]);
    }
    // JSON is YAML too, but serde_json's errors name the JSON mistake.
    let doc: Value = if trimmed.starts_with('{') {
        serde_json::from_str(trimmed).map_err(|e| vec![format!("Malformed JSON: {e}")])?
    } else {
        serde_norway::from_str(trimmed).map_err(|e| vec![format!("Malformed YAML: {e}")])?
    };
    let Some(root) = doc.as_object() else {
        return Err(vec!["The definition is not an object".to_owned()]);
    };
    // An unquoted `openapi: 3.0` is a YAML number.
    let openapi = root.get("openapi").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let flavour = match (openapi, root.get("swagger")) {
        (Some(v), _) if v.starts_with("3.") => Flavour::Oas3,
        (Some(v), _) => {
            return Err(vec![format!(
                "attribute openapi is not a supported version: {v}"
            )]);
        }
        (None, Some(Value::String(v))) if v == "2.0" => Flavour::Swagger2,
        (None, Some(v)) => return Err(vec![format!("attribute swagger must be \"2.0\": {v}")]),
        (None, None) => return Err(vec!["attribute openapi is missing".to_owned()]),
    };
    let mut errors = Vec::new();
    match root.get("info") {
        None => errors.push("attribute info is missing".to_owned()),
        Some(Value::Object(info)) => {
            for key in ["title", "version"] {
                match info.get(key) {
                    None => errors.push(format!("attribute info.{key} is missing")),
                    Some(Value::String(_)) => {}
                    Some(_) => errors.push(format!("attribute info.{key} is not of type `string`")),
                }
            }
        }
        Some(_) => errors.push("attribute info is not of type `object`".to_owned()),
    }
    match root.get("paths") {
        None => errors.push("attribute paths is missing".to_owned()),
        Some(Value::Object(paths)) => {
            for (path, item) in paths {
                if path.starts_with("x-") {
                    continue;
                }
                if !path.starts_with('/') {
                    errors.push(format!("attribute paths.'{path}' must start with '/'"));
                }
                let Some(item) = item.as_object() else {
                    errors.push(format!("attribute paths.'{path}' is not of type `object`"));
                    continue;
                };
                for verb in VERBS {
                    if let Some(op) = item.get(*verb)
                        && !op.is_object()
                    {
                        errors.push(format!(
                            "attribute paths.'{path}'({verb}) is not of type `object`"
                        ));
                    }
                }
            }
        }
        Some(_) => errors.push("attribute paths is not of type `object`".to_owned()),
    }
    if errors.is_empty() {
        Ok(Definition { doc, flavour })
    } else {
        Err(errors)
    }
}

impl Definition {
    /// `APIDefinitionValidationResponse.info`: the context is the title without spaces,
    /// lower-cased (`OAS3Parser.validateAPIDefinition`); the endpoints are the `servers`
    /// (Swagger 2.0: `scheme://host/basePath` per scheme).
    pub fn info(&self) -> Info {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let name = text(&self.doc["info"]["title"]);
        let context = format!(
            "/{}",
            name.split_whitespace().collect::<String>().to_lowercase()
        );
        let endpoints = match self.flavour {
            Flavour::Oas3 => self.doc["servers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["url"].as_str().map(str::to_owned))
                .collect(),
            Flavour::Swagger2 => match self.doc["host"].as_str() {
                Some(host) => {
                    let base = self.doc["basePath"].as_str().unwrap_or_default();
                    let schemes: Vec<&str> = self.doc["schemes"]
                        .as_array()
                        .map(|s| s.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_else(|| vec!["https"]);
                    schemes
                        .into_iter()
                        .map(|scheme| format!("{scheme}://{host}{base}"))
                        .collect()
                }
                None => Vec::new(),
            },
        };
        Info {
            version: text(&self.doc["info"]["version"]),
            description: self.doc["info"]["description"].as_str().map(str::to_owned),
            openapi_version: match self.flavour {
                Flavour::Oas3 => match &self.doc["openapi"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                Flavour::Swagger2 => "2.0".to_owned(),
            },
            name,
            context,
            endpoints,
        }
    }

    /// The API's resources: one per path and verb, with `x-auth-type`, `x-throttling-tier`
    /// and the scopes of the `default` OAuth2 scheme (else `x-scope`), as
    /// `getURITemplates` reads them.
    pub fn operations(&self) -> Vec<OperationDto> {
        let mut out = Vec::new();
        let Some(paths) = self.doc["paths"].as_object() else {
            return out;
        };
        for (target, item) in paths.iter().filter(|(p, _)| p.starts_with('/')) {
            for verb in VERBS {
                let Some(op) = item.get(*verb).and_then(Value::as_object) else {
                    continue;
                };
                out.push(OperationDto {
                    id: String::new(),
                    target: target.clone(),
                    verb: verb.to_ascii_uppercase(),
                    auth_type: auth_type(op.get("x-auth-type")),
                    throttling_policy: Some(
                        op.get("x-throttling-tier")
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                            .unwrap_or("Unlimited")
                            .to_owned(),
                    ),
                    scopes: operation_scopes(op),
                    used_product_ids: Vec::new(),
                });
            }
        }
        out
    }

    /// The API's scopes: those of the `default` OAuth2 scheme, with their roles from
    /// `x-scopes-bindings`, as WSO2's `APIScope` (`{scope, shared}`).
    pub fn scopes(&self) -> Vec<Value> {
        let scheme = match self.flavour {
            Flavour::Oas3 => &self.doc["components"]["securitySchemes"]["default"],
            Flavour::Swagger2 => &self.doc["securityDefinitions"]["default"],
        };
        let declared = match self.flavour {
            Flavour::Oas3 => scheme["flows"]["implicit"]["scopes"].as_object(),
            Flavour::Swagger2 => scheme["scopes"].as_object(),
        };
        let bindings = match self.flavour {
            Flavour::Oas3 => &scheme["flows"]["implicit"]["x-scopes-bindings"],
            Flavour::Swagger2 => &scheme["x-scopes-bindings"],
        };
        declared
            .into_iter()
            .flatten()
            .map(|(name, description)| {
                let roles: Vec<String> = bindings[name]
                    .as_str()
                    .map(|r| {
                        r.split(',')
                            .map(str::trim)
                            .filter(|r| !r.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                json!({"scope": {"name": name, "displayName": name,
                    "description": description.as_str().unwrap_or_default(),
                    "bindings": roles}, "shared": false})
            })
            .collect()
    }
}

/// `x-auth-type` as REST answers show it: `Any` and unset are "Application & Application
/// User"; `None`, `Application` and `Application User` stay.
fn auth_type(value: Option<&Value>) -> String {
    match value.and_then(Value::as_str).map(str::trim) {
        None | Some("") => AUTH_ANY.to_owned(),
        Some(v) if v.eq_ignore_ascii_case("any") => AUTH_ANY.to_owned(),
        Some(v) if v.eq_ignore_ascii_case("application_user") => "Application User".to_owned(),
        Some(v) => v.to_owned(),
    }
}

/// Scopes of an operation: its `security` entry for `default`, else its `x-scope`.
fn operation_scopes(op: &Map<String, Value>) -> Vec<String> {
    let from_security: Vec<String> = op
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|requirement| requirement.get("default")?.as_array())
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if !from_security.is_empty() {
        return from_security;
    }
    op.get("x-scope")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| vec![s.to_owned()])
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PETSTORE_YAML: &str = r#"
openapi: 3.0.1
info:
  title: Pet Store
  version: 1.0.0
  description: pets
servers:
  - url: http://petstore.example.com/v1
paths:
  /pets:
    get:
      x-auth-type: Application User
      x-throttling-tier: 10KPerMin
      responses:
        200:
          description: OK
    post:
      security:
        - default: [pets:write]
      responses:
        201:
          description: Created
  /pets/{petId}:
    get:
      x-auth-type: None
      x-scope: pets:read
      responses:
        200:
          description: OK
components:
  securitySchemes:
    default:
      type: oauth2
      flows:
        implicit:
          authorizationUrl: https://test.com
          scopes:
            pets:write: write pets
            pets:read: read pets
          x-scopes-bindings:
            pets:write: admin, editor
"#;

    #[test]
    fn yaml_oas3_gives_info_resources_and_scopes() {
        let d = parse(PETSTORE_YAML).unwrap();
        assert_eq!(d.flavour, Flavour::Oas3);
        let info = d.info();
        assert_eq!(
            (info.name.as_str(), info.version.as_str()),
            ("Pet Store", "1.0.0")
        );
        assert_eq!(info.context, "/petstore");
        assert_eq!(info.endpoints, ["http://petstore.example.com/v1"]);
        let ops: Vec<String> = d
            .operations()
            .into_iter()
            .map(|o| {
                format!(
                    "{} {} | {} | {:?} | {:?}",
                    o.verb, o.target, o.auth_type, o.throttling_policy, o.scopes
                )
            })
            .collect();
        assert_eq!(
            ops,
            [
                r#"GET /pets | Application User | Some("10KPerMin") | []"#,
                r#"POST /pets | Application & Application User | Some("Unlimited") | ["pets:write"]"#,
                r#"GET /pets/{petId} | None | Some("Unlimited") | ["pets:read"]"#,
            ]
        );
        let scopes = d.scopes();
        assert_eq!(scopes[0]["scope"]["name"], "pets:write");
        assert_eq!(scopes[0]["scope"]["bindings"], json!(["admin", "editor"]));
        assert_eq!(scopes[1]["scope"]["bindings"], json!([]));
    }

    #[test]
    fn swagger2_json_is_read_with_its_host_as_endpoint() {
        let d = parse(
            r#"{"swagger": "2.0", "info": {"title": "Menu", "version": "2"},
                "host": "api.example.com", "basePath": "/menu", "schemes": ["https"],
                "paths": {"/items": {"get": {"responses": {"200": {"description": "ok"}}}}}}"#,
        )
        .unwrap();
        assert_eq!(d.flavour, Flavour::Swagger2);
        assert_eq!(d.info().endpoints, ["https://api.example.com/menu"]);
        assert_eq!(d.info().openapi_version, "2.0");
        assert_eq!(d.operations().len(), 1);
    }

    #[test]
    fn broken_definitions_say_why() {
        assert_eq!(
            parse("{\"openapi\": \"3.0.1\"}").unwrap_err(),
            ["attribute info is missing", "attribute paths is missing"]
        );
        assert_eq!(
            parse("openapi: 3.0.0\ninfo: {title: t}\npaths: {}").unwrap_err(),
            ["attribute info.version is missing"]
        );
        assert_eq!(parse("{}").unwrap_err(), ["attribute openapi is missing"]);
        assert!(parse("{not json").unwrap_err()[0].starts_with("Malformed JSON"));
        assert!(parse("a: [b").unwrap_err()[0].starts_with("Malformed YAML"));
        assert_eq!(parse("   ").unwrap_err(), ["The definition is empty"]);
        assert_eq!(
            parse("- 1\n- 2").unwrap_err(),
            ["The definition is not an object"]
        );
        assert!(parse("openapi: 1.0\ninfo: {}\npaths: {}").is_err());
        assert_eq!(
            parse("openapi: 3.0.0\ninfo: {title: t, version: v}\npaths: {pets: {}}").unwrap_err(),
            ["attribute paths.'pets' must start with '/'"]
        );
    }
}
