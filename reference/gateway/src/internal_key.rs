//! Phase 3 for the Publisher's internal key: `Internal-Key: <key>` (`POST /apis/{apiId}/generate-key`),
//! checked before any other credential, as WSO2 4.x's `InternalAPIKeyAuthenticator` (priority
//! -10) does:
//!
//! - an RS256 JWT signed by a trusted key under `gateway_certificate_alias` (its `kid`), with
//!   `token_type = "InternalKey"`, unexpired by the injected clock — else 401 / 900901;
//! - the API called must be in its `subscribedAPIs` (context and version) — else 403 / 900908
//!   (`GatewayUtils#validateAPISubscription`);
//! - then the resource runs as if its auth type were `None` (no scope is checked), under the
//!   key's `keytype`, with no application or subscription: only API- and resource-level
//!   policies and custom rules can throttle it (WSO2 gives it the `Unlimited` tiers).
//!
//! The header never reaches the backend. Keys are verified on every use (they are for trying
//! an API out, not for traffic).

use crate::api_key::API_KEY_ALIAS;
use crate::authenticate::JwtVerifier;
use crate::respond::{GatewayError, InvalidToken};
use serde::Deserialize;
use tollgate_protocol::Clock;
use tollgate_protocol::artifact::{ApiArtifact, KeyType};

/// The header WSO2 reads the internal key from.
pub const INTERNAL_KEY_HEADER: &str = "internal-key";

/// What the gateway keeps of a verified internal key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalKeyCaller {
    /// `sub`: `user@tenant`.
    pub subject: String,
    pub key_type: KeyType,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<i64>,
    keytype: Option<String>,
    token_type: Option<String>,
    #[serde(rename = "subscribedAPIs", default)]
    subscribed_apis: Vec<SubscribedApi>,
}

#[derive(Debug, Deserialize)]
struct SubscribedApi {
    context: Option<String>,
    version: Option<String>,
}

/// Verifies `key` for a call to `api` at the clock's time.
pub fn authenticate(
    key: &str,
    jwt: &JwtVerifier,
    clock: &dyn Clock,
    api: &ApiArtifact,
) -> Result<InternalKeyCaller, GatewayError> {
    let invalid = GatewayError::InvalidCredentials;
    let claims: Claims = jwt
        .verify_under_alias(key, API_KEY_ALIAS)
        .map_err(invalid)?;
    if claims.token_type.as_deref() != Some("InternalKey") {
        return Err(invalid(InvalidToken::Malformed));
    }
    if claims.exp.is_some_and(|exp| exp <= clock.now_secs()) {
        return Err(invalid(InvalidToken::Expired));
    }
    let key_type = match claims.keytype.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("SANDBOX") => KeyType::Sandbox,
        _ => KeyType::Production,
    };
    let for_this_api = claims.subscribed_apis.iter().any(|s| {
        s.context.as_deref() == Some(api.context.as_str())
            && s.version.as_deref() == Some(api.version.as_str())
    });
    if !for_this_api {
        return Err(GatewayError::Forbidden);
    }
    Ok(InternalKeyCaller {
        subject: claims.sub.unwrap_or_default(),
        key_type,
    })
}
