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
}

/// A REST failure, rendered as WSO2's `Error` object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    pub description: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    code: i64,
    message: &'a str,
    description: &'a str,
    more_info: &'a str,
    error: [(); 0],
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
        }
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
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
            description: &self.description,
            more_info: "",
            error: [],
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
            error: [],
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": 900308, "message": "API Not Found",
                "description": "Requested API with id 'x' not found", "moreInfo": "", "error": []})
        );
    }
}
