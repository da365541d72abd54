//! The paths a bench measures and how each is set up, all ending at the topology's own
//! production mock backend:
//!
//! | path | what a request goes through |
//! |---|---|
//! | `direct` | nothing: the mock backend itself |
//! | `nginx` | Debian's nginx as a plain reverse proxy, upstream keep-alive |
//! | `gateway` | the first gateway's whole chain: route, cached JWT, subscription, key type, throttle (Unlimited tiers), proxy |
//! | `gateway-counted` | the same with a subscription quota so high it never refuses, counted by the Traffic Manager |
//! | `gateway-cold-jwt` | the same with a different token per request, from a pool larger than the gateway's token cache |
//! | `lb` | the topology's load balancer in front of its gateways (topologies that have one) |
//!
//! The setup is the Publisher and Developer Portal REST calls a user makes: an admin session
//! (DCR, password grant), the subscription policy `BenchCounted`, the API `BenchAPI`
//! (`/bench/1.0.0`, `GET /menu` → the production backend) deployed to every gateway
//! environment and published, and one application per token kind.

use crate::client::{Client, ClientResponse};
use crate::topology::Topology;
use http::HeaderValue;
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tollgate_node::PortRole;

use super::http::HttpTarget;

/// Every path `tollgate bench` knows, in report order.
pub const ALL: [&str; 6] = [
    "direct",
    "nginx",
    "gateway",
    "gateway-counted",
    "gateway-cold-jwt",
    "lb",
];

/// The port the bench's nginx listens on (on the topology's address).
pub const NGINX_PORT: u16 = 18_080;

const ADMIN_SCOPES: &str = "apim:admin apim:api_create apim:api_publish apim:api_view \
    apim:api_manage apim:app_manage apim:sub_manage apim:subscribe apim:tier_manage \
    apim:tier_view";

/// Where the topology's parts listen, read from its files.
#[derive(Debug, Clone)]
pub struct Layout {
    pub address: IpAddr,
    /// `https://localhost:9443`
    pub control_plane: String,
    /// The production backend: port and path prefix (`/pizzashack`).
    pub backend_port: u16,
    pub backend_path: String,
    /// The first gateway's passthrough HTTP port.
    pub gateway_port: u16,
    /// Every gateway environment (first label of each gateway instance) and the vhost the
    /// control plane has for it (`localhost` when it names none).
    pub environments: Vec<(String, String)>,
    /// The load balancer's HTTP port and the host it answers for.
    pub lb: Option<(u16, String)>,
}

impl Layout {
    pub fn of(topology: &Topology, address: IpAddr) -> Result<Self, String> {
        let cp = topology
            .control_planes()
            .next()
            .ok_or("the topology has no control plane")?;
        let cp_port = cp
            .port(PortRole::MgmtHttps)
            .ok_or("the control plane has no management port")?;
        let backend = topology
            .backends
            .iter()
            .find(|b| b.endpoint == "production")
            .or_else(|| topology.backends.first())
            .ok_or("the topology has no mock backend")?;
        let backend_path = backend
            .url
            .splitn(4, '/')
            .nth(3)
            .map_or(String::new(), |p| format!("/{}", p.trim_end_matches('/')));
        let gateways: Vec<_> = topology
            .instances
            .iter()
            .filter(|i| i.role().runs_gateway())
            .collect();
        let first = gateways.first().ok_or("the topology has no gateway")?;
        let gateway_port = first
            .port(PortRole::PassthruHttp)
            .ok_or("the first gateway has no HTTP port")?;
        let mut environments: Vec<(String, String)> = Vec::new();
        for g in &gateways {
            if let Some(label) = g.config.sync_gateway.gateway_labels.first()
                && !environments.iter().any(|(name, _)| name == label)
            {
                let vhost = cp
                    .config
                    .environments
                    .iter()
                    .find(|e| &e.name == label)
                    .and_then(|e| e.vhosts.first())
                    .map_or_else(|| "localhost".to_owned(), |v| v.host.clone());
                environments.push((label.clone(), vhost));
            }
        }
        let lb = topology.load_balancers.first().map(|lb| {
            (
                lb.http,
                lb.hosts
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "localhost".into()),
            )
        });
        Ok(Self {
            address,
            control_plane: format!("https://localhost:{cp_port}"),
            backend_port: backend.port,
            backend_path,
            gateway_port,
            environments,
            lb,
        })
    }

    pub fn backend(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.backend_port)
    }
}

/// Tokens for the gateway paths.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub unlimited: String,
    pub counted: String,
    pub cold: Vec<String>,
}

