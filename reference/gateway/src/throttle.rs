//! Phase 5: throttling, as WSO2's `ThrottleHandler#doRoleBasedAccessThrottlingWithCEP` does it
//! (docs/wso2-behaviour.md §4.2). It runs after authorization and before key-type routing (§3.1),
//! so a wrong-type key is counted before it is refused.
//!
//! In order, the first that applies ends the request:
//!
//! 1. deny policies (`BLOCKING`), when any is in force: 403 900805;
//! 2. the API-level tier when the API has one that is not `Unlimited` (`key::api`, 900800),
//!    else the resource tier (`key::resource`, 900802; `Unlimited` skips);
//! 3. the subscription quota (`key::subscription`, 900804) — only refusing when the tier has
//!    `stopOnQuotaReach` — then, when not throttled, the tier's burst control, counted on
//!    this node only (`rateLimitCount` per `rateLimitTimeUnit`; window 60 000 ms for `min`,
//!    else 1 000 ms; 900807 without a next access time);
//! 4. the application tier, per application per end user (`key::application`, 900803);
//! 5. custom rules: each rule's key template filled with the request's values (`$userId`,
//!    `$apiContext`, `$clientIp`, …; [`fill_key_template`]), refused while the TM holds that key
//!    throttled (900806);
//! 6. the API's hard limit (`maxTps` of the key type), counted on this node (503 900801);
//!
//! else one [`RequestEvent`] goes to the Traffic Managers with `try_publish` (never awaited:
//! a request never waits on a TM). Quotas (2–4) are the TM's decisions, held in a
//! [`ThrottleDataHolder`]: a key is throttled while its decision's expiry is not past by the
//! injected clock, so a window ends on time even when the TM's "released" decision is late.
//!
//! An unsecured resource (auth type `None`) runs as WSO2's `handleNoAuthentication` sets it
//! up: application id = the client's IP, subscription tier `Unauthenticated`, application
//! tier `Unlimited`, user `anonymous`.
//!
//! Cost: the API's own keys (API tier, hard limit) are built at deploy time
//! ([`ApiThrottleKeys`]), the others once per request (three short strings, fewer on a node
//! without a TM); decisions are one read lock and one hash probe each, and the local counters
//! are a sharded map with one short mutex per counted key. The event is serialised straight
//! from borrowed fields.

use crate::authenticate::Caller;
use crate::authorize::Authorized;
use crate::respond::{GatewayError, ThrottleCode};
use arc_swap::ArcSwap;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::watch;
use tollgate_protocol::artifact::{ApiArtifact, KeyType, Operation};
use tollgate_protocol::event::Event;
use tollgate_protocol::throttle::{
    BlockingCondition, BlockingFacts, DenyPolicy, EventProperties, KeyFacts, PolicyLevel,
    RequestEvent, ThrottleData, ThrottlePolicy, TimeUnit, UNLIMITED, defaults, fill_key_template,
    key,
};
use tollgate_traffic_manager::{DecisionFollower, EventPublisher};
// Re-exported: what callers of this module's API see, without depending on the TM crate.
pub use tollgate_traffic_manager::{FollowerStatus, PublisherStats, ThrottleDataHolder};

/// The subscription tier of an unauthenticated request.
pub const UNAUTHENTICATED: &str = "Unauthenticated";
/// The application an internal key's calls count under (`INTERNAL_KEY_APP_NAME`).
pub const INTERNAL_KEY_APP: &str = "internal-key-app";
/// The user of an unauthenticated request (`END_USER_ANONYMOUS`).
pub const ANONYMOUS: &str = "anonymous";

const SHARDS: usize = 16;
/// A shard holding more windows than this drops the ended ones before growing.
const SHARD_SWEEP_AT: usize = 4096;

/// What the gateway keeps of a subscription tier: the TM counts its quota, the gateway decides
/// whether a throttled key is refused and counts its burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SubscriptionTier {
    stop_on_quota_reach: bool,
    burst: Option<Burst>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Burst {
    limit: u64,
    window_millis: i64,
}

