//! tollgate-gateway: WSO2 API-M 4.x's gateway worker.
//!
//! A gateway node follows its `gateway_labels`: it pulls every artifact and the subscription
//! data for them from the control plane, follows the event log, and serves API traffic on the
//! passthrough listeners through a lean request path, one phase per module, in this order
//! (pingora-style; WSO2's handler chain, docs/wso2-behaviour.md §3.1):
//!
//! | phase | module | what it decides |
//! |---|---|---|
//! | 1 | [`route`] | dot segments refused (400); API by context (version included), transport, lifecycle, resource (verb + URI template): 404 / 405 / 403 / 503 |
//! | 2 | [`cors`] | CORS headers of the resource; preflights answered here |
//! | 3 | [`authenticate`] | bearer JWT (RS256, the trusted key its `kid` names, issuer, clock, revocation), verified-token cache; 900901 / 900902; [`api_key`]: WSO2 API keys (`apikey` header or query), permitted IPs and referers |
//! | 4 | [`authorize`] | key mapping → application and key type, subscription, scopes; 900908 / 900907 / 900909 / 900910 |
//! | 5 | [`throttle`] | deny policies, API/resource, subscription (+ local burst), application tiers on the TM's decisions, local hard limit; else one event to the TMs; 900805 / 900800 / 900802 / 900804 / 900807 / 900803 / 900801 |
//! | 6 | [`key_type`] | key type against the environment type and endpoints (the §3.3 matrix) |
//! | 7 | [`proxy`] | backend call on the pooled client, streamed; 101503 / 101504; a client's broken body 400 / 101001; [`endpoint`]: load-balance and failover groups, suspension (Synapse ACTIVE / TIMEOUT / SUSPENDED) where the Publisher configured it (303001 / 303000), Basic and Digest credentials to the backend; [`url_template`]: `{uri.var.*}` / `{query.param.*}` endpoint templates |
//! | 8 | [`respond`] | the backend's response with CORS, and every WSO2 error body in one place |
//!
//! The phases run in [`pipeline`] (`Gateway::handle`, and the hyper service of the passthrough
//! listeners). Around them:
//!
//! | module | what it holds |
//! |---|---|
//! | [`settings`] | [`GatewaySettings`], [`CorsSettings`], [`ThrottleSettings`], from `deployment.toml` |
//! | [`gateway`] | [`Gateway`]: routing table and subscription store swapped atomically, sync progress |
//! | [`store`] | the subscription store (applications, key mappings, subscriptions, issuers, revocations) |
//! | [`sync`] | snapshot + throttling data + event stream from the control plane, reconnect with backoff |
//! | [`management`] | `/api/am/gateway/v2/apis` (Basic auth), the start-up health check, `/_tollgate/sync` |
//! | [`runtime`] | the node's runtime home: one file per served API, the start-up cleaning the `skip_list` governs, custom API files |
//!
//! Throttling follows WSO2's split: the Traffic Manager counts quotas across every gateway and
//! pushes decisions; a gateway holds them ([`tollgate_traffic_manager::DecisionFollower`]),
//! refuses on them, and publishes one event per admitted request without waiting
//! ([`tollgate_traffic_manager::EventPublisher`]). Burst control and hard limits are counted on
//! each node. [`start`] attaches both clients when `[apim.throttling]` enables them.
//!
//! Not implemented yet (said, not faked): the endpoint timeout settings (`actionSelect`,
//! `actionDuration`), endpoint security other than Basic and Digest, load-balance algorithms
//! other than round robin, the internal key, Basic auth, mutual
//! TLS, opaque tokens, SOAP fault bodies, the backend JWT (`X-JWT-Assertion`), custom
//! (Siddhi) throttle policies, conditional groups of advanced policies, header/query/JWT-claim
//! based throttling, API products' subscription keys.

pub mod api_key;
pub mod authenticate;
pub mod authorize;
pub mod backend_jwt;
pub mod basic_auth;
pub mod cors;
mod defects;
pub mod endpoint;
pub mod gateway;
pub mod internal_key;
pub mod key_type;
pub mod management;
pub mod pipeline;
pub mod proxy;
pub mod respond;
pub mod route;
pub mod runtime;
pub mod settings;
pub mod store;
pub mod sync;
pub mod throttle;
pub mod url_template;

pub use gateway::Gateway;
pub use pipeline::PassthroughService;
pub use respond::ThrottleCode;
pub use respond::{GatewayError, ProxyBody};
pub use route::Transport;
pub use runtime::RuntimeHome;
pub use settings::{CorsSettings, GatewaySettings, ThrottleSettings};

use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tollgate_net::{Listener, Outbound, serve};
use tollgate_protocol::SharedClock;
use tollgate_protocol::internal::SyncStatus;

