//! The backend JWT (`[apim.jwt] enable = true`): a JWT the gateway signs with its own key and
//! sends the backend in `X-JWT-Assertion`, saying who called through which application and
//! subscription, as WSO2's `APIMgtGatewayJWTGeneratorImpl` writes it.
//!
//! - header: `{"typ":"JWT","alg":"RS256","x5t":…,"kid":…}` (`JWTUtil#generateHeader`): `x5t` is
//!   the certificate's SHA-1 thumbprint (SHA-256 with `use_sha256_hash`) as lowercase hex, that
//!   text base64-encoded; `kid` (unless `use_kid_property = false`) is the node's key alias.
//!   `signing_algorithm = "NONE"` gives `{"typ":"JWT","alg":"none"}` and an empty signature;
//! - claims: `iss` `wso2.org/products/am`, `iat`, `exp` (`iat` + 900 s), `jti`, and under the
//!   `claim_dialect` (`http://wso2.org/claims/…`) `subscriber`, `applicationid`,
//!   `applicationname`, `applicationtier`, `apiname`, `apicontext`, `version`, `tier`,
//!   `keytype`, `usertype` (`Application_User`), `enduser`, `enduserTenantId`,
//!   `applicationUUId`; then every claim of the caller's access token but `iss`, `sub`, `aud`,
//!   `exp`, `nbf`, `iat`, `jti`, `application`, `tierInfo`, `subscribedAPIs` and the
//!   `excluded_claims` (`populateCustomClaims`);
//! - each part encoded with the standard base64 alphabet without padding
//!   (`AbstractAPIMgtGatewayJWTGenerator#encode`), or base64url with `encoding = "base64url"`.
//!
//! Off by default; when off the request path never reaches this module. The `jti` is a UUID
//! derived from the node's name and a counter (WSO2's is random), so a seeded run repeats.
//! A token is signed once per caller credential, API and tiers and reused until it expires, as
//! WSO2's gateway token cache keeps it: an RSA signature per request would cost more than the
//! rest of the request path.

use crate::authenticate::Caller;
use crate::authorize::Authorized;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use http::{HeaderMap, HeaderName, HeaderValue};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tollgate_config::model::{Jwt, JwtEncoding};
use tollgate_protocol::artifact::ApiArtifact;

/// `APIMgtGatewayJWTGeneratorImpl.API_GATEWAY_ID`.
pub const ISSUER: &str = "wso2.org/products/am";
/// `JWTConfigurationDto`'s default time to live, seconds.
pub const TTL_SECS: i64 = 900;
/// The super tenant's id (`MultitenantConstants.SUPER_TENANT_ID`).
const SUPER_TENANT_ID: &str = "-1234";
/// How many signed tokens are kept; the cache starts over when full.
const CACHE_CAPACITY: usize = 10_000;
/// Claims never copied from the caller's token (`populateCustomClaims`).
const RESTRICTED: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "application",
    "tierInfo",
    "subscribedAPIs",
];

/// Why the generator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BackendJwtError {
    #[error("[apim.jwt] header `{0}` is not a valid HTTP header name")]
    Header(String),
    #[error("backend JWT signing key: {0}")]
    Key(String),
}

/// The node's signing material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// PKCS#8 PEM.
    pub private_key_pem: String,
    /// The certificate's DER, for `x5t`.
    pub certificate_der: Vec<u8>,
    /// `[keystore.tls] alias`.
    pub alias: String,
}

/// What one request tells the backend.
#[derive(Debug, Clone, Copy)]
pub struct JwtInfo<'a> {
    pub subscriber: &'a str,
    pub application_id: &'a str,
    pub application_name: &'a str,
    pub application_tier: &'a str,
    pub api_name: &'a str,
    pub api_context: &'a str,
    pub version: &'a str,
    pub subscription_tier: &'a str,
    pub key_type: &'a str,
    /// With the tenant domain (`admin@carbon.super`).
    pub end_user: &'a str,
    /// The caller's access token, already verified: its claims are copied.
    pub token: Option<&'a str>,
}

/// The configured generator.
pub struct BackendJwt {
    header: HeaderName,
    dialect: String,
    url_safe: bool,
    /// The encoded JWT header, the same for every token.
    encoded_header: String,
    signing: Option<EncodingKey>,
    excluded: Vec<String>,
    node: String,
    next: AtomicU64,
    /// Signed tokens by what they say (credential, API, tiers), with their `exp`.
    cache: Mutex<HashMap<String, (i64, HeaderValue)>>,
}

