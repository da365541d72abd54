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

// One module per step kind (each an `impl Executor` block), plus what every step shares.
mod advance;
mod application;
mod artifact;
mod deploy;
mod fault;
mod generate_keys;
mod http;
mod lifecycle;
mod load;
mod publish;
mod request;
mod revision;
mod revoke;
mod subscribe;
mod token;
mod undeploy;
mod wait;

use super::check::{self, Lookup, as_text, body_json, check, check_counts, render, render_json};
use super::load::{LoadFigures, LoadPlan, RunningLoad};
use crate::client::{Client, ClientResponse};
use crate::driver::{Capability, Disk, Driver, Faults, Signals, Target, VirtualClock};
use crate::report::{
    BODY_EXCERPT, Failure, HEADER_EXCERPT, Mismatch, Outcome, ReceivedResponse, SentRequest,
    StepReport, excerpt,
};
use ::http::Method;
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
    /// The context as the scenario writes it (`/pizzashack`).
    context: String,
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
    /// Token name -> the control plane's event sequence right after its revocation (`None`
    /// without signals).
    revoked_at: BTreeMap<String, Option<u64>>,
    /// A control-plane change gateways have not been seen to apply yet.
    unconverged: bool,
    /// Time spent waiting for gateways to apply changes, by signal or by polling.
    convergence: Duration,
    /// The names of the applications this scenario created, as written.
    app_names: Vec<String>,
    /// What `http` steps created on a shared deployment (throttling policies, deny
    /// conditions), as URLs to delete when the scenario ends.
    created: Vec<String>,
    /// The scenario counts requests against quotas (`throttling`): a black-box poll would spend
    /// them.
    counts_quota: bool,
    /// Background loads started and not yet stopped; dropped (aborted) with the executor.
    loads: BTreeMap<String, RunningLoad>,
    /// The figures of the load the current step stopped, for its report.
    figures: Option<LoadFigures>,
    /// What the current step observed, for its report.
    observed: Option<String>,
    /// Where faults and convergence are written, when the run records ([`Self::record`]).
    transcript: Option<crate::transcript::Transcript>,
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
            convergence: Duration::ZERO,
            app_names: Vec::new(),
            created: Vec::new(),
            counts_quota: false,
            loads: BTreeMap::new(),
            figures: None,
            observed: None,
            transcript: None,
        }
    }

    /// Writes every exchange of the runner's client to `transcript`, as `harness`, and each
    /// fault injected and gateway seen to apply the control plane's events.
    pub(crate) fn record(&mut self, transcript: crate::transcript::Transcript) {
        self.client = self.client.clone().recording(transcript.clone(), "harness");
        self.transcript = Some(transcript);
    }

    /// Runs every step in order. A failed control-plane step stops the run (later steps need
    /// what it should have made; they are reported skipped, saying why); a failed `request` or
    /// `http` step does not. A step skipped for a missing driver capability stops it too: what
    /// follows would check a world that step did not make.
    pub(crate) async fn run(&mut self, scenario: &Scenario, file: &str) -> Vec<StepReport> {
        self.counts_quota = scenario.tags.contains(&tollgate_scenario::Tag::Throttling);
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
                    if step.action.must_succeed() {
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
                observed: self.observed.take(),
                duration_ms: millis(started.elapsed()),
            });
        }
        reports
    }

    /// `name` as the target gets it: with the run's prefix when it has one.
    fn prefixed(&self, name: &str) -> String {
        match self.target.run_prefix() {
            Some(prefix) => format!("{prefix}{name}"),
            None => name.to_owned(),
        }
    }

    /// A context as the target gets it: `/pizzashack` → `/{prefix}pizzashack`.
    fn prefixed_context(&self, context: &str) -> String {
        match self.target.run_prefix() {
            Some(prefix) => format!("/{prefix}{}", context.trim_start_matches('/')),
            None => context.to_owned(),
        }
    }

    /// A JSON body the scenario wrote, as the target gets it: a string naming a context this
    /// scenario published (`/pizzashack/1.0.0`), or an application it created as
    /// `owner:name`, carries the run's prefix (a deny condition on them, say).
    fn prefixed_json(&self, value: Value) -> Value {
        if self.target.run_prefix().is_none() {
            return value;
        }
        match value {
            Value::String(text) => {
                let served = self.served_path(text.clone());
                if served != text {
                    return Value::String(served);
                }
                match text.split_once(':') {
                    Some((owner, app)) if self.app_names.iter().any(|a| a == app) => {
                        Value::String(format!("{owner}:{}", self.prefixed(app)))
                    }
                    _ => Value::String(text),
                }
            }
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.prefixed_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, self.prefixed_json(v)))
                    .collect(),
            ),
            other => other,
        }
    }

    /// A gateway path as the scenario writes it (`/pizzashack/1.0.0/menu`) → as the target
    /// serves it: the context of an API this scenario published, prefixed.
    fn served_path(&self, path: String) -> String {
        if self.target.run_prefix().is_none() {
            return path;
        }
        let context = self
            .apis
            .values()
            .map(|api| api.context.as_str())
            .filter(|c| {
                path.strip_prefix(c)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
            })
            .max_by_key(|c| c.len());
        match context {
            Some(context) => format!(
                "{}{}",
                self.prefixed_context(context),
                &path[context.len()..]
            ),
            None => path,
        }
    }

    /// Deletes what the scenario created on a shared deployment (applications first: WSO2
    /// refuses to delete an API with subscriptions). Best effort: what fails to go is left for
    /// `tollgate conform --sweep`, and says so in the log.
    pub(crate) async fn clean_up(&mut self) {
        if !self.target.cleans_up() {
            return;
        }
        let created = std::mem::take(&mut self.created);
        let apps: Vec<String> = std::mem::take(&mut self.apps).into_values().collect();
        let apis: Vec<String> = std::mem::take(&mut self.apis)
            .into_values()
            .map(|a| a.id)
            .collect();
        let paths = apps
            .iter()
            .map(|id| format!("/api/am/devportal/v3/applications/{id}"))
            .chain(
                apis.iter()
                    .map(|id| format!("/api/am/publisher/v4/apis/{id}")),
            );
        let urls: Vec<String> = paths
            .map(|path| format!("{}{path}", self.control_plane))
            .chain(created.into_iter().rev())
            .collect();
        for url in urls {
            let token = match self.admin().await {
                Ok(token) => token,
                Err(f) => {
                    tracing::warn!(error = %f.message, "no admin session: nothing deleted");
                    return;
                }
            };
            match self
                .send(Outgoing::new(Method::DELETE, url.clone()).bearer(&token))
                .await
            {
                // Gone already: the scenario deleted it itself.
                Ok(e) if e.response.status.is_success() || e.response.status == 404 => {}
                Ok(e) => tracing::warn!(%url, status = %e.response.status, "not deleted"),
                Err(f) => tracing::warn!(%url, error = %f.message, "not deleted"),
            }
        }
    }

    /// A step skipped because the target lacks `capability`.
    fn lacks(&self, capability: Capability) -> StepEnd {
        StepEnd::Skipped(format!(
            "driver `{}` has no {capability}",
            self.driver.kind().name()
        ))
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

    /// Runs the step's action in its kind's module (one dispatch line per kind). A step with a
    /// response then has its `expect` checked and its captures taken.
    async fn action(&mut self, step: &Step) -> Result<StepEnd, Box<Failure>> {
        let exchange = match &step.action {
            Action::Publish(publish) => self.publish(publish).await?,
            Action::Revision(r) => {
                self.revision(&r.api, r.number, r.description.as_deref())
                    .await?
            }
            Action::Deploy(deploy) => self.deploy(deploy).await?,
            Action::Undeploy(undeploy) => self.undeploy(undeploy).await?,
            Action::Lifecycle(lifecycle) => self.lifecycle(lifecycle).await?,
            Action::Application(app) => self.application(app).await?,
            Action::Subscribe(sub) => self.subscribe(sub).await?,
            Action::GenerateKeys(keys) => self.generate_keys(keys).await?,
            Action::Token(request) => self.token(request).await?,
            Action::Revoke(revoke) => self.revoke(revoke).await?,
            Action::Http(http) => self.http(http).await?,
            Action::Request(request) => return self.request_step(step, request).await,
            Action::Advance(advance) => return Ok(self.advance(*advance).await),
            Action::Wait(wait) => return self.wait_step(wait).await,
            Action::Fault(fault) => return self.fault(fault).await,
            Action::Load(load) => return self.load(load).await.map(|()| StepEnd::Passed),
            Action::Artifact(artifact) => return self.artifact(artifact).await,
        };
        if step.action.changes_gateway_state() {
            self.changed();
        }
        self.expect_and_capture(step, &exchange)?;
        Ok(StepEnd::Passed)
    }

    /// Checks the step's `expect` (or, for a control-plane step without one, a 2xx) and takes
    /// its captures.
    fn expect_and_capture(&mut self, step: &Step, exchange: &Exchange) -> Result<(), Box<Failure>> {
        let mismatches = match &step.expect {
            Some(expect) => self.check(expect, &exchange.response).map_err(failure)?,
            None if step.action.must_succeed() && !exchange.response.status.is_success() => {
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
            response: self.unprefixed(response),
        })
    }

    /// A response with the run's prefix taken out of its body, so expectations see the names
    /// and contexts the scenario wrote (`PizzaShackAPI`, `/pizzashack/1.0.0`).
    fn unprefixed(&self, mut response: ClientResponse) -> ClientResponse {
        let Some(prefix) = self.target.run_prefix() else {
            return response;
        };
        if let Ok(text) = std::str::from_utf8(&response.body)
            && text.contains(prefix)
        {
            response.body = text.replace(prefix, "").into_bytes().into();
        }
        response
    }

    /// The admin REST token: DCR then a password grant with every scope, once per scenario.
    async fn admin(&mut self) -> Result<String, Box<Failure>> {
        if let Some(token) = &self.admin_token {
            return Ok(token.clone());
        }
        let (user, password) = self.target.admin_credentials();
        let dcr = Outgoing::new(
            Method::POST,
            format!("{}/client-registration/v0.17/register", self.control_plane),
        )
        .basic(&user, &password)
        .json(&json!({
            "callbackUrl": "www.google.lk",
            "clientName": "rest_api_publisher",
            "owner": user,
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
                ("username", &user),
                ("password", &password),
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

    fn body(&self, outgoing: Outgoing, body: &Body) -> Result<Outgoing, Box<Failure>> {
        let lookup_fn = |v: &Var| self.lookup(v);
        let lookup: Lookup<'_> = &lookup_fn;
        Ok(match body {
            Body::Text(t) => {
                let mut o = outgoing;
                o.body = render(t, lookup).map_err(failure)?.into_bytes();
                o
            }
            Body::Json(t) => {
                outgoing.json(&self.prefixed_json(render_json(t, lookup).map_err(failure)?))
            }
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

    /// Before a request through a gateway: every gateway applies the latest control-plane event.
    /// Before a gateway request after control-plane changes: with signals, waits until every
    /// gateway and Traffic Manager has applied them. Without, the changes stay pending and the
    /// request polls ([`Self::poll_until_converged`]).
    async fn converge(&mut self) -> Result<(), Box<Failure>> {
        if !self.unconverged {
            return Ok(());
        }
        let started = tokio::time::Instant::now();
        let converged = self.await_signals().await;
        self.convergence += started.elapsed();
        converged
    }

    /// The time this scenario spent waiting for convergence so far.
    pub(crate) fn convergence(&self) -> Duration {
        self.convergence
    }

    async fn await_signals(&mut self) -> Result<(), Box<Failure>> {
        let Some(signals) = self.target.signals() else {
            return Ok(());
        };
        let seq = signals.event_seq().await;
        for gateway in self.target.gateway_names() {
            signals
                .wait_for_seq(&gateway, seq, CONVERGE_TIMEOUT)
                .await
                .map_err(|e| {
                    failure(format!(
                        "the gateways did not apply the control plane's changes within {CONVERGE_TIMEOUT:?}: {}",
                        e.last_seen
                    ))
                })?;
            if let Some(transcript) = &self.transcript {
                transcript.record(
                    "applied",
                    serde_json::json!({ "gateway": gateway, "seq": seq }),
                );
            }
        }
        super::throttle::converge(signals, seq, CONVERGE_TIMEOUT)
            .await
            .map_err(failure)?;
        self.unconverged = false;
        Ok(())
    }

    /// A convergence wait on a target without signals: nothing to watch, so the next gateway
    /// request polls until its expectation holds.
    fn converge_black_box(&mut self) {
        self.changed();
    }

    /// A change the gateways have yet to apply, every one of them.
    fn changed(&mut self) {
        self.unconverged = true;
    }
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
