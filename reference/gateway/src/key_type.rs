//! Phase 6: key type against environment type — the velocity template's filter
//! (docs/wso2-behaviour.md §3.3), decided per request from the artifact's environment and which
//! endpoints exist.

use crate::respond::GatewayError;
use crate::route::ApiRoute;
use tollgate_protocol::artifact::{EnvironmentType, KeyType};

/// The backend base URL this request goes to, or WSO2's refusal.
pub fn choose_endpoint(api: &ApiRoute, key_type: KeyType) -> Result<&str, GatewayError> {
    let served = choose_key_type(api, key_type)?;
    api.endpoint(served).ok_or(match served {
        KeyType::Production => GatewayError::NoProductionEndpoint,
        KeyType::Sandbox => GatewayError::NoSandboxEndpoint,
    })
}

/// Which of the API's endpoints (production or sandbox) this request goes to, or WSO2's
/// refusal; the endpoint chosen exists.
pub fn choose_key_type(api: &ApiRoute, key_type: KeyType) -> Result<KeyType, GatewayError> {
    use EnvironmentType::*;
    let env = api.environment();
    let has_production = api.production.is_some();
    // `filterRegex` and the endpoint drawn when the filter passes are the same choice.
    let served = if env == Sandbox || (env == Hybrid && !has_production) {
        KeyType::Sandbox
    } else {
        KeyType::Production
    };
    // No filter is emitted for an API without OAuth/API-key/Basic security.
    if !api.protected || key_type == served {
        return api.endpoint(served).map(|_| served).ok_or(match served {
            // Production gateway, sandbox-only API, production key: the template draws a
            // production endpoint that does not exist (UNCONFIRMED what Synapse then does). We
            // answer as a hybrid gateway does for the same API and key — the documented
            // `_production_key_error_` 403 — because it names the actual problem and never
            // reaches a backend the publisher did not configure.
            KeyType::Production => GatewayError::NoProductionEndpoint,
            KeyType::Sandbox => GatewayError::NoSandboxEndpoint,
        });
    }
    match env {
        Production => Err(GatewayError::SandboxKeyOnProductionGateway),
        Sandbox => Err(GatewayError::ProductionKeyOnSandboxGateway),
        // Hybrid and the filter failed: the key is SANDBOX with a production endpoint present,
        // or PRODUCTION with none.
        Hybrid => match key_type {
            KeyType::Sandbox => api
                .endpoint(KeyType::Sandbox)
                .map(|_| KeyType::Sandbox)
                .ok_or(GatewayError::NoSandboxEndpoint),
            KeyType::Production => Err(GatewayError::NoProductionEndpoint),
        },
    }
}
