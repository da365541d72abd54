//! Fixtures for the component tests: a loopback backend that says which endpoint served, a
//! snapshot with one application subscribed, and tokens as the Key Manager mints them.
// Fixture code panics on broken fixtures, as the tests themselves do.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tollgate_gateway::{Gateway, GatewaySettings, Transport};
use tollgate_net::security::{DEFAULT_CERT_PEM, DEFAULT_KEY_ALIAS, DEFAULT_KEY_PEM};
use tollgate_net::{HostMap, Outbound};
use tollgate_protocol::artifact::{
    ApiArtifact, ArtifactEnvironment, Endpoints, EnvironmentType, KeyType, Operation,
};
use tollgate_protocol::event::{Event, EventEnvelope};
use tollgate_protocol::internal::{GatewaySnapshot, LabelledArtifact};
use tollgate_protocol::store::{
    Application, KeyManager, KeyMapping, Subscription, SubscriptionStatus,
};
use tollgate_protocol::{ManualClock, SharedClock};

pub const ISSUER: &str = "https://localhost:9443/oauth2/token";
pub const PROD_KEY: &str = "prodConsumerKey";
pub const SANDBOX_KEY: &str = "sandboxConsumerKey";
/// A client whose application has no subscription.
pub const UNSUBSCRIBED_KEY: &str = "lonelyConsumerKey";
pub const APP: &str = "app-1";
pub const NOW_MILLIS: i64 = 1_700_000_000_000;
pub const NOW: i64 = NOW_MILLIS / 1000;

pub fn settings(labels: &[&str]) -> GatewaySettings {
    GatewaySettings {
        blocking_startup: false,
        node_name: "production-gateway".into(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        control_plane_url: "https://localhost:9443".into(),
        event_hub_username: "admin".into(),
        event_hub_password: "admin".into(),
        admin_username: "admin".into(),
        admin_password: "admin".into(),
        cors: Default::default(),
        trusted_keys: vec![tollgate_gateway::authenticate::TrustedKey::new(
            DEFAULT_KEY_ALIAS,
            tollgate_net::security::DEFAULT_PUBLIC_KEY_PEM,
        )],
        tenant_domain: "carbon.super".into(),
        throttle: tollgate_gateway::ThrottleSettings {
            enable_blocking: true,
            ..Default::default()
        },
        backend_jwt: Default::default(),
        signing_key: None,
    }
}

pub fn outbound() -> Outbound {
    Outbound::new(HostMap::new(), &[DEFAULT_CERT_PEM]).unwrap()
}

pub fn gateway_with(settings: GatewaySettings, clock: &ManualClock) -> Arc<Gateway> {
    let clock: SharedClock = Arc::new(clock.clone());
    Gateway::new(settings, &outbound(), clock)
}

/// A backend on 127.0.0.1:0 answering `{"served": <first path segment>, "path", "query",
/// "authorization", "host"}`.
pub async fn backend() -> (SocketAddr, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let service = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
        let path = req.uri().path().to_owned();
        let served = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_owned();
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let body = json!({
            "served": served,
            "path": path,
            "query": req.uri().query(),
            "authorization": header("authorization"),
            "host": header("host"),
            "custom": header("x-custom"),
        });
        Ok::<_, std::convert::Infallible>(
            http::Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap(),
        )
    });
    tokio::spawn(tollgate_net::serve(
        listener,
        None,
        service,
        std::sync::Arc::new(tollgate_protocol::ManualClock::new(0)),
        shutdown.clone(),
    ));
    (addr, shutdown)
}

pub fn op(verb: &str, target: &str) -> Operation {
    Operation {
        verb: verb.into(),
        target: target.into(),
        auth_type: "Any".into(),
        throttling_policy: None,
        scopes: vec![],
    }
}

pub fn artifact(
    id: &str,
    context: &str,
    env: EnvironmentType,
    production: Option<String>,
    sandbox: Option<String>,
) -> ApiArtifact {
    ApiArtifact {
        api_id: id.into(),
        revision_id: format!("{id}-rev-1"),
        revision_number: 1,
        name: id.into(),
        version: "1.0.0".into(),
        context: context.into(),
        provider: "admin".into(),
        lifecycle_status: "PUBLISHED".into(),
        environment: ArtifactEnvironment {
            name: "Default".into(),
            kind: env,
        },
        vhost: "localhost".into(),
        endpoints: Endpoints {
            production,
            sandbox,
            ..Endpoints::default()
        },
        operations: vec![
            op("GET", "/menu"),
            op("POST", "/order"),
            op("GET", "/order/{orderId}"),
            op("GET", "/files/*"),
        ],
        api_throttling_policy: None,
        policies: vec!["Unlimited".into()],
        transport: vec!["http".into(), "https".into()],
        security_scheme: vec!["oauth2".into()],
        scopes: vec![],
        max_tps: None,
        deployed_time: 0,
    }
}

