//! One Tollgate node: whatever `[server] server_role` a checked `deployment.toml` names, built
//! from that config plus resources handed in from outside.
//!
//! | role | runs | listeners (before `[server] offset`) |
//! |---|---|---|
//! | `control-plane` | Publisher, Developer Portal, Key Manager, event hub, Traffic Manager | management HTTPS 9443, servlet HTTP 9763, TM receiver 9611, TM decisions 5672 |
//! | `gateway-worker` | a gateway following the control plane's event hub and the TM's decisions | passthrough HTTP 8280, HTTPS 8243, management HTTPS 9443 |
//! | `default` (all-in-one) | both | 9443 (shared, as in WSO2), 9763, 9611, 5672, 8280, 8243 |
//! | `traffic-manager` | — not built: [`NodeError::UnsupportedRole`] | |
//!
//! A node never binds a socket, reads the clock or picks a seed itself: the harness (in-process
//! or simulated) and the `tollgate-node` binary ([`run`]: real sockets, for containers and manual
//! runs) bind every listener [`required_ports`] names and pass them in [`NodeResources`], with the
//! [`Outbound`] it reaches other nodes through, the clock, the seed and the TLS config. That is
//! what lets the same node run on loopback, in a simulator or in a container (mini-redis's
//! `server::run(listener, shutdown)`, linkerd's injected binders).
//!
//! TLS: every HTTPS listener serves the built-in `wso2carbon` pair
//! ([`tollgate_net::security`]) unless `[keystore.tls] file_name` names a `.pem` file; then
//! that file (one PEM holding the certificate chain and the private key, path relative to the
//! `deployment.toml`'s folder) serves HTTPS and signs tokens. JKS keystores are not read: a
//! `.jks` name keeps the built-in pair, which is what WSO2's own default `wso2carbon.jks` holds.
//! `[truststore] file_name` ending in `.pem` adds its certificates to what outbound calls trust.
//!
//! Disk: a node's files live in [`NodeResources::home`], its runtime home (WSO2's
//! `<APIM_HOME>`), which whoever starts the node picks and keeps across restarts: a gateway's API
//! files, and a control plane's database ([`tollgate_control_plane::DATABASE_FILE`]), so a
//! control plane restarted over the same home comes back with its APIs, applications, keys and
//! event log (same `seq`: gateways resume their streams and re-pull nothing). A Traffic Manager
//! keeps no counters on disk, as WSO2's keeps none.
//!
//! The Traffic Manager (WSO2's control-plane profile includes it) is [`traffic`]: how it gets
//! its policies, how its windows follow the injected clock, and how a test stops and restarts
//! it. An all-in-one node's gateway reaches its own TM on the bound listeners: a
//! `[apim.throttling]` URL naming this node (`node_ip`, `hostname`, `localhost` or 127.0.0.1,
//! with this node's TM port) is pointed at the listener's address. A harness that must fault
//! the TM alone (the simulator, where a fault hits a whole host) starts the control plane with
//! [`TrafficManagerPlacement::Apart`] and the TM beside it with [`start_traffic_manager`].
//!
//! Modules: [`tls`] (keystore and truststore as PEM), [`traffic`] (the node's TM), [`run`] (a
//! node or a load balancer as a process: the `tollgate-node` binary); the rest is this file: [`PortRole`], [`required_ports`], [`NodeListeners`], [`NodeResources`], [`start`],
//! [`NodeHandle`].

pub mod convergence;
pub mod run;
pub mod tls;
pub mod traffic;

pub use tollgate_traffic_manager::TrafficManager;
pub use traffic::{TrafficManagerHandle, start_traffic_manager};

use hyper_util::service::TowerToHyperService;
use std::fmt;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tollgate_config::model::{DeploymentConfig, ServerRole};
use tollgate_config::ports::Ports;
use tollgate_control_plane::{ControlPlane, ControlPlaneSettings, Database};
use tollgate_gateway::management::clock_router;
use tollgate_gateway::{GatewayHandle, GatewayListeners, GatewaySettings, RuntimeHome};
use tollgate_net::serve;
use tollgate_net::{Listener, Outbound};
use tollgate_protocol::SharedClock;
use tollgate_protocol::internal::{GATEWAY_APIS, GATEWAY_HEALTH, GATEWAY_SYNC, GATEWAY_THROTTLE};

