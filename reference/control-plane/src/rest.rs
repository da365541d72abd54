//! The REST edge: what a request that never reaches a handler's logic gets back.
//!
//! WSO2's REST APIs (CXF + `GlobalThrowableMapper`) answer every failure with JSON, and so do
//! we: the extractors here ([`Query`], [`Path`], [`JsonBody`]) turn axum's rejections into
//! [`RestError`]s with the status CXF would use, [`not_found`] and [`method_not_allowed`] are
//! the router's fallbacks, and [`error_shape`] is a last line that rewrites any plain-text
//! error that still gets out (a rejection from a handler using axum's own extractors) into the
//! right shape for its path: WSO2's `Error` for the REST APIs and the internal API, OAuth's
//! `{error_description, error}` under `/oauth2/`.

use crate::error::RestError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, StatusCode, Uri};
use serde::de::DeserializeOwned;

/// The largest request body accepted (axum's default, made explicit so the 413 can say it).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Where the Key Manager's OAuth endpoints live; their errors keep the OAuth shape.
const OAUTH_PREFIX: &str = "/oauth2/";

/// `axum::extract::Query` whose rejection is CXF's: a query string that does not convert to
/// the parameters' types is a 404 (JAX-RS §3.2), in WSO2's `Error` shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, RestError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| RestError::parameter_not_convertible(e.body_text()))
    }
}

/// `axum::extract::Path` whose rejection is CXF's 404 for an unconvertible path parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, RestError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| RestError::parameter_not_convertible(e.body_text()))
    }
}

/// The raw body of an operation that consumes `application/json`.
///
/// A body sent with another `Content-Type`, or with none at all, is CXF's 415 (an empty body
/// without a type is fine: several operations take an optional body). Parsing stays with the
/// handler ([`crate::publisher::parse_json`]) because WSO2's 400s for empty, malformed and
/// ill-typed payloads differ.
#[derive(Debug, Clone, Default)]
pub struct JsonBody(pub Bytes);

impl std::ops::Deref for JsonBody {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = RestError;

    async fn from_request(req: Request, state: &S) -> Result<Self, RestError> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        match content_type {
            Some(ct) if !is_json(&ct) => Err(RestError::unsupported_media_type(&ct)),
            None if !bytes.iter().all(u8::is_ascii_whitespace) => {
                Err(RestError::unsupported_media_type(""))
            }
            _ => Ok(Self(bytes)),
        }
    }
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, Default)]
pub struct FormPart {
    /// The `filename` of its `Content-Disposition`, for a file part.
    pub file_name: Option<String>,
    pub bytes: Bytes,
}

impl FormPart {
    /// The part as text (lossy: a definition with a bad byte still gets its parse error).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// The parts of a `multipart/form-data` body by name (a repeated name keeps the first),
/// for the operations that take uploads. Another `Content-Type` is CXF's 415; a body that
/// breaks the multipart syntax is a 400.
#[derive(Debug, Clone, Default)]
pub struct Form(pub std::collections::BTreeMap<String, FormPart>);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = RestError;

    async fn from_request(req: Request, state: &S) -> Result<Self, RestError> {
        const MULTIPART: &str = "multipart/form-data";
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        if !essence.eq_ignore_ascii_case(MULTIPART) {
            return Err(RestError::unsupported_media_type_for(
                &content_type,
                MULTIPART,
            ));
        }
        let malformed = |e: axum::extract::multipart::MultipartError| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                RestError::payload_too_large(MAX_BODY_BYTES)
            } else {
                RestError::bad_request(format!("Malformed multipart body: {}", e.body_text()))
            }
        };
        let mut multipart = axum::extract::Multipart::from_request(req, state)
            .await
            .map_err(|e| {
                RestError::bad_request(format!("Malformed multipart body: {}", e.body_text()))
            })?;
        let mut parts = std::collections::BTreeMap::new();
        while let Some(field) = multipart.next_field().await.map_err(malformed)? {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(malformed)?;
            parts.entry(name).or_insert(FormPart { file_name, bytes });
        }
        Ok(Self(parts))
    }
}