/// Policies and deny conditions as of the last applied event; swapped whole on change.
#[derive(Debug, Clone, Default)]
struct Tables {
    subscription: HashMap<String, SubscriptionTier>,
    /// Deny conditions in force, by condition id.
    blocking: BTreeMap<String, BlockingCondition>,
    /// Custom rules' key templates, by rule name (WSO2's `keyTemplateMap`).
    key_templates: BTreeMap<String, String>,
}

impl Tables {
    fn upsert(&mut self, policy: &ThrottlePolicy) {
        if let ThrottlePolicy::Custom(rule) = policy {
            self.key_templates
                .insert(rule.policy_name.clone(), rule.key_template.clone());
        }
        if let ThrottlePolicy::Subscription(p) = policy {
            // `rateLimitTimeUnit` `min` → a one-minute window, anything else one second
            // (`ThrottleHandler` builds the Synapse throttle context so).
            let burst = (p.rate_limit_count > 0).then(|| Burst {
                limit: u64::try_from(p.rate_limit_count).unwrap_or(u64::MAX),
                window_millis: if p.rate_limit_time_unit == Some(TimeUnit::Min) {
                    60_000
                } else {
                    1_000
                },
            });
            self.subscription.insert(
                p.policy_name.clone(),
                SubscriptionTier {
                    stop_on_quota_reach: p.stop_on_quota_reach,
                    burst,
                },
            );
        }
    }

    fn block(&mut self, deny: &DenyPolicy, in_force: bool) {
        if !in_force {
            self.blocking.remove(&deny.condition_id);
            return;
        }
        match BlockingCondition::parse(deny.condition_type, &deny.condition_value) {
            Ok(condition) => {
                self.blocking.insert(deny.condition_id.clone(), condition);
            }
            Err(error) => {
                tracing::warn!(id = %deny.condition_id, %error, "deny policy ignored");
                self.blocking.remove(&deny.condition_id);
            }
        }
    }
}

/// Fixed windows counted on this node only (burst control, hard limits): a window opens with
/// its first request, as Synapse's throttle context does, and lasts `window` ms.
#[derive(Debug)]
struct LocalCounters {
    shards: Box<[Mutex<HashMap<String, Window, foldhash::fast::RandomState>>]>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    end: i64,
    count: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain counters: still usable after a panic elsewhere.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LocalCounters {
    fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
        }
    }

    /// Counts one request on `key`; `true` while at most `limit` fell in its window.
    fn admit(&self, key: &str, limit: u64, window: i64, now: i64) -> bool {
        let shard = foldhash::fast::FixedState::default().hash_one(key) as usize % SHARDS;
        let mut map = lock(&self.shards[shard]);
        if let Some(w) = map.get_mut(key) {
            if now >= w.end {
                *w = Window {
                    end: now + window,
                    count: 0,
                };
            }
            w.count = w.count.saturating_add(1);
            return w.count <= limit;
        }
        if map.len() >= SHARD_SWEEP_AT {
            map.retain(|_, w| w.end > now);
        }
        map.insert(
            key.to_owned(),
            Window {
                end: now + window,
                count: 1,
            },
        );
        limit >= 1
    }
}

/// The throttle state of one gateway node.
pub struct Throttle {
    tables: ArcSwap<Tables>,
    decisions: OnceLock<Arc<ThrottleDataHolder>>,
    follower: OnceLock<watch::Receiver<FollowerStatus>>,
    publisher: OnceLock<EventPublisher>,
    burst: LocalCounters,
    hard: LocalCounters,
    enable_blocking: bool,
    tenant: String,
    node: String,
    next_message: AtomicU64,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables = self.tables.load();
        f.debug_struct("Throttle")
            .field("subscription_tiers", &tables.subscription.len())
            .field("blocking", &tables.blocking.len())
            .field("decisions", &self.decisions.get().map(|d| d.len()))
            .field("publishing", &self.publisher.get().is_some())
            .finish_non_exhaustive()
    }
}

