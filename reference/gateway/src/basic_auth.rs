//! Phase 3 for Basic authentication: `Authorization: Basic base64(user:password)` on an API whose
//! security schemes include `basic_auth`, as WSO2 4.x's `BasicAuthAuthenticator` (priority 20,
//! after OAuth) checks it:
//!
//! - a header without `user:password` in base64 → 401 / 900901; a user of another tenant →
//!   403 / 900908; a wrong password → 401 / 900901;
//! - the password is checked by the control plane's user store (`POST
//!   /internal/data/v1/basic-auth`, event-hub credentials), as WSO2's gateway asks the Key
//!   Manager's `RemoteUserStoreManagerService`; the answer is kept by a digest of the
//!   credentials for 900 s by the injected clock (WSO2's gateway caches it too), so a gateway
//!   holds no password and a changed one is seen within that time. Control plane unreachable →
//!   500 / 900900;
//! - a resource with scopes needs the `admin` role (scope-to-role bindings are not modelled:
//!   the Publisher keeps scope names only) — else 403 / 900910;
//! - the call then runs under the PRODUCTION key type with no application or subscription,
//!   throttled as WSO2's authentication context says: application id = the user, subscription
//!   tier `Unauthenticated`.
//!
//! Basic credentials go out with no backend JWT and never reach the backend.

use crate::gateway::Gateway;
use crate::respond::{GatewayError, InvalidToken};
use base64::Engine;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http_body_util::{BodyExt, Full};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tollgate_net::exchange;
use tollgate_protocol::internal::{BASIC_AUTH, BasicAuthRequest, BasicAuthValidation};

/// How long a checked credential is trusted (WSO2's gateway cache default).
const CACHE_SECS: i64 = 900;
/// How many checked credentials are kept; the cache starts over when full.
const CACHE_CAPACITY: usize = 10_000;

/// Who called with Basic credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicCaller {
    /// `admin@carbon.super`.
    pub username: String,
    pub roles: Vec<String>,
}

impl BasicCaller {
    /// Whether the caller may use a resource with these scopes.
    pub fn allows(&self, scopes: &[String]) -> bool {
        scopes.is_empty() || self.roles.iter().any(|r| r == "admin")
    }
}

/// A checked credential: until when it is trusted (epoch s) and who it is (`None`: refused).
type Checked = (i64, Option<Arc<BasicCaller>>);

/// Checked credentials, by digest (never the password itself).
#[derive(Debug, Default)]
pub struct BasicAuthCache {
    entries: Mutex<HashMap<[u8; 32], Checked>>,
}

/// `user:password` from a `Basic` header value, as `extractBasicAuthCredentials` reads it.
pub fn credentials(header: &str) -> Result<(String, String), GatewayError> {
    let invalid = GatewayError::InvalidCredentials(InvalidToken::Malformed);
    let encoded = header
        .strip_prefix("Basic ")
        .ok_or(GatewayError::MissingCredentials)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| invalid.clone())?;
    let text = String::from_utf8(decoded).map_err(|_| invalid.clone())?;
    let (user, password) = text.split_once(':').ok_or(invalid)?;
    Ok((user.to_owned(), password.to_owned()))
}

impl Gateway {
    /// Checks `Authorization: Basic …` for one request.
    pub(crate) async fn basic_caller(
        &self,
        header: &str,
    ) -> Result<Arc<BasicCaller>, GatewayError> {
        let (user, password) = credentials(header)?;
        let tenant = &self.settings.tenant_domain;
        if let Some((_, domain)) = user.rsplit_once('@')
            && domain != tenant
        {
            return Err(GatewayError::Forbidden);
        }
        let digest: [u8; 32] = Sha256::digest(format!("{user}:{password}")).into();
        let now = self.clock.now_secs();
        let cached = self
            .basic_auth
            .entries
            .lock()
            .ok()
            .and_then(|map| map.get(&digest).filter(|(until, _)| *until > now).cloned());
        let caller = match cached {
            Some((_, caller)) => caller,
            None => {
                let caller = self.check_with_control_plane(user, password).await?;
                if let Ok(mut map) = self.basic_auth.entries.lock() {
                    if map.len() >= CACHE_CAPACITY {
                        map.clear();
                    }
                    map.insert(digest, (now + CACHE_SECS, caller.clone()));
                }
                caller
            }
        };
        caller.ok_or(GatewayError::InvalidCredentials(InvalidToken::BadSignature))
    }

