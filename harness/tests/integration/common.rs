//! The guide's steps as REST calls, shared by the topology tests.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use tollgate_harness::client::{Client, ClientResponse};
use tollgate_harness::{RunningTopology, Topology};
use tollgate_protocol::{ManualClock, SharedClock};

pub const CP: &str = "https://localhost:9443";
pub const PRODUCTION_BACKEND: &str = "http://localhost:9080/pizzashack";
pub const SANDBOX_BACKEND: &str = "http://localhost:9081/pizzashack";
pub const REST_SCOPES: &str = "apim:api_view apim:api_create apim:api_publish apim:api_manage \
                               apim:subscribe apim:app_manage apim:sub_manage";
/// 2026-01-01T00:00:00Z: tokens are issued and checked against this clock.
pub const START_MILLIS: i64 = 1_767_225_600_000;

pub fn topology(name: &str) -> Topology {
    let path = tollgate_harness::resolve_topology(name);
    Topology::load(&path).unwrap_or_else(|e| panic!("{} does not load:\n{e}", path.display()))
}

pub fn clock() -> SharedClock {
    Arc::new(ManualClock::new(START_MILLIS))
}

/// Boots `name` on a private loopback address.
pub async fn boot(name: &str, seed: u64) -> RunningTopology {
    boot_holding(name, seed, &[]).await
}

/// Boots `name` on a private loopback address with `held` instances bound but not started.
pub async fn boot_holding(name: &str, seed: u64, held: &[&str]) -> RunningTopology {
    let held: BTreeSet<String> = held.iter().map(|s| (*s).to_owned()).collect();
    tollgate_harness::boot_private(&topology(name), seed, clock(), held)
        .await
        .unwrap_or_else(|e| panic!("booting {name} (seed {seed}): {e}"))
}

/// Asserts `response` has `status`, printing the whole exchange when not.
pub fn expect(response: &ClientResponse, status: u16) -> Value {
    assert_eq!(response.status.as_u16(), status, "{response}");
    if response.body.is_empty() {
        Value::Null
    } else {
        response.json().unwrap_or(Value::Null)
    }
}

/// A REST session on the control plane: DCR, then a password-grant token with the scopes the
/// guide's steps need.
pub struct Session {
    pub client: Client,
    pub token: String,
}

impl Session {
    pub async fn open(client: Client) -> Self {
        let dcr = client
            .post(format!("{CP}/client-registration/v0.17/register"))
            .basic_auth("admin", "admin")
            .json(&json!({
                "callbackUrl": "www.google.lk",
                "clientName": "rest_api_publisher",
                "owner": "admin",
                "grantType": "client_credentials password refresh_token",
                "saasApp": true
            }))
            .send()
            .await
            .unwrap();
        let dcr = expect(&dcr, 200);
        let (id, secret) = (
            dcr["clientId"].as_str().unwrap().to_owned(),
            dcr["clientSecret"].as_str().unwrap().to_owned(),
        );
        let token = password_grant(&client, &id, &secret, Some(REST_SCOPES)).await;
        Self { client, token }
    }