/// The throttle keys of one API that do not depend on the request, built once at deploy time
/// (in [`crate::route::ApiRoute`]) rather than formatted on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiThrottleKeys {
    /// `key::api`: the API-level tier's decision key.
    pub api: String,
    /// The hard limit's local counters (`context:version:KEY_TYPE`), by key type.
    hard_production: String,
    hard_sandbox: String,
}

impl ApiThrottleKeys {
    pub fn new(api: &ApiArtifact) -> Self {
        let hard =
            |key_type: KeyType| format!("{}:{}:{}", api.context, api.version, key_type.as_str());
        Self {
            api: key::api(&api.context, &api.version),
            hard_production: hard(KeyType::Production),
            hard_sandbox: hard(KeyType::Sandbox),
        }
    }

    fn hard_limit(&self, key_type: KeyType) -> &str {
        match key_type {
            KeyType::Production => &self.hard_production,
            KeyType::Sandbox => &self.hard_sandbox,
        }
    }
}

/// One request as the throttle phase sees it.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRequest<'a> {
    pub api: &'a ApiArtifact,
    /// `api`'s precomputed keys.
    pub keys: &'a ApiThrottleKeys,
    /// The selected resource's URI template (`/menu`).
    pub resource_template: &'a str,
    pub verb: &'a str,
    pub operation: &'a Operation,
    pub caller: &'a Caller,
    pub authorized: Authorized<'a>,
    /// The client's address (`RemoteAddr`).
    pub ip: Option<IpAddr>,
    /// `Content-Length`, what bandwidth policies sum (0 when absent).
    pub message_size: u64,
}

/// `ip` as text, as `IpAddr`'s `Display` writes it. Every published event carries the
/// client's address, and `Display` goes through the formatting machinery octet by octet
/// (≈ 0.4 % of a proxied request's CPU in a `tollgate bench` profile); a v4 address is
/// written directly.
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

fn with_tenant<'a>(user: &'a str, tenant: &str) -> std::borrow::Cow<'a, str> {
    if user.contains('@') {
        user.into()
    } else {
        format!("{user}@{tenant}").into()
    }
}

impl Throttle {
    /// WSO2's built-in tiers are known from the start (until the control plane's list
    /// replaces them); no TM is attached yet.
    pub fn new(node: &str, tenant: &str, enable_blocking: bool) -> Self {
        let mut tables = Tables::default();
        for policy in defaults() {
            tables.upsert(&policy);
        }
        Self {
            tables: ArcSwap::from_pointee(tables),
            decisions: OnceLock::new(),
            follower: OnceLock::new(),
            publisher: OnceLock::new(),
            burst: LocalCounters::new(),
            hard: LocalCounters::new(),
            enable_blocking,
            tenant: tenant.to_owned(),
            node: node.to_owned(),
            next_message: AtomicU64::new(0),
        }
    }

    /// Reads decisions from `holder` from now on (once; later calls are ignored).
    pub fn attach_decisions(&self, holder: Arc<ThrottleDataHolder>) {
        let _ = self.decisions.set(holder);
    }

    /// Reads decisions from a running follower and exposes its status.
    pub fn attach_follower(&self, follower: &DecisionFollower) {
        self.attach_decisions(follower.holder().clone());
        let _ = self.follower.set(follower.status());
    }

    /// Publishes request events through `publisher` from now on (once).
    pub fn attach_publisher(&self, publisher: EventPublisher) {
        let _ = self.publisher.set(publisher);
    }

    /// The decision follower's progress, when one is attached: await a connection with it.
    pub fn follower_status(&self) -> Option<watch::Receiver<FollowerStatus>> {
        self.follower.get().cloned()
    }

    /// The event publisher's counters, when one is attached.
    pub fn publisher_stats(&self) -> Option<PublisherStats> {
        self.publisher.get().map(EventPublisher::stats)
    }

    /// Watches the publisher's counters (await delivery without sleeping).
    pub fn watch_publisher(&self) -> Option<watch::Receiver<PublisherStats>> {
        self.publisher.get().map(EventPublisher::watch_stats)
    }

    /// The decisions this node holds, when it follows a TM.
    pub fn decisions(&self) -> Option<&Arc<ThrottleDataHolder>> {
        self.decisions.get()
    }

