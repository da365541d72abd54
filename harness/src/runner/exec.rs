//! Runs one scenario's steps against a booted topology.
//!
//! Control-plane steps go through WSO2's REST APIs (Publisher v4, Developer Portal v3, DCR,
//! `/oauth2/token`) with an admin session obtained the guide's way: DCR, then a password grant
//! with every REST scope, once per scenario. Named things (APIs, applications, keys, tokens)
//! and captures are kept here and fill `${…}`.
//!
//! `fault` steps go to the driver's target (skipped, with the reason, on a driver without the
//! capability); `load` steps start background traffic (`load` module) that runs on while later
//! steps act, and the step that stops it reports its figures and checks `expect_load`.
//! `artifact` steps put files on a node's disk and check them, through the driver's target.
//!
//! Propagation is the runner's job, not the scenario's: after any step that changes what
//! gateways must see, the next `request` step first waits until every gateway has applied the
//! control plane's latest event (by sequence number, never by sleeping). Scenarios write
//! `wait` only to assert propagation itself.

use super::check::{self, Lookup, as_text, body_json, check, check_counts, render, render_json};
use super::load::{LoadFigures, LoadPlan, RunningLoad};
use crate::client::{Client, ClientResponse};
use crate::driver::{Capability, Driver, Target};
use crate::report::{
    BODY_EXCERPT, Failure, HEADER_EXCERPT, Mismatch, Outcome, ReceivedResponse, SentRequest,
    StepReport, excerpt,
};
use http::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tollgate_scenario::{
    Action, Advance, Artifact, ArtifactCheck, Body, CaptureSource, Condition, Endpoint, Expect,
    Fault, Grant, HttpAuth, KeyField, Load, LoadCount, LoadExpect, Scenario, Scheme, Step, Var,
};

/// Every REST scope the control plane knows: the runner's admin session may do anything a
/// scenario asks.
const ADMIN_SCOPES: &str = "apim:admin apim:api_create apim:api_delete apim:api_import_export \
    apim:api_list_view apim:api_manage apim:api_publish apim:api_view apim:app_import_export \
    apim:app_manage apim:bl_manage apim:bl_view apim:policies_import_export \
    apim:publisher_settings apim:store_settings apim:sub_manage apim:subscribe apim:tier_manage \
    apim:tier_view";

/// How long ordinary propagation may take before the next request gives up on it.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct ApiEntity {
    id: String,
    /// Scenario revision number -> WSO2 revision id.
    revisions: BTreeMap<u32, String>,
    /// Environment -> the revision number deployed there.
    deployed: BTreeMap<String, u32>,
}

#[derive(Debug, Default)]
struct KeyEntity {
    consumer_key: String,
    consumer_secret: String,
    token: Option<String>,
    key_mapping_id: String,
}

#[derive(Debug)]
struct TokenEntity {
    refresh: Option<String>,
}

/// A request as the runner builds it.
#[derive(Debug, Clone)]
struct Outgoing {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Outgoing {
    fn new(method: Method, url: String) -> Self {
        Self {
            method,
            url,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    fn bearer(self, token: &str) -> Self {
        self.header("Authorization", format!("Bearer {token}"))
    }

    fn basic(self, user: &str, password: &str) -> Self {
        use base64::Engine;
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("Authorization", format!("Basic {encoded}"))
    }

    fn json(mut self, body: &Value) -> Self {
        self.body = body.to_string().into_bytes();
        self.header("Content-Type", "application/json")
    }

    fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.body = serde_urlencoded::to_string(fields)
            .unwrap_or_default()
            .into_bytes();
        self.header("Content-Type", "application/x-www-form-urlencoded")
    }

    fn sent(&self) -> SentRequest {
        SentRequest {
            method: self.method.to_string(),
            url: self.url.clone(),
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), excerpt(v, HEADER_EXCERPT)))
                .collect(),
            body: (!self.body.is_empty())
                .then(|| excerpt(&String::from_utf8_lossy(&self.body), BODY_EXCERPT)),
        }
    }
}

fn received(response: &ClientResponse) -> ReceivedResponse {
    ReceivedResponse {
        status: response.status.as_u16(),
        headers: response
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    excerpt(&String::from_utf8_lossy(v.as_bytes()), HEADER_EXCERPT),
                )
            })
            .collect(),
        body: excerpt(&response.text(), BODY_EXCERPT),
    }
}

/// How a step ended.
enum StepEnd {
    Passed,
    Skipped(String),
    Failed(Box<Failure>),
}

/// Boxed: a failure carries a whole exchange, and most results are not failures.
fn failure(message: impl Into<String>) -> Box<Failure> {
    Box::new(Failure {
        message: message.into(),
        request: None,
        response: None,
        mismatches: Vec::new(),
    })
}

/// One exchange: what was sent and what came back.
struct Exchange {
    sent: Outgoing,
    response: ClientResponse,
}

impl Exchange {
    fn failure(&self, message: impl Into<String>, mismatches: Vec<Mismatch>) -> Box<Failure> {
        Box::new(Failure {
            message: message.into(),
            request: Some(self.sent.sent()),
            response: Some(received(&self.response)),
            mismatches,
        })
    }
}

/// The state of one scenario's run.
pub(crate) struct Executor<'t, D: Driver> {
    driver: &'t D,
    target: &'t mut D::Target,
    client: Client,
    control_plane: String,
    admin_token: Option<String>,
    captures: BTreeMap<String, String>,
    apis: BTreeMap<String, ApiEntity>,
    apps: BTreeMap<String, String>,
    keys: BTreeMap<String, KeyEntity>,
    tokens: BTreeMap<String, TokenEntity>,
    /// Token name -> the control plane's event sequence right after its revocation.
    revoked_at: BTreeMap<String, u64>,
    /// A control-plane change gateways have not been seen to apply yet.
    unconverged: bool,
    /// Background loads started and not yet stopped; dropped (aborted) with the executor.
    loads: BTreeMap<String, RunningLoad>,
    /// The figures of the load the current step stopped, for its report.
    figures: Option<LoadFigures>,
}

