//! WSO2 API-M 4.x's control plane, minus the Key Manager (which is `tollgate-key-manager`,
//! built and served from here): the Publisher v4 and Developer Portal v3 REST APIs, the
//! `/settings` calls, REST access control by OAuth2 scope, per-label runtime artifacts, and the
//! event hub that gateways pull a start-up snapshot from and then follow.
//!
//! Everything is in memory behind one lock (control-plane calls are not a hot path), written to
//! the node's database file after each change so a restart finds it; ids come from the seeded
//! RNG and times from the injected clock, so one seed gives one transcript.
//!
//! | module | what it holds |
//! |---|---|
//! | [`settings`] | [`ControlPlaneSettings`], built from the `deployment.toml` model |
//! | [`error`] | [`ControlPlaneError`] and [`error::RestError`], WSO2's `Error` body |
//! | [`access`] | bearer-token + scope checks (REST), Basic auth (event hub) |
//! | [`rest`] | the REST edge: extractors, fallbacks and `Location`, so bad input gets WSO2's `Error` |
//! | [`model`] | Publisher/DevPortal DTOs (`API`, `APIOperations`, ...) |
//! | [`state`] | the in-memory store, the event log, artifact generation per label |
//! | [`database`] | the store on disk (WSO2's `WSO2AM_DB`), written before a change is answered |
//! | [`publisher`] | `/api/am/publisher/v4`: APIs, lifecycle, revisions, deployments, subscriptions and their blocking, tiers, settings |
//! | [`devportal`] | `/api/am/devportal/v3`: APIs with `endpointURLs`, settings, applications, subscriptions, keys, tiers, key managers |
//! | [`admin`] | `/api/am/admin/v4`: throttling policies and deny policies (published as events), gateway environments |
//!
//! Each REST API is also served without its version segment (`/api/am/publisher/...`), as
//! WSO2 4.x serves it; `docs/rest-apis.md` counts what is implemented of WSO2's specs.
//! | [`eventhub`] | `/internal/data/v1`: the gateway snapshot and the ndjson event stream |
//!
//! Tollgate's wire to gateways is its own (an HTTP ndjson stream instead of JMS topics, and
//! deploy events that carry their artifact); see `tollgate_protocol::event`.

pub mod access;
pub mod admin;
pub mod archive;
pub mod constraints;
pub mod database;
pub mod devportal;
pub mod error;
pub mod eventhub;
pub mod fetch;
pub mod model;
pub mod openapi;
pub mod publisher;
pub mod rest;
pub mod settings;
pub mod state;
pub mod user_store;

pub use database::{DATABASE_FILE, Database, DatabaseError};
pub use error::ControlPlaneError;
pub use settings::ControlPlaneSettings;

use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tollgate_key_manager::{KeyManager, KeyManagerSettings, RevocationSink};
use tollgate_net::{Listener, Outbound};
use tollgate_protocol::defect::Defects;
use tollgate_protocol::event::Event;
use tollgate_protocol::store::RevokedToken;
use tollgate_protocol::{SeededRng, SharedClock};

/// The running control plane.
pub struct ControlPlane {
    settings: ControlPlaneSettings,
    clock: SharedClock,
    rng: SeededRng,
    kms: Arc<KeyManager>,
    hub: Arc<Hub>,
    database: Option<Database>,
    /// Test-only deliberate defects; empty and free in a normal build.
    defects: Defects,
    /// How definitions named by `url` are fetched: the node's outbound networking, handed in
    /// by [`Self::set_outbound`]; until then IP literals and `localhost` only, no trusted CA.
    outbound: std::sync::OnceLock<Outbound>,
}

/// The state and the event log's wake-up signal; shared with the Key Manager's revocation sink.
pub(crate) struct Hub {
    state: Mutex<State>,
    /// The last published sequence number; followers wait on it.
    head: watch::Sender<u64>,
    tenant: String,
    retain: usize,
    clock: SharedClock,
}

use state::State;

impl Hub {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a handler panicked mid-update; the maps are still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `event` to the log (the caller holds the lock) and wakes followers.
    fn publish(&self, state: &mut State, event: Event) -> u64 {
        let seq = state.publish(self.clock.now_millis(), &self.tenant, event, self.retain);
        self.head.send_replace(seq);
        seq
    }
}

/// Revocations from the Key Manager become `TOKEN_REVOCATION` events.
struct HubRevocations(Arc<Hub>);

impl RevocationSink for HubRevocations {
    fn token_revoked(&self, token: RevokedToken) {
        let now = self.0.clock.now_secs();
        let mut state = self.0.lock();
        // Expired entries can go: a gateway refuses an expired token anyway.
        state.revoked.retain(|t| t.expiry_time > now);
        state.revoked.push(token.clone());
        self.0.publish(&mut state, Event::TokenRevocation { token });
    }
}

impl ControlPlane {
    /// Builds the control plane and its Key Manager. The Key Manager draws from
    /// `SeededRng::derive(seed, "key-manager")`, the control plane from `"control-plane"`.
    pub fn new(
        settings: ControlPlaneSettings,
        clock: SharedClock,
        seed: u64,
    ) -> Result<Arc<Self>, ControlPlaneError> {
        Self::open(settings, clock, seed, None)
    }

