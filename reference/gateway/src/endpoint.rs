//! Endpoint suspension: Synapse's endpoint states (ACTIVE, TIMEOUT, SUSPENDED) for the backend
//! endpoints of the APIs this node serves.
//!
//! WSO2's behaviour, and where it comes from:
//! - The state machine is Synapse's `EndpointContext` (wso2/wso2-synapse
//!   `modules/core/src/main/java/org/apache/synapse/endpoints/EndpointContext.java`, the
//!   non-clustered `local*` fields): a failure whose code is a suspend code → SUSPENDED until
//!   `now + duration`, where the first duration is `initialDuration` and each further one is the
//!   last times `progressionFactor`, capped at `maximumDuration`, and a negative result falls
//!   back to `DEFAULT_ENDPOINT_SUSPEND_TIME` (30 000 ms); a failure whose code is a timeout
//!   ("mark for suspension") code → TIMEOUT, skipped for `retryDelay`, until
//!   `retriesBeforeSuspension` such failures are spent, then SUSPENDED. `readyToSend` is true
//!   when ACTIVE or once `now >= nextRetryTime` (no state change then); the next success makes
//!   the endpoint ACTIVE again and forgets the last duration and the spent retries.
//! - Which codes count is `AbstractEndpoint#isSuspendFault` / `#isTimeout`: the suspend codes
//!   are checked first. An empty code list would mean "every error suspends" (and, for
//!   timeouts, 101504/101505), but API-M's velocity template never leaves them empty: it writes
//!   `<errorCodes>-1</errorCodes>` (matches nothing) when the Publisher gave none. That is also
//!   the 4.x default for an endpoint without `config`: `-1` for both lists, i.e. no suspension
//!   and no TIMEOUT state (product-apim#3626 quotes that template block; recalled from
//!   carbon-apimgt's `velocity_template.xml` `timeout` macro, not located verbatim here —
//!   UNCONFIRMED). So an endpoint without `config` is never tracked here and behaves as before.
//! - While not ready, `AddressEndpoint#send` raises error 303001
//!   (`ENDPOINT_ADDRESS_NONE_READY`) with `"Currently , Address endpoint : " + context`, and
//!   `EndpointContext#toString` is `[ Name : <name> ] [ State : <STATE> ]`. The `fault`
//!   sequence renders it like any other Synapse error (see `respond`). The backend is not
//!   contacted.
//! - The endpoint name is the template's `<apiName>--v<version>_API<type>Endpoint`
//!   (`ServiceNowOrder--vv1.0_APIproductionEndpoint` in a 4.x error report; one 4.0 report,
//!   product-apim#11391, also shows an id between version and type — not reproduced).
//!
//! State lives per artifact and key type, in atomics: the request path reads one atomic on an
//! ACTIVE endpoint. Like Synapse's non-clustered context, the fields are updated one by one;
//! concurrent failures may race on which duration is recorded, never on memory safety.
//! Redeploying a revision creates fresh (ACTIVE) endpoints, as a redeployed Synapse API does.

use crate::route::{ApiRoute, RouteTable};
use crate::store::FastMap;
use crate::url_template::{self, UrlTemplate, Variables};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering};
use tollgate_protocol::artifact::{EndpointConfig, EndpointRouting, EndpointSecurity, KeyType};

/// Synapse's `DEFAULT_ENDPOINT_SUSPEND_TIME`: used when the computed duration is negative (no
/// `suspendDuration` given).
pub const DEFAULT_SUSPEND_MILLIS: i64 = 30_000;

/// Synapse's error codes for a failed backend call (`SynapseConstants`).
pub mod codes {
    /// `NHTTP_CONNECTION_FAILED`: "Error connecting to the back end".
    pub const CONNECTION_FAILED: u32 = 101503;
    /// `NHTTP_CONNECTION_TIMEOUT`: no response within the endpoint timeout.
    pub const CONNECTION_TIMEOUT: u32 = 101504;
    /// `ENDPOINT_ADDRESS_NONE_READY`: the endpoint is suspended or in TIMEOUT.
    pub const ENDPOINT_NOT_READY: u32 = 303001;
}

