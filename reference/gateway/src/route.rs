//! Phase 1: context, then resource.
//!
//! The routing table is compiled once per change (deploy, remove) and swapped whole; a request
//! only reads it. Context lookup walks the request path's `/` boundaries from the longest
//! prefix down, one hash lookup each. Resource selection follows Synapse's dispatchers in their
//! order (`RESTUtils.getDispatchers()`): URL-mapping resources first — an exact match wins at
//! once, else the longest `…/*` prefix — then URI templates in declaration order. The velocity
//! template makes a resource URL-mapped unless its target has `{` (or a `*` not at the end), so
//! `/*` beats `/order/{orderId}` on a path both match, as it does on WSO2.

use crate::respond::GatewayError;
use crate::store::FastMap;
use crate::throttle::ApiThrottleKeys;
use http::Method;
use std::sync::Arc;
use tollgate_protocol::artifact::{ApiArtifact, EnvironmentType, KeyType, Operation};

/// Which passthrough listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    Https,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// Every API this node serves, by context.
#[derive(Debug, Default)]
pub struct RouteTable {
    by_context: FastMap<String, Arc<ApiRoute>>,
}

/// One deployed API, compiled for the request path.
#[derive(Debug)]
pub struct ApiRoute {
    pub artifact: ApiArtifact,
    /// The artifact's throttle keys, built here so a request does not format them.
    pub throttle_keys: ApiThrottleKeys,
    /// The label it was deployed under on this node.
    pub label: String,
    pub resources: Vec<Resource>,
    pub blocked: bool,
    allows_http: bool,
    allows_https: bool,
    /// Whether the velocity template emits the key-type filter: the API is OAuth, API-key or
    /// Basic protected (WSO2's default scheme is OAuth2).
    pub protected: bool,
    /// Which authenticators the API enables: OAuth2 bearer tokens (the default when the API
    /// names no scheme) and API keys (`api_key`).
    pub oauth2: bool,
    pub api_key: bool,
    /// `basic_auth` among the security schemes.
    pub basic_auth: bool,
    /// Backend base URLs without a trailing `/`.
    pub production: Option<String>,
    pub sandbox: Option<String>,
    /// One address per key type, no URL template, no backend credentials and no suspension
    /// `config`: a request goes out as base URL + path, with no [`crate::endpoint::Upstream`].
    pub plain: bool,
}

/// A Synapse resource: one URI template and the verbs it takes.
#[derive(Debug)]
pub struct Resource {
    pub template: String,
    matcher: Matcher,
    /// Verb, and the operation the Publisher defined for it.
    pub operations: Vec<(Method, Operation)>,
    /// `Access-Control-Allow-Methods`: this resource's verbs that `[apim.cors] allow_methods`
    /// lists, computed at deploy time.
    pub allow_methods: http::HeaderValue,
}

#[derive(Debug)]
enum Matcher {
    /// `url-mapping="/menu"`.
    Exact(String),
    /// `url-mapping="/menu/*"` (prefix `/menu`) or `/*` (prefix empty).
    Prefix(String),
    /// `uri-template="/order/{orderId}"`.
    Template(Vec<Segment>),
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    /// `pre{name}post`: a non-empty run of non-`/` characters between two literals.
    Variable {
        name: String,
        prefix: String,
        suffix: String,
    },
    /// A trailing `*`: the rest of the path, possibly empty.
    Rest,
}

/// The outcome of phase 1 for one request.
#[derive(Debug)]
pub struct Selected<'a> {
    pub api: &'a Arc<ApiRoute>,
    pub resource: &'a Resource,
    /// `None` for a CORS preflight answered by the gateway.
    pub operation: Option<&'a Operation>,
    /// Path after the context, query included: appended to the endpoint URL.
    pub rest: &'a str,
}

impl Selected<'_> {
    /// The matched resource's path variables (`{orderId}` → `("orderId", "42")`), raw as on
    /// the wire: what an endpoint URL template's `{uri.var.*}` expressions take. Empty for
    /// URL-mapped resources. Allocates, so only templated endpoints ask.
    pub fn path_variables(&self) -> Vec<(&str, &str)> {
        let Matcher::Template(segments) = &self.resource.matcher else {
            return Vec::new();
        };
        let mut parts = sub_path(self.rest).trim_start_matches('/').split('/');
        let mut variables = Vec::new();
        for segment in segments {
            let Some(part) = parts.next() else { break };
            if let Segment::Variable {
                name,
                prefix,
                suffix,
            } = segment
            {
                let value = &part[prefix.len()..part.len() - suffix.len()];
                variables.push((name.as_str(), value));
            }
        }
        variables
    }

    /// The request's raw query string (empty when none).
    pub fn query(&self) -> &str {
        self.rest.split_once('?').map_or("", |(_, q)| q)
    }
}