    /// How many deny conditions are in force here.
    pub fn blocking_conditions(&self) -> usize {
        self.tables.load().blocking.len()
    }

    /// Replaces policies and deny conditions with the control plane's (start-up pull).
    pub fn apply_data(&self, data: &ThrottleData) {
        let mut tables = Tables::default();
        for policy in &data.policies {
            tables.upsert(policy);
        }
        for deny in &data.deny_policies {
            tables.block(deny, deny.condition_status);
        }
        self.tables.store(Arc::new(tables));
    }

    /// Applies a `POLICY_*` or `BLOCKING` event; `false` for any other event.
    pub fn apply_event(&self, event: &Event) -> bool {
        let mut tables = Tables::clone(&self.tables.load());
        match event {
            Event::PolicyCreate { policy } | Event::PolicyUpdate { policy } => {
                tables.upsert(policy)
            }
            Event::PolicyDelete {
                policy_level: PolicyLevel::Subscription,
                policy_name,
                ..
            } => {
                tables.subscription.remove(policy_name);
            }
            Event::PolicyDelete {
                policy_level: PolicyLevel::Custom,
                policy_name,
                ..
            } => {
                tables.key_templates.remove(policy_name);
            }
            Event::PolicyDelete { .. } => return true,
            Event::Blocking { condition, state } => tables.block(condition, *state),
            _ => return false,
        }
        self.tables.store(Arc::new(tables));
        true
    }

