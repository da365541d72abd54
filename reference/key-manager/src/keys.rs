//! The signing key pair: JWT signing and verification keys and the JWKS document.
//!
//! `n` and `e` come from the public key PEM through the `rsa` crate: jsonwebtoken 9 can verify
//! with a PEM key but does not expose its modulus and exponent, and `rsa` parses SPKI and
//! PKCS#8 PEM directly. It also lets [`SigningKeys::from_pems`] refuse a public key that does not
//! belong to the signing key, which would otherwise only show up as every gateway rejecting every
//! token.

use crate::error::KeyManagerError;
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};

/// `GET /oauth2/jwks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// One RSA signing key, as WSO2 IS publishes it (without its `x5c` / `x5t` certificate fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    /// Public exponent, base64url big-endian without padding.
    pub e: String,
    /// Modulus, base64url big-endian without padding.
    pub n: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub key_use: String,
    pub alg: String,
}

/// Keys derived once at start.
pub(crate) struct SigningKeys {
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwks: Jwks,
}

impl SigningKeys {
    pub fn from_pems(
        signing_key_pem: &str,
        public_key_pem: &str,
        key_id: &str,
    ) -> Result<Self, KeyManagerError> {
        let private = RsaPrivateKey::from_pkcs8_pem(signing_key_pem)
            .map_err(|e| KeyManagerError::SigningKey(e.to_string()))?;
        let public = RsaPublicKey::from_public_key_pem(public_key_pem)
            .map_err(|e| KeyManagerError::PublicKey(e.to_string()))?;
        if private.to_public_key() != public {
            return Err(KeyManagerError::KeyMismatch);
        }
        let encoding = EncodingKey::from_rsa_pem(signing_key_pem.as_bytes())
            .map_err(|e| KeyManagerError::SigningKey(e.to_string()))?;
        let decoding = DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
            .map_err(|e| KeyManagerError::PublicKey(e.to_string()))?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwk = Jwk {
            kty: "RSA".to_owned(),
            e: b64.encode(public.e().to_bytes_be()),
            n: b64.encode(public.n().to_bytes_be()),
            kid: key_id.to_owned(),
            key_use: "sig".to_owned(),
            alg: "RS256".to_owned(),
        };
        Ok(Self {
            encoding,
            decoding,
            jwks: Jwks { keys: vec![jwk] },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_net::security::{DEFAULT_KEY_PEM, DEFAULT_PUBLIC_KEY_PEM};

    #[test]
    fn built_in_pair_gives_an_rsa_jwk_with_the_usual_exponent() {
        let keys = SigningKeys::from_pems(DEFAULT_KEY_PEM, DEFAULT_PUBLIC_KEY_PEM, "k").unwrap();
        let jwk = &keys.jwks.keys[0];
        assert_eq!(jwk.e, "AQAB");
        // 2048-bit modulus: 256 bytes, 342 base64url characters.
        assert_eq!(jwk.n.len(), 342);
        let json = serde_json::to_string(&keys.jwks).unwrap();
        assert!(json.starts_with(r#"{"keys":[{"kty":"RSA","e":"AQAB","n":""#));
        assert!(json.ends_with(r#","kid":"k","use":"sig","alg":"RS256"}]}"#));
    }

    #[test]
    fn a_public_key_of_another_pair_is_refused() {
        // Same size and exponent, different modulus: a key of "another pair".
        let real = RsaPublicKey::from_public_key_pem(DEFAULT_PUBLIC_KEY_PEM).unwrap();
        let other =
            RsaPublicKey::new(real.n() - rsa::BigUint::from(2u8), real.e().clone()).unwrap();
        let other_pem =
            rsa::pkcs8::EncodePublicKey::to_public_key_pem(&other, rsa::pkcs8::LineEnding::LF)
                .unwrap();
        assert!(matches!(
            SigningKeys::from_pems(DEFAULT_KEY_PEM, &other_pem, "k"),
            Err(KeyManagerError::KeyMismatch)
        ));
    }

    #[test]
    fn garbage_keys_are_errors_not_panics() {
        assert!(matches!(
            SigningKeys::from_pems("nope", DEFAULT_PUBLIC_KEY_PEM, "k"),
            Err(KeyManagerError::SigningKey(_))
        ));
        assert!(matches!(
            SigningKeys::from_pems(DEFAULT_KEY_PEM, "nope", "k"),
            Err(KeyManagerError::PublicKey(_))
        ));
    }
}
