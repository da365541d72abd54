//! The key manager's HTTP surface, mounted by the control plane on its management port:
//!
//! | route | what |
//! |---|---|
//! | `POST /client-registration/v0.17/register` | DCR (super admin Basic auth, JSON) |
//! | `POST /oauth2/token` | token endpoint (client auth, form) |
//! | `GET /oauth2/jwks` | the signing key as a JWK set |
//! | `POST /oauth2/revoke` | RFC 7009 revocation (client auth, form) |
//! | `POST /oauth2/introspect` | RFC 7662 introspection (super admin Basic auth, form) |

use crate::error::OAuthError;
use crate::manager::{ClientSpec, DcrAttributes, DcrOutcome, KeyManager, OAuthClient};
use crate::token::{AUT_APPLICATION, AUT_APPLICATION_USER, Grant, TokenRequest};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const DCR_REGISTER: &str = "/client-registration/v0.17/register";
pub const TOKEN: &str = "/oauth2/token";
pub const JWKS: &str = "/oauth2/jwks";
pub const REVOKE: &str = "/oauth2/revoke";
pub const INTROSPECT: &str = "/oauth2/introspect";

type Km = State<Arc<KeyManager>>;

pub(crate) fn router(km: Arc<KeyManager>) -> Router {
    Router::new()
        .route(DCR_REGISTER, post(register))
        .route(TOKEN, post(token))
        .route(JWKS, get(jwks))
        .route(REVOKE, post(revoke))
        .route(INTROSPECT, post(introspect))
        .with_state(km)
}

// ---------------------------------------------------------------------------------------------
// Request plumbing

/// `Authorization: Basic base64(user:secret)`: `None` when absent, `Err` when not decodable.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let parsed = (|| {
        let text = value.to_str().map_err(|_| ())?.trim();
        let (scheme, encoded) = text.split_once(' ').ok_or(())?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| ())?;
        let decoded = String::from_utf8(bytes).map_err(|_| ())?;
        let (user, secret) = decoded.split_once(':').ok_or(())?;
        Ok((user.to_owned(), secret.to_owned()))
    })();
    Some(parsed)
}

/// An `application/x-www-form-urlencoded` body. A repeated parameter is refused, as IS's token
/// endpoint does (`validateRepeatedParams`).
fn parse_form(body: &[u8]) -> Result<BTreeMap<String, String>, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::InvalidRequest("Invalid request body".to_owned()))?;
    let mut form = BTreeMap::new();
    for (key, value) in pairs {
        if form.insert(key, value).is_some() {
            return Err(OAuthError::InvalidRequest(
                "Invalid request with repeated parameters.".to_owned(),
            ));
        }
    }
    Ok(form)
}

fn non_blank<'a>(form: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    form.get(key)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

/// The client's credentials: the Basic header, else `client_id`/`client_secret` form fields.
fn client_credentials(
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
) -> Result<(String, String), OAuthError> {
    let failed = || OAuthError::InvalidClient("Client Authentication failed.".to_owned());
    match basic_credentials(headers) {
        Some(Ok(pair)) => Ok(pair),
        Some(Err(())) => Err(failed()),
        None => match (
            non_blank(form, "client_id"),
            non_blank(form, "client_secret"),
        ) {
            (Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
            _ => Err(failed()),
        },
    }
}

impl KeyManager {
    /// An OAuth error response; a 401 also carries IS's challenge (`Basic realm=<host>`).
    fn oauth_failure(&self, error: OAuthError) -> Response {
        let unauthorized = error.status() == StatusCode::UNAUTHORIZED;
        let mut response = error.into_response();
        if unauthorized {
            let realm = format!("Basic realm={}", issuer_host(&self.settings.issuer));
            if let Ok(value) = HeaderValue::from_str(&realm) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }

    fn is_super_admin(&self, headers: &HeaderMap) -> bool {
        matches!(basic_credentials(headers), Some(Ok((user, password))) if self.authenticate_user(&user, &password))
    }
}

/// `https://localhost:9443/oauth2/token` → `localhost`.
fn issuer_host(issuer: &str) -> &str {
    let rest = issuer.split_once("://").map_or(issuer, |(_, r)| r);
    let end = rest.find([':', '/']).unwrap_or(rest.len());
    &rest[..end]
}

// ---------------------------------------------------------------------------------------------
// POST /oauth2/token

async fn token(State(km): Km, headers: HeaderMap, body: Bytes) -> Response {
    match token_request(&km, &headers, &body) {
        Ok(response) => (
            StatusCode::OK,
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(response),
        )
            .into_response(),
        Err(e) => km.oauth_failure(e),
    }
}

fn token_request(
    km: &KeyManager,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<crate::token::TokenResponse, OAuthError> {
    // As in IS, the request is validated (grant type, its parameters) before the outcome of
    // client authentication is looked at.
    let form = parse_form(body)?;
    let grant = parse_grant(&form)?;
    let scopes = form
        .get("scope")
        .map(|s| crate::token::split_scopes(s))
        .unwrap_or_default();
    let validity_secs = match non_blank(&form, "validity_period") {
        None => None,
        Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
            OAuthError::InvalidRequest(format!("Invalid validity_period value: {v}"))
        })?),
    };
    let (key, secret) = client_credentials(headers, &form)?;
    km.issue_token(
        &key,
        &secret,
        TokenRequest {
            grant,
            scopes,
            validity_secs,
        },
    )
}