impl std::fmt::Debug for BackendJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendJwt")
            .field("header", &self.header)
            .field("dialect", &self.dialect)
            .field("signed", &self.signing.is_some())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key of `private_key_pem`, named `alias`, with the first certificate of
    /// `certificate_pem`.
    pub fn from_pems(
        private_key_pem: &str,
        certificate_pem: &str,
        alias: &str,
    ) -> Result<Self, BackendJwtError> {
        let der = rustls_pemfile::certs(&mut certificate_pem.as_bytes())
            .next()
            .ok_or_else(|| BackendJwtError::Key("no certificate".into()))?
            .map_err(|e| BackendJwtError::Key(e.to_string()))?;
        Ok(Self {
            private_key_pem: private_key_pem.to_owned(),
            certificate_der: der.to_vec(),
            alias: alias.to_owned(),
        })
    }

    /// The built-in `wso2carbon` pair.
    pub fn built_in() -> Result<Self, BackendJwtError> {
        use tollgate_net::security::{DEFAULT_CERT_PEM, DEFAULT_KEY_ALIAS, DEFAULT_KEY_PEM};
        Self::from_pems(DEFAULT_KEY_PEM, DEFAULT_CERT_PEM, DEFAULT_KEY_ALIAS)
    }
}

impl BackendJwt {
    pub fn new(config: &Jwt, key: &SigningKey, node: &str) -> Result<Self, BackendJwtError> {
        let header = HeaderName::try_from(config.header.as_str())
            .map_err(|_| BackendJwtError::Header(config.header.clone()))?;
        let url_safe = config.encoding == JwtEncoding::Base64Url;
        let (jwt_header, signing) = if config.signed {
            let thumbprint: String = if config.use_sha256_hash {
                hex(&Sha256::digest(&key.certificate_der))
            } else {
                hex(&Sha1::digest(&key.certificate_der))
            };
            let mut header = json!({"typ": "JWT", "alg": "RS256",
                "x5t": STANDARD.encode(thumbprint.as_bytes())});
            if config.use_kid {
                header["kid"] = json!(key.alias);
            }
            let signing = EncodingKey::from_rsa_pem(key.private_key_pem.as_bytes())
                .map_err(|e| BackendJwtError::Key(e.to_string()))?;
            (header, Some(signing))
        } else {
            (json!({"typ": "JWT", "alg": "none"}), None)
        };
        // A trailing `/` is added unless the dialect is empty or `/` (the generator's rule).
        let dialect = match config.claim_dialect.as_str() {
            "" | "/" => String::new(),
            d => format!("{d}/"),
        };
        Ok(Self {
            header,
            dialect,
            url_safe,
            encoded_header: encode(url_safe, jwt_header.to_string().as_bytes()),
            signing,
            excluded: config.excluded_claims.clone(),
            node: node.to_owned(),
            next: AtomicU64::new(0),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The header the token travels in.
    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    /// The claims of one token, in WSO2's order.
    pub fn claims(&self, info: &JwtInfo<'_>, now_secs: i64) -> Map<String, Value> {
        let d = &self.dialect;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(ISSUER));
        claims.insert("exp".into(), json!(now_secs + TTL_SECS));
        claims.insert("iat".into(), json!(now_secs));
        let mut put = |name: &str, value: &str| {
            if !value.is_empty() {
                claims.insert(format!("{d}{name}"), json!(value));
            }
        };
        put("subscriber", info.subscriber);
        put("applicationid", info.application_id);
        put("applicationname", info.application_name);
        put("applicationtier", info.application_tier);
        put("apiname", info.api_name);
        put("apicontext", info.api_context);
        put("version", info.version);
        put("tier", info.subscription_tier);
        put(
            "keytype",
            if info.key_type.is_empty() {
                "PRODUCTION"
            } else {
                info.key_type
            },
        );
        put("usertype", "Application_User");
        put("enduser", info.end_user);
        put("enduserTenantId", SUPER_TENANT_ID);
        put("applicationUUId", info.application_id);
        for (name, value) in info.token.map(token_claims).unwrap_or_default() {
            let restricted = RESTRICTED.contains(&name.as_str()) || self.excluded.contains(&name);
            if !restricted && !claims.contains_key(&name) {
                claims.insert(name, value);
            }
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        claims.insert("jti".into(), json!(jti(&self.node, n)));
        claims
    }

    /// The token for `info`, signed again only once the one made for the same `credential`
    /// (the caller's token or key id) and claims has expired.
    pub fn cached_token(
        &self,
        credential: &str,
        info: &JwtInfo<'_>,
        now_secs: i64,
    ) -> Option<HeaderValue> {
        let key = format!(
            "{credential}\n{}\n{}\n{}\n{}\n{}\n{}",
            info.api_context,
            info.version,
            info.key_type,
            info.subscription_tier,
            info.application_id,
            info.application_tier
        );
        if let Some((_, value)) = self
            .cache
            .lock()
            .ok()?
            .get(&key)
            .filter(|(exp, _)| now_secs < *exp)
        {
            return Some(value.clone());
        }
        let value = self.token(info, now_secs)?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(key, (now_secs + TTL_SECS, value.clone()));
        }
        Some(value)
    }

    /// The header value for one request, signed now.
    pub fn token(&self, info: &JwtInfo<'_>, now_secs: i64) -> Option<HeaderValue> {
        let body = Value::Object(self.claims(info, now_secs)).to_string();
        let signing_input = format!(
            "{}.{}",
            self.encoded_header,
            encode(self.url_safe, body.as_bytes())
        );
        let signature = match &self.signing {
            Some(key) => {
                let signature =
                    jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, Algorithm::RS256)
                        .ok()?;
                // jsonwebtoken answers base64url; WSO2's default is the standard alphabet.
                let raw = URL_SAFE_NO_PAD.decode(signature).ok()?;
                encode(self.url_safe, &raw)
            }
            None => String::new(),
        };
        HeaderValue::from_str(&format!("{signing_input}.{signature}")).ok()
    }
}

/// The backend JWT of one request, or `None` for a caller with no identity (a resource with
/// auth type `None`) or an internal key, for which WSO2 generates none.
pub fn for_request(
    jwt: &BackendJwt,
    caller: &Caller,
    authorized: &Authorized<'_>,
    api: &ApiArtifact,
    headers: &HeaderMap,
    tenant: &str,
    now_secs: i64,
) -> Option<HeaderValue> {
    // An internal key gets none either (WSO2 makes one for MCP servers only), nor Basic auth
    // (`BasicAuthAuthenticator` sets no caller token).
    if matches!(caller, Caller::InternalKey(_) | Caller::Basic(_)) {
        return None;
    }
    let user = caller.subject()?;
    let end_user = if user.contains('@') {
        user.to_owned()
    } else {
        format!("{user}@{tenant}")
    };
    // Only an OAuth token's claims are copied; the caller's token is verified by now.
    let token = match caller {
        Caller::Token(_) => headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ")),
        _ => None,
    };
    let credential = match caller {
        Caller::ApiKey(key) => key.jti.as_str(),
        _ => token?,
    };
    let app = authorized.application;
    let info = JwtInfo {
        subscriber: app.map_or("", |a| a.owner.as_str()),
        application_id: app.map_or("", |a| a.id.as_str()),
        application_name: app.map_or("", |a| a.name.as_str()),
        application_tier: app.map_or("", |a| a.throttling_policy.as_str()),
        api_name: &api.name,
        api_context: &api.context,
        version: &api.version,
        subscription_tier: authorized
            .subscription
            .map_or("", |s| s.throttling_policy.as_str()),
        key_type: authorized.key_type.as_str(),
        end_user: &end_user,
        token,
    };
    jwt.cached_token(credential, &info, now_secs)
}

fn encode(url_safe: bool, bytes: &[u8]) -> String {
    if url_safe {
        URL_SAFE_NO_PAD.encode(bytes)
    } else {
        STANDARD_NO_PAD.encode(bytes)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The payload of a JWT the gateway has already verified (`Bearer` stripped).
fn token_claims(token: &str) -> Map<String, Value> {
    token
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
        .and_then(|json| serde_json::from_slice(&json).ok())
        .unwrap_or_default()
}

/// A version-4-shaped UUID from the node and a counter.
fn jti(node: &str, n: u64) -> String {
    let d = Sha256::digest(format!("{node}:{n}"));
    let h = hex(&d[..16]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_net::security::DEFAULT_PUBLIC_KEY_PEM;

    fn key() -> SigningKey {
        SigningKey::built_in().unwrap()
    }

    fn info<'a>(token: Option<&'a str>) -> JwtInfo<'a> {
        JwtInfo {
            subscriber: "admin",
            application_id: "app-1",
            application_name: "shop",
            application_tier: "Unlimited",
            api_name: "PizzaShackAPI",
            api_context: "/pizzashack/1.0.0",
            version: "1.0.0",
            subscription_tier: "Gold",
            key_type: "PRODUCTION",
            end_user: "admin@carbon.super",
            token,
        }
    }

    fn parts(token: &HeaderValue) -> Vec<Vec<u8>> {
        token
            .to_str()
            .unwrap()
            .split('.')
            .map(|p| STANDARD_NO_PAD.decode(p).unwrap())
            .collect()
    }

    #[test]
    fn the_default_token_is_rs256_signed_base64_with_wso2s_claims() {
        let jwt = BackendJwt::new(&Jwt::default(), &key(), "gw").unwrap();
        // A caller token: its own claims travel on, the restricted ones do not.
        let caller = format!(
            "e30.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"sub":"admin","azp":"ck","scope":"default","exp":1}"#)
        );
        let value = jwt.token(&info(Some(&caller)), 1_767_225_600).unwrap();
        let [header, body, signature] = &parts(&value)[..] else {
            panic!("three parts")
        };
        let header: Value = serde_json::from_slice(header).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], "wso2carbon");
        let x5t = STANDARD.decode(header["x5t"].as_str().unwrap()).unwrap();
        assert_eq!(x5t.len(), 40, "hex of a SHA-1 thumbprint");

        let claims: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["iat"], 1_767_225_600);
        assert_eq!(claims["exp"], 1_767_225_600 + 900);
        let c = |n: &str| claims[format!("http://wso2.org/claims/{n}")].clone();
        assert_eq!(c("subscriber"), "admin");
        assert_eq!(c("applicationname"), "shop");
        assert_eq!(c("apicontext"), "/pizzashack/1.0.0");
        assert_eq!(c("version"), "1.0.0");
        assert_eq!(c("tier"), "Gold");
        assert_eq!(c("keytype"), "PRODUCTION");
        assert_eq!(c("usertype"), "Application_User");
        assert_eq!(c("enduser"), "admin@carbon.super");
        assert_eq!(c("enduserTenantId"), "-1234");
        assert_eq!(claims["azp"], "ck");
        assert_eq!(claims["scope"], "default");
        assert!(claims.get("sub").is_none(), "restricted");
        assert_eq!(claims["jti"].as_str().unwrap().len(), 36);