/// What a listener of a node is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortRole {
    /// 9443 + offset: Publisher/DevPortal/KM REST, `/oauth2/token`, `/internal/data/v1` on a
    /// control plane; the gateway's node-local `/api/am/gateway/v2` on a gateway.
    MgmtHttps,
    /// 9763 + offset: servlet HTTP.
    ServletHttp,
    /// 8280 + offset: the gateway's passthrough HTTP (API traffic).
    PassthruHttp,
    /// 8243 + offset: the gateway's passthrough HTTPS (API traffic).
    PassthruHttps,
    /// 9611 + offset: the Traffic Manager's event receiver (`tcp://`, WSO2's binary
    /// data-bridge port; our wire is HTTP, see `tollgate_protocol::throttle`).
    TmBinary,
    /// 5672 + offset: the Traffic Manager's decision stream (WSO2's broker port).
    Amqp,
}

impl PortRole {
    /// The Traffic Manager's ports (receiver, decisions): not bound by a node whose Traffic
    /// Manager runs [`TrafficManagerPlacement::Apart`].
    pub fn serves_traffic_manager(self) -> bool {
        matches!(self, Self::TmBinary | Self::Amqp)
    }

    pub fn is_tls(self) -> bool {
        matches!(self, Self::MgmtHttps | Self::PassthruHttps)
    }

    /// `https`, `http`, or `tcp` for the TM ports (as `[apim.throttling]` spells their URLs).
    pub fn scheme(self) -> &'static str {
        match self {
            Self::TmBinary | Self::Amqp => "tcp",
            _ if self.is_tls() => "https",
            _ => "http",
        }
    }
}

impl fmt::Display for PortRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MgmtHttps => "management HTTPS",
            Self::ServletHttp => "servlet HTTP",
            Self::PassthruHttp => "gateway HTTP",
            Self::PassthruHttps => "gateway HTTPS",
            Self::TmBinary => "traffic manager receiver",
            Self::Amqp => "traffic manager decisions",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("server_role `{0}` is not built yet (only control-plane, gateway-worker and default)")]
    UnsupportedRole(&'static str),
    #[error("{0}")]
    Ports(String),
    #[error("no listener was given for the {0} port")]
    MissingListener(PortRole),
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsConfigError),
    #[error("control plane: {0}")]
    ControlPlane(String),
    #[error("gateway: {0}")]
    Gateway(String),
}

/// The listeners a node of `cfg`'s role needs, with their ports (offset applied), in a fixed
/// order: management HTTPS, servlet HTTP, TM receiver, TM decisions, gateway HTTP, gateway
/// HTTPS.
pub fn required_ports(cfg: &DeploymentConfig) -> Result<Vec<(PortRole, u16)>, NodeError> {
    let role = cfg.server.server_role;
    if !role.runs_control_plane() && !role.runs_gateway() {
        return Err(NodeError::UnsupportedRole(role.as_str()));
    }
    let ports = Ports::for_config(cfg).map_err(|e| NodeError::Ports(e.to_string()))?;
    let mut needed = vec![(PortRole::MgmtHttps, ports.mgmt_https)];
    if role.runs_control_plane() {
        needed.push((PortRole::ServletHttp, ports.servlet_http));
        needed.push((PortRole::TmBinary, ports.tm_binary));
        needed.push((PortRole::Amqp, ports.amqp));
    }
    if role.runs_gateway() {
        needed.push((PortRole::PassthruHttp, ports.passthru_http));
        needed.push((PortRole::PassthruHttps, ports.passthru_https));
    }
    Ok(needed)
}

/// A node's listeners, one per [`PortRole`] it needs.
#[derive(Debug)]
pub struct NodeListeners<L> {
    pub mgmt_https: Option<L>,
    pub servlet_http: Option<L>,
    pub passthru_http: Option<L>,
    pub passthru_https: Option<L>,
    pub tm_binary: Option<L>,
    pub amqp: Option<L>,
}

