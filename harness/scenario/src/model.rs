//! The checked scenario: what the runner executes.
//!
//! Everything here has passed the parser's checks: names refer to things defined by earlier
//! steps, revisions exist, repeats have expectations. Defaults are filled in (the model never
//! says "unset" where the file had a default), so the runner does not re-derive them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::error::Location;
use crate::expect::{Capture, CountExpect, Expect};
use crate::template::{JsonTemplate, Template};
use crate::time::ClockMark;

/// The file spelling of `value` in a `(spelling, value)` table (every enum's `ALL` lists each
/// variant once, so the lookup always finds it).
pub(crate) fn spelling<T: Copy + PartialEq>(all: &[(&'static str, T)], value: T) -> &'static str {
    all.iter().find(|(_, v)| *v == value).map_or("", |(n, _)| n)
}

/// One scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file it was read from (as given to [`crate::parse`]).
    pub file: PathBuf,
    /// One sentence saying what the scenario proves; reports print it.
    pub name: String,
    pub description: Option<String>,
    pub topology: TopologyRef,
    /// The seed for every random choice; `None` lets the runner choose (and print) one.
    pub seed: Option<u64>,
    /// Conformance profiles this scenario belongs to, as written (no duplicates).
    pub tags: Vec<Tag>,
    /// Whether an implementation must pass it to conform to its profiles (`core`) or may
    /// declare the feature unsupported (`extended`).
    pub support: Support,
    /// The WSO2 behaviour it checks, as a reference into `docs/` (the conformance report
    /// prints it).
    pub follows: Option<String>,
    /// Drivers the scenario is valid on; every driver when the file does not say.
    pub drivers: Vec<Driver>,
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Whether the scenario may run on `driver`.
    pub fn runs_on(&self, driver: Driver) -> bool {
        self.drivers.contains(&driver)
    }
}

/// Which topology to boot: a folder under `scenarios/topologies/`, plus edits to its
/// instances' `deployment.toml` files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TopologyRef {
    /// The folder name (`"guide"`).
    pub name: String,
    /// instance name -> dotted `deployment.toml` key (`apim.cors.allow_origins`) -> value that
    /// replaces what the file says. Keys are checked by the topology loader, which knows the
    /// `deployment.toml` schema; this crate only checks their shape.
    pub overrides: BTreeMap<String, BTreeMap<String, Value>>,
}

/// How a scenario counts in its profiles' conformance results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Support {
    /// Every implementation of the profile must pass it.
    #[default]
    Core,
    /// An implementation may leave the feature out (and say so in its target file).
    Extended,
}

impl Support {
    pub fn name(self) -> &'static str {
        match self {
            Self::Core => "core",
            Self::Extended => "extended",
        }
    }
}

/// A conformance profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tag {
    /// Context, version and resource routing; 404 / 405.
    Routing,
    /// Production / sandbox / hybrid key-type enforcement.
    KeyTypes,
    Throttling,
    /// High availability: gateway pairs, failover, catch-up.
    Ha,
    /// Publisher / Developer Portal / Key Manager REST behaviour.
    ControlPlane,
    /// Tokens and API keys at the gateway: missing, malformed, tampered, expired, revoked, scoped.
    TokenAuth,
}

impl Tag {
    pub const ALL: [Self; 6] = [
        Self::Routing,
        Self::KeyTypes,
        Self::TokenAuth,
        Self::Throttling,
        Self::Ha,
        Self::ControlPlane,
    ];

    /// The name used in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Routing => "routing",
            Self::KeyTypes => "key-types",
            Self::Throttling => "throttling",
            Self::Ha => "ha",
            Self::ControlPlane => "control-plane",
            Self::TokenAuth => "token-auth",
        }
    }
}

/// A way to run a topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Driver {
    /// In this process, on real loopback sockets.
    Inproc,
    /// In a deterministic network simulator.
    Sim,
    /// In Docker containers.
    Container,
    /// Against a deployment someone else runs (URLs in a target file).
    External,
}

impl Driver {
    pub const ALL: [Self; 4] = [Self::Inproc, Self::Sim, Self::Container, Self::External];

