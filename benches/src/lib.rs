//! tollgate-benches: criterion benches of the gateway's hot path, and the fixtures they share.
//!
//! | item | what |
//! |---|---|
//! | `benches/gateway_request_path.rs` | route lookup; JWT verification, miss vs cache hit; a whole request through the gateway vs straight to the backend |
//! | [`fixtures`] | a loopback backend, a snapshot with N APIs and a subscribed application, tokens as the Key Manager mints them |
//!
//! Run: `cargo bench -p tollgate-benches -- --warm-up-time 1 --measurement-time 3`.

pub mod fixtures {
    use bytes::Bytes;
    use http::Request;
    use http_body_util::Full;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use std::net::SocketAddr;
    use tokio_util::sync::CancellationToken;
    use tollgate_gateway::{CorsSettings, GatewaySettings};
    use tollgate_net::security::{DEFAULT_KEY_ALIAS, DEFAULT_KEY_PEM, DEFAULT_PUBLIC_KEY_PEM};
    use tollgate_protocol::artifact::{
        ApiArtifact, ArtifactEnvironment, Endpoints, EnvironmentType, KeyType, Operation,
    };
    use tollgate_protocol::internal::{GatewaySnapshot, LabelledArtifact};
    use tollgate_protocol::store::{
        Application, KeyManager, KeyMapping, Subscription, SubscriptionStatus,
    };

    pub const ISSUER: &str = "https://localhost:9443/oauth2/token";
    pub const CONSUMER_KEY: &str = "benchConsumerKey";
    pub const NOW_MILLIS: i64 = 1_700_000_000_000;

    /// A 100-byte JSON answer, like the benchmark's reference backend (README.md, "Benchmarks").
    pub const BACKEND_BODY: &str = r#"{"served":"production","items":["margherita","marinara","diavola"],"padding":"0123456789abcdefghijk"}"#;

    pub fn settings() -> GatewaySettings {
        GatewaySettings {
            blocking_startup: false,
            node_name: "bench-gateway".into(),
            labels: vec!["Default".into()],
            control_plane_url: "https://localhost:9443".into(),
            event_hub_username: "admin".into(),
            event_hub_password: "admin".into(),
            admin_username: "admin".into(),
            admin_password: "admin".into(),
            cors: CorsSettings::default(),
            trusted_keys: vec![tollgate_gateway::authenticate::TrustedKey::new(
                DEFAULT_KEY_ALIAS,
                DEFAULT_PUBLIC_KEY_PEM,
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

    /// A keep-alive HTTP/1.1 backend on 127.0.0.1:0 answering [`BACKEND_BODY`].
    pub async fn spawn_backend(shutdown: CancellationToken) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let service = hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
            let mut response =
                http::Response::new(Full::new(Bytes::from_static(BACKEND_BODY.as_bytes())));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok::<_, std::convert::Infallible>(response)
        });
        let clock = std::sync::Arc::new(tollgate_protocol::ManualClock::new(0));
        tokio::spawn(tollgate_net::serve(
            listener, None, service, clock, shutdown,
        ));
        Ok(addr)
    }

    /// `apis` APIs (`/api0/1.0.0` … ) with PizzaShack's resources, all on `backend`, and one
    /// application subscribed to each with a production key.
    pub fn snapshot(apis: usize, backend: SocketAddr) -> GatewaySnapshot {
        let op = |verb: &str, target: &str| Operation {
            verb: verb.into(),
            target: target.into(),
            auth_type: "Any".into(),
            throttling_policy: None,
            scopes: vec![],
        };
        let list: Vec<LabelledArtifact> = (0..apis)
            .map(|i| LabelledArtifact {
                label: "Default".into(),
                artifact: ApiArtifact {
                    api_id: format!("api-{i}"),
                    revision_id: format!("api-{i}-rev"),
                    revision_number: 1,
                    name: format!("Api{i}"),
                    version: "1.0.0".into(),
                    context: format!("/api{i}/1.0.0"),
                    provider: "admin".into(),
                    lifecycle_status: "PUBLISHED".into(),
                    environment: ArtifactEnvironment {
                        name: "Default".into(),
                        kind: EnvironmentType::Hybrid,
                    },
                    vhost: "localhost".into(),
                    endpoints: Endpoints {
                        production: Some(format!("http://{backend}/production")),
                        sandbox: Some(format!("http://{backend}/sandbox")),
                        ..Default::default()
                    },
                    operations: vec![
                        op("GET", "/menu"),
                        op("POST", "/order"),
                        op("GET", "/order/{orderId}"),
                        op("PUT", "/order/{orderId}"),
                        op("DELETE", "/order/{orderId}"),
                        op("GET", "/files/*"),
                    ],
                    api_throttling_policy: None,
                    policies: vec!["Unlimited".into()],
                    transport: vec!["http".into(), "https".into()],
                    security_scheme: vec!["oauth2".into()],
                    scopes: vec![],
                    max_tps: None,
                    deployed_time: 0,
                },
            })
            .collect();
        let subscriptions = (0..apis)
            .map(|i| Subscription {
                id: format!("sub-{i}"),
                api_id: format!("api-{i}"),
                application_id: "app".into(),
                throttling_policy: "Unlimited".into(),
                status: SubscriptionStatus::Unblocked,
            })
            .collect();
        GatewaySnapshot {
            event_seq: 1,
            count: list.len(),
            list,
            applications: vec![Application {
                id: "app".into(),
                name: "BenchApp".into(),
                owner: "admin".into(),
                throttling_policy: "Unlimited".into(),
                token_type: "JWT".into(),
            }],
            key_mappings: vec![KeyMapping {
                consumer_key: CONSUMER_KEY.into(),
                application_id: "app".into(),
                key_type: KeyType::Production,
                key_manager: "Resident Key Manager".into(),
            }],
            subscriptions,
            key_managers: vec![KeyManager {
                name: "Resident Key Manager".into(),
                issuer: ISSUER.into(),
                jwks_endpoint: "https://localhost:9443/oauth2/jwks".into(),
            }],
            revoked_tokens: vec![],
        }
    }

    /// An RS256 access token with the Key Manager's claims, valid for an hour from
    /// [`NOW_MILLIS`].
    pub fn token(jti: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let now = NOW_MILLIS / 1000;
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": "admin", "azp": CONSUMER_KEY, "client_id": CONSUMER_KEY,
            "aud": CONSUMER_KEY, "aut": "APPLICATION", "scope": "default", "jti": jti,
            "iat": now, "nbf": now, "exp": now + 3600,
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(DEFAULT_KEY_ALIAS.into());
        let key = EncodingKey::from_rsa_pem(DEFAULT_KEY_PEM.as_bytes())?;
        jsonwebtoken::encode(&header, &claims, &key)
    }
}
