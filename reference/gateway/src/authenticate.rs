//! Phase 3: who is calling.
//!
//! A resource with auth type `None` needs no token and runs as a PRODUCTION key
//! (`APIAuthenticationHandler#handleNoAuthentication`). Otherwise the request must carry
//! `Authorization: Bearer <JWT>`, an RS256 token signed by a trusted key, issued by one of the
//! snapshot's key managers, unexpired by the injected clock and not revoked.
//!
//! The token's `kid` names the trusted key it was signed with, as WSO2's `JWTValidatorImpl`
//! looks it up in the issuer's JWKS: a `kid` that names no trusted key (or no `kid`) is
//! refused with 900901 before any signature is checked, and a token is only ever checked
//! against the one key its `kid` names.
//!
//! The `Authorization` header is read as WSO2's OAuth authenticator reads it: the scheme is
//! `Bearer`, case-sensitive, followed by one space. Any other scheme (`bearer` included) is no
//! credential at all (900902). Two `Authorization` headers are refused with 900901: a gateway
//! that picked one of them would let a proxy in front and the gateway disagree about who calls.
//! A header value that is not visible ASCII (a non-ASCII byte in the token) is an invalid
//! credential (900901), not a missing one.
//!
//! An RS256 check costs ~317 k instructions, a cache hit ~0.2 µs (README.md, "Benchmarks"):
//! verified tokens are cached by their exact string until their `exp`. Signatures are checked by
//! aws-lc-rs against keys parsed once ([`ParsedPublicKey`]): ring, which rustls and jsonwebtoken
//! use, re-parses the key and rebuilds its Montgomery constants on every check (438 k
//! instructions in all). Revocation is still checked on every request, by `jti`, against the
//! subscription store. Only JWT access tokens are understood: an opaque token, which WSO2 would
//! introspect at the key manager, is refused with 900901.

use crate::respond::{GatewayError, InvalidToken};
use crate::store::Store;
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tollgate_protocol::Clock;
use tollgate_protocol::defect::{Defect, Defects};

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
    /// The Publisher's internal key ([`crate::internal_key`]).
    InternalKey(Arc<crate::internal_key::InternalKeyCaller>),
    /// A user with Basic credentials ([`crate::basic_auth`]).
    Basic(Arc<crate::basic_auth::BasicCaller>),
}

impl Caller {
    /// The end user (`sub`) of a token or API key.
    pub fn subject(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::Token(token) => Some(&token.subject),
            Self::ApiKey(key) => Some(&key.subject),
            Self::InternalKey(key) => Some(&key.subject),
            Self::Basic(user) => Some(&user.username),
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

/// A public key the gateway accepts token signatures from, and the `kid` that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The `kid` tokens signed with this key carry: the keystore alias (`wso2carbon`).
    pub key_id: String,
    /// SPKI PEM.
    pub public_key_pem: String,
}

impl TrustedKey {
    pub fn new(key_id: impl Into<String>, public_key_pem: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            public_key_pem: public_key_pem.into(),
        }
    }
}

/// Signature checks against the trusted public keys, each found by its `kid`.
pub struct JwtVerifier {
    keys: Vec<(String, ParsedPublicKey)>,
    defects: Defects,
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
    /// then refused, which is what a misconfigured truststore does on WSO2 too. An RSA key
    /// outside 2048 to 8192 bits is kept but verifies no signature.
    pub fn new(trusted: &[TrustedKey]) -> Self {
        let keys = trusted
            .iter()
            .filter_map(|t| match parse_public_key(&t.public_key_pem) {
                Ok(key) => Some((t.key_id.clone(), key)),
                Err(reason) => {
                    tracing::error!(key_id = %t.key_id, reason, "ignoring a trusted key");
                    None
                }
            })
            .collect();
        Self {
            keys,
            defects: Defects::default(),
        }
    }

    /// This verifier, sharing its node's deliberate defects.
    pub fn with_defects(mut self, defects: Defects) -> Self {
        self.defects = defects;
        self
    }