    pub fn name(self) -> &'static str {
        match self {
            Self::Inproc => "inproc",
            Self::Sim => "sim",
            Self::Container => "container",
            Self::External => "external",
        }
    }
}

/// A quota checked from outside: the request is sent until an answer has `status`, and that
/// must come after at least `served` and at most `served + slack` 2xx answers. A gateway counts
/// asynchronously (its decision comes back from the Traffic Manager), so a black-box client
/// sees a few more served than the quota; `slack` bounds how many, and the report gives the
/// overshoot it saw. Answers before the first 2xx that have neither status (the API or the
/// subscription not there yet) are waited through, within the propagation bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Until {
    pub status: u16,
    pub served: u32,
    pub slack: u32,
}

/// One `[[step]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 0-based position: `step[index]` in messages and reports.
    pub index: usize,
    /// The `name` the file gives, for reports.
    pub name: Option<String>,
    /// Where the step starts in the file.
    pub location: Location,
    pub action: Action,
    /// What the step's main HTTP response must look like (every response, for a repeat).
    /// `None` on a control-plane step (publish … revoke) means the call must succeed (2xx);
    /// a `request` or `http` step asserts only what is written (the parser makes sure it has
    /// an `expect`, an `expect_counts` or a `capture`).
    pub expect: Option<Expect>,
    /// `repeat = N` on a `request` step.
    pub repeat: Option<Repeat>,
    /// `until = { status = 429, served = 5, slack = 2 }` on a `request` step: sent until the
    /// answer has that status, which must come after `served` to `served + slack` 2xx answers.
    pub until: Option<Until>,
    /// Values taken from the main response, usable as `${name}` by later steps.
    pub captures: Vec<Capture>,
}

impl Step {
    /// `name` if the file gives one, else `step[3] request`.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("step[{}] {}", self.index, self.action.kind()))
    }
}

/// `repeat = N`: the request is sent N times, one after the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Repeat {
    pub times: u32,
    /// `expect_counts`: what the N responses add up to.
    pub counts: Option<CountExpect>,
}

/// What a step does. A step has exactly one action key.
///
/// Not `#[non_exhaustive]` on purpose: a new step kind (faults, background load, throttling
/// policies…) must fail the runner's build until the runner handles it.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create an API in the Publisher (`POST /api/am/publisher/v4/apis`), then publish it.
    Publish(Publish),
    /// Create a revision of an API (`POST /apis/{id}/revisions`).
    Revision(CreateRevision),
    /// Deploy a revision to gateway environments (`POST /apis/{id}/deploy-revision`).
    Deploy(Deploy),
    /// Undeploy a revision from environments (`POST /apis/{id}/undeploy-revision`).
    Undeploy(Undeploy),
    /// Change an API's lifecycle state (`POST /apis/change-lifecycle`).
    Lifecycle(Lifecycle),
    /// Create an application in the Developer Portal (`POST /api/am/devportal/v3/applications`).
    Application(Application),
    /// Subscribe an application to an API (`POST /subscriptions`).
    Subscribe(Subscribe),
    /// Generate an application's keys of one type (`POST /applications/{id}/generate-keys`).
    GenerateKeys(GenerateKeys),
    /// Get an access token from the Key Manager (`POST /oauth2/token`).
    Token(TokenRequest),
    /// Revoke a token (`POST /oauth2/revoke`).
    Revoke(Revoke),
    /// Send a request through a gateway.
    Request(Request),
    /// Any other REST call to the control plane (or an instance's management port).
    Http(Http),
    /// Move the virtual clock forward.
    Advance(Advance),
    /// Wait, with a timeout, until a condition holds.
    Wait(Wait),
    /// Kill, restart, pause, resume, partition or heal topology members; break a mock backend.
    Fault(Fault),
    /// Start or stop bounded background traffic.
    Load(Load),
    /// Put a file in a node's Synapse artifact folders, or check one is (not) there.
    Artifact(Artifact),
}

