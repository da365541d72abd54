//! The throttle phase (docs/wso2-behaviour.md §4.2, §4.3): every level's refusal with WSO2's status,
//! code, body and headers; local burst and hard limits; deny policies; and, against a real
//! Traffic Manager on loopback, a quota that holds, ignores `Unlimited` and ends with its
//! window by the injected clock.

use crate::common::*;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tollgate_gateway::Gateway;
use tollgate_protocol::ManualClock;
use tollgate_protocol::artifact::{ApiArtifact, EnvironmentType, MaxTps};
use tollgate_protocol::event::Event;
use tollgate_protocol::store::{Application, SubscriptionStatus};
use tollgate_protocol::throttle::{
    ConditionType, CustomRule, DenyPolicy, PolicyLevel, SubscriptionPolicy, ThrottleData,
    ThrottleDecision, ThrottleLimit, ThrottlePolicy, TimeUnit, defaults,
};
use tollgate_traffic_manager::{
    Backoff, DecisionFollower, EventPublisher, PublishGroup, PublisherSettings, ThrottleDataHolder,
    TrafficManager,
};

const CONTEXT: &str = "/pizzashack/1.0.0";
const SUB_KEY_GOLD: &str = "app-1:/pizzashack/1.0.0:1.0.0:Gold";
const APP_KEY: &str = "app-1:admin@carbon.super";
const API_KEY: &str = "/pizzashack/1.0.0:1.0.0";
const RESOURCE_KEY: &str = "/pizzashack/1.0.0/1.0.0/menu:GET";
/// The end of the minute `NOW_MILLIS` falls in (2023-11-14T22:14:00Z).
const WINDOW_END: i64 = 1_700_000_040_000;
const BOUNDED: Duration = Duration::from_secs(10);

fn pizzashack(addr: std::net::SocketAddr) -> ApiArtifact {
    let (p, s) = endpoints(addr);
    artifact("pizza", CONTEXT, EnvironmentType::Hybrid, p, s)
}

struct Fixture {
    gw: Arc<Gateway>,
    clock: ManualClock,
    token: String,
    _backend: CancellationToken,
}

/// A gateway serving pizzashack to `app-1`, subscribed with `sub_tier`, application tier
/// `app_tier`; `edit` may change the artifact.
async fn fixture(sub_tier: &str, app_tier: &str, edit: impl FnOnce(&mut ApiArtifact)) -> Fixture {
    let (addr, backend_stop) = backend().await;
    let clock = ManualClock::new(NOW_MILLIS);
    let gw = gateway_with(settings(&["Default"]), &clock);
    let mut api = pizzashack(addr);
    edit(&mut api);
    gw.apply_snapshot(&snapshot("Default", vec![api], 10));
    let mut sub = subscription("sub-pizza", APP, "pizza", SubscriptionStatus::Unblocked);
    sub.throttling_policy = sub_tier.into();
    gw.apply_event(&envelope(
        11,
        Event::SubscriptionsUpdate { subscription: sub },
    ));
    gw.apply_event(&envelope(
        12,
        Event::ApplicationUpdate {
            application: Application {
                id: APP.into(),
                name: APP.into(),
                owner: "admin".into(),
                throttling_policy: app_tier.into(),
                token_type: "JWT".into(),
            },
        },
    ));
    Fixture {
        gw,
        clock,
        token: token(PROD_KEY),
        _backend: backend_stop,
    }
}

impl Fixture {
    async fn menu(&self) -> Answer {
        get(
            &self.gw,
            &format!("{CONTEXT}/menu"),
            Some(self.token.as_str()),
        )
        .await
    }

    /// Decisions applied by hand (a TM's, without the TM).
    fn holder(&self) -> Arc<ThrottleDataHolder> {
        let holder = Arc::new(ThrottleDataHolder::new());
        self.gw.throttle().attach_decisions(holder.clone());
        holder
    }
}

fn throttled(key: &str, expiry: i64) -> ThrottleDecision {
    ThrottleDecision {
        throttle_key: key.into(),
        is_throttled: true,
        expiry_time_stamp: expiry,
    }
}

/// Status, the headers a throttled client reads, and the body.
fn rendered(answer: &Answer) -> String {
    let mut out = format!("HTTP {}\n", answer.status.as_u16());
    for name in ["content-type", "retry-after"] {
        if let Some(v) = answer.headers.get(name) {
            out.push_str(&format!("{name}: {}\n", v.to_str().unwrap()));
        }
    }
    out.push('\n');
    out.push_str(&answer.body);
    out
}

