//! Phase 3 for API keys: `apikey: <key>` (header) or `?apikey=<key>` (query), on an API whose
//! security schemes include `api_key`.
//!
//! As WSO2 4.x's `ApiKeyAuthenticator` (priority 30, after OAuth) checks them:
//! - an RS256 JWT signed by a trusted key under the alias `gateway_certificate_alias` (its
//!   `kid`), `token_type = "apiKey"`, unexpired by the injected
//!   clock when it has an `exp` (a key without one never expires), its `jti` not revoked — else
//!   401 / 900901;
//! - `permittedIP` (addresses or CIDR blocks, comma separated; the first `X-Forwarded-For`
//!   address, else the peer) and `permittedReferer` (patterns with `*`, comma separated, against
//!   `Referer`) when the key names them — else 403 / 900908 "Access forbidden for the
//!   invocations";
//! - the key type is the key's `keytype` claim; the application is `application.uuid`, and its
//!   subscription to the API is checked in the subscription store (WSO2's
//!   `enable_apikey_subscription_validation = true`, which API-M 4.2's shipped
//!   `deployment.toml` sets).
//!
//! Verified keys are cached by their string, as bearer tokens are.

use crate::authenticate::JwtVerifier;
use crate::respond::{GatewayError, InvalidToken};
use crate::store::Store;
use http::HeaderMap;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use tollgate_protocol::Clock;
use tollgate_protocol::artifact::KeyType;

/// WSO2's alias of the API-key signing certificate: the `kid` of every API key.
pub const API_KEY_ALIAS: &str = "gateway_certificate_alias";

/// The header (and query parameter) WSO2 reads API keys from by default.
pub const API_KEY_HEADER: &str = "apikey";

/// How many verified keys are kept; the cache starts over when full.
const CACHE_CAPACITY: usize = 10_000;

/// What the gateway keeps of a verified API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyCaller {
    /// `application.uuid`.
    pub application_id: String,
    pub key_type: KeyType,
    /// `sub`: `user@tenant`.
    pub subject: String,
    pub jti: String,
    /// Epoch seconds; `None` never expires.
    pub exp: Option<i64>,
    permitted_ips: Vec<IpNet>,
    permitted_referers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr.trim().parse().ok()?, Some(prefix.trim().parse().ok()?)),
            None => (text.trim().parse().ok()?, None),
        };
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    jti: Option<String>,
    exp: Option<i64>,
    keytype: Option<String>,
    token_type: Option<String>,
    application: Option<ApplicationClaim>,
    #[serde(rename = "permittedIP")]
    permitted_ip: Option<String>,
    #[serde(rename = "permittedReferer")]
    permitted_referer: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApplicationClaim {
    uuid: Option<String>,
}

/// Verifies API keys (through the gateway's [`JwtVerifier`]) and caches what it verified.
#[derive(Debug, Default)]
pub struct ApiKeyVerifier {
    cache: RwLock<HashMap<Box<str>, Arc<ApiKeyCaller>, foldhash::fast::RandomState>>,
}

impl ApiKeyVerifier {
    fn verify(&self, key: &str, jwt: &JwtVerifier) -> Result<ApiKeyCaller, InvalidToken> {
        // The gateway looks the signing certificate up by `kid`; API keys are signed under
        // one alias only.
        into_caller(jwt.verify_under_alias::<Claims>(key, API_KEY_ALIAS)?)
    }

    fn cached(&self, key: &str) -> Option<Arc<ApiKeyCaller>> {
        self.cache.read().ok()?.get(key).cloned()
    }

    fn remember(&self, key: &str, caller: Arc<ApiKeyCaller>) {
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(key.into(), caller);
        }
    }
}