impl<'t, D: Driver> Executor<'t, D> {
    pub(crate) fn new(driver: &'t D, target: &'t mut D::Target) -> Self {
        let client = target.client();
        let control_plane = target
            .control_plane_url()
            .unwrap_or_else(|| "https://localhost:9443".to_owned());
        Self {
            driver,
            target,
            client,
            control_plane,
            admin_token: None,
            captures: BTreeMap::new(),
            apis: BTreeMap::new(),
            apps: BTreeMap::new(),
            keys: BTreeMap::new(),
            tokens: BTreeMap::new(),
            revoked_at: BTreeMap::new(),
            unconverged: false,
            loads: BTreeMap::new(),
            figures: None,
        }
    }

    /// Runs every step in order. A failed control-plane step stops the run (later steps need
    /// what it should have made; they are reported skipped, saying why); a failed `request` or
    /// `http` step does not. A step skipped for a missing driver capability stops it too: what
    /// follows would check a world that step did not make.
    pub(crate) async fn run(&mut self, scenario: &Scenario, file: &str) -> Vec<StepReport> {
        let mut reports = Vec::new();
        let mut stopped: Option<String> = None;
        for step in &scenario.steps {
            let started = tokio::time::Instant::now();
            let end = match &stopped {
                Some(why) => StepEnd::Skipped(why.clone()),
                None => self.step(step).await,
            };
            let (outcome, reason, failure) = match end {
                StepEnd::Passed => (Outcome::Passed, None, None),
                StepEnd::Skipped(reason) => {
                    if stopped.is_none() {
                        stopped = Some(format!("not run: {} was skipped ({reason})", step.label()));
                    }
                    (Outcome::Skipped, Some(reason), None)
                }
                StepEnd::Failed(failure) => {
                    if !matches!(step.action, Action::Request(_) | Action::Http(_)) {
                        stopped = Some(format!(
                            "not run: {} failed and later steps depend on it",
                            step.label()
                        ));
                    }
                    (Outcome::Failed, None, Some(*failure))
                }
            };
            reports.push(StepReport {
                index: step.index,
                label: step.label(),
                at: format!("{file}:{}", step.location),
                outcome,
                reason,
                failure,
                figures: self.figures.take(),
                duration_ms: millis(started.elapsed()),
            });
        }
        reports
    }

    fn lookup(&self, var: &Var) -> Option<String> {
        match var {
            Var::Capture(name) => self.captures.get(name).cloned(),
            Var::ApiId(name) => self.apis.get(name).map(|a| a.id.clone()),
            Var::AppId(name) => self.apps.get(name).cloned(),
            Var::Key(name, field) => self.keys.get(name).and_then(|k| match field {
                KeyField::ConsumerKey => Some(k.consumer_key.clone()),
                KeyField::ConsumerSecret => Some(k.consumer_secret.clone()),
                KeyField::Token => k.token.clone(),
                KeyField::KeyMappingId => Some(k.key_mapping_id.clone()),
            }),
        }
    }

    async fn step(&mut self, step: &Step) -> StepEnd {
        match self.action(step).await {
            Ok(end) => end,
            Err(failure) => StepEnd::Failed(failure),
        }
    }