/// The HTTP target of `path`, given the tokens it needs.
pub fn target(path: &str, layout: &Layout, tokens: &Tokens) -> Option<HttpTarget> {
    let bearer = |t: &str| HeaderValue::from_str(&format!("Bearer {t}")).ok();
    let one = |t: &str| Arc::new(bearer(t).into_iter().collect::<Vec<_>>());
    let api = "/bench/1.0.0/menu".to_owned();
    let at = |port| SocketAddr::new(layout.address, port);
    let backend = format!("{}/menu", layout.backend_path);
    Some(match path {
        "direct" => HttpTarget {
            address: layout.backend(),
            host: format!("localhost:{}", layout.backend_port),
            path: backend,
            auth: Arc::new(Vec::new()),
        },
        "nginx" => HttpTarget {
            address: at(NGINX_PORT),
            host: format!("localhost:{NGINX_PORT}"),
            path: backend,
            auth: Arc::new(Vec::new()),
        },
        "gateway" => HttpTarget {
            address: at(layout.gateway_port),
            host: format!("localhost:{}", layout.gateway_port),
            path: api,
            auth: one(&tokens.unlimited),
        },
        "gateway-counted" => HttpTarget {
            address: at(layout.gateway_port),
            host: format!("localhost:{}", layout.gateway_port),
            path: api,
            auth: one(&tokens.counted),
        },
        "gateway-cold-jwt" => HttpTarget {
            address: at(layout.gateway_port),
            host: format!("localhost:{}", layout.gateway_port),
            path: api,
            auth: Arc::new(tokens.cold.iter().filter_map(|t| bearer(t)).collect()),
        },
        "lb" => {
            let (port, host) = layout.lb.clone()?;
            HttpTarget {
                address: at(port),
                host,
                path: api,
                auth: one(&tokens.unlimited),
            }
        }
        _ => return None,
    })
}

/// The REST session that sets a topology up for the gateway paths.
pub struct Setup {
    client: Client,
    base: String,
    admin: String,
}

