//! Phase 3: who is calling.
//!
//! A resource with auth type `None` needs no token and runs as a PRODUCTION key
//! (`APIAuthenticationHandler#handleNoAuthentication`). Otherwise the request must carry
//! `Authorization: Bearer <JWT>`, an RS256 token signed by a trusted key, issued by one of the
//! snapshot's key managers, unexpired by the injected clock and not revoked.
//!
//! RS256 verification costs ~33 µs, a cache hit ~0.2 µs (DESIGN.md §7): verified tokens are
//! cached by their exact string until their `exp`. Revocation is still checked on every
//! request, by `jti`, against the subscription store. Only JWT access tokens are understood:
//! an opaque token, which WSO2 would introspect at the key manager, is refused with 900901.

use crate::respond::{GatewayError, InvalidToken};
use crate::store::Store;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tollgate_protocol::Clock;

/// What the gateway keeps of a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `azp`, else `client_id`, else `consumerKey`.
    pub consumer_key: String,
    pub issuer: String,
    pub subject: String,
    /// `scope`, space separated in the token.
    pub scopes: Vec<String>,
    pub jti: Option<String>,
    /// Seconds since the epoch.
    pub exp: i64,
    pub nbf: Option<i64>,
}

/// The caller of one request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Resource auth type `None`.
    Anonymous,
    Token(Arc<VerifiedToken>),
    /// An API key ([`crate::api_key`]).
    ApiKey(Arc<crate::api_key::ApiKeyCaller>),
}

impl Caller {
    /// The end user (`sub`) of a token or API key.
    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::Token(token) => Some(&token.subject),
            Self::ApiKey(key) => Some(&key.subject),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    azp: Option<String>,
    client_id: Option<String>,
    #[serde(rename = "consumerKey")]
    consumer_key: Option<String>,
    #[serde(default)]
    scope: Option<serde_json::Value>,
    jti: Option<String>,
    exp: i64,
    nbf: Option<i64>,
}

/// Signature checks against the trusted public keys.
pub struct JwtVerifier {
    keys: Vec<DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl JwtVerifier {
    /// Keys that do not parse are logged and left out: tokens they would have verified are
    /// then refused, which is what a misconfigured truststore does on WSO2 too.
    pub fn new(public_keys_pem: &[String]) -> Self {
        let keys = public_keys_pem
            .iter()
            .filter_map(|pem| match DecodingKey::from_rsa_pem(pem.as_bytes()) {
                Ok(key) => Some(key),
                Err(error) => {
                    tracing::error!(%error, "ignoring a trusted key that is not an RSA public key PEM");
                    None
                }
            })
            .collect();
        // Only RS256, as WSO2's JWTValidator signs and checks: `none` and HS* never pass.
        let mut validation = Validation::new(Algorithm::RS256);
        // Time is checked against the injected clock, not the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Self { keys, validation }
    }

    /// Full verification of an uncached token (signature and claims; not issuer, time or
    /// revocation, which depend on the moment and the store).
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, InvalidToken> {
        if token.split('.').count() != 3 {
            return Err(InvalidToken::Malformed);
        }
        let mut last = InvalidToken::Malformed;
        for key in &self.keys {
            match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data) => return into_verified(data.claims),
                Err(error) => {
                    use jsonwebtoken::errors::ErrorKind;
                    match error.kind() {
                        // Another trusted key may have signed it.
                        ErrorKind::InvalidSignature => last = InvalidToken::BadSignature,
                        _ => return Err(InvalidToken::Malformed),
                    }
                }
            }
        }
        Err(last)
    }
}