impl RouteTable {
    /// Compiles the table from the artifacts this node serves (one per API, with its label);
    /// `cors_allow_methods` is `[apim.cors] allow_methods`.
    pub fn compile<'a>(
        artifacts: impl IntoIterator<Item = (&'a str, &'a ApiArtifact)>,
        cors_allow_methods: &[String],
    ) -> Self {
        let mut by_context = FastMap::default();
        for (label, artifact) in artifacts {
            let route = ApiRoute::compile(label, artifact, cors_allow_methods);
            by_context.insert(
                artifact.context.trim_end_matches('/').to_owned(),
                Arc::new(route),
            );
        }
        Self { by_context }
    }

    pub fn len(&self) -> usize {
        self.by_context.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_context.is_empty()
    }

    pub fn apis(&self) -> impl Iterator<Item = &Arc<ApiRoute>> {
        self.by_context.values()
    }

    /// The API whose context is the longest `/`-bounded prefix of `path_and_query`, and the
    /// rest of it (starting with `/` or `?`, or empty).
    pub fn find_api<'a>(&'a self, path_and_query: &'a str) -> Option<(&'a Arc<ApiRoute>, &'a str)> {
        let path_end = path_and_query.find('?').unwrap_or(path_and_query.len());
        let path = &path_and_query[..path_end];
        let mut end = path.trim_end_matches('/').len();
        loop {
            let candidate = &path[..end];
            if candidate.is_empty() {
                return None;
            }
            if let Some(api) = self.by_context.get(candidate) {
                return Some((api, &path_and_query[end..]));
            }
            end = candidate.rfind('/')?;
        }
    }

    /// Phase 1 whole: context, transport, lifecycle, resource.
    ///
    /// `preflight_method` is the `Access-Control-Request-Method` of an `OPTIONS` request when
    /// CORS is enabled: `CORSRequestHandler` selects resources by it, not by `OPTIONS`.
    pub fn select<'a>(
        &'a self,
        method: &Method,
        path_and_query: &'a str,
        transport: Transport,
        preflight_method: Option<&str>,
    ) -> Result<Selected<'a>, GatewayError> {
        let (api, rest) = self.find_api(path_and_query).ok_or(GatewayError::NoApi)?;
        let allowed = match transport {
            Transport::Http => api.allows_http,
            Transport::Https => api.allows_https,
        };
        if !allowed {
            return Err(GatewayError::UnsupportedTransport(transport.as_str()));
        }
        if api.blocked {
            return Err(GatewayError::ApiBlocked);
        }
        let sub_path = sub_path(rest);
        let takes = |r: &Resource| {
            r.operations.iter().any(|(m, _)| {
                m == method || (*method == Method::OPTIONS && Some(m.as_str()) == preflight_method)
            })
        };
        // No per-request allocation: the filtered iterator is cloned, not collected.
        let acceptable = api.resources.iter().filter(|r| takes(r));
        // CORSRequestHandler#handleResourceNotFound: when no resource takes this verb on this
        // path, 405 if some resource matches the path with another verb, else 404. WSO2 makes
        // that second check whether or not other resources take the verb.
        let resource = dispatch(acceptable, sub_path).ok_or_else(|| {
            if dispatch(api.resources.iter(), sub_path).is_some() {
                GatewayError::MethodNotAllowed
            } else {
                GatewayError::NoMatchingResource
            }
        })?;
        let operation = resource
            .operations
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, op)| op);
        Ok(Selected {
            api,
            resource,
            operation,
            rest,
        })
    }
}

/// Whether the path (up to `?`) has a `.` or `..` segment once `%2e`, `%2f` and `%5c` are
/// decoded and `\` counts as a separator, as a backend that decodes or normalises the path
/// would see it: `/ctx/1.0.0/../../etc/passwd`, `/ctx/%2e%2e/x`, `/ctx/..%2fx`, `/ctx/..%5cx`.
/// Such a path is refused (400), never normalised: a request that tries to leave its API's
/// context is hostile, and refusing it means no backend ever receives a path that points
/// outside its endpoint's base. Clean paths are scanned once, without allocating.
pub fn has_dot_segment(path_and_query: &str) -> bool {
    // Dots in the current segment so far; `None` once it holds anything else.
    let mut dots: Option<u8> = Some(0);
    let bytes = path_and_query.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let (byte, width) = match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (
                    bytes[i + 1].to_ascii_lowercase(),
                    bytes[i + 2].to_ascii_lowercase(),
                ) {
                    (b'2', b'e') => (b'.', 3),
                    (b'2', b'f') | (b'5', b'c') => (b'/', 3),
                    _ => (b'%', 1),
                }
            }
            b'\\' => (b'/', 1),
            other => (other, 1),
        };
        match byte {
            b'?' | b'#' => break,
            b'/' => {
                if matches!(dots, Some(1 | 2)) {
                    return true;
                }
                dots = Some(0);
            }
            b'.' => dots = dots.and_then(|n| n.checked_add(1)),
            _ => dots = None,
        }
        i += width;
    }
    matches!(dots, Some(1 | 2))
}