impl<L> Default for NodeListeners<L> {
    fn default() -> Self {
        Self {
            mgmt_https: None,
            servlet_http: None,
            passthru_http: None,
            passthru_https: None,
            tm_binary: None,
            amqp: None,
        }
    }
}

impl<L> NodeListeners<L> {
    pub fn insert(&mut self, role: PortRole, listener: L) {
        *self.slot(role) = Some(listener);
    }

    fn slot(&mut self, role: PortRole) -> &mut Option<L> {
        match role {
            PortRole::MgmtHttps => &mut self.mgmt_https,
            PortRole::ServletHttp => &mut self.servlet_http,
            PortRole::PassthruHttp => &mut self.passthru_http,
            PortRole::PassthruHttps => &mut self.passthru_https,
            PortRole::TmBinary => &mut self.tm_binary,
            PortRole::Amqp => &mut self.amqp,
        }
    }

    fn take(&mut self, role: PortRole) -> Result<L, NodeError> {
        self.slot(role)
            .take()
            .ok_or(NodeError::MissingListener(role))
    }
}

impl<L> FromIterator<(PortRole, L)> for NodeListeners<L> {
    fn from_iter<I: IntoIterator<Item = (PortRole, L)>>(iter: I) -> Self {
        let mut listeners = Self::default();
        for (role, listener) in iter {
            listeners.insert(role, listener);
        }
        listeners
    }
}

/// Everything a node is handed from outside.
pub struct NodeResources<L> {
    pub listeners: NodeListeners<L>,
    /// How this node reaches the others (host map + truststore), and the harness's tap when
    /// one observes the node ([`Outbound::with_tap`]).
    pub outbound: Outbound,
    pub clock: SharedClock,
    /// The run's seed; each node derives its own stream from it and its name.
    pub seed: u64,
    /// Serves every HTTPS listener; [`tls::load`] builds it from `[keystore.tls]`.
    pub tls: Arc<rustls::ServerConfig>,
    /// The token signing pair (the same key as `tls`, as in WSO2); see [`tls::KeyPair`].
    pub signing: tls::KeyPair,
    /// The node's runtime home (WSO2's `<APIM_HOME>`): a gateway keeps its API files under
    /// `repository/deployment/server/synapse-configs/default/` there, cleans them at start as
    /// `[apim.sync_runtime_artifacts.gateway.skip_list]` says and serves the custom API files
    /// left ([`tollgate_gateway::runtime`]); a control plane keeps its database there
    /// ([`tollgate_control_plane::database`]). `None`: no files, nothing kept across restarts.
    pub home: Option<std::path::PathBuf>,
}

/// A running node.
pub struct NodeHandle {
    name: String,
    role: ServerRole,
    control_plane: Option<Arc<ControlPlane>>,
    gateway: Option<GatewayHandle>,
    traffic_manager: Option<TrafficManagerHandle>,
    tasks: tokio::task::JoinSet<()>,
    shutdown: CancellationToken,
}

impl fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeHandle")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl NodeHandle {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn role(&self) -> ServerRole {
        self.role
    }

    /// The control plane, on `control-plane` and `default` nodes.
    pub fn control_plane(&self) -> Option<&Arc<ControlPlane>> {
        self.control_plane.as_ref()
    }

    /// The gateway, on `gateway-worker` and `default` nodes.
    pub fn gateway(&self) -> Option<&GatewayHandle> {
        self.gateway.as_ref()
    }

    /// The Traffic Manager, on `control-plane` and `default` nodes.
    pub fn traffic_manager(&self) -> Option<&TrafficManagerHandle> {
        self.traffic_manager.as_ref()
    }

    /// Resolves once the node serves what it should: at once for a control plane (its
    /// listeners are bound before it starts), after the start-up sync for a gateway.
    pub async fn ready(&self) {
        if let Some(gateway) = &self.gateway {
            gateway.wait_synced().await;
        }
    }

    /// Stops every listener and background task of the node and waits for all of them: its
    /// own servers (the control plane's, an all-in-one node's management port), the gateway's
    /// ([`GatewayHandle::shutdown`]) and the Traffic Manager's. When this returns every socket
    /// the node was given is closed, so its ports can be bound again at once (a restart).
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        if let Some(gateway) = &self.gateway {
            gateway.shutdown().await;
        }
        if let Some(traffic_manager) = self.traffic_manager.take() {
            traffic_manager.shutdown().await;
        }
    }
}

