//! Where the gateway's deliberate defects change a decision of the request path. Test-only:
//! without `tollgate-protocol`'s `defects` feature every function here returns the decision it
//! is given (see `tollgate_protocol::defect`).

use crate::respond::{GatewayError, ThrottleCode};
use crate::route::ApiRoute;
use tollgate_protocol::artifact::{EnvironmentType, KeyType};
use tollgate_protocol::defect::{Defect, Defects};

/// The throttle phase's decision, with the subscription and application codes swapped under
/// `ThrottleCodesSwapped`.
#[inline(always)]
pub(crate) fn throttle(
    defects: &Defects,
    decided: Result<(), GatewayError>,
) -> Result<(), GatewayError> {
    match decided {
        Err(GatewayError::ThrottledOut { code, next_access })
            if defects.has(Defect::ThrottleCodesSwapped) =>
        {
            let code = match code {
                ThrottleCode::Subscription => ThrottleCode::Application,
                ThrottleCode::Application => ThrottleCode::Subscription,
                other => other,
            };
            Err(GatewayError::ThrottledOut { code, next_access })
        }
        other => other,
    }
}

/// The key-type phase's decision, leaking sandbox keys to production endpoints under
/// `SandboxKeysOnProduction` (a production gateway) and `HybridSandboxToProduction` (a hybrid
/// one).
#[inline(always)]
pub(crate) fn key_type(
    defects: &Defects,
    api: &ApiRoute,
    key: KeyType,
    decided: Result<KeyType, GatewayError>,
) -> Result<KeyType, GatewayError> {
    let leak = match (&decided, api.environment()) {
        (Err(GatewayError::SandboxKeyOnProductionGateway), EnvironmentType::Production) => {
            defects.has(Defect::SandboxKeysOnProduction)
        }
        (Ok(KeyType::Sandbox), EnvironmentType::Hybrid) => {
            key == KeyType::Sandbox && defects.has(Defect::HybridSandboxToProduction)
        }
        _ => false,
    };
    match leak && api.production.is_some() {
        true => Ok(KeyType::Production),
        false => decided,
    }
}