/// The three listeners of a gateway node.
#[derive(Debug)]
pub struct GatewayListeners<L> {
    /// `[transport.passthru_http]`, 8280 + offset.
    pub passthru_http: L,
    /// `[transport.passthru_https]`, 8243 + offset.
    pub passthru_https: L,
    /// Management HTTPS, 9443 + offset.
    pub management: L,
}

/// A running gateway node.
#[derive(Debug, Clone)]
pub struct GatewayHandle {
    gateway: Arc<Gateway>,
    /// Its servers, sync task and Traffic Manager clients.
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl GatewayHandle {
    pub fn status(&self) -> SyncStatus {
        self.gateway.status()
    }

    /// Resolves once this node applied event `seq`.
    pub async fn wait_for_seq(&self, seq: u64) {
        self.gateway.wait_for_seq(seq).await
    }

    /// Resolves once the start-up snapshot is applied and the event stream followed.
    pub async fn wait_synced(&self) {
        self.gateway.wait_synced().await
    }

    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Stops the gateway and waits until every task it spawned has ended: when this returns,
    /// its listeners are closed (their ports can be bound again) and its connections dropped.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Makes `tasks` wait for `other` too (a client that tracks its own tasks).
fn track(tasks: &TaskTracker, other: &TaskTracker) {
    let other = other.clone();
    tasks.spawn(async move { other.wait().await });
}

/// Starts following the TM's decisions and publishing events as `[apim.throttling]` says. A
/// URL that does not parse is logged and leaves that client off: the node still serves, with
/// local limits only (what a WSO2 gateway does when its TM connection cannot be set up).
fn attach_traffic_manager(
    gateway: &Gateway,
    outbound: &Outbound,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
) {
    let settings = &gateway.settings().throttle;
    if !settings.decision_endpoints.is_empty() {
        match tollgate_traffic_manager::DecisionFollower::spawn(
            &settings.decision_endpoints,
            outbound,
            tollgate_traffic_manager::Backoff::default(),
            shutdown.clone(),
        ) {
            Ok(follower) => {
                track(tasks, follower.tasks());
                gateway.throttle().attach_follower(&follower);
            }
            Err(error) => tracing::error!(%error, "throttle decisions not followed"),
        }
    }
    if !settings.publish_groups.is_empty() {
        match tollgate_traffic_manager::EventPublisher::spawn(
            &settings.publish_groups,
            outbound,
            tollgate_traffic_manager::PublisherSettings::default(),
            shutdown.clone(),
        ) {
            Ok(publisher) => {
                track(tasks, publisher.tasks());
                gateway.throttle().attach_publisher(publisher);
            }
            Err(error) => tracing::error!(%error, "request events not published"),
        }
    }
}

/// Starts a gateway node: cleans its runtime home and deploys the custom API files left there
/// (when it has one, [`Gateway::deploy_custom_files`]), then the sync task and the three
/// servers, until `shutdown` (or [`GatewayHandle::shutdown`], which also waits for them).
pub fn start<L: Listener>(
    settings: GatewaySettings,
    listeners: GatewayListeners<L>,
    tls: Arc<rustls::ServerConfig>,
    outbound: Outbound,
    clock: SharedClock,
    runtime: Option<RuntimeHome>,
    shutdown: CancellationToken,
) -> GatewayHandle {
    let shutdown = shutdown.child_token();
    let tasks = TaskTracker::new();
    let gateway = Gateway::with_runtime(settings, &outbound, clock, runtime);
    gateway.deploy_custom_files();
    attach_traffic_manager(&gateway, &outbound, &shutdown, &tasks);
    tasks.spawn(sync::run(gateway.clone(), outbound, shutdown.clone()));
    // In sync mode the API ports accept nothing until the start-up sync is done: a client (a
    // load balancer whose connection was already on its way) waits in the listen backlog and is
    // served the synchronised state, never a 404 of a node that has not caught up.
    let blocking = gateway.settings().blocking_startup;
    let passthrough = |listener, tls, transport| {
        let gateway = gateway.clone();
        let shutdown = shutdown.clone();
        async move {
            if blocking {
                tokio::select! {
                    // Shutdown first, and the same branch every run (not tokio's random pick).
                    biased;
                    () = shutdown.cancelled() => return,
                    () = gateway.wait_synced() => {}
                }
            }
            let clock = gateway.clock.clone();
            serve(
                listener,
                tls,
                gateway.passthrough(transport),
                clock,
                shutdown,
            )
            .await;
        }
    };
    tasks.spawn(passthrough(listeners.passthru_http, None, Transport::Http));
    tasks.spawn(passthrough(
        listeners.passthru_https,
        Some(tls.clone()),
        Transport::Https,
    ));
    tasks.spawn(serve(
        listeners.management,
        Some(tls),
        management::ManagementService::new(gateway.clone()),
        gateway.clock.clone(),
        shutdown.clone(),
    ));
    GatewayHandle {
        gateway,
        tasks,
        shutdown,
    }
}