    async fn action(&mut self, step: &Step) -> Result<StepEnd, Box<Failure>> {
        let exchange = match &step.action {
            Action::Advance(advance) => return Ok(self.advance(*advance).await),
            Action::Wait(wait) => {
                if matches!(wait.condition, Condition::Throttle { .. })
                    && !self.driver.has(Capability::DecisionView)
                {
                    return Ok(StepEnd::Skipped(format!(
                        "driver `{}` has no {}",
                        self.driver.kind().name(),
                        Capability::DecisionView
                    )));
                }
                return self
                    .wait(&wait.condition, wait.timeout)
                    .await
                    .map(|()| StepEnd::Passed);
            }
            Action::Request(request) => return self.request_step(step, request).await,
            Action::Fault(fault) => return self.fault(fault).await,
            Action::Load(load) => return self.load(load).await.map(|()| StepEnd::Passed),
            Action::Artifact(artifact) => {
                return self.artifact(artifact).await.map(|()| StepEnd::Passed);
            }
            Action::Http(http) => {
                let exchange = self.http(http).await?;
                if http.method != "GET" && http.method != "HEAD" {
                    self.unconverged = true;
                }
                exchange
            }
            Action::Publish(publish) => self.publish(publish).await?,
            Action::Revision(revision) => {
                self.revision(
                    &revision.api,
                    revision.number,
                    revision.description.as_deref(),
                )
                .await?
            }
            Action::Deploy(deploy) => self.deploy(deploy).await?,
            Action::Undeploy(undeploy) => self.undeploy(undeploy).await?,
            Action::Lifecycle(lifecycle) => {
                let id = self.api_id(&lifecycle.api)?;
                let url = format!(
                    "{}/api/am/publisher/v4/apis/change-lifecycle?{}",
                    self.control_plane,
                    serde_urlencoded::to_string([
                        ("apiId", id.as_str()),
                        ("action", lifecycle.action.wso2_name())
                    ])
                    .unwrap_or_default()
                );
                let token = self.admin().await?;
                self.send(Outgoing::new(Method::POST, url).bearer(&token))
                    .await?
            }
            Action::Application(app) => {
                let mut body = json!({
                    "name": app.name,
                    "throttlingPolicy": app.policy,
                    "tokenType": app.token_type,
                });
                if let Some(d) = &app.description {
                    body["description"] = json!(d);
                }
                let exchange = self
                    .admin_call(
                        Method::POST,
                        "/api/am/devportal/v3/applications",
                        Some(body),
                    )
                    .await?;
                if exchange.response.status.is_success() {
                    let id = field(&exchange, "applicationId")?;
                    self.apps.insert(app.app.clone(), id);
                }
                exchange
            }
            Action::Subscribe(sub) => {
                let body = json!({
                    "apiId": self.api_id(&sub.api)?,
                    "applicationId": self.app_id(&sub.app)?,
                    "throttlingPolicy": sub.policy,
                });
                self.admin_call(
                    Method::POST,
                    "/api/am/devportal/v3/subscriptions",
                    Some(body),
                )
                .await?
            }
            Action::GenerateKeys(keys) => {
                let app_id = self.app_id(&keys.app)?;
                let mut body = json!({
                    "keyType": keys.key_type.wso2_name(),
                    "grantTypesToBeSupported": keys.grant_types,
                });
                if !keys.scopes.is_empty() {
                    body["scopes"] = json!(keys.scopes);
                }
                let path = format!("/api/am/devportal/v3/applications/{app_id}/generate-keys");
                let exchange = self.admin_call(Method::POST, &path, Some(body)).await?;
                if exchange.response.status.is_success() {
                    let doc = body_json(&exchange.response).unwrap_or(Value::Null);
                    let text = |v: &Value| v.as_str().map(str::to_owned);
                    let entity = KeyEntity {
                        consumer_key: field(&exchange, "consumerKey")?,
                        consumer_secret: field(&exchange, "consumerSecret")?,
                        token: text(&doc["token"]["accessToken"]),
                        key_mapping_id: text(&doc["keyMappingId"]).unwrap_or_default(),
                    };
                    self.keys.insert(keys.key.clone(), entity);
                }
                exchange
            }
            Action::Token(request) => self.token(request).await?,
            Action::Revoke(revoke) => {
                let token = self
                    .lookup(&Var::Capture(revoke.token.clone()))
                    .ok_or_else(|| failure(check::unknown(&Var::Capture(revoke.token.clone()))))?;
                let (key, secret) = self.key_credentials(&revoke.key)?;
                let outgoing = Outgoing::new(
                    Method::POST,
                    format!("{}/oauth2/revoke", self.control_plane),
                )
                .basic(&key, &secret)
                .form(&[("token", &token)]);
                let exchange = self.send(outgoing).await?;
                if exchange.response.status.is_success() {
                    self.revoked_at
                        .insert(revoke.token.clone(), self.target.event_seq().await);
                }
                exchange
            }
        };
        if step.action.has_response() && !matches!(step.action, Action::Http(_)) {
            self.unconverged = true;
        }
        self.expect_and_capture(step, &exchange)?;
        Ok(StepEnd::Passed)
    }

    /// Checks the step's `expect` (or, for a control-plane step without one, a 2xx) and takes
    /// its captures.
    fn expect_and_capture(&mut self, step: &Step, exchange: &Exchange) -> Result<(), Box<Failure>> {
        let mismatches = match &step.expect {
            Some(expect) => self.check(expect, &exchange.response).map_err(failure)?,
            None if !matches!(step.action, Action::Request(_) | Action::Http(_))
                && !exchange.response.status.is_success() =>
            {
                vec![Mismatch {
                    what: "status".into(),
                    expected: "2xx (a control-plane step must succeed)".into(),
                    actual: exchange.response.status.as_u16().to_string(),
                    diff: None,
                }]
            }
            None => Vec::new(),
        };
        if !mismatches.is_empty() {
            return Err(exchange.failure(summary(&mismatches), mismatches));
        }
        self.capture(step, &exchange.response)
            .map_err(|message| exchange.failure(message, Vec::new()))
    }

    fn check(&self, expect: &Expect, response: &ClientResponse) -> Result<Vec<Mismatch>, String> {
        let lookup = |v: &Var| self.lookup(v);
        check(expect, response, &lookup)
    }

    fn capture(&mut self, step: &Step, response: &ClientResponse) -> Result<(), String> {
        for capture in &step.captures {
            let value = match &capture.source {
                CaptureSource::Json(path) => body_json(response)
                    .as_ref()
                    .and_then(|doc| path.select(doc).map(as_text))
                    .ok_or_else(|| {
                        format!("capture `{}`: the body has nothing at {path}", capture.name)
                    })?,
                CaptureSource::Header(name) => {
                    response.header(name).map(str::to_owned).ok_or_else(|| {
                        format!(
                            "capture `{}`: the response has no {name} header",
                            capture.name
                        )
                    })?
                }
                CaptureSource::Body => response.text(),
                CaptureSource::Status => response.status.as_u16().to_string(),
            };
            self.captures.insert(capture.name.clone(), value);
        }
        Ok(())
    }

    async fn send(&self, outgoing: Outgoing) -> Result<Exchange, Box<Failure>> {
        let mut builder = self
            .client
            .request(outgoing.method.clone(), outgoing.url.clone());
        for (name, value) in &outgoing.headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .body(outgoing.body.clone())
            .send()
            .await
            .map_err(|e| {
                Box::new(Failure {
                    message: format!("no response: {e}"),
                    request: Some(outgoing.sent()),
                    response: None,
                    mismatches: Vec::new(),
                })
            })?;
        Ok(Exchange {
            sent: outgoing,
            response,
        })
    }

