//! The shared state of one gateway node and how sync changes it.
//!
//! Readers (every request) load two immutable structures — the compiled [`RouteTable`] and the
//! subscription [`Store`] — each one atomic load from an `ArcSwap`. The one writer (the sync
//! task, or a test applying events by hand) keeps the deployed artifacts per label behind a
//! mutex that is never held across an await, rebuilds what changed and swaps it in, then
//! publishes its progress on a `watch` channel.
//!
//! With a [`RuntimeHome`] the writer also keeps one file per served API in the home's `api/`
//! folder (written before the progress is published, so "event N applied" means its files are
//! there too), and serves the custom API files the start-up cleaning kept
//! ([`Gateway::deploy_custom_files`]) until a synchronised API of the same file name replaces
//! them.

use crate::authenticate::{JwtVerifier, TokenCache};
use crate::respond::ProxyBody;
use crate::route::RouteTable;
use crate::runtime::{RuntimeHome, api_file_name};
use crate::settings::GatewaySettings;
use crate::store::Store;
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tollgate_net::{Outbound, ProxyClient};
use tollgate_protocol::artifact::ApiArtifact;
use tollgate_protocol::defect::{Defect, Defects};
use tollgate_protocol::event::{Event, EventEnvelope};
use tollgate_protocol::internal::{GatewaySnapshot, SyncStatus};
use tollgate_protocol::{SharedClock, SharedTap};

/// One gateway node's state: routing table, subscription store, token cache, sync progress.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) settings: GatewaySettings,
    pub(crate) cors: crate::cors::CorsPolicy,
    pub(crate) routes: ArcSwap<RouteTable>,
    pub(crate) store: ArcSwap<Store>,
    pub(crate) verifier: JwtVerifier,
    pub(crate) api_keys: crate::api_key::ApiKeyVerifier,
    pub(crate) tokens: TokenCache,
    pub(crate) clock: SharedClock,
    pub(crate) client: ProxyClient<ProxyBody>,
    pub(crate) throttle: crate::throttle::Throttle,
    /// Synapse endpoint states of the served endpoints that have a suspension `config`.
    pub(crate) endpoints: ArcSwap<crate::endpoint::EndpointTable>,
    deployed: Mutex<Deployed>,
    status: watch::Sender<SyncStatus>,
    /// Where this node keeps its API files; `None` keeps none (tests, benches).
    runtime: Option<RuntimeHome>,
    /// Test-only deliberate defects; empty and free in a normal build.
    pub(crate) defects: Defects,
    /// `[apim.jwt] enable = true`: the JWT sent to backends.
    pub(crate) backend_jwt: Option<crate::backend_jwt::BackendJwt>,
    /// Basic credentials the control plane has checked.
    pub(crate) basic_auth: crate::basic_auth::BasicAuthCache,
    /// The harness's observer ([`tollgate_protocol::tap`]): each snapshot and event applied.
    pub(crate) tap: Option<SharedTap>,
}

/// What this node deploys: synchronised APIs and the custom files it started with.
#[derive(Debug, Default)]
struct Deployed {
    /// API id → label position in `settings.labels` → artifact. The lowest position is served.
    /// Boxed: a B-tree node holds eleven values inline, so an unboxed artifact made every
    /// deployed API cost a ~10 KB node for its one label (massif, 2 000 APIs).
    apis: BTreeMap<String, BTreeMap<usize, Box<ApiArtifact>>>,
    /// Custom API files kept at start, by file name; a synchronised API whose file has the
    /// same name replaces one for good.
    custom: BTreeMap<String, ApiArtifact>,
    /// The files this node wrote for synchronised APIs, by file name, as written.
    written: BTreeMap<String, ApiArtifact>,
}

impl Gateway {
    /// A gateway with nothing deployed yet and no runtime home. `outbound` gives the pooled
    /// backend client (one per node; every request clones it).
    pub fn new(settings: GatewaySettings, outbound: &Outbound, clock: SharedClock) -> Arc<Self> {
        Self::with_runtime(settings, outbound, clock, None)
    }