pub fn endpoints(backend: SocketAddr) -> (Option<String>, Option<String>) {
    (
        Some(format!("http://{backend}/production")),
        Some(format!("http://{backend}/sandbox")),
    )
}

pub fn subscription(id: &str, app: &str, api: &str, status: SubscriptionStatus) -> Subscription {
    Subscription {
        id: id.into(),
        api_id: api.into(),
        application_id: app.into(),
        throttling_policy: "Unlimited".into(),
        status,
    }
}

/// A snapshot with `artifacts` under `label`, application `app-1` (production and sandbox
/// keys) subscribed to each, and application `app-2` subscribed to nothing.
pub fn snapshot(label: &str, artifacts: Vec<ApiArtifact>, event_seq: u64) -> GatewaySnapshot {
    let app = |id: &str| Application {
        id: id.into(),
        name: id.into(),
        owner: "admin".into(),
        throttling_policy: "Unlimited".into(),
        token_type: "JWT".into(),
    };
    let mapping = |key: &str, app: &str, key_type| KeyMapping {
        consumer_key: key.into(),
        application_id: app.into(),
        key_type,
        key_manager: "Resident Key Manager".into(),
    };
    let subscriptions = artifacts
        .iter()
        .map(|a| {
            subscription(
                &format!("sub-{}", a.api_id),
                APP,
                &a.api_id,
                SubscriptionStatus::Unblocked,
            )
        })
        .collect();
    GatewaySnapshot {
        event_seq,
        count: artifacts.len(),
        list: artifacts
            .into_iter()
            .map(|artifact| LabelledArtifact {
                label: label.into(),
                artifact,
            })
            .collect(),
        applications: vec![app(APP), app("app-2")],
        key_mappings: vec![
            mapping(PROD_KEY, APP, KeyType::Production),
            mapping(SANDBOX_KEY, APP, KeyType::Sandbox),
            mapping(UNSUBSCRIBED_KEY, "app-2", KeyType::Production),
        ],
        subscriptions,
        key_managers: vec![KeyManager {
            name: "Resident Key Manager".into(),
            issuer: ISSUER.into(),
            jwks_endpoint: "https://localhost:9443/oauth2/jwks".into(),
        }],
        revoked_tokens: vec![],
    }
}

pub fn envelope(seq: u64, event: Event) -> EventEnvelope {
    EventEnvelope {
        seq,
        time_stamp: NOW_MILLIS,
        tenant_domain: "carbon.super".into(),
        event,
    }
}

/// The claims the Key Manager puts in a 4.x JWT access token.
pub fn claims(consumer_key: &str, scope: &str, jti: &str, exp: i64) -> serde_json::Value {
    json!({
        "iss": ISSUER,
        "sub": "admin",
        "azp": consumer_key,
        "client_id": consumer_key,
        "aud": consumer_key,
        "aut": "APPLICATION",
        "scope": scope,
        "jti": jti,
        "iat": NOW,
        "nbf": NOW,
        "exp": exp,
    })
}

pub fn sign(claims: &serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(DEFAULT_KEY_ALIAS.into());
    header.typ = Some("at+jwt".into());
    let key = EncodingKey::from_rsa_pem(DEFAULT_KEY_PEM.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

pub fn token(consumer_key: &str) -> String {
    sign(&claims(
        consumer_key,
        "default",
        &format!("jti-{consumer_key}"),
        NOW + 3600,
    ))
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Which backend endpoint served the request (`production` / `sandbox`).
    pub fn served(&self) -> String {
        self.json()["served"].as_str().unwrap_or("").to_owned()
    }

    /// Status, the headers WSO2 clients look at, and the body: what the error snapshots hold.
    pub fn rendered(&self) -> String {
        let mut out = format!("HTTP {}\n", self.status.as_u16());
        for name in ["content-type", "www-authenticate"] {
            if let Some(v) = self.headers.get(name) {
                out.push_str(&format!("{name}: {}\n", v.to_str().unwrap()));
            }
        }
        out.push('\n');
        out.push_str(&self.body);
        out
    }
}

pub async fn call(
    gw: &Gateway,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    transport: Transport,
) -> Answer {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Full::new(Bytes::new())).unwrap();
    let response = gw.handle(request, transport).await;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub async fn get(gw: &Gateway, path: &str, token: Option<&str>) -> Answer {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    call(gw, Method::GET, path, &headers, Transport::Https).await
}

/// Snapshot helper: error bodies live in the workspace's `snapshots/gateway/`.
#[macro_export]
macro_rules! assert_wso2_snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../../snapshots/gateway"),
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}