fn parse_grant(form: &BTreeMap<String, String>) -> Result<Grant, OAuthError> {
    let grant_type = non_blank(form, "grant_type").ok_or_else(|| {
        OAuthError::InvalidRequest("Missing grant_type parameter value".to_owned())
    })?;
    let required = |names: &[&str]| -> Result<Vec<String>, OAuthError> {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| non_blank(form, n).is_none())
            .collect();
        if !missing.is_empty() {
            // Oltu's `OAuthUtils.handleMissingParameters` wording.
            return Err(OAuthError::InvalidRequest(format!(
                "Missing parameters: {}",
                missing.join(" ")
            )));
        }
        Ok(names
            .iter()
            .map(|n| form.get(*n).cloned().unwrap_or_default())
            .collect())
    };
    match grant_type {
        "client_credentials" => Ok(Grant::ClientCredentials),
        "password" => {
            let mut values = required(&["username", "password"])?.into_iter();
            Ok(Grant::Password {
                username: values.next().unwrap_or_default(),
                password: values.next().unwrap_or_default(),
            })
        }
        "refresh_token" => {
            let mut values = required(&["refresh_token"])?.into_iter();
            Ok(Grant::RefreshToken {
                refresh_token: values.next().unwrap_or_default(),
            })
        }
        // authorization_code, implicit, jwt-bearer, token-exchange, ...: not implemented here.
        other => Err(OAuthError::UnsupportedGrantType(other.to_owned())),
    }
}

// ---------------------------------------------------------------------------------------------
// GET /oauth2/jwks

async fn jwks(State(km): Km) -> Response {
    Json(km.jwks().clone()).into_response()
}

// ---------------------------------------------------------------------------------------------
// POST /oauth2/revoke

async fn revoke(State(km): Km, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        let form = parse_form(&body)?;
        let (key, secret) = client_credentials(&headers, &form)?;
        let client: OAuthClient = km.authenticate_client(&key, &secret)?;
        let token = non_blank(&form, "token")
            .ok_or_else(|| OAuthError::InvalidRequest("Missing parameters: token".to_owned()))?;
        // `token_type_hint` is optional and only a hint (RFC 7009 §2.1): both kinds are looked
        // up whatever it says.
        km.revoke_for_client(&client.consumer_key, token)
    })();
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => km.oauth_failure(e),
    }
}

// ---------------------------------------------------------------------------------------------
// POST /oauth2/introspect

/// RFC 7662 answer for an active token, IS's field set.
#[derive(Serialize)]
struct Introspection {
    active: bool,
    scope: String,
    client_id: String,
    /// Tenant-qualified, as IS writes it (`admin@carbon.super`).
    username: String,
    token_type: &'static str,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
    aut: &'static str,
}

async fn introspect(State(km): Km, headers: HeaderMap, body: Bytes) -> Response {
    if !km.is_super_admin(&headers) {
        // The endpoint is for resource servers holding the admin's credentials; IS's exact body
        // for a refused caller is UNCONFIRMED, so it is the token endpoint's.
        return km.oauth_failure(OAuthError::InvalidClient(
            "Client Authentication failed.".to_owned(),
        ));
    }
    let form = match parse_form(&body) {
        Ok(form) => form,
        Err(e) => return km.oauth_failure(e),
    };
    let Some(token) = non_blank(&form, "token") else {
        return km.oauth_failure(OAuthError::InvalidRequest("Invalid input".to_owned()));
    };
    // Refresh tokens are opaque and are not introspected here: they come back inactive.
    let info = match km.validate_access_token(token) {
        Ok(info) => info,
        Err(_) => return Json(json!({ "active": false })).into_response(),
    };
    let username = if info.subject.contains('@') {
        info.subject.clone()
    } else {
        format!("{}@{}", info.subject, km.settings().tenant_domain)
    };
    Json(Introspection {
        active: true,
        scope: info.scopes.join(" "),
        client_id: info.consumer_key,
        username,
        token_type: "Bearer",
        exp: info.expires_at,
        iat: info.issued_at,
        nbf: info.issued_at,
        jti: info.jti,
        aut: if info.application_token {
            AUT_APPLICATION
        } else {
            AUT_APPLICATION_USER
        },
    })
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// POST /client-registration/v0.17/register

/// The DCR request (`dcr.yaml` `DCR`); every field optional on the wire.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DcrRequest {
    #[serde(default)]
    callback_url: Option<String>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    owner: Option<String>,
    /// Space-separated.
    #[serde(default)]
    grant_type: Option<String>,
    /// The spec types it as a string; clients send `true` as often as `"true"`.
    #[serde(default)]
    saas_app: Option<serde_json::Value>,
    #[serde(default)]
    token_type: Option<String>,
}