/// `EndpointContext`'s states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Active,
    Timeout,
    Suspended,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Timeout => "TIMEOUT",
            Self::Suspended => "SUSPENDED",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Timeout,
            2 => Self::Suspended,
            _ => Self::Active,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Self::Active => 0,
            Self::Timeout => 1,
            Self::Suspended => 2,
        }
    }
}

/// The endpoint definition the template builds from a Publisher `config`.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspension {
    pub suspend_codes: Vec<u32>,
    /// `initialDuration`; -1 when not given (then Synapse's 30 s default applies).
    pub initial_ms: i64,
    /// `maximumDuration`; `i64::MAX` when not given (Synapse's `Long.MAX_VALUE`).
    pub max_ms: i64,
    /// `progressionFactor`; 1.0 when not given.
    pub factor: f64,
    pub timeout_codes: Vec<u32>,
    /// `retriesBeforeSuspension`; 0 when not given.
    pub retries: i64,
    /// `retryDelay`; 0 when not given.
    pub retry_delay_ms: i64,
}

impl Suspension {
    pub fn from_config(config: &EndpointConfig) -> Self {
        Self {
            suspend_codes: config.suspend_error_codes.clone(),
            initial_ms: config.suspend_duration_ms.unwrap_or(-1),
            max_ms: config.suspend_max_duration_ms.unwrap_or(i64::MAX),
            factor: config.factor.unwrap_or(1.0),
            timeout_codes: config.retry_error_codes.clone(),
            retries: i64::from(config.retries_before_suspension.unwrap_or(0)),
            retry_delay_ms: config.retry_delay_ms.unwrap_or(0),
        }
    }
}

/// One Synapse endpoint's runtime state.
#[derive(Debug)]
pub struct Endpoint {
    /// The backend base URL, as the route holds it.
    pub url: String,
    /// `<apiName>--v<version>_API<type>Endpoint`.
    pub name: String,
    definition: Suspension,
    state: AtomicU8,
    /// Epoch ms from which a TIMEOUT or SUSPENDED endpoint may be tried again.
    next_retry: AtomicI64,
    /// TIMEOUT failures left before suspension; -1 = not counted yet (Synapse's `-1`).
    remaining_retries: AtomicI64,
    /// The last suspension, ms; -1 = none since the endpoint was last ACTIVE.
    last_duration: AtomicI64,
}

/// Why the request is not sent: the endpoint's name and state, for the 303001 description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    pub name: String,
    pub state: State,
}

impl Endpoint {
    pub fn new(url: String, name: String, definition: Suspension) -> Self {
        Self {
            url,
            name,
            definition,
            state: AtomicU8::new(State::Active.as_u8()),
            next_retry: AtomicI64::new(-1),
            remaining_retries: AtomicI64::new(-1),
            last_duration: AtomicI64::new(-1),
        }
    }

    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// `readyToSend`: Ok when ACTIVE or the retry time has come (no state change: the result
    /// of the call decides).
    pub fn ready(&self, now_millis: i64) -> Result<(), NotReady> {
        let state = self.state();
        if state == State::Active || now_millis >= self.next_retry.load(Ordering::Acquire) {
            return Ok(());
        }
        Err(NotReady {
            name: self.name.clone(),
            state,
        })
    }

    /// `onSuccess`: a non-ACTIVE endpoint becomes ACTIVE, its history forgotten.
    pub fn on_success(&self) {
        if self.state() != State::Active {
            tracing::info!(endpoint = %self.name, "endpoint marked active after a success");
            self.remaining_retries
                .store(self.definition.retries, Ordering::Release);
            self.last_duration.store(-1, Ordering::Release);
            self.state.store(State::Active.as_u8(), Ordering::Release);
        }
    }

    /// `AbstractEndpoint#onFault`: a suspend code suspends, a timeout code marks TIMEOUT, any
    /// other code changes nothing.
    pub fn on_fault(&self, code: u32, now_millis: i64) {
        if self.definition.suspend_codes.contains(&code) {
            self.suspend(now_millis);
        } else if self.definition.timeout_codes.contains(&code) {
            self.on_timeout(now_millis);
        }
    }