    /// The admin REST token: DCR then a password grant with every scope, once per scenario.
    async fn admin(&mut self) -> Result<String, Box<Failure>> {
        if let Some(token) = &self.admin_token {
            return Ok(token.clone());
        }
        let dcr = Outgoing::new(
            Method::POST,
            format!("{}/client-registration/v0.17/register", self.control_plane),
        )
        .basic("admin", "admin")
        .json(&json!({
            "callbackUrl": "www.google.lk",
            "clientName": "rest_api_publisher",
            "owner": "admin",
            "grantType": "client_credentials password refresh_token",
            "saasApp": true
        }));
        let dcr = self.send(dcr).await?;
        if !dcr.response.status.is_success() {
            return Err(dcr.failure("the runner's admin session: DCR failed", Vec::new()));
        }
        let (id, secret) = (field(&dcr, "clientId")?, field(&dcr, "clientSecret")?);
        let grant = Outgoing::new(Method::POST, format!("{}/oauth2/token", self.control_plane))
            .basic(&id, &secret)
            .form(&[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", "admin"),
                ("scope", ADMIN_SCOPES),
            ]);
        let grant = self.send(grant).await?;
        if !grant.response.status.is_success() {
            return Err(grant.failure(
                "the runner's admin session: the password grant failed",
                Vec::new(),
            ));
        }
        let token = field(&grant, "access_token")?;
        self.admin_token = Some(token.clone());
        Ok(token)
    }

    async fn admin_call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Exchange, Box<Failure>> {
        let token = self.admin().await?;
        let mut outgoing =
            Outgoing::new(method, format!("{}{path}", self.control_plane)).bearer(&token);
        if let Some(body) = body {
            outgoing = outgoing.json(&body);
        }
        self.send(outgoing).await
    }

    fn api_id(&self, api: &str) -> Result<String, Box<Failure>> {
        self.apis
            .get(api)
            .map(|a| a.id.clone())
            .ok_or_else(|| failure(check::unknown(&Var::ApiId(api.to_owned()))))
    }

    fn app_id(&self, app: &str) -> Result<String, Box<Failure>> {
        self.apps
            .get(app)
            .cloned()
            .ok_or_else(|| failure(check::unknown(&Var::AppId(app.to_owned()))))
    }

    fn key_credentials(&self, key: &str) -> Result<(String, String), Box<Failure>> {
        self.keys
            .get(key)
            .map(|k| (k.consumer_key.clone(), k.consumer_secret.clone()))
            .ok_or_else(|| {
                failure(check::unknown(&Var::Key(
                    key.to_owned(),
                    KeyField::ConsumerKey,
                )))
            })
    }

    fn endpoint_url(&self, endpoint: &Endpoint) -> Result<String, Box<Failure>> {
        match endpoint {
            Endpoint::Url(url) => Ok(url.clone()),
            Endpoint::Backend(name) => self
                .target
                .backend_url(name)
                .ok_or_else(|| failure(format!("the topology has no mock backend named `{name}`"))),
        }
    }

    async fn publish(
        &mut self,
        publish: &tollgate_scenario::Publish,
    ) -> Result<Exchange, Box<Failure>> {
        let mut endpoint_config = json!({"endpoint_type": "http"});
        if let Some(e) = &publish.production {
            endpoint_config["production_endpoints"] = json!({"url": self.endpoint_url(e)?});
        }
        if let Some(e) = &publish.sandbox {
            endpoint_config["sandbox_endpoints"] = json!({"url": self.endpoint_url(e)?});
        }
        let operations: Vec<Value> = publish
            .resources
            .iter()
            .map(|r| {
                json!({
                    "target": r.target,
                    "verb": r.verb,
                    "authType": r.auth_type.wso2_name(),
                    "throttlingPolicy": r.throttling_policy,
                    "scopes": r.scopes,
                })
            })
            .collect();
        let body = json!({
            "name": publish.name,
            "context": publish.context,
            "version": publish.version,
            "policies": publish.policies,
            "transport": publish.transports,
            "endpointConfig": endpoint_config,
            "operations": operations,
        });
        let created = self
            .admin_call(Method::POST, "/api/am/publisher/v4/apis", Some(body))
            .await?;
        if !created.response.status.is_success() {
            return Ok(created);
        }
        let id = field(&created, "id")?;
        self.apis.insert(
            publish.api.clone(),
            ApiEntity {
                id: id.clone(),
                ..ApiEntity::default()
            },
        );
        if publish.published {
            let path =
                format!("/api/am/publisher/v4/apis/change-lifecycle?apiId={id}&action=Publish");
            let published = self.admin_call(Method::POST, &path, None).await?;
            if !published.response.status.is_success() {
                return Err(published.failure(
                    "the API was created but publishing it (lifecycle action Publish) failed",
                    Vec::new(),
                ));
            }
        }
        Ok(created)
    }

    async fn revision(
        &mut self,
        api: &str,
        number: u32,
        description: Option<&str>,
    ) -> Result<Exchange, Box<Failure>> {
        let id = self.api_id(api)?;
        let body = json!({"description": description.unwrap_or("")});
        let path = format!("/api/am/publisher/v4/apis/{id}/revisions");
        let exchange = self.admin_call(Method::POST, &path, Some(body)).await?;
        if exchange.response.status.is_success() {
            let revision_id = field(&exchange, "id")?;
            if let Some(entity) = self.apis.get_mut(api) {
                entity.revisions.insert(number, revision_id);
            }
        }
        Ok(exchange)
    }

    fn revision_id(&self, api: &str, number: u32) -> Result<String, Box<Failure>> {
        self.apis
            .get(api)
            .and_then(|a| a.revisions.get(&number))
            .cloned()
            .ok_or_else(|| failure(format!("API `{api}` has no revision {number} yet")))
    }