/// The path the resources are matched against: after the context, no query, `/` when empty,
/// one trailing `/` ignored.
fn sub_path(rest: &str) -> &str {
    let path = &rest[..rest.find('?').unwrap_or(rest.len())];
    match path {
        "" | "/" => "/",
        p => p.strip_suffix('/').unwrap_or(p),
    }
}

/// Synapse's dispatcher order over `resources`.
fn dispatch<'r>(
    resources: impl Iterator<Item = &'r Resource> + Clone,
    path: &str,
) -> Option<&'r Resource> {
    let mut best: Option<(&Resource, usize)> = None;
    for resource in resources.clone() {
        match &resource.matcher {
            Matcher::Exact(exact) if exact == path => return Some(resource),
            Matcher::Prefix(prefix) => {
                let matches = prefix.is_empty()
                    || path == prefix
                    || path
                        .strip_prefix(prefix.as_str())
                        .is_some_and(|tail| tail.starts_with('/'));
                // `/*` must still beat nothing: rank it as length 1.
                let rank = prefix.len().max(1);
                if matches && best.is_none_or(|(_, len)| rank > len) {
                    best = Some((resource, rank));
                }
            }
            _ => {}
        }
    }
    if let Some((resource, _)) = best {
        return Some(resource);
    }
    resources.into_iter().find(
        |r| matches!(&r.matcher, Matcher::Template(segments) if template_matches(segments, path)),
    )
}

fn template_matches(segments: &[Segment], path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').split('/');
    for segment in segments {
        match segment {
            Segment::Rest => return true,
            Segment::Literal(literal) => {
                if parts.next() != Some(literal.as_str()) {
                    return false;
                }
            }
            Segment::Variable { prefix, suffix, .. } => match parts.next() {
                Some(part)
                    if part.len() > prefix.len() + suffix.len()
                        && part.starts_with(prefix.as_str())
                        && part.ends_with(suffix.as_str()) => {}
                _ => return false,
            },
        }
    }
    parts.next().is_none()
}

impl ApiRoute {
    fn compile(label: &str, artifact: &ApiArtifact, cors_allow_methods: &[String]) -> Self {
        let mut resources: Vec<Resource> = Vec::new();
        for op in &artifact.operations {
            let Ok(method) = Method::from_bytes(op.verb.to_ascii_uppercase().as_bytes()) else {
                tracing::warn!(api = %artifact.name, verb = %op.verb, "skipping an operation with an invalid verb");
                continue;
            };
            // WSO2 groups the verbs of one URI template into one Synapse resource.
            match resources.iter_mut().find(|r| r.template == op.target) {
                Some(resource) => resource.operations.push((method, op.clone())),
                None => resources.push(Resource {
                    template: op.target.clone(),
                    matcher: compile_matcher(&op.target),
                    operations: vec![(method, op.clone())],
                    allow_methods: http::HeaderValue::from_static(""),
                }),
            }
        }
        for resource in &mut resources {
            let methods = resource
                .operations
                .iter()
                .map(|(m, _)| m.as_str())
                .filter(|m| cors_allow_methods.iter().any(|a| a == m))
                .collect::<Vec<_>>()
                .join(",");
            if let Ok(value) = http::HeaderValue::from_str(&methods) {
                resource.allow_methods = value;
            }
        }
        let transports = &artifact.transport;
        let (allows_http, allows_https) = if transports.is_empty() {
            (true, true)
        } else {
            (
                transports.iter().any(|t| t.eq_ignore_ascii_case("http")),
                transports.iter().any(|t| t.eq_ignore_ascii_case("https")),
            )
        };
        let protected = artifact.security_scheme.is_empty()
            || artifact.security_scheme.iter().any(|s| {
                matches!(
                    s.as_str(),
                    "oauth2" | "api_key" | "basic_auth" | "oauth_basic_auth_api_key_mandatory"
                )
            });
        let base = |url: &Option<String>| {
            url.as_deref()
                .filter(|u| !u.trim().is_empty())
                .map(|u| u.trim_end_matches('/').to_owned())
        };
        Self {
            artifact: artifact.clone(),
            throttle_keys: ApiThrottleKeys::new(artifact),
            label: label.to_owned(),
            resources,
            blocked: artifact.lifecycle_status.eq_ignore_ascii_case("BLOCKED"),
            allows_http,
            allows_https,
            protected,
            production: base(&artifact.endpoints.production),
            sandbox: base(&artifact.endpoints.sandbox),
            plain: is_plain(artifact),
            oauth2: artifact.security_scheme.is_empty()
                || artifact.security_scheme.iter().any(|s| s == "oauth2"),
            api_key: artifact.security_scheme.iter().any(|s| s == "api_key"),
            basic_auth: artifact.security_scheme.iter().any(|s| s == "basic_auth"),
        }
    }