    fn on_timeout(&self, now_millis: i64) {
        let mut retries = self.remaining_retries.load(Ordering::Acquire);
        if retries == -1 {
            retries = self.definition.retries;
        }
        if retries <= 0 {
            self.suspend(now_millis);
            return;
        }
        self.remaining_retries.store(retries - 1, Ordering::Release);
        self.next_retry.store(
            now_millis.saturating_add(self.definition.retry_delay_ms),
            Ordering::Release,
        );
        self.state.store(State::Timeout.as_u8(), Ordering::Release);
        tracing::warn!(endpoint = %self.name, remaining = retries - 1, "endpoint marked TIMEOUT");
    }

    /// `computeNextRetryTimeForSuspended`.
    fn suspend(&self, now_millis: i64) {
        let duration = self.next_duration();
        self.last_duration.store(duration, Ordering::Release);
        self.next_retry
            .store(now_millis.saturating_add(duration), Ordering::Release);
        self.state
            .store(State::Suspended.as_u8(), Ordering::Release);
        tracing::warn!(endpoint = %self.name, duration_ms = duration, "endpoint suspended");
    }

    /// The duration of the suspension starting now.
    pub fn next_duration(&self) -> i64 {
        let d = &self.definition;
        let last = self.last_duration.load(Ordering::Acquire);
        let next = if last > 0 {
            // Synapse's `(long) (last * factor)`: truncation, saturating like Java's cast.
            (last as f64 * d.factor) as i64
        } else {
            d.initial_ms
        };
        if next > d.max_ms {
            d.max_ms
        } else if next < 0 {
            DEFAULT_SUSPEND_MILLIS
        } else {
            next
        }
    }
}

/// The backend side of the APIs this node serves that need more than "base URL + path": per
/// API id and key type, an [`Upstream`]. An API whose endpoints are single addresses without
/// a template, credentials or suspension `config` is not here ([`ApiRoute::plain`]): its
/// requests go straight out.
#[derive(Debug, Default)]
pub struct EndpointTable {
    by_api: FastMap<String, ApiEndpoints>,
}

#[derive(Debug)]
struct ApiEndpoints {
    revision_id: String,
    production: Option<Arc<Upstream>>,
    sandbox: Option<Arc<Upstream>>,
}

/// One key type's backend: its members in the Publisher's order, how they share the traffic
/// (Synapse `<address>`, `<loadbalance>` or `<failover>`) and the credentials it is sent.
#[derive(Debug)]
pub struct Upstream {
    pub routing: EndpointRouting,
    pub members: Vec<Member>,
    pub security: Option<EndpointSecurity>,
    /// The group's Synapse name, for the 303000 description.
    pub name: String,
    /// Round robin: the member the next request starts from.
    next: AtomicUsize,
}

/// A leaf endpoint of an [`Upstream`].
#[derive(Debug)]
pub struct Member {
    /// The endpoint URL without a trailing `/`.
    pub url: String,
    /// Set when the URL holds `{uri.var.*}` / `{query.param.*}` expressions.
    pub template: Option<UrlTemplate>,
    /// The Synapse state, when the member has a suspension `config`.
    pub endpoint: Option<Arc<Endpoint>>,
}

impl Member {
    /// The member's URL for a request: the template expanded, then the path after the context.
    pub fn url_for(&self, variables: Variables<'_>, rest: &str) -> String {
        match &self.template {
            Some(template) => url_template::append_rest(&template.expand(variables), rest),
            None => url_template::append_rest(&self.url, rest),
        }
    }
}

impl Upstream {
    /// Whether a member that fails hands the request to the next ready one: `<failover>`, and
    /// `<loadbalance failover="true">`.
    pub fn fails_over(&self) -> bool {
        match self.routing {
            EndpointRouting::Failover => self.members.len() > 1,
            EndpointRouting::LoadBalance { failover } => failover && self.members.len() > 1,
            EndpointRouting::Address => false,
        }
    }

    /// The members in the order this request tries them: from the next round-robin position
    /// for a load balance, from the first for a failover (Synapse's `dynamic` failover starts
    /// over at the first ready child on every message).
    pub fn attempt_order(&self) -> impl Iterator<Item = &Member> {
        let n = self.members.len().max(1);
        let start = match self.routing {
            EndpointRouting::LoadBalance { .. } => self.next.fetch_add(1, Ordering::Relaxed) % n,
            _ => 0,
        };
        self.members[start..]
            .iter()
            .chain(self.members[..start].iter())
    }