    /// Full verification of an uncached token (signature and claims; not issuer, time or
    /// revocation, which depend on the moment and the store).
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, InvalidToken> {
        let header = checked_header(token)?;
        if header.alg.as_deref() == Some("none") && self.defects.has(Defect::AlgNoneAccepted) {
            return into_verified(unsigned_claims(token)?);
        }
        let kid = header.kid.ok_or(InvalidToken::UnknownKey)?;
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| *id == kid)
            .ok_or(InvalidToken::UnknownKey)?;
        into_verified(self.decode(token, key)?)
    }

    /// The claims of a JWT whose header names `kid` and whose signature any trusted key
    /// verifies. For API keys: their `kid` is WSO2's API-key certificate alias, under which the
    /// gateway's truststore holds the same key as under its own id.
    pub fn verify_under_alias<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        kid: &str,
    ) -> Result<T, InvalidToken> {
        let header = checked_header(token)?;
        if header.kid.as_deref() != Some(kid) {
            return Err(InvalidToken::UnknownKey);
        }
        let mut last = InvalidToken::UnknownKey;
        for (_, key) in &self.keys {
            match self.decode(token, key) {
                Ok(claims) => return Ok(claims),
                Err(InvalidToken::BadSignature) => last = InvalidToken::BadSignature,
                Err(other) => return Err(other),
            }
        }
        Err(last)
    }

    /// The claims of `token` if `key` signed it. Only RS256, as WSO2's JWTValidator signs and
    /// checks: `none` and HS* never pass. The header is read strictly (every registered field
    /// of its type) before the signature is checked, and the claims after it, so a forged
    /// token's payload is never parsed. Time is checked by the caller against the injected
    /// clock.
    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        key: &ParsedPublicKey,
    ) -> Result<T, InvalidToken> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| InvalidToken::Malformed)?;
        if header.alg != jsonwebtoken::Algorithm::RS256 {
            return Err(InvalidToken::Malformed);
        }
        let (signing_input, signature) = token.rsplit_once('.').ok_or(InvalidToken::Malformed)?;
        let (_, payload) = signing_input
            .split_once('.')
            .ok_or(InvalidToken::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| InvalidToken::Malformed)?;
        key.verify_sig(signing_input.as_bytes(), &signature)
            .map_err(|_| InvalidToken::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| InvalidToken::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| InvalidToken::Malformed)
    }
}

/// An RSA public key PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`), parsed once for RS256 checks.
fn parse_public_key(pem: &str) -> Result<ParsedPublicKey, &'static str> {
    let pem = pem::parse(pem).map_err(|_| "not a PEM block")?;
    if !matches!(pem.tag(), "PUBLIC KEY" | "RSA PUBLIC KEY") {
        return Err("not a public key PEM");
    }
    ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pem.contents())
        .map_err(|_| "not an RSA public key")
}

/// Three parts and a header the verifier accepts: no critical extension is understood, so a
/// token that names one is refused (RFC 7515 §4.1.11), as Nimbus, which WSO2 verifies with,
/// refuses it.
fn checked_header(token: &str) -> Result<JoseHeader, InvalidToken> {
    if token.split('.').count() != 3 {
        return Err(InvalidToken::Malformed);
    }
    let header = jose_header(token)?;
    if header.crit.is_some() {
        return Err(InvalidToken::Malformed);
    }
    Ok(header)
}

/// The JOSE header fields the verifier decides on before any signature check.
#[derive(Debug, Deserialize)]
struct JoseHeader {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<serde::de::IgnoredAny>,
}

/// The first part of `token` as a JOSE header: base64url without padding, a JSON object with
/// no duplicate `kid` or `crit`.
fn jose_header(token: &str) -> Result<JoseHeader, InvalidToken> {
    let encoded = token.split('.').next().unwrap_or_default();
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| InvalidToken::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| InvalidToken::Malformed)
}

/// The payload of a token read without any check: only for the `AlgNoneAccepted` defect.
fn unsigned_claims(token: &str) -> Result<Claims, InvalidToken> {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| InvalidToken::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| InvalidToken::Malformed)
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
    entries: RwLock<HashMap<Box<[u8]>, Arc<VerifiedToken>, foldhash::fast::RandomState>>,
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

    pub fn get(&self, token: &[u8], now_secs: i64) -> Option<Arc<VerifiedToken>> {
        let entries = self.entries.read().ok()?;
        entries.get(token).filter(|t| t.exp > now_secs).cloned()
    }

    pub fn insert(&self, token: &[u8], verified: Arc<VerifiedToken>, now_secs: i64) {
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

/// The bearer token of a request, spaces trimmed, its characters not yet checked
/// ([`token_text`] does, on a cache miss): `Ok(None)` when it offers none, `Err` when it offers
/// two (see the module docs).
fn bearer(headers: &HeaderMap) -> Result<Option<&[u8]>, InvalidToken> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(InvalidToken::Ambiguous);
    }
    let Some(mut token) = value.as_bytes().strip_prefix(b"Bearer ") else {
        return Ok(None);
    };
    while let [b' ', rest @ ..] = token {
        token = rest;
    }
    while let [rest @ .., b' '] = token {
        token = rest;
    }
    Ok((!token.is_empty()).then_some(token))
}