/// Where a control plane's Traffic Manager runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrafficManagerPlacement {
    /// Inside the node, on the TM listeners it is given, as WSO2's control-plane profile runs
    /// it: `tollgate up`, the in-process and container drivers.
    #[default]
    Inside,
    /// Not started by the node, which needs no TM listeners: whoever starts the node starts the
    /// TM with [`start_traffic_manager`] where it wants it (the simulator: on a host of its own,
    /// so a fault can hit the TM alone). The node's `/_tollgate/control-plane` then reports no
    /// Traffic Manager and its clock route rolls no TM windows (the TM's own tick does); an
    /// all-in-one node's gateway dials its TM URLs as written.
    Apart,
}

/// Starts node `name` of `cfg`'s role on the listeners in `resources`, until `shutdown` fires
/// (or [`NodeHandle::shutdown`]).
///
/// A `default` (all-in-one) node serves the control plane and the gateway's node-local routes
/// (`/api/am/gateway/v2/...`, `/_tollgate/sync`) on one management port, as WSO2's all-in-one
/// pack does; the control plane answers every other path.
pub async fn start<L: Listener>(
    name: &str,
    cfg: DeploymentConfig,
    resources: NodeResources<L>,
    shutdown: CancellationToken,
) -> Result<NodeHandle, NodeError> {
    start_with(
        name,
        cfg,
        resources,
        shutdown,
        TrafficManagerPlacement::Inside,
    )
    .await
}