fn field(response: &ClientResponse, name: &str) -> Result<String, String> {
    let doc: Value = response.json().map_err(|e| e.to_string())?;
    doc[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{response}: no `{name}`"))
}

fn ok(response: ClientResponse, what: &str) -> Result<ClientResponse, String> {
    if response.status.is_success() {
        Ok(response)
    } else {
        Err(format!("{what}: {response}"))
    }
}

impl Setup {
    /// An admin session on the control plane (DCR, then a password grant).
    pub async fn admin(client: Client, layout: &Layout) -> Result<Self, String> {
        let base = layout.control_plane.clone();
        let admin = client
            .password_grant_token(&base, ("admin", "admin"), "rest_api_bench", ADMIN_SCOPES)
            .await?;
        Ok(Self {
            client,
            base,
            admin,
        })
    }

    async fn call(
        &self,
        path: &str,
        body: Option<Value>,
        what: &str,
    ) -> Result<ClientResponse, String> {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer(&self.admin);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        ok(response, what)
    }

    /// The policy, API, applications and tokens; `cold` tokens for `gateway-cold-jwt`.
    pub async fn provision(&self, layout: &Layout, cold: usize) -> Result<Tokens, String> {
        self.call(
            "/api/am/admin/v4/throttling/policies/subscription",
            Some(json!({
                "policyName": "BenchCounted",
                "displayName": "BenchCounted",
                "description": "Counted by the Traffic Manager, never reached by a bench",
                "stopOnQuotaReach": true,
                "defaultLimit": {"type": "REQUESTCOUNTLIMIT", "requestCount": {
                    "timeUnit": "min", "unitTime": 1, "requestCount": 2_000_000_000u64}}
            })),
            "create subscription policy BenchCounted",
        )
        .await?;
        let backend_url = format!(
            "http://localhost:{}{}",
            layout.backend_port, layout.backend_path
        );
        let api = self
            .deploy_api(layout, "BenchAPI", "/bench", &backend_url)
            .await?;
        self.call(
            &format!("/api/am/publisher/v4/apis/change-lifecycle?apiId={api}&action=Publish"),
            None,
            "publish",
        )
        .await?;
        let (key, secret) = self.application("bench", &api, "Unlimited").await?;
        let unlimited = self.token(&key, &secret).await?;
        let (ckey, csecret) = self
            .application("bench-counted", &api, "BenchCounted")
            .await?;
        let counted = self.token(&ckey, &csecret).await?;
        let cold = self.tokens(&key, &secret, cold).await?;
        Ok(Tokens {
            unlimited,
            counted,
            cold,
        })
    }

    /// Creates an API with one resource, `GET /menu`, and deploys a revision of it to every
    /// gateway environment; its id.
    async fn deploy_api(
        &self,
        layout: &Layout,
        name: &str,
        context: &str,
        backend_url: &str,
    ) -> Result<String, String> {
        let created = self
            .call(
                "/api/am/publisher/v4/apis",
                Some(json!({
                    "name": name,
                    "context": context,
                    "version": "1.0.0",
                    "policies": ["Unlimited", "BenchCounted"],
                    "transport": ["http", "https"],
                    "endpointConfig": {"endpoint_type": "http",
                        "production_endpoints": {"url": backend_url}},
                    "operations": [{"target": "/menu", "verb": "GET",
                        "authType": "Application & Application User",
                        "throttlingPolicy": "Unlimited"}],
                })),
                "create API",
            )
            .await?;
        let api = field(&created, "id")?;
        let revision = self
            .call(
                &format!("/api/am/publisher/v4/apis/{api}/revisions"),
                Some(json!({"description": "bench"})),
                "create revision",
            )
            .await?;
        let revision = field(&revision, "id")?;
        let targets: Vec<Value> = layout
            .environments
            .iter()
            .map(|(name, vhost)| json!({"name": name, "vhost": vhost, "displayOnDevportal": true}))
            .collect();
        self.call(
            &format!("/api/am/publisher/v4/apis/{api}/deploy-revision?revisionId={revision}"),
            Some(Value::Array(targets)),
            "deploy",
        )
        .await?;
        Ok(api)
    }

    /// `n` more APIs (`/bench-extra-K/1.0.0`) deployed beside the bench's, 8 at a time: how
    /// the gateway fares with many APIs in its routing table.
    pub async fn extra_apis(&self, layout: &Layout, n: usize) -> Result<(), String> {
        let backend_url = format!(
            "http://localhost:{}{}",
            layout.backend_port, layout.backend_path
        );
        let mut next = 0;
        while next < n {
            let batch = (n - next).min(8);
            let calls = (next..next + batch).map(|k| {
                let name = format!("BenchExtra{k}");
                let context = format!("/bench-extra-{k}");
                let url = backend_url.clone();
                async move { self.deploy_api(layout, &name, &context, &url).await }
            });
            for deployed in futures_util::future::join_all(calls).await {
                deployed?;
            }
            next += batch;
        }
        Ok(())
    }

    async fn application(
        &self,
        name: &str,
        api: &str,
        tier: &str,
    ) -> Result<(String, String), String> {
        let app = self
            .call(
                "/api/am/devportal/v3/applications",
                Some(json!({"name": name, "throttlingPolicy": "Unlimited", "tokenType": "JWT"})),
                "create application",
            )
            .await?;
        let app = field(&app, "applicationId")?;
        self.call(
            "/api/am/devportal/v3/subscriptions",
            Some(json!({"apiId": api, "applicationId": app, "throttlingPolicy": tier})),
            "subscribe",
        )
        .await?;
        let keys = self
            .call(
                &format!("/api/am/devportal/v3/applications/{app}/generate-keys"),
                Some(json!({"keyType": "PRODUCTION",
                    "grantTypesToBeSupported": ["client_credentials"]})),
                "generate keys",
            )
            .await?;
        Ok((
            field(&keys, "consumerKey")?,
            field(&keys, "consumerSecret")?,
        ))
    }

    async fn token(&self, key: &str, secret: &str) -> Result<String, String> {
        let response = self
            .client
            .post(format!("{}/oauth2/token", self.base))
            .basic_auth(key, secret)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        field(&ok(response, "token")?, "access_token")
    }

    /// `n` distinct tokens, 8 requests at a time.
    async fn tokens(&self, key: &str, secret: &str, n: usize) -> Result<Vec<String>, String> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let batch = (n - out.len()).min(8);
            let calls = (0..batch).map(|_| self.token(key, secret));
            for token in futures_util::future::join_all(calls).await {
                out.push(token?);
            }
        }
        Ok(out)
    }
}

/// Waits until `target` answers 200 (the gateways applied the deployment and subscriptions),
/// probing every 100 ms for at most `within`.
pub async fn await_served(
    client: &Client,
    target: &HttpTarget,
    within: Duration,
) -> Result<(), String> {
    let url = format!("http://{}{}", target.address, target.path);
    let deadline = tokio::time::Instant::now() + within;
    let mut probe = tokio::time::interval(Duration::from_millis(100));
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        probe.tick().await;
        let mut request = client.get(url.clone()).header("host", &target.host);
        if let Some(auth) = target.auth.first().and_then(|a| a.to_str().ok()) {
            request = request.header("authorization", auth);
        }
        match request.send().await {
            Ok(r) if r.status.is_success() => return Ok(()),
            Ok(r) => last = r.to_string(),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!(
        "{url} did not answer 200 within {within:?}: {last}"
    ))
}
