//! Subscription data: what a gateway must know to validate a token against an API.
//!
//! WSO2 gateways keep these in memory, loaded from `/internal/data/v1/{applications,
//! subscriptions,application-key-mappings}` at start and updated by `notification` events.

use crate::artifact::KeyType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// UUID (`applicationId` in DevPortal v3).
    pub id: String,
    pub name: String,
    /// The subscriber (user name, without tenant domain).
    pub owner: String,
    /// Application throttling tier (`10PerMin`, `Unlimited`, ...).
    pub throttling_policy: String,
    /// `JWT` or `OAUTH`.
    pub token_type: String,
}

/// Binds an OAuth client (consumer key) to an application and a key type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyMapping {
    pub consumer_key: String,
    pub application_id: String,
    pub key_type: KeyType,
    /// `Resident Key Manager`.
    pub key_manager: String,
}

/// Subscription state, as DevPortal v3 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriptionStatus {
    Unblocked,
    Blocked,
    ProdOnlyBlocked,
    OnHold,
    Rejected,
    TierUpdatePending,
    DeletePending,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: String,
    pub api_id: String,
    pub application_id: String,
    /// Subscription tier (`Gold`, `Bronze`, `Unlimited`, ...).
    pub throttling_policy: String,
    pub status: SubscriptionStatus,
}

/// A key manager the gateways trust. Tokens whose `iss` is not one of these are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyManager {
    /// `Resident Key Manager`.
    pub name: String,
    /// `https://<host>:<9443+offset>/oauth2/token`.
    pub issuer: String,
    pub jwks_endpoint: String,
}

/// A revoked JWT, remembered until it would have expired anyway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokedToken {
    pub jti: String,
    /// `exp` of the token, seconds since the epoch.
    pub expiry_time: i64,
}