fn into_caller(claims: Claims) -> Result<ApiKeyCaller, InvalidToken> {
    if claims.token_type.as_deref() != Some("apiKey") {
        return Err(InvalidToken::Malformed);
    }
    let key_type = match claims.keytype.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("PRODUCTION") => KeyType::Production,
        Some(t) if t.eq_ignore_ascii_case("SANDBOX") => KeyType::Sandbox,
        _ => return Err(InvalidToken::Malformed),
    };
    let list = |value: Option<String>| -> Vec<String> {
        value
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let permitted_ips = list(claims.permitted_ip)
        .iter()
        .map(|ip| IpNet::parse(ip).ok_or(InvalidToken::Malformed))
        .collect::<Result<_, _>>()?;
    Ok(ApiKeyCaller {
        application_id: claims
            .application
            .and_then(|a| a.uuid)
            .ok_or(InvalidToken::Malformed)?,
        key_type,
        subject: claims.sub.unwrap_or_default(),
        jti: claims.jti.ok_or(InvalidToken::Malformed)?,
        exp: claims.exp,
        permitted_ips,
        permitted_referers: list(claims.permitted_referer),
    })
}

/// The API key a request carries: the `apikey` header, else the `apikey` query parameter.
pub fn credential<'a>(headers: &'a HeaderMap, query: &'a str) -> Option<&'a str> {
    if let Some(value) = headers.get(API_KEY_HEADER) {
        return value.to_str().ok().map(str::trim).filter(|v| !v.is_empty());
    }
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == API_KEY_HEADER && !value.is_empty()).then_some(value)
    })
}

/// Phase 3 for an API key: verified (through the cache), current, unrevoked and allowed from
/// this address and referer.
pub fn authenticate(
    key: &str,
    verifier: &ApiKeyVerifier,
    jwt: &JwtVerifier,
    store: &Store,
    clock: &dyn Clock,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Result<Arc<ApiKeyCaller>, GatewayError> {
    let caller = match verifier.cached(key) {
        Some(hit) => hit,
        None => {
            let verified = Arc::new(
                verifier
                    .verify(key, jwt)
                    .map_err(GatewayError::InvalidCredentials)?,
            );
            verifier.remember(key, verified.clone());
            verified
        }
    };
    if caller.exp.is_some_and(|exp| exp <= clock.now_secs()) {
        return Err(GatewayError::InvalidCredentials(InvalidToken::Expired));
    }
    if store.is_revoked(&caller.jti) {
        return Err(GatewayError::InvalidCredentials(InvalidToken::Revoked));
    }
    if !caller.permitted_ips.is_empty() {
        let client = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
            .or(peer);
        if !client.is_some_and(|ip| caller.permitted_ips.iter().any(|net| net.contains(ip))) {
            return Err(GatewayError::ApiKeyForbidden);
        }
    }
    if !caller.permitted_referers.is_empty() {
        let referer = headers
            .get(http::header::REFERER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !caller
            .permitted_referers
            .iter()
            .any(|pattern| wildcard_match(pattern, referer))
        {
            return Err(GatewayError::ApiKeyForbidden);
        }
    }
    Ok(caller)
}

/// `*` matches any run of characters; everything else literally.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permitted_addresses_take_single_ips_and_cidr_blocks() {
        let net = IpNet::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        let one = IpNet::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
        assert!(
            IpNet::parse("::1/128")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
    }

    #[test]
    fn referer_patterns_use_star_as_a_wildcard() {
        assert!(wildcard_match("www.example.com/*", "www.example.com/shop"));
        assert!(wildcard_match("*.example.com/*", "app.example.com/x"));
        assert!(!wildcard_match(
            "www.example.com/*",
            "evil.com/www.example.com/"
        ));
        assert!(wildcard_match("exact", "exact"));
        assert!(!wildcard_match("exact", "exactly"));
    }

    #[test]
    fn the_key_comes_from_the_header_else_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(credential(&headers, "a=1&apikey=k1"), Some("k1"));
        headers.insert(API_KEY_HEADER, "k2".parse().unwrap());
        assert_eq!(credential(&headers, "apikey=k1"), Some("k2"));
        assert_eq!(credential(&HeaderMap::new(), "xapikey=k1"), None);
    }
}