/// The DCR answer (`DCRResult`), field order as carbon-apimgt writes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DcrResult {
    client_id: String,
    client_name: String,
    #[serde(rename = "callBackURL")]
    call_back_url: Option<String>,
    client_secret: String,
    is_saas_application: bool,
    /// `null` when an existing client is handed back (`getExistingApp` passes no owner).
    app_owner: Option<String>,
    /// The IS app's parameters as a JSON string.
    json_string: String,
    json_app_attribute: String,
    token_type: String,
}

/// carbon-apimgt's REST error (`ErrorDTO`): `{code, message, description, moreInfo, error}`.
fn rest_error(status: StatusCode, message: &str, description: &str) -> Response {
    let body = json!({
        "code": status.as_u16(),
        "message": message,
        "description": description,
        "moreInfo": "",
        "error": [],
    });
    (status, Json(body)).into_response()
}

fn bad_request(description: &str) -> Response {
    rest_error(StatusCode::BAD_REQUEST, "Bad Request", description)
}

async fn register(State(km): Km, headers: HeaderMap, body: Bytes) -> Response {
    // carbon-apimgt's BasicAuthenticationInterceptor + GlobalThrowableMapper.
    if !km.is_super_admin(&headers) {
        return rest_error(StatusCode::UNAUTHORIZED, "", "Unauthenticated request");
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return bad_request("Request payload cannot be empty.");
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return bad_request("Malformed request body.");
    };
    let Ok(request) = serde_json::from_value::<DcrRequest>(value) else {
        return bad_request("One or more request body parameters contain disallowed values.");
    };
    let Some(client_name) = request.client_name.filter(|n| !n.trim().is_empty()) else {
        return bad_request("clientName cannot be empty");
    };
    let Some(owner) = request.owner.filter(|o| !o.trim().is_empty()) else {
        return bad_request("owner cannot be empty");
    };
    let callback_url = request.callback_url.filter(|u| !u.trim().is_empty());
    // Without a callback URL, carbon-apimgt drops the grants that need one.
    let grant_types: Vec<String> = request
        .grant_type
        .unwrap_or_default()
        .split_whitespace()
        .filter(|g| callback_url.is_some() || !matches!(*g, "authorization_code" | "implicit"))
        .map(str::to_owned)
        .collect();
    let saas_app = match request.saas_app {
        Some(serde_json::Value::Bool(b)) => b,
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    // `APIConstants.DEFAULT_TOKEN_TYPE` when the request names none.
    let token_type = request
        .token_type
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "DEFAULT".to_owned());
    let spec = ClientSpec {
        client_name,
        owner,
        grant_types,
        callback_url,
    };
    let attributes = DcrAttributes {
        saas_app,
        token_type,
    };
    let (client, attributes, created) = match km.register_dcr(spec, attributes) {
        DcrOutcome::Created(c, a) => (c, a, true),
        DcrOutcome::Existing(c, a) => (c, a, false),
        DcrOutcome::OwnedByAnother => {
            return rest_error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Access is forbidden to the application",
            );
        }
    };
    let grant_types = client.grant_types.join(" ");
    // A new app's parameters carry its redirect URI and name; an existing app's only its grants
    // (`RegistrationServiceImpl#createApplication` / `#getExistingApp`).
    let json_string = if created {
        let mut params = serde_json::Map::new();
        params.insert("grant_types".to_owned(), json!(grant_types));
        if let Some(url) = &client.callback_url {
            params.insert("redirect_uris".to_owned(), json!(url));
        }
        params.insert("client_name".to_owned(), json!(client.client_name));
        serde_json::Value::Object(params).to_string()
    } else {
        json!({ "grant_types": grant_types }).to_string()
    };
    Json(DcrResult {
        client_id: client.consumer_key,
        client_name: client.client_name,
        call_back_url: client.callback_url,
        client_secret: client.consumer_secret,
        is_saas_application: attributes.saas_app,
        app_owner: created.then_some(client.owner),
        json_string,
        json_app_attribute: "{}".to_owned(),
        token_type: attributes.token_type,
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_host_is_the_hostname_alone() {
        assert_eq!(
            issuer_host("https://localhost:9443/oauth2/token"),
            "localhost"
        );
        assert_eq!(
            issuer_host("https://cp.wso2.com/oauth2/token"),
            "cp.wso2.com"
        );
    }

    #[test]
    fn repeated_form_parameters_are_refused() {
        assert!(parse_form(b"a=1&a=2").is_err());
        let form = parse_form(b"scope=apim%3Aapi_create+apim%3Aapi_publish").unwrap();
        assert_eq!(form["scope"], "apim:api_create apim:api_publish");
    }

    #[test]
    fn a_malformed_basic_header_is_an_error_not_absence() {
        let mut headers = HeaderMap::new();
        assert!(basic_credentials(&headers).is_none());
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&headers), Some(Err(())));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic YWRtaW46YWRtaW4="),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(Ok(("admin".to_owned(), "admin".to_owned())))
        );
    }
}