    /// Phase 5 for one request at `now` (epoch ms).
    pub fn check(&self, r: &ThrottleRequest<'_>, now: i64) -> Result<(), GatewayError> {
        let api = r.api;
        let tables = self.tables.load();
        let client_ip;
        let (app_id, app_tier, sub_tier, user, application) = match (
            r.authorized.application,
            r.authorized.subscription,
            r.caller.subject(),
        ) {
            (Some(app), Some(sub), Some(subject)) => (
                app.id.as_str(),
                app.throttling_policy.as_str(),
                sub.throttling_policy.as_str(),
                subject,
                Some(app),
            ),
            // The Publisher's internal key: WSO2's `internal-key-app` on Unlimited tiers.
            (None, None, Some(subject)) if matches!(r.caller, Caller::InternalKey(_)) => {
                (INTERNAL_KEY_APP, UNLIMITED, UNLIMITED, subject, None)
            }
            // Basic auth: the user is the application, on the Unauthenticated tier.
            (None, None, Some(subject)) if matches!(r.caller, Caller::Basic(_)) => {
                (subject, UNLIMITED, UNAUTHENTICATED, subject, None)
            }
            _ => {
                client_ip = r.ip.map(ip_text).unwrap_or_default();
                (
                    client_ip.as_str(),
                    UNLIMITED,
                    UNAUTHENTICATED,
                    ANONYMOUS,
                    None,
                )
            }
        };
        let blocking = self.enable_blocking && !tables.blocking.is_empty();
        let decisions = self.decisions.get();
        let publisher = self.publisher.get();
        let follows_tm = decisions.is_some() || publisher.is_some();
        // Only deny conditions and TM keys name the user: a node without either builds nothing.
        let user = if blocking || follows_tm {
            with_tenant(user, &self.tenant)
        } else {
            user.into()
        };

        // 1. Deny policies.
        if blocking {
            let application = application
                .map(|a| format!("{}:{}", a.owner, a.name))
                .unwrap_or_default();
            let facts = BlockingFacts {
                api_context: &api.context,
                application: &application,
                user: &user,
                ip: r.ip,
            };
            if tables.blocking.values().any(|c| c.blocks(&facts)) {
                return Err(GatewayError::MessageBlocked);
            }
        }

        if !follows_tm {
            // No TM: only the local limits apply, and they need no key but their own.
            return self.check_local(r, &tables, app_id, sub_tier, now);
        }
        let throttled = |key: &str| decisions.and_then(|d| d.is_throttled(key, now));
        let out = |code, expiry| GatewayError::ThrottledOut {
            code,
            next_access: Some(expiry),
        };

        // 2. API-level tier, else resource tier. With an API tier, WSO2 puts the API key in
        // the resource slot of the event too.
        let api_key = r.keys.api.as_str();
        let api_tier = api
            .api_throttling_policy
            .as_deref()
            .filter(|t| !t.is_empty() && *t != UNLIMITED);
        let (resource_key, resource_tier) = match api_tier {
            Some(tier) => {
                if let Some(expiry) = throttled(api_key) {
                    return Err(out(ThrottleCode::Api, expiry));
                }
                (None, tier)
            }
            None => {
                let tier = r
                    .operation
                    .throttling_policy
                    .as_deref()
                    .filter(|t| !t.is_empty())
                    .unwrap_or(UNLIMITED);
                let key = key::resource(&api.context, &api.version, r.resource_template, r.verb);
                if tier != UNLIMITED
                    && let Some(expiry) = throttled(&key)
                {
                    return Err(out(ThrottleCode::Resource, expiry));
                }
                (Some(key), tier)
            }
        };

        // 3. Subscription quota, then its burst control (local).
        let subscription_key = key::subscription(app_id, &api.context, &api.version, sub_tier);
        if sub_tier != UNLIMITED {
            let tier = tables.subscription.get(sub_tier);
            match throttled(&subscription_key) {
                // An unknown tier is refused like the built-ins (all stop on quota reach).
                Some(expiry) if tier.is_none_or(|t| t.stop_on_quota_reach) => {
                    return Err(out(ThrottleCode::Subscription, expiry));
                }
                Some(_) => {}
                None => self.check_burst(tier, &subscription_key, now)?,
            }
        }

        // 4. Application, per application per end user.
        let app_key = key::application(app_id, &user, &self.tenant);
        if app_tier != UNLIMITED
            && let Some(expiry) = throttled(&app_key)
        {
            return Err(out(ThrottleCode::Application, expiry));
        }

        // 5. Custom rules: each key template filled with this request's values.
        if !tables.key_templates.is_empty() {
            let resource_key = resource_key.clone().unwrap_or_else(|| {
                key::resource(&api.context, &api.version, r.resource_template, r.verb)
            });
            let facts = KeyFacts {
                resource_key: &resource_key,
                user_id: &user,
                api_context: &api.context,
                api_version: &api.version,
                app_tenant: &self.tenant,
                api_tenant: &self.tenant,
                app_id,
                client_ip: r.ip,
            };
            for template in tables.key_templates.values() {
                if let Some(expiry) = throttled(&fill_key_template(template, &facts)) {
                    return Err(out(ThrottleCode::Custom, expiry));
                }
            }
        }

        // 6. Hard limit: the API's maxTps for this key type, on this node.
        self.check_hard_limit(r, now)?;

        // Not throttled: tell the TMs, without waiting for them.
        if let Some(publisher) = publisher {
            let n = self.next_message.fetch_add(1, Ordering::Relaxed);
            let message_id = format!("{}-{n}", self.node);
            let event = RequestEvent {
                message_id: message_id.into(),
                app_key: app_key.as_str().into(),
                app_tier: app_tier.into(),
                api_key: api_key.into(),
                api_tier: api_tier.unwrap_or(UNLIMITED).into(),
                subscription_key: subscription_key.as_str().into(),
                subscription_tier: sub_tier.into(),
                resource_key: resource_key.as_deref().unwrap_or(api_key).into(),
                resource_tier: resource_tier.into(),
                user_id: user.as_ref().into(),
                api_context: api.context.as_str().into(),
                api_version: api.version.as_str().into(),
                app_tenant: self.tenant.as_str().into(),
                api_tenant: self.tenant.as_str().into(),
                app_id: app_id.into(),
                api_name: api.name.as_str().into(),
                properties: EventProperties {
                    ip: r.ip.map(|ip| ip_text(ip).into()),
                    message_size: r.message_size,
                },
            };
            publisher.try_publish(&event);
        }
        Ok(())
    }