    /// [`Gateway::new`], keeping its API files in `runtime`.
    pub fn with_runtime(
        settings: GatewaySettings,
        outbound: &Outbound,
        clock: SharedClock,
        runtime: Option<RuntimeHome>,
    ) -> Arc<Self> {
        let status = SyncStatus {
            labels: settings.labels.clone(),
            ..SyncStatus::default()
        };
        let backend_jwt = settings.backend_jwt.enable.then(|| {
            let key = match &settings.signing_key {
                Some(key) => Ok(key.clone()),
                None => crate::backend_jwt::SigningKey::built_in(),
            };
            key.and_then(|key| {
                crate::backend_jwt::BackendJwt::new(
                    &settings.backend_jwt,
                    &key,
                    &settings.node_name,
                )
            })
            .inspect_err(|error| tracing::error!(%error, "backend JWT disabled"))
            .ok()
        });
        let defects = Defects::default();
        Arc::new(Self {
            backend_jwt: backend_jwt.flatten(),
            basic_auth: Default::default(),
            verifier: JwtVerifier::new(&settings.trusted_keys).with_defects(defects.clone()),
            defects,
            api_keys: crate::api_key::ApiKeyVerifier::default(),
            cors: crate::cors::CorsPolicy::new(&settings.cors),
            tokens: TokenCache::new(TokenCache::DEFAULT_CAPACITY),
            routes: ArcSwap::from_pointee(RouteTable::default()),
            store: ArcSwap::from_pointee(Store::default()),
            client: ProxyClient::new(outbound.connector()),
            throttle: crate::throttle::Throttle::new(
                &settings.node_name,
                &settings.tenant_domain,
                settings.throttle.enable_blocking,
            ),
            endpoints: ArcSwap::from_pointee(crate::endpoint::EndpointTable::default()),
            deployed: Mutex::new(Deployed::default()),
            status: watch::Sender::new(status),
            runtime,
            clock,
            settings,
            tap: outbound.tap().cloned(),
        })
    }

    /// The deliberate defects this node has (none, unless a test switched one on).
    pub fn defects(&self) -> &Defects {
        &self.defects
    }

    /// The runtime home this node keeps its API files in.
    pub fn runtime(&self) -> Option<&RuntimeHome> {
        self.runtime.as_ref()
    }

    /// The gateway's start (`GatewayStartupListener`): cleans the runtime home as the skip list
    /// says, then serves every custom API file left in `api/`. A file that does not read is
    /// logged (file and reason) and not served; the node starts anyway. Call before the sync
    /// task starts; without a runtime home, nothing happens.
    pub fn deploy_custom_files(&self) {
        let Some(runtime) = &self.runtime else {
            return;
        };
        let node = &self.settings.node_name;
        let cleaned = runtime.clean_deployment();
        for file in &cleaned.removed {
            tracing::debug!(%node, file, "runtime artifact not in the skip list: deleted");
        }
        for (file, reason) in &cleaned.failed {
            tracing::warn!(%node, file, reason, "runtime artifact not deleted");
        }
        let mut custom = BTreeMap::new();
        for read in runtime.read_custom_apis() {
            match read {
                Ok(api) => {
                    tracing::info!(%node, file = api.file, context = api.artifact.context, "custom API file deployed");
                    custom.insert(api.file, api.artifact);
                }
                Err(error) => tracing::error!(
                    %node,
                    file = %error.path.display(),
                    reason = error.reason,
                    "custom API file not deployed"
                ),
            }
        }
        let Ok(mut guard) = self.deployed.lock() else {
            return;
        };
        guard.custom = custom;
        self.publish_routes(&mut guard, None, false);
    }

    pub fn settings(&self) -> &GatewaySettings {
        &self.settings
    }

    /// Throttle policies, deny conditions, TM decisions and local counters of this node.
    pub fn throttle(&self) -> &crate::throttle::Throttle {
        &self.throttle
    }