    async fn deploy(
        &mut self,
        deploy: &tollgate_scenario::Deploy,
    ) -> Result<Exchange, Box<Failure>> {
        if deploy.creates_revision {
            let created = self.revision(&deploy.api, deploy.revision, None).await?;
            if !created.response.status.is_success() {
                return Err(created.failure(
                    format!("creating revision {} failed", deploy.revision),
                    Vec::new(),
                ));
            }
        }
        let id = self.api_id(&deploy.api)?;
        let revision_id = self.revision_id(&deploy.api, deploy.revision)?;
        let targets: Vec<Value> = deploy
            .environments
            .iter()
            .map(|name| {
                json!({
                    "name": name,
                    "vhost": deploy.vhost,
                    "displayOnDevportal": deploy.display_on_devportal,
                })
            })
            .collect();
        let path =
            format!("/api/am/publisher/v4/apis/{id}/deploy-revision?revisionId={revision_id}");
        let exchange = self
            .admin_call(Method::POST, &path, Some(Value::Array(targets)))
            .await?;
        if exchange.response.status.is_success()
            && let Some(entity) = self.apis.get_mut(&deploy.api)
        {
            for env in &deploy.environments {
                entity.deployed.insert(env.clone(), deploy.revision);
            }
        }
        Ok(exchange)
    }

    async fn undeploy(
        &mut self,
        undeploy: &tollgate_scenario::Undeploy,
    ) -> Result<Exchange, Box<Failure>> {
        let id = self.api_id(&undeploy.api)?;
        let number = match undeploy.revision {
            Some(n) => n,
            None => self
                .apis
                .get(&undeploy.api)
                .and_then(|a| {
                    undeploy
                        .environments
                        .iter()
                        .find_map(|env| a.deployed.get(env).copied())
                })
                .ok_or_else(|| {
                    failure(format!(
                        "no revision of `{}` was deployed to {} by this scenario",
                        undeploy.api,
                        undeploy.environments.join(", ")
                    ))
                })?,
        };
        let revision_id = self.revision_id(&undeploy.api, number)?;
        let targets: Vec<Value> = undeploy
            .environments
            .iter()
            .map(|name| json!({"name": name, "vhost": "localhost", "displayOnDevportal": true}))
            .collect();
        let path =
            format!("/api/am/publisher/v4/apis/{id}/undeploy-revision?revisionId={revision_id}");
        let exchange = self
            .admin_call(Method::POST, &path, Some(Value::Array(targets)))
            .await?;
        if exchange.response.status.is_success()
            && let Some(entity) = self.apis.get_mut(&undeploy.api)
        {
            for env in &undeploy.environments {
                entity.deployed.remove(env);
            }
        }
        Ok(exchange)
    }

    async fn token(
        &mut self,
        request: &tollgate_scenario::TokenRequest,
    ) -> Result<Exchange, Box<Failure>> {
        let (key, secret) = self.key_credentials(&request.key)?;
        let lookup_fn = |v: &Var| self.lookup(v);
        let lookup: Lookup<'_> = &lookup_fn;
        let mut form: Vec<(&str, String)> = Vec::new();
        match &request.grant {
            Grant::ClientCredentials => form.push(("grant_type", "client_credentials".into())),
            Grant::Password { username, password } => {
                form.push(("grant_type", "password".into()));
                form.push(("username", render(username, lookup).map_err(failure)?));
                form.push(("password", render(password, lookup).map_err(failure)?));
            }
            Grant::RefreshToken { token } => {
                let refresh = self
                    .tokens
                    .get(token)
                    .and_then(|t| t.refresh.clone())
                    .ok_or_else(|| {
                        failure(format!("token `{token}` came without a refresh token"))
                    })?;
                form.push(("grant_type", "refresh_token".into()));
                form.push(("refresh_token", refresh));
            }
        }
        if let Some(scope) = &request.scope {
            form.push(("scope", scope.clone()));
        }
        if let Some(validity) = request.validity {
            form.push(("validity_period", validity.as_secs().to_string()));
        }
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let outgoing = Outgoing::new(Method::POST, format!("{}/oauth2/token", self.control_plane))
            .basic(&key, &secret)
            .form(&fields);
        let exchange = self.send(outgoing).await?;
        if exchange.response.status.is_success() {
            let doc = body_json(&exchange.response).unwrap_or(Value::Null);
            let access = field(&exchange, "access_token")?;
            self.captures.insert(request.name.clone(), access);
            self.tokens.insert(
                request.name.clone(),
                TokenEntity {
                    refresh: doc["refresh_token"].as_str().map(str::to_owned),
                },
            );
        }
        Ok(exchange)
    }

    fn body(&self, outgoing: Outgoing, body: &Body) -> Result<Outgoing, Box<Failure>> {
        let lookup_fn = |v: &Var| self.lookup(v);
        let lookup: Lookup<'_> = &lookup_fn;
        Ok(match body {
            Body::Text(t) => {
                let mut o = outgoing;
                o.body = render(t, lookup).map_err(failure)?.into_bytes();
                o
            }
            Body::Json(t) => outgoing.json(&render_json(t, lookup).map_err(failure)?),
            Body::Form(fields) => {
                let rendered: Vec<(String, String)> = fields
                    .iter()
                    .map(|(k, t)| Ok((k.clone(), render(t, lookup)?)))
                    .collect::<Result<_, String>>()
                    .map_err(failure)?;
                let pairs: Vec<(&str, &str)> = rendered
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                outgoing.form(&pairs)
            }
        })
    }

    fn headers(
        &self,
        mut outgoing: Outgoing,
        headers: &[(String, tollgate_scenario::Template)],
    ) -> Result<Outgoing, Box<Failure>> {
        let lookup_fn = |v: &Var| self.lookup(v);
        for (name, t) in headers {
            outgoing = outgoing.header(name, render(t, &lookup_fn).map_err(failure)?);
        }
        Ok(outgoing)
    }