    async fn check_with_control_plane(
        &self,
        username: String,
        password: String,
    ) -> Result<Option<Arc<BasicCaller>>, GatewayError> {
        let settings = &self.settings;
        let url = format!(
            "{}{BASIC_AUTH}",
            settings.control_plane_url.trim_end_matches('/')
        );
        let hub = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            settings.event_hub_username, settings.event_hub_password
        ));
        let body = serde_json::to_vec(&BasicAuthRequest { username, password })
            .map_err(|_| GatewayError::AuthenticationUnavailable)?;
        let request = http::Request::post(&url)
            .header(AUTHORIZATION, format!("Basic {hub}"))
            .header(CONTENT_TYPE, "application/json")
            .body(())
            .map_err(|_| GatewayError::AuthenticationUnavailable)?;
        // On the harness's tap when it asks for exchanges (the cache misses only).
        let pending = exchange::begin(
            self.tap.as_ref(),
            request.method(),
            request.uri(),
            request.headers(),
            &body,
        );
        let request = request.map(|()| {
            Full::new(Bytes::from(body))
                .map_err(|never| match never {})
                .boxed_unsync()
        });
        let unavailable = |error: &dyn std::fmt::Display, pending: Option<exchange::Pending>| {
            tracing::warn!(%error, "basic auth: user store unreachable");
            if let Some(pending) = pending {
                pending.failed(error);
            }
            GatewayError::AuthenticationUnavailable
        };
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(e) => return Err(unavailable(&e, pending)),
        };
        let (status, headers) = (response.status(), response.headers().clone());
        let read = if status.is_success() {
            http_body_util::Limited::new(response.into_body(), 64 * 1024)
                .collect()
                .await
                .map(|collected| collected.to_bytes())
        } else {
            Ok(Bytes::new())
        };
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) => return Err(unavailable(&e, pending)),
        };
        if let Some(pending) = pending {
            // A refusal's body is not read: the record is its head.
            pending.answered(status, &headers, status.is_success().then_some(&bytes[..]));
        }
        if !status.is_success() {
            return Err(unavailable(&status, None));
        }
        let answer: BasicAuthValidation =
            serde_json::from_slice(&bytes).map_err(|e| unavailable(&e, None))?;
        Ok(answer.authenticated.then(|| {
            Arc::new(BasicCaller {
                username: answer.domain_qualified_username,
                roles: answer.user_role_list,
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_as_wso2_reads_them() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("admin:pa:ss")
        );
        assert_eq!(
            credentials(&header).unwrap(),
            ("admin".to_owned(), "pa:ss".to_owned())
        );
        let no_colon = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("admin")
        );
        assert!(matches!(
            credentials(&no_colon),
            Err(GatewayError::InvalidCredentials(_))
        ));
        assert!(matches!(
            credentials("Basic %%%"),
            Err(GatewayError::InvalidCredentials(_))
        ));
        assert_eq!(
            credentials("Bearer x"),
            Err(GatewayError::MissingCredentials)
        );
    }

    #[test]
    fn scoped_resources_need_the_admin_role() {
        let caller = BasicCaller {
            username: "u@carbon.super".into(),
            roles: vec!["Internal/everyone".into()],
        };
        assert!(caller.allows(&[]));
        assert!(!caller.allows(&["pizza:read".into()]));
    }
}
