//! Phase 7, and the one place every refusal is rendered: WSO2's exact statuses, bodies and
//! headers (wso2-behaviour.md §3.3, §3.4), plus the CORS headers of the selected resource.

use crate::cors::CorsHeaders;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};

/// Boxed error of a streamed body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of everything the gateway answers: a backend's stream or one of our own bodies.
pub type ProxyBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// A body the gateway wrote itself.
pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// `WWW-Authenticate` on every 401 authentication failure. An OAuth2 API's handler chain holds
/// the Internal API Key authenticator (always added, for the Publisher's try-out key) and the
/// OAuth authenticator; `getAuthenticatorsChallengeString` joins their challenges and
/// `handleAuthFailure` appends the error parameters (wso2-behaviour.md §3.4, whose 4.2 example
/// this is verbatim).
pub const WWW_AUTHENTICATE_CHALLENGE: &str = "Internal API Key realm=\"WSO2 API Manager\", Bearer realm=\"WSO2 API Manager\", error=\"invalid_token\", error_description=\"The provided token is invalid\"";

/// Why a token was refused with 900901. All render the same; the reason is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidToken {
    /// Not three base64url parts, bad JSON, missing `exp`, an `alg` other than RS256 (`none`
    /// included).
    Malformed,
    BadSignature,
    /// `iss` is not one of the snapshot's key managers.
    UnknownIssuer,
    Expired,
    NotYetValid,
    Revoked,
}

/// Everything that stops a request before (or instead of) a backend response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No API has this context (`main.xml`).
    #[error("no API deployed at this context")]
    NoApi,
    /// The API does not accept this transport (`main.xml`).
    #[error("transport {0} not allowed")]
    UnsupportedTransport(&'static str),
    /// Lifecycle BLOCKED (`_block_api_handler_`).
    #[error("API blocked")]
    ApiBlocked,
    /// `CORSRequestHandler`: a resource accepts the verb but none matches the path.
    #[error("no matching resource")]
    NoMatchingResource,
    /// `CORSRequestHandler`: no resource takes the verb, but one matches the path.
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("missing credentials")]
    MissingCredentials,
    #[error("invalid credentials: {0:?}")]
    InvalidCredentials(InvalidToken),
    /// No key mapping for the token's client, or no subscription to this API.
    #[error("subscription validation failed")]
    Forbidden,
    /// Subscription BLOCKED, or PROD_ONLY_BLOCKED with a production key.
    #[error("subscription blocked")]
    SubscriptionBlocked,
    /// Subscription ON_HOLD or REJECTED.
    #[error("subscription inactive")]
    SubscriptionInactive,
    /// None of the resource's scopes is in the token.
    #[error("scope validation failed for {resource}")]
    InvalidScope { resource: String },
    #[error("sandbox key on a production gateway")]
    SandboxKeyOnProductionGateway,
    #[error("production key on a sandbox gateway")]
    ProductionKeyOnSandboxGateway,
    #[error("sandbox key, no sandbox endpoint")]
    NoSandboxEndpoint,
    #[error("production key, no production endpoint")]
    NoProductionEndpoint,
    /// Connection refused or reset, bad endpoint URL (Synapse 101503).
    #[error("backend unreachable: {0}")]
    BackendUnreachable(String),
    /// No response head within the endpoint timeout (Synapse 101504).
    #[error("backend timed out")]
    BackendTimeout,
}

const JSON: &str = "application/json";