/// [`start`], with the control plane's Traffic Manager where `placement` says.
pub async fn start_with<L: Listener>(
    name: &str,
    cfg: DeploymentConfig,
    resources: NodeResources<L>,
    shutdown: CancellationToken,
    placement: TrafficManagerPlacement,
) -> Result<NodeHandle, NodeError> {
    let inside = placement == TrafficManagerPlacement::Inside;
    let role = cfg.server.server_role;
    if !role.runs_control_plane() && !role.runs_gateway() {
        return Err(NodeError::UnsupportedRole(role.as_str()));
    }
    let ports = Ports::for_config(&cfg).map_err(|e| NodeError::Ports(e.to_string()))?;
    let NodeResources {
        mut listeners,
        outbound,
        clock,
        seed,
        tls,
        signing,
        home,
    } = resources;
    let database = home.as_deref().map(Database::in_home);
    let runtime = home.map(|home| RuntimeHome::new(home, &cfg.sync_gateway.skip_list));
    let shutdown = shutdown.child_token();
    let mut handle = NodeHandle {
        name: name.to_owned(),
        role,
        control_plane: None,
        gateway: None,
        traffic_manager: None,
        tasks: tokio::task::JoinSet::new(),
        shutdown: shutdown.clone(),
    };

    match role {
        ServerRole::ControlPlane => {
            let cp = control_plane(
                database,
                &cfg,
                ports.mgmt_https,
                &signing,
                clock.clone(),
                seed,
            )?;
            cp.set_outbound(outbound.clone());
            let mgmt = listeners.take(PortRole::MgmtHttps)?;
            let servlet = listeners.take(PortRole::ServletHttp)?;
            if inside {
                handle.traffic_manager = Some(TrafficManagerHandle::start(
                    &cp,
                    clock.clone(),
                    outbound.tap().cloned(),
                    listeners.take(PortRole::TmBinary)?,
                    listeners.take(PortRole::Amqp)?,
                    shutdown.clone(),
                ));
            }
            let policies = handle.traffic_manager.as_ref().map(|tm| tm.policies());
            let ticker = handle.traffic_manager.as_ref().map(|tm| tm.ticker());
            let mgmt_router = cp
                .router()
                .merge(convergence::router(cp.clone(), policies))
                .merge(clock_router(clock.clone(), ticker));
            let mgmt_service = TowerToHyperService::new(mgmt_router);
            let servlet_service = TowerToHyperService::new(cp.router());
            handle.tasks.spawn(serve(
                mgmt,
                Some(tls),
                mgmt_service,
                clock.clone(),
                shutdown.clone(),
            ));
            handle.tasks.spawn(serve(
                servlet,
                None,
                servlet_service,
                clock,
                shutdown.clone(),
            ));
            handle.control_plane = Some(cp);
        }
        ServerRole::GatewayWorker => {
            let settings = gateway_settings(&cfg, name, &signing);
            let gateway_listeners = GatewayListeners {
                passthru_http: listeners.take(PortRole::PassthruHttp)?,
                passthru_https: listeners.take(PortRole::PassthruHttps)?,
                management: listeners.take(PortRole::MgmtHttps)?,
            };
            let gateway = tollgate_gateway::start(
                settings,
                gateway_listeners,
                tls,
                outbound,
                clock,
                runtime,
                shutdown.clone(),
            );
            handle.gateway = Some(gateway);
        }
        ServerRole::Default => {
            let cp = control_plane(
                database,
                &cfg,
                ports.mgmt_https,
                &signing,
                clock.clone(),
                seed,
            )?;
            cp.set_outbound(outbound.clone());
            let mgmt = listeners.take(PortRole::MgmtHttps)?;
            let servlet = listeners.take(PortRole::ServletHttp)?;
            let mut settings = gateway_settings(&cfg, name, &signing);
            if inside {
                let tm_binary = listeners.take(PortRole::TmBinary)?;
                let amqp = listeners.take(PortRole::Amqp)?;
                own_traffic_manager(
                    &mut settings.throttle,
                    &cfg,
                    (ports.tm_binary, tm_binary.local_addr().ok()),
                    (ports.amqp, amqp.local_addr().ok()),
                );
                handle.traffic_manager = Some(TrafficManagerHandle::start(
                    &cp,
                    clock.clone(),
                    outbound.tap().cloned(),
                    tm_binary,
                    amqp,
                    shutdown.clone(),
                ));
            }
            // The gateway gets a management listener that never accepts: its node-local routes
            // are served on the control plane's management port instead (below).
            let gateway = tollgate_gateway::start(
                settings,
                GatewayListeners {
                    passthru_http: Shared::Bound(listeners.take(PortRole::PassthruHttp)?),
                    passthru_https: Shared::Bound(listeners.take(PortRole::PassthruHttps)?),
                    management: Shared::Elsewhere,
                },
                tls.clone(),
                outbound,
                clock.clone(),
                runtime,
                shutdown.clone(),
            );
            // One management port, as in WSO2's all-in-one pack: the gateway's node-local paths
            // go to the gateway, everything else to the control plane.
            // (As a plain service: axum refuses a `Router` in `route_service`.)
            let gateway_mgmt = tollgate_gateway::management::router(gateway.gateway().clone())
                .into_service::<axum::body::Body>();
            let policies = handle.traffic_manager.as_ref().map(|tm| tm.policies());
            let ticker = handle.traffic_manager.as_ref().map(|tm| tm.ticker());
            let mut mgmt_router = cp
                .router()
                .merge(convergence::router(cp.clone(), policies))
                .merge(clock_router(clock.clone(), ticker));
            for path in [GATEWAY_APIS, GATEWAY_HEALTH, GATEWAY_SYNC, GATEWAY_THROTTLE] {
                mgmt_router = mgmt_router.route_service(path, gateway_mgmt.clone());
            }
            let mgmt_service = TowerToHyperService::new(mgmt_router);
            let servlet_service = TowerToHyperService::new(cp.router());
            handle.tasks.spawn(serve(
                mgmt,
                Some(tls),
                mgmt_service,
                clock.clone(),
                shutdown.clone(),
            ));
            handle.tasks.spawn(serve(
                servlet,
                None,
                servlet_service,
                clock,
                shutdown.clone(),
            ));
            handle.control_plane = Some(cp);
            handle.gateway = Some(gateway);
        }
        ServerRole::TrafficManager => return Err(NodeError::UnsupportedRole(role.as_str())),
    }
    Ok(handle)
}