    async fn http(&mut self, http: &tollgate_scenario::Http) -> Result<Exchange, Box<Failure>> {
        let base = match &http.via {
            None => self.control_plane.clone(),
            Some(instance) => self.target.management_url(instance).ok_or_else(|| {
                failure(format!(
                    "instance `{instance}` has no management port running"
                ))
            })?,
        };
        let path = {
            let lookup_fn = |v: &Var| self.lookup(v);
            render(&http.path, &lookup_fn).map_err(failure)?
        };
        let method = method(&http.method)?;
        let mut outgoing = Outgoing::new(method, format!("{base}{path}"));
        let lookup_fn = |v: &Var| self.lookup(v);
        let auth = match &http.auth {
            HttpAuth::Session => None,
            HttpAuth::None => Some(None),
            HttpAuth::Bearer(t) => Some(Some(format!(
                "Bearer {}",
                render(t, &lookup_fn).map_err(failure)?
            ))),
            HttpAuth::Basic { user, password } => {
                use base64::Engine;
                let user = render(user, &lookup_fn).map_err(failure)?;
                let password = render(password, &lookup_fn).map_err(failure)?;
                Some(Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
                )))
            }
        };
        let auth = match auth {
            None => Some(format!("Bearer {}", self.admin().await?)),
            Some(a) => a,
        };
        if let Some(auth) = auth {
            outgoing = outgoing.header("Authorization", auth);
        }
        outgoing = self.headers(outgoing, &http.headers)?;
        if let Some(body) = &http.body {
            outgoing = self.body(outgoing, body)?;
        }
        self.send(outgoing).await
    }

    /// A `request` step: `request` is the step's own action, handed over by the dispatch so a
    /// step of another kind cannot reach here.
    async fn request_step(
        &mut self,
        step: &Step,
        request: &tollgate_scenario::Request,
    ) -> Result<StepEnd, Box<Failure>> {
        self.converge().await?;
        let base = self
            .target
            .gateway_url(&request.via, request.scheme == Scheme::Https)
            .ok_or_else(|| {
                failure(format!(
                    "instance `{}` has no {} gateway port running",
                    request.via,
                    if request.scheme == Scheme::Https {
                        "HTTPS"
                    } else {
                        "HTTP"
                    }
                ))
            })?;
        let lookup_fn = |v: &Var| self.lookup(v);
        let path = render(&request.path, &lookup_fn).map_err(failure)?;
        let mut outgoing = Outgoing::new(method(&request.method)?, format!("{base}{path}"));
        if let Some(token) = &request.token {
            let mut token = render(token, &lookup_fn).map_err(failure)?;
            if let Some(variant) = request.token_variant {
                token = variant.apply(&token).map_err(|e| failure(e.to_string()))?;
            }
            outgoing = outgoing.bearer(&token);
        }
        outgoing = self.headers(outgoing, &request.headers)?;
        if let Some(body) = &request.body {
            outgoing = self.body(outgoing, body)?;
        }
        let Some(repeat) = &step.repeat else {
            let exchange = self.send(outgoing).await?;
            self.expect_and_capture(step, &exchange)?;
            return Ok(StepEnd::Passed);
        };
        let n = repeat.times as usize;
        let mut responses = Vec::with_capacity(n);
        let mut first_bad: Option<(Exchange, Vec<Mismatch>)> = None;
        let mut bad = 0;
        for i in 0..n {
            let exchange = self.send(outgoing.clone()).await?;
            if let Some(expect) = &step.expect {
                let mut mismatches = self.check(expect, &exchange.response).map_err(failure)?;
                if !mismatches.is_empty() {
                    bad += 1;
                    for m in &mut mismatches {
                        m.what = format!("response {} of {n}: {}", i + 1, m.what);
                    }
                    if first_bad.is_none() {
                        first_bad = Some((
                            Exchange {
                                sent: exchange.sent.clone(),
                                response: exchange.response.clone(),
                            },
                            mismatches,
                        ));
                    }
                }
            }
            responses.push(exchange);
        }
        if let Some((exchange, mismatches)) = first_bad {
            return Err(exchange.failure(
                format!("{bad} of {n} responses did not match `expect` (the first is shown)"),
                mismatches,
            ));
        }
        let plain: Vec<ClientResponse> = responses.iter().map(|e| e.response.clone()).collect();
        if let Some(counts) = &repeat.counts {
            let lookup_fn = |v: &Var| self.lookup(v);
            let mismatches = check_counts(counts, &plain, &lookup_fn).map_err(failure)?;
            if !mismatches.is_empty() {
                let mut f = failure(format!(
                    "the {n} responses do not add up to `expect_counts`"
                ));
                f.request = Some(outgoing.sent());
                f.mismatches = mismatches;
                return Err(f);
            }
        }
        if let Some(last) = responses.last() {
            self.capture(step, &last.response)
                .map_err(|message| last.failure(message, Vec::new()))?;
        }
        Ok(StepEnd::Passed)
    }

    async fn fault(&mut self, fault: &Fault) -> Result<StepEnd, Box<Failure>> {
        let needs = if fault.needs_crash_restart() {
            Some(Capability::CrashRestart)
        } else if fault.needs_partition() {
            Some(Capability::Partition)
        } else {
            None
        };
        if let Some(capability) = needs.filter(|c| !self.driver.has(*c)) {
            return Ok(StepEnd::Skipped(format!(
                "driver `{}` has no {capability}",
                self.driver.kind().name()
            )));
        }
        if let Some(reason) = self.target.cannot(fault) {
            return Ok(StepEnd::Skipped(format!(
                "driver `{}`: {reason}",
                self.driver.kind().name()
            )));
        }
        self.target
            .inject(fault)
            .await
            .map_err(|e| failure(format!("the fault could not be injected: {e}")))?;
        Ok(StepEnd::Passed)
    }

    /// An `artifact` step: a file put on a node's disk, or checked there. A placed file changes
    /// nothing until the node's next start, so nothing is waited for.
    async fn artifact(&mut self, artifact: &Artifact) -> Result<(), Box<Failure>> {
        let path = artifact.relative_path();
        let lookup_fn = |v: &Var| self.lookup(v);
        match &artifact.check {
            ArtifactCheck::Place(body) => {
                let content = match body {
                    Body::Json(t) => {
                        let value = render_json(t, &lookup_fn).map_err(failure)?;
                        serde_json::to_vec_pretty(&value)
                            .map_err(|e| failure(format!("{path}: {e}")))?
                    }
                    Body::Text(t) => render(t, &lookup_fn).map_err(failure)?.into_bytes(),
                    Body::Form(_) => return Err(failure("a file's content is `json` or `body`")),
                };
                self.target
                    .place_file(&artifact.on, &path, content)
                    .await
                    .map_err(|e| failure(format!("{path} not placed on `{}`: {e}", artifact.on)))
            }
            ArtifactCheck::Present { contains } => {
                let mut texts = Vec::new();
                for t in contains {
                    texts.push(render(t, &lookup_fn).map_err(failure)?);
                }
                let read = self.read_artifact(&artifact.on, &path).await?;
                let Some(bytes) = read else {
                    return Err(failure(format!("{path} is not on `{}`", artifact.on)));
                };
                let text = String::from_utf8_lossy(&bytes);
                let missing: Vec<&String> = texts.iter().filter(|t| !text.contains(*t)).collect();
                if missing.is_empty() {
                    return Ok(());
                }
                let mut f = failure(format!(
                    "{path} on `{}` does not hold what `contains` says",
                    artifact.on
                ));
                f.mismatches = missing
                    .into_iter()
                    .map(|t| Mismatch {
                        what: "file contains".to_owned(),
                        expected: t.clone(),
                        actual: excerpt(&text, BODY_EXCERPT),
                        diff: None,
                    })
                    .collect();
                Err(f)
            }
            ArtifactCheck::Absent => match self.read_artifact(&artifact.on, &path).await? {
                None => Ok(()),
                Some(_) => Err(failure(format!("{path} is still on `{}`", artifact.on))),
            },
        }
    }

    async fn read_artifact(&self, on: &str, path: &str) -> Result<Option<Vec<u8>>, Box<Failure>> {
        self.target
            .read_file(on, path)
            .await
            .map_err(|e| failure(format!("{path} on `{on}` not read: {e}")))
    }

    async fn load(&mut self, load: &Load) -> Result<(), Box<Failure>> {
        match load {
            Load::Start(start) => {
                self.converge().await?;
                let https = start.scheme == Scheme::Https;
                let base = self.target.gateway_url(&start.via, https).ok_or_else(|| {
                    failure(format!(
                        "`{}` has no {} port running",
                        start.via,
                        if https { "HTTPS" } else { "HTTP" }
                    ))
                })?;
                let lookup_fn = |v: &Var| self.lookup(v);
                let path = render(&start.path, &lookup_fn).map_err(failure)?;
                let mut headers = Vec::new();
                for (name, value) in &start.headers {
                    headers.push((name.clone(), render(value, &lookup_fn).map_err(failure)?));
                }
                if let Some(token) = &start.token {
                    let token = render(token, &lookup_fn).map_err(failure)?;
                    headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
                }
                let plan = LoadPlan {
                    name: start.name.clone(),
                    via: start.via.clone(),
                    method: method(&start.method)?,
                    url: format!("{base}{path}"),
                    headers,
                    rate: start.rate,
                    duration: start.duration,
                    concurrency: start.concurrency,
                };
                self.loads.insert(
                    start.name.clone(),
                    RunningLoad::start(plan, self.client.clone()),
                );
                Ok(())
            }
            Load::Stop(stop) => {
                let running = self
                    .loads
                    .remove(&stop.name)
                    .ok_or_else(|| failure(format!("the load `{}` is not running", stop.name)))?;
                let figures = running
                    .end(stop.finish)
                    .await
                    .ok_or_else(|| failure(format!("the load `{}` ended abnormally", stop.name)))?;
                let mismatches = check_load(&stop.expect, &figures);
                let line = figures.line();
                self.figures = Some(figures);
                if mismatches.is_empty() {
                    Ok(())
                } else {
                    let mut f = failure(format!(
                        "the load's figures do not meet `expect_load`: {line}"
                    ));
                    f.mismatches = mismatches;
                    Err(f)
                }
            }
        }
    }

    /// Before a request through a gateway: every gateway applies the latest control-plane event.
    async fn converge(&mut self) -> Result<(), Box<Failure>> {
        if !self.unconverged {
            return Ok(());
        }
        let seq = self.target.event_seq().await;
        for gateway in self.target.gateway_names() {
            self.target
                .wait_for_seq(&gateway, seq, CONVERGE_TIMEOUT)
                .await
                .map_err(|e| {
                    failure(format!(
                        "the gateways did not apply the control plane's changes within {CONVERGE_TIMEOUT:?}: {}",
                        e.last_seen
                    ))
                })?;
        }
        super::throttle::converge(self.target, seq, CONVERGE_TIMEOUT)
            .await
            .map_err(failure)?;
        self.unconverged = false;
        Ok(())
    }

    async fn advance(&mut self, advance: Advance) -> StepEnd {
        if !self.driver.has(Capability::VirtualTime) {
            return StepEnd::Skipped(format!(
                "driver `{}` has no {}",
                self.driver.kind().name(),
                Capability::VirtualTime
            ));
        }
        let now = self.target.now_millis();
        let to = match advance {
            Advance::By(by) => {
                now.saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX))
            }
            Advance::To(mark) => mark.after(now),
        };
        match self.target.set_clock(to).await {
            Ok(()) => {
                super::throttle::clock_moved(self.target);
                StepEnd::Passed
            }
            Err(reason) => StepEnd::Failed(failure(format!(
                "the topology's clock did not move to {to}: {reason}"
            ))),
        }
    }

    async fn wait(&mut self, condition: &Condition, timeout: Duration) -> Result<(), Box<Failure>> {
        let timed_out = |what: String, last: String| {
            failure(format!("{what} within {timeout:?}; last seen: {last}"))
        };
        match condition {
            Condition::GatewaySynced { gateways } => {
                let names = if gateways.is_empty() {
                    self.target.gateway_names()
                } else {
                    gateways.clone()
                };
                let seq = self.target.event_seq().await;
                for gateway in names {
                    self.target
                        .wait_for_seq(&gateway, seq, timeout)
                        .await
                        .map_err(|e| {
                            timed_out(
                                format!("`{gateway}` did not apply event {seq}"),
                                e.last_seen,
                            )
                        })?;
                }
                self.unconverged = false;
            }
            Condition::RevisionServed {
                api,
                environment,
                revision,
            } => {
                let api_id = self.api_id(api)?;
                let revision_id = self.revision_id(api, *revision)?;
                let gateways = self.target.gateways_of(environment);
                if gateways.is_empty() {
                    return Err(failure(format!(
                        "no gateway of the topology serves environment `{environment}`"
                    )));
                }
                for gateway in gateways {
                    self.target
                        .wait_for_revision(&gateway, &api_id, &revision_id, timeout)
                        .await
                        .map_err(|e| {
                            timed_out(
                                format!("`{gateway}` did not serve revision {revision} of `{api}`"),
                                e.last_seen,
                            )
                        })?;
                }
            }
            Condition::RevocationReached { token, gateway } => {
                let seq = *self.revoked_at.get(token).ok_or_else(|| {
                    failure(format!(
                        "token `{token}` was not revoked by an earlier step"
                    ))
                })?;
                self.target
                    .wait_for_seq(gateway, seq, timeout)
                    .await
                    .map_err(|e| {
                        timed_out(
                            format!("the revocation of `{token}` did not reach `{gateway}` (event {seq})"),
                            e.last_seen,
                        )
                    })?;
            }
            Condition::Throttle {
                gateway,
                key,
                throttled,
            } => {
                let app_id = key.app().map(|app| self.app_id(app)).transpose()?;
                super::throttle::wait(
                    self.target,
                    gateway,
                    key,
                    app_id.as_deref(),
                    *throttled,
                    timeout,
                )
                .await
                .map_err(failure)?;
            }
        }
        Ok(())
    }
}