    /// Synapse's error when no member is ready to send.
    pub fn none_ready(&self, last: Option<NotReady>) -> crate::respond::GatewayError {
        use crate::respond::GatewayError;
        match (self.routing, last) {
            (EndpointRouting::Address, Some(not_ready)) => {
                GatewayError::EndpointNotReady(not_ready)
            }
            (EndpointRouting::LoadBalance { .. }, _) => {
                GatewayError::NoReadyChild(format!("Loadbalance endpoint : {}", self.name))
            }
            _ => GatewayError::NoReadyChild(format!("Failover endpoint : {}", self.name)),
        }
    }
}

impl EndpointTable {
    /// The table for `routes`, keeping the state of endpoints whose revision, URL and
    /// definition are unchanged.
    pub fn rebuild(previous: &EndpointTable, routes: &RouteTable) -> Self {
        let mut by_api = FastMap::default();
        for api in routes.apis().filter(|api| !api.plain) {
            let artifact = &api.artifact;
            let old = previous
                .by_api
                .get(&artifact.api_id)
                .filter(|o| o.revision_id == artifact.revision_id);
            let production = build(
                api,
                KeyType::Production,
                old.and_then(|o| o.production.as_deref()),
            );
            let sandbox = build(
                api,
                KeyType::Sandbox,
                old.and_then(|o| o.sandbox.as_deref()),
            );
            by_api.insert(
                artifact.api_id.clone(),
                ApiEndpoints {
                    revision_id: artifact.revision_id.clone(),
                    production,
                    sandbox,
                },
            );
        }
        Self { by_api }
    }

    /// The upstream of `api` for `key_type`, when the API is not [`ApiRoute::plain`].
    pub fn upstream(&self, api: &ApiRoute, key_type: KeyType) -> Option<&Arc<Upstream>> {
        let endpoints = self.by_api.get(&api.artifact.api_id)?;
        match key_type {
            KeyType::Production => endpoints.production.as_ref(),
            KeyType::Sandbox => endpoints.sandbox.as_ref(),
        }
    }

    /// The tracked endpoint `url` of `api`, if it has a `config`.
    pub fn find(&self, api: &ApiRoute, url: &str) -> Option<&Arc<Endpoint>> {
        let endpoints = self.by_api.get(&api.artifact.api_id)?;
        [&endpoints.production, &endpoints.sandbox]
            .into_iter()
            .flatten()
            .flat_map(|u| u.members.iter())
            .filter_map(|m| m.endpoint.as_ref())
            .find(|e| e.url == url)
    }
}