/// The control plane over `database`: what it holds if it exists (a restart), else empty.
fn control_plane(
    database: Option<Database>,
    cfg: &DeploymentConfig,
    mgmt_https_port: u16,
    signing: &tls::KeyPair,
    clock: SharedClock,
    seed: u64,
) -> Result<Arc<ControlPlane>, NodeError> {
    let mut settings = ControlPlaneSettings::from_config(cfg, mgmt_https_port);
    settings.signing_key_pem = signing.private_key_pem.clone();
    settings.public_key_pem = signing.public_key_pem.clone();
    settings.key_id = signing.key_id.clone();
    ControlPlane::open(settings, clock, seed, database)
        .map_err(|e| NodeError::ControlPlane(e.to_string()))
}

fn gateway_settings(cfg: &DeploymentConfig, name: &str, signing: &tls::KeyPair) -> GatewaySettings {
    let mut settings = GatewaySettings::from_config(cfg, name);
    // A node whose own keystore is not the built-in pair also trusts tokens signed with it (the
    // all-in-one case; WSO2 gateways trust the signer's certificate from their truststore).
    let own = tollgate_gateway::authenticate::TrustedKey::new(
        signing.key_id.clone(),
        signing.public_key_pem.clone(),
    );
    if !settings.trusted_keys.contains(&own) {
        settings.trusted_keys.push(own);
    }
    // Backend JWTs are signed with the node's own keystore pair, as WSO2's gateway signs them.
    if settings.backend_jwt.enable {
        match tollgate_gateway::backend_jwt::SigningKey::from_pems(
            &signing.private_key_pem,
            &signing.certificate_pem,
            &signing.key_id,
        ) {
            Ok(key) => settings.signing_key = Some(key),
            Err(error) => tracing::error!(%error, "backend JWT signed with the built-in key"),
        }
    }
    settings
}