    pub fn environment(&self) -> EnvironmentType {
        self.artifact.environment.kind
    }

    /// The backend base URL for a key type.
    pub fn endpoint(&self, key_type: KeyType) -> Option<&str> {
        match key_type {
            KeyType::Production => self.production.as_deref(),
            KeyType::Sandbox => self.sandbox.as_deref(),
        }
    }
}

/// Whether the artifact's endpoints are single addresses with nothing to expand, no
/// credentials and no suspension `config`.
fn is_plain(artifact: &ApiArtifact) -> bool {
    let e = &artifact.endpoints;
    let no_template = |url: &Option<String>| {
        url.as_deref()
            .is_none_or(|u| crate::url_template::UrlTemplate::parse(u).is_none())
    };
    e.routing.is_address()
        && e.production_config.is_none()
        && e.sandbox_config.is_none()
        && e.production_security.is_none()
        && e.sandbox_security.is_none()
        && no_template(&e.production)
        && no_template(&e.sandbox)
}

fn compile_matcher(target: &str) -> Matcher {
    let target = target.split('?').next().unwrap_or(target);
    let is_template = target.contains('{') || (target.contains('*') && !target.ends_with("/*"));
    if !is_template {
        if let Some(prefix) = target.strip_suffix("/*") {
            return Matcher::Prefix(prefix.to_owned());
        }
        let exact = match target {
            "" | "/" => "/",
            t => t.strip_suffix('/').unwrap_or(t),
        };
        return Matcher::Exact(exact.to_owned());
    }
    let segments = target
        .trim_start_matches('/')
        .split('/')
        .map(|part| {
            if part == "*" {
                return Segment::Rest;
            }
            match (part.find('{'), part.rfind('}')) {
                (Some(open), Some(close)) if open < close => Segment::Variable {
                    name: part[open + 1..close].to_owned(),
                    prefix: part[..open].to_owned(),
                    suffix: part[close + 1..].to_owned(),
                },
                _ => Segment::Literal(part.to_owned()),
            }
        })
        .collect();
    Matcher::Template(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_protocol::artifact::{ArtifactEnvironment, Endpoints};

    fn op(verb: &str, target: &str) -> Operation {
        Operation {
            verb: verb.into(),
            target: target.into(),
            auth_type: "Any".into(),
            throttling_policy: None,
            scopes: vec![],
        }
    }

    fn artifact(ops: Vec<Operation>) -> ApiArtifact {
        ApiArtifact {
            api_id: "a1".into(),
            revision_id: "r1".into(),
            revision_number: 1,
            name: "PizzaShack".into(),
            version: "1.0.0".into(),
            context: "/pizzashack/1.0.0".into(),
            provider: "admin".into(),
            lifecycle_status: "PUBLISHED".into(),
            environment: ArtifactEnvironment {
                name: "Default".into(),
                kind: EnvironmentType::Hybrid,
            },
            vhost: "localhost".into(),
            endpoints: Endpoints::default(),
            operations: ops,
            api_throttling_policy: None,
            policies: vec![],
            transport: vec!["http".into(), "https".into()],
            security_scheme: vec!["oauth2".into()],
            scopes: vec![],
            max_tps: None,
            deployed_time: 0,
        }
    }

    fn table(ops: Vec<Operation>) -> RouteTable {
        let a = artifact(ops);
        let cors = crate::CorsSettings::default();
        RouteTable::compile([("Default", &a)], &cors.allow_methods)
    }

    fn target(t: &RouteTable, method: Method, path: &str) -> Result<String, GatewayError> {
        t.select(&method, path, Transport::Https, None)
            .map(|s| s.resource.template.clone())
    }

    #[test]
    fn context_is_matched_on_segment_boundaries_and_the_rest_keeps_the_query() {
        let t = table(vec![op("GET", "/menu")]);
        let (api, rest) = t.find_api("/pizzashack/1.0.0/menu?x=1").unwrap();
        assert_eq!(api.artifact.api_id, "a1");
        assert_eq!(rest, "/menu?x=1");
        assert!(t.find_api("/pizzashack/1.0.01/menu").is_none());
        assert_eq!(t.find_api("/pizzashack/1.0.0").unwrap().1, "");
        assert!(t.find_api("/").is_none());
    }

    #[test]
    fn exact_mapping_beats_prefix_and_templates_match_one_segment() {
        let t = table(vec![
            op("GET", "/order/{orderId}"),
            op("GET", "/menu/*"),
            op("GET", "/menu"),
        ]);
        assert_eq!(
            target(&t, Method::GET, "/pizzashack/1.0.0/menu").unwrap(),
            "/menu"
        );
        assert_eq!(
            target(&t, Method::GET, "/pizzashack/1.0.0/menu/").unwrap(),
            "/menu"
        );
        assert_eq!(
            target(&t, Method::GET, "/pizzashack/1.0.0/menu/pizza").unwrap(),
            "/menu/*"
        );
        assert_eq!(
            target(&t, Method::GET, "/pizzashack/1.0.0/order/12?verbose=1").unwrap(),
            "/order/{orderId}"
        );
        assert_eq!(
            target(&t, Method::GET, "/pizzashack/1.0.0/order/12/items"),
            Err(GatewayError::NoMatchingResource)
        );
    }

    #[test]
    fn a_catch_all_mapping_shadows_uri_templates_as_in_synapse() {
        let t = table(vec![op("GET", "/order/{orderId}"), op("GET", "/*")]);
        assert_eq!(
            target(&t, Method::GET, "/pizzashack/1.0.0/order/1").unwrap(),
            "/*"
        );
        assert_eq!(target(&t, Method::GET, "/pizzashack/1.0.0").unwrap(), "/*");
    }

    #[test]
    fn wrong_verb_on_a_known_path_is_405_even_when_another_resource_takes_the_verb() {
        let t = table(vec![op("GET", "/menu"), op("POST", "/order")]);
        assert_eq!(
            target(&t, Method::DELETE, "/pizzashack/1.0.0/menu"),
            Err(GatewayError::MethodNotAllowed)
        );
        assert_eq!(
            target(&t, Method::DELETE, "/pizzashack/1.0.0/nothing"),
            Err(GatewayError::NoMatchingResource)
        );
        // POST is taken by /order but not on /menu: CORSRequestHandler (4.x, after the
        // "selectedResource == null" re-check was added) runs handleResourceNotFound over all
        // resources, and /menu exists with GET, so 405.
        assert_eq!(
            target(&t, Method::POST, "/pizzashack/1.0.0/menu"),
            Err(GatewayError::MethodNotAllowed)
        );
        assert_eq!(
            target(&t, Method::POST, "/pizzashack/1.0.0/drinks"),
            Err(GatewayError::NoMatchingResource)
        );
    }

    #[test]
    fn dot_segments_are_found_plain_encoded_and_behind_encoded_separators() {
        for hostile in [
            "/ctx/1.0.0/../../etc/passwd",
            "/ctx/1.0.0/./x",
            "/ctx/1.0.0/..",
            "/ctx/1.0.0/%2e%2e/%2e%2e/etc/passwd",
            "/ctx/1.0.0/%2E%2E/x",
            "/ctx/1.0.0/.%2e/x",
            "/ctx/1.0.0/..%2fetc",
            "/ctx/1.0.0/..%2Fetc",
            "/ctx/1.0.0/..%5cetc",
            "/ctx/1.0.0/..\\etc",
            "/ctx/1.0.0/x/..?q=1",
        ] {
            assert!(has_dot_segment(hostile), "{hostile}");
        }
        for clean in [
            "/",
            "",
            "/ctx/1.0.0/menu",
            "/ctx/1.0.0/file.txt",
            "/ctx/1.0.0/...",
            "/ctx/1.0.0/..x",
            "/ctx/1.0.0/a%2",
            "/ctx/1.0.0/a%",
            "/ctx/1.0.0/menu?path=../../x",
            "/ctx/1.0.0/%252e%252e/x",
        ] {
            assert!(!has_dot_segment(clean), "{clean}");
        }
    }
}