    /// The routing table as of now.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.routes.load_full()
    }

    /// The subscription store as of now.
    pub fn store(&self) -> Arc<Store> {
        self.store.load_full()
    }

    /// The Synapse state of endpoint `url` of `api`; `None` when it has no suspension `config`
    /// (never suspended).
    pub fn endpoint_state(
        &self,
        api: &crate::route::ApiRoute,
        url: &str,
    ) -> Option<crate::endpoint::State> {
        self.endpoints.load().find(api, url).map(|e| e.state())
    }

    pub fn status(&self) -> SyncStatus {
        self.status.borrow().clone()
    }

    pub fn subscribe_status(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    /// Resolves once event `seq` is applied.
    pub async fn wait_for_seq(&self, seq: u64) {
        let mut rx = self.status.subscribe();
        // The sender lives as long as `self`, so this only ends when the condition holds.
        let _ = rx.wait_for(|s| s.applied_seq >= seq).await;
    }

    /// Resolves once the start-up snapshot is applied and the event stream followed.
    pub async fn wait_synced(&self) {
        let mut rx = self.status.subscribe();
        let _ = rx.wait_for(|s| s.synced).await;
    }

    pub(crate) fn set_synced(&self, synced: bool) {
        self.status.send_if_modified(|s| {
            let changed = s.synced != synced;
            s.synced = synced;
            changed
        });
    }

    fn label_position(&self, label: &str) -> Option<usize> {
        self.settings.labels.iter().position(|l| l == label)
    }

    /// Replaces the whole state with a snapshot: artifacts for our labels only (the first of
    /// our labels wins when two carry the same API), and the subscription store.
    pub fn apply_snapshot(&self, snapshot: &GatewaySnapshot) {
        let mut deployed = Deployed::default();
        for item in &snapshot.list {
            if let Some(position) = self.label_position(&item.label) {
                deployed
                    .apis
                    .entry(item.artifact.api_id.clone())
                    .or_default()
                    .insert(position, Box::new(item.artifact.clone()));
            }
        }
        let mut store = Store::from_snapshot(snapshot);
        store.prune_revocations(self.clock.now_secs());
        self.store.store(Arc::new(store));
        let Ok(mut guard) = self.deployed.lock() else {
            return;
        };
        guard.apis = deployed.apis;
        self.publish_routes(&mut guard, Some(snapshot.event_seq), true);
        tollgate_protocol::tap::record(self.tap.as_ref(), "applied-snapshot", || {
            snapshot_record(snapshot, &self.settings.labels)
        });
    }

    /// Applies one event. Deploy and remove events for labels that are not ours change
    /// nothing; every event advances `applied_seq`. Events at or below `applied_seq` are
    /// skipped (every event is idempotent anyway).
    pub fn apply_event(&self, envelope: &EventEnvelope) {
        if matches!(envelope.event, Event::Heartbeat) {
            return;
        }
        if envelope.seq <= self.status.borrow().applied_seq {
            return;
        }
        let Ok(mut guard) = self.deployed.lock() else {
            return;
        };
        let mut routes_changed = false;
        match &envelope.event {
            Event::DeployApiInGateway { label, artifact } => {
                if let Some(position) = self.label_position(label)
                    && !self.defects.strikes(Defect::DeployEventsDropped)
                {
                    guard
                        .apis
                        .entry(artifact.api_id.clone())
                        .or_default()
                        .insert(position, artifact.clone());
                    routes_changed = true;
                }
            }
            Event::RemoveApiFromGateway { label, api_id, .. } => {
                if let Some(position) = self.label_position(label)
                    && let Some(labels) = guard.apis.get_mut(api_id)
                {
                    routes_changed = labels.remove(&position).is_some();
                    if labels.is_empty() {
                        guard.apis.remove(api_id);
                    }
                }
            }
            Event::Heartbeat => {}
            other => self.update_store(other),
        }
        if routes_changed {
            self.publish_routes(&mut guard, Some(envelope.seq), false);
        } else {
            self.status.send_modify(|s| s.applied_seq = envelope.seq);
        }
        tollgate_protocol::tap::record(
            self.tap.as_ref(),
            "applied-event",
            || serde_json::json!({ "seq": envelope.seq, "event": envelope.event }),
        );
    }

    fn update_store(&self, event: &Event) {
        let mut store = Store::clone(&self.store.load());
        match event {
            Event::ApplicationCreate { application } | Event::ApplicationUpdate { application } => {
                store.upsert_application(application.clone())
            }
            Event::ApplicationDelete { application_id } => store.remove_application(application_id),
            Event::ApplicationRegistrationCreate { key_mapping } => {
                store.upsert_key_mapping(key_mapping.clone())
            }
            Event::RemoveApplicationKeymapping { consumer_key } => {
                store.remove_key_mapping(consumer_key)
            }
            Event::SubscriptionsCreate { subscription }
            | Event::SubscriptionsUpdate { subscription } => {
                store.upsert_subscription(subscription.clone())
            }
            Event::SubscriptionsDelete { subscription_id } => {
                store.remove_subscription(subscription_id)
            }
            Event::TokenRevocation { .. } if self.defects.has(Defect::RevocationsIgnored) => return,
            Event::TokenRevocation { token } => {
                store.prune_revocations(self.clock.now_secs());
                store.revoke(token);
            }
            // Throttle policies and deny conditions live with the throttle phase.
            Event::PolicyCreate { .. }
            | Event::PolicyUpdate { .. }
            | Event::PolicyDelete { .. }
            | Event::Blocking { .. } => {
                self.throttle.apply_event(event);
                return;
            }
            // The Traffic Manager resets the count and pushes the decision: nothing to hold here.
            Event::DeployApiInGateway { .. }
            | Event::RemoveApiFromGateway { .. }
            | Event::ApplicationThrottleReset { .. }
            | Event::Heartbeat => return,
        }
        self.store.store(Arc::new(store));
    }

    /// Brings the API files up to date, recompiles the routing table from what is deployed and
    /// publishes the new status.
    fn publish_routes(&self, deployed: &mut Deployed, seq: Option<u64>, replace_seq: bool) {
        let labels = &self.settings.labels;
        let synced: Vec<(&str, &ApiArtifact)> = deployed
            .apis
            .values()
            .filter_map(|by_label| by_label.iter().next())
            .filter_map(|(position, artifact)| {
                labels.get(*position).map(|l| (l.as_str(), &**artifact))
            })
            .collect();
        if let Some(runtime) = &self.runtime {
            let files: BTreeMap<String, &ApiArtifact> =
                synced.iter().map(|(_, a)| (api_file_name(a), *a)).collect();
            sync_files(
                runtime,
                &self.settings.node_name,
                &files,
                &mut deployed.written,
                &mut deployed.custom,
            );
        }
        // Custom files first: a synchronised API with the same context or id wins.
        let served: Vec<(&str, &ApiArtifact)> = deployed
            .custom
            .values()
            .map(|a| (a.environment.name.as_str(), a))
            .chain(synced)
            .collect();
        let apis = served
            .iter()
            .map(|(_, a)| (a.api_id.clone(), a.revision_id.clone()))
            .collect();
        let routes = RouteTable::compile(served, &self.settings.cors.allow_methods);
        self.endpoints
            .store(Arc::new(crate::endpoint::EndpointTable::rebuild(
                &self.endpoints.load(),
                &routes,
            )));
        self.routes.store(Arc::new(routes));
        self.status.send_modify(|s| {
            s.apis = apis;
            if let Some(seq) = seq
                && (replace_seq || seq > s.applied_seq)
            {
                s.applied_seq = seq;
            }
        });
    }
}