/// Each `expect_load` figure that does not hold.
fn check_load(expect: &LoadExpect, figures: &LoadFigures) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut mismatch = |what: String, expected: String, actual: String| {
        out.push(Mismatch {
            what,
            expected,
            actual,
            diff: None,
        });
    };
    if let Some(least) = expect.sent_at_least
        && figures.sent < least
    {
        mismatch(
            "sent".into(),
            format!("at least {least}"),
            figures.sent.to_string(),
        );
    }
    for (what, want, got) in [
        ("failed", expect.failed, figures.failed),
        ("lost", expect.lost, figures.lost),
    ] {
        if let Some(want) = want.filter(|w| *w != got) {
            mismatch(what.into(), want.to_string(), got.to_string());
        }
    }
    for (code, count) in &expect.status {
        let got = figures.status.get(code).copied().unwrap_or(0);
        let (want, text) = match count {
            LoadCount::Exactly(n) => (*n, n.to_string()),
            LoadCount::All => (figures.sent, format!("all ({})", figures.sent)),
        };
        if got != want {
            mismatch(format!("status {code}"), text, got.to_string());
        }
    }
    let l = &figures.latency_us;
    for (what, bound, got) in [
        ("p50", expect.p50_below, l.p50),
        ("p90", expect.p90_below, l.p90),
        ("p99", expect.p99_below, l.p99),
        ("max", expect.max_below, l.max),
    ] {
        if let Some(bound) = bound
            && u128::from(got) >= bound.as_micros()
        {
            mismatch(
                format!("latency {what}"),
                format!("below {bound:?}"),
                format!("{:.1}ms", got as f64 / 1000.0),
            );
        }
    }
    out
}

fn method(name: &str) -> Result<Method, Box<Failure>> {
    Method::from_bytes(name.as_bytes())
        .map_err(|_| failure(format!("`{name}` is not an HTTP method")))
}

/// A string field of the response's JSON body.
fn field(exchange: &Exchange, name: &str) -> Result<String, Box<Failure>> {
    body_json(&exchange.response)
        .and_then(|doc| doc.get(name).and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| {
            exchange.failure(
                format!("the response has no `{name}` string field the runner needs"),
                Vec::new(),
            )
        })
}

/// One line for a list of mismatches.
fn summary(mismatches: &[Mismatch]) -> String {
    match mismatches {
        [one] => format!(
            "{}: expected {}, got {}",
            one.what,
            excerpt(&one.expected, 100),
            excerpt(&one.actual, 100)
        ),
        many => format!(
            "{} expectations did not hold: {}",
            many.len(),
            many.iter()
                .map(|m| m.what.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