/// The kinds of step, one per action key. What a kind implies for the reader and the runner
/// (does it answer with a response, must it succeed, does it change what gateways serve) is
/// written here once; adding a kind makes every `match` below name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepKind {
    Publish,
    Revision,
    Deploy,
    Undeploy,
    Lifecycle,
    Application,
    Subscribe,
    GenerateKeys,
    Token,
    Revoke,
    Request,
    Http,
    Advance,
    Wait,
    Fault,
    Load,
    Artifact,
}

impl StepKind {
    /// Every kind, in the order the reference documents them.
    pub const ALL: [Self; 17] = [
        Self::Publish,
        Self::Revision,
        Self::Deploy,
        Self::Undeploy,
        Self::Lifecycle,
        Self::Application,
        Self::Subscribe,
        Self::GenerateKeys,
        Self::Token,
        Self::Revoke,
        Self::Request,
        Self::Http,
        Self::Advance,
        Self::Wait,
        Self::Fault,
        Self::Load,
        Self::Artifact,
    ];

    /// The action key as written in files.
    pub fn key(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Revision => "revision",
            Self::Deploy => "deploy",
            Self::Undeploy => "undeploy",
            Self::Lifecycle => "lifecycle",
            Self::Application => "application",
            Self::Subscribe => "subscribe",
            Self::GenerateKeys => "generate_keys",
            Self::Token => "token",
            Self::Revoke => "revoke",
            Self::Request => "request",
            Self::Http => "http",
            Self::Advance => "advance",
            Self::Wait => "wait",
            Self::Fault => "fault",
            Self::Load => "load",
            Self::Artifact => "artifact",
        }
    }

    /// The kind whose action key is `key`.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.key() == key)
    }

    /// Whether the step makes an HTTP call whose response `expect` and `capture` read.
    pub fn has_response(self) -> bool {
        !matches!(
            self,
            Self::Advance | Self::Wait | Self::Fault | Self::Load | Self::Artifact
        )
    }

    /// Whether a failure stops the run: later steps need what this one should have made. A
    /// `request` or `http` step only observes, so the run goes on after it fails.
    pub fn must_succeed(self) -> bool {
        !self.is_probe()
    }

    /// A `request` or `http` step: it checks something, so without `expect`, `expect_counts`,
    /// `capture` or `repeat` it is a mistake in the file.
    pub fn is_probe(self) -> bool {
        matches!(self, Self::Request | Self::Http)
    }

    /// Whether `repeat` (and `expect_counts`) apply.
    pub fn repeats(self) -> bool {
        self == Self::Request
    }

    /// Whether a step of this kind changes what gateways serve (APIs, subscriptions, keys,
    /// revocations), so the runner awaits convergence before the next gateway request. An `http`
    /// step does when its method is not GET or HEAD ([`Action::changes_gateway_state`]).
    pub fn changes_gateway_state(self) -> bool {
        matches!(
            self,
            Self::Publish
                | Self::Revision
                | Self::Deploy
                | Self::Undeploy
                | Self::Lifecycle
                | Self::Application
                | Self::Subscribe
                | Self::GenerateKeys
                | Self::Token
                | Self::Revoke
        )
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl Action {
    pub fn kind(&self) -> StepKind {
        match self {
            Self::Publish(_) => StepKind::Publish,
            Self::Revision(_) => StepKind::Revision,
            Self::Deploy(_) => StepKind::Deploy,
            Self::Undeploy(_) => StepKind::Undeploy,
            Self::Lifecycle(_) => StepKind::Lifecycle,
            Self::Application(_) => StepKind::Application,
            Self::Subscribe(_) => StepKind::Subscribe,
            Self::GenerateKeys(_) => StepKind::GenerateKeys,
            Self::Token(_) => StepKind::Token,
            Self::Revoke(_) => StepKind::Revoke,
            Self::Request(_) => StepKind::Request,
            Self::Http(_) => StepKind::Http,
            Self::Advance(_) => StepKind::Advance,
            Self::Wait(_) => StepKind::Wait,
            Self::Fault(_) => StepKind::Fault,
            Self::Load(_) => StepKind::Load,
            Self::Artifact(_) => StepKind::Artifact,
        }
    }

    /// See [`StepKind::has_response`].
    pub fn has_response(&self) -> bool {
        self.kind().has_response()
    }

    /// See [`StepKind::must_succeed`].
    pub fn must_succeed(&self) -> bool {
        self.kind().must_succeed()
    }

    /// See [`StepKind::changes_gateway_state`]; an `http` step does unless it is a GET or HEAD.
    pub fn changes_gateway_state(&self) -> bool {
        match self {
            Self::Http(http) => !matches!(http.method.as_str(), "GET" | "HEAD"),
            other => other.kind().changes_gateway_state(),
        }
    }
}

/// `publish = { api = "pizza", name = "PizzaShackAPI", context = "/pizzashack", … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Publish {
    /// The scenario's name for the API (`api = "pizza"`), used by later steps.
    pub api: String,
    /// WSO2 `name`.
    pub name: String,
    /// WSO2 `context` (`/pizzashack`); invocations go to `/{context}/{version}/…`.
    pub context: String,
    pub version: String,
    pub production: Option<Endpoint>,
    pub sandbox: Option<Endpoint>,
    pub resources: Vec<Resource>,
    /// Subscription tiers the API allows (WSO2 `policies`); default `["Unlimited"]`.
    pub policies: Vec<String>,
    /// WSO2 `transport`; default `["http", "https"]`.
    pub transports: Vec<String>,
    /// Whether the step also publishes the API (lifecycle action `Publish`); default true.
    pub published: bool,
}

