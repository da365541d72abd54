//! Who may call what.
//!
//! REST calls (Publisher, DevPortal) carry `Authorization: Bearer <token>` issued by our Key
//! Manager; the token must hold at least one of the scopes the operation lists under
//! `security: OAuth2Security` in WSO2's spec. The event hub's internal API takes Basic auth with
//! the super admin's (or the `[apim.event_hub]`) credentials.

use crate::ControlPlane;
use crate::error::RestError;
use base64::Engine;
use http::HeaderMap;
use http::header::AUTHORIZATION;

/// The authenticated caller of a REST operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User name without the `@carbon.super` tenant suffix.
    pub username: String,
    pub scopes: Vec<String>,
}

/// Publisher and DevPortal scopes, as WSO2's specs name them.
pub mod scope {
    pub const API_VIEW: &str = "apim:api_view";
    pub const API_CREATE: &str = "apim:api_create";
    pub const API_PUBLISH: &str = "apim:api_publish";
    pub const API_DELETE: &str = "apim:api_delete";
    pub const API_MANAGE: &str = "apim:api_manage";
    pub const API_IMPORT_EXPORT: &str = "apim:api_import_export";
    pub const API_LIST_VIEW: &str = "apim:api_list_view";
    pub const PUBLISHER_SETTINGS: &str = "apim:publisher_settings";
    pub const SUBSCRIBE: &str = "apim:subscribe";
    pub const APP_MANAGE: &str = "apim:app_manage";
    pub const APP_IMPORT_EXPORT: &str = "apim:app_import_export";
    pub const SUB_MANAGE: &str = "apim:sub_manage";
    pub const STORE_SETTINGS: &str = "apim:store_settings";
    pub const API_KEY: &str = "apim:api_key";
    pub const SUBSCRIPTION_VIEW: &str = "apim:subscription_view";
    pub const SUBSCRIPTION_BLOCK: &str = "apim:subscription_block";
    pub const SUBSCRIPTION_MANAGE: &str = "apim:subscription_manage";
    pub const DOCUMENT_CREATE: &str = "apim:document_create";
    pub const DOCUMENT_MANAGE: &str = "apim:document_manage";
    pub const COMMENT_VIEW: &str = "apim:comment_view";
    pub const COMMENT_WRITE: &str = "apim:comment_write";
    pub const COMMENT_MANAGE: &str = "apim:comment_manage";
    pub const SHARED_SCOPE_MANAGE: &str = "apim:shared_scope_manage";
    pub const ADMIN: &str = "apim:admin";
    pub const API_CATEGORY: &str = "apim:api_category";
    pub const EP_CERTIFICATES_VIEW: &str = "apim:ep_certificates_view";
    pub const EP_CERTIFICATES_ADD: &str = "apim:ep_certificates_add";
    pub const EP_CERTIFICATES_UPDATE: &str = "apim:ep_certificates_update";
    pub const EP_CERTIFICATES_MANAGE: &str = "apim:ep_certificates_manage";
    pub const CLIENT_CERTIFICATES_VIEW: &str = "apim:client_certificates_view";
    pub const CLIENT_CERTIFICATES_ADD: &str = "apim:client_certificates_add";
    pub const CLIENT_CERTIFICATES_UPDATE: &str = "apim:client_certificates_update";
    pub const CLIENT_CERTIFICATES_MANAGE: &str = "apim:client_certificates_manage";
    pub const COMMON_OPERATION_POLICY_VIEW: &str = "apim:common_operation_policy_view";
    pub const COMMON_OPERATION_POLICY_MANAGE: &str = "apim:common_operation_policy_manage";
    pub const POLICIES_IMPORT_EXPORT: &str = "apim:policies_import_export";
    pub const MEDIATION_POLICY_VIEW: &str = "apim:mediation_policy_view";
    pub const MEDIATION_POLICY_CREATE: &str = "apim:mediation_policy_create";
    pub const MEDIATION_POLICY_MANAGE: &str = "apim:mediation_policy_manage";
    pub const API_MEDIATION_POLICY_MANAGE: &str = "apim:api_mediation_policy_manage";
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("Bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl ControlPlane {
    /// Validates the bearer token and checks it holds one of `any_of`.
    ///
    /// Every failure (no token, a bad or expired token, a token without the scope) answers as
    /// WSO2's REST interceptors do: 401 `"Unauthenticated request"`.
    pub fn authorize(&self, headers: &HeaderMap, any_of: &[&str]) -> Result<Caller, RestError> {
        let token = bearer(headers).ok_or_else(RestError::unauthenticated)?;
        let info = self
            .key_manager()
            .validate_access_token(token)
            .map_err(|_| RestError::unauthenticated())?;
        if !any_of.is_empty() && !info.scopes.iter().any(|s| any_of.contains(&s.as_str())) {
            return Err(RestError::unauthenticated());
        }
        Ok(Caller {
            username: strip_tenant(&info.subject, &self.settings().tenant_domain),
            scopes: info.scopes,
        })
    }

    /// For anonymous-capable operations (DevPortal API listing): the caller if a valid token
    /// is presented, `None` otherwise.
    pub fn optional_caller(&self, headers: &HeaderMap) -> Option<Caller> {
        bearer(headers)?;
        self.authorize(headers, &[]).ok()
    }

    /// Basic auth for the internal data API.
    pub fn authorize_event_hub(&self, headers: &HeaderMap) -> bool {
        let Some((user, pass)) = basic(headers) else {
            return false;
        };
        let s = self.settings();
        (user == s.admin_username && pass == s.admin_password)
            || s.event_hub_credentials
                .as_ref()
                .is_some_and(|(u, p)| *u == user && *p == pass)
    }
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

fn strip_tenant(subject: &str, tenant: &str) -> String {
    subject
        .strip_suffix(tenant)
        .and_then(|s| s.strip_suffix('@'))
        .unwrap_or(subject)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_loses_the_super_tenant_suffix_only() {
        assert_eq!(strip_tenant("admin@carbon.super", "carbon.super"), "admin");
        assert_eq!(strip_tenant("admin", "carbon.super"), "admin");
        assert_eq!(strip_tenant("a@b.com", "carbon.super"), "a@b.com");
    }

    #[test]
    fn bearer_and_basic_headers_are_parsed_case_insensitively() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(AUTHORIZATION, "Basic YWRtaW46YWRtaW4=".parse().unwrap());
        assert_eq!(basic(&h), Some(("admin".into(), "admin".into())));
        assert_eq!(bearer(&h), None);
    }
}
