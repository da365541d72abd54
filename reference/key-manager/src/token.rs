//! Token requests and responses, and the JWT access token's claims.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The scope a token gets when none is requested (`oauth.default_requested_scopes`).
pub const DEFAULT_SCOPE: &str = "default";

/// `aut` of a token issued to an application itself (client_credentials).
pub const AUT_APPLICATION: &str = "APPLICATION";
/// `aut` of a token issued on behalf of a user (password, refresh_token).
pub const AUT_APPLICATION_USER: &str = "APPLICATION_USER";

/// The JWT header `typ`. Newer WSO2 IS releases write `at+jwt` (RFC 9068); whether API-M 4.2's
/// bundled IS already did is UNCONFIRMED (docs/wso2-behaviour.md §9). We chose `at+jwt`; gateways do
/// not look at it.
pub const JWT_TYP: &str = "at+jwt";

/// An OAuth 2.0 grant the token endpoint accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    ClientCredentials,
    Password { username: String, password: String },
    RefreshToken { refresh_token: String },
}

impl Grant {
    /// The `grant_type` value.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::Password { .. } => "password",
            Self::RefreshToken { .. } => "refresh_token",
        }
    }
}

/// A token request after client authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub grant: Grant,
    /// Requested scopes; empty means `default` (or, for a refresh, the original grant's scopes).
    pub scopes: Vec<String>,
    /// Requested lifetime in seconds (`validity_period`); `None` or not positive means the
    /// configured default.
    pub validity_secs: Option<i64>,
}

/// The token endpoint's success body, field for field as WSO2 IS writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Issued for the password and refresh_token grants when the client may use refresh tokens;
    /// never for client_credentials (`allow_refresh_tokens = false` in WSO2's defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Granted scopes, space-separated, sorted.
    pub scope: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_in: i64,
}

/// What a valid access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// `sub`: the user name, or for client_credentials the application owner.
    pub subject: String,
    /// `azp`: the consumer key the token was issued to.
    pub consumer_key: String,
    pub scopes: Vec<String>,
    pub jti: String,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// `iat`, seconds since the epoch.
    pub issued_at: i64,
    /// `aut == APPLICATION`: a client_credentials token.
    pub application_token: bool,
}

/// The claims of a WSO2 4.x JWT access token (IS `JWTTokenIssuer`), in the order IS writes them.
/// No `keytype`: the gateway finds the key type from the application key mapping of `azp`
/// (docs/wso2-behaviour.md §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessTokenClaims {
    pub sub: String,
    pub aut: String,
    /// The consumer key; IS writes a one-element audience as a plain string.
    pub aud: String,
    pub nbf: i64,
    pub azp: String,
    pub scope: String,
    pub iss: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// Newer IS also writes the consumer key here (UNCONFIRMED for 4.2).
    pub client_id: String,
}

impl AccessTokenClaims {
    pub fn info(&self) -> TokenInfo {
        TokenInfo {
            subject: self.sub.clone(),
            consumer_key: self.azp.clone(),
            scopes: split_scopes(&self.scope),
            jti: self.jti.clone(),
            expires_at: self.exp,
            issued_at: self.iat,
            application_token: self.aut == AUT_APPLICATION,
        }
    }
}

/// `scope` form values are space-separated; `+` has already been decoded to a space.
pub(crate) fn split_scopes(scope: &str) -> Vec<String> {
    scope.split_whitespace().map(str::to_owned).collect()
}

/// The granted scopes: the requested ones (the super admin holds every scope), or `default` when
/// none was asked for. Deduplicated and sorted, as IS's `OAuth2Util.buildScopeString` does.
pub(crate) fn granted_scopes(requested: &[String]) -> Vec<String> {
    let set: BTreeSet<&str> = requested
        .iter()
        .flat_map(|s| s.split_whitespace())
        .collect();
    if set.is_empty() {
        vec![DEFAULT_SCOPE.to_owned()]
    } else {
        set.into_iter().map(str::to_owned).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_requested_scope_gives_default() {
        assert_eq!(granted_scopes(&[]), vec!["default"]);
    }

    #[test]
    fn requested_scopes_are_granted_sorted_and_deduplicated() {
        let req = vec![
            "apim:api_publish".to_owned(),
            "apim:api_create apim:api_publish".to_owned(),
        ];
        assert_eq!(
            granted_scopes(&req),
            vec!["apim:api_create", "apim:api_publish"]
        );
    }

    #[test]
    fn token_response_omits_an_absent_refresh_token() {
        let r = TokenResponse {
            access_token: "a".into(),
            refresh_token: None,
            scope: "default".into(),
            token_type: "Bearer".into(),
            expires_in: 3600,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"access_token":"a","scope":"default","token_type":"Bearer","expires_in":3600}"#
        );
    }
}
