//! Errors: the crate boundary ([`ControlPlaneError`]) and the one place a REST failure becomes
//! WSO2's `Error{code, message, description, moreInfo, error[]}` body ([`RestError`]).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

/// Why a control plane could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    #[error("key manager: {0}")]
    KeyManager(#[from] tollgate_key_manager::KeyManagerError),
    #[error(transparent)]
    Database(#[from] crate::database::DatabaseError),
}

/// A REST failure, rendered as WSO2's `Error` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    pub description: String,
    /// `error[]`: one `ErrorListItem` (`code`, `message`) per violated constraint.
    pub items: Vec<(String, String)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    code: i64,
    message: &'a str,
    description: &'a str,
    more_info: &'a str,
    error: Vec<ErrorItem<'a>>,
}

#[derive(Serialize)]
struct ErrorItem<'a> {
    code: &'a str,
    message: &'a str,
}

impl RestError {
    pub fn new(
        status: StatusCode,
        code: i64,
        message: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            description: description.into(),
            items: Vec::new(),
        }
    }

    /// `RestApiUtil.getConstraintViolationErrorDTO`: bean validation's 400, one item per
    /// violation, `{"code": "400_<field>", "message": "<field>: <why>"}`.
    pub fn validation(violations: Vec<(String, String)>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            400,
            "Bad Request",
            "Validation Error",
        );
        e.items = violations
            .into_iter()
            .map(|(field, why)| (format!("400_{field}"), format!("{field}: {why}")))
            .collect();
        e
    }

    /// `GlobalThrowableMapper`'s answer to a failed authentication *or* scope check: WSO2's REST
    /// interceptors (`OAuthAuthenticationInterceptor`, `PostAuthenticationInterceptor`) turn both
    /// into `AuthenticationException("Unauthenticated request")`, mapped to 401 with code 401.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 401, "", "Unauthenticated request")
    }

    /// `RestApiUtil.buildBadRequestException`: 400 with code 400.
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 400, "Bad Request", description)
    }

    /// `RestApiUtil.handleResourceNotFoundError(resource, id)`.
    pub fn not_found(resource: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            404,
            "Not Found",
            format!("Requested {resource} with Id '{id}' not found"),
        )
    }

    /// `RestApiUtil.handleResourceAlreadyExistsError`: 409 with code 409.
    pub fn conflict(description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, 409, "Conflict", description)
    }

    /// `ExceptionCodes.API_NOT_FOUND`.
    pub fn api_not_found(api_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            900308,
            "API Not Found",
            format!("Requested API with id '{api_id}' not found"),
        )
    }

    /// `ExceptionCodes.API_REVISION_NOT_FOUND`.
    pub fn revision_not_found(revision_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            900347,
            "API Revision Not Found",
            format!("Requested API Revision with id {revision_id} not found"),
        )
    }

    /// Malformed JSON body (`GlobalThrowableMapper`, `JsonParseException`).
    pub fn malformed_body() -> Self {
        Self::bad_request("Malformed request body.")
    }

    /// No resource at this path. CXF throws `javax.ws.rs.NotFoundException`, which
    /// `GlobalThrowableMapper` passes through as a bare 404; we give it WSO2's `Error` body.
    pub fn resource_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            404,
            "Not Found",
            "The requested resource is not available.",
        )
    }

    /// A query or path parameter that does not convert to its declared type: JAX-RS (and so
    /// CXF, `InjectionUtils.createParamConversionException`) answers 404 for path, query and
    /// matrix parameters, 400 only for headers and forms.
    pub fn parameter_not_convertible(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, 404, "Not Found", description)
    }

    /// The resource exists but not with this method (CXF's `NotAllowedException`).
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            405,
            "Method Not Allowed",
            "The requested method is not allowed for the resource.",
        )
    }

    /// A body whose `Content-Type` the operation does not consume (CXF's
    /// `NotSupportedException`: the operations consume `application/json`).
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::unsupported_media_type_for(content_type, "application/json")
    }

    /// The same for an operation that consumes `accepted` (`multipart/form-data` uploads).
    pub fn unsupported_media_type_for(content_type: &str, accepted: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            415,
            "Unsupported Media Type",
            format!("Content-Type '{content_type}' is not supported. Use '{accepted}'."),
        )
    }

    /// A body over the server's limit.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            413,
            "Payload Too Large",
            format!("Request payload exceeds the limit of {limit_bytes} bytes."),
        )
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
            description: &self.description,
            more_info: "",
            error: self
                .items
                .iter()
                .map(|(code, message)| ErrorItem { code, message })
                .collect(),
        };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_wso2_fields_and_an_empty_error_list() {
        let e = RestError::api_not_found("x");
        let body = ErrorBody {
            code: e.code,
            message: &e.message,
            description: &e.description,
            more_info: "",
            error: Vec::new(),
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": 900308, "message": "API Not Found",
                "description": "Requested API with id 'x' not found", "moreInfo": "", "error": []})
        );
    }
}
