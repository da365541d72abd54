//! What a key manager is built from: its issuer URL, the super admin, the signing key pair.

use crate::error::KeyManagerError;
use base64::Engine;
use sha2::{Digest, Sha256};
use tollgate_net::security::{DEFAULT_CERT_PEM, DEFAULT_KEY_PEM, DEFAULT_PUBLIC_KEY_PEM};

/// The name WSO2 gives the built-in key manager (`APIConstants.KeyManager.DEFAULT_KEY_MANAGER`).
pub const RESIDENT_KEY_MANAGER: &str = "Resident Key Manager";

/// Access-token validity when the request names none (`[oauth.token_validation]
/// app_access_token_validity` / `user_access_token_validity`, both 3600 in WSO2).
pub const DEFAULT_ACCESS_TOKEN_VALIDITY_SECS: i64 = 3600;

/// Refresh-token validity (`[oauth.token_validation] refresh_token_validity`, 86400 in WSO2).
pub const REFRESH_TOKEN_VALIDITY_SECS: i64 = 86_400;

/// The super tenant's domain.
pub const SUPER_TENANT_DOMAIN: &str = "carbon.super";

/// Everything a [`crate::KeyManager`] needs besides its clock, seed and revocation sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyManagerSettings {
    /// The `iss` of every token: `https://<hostname>:<9443 + offset>/oauth2/token`.
    pub issuer: String,
    /// Where gateways fetch the verification key: `https://<hostname>:<9443 + offset>/oauth2/jwks`.
    pub jwks_endpoint: String,
    /// `[super_admin] username`: the one user, who holds every scope (default `admin`).
    pub admin_username: String,
    /// `[super_admin] password` (default `admin`).
    pub admin_password: String,
    /// PKCS#8 PEM of the RSA key that signs tokens (default: the built-in `wso2carbon` key).
    pub signing_key_pem: String,
    /// SPKI PEM of its public half, published on the JWKS endpoint.
    pub public_key_pem: String,
    /// The JWT header `kid` and the JWKS `kid`. [`KeyManagerSettings::new`] derives it from the
    /// signing certificate as WSO2 IS does ([`wso2_key_id`]).
    pub key_id: String,
    /// `expires_in` when a token request names no `validity_period` (default 3600).
    pub default_validity_secs: i64,
    /// The tenant every user and client lives in (default `carbon.super`).
    pub tenant_domain: String,
}

impl KeyManagerSettings {
    /// WSO2's defaults for a control plane reachable as `hostname` on management port
    /// `mgmt_port` (9443 + offset): `admin`/`admin`, the built-in `wso2carbon` key pair, a `kid`
    /// derived from the built-in certificate, tokens valid for an hour.
    pub fn new(hostname: &str, mgmt_port: u16) -> Self {
        let base = format!("https://{hostname}:{mgmt_port}/oauth2");
        Self {
            issuer: format!("{base}/token"),
            jwks_endpoint: format!("{base}/jwks"),
            admin_username: "admin".to_owned(),
            admin_password: "admin".to_owned(),
            signing_key_pem: DEFAULT_KEY_PEM.to_owned(),
            public_key_pem: DEFAULT_PUBLIC_KEY_PEM.to_owned(),
            // The built-in certificate is compiled in and parsed by the protocol crate's own
            // tests; should it ever fail here, the alias is WSO2's older `kid` choice.
            key_id: wso2_key_id(DEFAULT_CERT_PEM)
                .unwrap_or_else(|_| tollgate_net::security::DEFAULT_KEY_ALIAS.to_owned()),
            default_validity_secs: DEFAULT_ACCESS_TOKEN_VALIDITY_SECS,
            tenant_domain: SUPER_TENANT_DOMAIN.to_owned(),
        }
    }
}

/// The `kid` WSO2 IS gives tokens signed with the key of `cert_pem` for RS256.
///
/// IS's `DefaultKeyIDProviderImpl` uses `OAuth2Util.getThumbPrint(cert) + "_" + alg`, where the
/// thumbprint is the SHA-256 digest of the certificate's DER, written as lowercase hex, and that
/// hex text base64url-encoded without padding. The same value names the key on `/oauth2/jwks`,
/// so a gateway can pick the key by `kid`. (Older IS releases used the SHA-1 thumbprint; which
/// one API-M 4.2's bundled IS uses is UNCONFIRMED. Nothing in Tollgate depends on the value
/// beyond JWT header and JWKS agreeing.)
pub fn wso2_key_id(cert_pem: &str) -> Result<String, KeyManagerError> {
    let der = rustls_pemfile::certs(&mut cert_pem.as_bytes())
        .next()
        .ok_or_else(|| KeyManagerError::Certificate("no certificate in the PEM data".to_owned()))?
        .map_err(|e| KeyManagerError::Certificate(e.to_string()))?;
    let digest = Sha256::digest(der.as_ref());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hex.as_bytes());
    Ok(format!("{thumbprint}_RS256"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_settings_follow_the_management_port() {
        let s = KeyManagerSettings::new("localhost", 9444);
        assert_eq!(s.issuer, "https://localhost:9444/oauth2/token");
        assert_eq!(s.jwks_endpoint, "https://localhost:9444/oauth2/jwks");
        assert_eq!(s.tenant_domain, "carbon.super");
        assert_eq!(s.default_validity_secs, 3600);
    }

    #[test]
    fn key_id_is_the_base64url_of_the_hex_sha256_thumbprint_with_the_algorithm() {
        let kid = wso2_key_id(DEFAULT_CERT_PEM).unwrap();
        let (thumb, alg) = kid.rsplit_once('_').unwrap();
        assert_eq!(alg, "RS256");
        let hex = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(thumb)
            .unwrap();
        assert_eq!(hex.len(), 64);
        assert!(hex.iter().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(KeyManagerSettings::new("localhost", 9443).key_id, kid);
    }

    #[test]
    fn key_id_of_garbage_is_an_error() {
        assert!(wso2_key_id("not a certificate").is_err());
    }
}