/// The token as text: printable ASCII and spaces only, as WSO2 reads it.
fn token_text(token: &[u8]) -> Result<&str, InvalidToken> {
    // One pass without an early exit, so it vectorises: ~700 bytes on every cache miss.
    let printable = token
        .iter()
        .fold(true, |ok, &b| ok & (b' '..=b'~').contains(&b));
    match printable {
        true => std::str::from_utf8(token).map_err(|_| InvalidToken::Malformed),
        false => Err(InvalidToken::Malformed),
    }
}

/// Phase 3 for a secured resource: a verified, current, unrevoked token from a trusted issuer.
pub fn authenticate(
    headers: &HeaderMap,
    verifier: &JwtVerifier,
    cache: &TokenCache,
    store: &Store,
    clock: &dyn Clock,
) -> Result<Arc<VerifiedToken>, GatewayError> {
    let token = bearer(headers)
        .map_err(GatewayError::InvalidCredentials)?
        .ok_or(GatewayError::MissingCredentials)?;
    let verified = verify_cached(token, verifier, cache, clock)?;
    check_current(&verified, store)?;
    Ok(verified)
}

/// Signature and expiry, through the cache.
///
/// The cache is looked up with the header's bytes as they came: only checked tokens are in it,
/// so a hit needs no second look at its characters.
pub fn verify_cached(
    token: &[u8],
    verifier: &JwtVerifier,
    cache: &TokenCache,
    clock: &dyn Clock,
) -> Result<Arc<VerifiedToken>, GatewayError> {
    let now = clock.now_secs();
    if let Some(hit) = cache.get(token, now) {
        return Ok(hit);
    }
    let token = token_text(token).map_err(GatewayError::InvalidCredentials)?;
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
    cache.insert(token.as_bytes(), verified.clone(), now);
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
    fn bearer_scheme_is_case_sensitive_and_needs_a_token() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Ok(Some(&b"abc"[..])));
        h.insert(AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(
            bearer(&h),
            Ok(None),
            "WSO2 matches `Bearer` case-sensitively"
        );
        h.insert(AUTHORIZATION, "BEARER abc".parse().unwrap());
        assert_eq!(bearer(&h), Ok(None));
        h.insert(AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), Ok(None));
        h.insert(AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&h), Ok(None));
    }

    #[test]
    fn two_authorization_headers_are_an_invalid_credential() {
        let mut h = HeaderMap::new();
        h.append(AUTHORIZATION, "Bearer abc".parse().unwrap());
        h.append(AUTHORIZATION, "Bearer def".parse().unwrap());
        assert_eq!(bearer(&h), Err(InvalidToken::Ambiguous));
    }

    fn text(h: &HeaderMap) -> Result<Option<Result<&str, InvalidToken>>, InvalidToken> {
        bearer(h).map(|t| t.map(token_text))
    }

    #[test]
    fn a_non_ascii_byte_in_the_token_is_an_invalid_credential_not_a_missing_one() {
        let mut h = HeaderMap::new();
        let value = http::HeaderValue::from_bytes("Bearer ey\u{e9}J.a.b".as_bytes()).unwrap();
        h.insert(AUTHORIZATION, value);
        assert_eq!(text(&h), Ok(Some(Err(InvalidToken::Malformed))));
        h.insert(
            AUTHORIZATION,
            http::HeaderValue::from_bytes(b"Bearer a\tb").unwrap(),
        );
        assert_eq!(text(&h), Ok(Some(Err(InvalidToken::Malformed))));
        h.insert(AUTHORIZATION, "Bearer  a.b c ".parse().unwrap());
        assert_eq!(text(&h), Ok(Some(Ok("a.b c"))));
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
        cache.insert(b"old", token(10), 0);
        cache.insert(b"live", token(100), 0);
        cache.insert(b"new", token(100), 50);
        assert!(cache.get(b"old", 50).is_none());
        assert!(cache.get(b"live", 50).is_some());
        assert!(cache.get(b"new", 50).is_some());
        assert!(cache.get(b"new", 100).is_none(), "valid only until exp");
    }
}
