//! The subscription store: applications, key mappings, subscriptions, trusted issuers and
//! revoked tokens, as of the last applied event.
//!
//! Immutable once built: a change clones it, edits the clone and swaps it in
//! ([`crate::Gateway`] holds it in an `ArcSwap`). Changes are rare next to reads, and the data
//! is small; every lookup on the request path is one hash probe without a lock.

use tollgate_protocol::internal::GatewaySnapshot;
use tollgate_protocol::store::{Application, KeyMapping, RevokedToken, Subscription};

/// The request path's maps: foldhash, not SipHash (SipHash was ~1.7k instructions of every
/// request; README.md, "Benchmarks"). Keys are inserted only from the control plane's events, so a client
/// cannot flood a table with colliding keys; its strings are only looked up.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Clone, Default)]
pub struct Store {
    applications: FastMap<String, Application>,
    key_mappings: FastMap<String, KeyMapping>,
    /// By subscription id.
    subscriptions: FastMap<String, Subscription>,
    /// Application id → API id → subscription id: two probes by `&str`, no allocation.
    by_pair: FastMap<String, FastMap<String, String>>,
    issuers: Vec<String>,
    /// `jti` → `exp` (seconds).
    revoked: FastMap<String, i64>,
}

impl Store {
    pub fn from_snapshot(snapshot: &GatewaySnapshot) -> Self {
        let mut store = Self {
            issuers: snapshot
                .key_managers
                .iter()
                .map(|km| km.issuer.clone())
                .collect(),
            ..Self::default()
        };
        for app in &snapshot.applications {
            store.upsert_application(app.clone());
        }
        for mapping in &snapshot.key_mappings {
            store.upsert_key_mapping(mapping.clone());
        }
        for sub in &snapshot.subscriptions {
            store.upsert_subscription(sub.clone());
        }
        for token in &snapshot.revoked_tokens {
            store.revoke(token);
        }
        store
    }

    pub fn upsert_application(&mut self, app: Application) {
        self.applications.insert(app.id.clone(), app);
    }

    /// Deleting an application takes its key mappings and subscriptions with it, as WSO2's
    /// cascade does in the database.
    pub fn remove_application(&mut self, id: &str) {
        self.applications.remove(id);
        self.key_mappings.retain(|_, m| m.application_id != id);
        let gone: Vec<String> = self
            .subscriptions
            .values()
            .filter(|s| s.application_id == id)
            .map(|s| s.id.clone())
            .collect();
        for sub in gone {
            self.remove_subscription(&sub);
        }
    }

    pub fn upsert_key_mapping(&mut self, mapping: KeyMapping) {
        self.key_mappings
            .insert(mapping.consumer_key.clone(), mapping);
    }

    pub fn remove_key_mapping(&mut self, consumer_key: &str) {
        self.key_mappings.remove(consumer_key);
    }

    pub fn upsert_subscription(&mut self, sub: Subscription) {
        self.remove_subscription(&sub.id.clone());
        self.by_pair
            .entry(sub.application_id.clone())
            .or_default()
            .insert(sub.api_id.clone(), sub.id.clone());
        self.subscriptions.insert(sub.id.clone(), sub);
    }

    pub fn remove_subscription(&mut self, id: &str) {
        if let Some(old) = self.subscriptions.remove(id)
            && let Some(apis) = self.by_pair.get_mut(&old.application_id)
        {
            apis.remove(&old.api_id);
            if apis.is_empty() {
                self.by_pair.remove(&old.application_id);
            }
        }
    }

    pub fn revoke(&mut self, token: &RevokedToken) {
        self.revoked.insert(token.jti.clone(), token.expiry_time);
    }

    /// Forgets revocations of tokens that have expired anyway.
    pub fn prune_revocations(&mut self, now_secs: i64) {
        self.revoked.retain(|_, exp| *exp > now_secs);
    }

    pub fn key_mapping(&self, consumer_key: &str) -> Option<&KeyMapping> {
        self.key_mappings.get(consumer_key)
    }

    pub fn application(&self, id: &str) -> Option<&Application> {
        self.applications.get(id)
    }

    pub fn subscription(&self, application_id: &str, api_id: &str) -> Option<&Subscription> {
        let id = self.by_pair.get(application_id)?.get(api_id)?;
        self.subscriptions.get(id)
    }

    pub fn trusts_issuer(&self, issuer: &str) -> bool {
        self.issuers.iter().any(|i| i == issuer)
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked.contains_key(jti)
    }
}