    pub async fn post(&self, path: &str, body: Value, status: u16) -> Value {
        let response = self
            .client
            .post(format!("{CP}{path}"))
            .bearer(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect(&response, status)
    }

    pub async fn get(&self, path: &str, status: u16) -> Value {
        let response = self
            .client
            .get(format!("{CP}{path}"))
            .bearer(&self.token)
            .send()
            .await
            .unwrap();
        expect(&response, status)
    }

    /// Creates PizzaShackAPI (`/pizzashack/1.0.0`, `GET /menu`) with both endpoints on the
    /// topology's mock backends; returns its id.
    pub async fn create_pizzashack(&self) -> String {
        let api = self
            .post(
                "/api/am/publisher/v4/apis",
                json!({
                    "name": "PizzaShackAPI",
                    "context": "/pizzashack",
                    "version": "1.0.0",
                    "policies": ["Unlimited"],
                    "endpointConfig": {
                        "endpoint_type": "http",
                        "production_endpoints": {"url": PRODUCTION_BACKEND},
                        "sandbox_endpoints": {"url": SANDBOX_BACKEND}
                    },
                    "operations": [{
                        "target": "/menu",
                        "verb": "GET",
                        "authType": "Application & Application User",
                        "throttlingPolicy": "Unlimited"
                    }]
                }),
                201,
            )
            .await;
        api["id"].as_str().unwrap().to_owned()
    }

    /// A new revision of `api_id`, deployed to `environments`; returns the revision id.
    pub async fn deploy(&self, api_id: &str, environments: &[&str]) -> String {
        let revision = self
            .post(
                &format!("/api/am/publisher/v4/apis/{api_id}/revisions"),
                json!({"description": "guide"}),
                201,
            )
            .await;
        let revision_id = revision["id"].as_str().unwrap().to_owned();
        let targets: Vec<Value> = environments
            .iter()
            .map(|name| json!({"name": name, "vhost": "localhost", "displayOnDevportal": true}))
            .collect();
        self.post(
            &format!("/api/am/publisher/v4/apis/{api_id}/deploy-revision?revisionId={revision_id}"),
            Value::Array(targets),
            201,
        )
        .await;
        revision_id
    }

    pub async fn publish(&self, api_id: &str) {
        let response = self
            .client
            .post(format!(
                "{CP}/api/am/publisher/v4/apis/change-lifecycle?apiId={api_id}&action=Publish"
            ))
            .bearer(&self.token)
            .send()
            .await
            .unwrap();
        expect(&response, 200);
    }

    /// PizzaShackAPI created, one revision deployed to `environments`, and published (the
    /// guide's step 4); returns its id.
    pub async fn published_pizzashack(&self, environments: &[&str]) -> String {
        let api_id = self.create_pizzashack().await;
        self.deploy(&api_id, environments).await;
        self.publish(&api_id).await;
        api_id
    }

    /// An application subscribed to `api_id`; returns the application id.
    pub async fn subscribed_application(&self, api_id: &str) -> String {
        let app = self
            .post(
                "/api/am/devportal/v3/applications",
                json!({
                    "name": "PizzaApp",
                    "throttlingPolicy": "Unlimited",
                    "description": "guide",
                    "tokenType": "JWT"
                }),
                201,
            )
            .await;
        let app_id = app["applicationId"].as_str().unwrap().to_owned();
        self.post(
            "/api/am/devportal/v3/subscriptions",
            json!({"apiId": api_id, "applicationId": app_id, "throttlingPolicy": "Unlimited"}),
            201,
        )
        .await;
        app_id
    }

    /// Generates `key_type` keys for `app_id` and returns a password-grant token for them.
    pub async fn key_token(&self, app_id: &str, key_type: &str) -> String {
        let keys = self
            .post(
                &format!("/api/am/devportal/v3/applications/{app_id}/generate-keys"),
                json!({
                    "keyType": key_type,
                    "grantTypesToBeSupported": ["password", "client_credentials"]
                }),
                200,
            )
            .await;
        let key = keys["consumerKey"].as_str().unwrap();
        let secret = keys["consumerSecret"].as_str().unwrap();
        password_grant(&self.client, key, secret, None).await
    }
}

/// `POST /oauth2/token` with the password grant, as the guide's step 5 does.
pub async fn password_grant(
    client: &Client,
    key: &str,
    secret: &str,
    scope: Option<&str>,
) -> String {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", "admin"),
        ("password", "admin"),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let response = client
        .post(format!("{CP}/oauth2/token"))
        .basic_auth(key, secret)
        .form(&form)
        .send()
        .await
        .unwrap();
    let body = expect(&response, 200);
    body["access_token"].as_str().unwrap().to_owned()
}

/// `GET url` with `token`.
pub async fn call(client: &Client, url: &str, token: &str) -> ClientResponse {
    client.get(url).bearer(token).send().await.unwrap()
}

/// Asserts `response` came from `backend`.
pub fn served_by(response: &ClientResponse, backend: &str) {
    assert_eq!(response.status.as_u16(), 200, "{response}");
    assert_eq!(
        response.header("x-tollgate-backend"),
        Some(backend),
        "{response}"
    );
    let echo: Value = response.json().unwrap();
    assert_eq!(echo["backend"], backend, "{response}");
}