fn subscription_policy(
    name: &str,
    per_min: i64,
    stop: bool,
    burst: Option<(i64, TimeUnit)>,
) -> ThrottlePolicy {
    ThrottlePolicy::Subscription(SubscriptionPolicy {
        policy_id: format!("id-{name}"),
        policy_name: name.into(),
        display_name: name.into(),
        description: String::new(),
        is_deployed: true,
        graphql_max_complexity: 0,
        graphql_max_depth: 0,
        default_limit: ThrottleLimit::requests(per_min, 1, TimeUnit::Min),
        rate_limit_count: burst.map_or(0, |b| b.0),
        rate_limit_time_unit: burst.map(|b| b.1),
        subscriber_count: None,
        custom_attributes: vec![],
        stop_on_quota_reach: stop,
        billing_plan: None,
        permissions: None,
    })
}

fn with_policies(extra: Vec<ThrottlePolicy>) -> ThrottleData {
    let mut policies = defaults();
    policies.extend(extra);
    ThrottleData {
        event_seq: 12,
        policies,
        deny_policies: vec![],
    }
}

#[tokio::test]
async fn a_spent_subscription_quota_is_429_900804_with_the_window_end() {
    let f = fixture("Gold", "Unlimited", |_| {}).await;
    let holder = f.holder();
    assert_eq!(f.menu().await.status, 200);
    holder.apply(&throttled(SUB_KEY_GOLD, WINDOW_END));
    let answer = f.menu().await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.json()["code"], "900804");
    assert_eq!(
        answer.json()["nextAccessTime"],
        "2023-Nov-14 22:14:00+0000 UTC"
    );
    assert_eq!(
        answer.headers["retry-after"],
        "Tue, 14 Nov 2023 22:14:00 GMT"
    );
    assert_wso2_snapshot!("throttled_subscription", rendered(&answer));
}

#[tokio::test]
async fn api_level_tier_wins_over_resource_tiers_with_900800() {
    let f = fixture("Unlimited", "Unlimited", |api| {
        api.api_throttling_policy = Some("10KPerMin".into());
        api.operations[0].throttling_policy = Some("20KPerMin".into());
    })
    .await;
    let holder = f.holder();
    // The resource key is not looked at while the API has a tier.
    holder.apply(&throttled(RESOURCE_KEY, WINDOW_END));
    assert_eq!(f.menu().await.status, 200);
    holder.apply(&throttled(API_KEY, WINDOW_END));
    let answer = f.menu().await;
    assert_eq!(answer.status, 429);
    assert_wso2_snapshot!("throttled_api", rendered(&answer));
}

#[tokio::test]
async fn a_resource_tier_is_900802_and_an_unlimited_one_is_never_looked_up() {
    let f = fixture("Unlimited", "Unlimited", |api| {
        api.operations[0].throttling_policy = Some("10KPerMin".into());
        api.operations[1].throttling_policy = Some("Unlimited".into());
    })
    .await;
    let holder = f.holder();
    holder.apply(&throttled(RESOURCE_KEY, WINDOW_END));
    holder.apply(&throttled("/pizzashack/1.0.0/1.0.0/order:POST", WINDOW_END));
    let answer = f.menu().await;
    assert_eq!(answer.status, 429);
    assert_wso2_snapshot!("throttled_resource", rendered(&answer));
    let auth = format!("Bearer {}", f.token);
    let order = call(
        &f.gw,
        http::Method::POST,
        &format!("{CONTEXT}/order"),
        &[("authorization", auth.as_str())],
        tollgate_gateway::Transport::Https,
    )
    .await;
    assert_eq!(order.status, 200, "Unlimited resource tier: {}", order.body);
}

#[tokio::test]
async fn a_spent_application_quota_is_900803_per_end_user() {
    let f = fixture("Unlimited", "10PerMin", |_| {}).await;
    let holder = f.holder();
    holder.apply(&throttled("app-1:someone-else@carbon.super", WINDOW_END));
    assert_eq!(f.menu().await.status, 200, "another user's quota");
    holder.apply(&throttled(APP_KEY, WINDOW_END));
    let answer = f.menu().await;
    assert_eq!(answer.status, 429);
    assert_wso2_snapshot!("throttled_application", rendered(&answer));
}

