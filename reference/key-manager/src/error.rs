//! Errors: building a key manager ([`KeyManagerError`]) and answering OAuth requests
//! ([`OAuthError`], turned into WSO2 IS's error JSON in exactly one place, its `IntoResponse`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use thiserror::Error;

/// Why a key manager could not be built.
#[derive(Debug, Error)]
pub enum KeyManagerError {
    #[error("signing key: {0}")]
    SigningKey(String),
    #[error("public key: {0}")]
    PublicKey(String),
    #[error("the public key does not belong to the signing key")]
    KeyMismatch,
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("default_validity_secs must be positive, got {0}")]
    Validity(i64),
}

/// An OAuth 2.0 error, as WSO2 Identity Server reports it.
///
/// Descriptions are WSO2's own strings where known (`A valid OAuth client could not be found for
/// client_id: <id>`, `Client credentials are invalid.`, `Authentication failed for <user>`,
/// `Persisted access token data not found`, `Missing grant_type parameter value`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OAuthError {
    /// 401 `invalid_client`: unknown client, wrong secret, no client credentials.
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// 400 `invalid_grant`: wrong user credentials, unknown/expired/used refresh token.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// 400 `invalid_request`: a missing or repeated parameter.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// A `grant_type` this server does not know. WSO2 IS builds this as `unsupported_grant_type`
    /// but its token endpoint's bad-request mapper answers **`invalid_request`**, 400,
    /// `Unsupported grant_type value` (asserted by WSO2's own API-M 4.x cucumber suite and
    /// open-banking tests); we answer the same.
    #[error("unsupported grant type: {0}")]
    UnsupportedGrantType(String),
    /// 400 `unauthorized_client`: the client was not registered for this grant type, or the
    /// token it wants revoked is another client's.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// 400 `invalid_scope`: a refresh asked for scopes the original grant did not have.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// 401 `invalid_token`: an access token that is malformed, badly signed, from another
    /// issuer, not yet valid, expired or revoked ([`crate::KeyManager::validate_access_token`]).
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// 500 `server_error`.
    #[error("server_error: {0}")]
    ServerError(String),
}

impl OAuthError {
    /// The `error` code on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::InvalidRequest(_) | Self::UnsupportedGrantType(_) => "invalid_request",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidToken(_) => "invalid_token",
            Self::ServerError(_) => "server_error",
        }
    }

    /// The `error_description` on the wire.
    pub fn description(&self) -> &str {
        match self {
            Self::InvalidClient(d)
            | Self::InvalidGrant(d)
            | Self::InvalidRequest(d)
            | Self::UnauthorizedClient(d)
            | Self::InvalidScope(d)
            | Self::InvalidToken(d)
            | Self::ServerError(d) => d,
            Self::UnsupportedGrantType(_) => "Unsupported grant_type value",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidClient(_) | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::ServerError(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// WSO2 IS's (Apache Oltu's) error body: `error_description` first, then `error`.
#[derive(Serialize)]
struct OAuthErrorBody<'a> {
    error_description: &'a str,
    error: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody {
            error_description: self.description(),
            error: self.code(),
        };
        (self.status(), Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_grant_type_is_reported_as_wso2_does() {
        let e = OAuthError::UnsupportedGrantType("foo".into());
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.code(), "invalid_request");
        assert_eq!(e.description(), "Unsupported grant_type value");
    }

    #[test]
    fn invalid_client_is_401() {
        let e = OAuthError::InvalidClient("Client credentials are invalid.".into());
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        let body = serde_json::to_string(&OAuthErrorBody {
            error_description: e.description(),
            error: e.code(),
        })
        .unwrap();
        assert_eq!(
            body,
            r#"{"error_description":"Client credentials are invalid.","error":"invalid_client"}"#
        );
    }
}
