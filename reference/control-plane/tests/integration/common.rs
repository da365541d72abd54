//! A control plane with the guide's two environments, driven through its router without
//! sockets, and an admin token obtained the guide's way (DCR, then the password grant).

use axum::Router;
use axum::body::Body;
use base64::Engine;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tollgate_control_plane::{ControlPlane, ControlPlaneSettings};
use tollgate_protocol::ManualClock;
use tower::ServiceExt;

pub const PUBLISHER: &str = "/api/am/publisher/v4";
pub const DEVPORTAL: &str = "/api/am/devportal/v3";

/// Every scope the guide's scripts request.
pub const ALL_SCOPES: &str = "apim:api_view apim:api_create apim:api_publish apim:api_delete \
    apim:api_manage apim:subscribe apim:app_manage apim:sub_manage apim:publisher_settings \
    apim:store_settings";

pub struct Harness {
    pub cp: Arc<ControlPlane>,
    pub clock: ManualClock,
    pub app: Router,
    pub token: String,
}

pub fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

pub async fn harness() -> Harness {
    harness_with(ControlPlaneSettings::guide()).await
}

pub async fn harness_with(settings: ControlPlaneSettings) -> Harness {
    let clock = ManualClock::new(1_700_000_000_000);
    let cp = ControlPlane::new(settings, Arc::new(clock.clone()), 42).unwrap();
    harness_over(cp, clock).await
}

/// A harness around `cp`, whose clock is `clock`, with a new admin token.
pub async fn harness_over(cp: Arc<ControlPlane>, clock: ManualClock) -> Harness {
    let app = cp.router();
    let mut h = Harness {
        cp,
        clock,
        app,
        token: String::new(),
    };
    h.token = h.token_with_scopes(ALL_SCOPES).await;
    h
}

impl Harness {
    /// DCR with the super admin, then a password-grant token with `scopes`.
    pub async fn token_with_scopes(&self, scopes: &str) -> String {
        let (status, dcr) = self
            .send(
                Request::post("/client-registration/v0.17/register")
                    .header("authorization", basic("admin", "admin"))
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({"callbackUrl": "www.google.lk", "clientName": "rest_api_publisher",
                            "owner": "admin", "grantType": "client_credentials password refresh_token",
                            "saasApp": true})
                        .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{dcr}");
        let client = basic(
            dcr["clientId"].as_str().unwrap(),
            dcr["clientSecret"].as_str().unwrap(),
        );
        let form = format!(
            "grant_type=password&username=admin&password=admin&scope={}",
            scopes.replace(' ', "%20")
        );
        let (status, token) = self
            .send(
                Request::post("/oauth2/token")
                    .header("authorization", client)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(form))
                    .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{token}");
        token["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    /// A JSON call with the admin token.
    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(Some(&self.token), method, uri, body).await
    }

    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    /// A `multipart/form-data` call with the admin token: `(name, file name, content)` per
    /// part, a file part when it has a file name.
    pub async fn call_form(
        &self,
        method: &str,
        uri: &str,
        parts: &[(&str, Option<&str>, &str)],
    ) -> (StatusCode, Value) {
        let parts: Vec<(&str, Option<&str>, &[u8])> = parts
            .iter()
            .map(|(name, file, content)| (*name, *file, content.as_bytes()))
            .collect();
        self.call_form_bytes(method, uri, &parts).await
    }

    /// [`Self::call_form`] with parts of any bytes (an archive).
    pub async fn call_form_bytes(
        &self,
        method: &str,
        uri: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> (StatusCode, Value) {
        const BOUNDARY: &str = "tollgate-test-boundary";
        let mut body = Vec::new();
        for (name, file_name, content) in parts {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            let disposition = match file_name {
                Some(file) => format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                ),
                None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
            };
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.token))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// Creates the guide's PizzaShack API with both endpoints and the given tiers.
    pub async fn create_pizzashack(&self) -> String {
        let (status, api) = self
            .call(
                "POST",
                &format!("{PUBLISHER}/apis"),
                Some(json!({
                    "name": "PizzaShackAPI",
                    "context": "/pizzashack",
                    "version": "1.0.0",
                    "policies": ["Gold", "Unlimited"],
                    "endpointConfig": {
                        "endpoint_type": "http",
                        "production_endpoints": {"url": "http://backend.prod:9000/pizza"},
                        "sandbox_endpoints": {"url": "http://backend.sandbox:9000/pizza"},
                    },
                    "operations": [
                        {"target": "/menu", "verb": "GET", "authType": "Application & Application User",
                            "throttlingPolicy": "Unlimited"},
                        {"target": "/order", "verb": "POST", "throttlingPolicy": "Unlimited",
                            "scopes": []},
                    ],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{api}");
        api["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_revision(&self, api_id: &str) -> String {
        let (status, revision) = self
            .call(
                "POST",
                &format!("{PUBLISHER}/apis/{api_id}/revisions"),
                Some(json!({"description": "guide"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{revision}");
        revision["id"].as_str().unwrap().to_owned()
    }

    pub async fn deploy(
        &self,
        api_id: &str,
        revision_id: &str,
        targets: Value,
    ) -> (StatusCode, Value) {
        self.call(
            "POST",
            &format!("{PUBLISHER}/apis/{api_id}/deploy-revision?revisionId={revision_id}"),
            Some(targets),
        )
        .await
    }

    pub async fn deploy_to_both(&self, api_id: &str, revision_id: &str) {
        let (status, body) = self
            .deploy(
                api_id,
                revision_id,
                json!([
                    {"name": "Production Gateway", "vhost": "localhost", "displayOnDevportal": true},
                    {"name": "Default", "vhost": "localhost", "displayOnDevportal": true},
                ]),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    pub async fn publish(&self, api_id: &str) {
        let (status, body) = self
            .call(
                "POST",
                &format!("{PUBLISHER}/apis/change-lifecycle?apiId={api_id}&action=Publish"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// A published API deployed to both environments.
    pub async fn published_pizzashack(&self) -> String {
        let api_id = self.create_pizzashack().await;
        let revision = self.create_revision(&api_id).await;
        self.deploy_to_both(&api_id, &revision).await;
        self.publish(&api_id).await;
        api_id
    }

    pub async fn create_application(&self, name: &str) -> String {
        let (status, app) = self
            .call(
                "POST",
                &format!("{DEVPORTAL}/applications"),
                Some(json!({"name": name, "throttlingPolicy": "Unlimited",
                    "description": "guide", "tokenType": "JWT"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{app}");
        app["applicationId"].as_str().unwrap().to_owned()
    }

    /// The event stream's lines after `after`, as far as they were published already.
    pub async fn events_after(&self, after: u64) -> Vec<Value> {
        let response = self
            .app
            .clone()
            .oneshot(
                Request::get(format!("/internal/data/v1/notifications?after={after}"))
                    .header("authorization", basic("admin", "admin"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let wanted = self.cp.event_seq().saturating_sub(after);
        let mut body = response.into_body();
        let mut events = Vec::new();
        while (events.len() as u64) < wanted {
            let frame = body.frame().await.unwrap().unwrap();
            let bytes = frame.into_data().unwrap();
            for line in String::from_utf8(bytes.to_vec()).unwrap().lines() {
                events.push(serde_json::from_str(line).unwrap());
            }
        }
        events
    }
}