#[tokio::test]
async fn without_stop_on_quota_reach_a_throttled_subscription_still_passes() {
    let f = fixture("Lenient", "Unlimited", |_| {}).await;
    f.gw.throttle()
        .apply_data(&with_policies(vec![subscription_policy(
            "Lenient", 5, false, None,
        )]));
    let holder = f.holder();
    holder.apply(&throttled(
        "app-1:/pizzashack/1.0.0:1.0.0:Lenient",
        WINDOW_END,
    ));
    assert_eq!(f.menu().await.status, 200);
}

#[tokio::test]
async fn burst_control_is_counted_on_this_node_and_answers_900807_without_a_time() {
    let f = fixture("Bursty", "Unlimited", |_| {}).await;
    f.gw.throttle()
        .apply_data(&with_policies(vec![subscription_policy(
            "Bursty",
            1000,
            true,
            Some((3, TimeUnit::Sec)),
        )]));
    for _ in 0..3 {
        assert_eq!(f.menu().await.status, 200);
    }
    let answer = f.menu().await;
    assert_eq!(answer.status, 429);
    assert!(!answer.headers.contains_key("retry-after"));
    assert_wso2_snapshot!("throttled_subscription_burst", rendered(&answer));
    // Another gateway node counts its own burst window.
    let (addr, _stop) = backend().await;
    let other = gateway_with(settings(&["Default"]), &f.clock);
    other.apply_snapshot(&snapshot("Default", vec![pizzashack(addr)], 10));
    let mut sub = subscription("sub-pizza", APP, "pizza", SubscriptionStatus::Unblocked);
    sub.throttling_policy = "Bursty".into();
    other.apply_event(&envelope(
        11,
        Event::SubscriptionsUpdate { subscription: sub },
    ));
    other
        .throttle()
        .apply_data(&with_policies(vec![subscription_policy(
            "Bursty",
            1000,
            true,
            Some((3, TimeUnit::Sec)),
        )]));
    let there = get(&other, &format!("{CONTEXT}/menu"), Some(f.token.as_str())).await;
    assert_eq!(there.status, 200, "{}", there.body);
    // A second later (the window opened with the first request) this node admits again.
    f.clock.advance_millis(1_000);
    assert_eq!(f.menu().await.status, 200);
}

#[tokio::test]
async fn the_hard_limit_is_503_900801_per_key_type_and_second() {
    let f = fixture("Unlimited", "Unlimited", |api| {
        api.max_tps = Some(MaxTps {
            production: Some(2),
            sandbox: None,
        });
    })
    .await;
    assert_eq!(f.menu().await.status, 200);
    assert_eq!(f.menu().await.status, 200);
    let answer = f.menu().await;
    assert_eq!(answer.status, 503);
    assert_wso2_snapshot!("hard_limit_reached", rendered(&answer));
    let sandbox = get(
        &f.gw,
        &format!("{CONTEXT}/menu"),
        Some(token(SANDBOX_KEY).as_str()),
    )
    .await;
    assert_eq!(sandbox.status, 200, "no sandbox maxTps");
    f.clock.advance_millis(1_000);
    assert_eq!(f.menu().await.status, 200);
}

#[tokio::test]
async fn a_deny_policy_blocks_with_403_900805_until_it_is_removed() {
    let f = fixture("Unlimited", "Unlimited", |_| {}).await;
    let deny = DenyPolicy {
        condition_id: "deny-1".into(),
        condition_type: ConditionType::Api,
        condition_value: serde_json::json!(CONTEXT),
        condition_status: true,
    };
    f.gw.apply_event(&envelope(
        13,
        Event::Blocking {
            condition: deny.clone(),
            state: true,
        },
    ));
    assert_eq!(f.gw.throttle().blocking_conditions(), 1);
    let answer = f.menu().await;
    assert_eq!(answer.status, 403);
    assert_wso2_snapshot!("message_blocked", rendered(&answer));
    f.gw.apply_event(&envelope(
        14,
        Event::Blocking {
            condition: deny,
            state: false,
        },
    ));
    assert_eq!(f.menu().await.status, 200);
    // An application deny matches `{owner}:{name}`.
    f.gw.apply_event(&envelope(
        15,
        Event::Blocking {
            condition: DenyPolicy {
                condition_id: "deny-2".into(),
                condition_type: ConditionType::Application,
                condition_value: serde_json::json!("admin:app-1"),
                condition_status: true,
            },
            state: true,
        },
    ));
    assert_eq!(f.menu().await.status, 403);
}