    /// [`Self::new`] over `database`: what it holds is served again (a restart), and every
    /// change is written to it before it is answered. No file yet: an empty control plane.
    pub fn open(
        settings: ControlPlaneSettings,
        clock: SharedClock,
        seed: u64,
        database: Option<Database>,
    ) -> Result<Arc<Self>, ControlPlaneError> {
        let stored = match &database {
            Some(database) => database.load()?,
            None => None,
        };
        let (head, _) = watch::channel(0);
        let hub = Arc::new(Hub {
            state: Mutex::new(State::default()),
            head,
            tenant: settings.tenant_domain.clone(),
            retain: settings.max_retained_events,
            clock: clock.clone(),
        });
        let base = settings.mgmt_base_url();
        let kms = KeyManager::new(
            KeyManagerSettings {
                issuer: format!("{base}/oauth2/token"),
                jwks_endpoint: format!("{base}/oauth2/jwks"),
                admin_username: settings.admin_username.clone(),
                admin_password: settings.admin_password.clone(),
                signing_key_pem: settings.signing_key_pem.clone(),
                public_key_pem: settings.public_key_pem.clone(),
                key_id: settings.key_id.clone(),
                default_validity_secs: settings.token_validity_secs,
                tenant_domain: settings.tenant_domain.clone(),
            },
            clock.clone(),
            Arc::new(SeededRng::derive(seed, "key-manager")),
            Arc::new(HubRevocations(hub.clone())),
        )?;
        let rng = SeededRng::derive(seed, "control-plane");
        if let Some(stored) = stored {
            let seq = stored.state.seq();
            *hub.lock() = stored.state;
            hub.head.send_replace(seq);
            rng.seek(stored.ids);
            kms.restore(stored.key_manager);
        }
        Ok(Arc::new(Self {
            settings,
            clock,
            rng,
            kms,
            hub,
            database,
            defects: Defects::default(),
            outbound: std::sync::OnceLock::new(),
        }))
    }

    /// Writes the database now (a no-op without one); the REST layer calls it after each change.
    pub fn save(&self) -> Result<(), DatabaseError> {
        match &self.database {
            Some(database) => database.save(self),
            None => Ok(()),
        }
    }

    /// The deliberate defects this control plane has (none, unless a test switched one on).
    pub fn defects(&self) -> &Defects {
        &self.defects
    }

    /// How far the id stream has been drawn, for the database.
    pub(crate) fn id_position(&self) -> u128 {
        self.rng.position()
    }

    /// Everything served on the management port: Publisher, Developer Portal, Key Manager
    /// routes and the internal data API.
    pub fn router(self: &Arc<Self>) -> axum::Router {
        axum::Router::new()
            .nest("/api/am/publisher/v4", publisher::router(self.clone()))
            .nest("/api/am/devportal/v3", devportal::router(self.clone()))
            .nest("/api/am/admin/v4", admin::router(self.clone()))
            // WSO2 4.x serves each REST API without its version segment too (its
            // `URLValidationInterceptor` strips the major version): `/api/am/devportal/...`.
            .nest(rest::PUBLISHER_VERSIONLESS, publisher::router(self.clone()))
            .nest(rest::DEVPORTAL_VERSIONLESS, devportal::router(self.clone()))
            .nest(rest::ADMIN_VERSIONLESS, admin::router(self.clone()))
            .merge(eventhub::router(self.clone()))
            .merge(admin::internal_router(self.clone()))
            .merge(user_store::internal_router(self.clone()))
            .merge(self.kms.router())
            // After every route, so it reaches them all (nested ones included).
            .method_not_allowed_fallback(rest::method_not_allowed)
            .fallback(rest::not_found)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                database::commit,
            ))
            .layer(axum::extract::DefaultBodyLimit::max(rest::MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn(rest::error_shape))
    }

    /// Serves [`Self::router`] over HTTPS on `mgmt_https` and over plain HTTP on
    /// `servlet_http` (WSO2's 9763 serves the same web apps) until `shutdown` fires.
    pub async fn serve<L: Listener>(
        self: &Arc<Self>,
        mgmt_https: L,
        servlet_http: L,
        tls: Arc<rustls::ServerConfig>,
        shutdown: CancellationToken,
    ) {
        let service = hyper_util::service::TowerToHyperService::new(self.router());
        tokio::join!(
            tollgate_net::serve(
                mgmt_https,
                Some(tls),
                service.clone(),
                self.clock.clone(),
                shutdown.clone()
            ),
            tollgate_net::serve(servlet_http, None, service, self.clock.clone(), shutdown),
        );
    }

    /// The sequence number of the last event published.
    pub fn event_seq(&self) -> u64 {
        self.hub.lock().seq()
    }

    /// The node's outbound networking (host map, truststore), for definitions named by `url`.
    /// The first call wins.
    pub fn set_outbound(&self, outbound: Outbound) {
        // A second node-level hand-over is ignored: the first is the node's.
        let _ = self.outbound.set(outbound);
    }

    pub(crate) fn outbound(&self) -> Option<&Outbound> {
        if let Some(outbound) = self.outbound.get() {
            return Some(outbound);
        }
        let fallback = Outbound::new(tollgate_net::HostMap::new(), &[]).ok()?;
        Some(self.outbound.get_or_init(|| fallback))
    }

    pub fn settings(&self) -> &ControlPlaneSettings {
        &self.settings
    }

    /// The Key Manager this control plane built.
    pub fn key_manager(&self) -> &Arc<KeyManager> {
        &self.kms
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.hub.lock()
    }

    pub(crate) fn publish(&self, state: &mut State, event: Event) -> u64 {
        self.hub.publish(state, event)
    }

    pub(crate) fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }

    pub(crate) fn new_id(&self) -> String {
        self.rng.uuid().to_string()
    }
}
