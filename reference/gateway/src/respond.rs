//! Phase 8, and the one place every refusal is rendered: WSO2's exact statuses, bodies and
//! headers (docs/wso2-behaviour.md §3.3, §3.4), plus the CORS headers of the selected resource.

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
/// `handleAuthFailure` appends the error parameters (docs/wso2-behaviour.md §3.4, whose 4.2 example
/// this is verbatim).
pub const WWW_AUTHENTICATE_CHALLENGE: &str = "Internal API Key realm=\"WSO2 API Manager\", Bearer realm=\"WSO2 API Manager\", error=\"invalid_token\", error_description=\"The provided token is invalid\"";

/// Why a token was refused with 900901. All render the same; the reason is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidToken {
    /// Not three base64url parts, bad JSON, missing `exp`, an `alg` other than RS256 (`none`
    /// included).
    Malformed,
    /// The header's `kid` names no trusted key, or there is no `kid`.
    UnknownKey,
    /// Two `Authorization` headers.
    Ambiguous,
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
    /// The path has a `.` or `..` segment, literal or percent-encoded, or hidden behind an
    /// encoded `/` or `\` ([`crate::route::has_dot_segment`]): refused, never normalised.
    #[error("dot segment in the request path")]
    BadRequestPath,
    /// The client's own request body broke off or is malformed (bad chunked framing): a 400,
    /// and never a fault of the backend's endpoint (Synapse's 101001, receiving from the client).
    #[error("malformed request body: {0}")]
    BadRequestBody(String),
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
    /// The user store could not be asked (Basic auth): 900900.
    #[error("authentication unavailable")]
    AuthenticationUnavailable,
    /// No key mapping for the token's client, or no subscription to this API.
    #[error("subscription validation failed")]
    Forbidden,
    /// An API key used from an address or referer it does not permit (`ApiKeyAuthenticator`).
    #[error("API key not permitted here")]
    ApiKeyForbidden,
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
    /// The endpoint is SUSPENDED or in TIMEOUT: answered without calling it (Synapse 303001).
    #[error("endpoint {} is {}", .0.name, .0.state.as_str())]
    EndpointNotReady(crate::endpoint::NotReady),
    /// No member of a load-balance or failover endpoint is ready: answered without calling
    /// any (Synapse 303000). Holds `"<Loadbalance|Failover> endpoint : <name>"`.
    #[error("{0} - no ready child endpoints")]
    NoReadyChild(String),
    /// A deny policy matched (`ThrottleHandler`, 900805).
    #[error("blocked by a deny policy")]
    MessageBlocked,
    /// A quota is spent: API (900800), resource (900802), application (900803), subscription
    /// (900804) or subscription burst (900807, no next access time). `next_access` is the
    /// decision's expiry (epoch ms).
    #[error("throttled out ({code})")]
    ThrottledOut {
        code: ThrottleCode,
        next_access: Option<i64>,
    },
    /// The API's `maxTps` for this key type is reached on this node (900801).
    #[error("hard limit reached")]
    HardLimit,
}

/// Which limit threw a request out (`APIThrottleConstants`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleCode {
    /// 900800: the API-level (advanced) tier.
    Api,
    /// 900802: the resource (operation) tier.
    Resource,
    /// 900803: the application tier.
    Application,
    /// 900804: the subscription tier.
    Subscription,
    /// 900807: the subscription tier's burst control.
    SubscriptionBurst,
    /// 900806: a custom rule (the Admin API's `/throttling/policies/custom`).
    Custom,
}

impl ThrottleCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "900800",
            Self::Resource => "900802",
            Self::Application => "900803",
            Self::Subscription => "900804",
            Self::SubscriptionBurst => "900807",
            Self::Custom => "900806",
        }
    }
}

impl std::fmt::Display for ThrottleCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `nextAccessTime`: `yyyy-MMM-dd HH:mm:ssZ` in UTC followed by ` UTC`, as `ThrottleHandler`
/// formats the decision's expiry (`2026-Nov-26 12:01:00+0000 UTC`).
pub fn next_access_time(expiry_millis: i64) -> String {
    const FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
        "[year]-[month repr:short]-[day] [hour]:[minute]:[second]+0000 UTC"
    );
    time::OffsetDateTime::from_unix_timestamp(expiry_millis.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_default()
}

