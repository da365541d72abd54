//! Phase 4: may this caller use this resource of this API.
//!
//! As `JWTValidator` + the in-memory subscription store do it: the token's client (consumer
//! key) maps to an application and a key type; the application must be subscribed to the API
//! with an active subscription; then one of the resource's scopes — any one suffices, as in
//! `APIKeyValidationService#validateScopes` — must be in the token.

use crate::authenticate::Caller;
use crate::respond::GatewayError;
use crate::store::Store;
use tollgate_protocol::artifact::{KeyType, Operation};
use tollgate_protocol::store::SubscriptionStatus;

/// Phase 4 for one request; returns the key type the rest of the path runs under.
pub fn authorize(
    caller: &Caller,
    store: &Store,
    api_id: &str,
    resource_template: &str,
    operation: &Operation,
) -> Result<KeyType, GatewayError> {
    let token = match caller {
        // handleNoAuthentication: no subscription check, key type PRODUCTION.
        Caller::Anonymous => return Ok(KeyType::Production),
        Caller::Token(token) => token,
    };
    let mapping = store
        .key_mapping(&token.consumer_key)
        .ok_or(GatewayError::Forbidden)?;
    store
        .application(&mapping.application_id)
        .ok_or(GatewayError::Forbidden)?;
    let subscription = store
        .subscription(&mapping.application_id, api_id)
        .ok_or(GatewayError::Forbidden)?;
    match subscription.status {
        SubscriptionStatus::Blocked => return Err(GatewayError::SubscriptionBlocked),
        SubscriptionStatus::ProdOnlyBlocked if mapping.key_type == KeyType::Production => {
            return Err(GatewayError::SubscriptionBlocked);
        }
        SubscriptionStatus::OnHold | SubscriptionStatus::Rejected => {
            return Err(GatewayError::SubscriptionInactive);
        }
        _ => {}
    }
    if !operation.scopes.is_empty()
        && !operation
            .scopes
            .iter()
            .any(|needed| token.scopes.iter().any(|held| held == needed))
    {
        return Err(GatewayError::InvalidScope {
            resource: resource_template.to_owned(),
        });
    }
    Ok(mapping.key_type)
}