/// Where an API endpoint points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A mock backend of the topology, by name (`pizzashack-production`): the runner uses its URL.
    Backend(String),
    /// A URL as written (anything containing `://`).
    Url(String),
}

/// One resource (WSO2 `operations[]` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// `GET`, `POST`, … (upper case).
    pub verb: String,
    /// URI template (`/order/{orderId}`).
    pub target: String,
    pub auth_type: AuthType,
    pub scopes: Vec<String>,
    /// WSO2 `throttlingPolicy`; default `Unlimited`.
    pub throttling_policy: String,
}

/// A resource's WSO2 `authType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    /// `Application & Application User` (WSO2's default).
    Any,
    Application,
    ApplicationUser,
    /// `None`: no token needed.
    None,
}

impl AuthType {
    pub(crate) const ALL: [(&'static str, Self); 4] = [
        ("Application & Application User", Self::Any),
        ("Application", Self::Application),
        ("Application User", Self::ApplicationUser),
        ("None", Self::None),
    ];

    /// WSO2's spelling.
    pub fn wso2_name(self) -> &'static str {
        spelling(&Self::ALL, self)
    }
}

/// `revision = { api = "pizza" }`: creates the API's next revision.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRevision {
    pub api: String,
    /// The number this revision gets in the scenario (1 for the API's first), as in WSO2's
    /// display name "Revision 1".
    pub number: u32,
    pub description: Option<String>,
}

/// `deploy = { api = "pizza", to = ["Production Gateway", "Default"] }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Deploy {
    pub api: String,
    /// Which revision is deployed.
    pub revision: u32,
    /// True when the step creates that revision first (the file gave no `revision`).
    pub creates_revision: bool,
    /// Gateway environment names.
    pub environments: Vec<String>,
    /// Default `localhost` (the guide's vhost).
    pub vhost: String,
    /// WSO2 `displayOnDevportal`; default true.
    pub display_on_devportal: bool,
}

/// `undeploy = { api = "pizza", from = ["Default"] }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Undeploy {
    pub api: String,
    /// `None`: whichever revision is deployed there.
    pub revision: Option<u32>,
    pub environments: Vec<String>,
}

/// `lifecycle = { api = "pizza", action = "Block" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    pub api: String,
    pub action: LifecycleAction,
}

/// WSO2's lifecycle actions (the `action` query parameter of `change-lifecycle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleAction {
    Publish,
    DeployAsPrototype,
    DemoteToCreated,
    Block,
    RePublish,
    Deprecate,
    Retire,
}

