//! Phase 2: CORS, as `CORSRequestHandler` and `_cors_request_handler_` do it.
//!
//! Once a resource is selected, its CORS headers are computed once and put on whatever leaves
//! the gateway for this request — the preflight answer, an auth failure, a key-type refusal,
//! a backend fault, the backend's own response (where a header the backend already set is
//! kept, as the sequence's `boolean($trp:…)` filters do). 404/405 and unknown contexts are
//! answered before a resource is selected, so they carry none, as on WSO2.

use crate::route::Resource;
use crate::settings::CorsSettings;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_REQUEST_HEADERS,
    HeaderMap, HeaderValue, ORIGIN,
};
use http::{Method, Response, StatusCode};

/// The CORS headers of one request's selected resource.
#[derive(Debug, Clone)]
pub struct CorsHeaders {
    origin: Option<HeaderValue>,
    methods: HeaderValue,
    headers: Option<HeaderValue>,
    credentials: bool,
    expose: Option<HeaderValue>,
}

/// `[apim.cors]` compiled once per node: a request only clones header values.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    enable: bool,
    any_origin: bool,
    origins: Vec<String>,
    /// `None`: echo the request's `Access-Control-Request-Headers` (`allow_headers = ["*"]`).
    allow_headers: Option<HeaderValue>,
    credentials: bool,
    expose: Option<HeaderValue>,
}

impl CorsPolicy {
    pub fn new(settings: &CorsSettings) -> Self {
        let joined = |items: &[String]| HeaderValue::from_str(&items.join(",")).ok();
        let echo_headers = settings.allow_headers.len() == 1 && settings.allow_headers[0] == "*";
        Self {
            enable: settings.enable,
            any_origin: settings.allow_origins.iter().any(|o| o == "*"),
            origins: settings.allow_origins.clone(),
            allow_headers: if echo_headers {
                None
            } else {
                joined(&settings.allow_headers)
            },
            credentials: settings.allow_credentials,
            expose: (!settings.expose_headers.is_empty())
                .then(|| joined(&settings.expose_headers))
                .flatten(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enable
    }

    /// `CORSRequestHandler#setCORSHeaders`; `None` when CORS is disabled.
    pub fn headers_for(&self, resource: &Resource, request: &HeaderMap) -> Option<CorsHeaders> {
        if !self.enable {
            return None;
        }
        let origin = if self.any_origin {
            Some(HeaderValue::from_static("*"))
        } else {
            request
                .get(ORIGIN)
                .filter(|o| self.origins.iter().any(|a| a.as_bytes() == o.as_bytes()))
                .cloned()
        };
        // WSO2 compares the allowed origin with "*" only, so an unlisted origin still gets the
        // credentials header when credentials are enabled.
        let credentials = self.credentials && origin.as_ref().is_none_or(|o| o != "*");
        let headers = match &self.allow_headers {
            Some(fixed) => Some(fixed.clone()),
            None => request.get(ACCESS_CONTROL_REQUEST_HEADERS).cloned(),
        };
        Some(CorsHeaders {
            origin,
            methods: resource.allow_methods.clone(),
            headers,
            credentials,
            expose: self.expose.clone(),
        })
    }
}

/// Whether the gateway answers this request itself: an `OPTIONS` whose resource does not
/// declare `OPTIONS` (when it does, the backend answers, after authentication).
pub fn is_preflight(method: &Method, resource: &Resource, cors: Option<&CorsHeaders>) -> bool {
    cors.is_some()
        && method == Method::OPTIONS
        && !resource
            .operations
            .iter()
            .any(|(m, _)| m == Method::OPTIONS)
}

/// The preflight answer: 200, no body, the CORS headers.
pub fn preflight(cors: &CorsHeaders) -> Response<crate::respond::ProxyBody> {
    let mut response = Response::new(crate::respond::full(""));
    *response.status_mut() = StatusCode::OK;
    cors.apply(response.headers_mut());
    response
}

impl CorsHeaders {
    /// Adds each header the response does not have yet.
    pub fn apply(&self, headers: &mut HeaderMap) {
        if let Some(origin) = &self.origin {
            headers
                .entry(ACCESS_CONTROL_ALLOW_ORIGIN)
                .or_insert_with(|| origin.clone());
        }
        headers
            .entry(ACCESS_CONTROL_ALLOW_METHODS)
            .or_insert_with(|| self.methods.clone());
        if let Some(allow) = &self.headers {
            headers
                .entry(ACCESS_CONTROL_ALLOW_HEADERS)
                .or_insert_with(|| allow.clone());
        }
        if self.credentials {
            headers
                .entry(ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .or_insert_with(|| HeaderValue::from_static("true"));
        }
        if let Some(expose) = &self.expose {
            headers
                .entry(ACCESS_CONTROL_EXPOSE_HEADERS)
                .or_insert_with(|| expose.clone());
        }
    }
}