fn body_rejection(e: BytesRejection) -> RestError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        RestError::payload_too_large(MAX_BODY_BYTES)
    } else {
        RestError::bad_request(e.body_text())
    }
}

/// `application/json`, any parameters (`; charset=UTF-8`), any case, or a `+json` type.
pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The router's fallback: no route at this path.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with(OAUTH_PREFIX) {
        return oauth_error(
            StatusCode::NOT_FOUND,
            "The requested resource is not available.",
        );
    }
    RestError::resource_not_found().into_response()
}

/// The route exists, the method does not.
pub async fn method_not_allowed(uri: Uri) -> Response {
    if uri.path().starts_with(OAUTH_PREFIX) {
        return oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "The requested method is not allowed for the resource.",
        );
    }
    RestError::method_not_allowed().into_response()
}

/// WSO2 IS's OAuth error body (`error_description` first), as the Key Manager writes it.
fn oauth_error(status: StatusCode, description: &str) -> Response {
    let body = serde_json::json!({"error_description": description, "error": "invalid_request"});
    (status, axum::Json(body)).into_response()
}

/// Middleware: an error response that is not JSON (axum's plain-text rejections) is rewritten
/// into the shape of the API it came from, keeping its status and its text as the description.
pub async fn error_shape(request: Request, next: Next) -> Response {
    let oauth = request.uri().path().starts_with(OAUTH_PREFIX);
    let response = next.run(request).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(CONTENT_TYPE)
        .is_none_or(|v| v.to_str().is_ok_and(|ct| ct.starts_with("text/plain")));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let reason = status.canonical_reason().unwrap_or("Error");
    let description = if text.is_empty() {
        reason.to_owned()
    } else {
        text
    };
    let mut rewritten = if oauth {
        oauth_error(status, &description)
    } else {
        RestError::new(status, i64::from(status.as_u16()), reason, description).into_response()
    };
    // Keep headers such as `Allow` or `WWW-Authenticate`; the body's type is now JSON.
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != http::header::CONTENT_LENGTH {
            rewritten.headers_mut().append(name.clone(), value.clone());
        }
    }
    rewritten
}

/// Where the Publisher and the Developer Portal are mounted.
pub const PUBLISHER_BASE: &str = "/api/am/publisher/v4";
pub const DEVPORTAL_BASE: &str = "/api/am/devportal/v3";

/// The same REST APIs without their version segment, as WSO2 4.x also serves them (what
/// WSO2's own `create-api.sh` calls to create its application).
pub const PUBLISHER_VERSIONLESS: &str = "/api/am/publisher";
pub const DEVPORTAL_VERSIONLESS: &str = "/api/am/devportal";
pub const ADMIN_VERSIONLESS: &str = "/api/am/admin";

/// `Location` of a created resource. WSO2's `Response.created(new URI("/apis/<id>"))` is
/// resolved by CXF against the API's base URI into an absolute URL; ours starts with the
/// management HTTPS URL (WSO2 takes scheme and host from the request, which for the guide's
/// clients is the same). `path` starts at the host: `/api/am/publisher/v4/apis/<id>`.
pub(crate) fn with_location(mut response: Response, base_url: &str, path: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("{base_url}{path}")) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Typed {
        #[allow(dead_code)]
        n: u32,
    }

    #[tokio::test]
    async fn an_unconvertible_query_parameter_is_cxfs_404() {
        let (mut parts, ()) = http::Request::get("/x?n=abc")
            .body(())
            .unwrap()
            .into_parts();
        let e = Query::<Typed>::from_request_parts(&mut parts, &())
            .await
            .unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::NOT_FOUND, 404));
        assert!(
            e.description.contains("abc") || e.description.contains('n'),
            "{e:?}"
        );
    }

    #[test]
    fn json_content_types_are_recognised_with_parameters_and_suffixes() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=UTF-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json(""));
    }
}