impl LifecycleAction {
    pub(crate) const ALL: [(&'static str, Self); 7] = [
        ("Publish", Self::Publish),
        ("Deploy as a Prototype", Self::DeployAsPrototype),
        ("Demote to Created", Self::DemoteToCreated),
        ("Block", Self::Block),
        ("Re-Publish", Self::RePublish),
        ("Deprecate", Self::Deprecate),
        ("Retire", Self::Retire),
    ];

    /// WSO2's spelling, as sent in `?action=`.
    pub fn wso2_name(self) -> &'static str {
        spelling(&Self::ALL, self)
    }
}

/// `application = { app = "shop", name = "PizzaApp" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub app: String,
    /// WSO2 `name`; default: the scenario name (`app`).
    pub name: String,
    /// WSO2 `throttlingPolicy` (an application policy); default `Unlimited`.
    pub policy: String,
    /// WSO2 `tokenType`: `JWT` (default) or `OAUTH`.
    pub token_type: String,
    pub description: Option<String>,
}

/// `subscribe = { app = "shop", api = "pizza", policy = "Gold" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscribe {
    pub app: String,
    pub api: String,
    /// A subscription policy; default `Unlimited`.
    pub policy: String,
}

/// A key type (WSO2 `keyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    Production,
    Sandbox,
}

impl KeyType {
    /// `PRODUCTION` / `SANDBOX`, as WSO2 sends it.
    pub fn wso2_name(self) -> &'static str {
        match self {
            Self::Production => "PRODUCTION",
            Self::Sandbox => "SANDBOX",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Production => "production",
            Self::Sandbox => "sandbox",
        }
    }
}

/// `generate_keys = { app = "shop", type = "sandbox", key = "shop-sandbox" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateKeys {
    pub app: String,
    pub key_type: KeyType,
    /// The scenario's name for the keys; default `{app}-{type}` (`shop-sandbox`).
    pub key: String,
    /// WSO2 `grantTypesToBeSupported`; default `["password", "client_credentials", "refresh_token"]`.
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
}

/// An OAuth2 grant type for the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    ClientCredentials,
    /// Resource-owner password grant; default user `admin` / `admin` (the super admin).
    Password {
        username: Template,
        password: Template,
    },
    /// Refreshes an earlier `token` step's token (by its `as` name).
    RefreshToken {
        token: String,
    },
}

/// `token = { as = "prod_token", key = "shop-prod", grant = "password" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRequest {
    /// The variable the access token is stored in (`${prod_token}`).
    pub name: String,
    /// Whose consumer key and secret authenticate the call. For `refresh_token` without a `key`,
    /// the refreshed token's key.
    pub key: String,
    pub grant: Grant,
    /// Space-separated scopes to request.
    pub scope: Option<String>,
    /// WSO2 `validity_period`.
    pub validity: Option<Duration>,
}

/// `revoke = { token = "prod_token" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Revoke {
    /// An earlier token step's `as` name.
    pub token: String,
    /// That token's key (its client authenticates the revocation).
    pub key: String,
}

/// HTTP or HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

/// A request body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Sent as written (`body = "…"`); strings are templates.
    Text(Template),
    /// `json = { … }`, sent as JSON with `Content-Type: application/json`; every string inside
    /// is a template.
    Json(JsonTemplate),
    /// `form = { grant_type = "…" }`, sent `application/x-www-form-urlencoded`.
    Form(Vec<(String, Template)>),
}

/// `request = { via = "production-gateway", path = "/pizzashack/1.0.0/menu", token = "${t}" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The member (a gateway instance or a load balancer) the request goes through.
    pub via: String,
    pub scheme: Scheme,
    /// Upper case; default `GET`.
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: Template,
    pub headers: Vec<(String, Template)>,
    /// Sent as `Authorization: Bearer …` when given.
    pub token: Option<Template>,
    /// `token_variant`: the token is altered before it is sent ([`TokenVariant::apply`]);
    /// only with `token`.
    pub token_variant: Option<TokenVariant>,
    pub body: Option<Body>,
}

