//! The key manager itself: OAuth clients, token issuing, validation and revocation.
//!
//! State lives in memory behind one mutex: every operation here is a control-plane call (DCR,
//! generate-keys, a token request), never a gateway's per-request path, since gateways validate
//! JWTs themselves against the JWKS.

use crate::error::{KeyManagerError, OAuthError};
use crate::keys::{Jwks, SigningKeys};
use crate::settings::{KeyManagerSettings, REFRESH_TOKEN_VALIDITY_SECS, RESIDENT_KEY_MANAGER};
use crate::token::{
    AUT_APPLICATION, AUT_APPLICATION_USER, AccessTokenClaims, Grant, JWT_TYP, TokenInfo,
    TokenRequest, TokenResponse, granted_scopes,
};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tollgate_protocol::store::RevokedToken;
use tollgate_protocol::{SeededRng, SharedClock};

/// WSO2's alias of the API-key signing certificate (`APIUtil.getApiKeyAlias`), the `kid` of
/// every API key.
pub const API_KEY_ALIAS: &str = "gateway_certificate_alias";
/// Length of generated consumer keys and secrets (WSO2's are 28 characters).
const CLIENT_CREDENTIAL_LEN: usize = 28;

/// Told about every revoked access token; the control plane forwards it to the gateways as a
/// `TOKEN_REVOCATION` event.
pub trait RevocationSink: Send + Sync + 'static {
    fn token_revoked(&self, token: RevokedToken);
}

/// What to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSpec {
    pub client_name: String,
    /// The user who owns the client (`admin`).
    pub owner: String,
    /// Grant types the client may use (`client_credentials`, `password`, `refresh_token`).
    /// Empty means no restriction.
    pub grant_types: Vec<String>,
    pub callback_url: Option<String>,
}

/// A registered OAuth client (an IS service provider with its OAuth inbound config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub client_name: String,
    pub owner: String,
    pub grant_types: Vec<String>,
    pub callback_url: Option<String>,
}

impl OAuthClient {
    /// Whether the client was registered for `grant_type` (no list means every grant).
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.is_empty() || self.grant_types.iter().any(|g| g == grant_type)
    }
}

/// A DCR-registered client's extra attributes, echoed back on re-registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DcrAttributes {
    pub saas_app: bool,
    pub token_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClientRecord {
    client: OAuthClient,
    dcr: Option<DcrAttributes>,
}

/// A live refresh token and the grant it continues.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefreshGrant {
    consumer_key: String,
    subject: String,
    scopes: Vec<String>,
    expires_at: i64,
    /// The access token issued with it: revoking either revokes both, as IS stores them as one
    /// row.
    access_jti: String,
    access_expires_at: i64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct State {
    /// Consumer key → client.
    clients: BTreeMap<String, ClientRecord>,
    /// Refresh token → grant.
    refresh_tokens: BTreeMap<String, RefreshGrant>,
    /// Revoked `jti` → `exp`; forgotten once the token would have expired anyway.
    revoked: BTreeMap<String, i64>,
}

/// A key manager's durable data, as [`KeyManager::stored`] hands it to the control plane's
/// database; opaque outside this crate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKeyManager {
    state: State,
    rng_position: u128,
}

/// What [`KeyManager::register_dcr`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DcrOutcome {
    Created(OAuthClient, DcrAttributes),
    /// The same client name and owner registered before: WSO2 hands back the existing client.
    Existing(OAuthClient, DcrAttributes),
    /// The name is taken by another owner: WSO2 answers 403.
    OwnedByAnother,
}

/// WSO2's Resident Key Manager.
pub struct KeyManager {
    pub(crate) settings: KeyManagerSettings,
    clock: SharedClock,
    rng: Arc<SeededRng>,
    revocations: Arc<dyn RevocationSink>,
    keys: SigningKeys,
    validation: Validation,
    state: Mutex<State>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("issuer", &self.settings.issuer)
            .field("key_id", &self.settings.key_id)
            .finish_non_exhaustive()
    }
}