impl GatewayError {
    /// Status, content type and body, exactly as WSO2 4.2 renders them.
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        use GatewayError::*;
        match self {
            NoApi => (
                StatusCode::NOT_FOUND,
                JSON,
                status_report("404", "Not Found", "The requested resource is not available."),
            ),
            UnsupportedTransport(transport) => (
                StatusCode::FORBIDDEN,
                JSON,
                status_report(
                    "403",
                    "Forbidden",
                    &format!(
                        "Unsupported Transport [ {transport} ]. The requested resource is not available."
                    ),
                ),
            ),
            ApiBlocked => (
                StatusCode::SERVICE_UNAVAILABLE,
                JSON,
                serde_json::json!({
                    "code": "700700",
                    "type": "API blocked",
                    "description": "This API has been blocked temporarily. Please try again later or contact the system administrators."
                })
                .to_string(),
            ),
            NoMatchingResource => (
                StatusCode::NOT_FOUND,
                JSON,
                runtime_error("404", "No matching resource found for given API Request"),
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                JSON,
                runtime_error("405", "Method not allowed for given API resource"),
            ),
            MissingCredentials => auth_failure(
                StatusCode::UNAUTHORIZED,
                "900902",
                "Missing Credentials",
                "Invalid Credentials. Make sure your API invocation call has a header: 'Authorization : Bearer ACCESS_TOKEN' or 'Authorization : Basic ACCESS_TOKEN' or 'apikey: API_KEY'",
            ),
            InvalidCredentials(_) => auth_failure(
                StatusCode::UNAUTHORIZED,
                "900901",
                "Invalid Credentials",
                "Invalid Credentials. Make sure you have provided the correct security credentials",
            ),
            Forbidden => auth_failure(
                StatusCode::FORBIDDEN,
                "900908",
                "Resource forbidden ",
                SUBSCRIPTION_VALIDATION_FAILED,
            ),
            // JWTValidator throws the subscription status as the code with the same message.
            SubscriptionBlocked => auth_failure(
                StatusCode::UNAUTHORIZED,
                "900907",
                "The requested API is temporarily blocked",
                SUBSCRIPTION_VALIDATION_FAILED,
            ),
            SubscriptionInactive => auth_failure(
                StatusCode::UNAUTHORIZED,
                "900909",
                "The subscription to the API is inactive",
                SUBSCRIPTION_VALIDATION_FAILED,
            ),
            InvalidScope { resource } => auth_failure(
                StatusCode::FORBIDDEN,
                "900910",
                "The access token does not allow you to access the requested resource",
                &format!(
                    "User is NOT authorized to access the Resource: {resource}. Scope validation failed."
                ),
            ),
            SandboxKeyOnProductionGateway => (
                StatusCode::UNAUTHORIZED,
                "application/xml",
                "<error><message>Sandbox Key Provided for Production Gateway</message></error>"
                    .to_owned(),
            ),
            ProductionKeyOnSandboxGateway => (
                StatusCode::UNAUTHORIZED,
                "application/xml",
                "<error><message>Production Key Provided for Sandbox Gateway</message></error>"
                    .to_owned(),
            ),
            NoSandboxEndpoint => (
                StatusCode::FORBIDDEN,
                JSON,
                runtime_error(
                    "900901",
                    "Sandbox key offered to the API with no sandbox endpoint",
                ),
            ),
            NoProductionEndpoint => (
                StatusCode::FORBIDDEN,
                JSON,
                runtime_error(
                    "900901",
                    "Production key offered to the API with no production endpoint",
                ),
            ),
            // The `fault` sequence: HTTP_SC is CUSTOM_HTTP_SC when a handler set one, else 500.
            // Nothing on the endpoint-failure path sets it, so a dead backend is a 500 with
            // Synapse's error code (product-apim `sequences/fault.xml`).
            BackendUnreachable(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                JSON,
                runtime_error("101503", "Error connecting to the back end"),
            ),
            BackendTimeout => (
                StatusCode::INTERNAL_SERVER_ERROR,
                JSON,
                runtime_error("101504", "Connection timed out"),
            ),
        }
    }

    /// Whether WSO2 adds its `WWW-Authenticate` challenge: every 401 of the auth handler.
    fn challenges(&self) -> bool {
        matches!(
            self,
            Self::MissingCredentials
                | Self::InvalidCredentials(_)
                | Self::SubscriptionBlocked
                | Self::SubscriptionInactive
        )
    }
}

const SUBSCRIPTION_VALIDATION_FAILED: &str =
    "User is NOT authorized to access the Resource. API Subscription validation failed.";

fn status_report(code: &str, message: &str, description: &str) -> String {
    serde_json::json!({
        "code": code,
        "type": "Status report",
        "message": message,
        "description": description,
    })
    .to_string()
}

/// The `fault` sequence's body.
fn runtime_error(code: &str, description: &str) -> String {
    status_report(code, "Runtime Error", description)
}

/// `_auth_failure_handler_`'s body: no `type` field.
fn auth_failure(
    status: StatusCode,
    code: &str,
    message: &str,
    description: &str,
) -> (StatusCode, &'static str, String) {
    let body = serde_json::json!({
        "code": code,
        "message": message,
        "description": description,
    })
    .to_string();
    (status, JSON, body)
}

/// Renders a refusal, with the CORS headers when a resource had been selected.
pub fn error(err: &GatewayError, cors: Option<&CorsHeaders>) -> Response<ProxyBody> {
    let (status, content_type, body) = err.parts();
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if err.challenges() {
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(WWW_AUTHENTICATE_CHALLENGE),
        );
    }
    if let Some(cors) = cors {
        cors.apply(headers);
    }
    response
}

/// A backend response on its way out: CORS headers the backend did not set itself.
pub fn forward(
    mut response: Response<ProxyBody>,
    cors: Option<&CorsHeaders>,
) -> Response<ProxyBody> {
    if let Some(cors) = cors {
        cors.apply(response.headers_mut());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_failures_carry_the_code_as_a_string_and_no_type() {
        let (status, _, body) = GatewayError::Forbidden.parts();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body,
            r#"{"code":"900908","message":"Resource forbidden ","description":"User is NOT authorized to access the Resource. API Subscription validation failed."}"#
        );
    }

    #[test]
    fn only_authentication_401s_get_a_challenge() {
        let r = error(
            &GatewayError::InvalidCredentials(InvalidToken::Expired),
            None,
        );
        assert!(r.headers().contains_key(WWW_AUTHENTICATE));
        let r = error(&GatewayError::SandboxKeyOnProductionGateway, None);
        assert!(!r.headers().contains_key(WWW_AUTHENTICATE));
    }
}
