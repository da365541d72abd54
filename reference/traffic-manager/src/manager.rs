//! The counting core: fixed windows per throttle key, decisions on state change.
//!
//! WSO2's TM deploys one Siddhi execution plan per policy: eligible events go through
//! `#throttler:timeBatch(<unitTime> <timeUnit>, 0)` — windows aligned to epoch multiples of the
//! window length — then `isThrottled = count >= limit` (bandwidth: `sum(messageSize) >=
//! limit`) grouped by throttle key, then `emitOnStateChange(throttleKey, isThrottled)`. We do
//! the same without Siddhi: a counter per key holds its window's start and its running total;
//! a decision is emitted only when a key's throttled state flips, carrying the window end as
//! `expiryTimeStamp`.
//!
//! Windows roll lazily (the next event of a key sees the new window) and on [`TrafficManager::tick`],
//! which un-throttles every key whose window has ended: the server calls it from a tokio
//! interval; tests call it after moving a `ManualClock`.
//!
//! Counters live in shards (one mutex per shard, chosen by the key's hash), so an event costs
//! one policy lookup (lock-free snapshot) and one short lock per counted key. Throttled keys
//! are also indexed by expiry under one lock, touched only on state changes: that index is
//! what `tick` walks and what a new decision subscriber receives first.

use arc_swap::ArcSwap;
use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::broadcast;
use tollgate_protocol::event::Event;
use tollgate_protocol::throttle::{
    CustomPlan, PolicyLevel, Quota, RequestEvent, ThrottleDecision, ThrottlePolicy,
};
use tollgate_protocol::{SharedClock, SharedTap};

const SHARDS: usize = 32;
/// How many decisions a slow subscriber may fall behind before it is cut off (it then
/// reconnects and gets a fresh snapshot).
const DECISION_BUFFER: usize = 4096;
/// Idle counters (window over, not throttled) are swept at most this often.
const SWEEP_EVERY_MILLIS: i64 = 60_000;

/// One policy's limit, compiled for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limit {
    window: i64,
    quota: Quota,
    /// Bumped when the policy changes: counters of an older generation start over, as WSO2
    /// redeploys a changed policy's execution plan with fresh state.
    generation: u64,
}

#[derive(Debug, Default)]
struct PolicyTable {
    /// Looked up for every (key, tier) pair of every event; foldhash, not SipHash: the names
    /// are the control plane's policies, not a caller's input.
    by_level: HashMap<PolicyLevel, HashMap<String, Limit, Fold>, Fold>,
    /// Custom rules, in creation order: each event is offered to every one.
    custom: Vec<CustomCounting>,
    policies: Vec<ThrottlePolicy>,
}

type Fold = foldhash::fast::RandomState;

/// A custom rule compiled for counting.
#[derive(Debug)]
struct CustomCounting {
    name: String,
    plan: CustomPlan,
    limit: Limit,
}

impl PolicyTable {
    fn limit(&self, level: PolicyLevel, name: &str) -> Option<Limit> {
        self.by_level.get(&level)?.get(name).copied()
    }
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    window_start: i64,
    used: i64,
    throttled: bool,
    limit: Limit,
}

impl Counter {
    fn window_end(&self) -> i64 {
        self.window_start + self.limit.window
    }
}

#[derive(Debug, Default)]
struct Throttled {
    /// (expiry, key) of every throttled key.
    by_expiry: BTreeSet<(i64, String)>,
    next_sweep: i64,
}

/// The Traffic Manager.
pub struct TrafficManager {
    pub(crate) clock: SharedClock,
    policies: ArcSwap<PolicyTable>,
    generation: Mutex<u64>,
    shards: Box<[Mutex<HashMap<String, Counter>>]>,
    throttled: Mutex<Throttled>,
    decisions: broadcast::Sender<ThrottleDecision>,
    /// The harness's observer ([`tollgate_protocol::tap`]): each decision published.
    tap: OnceLock<SharedTap>,
}