impl KeyManager {
    pub fn new(
        settings: KeyManagerSettings,
        clock: SharedClock,
        rng: Arc<SeededRng>,
        revocations: Arc<dyn RevocationSink>,
    ) -> Result<Arc<Self>, KeyManagerError> {
        if settings.default_validity_secs <= 0 {
            return Err(KeyManagerError::Validity(settings.default_validity_secs));
        }
        let keys = SigningKeys::from_pems(
            &settings.signing_key_pem,
            &settings.public_key_pem,
            &settings.key_id,
        )?;
        // Time claims are checked against the injected clock in `validate_access_token`, never
        // against the system clock jsonwebtoken would read; `iss` is checked there too, for a
        // clearer error.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Ok(Arc::new(Self {
            settings,
            clock,
            rng,
            revocations,
            keys,
            validation,
            state: Mutex::new(State::default()),
        }))
    }

    /// The HTTP routes (DCR, token, JWKS, revoke, introspect) with this key manager as their
    /// state, ready to merge into the management port's router.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        crate::http::router(Arc::clone(self))
    }

    /// What a restart must find again (WSO2 keeps it in the identity tables of its database):
    /// clients, live refresh grants, revoked `jti`s, and how far the id stream has been drawn.
    pub fn stored(&self) -> StoredKeyManager {
        StoredKeyManager {
            state: self.state().clone(),
            rng_position: self.rng.position(),
        }
    }

    /// Takes back what [`Self::stored`] gave, on a restart over the same database.
    pub fn restore(&self, stored: StoredKeyManager) {
        *self.state() = stored.state;
        self.rng.seek(stored.rng_position);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic mid-update elsewhere; the maps are still well-formed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    /// The JWKS document served on `/oauth2/jwks`.
    pub fn jwks(&self) -> &Jwks {
        &self.keys.jwks
    }

    pub fn settings(&self) -> &KeyManagerSettings {
        &self.settings
    }

    /// How gateways know this key manager: its name, issuer and JWKS URL.
    pub fn key_manager_info(&self) -> tollgate_protocol::store::KeyManager {
        tollgate_protocol::store::KeyManager {
            name: RESIDENT_KEY_MANAGER.to_owned(),
            issuer: self.settings.issuer.clone(),
            jwks_endpoint: self.settings.jwks_endpoint.clone(),
        }
    }

    /// Whether `username`/`password` are the super admin's. A tenant-qualified name in this
    /// key manager's tenant (`admin@carbon.super`) is the same user.
    pub fn authenticate_user(&self, username: &str, password: &str) -> bool {
        self.canonical_username(username).is_some() && password == self.settings.admin_password
    }

    /// `admin@carbon.super` → `admin`; `None` for anybody but the super admin.
    fn canonical_username<'a>(&self, username: &'a str) -> Option<&'a str> {
        let bare = match username.rsplit_once('@') {
            Some((name, domain)) if domain == self.settings.tenant_domain => name,
            _ => username,
        };
        (bare == self.settings.admin_username).then_some(bare)
    }

    /// Registers a new OAuth client with fresh credentials from the seeded stream.
    pub fn create_client(&self, spec: ClientSpec) -> OAuthClient {
        let client = self.new_client(spec);
        self.state().clients.insert(
            client.consumer_key.clone(),
            ClientRecord {
                client: client.clone(),
                dcr: None,
            },
        );
        client
    }

    fn new_client(&self, spec: ClientSpec) -> OAuthClient {
        OAuthClient {
            consumer_key: self.rng.token(CLIENT_CREDENTIAL_LEN),
            consumer_secret: self.rng.token(CLIENT_CREDENTIAL_LEN),
            client_name: spec.client_name,
            owner: spec.owner,
            grant_types: spec.grant_types,
            callback_url: spec.callback_url.filter(|u| !u.trim().is_empty()),
        }
    }

    /// DCR: the client named `spec.client_name`, created if new. As in carbon-apimgt's
    /// `RegistrationServiceImpl`, client names are unique in the tenant: the same name and owner
    /// get the existing client back, another owner gets a refusal.
    pub(crate) fn register_dcr(&self, spec: ClientSpec, attributes: DcrAttributes) -> DcrOutcome {
        let mut state = self.state();
        if let Some(existing) = state
            .clients
            .values()
            .find(|r| r.client.client_name == spec.client_name)
        {
            if existing.client.owner != spec.owner {
                return DcrOutcome::OwnedByAnother;
            }
            let dcr = existing.dcr.clone().unwrap_or(attributes);
            return DcrOutcome::Existing(existing.client.clone(), dcr);
        }
        let client = self.new_client(spec);
        state.clients.insert(
            client.consumer_key.clone(),
            ClientRecord {
                client: client.clone(),
                dcr: Some(attributes.clone()),
            },
        );
        DcrOutcome::Created(client, attributes)
    }

    /// A new secret for the client (the Developer Portal's `regenerate-secret`); the old one
    /// stops authenticating, tokens already issued stay valid. `None`: no such client.
    pub fn regenerate_secret(&self, consumer_key: &str) -> Option<OAuthClient> {
        let secret = self.rng.token(CLIENT_CREDENTIAL_LEN);
        let mut state = self.state();
        let record = state.clients.get_mut(consumer_key)?;
        record.client.consumer_secret = secret;
        Some(record.client.clone())
    }

    /// Changes the client's grant types and callback URL (the Developer Portal's key update).
    pub fn update_client(
        &self,
        consumer_key: &str,
        grant_types: Vec<String>,
        callback_url: Option<String>,
    ) -> Option<OAuthClient> {
        let mut state = self.state();
        let record = state.clients.get_mut(consumer_key)?;
        record.client.grant_types = grant_types;
        record.client.callback_url = callback_url.filter(|u| !u.trim().is_empty());
        Some(record.client.clone())
    }

    pub fn client(&self, consumer_key: &str) -> Option<OAuthClient> {
        self.state()
            .clients
            .get(consumer_key)
            .map(|r| r.client.clone())
    }

    /// Authenticates a client by key and secret, with WSO2 IS's error descriptions.
    pub fn authenticate_client(
        &self,
        consumer_key: &str,
        consumer_secret: &str,
    ) -> Result<OAuthClient, OAuthError> {
        let client = self.client(consumer_key).ok_or_else(|| {
            OAuthError::InvalidClient(format!(
                "A valid OAuth client could not be found for client_id: {consumer_key}"
            ))
        })?;
        if client.consumer_secret != consumer_secret {
            return Err(OAuthError::InvalidClient(
                "Client credentials are invalid.".to_owned(),
            ));
        }
        Ok(client)
    }

    /// The token endpoint, after parsing: authenticates the client, then runs the grant.
    pub fn issue_token(
        &self,
        consumer_key: &str,
        consumer_secret: &str,
        request: TokenRequest,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.authenticate_client(consumer_key, consumer_secret)?;
        if !client.allows_grant(request.grant.grant_type()) {
            return Err(OAuthError::UnauthorizedClient(
                "The authenticated client is not authorized to use this authorization grant type"
                    .to_owned(),
            ));
        }
        let validity = request
            .validity_secs
            .filter(|v| *v > 0)
            .unwrap_or(self.settings.default_validity_secs);
        match request.grant {
            Grant::ClientCredentials => {
                // Simplification: WSO2 makes the application itself the subject of a
                // client_credentials token and names its owner in `sub`; with one user in the
                // system that owner is the only principal there is, so `sub` is the owner.
                let scopes = granted_scopes(&request.scopes);
                self.mint(
                    &client,
                    &client.owner,
                    AUT_APPLICATION,
                    scopes,
                    validity,
                    false,
                )
            }
            Grant::Password { username, password } => {
                let subject = match self.canonical_username(&username) {
                    Some(bare) if password == self.settings.admin_password => bare.to_owned(),
                    _ => {
                        return Err(OAuthError::InvalidGrant(format!(
                            "Authentication failed for {username}"
                        )));
                    }
                };
                let scopes = granted_scopes(&request.scopes);
                let refresh = client.allows_grant("refresh_token");
                self.mint(
                    &client,
                    &subject,
                    AUT_APPLICATION_USER,
                    scopes,
                    validity,
                    refresh,
                )
            }
            Grant::RefreshToken { refresh_token } => {
                self.refresh(&client, &refresh_token, &request.scopes, validity)
            }
        }
    }

    /// The refresh_token grant: single use, rotated. The old refresh token is gone whether or not
    /// the new pair is issued.
    fn refresh(
        &self,
        client: &OAuthClient,
        refresh_token: &str,
        requested: &[String],
        validity: i64,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.now();
        let grant = {
            let mut state = self.state();
            match state.refresh_tokens.get(refresh_token) {
                Some(g) if g.consumer_key == client.consumer_key => {}
                // IS's RefreshGrantHandler says the same for an unknown token and for another
                // client's.
                _ => {
                    return Err(OAuthError::InvalidGrant(
                        "Persisted access token data not found".to_owned(),
                    ));
                }
            }
            let grant = state.refresh_tokens.remove(refresh_token);
            match grant {
                Some(g) if g.expires_at > now => g,
                _ => {
                    return Err(OAuthError::InvalidGrant(
                        "Refresh token is expired.".to_owned(),
                    ));
                }
            }
        };
        let scopes = if requested.iter().all(|s| s.trim().is_empty()) {
            grant.scopes.clone()
        } else {
            let asked = granted_scopes(requested);
            if !asked.iter().all(|s| grant.scopes.contains(s)) {
                return Err(OAuthError::InvalidScope(
                    "Scope validation failed for the refresh token".to_owned(),
                ));
            }
            asked
        };
        self.mint(
            client,
            &grant.subject,
            AUT_APPLICATION_USER,
            scopes,
            validity,
            true,
        )
    }

    /// Signs an access token (and stores a refresh token when asked for one).
    fn mint(
        &self,
        client: &OAuthClient,
        subject: &str,
        aut: &str,
        scopes: Vec<String>,
        validity: i64,
        with_refresh_token: bool,
    ) -> Result<TokenResponse, OAuthError> {
        let now = self.now();
        let scope = scopes.join(" ");
        let exp = now.saturating_add(validity);
        let claims = AccessTokenClaims {
            sub: subject.to_owned(),
            aut: aut.to_owned(),
            aud: client.consumer_key.clone(),
            nbf: now,
            azp: client.consumer_key.clone(),
            scope: scope.clone(),
            iss: self.settings.issuer.clone(),
            exp,
            iat: now,
            jti: self.rng.uuid().to_string(),
            client_id: client.consumer_key.clone(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some(JWT_TYP.to_owned());
        header.kid = Some(self.settings.key_id.clone());
        let access_token = jsonwebtoken::encode(&header, &claims, &self.keys.encoding)
            .map_err(|e| OAuthError::ServerError(format!("signing the access token: {e}")))?;
        let refresh_token = with_refresh_token.then(|| {
            let token = self.rng.uuid().to_string();
            let mut state = self.state();
            state.refresh_tokens.retain(|_, g| g.expires_at > now);
            state.refresh_tokens.insert(
                token.clone(),
                RefreshGrant {
                    consumer_key: client.consumer_key.clone(),
                    subject: subject.to_owned(),
                    scopes,
                    expires_at: now.saturating_add(REFRESH_TOKEN_VALIDITY_SECS),
                    access_jti: claims.jti.clone(),
                    access_expires_at: exp,
                },
            );
            token
        });
        Ok(TokenResponse {
            access_token,
            refresh_token,
            scope,
            token_type: "Bearer".to_owned(),
            expires_in: validity,
        })
    }

    /// Signs an API key (`DefaultApiKeyGenerator`): `claims` as the Developer Portal builds
    /// them, plus `iss`, `iat`, `jti` and, unless `validity_secs` is negative (WSO2's "never
    /// expires"), `exp`. The header names WSO2's API-key alias (`gateway_certificate_alias`)
    /// as its `kid`. Returns the key and its `jti`.
    pub fn sign_api_key(
        &self,
        mut claims: serde_json::Map<String, serde_json::Value>,
        validity_secs: i64,
    ) -> Result<(String, String), OAuthError> {
        let now = self.now();
        let jti = self.rng.uuid().to_string();
        claims.insert("iss".into(), self.settings.issuer.clone().into());
        claims.insert("iat".into(), now.into());
        claims.insert("jti".into(), jti.clone().into());
        if validity_secs >= 0 {
            claims.insert("exp".into(), now.saturating_add(validity_secs).into());
        }
        let mut header = Header::new(Algorithm::RS256);
        header.typ = Some("JWT".to_owned());
        header.kid = Some(API_KEY_ALIAS.to_owned());
        let key = jsonwebtoken::encode(&header, &claims, &self.keys.encoding)
            .map_err(|e| OAuthError::ServerError(format!("signing the API key: {e}")))?;
        Ok((key, jti))
    }

    /// The `iss` of every token and API key this key manager signs.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// Claims of a token this key manager signed, whatever its times or revocation.
    fn verified_claims(&self, token: &str) -> Result<AccessTokenClaims, OAuthError> {
        let data =
            jsonwebtoken::decode::<AccessTokenClaims>(token, &self.keys.decoding, &self.validation)
                .map_err(|e| OAuthError::InvalidToken(format!("Invalid JWT token: {e}")))?;
        if data.claims.iss != self.settings.issuer {
            return Err(OAuthError::InvalidToken(format!(
                "Unknown issuer: {}",
                data.claims.iss
            )));
        }
        Ok(data.claims)
    }

    /// Validates an access token: signature, issuer, `nbf`/`exp` against the injected clock,
    /// and not revoked.
    pub fn validate_access_token(&self, token: &str) -> Result<TokenInfo, OAuthError> {
        let claims = self.verified_claims(token)?;
        let now = self.now();
        if claims.nbf > now {
            return Err(OAuthError::InvalidToken(
                "Token is not yet valid".to_owned(),
            ));
        }
        if claims.exp <= now {
            return Err(OAuthError::InvalidToken("Access Token Expired".to_owned()));
        }
        if self.state().revoked.contains_key(&claims.jti) {
            return Err(OAuthError::InvalidToken("Access Token Revoked".to_owned()));
        }
        Ok(claims.info())
    }

    /// Revokes an access token or a refresh token, and its partner. RFC 7009: an unknown,
    /// malformed or already expired token is not an error. Revoked access tokens reach the
    /// [`RevocationSink`].
    pub fn revoke(&self, token: &str) -> Result<(), OAuthError> {
        self.revoke_as(None, token)
    }

    /// [`KeyManager::revoke`] on behalf of an authenticated client: another client's token is
    /// refused, as IS's `revokeTokenByOAuthClient` does.
    pub fn revoke_for_client(&self, consumer_key: &str, token: &str) -> Result<(), OAuthError> {
        self.revoke_as(Some(consumer_key), token)
    }

    fn revoke_as(&self, consumer_key: Option<&str>, token: &str) -> Result<(), OAuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(OAuthError::InvalidRequest(
                "Missing parameters: token".to_owned(),
            ));
        }
        let unauthorized = || OAuthError::UnauthorizedClient("Unauthorized Client".to_owned());
        let now = self.now();
        let revoked = {
            let mut state = self.state();
            if let Some(grant) = state.refresh_tokens.get(token) {
                if consumer_key.is_some_and(|k| k != grant.consumer_key) {
                    return Err(unauthorized());
                }
                let grant = state.refresh_tokens.remove(token);
                grant.map(|g| (g.access_jti, g.access_expires_at))
            } else {
                drop(state);
                let Ok(claims) = self.verified_claims(token) else {
                    return Ok(());
                };
                if consumer_key.is_some_and(|k| k != claims.azp) {
                    return Err(unauthorized());
                }
                let mut state = self.state();
                state
                    .refresh_tokens
                    .retain(|_, g| g.access_jti != claims.jti);
                Some((claims.jti, claims.exp))
            }
        };
        if let Some((jti, exp)) = revoked {
            self.remember_revoked(jti, exp, now);
        }
        Ok(())
    }

    /// Records a revoked `jti` until its `exp` and tells the sink, once.
    fn remember_revoked(&self, jti: String, exp: i64, now: i64) {
        if exp <= now {
            return; // Expired already: nothing left to revoke anywhere.
        }
        let newly = {
            let mut state = self.state();
            state.revoked.retain(|_, e| *e > now);
            state.revoked.insert(jti.clone(), exp).is_none()
        };
        if newly {
            self.revocations.token_revoked(RevokedToken {
                jti,
                expiry_time: exp,
            });
        }
    }

    /// Revoked `jti`s not yet expired, oldest expiry first: what a gateway snapshot carries.
    pub fn revoked_tokens(&self) -> Vec<RevokedToken> {
        let now = self.now();
        let mut list: Vec<RevokedToken> = self
            .state()
            .revoked
            .iter()
            .filter(|(_, exp)| **exp > now)
            .map(|(jti, exp)| RevokedToken {
                jti: jti.clone(),
                expiry_time: *exp,
            })
            .collect();
        list.sort_by(|a, b| (a.expiry_time, &a.jti).cmp(&(b.expiry_time, &b.jti)));
        list
    }
}