#[tokio::test]
async fn a_wrong_type_key_is_throttled_before_key_type_routing() {
    let f = fixture("Gold", "Unlimited", |api| {
        api.environment.kind = EnvironmentType::Production;
    })
    .await;
    let holder = f.holder();
    holder.apply(&throttled(SUB_KEY_GOLD, WINDOW_END));
    let sandbox = get(
        &f.gw,
        &format!("{CONTEXT}/menu"),
        Some(token(SANDBOX_KEY).as_str()),
    )
    .await;
    assert_eq!(
        sandbox.status, 429,
        "throttle runs before the key-type filter"
    );
}

// --- against a real Traffic Manager ------------------------------------------------------

struct Tm {
    tm: Arc<TrafficManager>,
    receiver: String,
    decisions: String,
    stop: CancellationToken,
}

async fn traffic_manager(clock: &ManualClock, policies: Vec<ThrottlePolicy>) -> Tm {
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let decisions = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let urls = (
        format!("tcp://{}", receiver.local_addr().unwrap()),
        format!("tcp://{}", decisions.local_addr().unwrap()),
    );
    let tm = TrafficManager::new(policies, Arc::new(clock.clone()));
    let stop = CancellationToken::new();
    let serving = tm.clone();
    let token = stop.clone();
    tokio::spawn(async move { serving.serve(receiver, decisions, token).await });
    Tm {
        tm,
        receiver: urls.0,
        decisions: urls.1,
        stop,
    }
}

