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
use tollgate_protocol::store::{Application, Subscription, SubscriptionStatus};

/// What phase 4 found: the key type the rest of the path runs under, and (for a token) the
/// application and subscription the throttle phase counts against.
#[derive(Debug, Clone, Copy)]
pub struct Authorized<'a> {
    pub key_type: KeyType,
    /// `None` for an unsecured resource.
    pub application: Option<&'a Application>,
    pub subscription: Option<&'a Subscription>,
}

/// Phase 4 for one request: the key type the rest of the path runs under, and the application
/// and subscription it looked up.
pub fn authorize_request<'a>(
    caller: &Caller,
    store: &'a Store,
    api_id: &str,
    resource_template: &str,
    operation: &Operation,
) -> Result<Authorized<'a>, GatewayError> {
    let token = match caller {
        // handleNoAuthentication: no subscription check, key type PRODUCTION.
        Caller::Anonymous => {
            return Ok(Authorized {
                key_type: KeyType::Production,
                application: None,
                subscription: None,
            });
        }
        // An API key names its application and key type; it carries no scopes
        // (`ApiKeyAuthenticator` validates none).
        Caller::ApiKey(key) => {
            let application = store
                .application(&key.application_id)
                .ok_or(GatewayError::Forbidden)?;
            let subscription = store
                .subscription(&key.application_id, api_id)
                .ok_or(GatewayError::Forbidden)?;
            check_status(subscription, key.key_type)?;
            return Ok(Authorized {
                key_type: key.key_type,
                application: Some(application),
                subscription: Some(subscription),
            });
        }
        // The internal key was checked against this API when it was read; the resource runs
        // with no authentication (`InternalAPIKeyAuthenticator` sets the auth type `None`).
        Caller::InternalKey(key) => {
            return Ok(Authorized {
                key_type: key.key_type,
                application: None,
                subscription: None,
            });
        }
        // `BasicAuthAuthenticator`: PRODUCTION, no subscription, roles for scopes.
        Caller::Basic(user) => {
            if !user.allows(&operation.scopes) {
                return Err(GatewayError::InvalidScope {
                    resource: resource_template.to_owned(),
                });
            }
            return Ok(Authorized {
                key_type: KeyType::Production,
                application: None,
                subscription: None,
            });
        }
        Caller::Token(token) => token,
    };
    let mapping = store
        .key_mapping(&token.consumer_key)
        .ok_or(GatewayError::Forbidden)?;
    let application = store
        .application(&mapping.application_id)
        .ok_or(GatewayError::Forbidden)?;
    let subscription = store
        .subscription(&mapping.application_id, api_id)
        .ok_or(GatewayError::Forbidden)?;
    check_status(subscription, mapping.key_type)?;
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
    Ok(Authorized {
        key_type: mapping.key_type,
        application: Some(application),
        subscription: Some(subscription),
    })
}

/// `JWTValidator`'s subscription status checks: BLOCKED (and PROD_ONLY_BLOCKED for a production
/// key) → 900907, ON_HOLD / REJECTED → 900909.
fn check_status(subscription: &Subscription, key_type: KeyType) -> Result<(), GatewayError> {
    match subscription.status {
        SubscriptionStatus::Blocked => Err(GatewayError::SubscriptionBlocked),
        SubscriptionStatus::ProdOnlyBlocked if key_type == KeyType::Production => {
            Err(GatewayError::SubscriptionBlocked)
        }
        SubscriptionStatus::OnHold | SubscriptionStatus::Rejected => {
            Err(GatewayError::SubscriptionInactive)
        }
        _ => Ok(()),
    }
}