impl std::fmt::Debug for TrafficManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrafficManager")
            .field("policies", &self.policies.load().policies.len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a panic mid-update of plain counters; they are still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `timeBatch(window, 0)`: the start of the window `now` falls in.
pub fn window_start(now: i64, window: i64) -> i64 {
    now - now.rem_euclid(window.max(1))
}

impl TrafficManager {
    /// A TM counting against `policies` (`Unlimited` and unknown tiers are never counted).
    pub fn new(policies: Vec<ThrottlePolicy>, clock: SharedClock) -> Arc<Self> {
        let (decisions, _) = broadcast::channel(DECISION_BUFFER);
        let tm = Arc::new(Self {
            clock,
            policies: ArcSwap::from_pointee(PolicyTable::default()),
            generation: Mutex::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            throttled: Mutex::new(Throttled::default()),
            decisions,
            tap: OnceLock::new(),
        });
        tm.set_policies(policies);
        tm
    }

    /// Reports each decision this TM publishes to `tap` from now on (the first tap set stays).
    pub fn set_tap(&self, tap: SharedTap) {
        let _ = self.tap.set(tap);
    }

    /// Replaces every policy (as a TM does when it pulls them at start).
    pub fn set_policies(&self, policies: Vec<ThrottlePolicy>) {
        self.change_policies(|_| policies);
    }

    /// Replaces the policies with `change(current)`, read and written under one lock so that
    /// concurrent changes never lose one another.
    fn change_policies(&self, change: impl FnOnce(&[ThrottlePolicy]) -> Vec<ThrottlePolicy>) {
        let mut generation = lock(&self.generation);
        let old = self.policies.load();
        let policies = change(&old.policies);
        let mut table = PolicyTable::default();
        for policy in policies {
            if let ThrottlePolicy::Custom(rule) = &policy {
                match rule.compile() {
                    Ok(plan) => {
                        let quota = Quota::Count(plan.limit);
                        let window = plan.window_millis;
                        let kept = old
                            .custom
                            .iter()
                            .find(|c| c.name == rule.policy_name && c.plan == plan)
                            .map(|c| c.limit);
                        let limit = kept.unwrap_or_else(|| {
                            *generation += 1;
                            Limit {
                                window,
                                quota,
                                generation: *generation,
                            }
                        });
                        table.custom.push(CustomCounting {
                            name: rule.policy_name.clone(),
                            plan,
                            limit,
                        });
                    }
                    // The Admin API refuses such a query; one from elsewhere is not counted.
                    Err(error) => {
                        tracing::warn!(rule = %rule.policy_name, %error, "custom rule not deployed")
                    }
                }
                table.policies.push(policy);
                continue;
            }
            let Some(limit) = policy.default_limit().filter(|_| !policy.is_unlimited()) else {
                table.policies.push(policy);
                continue;
            };
            let quota = limit.quota();
            let window = limit.window_millis();
            // Unchanged policies keep their counters.
            let kept = old
                .limit(policy.level(), policy.name())
                .filter(|l| l.window == window && l.quota == quota);
            let compiled = kept.unwrap_or_else(|| {
                *generation += 1;
                Limit {
                    window,
                    quota,
                    generation: *generation,
                }
            });
            table
                .by_level
                .entry(policy.level())
                .or_default()
                .insert(policy.name().to_owned(), compiled);
            table.policies.push(policy);
        }
        self.policies.store(Arc::new(table));
    }

    /// Adds or replaces one policy.
    pub fn upsert_policy(&self, policy: ThrottlePolicy) {
        self.change_policies(|current| {
            let mut all: Vec<ThrottlePolicy> = current
                .iter()
                .filter(|p| !(p.level() == policy.level() && p.name() == policy.name()))
                .cloned()
                .collect();
            all.push(policy);
            all
        });
    }

    /// Removes one policy; its keys are no longer counted.
    pub fn remove_policy(&self, level: PolicyLevel, name: &str) {
        self.change_policies(|current| {
            current
                .iter()
                .filter(|p| !(p.level() == level && p.name() == name))
                .cloned()
                .collect()
        });
    }

    /// Follows the control plane's `POLICY_*` events; other events are ignored.
    pub fn apply_event(&self, event: &Event) {
        match event {
            Event::PolicyCreate { policy } | Event::PolicyUpdate { policy } => {
                self.upsert_policy((**policy).clone())
            }
            Event::PolicyDelete {
                policy_level,
                policy_name,
                ..
            } => self.remove_policy(*policy_level, policy_name),
            Event::ApplicationThrottleReset {
                application_id,
                user,
            } => {
                // The event names the user with its tenant domain (`admin@carbon.super`).
                self.reset(&tollgate_protocol::throttle::key::application(
                    application_id,
                    user,
                    "",
                ));
            }
            _ => {}
        }
    }

    /// Starts `key`'s count over; a throttled key is un-throttled on every gateway at once.
    pub fn reset(&self, key: &str) {
        let mut shard = lock(&self.shards[shard_of(key)]);
        if let Some(counter) = shard.remove(key)
            && counter.throttled
        {
            let end = counter.window_end();
            self.emit(key, false, self.clock.now_millis(), Some(end));
        }
    }

    pub fn policies(&self) -> Vec<ThrottlePolicy> {
        self.policies.load().policies.clone()
    }

    /// Receives every decision from now on. See [`Self::subscribe_with_snapshot`] to also get
    /// the ones in force.
    pub fn subscribe(&self) -> broadcast::Receiver<ThrottleDecision> {
        self.decisions.subscribe()
    }

    /// The decisions in force (throttled keys whose window has not ended, by expiry) and a
    /// receiver of every later change, with nothing missed or repeated in between.
    pub fn subscribe_with_snapshot(
        &self,
    ) -> (Vec<ThrottleDecision>, broadcast::Receiver<ThrottleDecision>) {
        let now = self.clock.now_millis();
        // Decisions are sent under this lock, so the snapshot and the receiver agree.
        let throttled = lock(&self.throttled);
        let receiver = self.decisions.subscribe();
        let active = throttled
            .by_expiry
            .iter()
            .filter(|(expiry, _)| *expiry > now)
            .map(|(expiry, key)| ThrottleDecision {
                throttle_key: key.clone(),
                is_throttled: true,
                expiry_time_stamp: *expiry,
            })
            .collect();
        (active, receiver)
    }

    /// Counts one request event against each of its (key, tier) pairs.
    pub fn process(&self, event: &RequestEvent<'_>) {
        let now = self.clock.now_millis();
        let table = self.policies.load();
        let bytes = i64::try_from(event.properties.message_size).unwrap_or(i64::MAX);
        let pairs = [
            (PolicyLevel::Application, &event.app_key, &event.app_tier),
            (
                PolicyLevel::Subscription,
                &event.subscription_key,
                &event.subscription_tier,
            ),
            (
                PolicyLevel::Advanced,
                &event.resource_key,
                &event.resource_tier,
            ),
        ];
        for (level, key, tier) in pairs {
            self.count(&table, level, key, tier, now, bytes);
        }
        // WSO2's gateway puts the API-level key into the resource slot when an API-level
        // tier applies; count it once.
        if event.api_key != event.resource_key || event.api_tier != event.resource_tier {
            self.count(
                &table,
                PolicyLevel::Advanced,
                &event.api_key,
                &event.api_tier,
                now,
                bytes,
            );
        }
        // Custom rules: each eligible event counts once against the rule's own key.
        for rule in &table.custom {
            if let Some(key) = rule.plan.key_of(event) {
                self.count_with(&key, rule.limit, now, bytes);
            }
        }
    }

    fn count(
        &self,
        table: &PolicyTable,
        level: PolicyLevel,
        key: &str,
        tier: &str,
        now: i64,
        bytes: i64,
    ) {
        if key.is_empty() {
            return;
        }
        // Unlimited and unknown tiers have no limit here: never counted.
        let Some(limit) = table.limit(level, tier) else {
            return;
        };
        self.count_with(key, limit, now, bytes);
    }

    /// Counts one event on `key` under `limit`; emits a decision when its state flips.
    fn count_with(&self, key: &str, limit: Limit, now: i64, bytes: i64) {
        if key.is_empty() {
            return;
        }
        let (amount, quota) = match limit.quota {
            Quota::Count(n) => (1, n),
            Quota::Bytes(n) => (bytes, n),
        };
        let start = window_start(now, limit.window);
        let mut shard = lock(&self.shards[shard_of(key)]);
        let counter = match shard.get_mut(key) {
            Some(counter) => counter,
            None => shard.entry(key.to_owned()).or_insert(Counter {
                window_start: start,
                used: 0,
                throttled: false,
                limit,
            }),
        };
        if counter.limit != limit || counter.window_start != start {
            // A new window (or a changed policy): the old state ends here.
            if counter.throttled {
                counter.throttled = false;
                self.emit(key, false, counter.window_end(), Some(counter.window_end()));
            }
            *counter = Counter {
                window_start: start,
                used: 0,
                throttled: false,
                limit,
            };
        }
        counter.used = counter.used.saturating_add(amount);
        let throttled = counter.used >= quota;
        if throttled != counter.throttled {
            counter.throttled = throttled;
            let end = counter.window_end();
            self.emit(key, throttled, end, None);
        }
    }

    /// Sends a decision and keeps the throttled index in step (under its lock, see
    /// [`Self::subscribe_with_snapshot`]). `old_expiry` is the index entry to drop when
    /// un-throttling a key whose window already ended.
    fn emit(&self, key: &str, throttled: bool, expiry: i64, old_expiry: Option<i64>) {
        let mut index = lock(&self.throttled);
        let entry = (old_expiry.unwrap_or(expiry), key.to_owned());
        if throttled {
            index.by_expiry.insert(entry);
        } else {
            index.by_expiry.remove(&entry);
        }
        // No subscriber is not an error: decisions are state, not a log.
        let _ = self.decisions.send(ThrottleDecision {
            throttle_key: key.to_owned(),
            is_throttled: throttled,
            expiry_time_stamp: expiry,
        });
        // Under the index's lock, so the records are in the order the decisions were sent.
        tollgate_protocol::tap::record(
            self.tap.get(),
            "decision",
            || serde_json::json!({ "key": key, "throttled": throttled, "until": expiry }),
        );
    }

    /// Rolls windows by the clock: every throttled key whose window has ended is un-throttled
    /// (one decision each), and idle counters are dropped now and then. Returns how many keys
    /// were un-throttled.
    pub fn tick(&self) -> usize {
        let now = self.clock.now_millis();
        let due: Vec<(i64, String)> = {
            let index = lock(&self.throttled);
            index
                .by_expiry
                .iter()
                .take_while(|(expiry, _)| *expiry <= now)
                .cloned()
                .collect()
        };
        let mut released = 0;
        for (expiry, key) in due {
            let mut shard = lock(&self.shards[shard_of(&key)]);
            if let Some(counter) = shard.get_mut(&key)
                && counter.throttled
                && counter.window_end() == expiry
            {
                counter.throttled = false;
                self.emit(&key, false, expiry, None);
                released += 1;
            } else {
                // The key's state moved on (a later event re-windowed it); drop the stale entry.
                lock(&self.throttled).by_expiry.remove(&(expiry, key));
            }
        }
        self.sweep(now);
        released
    }

    fn sweep(&self, now: i64) {
        {
            let mut index = lock(&self.throttled);
            if now < index.next_sweep {
                return;
            }
            index.next_sweep = now + SWEEP_EVERY_MILLIS;
        }
        for shard in self.shards.iter() {
            lock(shard).retain(|_, c| c.throttled || c.window_end() > now);
        }
    }

    /// How much of its window's quota `key` has used (tests, diagnostics).
    pub fn used(&self, key: &str) -> Option<i64> {
        let now = self.clock.now_millis();
        let shard = lock(&self.shards[shard_of(key)]);
        let counter = shard.get(key)?;
        (window_start(now, counter.limit.window) == counter.window_start).then_some(counter.used)
    }
}

fn shard_of(key: &str) -> usize {
    // DefaultHasher::new() has fixed keys: the same key lands in the same shard every run.
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() as usize) % SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_protocol::ManualClock;
    use tollgate_protocol::throttle::{
        AdvancedPolicy, BandwidthLimit, EventProperties, ThrottleLimit, TimeUnit, defaults, key,
    };

    /// 2026-11-26T12:00:00Z.
    const NOON: i64 = 1_795_694_400_000;

    fn tm() -> (Arc<TrafficManager>, ManualClock) {
        let clock = ManualClock::new(NOON);
        (
            TrafficManager::new(defaults(), Arc::new(clock.clone())),
            clock,
        )
    }

    fn app_event<'a>(app_key: &'a str, tier: &'a str) -> RequestEvent<'a> {
        RequestEvent {
            message_id: "m".into(),
            app_key: app_key.into(),
            app_tier: tier.into(),
            ..RequestEvent::default()
        }
    }

    #[test]
    fn concurrent_policy_events_lose_none_of_each_other() {
        let tm = TrafficManager::new(Vec::new(), Arc::new(ManualClock::new(NOON)));
        let all = defaults();
        std::thread::scope(|scope| {
            for policy in &all {
                let tm = &tm;
                scope.spawn(move || tm.upsert_policy(policy.clone()));
            }
        });
        assert_eq!(tm.policies().len(), all.len());
        std::thread::scope(|scope| {
            for policy in &all {
                let tm = &tm;
                scope.spawn(move || tm.remove_policy(policy.level(), policy.name()));
            }
        });
        assert!(tm.policies().is_empty());
    }

    fn drain(rx: &mut broadcast::Receiver<ThrottleDecision>) -> Vec<ThrottleDecision> {
        let mut out = Vec::new();
        while let Ok(d) = rx.try_recv() {
            out.push(d);
        }
        out
    }

    #[test]
    fn noon_constant_is_a_minute_boundary() {
        assert_eq!(NOON % 60_000, 0);
        assert_eq!(window_start(NOON + 59_999, 60_000), NOON);
        assert_eq!(window_start(NOON + 60_000, 60_000), NOON + 60_000);
    }

    #[test]
    fn events_at_12_00_59_999_and_12_01_00_000_fall_in_different_windows() {
        let (tm, clock) = tm();
        let mut rx = tm.subscribe();
        let key = key::application("1", "admin", "carbon.super");
        clock.set_millis(NOON + 1_000);
        for _ in 0..9 {
            tm.process(&app_event(&key, "10PerMin"));
        }
        clock.set_millis(NOON + 59_999);
        tm.process(&app_event(&key, "10PerMin"));
        let throttled = drain(&mut rx);
        assert_eq!(
            throttled,
            vec![ThrottleDecision {
                throttle_key: key.clone(),
                is_throttled: true,
                expiry_time_stamp: NOON + 60_000,
            }],
            "the tenth request of the minute reaches the limit"
        );
        clock.set_millis(NOON + 60_000);
        tm.process(&app_event(&key, "10PerMin"));
        assert_eq!(tm.used(&key), Some(1), "12:01:00.000 opens a new window");
        let released = drain(&mut rx);
        assert_eq!(released.len(), 1);
        assert!(!released[0].is_throttled);
    }

    #[test]
    fn a_decision_is_emitted_only_when_the_state_changes() {
        let (tm, _clock) = tm();
        let mut rx = tm.subscribe();
        for _ in 0..25 {
            tm.process(&app_event("k", "20PerMin"));
        }
        let decisions = drain(&mut rx);
        assert_eq!(decisions.len(), 1, "{decisions:?}");
        assert!(decisions[0].is_throttled);
        assert_eq!(tm.used("k"), Some(25));
    }

    #[test]
    fn an_application_throttle_reset_starts_the_count_over_and_unthrottles_at_once() {
        let (tm, clock) = tm();
        let key = key::application("app-1", "admin", "carbon.super");
        for _ in 0..10 {
            tm.process(&app_event(&key, "10PerMin"));
        }
        let (active, mut rx) = tm.subscribe_with_snapshot();
        assert_eq!(active.len(), 1);
        clock.set_millis(NOON + 5_000);
        tm.apply_event(&Event::ApplicationThrottleReset {
            application_id: "app-1".into(),
            user: "admin@carbon.super".into(),
        });
        assert_eq!(
            drain(&mut rx),
            vec![ThrottleDecision {
                throttle_key: key.clone(),
                is_throttled: false,
                expiry_time_stamp: NOON + 5_000,
            }]
        );
        assert!(tm.subscribe_with_snapshot().0.is_empty());
        assert_eq!(tm.used(&key), None);
        tm.process(&app_event(&key, "10PerMin"));
        assert_eq!(tm.used(&key), Some(1), "counted afresh");
        assert_eq!(tm.tick(), 0, "nothing left to release at the window's end");
    }

    #[test]
    fn tick_unthrottles_at_the_exact_window_boundary() {
        let (tm, clock) = tm();
        for _ in 0..10 {
            tm.process(&app_event("k", "10PerMin"));
        }
        let (active, mut rx) = tm.subscribe_with_snapshot();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].expiry_time_stamp, NOON + 60_000);
        clock.set_millis(NOON + 59_999);
        assert_eq!(tm.tick(), 0);
        assert!(drain(&mut rx).is_empty());
        clock.set_millis(NOON + 60_000);
        assert_eq!(tm.tick(), 1);
        assert_eq!(
            drain(&mut rx),
            vec![ThrottleDecision {
                throttle_key: "k".into(),
                is_throttled: false,
                expiry_time_stamp: NOON + 60_000,
            }]
        );
        assert!(tm.subscribe_with_snapshot().0.is_empty());
        assert_eq!(tm.tick(), 0, "released once");
    }

    #[test]
    fn bandwidth_policies_sum_message_sizes() {
        let clock = ManualClock::new(NOON);
        let policy = ThrottlePolicy::Advanced(AdvancedPolicy {
            policy_id: "x".into(),
            policy_name: "1KBPerHour".into(),
            display_name: String::new(),
            description: String::new(),
            is_deployed: true,
            default_limit: ThrottleLimit::Bandwidth {
                bandwidth: BandwidthLimit {
                    time_unit: TimeUnit::Hour,
                    unit_time: 1,
                    data_amount: 1,
                    data_unit: "KB".into(),
                },
            },
            conditional_groups: Vec::new(),
        });
        let tm = TrafficManager::new(vec![policy], Arc::new(clock.clone()));
        let mut rx = tm.subscribe();
        let event = |size| RequestEvent {
            api_key: "/a/1:1".into(),
            api_tier: "1KBPerHour".into(),
            properties: EventProperties {
                ip: None,
                message_size: size,
            },
            ..RequestEvent::default()
        };
        tm.process(&event(1000));
        assert!(drain(&mut rx).is_empty());
        tm.process(&event(24));
        let decisions = drain(&mut rx);
        assert_eq!(decisions.len(), 1);
        assert_eq!(decisions[0].expiry_time_stamp, NOON + 3_600_000);
        assert_eq!(tm.used("/a/1:1"), Some(1024));
    }

    #[test]
    fn unlimited_and_unknown_tiers_are_never_counted() {
        let (tm, _clock) = tm();
        let mut rx = tm.subscribe();
        for _ in 0..100 {
            tm.process(&app_event("u", "Unlimited"));
            tm.process(&app_event("x", "NoSuchTier"));
        }
        assert!(drain(&mut rx).is_empty());
        assert_eq!(tm.used("u"), None);
        assert_eq!(tm.used("x"), None);
    }

    #[test]
    fn api_key_in_the_resource_slot_is_counted_once() {
        let (tm, _clock) = tm();
        let event = RequestEvent {
            api_key: "/a/1:1".into(),
            api_tier: "10KPerMin".into(),
            resource_key: "/a/1:1".into(),
            resource_tier: "10KPerMin".into(),
            ..RequestEvent::default()
        };
        tm.process(&event);
        assert_eq!(tm.used("/a/1:1"), Some(1));
    }

    #[test]
    fn a_changed_policy_starts_its_keys_over_and_an_unchanged_one_keeps_them() {
        let (tm, _clock) = tm();
        let mut rx = tm.subscribe();
        for _ in 0..10 {
            tm.process(&app_event("k", "10PerMin"));
            tm.process(&app_event("j", "20PerMin"));
        }
        assert_eq!(drain(&mut rx).len(), 1);
        let mut policies = defaults();
        for p in &mut policies {
            if let ThrottlePolicy::Application(a) = p
                && a.policy_name == "10PerMin"
            {
                a.default_limit = ThrottleLimit::requests(15, 1, TimeUnit::Min);
            }
        }
        tm.set_policies(policies);
        tm.process(&app_event("k", "10PerMin"));
        tm.process(&app_event("j", "20PerMin"));
        let decisions = drain(&mut rx);
        assert_eq!(decisions.len(), 1, "k is released: {decisions:?}");
        assert!(!decisions[0].is_throttled);
        assert_eq!(tm.used("k"), Some(1));
        assert_eq!(tm.used("j"), Some(11));
    }

    fn custom_rule(name: &str, limit: i64) -> ThrottlePolicy {
        ThrottlePolicy::Custom(tollgate_protocol::throttle::CustomRule {
            policy_name: name.into(),
            key_template: "$userId".into(),
            siddhi_query: format!(
                "FROM RequestStream SELECT userId, (userId == 'admin@carbon.super') AS isEligible, \
                 str:concat('admin@carbon.super','') as throttleKey INSERT INTO EligibilityStream; \
                 FROM EligibilityStream[isEligible==true]#throttler:timeBatch(1 min) \
                 SELECT throttleKey, (count(userId) >= {limit}) as isThrottled, expiryTimeStamp \
                 group by throttleKey INSERT ALL EVENTS into ResultStream;"
            ),
            ..Default::default()
        })
    }

    fn user_event(user: &str) -> RequestEvent<'_> {
        RequestEvent {
            user_id: user.into(),
            app_key: format!("1:{user}").into(),
            app_tier: "Unlimited".into(),
            ..RequestEvent::default()
        }
    }

    #[test]
    fn custom_rules_count_eligible_events_under_the_querys_key_per_window() {
        let (tm, clock) = tm();
        tm.upsert_policy(custom_rule("admin5", 5));
        let mut rx = tm.subscribe();
        for _ in 0..4 {
            tm.process(&user_event("admin@carbon.super"));
            tm.process(&user_event("bob@carbon.super"));
        }
        assert!(drain(&mut rx).is_empty());
        assert_eq!(tm.used("admin@carbon.super"), Some(4));
        assert_eq!(tm.used("bob@carbon.super"), None, "not eligible");
        tm.process(&user_event("admin@carbon.super"));
        assert_eq!(
            drain(&mut rx),
            vec![ThrottleDecision {
                throttle_key: "admin@carbon.super".into(),
                is_throttled: true,
                expiry_time_stamp: NOON + 60_000,
            }]
        );
        clock.set_millis(NOON + 60_000);
        assert_eq!(tm.tick(), 1, "the window's end releases the key");
        // An unchanged rule keeps its count; a changed one starts over.
        tm.process(&user_event("admin@carbon.super"));
        tm.upsert_policy(custom_rule("admin5", 5));
        assert_eq!(tm.used("admin@carbon.super"), Some(1));
        tm.upsert_policy(custom_rule("admin5", 6));
        tm.process(&user_event("admin@carbon.super"));
        assert_eq!(tm.used("admin@carbon.super"), Some(1));
        tm.remove_policy(PolicyLevel::Custom, "admin5");
        tm.process(&user_event("admin@carbon.super"));
        assert_eq!(tm.used("admin@carbon.super"), Some(1), "no longer counted");
    }
}