fn into_verified(claims: Claims) -> Result<VerifiedToken, InvalidToken> {
    let consumer_key = claims
        .azp
        .or(claims.client_id)
        .or(claims.consumer_key)
        .ok_or(InvalidToken::Malformed)?;
    let scopes = match claims.scope {
        Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Ok(VerifiedToken {
        consumer_key,
        issuer: claims.iss.ok_or(InvalidToken::Malformed)?,
        subject: claims.sub.unwrap_or_default(),
        scopes,
        jti: claims.jti,
        exp: claims.exp,
        nbf: claims.nbf,
    })
}

/// Verified tokens by their exact string, until their `exp`.
///
/// Bounded: when full, expired entries are dropped, and if that frees nothing the cache starts
/// over (cheap, rare, and never wrong: a miss only costs a verification).
#[derive(Debug)]
pub struct TokenCache {
    /// foldhash, not SipHash: a token is ~700 bytes and only verified tokens are inserted.
    entries: RwLock<HashMap<Box<str>, Arc<VerifiedToken>, foldhash::fast::RandomState>>,
    capacity: usize,
}

impl TokenCache {
    pub const DEFAULT_CAPACITY: usize = 10_000;

    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::default()),
            capacity: capacity.max(1),
        }
    }

    pub fn get(&self, token: &str, now_secs: i64) -> Option<Arc<VerifiedToken>> {
        let entries = self.entries.read().ok()?;
        entries.get(token).filter(|t| t.exp > now_secs).cloned()
    }

    pub fn insert(&self, token: &str, verified: Arc<VerifiedToken>, now_secs: i64) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= self.capacity {
            entries.retain(|_, t| t.exp > now_secs);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(token.into(), verified);
    }

    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The bearer token of a request, if it has one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("Bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Phase 3 for a secured resource: a verified, current, unrevoked token from a trusted issuer.
pub fn authenticate(
    headers: &HeaderMap,
    verifier: &JwtVerifier,
    cache: &TokenCache,
    store: &Store,
    clock: &dyn Clock,
) -> Result<Arc<VerifiedToken>, GatewayError> {
    let token = bearer(headers).ok_or(GatewayError::MissingCredentials)?;
    let verified = verify_cached(token, verifier, cache, clock)?;
    check_current(&verified, store)?;
    Ok(verified)
}

/// Signature and expiry, through the cache.
pub fn verify_cached(
    token: &str,
    verifier: &JwtVerifier,
    cache: &TokenCache,
    clock: &dyn Clock,
) -> Result<Arc<VerifiedToken>, GatewayError> {
    let now = clock.now_secs();
    if let Some(hit) = cache.get(token, now) {
        return Ok(hit);
    }
    let verified = verifier
        .verify(token)
        .map_err(GatewayError::InvalidCredentials)?;
    if verified.exp <= now {
        return Err(GatewayError::InvalidCredentials(InvalidToken::Expired));
    }
    // Not cached while not yet valid: the clock only moves forward, so once cached it stays so.
    if verified.nbf.is_some_and(|nbf| nbf > now) {
        return Err(GatewayError::InvalidCredentials(InvalidToken::NotYetValid));
    }
    let verified = Arc::new(verified);
    cache.insert(token, verified.clone(), now);
    Ok(verified)
}

/// What may change after a token was cached: its issuer's trust and its revocation.
fn check_current(token: &VerifiedToken, store: &Store) -> Result<(), GatewayError> {
    if !store.trusts_issuer(&token.issuer) {
        return Err(GatewayError::InvalidCredentials(
            InvalidToken::UnknownIssuer,
        ));
    }
    if token
        .jti
        .as_deref()
        .is_some_and(|jti| store.is_revoked(jti))
    {
        return Err(GatewayError::InvalidCredentials(InvalidToken::Revoked));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first() {
        let cache = TokenCache::new(2);
        let token = |exp| {
            Arc::new(VerifiedToken {
                consumer_key: "c".into(),
                issuer: "i".into(),
                subject: "s".into(),
                scopes: vec![],
                jti: None,
                exp,
                nbf: None,
            })
        };
        cache.insert("old", token(10), 0);
        cache.insert("live", token(100), 0);
        cache.insert("new", token(100), 50);
        assert!(cache.get("old", 50).is_none());
        assert!(cache.get("live", 50).is_some());
        assert!(cache.get("new", 50).is_some());
        assert!(cache.get("new", 100).is_none(), "valid only until exp");
    }
}