/// Points the all-in-one gateway's TM URLs that name this very node at the bound listeners
/// (in-process the node's sockets are on a private address, not on `node_ip`).
fn own_traffic_manager(
    throttle: &mut tollgate_gateway::ThrottleSettings,
    cfg: &DeploymentConfig,
    receiver: (u16, Option<std::net::SocketAddr>),
    decisions: (u16, Option<std::net::SocketAddr>),
) {
    let own = |url: &mut String, (port, bound): (u16, Option<std::net::SocketAddr>)| {
        let Some(bound) = bound else { return };
        let Some(base) = tollgate_protocol::throttle::http_base(url) else {
            return;
        };
        let authority = base.trim_start_matches("http://");
        let Some((host, url_port)) = authority.rsplit_once(':') else {
            return;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let names_us = host.eq_ignore_ascii_case("localhost")
            || host == "127.0.0.1"
            || host == cfg.server.node_ip
            || host.eq_ignore_ascii_case(&cfg.server.hostname);
        if names_us && url_port.parse() == Ok(port) {
            *url = format!("tcp://{bound}");
        }
    };
    for url in &mut throttle.decision_endpoints {
        own(url, decisions);
    }
    for group in &mut throttle.publish_groups {
        for url in &mut group.urls {
            own(url, receiver);
        }
    }
}

/// A listener slot of a component whose port another component serves (the gateway's
/// management port on an all-in-one node): `Elsewhere` never accepts.
enum Shared<L> {
    Bound(L),
    Elsewhere,
}

impl<L: Listener> Listener for Shared<L> {
    type Io = L::Io;

    async fn accept(&mut self) -> std::io::Result<(Self::Io, std::net::SocketAddr)> {
        match self {
            Self::Bound(listener) => listener.accept().await,
            Self::Elsewhere => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        match self {
            Self::Bound(listener) => listener.local_addr(),
            Self::Elsewhere => Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "served on another component's listener",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(toml: &str) -> DeploymentConfig {
        tollgate_config::parse(toml, Path::new("deployment.toml"))
            .unwrap()
            .config
    }

    #[test]
    fn each_role_needs_its_wso2_listeners_shifted_by_the_offset() {
        let cp = config("[server]\nserver_role = \"control-plane\"\n");
        assert_eq!(
            required_ports(&cp).unwrap(),
            [
                (PortRole::MgmtHttps, 9443),
                (PortRole::ServletHttp, 9763),
                (PortRole::TmBinary, 9611),
                (PortRole::Amqp, 5672)
            ]
        );
        let gateway = config("[server]\nserver_role = \"gateway-worker\"\noffset = 1\n");
        assert_eq!(
            required_ports(&gateway).unwrap(),
            [
                (PortRole::MgmtHttps, 9444),
                (PortRole::PassthruHttp, 8281),
                (PortRole::PassthruHttps, 8244)
            ]
        );
        let all_in_one = config("[server]\noffset = 2\n");
        assert_eq!(
            required_ports(&all_in_one).unwrap(),
            [
                (PortRole::MgmtHttps, 9445),
                (PortRole::ServletHttp, 9765),
                (PortRole::TmBinary, 9613),
                (PortRole::Amqp, 5674),
                (PortRole::PassthruHttp, 8282),
                (PortRole::PassthruHttps, 8245)
            ]
        );
    }

    #[test]
    fn a_traffic_manager_node_is_refused_as_not_built() {
        let tm = config("[server]\nserver_role = \"traffic-manager\"\n");
        let error = required_ports(&tm).unwrap_err();
        assert!(matches!(
            error,
            NodeError::UnsupportedRole("traffic-manager")
        ));
    }

    #[test]
    fn an_all_in_one_gateway_reaches_its_own_traffic_manager_on_the_bound_listeners() {
        let cfg = config("[server]\noffset = 2\n");
        let mut throttle = tollgate_gateway::ThrottleSettings::from_config(&cfg.throttling);
        throttle
            .decision_endpoints
            .push("tcp://tm.example.com:5674".into());
        let receiver: std::net::SocketAddr = "127.0.9.9:9613".parse().unwrap();
        let decisions: std::net::SocketAddr = "127.0.9.9:5674".parse().unwrap();
        own_traffic_manager(
            &mut throttle,
            &cfg,
            (9613, Some(receiver)),
            (5674, Some(decisions)),
        );
        assert_eq!(
            throttle.decision_endpoints,
            ["tcp://127.0.9.9:5674", "tcp://tm.example.com:5674"]
        );
        assert_eq!(throttle.publish_groups[0].urls, ["tcp://127.0.9.9:9613"]);
    }

    /// A node's resources for a test: `listeners`, the built-in keys, seed 1, no home.
    fn test_resources(
        listeners: NodeListeners<tokio::net::TcpListener>,
        clock: SharedClock,
        keys: tls::Keystores,
    ) -> NodeResources<tokio::net::TcpListener> {
        NodeResources {
            listeners,
            outbound: Outbound::new(
                tollgate_net::HostMap::new(),
                &[tollgate_net::security::DEFAULT_CERT_PEM],
            )
            .unwrap(),
            clock,
            seed: 1,
            tls: keys.server,
            signing: keys.signing,
            home: None,
        }
    }

    #[tokio::test]
    async fn after_shutdown_every_port_of_the_node_can_be_bound_again_at_once() {
        // Every role: a gateway alone (no task of the node's own to wait for first), a control
        // plane with its Traffic Manager (which keeps its listeners for restarts), all-in-one.
        for role in ["gateway-worker", "control-plane", "default"] {
            let cfg = config(&format!("[server]\nserver_role = \"{role}\"\n"));
            let keys = tls::load(&cfg, Path::new(".")).unwrap();
            let mut listeners = NodeListeners::default();
            let mut addresses = Vec::new();
            for (port_role, _) in required_ports(&cfg).unwrap() {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addresses.push(listener.local_addr().unwrap());
                listeners.insert(port_role, listener);
            }
            let clock = Arc::new(tollgate_protocol::ManualClock::new(0));
            let resources = test_resources(listeners, clock, keys);
            let handle = start(role, cfg, resources, CancellationToken::new())
                .await
                .unwrap();
            // A connection open on each port, as a peer's would be.
            let mut open = Vec::new();
            for address in &addresses {
                open.push(tokio::net::TcpStream::connect(address).await.unwrap());
            }
            handle.shutdown().await;
            for address in addresses {
                tokio::net::TcpListener::bind(address)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("{role}: {address} still bound after shutdown: {e}")
                    });
            }
        }
    }

    #[tokio::test]
    async fn a_control_plane_started_apart_gets_its_traffic_manager_beside_it_with_or_without_its_counters()
     {
        let cfg = config("[server]\nserver_role = \"control-plane\"\n");
        let keys = tls::load(&cfg, Path::new(".")).unwrap();
        // No TM listeners: the node must not ask for them.
        let mut listeners = NodeListeners::default();
        for (role, _) in required_ports(&cfg).unwrap() {
            if !role.serves_traffic_manager() {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                listeners.insert(role, listener);
            }
        }
        let clock: SharedClock = Arc::new(tollgate_protocol::ManualClock::new(0));
        let resources = test_resources(listeners, clock.clone(), keys);
        let node = start_with(
            "cp",
            cfg,
            resources,
            CancellationToken::new(),
            TrafficManagerPlacement::Apart,
        )
        .await
        .unwrap();
        assert!(node.traffic_manager().is_none());
        let event = tollgate_protocol::throttle::RequestEvent {
            app_key: "k".into(),
            app_tier: "10PerMin".into(),
            ..Default::default()
        };
        let mut ports = Vec::new();
        for _ in 0..2 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            ports.push(listener.local_addr().unwrap());
        }
        let bind = || async {
            let mut bound = Vec::new();
            for port in &ports {
                // Free again at once: a TM's shutdown closed them.
                bound.push(tokio::net::TcpListener::bind(port).await.unwrap());
            }
            let decisions = bound.pop().unwrap();
            (bound.pop().unwrap(), decisions)
        };
        let start = |counters, (receiver, decisions)| {
            start_traffic_manager(
                &node,
                clock.clone(),
                None,
                counters,
                receiver,
                decisions,
                CancellationToken::new(),
            )
            .unwrap()
        };
        let first = start(None, bind().await);
        first.traffic_manager().process(&event);
        assert_eq!(first.traffic_manager().used("k"), Some(1));
        // Its control plane's policies, in memory.
        let seq = node.control_plane().unwrap().event_seq();
        first.wait_for_seq(seq).await;
        let counters = first.traffic_manager().clone();
        first.shutdown().await;
        let again = start(Some(counters), bind().await);
        assert_eq!(again.traffic_manager().used("k"), Some(1), "counters lost");
        again.shutdown().await;
        let fresh = start(None, bind().await);
        assert_eq!(fresh.traffic_manager().used("k"), None);
        fresh.shutdown().await;
        node.shutdown().await;
    }

    #[tokio::test]
    async fn a_missing_listener_is_an_error_not_a_panic() {
        let cp = config("[server]\nserver_role = \"control-plane\"\n");
        let keys = tls::load(&cp, Path::new(".")).unwrap();
        let resources = NodeResources::<tokio::net::TcpListener> {
            listeners: NodeListeners::default(),
            outbound: Outbound::new(
                tollgate_net::HostMap::new(),
                &[tollgate_net::security::DEFAULT_CERT_PEM],
            )
            .unwrap(),
            clock: Arc::new(tollgate_protocol::ManualClock::new(0)),
            seed: 1,
            tls: keys.server,
            signing: keys.signing,
            home: None,
        };
        let error = start("cp", cp, resources, CancellationToken::new())
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            NodeError::MissingListener(PortRole::MgmtHttps)
        ));
    }
}
