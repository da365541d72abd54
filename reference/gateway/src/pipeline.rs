//! The request path, in phase order, and the hyper service that runs it on the passthrough
//! listeners.

use crate::authenticate::{self, Caller};
use crate::cors::{self, CorsHeaders};
use crate::gateway::Gateway;
use crate::respond::{self, BoxError, GatewayError, ProxyBody};
use crate::route::{self, Transport};
use crate::throttle::ThrottleRequest;
use crate::url_template::Variables;
use crate::{api_key, authorize, defects, internal_key, key_type, proxy};
use bytes::Bytes;
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tollgate_net::RemoteAddr;

impl Gateway {
    /// Serves one API request: route → cors → authenticate → authorize → throttle → key type
    /// → proxy → respond. Never fails: every refusal is a WSO2 response.
    pub async fn handle<B>(&self, request: Request<B>, transport: Transport) -> Response<ProxyBody>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let mut cors = None;
        match self.request_path(request, transport, &mut cors).await {
            Ok(response) => respond::forward(response, cors.as_ref()),
            Err(error) => respond::error(&error, cors.as_ref()),
        }
    }

    async fn request_path<B>(
        &self,
        request: Request<B>,
        transport: Transport,
        cors_out: &mut Option<CorsHeaders>,
    ) -> Result<Response<ProxyBody>, GatewayError>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (mut parts, body) = request.into_parts();
        let routes = self.routes.load_full();
        // The path is read for the whole request while `parts` moves on to the backend call;
        // a `Uri` clone shares its bytes.
        let uri = parts.uri.clone();
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");

        // 1. route: no dot segments, then context, transport, lifecycle, resource.
        if route::has_dot_segment(path) {
            return Err(GatewayError::BadRequestPath);
        }
        let preflight_method = (self.cors.enabled() && parts.method == Method::OPTIONS)
            .then(|| parts.headers.get(ACCESS_CONTROL_REQUEST_METHOD))
            .flatten()
            .and_then(|v| v.to_str().ok());
        let selected = routes.select(&parts.method, path, transport, preflight_method)?;

        // 2. cors: headers for everything from here on; a preflight ends here.
        *cors_out = self.cors.headers_for(selected.resource, &parts.headers);
        if cors::is_preflight(&parts.method, selected.resource, cors_out.as_ref())
            && let Some(cors) = cors_out.as_ref()
        {
            return Ok(cors::preflight(cors));
        }
        let operation = selected.operation.ok_or(GatewayError::MethodNotAllowed)?;

        // 3. authenticate.
        let store = self.store.load_full();
        // Authenticators in WSO2's priority order: OAuth2 (a bearer token), then API key;
        // the first whose credentials the request carries decides.
        let api_key = selected
            .api
            .api_key
            .then(|| api_key::credential(&parts.headers, selected.query()))
            .flatten();
        let internal_key = parts
            .headers
            .get(internal_key::INTERNAL_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let caller = if let Some(key) = internal_key {
            // First, whatever the resource's auth type (priority -10).
            Caller::InternalKey(Arc::new(internal_key::authenticate(
                key,
                &self.verifier,
                self.clock.as_ref(),
                &selected.api.artifact,
            )?))
        } else if operation.is_unsecured() {
            Caller::Anonymous
        } else if let Some(key) = api_key.filter(|_| {
            !(selected.api.oauth2 && parts.headers.contains_key(http::header::AUTHORIZATION))
        }) {
            Caller::ApiKey(api_key::authenticate(
                key,
                &self.api_keys,
                &self.verifier,
                &store,
                self.clock.as_ref(),
                &parts.headers,
                parts.extensions.get::<RemoteAddr>().map(|r| r.0.ip()),
            )?)
        } else if let Some(basic) = selected
            .api
            .basic_auth
            .then(|| parts.headers.get(http::header::AUTHORIZATION))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.starts_with("Basic ") || !selected.api.oauth2)
        {
            // After OAuth in WSO2's order: a Basic header is no bearer token.
            // Boxed, as the endpoint paths below: a rare path's future would otherwise size every
            // request's (the service future is copied whole into its box per request).
            Caller::Basic(Box::pin(self.basic_caller(basic)).await?)
        } else if selected.api.oauth2 {
            Caller::Token(authenticate::authenticate(
                &parts.headers,
                &self.verifier,
                &self.tokens,
                &store,
                self.clock.as_ref(),
            )?)
        } else {
            return Err(GatewayError::MissingCredentials);
        };
        // The key is the gateway's business, not the backend's.
        match caller {
            Caller::ApiKey(_) => drop(parts.headers.remove(api_key::API_KEY_HEADER)),
            Caller::InternalKey(_) => drop(parts.headers.remove(internal_key::INTERNAL_KEY_HEADER)),
            Caller::Anonymous | Caller::Token(_) | Caller::Basic(_) => {}
        }

        // 4. authorize: key mapping, subscription, scopes.
        let api = selected.api;
        let authorized = authorize::authorize_request(
            &caller,
            &store,
            &api.artifact.api_id,
            &selected.resource.template,
            operation,
        )?;

        // 5. throttle: before key-type routing, so a wrong-type key is counted (§3.1).
        let request = ThrottleRequest {
            api: &api.artifact,
            keys: &api.throttle_keys,
            resource_template: &selected.resource.template,
            verb: parts.method.as_str(),
            operation,
            caller: &caller,
            authorized,
            ip: parts.extensions.get::<RemoteAddr>().map(|r| r.0.ip()),
            message_size: parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        };
        let decided = self.throttle.check(&request, self.clock.now_millis());
        defects::throttle(&self.defects, decided)?;

        // 6. key type → endpoint.
        let decided = key_type::choose_key_type(api, authorized.key_type);
        let served = defects::key_type(&self.defects, api, authorized.key_type, decided)?;

        // The backend JWT, when `[apim.jwt]` enables it, for an identified caller.
        if let Some(jwt) = &self.backend_jwt
            && let Some(value) = crate::backend_jwt::for_request(
                jwt,
                &caller,
                &authorized,
                &api.artifact,
                &parts.headers,
                &self.settings.tenant_domain,
                self.clock.now_secs(),
            )
        {
            parts.headers.insert(jwt.header().clone(), value);
        }

        // 7. proxy (8. respond is the caller's: CORS on the way out).
        let body = body.map_err(proxy::client_body_error).boxed_unsync();
        // One address, nothing to expand, no credentials, no suspension: straight out.
        let upstream = if api.plain {
            None
        } else {
            self.endpoints.load().upstream(api, served).cloned()
        };
        let Some(upstream) = upstream else {
            let endpoint = api.endpoint(served).unwrap_or_default();
            let url = proxy::backend_url(endpoint, selected.rest);
            return proxy::forward(&self.client, url, parts, body).await;
        };
        let path_variables = match upstream.members.iter().any(|m| m.template.is_some()) {
            true => selected.path_variables(),
            false => Vec::new(),
        };
        let variables = Variables {
            path: &path_variables,
            query: selected.query(),
        };
        // Boxed: load-balanced, failover and suspending endpoints hold several attempts' state;
        // inline, it made every request's service future 5.4 KB instead of 3.6 KB.
        Box::pin(proxy::forward_upstream(
            &self.client,
            &upstream,
            self.clock.as_ref(),
            variables,
            selected.rest,
            parts,
            body,
        ))
        .await
    }

    /// The hyper service for one passthrough listener.
    pub fn passthrough(self: &Arc<Self>, transport: Transport) -> PassthroughService {
        PassthroughService {
            gateway: self.clone(),
            transport,
        }
    }
}

/// The passthrough listeners' service: the gateway's request path, no framework in between.
#[derive(Debug, Clone)]
pub struct PassthroughService {
    gateway: Arc<Gateway>,
    transport: Transport,
}

impl<B> hyper::service::Service<Request<B>> for PassthroughService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ProxyBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        let gateway = self.gateway.clone();
        let transport = self.transport;
        Box::pin(async move { Ok(gateway.handle(request, transport).await) })
    }
}
