//! WSO2's Resident Key Manager, as the control plane embeds it.
//!
//! It registers OAuth clients (DCR, and DevPortal's generate-keys through
//! [`KeyManager::create_client`]), issues RS256 JWT access tokens with WSO2 4.x's claims
//! (client_credentials, password and rotating refresh tokens), publishes its verification key as
//! a JWKS, and validates, introspects and revokes tokens, telling a [`RevocationSink`] so the
//! gateways hear of it. The super admin is the only user and holds every scope. Time comes from
//! the injected clock and every key, secret, `jti` and refresh token from the seeded stream: the
//! same seed and the same calls give byte-identical tokens. State is in memory; the control plane
//! saves it with its own ([`KeyManager::stored`]) so a restart keeps clients and grants.
//!
//! | module | what it holds |
//! |---|---|
//! | [`settings`] | [`KeyManagerSettings`], WSO2's defaults, the `kid` derivation |
//! | [`manager`] | [`KeyManager`]: clients, grants, signing, validation, revocation |
//! | [`token`] | token request/response types and the JWT claims |
//! | [`keys`] | the RSA key pair, jsonwebtoken keys and the JWKS document |
//! | [`http`] | the axum routes: DCR, `/oauth2/{token,jwks,revoke,introspect}` |
//! | [`error`] | [`OAuthError`] (WSO2 IS's error JSON) and [`KeyManagerError`] |

pub mod error;
pub mod http;
pub mod keys;
pub mod manager;
pub mod settings;
pub mod token;

pub use error::{KeyManagerError, OAuthError};
pub use keys::{Jwk, Jwks};
pub use manager::{ClientSpec, KeyManager, OAuthClient, RevocationSink, StoredKeyManager};
pub use settings::{KeyManagerSettings, RESIDENT_KEY_MANAGER, wso2_key_id};
pub use token::{Grant, TokenInfo, TokenRequest, TokenResponse};

#[cfg(test)]
mod tests;