/// Attaches a follower and a publisher for `tm` and waits for the decision stream.
async fn follow(gw: &Gateway, tm: &Tm) {
    let follower = DecisionFollower::spawn(
        std::slice::from_ref(&tm.decisions),
        &outbound(),
        Backoff::default(),
        tm.stop.clone(),
    )
    .unwrap();
    gw.throttle().attach_follower(&follower);
    let publisher = EventPublisher::spawn(
        &[PublishGroup {
            urls: vec![tm.receiver.clone()],
            load_balance: false,
        }],
        &outbound(),
        PublisherSettings::default(),
        tm.stop.clone(),
    )
    .unwrap();
    gw.throttle().attach_publisher(publisher);
    let mut status = gw.throttle().follower_status().unwrap();
    tokio::time::timeout(BOUNDED, status.wait_for(|s| s.connected.is_some()))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_tm_quota_holds_and_ends_exactly_at_its_window_by_the_injected_clock() {
    let five = subscription_policy("FivePerMin", 5, true, None);
    let f = fixture("FivePerMin", "Unlimited", |_| {}).await;
    f.gw.throttle()
        .apply_data(&with_policies(vec![five.clone()]));
    let mut policies = defaults();
    policies.push(five);
    let tm = traffic_manager(&f.clock, policies).await;
    follow(&f.gw, &tm).await;

    for _ in 0..5 {
        assert_eq!(f.menu().await.status, 200);
    }
    // The fifth event reaches the limit: the TM decides, the follower applies it.
    let mut status = f.gw.throttle().follower_status().unwrap();
    tokio::time::timeout(BOUNDED, status.wait_for(|s| s.decisions >= 1))
        .await
        .unwrap()
        .unwrap();
    let key = "app-1:/pizzashack/1.0.0:1.0.0:FivePerMin";
    assert_eq!(tm.tm.used(key), Some(5));
    let answer = f.menu().await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.json()["code"], "900804");
    assert_eq!(
        answer.headers["retry-after"],
        "Tue, 14 Nov 2023 22:14:00 GMT"
    );

    // Throttled through the expiry millisecond (`expiry >= now`), free right after.
    f.clock.set_millis(WINDOW_END);
    assert_eq!(f.menu().await.status, 429);
    f.clock.set_millis(WINDOW_END + 1);
    assert_eq!(f.menu().await.status, 200);
    // The TM's tick releases the key too: one more decision reaches the gateway.
    tm.tm.tick();
    tokio::time::timeout(BOUNDED, status.wait_for(|s| s.decisions >= 2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(f.gw.throttle().decisions().unwrap().len(), 0);
    tm.stop.cancel();
}

#[tokio::test]
async fn unlimited_tiers_are_published_but_never_counted() {
    let f = fixture("Unlimited", "Unlimited", |_| {}).await;
    let tm = traffic_manager(&f.clock, defaults()).await;
    follow(&f.gw, &tm).await;
    for _ in 0..20 {
        assert_eq!(f.menu().await.status, 200);
    }
    let mut delivered = f.gw.throttle().watch_publisher().unwrap();
    tokio::time::timeout(BOUNDED, delivered.wait_for(|s| s.delivered >= 20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tm.tm.used("app-1:/pizzashack/1.0.0:1.0.0:Unlimited"), None);
    assert_eq!(tm.tm.used(APP_KEY), None);
    assert_eq!(tm.tm.used(RESOURCE_KEY), None);
    tm.stop.cancel();
}

#[tokio::test]
async fn an_unsecured_resource_is_counted_per_client_ip_on_the_unauthenticated_tier() {
    use http_body_util::{BodyExt, Full};
    let f = fixture("Unlimited", "Unlimited", |api| {
        api.operations[0].auth_type = "None".into();
    })
    .await;
    let holder = f.holder();
    holder.apply(&throttled(
        "10.1.2.3:/pizzashack/1.0.0:1.0.0:Unauthenticated",
        WINDOW_END,
    ));
    let from = |ip: &str| {
        let mut request = http::Request::get(format!("{CONTEXT}/menu"))
            .body(Full::new(bytes::Bytes::new()))
            .unwrap();
        request.extensions_mut().insert(tollgate_net::RemoteAddr(
            format!("{ip}:40000").parse().unwrap(),
        ));
        request
    };
    let refused =
        f.gw.handle(from("10.1.2.3"), tollgate_gateway::Transport::Https)
            .await;
    assert_eq!(refused.status(), 429);
    let body = refused.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["code"], "900804");
    let other =
        f.gw.handle(from("10.1.2.4"), tollgate_gateway::Transport::Https)
            .await;
    assert_eq!(other.status(), 200, "another client's quota");
}

fn custom_rule(name: &str, template: &str, limit: i64) -> ThrottlePolicy {
    ThrottlePolicy::Custom(CustomRule {
        policy_name: name.into(),
        key_template: template.into(),
        siddhi_query: format!(
            "FROM RequestStream SELECT userId, (userId == 'admin@carbon.super') AS isEligible, \
             str:concat('admin@carbon.super','') as throttleKey INSERT INTO EligibilityStream; \
             FROM EligibilityStream[isEligible==true]#throttler:timeBatch(1 min) \
             SELECT throttleKey, (count(userId) >= {limit}) as isThrottled, expiryTimeStamp \
             group by throttleKey INSERT ALL EVENTS into ResultStream;"
        ),
        ..CustomRule::default()
    })
}

#[tokio::test]
async fn a_custom_rules_key_template_is_filled_per_request_and_answers_900806() {
    let f = fixture("Unlimited", "Unlimited", |_| {}).await;
    let holder = f.holder();
    holder.apply(&throttled(
        "admin@carbon.super:/pizzashack/1.0.0",
        WINDOW_END,
    ));
    assert_eq!(f.menu().await.status, 200, "no rule names that key yet");
    f.gw.apply_event(&envelope(
        13,
        Event::PolicyCreate {
            policy: Box::new(custom_rule("perApi", "$userId:$apiContext", 5)),
        },
    ));
    let answer = f.menu().await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.json()["code"], "900806");
    assert_eq!(answer.json()["message"], "Message throttled out");
    assert_eq!(
        answer.headers["retry-after"],
        "Tue, 14 Nov 2023 22:14:00 GMT"
    );
    f.gw.apply_event(&envelope(
        14,
        Event::PolicyDelete {
            policy_level: PolicyLevel::Custom,
            policy_id: String::new(),
            policy_name: "perApi".into(),
        },
    ));
    assert_eq!(f.menu().await.status, 200, "the rule is gone");
}

#[tokio::test]
async fn a_custom_rule_counted_by_the_tm_refuses_its_user_until_the_window_ends() {
    let f = fixture("Unlimited", "Unlimited", |_| {}).await;
    let rule = custom_rule("admin3", "$userId", 3);
    f.gw.throttle()
        .apply_data(&with_policies(vec![rule.clone()]));
    let mut policies = defaults();
    policies.push(rule);
    let tm = traffic_manager(&f.clock, policies).await;
    follow(&f.gw, &tm).await;

    for _ in 0..3 {
        assert_eq!(f.menu().await.status, 200);
    }
    let mut status = f.gw.throttle().follower_status().unwrap();
    tokio::time::timeout(BOUNDED, status.wait_for(|s| s.decisions >= 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tm.tm.used("admin@carbon.super"), Some(3));
    let answer = f.menu().await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.json()["code"], "900806");
    f.clock.set_millis(WINDOW_END + 1);
    assert_eq!(f.menu().await.status, 200, "a new window");
    tm.stop.cancel();
}