/// `Retry-After` as an HTTP-date (`Thu, 26 Nov 2026 12:01:00 GMT`), WSO2's
/// `setRetryAfterHeader`.
pub fn retry_after(expiry_millis: i64) -> Option<HeaderValue> {
    let millis = u64::try_from(expiry_millis).ok()?;
    let at = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_millis(millis))?;
    HeaderValue::from_str(&httpdate::fmt_http_date(at)).ok()
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
            BadRequestPath => (
                StatusCode::BAD_REQUEST,
                JSON,
                status_report(
                    "400",
                    "Bad Request",
                    "The request path has a dot segment ('.' or '..', plain or encoded) and is not accepted.",
                ),
            ),
            BadRequestBody(_) => (
                StatusCode::BAD_REQUEST,
                JSON,
                runtime_error("101001", "Error in receiving the request body from the client"),
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
            AuthenticationUnavailable => auth_failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "900900",
                "Unclassified Authentication Failure",
                "Error while accessing backend services for API key validation",
            ),
            Forbidden => auth_failure(
                StatusCode::FORBIDDEN,
                "900908",
                "Resource forbidden ",
                SUBSCRIPTION_VALIDATION_FAILED,
            ),
            ApiKeyForbidden => auth_failure(
                StatusCode::FORBIDDEN,
                "900908",
                "Resource forbidden ",
                "Access forbidden for the invocations",
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
            // `AddressEndpoint#send`: "Currently , Address endpoint : " + the context's
            // `toString`, through the same `fault` sequence (wso2-synapse `EndpointContext`;
            // the JSON form as product-apim#11391 shows it).
            EndpointNotReady(not_ready) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                JSON,
                runtime_error(
                    "303001",
                    &format!(
                        "Currently , Address endpoint : [ Name : {} ] [ State : {} ]",
                        not_ready.name,
                        not_ready.state.as_str()
                    ),
                ),
            ),
            // `LoadbalanceEndpoint#send` / `FailoverEndpoint#send`: ENDPOINT_LB_NONE_READY and
            // ENDPOINT_FO_NONE_READY are both 303000 (wso2-synapse `SynapseConstants`).
            NoReadyChild(group) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                JSON,
                runtime_error("303000", &format!("{group} - no ready child endpoints")),
            ),
            // The deny-policy code wins over the docs' table (429): WSO2 answers 403 (§4.3).
            MessageBlocked => auth_failure(
                StatusCode::FORBIDDEN,
                "900805",
                "Message blocked",
                "You have been blocked from accessing the resource",
            ),
            ThrottledOut { code, next_access } => {
                let mut body = serde_json::json!({
                    "code": code.as_str(),
                    "message": "Message throttled out",
                    "description": "You have exceeded your quota",
                });
                if let Some(expiry) = next_access {
                    let when = next_access_time(*expiry);
                    body["description"] = serde_json::Value::String(format!(
                        "You have exceeded your quota .You can access API after {when}"
                    ));
                    body["nextAccessTime"] = serde_json::Value::String(when);
                }
                (StatusCode::TOO_MANY_REQUESTS, JSON, body.to_string())
            }
            HardLimit => auth_failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "900801",
                "API Limit Reached",
                "API not accepting requests",
            ),
        }
    }

    /// The Synapse error code of a failed backend call, which endpoint suspension reads.
    pub fn synapse_code(&self) -> Option<u32> {
        use crate::endpoint::codes;
        match self {
            Self::BackendUnreachable(_) => Some(codes::CONNECTION_FAILED),
            Self::BackendTimeout => Some(codes::CONNECTION_TIMEOUT),
            _ => None,
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
    if let GatewayError::ThrottledOut {
        next_access: Some(expiry),
        ..
    } = err
        && let Some(date) = retry_after(*expiry)
    {
        headers.insert(http::header::RETRY_AFTER, date);
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
    fn throttle_out_names_the_window_end_in_wso2s_format_and_as_an_http_date() {
        // 2026-11-26T12:01:00Z
        let expiry = 1_795_694_460_000;
        assert_eq!(next_access_time(expiry), "2026-Nov-26 12:01:00+0000 UTC");
        let response = error(
            &GatewayError::ThrottledOut {
                code: ThrottleCode::Subscription,
                next_access: Some(expiry),
            },
            None,
        );
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response.headers()[http::header::RETRY_AFTER],
            "Thu, 26 Nov 2026 12:01:00 GMT"
        );
        let burst = error(
            &GatewayError::ThrottledOut {
                code: ThrottleCode::SubscriptionBurst,
                next_access: None,
            },
            None,
        );
        assert!(!burst.headers().contains_key(http::header::RETRY_AFTER));
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