/// A snapshot as a transcript shows it: its sequence, the artifacts of our labels (API, label,
/// revision; their content is each deploy event's) and how many of each store entry it held.
fn snapshot_record(snapshot: &GatewaySnapshot, labels: &[String]) -> serde_json::Value {
    let apis: Vec<serde_json::Value> = snapshot
        .list
        .iter()
        .filter(|item| labels.contains(&item.label))
        .map(|item| {
            serde_json::json!({
                "apiId": item.artifact.api_id,
                "label": item.label,
                "revisionId": item.artifact.revision_id,
            })
        })
        .collect();
    serde_json::json!({
        "seq": snapshot.event_seq,
        "apis": apis,
        "applications": snapshot.applications.len(),
        "keyMappings": snapshot.key_mappings.len(),
        "subscriptions": snapshot.subscriptions.len(),
        "revokedTokens": snapshot.revoked_tokens.len(),
    })
}

/// Makes `api/` hold one file per synchronised API (`files`, by file name): writes the new and
/// changed ones, deletes those no longer served. A custom file of the same name as one written
/// is replaced (dropped from `custom`). An IO error is logged and retried on the next change.
fn sync_files(
    runtime: &RuntimeHome,
    node: &str,
    files: &BTreeMap<String, &ApiArtifact>,
    written: &mut BTreeMap<String, ApiArtifact>,
    custom: &mut BTreeMap<String, ApiArtifact>,
) {
    let gone: Vec<String> = written
        .keys()
        .filter(|f| !files.contains_key(*f))
        .cloned()
        .collect();
    for file in gone {
        match runtime.remove_api(&file) {
            Ok(()) => {
                written.remove(&file);
            }
            Err(error) => tracing::error!(%node, file, %error, "API file not deleted"),
        }
    }
    for (file, artifact) in files {
        if custom.remove(file).is_some() {
            tracing::info!(%node, file, "custom API file replaced by the synchronised API");
        }
        if written.get(file) == Some(*artifact) {
            continue;
        }
        match runtime.write_api(file, artifact) {
            Ok(()) => {
                written.insert(file.clone(), (*artifact).clone());
            }
            Err(error) => tracing::error!(%node, file, %error, "API file not written"),
        }
    }
}