/// A broken copy of a JWT, to prove a gateway refuses it (`token_variant = "tampered"`).
///
/// A JWT is three base64url parts joined by `.`: `header.payload.signature`. Each variant keeps
/// the token's claims, so the only reason left to refuse it is the one the variant names:
///
/// | variant | written | what is sent |
/// |---|---|---|
/// | [`Tampered`](Self::Tampered) | `"tampered"` | the token with the **first character of the signature** replaced: `A` by `B`, anything else by `A`. The first character carries the top six bits of the first signature byte, so the signature really changes (the last character may only carry padding bits) |
/// | [`AlgNone`](Self::AlgNone) | `"alg-none"` | `eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0` (base64url of `{"alg":"none","typ":"JWT"}`), `.`, the token's payload part unchanged, `.`, and an empty signature: an "unsecured JWT" (RFC 7519 §6) |
/// | [`Malformed`](Self::Malformed) | `"malformed"` | `header.payload`: the signature part and its dot dropped, so the token is not three parts |
///
/// The runner applies it to the resolved `token` with [`TokenVariant::apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVariant {
    Tampered,
    AlgNone,
    Malformed,
}

/// `base64url({"alg":"none","typ":"JWT"})`, unpadded.
pub const ALG_NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";

/// [`TokenVariant::apply`] on something that is not a JWT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`token_variant = \"{variant}\"` needs a JWT (three non-empty parts joined by `.`), got {parts} part(s)"
)]
pub struct NotAJwt {
    pub variant: &'static str,
    pub parts: usize,
}

impl TokenVariant {
    pub(crate) const ALL: [(&'static str, Self); 3] = [
        ("tampered", Self::Tampered),
        ("alg-none", Self::AlgNone),
        ("malformed", Self::Malformed),
    ];

    /// The name used in files.
    pub fn name(self) -> &'static str {
        spelling(&Self::ALL, self)
    }

    /// The altered token, as the table above says.
    pub fn apply(self, token: &str) -> Result<String, NotAJwt> {
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts.as_slice() else {
            return Err(NotAJwt {
                variant: self.name(),
                parts: parts.len(),
            });
        };
        if header.is_empty() || payload.is_empty() || signature.is_empty() {
            return Err(NotAJwt {
                variant: self.name(),
                parts: parts.iter().filter(|p| !p.is_empty()).count(),
            });
        }
        Ok(match self {
            Self::Tampered => {
                let mut chars = signature.chars();
                let first = chars
                    .next()
                    .map_or('A', |c| if c == 'A' { 'B' } else { 'A' });
                format!("{header}.{payload}.{first}{}", chars.as_str())
            }
            Self::AlgNone => format!("{ALG_NONE_HEADER}.{payload}."),
            Self::Malformed => format!("{header}.{payload}"),
        })
    }
}

/// How an `http` step authenticates.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpAuth {
    /// The runner's own admin REST session (DCR + password grant with every REST scope).
    Session,
    /// No `Authorization` header.
    None,
    /// `Authorization: Bearer …`.
    Bearer(Template),
    /// `Authorization: Basic base64(user:password)`.
    Basic { user: Template, password: Template },
}

/// `http = { method = "GET", path = "/api/am/devportal/v3/apis/${api.pizza.id}" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Http {
    /// The instance whose management port answers; `None` is the control plane.
    pub via: Option<String>,
    pub method: String,
    pub path: Template,
    pub headers: Vec<(String, Template)>,
    pub auth: HttpAuth,
    pub body: Option<Body>,
}

/// `advance = "61s"` or `advance = { to = "next-minute" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    By(Duration),
    To(ClockMark),
}

/// `wait = { revision_served = { … }, timeout = "10s" }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub condition: Condition,
    /// Default 30 s. Past it the step fails, saying what was last seen.
    pub timeout: Duration,
}