fn build(api: &ApiRoute, key_type: KeyType, old: Option<&Upstream>) -> Option<Arc<Upstream>> {
    let artifact = &api.artifact;
    let endpoints = &artifact.endpoints;
    let kind = match key_type {
        KeyType::Production => "production",
        KeyType::Sandbox => "sandbox",
    };
    let first = api.endpoint(key_type)?;
    let members = std::iter::once((first.to_owned(), endpoints.config(key_type)))
        .chain(
            endpoints
                .more(key_type)
                .iter()
                .map(|m| (m.url.trim_end_matches('/').to_owned(), m.config.as_ref())),
        )
        .enumerate()
        .map(|(index, (url, config))| {
            let endpoint = config.map(|config| {
                let definition = Suspension::from_config(config);
                let kept = old
                    .and_then(|o| o.members.get(index))
                    .and_then(|m| m.endpoint.as_ref())
                    .filter(|e| e.url == url && e.definition == definition);
                match kept {
                    Some(kept) => kept.clone(),
                    None => {
                        // Synapse names the leaves of a group `<group>_<n>` (UNCONFIRMED for
                        // API-M's template); the first keeps the group's name.
                        let mut name =
                            format!("{}--v{}_API{kind}Endpoint", artifact.name, artifact.version);
                        if index > 0 {
                            name.push_str(&format!("_{index}"));
                        }
                        Arc::new(Endpoint::new(url.clone(), name, definition))
                    }
                }
            });
            Member {
                template: UrlTemplate::parse(&url),
                url,
                endpoint,
            }
        })
        .collect();
    Some(Arc::new(Upstream {
        routing: endpoints.routing,
        members,
        security: endpoints.security(key_type).cloned(),
        name: format!("{}--v{}_API{kind}Endpoint", artifact.name, artifact.version),
        next: AtomicUsize::new(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(config: EndpointConfig) -> Endpoint {
        Endpoint::new(
            "http://127.0.0.1:1".into(),
            "PizzaShackAPI--v1.0.0_APIproductionEndpoint".into(),
            Suspension::from_config(&config),
        )
    }

    fn suspending(duration: i64, max: Option<i64>, factor: f64) -> EndpointConfig {
        EndpointConfig {
            suspend_error_codes: vec![codes::CONNECTION_FAILED, codes::CONNECTION_TIMEOUT],
            suspend_duration_ms: Some(duration),
            suspend_max_duration_ms: max,
            factor: Some(factor),
            ..EndpointConfig::default()
        }
    }

    #[test]
    fn a_suspend_code_suspends_for_the_initial_duration_then_the_endpoint_may_be_retried() {
        let e = endpoint(suspending(30_000, None, 1.0));
        e.on_fault(codes::CONNECTION_FAILED, 1_000);
        assert_eq!(e.state(), State::Suspended);
        let refused = e.ready(30_999).unwrap_err();
        assert_eq!(refused.state, State::Suspended);
        assert!(e.ready(31_000).is_ok());
        // Still SUSPENDED until a call succeeds.
        assert_eq!(e.state(), State::Suspended);
        e.on_success();
        assert_eq!(e.state(), State::Active);
    }

    #[test]
    fn repeated_suspensions_grow_by_the_factor_up_to_the_maximum_and_a_success_resets_them() {
        let e = endpoint(suspending(1_000, Some(5_000), 2.0));
        let mut now = 0;
        let mut seen = Vec::new();
        for _ in 0..5 {
            e.on_fault(codes::CONNECTION_FAILED, now);
            seen.push(e.last_duration.load(Ordering::Acquire));
            now += 10_000;
        }
        assert_eq!(seen, [1_000, 2_000, 4_000, 5_000, 5_000]);
        e.on_success();
        assert_eq!(e.next_duration(), 1_000);
    }

    #[test]
    fn codes_outside_both_lists_change_nothing() {
        let e = endpoint(EndpointConfig {
            suspend_error_codes: vec![codes::CONNECTION_TIMEOUT],
            ..EndpointConfig::default()
        });
        e.on_fault(codes::CONNECTION_FAILED, 0);
        assert_eq!(e.state(), State::Active);
        assert!(e.ready(0).is_ok());
    }

    #[test]
    fn without_a_duration_synapses_thirty_second_default_applies() {
        let e = endpoint(EndpointConfig {
            suspend_error_codes: vec![codes::CONNECTION_FAILED],
            ..EndpointConfig::default()
        });
        e.on_fault(codes::CONNECTION_FAILED, 0);
        assert!(e.ready(29_999).is_err());
        assert!(e.ready(30_000).is_ok());
    }

    #[test]
    fn zero_initial_and_maximum_durations_turn_suspension_off() {
        let e = endpoint(suspending(0, Some(0), 1.0));
        e.on_fault(codes::CONNECTION_FAILED, 5);
        assert!(e.ready(5).is_ok());
    }

    #[test]
    fn timeout_codes_skip_the_endpoint_for_the_retry_delay_until_retries_are_spent() {
        let e = endpoint(EndpointConfig {
            retry_error_codes: vec![codes::CONNECTION_TIMEOUT],
            retries_before_suspension: Some(2),
            retry_delay_ms: Some(500),
            suspend_duration_ms: Some(10_000),
            ..EndpointConfig::default()
        });
        e.on_fault(codes::CONNECTION_TIMEOUT, 0);
        assert_eq!(e.state(), State::Timeout);
        assert_eq!(e.ready(499).unwrap_err().state, State::Timeout);
        assert!(e.ready(500).is_ok());
        e.on_fault(codes::CONNECTION_TIMEOUT, 500);
        assert_eq!(e.state(), State::Timeout);
        e.on_fault(codes::CONNECTION_TIMEOUT, 1_000);
        assert_eq!(e.state(), State::Suspended);
        assert!(e.ready(10_999).is_err());
        assert!(e.ready(11_000).is_ok());
    }
}