    /// Steps 3 (burst only) and 6 for a node without a TM.
    fn check_local(
        &self,
        r: &ThrottleRequest<'_>,
        tables: &Tables,
        app_id: &str,
        sub_tier: &str,
        now: i64,
    ) -> Result<(), GatewayError> {
        if sub_tier != UNLIMITED
            && let Some(tier) = tables.subscription.get(sub_tier)
            && tier.burst.is_some()
        {
            let key = key::subscription(app_id, &r.api.context, &r.api.version, sub_tier);
            self.check_burst(Some(tier), &key, now)?;
        }
        self.check_hard_limit(r, now)
    }

    /// The subscription tier's burst control, on this node: 900807.
    fn check_burst(
        &self,
        tier: Option<&SubscriptionTier>,
        subscription_key: &str,
        now: i64,
    ) -> Result<(), GatewayError> {
        match tier.and_then(|t| t.burst) {
            Some(burst)
                if !self
                    .burst
                    .admit(subscription_key, burst.limit, burst.window_millis, now) =>
            {
                Err(GatewayError::ThrottledOut {
                    code: ThrottleCode::SubscriptionBurst,
                    next_access: None,
                })
            }
            _ => Ok(()),
        }
    }

    /// The API's `maxTps` for the request's key type, on this node: 503 900801.
    fn check_hard_limit(&self, r: &ThrottleRequest<'_>, now: i64) -> Result<(), GatewayError> {
        let Some(max) = r
            .api
            .max_tps
            .as_ref()
            .and_then(|m| match r.authorized.key_type {
                KeyType::Production => m.production,
                KeyType::Sandbox => m.sandbox,
            })
            .filter(|m| *m > 0)
        else {
            return Ok(());
        };
        let key = r.keys.hard_limit(r.authorized.key_type);
        if self.hard.admit(key, max, 1_000, now) {
            Ok(())
        } else {
            Err(GatewayError::HardLimit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        let mut octets = [0u8, 1, 9, 10, 42, 99, 100, 101, 199, 200, 250, 255].into_iter();
        let v4 = std::iter::from_fn(|| {
            let o = octets.next()?;
            Some(IpAddr::from([o, 255 - o, o / 2, o.wrapping_mul(7)]))
        });
        let v6 = ["::1", "fe80::1:2", "2001:db8::ffff:0:1"]
            .into_iter()
            .map(|a| a.parse::<IpAddr>().unwrap());
        for ip in v4.chain(v6) {
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }

    #[test]
    fn local_windows_open_with_their_first_request_and_admit_the_limit() {
        let counters = LocalCounters::new();
        assert!(counters.admit("k", 2, 1_000, 10_500));
        assert!(counters.admit("k", 2, 1_000, 10_900));
        assert!(!counters.admit("k", 2, 1_000, 11_499));
        assert!(counters.admit("k", 2, 1_000, 11_500), "a new window");
        assert!(
            counters.admit("j", 2, 1_000, 11_499),
            "keys are counted apart"
        );
    }

    #[test]
    fn burst_windows_are_a_minute_for_min_and_a_second_otherwise() {
        let mut policies = defaults();
        for p in &mut policies {
            if let ThrottlePolicy::Subscription(s) = p {
                if s.policy_name == "Gold" {
                    s.rate_limit_count = 5;
                    s.rate_limit_time_unit = Some(TimeUnit::Min);
                }
                if s.policy_name == "Silver" {
                    s.rate_limit_count = 2;
                    s.rate_limit_time_unit = Some(TimeUnit::Sec);
                }
            }
        }
        let throttle = Throttle::new("gw", "carbon.super", true);
        throttle.apply_data(&ThrottleData {
            event_seq: 1,
            policies,
            deny_policies: vec![],
        });
        let tables = throttle.tables.load();
        assert_eq!(
            tables.subscription["Gold"].burst,
            Some(Burst {
                limit: 5,
                window_millis: 60_000
            })
        );
        assert_eq!(
            tables.subscription["Silver"].burst.unwrap().window_millis,
            1_000
        );
        assert_eq!(tables.subscription["Bronze"].burst, None);
    }
}