/// What a `wait` step waits for.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every gateway serving `environment` serves `revision` of `api`.
    RevisionServed {
        api: String,
        environment: String,
        revision: u32,
    },
    /// `gateway` refuses `token` (an earlier token step's name) because it was revoked.
    RevocationReached { token: String, gateway: String },
    /// The gateways have applied every control-plane event so far (all gateways when empty).
    GatewaySynced { gateways: Vec<String> },
    /// `throttled` (`throttled = true`) / `unthrottled`: `gateway` holds, or no longer holds, a
    /// Traffic Manager decision throttling `key` at the topology's clock.
    Throttle {
        gateway: String,
        key: crate::throttle::ThrottleKey,
        throttled: bool,
    },
    /// `load_sent = { load = "reads", at_least = 100 }`: the running background load has sent
    /// that many requests, so what the next step does happens with traffic under way, however
    /// slowly the machine runs.
    LoadSent { load: String, at_least: u64 },
    /// `responds = { via = "default-gateway", path = "/pizzashack/1.0.0/menu", token = "…",
    /// expect = { status = 200 } }`: the request, sent again with backoff until one answer meets
    /// `expect`. Needs nothing of the driver, so it is the portable way to wait for what a client
    /// can see (a node back, a deploy served); each try is a real call, counted by quotas.
    Responds {
        request: Box<Request>,
        expect: Box<crate::expect::Expect>,
    },
}

/// `fault = { kill = "gateway-1" }`, `{ partition = ["gateway-1", "control-plane"] }`,
/// `{ backend = "pizzashack-production", latency = "200ms" }`. Names are the topology's
/// instances and load balancers (and, for `partition`/`heal`, its mock backends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The member dies: listeners close, open connections drop, in-memory state is lost.
    Kill(String),
    /// A killed member starts again on its ports; the step ends when it is ready.
    Restart(String),
    /// The member's network freezes (a hang, not a crash).
    Pause(String),
    Resume(String),
    /// New connections between the two are refused, open ones reset.
    Partition(String, String),
    Heal(String, String),
    /// A mock backend misbehaves.
    Backend {
        backend: String,
        change: BackendChange,
    },
}

impl Fault {
    /// Whether the step needs the driver to kill and restart members (else: its network layer,
    /// or nothing beyond the mock backends).
    pub fn needs_crash_restart(&self) -> bool {
        matches!(self, Self::Kill(_) | Self::Restart(_))
    }

    pub fn needs_partition(&self) -> bool {
        matches!(
            self,
            Self::Pause(_) | Self::Resume(_) | Self::Partition(..) | Self::Heal(..)
        )
    }
}

/// What a `fault = { backend = … }` step does to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChange {
    /// `latency = "200ms"`: every answer waits this long first.
    Latency(Duration),
    /// `reset = true`: connections are reset when a request arrives.
    Reset,
    /// `status = 503`: every request is answered with this status.
    Status(u16),
    /// `timeout = true`: requests are never answered (until healed).
    Timeout,
    /// `heal = true`: back to normal (no latency, no fault).
    Heal,
}

/// The Synapse configuration folder of a node's runtime home (WSO2's `<APIM_HOME>`), where
/// `artifact` steps put and look for files.
pub const SYNAPSE_DEFAULT: &str = "repository/deployment/server/synapse-configs/default";

/// The folders of [`SYNAPSE_DEFAULT`] a gateway cleans at start, as the skip list names them.
pub const ARTIFACT_FOLDERS: [&str; 4] = ["api", "endpoints", "sequences", "local-entries"];

/// `artifact = { on = "gateway-1", place = "api/CustomAPI_v1.json", json = { … } }`,
/// `{ on = "gateway-1", present = "api/…", contains = "…" }` or `{ on = "gateway-1", absent = "api/…" }`:
/// a file in one of a node's Synapse artifact folders ([`ARTIFACT_FOLDERS`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// The instance whose disk holds the file.
    pub on: String,
    /// `api/CustomAPI_v1.json`: a folder of [`ARTIFACT_FOLDERS`], `/`, a file name.
    pub file: String,
    pub check: ArtifactCheck,
}

impl Artifact {
    /// The file's path relative to the node's runtime home.
    pub fn relative_path(&self) -> String {
        format!("{SYNAPSE_DEFAULT}/{}", self.file)
    }
}