        // The signature verifies with the node's public key over the standard-base64 parts.
        let text = value.to_str().unwrap();
        let input = &text[..text.rfind('.').unwrap()];
        let verify =
            jsonwebtoken::DecodingKey::from_rsa_pem(DEFAULT_PUBLIC_KEY_PEM.as_bytes()).unwrap();
        assert!(
            jsonwebtoken::crypto::verify(
                &URL_SAFE_NO_PAD.encode(signature),
                input.as_bytes(),
                &verify,
                Algorithm::RS256
            )
            .unwrap()
        );
    }

    #[test]
    fn base64url_none_and_a_custom_dialect_change_only_what_they_name() {
        let config = Jwt {
            encoding: JwtEncoding::Base64Url,
            signed: false,
            claim_dialect: "urn:x".into(),
            use_kid: false,
            excluded_claims: vec!["azp".into()],
            ..Jwt::default()
        };
        let jwt = BackendJwt::new(&config, &key(), "gw").unwrap();
        let caller = format!("e30.{}.s", URL_SAFE_NO_PAD.encode(r#"{"azp":"ck"}"#));
        let value = jwt.token(&info(Some(&caller)), 10).unwrap();
        let text = value.to_str().unwrap();
        assert!(text.ends_with('.'), "no signature: {text}");
        let mut parts = text.split('.');
        let header = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        assert_eq!(header, br#"{"typ":"JWT","alg":"none"}"#);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(claims["urn:x/enduser"], "admin@carbon.super");
        assert!(claims.get("azp").is_none(), "excluded");
    }

    #[test]
    fn a_token_is_reused_for_the_same_caller_and_api_until_it_expires() {
        let jwt = BackendJwt::new(&Jwt::default(), &key(), "gw").unwrap();
        let first = jwt.cached_token("t1", &info(None), 100).unwrap();
        assert_eq!(
            jwt.cached_token("t1", &info(None), 100 + 899),
            Some(first.clone())
        );
        let other_api = JwtInfo {
            api_context: "/other/1.0.0",
            ..info(None)
        };
        assert_ne!(jwt.cached_token("t1", &other_api, 150), Some(first.clone()));
        assert_ne!(
            jwt.cached_token("t2", &info(None), 150),
            Some(first.clone())
        );
        let renewed = jwt.cached_token("t1", &info(None), 100 + 900).unwrap();
        assert_ne!(renewed, first, "signed again once expired");
    }

    #[test]
    fn jtis_differ_per_token_and_repeat_per_run() {
        assert_eq!(jti("gw", 0), jti("gw", 0));
        assert_ne!(jti("gw", 0), jti("gw", 1));
        assert_eq!(&jti("gw", 7)[14..15], "4");
    }
}