/// What an `artifact` step does with its file.
#[derive(Debug, Clone, PartialEq)]
pub enum ArtifactCheck {
    /// `place`: write it (`json` or `body`), replacing what was there.
    Place(Body),
    /// `present`: it is there and holds every text of `contains`.
    Present { contains: Vec<Template> },
    /// `absent`: it is not there.
    Absent,
}

/// `load = { start = "bg", … }`, `load = { stop = "bg" }` or `load = { finish = "bg" }`.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    Start(LoadStart),
    Stop(LoadStop),
}

/// Bounded background traffic: `rate` requests a second for `duration` (so at most
/// `rate × duration` requests), at most `concurrency` in flight; it ends by itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadStart {
    /// The name a later `load = { stop = … }` uses.
    pub name: String,
    /// A gateway instance or a load balancer.
    pub via: String,
    pub scheme: Scheme,
    /// Upper case; default `GET`.
    pub method: String,
    pub path: Template,
    pub token: Option<Template>,
    pub headers: Vec<(String, Template)>,
    /// Requests per second.
    pub rate: u32,
    pub duration: Duration,
    /// Most requests in flight at once; default 16.
    pub concurrency: u32,
}

/// `load = { stop = "bg" }` (sending ends now) or `load = { finish = "bg" }` (once all of it
/// is sent), with `expect_load`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadStop {
    pub name: String,
    /// `finish`: wait until the load has sent everything its rate and duration allow.
    pub finish: bool,
    /// `expect_load`; the step always reports the figures.
    pub expect: LoadExpect,
}

/// `expect_load = { failed = 0, lost = 0, status = { 200 = "all" }, p99_below = "50ms" }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadExpect {
    /// Requests sent, at least.
    pub sent_at_least: Option<u64>,
    /// Transport errors (no HTTP answer).
    pub failed: Option<u64>,
    /// Sent and not answered before the stop.
    pub lost: Option<u64>,
    /// Status -> how many answers had it.
    pub status: Vec<(u16, LoadCount)>,
    pub p50_below: Option<Duration>,
    pub p90_below: Option<Duration>,
    pub p99_below: Option<Duration>,
    pub max_below: Option<Duration>,
}

/// How many answers: a number, or every request sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadCount {
    Exactly(u64),
    All,
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.Qm9ndXNTaWduYXR1cmU";

    #[test]
    fn a_tampered_token_differs_only_in_the_first_signature_character() {
        let tampered = TokenVariant::Tampered.apply(JWT).unwrap();
        assert_eq!(
            tampered,
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.Am9ndXNTaWduYXR1cmU"
        );
        let starts_with_a = "h.p.ABC";
        assert_eq!(
            TokenVariant::Tampered.apply(starts_with_a).unwrap(),
            "h.p.BBC"
        );
    }

    #[test]
    fn an_alg_none_token_keeps_the_payload_and_has_an_empty_signature() {
        let unsigned = TokenVariant::AlgNone.apply(JWT).unwrap();
        assert_eq!(
            unsigned,
            "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiJ9."
        );
    }

    #[test]
    fn the_alg_none_header_is_the_base64url_of_its_json() {
        // Decoded by hand-rolled base64url, to keep the crate free of a base64 dependency.
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for c in ALG_NONE_HEADER.bytes() {
            let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
            bits = (bits << 6) | v;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
                bits &= (1 << count) - 1;
            }
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"alg":"none","typ":"JWT"}"#
        );
    }

    #[test]
    fn a_malformed_token_is_two_parts() {
        assert_eq!(
            TokenVariant::Malformed.apply(JWT).unwrap(),
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9"
        );
    }

    #[test]
    fn variants_need_a_jwt() {
        for variant in [
            TokenVariant::Tampered,
            TokenVariant::AlgNone,
            TokenVariant::Malformed,
        ] {
            let err = variant.apply("not-a-token").unwrap_err();
            assert_eq!(err.parts, 1);
            assert!(err.to_string().contains(variant.name()), "{err}");
            assert!(variant.apply("a..c").is_err());
        }
    }
}
